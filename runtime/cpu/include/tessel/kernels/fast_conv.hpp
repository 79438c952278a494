#pragma once
// The fast exact convolution: oneDNN computes int32 accumulators (u8/s8 x s8, exact with
// AVX-512 VNNI or AVX-VNNI), Tessel's requantize_tile maps them to int8/uint8 exactly as
// TFLite does. Handles CONV_2D (groups = 1), DEPTHWISE_CONV_2D (groups = input channels)
// and FULLY_CONNECTED (a 1x1 convolution over [batch, 1, 1, in]).
//
// The arithmetic: TFLite computes acc = bias + sum over valid taps of (x - zx)(w - zw).
//  - Padding: the input is copied into a buffer padded with zx, so padded taps contribute
//    (zx - zx)(w - zw) = 0 and every window is full (K = KH * KW * Cin/groups taps).
//  - oneDNN needs s8 weights: uint8 weights are stored as w' = w - 128 (woff = 128).
//    Then sum (x - zx)(w - zw) = sum x w' + (woff - zw) sum x - zx sum w + K zx zw.
//  - sum x (the window sum) is needed only when woff != zw; for a convolution it comes
//    from one extra output channel whose weights are all 1, for a depthwise convolution
//    from a second run of the same primitive with all-ones weights.
//  - bias - zx sum w + K zx zw is a per-channel constant folded into the bias at prepare.
// All of it is exact integer arithmetic modulo 2^32, so the result equals the reference.
//
// Callers must check fast_conv_supported() first: without VNNI, oneDNN's s8 kernels
// (vpmaddubsw) saturate 16-bit intermediates and halve weights, which is not exact.

#include <cstdint>
#include <memory>
#include <vector>

#include "tessel/kernels/fast_requant.hpp"

namespace tessel::kernels {

struct FastConvSpec {
  int batch = 1, in_h = 1, in_w = 1, in_c = 1;  // input NHWC
  int out_h = 1, out_w = 1, out_c = 1;          // output NHWC
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;
  int pad_top = 0, pad_left = 0;  // as TFLite computed them; bottom/right follow
  bool depthwise = false;         // groups = in_c, out_c = in_c * depth_multiplier
  bool input_signed = true;       // int8 (true) or uint8 activations
  int32_t input_zero_point = 0;
  bool output_signed = true;
  // Weights in TFLite layout: conv/FC [out_c, kh, kw, in_c]; depthwise [1, kh, kw, out_c].
  const void* weights = nullptr;
  bool weights_signed = true;
  std::vector<int32_t> weight_zero_point;  // per output channel
  std::vector<int32_t> bias;               // per output channel (zeros if the op has none)
  std::vector<int32_t> multiplier;         // per output channel
  std::vector<int32_t> shift;              // per output channel
  int32_t output_zero_point = 0;
  int32_t act_min = -128, act_max = 127;
};

// True when this CPU runs oneDNN's int8 convolution exactly (has VNNI).
bool fast_conv_supported();

class FastConv {
 public:
  // Builds the oneDNN primitive for `threads` threads and packs the weights. oneDNN plans
  // its parallel split when the primitive is created, so run() must get the same count.
  FastConv(const FastConvSpec& spec, int threads);
  ~FastConv();
  FastConv(const FastConv&) = delete;
  FastConv& operator=(const FastConv&) = delete;

  void run(const void* input, void* output);
  int64_t macs() const;
  // Which kernel computes the int32 sums: "onednn" (oneDNN + requantize_tile),
  // "direct-vnni" (small_conv.hpp, chosen for small input depth), "pointwise-vnni"
  // (small_conv.hpp's PointwiseConv, 1x1 convolutions of mid input depth) or
  // "depthwise-vnni" (depthwise_conv.hpp, depthwise with depth multiplier 1).
  const char* kernel() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessel::kernels
