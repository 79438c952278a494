// The portable half of the direct depthwise convolution (depthwise_conv.hpp): qualification
// and weight packing. The row work is in depthwise_conv_avx512.cpp.
#include "tessel/kernels/depthwise_conv.hpp"

#include <algorithm>
#include <cstdlib>
#include <numeric>

#include "tessel/ir/error.hpp"
#include "tessel/kernels/small_conv.hpp"

namespace tessel::kernels {

// Implemented in depthwise_conv_avx512.cpp (compiled with AVX-512 and VNNI enabled).
void depthwise_conv_rows_avx512(const DepthwiseConvPlan& plan, const uint8_t* image, int row0, int rows,
                                uint8_t* out_image, uint8_t* buffer);
size_t depthwise_conv_buffer_bytes(const DepthwiseConvPlan& plan);

namespace {

int weight_value(const FastConvSpec& s, size_t idx) {
  const uint8_t b = static_cast<const uint8_t*>(s.weights)[idx];
  return s.weights_signed ? int{static_cast<int8_t>(b)} : int{b};
}

bool fits_int16(int64_t v) { return v >= -32768 && v <= 32767; }

}  // namespace

bool depthwise_conv_fits(const FastConvSpec& s) {
  if (!s.depthwise || s.out_c != s.in_c) return false;  // depth multiplier 1 only
  if (s.kernel_h * ((s.kernel_w + 1) / 2) > kDepthwiseMaxPairs) return false;
  // The one-rounding requantization's range (requant_avx512.hpp), as for small_conv.
  if (std::abs(s.output_zero_point) > 255) return false;
  for (int32_t e : s.shift)
    if (e < -kSmallConvMaxRightShift) return false;
  for (int32_t m : s.multiplier)
    if (m < 0) return false;
  // x - zx and w - zw must be int16 values.
  const int64_t xmin = s.input_signed ? -128 : 0, xmax = s.input_signed ? 127 : 255;
  if (!fits_int16(xmin - s.input_zero_point) || !fits_int16(xmax - s.input_zero_point)) return false;
  const int64_t wmin = s.weights_signed ? -128 : 0, wmax = s.weights_signed ? 127 : 255;
  for (int32_t zw : s.weight_zero_point)
    if (!fits_int16(wmin - zw) || !fits_int16(wmax - zw)) return false;
  return true;
}

DepthwiseConv::DepthwiseConv(const FastConvSpec& s) {
  check(depthwise_conv_fits(s), "depthwise convolution: shape does not fit the direct kernel");
  DepthwiseConvPlan& p = plan_;
  p.in_h = s.in_h, p.in_w = s.in_w, p.channels = s.in_c;
  p.blocks = (s.in_c + 15) / 16;
  p.kernel_h = s.kernel_h, p.kernel_w = s.kernel_w, p.pairs_w = (s.kernel_w + 1) / 2;
  p.stride_h = s.stride_h, p.stride_w = s.stride_w;
  p.dilation_h = s.dilation_h, p.dilation_w = s.dilation_w;
  p.pad_top = s.pad_top, p.pad_left = s.pad_left;
  p.out_h = s.out_h, p.out_w = s.out_w;
  // Pair pixel q starts at padded column q; output pixel ox reads pairs ox * stride_w +
  // 2 kp * dilation_w.
  p.pair_step = std::gcd(s.stride_w, 2 * s.dilation_w);
  p.pair_w = ((s.out_w - 1) * s.stride_w + 2 * (p.pairs_w - 1) * s.dilation_w) / p.pair_step + 1;
  p.pair_row_bytes = int64_t{p.pair_w} * p.blocks * 64;
  p.slots = std::max(s.kernel_h, std::min((s.kernel_h - 1) * s.dilation_h + 1, kDepthwiseMaxSlots));
  p.input_zero_point = s.input_zero_point;
  p.input_signed = s.input_signed;
  p.output_signed = s.output_signed;

  p.weights.assign(static_cast<size_t>(p.blocks) * s.kernel_h * p.pairs_w * 32, 0);
  for (int c = 0; c < s.out_c; ++c)
    for (int ky = 0; ky < s.kernel_h; ++ky)
      for (int kx = 0; kx < s.kernel_w; ++kx) {
        const int v = weight_value(s, (static_cast<size_t>(ky) * s.kernel_w + kx) * s.out_c + c) -
                      s.weight_zero_point[static_cast<size_t>(c)];
        const size_t at = (((static_cast<size_t>(c / 16) * s.kernel_h + ky) * p.pairs_w + kx / 2) * 16 + c % 16) * 2 +
                          static_cast<size_t>(kx % 2);
        p.weights[at] = static_cast<int16_t>(v);
      }
  p.rq.bias = s.bias;
  p.rq.multiplier = s.multiplier;
  p.rq.shift = s.shift;
  p.rq.output_zero_point = s.output_zero_point;
  p.rq.act_min = s.act_min;
  p.rq.act_max = s.act_max;
}

void DepthwiseConv::run_rows(const uint8_t* image, int row0, int rows, uint8_t* out_image,
                             std::vector<uint8_t>& buffer) const {
  check(row0 >= 0 && rows >= 0 && row0 + rows <= plan_.out_h, "depthwise convolution: rows out of range");
  const size_t need = depthwise_conv_buffer_bytes(plan_);
  if (buffer.size() < need) buffer.assign(need, 0);
  depthwise_conv_rows_avx512(plan_, image, row0, rows, out_image, buffer.data());
}

}  // namespace tessel::kernels
