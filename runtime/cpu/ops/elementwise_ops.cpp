// Operator bindings of the elementwise group: IR operator -> validated kernel call.
//
// Which TFLite Prepare each binding follows (they differ in how multipliers are computed,
// float or double, and the kernels must see the same bits):
// - int8 / int16: TFLite Micro's kernels (the int8 goldens come from TFLite Micro).
// - uint8: full TFLite's Prepare for kTfLiteUInt8 with its reference kernels
//   (../shared/goldens/MANIFEST-uint8.md).
// Where the two compute a multiplier differently it is noted at the computation.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "tessel/cpu/op_registry.hpp"
#include "tessel/cpu/quant_params.hpp"
#include "tessel/kernels/elementwise.hpp"
#include "tessel/kernels/quant.hpp"

namespace tessel::cpu {

namespace {

using ir::DType;
using kernels::QuantizedMultiplier;
using kernels::Shape;

std::string shape_str(const ir::Tensor& t) {
  std::string s = "[";
  for (size_t i = 0; i < t.shape.size(); ++i) s += (i ? ", " : "") + std::to_string(t.shape[i]);
  return s + "]";
}

std::string describe(const ir::Tensor& t) {
  return "'" + t.name + "' (" + ir::dtype_name(t.dtype) + " " + shape_str(t) + ")";
}

// Runs f, turning a tessel::Error from a shared helper into a failure naming the operator.
template <typename F>
auto with_op_context(const PrepareContext& pc, F f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error& e) {
    pc.fail(e.what());
  }
}

Shape shape_of(const PrepareContext& pc, const ir::Tensor& t) {
  return with_op_context(pc, [&] { return Shape::of(t.shape); });
}

bool is_quantized_dtype(DType t) { return t == DType::i8 || t == DType::u8 || t == DType::i16; }

int32_t dtype_min(DType t) {
  switch (t) {
    case DType::i8: return std::numeric_limits<int8_t>::min();
    case DType::u8: return 0;
    case DType::i16: return std::numeric_limits<int16_t>::min();
    default: return std::numeric_limits<int32_t>::min();
  }
}
int32_t dtype_max(DType t) {
  switch (t) {
    case DType::i8: return std::numeric_limits<int8_t>::max();
    case DType::u8: return std::numeric_limits<uint8_t>::max();
    case DType::i16: return std::numeric_limits<int16_t>::max();
    default: return std::numeric_limits<int32_t>::max();
  }
}

// A tensor's per-tensor quantization, checked: present, one scale, positive finite scale,
// zero point inside the dtype's range.
struct TensorQuant {
  float scale;
  int32_t zero_point;
};

TensorQuant tensor_quant(const PrepareContext& pc, const ir::Tensor& t) {
  pc.require(t.quant.present(), "tensor " + describe(t) + " has no quantization parameters");
  pc.require(!t.quant.per_channel(), "tensor " + describe(t) +
                                         " has per-axis quantization; elementwise operators need "
                                         "one scale and zero point");
  const float scale = t.quant.scale[0];
  const int64_t zp = t.quant.zero_point.empty() ? 0 : t.quant.zero_point[0];
  pc.require(scale > 0.0f && std::isfinite(scale),
             "tensor " + describe(t) + " has scale " + std::to_string(scale) +
                 "; a positive finite scale is required");
  pc.require(zp >= dtype_min(t.dtype) && zp <= dtype_max(t.dtype),
             "tensor " + describe(t) + " has zero point " + std::to_string(zp) +
                 " outside its dtype's range");
  return {scale, static_cast<int32_t>(zp)};
}

void require_zero_point(const PrepareContext& pc, const ir::Tensor& t, const TensorQuant& q,
                        int32_t expected, const std::string& why) {
  pc.require(q.zero_point == expected, "tensor " + describe(t) + " has zero point " +
                                           std::to_string(q.zero_point) + "; " + why +
                                           " requires " + std::to_string(expected));
}

void require_scale(const PrepareContext& pc, const ir::Tensor& t, const TensorQuant& q,
                   float expected, const std::string& expected_text, const std::string& why) {
  pc.require(q.scale == expected, "tensor " + describe(t) + " has scale " +
                                      std::to_string(q.scale) + "; " + why + " requires " +
                                      expected_text);
}

// TFLite's TF_LITE_ENSURE_NEAR(scale, expected, 0.001 * expected).
void require_scale_near(const PrepareContext& pc, const ir::Tensor& t, const TensorQuant& q,
                        float expected, const std::string& expected_text, const std::string& why) {
  pc.require(std::abs(q.scale - expected) <= 0.001f * expected,
             "tensor " + describe(t) + " has scale " + std::to_string(q.scale) + "; " + why +
                 " requires " + expected_text);
}

const char* activation_name(int64_t a) {
  switch (a) {
    case 0: return "NONE";
    case 1: return "RELU";
    case 2: return "RELU_N1_TO_1";
    case 3: return "RELU6";
    case 4: return "TANH";
    case 5: return "SIGN_BIT";
    default: return "unknown";
  }
}

// The operator's fused_activation_function; TFLite's arithmetic kernels support only the
// clamping ones.
int fused_activation(const PrepareContext& pc) {
  const int64_t a = pc.attrs().get_int("fused_activation_function", 0);
  pc.require(a >= 0 && a <= 3, std::string("fused activation ") + activation_name(a) + " (" +
                                   std::to_string(a) +
                                   ") is not supported (only NONE, RELU, RELU_N1_TO_1, RELU6)");
  return static_cast<int>(a);
}

kernels::ActivationRange quantized_activation(const PrepareContext& pc, int activation,
                                              const ir::Tensor& out, const TensorQuant& q) {
  return with_op_context(pc, [&] {
    return kernels::activation_range_quantized(activation, q.scale, q.zero_point,
                                               dtype_min(out.dtype), dtype_max(out.dtype));
  });
}

// TFLite's CalculateActivationRange<int32_t>.
kernels::ActivationRange int32_activation(int activation) {
  constexpr int32_t lo = std::numeric_limits<int32_t>::min();
  constexpr int32_t hi = std::numeric_limits<int32_t>::max();
  switch (activation) {
    case 1: return {0, hi};
    case 2: return {-1, 1};
    case 3: return {0, 6};
    default: return {lo, hi};
  }
}

QuantizedMultiplier multiplier(const PrepareContext& pc, double real) {
  return with_op_context(pc, [&] { return kernels::quantize_multiplier(real); });
}
QuantizedMultiplier multiplier_smaller_than_one(const PrepareContext& pc, double real) {
  return with_op_context(pc, [&] { return kernels::quantize_multiplier_smaller_than_one(real); });
}
QuantizedMultiplier multiplier_greater_than_one(const PrepareContext& pc, double real) {
  return with_op_context(pc, [&] { return kernels::quantize_multiplier_greater_than_one(real); });
}

// ---------------------------------------------------------------------------------------
// Operand checks

struct BinaryOperands {
  const ir::Tensor& in1;
  const ir::Tensor& in2;
  const ir::Tensor& out;
  Shape shape1;
  Shape shape2;
  Shape out_shape;
};

// Two inputs and one output of one dtype, the output shape being the inputs' broadcast.
BinaryOperands binary_operands(const PrepareContext& pc) {
  pc.require_arity(2, 2, 1);
  BinaryOperands b{pc.input(0), pc.input(1), pc.output(0), {}, {}, {}};
  pc.require(b.in1.dtype == b.in2.dtype && b.in1.dtype == b.out.dtype,
             "inputs and output must have one dtype; got " + describe(b.in1) + ", " +
                 describe(b.in2) + " -> " + describe(b.out));
  b.shape1 = shape_of(pc, b.in1);
  b.shape2 = shape_of(pc, b.in2);
  b.out_shape = shape_of(pc, b.out);
  Shape broadcast;
  pc.require(kernels::broadcast_shape(b.shape1, b.shape2, &broadcast),
             "input shapes " + shape_str(b.in1) + " and " + shape_str(b.in2) + " do not broadcast");
  pc.require(broadcast == b.out_shape, "output shape " + shape_str(b.out) +
                                           " is not the broadcast of the input shapes " +
                                           shape_str(b.in1) + " and " + shape_str(b.in2));
  pc.require(b.out_shape.rank <= 6, "broadcasting supports up to 6 dimensions, the output has " +
                                        std::to_string(b.out_shape.rank));
  return b;
}

struct UnaryOperands {
  const ir::Tensor& in;
  const ir::Tensor& out;
  int64_t size;
};

// One input and one output of one dtype and shape.
UnaryOperands unary_operands(const PrepareContext& pc) {
  pc.require_arity(1, 1, 1);
  UnaryOperands u{pc.input(0), pc.output(0), 0};
  pc.require(u.in.dtype == u.out.dtype,
             "input and output must have one dtype; got " + describe(u.in) + " -> " + describe(u.out));
  pc.require(u.in.shape == u.out.shape,
             "input and output must have one shape; got " + describe(u.in) + " -> " + describe(u.out));
  u.size = u.in.num_elements();
  return u;
}

[[noreturn]] void fail_dtype(const PrepareContext& pc, const ir::Tensor& t, const std::string& supported) {
  pc.fail(std::string("dtype ") + ir::dtype_name(t.dtype) + " of " + describe(t) +
          " is not supported (supported: " + supported + ")");
}

// ---------------------------------------------------------------------------------------
// Binary arithmetic

RunFn float_binary_run(kernels::BinaryOp op, kernels::ActivationRangeF range, const BinaryOperands& b) {
  return [op, range, s1 = b.shape1, s2 = b.shape2, so = b.out_shape](ExecContext& ec) {
    kernels::binary_float(op, range.min, range.max, s1, ec.input<float>(0), s2, ec.input<float>(1),
                          so, ec.output<float>(0));
  };
}

RunFn int32_binary_run(kernels::BinaryOp op, kernels::ActivationRange range, const BinaryOperands& b) {
  return [op, range, s1 = b.shape1, s2 = b.shape2, so = b.out_shape](ExecContext& ec) {
    kernels::binary_int32(op, range.min, range.max, s1, ec.input<int32_t>(0), s2,
                          ec.input<int32_t>(1), so, ec.output<int32_t>(0));
  };
}

// ADD / SUB parameters (TFLite's general quantized path): both inputs onto
// 2 * max(s1, s2) / 2^left_shift, then onto the output scale.
kernels::QuantizedAddParams add_sub_params(const PrepareContext& pc, const BinaryOperands& b,
                                           int activation, bool float_divisions) {
  const TensorQuant q1 = tensor_quant(pc, b.in1);
  const TensorQuant q2 = tensor_quant(pc, b.in2);
  const TensorQuant qo = tensor_quant(pc, b.out);
  kernels::QuantizedAddParams p;
  p.input1_offset = -q1.zero_point;
  p.input2_offset = -q2.zero_point;
  p.output_offset = qo.zero_point;
  // 65535 << 15 and 255 << 20 (|q - zp| at most) both stay below 2^31.
  p.left_shift = b.out.dtype == DType::i16 ? 15 : 20;
  double real1, real2, real_out;
  if (float_divisions) {
    // TFLite Micro's SUB divides in float and converts the quotients to double.
    const float twice_max = 2 * std::max(q1.scale, q2.scale);
    real1 = static_cast<double>(q1.scale / twice_max);
    real2 = static_cast<double>(q2.scale / twice_max);
    real_out = static_cast<double>(twice_max / (static_cast<float>(1 << p.left_shift) * qo.scale));
  } else {
    const double twice_max = 2 * static_cast<double>(std::max(q1.scale, q2.scale));
    real1 = static_cast<double>(q1.scale) / twice_max;
    real2 = static_cast<double>(q2.scale) / twice_max;
    real_out = twice_max / (static_cast<double>(1 << p.left_shift) * static_cast<double>(qo.scale));
  }
  p.input1 = multiplier_smaller_than_one(pc, real1);
  p.input2 = multiplier_smaller_than_one(pc, real2);
  p.output = multiplier_smaller_than_one(pc, real_out);
  const kernels::ActivationRange range = quantized_activation(pc, activation, b.out, qo);
  p.activation_min = range.min;
  p.activation_max = range.max;
  return p;
}

template <typename T>
RunFn add_sub_run(bool subtract, const kernels::QuantizedAddParams& p, const BinaryOperands& b) {
  return [subtract, p, s1 = b.shape1, s2 = b.shape2, so = b.out_shape](ExecContext& ec) {
    if (subtract)
      kernels::sub_quantized<T>(p, s1, ec.input<T>(0), s2, ec.input<T>(1), so, ec.output<T>(0));
    else
      kernels::add_quantized<T>(p, s1, ec.input<T>(0), s2, ec.input<T>(1), so, ec.output<T>(0));
  };
}

template <bool kSubtract>
RunFn prepare_add_sub(const PrepareContext& pc) {
  const BinaryOperands b = binary_operands(pc);
  const int activation = fused_activation(pc);
  const auto op = kSubtract ? kernels::BinaryOp::sub : kernels::BinaryOp::add;
  switch (b.out.dtype) {
    case DType::f32: return float_binary_run(op, kernels::activation_range_float(activation), b);
    case DType::i32: return int32_binary_run(op, int32_activation(activation), b);
    case DType::i8:
      return add_sub_run<int8_t>(kSubtract, add_sub_params(pc, b, activation, kSubtract), b);
    case DType::i16:
      return add_sub_run<int16_t>(kSubtract, add_sub_params(pc, b, activation, kSubtract), b);
    case DType::u8:  // full TFLite computes both ADD and SUB in double
      return add_sub_run<uint8_t>(kSubtract, add_sub_params(pc, b, activation, false), b);
    default: fail_dtype(pc, b.out, "float32, int32, int8, uint8, int16");
  }
}

kernels::QuantizedMulParams mul_params(const PrepareContext& pc, const BinaryOperands& b,
                                       double real_multiplier, int activation) {
  const TensorQuant q1 = tensor_quant(pc, b.in1);
  const TensorQuant q2 = tensor_quant(pc, b.in2);
  const TensorQuant qo = tensor_quant(pc, b.out);
  kernels::QuantizedMulParams p;
  p.input1_offset = -q1.zero_point;
  p.input2_offset = -q2.zero_point;
  p.output_offset = qo.zero_point;
  p.output = multiplier(pc, real_multiplier);
  const kernels::ActivationRange range = quantized_activation(pc, activation, b.out, qo);
  p.activation_min = range.min;
  p.activation_max = range.max;
  return p;
}

template <typename T>
RunFn mul_run(const kernels::QuantizedMulParams& p, const BinaryOperands& b) {
  return [p, s1 = b.shape1, s2 = b.shape2, so = b.out_shape](ExecContext& ec) {
    kernels::mul_quantized<T>(p, s1, ec.input<T>(0), s2, ec.input<T>(1), so, ec.output<T>(0));
  };
}

// MUL parameters of an int8, uint8 or int16 MUL (the operands already checked by
// binary_operands): the output multiplier of s1 * s2 / s_out, the offsets and the fused
// activation's range.
kernels::QuantizedMulParams quantized_mul_params(const PrepareContext& pc, const BinaryOperands& b,
                                                 int activation) {
  const TensorQuant q1 = tensor_quant(pc, b.in1);
  const TensorQuant q2 = tensor_quant(pc, b.in2);
  const TensorQuant qo = tensor_quant(pc, b.out);
  if (b.out.dtype == DType::u8) {
    // Full TFLite: s1 * s2 / s_out evaluated in float.
    return mul_params(pc, b, static_cast<double>(q1.scale * q2.scale / qo.scale), activation);
  }
  if (b.out.dtype == DType::i16) {
    // The int16 kernel multiplies raw values (|q1 * q2| < 2^30); offsets would overflow.
    for (const auto* t : {&b.in1, &b.in2, &b.out})
      require_zero_point(pc, *t, tensor_quant(pc, *t), 0, "int16 MUL");
  }
  // TFLite Micro (int8, int16): s1 * s2 / s_out in double.
  const double real =
      static_cast<double>(q1.scale) * static_cast<double>(q2.scale) / static_cast<double>(qo.scale);
  return mul_params(pc, b, real, activation);
}

RunFn prepare_mul(const PrepareContext& pc) {
  const BinaryOperands b = binary_operands(pc);
  const int activation = fused_activation(pc);
  switch (b.out.dtype) {
    case DType::f32:
      return float_binary_run(kernels::BinaryOp::mul, kernels::activation_range_float(activation), b);
    case DType::i32: return int32_binary_run(kernels::BinaryOp::mul, int32_activation(activation), b);
    case DType::i8: return mul_run<int8_t>(quantized_mul_params(pc, b, activation), b);
    case DType::i16: return mul_run<int16_t>(quantized_mul_params(pc, b, activation), b);
    case DType::u8: return mul_run<uint8_t>(quantized_mul_params(pc, b, activation), b);
    default: fail_dtype(pc, b.out, "float32, int32, int8, uint8, int16");
  }
}

template <typename T>
RunFn div_run(const kernels::QuantizedMulParams& p, const BinaryOperands& b) {
  return [p, s1 = b.shape1, s2 = b.shape2, so = b.out_shape](ExecContext& ec) {
    kernels::div_quantized<T>(p, s1, ec.input<T>(0), s2, ec.input<T>(1), so, ec.output<T>(0));
  };
}

RunFn prepare_div(const PrepareContext& pc) {
  const BinaryOperands b = binary_operands(pc);
  const int activation = fused_activation(pc);
  switch (b.out.dtype) {
    case DType::f32:
      return float_binary_run(kernels::BinaryOp::div, kernels::activation_range_float(activation), b);
    case DType::i32: return int32_binary_run(kernels::BinaryOp::div, int32_activation(activation), b);
    case DType::i8:
    case DType::u8: {
      const TensorQuant q1 = tensor_quant(pc, b.in1);
      const TensorQuant q2 = tensor_quant(pc, b.in2);
      const TensorQuant qo = tensor_quant(pc, b.out);
      // TFLite (both): s1 / (s2 * s_out) evaluated in float.
      const double real = static_cast<double>(q1.scale / (q2.scale * qo.scale));
      const kernels::QuantizedMulParams p = mul_params(pc, b, real, activation);
      // The kernel's final right shift is shift - (bits of 1/divisor) - (headroom of the
      // dividend, >= 23 for |dividend| <= 255); it must not become a left shift.
      pc.require(p.output.shift <= 23, "DIV output multiplier " + std::to_string(real) +
                                           " is too large (at most 2^23 is supported)");
      return b.out.dtype == DType::i8 ? div_run<int8_t>(p, b) : div_run<uint8_t>(p, b);
    }
    default: fail_dtype(pc, b.out, "float32, int32, int8, uint8");
  }
}

// MAXIMUM / MINIMUM compare raw values, which is only meaningful when all three tensors
// share one quantization.
template <bool kMaximum>
RunFn prepare_maximum_minimum(const PrepareContext& pc) {
  const BinaryOperands b = binary_operands(pc);
  const auto op = kMaximum ? kernels::BinaryOp::maximum : kernels::BinaryOp::minimum;
  if (b.out.dtype == DType::f32) {
    constexpr float inf = std::numeric_limits<float>::infinity();
    return float_binary_run(op, {-inf, inf}, b);
  }
  if (b.out.dtype == DType::i32) return int32_binary_run(op, int32_activation(0), b);
  if (!is_quantized_dtype(b.out.dtype)) fail_dtype(pc, b.out, "float32, int32, int8, uint8, int16");
  const TensorQuant q1 = tensor_quant(pc, b.in1);
  const TensorQuant q2 = tensor_quant(pc, b.in2);
  const TensorQuant qo = tensor_quant(pc, b.out);
  pc.require(q1.scale == qo.scale && q2.scale == qo.scale && q1.zero_point == qo.zero_point &&
                 q2.zero_point == qo.zero_point,
             "inputs and output must share one quantization; got scale/zero point " +
                 std::to_string(q1.scale) + "/" + std::to_string(q1.zero_point) + ", " +
                 std::to_string(q2.scale) + "/" + std::to_string(q2.zero_point) + " -> " +
                 std::to_string(qo.scale) + "/" + std::to_string(qo.zero_point));
  auto run = [&](auto tag) -> RunFn {
    using T = decltype(tag);
    return [s1 = b.shape1, s2 = b.shape2, so = b.out_shape](ExecContext& ec) {
      kernels::maximum_minimum<T>(kMaximum, s1, ec.input<T>(0), s2, ec.input<T>(1), so,
                                  ec.output<T>(0));
    };
  };
  switch (b.out.dtype) {
    case DType::i8: return run(int8_t{});
    case DType::u8: return run(uint8_t{});
    default: return run(int16_t{});
  }
}

template <typename T>
RunFn squared_difference_run(const kernels::QuantizedAddParams& p, const BinaryOperands& b) {
  return [p, s1 = b.shape1, s2 = b.shape2, so = b.out_shape](ExecContext& ec) {
    kernels::squared_difference_quantized<T>(p, s1, ec.input<T>(0), s2, ec.input<T>(1), so,
                                             ec.output<T>(0));
  };
}

RunFn prepare_squared_difference(const PrepareContext& pc) {
  const BinaryOperands b = binary_operands(pc);
  switch (b.out.dtype) {
    case DType::f32: {
      constexpr float inf = std::numeric_limits<float>::infinity();
      return float_binary_run(kernels::BinaryOp::squared_difference, {-inf, inf}, b);
    }
    case DType::i32:
      return int32_binary_run(kernels::BinaryOp::squared_difference, int32_activation(0), b);
    case DType::i8:
    case DType::i16: {
      const TensorQuant q1 = tensor_quant(pc, b.in1);
      const TensorQuant q2 = tensor_quant(pc, b.in2);
      const TensorQuant qo = tensor_quant(pc, b.out);
      const bool is16 = b.out.dtype == DType::i16;
      if (is16) {
        for (const auto* t : {&b.in1, &b.in2, &b.out})
          require_zero_point(pc, *t, tensor_quant(pc, *t), 0, "int16 SQUARED_DIFFERENCE");
      }
      kernels::QuantizedAddParams p;
      p.input1_offset = -q1.zero_point;
      p.input2_offset = -q2.zero_point;
      p.output_offset = qo.zero_point;
      // (255 << 7)^2 and 32767^2 stay below 2^31 after the halving input multipliers.
      p.left_shift = is16 ? 0 : 7;
      const double twice_max = 2.0 * static_cast<double>(std::max(q1.scale, q2.scale));
      p.input1 = multiplier_smaller_than_one(pc, static_cast<double>(q1.scale) / twice_max);
      p.input2 = multiplier_smaller_than_one(pc, static_cast<double>(q2.scale) / twice_max);
      // TFLite Micro: the denominator 2^(2 * left_shift) * s_out is a float product.
      p.output = multiplier(pc, (twice_max * twice_max) /
                                    static_cast<double>(static_cast<float>(1 << (p.left_shift * 2)) *
                                                        qo.scale));
      p.activation_min = dtype_min(b.out.dtype);
      p.activation_max = dtype_max(b.out.dtype);
      return is16 ? squared_difference_run<int16_t>(p, b) : squared_difference_run<int8_t>(p, b);
    }
    default: fail_dtype(pc, b.out, "float32, int32, int8, int16");
  }
}

// FLOOR_DIV, FLOOR_MOD, POW: float32 and int32, no fused activation.
template <kernels::BinaryOp kOp>
RunFn prepare_float_int32_binary(const PrepareContext& pc) {
  const BinaryOperands b = binary_operands(pc);
  switch (b.out.dtype) {
    case DType::f32: {
      constexpr float inf = std::numeric_limits<float>::infinity();
      return float_binary_run(kOp, {-inf, inf}, b);
    }
    case DType::i32: return int32_binary_run(kOp, int32_activation(0), b);
    default: fail_dtype(pc, b.out, "float32, int32");
  }
}

// ---------------------------------------------------------------------------------------
// Activations

RunFn unary_float_run(kernels::UnaryOp op, int64_t size) {
  return [op, size](ExecContext& ec) {
    kernels::unary_float(op, size, ec.input<float>(0), ec.output<float>(0));
  };
}

// RELU (1), RELU_N1_TO_1 (2), RELU6 (3) — the values of ir::Activation.
template <int kActivation>
RunFn prepare_relu(const PrepareContext& pc) {
  const UnaryOperands u = unary_operands(pc);
  if (u.in.dtype == DType::f32) {
    const auto op = kActivation == 1   ? kernels::UnaryOp::relu
                    : kActivation == 2 ? kernels::UnaryOp::relu_n1_to_1
                                       : kernels::UnaryOp::relu6;
    return unary_float_run(op, u.size);
  }
  if (!is_quantized_dtype(u.in.dtype)) fail_dtype(pc, u.in, "float32, int8, uint8, int16");
  const TensorQuant qi = tensor_quant(pc, u.in);
  const TensorQuant qo = tensor_quant(pc, u.out);
  kernels::ReluParams p;
  p.input_zero_point = qi.zero_point;
  p.output_zero_point = qo.zero_point;
  // s_in / s_out: TFLite Micro divides in double, full TFLite (uint8) in float.
  p.output = multiplier(pc, u.in.dtype == DType::u8
                                ? static_cast<double>(qi.scale / qo.scale)
                                : static_cast<double>(qi.scale) / static_cast<double>(qo.scale));
  const kernels::ActivationRange range = quantized_activation(pc, kActivation, u.out, qo);
  p.activation_min = range.min;
  p.activation_max = range.max;
  const int64_t n = u.size;
  switch (u.in.dtype) {
    case DType::i8:
      return [p, n](ExecContext& ec) {
        kernels::relu_quantized(p, n, ec.input<int8_t>(0), ec.output<int8_t>(0));
      };
    case DType::u8:
      return [p, n](ExecContext& ec) {
        kernels::relu_quantized(p, n, ec.input<uint8_t>(0), ec.output<uint8_t>(0));
      };
    default:
      return [p, n](ExecContext& ec) {
        kernels::relu_quantized(p, n, ec.input<int16_t>(0), ec.output<int16_t>(0));
      };
  }
}

RunFn prepare_leaky_relu(const PrepareContext& pc) {
  const UnaryOperands u = unary_operands(pc);
  const auto alpha = static_cast<float>(pc.attrs().get_float("alpha", 0.0));
  const int64_t n = u.size;
  if (u.in.dtype == DType::f32) {
    return [alpha, n](ExecContext& ec) {
      kernels::leaky_relu_float(alpha, n, ec.input<float>(0), ec.output<float>(0));
    };
  }
  if (!is_quantized_dtype(u.in.dtype)) fail_dtype(pc, u.in, "float32, int8, uint8, int16");
  const TensorQuant qi = tensor_quant(pc, u.in);
  const TensorQuant qo = tensor_quant(pc, u.out);
  kernels::LeakyReluParams p;
  p.input_zero_point = qi.zero_point;
  p.output_zero_point = qo.zero_point;
  // Both TFLite and TFLite Micro evaluate these in float; alpha may be negative.
  p.alpha = multiplier(pc, static_cast<double>(qi.scale * alpha / qo.scale));
  p.identity = multiplier(pc, static_cast<double>(qi.scale / qo.scale));
  switch (u.in.dtype) {
    case DType::i8:
      return [p, n](ExecContext& ec) {
        kernels::leaky_relu_quantized(p, n, ec.input<int8_t>(0), ec.output<int8_t>(0));
      };
    case DType::u8:
      return [p, n](ExecContext& ec) {
        kernels::leaky_relu_quantized(p, n, ec.input<uint8_t>(0), ec.output<uint8_t>(0));
      };
    default:
      return [p, n](ExecContext& ec) {
        kernels::leaky_relu_quantized(p, n, ec.input<int16_t>(0), ec.output<int16_t>(0));
      };
  }
}

RunFn prepare_prelu(const PrepareContext& pc) {
  pc.require_arity(2, 2, 1);
  const ir::Tensor& in = pc.input(0);
  const ir::Tensor& alpha = pc.input(1);
  const ir::Tensor& out = pc.output(0);
  pc.require(in.dtype == out.dtype && in.shape == out.shape,
             "input and output must have one dtype and shape; got " + describe(in) + " -> " + describe(out));
  const Shape in_shape = shape_of(pc, in);
  const Shape alpha_shape = shape_of(pc, alpha);
  Shape broadcast;
  pc.require(kernels::broadcast_shape(in_shape, alpha_shape, &broadcast) && broadcast == in_shape,
             "alpha " + describe(alpha) + " does not broadcast to the input shape " + shape_str(in));
  const bool int16_with_int8_alpha = in.dtype == DType::i16 && alpha.dtype == DType::i8;
  pc.require(alpha.dtype == in.dtype || int16_with_int8_alpha,
             "alpha " + describe(alpha) + " must have the input's dtype (or int8 for an int16 input)");
  if (in.dtype == DType::f32) {
    return [in_shape, alpha_shape](ExecContext& ec) {
      kernels::prelu_float(in_shape, ec.input<float>(0), alpha_shape, ec.input<float>(1), in_shape,
                           ec.output<float>(0));
    };
  }
  if (!is_quantized_dtype(in.dtype)) fail_dtype(pc, in, "float32, int8, uint8, int16 (int8 alpha)");
  const TensorQuant qi = tensor_quant(pc, in);
  const TensorQuant qa = tensor_quant(pc, alpha);
  const TensorQuant qo = tensor_quant(pc, out);
  kernels::PreluParams p;
  p.input_offset = -qi.zero_point;
  p.alpha_offset = -qa.zero_point;
  p.output_offset = qo.zero_point;
  if (in.dtype == DType::u8) {  // full TFLite: float arithmetic
    p.identity = multiplier(pc, static_cast<double>(qi.scale / qo.scale));
    p.alpha = multiplier(pc, static_cast<double>(qi.scale * qa.scale / qo.scale));
  } else {  // TFLite Micro: double arithmetic
    p.identity = multiplier(pc, static_cast<double>(qi.scale) / static_cast<double>(qo.scale));
    p.alpha = multiplier(pc, static_cast<double>(qi.scale) * static_cast<double>(qa.scale) /
                                 static_cast<double>(qo.scale));
  }
  auto run = [&](auto input_tag, auto alpha_tag) -> RunFn {
    using T = decltype(input_tag);
    using A = decltype(alpha_tag);
    return [p, in_shape, alpha_shape](ExecContext& ec) {
      kernels::prelu_quantized<T, A>(p, in_shape, ec.input<T>(0), alpha_shape, ec.input<A>(1),
                                     in_shape, ec.output<T>(0));
    };
  };
  switch (in.dtype) {
    case DType::i8: return run(int8_t{}, int8_t{});
    case DType::u8: return run(uint8_t{}, uint8_t{});
    default: return run(int16_t{}, int8_t{});
  }
}

// TFLite's DownScaleInt32ToInt16Multiplier: a Q0.31 multiplier rounded to Q0.15.
int16_t downscale_multiplier_to_int16(int32_t m) {
  constexpr int32_t kRoundingOffset = 1 << 15;
  if (m >= std::numeric_limits<int32_t>::max() - kRoundingOffset) return std::numeric_limits<int16_t>::max();
  return static_cast<int16_t>((m + kRoundingOffset) >> 16);
}

RunFn prepare_hard_swish(const PrepareContext& pc) {
  const UnaryOperands u = unary_operands(pc);
  if (u.in.dtype == DType::f32) return unary_float_run(kernels::UnaryOp::hard_swish, u.size);
  if (u.in.dtype != DType::i8 && u.in.dtype != DType::u8) fail_dtype(pc, u.in, "float32, int8, uint8");
  const TensorQuant qi = tensor_quant(pc, u.in);
  const TensorQuant qo = tensor_quant(pc, u.out);
  kernels::HardSwishParams p;
  p.input_zero_point = qi.zero_point;
  p.output_zero_point = qo.zero_point;
  // All in float, as TFLite: the input on a 128x finer scale, and the scale on which 3.0 is
  // 2^15 for the relu6(x + 3) / 6 factor.
  const float hires_input_scale = (1.0f / 128.0f) * qi.scale;
  const float reluish_scale = 3.0f / 32768.0f;
  const QuantizedMultiplier out_m = multiplier(pc, static_cast<double>(hires_input_scale / qo.scale));
  const QuantizedMultiplier reluish_m =
      multiplier(pc, static_cast<double>(hires_input_scale / reluish_scale));
  pc.require(out_m.shift <= 0 && out_m.shift >= -31,
             "HARD_SWISH needs s_in / (128 * s_out) in [2^-32, 1); got " +
                 std::to_string(hires_input_scale / qo.scale));
  p.output_multiplier = downscale_multiplier_to_int16(out_m.multiplier);
  p.output_exponent = out_m.shift;
  p.reluish_multiplier = downscale_multiplier_to_int16(reluish_m.multiplier);
  p.reluish_exponent = reluish_m.shift;
  pc.require(p.reluish_exponent >= -31 && p.reluish_exponent <= 31,
             "HARD_SWISH input scale " + std::to_string(qi.scale) + " is out of range");
  const int64_t n = u.size;
  if (u.in.dtype == DType::i8) {
    return [p, n](ExecContext& ec) {
      kernels::hard_swish_quantized(p, n, ec.input<int8_t>(0), ec.output<int8_t>(0));
    };
  }
  return [p, n](ExecContext& ec) {
    kernels::hard_swish_quantized(p, n, ec.input<uint8_t>(0), ec.output<uint8_t>(0));
  };
}

// int8 LOGISTIC / TANH input rescaling (TFLite Micro): s_in * 2^27 (Q4.27 input) as a
// frexp significand rounded to Q31 and exponent, and the input radius beyond which the
// result saturates: floor(15 * 2^27 / 2^shift) (CalculateInputRadius(4, shift, 31)).
kernels::Int8TranscendentalParams int8_transcendental_params(const TensorQuant& qi) {
  constexpr int kInputIntegerBits = 4;
  kernels::Int8TranscendentalParams p;
  p.input_zero_point = qi.zero_point;
  int shift = 0;
  const double q = std::frexp(static_cast<double>(qi.scale) * static_cast<double>(1 << (31 - kInputIntegerBits)), &shift);
  // A float scale has 24 significant bits, so q * 2^31 is an integer below 2^31.
  p.input_multiplier = {static_cast<int32_t>(std::round(q * static_cast<double>(int64_t{1} << 31))), shift};
  const double radius =
      std::floor(std::ldexp(static_cast<double>((1 << kInputIntegerBits) - 1) *
                                static_cast<double>(int64_t{1} << (31 - kInputIntegerBits)),
                            -shift));
  p.input_range_radius = radius >= static_cast<double>(std::numeric_limits<int32_t>::max())
                             ? std::numeric_limits<int32_t>::max()
                             : static_cast<int32_t>(radius);
  return p;
}

// TFLite's CheckedLog2: log2 of a float in float arithmetic, rounded; true when the scale
// is a power of two (within 1e-3 in the exponent).
bool checked_log2(float x, int* log2_result) {
  const float x_log2 = std::log(x) * (1.0f / std::log(2.0f));
  const float rounded = std::round(x_log2);
  *log2_result = static_cast<int>(rounded);
  return std::abs(x_log2 - rounded) < 1e-3f;
}

// int16 LOGISTIC / TANH (TFLite Micro): zero points 0, output scale 2^-15; the input is
// brought to the sigmoid table's scale 1/(3 * 4096) by a Q15 multiplier and right shift,
// or by the factor 3 alone when the input scale is 2^-12 (2^-12 or 2^-11 for TANH).
kernels::Int16TranscendentalParams int16_transcendental_params(const PrepareContext& pc,
                                                               const UnaryOperands& u, bool is_tanh) {
  constexpr int kInputIntegerBits = 3;
  constexpr int kOutputFractionalBits = 15;
  const TensorQuant qi = tensor_quant(pc, u.in);
  const TensorQuant qo = tensor_quant(pc, u.out);
  const std::string what = is_tanh ? "int16 TANH" : "int16 LOGISTIC";
  require_zero_point(pc, u.in, qi, 0, what);
  require_zero_point(pc, u.out, qo, 0, what);
  int out_log2 = 0;
  pc.require(checked_log2(qo.scale, &out_log2) && out_log2 == -kOutputFractionalBits,
             "tensor " + describe(u.out) + " has scale " + std::to_string(qo.scale) + "; " + what +
                 " requires 2^-15");
  kernels::Int16TranscendentalParams p;
  int in_log2 = 0;
  bool pot = checked_log2(qi.scale, &in_log2);
  p.input_left_shift = (15 - kInputIntegerBits) + in_log2;
  pot = pot && (p.input_left_shift == 0 || (is_tanh && p.input_left_shift == 1));
  if (pot) {
    p.input_multiplier = 0;
  } else {
    double m = static_cast<double>(qi.scale) * 4096.0 * 3.0;
    p.input_left_shift = 0;
    while (m <= 32767.0 / 2.0 && p.input_left_shift <= 30) {
      ++p.input_left_shift;
      m *= 2.0;
    }
    pc.require(m <= 32767.0, what + ": input scale " + std::to_string(qi.scale) +
                                 " is too large (at most about 2.67 is supported)");
    p.input_multiplier = static_cast<int32_t>(m);
  }
  return p;
}

float logistic_float(float x) { return 1.0f / (1.0f + std::exp(-x)); }
float tanh_float(float x) { return std::tanh(x); }

template <bool kTanh>
RunFn prepare_logistic_tanh(const PrepareContext& pc) {
  const UnaryOperands u = unary_operands(pc);
  const int64_t n = u.size;
  const std::string name = kTanh ? "TANH" : "LOGISTIC";
  switch (u.in.dtype) {
    case DType::f32:
      return unary_float_run(kTanh ? kernels::UnaryOp::tanh : kernels::UnaryOp::logistic, n);
    case DType::i8: {
      const TensorQuant qi = tensor_quant(pc, u.in);
      const TensorQuant qo = tensor_quant(pc, u.out);
      // The kernel produces this output quantization by construction.
      if (kTanh) {
        require_zero_point(pc, u.out, qo, 0, "int8 TANH");
        require_scale(pc, u.out, qo, 1.0f / 128, "1/128", "int8 TANH");
      } else {
        require_zero_point(pc, u.out, qo, -128, "int8 LOGISTIC");
        require_scale(pc, u.out, qo, 1.0f / 256, "1/256", "int8 LOGISTIC");
      }
      const kernels::Int8TranscendentalParams p = int8_transcendental_params(qi);
      return [p, n](ExecContext& ec) {
        (kTanh ? kernels::tanh_int8 : kernels::logistic_int8)(p, n, ec.input<int8_t>(0),
                                                             ec.output<int8_t>(0));
      };
    }
    case DType::u8: {
      // Full TFLite's reference registration evaluates uint8 through a float lookup table.
      const TensorQuant qi = tensor_quant(pc, u.in);
      const TensorQuant qo = tensor_quant(pc, u.out);
      if (!kTanh) require_scale(pc, u.out, qo, 1.0f / 256, "1/256", "uint8 LOGISTIC");
      const std::array<uint8_t, 256> table = kernels::make_lookup_table<uint8_t>(
          qi.scale, qi.zero_point, qo.scale, qo.zero_point, kTanh ? tanh_float : logistic_float);
      return [table, n](ExecContext& ec) {
        kernels::lookup_table(table, n, ec.input<uint8_t>(0), ec.output<uint8_t>(0));
      };
    }
    case DType::i16: {
      const kernels::Int16TranscendentalParams p = int16_transcendental_params(pc, u, kTanh);
      return [p, n](ExecContext& ec) {
        (kTanh ? kernels::tanh_int16 : kernels::logistic_int16)(p, n, ec.input<int16_t>(0),
                                                               ec.output<int16_t>(0));
      };
    }
    default: fail_dtype(pc, u.in, "float32, int8, uint8, int16");
  }
}

// ---------------------------------------------------------------------------------------
// Softmax, log-softmax

struct Rows {
  int64_t outer;
  int32_t depth;
};

// Softmax-family operands: same shape in and out, rank >= 1; rows along the last axis.
Rows softmax_rows(const PrepareContext& pc, const ir::Tensor& in, const ir::Tensor& out) {
  pc.require(in.rank() >= 1, "input " + describe(in) + " must have at least one dimension");
  pc.require(in.shape == out.shape,
             "input and output must have one shape; got " + describe(in) + " -> " + describe(out));
  const int32_t depth = in.shape.back();
  return {depth == 0 ? 0 : in.num_elements() / depth, depth};
}

// TFLite's PreprocessSoftmaxScaling(beta, s_in, 5): beta * s_in * 2^26 (capped at 2^31 - 1)
// as a multiplier > 1, and the cut-off diff_min = -floor(31 * 2^26 / 2^shift) (diffs below
// it would overflow the Q5.26 rescaling; their exp is negligible).
kernels::SoftmaxParams softmax_params(const PrepareContext& pc, double beta, float input_scale) {
  constexpr int kScaledDiffIntegerBits = 5;
  const double real = std::min(beta * static_cast<double>(input_scale) *
                                   static_cast<double>(1 << (31 - kScaledDiffIntegerBits)),
                               static_cast<double>((int64_t{1} << 31) - 1));
  pc.require(real > 1.0, "beta * input scale * 2^26 = " + std::to_string(real) +
                             " must exceed 1 for the quantized softmax (beta " +
                             std::to_string(beta) + ", input scale " + std::to_string(input_scale) + ")");
  const QuantizedMultiplier m = multiplier_greater_than_one(pc, real);
  kernels::SoftmaxParams p;
  p.input_multiplier = m.multiplier;
  p.input_left_shift = m.shift;
  p.diff_min = -static_cast<int32_t>(
      std::floor(std::ldexp(static_cast<double>((1 << kScaledDiffIntegerBits) - 1) *
                                static_cast<double>(int64_t{1} << (31 - kScaledDiffIntegerBits)),
                            -m.shift)));
  return p;
}

RunFn prepare_softmax(const PrepareContext& pc) {
  pc.require_arity(1, 1, 1);
  const ir::Tensor& in = pc.input(0);
  const ir::Tensor& out = pc.output(0);
  const Rows rows = softmax_rows(pc, in, out);
  const auto beta = static_cast<float>(pc.attrs().get_float("beta", 0.0));
  const int64_t outer = rows.outer;
  const int32_t depth = rows.depth;
  const std::string pair = std::string(ir::dtype_name(in.dtype)) + " -> " + ir::dtype_name(out.dtype);

  if (in.dtype == DType::f32 && out.dtype == DType::f32) {
    return [beta, outer, depth](ExecContext& ec) {
      kernels::softmax_float(beta, outer, depth, ec.input<float>(0), ec.output<float>(0));
    };
  }
  const bool supported = (in.dtype == DType::i8 && (out.dtype == DType::i8 || out.dtype == DType::i16)) ||
                         (in.dtype == DType::u8 && out.dtype == DType::u8) ||
                         (in.dtype == DType::i16 && out.dtype == DType::i16);
  pc.require(supported, "dtypes " + pair +
                            " are not supported (supported: float32 -> float32, int8 -> int8, "
                            "int8 -> int16, uint8 -> uint8, int16 -> int16)");
  const TensorQuant qi = tensor_quant(pc, in);
  const TensorQuant qo = tensor_quant(pc, out);
  const std::string what = "SOFTMAX " + pair;

  if (in.dtype == DType::i16) {
    require_zero_point(pc, out, qo, 0, what);
    require_scale_near(pc, out, qo, 1.0f / 32768, "1/32768", what);
    kernels::SoftmaxInt16Params p;
    // Diffs scaled so that [-65535, 0] covers [-10, 0], the exp table's input range.
    p.input_multiplier = multiplier(pc, static_cast<double>(qi.scale) * static_cast<double>(beta) /
                                            (10.0 / 65535.0));
    kernels::make_softmax_int16_tables(&p);
    return [p, outer, depth](ExecContext& ec) {
      kernels::softmax_int16(p, outer, depth, ec.input<int16_t>(0), ec.output<int16_t>(0));
    };
  }

  const kernels::SoftmaxParams p = softmax_params(pc, static_cast<double>(beta), qi.scale);
  if (in.dtype == DType::u8) {  // full TFLite: zero point 0, scale within 0.1% of 1/256
    require_zero_point(pc, out, qo, 0, what);
    require_scale_near(pc, out, qo, 1.0f / 256, "1/256", what);
    return [p, outer, depth](ExecContext& ec) {
      kernels::softmax_quantized(p, outer, depth, ec.input<uint8_t>(0), ec.output<uint8_t>(0));
    };
  }
  if (out.dtype == DType::i16) {
    require_zero_point(pc, out, qo, -32768, what);
    require_scale_near(pc, out, qo, 1.0f / 65536, "1/65536", what);
    return [p, outer, depth](ExecContext& ec) {
      kernels::softmax_quantized(p, outer, depth, ec.input<int8_t>(0), ec.output<int16_t>(0));
    };
  }
  require_zero_point(pc, out, qo, -128, what);  // TFLite Micro: exactly 1/256
  require_scale(pc, out, qo, 1.0f / 256, "1/256", what);
  return [p, outer, depth](ExecContext& ec) {
    kernels::softmax_quantized(p, outer, depth, ec.input<int8_t>(0), ec.output<int8_t>(0));
  };
}

}  // namespace

kernels::SoftmaxParams softmax_quant_params(const PrepareContext& pc) {
  prepare_softmax(pc);  // the CPU binding's checks; throws naming the operator
  const ir::Tensor& in = pc.input(0);
  const ir::Tensor& out = pc.output(0);
  pc.require((in.dtype == DType::i8 || in.dtype == DType::u8) && out.dtype == in.dtype,
             "only int8 -> int8 and uint8 -> uint8 softmax have 8-bit parameters");
  return softmax_params(pc, pc.attrs().get_float("beta", 0.0), tensor_quant(pc, in).scale);
}

namespace {

RunFn prepare_log_softmax(const PrepareContext& pc) {
  const UnaryOperands u = unary_operands(pc);
  const Rows rows = softmax_rows(pc, u.in, u.out);
  const int64_t outer = rows.outer;
  const int32_t depth = rows.depth;
  if (u.in.dtype == DType::f32) {
    return [outer, depth](ExecContext& ec) {
      kernels::log_softmax_float(outer, depth, ec.input<float>(0), ec.output<float>(0));
    };
  }
  if (u.in.dtype != DType::i8 && u.in.dtype != DType::u8) fail_dtype(pc, u.in, "float32, int8, uint8");
  const TensorQuant qi = tensor_quant(pc, u.in);
  const TensorQuant qo = tensor_quant(pc, u.out);
  const bool is_u8 = u.in.dtype == DType::u8;
  const std::string what = is_u8 ? "uint8 LOG_SOFTMAX" : "int8 LOG_SOFTMAX";
  require_scale(pc, u.out, qo, 16.0f / 256, "16/256", what);
  require_zero_point(pc, u.out, qo, is_u8 ? 255 : 127, what);
  // TFLite's PreprocessLogSoftmaxScalingExp with beta 1: the softmax scaling plus its
  // inverse 2^(31 - shift) / multiplier (< 1), used to bound the diffs that stay in range.
  const kernels::SoftmaxParams sp = softmax_params(pc, 1.0, qi.scale);
  kernels::LogSoftmaxParams p;
  p.input_multiplier = sp.input_multiplier;
  p.input_left_shift = sp.input_left_shift;
  p.diff_min = sp.diff_min;
  p.reverse_scaling = multiplier_smaller_than_one(
      pc, static_cast<double>(int64_t{1} << (31 - sp.input_left_shift)) /
              static_cast<double>(sp.input_multiplier));
  if (is_u8) {
    return [p, outer, depth](ExecContext& ec) {
      kernels::log_softmax_quantized(p, outer, depth, ec.input<uint8_t>(0), ec.output<uint8_t>(0));
    };
  }
  return [p, outer, depth](ExecContext& ec) {
    kernels::log_softmax_quantized(p, outer, depth, ec.input<int8_t>(0), ec.output<int8_t>(0));
  };
}

// ---------------------------------------------------------------------------------------
// Unary math

// Float-only unary operators.
template <kernels::UnaryOp kOp>
RunFn prepare_unary_float(const PrepareContext& pc) {
  const UnaryOperands u = unary_operands(pc);
  if (u.in.dtype != DType::f32) fail_dtype(pc, u.in, "float32");
  return unary_float_run(kOp, u.size);
}

RunFn prepare_neg(const PrepareContext& pc) {
  const UnaryOperands u = unary_operands(pc);
  const int64_t n = u.size;
  if (u.in.dtype == DType::f32) return unary_float_run(kernels::UnaryOp::neg, n);
  if (u.in.dtype != DType::i32) fail_dtype(pc, u.in, "float32, int32");
  return [n](ExecContext& ec) { kernels::neg_int32(n, ec.input<int32_t>(0), ec.output<int32_t>(0)); };
}

RunFn prepare_abs(const PrepareContext& pc) {
  const UnaryOperands u = unary_operands(pc);
  const int64_t n = u.size;
  if (u.in.dtype == DType::f32) return unary_float_run(kernels::UnaryOp::abs, n);
  if (u.in.dtype != DType::i8 && u.in.dtype != DType::i16) fail_dtype(pc, u.in, "float32, int8, int16");
  const TensorQuant qi = tensor_quant(pc, u.in);
  const TensorQuant qo = tensor_quant(pc, u.out);
  if (u.in.dtype == DType::i16) {
    require_zero_point(pc, u.in, qi, 0, "int16 ABS");
    require_zero_point(pc, u.out, qo, 0, "int16 ABS");
  }
  kernels::AbsParams p;
  p.input_zero_point = qi.zero_point;
  p.output_zero_point = qo.zero_point;
  p.rescale = qi.scale != qo.scale;
  if (p.rescale) p.output = multiplier(pc, static_cast<double>(qi.scale) / static_cast<double>(qo.scale));
  if (u.in.dtype == DType::i8) {
    return [p, n](ExecContext& ec) {
      kernels::abs_quantized(p, n, ec.input<int8_t>(0), ec.output<int8_t>(0));
    };
  }
  return [p, n](ExecContext& ec) {
    kernels::abs_quantized(p, n, ec.input<int16_t>(0), ec.output<int16_t>(0));
  };
}

RunFn prepare_rsqrt(const PrepareContext& pc) {
  const UnaryOperands u = unary_operands(pc);
  const int64_t n = u.size;
  if (u.in.dtype == DType::f32) return unary_float_run(kernels::UnaryOp::rsqrt, n);
  if (u.in.dtype != DType::i8) fail_dtype(pc, u.in, "float32, int8");
  const TensorQuant qi = tensor_quant(pc, u.in);
  const TensorQuant qo = tensor_quant(pc, u.out);
  kernels::RsqrtParams p;
  p.input_zero_point = qi.zero_point;
  p.output_zero_point = qo.zero_point;
  p.output = multiplier(pc, 1.0 / (std::sqrt(static_cast<double>(qi.scale)) *
                                   static_cast<double>(qo.scale)));
  return [p, n](ExecContext& ec) { kernels::rsqrt_int8(p, n, ec.input<int8_t>(0), ec.output<int8_t>(0)); };
}

}  // namespace

kernels::QuantizedAddParams add_sub_quant_params(const PrepareContext& pc) {
  const bool subtract = pc.op().type == ir::OpType::SUB;
  pc.require(subtract || pc.op().type == ir::OpType::ADD, "not an ADD or SUB");
  const BinaryOperands b = binary_operands(pc);
  pc.require(b.out.dtype == DType::i8 || b.out.dtype == DType::u8 || b.out.dtype == DType::i16,
             "ADD/SUB requantization parameters exist for int8, uint8 and int16 only");
  // As prepare_add_sub: int8/int16 SUB divides in float (TFLite Micro), uint8 in double.
  const bool float_divisions = subtract && b.out.dtype != DType::u8;
  return add_sub_params(pc, b, fused_activation(pc), float_divisions);
}

kernels::QuantizedMulParams mul_quant_params(const PrepareContext& pc) {
  pc.require(pc.op().type == ir::OpType::MUL, "not a MUL");
  const BinaryOperands b = binary_operands(pc);
  pc.require(b.out.dtype == DType::i8 || b.out.dtype == DType::u8 || b.out.dtype == DType::i16,
             "MUL requantization parameters exist for int8, uint8 and int16 only");
  return quantized_mul_params(pc, b, fused_activation(pc));
}

void register_ref_elementwise_ops(OpRegistry& r) {
  using ir::OpType;
  using kernels::BinaryOp;
  using kernels::UnaryOp;
  // Binary arithmetic
  r.add(OpType::ADD, prepare_add_sub<false>);
  r.add(OpType::SUB, prepare_add_sub<true>);
  r.add(OpType::MUL, prepare_mul);
  r.add(OpType::DIV, prepare_div);
  r.add(OpType::MAXIMUM, prepare_maximum_minimum<true>);
  r.add(OpType::MINIMUM, prepare_maximum_minimum<false>);
  r.add(OpType::SQUARED_DIFFERENCE, prepare_squared_difference);
  r.add(OpType::FLOOR_DIV, prepare_float_int32_binary<BinaryOp::floor_div>);
  r.add(OpType::FLOOR_MOD, prepare_float_int32_binary<BinaryOp::floor_mod>);
  r.add(OpType::POW, prepare_float_int32_binary<BinaryOp::pow>);
  // Activations
  r.add(OpType::RELU, prepare_relu<1>);
  r.add(OpType::RELU_N1_TO_1, prepare_relu<2>);
  r.add(OpType::RELU6, prepare_relu<3>);
  r.add(OpType::LEAKY_RELU, prepare_leaky_relu);
  r.add(OpType::PRELU, prepare_prelu);
  r.add(OpType::LOGISTIC, prepare_logistic_tanh<false>);
  r.add(OpType::TANH, prepare_logistic_tanh<true>);
  r.add(OpType::HARD_SWISH, prepare_hard_swish);
  r.add(OpType::SOFTMAX, prepare_softmax);
  r.add(OpType::LOG_SOFTMAX, prepare_log_softmax);
  // Unary math
  r.add(OpType::ABS, prepare_abs);
  r.add(OpType::NEG, prepare_neg);
  r.add(OpType::RSQRT, prepare_rsqrt);
  r.add(OpType::EXP, prepare_unary_float<UnaryOp::exp>);
  r.add(OpType::LOG, prepare_unary_float<UnaryOp::log>);
  r.add(OpType::SQRT, prepare_unary_float<UnaryOp::sqrt>);
  r.add(OpType::SQUARE, prepare_unary_float<UnaryOp::square>);
  r.add(OpType::FLOOR, prepare_unary_float<UnaryOp::floor>);
  r.add(OpType::CEIL, prepare_unary_float<UnaryOp::ceil>);
  r.add(OpType::ROUND, prepare_unary_float<UnaryOp::round>);
  r.add(OpType::SIN, prepare_unary_float<UnaryOp::sin>);
  r.add(OpType::COS, prepare_unary_float<UnaryOp::cos>);
  r.add(OpType::ELU, prepare_unary_float<UnaryOp::elu>);
}

}  // namespace tessel::cpu
