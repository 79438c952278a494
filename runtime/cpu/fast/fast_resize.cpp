// Fast exact RESIZE_BILINEAR and ARG_MAX / ARG_MIN (see tessel/kernels/fast_resize.hpp): the
// plan (source taps computed as the reference computes them), the portable scalar kernels,
// and the dispatch to the AVX-512 kernels in fast_resize_avx512.cpp.
#include "tessel/kernels/fast_resize.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

#include "tessel/ir/error.hpp"
#include "tessel/kernels/fast_requant.hpp"

namespace tessel::kernels {

// Implemented in fast_resize_avx512.cpp (compiled with AVX-512 enabled).
void resize_bilinear_rows_avx512(const ResizeBilinearPlan& plan, const void* input, void* output,
                                 int64_t row_begin, int64_t row_end);
void arg_min_max_last_axis_avx512(const ArgLastAxisParams& p, const void* input, void* output,
                                  int64_t begin, int64_t end);

namespace {

// ---------------------------------------------------------------------------------------
// Plan: the reference's scales and taps (quant_reduce.cpp), expression for expression.

BilinearTap float_tap(int32_t dst, float scale, bool half_pixel_centers, int32_t input_size) {
  const float value = static_cast<float>(dst);
  const float coord = half_pixel_centers ? (value + 0.5f) * scale - 0.5f : value * scale;
  BilinearTap t;
  t.lower = std::max(static_cast<int32_t>(std::floor(coord)), int32_t{0});
  t.upper = std::min(static_cast<int32_t>(std::ceil(coord)), input_size - 1);
  t.frac = coord - static_cast<float>(t.lower);
  t.rest = 1.0f - t.frac;
  return t;
}

BilinearTap integer_tap(int32_t dst, int32_t scale_10, bool half_pixel_centers, int32_t input_size) {
  const int32_t coord_10 = half_pixel_centers ? dst * scale_10 + scale_10 / 2 - (1 << 9) : dst * scale_10;
  BilinearTap t;
  t.lower = std::max(coord_10 / (1 << 10), int32_t{0});
  t.upper = std::min((coord_10 + (1 << 10) - 1) / (1 << 10), input_size - 1);
  t.frac_10 = coord_10 - (1 << 10) * t.lower;
  t.rest_10 = (1 << 10) - t.frac_10;
  return t;
}

std::vector<BilinearTap> float_taps(int32_t in_size, int32_t out_size, bool align_corners,
                                    bool half_pixel_centers) {
  float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  if (align_corners && out_size > 1)
    scale = static_cast<float>(in_size - 1) / static_cast<float>(out_size - 1);
  std::vector<BilinearTap> taps;
  for (int32_t i = 0; i < out_size; ++i) taps.push_back(float_tap(i, scale, half_pixel_centers, in_size));
  return taps;
}

std::vector<BilinearTap> integer_taps(int32_t in_size, int32_t out_size, bool align_corners,
                                      bool half_pixel_centers) {
  int32_t scale_10 = ((1 << 10) * in_size + out_size / 2) / out_size;
  if (align_corners && out_size > 1)
    scale_10 = ((1 << 10) * (in_size - 1) + (out_size - 1) / 2) / (out_size - 1);
  std::vector<BilinearTap> taps;
  for (int32_t i = 0; i < out_size; ++i) taps.push_back(integer_tap(i, scale_10, half_pixel_centers, in_size));
  return taps;
}

// ---------------------------------------------------------------------------------------
// Scalar kernels: the algorithm of the header comment, one element at a time.

template <typename T>
void float_rows_scalar(const ResizeBilinearPlan& plan, const T* input, T* output, int64_t row_begin,
                       int64_t row_end) {
  const ResizeBilinearParams& p = plan.params;
  const int64_t d = p.depth;
  const int64_t in_row = int64_t{p.input_width} * d;
  const int64_t out_row = int64_t{p.output_width} * d;
  const float rounding = std::numeric_limits<T>::is_integer ? 0.5f : 0.0f;
  std::vector<float> a(static_cast<size_t>(in_row)), b(static_cast<size_t>(in_row));
  for (int64_t r = row_begin; r < row_end; ++r) {
    const int64_t batch = r / p.output_height;
    const BilinearTap& ty = plan.rows[static_cast<size_t>(r % p.output_height)];
    const T* lo = input + (batch * p.input_height + ty.lower - p.input_row_begin) * in_row;
    const T* hi = input + (batch * p.input_height + ty.upper - p.input_row_begin) * in_row;
    for (int64_t i = 0; i < in_row; ++i) {
      a[static_cast<size_t>(i)] = static_cast<float>(lo[i]) * ty.rest;
      b[static_cast<size_t>(i)] = static_cast<float>(hi[i]) * ty.frac;
    }
    T* out = output + (r - p.output_row_begin) * out_row;
    for (int32_t x = 0; x < p.output_width; ++x) {
      const BilinearTap& tx = plan.cols[static_cast<size_t>(x)];
      const float* al = a.data() + tx.lower * d;
      const float* bl = b.data() + tx.lower * d;
      const float* au = a.data() + tx.upper * d;
      const float* bu = b.data() + tx.upper * d;
      for (int64_t c = 0; c < d; ++c) {
        const float value = al[c] * tx.rest + bl[c] * tx.rest + au[c] * tx.frac + bu[c] * tx.frac + rounding;
        out[x * d + c] = static_cast<T>(value);
      }
    }
  }
}

void integer_rows_scalar(const ResizeBilinearPlan& plan, const int8_t* input, int8_t* output,
                         int64_t row_begin, int64_t row_end) {
  const ResizeBilinearParams& p = plan.params;
  const int64_t d = p.depth;
  const int64_t in_row = int64_t{p.input_width} * d;
  const int64_t out_row = int64_t{p.output_width} * d;
  std::vector<int32_t> v(static_cast<size_t>(in_row));
  for (int64_t r = row_begin; r < row_end; ++r) {
    const int64_t batch = r / p.output_height;
    const BilinearTap& ty = plan.rows[static_cast<size_t>(r % p.output_height)];
    const int8_t* lo = input + (batch * p.input_height + ty.lower - p.input_row_begin) * in_row;
    const int8_t* hi = input + (batch * p.input_height + ty.upper - p.input_row_begin) * in_row;
    for (int64_t i = 0; i < in_row; ++i) v[static_cast<size_t>(i)] = lo[i] * ty.rest_10 + hi[i] * ty.frac_10;
    int8_t* out = output + (r - p.output_row_begin) * out_row;
    for (int32_t x = 0; x < p.output_width; ++x) {
      const BilinearTap& tx = plan.cols[static_cast<size_t>(x)];
      const int32_t* vl = v.data() + tx.lower * d;
      const int32_t* vu = v.data() + tx.upper * d;
      for (int64_t c = 0; c < d; ++c) {
        const int32_t sum_20 = vl[c] * tx.rest_10 + vu[c] * tx.frac_10;
        // Half away from zero, as the reference: +-2^19, then a truncating division.
        const int32_t round = sum_20 > 0 ? (1 << 19) : -(1 << 19);
        out[x * d + c] = static_cast<int8_t>((sum_20 + round) / (1 << 20));
      }
    }
  }
}

void resize_rows_scalar(const ResizeBilinearPlan& plan, const void* input, void* output, int64_t row_begin,
                        int64_t row_end) {
  switch (plan.element) {
    case FastElement::f32:
      float_rows_scalar(plan, static_cast<const float*>(input), static_cast<float*>(output), row_begin, row_end);
      return;
    case FastElement::u8:
      float_rows_scalar(plan, static_cast<const uint8_t*>(input), static_cast<uint8_t*>(output), row_begin,
                        row_end);
      return;
    case FastElement::i8:
      integer_rows_scalar(plan, static_cast<const int8_t*>(input), static_cast<int8_t*>(output), row_begin,
                          row_end);
      return;
  }
}

template <typename T, typename Index>
void arg_rows_scalar(const ArgLastAxisParams& p, const T* input, Index* output, int64_t begin, int64_t end) {
  for (int64_t o = begin; o < end; ++o) {
    const T* v = input + o * p.axis_size;
    T best = v[0];
    int64_t best_index = 0;
    for (int64_t i = 1; i < p.axis_size; ++i) {
      if (p.is_max ? v[i] > best : v[i] < best) {
        best = v[i];
        best_index = i;
      }
    }
    output[o] = static_cast<Index>(best_index);
  }
}

template <typename T>
void arg_rows_scalar_typed(const ArgLastAxisParams& p, const void* input, void* output, int64_t begin,
                           int64_t end) {
  const T* in = static_cast<const T*>(input);
  if (p.index64)
    arg_rows_scalar(p, in, static_cast<int64_t*>(output), begin, end);
  else
    arg_rows_scalar(p, in, static_cast<int32_t*>(output), begin, end);
}

void arg_rows_scalar_any(const ArgLastAxisParams& p, const void* input, void* output, int64_t begin,
                         int64_t end) {
  if (p.element == FastElement::i8)
    arg_rows_scalar_typed<int8_t>(p, input, output, begin, end);
  else
    arg_rows_scalar_typed<uint8_t>(p, input, output, begin, end);
}

// Runs body(begin, end) over [0, count), split into `threads` contiguous chunks when the
// job is big enough (`work` elements) to be worth waking threads for.
template <typename Body>
void split_rows(int64_t count, int64_t work, int threads, const Body& body) {
  if (threads <= 1 || work < (int64_t{1} << 15)) {
    body(int64_t{0}, count);
    return;
  }
  const int64_t chunk = (count + threads - 1) / threads;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int t = 0; t < threads; ++t) {
    const int64_t b = std::min<int64_t>(count, t * chunk);
    const int64_t e = std::min<int64_t>(count, b + chunk);
    if (b < e) body(b, e);
  }
}

}  // namespace

ResizeBilinearPlan plan_resize_bilinear(const ResizeBilinearParams& p, FastElement element) {
  ResizeBilinearPlan plan;
  plan.params = p;
  plan.element = element;
  const bool integer = element == FastElement::i8;
  const auto taps = integer ? integer_taps : float_taps;
  plan.rows = taps(p.input_height, p.output_height, p.align_corners, p.half_pixel_centers);
  plan.cols = taps(p.input_width, p.output_width, p.align_corners, p.half_pixel_centers);
  return plan;
}

namespace {
// Output rows [first, end) of a call: the whole tensor (every batch), or a band of a
// single-batch tensor (ResizeBilinearParams::output_row_begin/end, as the reference).
std::pair<int64_t, int64_t> row_span(const ResizeBilinearParams& p) {
  if (p.output_row_begin == 0 && p.output_row_end == 0 && p.input_row_begin == 0)
    return {0, int64_t{p.batches} * p.output_height};
  if (p.batches != 1) throw Error("resize_bilinear_fast: a band of rows needs batches == 1");
  return {p.output_row_begin, p.output_row_end > 0 ? p.output_row_end : p.output_height};
}
}  // namespace

void resize_bilinear_fast(const ResizeBilinearPlan& plan, const void* input, void* output, int threads) {
  const ResizeBilinearParams& p = plan.params;
  const auto [first, end] = row_span(p);
  const int64_t rows = end - first;
  const bool vec = requantize_has_avx512();
  split_rows(rows, rows * p.output_width * p.depth, threads, [&](int64_t b, int64_t e) {
    if (vec)
      resize_bilinear_rows_avx512(plan, input, output, first + b, first + e);
    else
      resize_rows_scalar(plan, input, output, first + b, first + e);
  });
}

void resize_bilinear_fast_scalar(const ResizeBilinearPlan& plan, const void* input, void* output) {
  const auto [first, end] = row_span(plan.params);
  resize_rows_scalar(plan, input, output, first, end);
}

void arg_min_max_last_axis(const ArgLastAxisParams& p, const void* input, void* output, int threads) {
  const bool vec = requantize_has_avx512();
  split_rows(p.outer, p.outer * p.axis_size, threads, [&](int64_t b, int64_t e) {
    if (vec)
      arg_min_max_last_axis_avx512(p, input, output, b, e);
    else
      arg_rows_scalar_any(p, input, output, b, e);
  });
}

void arg_min_max_last_axis_scalar(const ArgLastAxisParams& p, const void* input, void* output) {
  arg_rows_scalar_any(p, input, output, 0, p.outer);
}

}  // namespace tessel::kernels
