#include "tessel/ir/verify.hpp"

#include <string>
#include <vector>

namespace tessel::ir {

namespace {

[[noreturn]] void fail(const Graph& g, const std::string& msg) {
  throw Error((g.source.empty() ? "" : g.source + ": ") + msg);
}

void verify_tensor(const Graph& g, size_t index) {
  const Tensor& t = g.tensors[index];
  const std::string what = g.describe_tensor(static_cast<int>(index));
  for (size_t d = 0; d < t.shape.size(); ++d)
    if (t.shape[d] < 0)
      fail(g, what + ": dimension " + std::to_string(d) + " is " + std::to_string(t.shape[d]) +
                  " (dynamic shapes are not supported)");
  if (t.is_constant && t.dtype != DType::string) {
    // Products of int32 dims may exceed int64 only in absurd files; bound them first.
    int64_t n = 1;
    for (int32_t d : t.shape) {
      if (d != 0 && n > (int64_t{1} << 40) / d) fail(g, what + ": shape is too large");
      n *= d;
    }
    const size_t want = static_cast<size_t>(n) * dtype_size(t.dtype);
    if (t.data.size() != want)
      fail(g, what + ": constant data has " + std::to_string(t.data.size()) + " bytes, shape and " +
                  dtype_name(t.dtype) + " need " + std::to_string(want));
  }
  const Quantization& q = t.quant;
  if (q.scale.size() != q.zero_point.size() && !(q.zero_point.empty() && q.scale.empty()))
    fail(g, what + ": quantization has " + std::to_string(q.scale.size()) + " scales but " +
                std::to_string(q.zero_point.size()) + " zero points");
  if (q.per_channel()) {
    if (q.axis < 0 || q.axis >= t.rank())
      fail(g, what + ": quantized dimension " + std::to_string(q.axis) + " is outside rank " +
                  std::to_string(t.rank()));
    if (static_cast<int64_t>(q.scale.size()) != t.shape[static_cast<size_t>(q.axis)])
      fail(g, what + ": " + std::to_string(q.scale.size()) + " per-channel scales for dimension " +
                  std::to_string(q.axis) + " of size " +
                  std::to_string(t.shape[static_cast<size_t>(q.axis)]));
  }
}

}  // namespace

void verify(const Graph& g) {
  const int n = static_cast<int>(g.tensors.size());
  auto in_range = [&](int t) { return t >= 0 && t < n; };
  for (size_t i = 0; i < g.tensors.size(); ++i) verify_tensor(g, i);

  // 0 = not yet available, 1 = available (input, constant, variable, or already written).
  std::vector<char> available(g.tensors.size(), 0);
  for (size_t i = 0; i < g.tensors.size(); ++i)
    if (g.tensors[i].is_constant || g.tensors[i].is_variable) available[i] = 1;
  for (int t : g.inputs) {
    if (!in_range(t)) fail(g, "graph input refers to tensor #" + std::to_string(t) + " of " + std::to_string(n));
    available[static_cast<size_t>(t)] = 1;
  }

  for (size_t i = 0; i < g.ops.size(); ++i) {
    const Op& op = g.ops[i];
    for (size_t k = 0; k < op.inputs.size(); ++k) {
      int t = op.inputs[k];
      if (t == kNoTensor) continue;
      if (!in_range(t))
        fail(g, g.describe_op(i) + ": input " + std::to_string(k) + " refers to tensor #" +
                    std::to_string(t) + " of " + std::to_string(n));
      if (!available[static_cast<size_t>(t)])
        fail(g, g.describe_op(i) + ": input " + std::to_string(k) + " (" + g.describe_tensor(t) +
                    ") is read before any operator writes it");
    }
    for (size_t k = 0; k < op.outputs.size(); ++k) {
      int t = op.outputs[k];
      if (!in_range(t))
        fail(g, g.describe_op(i) + ": output " + std::to_string(k) + " refers to tensor #" +
                    std::to_string(t) + " of " + std::to_string(n));
      const Tensor& tensor = g.tensors[static_cast<size_t>(t)];
      if (tensor.is_constant)
        fail(g, g.describe_op(i) + ": output " + std::to_string(k) + " (" + g.describe_tensor(t) +
                    ") is a constant");
      if (available[static_cast<size_t>(t)] && !tensor.is_variable)
        fail(g, g.describe_op(i) + ": output " + std::to_string(k) + " (" + g.describe_tensor(t) +
                    ") is already written by a graph input or an earlier operator");
      available[static_cast<size_t>(t)] = 1;
    }
  }
  for (int t : g.outputs) {
    if (!in_range(t)) fail(g, "graph output refers to tensor #" + std::to_string(t) + " of " + std::to_string(n));
    if (!available[static_cast<size_t>(t)])
      fail(g, "graph output " + g.describe_tensor(t) + " is never written");
  }
}

}  // namespace tessel::ir
