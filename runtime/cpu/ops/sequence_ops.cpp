// Operator bindings of the sequence group: IR operator -> validated kernel call.
#include "tessel/cpu/op_registry.hpp"

namespace tessel::cpu {

void register_ref_sequence_ops(OpRegistry& r) { (void)r; }

}  // namespace tessel::cpu
