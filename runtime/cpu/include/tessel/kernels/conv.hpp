#pragma once
// Reference kernels of the conv group: CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV,
// FULLY_CONNECTED, BATCH_MATMUL, AVERAGE_POOL_2D and MAX_POOL_2D.
//
// Contract:
// - Results are bit-exact with TFLite's reference kernels (reference_ops /
//   reference_integer_ops, default double rounding): a quantized output is
//     clamp(zp_out + MultiplyByQuantizedMultiplier(bias[c] + sum (x - zx)(w - zw), M[c], e[c]),
//           act_min, act_max)
//   where the sum runs over the taps inside the input (padding contributes nothing).
//   Integer sums are order-independent, so the kernels may gather and sum in whatever
//   order is cache-friendly. Float kernels keep TFLite's summation order per output
//   element (and its bias-after-sum), so float results are bit-exact too.
// - Layouts are TFLite's: activations NHWC; CONV_2D and TRANSPOSE_CONV filters OHWI
//   (O = output channels, I = filter input channels); DEPTHWISE_CONV_2D filters
//   [1, H, W, I*M]; FULLY_CONNECTED weights [units, depth].
// - Kernels do not validate: shapes, offsets and parameters must have been checked by the
//   caller (the IR bindings in runtime/cpu/ops/conv_ops.cpp do it at prepare time):
//   int16 activations have zero offsets, int8 weights have a zero weight offset, the
//   output shape is the one TFLite computes, every RequantParams vector has one entry per
//   output channel.
// - Accumulator bounds: 8-bit products (x - zx)(w - zw) are at most 255 * 255 = 65025 in
//   magnitude, so an int32 sum of up to 33025 taps cannot overflow (TFLite makes the
//   same assumption); 16x8 products are at most 32768 * 128 = 2^22 and are summed in
//   int64 as TFLite does.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tessel/kernels/quant.hpp"
#include "tessel/kernels/shape.hpp"

namespace tessel::kernels {

// Per-output-channel requantization of an accumulator, shared by every kernel of this
// group that requantizes (and by the fast path and the NPU model that must reproduce it).
// Built once at prepare time (tessel/cpu/conv_params.hpp derives it as TFLite does).
struct RequantParams {
  std::vector<int32_t> multiplier;  // per output channel: Q31 significand (0 = multiply by 0)
  std::vector<int32_t> shift;       // per output channel: exponent, > 0 is a left shift
  int32_t output_offset = 0;        // the output zero point
  int32_t act_min = 0;              // fused activation clamp, already intersected with
  int32_t act_max = 0;              // the output type's range
};

// TFLite's requantization step for an int32 accumulator (8-bit activations).
inline int32_t requantize(int32_t acc, const RequantParams& rq, size_t channel) {
  const int32_t scaled =
      multiply_by_quantized_multiplier(acc, rq.multiplier[channel], rq.shift[channel]);
  return clamp_i32(scaled + rq.output_offset, rq.act_min, rq.act_max);
}

// The same for an int64 accumulator (16x8: int16 activations, int8 weights, int64 bias),
// with TFLite's 64-bit MultiplyByQuantizedMultiplier (Q15 multiplier, one rounding).
// Requires shift <= 7, which the binding checks.
inline int32_t requantize(int64_t acc, const RequantParams& rq, size_t channel) {
  const int32_t scaled =
      multiply_by_quantized_multiplier(acc, rq.multiplier[channel], rq.shift[channel]);
  return clamp_i32(scaled + rq.output_offset, rq.act_min, rq.act_max);
}

// Geometry and zero points of a 2-D convolution (also depthwise and transpose).
struct ConvParams {
  int stride_h = 1;
  int stride_w = 1;
  int dilation_h = 1;  // TRANSPOSE_CONV has no dilation: must be 1 there
  int dilation_w = 1;
  // TFLite's padding values: the rows/columns of implicit padding before the first input
  // row/column. The padding after the last one follows from the output size.
  int pad_top = 0;
  int pad_left = 0;
  int32_t input_offset = 0;   // -(input zero point); 0 for int16
  int32_t weight_offset = 0;  // -(weight zero point); non-zero only for uint8 weights
};

// ---------------------------------------------------------------------------------------
// CONV_2D. input [N, H, W, Cin], filter [Cout, KH, KW, Cin / groups], bias [Cout] or null,
// output [N, OH, OW, Cout]. Grouped when Cin is a multiple (groups) of the filter's input
// depth: output channel c reads input channels of group c / (Cout / groups).
void conv_2d(const ConvParams& p, const RequantParams& rq, const Shape& input_shape,
             const int8_t* input, const Shape& filter_shape, const int8_t* filter,
             const int32_t* bias, const Shape& output_shape, int8_t* output);
void conv_2d(const ConvParams& p, const RequantParams& rq, const Shape& input_shape,
             const uint8_t* input, const Shape& filter_shape, const uint8_t* filter,
             const int32_t* bias, const Shape& output_shape, uint8_t* output);
void conv_2d(const ConvParams& p, const RequantParams& rq, const Shape& input_shape,
             const int16_t* input, const Shape& filter_shape, const int8_t* filter,
             const int64_t* bias, const Shape& output_shape, int16_t* output);
void conv_2d(const ConvParams& p, ActivationRangeF act, const Shape& input_shape,
             const float* input, const Shape& filter_shape, const float* filter, const float* bias,
             const Shape& output_shape, float* output);

// DEPTHWISE_CONV_2D. input [N, H, W, Cin], filter [1, KH, KW, Cin * M], bias [Cin * M] or
// null, output [N, OH, OW, Cin * M]: output channel ic * M + m reads input channel ic.
void depthwise_conv_2d(const ConvParams& p, const RequantParams& rq, const Shape& input_shape,
                       const int8_t* input, const Shape& filter_shape, const int8_t* filter,
                       const int32_t* bias, const Shape& output_shape, int8_t* output);
void depthwise_conv_2d(const ConvParams& p, const RequantParams& rq, const Shape& input_shape,
                       const uint8_t* input, const Shape& filter_shape, const uint8_t* filter,
                       const int32_t* bias, const Shape& output_shape, uint8_t* output);
void depthwise_conv_2d(const ConvParams& p, const RequantParams& rq, const Shape& input_shape,
                       const int16_t* input, const Shape& filter_shape, const int8_t* filter,
                       const int64_t* bias, const Shape& output_shape, int16_t* output);
void depthwise_conv_2d(const ConvParams& p, ActivationRangeF act, const Shape& input_shape,
                       const float* input, const Shape& filter_shape, const float* filter,
                       const float* bias, const Shape& output_shape, float* output);

// TRANSPOSE_CONV (no dilation). input [N, H, W, Cin], filter [Cout, KH, KW, Cin], bias
// [Cout] or null, output [N, OH, OW, Cout]. Input pixel (y, x) scatters into output
// (y * stride_h - pad_top + ky, x * stride_w - pad_left + kx); taps outside are dropped.
void transpose_conv(const ConvParams& p, const RequantParams& rq, const Shape& input_shape,
                    const int8_t* input, const Shape& filter_shape, const int8_t* filter,
                    const int32_t* bias, const Shape& output_shape, int8_t* output);
void transpose_conv(const ConvParams& p, const RequantParams& rq, const Shape& input_shape,
                    const uint8_t* input, const Shape& filter_shape, const uint8_t* filter,
                    const int32_t* bias, const Shape& output_shape, uint8_t* output);
void transpose_conv(const ConvParams& p, const RequantParams& rq, const Shape& input_shape,
                    const int16_t* input, const Shape& filter_shape, const int8_t* filter,
                    const int64_t* bias, const Shape& output_shape, int16_t* output);
void transpose_conv(const ConvParams& p, ActivationRangeF act, const Shape& input_shape,
                    const float* input, const Shape& filter_shape, const float* filter,
                    const float* bias, const Shape& output_shape, float* output);

// FULLY_CONNECTED: output[b, u] = sum_d input[b, d] * weights[u, d] + bias[u].
struct FullyConnectedParams {
  int batches = 1;
  int depth = 1;              // accumulation depth (weights' second dimension)
  int units = 1;              // output channels (weights' first dimension)
  int32_t input_offset = 0;   // -(input zero point); 0 for int16
  int32_t weight_offset = 0;  // -(weight zero point); TFLite applies it for per-tensor weights
};
void fully_connected(const FullyConnectedParams& p, const RequantParams& rq, const int8_t* input,
                     const int8_t* weights, const int32_t* bias, int8_t* output);
void fully_connected(const FullyConnectedParams& p, const RequantParams& rq, const uint8_t* input,
                     const uint8_t* weights, const int32_t* bias, uint8_t* output);
void fully_connected(const FullyConnectedParams& p, const RequantParams& rq, const int16_t* input,
                     const int8_t* weights, const int64_t* bias, int16_t* output);
void fully_connected(const FullyConnectedParams& p, ActivationRangeF act, const float* input,
                     const float* weights, const float* bias, float* output);

// BATCH_MATMUL: out[..., i, j] = sum_k X[..., i, k] * Y[..., k, j], X = adj_x ? lhs^T : lhs,
// Y = adj_y ? rhs^T : rhs (transposing the last two dimensions). The batch dimensions
// (all but the last two) broadcast numpy-style, aligned from the right; output_shape
// holds the broadcast batch dimensions followed by [rows of X, columns of Y]. Quantized
// outputs use channel 0 of `rq` for every element (the multiplier is per tensor).
struct BatchMatMulParams {
  bool adj_x = false;
  bool adj_y = false;
  int32_t lhs_offset = 0;  // -(lhs zero point); 0 for int16
  int32_t rhs_offset = 0;  // -(rhs zero point); 0 for int16
};
void batch_matmul(const BatchMatMulParams& p, const RequantParams& rq, const Shape& lhs_shape,
                  const int8_t* lhs, const Shape& rhs_shape, const int8_t* rhs,
                  const Shape& output_shape, int8_t* output);
void batch_matmul(const BatchMatMulParams& p, const RequantParams& rq, const Shape& lhs_shape,
                  const int16_t* lhs, const Shape& rhs_shape, const int16_t* rhs,
                  const Shape& output_shape, int16_t* output);
void batch_matmul(const BatchMatMulParams& p, const Shape& lhs_shape, const float* lhs,
                  const Shape& rhs_shape, const float* rhs, const Shape& output_shape,
                  float* output);

// AVERAGE_POOL_2D / MAX_POOL_2D over NHWC, per channel, over the window's taps that lie
// inside the input. Every window must contain at least one such tap (TFLite's SAME and
// VALID padding guarantee it).
// Quantized pools work on the stored values (input and output share scale and zero
// point); the average rounds to nearest with ties away from zero.
struct PoolParams {
  int stride_h = 1;
  int stride_w = 1;
  int filter_h = 1;
  int filter_w = 1;
  int pad_top = 0;
  int pad_left = 0;
};
void average_pool_2d(const PoolParams& p, ActivationRange act, const Shape& input_shape,
                     const int8_t* input, const Shape& output_shape, int8_t* output);
void average_pool_2d(const PoolParams& p, ActivationRange act, const Shape& input_shape,
                     const uint8_t* input, const Shape& output_shape, uint8_t* output);
void average_pool_2d(const PoolParams& p, ActivationRange act, const Shape& input_shape,
                     const int16_t* input, const Shape& output_shape, int16_t* output);
void average_pool_2d(const PoolParams& p, ActivationRangeF act, const Shape& input_shape,
                     const float* input, const Shape& output_shape, float* output);
void max_pool_2d(const PoolParams& p, ActivationRange act, const Shape& input_shape,
                 const int8_t* input, const Shape& output_shape, int8_t* output);
void max_pool_2d(const PoolParams& p, ActivationRange act, const Shape& input_shape,
                 const uint8_t* input, const Shape& output_shape, uint8_t* output);
void max_pool_2d(const PoolParams& p, ActivationRange act, const Shape& input_shape,
                 const int16_t* input, const Shape& output_shape, int16_t* output);
void max_pool_2d(const PoolParams& p, ActivationRangeF act, const Shape& input_shape,
                 const float* input, const Shape& output_shape, float* output);

}  // namespace tessel::kernels
