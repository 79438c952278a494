#pragma once
// Test helper: completes a FastConvSpec's output size and padding from its input size,
// kernel, stride and dilation, the way TFLite's SAME and VALID paddings define them. VALID
// first grows the input to at least one window, so every random draw gives a valid layer.

#include <algorithm>

#include "tessel/kernels/fast_conv.hpp"

namespace tessel::kernels::testing {

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

}  // namespace tessel::kernels::testing
