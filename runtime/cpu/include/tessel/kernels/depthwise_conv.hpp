#pragma once
// Direct depthwise convolution (AVX-512 VNNI, vpdpwssd) with TFLite's requantization fused
// in, used by FastConv for DEPTHWISE_CONV_2D with depth multiplier 1 in place of "oneDNN
// int32 + requantize_tile" (and, for uint8 weights, a second all-ones oneDNN run for the
// window sums).
//
// The arithmetic: TFLite computes acc = bias + sum over the window of (x - zx)(w - zw), with
// padded taps adding nothing. Both factors are moved to int16 up front, x16 = x - zx and
// w16 = w - zw[c] (each in [-255, 255] for 8-bit tensors; the plan checks they fit int16),
// so no window sums and no folded constants are needed: padding is simply x16 = 0. Each
// input row is converted once (per band of output rows) into "pair" form: padded column p
// holds, per channel, the 32-bit lane (x16[p], x16[p + dilation_w]) (only the columns some
// window starts a pair at are stored: every second one for stride 2), so one vpdpwssd adds two
// horizontal taps (kx, kx + 1) of 16 channels of one output pixel; an odd last tap is paired
// with a zero weight. A 3x3 window is 6 vpdpwssd per 16 channels and pixel. All sums wrap
// modulo 2^32 as TFLite's int32 does, so the result is exact.
// The int32 accumulators of 16 channels of 4 neighbouring pixels stay in registers with the
// block's pair weights and are requantized there (the one-rounding form of
// requant_avx512.hpp); only output bytes are stored.
//
// Contract:
// - A plan is built for a FastConvSpec that depthwise_conv_fits() accepts (depthwise, depth
//   multiplier 1, at most kDepthwiseMaxPairs pairs per window, right shifts up to
//   kSmallConvMaxRightShift, non-negative multipliers, zero points that keep x - zx and
//   w - zw in int16).
// - run_rows() computes output rows [row0, row0 + rows) of one image from the whole
//   unpadded input image (in_h * in_w * in_c bytes); `buffer` is the caller's per-thread
//   scratch, resized as needed. The input is never written.
// - The bytes written equal TFLite's reference arithmetic exactly.
// - Call only when small_conv_cpu_ok() (AVX-512 F/BW/DQ/VL and VNNI).

#include <cstdint>
#include <vector>

#include "tessel/kernels/fast_conv.hpp"
#include "tessel/kernels/fast_requant.hpp"

namespace tessel::kernels {

// Register budget: a block's pair weights (kernel_h * ceil(kernel_w / 2)) stay in registers.
constexpr int kDepthwiseMaxPairs = 16;
constexpr int kDepthwiseMaxSlots = 32;

// True when the direct depthwise kernel can compute this convolution (nothing about speed).
bool depthwise_conv_fits(const FastConvSpec& s);

struct DepthwiseConvPlan {
  int in_h = 0, in_w = 0, channels = 0, blocks = 0;  // blocks of 16 channels
  int kernel_h = 1, kernel_w = 1, pairs_w = 1;       // pairs_w = ceil(kernel_w / 2)
  int stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int pad_top = 0, pad_left = 0;
  int out_h = 0, out_w = 0;
  // Output pixel ox reads pairs starting at padded columns q = ox * stride_w + 2 kp *
  // dilation_w, all multiples of pair_step = gcd(stride_w, 2 dilation_w) (2 for stride 2):
  // a converted row stores only those, pair j starting at column j * pair_step.
  int pair_step = 1;
  int pair_w = 0;              // pairs of a converted (pair-form) row
  int64_t pair_row_bytes = 0;  // bytes of one converted row (pair_w * blocks * 64)
  // Converted rows kept per thread: the window's row span (kernel_h rows with dilation_h 1;
  // with dilation the rows between a window's rows are the next output row's), at most
  // kDepthwiseMaxSlots, at least kernel_h.
  int slots = 1;
  int32_t input_zero_point = 0;
  bool input_signed = true, output_signed = true;
  // w16 pairs: [block][ky][kp][16 channels][2] (taps kx = 2 kp, 2 kp + 1; 0 past kernel_w
  // and past the channel count).
  std::vector<int16_t> weights;
  ChannelRequant rq;  // bias = the op's bias; sum_coef empty
};

class DepthwiseConv {
 public:
  explicit DepthwiseConv(const FastConvSpec& spec);

  void run_rows(const uint8_t* image, int row0, int rows, uint8_t* out_image, std::vector<uint8_t>& buffer) const;
  const DepthwiseConvPlan& plan() const { return plan_; }

 private:
  DepthwiseConvPlan plan_;
};

}  // namespace tessel::kernels
