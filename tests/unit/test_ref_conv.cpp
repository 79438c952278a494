// Question answered: do the conv group's reference kernels and bindings (CONV_2D,
// DEPTHWISE_CONV_2D, TRANSPOSE_CONV, FULLY_CONNECTED, BATCH_MATMUL, AVERAGE_POOL_2D,
// MAX_POOL_2D) compute exactly what TFLite's reference kernels compute — padding, strides,
// dilation, zero points, per-channel multipliers derived the way TFLite derives them,
// rounding ties, saturation, fused activations — and do they reject what TFLite rejects
// or Tessel does not support, with a message that says why?
//
// Expected values are either worked out by hand (small cases, the arithmetic in the
// comments) or computed by the straightforward per-output loops below, which share only
// the requantization helpers of quant.hpp with the code under test.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "op_test_util.hpp"
#include "tessel/cpu/conv_params.hpp"
#include "tessel/cpu/op_registry.hpp"
#include "tessel/kernels/quant.hpp"

using namespace tessel;
using ir::DType;
using test::OpTest;
using test::quant;
using test::quant_per_axis;

namespace {

const cpu::OpRegistry& registry() {
  static const cpu::OpRegistry r = [] {
    cpu::OpRegistry x;
    cpu::register_ref_conv_ops(x);
    return x;
  }();
  return r;
}

// ---------------------------------------------------------------------------------------
// Values of any integer dtype travel as int64 in the test and as bytes in the graph.

std::vector<uint8_t> bytes_of(DType t, const std::vector<int64_t>& v) {
  auto pack = [&](auto zero) {
    using T = decltype(zero);
    std::vector<T> typed(v.begin(), v.end());
    return test::as_bytes(typed);
  };
  switch (t) {
    case DType::i8: return pack(int8_t{});
    case DType::u8: return pack(uint8_t{});
    case DType::i16: return pack(int16_t{});
    case DType::i32: return pack(int32_t{});
    case DType::i64: return pack(int64_t{});
    default: FAIL("bytes_of: unexpected dtype"); return {};
  }
}

std::vector<int64_t> values_of(DType t, const std::vector<uint8_t>& b) {
  auto unpack = [&](auto zero) {
    using T = decltype(zero);
    std::vector<T> typed = test::from_bytes<T>(b.data(), b.size());
    return std::vector<int64_t>(typed.begin(), typed.end());
  };
  switch (t) {
    case DType::i8: return unpack(int8_t{});
    case DType::u8: return unpack(uint8_t{});
    case DType::i16: return unpack(int16_t{});
    default: FAIL("values_of: unexpected dtype"); return {};
  }
}

struct Range {
  int64_t lo, hi;
};
Range range_of(DType t) {
  switch (t) {
    case DType::i8: return {-128, 127};
    case DType::u8: return {0, 255};
    case DType::i16: return {-32768, 32767};
    default: return {0, 0};
  }
}

std::vector<int64_t> random_ints(size_t n, int64_t lo, int64_t hi, std::mt19937& rng) {
  std::uniform_int_distribution<int64_t> d(lo, hi);
  std::vector<int64_t> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(-2.0f, 2.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

int pick(std::mt19937& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

int64_t size_of(const std::vector<int32_t>& s) {
  int64_t n = 1;
  for (int32_t d : s) n *= d;
  return n;
}

// ---------------------------------------------------------------------------------------
// The reference arithmetic, written independently of the kernels.

// TFLite's two real-multiplier formulas (see MANIFEST-uint8.md and kernel_util.cc).
kernels::QuantizedMultiplier double_product(float s_in, float s_w, float s_out) {
  return kernels::quantize_multiplier(double{s_in} * double{s_w} / double{s_out});
}
kernels::QuantizedMultiplier float_product(float s_in, float s_w, float s_out) {
  const float p = s_in * s_w;
  return kernels::quantize_multiplier(double{p} / double{s_out});
}

int32_t scale_acc(int64_t acc, kernels::QuantizedMultiplier m, bool wide) {
  return wide ? kernels::multiply_by_quantized_multiplier(acc, m.multiplier, m.shift)
              : kernels::multiply_by_quantized_multiplier(static_cast<int32_t>(acc), m.multiplier,
                                                          m.shift);
}

// The clamp of a fused activation in the output's quantized domain.
Range act_range(int act, float scale, int64_t zp, DType t) {
  const Range r = range_of(t);
  auto q = [&](float f) { return zp + static_cast<int64_t>(std::round(f / scale)); };
  switch (act) {
    case 1: return {std::max(r.lo, q(0.0f)), r.hi};
    case 2: return {std::max(r.lo, q(-1.0f)), std::min(r.hi, q(1.0f))};
    case 3: return {std::max(r.lo, q(0.0f)), std::min(r.hi, q(6.0f))};
    default: return r;
  }
}

float act_clamp_float(float v, int act) {
  switch (act) {
    case 1: return std::max(v, 0.0f);
    case 2: return std::min(std::max(v, -1.0f), 1.0f);
    case 3: return std::min(std::max(v, 0.0f), 6.0f);
    default: return v;
  }
}

// Output size and leading padding of one spatial dimension: SAME keeps ceil(in / stride)
// outputs, VALID the windows that fit; the total padding is split with the odd one after.
struct Dim {
  int out, pad;
};
Dim window_dim(int padding, int in, int k, int stride, int dilation) {
  const int span = (k - 1) * dilation + 1;
  const int out =
      padding == 0 ? (in + stride - 1) / stride : (in >= span ? (in - span) / stride + 1 : 0);
  const int total = std::max(0, (out - 1) * stride + span - in);
  return {out, total / 2};
}

// Everything a quantized conv-like case needs.
struct QuantCase {
  DType act_type = DType::i8;  // activations; weights are int8 except for uint8
  DType weight_type = DType::i8;
  float s_in = 1, s_out = 1;
  std::vector<float> s_w;  // one (per tensor) or one per output channel
  int64_t zp_in = 0, zp_out = 0, zp_w = 0;
  int activation = 0;
  bool wide() const { return act_type == DType::i16; }
  DType bias_type() const { return wide() ? DType::i64 : DType::i32; }
  kernels::QuantizedMultiplier multiplier(int channel, bool legacy) const {
    const float w = s_w.size() == 1 ? s_w[0] : s_w[static_cast<size_t>(channel)];
    return legacy ? float_product(s_in, w, s_out) : double_product(s_in, w, s_out);
  }
  int64_t requant(int64_t acc, int channel, bool legacy) const {
    const Range r = act_range(activation, s_out, zp_out, act_type);
    const int64_t v = scale_acc(acc, multiplier(channel, legacy), wide()) + zp_out;
    return std::min(std::max(v, r.lo), r.hi);
  }
  ir::Quantization weight_quant(int axis) const {
    if (s_w.size() == 1) return quant(s_w[0], zp_w);
    return quant_per_axis(s_w, axis);
  }
  ir::Quantization bias_quant() const {
    if (s_w.size() == 1) return quant(s_in * s_w[0], 0);
    std::vector<float> s;
    for (float w : s_w) s.push_back(s_in * w);
    return quant_per_axis(s, 0);
  }
};

// Random quantization whose output scale keeps typical accumulators of `taps` products
// inside the output range (so both rounding and saturation occur).
QuantCase random_quant(std::mt19937& rng, DType act_type, int channels, bool per_channel,
                       int taps) {
  QuantCase q;
  q.act_type = act_type;
  q.weight_type = act_type == DType::u8 ? DType::u8 : DType::i8;
  std::uniform_real_distribution<float> f(0.5f, 2.0f);
  q.s_in = 0.02f * f(rng);
  const int n = per_channel ? channels : 1;
  for (int c = 0; c < n; ++c) q.s_w.push_back(0.01f * f(rng));
  const float typical = act_type == DType::i16 ? 16384.0f * 64.0f : 64.0f * 64.0f;
  const float out_range = act_type == DType::i16 ? 32768.0f : 128.0f;
  q.s_out = q.s_in * q.s_w[0] * typical * std::sqrt(static_cast<float>(taps)) / out_range * f(rng);
  if (act_type == DType::i8) {
    q.zp_in = pick(rng, -20, 20);
    q.zp_out = pick(rng, -20, 20);
  } else if (act_type == DType::u8) {
    q.zp_in = pick(rng, 100, 150);
    q.zp_out = pick(rng, 100, 150);
    q.zp_w = pick(rng, 100, 150);
  }
  q.activation = pick(rng, 0, 3);
  return q;
}

// Random activations / weights of the case's dtypes.
std::vector<int64_t> random_activations(const QuantCase& q, size_t n, std::mt19937& rng) {
  const Range r = range_of(q.act_type);
  return random_ints(n, r.lo, r.hi, rng);
}
std::vector<int64_t> random_weights(const QuantCase& q, size_t n, std::mt19937& rng) {
  return q.weight_type == DType::u8 ? random_ints(n, 0, 255, rng) : random_ints(n, -127, 127, rng);
}
std::vector<int64_t> random_bias(const QuantCase& q, size_t n, std::mt19937& rng) {
  return q.wide() ? random_ints(n, -3000000, 3000000, rng) : random_ints(n, -30000, 30000, rng);
}

void conv_attrs(OpTest& t, int padding, int stride_h, int stride_w, int dil_h = 1, int dil_w = 1,
                int act = 0) {
  t.attr("padding", padding);
  t.attr("stride_h", stride_h);
  t.attr("stride_w", stride_w);
  t.attr("dilation_h_factor", dil_h);
  t.attr("dilation_w_factor", dil_w);
  t.attr("fused_activation_function", act);
}

void pool_attrs(OpTest& t, int padding, int stride_h, int stride_w, int filter_h, int filter_w,
                int act = 0) {
  t.attr("padding", padding);
  t.attr("stride_h", stride_h);
  t.attr("stride_w", stride_w);
  t.attr("filter_height", filter_h);
  t.attr("filter_width", filter_w);
  t.attr("fused_activation_function", act);
}

std::vector<int8_t> i8(std::initializer_list<int> v) {
  return std::vector<int8_t>(v.begin(), v.end());
}
std::vector<int32_t> i32(std::initializer_list<int> v) {
  return std::vector<int32_t>(v.begin(), v.end());
}

// A single-op int8 CONV_2D with per-tensor scales, for the hand-computed cases.
std::vector<int8_t> run_int8_conv(const std::vector<int32_t>& in_shape,
                                  const std::vector<int8_t>& input,
                                  const std::vector<int32_t>& w_shape,
                                  const std::vector<int8_t>& weights,
                                  const std::vector<int32_t>& out_shape, int padding, int stride,
                                  int dilation, float s_in, float s_w, float s_out,
                                  int64_t zp_in = 0, int64_t zp_out = 0, int act = 0,
                                  const std::vector<int32_t>& bias = {}) {
  OpTest t(ir::OpType::CONV_2D);
  t.input("x", DType::i8, in_shape, quant(s_in, zp_in));
  t.constant("w", DType::i8, w_shape, weights, quant(s_w, 0));
  if (!bias.empty()) t.constant("b", DType::i32, {w_shape[0]}, bias, quant(s_in * s_w, 0));
  t.output("y", DType::i8, out_shape, quant(s_out, zp_out));
  conv_attrs(t, padding, stride, stride, dilation, dilation, act);
  return t.run<int8_t>(registry(), {test::as_bytes(input)});
}

const std::vector<int8_t> kGrid3x3 = i8({1, 2, 3, 4, 5, 6, 7, 8, 9});

}  // namespace

// =======================================================================================
// Shared parameter derivation

TEST_CASE("conv_output_size and conv_padding follow TFLite's padding arithmetic") {
  using cpu::conv_output_size;
  CHECK(conv_output_size(ir::Padding::same, 7, 3, 2, 1) == 4);
  CHECK(conv_output_size(ir::Padding::valid, 7, 3, 2, 1) == 3);
  CHECK(conv_output_size(ir::Padding::valid, 7, 3, 2, 2) == 2);  // 5-tap span
  CHECK(conv_output_size(ir::Padding::valid, 3, 5, 1, 1) <= 0);
  // Total padding 1 (even filter, SAME, stride 1): none before, the odd one after.
  CHECK(cpu::conv_padding(3, 2, 1, 1, 3).before == 0);
  CHECK(cpu::conv_padding(3, 2, 1, 1, 3).after == 1);
  // 224 -> 112 with a 3x3 stride-2 SAME conv: total 1, so 0 before and 1 after.
  CHECK(cpu::conv_padding(224, 3, 2, 1, 112).before == 0);
  CHECK(cpu::conv_padding(224, 3, 2, 1, 112).after == 1);
  // Total 2: one each side.
  CHECK(cpu::conv_padding(5, 3, 1, 1, 5).before == 1);
  CHECK(cpu::conv_padding(5, 3, 1, 1, 5).after == 1);
}

TEST_CASE("per-channel and float-product multipliers are TFLite's two formulas") {
  // Scales whose float product differs from their double product.
  const float s_in = 0.0123f, s_w = 0.0456f, s_out = 0.0789f;
  const kernels::QuantizedMultiplier d = cpu::per_channel_multiplier(s_in, s_w, s_out);
  const kernels::QuantizedMultiplier f = cpu::float_product_multiplier(s_in, s_w, s_out);
  CHECK(d.multiplier == double_product(s_in, s_w, s_out).multiplier);
  CHECK(f.multiplier == float_product(s_in, s_w, s_out).multiplier);
  CHECK(d.multiplier != f.multiplier);
}

TEST_CASE("multiplier_rule picks TFLite's formula per operator and dtype") {
  using cpu::MultiplierRule;
  ir::Tensor i8_t, u8_t, w_pt, w_pc;
  i8_t.dtype = DType::i8;
  u8_t.dtype = DType::u8;
  w_pt.quant = quant(0.5f, 0);
  w_pc.quant = quant_per_axis({0.5f, 0.25f}, 0);
  CHECK(cpu::multiplier_rule(ir::OpType::CONV_2D, i8_t, w_pt) == MultiplierRule::per_channel);
  CHECK(cpu::multiplier_rule(ir::OpType::CONV_2D, u8_t, w_pt) == MultiplierRule::float_product);
  CHECK(cpu::multiplier_rule(ir::OpType::TRANSPOSE_CONV, u8_t, w_pt) ==
        MultiplierRule::float_product);
  CHECK(cpu::multiplier_rule(ir::OpType::FULLY_CONNECTED, i8_t, w_pt) ==
        MultiplierRule::float_product);
  CHECK(cpu::multiplier_rule(ir::OpType::FULLY_CONNECTED, i8_t, w_pc) ==
        MultiplierRule::per_channel);
  CHECK(cpu::multiplier_rule(ir::OpType::BATCH_MATMUL, i8_t, w_pt) ==
        MultiplierRule::float_product);
  CHECK_THROWS_AS(cpu::multiplier_rule(ir::OpType::ADD, i8_t, w_pt), Error);
}

// =======================================================================================
// CONV_2D

TEST_CASE("CONV_2D int8 VALID 3x3 input, 2x2 filter, bias: hand-computed") {
  // real multiplier 0.5 * 2 / 1 = 1, so outputs are the raw sums.
  // (0,0) = 1*1 + 2*2 + 4*3 + 5*4 + 10 = 47, (0,1) = 2+6+15+24+10 = 57,
  // (1,0) = 4+10+21+32+10 = 77, (1,1) = 5+12+24+36+10 = 87.
  auto y = run_int8_conv({1, 3, 3, 1}, kGrid3x3, {1, 2, 2, 1}, i8({1, 2, 3, 4}), {1, 2, 2, 1}, 1, 1,
                         1, 0.5f, 2.0f, 1.0f, 0, 0, 0, i32({10}));
  CHECK(y == i8({47, 57, 77, 87}));
}

TEST_CASE("CONV_2D int8 input and output zero points") {
  // zp_in 1 removes sum(w) = 10 from every output; zp_out -5 shifts it: 47-10-5 = 32, ...
  auto y = run_int8_conv({1, 3, 3, 1}, kGrid3x3, {1, 2, 2, 1}, i8({1, 2, 3, 4}), {1, 2, 2, 1}, 1, 1,
                         1, 0.5f, 2.0f, 1.0f, 1, -5, 0, i32({10}));
  CHECK(y == i8({32, 42, 62, 72}));
}

TEST_CASE("CONV_2D SAME vs VALID with a 3x3 filter of ones") {
  const std::vector<int8_t> ones(9, 1);
  // SAME: each output is the sum of the in-image part of its 3x3 neighbourhood.
  CHECK(run_int8_conv({1, 3, 3, 1}, kGrid3x3, {1, 3, 3, 1}, ones, {1, 3, 3, 1}, 0, 1, 1, 1, 1, 1) ==
        i8({12, 21, 16, 27, 45, 33, 24, 39, 28}));
  // VALID: the single full window.
  CHECK(run_int8_conv({1, 3, 3, 1}, kGrid3x3, {1, 3, 3, 1}, ones, {1, 1, 1, 1}, 1, 1, 1, 1, 1, 1) ==
        i8({45}));
}

TEST_CASE("CONV_2D SAME with an even filter pads after, not before") {
  // 2x2 filter, stride 1, 3x3 input: total padding 1, all of it after (TFLite's offset),
  // so output (y, x) sums rows y..y+1 and columns x..x+1.
  const std::vector<int8_t> ones(4, 1);
  CHECK(run_int8_conv({1, 3, 3, 1}, kGrid3x3, {1, 2, 2, 1}, ones, {1, 3, 3, 1}, 0, 1, 1, 1, 1, 1) ==
        i8({12, 16, 9, 24, 28, 15, 15, 17, 9}));
}

TEST_CASE("CONV_2D stride 2 SAME picks every other window centre") {
  // out = ceil(3/2) = 2, total padding (2-1)*2 + 3 - 3 = 2: one before. Windows centred on
  // (0,0), (0,2), (2,0), (2,2).
  const std::vector<int8_t> ones(9, 1);
  CHECK(run_int8_conv({1, 3, 3, 1}, kGrid3x3, {1, 3, 3, 1}, ones, {1, 2, 2, 1}, 0, 2, 1, 1, 1, 1) ==
        i8({12, 16, 24, 28}));
}

TEST_CASE("CONV_2D dilation 2 VALID") {
  // 5x5 input v(y,x) = 5y + x + 1; 2x2 ones dilated to a 3x3 span: out(y,x) = v(y,x) +
  // v(y,x+2) + v(y+2,x) + v(y+2,x+2) = 4(5y + x + 1) + 2 + 10 + 12 = 20y + 4x + 28.
  std::vector<int8_t> input;
  for (int i = 1; i <= 25; ++i) input.push_back(static_cast<int8_t>(i));
  const std::vector<int8_t> ones(4, 1);
  std::vector<int8_t> want;
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 3; ++x) want.push_back(static_cast<int8_t>(20 * y + 4 * x + 28));
  CHECK(run_int8_conv({1, 5, 5, 1}, input, {1, 2, 2, 1}, ones, {1, 3, 3, 1}, 1, 1, 2, 1, 1, 1) ==
        want);
}

TEST_CASE("CONV_2D rounds ties away from zero, with TFLite's double rounding") {
  // real multiplier 0.5 * 0.5 / 1 = 0.25 (Q31 2^30, shift -1) on a 1x1 identity conv: x / 4.
  // Exact ties: 2 -> 0.5 -> 1, 6 -> 1.5 -> 2, 10 -> 2.5 -> 3, and their mirror images.
  // Double rounding: 5 -> the high multiply gives 2.5, rounded up to 3, then 3 / 2 = 1.5
  // rounds away to 2 (not round(1.25) = 1); -5 -> -2.5 rounds up to -2, then -1.
  auto y = run_int8_conv({1, 1, 10, 1}, i8({2, 6, 10, -2, -6, -10, 5, -5, 3, -3}), {1, 1, 1, 1},
                         i8({1}), {1, 1, 10, 1}, 1, 1, 1, 0.5f, 0.5f, 1.0f);
  CHECK(y == i8({1, 2, 3, -1, -2, -3, 2, -1, 1, -1}));
}

TEST_CASE("CONV_2D int8 saturates at -128 and 127") {
  // 1x1 conv with weight 2, multiplier 1: 100 -> 200 -> 127, -100 -> -200 -> -128.
  auto y = run_int8_conv({1, 1, 4, 1}, i8({100, -100, 63, -64}), {1, 1, 1, 1}, i8({2}),
                         {1, 1, 4, 1}, 1, 1, 1, 1.0f, 1.0f, 1.0f);
  CHECK(y == i8({127, -128, 126, -128}));
}

TEST_CASE("CONV_2D RELU6 clamps to [q(0), q(6)] of the output") {
  // Output scale 0.05, zero point -128: q(0) = -128, q(6) = -128 + 120 = -8. Identity conv
  // with multiplier 0.05 * 1 / 0.05 = 1: x -> x - 128, then clamped.
  auto y = run_int8_conv({1, 1, 5, 1}, i8({-20, 0, 50, 120, 127}), {1, 1, 1, 1}, i8({1}),
                         {1, 1, 5, 1}, 1, 1, 1, 0.05f, 1.0f, 0.05f, 0, -128, 3);
  CHECK(y == i8({-128, -128, -78, -8, -8}));
}

TEST_CASE("CONV_2D int8 per-channel weights") {
  // Two output channels with weight scales 1 and 0.5 (multipliers 1 and 0.5), weights 1,
  // bias 1 and 2. Pixel 4: [4 + 1, (4 + 2) / 2] = [5, 3]; pixel -6: [-5, -2].
  OpTest t(ir::OpType::CONV_2D);
  t.input("x", DType::i8, {1, 1, 2, 1}, quant(1.0f, 0));
  t.constant("w", DType::i8, {2, 1, 1, 1}, i8({1, 1}), quant_per_axis({1.0f, 0.5f}, 0));
  t.constant("b", DType::i32, {2}, i32({1, 2}), quant_per_axis({1.0f, 0.5f}, 0));
  t.output("y", DType::i8, {1, 1, 2, 2}, quant(1.0f, 0));
  conv_attrs(t, 1, 1, 1);
  CHECK(t.run<int8_t>(registry(), {test::as_bytes(i8({4, -6}))}) == i8({5, 3, -5, -2}));
}

TEST_CASE("CONV_2D uint8 applies the weight zero point and saturates at 0 and 255") {
  // acc = (x - 128) * (125 - 120) = 5 (x - 128); multiplier 1; output zero point 100.
  // 130 -> 110, 120 -> 60, 160 -> 260 -> 255, 100 -> -40 -> 0.
  OpTest t(ir::OpType::CONV_2D);
  t.input("x", DType::u8, {1, 1, 4, 1}, quant(1.0f, 128));
  t.constant("w", DType::u8, {1, 1, 1, 1}, std::vector<uint8_t>{125}, quant(1.0f, 120));
  t.output("y", DType::u8, {1, 1, 4, 1}, quant(1.0f, 100));
  conv_attrs(t, 1, 1, 1);
  CHECK(t.run<uint8_t>(registry(), {test::as_bytes(std::vector<uint8_t>{130, 120, 160, 100})}) ==
        std::vector<uint8_t>{110, 60, 255, 0});
}

TEST_CASE("CONV_2D int16 x int8 with int64 bias saturates at int16 limits") {
  // Multiplier 1 through TFLite's 64-bit requantization: 1000 * 3 + 5 = 3005, -30000 * 3 + 5
  // -> -32768, 20000 * 3 + 5 -> 32767.
  OpTest t(ir::OpType::CONV_2D);
  t.input("x", DType::i16, {1, 1, 3, 1}, quant(1.0f, 0));
  t.constant("w", DType::i8, {1, 1, 1, 1}, i8({3}), quant(1.0f, 0));
  t.constant("b", DType::i64, {1}, std::vector<int64_t>{5}, quant(1.0f, 0));
  t.output("y", DType::i16, {1, 1, 3, 1}, quant(1.0f, 0));
  conv_attrs(t, 1, 1, 1);
  CHECK(t.run<int16_t>(registry(), {test::as_bytes(std::vector<int16_t>{1000, -30000, 20000})}) ==
        std::vector<int16_t>{3005, -32768, 32767});
}

TEST_CASE("CONV_2D float32 with bias and RELU6") {
  // 2x2 VALID on the 3x3 grid with weights [0.5, -1, 0.25, 2] and bias 0.5:
  // (0,0) = 0.5 - 2 + 1 + 10 + 0.5 = 10 -> 6; (0,1) = 1 - 3 + 1.25 + 12 + 0.5 = 11.75 -> 6;
  // with weights negated and no activation the sums flip sign.
  OpTest t(ir::OpType::CONV_2D);
  t.input("x", DType::f32, {1, 3, 3, 1});
  t.constant("w", DType::f32, {2, 2, 2, 1},
             std::vector<float>{0.5f, -1, 0.25f, 2, -0.5f, 1, -0.25f, -2});
  t.constant("b", DType::f32, {2}, std::vector<float>{0.5f, 0.0f});
  t.output("y", DType::f32, {1, 2, 2, 2});
  conv_attrs(t, 1, 1, 1, 1, 1, 3);
  auto y =
      t.run<float>(registry(), {test::as_bytes(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9})});
  // Channel 1 without bias: -(0.5x00 - x01 + 0.25x10 + 2x11) clamped below at 0.
  CHECK(y == std::vector<float>{6, 0, 6, 0, 6, 0, 6, 0});
}

TEST_CASE("CONV_2D grouped convolution reads each group's input channels") {
  // 4 input channels, filter input depth 2: 2 groups; output channels 0-1 read inputs
  // 0-1, outputs 2-3 read inputs 2-3. Weights pick single channels.
  OpTest t(ir::OpType::CONV_2D);
  t.input("x", DType::i8, {1, 1, 1, 4}, quant(1.0f, 0));
  t.constant("w", DType::i8, {4, 1, 1, 2}, i8({1, 0, 0, 1, 1, 0, 1, 1}), quant(1.0f, 0));
  t.output("y", DType::i8, {1, 1, 1, 4}, quant(1.0f, 0));
  conv_attrs(t, 1, 1, 1);
  // x = [10, 20, 30, 40]: group 0 -> [10, 20], group 1 -> [30, 30 + 40].
  CHECK(t.run<int8_t>(registry(), {test::as_bytes(i8({10, 20, 30, 40}))}) == i8({10, 20, 30, 70}));
}

TEST_CASE(
    "the multiplier rule follows the operator: double product for int8 conv, float product for FC "
    "and uint8") {
  // A small multiplier (7.1e-5), so that accumulators large enough to tell the two
  // multipliers apart still land inside the output range.
  const float s_in = 0.0123f, s_w = 0.0456f, s_out = 7.89f;
  const kernels::QuantizedMultiplier md = double_product(s_in, s_w, s_out);
  const kernels::QuantizedMultiplier mf = float_product(s_in, s_w, s_out);
  REQUIRE(md.multiplier != mf.multiplier);
  // An accumulator on which the two multipliers round differently.
  int32_t target = 0;
  for (int32_t a = 1; a < 3000000 && target == 0; ++a)
    if (kernels::multiply_by_quantized_multiplier(a, md.multiplier, md.shift) !=
        kernels::multiply_by_quantized_multiplier(a, mf.multiplier, mf.shift))
      target = a;
  REQUIRE(target != 0);
  const int8_t by_double = static_cast<int8_t>(
      kernels::multiply_by_quantized_multiplier(target, md.multiplier, md.shift) - 100);
  const int8_t by_float = static_cast<int8_t>(
      kernels::multiply_by_quantized_multiplier(target, mf.multiplier, mf.shift) - 100);
  // acc = 1 * 1 + (target - 1): the bias carries the accumulator.
  auto build = [&](ir::OpType type, DType act, DType wt, std::vector<int32_t> w_shape,
                   std::vector<int32_t> io_shape, int64_t zp_in, int64_t zp_w) {
    auto t = std::make_unique<OpTest>(type);
    t->input("x", act, io_shape, quant(s_in, zp_in));
    t->constant("w", wt, w_shape, bytes_of(wt, {1 + zp_w}), quant(s_w, zp_w));
    t->constant("b", DType::i32, {1}, i32({target - 1}), quant(s_in * s_w, 0));
    t->output("y", act, io_shape, quant(s_out, act == DType::u8 ? 28 : -100));
    if (type != ir::OpType::FULLY_CONNECTED) conv_attrs(*t, 1, 1, 1);
    return t;
  };
  auto conv = build(ir::OpType::CONV_2D, DType::i8, DType::i8, {1, 1, 1, 1}, {1, 1, 1, 1}, 0, 0);
  CHECK(conv->run<int8_t>(registry(), {test::as_bytes(i8({1}))})[0] == by_double);
  auto dw =
      build(ir::OpType::DEPTHWISE_CONV_2D, DType::i8, DType::i8, {1, 1, 1, 1}, {1, 1, 1, 1}, 0, 0);
  CHECK(dw->run<int8_t>(registry(), {test::as_bytes(i8({1}))})[0] == by_double);
  auto fc = build(ir::OpType::FULLY_CONNECTED, DType::i8, DType::i8, {1, 1}, {1, 1}, 0, 0);
  CHECK(fc->run<int8_t>(registry(), {test::as_bytes(i8({1}))})[0] == by_float);
  // uint8 conv: zero points 5 (input) and 7 (weights) keep (x - 5) (w - 7) = 1.
  auto u8 = build(ir::OpType::CONV_2D, DType::u8, DType::u8, {1, 1, 1, 1}, {1, 1, 1, 1}, 5, 7);
  const auto y = u8->run<uint8_t>(registry(), {test::as_bytes(std::vector<uint8_t>{6})});
  CHECK(static_cast<int>(y[0]) == static_cast<int>(by_float) + 128);
}

namespace {

// Straightforward CONV_2D: per output element, the sum over in-image taps.
std::vector<int64_t> naive_conv(const QuantCase& q, const std::vector<int32_t>& is,
                                const std::vector<int64_t>& x, const std::vector<int32_t>& ws,
                                const std::vector<int64_t>& w, const std::vector<int64_t>* bias,
                                const std::vector<int32_t>& os, int sh, int sw, int dh, int dw,
                                int pad_top, int pad_left) {
  const int cin = is[3], cout = ws[0], kh = ws[1], kw = ws[2], kc = ws[3];
  const int per_group = cout / (cin / kc);
  const bool legacy = q.act_type == DType::u8;
  std::vector<int64_t> y;
  for (int n = 0; n < os[0]; ++n)
    for (int oy = 0; oy < os[1]; ++oy)
      for (int ox = 0; ox < os[2]; ++ox)
        for (int oc = 0; oc < cout; ++oc) {
          int64_t acc = bias ? (*bias)[static_cast<size_t>(oc)] : 0;
          for (int ky = 0; ky < kh; ++ky)
            for (int kx = 0; kx < kw; ++kx) {
              const int iy = oy * sh - pad_top + ky * dh, ix = ox * sw - pad_left + kx * dw;
              if (iy < 0 || ix < 0 || iy >= is[1] || ix >= is[2]) continue;
              for (int i = 0; i < kc; ++i) {
                const int ic = (oc / per_group) * kc + i;
                const int64_t xv =
                    x[static_cast<size_t>(((n * is[1] + iy) * is[2] + ix) * cin + ic)];
                const int64_t wv = w[static_cast<size_t>(((oc * kh + ky) * kw + kx) * kc + i)];
                acc += (xv - q.zp_in) * (wv - q.zp_w);
              }
            }
          y.push_back(q.requant(acc, oc, legacy));
        }
  return y;
}

void random_conv_case(std::mt19937& rng, DType act_type, bool per_channel) {
  int kc, groups, cout, kh, kw, sh, sw, dh, dw, padding;
  std::vector<int32_t> is;
  Dim dy{}, dx{};
  do {
    kc = pick(rng, 1, 5);
    groups = pick(rng, 1, 3);
    cout = groups * pick(rng, 1, 4);
    kh = pick(rng, 1, 3);
    kw = pick(rng, 1, 3);
    sh = pick(rng, 1, 3);
    sw = pick(rng, 1, 3);
    dh = pick(rng, 1, 2);
    dw = pick(rng, 1, 2);
    padding = pick(rng, 0, 1);
    is = {pick(rng, 1, 2), pick(rng, 1, 9), pick(rng, 1, 9), kc * groups};
    dy = window_dim(padding, is[1], kh, sh, dh);
    dx = window_dim(padding, is[2], kw, sw, dw);
  } while (dy.out <= 0 || dx.out <= 0);
  const std::vector<int32_t> ws{cout, kh, kw, kc}, os{is[0], dy.out, dx.out, cout};
  const QuantCase q = random_quant(rng, act_type, cout, per_channel, kh * kw * kc);
  const auto x = random_activations(q, static_cast<size_t>(size_of(is)), rng);
  const auto w = random_weights(q, static_cast<size_t>(size_of(ws)), rng);
  const auto b = random_bias(q, static_cast<size_t>(cout), rng);
  const bool has_bias = pick(rng, 0, 3) != 0;

  OpTest t(ir::OpType::CONV_2D);
  t.input("x", act_type, is, quant(q.s_in, q.zp_in));
  t.constant("w", q.weight_type, ws, bytes_of(q.weight_type, w), q.weight_quant(0));
  if (has_bias) t.constant("b", q.bias_type(), {cout}, bytes_of(q.bias_type(), b), q.bias_quant());
  t.output("y", act_type, os, quant(q.s_out, q.zp_out));
  conv_attrs(t, padding, sh, sw, dh, dw, q.activation);
  const auto got = values_of(act_type, t.run_all(registry(), {bytes_of(act_type, x)})[0]);
  const auto want =
      naive_conv(q, is, x, ws, w, has_bias ? &b : nullptr, os, sh, sw, dh, dw, dy.pad, dx.pad);
  INFO("input " << is[1] << "x" << is[2] << "x" << is[3] << " filter " << kh << "x" << kw
                << " groups " << groups << " stride " << sh << "," << sw << " dilation " << dh
                << "," << dw << " padding " << padding << " act " << q.activation);
  REQUIRE(got == want);
}

}  // namespace

TEST_CASE("CONV_2D random cases equal the straightforward formula") {
  std::mt19937 rng(1234);
  for (int i = 0; i < 60; ++i) random_conv_case(rng, DType::i8, true);
  for (int i = 0; i < 30; ++i) random_conv_case(rng, DType::i8, false);
  for (int i = 0; i < 40; ++i) random_conv_case(rng, DType::u8, false);
  for (int i = 0; i < 40; ++i) random_conv_case(rng, DType::i16, true);
}

TEST_CASE("CONV_2D float32 random cases equal TFLite's summation order exactly") {
  std::mt19937 rng(99);
  for (int iter = 0; iter < 30; ++iter) {
    const int kc = pick(rng, 1, 6), groups = pick(rng, 1, 2), cout = groups * pick(rng, 1, 3);
    const int kh = pick(rng, 1, 3), kw = pick(rng, 1, 3), s = pick(rng, 1, 2), d = pick(rng, 1, 2);
    const int padding = pick(rng, 0, 1), act = pick(rng, 0, 3);
    const std::vector<int32_t> is{1, pick(rng, 3, 8), pick(rng, 3, 8), kc * groups};
    const Dim dy = window_dim(padding, is[1], kh, s, d), dx = window_dim(padding, is[2], kw, s, d);
    if (dy.out <= 0 || dx.out <= 0) continue;
    const std::vector<int32_t> ws{cout, kh, kw, kc}, os{1, dy.out, dx.out, cout};
    const auto x = random_floats(static_cast<size_t>(size_of(is)), rng);
    const auto w = random_floats(static_cast<size_t>(size_of(ws)), rng);
    const auto b = random_floats(static_cast<size_t>(cout), rng);
    OpTest t(ir::OpType::CONV_2D);
    t.input("x", DType::f32, is);
    t.constant("w", DType::f32, ws, w);
    t.constant("b", DType::f32, {cout}, b);
    t.output("y", DType::f32, os);
    conv_attrs(t, padding, s, s, d, d, act);
    const auto got = t.run<float>(registry(), {test::as_bytes(x)});
    std::vector<float> want;
    for (int oy = 0; oy < os[1]; ++oy)
      for (int ox = 0; ox < os[2]; ++ox)
        for (int oc = 0; oc < cout; ++oc) {
          float total = 0.0f;
          for (int ky = 0; ky < kh; ++ky)
            for (int kx = 0; kx < kw; ++kx) {
              const int iy = oy * s - dy.pad + ky * d, ix = ox * s - dx.pad + kx * d;
              if (iy < 0 || ix < 0 || iy >= is[1] || ix >= is[2]) continue;
              for (int i = 0; i < kc; ++i)
                total += x[static_cast<size_t>((iy * is[2] + ix) * is[3] +
                                               (oc / (cout / groups)) * kc + i)] *
                         w[static_cast<size_t>(((oc * kh + ky) * kw + kx) * kc + i)];
            }
          want.push_back(act_clamp_float(total + b[static_cast<size_t>(oc)], act));
        }
    REQUIRE(got == want);
  }
}

// =======================================================================================
// DEPTHWISE_CONV_2D

TEST_CASE("DEPTHWISE_CONV_2D int8 hand-computed with depth multiplier 2") {
  // One input channel [1..9 grid], multiplier 2: channel 0 sums the 2x2 window with
  // weights 1, channel 1 with weights [1, 0, 0, -1] (x00 - x11). VALID, multiplier 1.
  OpTest t(ir::OpType::DEPTHWISE_CONV_2D);
  t.input("x", DType::i8, {1, 3, 3, 1}, quant(1.0f, 0));
  // [1, KH, KW, C*M]: per tap, the two output channels.
  t.constant("w", DType::i8, {1, 2, 2, 2}, i8({1, 1, 1, 0, 1, 0, 1, -1}), quant(1.0f, 0));
  t.constant("b", DType::i32, {2}, i32({0, 100}), quant(1.0f, 0));
  t.output("y", DType::i8, {1, 2, 2, 2}, quant(1.0f, 0));
  conv_attrs(t, 1, 1, 1);
  t.attr("depth_multiplier", 2);
  // Windows (1,2,4,5), (2,3,5,6), (4,5,7,8), (5,6,8,9): sums 12, 16, 24, 28;
  // x00 - x11 = -4 everywhere, plus bias 100 = 96.
  CHECK(t.run<int8_t>(registry(), {test::as_bytes(kGrid3x3)}) ==
        i8({12, 96, 16, 96, 24, 96, 28, 96}));
}

namespace {

void random_depthwise_case(std::mt19937& rng, DType act_type, bool per_channel) {
  int cin, mult, kh, kw, sh, sw, dh, dw, padding;
  std::vector<int32_t> is;
  Dim dy{}, dx{};
  do {
    cin = pick(rng, 1, 6);
    mult = pick(rng, 1, 3);
    kh = pick(rng, 1, 3);
    kw = pick(rng, 1, 3);
    sh = pick(rng, 1, 2);
    sw = pick(rng, 1, 2);
    dh = pick(rng, 1, 2);
    dw = pick(rng, 1, 2);
    padding = pick(rng, 0, 1);
    is = {pick(rng, 1, 2), pick(rng, 1, 8), pick(rng, 1, 8), cin};
    dy = window_dim(padding, is[1], kh, sh, dh);
    dx = window_dim(padding, is[2], kw, sw, dw);
  } while (dy.out <= 0 || dx.out <= 0);
  const int cout = cin * mult;
  const std::vector<int32_t> ws{1, kh, kw, cout}, os{is[0], dy.out, dx.out, cout};
  const QuantCase q = random_quant(rng, act_type, cout, per_channel, kh * kw);
  const auto x = random_activations(q, static_cast<size_t>(size_of(is)), rng);
  const auto w = random_weights(q, static_cast<size_t>(size_of(ws)), rng);
  const auto b = random_bias(q, static_cast<size_t>(cout), rng);

  OpTest t(ir::OpType::DEPTHWISE_CONV_2D);
  t.input("x", act_type, is, quant(q.s_in, q.zp_in));
  t.constant("w", q.weight_type, ws, bytes_of(q.weight_type, w), q.weight_quant(3));
  t.constant("b", q.bias_type(), {cout}, bytes_of(q.bias_type(), b), q.bias_quant());
  t.output("y", act_type, os, quant(q.s_out, q.zp_out));
  conv_attrs(t, padding, sh, sw, dh, dw, q.activation);
  t.attr("depth_multiplier", mult);
  const auto got = values_of(act_type, t.run_all(registry(), {bytes_of(act_type, x)})[0]);

  std::vector<int64_t> want;
  for (int n = 0; n < os[0]; ++n)
    for (int oy = 0; oy < os[1]; ++oy)
      for (int ox = 0; ox < os[2]; ++ox)
        for (int oc = 0; oc < cout; ++oc) {
          int64_t acc = b[static_cast<size_t>(oc)];
          for (int ky = 0; ky < kh; ++ky)
            for (int kx = 0; kx < kw; ++kx) {
              const int iy = oy * sh - dy.pad + ky * dh, ix = ox * sw - dx.pad + kx * dw;
              if (iy < 0 || ix < 0 || iy >= is[1] || ix >= is[2]) continue;
              const int64_t xv =
                  x[static_cast<size_t>(((n * is[1] + iy) * is[2] + ix) * cin + oc / mult)];
              acc += (xv - q.zp_in) * (w[static_cast<size_t>((ky * kw + kx) * cout + oc)] - q.zp_w);
            }
          want.push_back(q.requant(acc, oc, act_type == DType::u8));
        }
  INFO("input " << is[1] << "x" << is[2] << "x" << cin << " mult " << mult << " filter " << kh
                << "x" << kw << " stride " << sh << "," << sw << " dilation " << dh << "," << dw
                << " padding " << padding);
  REQUIRE(got == want);
}

}  // namespace

TEST_CASE("DEPTHWISE_CONV_2D random cases equal the straightforward formula") {
  std::mt19937 rng(777);
  for (int i = 0; i < 50; ++i) random_depthwise_case(rng, DType::i8, true);
  for (int i = 0; i < 20; ++i) random_depthwise_case(rng, DType::i8, false);
  for (int i = 0; i < 40; ++i) random_depthwise_case(rng, DType::u8, false);
  for (int i = 0; i < 30; ++i) random_depthwise_case(rng, DType::i16, true);
}

TEST_CASE("DEPTHWISE_CONV_2D float32 equals TFLite's per-channel summation order") {
  std::mt19937 rng(5);
  const int cin = 3, mult = 2, cout = 6, k = 3;
  const std::vector<int32_t> is{1, 5, 6, cin}, ws{1, k, k, cout}, os{1, 5, 6, cout};
  const auto x = random_floats(static_cast<size_t>(size_of(is)), rng);
  const auto w = random_floats(static_cast<size_t>(size_of(ws)), rng);
  const auto b = random_floats(cout, rng);
  OpTest t(ir::OpType::DEPTHWISE_CONV_2D);
  t.input("x", DType::f32, is);
  t.constant("w", DType::f32, ws, w);
  t.constant("b", DType::f32, {cout}, b);
  t.output("y", DType::f32, os);
  conv_attrs(t, 0, 1, 1, 1, 1, 2);
  const auto got = t.run<float>(registry(), {test::as_bytes(x)});
  std::vector<float> want;
  for (int oy = 0; oy < 5; ++oy)
    for (int ox = 0; ox < 6; ++ox)
      for (int oc = 0; oc < cout; ++oc) {
        float total = 0.0f;
        for (int ky = 0; ky < k; ++ky)
          for (int kx = 0; kx < k; ++kx) {
            const int iy = oy - 1 + ky, ix = ox - 1 + kx;
            if (iy < 0 || ix < 0 || iy >= 5 || ix >= 6) continue;
            total += x[static_cast<size_t>((iy * 6 + ix) * cin + oc / mult)] *
                     w[static_cast<size_t>((ky * k + kx) * cout + oc)];
          }
        want.push_back(act_clamp_float(total + b[static_cast<size_t>(oc)], 2));
      }
  CHECK(got == want);
}

// =======================================================================================
// TRANSPOSE_CONV

TEST_CASE("TRANSPOSE_CONV int8 stride 2 VALID: hand-computed scatter") {
  // Input 2x2 [1, 2; 3, 4], 3x3 filter of ones, stride 2, VALID: output 5x5 (the conv of
  // a 5x5 with that filter gives 2x2). Input pixel (y, x) adds itself to rows 2y..2y+2,
  // columns 2x..2x+2; row/column 2 is where the neighbours overlap.
  OpTest t(ir::OpType::TRANSPOSE_CONV);
  t.constant("shape", DType::i32, {4}, i32({1, 5, 5, 1}));
  t.constant("w", DType::i8, {1, 3, 3, 1}, std::vector<int8_t>(9, 1), quant(1.0f, 0));
  t.input("x", DType::i8, {1, 2, 2, 1}, quant(1.0f, 0));
  t.output("y", DType::i8, {1, 5, 5, 1}, quant(1.0f, 0));
  t.attr("padding", 1);
  t.attr("stride_h", 2);
  t.attr("stride_w", 2);
  CHECK(t.run<int8_t>(registry(), {test::as_bytes(i8({1, 2, 3, 4}))}) == i8({1, 1, 3,  2, 2,  //
                                                                             1, 1, 3,  2, 2,  //
                                                                             4, 4, 10, 6, 6,  //
                                                                             3, 3, 7,  4, 4,  //
                                                                             3, 3, 7,  4, 4}));
}

TEST_CASE("TRANSPOSE_CONV SAME stride 2 crops the scatter with TFLite's padding") {
  // Output 4x4 from 2x2, 3x3 ones, SAME: the conv of 4x4 -> 2x2 pads 0 before, so the
  // scatter starts at (0, 0) and the fifth row/column falls outside.
  OpTest t(ir::OpType::TRANSPOSE_CONV);
  t.constant("shape", DType::i32, {4}, i32({1, 4, 4, 1}));
  t.constant("w", DType::i8, {1, 3, 3, 1}, std::vector<int8_t>(9, 1), quant(1.0f, 0));
  t.input("x", DType::i8, {1, 2, 2, 1}, quant(1.0f, 0));
  t.output("y", DType::i8, {1, 4, 4, 1}, quant(1.0f, 0));
  t.attr("padding", 0);
  t.attr("stride_h", 2);
  t.attr("stride_w", 2);
  CHECK(t.run<int8_t>(registry(), {test::as_bytes(i8({1, 2, 3, 4}))}) ==
        i8({1, 1, 3, 2, 1, 1, 3, 2, 4, 4, 10, 6, 3, 3, 7, 4}));
}

namespace {

void random_transpose_case(std::mt19937& rng, DType act_type, bool per_channel) {
  const int cin = pick(rng, 1, 4), cout = pick(rng, 1, 4), kh = pick(rng, 1, 3),
            kw = pick(rng, 1, 3);
  const int sh = pick(rng, 1, 3), sw = pick(rng, 1, 3), padding = pick(rng, 0, 1);
  const int oh = pick(rng, kh, 9), ow = pick(rng, kw, 9);
  // The input size the matching convolution of the output would give.
  const Dim dy = window_dim(padding, oh, kh, sh, 1), dx = window_dim(padding, ow, kw, sw, 1);
  const std::vector<int32_t> is{pick(rng, 1, 2), dy.out, dx.out, cin}, ws{cout, kh, kw, cin},
      os{is[0], oh, ow, cout};
  const QuantCase q = random_quant(rng, act_type, cout, per_channel, kh * kw * cin);
  const auto x = random_activations(q, static_cast<size_t>(size_of(is)), rng);
  const auto w = random_weights(q, static_cast<size_t>(size_of(ws)), rng);
  const auto b = random_bias(q, static_cast<size_t>(cout), rng);
  const bool has_bias = pick(rng, 0, 1) != 0;

  OpTest t(ir::OpType::TRANSPOSE_CONV);
  t.constant("shape", DType::i32, {4}, std::vector<int32_t>(os.begin(), os.end()));
  t.constant("w", q.weight_type, ws, bytes_of(q.weight_type, w), q.weight_quant(0));
  t.input("x", act_type, is, quant(q.s_in, q.zp_in));
  if (has_bias) t.constant("b", q.bias_type(), {cout}, bytes_of(q.bias_type(), b), q.bias_quant());
  t.output("y", act_type, os, quant(q.s_out, q.zp_out));
  t.attr("padding", padding);
  t.attr("stride_h", sh);
  t.attr("stride_w", sw);
  t.attr("fused_activation_function", q.activation);
  const auto got = values_of(act_type, t.run_all(registry(), {bytes_of(act_type, x)})[0]);

  // Gather form: output (oy, ox) receives input (iy, ix) through filter tap
  // (oy - (iy * sh - pad), ox - (ix * sw - pad)) when that tap exists.
  std::vector<int64_t> want;
  for (int n = 0; n < os[0]; ++n)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox)
        for (int oc = 0; oc < cout; ++oc) {
          int64_t acc = has_bias ? b[static_cast<size_t>(oc)] : 0;
          for (int iy = 0; iy < is[1]; ++iy)
            for (int ix = 0; ix < is[2]; ++ix) {
              const int ky = oy - (iy * sh - dy.pad), kx = ox - (ix * sw - dx.pad);
              if (ky < 0 || kx < 0 || ky >= kh || kx >= kw) continue;
              for (int ic = 0; ic < cin; ++ic)
                acc +=
                    (x[static_cast<size_t>(((n * is[1] + iy) * is[2] + ix) * cin + ic)] - q.zp_in) *
                    (w[static_cast<size_t>(((oc * kh + ky) * kw + kx) * cin + ic)] - q.zp_w);
            }
          want.push_back(q.requant(acc, oc, act_type == DType::u8));
        }
  INFO("output " << oh << "x" << ow << " filter " << kh << "x" << kw << " stride " << sh << ","
                 << sw << " padding " << padding);
  REQUIRE(got == want);
}

}  // namespace

TEST_CASE("TRANSPOSE_CONV random cases equal the gather formula") {
  std::mt19937 rng(4242);
  for (int i = 0; i < 40; ++i) random_transpose_case(rng, DType::i8, true);
  for (int i = 0; i < 30; ++i) random_transpose_case(rng, DType::u8, false);
  for (int i = 0; i < 30; ++i) random_transpose_case(rng, DType::i16, true);
}

TEST_CASE("TRANSPOSE_CONV float32 equals TFLite's scatter order exactly") {
  std::mt19937 rng(8);
  const int cin = 3, cout = 2, k = 3, s = 2;
  const std::vector<int32_t> is{1, 3, 4, cin}, ws{cout, k, k, cin}, os{1, 6, 8, cout};
  const auto x = random_floats(static_cast<size_t>(size_of(is)), rng);
  const auto w = random_floats(static_cast<size_t>(size_of(ws)), rng);
  const auto b = random_floats(cout, rng);
  OpTest t(ir::OpType::TRANSPOSE_CONV);
  t.constant("shape", DType::i32, {4}, std::vector<int32_t>(os.begin(), os.end()));
  t.constant("w", DType::f32, ws, w);
  t.input("x", DType::f32, is);
  t.constant("b", DType::f32, {cout}, b);
  t.output("y", DType::f32, os);
  t.attr("padding", 0);
  t.attr("stride_h", s);
  t.attr("stride_w", s);
  const auto got = t.run<float>(registry(), {test::as_bytes(x)});
  // SAME, 6 -> 3 and 8 -> 4 with stride 2: total padding 1, none before.
  std::vector<float> want;
  for (int oy = 0; oy < 6; ++oy)
    for (int ox = 0; ox < 8; ++ox)
      for (int oc = 0; oc < cout; ++oc) {
        float total = 0.0f;  // contributions in (iy, ix, ic) order, as TFLite's scatter adds them
        for (int iy = 0; iy < 3; ++iy)
          for (int ix = 0; ix < 4; ++ix) {
            const int ky = oy - iy * s, kx = ox - ix * s;
            if (ky < 0 || kx < 0 || ky >= k || kx >= k) continue;
            for (int ic = 0; ic < cin; ++ic)
              total += x[static_cast<size_t>((iy * 4 + ix) * cin + ic)] *
                       w[static_cast<size_t>(((oc * k + ky) * k + kx) * cin + ic)];
          }
        want.push_back(total + b[static_cast<size_t>(oc)]);
      }
  CHECK(got == want);
}

// =======================================================================================
// FULLY_CONNECTED

TEST_CASE("FULLY_CONNECTED int8 hand-computed with zero points and bias") {
  // Multiplier 0.5 * 2 / 1 = 1. Input zp 3: x - 3 = [1, -2, 0]; weights [[1, 2, 3], [-1, 0, 4]];
  // bias [10, -5]; output zp -7. Row: [1 - 4 + 0 + 10, -1 + 0 + 0 - 5] - 7 = [0, -13].
  OpTest t(ir::OpType::FULLY_CONNECTED);
  t.input("x", DType::i8, {1, 3}, quant(0.5f, 3));
  t.constant("w", DType::i8, {2, 3}, i8({1, 2, 3, -1, 0, 4}), quant(2.0f, 0));
  t.constant("b", DType::i32, {2}, i32({10, -5}), quant(1.0f, 0));
  t.output("y", DType::i8, {1, 2}, quant(1.0f, -7));
  CHECK(t.run<int8_t>(registry(), {test::as_bytes(i8({4, 1, 3}))}) == i8({0, -13}));
}

TEST_CASE("FULLY_CONNECTED keep_num_dims keeps the input's leading dimensions") {
  OpTest t(ir::OpType::FULLY_CONNECTED);
  t.input("x", DType::f32, {2, 1, 2});
  t.constant("w", DType::f32, {3, 2}, std::vector<float>{1, 0, 0, 1, 1, 1});
  t.no_input();
  t.output("y", DType::f32, {2, 1, 3});
  t.attr("keep_num_dims", 1);
  CHECK(t.run<float>(registry(), {test::as_bytes(std::vector<float>{1, 2, 3, 4})}) ==
        std::vector<float>{1, 2, 3, 3, 4, 7});
}

TEST_CASE("FULLY_CONNECTED without keep_num_dims flattens to [batches, units]") {
  OpTest t(ir::OpType::FULLY_CONNECTED);
  t.input("x", DType::f32, {2, 1, 2});
  t.constant("w", DType::f32, {1, 2}, std::vector<float>{1, -1});
  t.output("y", DType::f32, {2, 1});
  t.attr("fused_activation_function", 1);
  CHECK(t.run<float>(registry(), {test::as_bytes(std::vector<float>{1, 2, 5, 3})}) ==
        std::vector<float>{0, 2});
}

namespace {

void random_fc_case(std::mt19937& rng, DType act_type, bool per_channel) {
  const int batches = pick(rng, 1, 3), depth = pick(rng, 1, 40), units = pick(rng, 1, 9);
  QuantCase q = random_quant(rng, act_type, units, per_channel, depth);
  // Per-tensor int8 weights may carry a zero point (TFLite applies it); per-channel and
  // 16x8 weights are symmetric.
  if (act_type == DType::i8 && !per_channel) q.zp_w = pick(rng, -10, 10);
  const auto x = random_activations(q, static_cast<size_t>(batches * depth), rng);
  const auto w = random_weights(q, static_cast<size_t>(units * depth), rng);
  const auto b = random_bias(q, static_cast<size_t>(units), rng);
  OpTest t(ir::OpType::FULLY_CONNECTED);
  t.input("x", act_type, {batches, depth}, quant(q.s_in, q.zp_in));
  t.constant("w", q.weight_type, {units, depth}, bytes_of(q.weight_type, w), q.weight_quant(0));
  t.constant("b", q.bias_type(), {units}, bytes_of(q.bias_type(), b), q.bias_quant());
  t.output("y", act_type, {batches, units}, quant(q.s_out, q.zp_out));
  t.attr("fused_activation_function", q.activation);
  const auto got = values_of(act_type, t.run_all(registry(), {bytes_of(act_type, x)})[0]);
  std::vector<int64_t> want;
  for (int n = 0; n < batches; ++n)
    for (int u = 0; u < units; ++u) {
      int64_t acc = b[static_cast<size_t>(u)];
      for (int d = 0; d < depth; ++d)
        acc += (x[static_cast<size_t>(n * depth + d)] - q.zp_in) *
               (w[static_cast<size_t>(u * depth + d)] - q.zp_w);
      want.push_back(q.requant(acc, u, !per_channel));
    }
  REQUIRE(got == want);
}

}  // namespace

TEST_CASE("FULLY_CONNECTED random cases equal the straightforward formula") {
  std::mt19937 rng(31337);
  for (int i = 0; i < 40; ++i) random_fc_case(rng, DType::i8, false);
  for (int i = 0; i < 40; ++i) random_fc_case(rng, DType::i8, true);
  for (int i = 0; i < 40; ++i) random_fc_case(rng, DType::u8, false);
  for (int i = 0; i < 30; ++i) random_fc_case(rng, DType::i16, false);
  for (int i = 0; i < 30; ++i) random_fc_case(rng, DType::i16, true);
}

// =======================================================================================
// BATCH_MATMUL

TEST_CASE("BATCH_MATMUL float32 with adjoints and broadcast batch dimensions") {
  // lhs [2, 2, 3] (two matrices), rhs [3, 2] shared by both batches.
  const std::vector<float> lhs{1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0};
  const std::vector<float> rhs{1, 0, 0, 1, 1, 1};  // [[1,0],[0,1],[1,1]]
  OpTest t(ir::OpType::BATCH_MATMUL);
  t.input("a", DType::f32, {2, 2, 3});
  t.input("b", DType::f32, {3, 2});
  t.output("y", DType::f32, {2, 2, 2});
  // [[1,2,3],[4,5,6]] @ rhs = [[4,5],[10,11]]; [[1,0,0],[0,1,0]] @ rhs = [[1,0],[0,1]].
  CHECK(t.run<float>(registry(), {test::as_bytes(lhs), test::as_bytes(rhs)}) ==
        std::vector<float>{4, 5, 10, 11, 1, 0, 0, 1});

  // The same product from transposed operands: lhs^T stored [2, 3, 2], rhs^T stored [2, 3].
  OpTest adj(ir::OpType::BATCH_MATMUL);
  adj.input("a", DType::f32, {2, 3, 2});
  adj.input("b", DType::f32, {2, 3});
  adj.output("y", DType::f32, {2, 2, 2});
  adj.attr("adj_x", 1);
  adj.attr("adj_y", 1);
  const std::vector<float> lhs_t{1, 4, 2, 5, 3, 6, 1, 0, 0, 1, 0, 0};
  const std::vector<float> rhs_t{1, 0, 1, 0, 1, 1};
  CHECK(adj.run<float>(registry(), {test::as_bytes(lhs_t), test::as_bytes(rhs_t)}) ==
        std::vector<float>{4, 5, 10, 11, 1, 0, 0, 1});
}

namespace {

void random_matmul_case(std::mt19937& rng, DType dt) {
  const bool adj_x = pick(rng, 0, 1) != 0, adj_y = pick(rng, 0, 1) != 0;
  const int m = pick(rng, 1, 5), k = pick(rng, 1, 12), n = pick(rng, 1, 5);
  // Batch shapes: lhs [B0, 1, B2] style broadcasting against rhs [B1, B2] or [1].
  const int b0 = pick(rng, 1, 2), b1 = pick(rng, 1, 3), b2 = pick(rng, 1, 2);
  const std::vector<int32_t> lb{b0, 1, b2}, rb{b1, pick(rng, 0, 1) != 0 ? b2 : 1};
  std::vector<int32_t> ls = lb, rs = rb;
  ls.push_back(adj_x ? k : m);
  ls.push_back(adj_x ? m : k);
  rs.push_back(adj_y ? n : k);
  rs.push_back(adj_y ? k : n);
  const std::vector<int32_t> os{b0, b1, b2, m, n};
  QuantCase q = random_quant(rng, dt, 1, false, k);
  q.weight_type = dt;
  q.activation = 0;
  int64_t zp_rhs = 0;
  if (dt == DType::i8) zp_rhs = pick(rng, -10, 10);
  const int64_t wlim = dt == DType::i8 ? 100 : 3000;
  const auto a = random_activations(q, static_cast<size_t>(size_of(ls)), rng);
  const auto b = random_ints(static_cast<size_t>(size_of(rs)), -wlim, wlim, rng);
  OpTest t(ir::OpType::BATCH_MATMUL);
  t.input("a", dt, ls, quant(q.s_in, q.zp_in));
  t.input("b", dt, rs, quant(q.s_w[0], zp_rhs));
  t.output("y", dt, os, quant(q.s_out, q.zp_out));
  t.attr("adj_x", adj_x ? 1 : 0);
  t.attr("adj_y", adj_y ? 1 : 0);
  const auto got = values_of(dt, t.run_all(registry(), {bytes_of(dt, a), bytes_of(dt, b)})[0]);
  std::vector<int64_t> want;
  for (int i0 = 0; i0 < b0; ++i0)
    for (int i1 = 0; i1 < b1; ++i1)
      for (int i2 = 0; i2 < b2; ++i2) {
        const int64_t lmat = int64_t{i0} * b2 + i2;  // lhs batch [b0, 1, b2]
        const int64_t rmat = int64_t{i1} * rb[1] + (rb[1] == 1 ? 0 : i2);
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j) {
            int64_t acc = 0;
            for (int kk = 0; kk < k; ++kk) {
              const int64_t av =
                  a[static_cast<size_t>(lmat * m * k + (adj_x ? kk * m + i : i * k + kk))];
              const int64_t bv =
                  b[static_cast<size_t>(rmat * k * n + (adj_y ? j * k + kk : kk * n + j))];
              acc += (av - q.zp_in) * (bv - zp_rhs);
            }
            want.push_back(q.requant(acc, 0, true));
          }
      }
  INFO("m " << m << " k " << k << " n " << n << " adj " << adj_x << adj_y);
  REQUIRE(got == want);
}

}  // namespace

TEST_CASE("BATCH_MATMUL int8 and int16 random cases equal the straightforward formula") {
  std::mt19937 rng(2718);
  for (int i = 0; i < 40; ++i) random_matmul_case(rng, DType::i8);
  for (int i = 0; i < 30; ++i) random_matmul_case(rng, DType::i16);
}

// =======================================================================================
// Pools

TEST_CASE("AVERAGE_POOL_2D int8 rounds half away from zero over inside taps only") {
  // 2x2 windows, stride 2, VALID, over a 2x4 input: sums 1+2+3+4... see below.
  OpTest t(ir::OpType::AVERAGE_POOL_2D);
  t.input("x", DType::i8, {1, 2, 4, 1}, quant(1.0f, 0));
  t.output("y", DType::i8, {1, 1, 2, 1}, quant(1.0f, 0));
  pool_attrs(t, 1, 2, 2, 2, 2);
  // Window 1: 1 + 2 + 0 + -1 = 2 -> 0.5 -> 1. Window 2: -1 + -2 + 0 + 1 = -2 -> -0.5 -> -1.
  CHECK(t.run<int8_t>(registry(), {test::as_bytes(i8({1, 2, -1, -2, 0, -1, 0, 1}))}) ==
        i8({1, -1}));

  // SAME 3x3 stride 1 over a 2x2 input: every window holds the 4 pixels (count 4, not 9).
  OpTest same(ir::OpType::AVERAGE_POOL_2D);
  same.input("x", DType::i8, {1, 2, 2, 1}, quant(1.0f, 0));
  same.output("y", DType::i8, {1, 2, 2, 1}, quant(1.0f, 0));
  pool_attrs(same, 0, 1, 1, 3, 3);
  // (10 + 20 + 30 + 41) / 4 = 25.25 -> 25.
  CHECK(same.run<int8_t>(registry(), {test::as_bytes(i8({10, 20, 30, 41}))}) ==
        i8({25, 25, 25, 25}));
}

TEST_CASE("AVERAGE_POOL_2D uint8 and int16 and float32") {
  OpTest u(ir::OpType::AVERAGE_POOL_2D);
  u.input("x", DType::u8, {1, 1, 2, 2}, quant(0.5f, 10));
  u.output("y", DType::u8, {1, 1, 1, 2}, quant(0.5f, 10));
  pool_attrs(u, 1, 1, 1, 1, 2);
  // Per channel: (255 + 254) / 2 = 254.5 -> 255; (0 + 3) / 2 = 1.5 -> 2.
  CHECK(u.run<uint8_t>(registry(), {test::as_bytes(std::vector<uint8_t>{255, 0, 254, 3})}) ==
        std::vector<uint8_t>{255, 2});

  OpTest s(ir::OpType::AVERAGE_POOL_2D);
  s.input("x", DType::i16, {1, 1, 6, 1}, quant(1.0f, 0));
  s.output("y", DType::i16, {1, 1, 2, 1}, quant(1.0f, 0));
  pool_attrs(s, 1, 1, 3, 1, 3);
  // (-32768 - 32768 + 1) / 3 = -21845 exactly; (-3 + 0 + 1) / 3 = -0.67 -> -1.
  CHECK(s.run<int16_t>(registry(),
                       {test::as_bytes(std::vector<int16_t>{-32768, -32768, 1, -3, 0, 1})}) ==
        std::vector<int16_t>{-21845, -1});

  OpTest f(ir::OpType::AVERAGE_POOL_2D);
  f.input("x", DType::f32, {1, 2, 2, 1});
  f.output("y", DType::f32, {1, 1, 1, 1});
  pool_attrs(f, 1, 2, 2, 2, 2, 3);
  CHECK(f.run<float>(registry(), {test::as_bytes(std::vector<float>{8, 9, 10, 1})}) ==
        std::vector<float>{6});
}

TEST_CASE("MAX_POOL_2D with SAME padding and RELU6 clamping") {
  // int8 with scale 0.1, zero point 0: RELU6 clamps to [0, 60].
  OpTest t(ir::OpType::MAX_POOL_2D);
  t.input("x", DType::i8, {1, 3, 3, 1}, quant(0.1f, 0));
  t.output("y", DType::i8, {1, 2, 2, 1}, quant(0.1f, 0));
  pool_attrs(t, 0, 2, 2, 2, 2, 3);
  // 2x2 stride 2 SAME on 3x3: total padding 1, after. Windows {0,1}x{0,1}, {0,1}x{2},
  // {2}x{0,1}, {2}x{2}.
  CHECK(t.run<int8_t>(registry(), {test::as_bytes(i8({-5, -9, 100, -7, -6, -1, 30, 61, -128}))}) ==
        i8({0, 60, 60, 0}));

  OpTest u(ir::OpType::MAX_POOL_2D);
  u.input("x", DType::u8, {1, 1, 3, 2}, quant(1.0f, 0));
  u.output("y", DType::u8, {1, 1, 1, 2}, quant(1.0f, 0));
  pool_attrs(u, 1, 1, 1, 1, 3);
  CHECK(u.run<uint8_t>(registry(), {test::as_bytes(std::vector<uint8_t>{1, 200, 7, 3, 2, 255})}) ==
        std::vector<uint8_t>{7, 255});

  OpTest s(ir::OpType::MAX_POOL_2D);
  s.input("x", DType::i16, {1, 2, 1, 1}, quant(1.0f, 0));
  s.output("y", DType::i16, {1, 1, 1, 1}, quant(1.0f, 0));
  pool_attrs(s, 1, 1, 1, 2, 1);
  CHECK(s.run<int16_t>(registry(), {test::as_bytes(std::vector<int16_t>{-32768, -300})}) ==
        std::vector<int16_t>{-300});

  OpTest f(ir::OpType::MAX_POOL_2D);
  f.input("x", DType::f32, {1, 2, 2, 1});
  f.output("y", DType::f32, {1, 1, 1, 1});
  pool_attrs(f, 1, 1, 1, 2, 2);
  CHECK(f.run<float>(registry(), {test::as_bytes(std::vector<float>{-3, -2.5f, -7, -4})}) ==
        std::vector<float>{-2.5f});
}

TEST_CASE("pools: random int8 cases equal the straightforward formula") {
  std::mt19937 rng(606);
  for (int iter = 0; iter < 60; ++iter) {
    const int fh = pick(rng, 1, 4), fw = pick(rng, 1, 4), sh = pick(rng, 1, 3),
              sw = pick(rng, 1, 3);
    const int padding = pick(rng, 0, 1), act = pick(rng, 0, 3);
    const bool average = pick(rng, 0, 1) != 0;
    const std::vector<int32_t> is{pick(rng, 1, 2), pick(rng, 1, 9), pick(rng, 1, 9),
                                  pick(rng, 1, 5)};
    const Dim dy = window_dim(padding, is[1], fh, sh, 1),
              dx = window_dim(padding, is[2], fw, sw, 1);
    if (dy.out <= 0 || dx.out <= 0) continue;
    const std::vector<int32_t> os{is[0], dy.out, dx.out, is[3]};
    const float scale = 0.05f;
    const int64_t zp = pick(rng, -20, 20);
    const auto x = random_ints(static_cast<size_t>(size_of(is)), -128, 127, rng);
    OpTest t(average ? ir::OpType::AVERAGE_POOL_2D : ir::OpType::MAX_POOL_2D);
    t.input("x", DType::i8, is, quant(scale, zp));
    t.output("y", DType::i8, os, quant(scale, zp));
    pool_attrs(t, padding, sh, sw, fh, fw, act);
    const auto got = values_of(DType::i8, t.run_all(registry(), {bytes_of(DType::i8, x)})[0]);
    const Range r = act_range(act, scale, zp, DType::i8);
    std::vector<int64_t> want;
    for (int n = 0; n < os[0]; ++n)
      for (int oy = 0; oy < os[1]; ++oy)
        for (int ox = 0; ox < os[2]; ++ox)
          for (int c = 0; c < os[3]; ++c) {
            int64_t sum = 0, count = 0, best = -1000;
            for (int ky = 0; ky < fh; ++ky)
              for (int kx = 0; kx < fw; ++kx) {
                const int iy = oy * sh - dy.pad + ky, ix = ox * sw - dx.pad + kx;
                if (iy < 0 || ix < 0 || iy >= is[1] || ix >= is[2]) continue;
                const int64_t v =
                    x[static_cast<size_t>(((n * is[1] + iy) * is[2] + ix) * is[3] + c)];
                sum += v;
                ++count;
                best = std::max(best, v);
              }
            // Nearest, ties away from zero: |sum| / count rounded half up, sign restored.
            const int64_t mag = (std::abs(sum) * 2 + count) / (2 * count);
            const int64_t v = average ? (sum < 0 ? -mag : mag) : best;
            want.push_back(std::min(std::max(v, r.lo), r.hi));
          }
    INFO("filter " << fh << "x" << fw << " stride " << sh << "," << sw << " padding " << padding
                   << (average ? " average" : " max"));
    REQUIRE(got == want);
  }
}

// =======================================================================================
// Bad inputs: each is rejected at prepare time with a message that says why.

namespace {

// A valid int8 1x1 CONV_2D that each bad-input case breaks in one way.
struct ConvBuilder {
  DType act = DType::i8, wt = DType::i8, bias_type = DType::i32;
  ir::Quantization wq = quant(0.5f, 0);
  std::vector<int32_t> w_shape{2, 1, 1, 2};
  std::vector<int32_t> out_shape{1, 2, 2, 2};
  int activation = 0;
  bool with_bias = true;

  std::string error() const {
    OpTest t(ir::OpType::CONV_2D);
    t.input("x", act, {1, 2, 2, 2}, quant(0.5f, 0));
    t.constant("w", wt, w_shape, std::vector<uint8_t>(static_cast<size_t>(size_of(w_shape)), 1),
               wq);
    if (with_bias)
      t.constant(
          "b", bias_type, {w_shape[0]},
          std::vector<uint8_t>(static_cast<size_t>(w_shape[0]) * ir::dtype_size(bias_type), 0),
          quant(0.25f, 0));
    t.output("y", act, out_shape, quant(1.0f, 0));
    conv_attrs(t, 1, 1, 1, 1, 1, activation);
    return t.prepare_error(registry());
  }
};

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("bad inputs: the valid baseline prepares") { CHECK(ConvBuilder{}.error().empty()); }

TEST_CASE("bad inputs: wrong bias dtype") {
  ConvBuilder b;
  b.bias_type = DType::i64;
  CHECK(contains(b.error(), "bias must be int32"));
  ConvBuilder wide;
  wide.act = DType::i16;
  wide.bias_type = DType::i32;
  CHECK(contains(wide.error(), "bias must be int64"));
}

TEST_CASE("bad inputs: weights without quantization") {
  ConvBuilder b;
  b.wq = {};
  CHECK(contains(b.error(), "weights have no quantization parameters"));
}

TEST_CASE("bad inputs: per-channel weights along the wrong axis or with the wrong count") {
  ConvBuilder axis;
  axis.wq = quant_per_axis({0.5f, 0.25f}, 3);  // dimension 3 has size 2 too
  CHECK(contains(axis.error(), "quantized along dimension 3, expected dimension 0"));
  ConvBuilder count;
  count.wq = quant_per_axis({0.5f, 0.25f, 0.125f}, 0);  // 3 scales, 2 output channels
  CHECK(contains(count.error(), "3 per-channel scales for dimension 0 of size 2"));
}

TEST_CASE("bad inputs: non-zero int8 weight zero point, uint8 per-channel weights") {
  ConvBuilder zp;
  zp.wq = quant(0.5f, 3);
  CHECK(contains(zp.error(), "weights zero point must be 0"));
  ConvBuilder u8;
  u8.act = DType::u8;
  u8.wt = DType::u8;
  u8.wq = quant_per_axis({0.5f, 0.25f}, 0);
  CHECK(contains(u8.error(), "quantized per channel"));
}

TEST_CASE("bad inputs: TANH fused into a quantized conv") {
  ConvBuilder b;
  b.activation = static_cast<int>(ir::Activation::tanh);
  CHECK(contains(b.error(), "no quantized form"));
}

TEST_CASE("bad inputs: declared output shape differs from the computed one") {
  ConvBuilder b;
  b.out_shape = {1, 3, 3, 2};
  CHECK(contains(b.error(),
                 "output shape [1,3,3,2] does not match the shape computed from the inputs "
                 "and attributes, [1,2,2,2]"));
}

TEST_CASE("bad inputs: unsupported dtype combination") {
  ConvBuilder b;
  b.wt = DType::u8;
  CHECK(contains(b.error(), "input int8 with weights uint8 is not supported"));
}

TEST_CASE("bad inputs: stride missing (schema default 0)") {
  OpTest t(ir::OpType::CONV_2D);
  t.input("x", DType::f32, {1, 2, 2, 1});
  t.constant("w", DType::f32, {1, 1, 1, 1}, std::vector<float>{1});
  t.output("y", DType::f32, {1, 2, 2, 1});
  t.attr("padding", 1);
  t.attr("stride_w", 1);
  CHECK(contains(t.prepare_error(registry()), "stride_h must be between 1 and 32767, is 0"));
}

TEST_CASE("bad inputs: int16 activations with a non-zero zero point") {
  OpTest t(ir::OpType::CONV_2D);
  t.input("x", DType::i16, {1, 1, 1, 1}, quant(1.0f, 5));
  t.constant("w", DType::i8, {1, 1, 1, 1}, i8({1}), quant(1.0f, 0));
  t.output("y", DType::i16, {1, 1, 1, 1}, quant(1.0f, 0));
  conv_attrs(t, 1, 1, 1);
  CHECK(contains(t.prepare_error(registry()), "int16 input and output need zero point 0"));
}

TEST_CASE("bad inputs: uint8 bias scale that does not match input scale * weight scale") {
  OpTest t(ir::OpType::CONV_2D);
  t.input("x", DType::u8, {1, 1, 1, 1}, quant(0.5f, 128));
  t.constant("w", DType::u8, {1, 1, 1, 1}, std::vector<uint8_t>{1}, quant(0.5f, 128));
  t.constant("b", DType::i32, {1}, i32({0}), quant(0.3f, 0));  // should be 0.25
  t.output("y", DType::u8, {1, 1, 1, 1}, quant(1.0f, 128));
  conv_attrs(t, 1, 1, 1);
  CHECK(contains(t.prepare_error(registry()), "does not match input scale * weight scale"));
}

TEST_CASE("bad inputs: FULLY_CONNECTED shuffled weights and depth mismatch") {
  OpTest t(ir::OpType::FULLY_CONNECTED);
  t.input("x", DType::i8, {1, 4}, quant(1.0f, 0));
  t.constant("w", DType::i8, {2, 4}, std::vector<int8_t>(8, 1), quant(1.0f, 0));
  t.output("y", DType::i8, {1, 2}, quant(1.0f, 0));
  t.attr("weights_format", 1);
  CHECK(contains(t.prepare_error(registry()), "weights_format SHUFFLED4x16INT8 is not supported"));

  OpTest d(ir::OpType::FULLY_CONNECTED);
  d.input("x", DType::f32, {1, 5});
  d.constant("w", DType::f32, {2, 4}, std::vector<float>(8, 1));
  d.output("y", DType::f32, {1, 2});
  CHECK(contains(d.prepare_error(registry()), "does not split into rows of the weights' depth 4"));
}

TEST_CASE("bad inputs: FULLY_CONNECTED uint8 with per-channel weights") {
  OpTest t(ir::OpType::FULLY_CONNECTED);
  t.input("x", DType::u8, {1, 2}, quant(1.0f, 0));
  t.constant("w", DType::u8, {2, 2}, std::vector<uint8_t>(4, 1), quant_per_axis({1.0f, 0.5f}, 0));
  t.output("y", DType::u8, {1, 2}, quant(1.0f, 0));
  CHECK(contains(t.prepare_error(registry()), "quantized per channel"));
}

TEST_CASE("bad inputs: TRANSPOSE_CONV output_shape not constant or not matching") {
  OpTest t(ir::OpType::TRANSPOSE_CONV);
  t.input("shape", DType::i32, {4});
  t.constant("w", DType::f32, {1, 1, 1, 1}, std::vector<float>{1});
  t.input("x", DType::f32, {1, 2, 2, 1});
  t.output("y", DType::f32, {1, 2, 2, 1});
  t.attr("padding", 1);
  t.attr("stride_h", 1);
  t.attr("stride_w", 1);
  CHECK(contains(t.prepare_error(registry()), "output_shape must be a constant"));

  OpTest m(ir::OpType::TRANSPOSE_CONV);
  m.constant("shape", DType::i32, {4}, i32({1, 3, 3, 1}));
  m.constant("w", DType::f32, {1, 1, 1, 1}, std::vector<float>{1});
  m.input("x", DType::f32, {1, 2, 2, 1});
  m.output("y", DType::f32, {1, 2, 2, 1});
  m.attr("padding", 1);
  m.attr("stride_h", 1);
  m.attr("stride_w", 1);
  CHECK(contains(m.prepare_error(registry()), "does not match the shape computed"));
}

TEST_CASE("bad inputs: DEPTHWISE_CONV_2D weight channels not a multiple of input channels") {
  OpTest t(ir::OpType::DEPTHWISE_CONV_2D);
  t.input("x", DType::f32, {1, 2, 2, 2});
  t.constant("w", DType::f32, {1, 1, 1, 3}, std::vector<float>{1, 1, 1});
  t.output("y", DType::f32, {1, 2, 2, 3});
  conv_attrs(t, 1, 1, 1);
  CHECK(contains(t.prepare_error(registry()),
                 "weight channels 3 are not a multiple of the input channels 2"));
}

TEST_CASE("bad inputs: BATCH_MATMUL shapes that do not broadcast or contract") {
  OpTest t(ir::OpType::BATCH_MATMUL);
  t.input("a", DType::f32, {2, 2, 3});
  t.input("b", DType::f32, {3, 3, 2});
  t.output("y", DType::f32, {2, 2, 2});
  CHECK(contains(t.prepare_error(registry()), "do not broadcast"));
  OpTest k(ir::OpType::BATCH_MATMUL);
  k.input("a", DType::f32, {2, 3});
  k.input("b", DType::f32, {2, 2});
  k.output("y", DType::f32, {2, 2});
  CHECK(contains(k.prepare_error(registry()), "contraction sizes differ"));
}

TEST_CASE("bad inputs: quantized pool whose output quantization differs from its input's") {
  OpTest t(ir::OpType::AVERAGE_POOL_2D);
  t.input("x", DType::i8, {1, 2, 2, 1}, quant(0.5f, 0));
  t.output("y", DType::i8, {1, 1, 1, 1}, quant(0.25f, 0));
  pool_attrs(t, 1, 2, 2, 2, 2);
  CHECK(contains(t.prepare_error(registry()), "must share their quantization"));
}
