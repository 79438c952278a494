#include "tessel/ir/graph.hpp"

#include <unordered_map>

namespace tessel::ir {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f16: return "float16";
    case DType::f64: return "float64";
    case DType::i8: return "int8";
    case DType::u8: return "uint8";
    case DType::i16: return "int16";
    case DType::u16: return "uint16";
    case DType::i32: return "int32";
    case DType::u32: return "uint32";
    case DType::i64: return "int64";
    case DType::u64: return "uint64";
    case DType::bool8: return "bool";
    case DType::string: return "string";
  }
  return "?";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::i8: case DType::u8: case DType::bool8: return 1;
    case DType::f16: case DType::i16: case DType::u16: return 2;
    case DType::f32: case DType::i32: case DType::u32: return 4;
    case DType::f64: case DType::i64: case DType::u64: return 8;
    case DType::string: return 0;
  }
  return 0;
}

int64_t Tensor::num_elements() const {
  int64_t n = 1;
  for (int32_t d : shape) n *= d;
  return n;
}

const char* op_type_name(OpType t) {
  switch (t) {
#define TESSEL_OP_CASE(name) case OpType::name: return #name;
    TESSEL_OP_TYPES(TESSEL_OP_CASE)
#undef TESSEL_OP_CASE
    case OpType::unknown: return "unknown";
  }
  return "unknown";
}

OpType op_type_from_name(const std::string& name) {
  static const std::unordered_map<std::string, OpType> table = [] {
    std::unordered_map<std::string, OpType> m;
#define TESSEL_OP_ENTRY(n) m.emplace(#n, OpType::n);
    TESSEL_OP_TYPES(TESSEL_OP_ENTRY)
#undef TESSEL_OP_ENTRY
    return m;
  }();
  auto it = table.find(name);
  return it == table.end() ? OpType::unknown : it->second;
}

namespace {
template <typename T>
const T* attr_as(const std::map<std::string, AttrValue>& m, const std::string& key,
                 const char* want) {
  auto it = m.find(key);
  if (it == m.end()) return nullptr;
  const T* v = std::get_if<T>(&it->second);
  if (!v) throw Error("attribute '" + key + "' is not " + want);
  return v;
}
}  // namespace

int64_t Attrs::get_int(const std::string& key, int64_t def) const {
  const int64_t* v = attr_as<int64_t>(values_, key, "an integer");
  return v ? *v : def;
}

double Attrs::get_float(const std::string& key, double def) const {
  auto it = values_.find(key);
  if (it == values_.end()) return def;
  if (const double* d = std::get_if<double>(&it->second)) return *d;
  if (const int64_t* i = std::get_if<int64_t>(&it->second)) return static_cast<double>(*i);
  throw Error("attribute '" + key + "' is not a number");
}

std::vector<int64_t> Attrs::get_ints(const std::string& key) const {
  const auto* v = attr_as<std::vector<int64_t>>(values_, key, "a list of integers");
  return v ? *v : std::vector<int64_t>{};
}

std::string Attrs::get_string(const std::string& key, const std::string& def) const {
  const std::string* v = attr_as<std::string>(values_, key, "a string");
  return v ? *v : def;
}

std::string Graph::describe_op(size_t op_index) const {
  std::string s = "op #" + std::to_string(op_index);
  if (op_index < ops.size()) {
    const Op& op = ops[op_index];
    s += " " + op.type_name;
    if (!op.name.empty()) s += " '" + op.name + "'";
  }
  return s;
}

std::string Graph::describe_tensor(int tensor_index) const {
  std::string s = "tensor #" + std::to_string(tensor_index);
  if (tensor_index >= 0 && static_cast<size_t>(tensor_index) < tensors.size() &&
      !tensors[tensor_index].name.empty())
    s += " '" + tensors[tensor_index].name + "'";
  return s;
}

}  // namespace tessel::ir
