#pragma once
// Direct int8/uint8 convolution for small input depth (AVX-512 VNNI), used by FastConv in
// place of "oneDNN int32 + requantize_tile" where that loses: few input channels mean few
// MACs per output, so writing and re-reading an int32 accumulator per output costs more
// than the arithmetic. Here the accumulators of 16 output channels live in one register,
// are built with vpdpbusd (u8 x s8 -> s32, 4 products per lane per instruction) and are
// requantized in registers (TFLite's double rounding, computed as one exactly equivalent
// rounding: requant_avx512.hpp); only the final 8-bit outputs are stored.
//
// Contract:
// - A plan is built for a FastConvSpec that small_conv_fits() accepts (a non-depthwise
//   convolution whose window packs into at most kSmallConvMaxGroups 4-byte groups, with
//   right shifts up to kSmallConvMaxRightShift) and the width in pixels of its
//   zero-point-padded rows, padded_w >= pad_left + in_w, wide enough for every window.
// - run_row() computes one output row from the kernel_h unpadded input rows its windows
//   cover: rows[ky] points at input row oy * stride_h + ky * dilation_h - pad_top (in_w *
//   in_c bytes), or is null when that row is padding. It copies them into `buffer` (the
//   caller's per-thread scratch, resized as needed) with the zero-point padding around
//   them and as offset bytes u; the caller's rows are never written. Window sums for the
//   weight zero-point correction are computed inside (the caller needs none).
// - The bytes written equal TFLite's reference arithmetic (kernels/conv.hpp) exactly.
// - Call only when small_conv_cpu_ok(): the kernel uses AVX-512 F/BW/DQ/VL and VNNI.
//
// The arithmetic (all of it exact modulo 2^32, as TFLite's int32 is):
//   TFLite: acc = bias + sum over the K = KH*KW*Cin taps of (x - zx)(w - zw), padded taps
//   holding x = zx (they add nothing). vpdpbusd needs an unsigned byte times a signed
//   byte, so both operands are moved into range by a fixed offset:
//     u = x + ox,  ox = 128 for int8 input (u = byte ^ 0x80), 0 for uint8  (u in [0, 255])
//     s = w - ow,  ow = 0 for int8 weights, 128 for uint8 (s = byte ^ 0x80) (s in [-128, 127])
//   With a = ox + zx and c = ow - zw:
//     (x - zx)(w - zw) = (u - a)(s + c) = u s + c u - a s - a c
//   and summing over the window:
//     acc = [bias - a sum s - K a c] + sum u s + c sum u
//   The bracket is a per-channel constant folded into the bias at plan time; sum u s is the
//   vpdpbusd chain; c sum u is the weight zero-point correction, zero (and skipped) when
//   every channel has zw = ow (all int8 models: zw = 0), else sum u (the window sum) is one
//   more vpdpbusd chain against ones, computed once per pixel for all channel blocks.
//   Bytes that pad a window segment to a multiple of 4 get s = 0 (and a 0 in the ones) and
//   so add nothing whatever they hold.
//   Bounds: |u s| <= 255 * 128, so a window of up to 65,000 taps could not even wrap.

#include <cstdint>
#include <vector>

#include "tessel/kernels/fast_conv.hpp"
#include "tessel/kernels/fast_requant.hpp"

namespace tessel::kernels {

// Register budget of the kernel: its weights for one block of 16 output channels stay in
// registers, one per 4-byte group of the window.
constexpr int kSmallConvMaxGroups = 16;

// Deepest right shift (requantization exponent -22, a real multiplier >= 2^-23) the
// kernel's one-rounding requantization takes (requant_avx512.hpp has the overflow bound).
constexpr int kSmallConvMaxRightShift = 22;

// True when this CPU has AVX-512 F/BW/DQ/VL and VNNI.
bool small_conv_cpu_ok();

// True when the direct kernel can compute this convolution (it says nothing about speed:
// FastConv decides where to use it).
bool small_conv_fits(const FastConvSpec& s);

// Number of 4-byte input groups one window packs into (the vpdpbusd count per output pixel
// and block of 16 channels).
int small_conv_groups(const FastConvSpec& s);

// The kernel's requantization on its own, for tests: out[c] = clamp(zp +
// multiply_by_quantized_multiplier(acc[c], rq.multiplier[c], rq.shift[c])) for c <
// channels, computed as the kernel computes it (rq.bias and rq.sum_coef are not used).
// Shifts must be >= -kSmallConvMaxRightShift.
void small_conv_requantize(const ChannelRequant& rq, const int32_t* acc, int channels, bool is_signed, uint8_t* out);

struct SmallConvPlan {
  int groups = 0;                     // 4-byte groups per window
  std::vector<int64_t> group_offset;  // byte offset of each group from the window origin
  int64_t row_bytes = 0;              // bytes of one padded input row (padded_w * in_c)
  int64_t left_bytes = 0;             // padding before the input row (pad_left * in_c)
  int64_t in_bytes = 0;               // bytes of one input row (in_w * in_c)
  uint8_t pad_byte = 0;               // u of the input zero point
  int64_t row_stride = 0;             // row pitch inside the copied-rows buffer
  int64_t pixel_step = 0;             // bytes between neighbouring windows (stride_w * in_c)
  int kernel_h = 1;
  int out_w = 0, out_c = 0;
  bool flip_input = false;  // int8 input: u = byte ^ 0x80
  bool output_signed = true;
  std::vector<int8_t> weights;  // s, [out_c / 16 blocks][group][16 channels][4 bytes]
  std::vector<int8_t> ones;     // [group][16][4]: 1 for a window byte, 0 for a pad byte
  ChannelRequant rq;            // bias = the folded constant; sum_coef = c, or empty
  bool uniform_coef = false;    // every channel has the same c (per-tensor zw)
  // Window sums with sum_lanes output pixels per vector (VBMI CPUs; 0: one pixel at a
  // time). For windows starting at pixel ox, lane l of group g takes byte sum_index[g][4l + j]
  // (< 128) of the row bytes from sum_row_offset[g] + ox * pixel_step on.
  int sum_lanes = 0;
  std::vector<int64_t> sum_row_offset;  // [group]: the group's row in the buffer
  std::vector<uint8_t> sum_index;       // [group][64]: vpermt2b byte indices
};

class SmallConv {
 public:
  // padded_w: width in pixels of the input rows run_row() will be given.
  SmallConv(const FastConvSpec& spec, int padded_w);

  bool needs_sums() const { return !plan_.rq.sum_coef.empty(); }
  void run_row(const uint8_t* const* rows, uint8_t* out, std::vector<uint8_t>& buffer) const;
  const SmallConvPlan& plan() const { return plan_; }

 private:
  SmallConvPlan plan_;
};

// ---------------------------------------------------------------------------------------
// The register-blocked pointwise (1x1) convolution, for mid input depth.
//
// The same algebra (u, s, the folded bias, c sum u) as above, for a 1x1 convolution with
// stride 1 and no padding, which is a matrix product: [pixels][in_c] x [in_c][out_c]. With
// dozens to hundreds of input channels a block's weights no longer fit in registers, so
// the loop turns around: the accumulators of up to 4 blocks of 16 output channels times up
// to 12 pixels are the registers (24 of 32 for 4 x 6), and per 4-byte group of input
// channels each pixel's group is broadcast once and each block's 64 weight bytes loaded
// once, for 24 vpdpbusd (a small GEMM micro-kernel). The input is packed first per tile of
// pixels as [group][pixel][4 bytes] (u, zero bytes past in_c), so that the broadcasts are at
// constant offsets from one pointer; window sums (here the pixel's sum of u) come from the
// same pass.
//
// Contract:
// - A plan is built for a FastConvSpec that pointwise_conv_fits() accepts.
// - run() computes `pixels` consecutive output pixels (out_c bytes each) from as many input
//   pixels (in_c bytes each, consecutive: 1x1, stride 1, no padding). `buffer` is the
//   caller's per-thread scratch, resized as needed; the input is never written.
// - The bytes written equal TFLite's reference arithmetic exactly.
// - Call only when small_conv_cpu_ok().

// True when the pointwise kernel can compute this convolution (says nothing about speed).
bool pointwise_conv_fits(const FastConvSpec& s);

struct PointwiseConvPlan {
  int in_c = 0, groups = 0, out_c = 0;
  // Pixels packed at a time: the packed chunk ([group][pixel][4 bytes], a multiple of 48
  // pixels so that every tile height divides it) stays in L1 while all quads pass over it.
  int chunk = 0;
  bool flip_input = false;  // int8 input: u = byte ^ 0x80
  bool output_signed = true;
  // s = w - ow, per quad of 16-channel blocks (the last quad may hold fewer blocks, nb):
  // [quad][group][nb][16 channels][4 bytes], channels past out_c 0.
  std::vector<int8_t> weights;
  ChannelRequant rq;  // bias = the folded constant; sum_coef = c, or empty
  bool uniform_coef = false;
};

class PointwiseConv {
 public:
  explicit PointwiseConv(const FastConvSpec& spec);

  bool needs_sums() const { return !plan_.rq.sum_coef.empty(); }
  void run(const uint8_t* in, int64_t pixels, uint8_t* out, std::vector<uint8_t>& buffer) const;
  const PointwiseConvPlan& plan() const { return plan_; }

 private:
  PointwiseConvPlan plan_;
};

}  // namespace tessel::kernels
