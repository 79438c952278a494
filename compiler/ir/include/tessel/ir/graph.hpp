#pragma once
// Tessel's graph IR: tensors (shape, dtype, quantization), constant data, operators with
// their options, and the graph's inputs and outputs.
//
// Contract:
// - A Graph is a plain value. Front ends (TFLite now, ONNX later) build it; the verifier
//   (verify.hpp) checks its structural invariants; passes and executors read it.
// - Tensor and operator references are indices into Graph::tensors / Graph::ops.
//   An optional operator input that is absent is kNoTensor (-1).
// - Layouts follow TFLite: activations NHWC, CONV_2D weights OHWI, DEPTHWISE_CONV_2D
//   weights 1HW(I*M), FULLY_CONNECTED weights [out, in], TRANSPOSE_CONV weights OHWI.
// - Attribute names are the field names of the TFLite schema's options tables
//   (e.g. "stride_w", "padding", "fused_activation_function"); enum-valued fields hold
//   the schema's numeric value as an int (see the enums below).

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "tessel/ir/error.hpp"

namespace tessel::ir {

// Element types. Values are Tessel's own; front ends map their codes onto these.
enum class DType : uint8_t { f32, f16, f64, i8, u8, i16, u16, i32, u32, i64, u64, bool8, string };

const char* dtype_name(DType t);
// Size of one element in bytes (0 for string, whose size is data-dependent).
size_t dtype_size(DType t);

// Per-tensor (one scale) or per-axis (one scale per slice along `axis`) affine
// quantization: real = scale * (q - zero_point).
struct Quantization {
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
  int axis = 0;  // quantized dimension when scale.size() > 1

  bool present() const { return !scale.empty(); }
  bool per_channel() const { return scale.size() > 1; }
};

struct Tensor {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int32_t> shape;  // empty = scalar
  Quantization quant;
  std::vector<uint8_t> data;   // constant contents (little-endian, C order); empty if not constant
  bool is_constant = false;
  bool is_variable = false;    // stateful tensor (LSTM/SVDF state), zero-initialised

  int64_t num_elements() const;
  size_t num_bytes() const { return static_cast<size_t>(num_elements()) * dtype_size(dtype); }
  int rank() const { return static_cast<int>(shape.size()); }
  template <typename T>
  const T* data_as() const { return reinterpret_cast<const T*>(data.data()); }
};

// The operator kinds Tessel knows by name. The list is TFLite's builtin operator names
// that Tessel implements or recognises; a model's operator that is not here is imported
// as OpType::unknown with its original name kept in Op::type_name.
#define TESSEL_OP_TYPES(X)                                                               \
  X(ADD) X(AVERAGE_POOL_2D) X(CONCATENATION) X(CONV_2D) X(DEPTHWISE_CONV_2D)            \
  X(DEPTH_TO_SPACE) X(DEQUANTIZE) X(FLOOR) X(FULLY_CONNECTED) X(LOGISTIC) X(MAX_POOL_2D) \
  X(MUL) X(RELU) X(RELU_N1_TO_1) X(RELU6) X(RESHAPE) X(RESIZE_BILINEAR) X(SOFTMAX)       \
  X(SPACE_TO_DEPTH) X(SVDF) X(TANH) X(PAD) X(GATHER) X(TRANSPOSE) X(MEAN) X(SUB) X(DIV)  \
  X(SQUEEZE) X(UNIDIRECTIONAL_SEQUENCE_LSTM) X(STRIDED_SLICE) X(EXP) X(SPLIT)            \
  X(LOG_SOFTMAX) X(CAST) X(PRELU) X(MAXIMUM) X(ARG_MAX) X(MINIMUM) X(NEG) X(PADV2)       \
  X(SLICE) X(TRANSPOSE_CONV) X(TILE) X(EXPAND_DIMS) X(SUM) X(SQRT) X(RSQRT) X(ARG_MIN)   \
  X(PACK) X(UNPACK) X(FLOOR_DIV) X(SQUARE) X(RESIZE_NEAREST_NEIGHBOR) X(LEAKY_RELU)      \
  X(SQUARED_DIFFERENCE) X(MIRROR_PAD) X(ABS) X(SPLIT_V) X(GATHER_ND) X(QUANTIZE)         \
  X(HARD_SWISH) X(BATCH_MATMUL) X(REDUCE_MAX) X(REDUCE_MIN) X(LOG) X(POW) X(FLOOR_MOD)   \
  X(CEIL) X(ROUND) X(SIN) X(COS) X(ELU)

enum class OpType : uint16_t {
#define TESSEL_OP_ENUM(name) name,
  TESSEL_OP_TYPES(TESSEL_OP_ENUM)
#undef TESSEL_OP_ENUM
  unknown
};

const char* op_type_name(OpType t);
// Returns OpType::unknown when `name` is not a known operator name.
OpType op_type_from_name(const std::string& name);

// TFLite's enum values, used as attribute values.
enum class Padding : int { same = 0, valid = 1 };
enum class Activation : int { none = 0, relu = 1, relu_n1_to_1 = 2, relu6 = 3, tanh = 4,
                              sign_bit = 5 };
enum class MirrorPadMode : int { reflect = 0, symmetric = 1 };

// An operator attribute: an integer (also bools and enums), a float, a list of integers,
// or a string.
using AttrValue = std::variant<int64_t, double, std::vector<int64_t>, std::string>;

class Attrs {
 public:
  void set(const std::string& key, AttrValue v) { values_[key] = std::move(v); }
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  // The typed getters throw Error naming the key when it is present with another type;
  // when absent they return `def`.
  int64_t get_int(const std::string& key, int64_t def) const;
  double get_float(const std::string& key, double def) const;
  std::vector<int64_t> get_ints(const std::string& key) const;  // empty when absent
  std::string get_string(const std::string& key, const std::string& def) const;
  const std::map<std::string, AttrValue>& all() const { return values_; }

 private:
  std::map<std::string, AttrValue> values_;
};

inline constexpr int kNoTensor = -1;

struct Op {
  OpType type = OpType::unknown;
  std::string type_name;    // the front end's operator name (always set)
  int version = 1;          // the front end's operator version
  std::string name;         // a readable name for messages and traces (e.g. first output's name)
  std::vector<int> inputs;  // tensor indices; kNoTensor for absent optional inputs
  std::vector<int> outputs;
  Attrs attrs;
};

struct Graph {
  std::string source;        // file the graph came from (for messages)
  std::vector<Tensor> tensors;
  std::vector<Op> ops;       // in a valid execution order
  std::vector<int> inputs;   // tensor indices
  std::vector<int> outputs;

  // "op #12 CONV_2D 'MobilenetV2/Conv/Relu6'": how messages name an operator.
  std::string describe_op(size_t op_index) const;
  // "tensor #7 'input'": how messages name a tensor.
  std::string describe_tensor(int tensor_index) const;
};

}  // namespace tessel::ir
