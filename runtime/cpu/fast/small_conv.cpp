// The portable half of the direct small-depth convolution (small_conv.hpp): qualification,
// weight packing and the folded bias. The per-row work is in small_conv_avx512.cpp.
#include "tessel/kernels/small_conv.hpp"

#include <algorithm>
#include <cstdlib>

#include "tessel/ir/error.hpp"

namespace tessel::kernels {

// Implemented in small_conv_avx512.cpp (compiled with AVX-512 and VNNI enabled).
void small_conv_row_avx512(const SmallConvPlan& plan, const uint8_t* const* rows, uint8_t* buffer, int32_t* sums,
                           uint8_t* out);
void small_conv_requant_avx512(const ChannelRequant& rq, const int32_t* acc, int channels, bool is_signed,
                               uint8_t* out);
void pointwise_conv_avx512(const PointwiseConvPlan& plan, const uint8_t* in, int64_t pixels, uint8_t* buffer,
                           uint8_t* out);
size_t pointwise_conv_buffer_bytes(const PointwiseConvPlan& plan);

namespace {

// One contiguous run of window bytes inside a copied input row: `bytes` bytes starting at
// column `x0` (pixels) of row `ky`, holding taps (ky, kx0 + i / in_c, i % in_c).
struct Segment {
  int ky, kx0, bytes;
  int64_t x0;
};

// The window as contiguous runs: with dilation_w 1 a window row is kernel_w * in_c
// consecutive bytes (one run); with dilation each tap's in_c bytes are a run of their own.
std::vector<Segment> segments(const FastConvSpec& s) {
  std::vector<Segment> out;
  for (int ky = 0; ky < s.kernel_h; ++ky) {
    if (s.dilation_w == 1) {
      out.push_back({ky, 0, s.kernel_w * s.in_c, 0});
    } else {
      for (int kx = 0; kx < s.kernel_w; ++kx) out.push_back({ky, kx, s.in_c, int64_t{kx} * s.dilation_w});
    }
  }
  return out;
}

// The one-rounding requantization folds the output zero point into a 64-bit rounding
// constant, which stays in range for right shifts up to 22 (requant_avx512.hpp); real
// multipliers below 2^-23 do not occur in practice and go to oneDNN.
bool requant_fits(const std::vector<int32_t>& shift, int32_t output_zero_point) {
  return std::abs(output_zero_point) <= 255 &&
         std::all_of(shift.begin(), shift.end(), [](int32_t e) { return e >= -kSmallConvMaxRightShift; });
}

inline int32_t wrap(int64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v))); }

bool cpu_has_vbmi() {
  static const bool has = __builtin_cpu_supports("avx512vbmi");
  return has;
}

// The folded constant bias - a sum s - K a c and the correction coefficient c (see
// small_conv.hpp), modulo 2^32, and the requantization, for either direct kernel; sum_s[oc]
// is the sum of channel oc's s = w - ow over its `taps` weights.
void fold_constants(const FastConvSpec& s, int64_t taps, const std::vector<int64_t>& sum_s, ChannelRequant& rq,
                    bool& uniform_coef) {
  const int64_t ow = s.weights_signed ? 0 : 128;
  const int64_t a = (s.input_signed ? 128 : 0) + int64_t{s.input_zero_point};
  bool any_c = false;
  rq.bias.resize(static_cast<size_t>(s.out_c));
  rq.sum_coef.resize(static_cast<size_t>(s.out_c));
  for (size_t oc = 0; oc < rq.bias.size(); ++oc) {
    const int64_t c = ow - int64_t{s.weight_zero_point[oc]};
    any_c = any_c || c != 0;
    rq.sum_coef[oc] = static_cast<int32_t>(c);
    rq.bias[oc] = wrap(int64_t{s.bias[oc]} - a * sum_s[oc] - taps * a * c);
  }
  uniform_coef = std::all_of(rq.sum_coef.begin(), rq.sum_coef.end(), [&](int32_t c) { return c == rq.sum_coef[0]; });
  if (!any_c) rq.sum_coef.clear();
  rq.multiplier = s.multiplier;
  rq.shift = s.shift;
  rq.output_zero_point = s.output_zero_point;
  rq.act_min = s.act_min;
  rq.act_max = s.act_max;
}

// The index vectors of window_sums_vbmi: as many neighbouring windows per vector (at most
// 16) as fit, with every group's 4 bytes, in the 128 bytes one vpermt2b selects from.
void plan_sums_by_lane(SmallConvPlan& p) {
  if (!cpu_has_vbmi()) return;
  int64_t reach = 0;  // furthest byte a group reads past its row's window origin, + 1
  for (int g = 0; g < p.groups; ++g) reach = std::max(reach, p.group_offset[static_cast<size_t>(g)] % p.row_stride + 4);
  int lanes = 16;
  while (lanes > 0 && (lanes - 1) * p.pixel_step + reach > 128) --lanes;
  if (lanes < 4) return;  // too few to beat one pixel at a time
  p.sum_lanes = lanes;
  p.sum_index.assign(static_cast<size_t>(p.groups) * 64, 0);
  for (int g = 0; g < p.groups; ++g) {
    const int64_t in_row = p.group_offset[static_cast<size_t>(g)] % p.row_stride;
    p.sum_row_offset.push_back(p.group_offset[static_cast<size_t>(g)] - in_row);
    for (int l = 0; l < lanes; ++l)
      for (int j = 0; j < 4; ++j)
        p.sum_index[static_cast<size_t>(g) * 64 + static_cast<size_t>(l) * 4 + static_cast<size_t>(j)] =
            static_cast<uint8_t>(l * p.pixel_step + in_row + j);
  }
}

}  // namespace

bool small_conv_cpu_ok() {
  static const bool ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                         __builtin_cpu_supports("avx512vnni");
  return ok;
}

int small_conv_groups(const FastConvSpec& s) {
  int groups = 0;
  for (const Segment& seg : segments(s)) groups += (seg.bytes + 3) / 4;
  return groups;
}

bool small_conv_fits(const FastConvSpec& s) {
  if (s.depthwise) return false;
  if (small_conv_groups(s) > kSmallConvMaxGroups) return false;
  return requant_fits(s.shift, s.output_zero_point) &&
         std::all_of(s.multiplier.begin(), s.multiplier.end(), [](int32_t m) { return m >= 0; });
}

void small_conv_requantize(const ChannelRequant& rq, const int32_t* acc, int channels, bool is_signed, uint8_t* out) {
  check(small_conv_cpu_ok(), "small convolution: needs AVX-512 VNNI");
  check(requant_fits(rq.shift, rq.output_zero_point), "small convolution: requantization out of range");
  small_conv_requant_avx512(rq, acc, channels, is_signed, out);
}

SmallConv::SmallConv(const FastConvSpec& s, int padded_w) {
  check(small_conv_fits(s), "small convolution: shape does not fit the direct kernel");
  SmallConvPlan& p = plan_;
  p.kernel_h = s.kernel_h;
  p.out_w = s.out_w;
  p.out_c = s.out_c;
  check(padded_w >= s.pad_left + s.in_w, "small convolution: padded width below the input's");
  p.row_bytes = int64_t{padded_w} * s.in_c;
  p.left_bytes = int64_t{s.pad_left} * s.in_c;
  p.in_bytes = int64_t{s.in_w} * s.in_c;
  p.pad_byte = static_cast<uint8_t>(static_cast<uint8_t>(s.input_zero_point) ^ (s.input_signed ? 0x80 : 0));
  p.row_stride = (p.row_bytes + 63) / 64 * 64;
  p.pixel_step = int64_t{s.stride_w} * s.in_c;
  p.flip_input = s.input_signed;
  p.output_signed = s.output_signed;

  // Groups: each segment split into 4-byte groups; remember which tap each byte holds (-1:
  // a pad byte past the segment, weight 0).
  std::vector<int> tap_of_byte;  // index into one output channel's [ky][kx][ic] filter
  for (const Segment& seg : segments(s)) {
    for (int b = 0; b < seg.bytes; b += 4) {
      p.group_offset.push_back(seg.ky * p.row_stride + seg.x0 * s.in_c + b);
      for (int j = b; j < b + 4; ++j) {
        if (j >= seg.bytes) {
          tap_of_byte.push_back(-1);
          continue;
        }
        const int kx = seg.kx0 + j / s.in_c, ic = j % s.in_c;
        tap_of_byte.push_back((seg.ky * s.kernel_w + kx) * s.in_c + ic);
      }
    }
  }
  p.groups = static_cast<int>(p.group_offset.size());

  // s = w - ow per weight, packed so that one 64-byte load gives a group's 4 bytes for 16
  // consecutive output channels (channels past out_c get 0).
  const int ow = s.weights_signed ? 0 : 128;
  const int taps = s.kernel_h * s.kernel_w * s.in_c;
  const int blocks = (s.out_c + 15) / 16;
  const auto* w8 = static_cast<const uint8_t*>(s.weights);
  p.weights.assign(static_cast<size_t>(blocks) * p.groups * 64, 0);
  p.ones.assign(static_cast<size_t>(p.groups) * 64, 0);
  for (int g = 0; g < p.groups; ++g)
    for (int j = 0; j < 64; ++j)
      p.ones[static_cast<size_t>(g) * 64 + static_cast<size_t>(j)] =
          tap_of_byte[static_cast<size_t>(g) * 4 + static_cast<size_t>(j % 4)] >= 0;
  std::vector<int64_t> sum_s(static_cast<size_t>(s.out_c), 0);
  for (int oc = 0; oc < s.out_c; ++oc) {
    auto s_of = [&](int tap) {
      const uint8_t b = w8[static_cast<size_t>(oc) * taps + static_cast<size_t>(tap)];
      return (s.weights_signed ? int{static_cast<int8_t>(b)} : int{b}) - ow;
    };
    for (int tap = 0; tap < taps; ++tap) sum_s[static_cast<size_t>(oc)] += s_of(tap);
    for (int g = 0; g < p.groups; ++g)
      for (int j = 0; j < 4; ++j) {
        const int tap = tap_of_byte[static_cast<size_t>(g) * 4 + static_cast<size_t>(j)];
        if (tap < 0) continue;
        const size_t dst = ((static_cast<size_t>(oc / 16) * p.groups + g) * 16 + oc % 16) * 4 + j;
        p.weights[dst] = static_cast<int8_t>(s_of(tap));
      }
  }

  fold_constants(s, taps, sum_s, p.rq, p.uniform_coef);
  plan_sums_by_lane(p);
}

void SmallConv::run_row(const uint8_t* const* rows, uint8_t* out, std::vector<uint8_t>& buffer) const {
  const SmallConvPlan& p = plan_;
  // The rows plus room for over-reads past the last one (zeroed once so the bytes read are
  // defined; their weights are 0 anyway), then the row's window sums. window_sums_vbmi
  // loads 128 bytes from a window's row, so leave that much behind the last row.
  const size_t rows_bytes = static_cast<size_t>(p.kernel_h * p.row_stride + 128);
  const size_t need = rows_bytes + (needs_sums() ? static_cast<size_t>(p.out_w) * 4 : 0);
  if (buffer.size() < need) buffer.assign(need, 0);
  int32_t* sums = needs_sums() ? reinterpret_cast<int32_t*>(buffer.data() + rows_bytes) : nullptr;
  small_conv_row_avx512(p, rows, buffer.data(), sums, out);
}

bool pointwise_conv_fits(const FastConvSpec& s) {
  return !s.depthwise && s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 &&
         s.pad_top == 0 && s.pad_left == 0 && s.out_h == s.in_h && s.out_w == s.in_w &&
         requant_fits(s.shift, s.output_zero_point) &&
         std::all_of(s.multiplier.begin(), s.multiplier.end(), [](int32_t m) { return m >= 0; });
}

PointwiseConv::PointwiseConv(const FastConvSpec& s) {
  check(pointwise_conv_fits(s), "pointwise convolution: shape does not fit the kernel");
  PointwiseConvPlan& p = plan_;
  p.in_c = s.in_c;
  p.groups = (s.in_c + 3) / 4;
  p.out_c = s.out_c;
  p.flip_input = s.input_signed;
  p.output_signed = s.output_signed;
  // About 16 KB of packed input per chunk (a third of a 48 KB L1, next to one quad's
  // weights, 256 bytes per group: 24 KB at 96 channels), a multiple of 48 pixels (whole
  // tiles of 6, 8 or 12 pixels and whole packing steps of 16).
  p.chunk = std::max(48, 16384 / (p.groups * 4) / 48 * 48);

  // s = w - ow packed as [quad][group][block in quad][16][4] (small_conv.hpp); a quad's
  // weights are then one contiguous stream, 64 * nb bytes per group.
  const int ow = s.weights_signed ? 0 : 128;
  const int blocks = (s.out_c + 15) / 16;
  const auto* w8 = static_cast<const uint8_t*>(s.weights);
  p.weights.assign(static_cast<size_t>(blocks) * p.groups * 64, 0);
  std::vector<int64_t> sum_s(static_cast<size_t>(s.out_c), 0);
  for (int oc = 0; oc < s.out_c; ++oc) {
    const int b = oc / 16, quad = b / 4, nb = std::min(4, blocks - 4 * quad);
    const size_t quad_base = static_cast<size_t>(quad) * 4 * p.groups * 64;
    for (int ic = 0; ic < s.in_c; ++ic) {
      const uint8_t byte = w8[static_cast<size_t>(oc) * s.in_c + static_cast<size_t>(ic)];
      const int v = (s.weights_signed ? int{static_cast<int8_t>(byte)} : int{byte}) - ow;
      sum_s[static_cast<size_t>(oc)] += v;
      const size_t at = quad_base + (static_cast<size_t>(ic / 4) * nb + static_cast<size_t>(b % 4)) * 64 +
                        static_cast<size_t>(oc % 16) * 4 + static_cast<size_t>(ic % 4);
      p.weights[at] = static_cast<int8_t>(v);
    }
  }
  fold_constants(s, s.in_c, sum_s, p.rq, p.uniform_coef);
}

void PointwiseConv::run(const uint8_t* in, int64_t pixels, uint8_t* out, std::vector<uint8_t>& buffer) const {
  const size_t need = pointwise_conv_buffer_bytes(plan_);
  if (buffer.size() < need) buffer.assign(need, 0);
  pointwise_conv_avx512(plan_, in, pixels, buffer.data(), out);
}

}  // namespace tessel::kernels
