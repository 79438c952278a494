#pragma once
// How the CPU executor runs an operator: each operator kind has a prepare function that
// validates the operator against the graph (dtypes, shapes, attributes), precomputes
// everything that does not depend on tensor values (requantization multipliers, lookup
// tables, activation ranges, packed weights), and returns a RunFn that does the work.
//
// Contract:
// - prepare runs once per model load; it throws tessel::Error naming the operator
//   (PrepareContext::fail does that) for anything unsupported or inconsistent, so that a
//   bad model fails at load time, never during a run.
// - A RunFn reads its inputs and writes its outputs through ExecContext only, keeps no
//   mutable state across runs except through variable tensors, and may be called from
//   any thread (one run at a time per loaded model).
// - The `ref` registry holds the reference kernels (TFLite's integer semantics, plain
//   loops). The `cpu` registry starts from `ref` and overrides the operators that have a
//   fast exact implementation; both must produce identical bytes.
//
// Example (an operator binding in runtime/cpu/ops/):
//
//   RunFn prepare_relu(const PrepareContext& pc) {
//     const ir::Tensor& in = pc.input(0);
//     pc.require(in.dtype == ir::DType::i8, "input must be int8");
//     const int64_t n = in.num_elements();
//     return [n](ExecContext& ec) {
//       const int8_t* x = ec.input<int8_t>(0);
//       int8_t* y = ec.output<int8_t>(0);
//       for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0 ? x[i] : 0;
//     };
//   }
//   ...
//   registry.add(ir::OpType::RELU, prepare_relu);

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tessel/ir/graph.hpp"

namespace tessel::cpu {

// Everything a RunFn sees: the data pointers of the operator's inputs and outputs, in the
// operator's own order (nullptr for an absent optional input), and the thread budget.
class ExecContext {
 public:
  ExecContext(const std::vector<const void*>& inputs, const std::vector<void*>& outputs,
              int threads)
      : inputs_(inputs), outputs_(outputs), threads_(threads) {}

  template <typename T>
  const T* input(size_t i) const { return static_cast<const T*>(inputs_[i]); }
  template <typename T>
  T* output(size_t i) const { return static_cast<T*>(outputs_[i]); }
  // The buffer of input i for in-place updates: only for variable (state) tensors.
  template <typename T>
  T* state(size_t i) const { return static_cast<T*>(const_cast<void*>(inputs_[i])); }
  int threads() const { return threads_; }

 private:
  const std::vector<const void*>& inputs_;
  const std::vector<void*>& outputs_;
  int threads_;
};

using RunFn = std::function<void(ExecContext&)>;

// What a prepare function sees: the graph and the operator being prepared.
class PrepareContext {
 public:
  // `threads` is the budget the RunFn will get: kernels that plan their parallel work at
  // prepare time (oneDNN primitives) need it then.
  PrepareContext(const ir::Graph& graph, size_t op_index, int threads = 1)
      : graph_(graph), op_index_(op_index), op_(graph.ops.at(op_index)), threads_(threads) {}

  const ir::Graph& graph() const { return graph_; }
  const ir::Op& op() const { return op_; }
  size_t op_index() const { return op_index_; }
  int threads() const { return threads_; }
  size_t num_inputs() const { return op_.inputs.size(); }
  size_t num_outputs() const { return op_.outputs.size(); }
  // True when optional input i is present.
  bool has_input(size_t i) const {
    return i < op_.inputs.size() && op_.inputs[i] != ir::kNoTensor;
  }
  // Input/output tensor i; fails (naming the operator) if it does not exist.
  const ir::Tensor& input(size_t i) const;
  const ir::Tensor& output(size_t i) const;
  const ir::Attrs& attrs() const { return op_.attrs; }

  // Throws tessel::Error("<model>: op #N TYPE 'name': <msg>").
  [[noreturn]] void fail(const std::string& msg) const;
  void require(bool cond, const std::string& msg) const {
    if (!cond) fail(msg);
  }
  // Requires exactly these many inputs (counting absent optional ones) and outputs.
  void require_arity(size_t min_inputs, size_t max_inputs, size_t outputs) const;

 private:
  const ir::Graph& graph_;
  size_t op_index_;
  const ir::Op& op_;
  int threads_;
};

using PrepareFn = RunFn (*)(const PrepareContext&);

class OpRegistry {
 public:
  void add(ir::OpType type, PrepareFn fn) { table_[static_cast<int>(type)] = fn; }
  // nullptr when the operator kind has no kernel in this registry.
  PrepareFn find(ir::OpType type) const {
    auto it = table_.find(static_cast<int>(type));
    return it == table_.end() ? nullptr : it->second;
  }
  std::vector<ir::OpType> types() const;

 private:
  std::unordered_map<int, PrepareFn> table_;
};

// The reference registry (every operator Tessel supports on the CPU).
const OpRegistry& ref_registry();
// The fast registry: ref plus the fast overrides.
const OpRegistry& cpu_registry();

// Registration functions, one per operator group (runtime/cpu/ops/*.cpp).
void register_ref_conv_ops(OpRegistry& r);         // conv, depthwise, transpose conv, FC, matmul, pools
void register_ref_elementwise_ops(OpRegistry& r);  // binary arithmetic, activations, softmax, float math
void register_ref_tensor_ops(OpRegistry& r);       // reshape family, pad, slice, concat, gather, nearest resize, ...
void register_ref_quant_reduce_ops(OpRegistry& r); // quantize, dequantize, cast, reductions, arg max/min, bilinear resize
void register_ref_sequence_ops(OpRegistry& r);     // LSTM, SVDF
void register_cpu_fast_ops(OpRegistry& r);         // fast overrides (oneDNN)
void register_cpu_fast_resize_ops(OpRegistry& r);  // fast RESIZE_BILINEAR, ARG_MAX/ARG_MIN

}  // namespace tessel::cpu
