#pragma once
// Runs a whole graph on the CPU with one of the kernel registries (`ref` or `cpu`).
//
// Load time (the constructor): every operator is prepared (validated, parameters
// precomputed); an unsupported operator or dtype throws tessel::Error naming it. Memory
// for every non-constant tensor is allocated once. Run time: run() executes the operators
// in graph order. One run at a time per Executor.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tessel/cpu/op_registry.hpp"
#include "tessel/ir/graph.hpp"

namespace tessel::cpu {

class Executor {
 public:
  // `graph` must outlive the Executor (constants are read in place).
  Executor(const ir::Graph& graph, const OpRegistry& registry, int threads = 1);

  const ir::Graph& graph() const { return graph_; }
  size_t num_inputs() const { return graph_.inputs.size(); }
  size_t num_outputs() const { return graph_.outputs.size(); }
  const ir::Tensor& input_tensor(size_t i) const;
  const ir::Tensor& output_tensor(size_t i) const;

  // Copies `bytes` into graph input i; throws Error if the size differs from the tensor's.
  void set_input(size_t i, const void* data, size_t bytes);
  const uint8_t* output_data(size_t i) const;
  size_t output_bytes(size_t i) const;

  // Runs every operator once. With `op_ms` non-null, also records each operator's wall
  // time in milliseconds (op_ms->size() == graph().ops.size()).
  void run(std::vector<double>* op_ms = nullptr);

  // Resets variable (state) tensors to their initial value (TFLite: zero point for int8,
  // zero otherwise).
  void reset_state();

 private:
  const ir::Graph& graph_;
  int threads_;
  std::vector<std::vector<uint8_t>> storage_;  // per tensor; empty for constants
  std::vector<RunFn> kernels_;                 // per op
  std::vector<std::vector<const void*>> op_inputs_;
  std::vector<std::vector<void*>> op_outputs_;

  const void* tensor_ptr(int t) const;
};

}  // namespace tessel::cpu
