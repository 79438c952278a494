#pragma once
// The compiler: a quantized model (IR, from the TFLite importer) to a `.tsl` loadable for
// one NPU configuration. One linear pipeline of passes (docs/compiler.md):
//
//   canonicalize → partition → lower (layout + weight packing) → tile → arena →
//   schedule (emission with semaphores) → package
//
// with a verifier after every pass and a text dump after any of them (--dump-after).
// Operators the NPU cannot run become CPU-fallback segments, each with its reason.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tessel/compiler/loadable.hpp"
#include "tessel/ir/graph.hpp"
#include "tessel/sim/npu/config.hpp"

namespace tessel::compiler {

struct CompileOptions {
  // Pass name after which to write a text dump of the compiler's state to `dump`.
  std::string dump_after;
  std::ostream* dump = nullptr;
};

struct CompileResult {
  Loadable loadable;
  // Per-layer report: op, shapes, MACs, tiles, estimated cycles, bound; fallbacks with
  // their reasons; totals. The JSON written by `tessel compile --report`.
  nlohmann::json report;
};

// The pass names accepted by CompileOptions::dump_after, in pipeline order.
const std::vector<std::string>& pass_names();

// Throws tessel::Error naming the operator when the model is malformed for every backend
// (the same checks as the CPU kernels' prepare step).
CompileResult compile(const ir::Graph& graph, const sim::npu::NpuConfig& hw,
                      const CompileOptions& options = {});

// The operator-support rules as a Markdown document (docs/supported-ops.md is generated
// from it by `tessel compile --supported-ops`).
std::string supported_ops_markdown();

}  // namespace tessel::compiler
