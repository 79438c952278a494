// The TFLite front end: walks a .tflite file with the bounds-checked FlatBuffers reader and
// builds the graph IR from subgraph 0. The schema facts it relies on (field ids, enum
// names, options tables) are data in tflite_schema.hpp; this file holds the logic and the
// semantic checks the wire format cannot express (indices in range, data sizes matching
// shapes, quantization matching shapes, supported types).

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "flatbuffer_reader.hpp"
#include "tessel/frontend/tflite.hpp"
#include "tessel/ir/verify.hpp"
#include "tflite_schema.hpp"

namespace tessel::tflite {

namespace {

using fb::Table;
using fb::Vector;
namespace s = schema;

// No single tensor may describe more bytes than this. Real models stay far below; a corrupt
// shape must not become an absurd allocation in whoever sizes buffers from it later.
constexpr int64_t kMaxTensorBytes = int64_t{1} << 32;

struct OperatorCode {
  std::string type_name;
  ir::OpType type = ir::OpType::unknown;
  int version = 1;
  // The options table the operator takes (null: none with fields) and its union type value.
  const s::OptionsTable* options = nullptr;
  uint8_t options_type = 0;
};

std::string shape_string(const std::vector<int32_t>& shape) {
  std::string r = "[";
  for (size_t i = 0; i < shape.size(); ++i) r += (i ? "," : "") + std::to_string(shape[i]);
  return r + "]";
}

std::string tensor_type_name(int code) {
  if (code >= 0 && static_cast<size_t>(code) < s::kNumTensorTypes) return s::kTensorTypeNames[code];
  return "type code " + std::to_string(code);
}

// TensorType -> DType; false for types Tessel does not represent.
bool dtype_from_tensor_type(int code, ir::DType* out) {
  switch (code) {
    case 0: *out = ir::DType::f32; return true;
    case 1: *out = ir::DType::f16; return true;
    case 2: *out = ir::DType::i32; return true;
    case 3: *out = ir::DType::u8; return true;
    case 4: *out = ir::DType::i64; return true;
    case 6: *out = ir::DType::bool8; return true;
    case 7: *out = ir::DType::i16; return true;
    case 9: *out = ir::DType::i8; return true;
    case 10: *out = ir::DType::f64; return true;
    case 12: *out = ir::DType::u64; return true;
    case 15: *out = ir::DType::u32; return true;
    case 16: *out = ir::DType::u16; return true;
    default: return false;  // STRING, COMPLEX64/128, RESOURCE, VARIANT, INT4, unknown
  }
}

// Both lookups succeed for every name kBuiltinOps holds (a static_assert in
// tflite_schema.hpp checks it).
const s::OptionsTable* find_options_table(const char* name) {
  for (const s::OptionsTable& t : s::kOptionsTables)
    if (std::strcmp(t.name, name) == 0) return &t;
  return nullptr;
}
uint8_t options_type_of(const char* name) {
  for (size_t i = 0; i < s::kNumBuiltinOptions; ++i)
    if (std::strcmp(s::kBuiltinOptionsNames[i], name) == 0) return static_cast<uint8_t>(i);
  return 0;
}

class Importer {
 public:
  Importer(const uint8_t* data, size_t size, const std::string& source)
      : reader_(data, size, source) {
    graph_.source = source;
  }

  ir::Graph run() {
    check_identifier();
    const Table model = reader_.root("Model");
    const uint32_t version = model.scalar<uint32_t>(s::model::version, "version", 0);
    if (version != s::kSchemaVersion)
      fail("Model", "schema version " + std::to_string(version) + " is not supported (expected " +
                        std::to_string(s::kSchemaVersion) + ")");
    read_operator_codes(model);
    buffers_ = model.vector(s::model::buffers, "buffers", 4);

    const Vector subgraphs = model.vector(s::model::subgraphs, "subgraphs", 4);
    if (subgraphs.size() == 0) fail("Model", "the model has no subgraphs");
    const Table sg = subgraphs.table(0);

    const Vector tensors = sg.vector(s::subgraph::tensors, "tensors", 4);
    for (size_t i = 0; i < tensors.size(); ++i) read_tensor(tensors.table(i), i);

    const Vector ops = sg.vector(s::subgraph::operators, "operators", 4);
    for (size_t i = 0; i < ops.size(); ++i) read_operator(ops.table(i), i);

    graph_.inputs = tensor_list(sg.scalars<int32_t>(s::subgraph::inputs, "inputs"), "inputs");
    graph_.outputs = tensor_list(sg.scalars<int32_t>(s::subgraph::outputs, "outputs"), "outputs");

    ir::verify(graph_);
    return std::move(graph_);
  }

 private:
  [[noreturn]] void fail(const std::string& where, const std::string& msg) const {
    reader_.fail(where, msg);
  }

  static std::string tensor_where(size_t index, const std::string& name) {
    return "subgraph 0 tensor #" + std::to_string(index) + (name.empty() ? "" : " '" + name + "'");
  }
  static std::string op_where(size_t index) {
    return "subgraph 0 operator #" + std::to_string(index);
  }

  // FlatBuffers identifiers are optional; one that is present must be TFLite's. Bytes 4..7
  // of a file without one start the root table's vtable, whose size fields contain zeros,
  // so four printable characters mean an identifier was written.
  void check_identifier() const {
    const std::string id = reader_.file_identifier();
    if (id.size() != 4 || id == "TFL3") return;
    for (char c : id)
      if (c < 0x20 || c > 0x7e) return;
    fail("", "file identifier is '" + id + "', not 'TFL3': not a TFLite model");
  }

  void read_operator_codes(const Table& model) {
    const Vector codes = model.vector(s::model::operator_codes, "operator_codes", 4);
    for (size_t i = 0; i < codes.size(); ++i) {
      const Table c = codes.table(i);
      // The schema's rule: builtin_code superseded the byte-sized deprecated_builtin_code
      // once codes passed 127; readers take the larger of the two.
      const int32_t code = std::max<int32_t>(
          c.scalar<int8_t>(s::operator_code::deprecated_builtin_code, "deprecated_builtin_code", 0),
          c.scalar<int32_t>(s::operator_code::builtin_code, "builtin_code", 0));
      OperatorCode oc;
      if (code < 0)
        fail("operator code #" + std::to_string(i), "builtin code " + std::to_string(code) +
                                                       " is invalid");
      if (code == s::kCustomOpCode) {
        oc.type_name = "CUSTOM:" + c.string(s::operator_code::custom_code, "custom_code");
      } else if (static_cast<size_t>(code) < s::kNumBuiltinOps) {
        const s::BuiltinOp& op = s::kBuiltinOps[code];
        oc.type_name = op.name;
        if (op.options) {
          oc.options = find_options_table(op.options);
          oc.options_type = options_type_of(op.options);
        }
      } else {
        oc.type_name = "BUILTIN_OP_" + std::to_string(code);
      }
      oc.type = ir::op_type_from_name(oc.type_name);
      oc.version = c.scalar<int32_t>(s::operator_code::version, "version", 1);
      op_codes_.push_back(std::move(oc));
    }
  }

  // The bytes of buffer `index`, inline (data) or, for files over 2 GB, stored after the
  // FlatBuffer at an absolute file offset (offset > 1, as the schema defines).
  std::pair<const uint8_t*, size_t> buffer_bytes(uint32_t index, const std::string& where) const {
    const size_t count = buffers_ ? buffers_->size() : 0;
    if (index >= count) {
      if (index == 0) return {nullptr, 0};  // buffer 0 is the empty sentinel; files may omit it
      fail(where, "buffer " + std::to_string(index) + " is out of range (" +
                      std::to_string(count) + " buffers)");
    }
    const Table b = buffers_->table(index);
    const uint64_t offset = b.scalar<uint64_t>(s::buffer::offset, "offset", 0);
    if (offset > 1) {
      const uint64_t size = b.scalar<uint64_t>(s::buffer::size, "size", 0);
      if (offset > reader_.size() || size > reader_.size() - offset)
        fail(b.path(), "truncated or corrupt file: external data at offset " + std::to_string(offset) +
                           " (" + std::to_string(size) + " bytes) extends past the end of the file (size " +
                           std::to_string(reader_.size()) + ")");
      return {reader_.data() + offset, static_cast<size_t>(size)};
    }
    const Vector data = b.vector(s::buffer::data, "data", 1);
    return {data.bytes(), data.size()};
  }

  void read_tensor(const Table& t, size_t index) {
    ir::Tensor tensor;
    reader_.charge(sizeof(ir::Tensor), t.path());
    tensor.name = t.string(s::tensor::name, "name");
    const std::string where = tensor_where(index, tensor.name);

    const int type = t.scalar<int8_t>(s::tensor::type, "type", 0);
    if (!dtype_from_tensor_type(type, &tensor.dtype))
      fail(where, "tensor type " + tensor_type_name(type) + " is not supported");

    tensor.shape = t.scalars<int32_t>(s::tensor::shape, "shape");
    int64_t elements = 1;
    for (size_t d = 0; d < tensor.shape.size(); ++d) {
      const int32_t dim = tensor.shape[d];
      if (dim < 0)
        fail(where, "shape " + shape_string(tensor.shape) + ": dimension " + std::to_string(d) +
                        " is " + std::to_string(dim) + " (dynamic shapes are not supported)");
      // Bounded before multiplying, so the product never overflows.
      if (dim != 0 && elements > kMaxTensorBytes / dim)
        fail(where, "shape " + shape_string(tensor.shape) + " is too large");
      elements *= dim;
    }
    const int64_t need = elements * static_cast<int64_t>(ir::dtype_size(tensor.dtype));
    if (need > kMaxTensorBytes)
      fail(where, "shape " + shape_string(tensor.shape) + " " + ir::dtype_name(tensor.dtype) +
                      " is larger than " + std::to_string(kMaxTensorBytes) + " bytes");

    if (t.has(s::tensor::sparsity)) fail(where, "sparse tensors are not supported");
    tensor.is_variable = t.scalar<uint8_t>(s::tensor::is_variable, "is_variable", 0) != 0;

    const uint32_t buffer = t.scalar<uint32_t>(s::tensor::buffer, "buffer", 0);
    const auto [bytes, size] = buffer_bytes(buffer, where);
    if (size != 0) {
      if (tensor.is_variable)
        fail(where, "variable tensor with initial data in buffer " + std::to_string(buffer) +
                        " is not supported (variables start at zero)");
      if (static_cast<int64_t>(size) != need)
        fail(where, "buffer " + std::to_string(buffer) + " has " + std::to_string(size) +
                        " bytes, shape " + shape_string(tensor.shape) + " " +
                        ir::dtype_name(tensor.dtype) + " needs " + std::to_string(need));
      reader_.charge(size, where);
      tensor.data.assign(bytes, bytes + size);
      tensor.is_constant = true;
    }

    if (auto q = t.table(s::tensor::quantization, "quantization"))
      tensor.quant = read_quantization(*q, tensor, where);
    graph_.tensors.push_back(std::move(tensor));
  }

  ir::Quantization read_quantization(const Table& q, const ir::Tensor& tensor,
                                     const std::string& where) const {
    if (q.union_type(s::quantization::details_type, "details_type") != 0)
      fail(where, "custom quantization (QuantizationParameters.details) is not supported");
    ir::Quantization r;
    std::vector<float> scale = q.scalars<float>(s::quantization::scale, "scale");
    // Float tensors may carry min/max only: that is no quantization for Tessel.
    if (scale.empty()) return r;
    std::vector<int64_t> zero_point = q.scalars<int64_t>(s::quantization::zero_point, "zero_point");
    if (zero_point.size() != scale.size())
      fail(where, "quantization has " + std::to_string(scale.size()) + " scales but " +
                      std::to_string(zero_point.size()) + " zero points");
    for (size_t i = 0; i < scale.size(); ++i)
      if (!std::isfinite(scale[i]) || scale[i] < 0.0f)
        fail(where, "quantization scale[" + std::to_string(i) + "] is " +
                        std::to_string(static_cast<double>(scale[i])) +
                        " (scales must be finite and not negative)");
    // Zero points of 8- and 16-bit tensors are values of the tensor's own type.
    int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
    switch (tensor.dtype) {
      case ir::DType::i8: lo = -128; hi = 127; break;
      case ir::DType::u8: lo = 0; hi = 255; break;
      case ir::DType::i16: lo = -32768; hi = 32767; break;
      default: break;
    }
    for (size_t i = 0; i < zero_point.size(); ++i)
      if (zero_point[i] < lo || zero_point[i] > hi)
        fail(where, "quantization zero_point[" + std::to_string(i) + "] is " +
                        std::to_string(zero_point[i]) + ", outside the range of " +
                        ir::dtype_name(tensor.dtype));
    int32_t axis = q.scalar<int32_t>(s::quantization::quantized_dimension, "quantized_dimension", 0);
    // TOCO-era converters copied a depthwise filter's quantized_dimension (3) onto its
    // rank-1 bias (tflm_person_detect.tflite does). A rank-1 tensor has one possible axis,
    // and kernels take bias scales from input and filter anyway, so read it as axis 0.
    if (tensor.rank() == 1 && scale.size() > 1) axis = 0;
    if (scale.size() > 1) {
      if (axis < 0 || axis >= tensor.rank())
        fail(where, "quantized_dimension " + std::to_string(axis) + " is outside shape " +
                        shape_string(tensor.shape));
      if (static_cast<int64_t>(scale.size()) != tensor.shape[static_cast<size_t>(axis)])
        fail(where, "quantization has " + std::to_string(scale.size()) + " scales but dimension " +
                        std::to_string(axis) + " (quantized_dimension) of shape " +
                        shape_string(tensor.shape) + " has size " +
                        std::to_string(tensor.shape[static_cast<size_t>(axis)]));
    }
    r.scale = std::move(scale);
    r.zero_point = std::move(zero_point);
    r.axis = axis;
    return r;
  }

  // Tensor indices of an operator or of the graph; -1 (an absent optional input) only
  // where `allow_absent`.
  std::vector<int> tensor_indices(const std::vector<int32_t>& raw, const std::string& where,
                                  const char* what, bool allow_absent) const {
    std::vector<int> r;
    r.reserve(raw.size());
    const size_t n = graph_.tensors.size();
    for (size_t k = 0; k < raw.size(); ++k) {
      const int32_t t = raw[k];
      if (t == -1 && allow_absent) {
        r.push_back(ir::kNoTensor);
        continue;
      }
      if (t < 0 || static_cast<size_t>(t) >= n)
        fail(where, std::string(what) + "[" + std::to_string(k) + "] is tensor " +
                        std::to_string(t) + ", out of range (" + std::to_string(n) + " tensors)");
      r.push_back(t);
    }
    return r;
  }

  std::vector<int> tensor_list(const std::vector<int32_t>& raw, const char* what) const {
    return tensor_indices(raw, "subgraph 0", what, false);
  }

  void read_operator(const Table& t, size_t index) {
    reader_.charge(sizeof(ir::Op), t.path());
    const uint32_t opcode_index = t.scalar<uint32_t>(s::op::opcode_index, "opcode_index", 0);
    if (opcode_index >= op_codes_.size())
      fail(op_where(index), "opcode_index " + std::to_string(opcode_index) + " is out of range (" +
                                std::to_string(op_codes_.size()) + " operator codes)");
    const OperatorCode& code = op_codes_[opcode_index];
    ir::Op op;
    op.type = code.type;
    op.type_name = code.type_name;
    op.version = code.version;
    const std::string where = op_where(index) + " " + code.type_name;
    op.inputs = tensor_indices(t.scalars<int32_t>(s::op::inputs, "inputs"), where, "inputs", true);
    op.outputs = tensor_indices(t.scalars<int32_t>(s::op::outputs, "outputs"), where, "outputs", false);
    if (!op.outputs.empty()) op.name = graph_.tensors[static_cast<size_t>(op.outputs[0])].name;
    if (code.options) read_options(t, code, where, &op.attrs);
    graph_.ops.push_back(std::move(op));
  }

  // Every field of the operator's options table becomes an attribute, holding the schema
  // default when the field (or the whole table) is absent, so bindings see complete options.
  void read_options(const Table& t, const OperatorCode& code, const std::string& where,
                    ir::Attrs* attrs) const {
    const uint8_t type = t.union_type(s::op::builtin_options_type, "builtin_options_type");
    if (type != 0 && type != code.options_type)
      fail(where, std::string("builtin_options is ") +
                      (type < s::kNumBuiltinOptions ? s::kBuiltinOptionsNames[type]
                                                    : "of unknown type " + std::to_string(type)) +
                      ", " + code.type_name + " takes " + code.options->name);
    const std::optional<Table> opts =
        type != 0 ? t.union_value(s::op::builtin_options_type, "builtin_options") : std::nullopt;
    for (size_t i = 0; i < code.options->count; ++i) {
      const s::OptionField& f = code.options->fields[i];
      attrs->set(f.name, opts ? read_field(*opts, f) : default_value(f));
    }
  }

  static ir::AttrValue default_value(const s::OptionField& f) {
    switch (f.kind) {
      case s::FieldKind::f32: return static_cast<double>(f.def);
      case s::FieldKind::int_list: return std::vector<int64_t>{};
      case s::FieldKind::string: return std::string();
      default: return f.def;
    }
  }

  static ir::AttrValue read_field(const Table& o, const s::OptionField& f) {
    switch (f.kind) {
      case s::FieldKind::i8:
        return int64_t{o.scalar<int8_t>(f.id, f.name, static_cast<int8_t>(f.def))};
      case s::FieldKind::u8:
        return int64_t{o.scalar<uint8_t>(f.id, f.name, static_cast<uint8_t>(f.def))};
      case s::FieldKind::boolean:
        return int64_t{o.scalar<uint8_t>(f.id, f.name, static_cast<uint8_t>(f.def)) != 0};
      case s::FieldKind::i32:
        return int64_t{o.scalar<int32_t>(f.id, f.name, static_cast<int32_t>(f.def))};
      case s::FieldKind::u32:
        return int64_t{o.scalar<uint32_t>(f.id, f.name, static_cast<uint32_t>(f.def))};
      case s::FieldKind::i64:
        return int64_t{o.scalar<int64_t>(f.id, f.name, f.def)};
      case s::FieldKind::f32:
        return static_cast<double>(o.scalar<float>(f.id, f.name, static_cast<float>(f.def)));
      case s::FieldKind::int_list: {
        const std::vector<int32_t> v = o.scalars<int32_t>(f.id, f.name);
        return std::vector<int64_t>(v.begin(), v.end());
      }
      case s::FieldKind::string:
        return o.string(f.id, f.name);
    }
    return f.def;
  }

  fb::Reader reader_;
  ir::Graph graph_;
  std::vector<OperatorCode> op_codes_;
  std::optional<Vector> buffers_;  // Model.buffers, set by run() (Vector has no empty state)
};

}  // namespace

ir::Graph import_buffer(const uint8_t* data, size_t size, const std::string& source_name) {
  return Importer(data, size, source_name).run();
}

ir::Graph import_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw Error(path + ": " + (ec ? "cannot open: " + ec.message() : "not a regular file"));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open for reading");
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) throw Error(path + ": cannot read the size: " + ec.message());
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (size != 0 && !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
    throw Error(path + ": read failed after " + std::to_string(in.gcount()) + " of " +
                std::to_string(size) + " bytes");
  return import_buffer(bytes.data(), bytes.size(), path);
}

}  // namespace tessel::tflite
