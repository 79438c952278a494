// Reference kernels of the quant_reduce group (see tessel/kernels/quant_reduce.hpp).
#include "tessel/kernels/quant_reduce.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

namespace tessel::kernels {

namespace {

template <typename T>
constexpr int64_t lowest_of() {
  return static_cast<int64_t>(std::numeric_limits<T>::min());
}
template <typename T>
constexpr int64_t highest_of() {
  return static_cast<int64_t>(std::numeric_limits<T>::max());
}

// Saturating narrowing of an exact integer result to T.
template <typename T>
T saturate(int64_t v) {
  return static_cast<T>(std::min(std::max(v, lowest_of<T>()), highest_of<T>()));
}

// The value of a wrapping int32 accumulator that has added up `v` (TFLite sums quantized
// values in int32 and lets them wrap). Converting an out-of-range uint32 to int32 is
// modular on every compiler Tessel supports (and defined so from C++20).
int32_t wrap_to_int32(int64_t v) {
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v)));
}

// TFLite's AffineQuantize for one value: the division is in float (TFLite stores the scale
// as a double but divides by static_cast<float>(scale)), std::round on the float quotient
// (half away from zero), then the zero point is added and the result clamped in double.
// TFLite leaves NaN undefined; Tessel maps it to the type's minimum.
template <typename Out>
Out quantize_value(float x, float scale, int32_t zero_point) {
  const float rounded = std::round(x / scale);
  if (std::isnan(rounded)) return std::numeric_limits<Out>::min();
  const double v = static_cast<double>(rounded) + static_cast<double>(zero_point);
  const double lo = static_cast<double>(lowest_of<Out>());
  const double hi = static_cast<double>(highest_of<Out>());
  return static_cast<Out>(v < lo ? lo : (v > hi ? hi : v));
}

}  // namespace

// ---------------------------------------------------------------------------------------
// QUANTIZE / DEQUANTIZE

template <typename Out>
void affine_quantize(const AffineQuantizeParams& p, const float* input, int64_t size, Out* output) {
  for (int64_t i = 0; i < size; ++i) output[i] = quantize_value<Out>(input[i], p.scale, p.zero_point);
}

template <typename Out>
void per_channel_quantize(const PerChannelQuantParams& p, const float* input, Out* output) {
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t c = 0; c < p.channels; ++c) {
      const size_t ch = static_cast<size_t>(c);
      const int64_t base = (o * p.channels + c) * p.inner;
      for (int64_t i = 0; i < p.inner; ++i)
        output[base + i] = quantize_value<Out>(input[base + i], p.scale[ch], p.zero_point[ch]);
    }
}

// TFLite's reference_ops::Requantize. Its shortcut for int8 <-> uint8 with equal scales and
// zero points 128 apart (flip the top bit) is not needed: equal scales give the multiplier
// 2^30 with shift 1, which maps x to exactly x, so the general path yields the same bytes.
// The zero point is added in int64 so that a saturated product cannot overflow.
template <typename In, typename Out>
void requantize(const RequantizeParams& p, const In* input, int64_t size, Out* output) {
  for (int64_t i = 0; i < size; ++i) {
    const int32_t x = static_cast<int32_t>(input[i]) - p.input_zero_point;
    const int32_t scaled =
        multiply_by_quantized_multiplier(x, p.multiplier.multiplier, p.multiplier.shift);
    output[i] = saturate<Out>(static_cast<int64_t>(scaled) + p.output_zero_point);
  }
}

// TFLite's reference Dequantize: the per-tensor scale is held as a double, the product is
// formed in double and rounded once to float. (For 8/16-bit inputs the double product is
// exact, so this equals the float product; the order is kept as TFLite writes it.)
template <typename In>
void dequantize(const DequantizeParams& p, const In* input, int64_t size, float* output) {
  const double scale = static_cast<double>(p.scale);
  for (int64_t i = 0; i < size; ++i)
    output[i] = static_cast<float>(scale * (static_cast<int32_t>(input[i]) - p.zero_point));
}

// TFLite's PerChannelDequantize multiplies in float.
template <typename In>
void per_channel_dequantize(const PerChannelQuantParams& p, const In* input, float* output) {
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t c = 0; c < p.channels; ++c) {
      const size_t ch = static_cast<size_t>(c);
      const int64_t base = (o * p.channels + c) * p.inner;
      for (int64_t i = 0; i < p.inner; ++i)
        output[base + i] =
            p.scale[ch] * static_cast<float>(static_cast<int32_t>(input[base + i]) - p.zero_point[ch]);
    }
}

float float16_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits >> 15) << 31;
  const uint32_t exponent = (bits >> 10) & 0x1Fu;
  const uint32_t mantissa = bits & 0x3FFu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  uint32_t f = 0;
  if (exponent == 0x1F)
    f = sign | 0x7F800000u | (mantissa << 13);  // infinity, or NaN keeping its payload
  else
    f = sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13);
  float out = 0.0f;
  std::memcpy(&out, &f, sizeof out);
  return out;
}

void dequantize_float16(const uint16_t* input, int64_t size, float* output) {
  for (int64_t i = 0; i < size; ++i) output[i] = float16_to_float(input[i]);
}

// ---------------------------------------------------------------------------------------
// CAST

namespace {

// One element of a bool tensor as stored (a byte; non-zero is true).
struct Bool8 {
  uint8_t v;
};

// float -> integer as TFLite's CAST: truncation toward zero. TFLite saturates explicitly
// for int32, int16 and uint8; its plain static_cast is undefined out of range for int8 and
// int64, where Tessel saturates too. NaN: int32 gives INT32_MAX as TFLite's int32 path does
// (its `a <= max` test fails); other types give 0.
template <typename To>
To float_to_integer(float x) {
  if (std::isnan(x)) return std::is_same<To, int32_t>::value ? std::numeric_limits<To>::max() : To{0};
  const double t = std::trunc(static_cast<double>(x));
  // The limits as doubles are exact except int64's maximum, which rounds up to 2^63: any
  // t at or above it is out of range, so the comparisons below are exact.
  if (t <= static_cast<double>(std::numeric_limits<To>::min())) return std::numeric_limits<To>::min();
  if (t >= static_cast<double>(std::numeric_limits<To>::max())) return std::numeric_limits<To>::max();
  return static_cast<To>(t);
}

template <typename To, typename From>
To convert_element(From x) {
  if constexpr (std::is_same<To, Bool8>::value) {
    if constexpr (std::is_same<From, Bool8>::value)
      return Bool8{static_cast<uint8_t>(x.v != 0)};
    else
      return Bool8{static_cast<uint8_t>(x != From{0})};
  } else if constexpr (std::is_same<From, Bool8>::value) {
    return static_cast<To>(x.v != 0 ? 1 : 0);
  } else if constexpr (std::is_floating_point<From>::value && std::is_integral<To>::value) {
    return float_to_integer<To>(x);
  } else {
    // Integer narrowing wraps modulo 2^bits (two's complement), as static_cast does on
    // every target TFLite runs on; integer -> float rounds to nearest.
    return static_cast<To>(x);
  }
}

template <typename From, typename To>
void cast_loop(const void* input, int64_t size, void* output) {
  const From* in = static_cast<const From*>(input);
  To* out = static_cast<To*>(output);
  for (int64_t i = 0; i < size; ++i) out[i] = convert_element<To>(in[i]);
}

template <typename From>
CastFn cast_from(CastType to) {
  switch (to) {
    case CastType::f32: return cast_loop<From, float>;
    case CastType::i32: return cast_loop<From, int32_t>;
    case CastType::i64: return cast_loop<From, int64_t>;
    case CastType::i16: return cast_loop<From, int16_t>;
    case CastType::i8: return cast_loop<From, int8_t>;
    case CastType::u8: return cast_loop<From, uint8_t>;
    case CastType::boolean: return cast_loop<From, Bool8>;
  }
  return nullptr;
}

}  // namespace

CastFn cast_kernel(CastType from, CastType to) {
  switch (from) {
    case CastType::f32: return cast_from<float>(to);
    case CastType::i32: return cast_from<int32_t>(to);
    case CastType::i64: return cast_from<int64_t>(to);
    case CastType::i16: return cast_from<int16_t>(to);
    case CastType::i8: return cast_from<int8_t>(to);
    case CastType::u8: return cast_from<uint8_t>(to);
    case CastType::boolean: return cast_from<Bool8>(to);
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------
// Reductions

int64_t ReduceGeometry::num_outputs() const {
  int64_t n = 1;
  for (int d = 0; d < input.rank; ++d)
    if (!reduced[d]) n *= input[d];
  return n;
}

int64_t ReduceGeometry::num_reduced() const {
  int64_t n = 1;
  for (int d = 0; d < input.rank; ++d)
    if (reduced[d]) n *= input[d];
  return n;
}

namespace {

// Calls fn(input_index, output_index) for every input element in row-major order, the
// order in which TFLite's Reduce visits them (it matters for float sums).
template <typename Fn>
void for_each_element(const ReduceGeometry& g, Fn&& fn) {
  const int rank = g.input.rank;
  int64_t out_stride[Shape::kMaxRank] = {};
  int64_t stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    if (g.reduced[d]) continue;
    out_stride[d] = stride;
    stride *= g.input[d];
  }
  const int64_t n = g.input.num_elements();
  int32_t index[Shape::kMaxRank] = {};
  int64_t out = 0;
  for (int64_t i = 0; i < n; ++i) {
    fn(i, out);
    for (int d = rank - 1; d >= 0; --d) {  // advance the multi-index like an odometer
      if (++index[d] < g.input[d]) {
        out += out_stride[d];
        break;
      }
      out -= out_stride[d] * (g.input[d] - 1);
      index[d] = 0;
    }
  }
}

}  // namespace

void mean_float(const ReduceGeometry& g, const float* input, float* output) {
  const int64_t outputs = g.num_outputs();
  std::fill(output, output + outputs, 0.0f);
  for_each_element(g, [&](int64_t i, int64_t o) { output[o] = output[o] + input[i]; });
  const int64_t n = g.num_reduced();
  if (n == 0) return;  // empty input: TFLite leaves the zeroed sums
  const float count = static_cast<float>(n);
  for (int64_t o = 0; o < outputs; ++o) output[o] = output[o] / count;
}

void sum_float(const ReduceGeometry& g, const float* input, float* output) {
  std::fill(output, output + g.num_outputs(), 0.0f);
  for_each_element(g, [&](int64_t i, int64_t o) { output[o] = input[i] + output[o]; });
}

template <typename T>
void quantized_mean_or_sum(const QuantizedReduceParams& p, const ReduceGeometry& g,
                           const T* input, T* output) {
  const int64_t outputs = g.num_outputs();
  if (g.input.num_elements() == 0) {
    // TFLite returns early on an empty input with the outputs zeroed (not the zero point).
    std::fill(output, output + outputs, T{0});
    return;
  }
  // Exact sums: |q| < 2^16, so int64 holds any realistic count. Wrapping the exact value to
  // int32 afterwards equals TFLite's wrapping int32 accumulator (both are mod 2^32).
  std::vector<int64_t> sum(static_cast<size_t>(outputs), 0);
  for_each_element(g, [&](int64_t i, int64_t o) { sum[static_cast<size_t>(o)] += input[i]; });
  const int64_t n = g.num_reduced();
  for (int64_t o = 0; o < outputs; ++o) {
    const int32_t acc = wrap_to_int32(sum[static_cast<size_t>(o)] - int64_t{p.input_zero_point} * n);
    const int32_t scaled =
        multiply_by_quantized_multiplier(acc, p.multiplier.multiplier, p.multiplier.shift);
    output[o] = saturate<T>(static_cast<int64_t>(scaled) + p.output_zero_point);
  }
}

QuantizedMultiplier fold_mean_divisor(QuantizedMultiplier m, int64_t num_elements) {
  int log2_floor = 0;
  while ((num_elements >> (log2_floor + 1)) != 0) ++log2_floor;
  // Shifting the multiplier up by at most log2(n) keeps the quotient below 2^31; at most 32
  // keeps the int64 product from overflowing; at most 31 + shift keeps the final right
  // shift within MultiplyByQuantizedMultiplier's 31.
  const int s = std::min({log2_floor, 32, 31 + m.shift});
  QuantizedMultiplier folded;
  folded.multiplier =
      static_cast<int32_t>((static_cast<int64_t>(m.multiplier) << s) / num_elements);
  folded.shift = m.shift - s;
  return folded;
}

template <typename T>
void reduce_max(const ReduceGeometry& g, const T* input, T* output) {
  std::fill(output, output + g.num_outputs(), std::numeric_limits<T>::lowest());
  for_each_element(g, [&](int64_t i, int64_t o) {
    if (input[i] > output[o]) output[o] = input[i];
  });
}

template <typename T>
void reduce_min(const ReduceGeometry& g, const T* input, T* output) {
  std::fill(output, output + g.num_outputs(), std::numeric_limits<T>::max());
  for_each_element(g, [&](int64_t i, int64_t o) {
    if (input[i] < output[o]) output[o] = input[i];
  });
}

// ---------------------------------------------------------------------------------------
// ARG_MAX / ARG_MIN

template <typename T, typename Index>
void arg_min_max(const ArgMinMaxParams& p, const T* input, Index* output) {
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t in = 0; in < p.inner; ++in) {
      const T* column = input + o * p.axis_size * p.inner + in;
      T best = column[0];
      int64_t best_index = 0;
      for (int64_t i = 1; i < p.axis_size; ++i) {
        const T v = column[i * p.inner];
        if (p.is_max ? v > best : v < best) {
          best = v;
          best_index = i;
        }
      }
      output[o * p.inner + in] = static_cast<Index>(best_index);
    }
}

// ---------------------------------------------------------------------------------------
// RESIZE_BILINEAR

namespace {

int64_t nhwc_offset(const ResizeBilinearParams& p, int32_t b, int32_t y, int32_t x, int32_t c,
                    int32_t height, int32_t width) {
  return ((static_cast<int64_t>(b) * height + y) * width + x) * p.depth + c;
}

// TFLite's ComputeInterpolationValues: the source coordinate in float and its two
// neighbours, clamped to the image.
struct Tap {
  float coord;
  int32_t lower;
  int32_t upper;
};
Tap source_tap(int32_t dst, float scale, bool half_pixel_centers, int32_t input_size) {
  const float value = static_cast<float>(dst);
  Tap t{};
  t.coord = half_pixel_centers ? (value + 0.5f) * scale - 0.5f : value * scale;
  t.lower = std::max(static_cast<int32_t>(std::floor(t.coord)), int32_t{0});
  t.upper = std::min(static_cast<int32_t>(std::ceil(t.coord)), input_size - 1);
  return t;
}

// TFLite's ComputeInterpolationValuesInteger: the same in units of 1/1024 (C++ division
// truncates toward zero, which is what clamps the negative half-pixel coordinates to 0).
struct TapInteger {
  int32_t coord_10;
  int32_t lower;
  int32_t upper;
};
TapInteger source_tap_integer(int32_t dst, int32_t scale_10, bool half_pixel_centers,
                              int32_t input_size) {
  TapInteger t{};
  t.coord_10 = half_pixel_centers ? dst * scale_10 + scale_10 / 2 - (1 << 9) : dst * scale_10;
  t.lower = std::max(t.coord_10 / (1 << 10), int32_t{0});
  t.upper = std::min((t.coord_10 + (1 << 10) - 1) / (1 << 10), input_size - 1);
  return t;
}

float float_scale(int32_t in, int32_t out, bool align_corners) {
  if (align_corners && out > 1) return static_cast<float>(in - 1) / static_cast<float>(out - 1);
  return static_cast<float>(in) / static_cast<float>(out);
}

int32_t integer_scale(int32_t in, int32_t out, bool align_corners) {
  if (align_corners && out > 1) return ((1 << 10) * (in - 1) + (out - 1) / 2) / (out - 1);
  return ((1 << 10) * in + out / 2) / out;
}

// The band of a call: output rows [begin, end), input rows from in_begin (whole tensor by
// default; see ResizeBilinearParams).
struct Band {
  int32_t begin, end, in_begin;
};
Band band_of(const ResizeBilinearParams& p) {
  return {p.output_row_begin, p.output_row_end > 0 ? p.output_row_end : p.output_height,
          p.input_row_begin};
}

}  // namespace

RowRange resize_bilinear_input_rows(const ResizeBilinearParams& p, bool integer) {
  const Band band = band_of(p);
  RowRange r;
  if (band.end <= band.begin) return r;
  // Source rows grow with the output row, so the band's first and last rows bound it.
  if (integer) {
    const int32_t s = integer_scale(p.input_height, p.output_height, p.align_corners);
    r.first = source_tap_integer(band.begin, s, p.half_pixel_centers, p.input_height).lower;
    r.end = source_tap_integer(band.end - 1, s, p.half_pixel_centers, p.input_height).upper + 1;
  } else {
    const float s = float_scale(p.input_height, p.output_height, p.align_corners);
    r.first = source_tap(band.begin, s, p.half_pixel_centers, p.input_height).lower;
    r.end = source_tap(band.end - 1, s, p.half_pixel_centers, p.input_height).upper + 1;
  }
  return r;
}

template <typename T>
void resize_bilinear(const ResizeBilinearParams& p, const T* input, T* output) {
  const float height_scale = float_scale(p.input_height, p.output_height, p.align_corners);
  const float width_scale = float_scale(p.input_width, p.output_width, p.align_corners);
  const Band band = band_of(p);
  // Integer outputs round by adding 0.5 before the truncating conversion. The four weights
  // sum to 1 up to float rounding and are non-negative except where a half-pixel
  // coordinate falls before the first pixel, and then both taps are that same pixel; so
  // the sum stays within [-0.5, max + 0.5) and the conversion is in range.
  const float rounding = std::numeric_limits<T>::is_integer ? 0.5f : 0.0f;
  const int32_t ih = p.input_height, iw = p.input_width;
  // Rows are addressed relative to the band (a no-op for the whole tensor).
  const int32_t oh = band.end - band.begin;
  for (int32_t b = 0; b < p.batches; ++b)
    for (int32_t y = band.begin; y < band.end; ++y) {
      const Tap ty = source_tap(y, height_scale, p.half_pixel_centers, ih);
      const float dy = ty.coord - static_cast<float>(ty.lower);
      const int32_t lo = ty.lower - band.in_begin, up = ty.upper - band.in_begin;
      for (int32_t x = 0; x < p.output_width; ++x) {
        const Tap tx = source_tap(x, width_scale, p.half_pixel_centers, iw);
        const float dx = tx.coord - static_cast<float>(tx.lower);
        for (int32_t c = 0; c < p.depth; ++c) {
          const float v00 = static_cast<float>(input[nhwc_offset(p, b, lo, tx.lower, c, ih, iw)]);
          const float v10 = static_cast<float>(input[nhwc_offset(p, b, up, tx.lower, c, ih, iw)]);
          const float v01 = static_cast<float>(input[nhwc_offset(p, b, lo, tx.upper, c, ih, iw)]);
          const float v11 = static_cast<float>(input[nhwc_offset(p, b, up, tx.upper, c, ih, iw)]);
          // Exactly TFLite's expression and evaluation order (left to right, no FMA).
          const float value = v00 * (1.0f - dy) * (1.0f - dx) + v10 * dy * (1.0f - dx) +
                              v01 * (1.0f - dy) * dx + v11 * dy * dx + rounding;
          output[nhwc_offset(p, b, y - band.begin, x, c, oh, p.output_width)] = static_cast<T>(value);
        }
      }
    }
}

template <typename T>
void resize_bilinear_integer(const ResizeBilinearParams& p, const T* input, T* output) {
  // Scales in 1/1024 units, rounded to nearest; inputs < 2^20 keep every product in int32.
  const int32_t height_scale_10 = integer_scale(p.input_height, p.output_height, p.align_corners);
  const int32_t width_scale_10 = integer_scale(p.input_width, p.output_width, p.align_corners);
  const int32_t ih = p.input_height, iw = p.input_width;
  constexpr int64_t one_10 = 1 << 10;
  const Band band = band_of(p);
  const int32_t oh = band.end - band.begin;  // rows are addressed relative to the band
  for (int32_t b = 0; b < p.batches; ++b)
    for (int32_t y = band.begin; y < band.end; ++y) {
      const TapInteger ty = source_tap_integer(y, height_scale_10, p.half_pixel_centers, ih);
      const int64_t fy = ty.coord_10 - one_10 * ty.lower;  // weight of the upper row, /1024
      const int32_t lo = ty.lower - band.in_begin, up = ty.upper - band.in_begin;
      for (int32_t x = 0; x < p.output_width; ++x) {
        const TapInteger tx = source_tap_integer(x, width_scale_10, p.half_pixel_centers, iw);
        const int64_t fx = tx.coord_10 - one_10 * tx.lower;
        for (int32_t c = 0; c < p.depth; ++c) {
          // Weights carry 10 fractional bits each, so the sum has 20; |q| < 2^15 and
          // weights < 2^12 keep it far inside int64.
          const int64_t sum_20 =
              input[nhwc_offset(p, b, lo, tx.lower, c, ih, iw)] * (one_10 - fy) * (one_10 - fx) +
              input[nhwc_offset(p, b, up, tx.lower, c, ih, iw)] * fy * (one_10 - fx) +
              input[nhwc_offset(p, b, lo, tx.upper, c, ih, iw)] * (one_10 - fy) * fx +
              input[nhwc_offset(p, b, up, tx.upper, c, ih, iw)] * fy * fx;
          // Half away from zero: add +-0.5 and divide, truncating toward zero.
          const int64_t round = sum_20 > 0 ? (int64_t{1} << 19) : -(int64_t{1} << 19);
          output[nhwc_offset(p, b, y - band.begin, x, c, oh, p.output_width)] =
              static_cast<T>((sum_20 + round) / (int64_t{1} << 20));
        }
      }
    }
}

// ---------------------------------------------------------------------------------------
// Explicit instantiations (the element types each kernel is defined for).

template void affine_quantize<int8_t>(const AffineQuantizeParams&, const float*, int64_t, int8_t*);
template void affine_quantize<uint8_t>(const AffineQuantizeParams&, const float*, int64_t, uint8_t*);
template void affine_quantize<int16_t>(const AffineQuantizeParams&, const float*, int64_t, int16_t*);
template void per_channel_quantize<int8_t>(const PerChannelQuantParams&, const float*, int8_t*);
template void per_channel_quantize<uint8_t>(const PerChannelQuantParams&, const float*, uint8_t*);
template void per_channel_quantize<int16_t>(const PerChannelQuantParams&, const float*, int16_t*);

template void requantize<int8_t, int8_t>(const RequantizeParams&, const int8_t*, int64_t, int8_t*);
template void requantize<int8_t, uint8_t>(const RequantizeParams&, const int8_t*, int64_t, uint8_t*);
template void requantize<int8_t, int16_t>(const RequantizeParams&, const int8_t*, int64_t, int16_t*);
template void requantize<uint8_t, int8_t>(const RequantizeParams&, const uint8_t*, int64_t, int8_t*);
template void requantize<uint8_t, uint8_t>(const RequantizeParams&, const uint8_t*, int64_t, uint8_t*);
template void requantize<int16_t, int8_t>(const RequantizeParams&, const int16_t*, int64_t, int8_t*);
template void requantize<int16_t, int16_t>(const RequantizeParams&, const int16_t*, int64_t, int16_t*);

template void dequantize<int8_t>(const DequantizeParams&, const int8_t*, int64_t, float*);
template void dequantize<uint8_t>(const DequantizeParams&, const uint8_t*, int64_t, float*);
template void dequantize<int16_t>(const DequantizeParams&, const int16_t*, int64_t, float*);
template void per_channel_dequantize<int8_t>(const PerChannelQuantParams&, const int8_t*, float*);
template void per_channel_dequantize<uint8_t>(const PerChannelQuantParams&, const uint8_t*, float*);

template void quantized_mean_or_sum<int8_t>(const QuantizedReduceParams&, const ReduceGeometry&,
                                            const int8_t*, int8_t*);
template void quantized_mean_or_sum<uint8_t>(const QuantizedReduceParams&, const ReduceGeometry&,
                                             const uint8_t*, uint8_t*);
template void quantized_mean_or_sum<int16_t>(const QuantizedReduceParams&, const ReduceGeometry&,
                                             const int16_t*, int16_t*);

#define TESSEL_REDUCE_MINMAX(T)                                               \
  template void reduce_max<T>(const ReduceGeometry&, const T*, T*);           \
  template void reduce_min<T>(const ReduceGeometry&, const T*, T*);
TESSEL_REDUCE_MINMAX(float)
TESSEL_REDUCE_MINMAX(int8_t)
TESSEL_REDUCE_MINMAX(uint8_t)
TESSEL_REDUCE_MINMAX(int16_t)
TESSEL_REDUCE_MINMAX(int32_t)
#undef TESSEL_REDUCE_MINMAX

#define TESSEL_ARG_MIN_MAX(T)                                                           \
  template void arg_min_max<T, int32_t>(const ArgMinMaxParams&, const T*, int32_t*);    \
  template void arg_min_max<T, int64_t>(const ArgMinMaxParams&, const T*, int64_t*);
TESSEL_ARG_MIN_MAX(float)
TESSEL_ARG_MIN_MAX(int8_t)
TESSEL_ARG_MIN_MAX(uint8_t)
TESSEL_ARG_MIN_MAX(int16_t)
TESSEL_ARG_MIN_MAX(int32_t)
#undef TESSEL_ARG_MIN_MAX

template void resize_bilinear<float>(const ResizeBilinearParams&, const float*, float*);
template void resize_bilinear<uint8_t>(const ResizeBilinearParams&, const uint8_t*, uint8_t*);
template void resize_bilinear_integer<int8_t>(const ResizeBilinearParams&, const int8_t*, int8_t*);
template void resize_bilinear_integer<int16_t>(const ResizeBilinearParams&, const int16_t*, int16_t*);

}  // namespace tessel::kernels
