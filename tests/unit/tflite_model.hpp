#pragma once
// Minimal .tflite models for importer tests, written with tflite_builder.hpp from a plain
// description. Field ids follow tensorflow/lite/schema/schema.fbs (declaration order; a
// union takes two ids), typed in here independently of the importer's own tables.
// build() returns the bytes and every object's handle, whose `pos` says where it was
// written, so a test can corrupt exactly one field.

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "tflite_builder.hpp"

namespace tessel::test::tfl {

// TensorType values.
enum : int8_t { FLOAT32 = 0, INT32 = 2, UINT8 = 3, INT64 = 4, STRING = 5, BOOL = 6, INT16 = 7,
                INT8 = 9, INT4 = 17 };
// BuiltinOperator values used here.
enum : int32_t { ADD = 0, CONV_2D = 3, CUSTOM = 32, GELU = 150, STABLEHLO_WHILE = 200 };
// BuiltinOptions union type values used here.
enum : uint8_t { Conv2DOptions = 1, Pool2DOptions = 5, AddOptions = 11 };

struct TensorSpec {
  std::string name;
  int8_t type = INT8;
  std::vector<int32_t> shape;
  uint32_t buffer = 0;
  std::vector<float> scale;  // no quantization table when both are empty
  std::vector<int64_t> zero_point;
  std::optional<int32_t> quantized_dimension;
  bool is_variable = false;
  bool sparse = false;              // writes an (empty) SparsityParameters table
  bool custom_quantization = false;  // writes QuantizationParameters.details
};

struct OpCodeSpec {
  // What the converter writes: builtin_code, and deprecated_builtin_code = min(code, 127).
  // Either can be left out to model older or odd files.
  std::optional<int32_t> builtin_code;
  std::optional<int8_t> deprecated_builtin_code;
  std::string custom_code;
  std::optional<int32_t> version;

  static OpCodeSpec of(int32_t code, int32_t version = 1) {
    OpCodeSpec c;
    c.builtin_code = code;
    c.deprecated_builtin_code = static_cast<int8_t>(code < 127 ? code : 127);
    c.version = version;
    return c;
  }
};

struct OpSpec {
  uint32_t opcode_index = 0;
  std::vector<int32_t> inputs, outputs;
  uint8_t options_type = 0;
  fbt::Ref options;  // null: no options table
};

struct BufferSpec {
  std::vector<uint8_t> data;
  std::optional<uint64_t> offset, size;  // external data (schema 3c)
};

struct ModelSpec {
  std::optional<uint32_t> version = 3;
  std::vector<OpCodeSpec> codes;
  std::vector<TensorSpec> tensors;
  std::vector<OpSpec> ops;
  std::vector<BufferSpec> buffers = {BufferSpec{}};  // buffer 0: the empty sentinel
  std::vector<int32_t> inputs, outputs;
  bool no_subgraphs = false;
  const char* identifier = "TFL3";
};

struct Built {
  std::vector<uint8_t> bytes;
  fbt::Ref model, subgraph;
  std::vector<fbt::Ref> tensors, ops, buffers, codes;
  std::vector<fbt::Ref> tensor_shapes, tensor_names;  // per tensor (shape vector, name string)
};

inline Built build(const ModelSpec& m) {
  Built b;
  b.model = fbt::table();
  if (m.version) fbt::set<uint32_t>(b.model, 0, *m.version);

  std::vector<fbt::Ref> codes;
  for (const OpCodeSpec& c : m.codes) {
    fbt::Ref t = fbt::table();
    if (c.deprecated_builtin_code) fbt::set<int8_t>(t, 0, *c.deprecated_builtin_code);
    if (!c.custom_code.empty()) fbt::set(t, 1, fbt::string(c.custom_code));
    if (c.version) fbt::set<int32_t>(t, 2, *c.version);
    if (c.builtin_code) fbt::set<int32_t>(t, 3, *c.builtin_code);
    codes.push_back(t);
  }
  b.codes = codes;
  fbt::set(b.model, 1, fbt::vector_of(codes));

  for (const TensorSpec& ts : m.tensors) {
    fbt::Ref t = fbt::table();
    fbt::Ref shape = fbt::vector(ts.shape);
    fbt::Ref name = fbt::string(ts.name);
    fbt::set(t, 0, shape);
    fbt::set<int8_t>(t, 1, ts.type);
    fbt::set<uint32_t>(t, 2, ts.buffer);
    fbt::set(t, 3, name);
    if (!ts.scale.empty() || !ts.zero_point.empty() || ts.custom_quantization) {
      fbt::Ref q = fbt::table();
      if (!ts.scale.empty()) fbt::set(q, 2, fbt::vector(ts.scale));
      if (!ts.zero_point.empty()) fbt::set(q, 3, fbt::vector(ts.zero_point));
      if (ts.custom_quantization) {
        fbt::set<uint8_t>(q, 4, 1);  // QuantizationDetails: CustomQuantization
        fbt::Ref custom = fbt::table();
        fbt::set(custom, 0, fbt::vector(std::vector<uint8_t>{1, 2, 3}));
        fbt::set(q, 5, custom);
      }
      if (ts.quantized_dimension) fbt::set<int32_t>(q, 6, *ts.quantized_dimension);
      fbt::set(t, 4, q);
    }
    if (ts.is_variable) fbt::set<uint8_t>(t, 5, 1);
    if (ts.sparse) fbt::set(t, 6, fbt::table());
    b.tensors.push_back(t);
    b.tensor_shapes.push_back(shape);
    b.tensor_names.push_back(name);
  }

  for (const OpSpec& os : m.ops) {
    fbt::Ref t = fbt::table();
    fbt::set<uint32_t>(t, 0, os.opcode_index);
    fbt::set(t, 1, fbt::vector(os.inputs));
    fbt::set(t, 2, fbt::vector(os.outputs));
    if (os.options_type) fbt::set<uint8_t>(t, 3, os.options_type);
    if (os.options) fbt::set(t, 4, os.options);
    b.ops.push_back(t);
  }

  b.subgraph = fbt::table();
  fbt::set(b.subgraph, 0, fbt::vector_of(b.tensors));
  fbt::set(b.subgraph, 1, fbt::vector(m.inputs));
  fbt::set(b.subgraph, 2, fbt::vector(m.outputs));
  fbt::set(b.subgraph, 3, fbt::vector_of(b.ops));
  fbt::set(b.subgraph, 4, fbt::string("main"));
  if (!m.no_subgraphs) fbt::set(b.model, 2, fbt::vector_of({b.subgraph}));
  else fbt::set(b.model, 2, fbt::vector_of({}));

  for (const BufferSpec& bs : m.buffers) {
    fbt::Ref t = fbt::table();
    if (!bs.data.empty()) fbt::set(t, 0, fbt::vector(bs.data));
    if (bs.offset) fbt::set<uint64_t>(t, 1, *bs.offset);
    if (bs.size) fbt::set<uint64_t>(t, 2, *bs.size);
    b.buffers.push_back(t);
  }
  fbt::set(b.model, 4, fbt::vector_of(b.buffers));

  b.bytes = fbt::finish(b.model, m.identifier);
  return b;
}

// Options tables.
inline fbt::Ref add_options(int8_t activation) {
  fbt::Ref o = fbt::table();
  fbt::set<int8_t>(o, 0, activation);
  return o;
}
// Conv2DOptions: padding, stride_w, stride_h, activation; dilations left at their default.
inline fbt::Ref conv_options(int8_t padding, int32_t stride_w, int32_t stride_h, int8_t activation) {
  fbt::Ref o = fbt::table();
  fbt::set<int8_t>(o, 0, padding);
  fbt::set<int32_t>(o, 1, stride_w);
  fbt::set<int32_t>(o, 2, stride_h);
  fbt::set<int8_t>(o, 3, activation);
  return o;
}

template <typename T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// y = ADD(a, b) on int8 [1,2,2,3] with a fused RELU.
inline ModelSpec add_model() {
  ModelSpec m;
  m.codes = {OpCodeSpec::of(ADD, 2)};
  m.tensors = {
      {"a", INT8, {1, 2, 2, 3}, 0, {0.5f}, {-3}, {}, false, false, false},
      {"b", INT8, {1, 2, 2, 3}, 0, {0.25f}, {0}, {}, false, false, false},
      {"y", INT8, {1, 2, 2, 3}, 0, {1.0f}, {5}, {}, false, false, false},
  };
  m.ops = {{0, {0, 1}, {2}, AddOptions, add_options(1)}};
  m.inputs = {0, 1};
  m.outputs = {2};
  return m;
}

// y = CONV_2D(x, w, bias): x int8 [1,4,4,2], w int8 [4,3,3,2] per-channel (axis 0),
// bias int32 [4], y int8 [1,2,2,4]; VALID, stride 1x1, RELU6, dilations by default.
inline ModelSpec conv_model() {
  ModelSpec m;
  m.codes = {OpCodeSpec::of(CONV_2D, 3)};
  std::vector<int8_t> w(4 * 3 * 3 * 2);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(static_cast<int>(i) - 36);
  m.buffers.push_back({bytes_of(w), {}, {}});
  m.buffers.push_back({bytes_of(std::vector<int32_t>{100, -200, 300, -400}), {}, {}});
  m.tensors = {
      {"x", INT8, {1, 4, 4, 2}, 0, {0.5f}, {1}, {}, false, false, false},
      {"conv/w", INT8, {4, 3, 3, 2}, 1, {0.1f, 0.2f, 0.3f, 0.4f}, {0, 0, 0, 0}, 0, false, false, false},
      {"conv/b", INT32, {4}, 2, {0.05f, 0.1f, 0.15f, 0.2f}, {0, 0, 0, 0}, 0, false, false, false},
      {"conv/y", INT8, {1, 2, 2, 4}, 0, {1.0f}, {-2}, {}, false, false, false},
  };
  m.ops = {{0, {0, 1, 2}, {3}, Conv2DOptions, conv_options(1, 1, 1, 3)}};
  m.inputs = {0};
  m.outputs = {3};
  return m;
}

}  // namespace tessel::test::tfl
