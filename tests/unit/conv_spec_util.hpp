#pragma once
// Test helpers for FastConvSpec layers: their output geometry, and TFLite's convolution
// written out as the independent answer the fast kernels are compared with.

#include <algorithm>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tessel/kernels/fast_conv.hpp"
#include "tessel/kernels/quant.hpp"

namespace tessel::kernels::testing {

// Completes the output size and padding from the input size, kernel, stride and dilation,
// the way TFLite's SAME and VALID paddings define them. VALID first grows the input to at
// least one window, so every random draw gives a valid layer.
inline void set_output_geometry(FastConvSpec& s, bool same_padding) {
  const int kh = (s.kernel_h - 1) * s.dilation_h + 1, kw = (s.kernel_w - 1) * s.dilation_w + 1;
  if (same_padding) {
    s.out_h = (s.in_h + s.stride_h - 1) / s.stride_h;
    s.out_w = (s.in_w + s.stride_w - 1) / s.stride_w;
    s.pad_top = std::max(0, ((s.out_h - 1) * s.stride_h + kh - s.in_h) / 2);
    s.pad_left = std::max(0, ((s.out_w - 1) * s.stride_w + kw - s.in_w) / 2);
  } else {
    s.in_h = std::max(s.in_h, kh);
    s.in_w = std::max(s.in_w, kw);
    s.out_h = (s.in_h - kh) / s.stride_h + 1;
    s.out_w = (s.in_w - kw) / s.stride_w + 1;
  }
}

// TFLite's convolution written as directly as possible: sum over valid taps of
// (x - zx) * (w - zw) with per-channel weight zero points (which the `ref` kernel does not
// take), plus bias, requantized per channel, clamped. Weights from s.weights.
inline std::vector<uint8_t> naive_conv(const FastConvSpec& s, const std::vector<uint8_t>& in) {
  const auto* w = static_cast<const uint8_t*>(s.weights);
  auto val = [](uint8_t b, bool sgn) { return sgn ? int{static_cast<int8_t>(b)} : int{b}; };
  const int groups = s.depthwise ? s.in_c : 1;
  const int icg = s.in_c / groups, ocg = s.out_c / groups;
  std::vector<uint8_t> out(static_cast<size_t>(s.batch) * s.out_h * s.out_w * s.out_c);
  for (int n = 0; n < s.batch; ++n)
    for (int oy = 0; oy < s.out_h; ++oy)
      for (int ox = 0; ox < s.out_w; ++ox)
        for (int oc = 0; oc < s.out_c; ++oc) {
          int64_t acc = s.bias[static_cast<size_t>(oc)];
          const int g = oc / ocg;
          for (int ky = 0; ky < s.kernel_h; ++ky)
            for (int kx = 0; kx < s.kernel_w; ++kx) {
              const int iy = oy * s.stride_h - s.pad_top + ky * s.dilation_h;
              const int ix = ox * s.stride_w - s.pad_left + kx * s.dilation_w;
              if (iy < 0 || iy >= s.in_h || ix < 0 || ix >= s.in_w) continue;
              for (int i = 0; i < icg; ++i) {
                const int ic = g * icg + i;
                const int x = val(in[((static_cast<size_t>(n) * s.in_h + iy) * s.in_w + ix) * s.in_c + ic], s.input_signed);
                const size_t widx = s.depthwise ? (static_cast<size_t>(ky) * s.kernel_w + kx) * s.out_c + oc
                                                : ((static_cast<size_t>(oc) * s.kernel_h + ky) * s.kernel_w + kx) * icg + i;
                acc += int64_t{x - s.input_zero_point} * (val(w[widx], s.weights_signed) - s.weight_zero_point[static_cast<size_t>(oc)]);
              }
            }
          int32_t v = multiply_by_quantized_multiplier(static_cast<int32_t>(acc), s.multiplier[static_cast<size_t>(oc)],
                                                       s.shift[static_cast<size_t>(oc)]);
          v = clamp_i32(v + s.output_zero_point, s.act_min, s.act_max);
          out[((static_cast<size_t>(n) * s.out_h + oy) * s.out_w + ox) * s.out_c + oc] = static_cast<uint8_t>(v);
        }
  return out;
}

// A layer under test: its spec and the bytes it points at (spec.weights is re-pointed at
// `weights` wherever a copy of the case is used).
struct ConvCase {
  FastConvSpec spec;
  std::vector<uint8_t> weights, input;
};

inline int pick(std::mt19937& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

// naive_conv on the case's own weights.
inline std::vector<uint8_t> naive_conv(const ConvCase& c) {
  FastConvSpec s = c.spec;
  s.weights = c.weights.data();
  return naive_conv(s, c.input);
}

// FastConv's bytes for the case on `threads` threads; `kernel` gets the kernel it chose.
inline std::vector<uint8_t> run_fast(const ConvCase& c, int threads, std::string* kernel = nullptr) {
  FastConvSpec s = c.spec;
  s.weights = c.weights.data();
  FastConv conv(s, threads);
  if (kernel) *kernel = conv.kernel();
  std::vector<uint8_t> out(static_cast<size_t>(s.batch) * s.out_h * s.out_w * s.out_c);
  conv.run(c.input.data(), out.data());
  return out;
}

// One line naming the layer, for failure messages.
inline std::string describe(const FastConvSpec& s) {
  std::ostringstream o;
  o << (s.input_signed ? "int8" : "uint8") << " in " << s.batch << "x" << s.in_h << "x" << s.in_w << "x" << s.in_c
    << " k " << s.kernel_h << "x" << s.kernel_w << " s " << s.stride_h << "," << s.stride_w << " d " << s.dilation_h
    << "," << s.dilation_w << " pad " << s.pad_top << "," << s.pad_left << " out " << s.out_h << "x" << s.out_w << "x"
    << s.out_c << " zx " << s.input_zero_point << " zw0 " << s.weight_zero_point[0] << " zy " << s.output_zero_point
    << " act [" << s.act_min << "," << s.act_max << "] shift0 " << s.shift[0];
  return o.str();
}

}  // namespace tessel::kernels::testing
