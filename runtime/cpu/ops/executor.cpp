#include "tessel/cpu/executor.hpp"

#include <chrono>
#include <cstring>

namespace tessel::cpu {

Executor::Executor(const ir::Graph& graph, const OpRegistry& registry, int threads)
    : graph_(graph), threads_(threads < 1 ? 1 : threads) {
  const std::string where = graph_.source.empty() ? "" : graph_.source + ": ";
  storage_.resize(graph_.tensors.size());
  for (size_t t = 0; t < graph_.tensors.size(); ++t) {
    const ir::Tensor& tensor = graph_.tensors[t];
    if (tensor.is_constant) continue;
    check(tensor.dtype != ir::DType::string,
          where + graph_.describe_tensor(static_cast<int>(t)) + ": string tensors are not supported");
    for (int32_t d : tensor.shape)
      check(d >= 0, where + graph_.describe_tensor(static_cast<int>(t)) +
                        ": dynamic (unknown) dimensions are not supported");
    storage_[t].assign(tensor.num_bytes(), 0);
  }
  reset_state();

  kernels_.reserve(graph_.ops.size());
  for (size_t i = 0; i < graph_.ops.size(); ++i) {
    const ir::Op& op = graph_.ops[i];
    PrepareFn prepare = registry.find(op.type);
    if (!prepare) {
      throw Error(where + graph_.describe_op(i) + ": operator " + op.type_name +
                  " is not supported by the CPU kernels");
    }
    kernels_.push_back(prepare(PrepareContext(graph_, i, threads_)));
    std::vector<const void*> ins;
    for (int t : op.inputs) ins.push_back(t == ir::kNoTensor ? nullptr : tensor_ptr(t));
    std::vector<void*> outs;
    for (int t : op.outputs) outs.push_back(storage_[static_cast<size_t>(t)].data());
    op_inputs_.push_back(std::move(ins));
    op_outputs_.push_back(std::move(outs));
  }
}

const void* Executor::tensor_ptr(int t) const {
  const ir::Tensor& tensor = graph_.tensors[static_cast<size_t>(t)];
  return tensor.is_constant ? static_cast<const void*>(tensor.data.data())
                            : static_cast<const void*>(storage_[static_cast<size_t>(t)].data());
}

const ir::Tensor& Executor::input_tensor(size_t i) const {
  return graph_.tensors.at(static_cast<size_t>(graph_.inputs.at(i)));
}

const ir::Tensor& Executor::output_tensor(size_t i) const {
  return graph_.tensors.at(static_cast<size_t>(graph_.outputs.at(i)));
}

void Executor::set_input(size_t i, const void* data, size_t bytes) {
  check(i < graph_.inputs.size(), "input index " + std::to_string(i) + " out of range (model has " +
                                      std::to_string(graph_.inputs.size()) + " inputs)");
  std::vector<uint8_t>& buf = storage_[static_cast<size_t>(graph_.inputs[i])];
  const ir::Tensor& t = input_tensor(i);
  check(bytes == buf.size(), "input " + std::to_string(i) + " ('" + t.name + "', " +
                                 ir::dtype_name(t.dtype) + "): expected " +
                                 std::to_string(buf.size()) + " bytes, got " + std::to_string(bytes));
  std::memcpy(buf.data(), data, bytes);
}

const uint8_t* Executor::output_data(size_t i) const {
  return static_cast<const uint8_t*>(tensor_ptr(graph_.outputs.at(i)));
}

size_t Executor::output_bytes(size_t i) const { return output_tensor(i).num_bytes(); }

void Executor::run(std::vector<double>* op_ms) {
  if (op_ms) op_ms->assign(kernels_.size(), 0.0);
  for (size_t i = 0; i < kernels_.size(); ++i) {
    ExecContext ctx(op_inputs_[i], op_outputs_[i], threads_);
    if (!op_ms) {
      kernels_[i](ctx);
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    kernels_[i](ctx);
    const auto t1 = std::chrono::steady_clock::now();
    (*op_ms)[i] = std::chrono::duration<double, std::milli>(t1 - t0).count();
  }
}

void Executor::reset_state() {
  for (size_t t = 0; t < graph_.tensors.size(); ++t) {
    const ir::Tensor& tensor = graph_.tensors[t];
    if (!tensor.is_variable) continue;
    int fill = 0;
    if (tensor.dtype == ir::DType::i8 && tensor.quant.present())
      fill = static_cast<int>(tensor.quant.zero_point.at(0));
    std::memset(storage_[t].data(), fill, storage_[t].size());
  }
}

}  // namespace tessel::cpu
