#include <algorithm>

#include "tessel/cpu/op_registry.hpp"

namespace tessel::cpu {

const ir::Tensor& PrepareContext::input(size_t i) const {
  if (!has_input(i)) fail("missing input " + std::to_string(i));
  return graph_.tensors.at(static_cast<size_t>(op_.inputs[i]));
}

const ir::Tensor& PrepareContext::output(size_t i) const {
  if (i >= op_.outputs.size()) fail("missing output " + std::to_string(i));
  return graph_.tensors.at(static_cast<size_t>(op_.outputs[i]));
}

void PrepareContext::fail(const std::string& msg) const {
  std::string where = graph_.source.empty() ? "" : graph_.source + ": ";
  throw Error(where + graph_.describe_op(op_index_) + ": " + msg);
}

void PrepareContext::require_arity(size_t min_inputs, size_t max_inputs, size_t outputs) const {
  if (op_.inputs.size() < min_inputs || op_.inputs.size() > max_inputs) {
    fail("expects " +
         (min_inputs == max_inputs ? std::to_string(min_inputs)
                                   : std::to_string(min_inputs) + " to " + std::to_string(max_inputs)) +
         " inputs, has " + std::to_string(op_.inputs.size()));
  }
  for (size_t i = 0; i < min_inputs; ++i)
    if (op_.inputs[i] == ir::kNoTensor) fail("required input " + std::to_string(i) + " is absent");
  if (op_.outputs.size() != outputs)
    fail("expects " + std::to_string(outputs) + " outputs, has " + std::to_string(op_.outputs.size()));
}

std::vector<ir::OpType> OpRegistry::types() const {
  std::vector<ir::OpType> out;
  for (const auto& kv : table_) out.push_back(static_cast<ir::OpType>(kv.first));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace tessel::cpu
