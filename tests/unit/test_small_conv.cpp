// Question answered: do the direct convolutions (small_conv.hpp: the small-depth kernel and
// the register-blocked pointwise kernel; vpdpbusd with the +128 input offset and the weight
// zero-point correction, requantized in one rounding step) give exactly the bytes of the
// `ref` kernel, for every zero point, signedness, padding, stride, dilation, width and
// channel count they are chosen for?
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>

#include "conv_spec_util.hpp"
#include "tessel/kernels/conv.hpp"
#include "tessel/kernels/fast_conv.hpp"
#include "tessel/kernels/quant.hpp"
#include "tessel/kernels/small_conv.hpp"

using namespace tessel::kernels;

namespace {

using Case = testing::ConvCase;
using testing::describe;
using testing::pick;
using testing::run_fast;

// A random convolution the direct kernel qualifies for. Zero points are drawn with extra
// weight on the edges: int8 input zp -128 makes a = ox + zx zero and 127 makes it largest;
// uint8 weight zp 128 makes the correction c = 128 - zw vanish, 0 and 255 make it largest.
Case random_case(std::mt19937& rng, bool uint8_model, bool same, bool per_channel) {
  Case c;
  FastConvSpec& s = c.spec;
  s.batch = pick(rng, 1, 2);
  s.in_c = pick(rng, 0, 2) == 0 ? 3 : pick(rng, 1, 48);  // FastConv uses the kernel up to 48
  if (pick(rng, 0, 1)) {
    s.kernel_h = s.kernel_w = 1;
  } else {
    s.kernel_h = pick(rng, 1, 3);
    s.kernel_w = pick(rng, 1, 3);
  }
  s.stride_h = pick(rng, 1, 2);
  s.stride_w = pick(rng, 1, 2);
  s.dilation_h = pick(rng, 0, 3) == 0 ? 2 : 1;
  s.dilation_w = pick(rng, 0, 3) == 0 ? 2 : 1;
  // Keep the window within the kernel's register budget.
  while (small_conv_groups(s) > kSmallConvMaxGroups) s.in_c = std::max(1, s.in_c / 2);
  s.in_h = pick(rng, 1, 19);
  s.in_w = pick(rng, 1, 23);  // odd widths, and widths not a multiple of the 4-pixel step
  testing::set_output_geometry(s, same);
  s.out_c = pick(rng, 0, 3) == 0 ? 16 * pick(rng, 1, 3) : pick(rng, 1, 70);
  s.input_signed = s.output_signed = s.weights_signed = !uint8_model;
  auto edge_or = [&](std::initializer_list<int> edges, int lo, int hi) {
    if (pick(rng, 0, 2) == 0) return *(edges.begin() + pick(rng, 0, static_cast<int>(edges.size()) - 1));
    return pick(rng, lo, hi);
  };
  s.input_zero_point = uint8_model ? edge_or({0, 128, 255}, 0, 255) : edge_or({-128, 0, 127}, -128, 127);
  s.output_zero_point = uint8_model ? pick(rng, 0, 255) : pick(rng, -128, 127);
  s.act_min = uint8_model ? 0 : -128;
  s.act_max = uint8_model ? 255 : 127;
  if (pick(rng, 0, 1)) s.act_min += pick(rng, 0, 60), s.act_max -= pick(rng, 0, 60);
  const int zw = uint8_model ? edge_or({0, 128, 255}, 0, 255) : 0;
  const size_t taps = static_cast<size_t>(s.kernel_h) * s.kernel_w * s.in_c;
  c.weights.resize(static_cast<size_t>(s.out_c) * taps);
  for (auto& b : c.weights) b = static_cast<uint8_t>(pick(rng, 0, 255));
  c.input.resize(static_cast<size_t>(s.batch) * s.in_h * s.in_w * s.in_c);
  for (auto& b : c.input) b = static_cast<uint8_t>(pick(rng, 0, 255));
  const QuantizedMultiplier shared =
      quantize_multiplier(std::ldexp(pick(rng, 1000, 9999) / 10000.0, -pick(rng, 4, 14)));
  for (int oc = 0; oc < s.out_c; ++oc) {
    s.weight_zero_point.push_back(zw);
    s.bias.push_back(pick(rng, -40000, 40000));
    // Mostly realistic scales; sometimes a left shift or a deep right shift (down to the
    // kernel's limit, exponent -22).
    const int kind = pick(rng, 0, 9);
    const double real = kind == 0   ? std::ldexp(pick(rng, 1000, 9999) / 10000.0, pick(rng, 0, 2))
                        : kind == 1 ? std::ldexp(pick(rng, 1000, 9999) / 10000.0, -pick(rng, 16, 19))
                                    : std::ldexp(pick(rng, 1000, 9999) / 10000.0, -pick(rng, 4, 14));
    const QuantizedMultiplier q = per_channel ? quantize_multiplier(real) : shared;
    s.multiplier.push_back(q.multiplier);
    s.shift.push_back(q.shift);
  }
  s.weights = c.weights.data();
  return c;
}

// The `ref` kernel's answer (kernels/conv.hpp), which takes one weight zero point.
std::vector<uint8_t> ref_conv(const Case& c) {
  const FastConvSpec& s = c.spec;
  ConvParams p;
  p.stride_h = s.stride_h, p.stride_w = s.stride_w;
  p.dilation_h = s.dilation_h, p.dilation_w = s.dilation_w;
  p.pad_top = s.pad_top, p.pad_left = s.pad_left;
  p.input_offset = -s.input_zero_point;
  p.weight_offset = -s.weight_zero_point[0];
  RequantParams rq;
  rq.multiplier = s.multiplier;
  rq.shift = s.shift;
  rq.output_offset = s.output_zero_point;
  rq.act_min = s.act_min;
  rq.act_max = s.act_max;
  const Shape in{s.batch, s.in_h, s.in_w, s.in_c}, filter{s.out_c, s.kernel_h, s.kernel_w, s.in_c},
      out{s.batch, s.out_h, s.out_w, s.out_c};
  std::vector<uint8_t> result(static_cast<size_t>(s.batch) * s.out_h * s.out_w * s.out_c);
  if (s.input_signed)
    conv_2d(p, rq, in, reinterpret_cast<const int8_t*>(c.input.data()), filter,
            reinterpret_cast<const int8_t*>(c.weights.data()), s.bias.data(), out,
            reinterpret_cast<int8_t*>(result.data()));
  else
    conv_2d(p, rq, in, c.input.data(), filter, c.weights.data(), s.bias.data(), out, result.data());
  return result;
}

using testing::naive_conv;

bool direct_available() {
  if (!small_conv_cpu_ok() || !fast_conv_supported()) {
    WARN(
        "this CPU has no AVX-512 VNNI: the direct kernel is not used here, "
        "nothing to test");
    return false;
  }
  return true;
}

}  // namespace

TEST_CASE("direct small-depth convolution equals the ref kernel on random shapes", "[fast][small_conv]") {
  if (!direct_available()) return;
  std::mt19937 rng(2024);
  int direct = 0;
  for (bool uint8_model : {false, true})
    for (bool same : {false, true})
      for (bool per_channel : {false, true})
        for (int i = 0; i < 25; ++i) {
          const Case c = random_case(rng, uint8_model, same, per_channel && !uint8_model);
          INFO(describe(c.spec));
          std::string kernel;
          const std::vector<uint8_t> got = run_fast(c, 1 + i % 2, &kernel);
          if (kernel == "direct-vnni" || kernel == "pointwise-vnni") ++direct;
          REQUIRE(got == ref_conv(c));
        }
  // Nearly every case qualifies (in_c <= 48, window within the register budget; 1x1
  // convolutions from 32 channels on take the pointwise kernel).
  CHECK(direct >= 190);
}

TEST_CASE(
    "direct convolution: per-channel weight zero points (per-channel "
    "correction)",
    "[fast][small_conv]") {
  // ref takes one weight zero point; FastConvSpec allows one per channel, which makes the
  // kernel multiply each pixel's window sum by a per-channel c instead of a shared one.
  // int8 weights with non-zero zero points exercise c = -zw with the +128 input offset.
  if (!direct_available()) return;
  std::mt19937 rng(77);
  for (bool uint8_model : {false, true})
    for (int i = 0; i < 20; ++i) {
      Case c = random_case(rng, uint8_model, i % 2 == 0, true);
      for (auto& zw : c.spec.weight_zero_point) zw = uint8_model ? pick(rng, 0, 255) : pick(rng, -20, 20);
      INFO(describe(c.spec));
      std::string kernel;
      const std::vector<uint8_t> got = run_fast(c, 2, &kernel);
      CHECK((kernel == "direct-vnni" || kernel == "pointwise-vnni"));
      REQUIRE(got == naive_conv(c));
    }
}

TEST_CASE("direct convolution on the benchmarked model shapes", "[fast][small_conv]") {
  // 112x112x16 -> 96 1x1 (MobileNetV2's first expansion) and the 3-channel 3x3 stride-2
  // first layers (224x224 MobileNetV2; 513x513 DeepLabV3, cut to 65x65 to keep ref fast).
  if (!direct_available()) return;
  std::mt19937 rng(5);
  struct Geometry {
    int in_hw, in_c, out_c, k, stride;
  };
  for (const Geometry& g : {Geometry{112, 16, 96, 1, 1}, Geometry{224, 3, 32, 3, 2}, Geometry{65, 3, 16, 3, 2}})
    for (bool uint8_model : {false, true}) {
      Case c = random_case(rng, uint8_model, true, !uint8_model);
      FastConvSpec& s = c.spec;
      s.batch = 1, s.in_h = s.in_w = g.in_hw, s.in_c = g.in_c, s.kernel_h = s.kernel_w = g.k;
      s.stride_h = s.stride_w = g.stride, s.dilation_h = s.dilation_w = 1;
      s.out_h = s.out_w = (g.in_hw + g.stride - 1) / g.stride;
      s.pad_top = s.pad_left = std::max(0, ((s.out_h - 1) * g.stride + g.k - g.in_hw) / 2);
      s.out_c = g.out_c;
      s.weight_zero_point.assign(static_cast<size_t>(g.out_c), s.weight_zero_point[0]);
      s.bias.resize(static_cast<size_t>(g.out_c), 123);
      s.multiplier.resize(static_cast<size_t>(g.out_c), s.multiplier[0]);
      s.shift.resize(static_cast<size_t>(g.out_c), s.shift[0]);
      c.weights.resize(static_cast<size_t>(g.out_c) * g.k * g.k * g.in_c);
      for (auto& b : c.weights) b = static_cast<uint8_t>(rng());
      c.input.resize(static_cast<size_t>(g.in_hw) * g.in_hw * g.in_c);
      for (auto& b : c.input) b = static_cast<uint8_t>(rng());
      s.weights = c.weights.data();
      INFO(describe(s));
      std::string kernel;
      const std::vector<uint8_t> got = run_fast(c, 2, &kernel);
      CHECK(kernel == "direct-vnni");
      REQUIRE(got == ref_conv(c));
    }
}

TEST_CASE(
    "direct convolution's one-rounding requantization equals the scalar "
    "reference",
    "[fast][small_conv]") {
  // The kernel merges TFLite's two roundings into one shift (requant_avx512.hpp); ties (p +
  // 2^30 a multiple of 2^31, remainders of exactly half) are where a wrong merge shows, so
  // half the accumulators are built to hit them.
  if (!direct_available()) return;
  std::mt19937 rng(9);
  std::uniform_int_distribution<int32_t> any(INT32_MIN, INT32_MAX);
  for (int trial = 0; trial < 400; ++trial) {
    const int channels = 1 + trial % 37;
    const bool is_signed = trial % 2 == 0;
    ChannelRequant rq;
    std::vector<int32_t> acc;
    for (int c = 0; c < channels; ++c) {
      const int kind = static_cast<int>(rng() % 5);
      int32_t m;
      int shift;
      const int deepest = kSmallConvMaxRightShift;
      if (kind == 0) {  // exactly 2^30 * 2^shift: every odd product is a tie
        m = int32_t{1} << 30;
        shift = -static_cast<int>(rng() % (deepest + 1));
      } else if (kind == 1) {  // extremes of the significand and of the shift
        m = rng() % 2 ? INT32_MAX : 0;
        shift = rng() % 2 ? -deepest : -static_cast<int>(rng() % (deepest + 1));
      } else if (kind == 2) {  // left shifts (the accumulator wraps first, as in TFLite)
        const QuantizedMultiplier q =
            quantize_multiplier(std::ldexp(1.0 + (rng() % 1000) / 1000.0, static_cast<int>(rng() % 6)));
        m = q.multiplier, shift = q.shift;
      } else {
        const QuantizedMultiplier q =
            quantize_multiplier(std::ldexp((rng() % 1000 + 1) / 1000.0, -static_cast<int>(rng() % 13)));
        m = q.multiplier, shift = q.shift;
      }
      rq.multiplier.push_back(m);
      rq.shift.push_back(shift);
      int32_t a = trial % 3 == 0 ? any(rng) : any(rng) >> (rng() % 24);
      if (kind == 0 && rng() % 2) {
        // With m = 2^30 the first rounding is acc / 2 (a tie when acc is odd); for an even
        // acc = 2 h, make h's remainder modulo 2^r exactly half, a tie of the second
        // rounding.
        const int r = -shift;
        const int64_t q = static_cast<int64_t>(any(rng) >> (r + 2));
        const int64_t h = q * (int64_t{1} << r) + (r > 0 ? int64_t{1} << (r - 1) : 0);
        a = static_cast<int32_t>(2 * h);
      }
      if (rng() % 8 == 0) a = rng() % 2 ? INT32_MIN : INT32_MAX;
      acc.push_back(a);
    }
    rq.output_zero_point = is_signed ? static_cast<int32_t>(rng() % 256) - 128 : static_cast<int32_t>(rng() % 256);
    // Full type ranges (the saturating conversions clamp), a raised minimum only (uint8:
    // the low clamp and the unsigned saturation), and both ends narrowed.
    rq.act_min = is_signed ? -128 : 0;
    rq.act_max = is_signed ? 127 : 255;
    if (trial % 4 == 1) rq.act_min += 10, rq.act_max -= 30;
    if (trial % 4 == 2) rq.act_min += 7;
    std::vector<uint8_t> got(static_cast<size_t>(channels)), want(got.size());
    small_conv_requantize(rq, acc.data(), channels, is_signed, got.data());
    for (int c = 0; c < channels; ++c) {
      const int32_t v = multiply_by_quantized_multiplier(
          acc[static_cast<size_t>(c)], rq.multiplier[static_cast<size_t>(c)], rq.shift[static_cast<size_t>(c)]);
      want[static_cast<size_t>(c)] = static_cast<uint8_t>(
          clamp_i32(static_cast<int32_t>(static_cast<uint32_t>(v) + static_cast<uint32_t>(rq.output_zero_point)),
                    rq.act_min, rq.act_max));
    }
    INFO("trial " << trial);
    REQUIRE(got == want);
  }
}

TEST_CASE("TESSEL_SMALL_CONV=0 keeps such shapes on oneDNN, with the same bytes", "[fast][small_conv]") {
  if (!direct_available()) return;
  std::mt19937 rng(31);
  const Case c = random_case(rng, true, true, false);
  std::string direct_kernel, onednn_kernel;
  const std::vector<uint8_t> direct = run_fast(c, 1, &direct_kernel);
  setenv("TESSEL_SMALL_CONV", "0", 1);
  const std::vector<uint8_t> onednn = run_fast(c, 1, &onednn_kernel);
  unsetenv("TESSEL_SMALL_CONV");
  CHECK(direct_kernel == "direct-vnni");
  CHECK(onednn_kernel == "onednn");
  REQUIRE(direct == onednn);
}

TEST_CASE("small_conv_fits: what the direct kernel takes", "[fast][small_conv]") {
  FastConvSpec s;
  s.in_c = 16, s.out_c = 96;
  s.multiplier.assign(96, 1 << 30);
  CHECK(small_conv_fits(s));  // 1x1, 16 channels: 4 groups
  CHECK(small_conv_groups(s) == 4);
  s.in_c = 3, s.kernel_h = s.kernel_w = 3;
  CHECK(small_conv_groups(s) == 9);  // per row 9 bytes -> 3 groups
  s.dilation_w = 2;
  CHECK(small_conv_groups(s) == 9);  // per tap 3 bytes -> 1 group each
  s.in_c = 8, s.dilation_w = 1;
  CHECK(small_conv_groups(s) == 18);  // 24 bytes per row: too many registers
  CHECK_FALSE(small_conv_fits(s));
  s.in_c = 3, s.depthwise = true;
  CHECK_FALSE(small_conv_fits(s));
  s.depthwise = false;
  CHECK(small_conv_fits(s));
  s.shift.assign(96, -kSmallConvMaxRightShift);
  CHECK(small_conv_fits(s));
  s.shift[5] = -kSmallConvMaxRightShift - 1;  // the zero point no longer folds safely
  CHECK_FALSE(small_conv_fits(s));
}

namespace {

// Redraws a case's tensors and per-channel vectors after its geometry changed: weights and
// input at random, per-channel entries copied from random existing channels (so per-channel
// multipliers keep their mix of left shifts and deep right shifts).
void redraw(Case& c, std::mt19937& rng) {
  FastConvSpec& s = c.spec;
  c.weights.resize(static_cast<size_t>(s.out_c) * s.kernel_h * s.kernel_w * s.in_c);
  for (auto& b : c.weights) b = static_cast<uint8_t>(rng());
  c.input.resize(static_cast<size_t>(s.batch) * s.in_h * s.in_w * s.in_c);
  for (auto& b : c.input) b = static_cast<uint8_t>(rng());
  s.weights = c.weights.data();
  const size_t had = s.bias.size();
  std::vector<int32_t> zw, bias, mult, shift;
  for (int oc = 0; oc < s.out_c; ++oc) {
    const size_t from = rng() % had;
    zw.push_back(s.weight_zero_point[from]);
    bias.push_back(pick(rng, -40000, 40000));
    mult.push_back(s.multiplier[from]);
    shift.push_back(s.shift[from]);
  }
  s.weight_zero_point = zw, s.bias = bias, s.multiplier = mult, s.shift = shift;
}

// A random 1x1, stride-1, unpadded convolution with `in_c` input channels: odd widths and
// pixel counts (partial tiles of 6, 8 or 12 pixels and partial gathers of 16), sometimes
// more pixels than one packed chunk holds, and output depths around the 16-channel blocks
// and 4-block quads (tails of 1, 2 and 3 blocks, partial blocks).
Case pointwise_case(std::mt19937& rng, bool uint8_model, bool per_channel, int in_c) {
  Case c = random_case(rng, uint8_model, false, per_channel);
  FastConvSpec& s = c.spec;
  s.kernel_h = s.kernel_w = s.stride_h = s.stride_w = s.dilation_h = s.dilation_w = 1;
  s.pad_top = s.pad_left = 0;
  s.in_c = in_c;
  const bool big = pick(rng, 0, 4) == 0;  // beyond one chunk (16 KB of packed input)
  s.in_h = s.out_h = big ? pick(rng, 20, 40) : pick(rng, 1, 9);
  s.in_w = s.out_w = big ? pick(rng, 20, 41) : pick(rng, 1, 23);
  const int quads = pick(rng, 0, 3);
  s.out_c = pick(rng, 0, 2) == 0 ? 64 * quads + 16 * pick(rng, 1, 3) + pick(rng, -1, 1) : pick(rng, 1, 300);
  s.out_c = std::max(1, s.out_c);
  redraw(c, rng);
  return c;
}

int mid_depth(std::mt19937& rng) {
  switch (pick(rng, 0, 3)) {
    case 0: return 4 * pick(rng, 8, 96);  // multiples of 4, 32..384
    case 1: return pick(rng, 32, 384);    // any, a partial last 4-byte group
    case 2: return pick(rng, 0, 1) ? 32 : 384;
    default: return pick(rng, 33, 99);
  }
}

}  // namespace

TEST_CASE("pointwise convolution equals the ref kernel on random mid-depth shapes", "[fast][small_conv]") {
  if (!direct_available()) return;
  std::mt19937 rng(4242);
  for (bool uint8_model : {false, true})
    for (bool per_channel : {false, true})
      for (int i = 0; i < 30; ++i) {
        const Case c = pointwise_case(rng, uint8_model, per_channel && !uint8_model, mid_depth(rng));
        INFO(describe(c.spec));
        std::string kernel;
        const std::vector<uint8_t> got = run_fast(c, 1 + i % 2, &kernel);
        CHECK(kernel == "pointwise-vnni");
        REQUIRE(got == ref_conv(c));
      }
}

TEST_CASE("pointwise convolution: per-channel weight zero points", "[fast][small_conv]") {
  if (!direct_available()) return;
  std::mt19937 rng(99);
  for (bool uint8_model : {false, true})
    for (int i = 0; i < 16; ++i) {
      Case c = pointwise_case(rng, uint8_model, true, mid_depth(rng));
      for (auto& zw : c.spec.weight_zero_point) zw = uint8_model ? pick(rng, 0, 255) : pick(rng, -20, 20);
      INFO(describe(c.spec));
      std::string kernel;
      const std::vector<uint8_t> got = run_fast(c, 2, &kernel);
      CHECK(kernel == "pointwise-vnni");
      REQUIRE(got == naive_conv(c));
    }
}

TEST_CASE("pointwise convolution at every depth it fits (TESSEL_POINTWISE_CONV=all)", "[fast][small_conv]") {
  // Below 32 channels (the direct kernel's range) and beyond the chosen range: the kernel
  // is exact wherever it fits, whatever FastConv picks.
  if (!direct_available()) return;
  std::mt19937 rng(7);
  setenv("TESSEL_POINTWISE_CONV", "all", 1);
  for (bool uint8_model : {false, true})
    for (int i = 0; i < 24; ++i) {
      const int in_c = i < 16 ? pick(rng, 1, 31) : pick(rng, 385, 700);
      const Case c = pointwise_case(rng, uint8_model, !uint8_model, in_c);
      INFO(describe(c.spec));
      std::string kernel;
      const std::vector<uint8_t> got = run_fast(c, 1 + i % 2, &kernel);
      CHECK(kernel == "pointwise-vnni");
      REQUIRE(got == ref_conv(c));
    }
  unsetenv("TESSEL_POINTWISE_CONV");
}

TEST_CASE("pointwise convolution: right shifts up to the limit; beyond it oneDNN", "[fast][small_conv]") {
  if (!direct_available()) return;
  std::mt19937 rng(12);
  for (bool uint8_model : {false, true})
    for (int deepest : {kSmallConvMaxRightShift, kSmallConvMaxRightShift + 1}) {
      Case c = pointwise_case(rng, uint8_model, false, 64);
      FastConvSpec& s = c.spec;
      for (size_t oc = 0; oc < s.shift.size(); oc += 3) {
        s.multiplier[oc] = oc % 2 ? INT32_MAX : (1 << 30);
        s.shift[oc] = -deepest;
      }
      s.output_zero_point = uint8_model ? 255 : -128;  // the largest zero point folded at 2^(31+r)
      INFO(describe(s) << " deepest right shift " << deepest);
      std::string kernel;
      const std::vector<uint8_t> got = run_fast(c, 1, &kernel);
      CHECK(kernel == std::string(deepest <= kSmallConvMaxRightShift ? "pointwise-vnni" : "onednn"));
      REQUIRE(got == ref_conv(c));
    }
}

TEST_CASE("pointwise convolution on the benchmarked model shapes", "[fast][small_conv]") {
  // MobileNetV2's and DeepLabV3's 1x1 expansions and projections that take the kernel.
  if (!direct_available()) return;
  std::mt19937 rng(3);
  struct Geometry {
    int hw, in_c, out_c;
  };
  for (const Geometry& g : {Geometry{33, 80, 480}, Geometry{14, 96, 576}, Geometry{33, 160, 256},
                            Geometry{7, 320, 1280}, Geometry{28, 144, 32}})
    for (bool uint8_model : {false, true}) {
      Case c = pointwise_case(rng, uint8_model, !uint8_model, g.in_c);
      FastConvSpec& s = c.spec;
      s.in_h = s.in_w = s.out_h = s.out_w = g.hw;
      s.out_c = g.out_c;
      redraw(c, rng);
      INFO(describe(s));
      std::string kernel;
      const std::vector<uint8_t> got = run_fast(c, 2, &kernel);
      CHECK(kernel == "pointwise-vnni");
      REQUIRE(got == ref_conv(c));
    }
}
