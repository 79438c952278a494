#pragma once
// Structural checks of a Graph, run by front ends after import and by the compiler after
// every pass. Throws tessel::Error naming the first violation (tensor/op and field).
//
// Checked: every tensor index in range; every non-constant, non-input, non-variable tensor
// read by an op is written by an earlier op (ops are in execution order) and written
// once; constants have exactly shape x dtype bytes of data; quantization has matching
// scale/zero-point counts and a per-axis count equal to the axis dimension; no negative
// dimensions except that none are allowed at all (static shapes only).

#include "tessel/ir/graph.hpp"

namespace tessel::ir {

void verify(const Graph& g);

}  // namespace tessel::ir
