#pragma once
// Reference kernels of the elementwise group: binary arithmetic with broadcasting,
// activations, softmax / log-softmax, and unary float math.
//
// Contract:
// - Integer kernels reproduce TFLite's reference integer arithmetic bit for bit (TFLite
//   Micro's kernels for int8/int16, full TFLite's reference kernels for uint8), with the
//   default double rounding of quant.hpp. The bindings (cpu/ops/elementwise_ops.cpp)
//   derive every parameter as TFLite's Prepare does; the kernels only apply them.
// - Float kernels evaluate the same float expressions as TFLite's reference kernels, in
//   the same order (the library is built without FP contraction).
// - Shapes are checked by the bindings; kernels assume them consistent. Binary kernels
//   take the two input shapes and the output shape and broadcast numpy-style (see
//   broadcast_shape); unary kernels take an element count.
// - Nothing here fails at run time. Where TFLite's kernel would abort or error on a value
//   (a zero divisor, a negative RSQRT input, a negative integer exponent), the kernel
//   returns the value documented next to it instead.

#include <array>
#include <cstdint>

#include "tessel/kernels/quant.hpp"
#include "tessel/kernels/shape.hpp"

namespace tessel::kernels {

// ---------------------------------------------------------------------------------------
// Broadcasting

// The broadcast of two shapes by TFLite's (numpy's) rule: align the trailing dimensions;
// each pair must be equal or contain a 1; the missing leading dimensions count as 1.
// Returns false when they do not broadcast; otherwise *out is the broadcast shape (rank =
// the larger rank).
bool broadcast_shape(const Shape& a, const Shape& b, Shape* out);

// ---------------------------------------------------------------------------------------
// Binary arithmetic: float and int32 (no requantization)

enum class BinaryOp {
  add,
  sub,
  mul,
  div,                 // float: a / b (IEEE); int32: truncating, see below
  maximum,             // a > b ? a : b  (a NaN `a` yields b, as TFLite)
  minimum,             // a < b ? a : b
  squared_difference,  // (a - b)^2
  floor_div,           // floor(double(a) / double(b)); int32 x / 0: see below
  floor_mod,           // a - floor(a / b) * b via the truncated remainder, TFLite's FloorMod
  pow,                 // float: std::pow; int32: repeated squaring, see below
};

// out = clamp(op(a, b), activation_min, activation_max) with broadcasting.
// Integer arithmetic wraps around (two's complement) instead of being undefined.
// int32 results where TFLite's kernel errors or is undefined: div and floor_div by 0 give
// INT32_MAX / INT32_MIN / 0 by the sign of the dividend (the clamped limit of floor(a/0));
// INT32_MIN / -1 wraps to INT32_MIN; floor_mod by 0 gives 0; pow with a negative exponent
// gives the truncated real result (1 for base 1, +-1 for base -1, 0 otherwise).
void binary_float(BinaryOp op, float activation_min, float activation_max, const Shape& shape1,
                  const float* input1, const Shape& shape2, const float* input2,
                  const Shape& output_shape, float* output);
void binary_int32(BinaryOp op, int32_t activation_min, int32_t activation_max,
                  const Shape& shape1, const int32_t* input1, const Shape& shape2,
                  const int32_t* input2, const Shape& output_shape, int32_t* output);

// MAXIMUM / MINIMUM on quantized (or plain) integers that share one quantization: the raw
// values are compared directly. T is int8_t, uint8_t or int16_t.
template <typename T>
void maximum_minimum(bool is_maximum, const Shape& shape1, const T* input1, const Shape& shape2,
                     const T* input2, const Shape& output_shape, T* output);

// ---------------------------------------------------------------------------------------
// Binary arithmetic: quantized

// TFLite's ADD / SUB rescaling: both inputs are shifted left by left_shift (20 for 8-bit,
// 15 for 16-bit), scaled by multipliers < 1 onto the common scale 2*max(s1, s2) / 2^left_shift,
// added (subtracted), and the sum is scaled to the output scale:
//   x_i  = (q_i + input_offset_i) << left_shift                  |x_i| <= 2^28 (8-bit),
//                                                                         65535 * 2^15 (16-bit)
//   y_i  = MBQM_smaller_than_one(x_i, input_i)                   |y_i| <= |x_i| / 2
//   out  = clamp(MBQM_smaller_than_one(y_1 +- y_2, output) + output_offset)
// The sum fits in int32 because each |y_i| < 2^30.
// SQUARED_DIFFERENCE reuses the same parameters with left_shift 7 (int8) / 0 (int16) and
// squares y_1 - y_2 before the output multiplier, which may then exceed 1 (applied with the
// general multiply_by_quantized_multiplier): |y_1 - y_2| <= 2^15, so the square fits.
struct QuantizedAddParams {
  int32_t input1_offset = 0;  // -zero_point
  int32_t input2_offset = 0;
  int32_t output_offset = 0;  // +zero_point
  int left_shift = 0;
  QuantizedMultiplier input1;  // shift <= 0
  QuantizedMultiplier input2;  // shift <= 0
  QuantizedMultiplier output;  // shift <= 0 except for SQUARED_DIFFERENCE
  int32_t activation_min = 0;
  int32_t activation_max = 0;
};

// T is int8_t, uint8_t or int16_t.
template <typename T>
void add_quantized(const QuantizedAddParams& params, const Shape& shape1, const T* input1,
                   const Shape& shape2, const T* input2, const Shape& output_shape, T* output);
template <typename T>
void sub_quantized(const QuantizedAddParams& params, const Shape& shape1, const T* input1,
                   const Shape& shape2, const T* input2, const Shape& output_shape, T* output);
// T is int8_t or int16_t.
template <typename T>
void squared_difference_quantized(const QuantizedAddParams& params, const Shape& shape1,
                                  const T* input1, const Shape& shape2, const T* input2,
                                  const Shape& output_shape, T* output);

// TFLite's quantized MUL: out = clamp(MBQM((q1 + off1) * (q2 + off2), output) + off_out).
// The product fits in int32: |q + off| <= 255 for 8-bit and int16 has zero offsets.
// DIV (8-bit): q1' / q2' through GetReciprocal of the divisor and a normalising shift of the
// dividend, then the output multiplier (TFLite's DivElementwise). A zero divisor (q2 equal
// to its zero point) gives activation_max, activation_min or the output zero point (clamped)
// by the sign of the dividend; TFLite leaves it undefined.
struct QuantizedMulParams {
  int32_t input1_offset = 0;  // -zero_point
  int32_t input2_offset = 0;
  int32_t output_offset = 0;
  QuantizedMultiplier output;
  int32_t activation_min = 0;
  int32_t activation_max = 0;
};
// T is int8_t, uint8_t or int16_t.
template <typename T>
void mul_quantized(const QuantizedMulParams& params, const Shape& shape1, const T* input1,
                   const Shape& shape2, const T* input2, const Shape& output_shape, T* output);
// T is int8_t or uint8_t.
template <typename T>
void div_quantized(const QuantizedMulParams& params, const Shape& shape1, const T* input1,
                   const Shape& shape2, const T* input2, const Shape& output_shape, T* output);

// ---------------------------------------------------------------------------------------
// Activations: quantized

// RELU / RELU6 / RELU_N1_TO_1 (TFLite's ReluX): requantize to the output scale, then clamp
// to the activation's quantized range. With equal input/output quantization the multiplier
// is exactly 1 (2^30 with shift 1), so this is a plain clamp.
struct ReluParams {
  int32_t input_zero_point = 0;
  int32_t output_zero_point = 0;
  QuantizedMultiplier output;  // s_in / s_out
  int32_t activation_min = 0;
  int32_t activation_max = 0;
};
// T is int8_t, uint8_t or int16_t.
template <typename T>
void relu_quantized(const ReluParams& params, int64_t size, const T* input, T* output);

// LEAKY_RELU: x >= 0 scaled by s_in / s_out ("identity"), x < 0 by alpha * s_in / s_out
// (the alpha multiplier may be negative).
struct LeakyReluParams {
  int32_t input_zero_point = 0;
  int32_t output_zero_point = 0;
  QuantizedMultiplier identity;
  QuantizedMultiplier alpha;
};
// T is int8_t, uint8_t or int16_t.
template <typename T>
void leaky_relu_quantized(const LeakyReluParams& params, int64_t size, const T* input,
                          T* output);
void leaky_relu_float(float alpha, int64_t size, const float* input, float* output);

// PRELU: alpha broadcasts against the input; the output has the input's shape.
// x' = q + input_offset >= 0: MBQM(x', identity); else MBQM(x' * (a + alpha_offset), alpha).
struct PreluParams {
  int32_t input_offset = 0;  // -zero_point
  int32_t alpha_offset = 0;  // -zero_point of alpha
  int32_t output_offset = 0;
  QuantizedMultiplier identity;  // s_in / s_out
  QuantizedMultiplier alpha;     // s_in * s_alpha / s_out
};
// (T, A) is (int8_t, int8_t), (uint8_t, uint8_t) or (int16_t, int8_t).
template <typename T, typename A>
void prelu_quantized(const PreluParams& params, const Shape& input_shape, const T* input,
                     const Shape& alpha_shape, const A* alpha, const Shape& output_shape,
                     T* output);
void prelu_float(const Shape& input_shape, const float* input, const Shape& alpha_shape,
                 const float* alpha, const Shape& output_shape, float* output);

// HARD_SWISH (TFLite's reference_ops::HardSwish): x * relu6(x + 3) / 6 in 16-bit fixed
// point. The input is moved to a "hi-res" scale s_in / 128; the "relu-ish" factor
// relu6(x + 3) / 6 is computed on the scale where 3.0 is 2^15, mapped to [0, 1) and
// multiplied with the input on the output scale. Multipliers are Q15.
struct HardSwishParams {
  int32_t input_zero_point = 0;
  int32_t output_zero_point = 0;
  int16_t reluish_multiplier = 0;  // Q0.15 significand of (s_in / 128) / (3 / 32768)
  int reluish_exponent = 0;        // its power of two (any sign)
  int16_t output_multiplier = 0;   // Q0.15 significand of (s_in / 128) / s_out
  int output_exponent = 0;         // <= 0
};
// T is int8_t or uint8_t.
template <typename T>
void hard_swish_quantized(const HardSwishParams& params, int64_t size, const T* input,
                          T* output);

// LOGISTIC / TANH for int8 (TFLite's reference_integer_ops): the input offset by its zero
// point is rescaled to Q4.27 by input_multiplier, passed through gemmlowp's logistic/tanh,
// and rounded to the fixed output scale (1/256 with zero point -128 for logistic, 1/128
// with zero point 0 for tanh). Inputs beyond +-input_range_radius saturate directly.
struct Int8TranscendentalParams {
  int32_t input_zero_point = 0;
  int32_t input_range_radius = 0;
  QuantizedMultiplier input_multiplier;  // s_in * 2^27, applied with the general MBQM
};
void logistic_int8(const Int8TranscendentalParams& params, int64_t size, const int8_t* input,
                   int8_t* output);
void tanh_int8(const Int8TranscendentalParams& params, int64_t size, const int8_t* input,
               int8_t* output);

// LOGISTIC / TANH for int16 (TFLite Micro's reference_integer_ops): the input is scaled by
// input_multiplier / 2^input_left_shift (rounding half up) to the table's scale and looked
// up with linear interpolation in TFLite's 256-entry sigmoid table (tanh(x) =
// 2 * sigmoid(2x) - 1). Output scale 2^-15, zero points 0.
// input_multiplier == 0 means "power-of-two input scale": multiplier 3 << input_left_shift.
struct Int16TranscendentalParams {
  int32_t input_multiplier = 0;
  int input_left_shift = 0;
};
void logistic_int16(const Int16TranscendentalParams& params, int64_t size,
                    const int16_t* input, int16_t* output);
void tanh_int16(const Int16TranscendentalParams& params, int64_t size, const int16_t* input,
                int16_t* output);

// A 256-entry table for an 8-bit activation, built the way TFLite's PopulateLookupTable
// does (dequantize, transform in float, round(y / s_out) + zp, clamp), indexed by the
// input byte (int8 values cast to uint8). Used for uint8 LOGISTIC / TANH, which full
// TFLite's reference registration evaluates through this table.
template <typename T>
std::array<uint8_t, 256> make_lookup_table(float input_scale, int32_t input_zero_point,
                                           float output_scale, int32_t output_zero_point,
                                           float (*transform)(float));
template <typename T>
void lookup_table(const std::array<uint8_t, 256>& table, int64_t size, const T* input,
                  T* output);

// ---------------------------------------------------------------------------------------
// Softmax and log-softmax (over the last dimension: `outer` rows of `depth` values)

// TFLite's quantized Softmax<InputT, OutputT>: per row, diffs to the row maximum that are
// >= diff_min are rescaled to Q5.26 by the (beta * s_in) multiplier, exponentiated in
// fixed point and summed in Q12.19; the reciprocal of the sum times each exponential,
// rounded to 2^-(bits of OutputT), is offset by OutputT's minimum. Other diffs give the
// minimum. (In, Out) is (int8_t, int8_t), (uint8_t, uint8_t) or (int8_t, int16_t).
struct SoftmaxParams {
  int32_t input_multiplier = 0;  // beta * s_in * 2^26, as a multiplier > 1
  int input_left_shift = 0;      // >= 0
  int32_t diff_min = 0;          // -CalculateInputRadius(5, input_left_shift)
};
template <typename In, typename Out>
void softmax_quantized(const SoftmaxParams& params, int64_t outer, int32_t depth,
                       const In* input, Out* output);

// int16 -> int16 softmax (TFLite's SoftmaxInt16): exp and 1/(1+x) come from 513-entry
// interpolated tables over [-10, 0] and [0, 1]. Output scale 2^-15, zero point 0.
struct SoftmaxInt16Params {
  QuantizedMultiplier input_multiplier;  // s_in * beta / (10 / 65535)
  std::array<int16_t, 513> exp_table{};
  std::array<int16_t, 513> one_over_one_plus_x_table{};
};
// The two tables, generated as TFLite's gen_lut does (in float, with its midpoint bias
// correction).
void make_softmax_int16_tables(SoftmaxInt16Params* params);
void softmax_int16(const SoftmaxInt16Params& params, int64_t outer, int32_t depth,
                   const int16_t* input, int16_t* output);

void softmax_float(float beta, int64_t outer, int32_t depth, const float* input, float* output);

// TFLite's quantized LogSoftmax (beta = 1): the same Q5.26 exponentials summed in Q12.19,
// log of the sum in Q5.26, out = (diff_q5 - log_sum) rounded to the output scale 16/256
// plus T's maximum (the output zero point: 127 for int8, 255 for uint8). Diffs below an
// adjusted minimum give T's minimum. T is int8_t or uint8_t.
struct LogSoftmaxParams {
  int32_t input_multiplier = 0;  // s_in * 2^26, as a multiplier > 1
  int input_left_shift = 0;      // >= 0
  QuantizedMultiplier reverse_scaling;  // 2^(31 - input_left_shift) / input_multiplier, shift <= 0
  int32_t diff_min = 0;
};
template <typename T>
void log_softmax_quantized(const LogSoftmaxParams& params, int64_t outer, int32_t depth,
                           const T* input, T* output);
void log_softmax_float(int64_t outer, int32_t depth, const float* input, float* output);

// ---------------------------------------------------------------------------------------
// Unary float math (TFLite's float expressions)

enum class UnaryOp {
  abs,
  ceil,
  cos,
  elu,         // x < 0 ? expm1(x) : x
  exp,
  floor,
  hard_swish,  // x * min(6, max(0, x + 3)) / 6
  log,
  logistic,    // 1 / (1 + exp(-x)), with TFLite's cut-offs at -9 and 16.619047
  neg,
  relu,
  relu6,
  relu_n1_to_1,
  round,       // half to even
  rsqrt,       // 1 / sqrt(x)
  sin,
  sqrt,
  square,
  tanh,
};
void unary_float(UnaryOp op, int64_t size, const float* input, float* output);
// NEG on int32 (wraps around for INT32_MIN, as two's-complement negation does).
void neg_int32(int64_t size, const int32_t* input, int32_t* output);

// Quantized ABS (TFLite Micro): |q - zp_in| requantized by s_in / s_out when the scales
// differ, plus zp_out, clamped. T is int8_t or int16_t.
struct AbsParams {
  int32_t input_zero_point = 0;
  int32_t output_zero_point = 0;
  bool rescale = false;        // scales differ
  QuantizedMultiplier output;  // s_in / s_out when rescale
};
template <typename T>
void abs_quantized(const AbsParams& params, int64_t size, const T* input, T* output);

// Quantized RSQRT for int8 (TFLite Micro): 1/sqrt(q - zp_in) from
// fixed_point::inv_sqrt_quantized_multiplier, scaled by 1 / (sqrt(s_in) * s_out). An input
// equal to the zero point gives 127. An input below the zero point (a negative real value)
// gives -128; TFLite Micro fails the invoke there.
struct RsqrtParams {
  int32_t input_zero_point = 0;
  int32_t output_zero_point = 0;
  QuantizedMultiplier output;  // 1 / (sqrt(s_in) * s_out)
};
void rsqrt_int8(const RsqrtParams& params, int64_t size, const int8_t* input, int8_t* output);

}  // namespace tessel::kernels
