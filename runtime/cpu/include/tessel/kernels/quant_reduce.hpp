#pragma once
// Reference kernels of the quant_reduce group: QUANTIZE (float -> integer and integer
// requantization), DEQUANTIZE, CAST, the reductions (MEAN, SUM, REDUCE_MAX, REDUCE_MIN),
// ARG_MAX / ARG_MIN and RESIZE_BILINEAR.
//
// Contract:
// - Each kernel reproduces one TFLite reference kernel bit for bit; the comment on each
//   names it and spells out the float/double order and rounding that matter. Where TFLite
//   Micro (which produced the int8 goldens) and full TFLite (uint8 goldens) differ, the
//   binding picks the kernel; the kernels themselves do not know which dtype is "legacy".
// - Kernels validate nothing: the bindings (runtime/cpu/ops/quant_reduce_ops.cpp) check
//   shapes, dtypes and parameters at prepare time and pass consistent sizes.
// - Templates are declared here and explicitly instantiated in ref/quant_reduce.cpp for the
//   element types listed next to each; other types do not link.

#include <cstdint>
#include <vector>

#include "tessel/kernels/quant.hpp"
#include "tessel/kernels/shape.hpp"

namespace tessel::kernels {

// ---------------------------------------------------------------------------------------
// QUANTIZE / DEQUANTIZE

// Per-tensor float -> integer quantization: q = clamp(round(x / scale) + zero_point).
struct AffineQuantizeParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
};
// Out: int8_t, uint8_t, int16_t.
template <typename Out>
void affine_quantize(const AffineQuantizeParams& p, const float* input, int64_t size, Out* output);

// Per-axis parameters for a tensor viewed as [outer, channels, inner] around its quantized
// dimension: element (o, c, i) uses scale[c] and zero_point[c].
struct PerChannelQuantParams {
  std::vector<float> scale;
  std::vector<int32_t> zero_point;
  int64_t outer = 1;
  int64_t channels = 1;
  int64_t inner = 1;
};
// Out: int8_t, uint8_t, int16_t.
template <typename Out>
void per_channel_quantize(const PerChannelQuantParams& p, const float* input, Out* output);

// Integer -> integer requantization with one multiplier M = s_in / s_out.
struct RequantizeParams {
  QuantizedMultiplier multiplier;
  int32_t input_zero_point = 0;
  int32_t output_zero_point = 0;
};
// (In, Out): (int8, int8), (int8, uint8), (int8, int16), (uint8, int8), (uint8, uint8),
// (int16, int8), (int16, int16).
template <typename In, typename Out>
void requantize(const RequantizeParams& p, const In* input, int64_t size, Out* output);

// Per-tensor integer -> float: x = scale * (q - zero_point).
struct DequantizeParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
};
// In: int8_t, uint8_t, int16_t.
template <typename In>
void dequantize(const DequantizeParams& p, const In* input, int64_t size, float* output);
// In: int8_t, uint8_t.
template <typename In>
void per_channel_dequantize(const PerChannelQuantParams& p, const In* input, float* output);

// IEEE 754 binary16 (bit pattern) -> float32, exactly (every half is a float).
float float16_to_float(uint16_t bits);
void dequantize_float16(const uint16_t* input, int64_t size, float* output);

// ---------------------------------------------------------------------------------------
// CAST

// The element types CAST converts between. Bool tensors hold one byte per element; any
// non-zero byte reads as true.
enum class CastType { f32, i32, i64, i16, i8, u8, boolean };
using CastFn = void (*)(const void* input, int64_t size, void* output);
// The conversion loop for one (from, to) pair (all 49 pairs exist).
CastFn cast_kernel(CastType from, CastType to);

// ---------------------------------------------------------------------------------------
// Reductions

// Which dimensions of `input` a reduction folds away. Outputs are ordered as the input
// with the reduced dimensions removed (keep_dims only changes the declared shape, never the
// memory order).
struct ReduceGeometry {
  Shape input;
  bool reduced[Shape::kMaxRank] = {};

  int64_t num_outputs() const;
  int64_t num_reduced() const;  // input elements folded into each output
};

// Float MEAN (TFLite reference_ops::Mean): sum in input order in float, then divide by the
// element count converted to float.
void mean_float(const ReduceGeometry& g, const float* input, float* output);
// Float SUM: init 0, add in input order.
void sum_float(const ReduceGeometry& g, const float* input, float* output);

// Quantized MEAN and SUM (TFLite reference_ops::QuantizedMeanOrSum, integer version):
// acc = (sum of q) - zp_in * n (wrapping to int32 as TFLite's int32 accumulator does),
// out = clamp(MultiplyByQuantizedMultiplier(acc, multiplier) + zp_out). For MEAN the
// multiplier already carries the 1/n (fold_mean_divisor).
struct QuantizedReduceParams {
  QuantizedMultiplier multiplier;
  int32_t input_zero_point = 0;
  int32_t output_zero_point = 0;
};
// T: int8_t, uint8_t, int16_t.
template <typename T>
void quantized_mean_or_sum(const QuantizedReduceParams& p, const ReduceGeometry& g,
                           const T* input, T* output);

// Folds the division by `num_elements` into a requantization multiplier as TFLite's
// QuantizedMeanOrSum does: with s = min(floor(log2 n), 32, 31 + shift),
// multiplier' = trunc(multiplier * 2^s / n) and shift' = shift - s. num_elements >= 1.
QuantizedMultiplier fold_mean_divisor(QuantizedMultiplier m, int64_t num_elements);

// REDUCE_MAX / REDUCE_MIN (TFLite ReduceGeneric): start from the type's lowest (max) value
// and keep `in > current` (`in < current`), so a NaN never replaces a number.
// T: float, int8_t, uint8_t, int16_t, int32_t.
template <typename T>
void reduce_max(const ReduceGeometry& g, const T* input, T* output);
template <typename T>
void reduce_min(const ReduceGeometry& g, const T* input, T* output);

// ---------------------------------------------------------------------------------------
// ARG_MAX / ARG_MIN (TFLite reference_ops::ArgMinMax)

// The input viewed as [outer, axis_size, inner]; the output is [outer, inner]. The first
// index wins ties (strict comparison), so a NaN is never selected over an earlier value.
struct ArgMinMaxParams {
  int64_t outer = 1;
  int64_t axis_size = 1;  // >= 1
  int64_t inner = 1;
  bool is_max = true;
};
// T: float, int8_t, uint8_t, int16_t, int32_t. Index: int32_t, int64_t.
template <typename T, typename Index>
void arg_min_max(const ArgMinMaxParams& p, const T* input, Index* output);

// ---------------------------------------------------------------------------------------
// RESIZE_BILINEAR (NHWC)

struct ResizeBilinearParams {
  int32_t batches = 1;
  int32_t input_height = 1;
  int32_t input_width = 1;
  int32_t depth = 1;
  int32_t output_height = 1;
  int32_t output_width = 1;
  bool align_corners = false;
  bool half_pixel_centers = false;  // never together with align_corners
  // A band of output rows (the NPU's tiled resize), batches == 1 only: the kernels compute
  // output rows [output_row_begin, output_row_end) (end 0: output_height) into `output`,
  // whose first row is output_row_begin, from an `input` whose first row is
  // input_row_begin; it must hold every row resize_bilinear_input_rows() names. The
  // defaults are the whole tensor. The values are those of the whole-tensor resize.
  int32_t output_row_begin = 0;
  int32_t output_row_end = 0;
  int32_t input_row_begin = 0;
};

// Input rows [first, end) that output rows [output_row_begin, output_row_end) of a
// bilinear resize read; `integer` selects resize_bilinear_integer's coordinates (int8,
// int16) instead of resize_bilinear's (float, uint8), which can differ by a row.
struct RowRange {
  int32_t first = 0, end = 0;
};
RowRange resize_bilinear_input_rows(const ResizeBilinearParams& p, bool integer);

// TFLite reference_ops::ResizeBilinear: source coordinates and weights in float, the four
// weighted taps summed in float, plus 0.5 for integer types, then truncated.
// T: float, uint8_t.
template <typename T>
void resize_bilinear(const ResizeBilinearParams& p, const T* input, T* output);

// TFLite reference_ops::ResizeBilinearInteger: coordinates in 1/1024 units, the weighted sum
// in int64 with 20 fractional bits, rounded half away from zero (double-rounding build).
// Requires input sizes < 2^20. T: int8_t, int16_t.
template <typename T>
void resize_bilinear_integer(const ResizeBilinearParams& p, const T* input, T* output);

}  // namespace tessel::kernels
