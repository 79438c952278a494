// Question answered: does the fast path (oneDNN int32 + vectorized requantization) give
// exactly the bytes of TFLite's arithmetic, for every padding, stride, dilation, depth
// multiplier, zero point and signedness?
#include <catch2/catch.hpp>

#include <random>

#include "conv_spec_util.hpp"
#include "tessel/kernels/fast_conv.hpp"
#include "tessel/kernels/fast_requant.hpp"
#include "tessel/kernels/quant.hpp"

using namespace tessel::kernels;

namespace {

using testing::naive_conv;

struct Case {
  FastConvSpec spec;
  std::vector<uint8_t> weights, input;
};

Case random_case(std::mt19937& rng, bool depthwise, bool uint8_model, bool same_padding) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Case c;
  FastConvSpec& s = c.spec;
  s.batch = pick(1, 2);
  s.in_h = pick(1, 13);
  s.in_w = pick(1, 13);
  s.in_c = pick(1, 40);
  s.depthwise = depthwise;
  s.kernel_h = pick(1, 4);
  s.kernel_w = pick(1, 4);
  s.stride_h = pick(1, 3);
  s.stride_w = pick(1, 3);
  s.dilation_h = pick(1, 2);
  s.dilation_w = pick(1, 2);
  testing::set_output_geometry(s, same_padding);
  s.out_c = depthwise ? s.in_c * pick(1, 3) : pick(1, 70);
  s.input_signed = !uint8_model;
  s.output_signed = !uint8_model;
  s.weights_signed = !uint8_model;
  s.input_zero_point = uint8_model ? pick(0, 255) : pick(-128, 127);
  s.output_zero_point = uint8_model ? pick(0, 255) : pick(-128, 127);
  s.act_min = uint8_model ? 0 : -128;
  s.act_max = uint8_model ? 255 : 127;
  if (pick(0, 1)) s.act_min += pick(0, 60), s.act_max -= pick(0, 60);
  const int taps = s.kernel_h * s.kernel_w * (depthwise ? 1 : s.in_c);
  c.weights.resize(static_cast<size_t>(s.out_c) * taps);
  for (auto& b : c.weights) b = static_cast<uint8_t>(pick(0, 255));
  c.input.resize(static_cast<size_t>(s.batch) * s.in_h * s.in_w * s.in_c);
  for (auto& b : c.input) b = static_cast<uint8_t>(pick(0, 255));
  for (int oc = 0; oc < s.out_c; ++oc) {
    s.weight_zero_point.push_back(uint8_model ? pick(0, 255) : 0);
    s.bias.push_back(pick(-20000, 20000));
    const QuantizedMultiplier q = quantize_multiplier(std::ldexp(pick(1000, 9999) / 10000.0, -pick(4, 14)));
    s.multiplier.push_back(q.multiplier);
    s.shift.push_back(q.shift);
  }
  s.weights = c.weights.data();
  return c;
}

}  // namespace

TEST_CASE("fast convolution equals TFLite's arithmetic on random shapes", "[fast]") {
  if (!fast_conv_supported()) {
    WARN("this CPU has no VNNI: the fast convolution is not used here, nothing to test");
    return;
  }
  std::mt19937 rng(42);
  int cases = 0;
  for (bool depthwise : {false, true})
    for (bool uint8_model : {false, true})
      for (bool same : {false, true})
        for (int i = 0; i < 12; ++i) {
          Case c = random_case(rng, depthwise, uint8_model, same);
          const FastConvSpec& s = c.spec;
          INFO("case " << cases << ": dw=" << depthwise << " u8=" << uint8_model << " same=" << same << " in "
                       << s.batch << "x" << s.in_h << "x" << s.in_w << "x" << s.in_c << " k " << s.kernel_h << "x"
                       << s.kernel_w << " s " << s.stride_h << "," << s.stride_w << " d " << s.dilation_h << ","
                       << s.dilation_w << " out_c " << s.out_c);
          FastConv conv(s, 1 + i % 2);
          std::vector<uint8_t> out(static_cast<size_t>(s.batch) * s.out_h * s.out_w * s.out_c);
          conv.run(c.input.data(), out.data());
          REQUIRE(out == naive_conv(s, c.input));
          ++cases;
        }
  CHECK(cases == 96);
}

TEST_CASE("fast convolution regression: 2 threads, batch 2, odd width, stride 2, right padding", "[fast]") {
  // oneDNN 2.6's AMX kernel got this shape wrong with 2 threads; fast_conv caps oneDNN at
  // AVX-512 VNNI. This case keeps that decision honest.
  if (!fast_conv_supported()) return;
  std::mt19937 rng(3);
  Case c;
  FastConvSpec& s = c.spec;
  s.batch = 2, s.in_h = 13, s.in_w = 14, s.in_c = 20, s.out_h = 7, s.out_w = 7, s.out_c = 17;
  s.kernel_h = 1, s.kernel_w = 3, s.stride_h = 2, s.stride_w = 2;
  s.input_signed = s.output_signed = s.weights_signed = false;
  s.input_zero_point = 99, s.output_zero_point = 106, s.act_min = 0, s.act_max = 255;
  c.weights.resize(17 * 3 * 20);
  for (auto& b : c.weights) b = static_cast<uint8_t>(rng());
  c.input.resize(2 * 13 * 14 * 20);
  for (auto& b : c.input) b = static_cast<uint8_t>(rng());
  s.weights = c.weights.data();
  const QuantizedMultiplier q = quantize_multiplier(0.002);
  s.weight_zero_point.assign(17, 138);
  s.bias.assign(17, 0);
  s.multiplier.assign(17, q.multiplier);
  s.shift.assign(17, q.shift);
  for (int run = 0; run < 5; ++run) {
    FastConv conv(s, 2);
    std::vector<uint8_t> out(2 * 7 * 7 * 17);
    conv.run(c.input.data(), out.data());
    REQUIRE(out == naive_conv(s, c.input));
  }
}

TEST_CASE("fast convolution: outputs cut into several row bands per thread are exact", "[fast]") {
  // Outputs too tall for one cache-sized band (DeepLabV3's 33x33 layers with 160-512
  // channels): on several threads the bands are made a multiple of the threads and evened
  // out (33 rows: 9 + 9 + 9 + 6 or 17 + 16). Every split must give the same bytes.
  if (!fast_conv_supported()) return;
  // Input depths for each kernel: the direct one (24), the register-blocked 1x1 (64), oneDNN
  // (400: past the 1x1 kernel's uint8 limit).
  std::mt19937 rng(11);
  for (const int in_c : {24, 64, 400})
    for (const int out_c : {160, 256})
      for (const bool uint8_model : {false, true})
        for (const int threads : {1, 2, 3}) {
          INFO("in_c " << in_c << " out_c " << out_c << " u8 " << uint8_model << " threads " << threads);
          Case c;
          FastConvSpec& s = c.spec;
          s.batch = 1, s.in_h = 33, s.in_w = 33, s.in_c = in_c, s.out_c = out_c;
          s.kernel_h = s.kernel_w = 1, s.stride_h = s.stride_w = 1;
          s.dilation_h = s.dilation_w = 1;
          testing::set_output_geometry(s, true);
          s.input_signed = s.output_signed = s.weights_signed = !uint8_model;
          s.input_zero_point = uint8_model ? 121 : -7;
          s.output_zero_point = uint8_model ? 130 : 3;
          s.act_min = uint8_model ? 0 : -128;
          s.act_max = uint8_model ? 255 : 127;
          c.weights.resize(static_cast<size_t>(out_c) * s.in_c);
          for (auto& b : c.weights) b = static_cast<uint8_t>(rng());
          c.input.resize(static_cast<size_t>(33) * 33 * s.in_c);
          for (auto& b : c.input) b = static_cast<uint8_t>(rng());
          s.weights = c.weights.data();
          for (int oc = 0; oc < out_c; ++oc) {
            s.weight_zero_point.push_back(uint8_model ? static_cast<int32_t>(rng() % 256) : 0);
            s.bias.push_back(static_cast<int32_t>(rng() % 40000) - 20000);
            const QuantizedMultiplier q = quantize_multiplier(std::ldexp(0.5 + (rng() % 1000) / 2000.0, -9));
            s.multiplier.push_back(q.multiplier);
            s.shift.push_back(q.shift);
          }
          FastConv conv(s, threads);
          std::vector<uint8_t> out(static_cast<size_t>(33) * 33 * out_c);
          conv.run(c.input.data(), out.data());
          REQUIRE(out == naive_conv(s, c.input));
        }
}

TEST_CASE("vector requantization equals the scalar reference bit for bit", "[fast]") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> any(INT32_MIN, INT32_MAX);
  for (int trial = 0; trial < 50; ++trial) {
    const int channels = 1 + trial * 3 % 53;
    const int64_t rows = 1 + trial % 9;
    ChannelRequant rq;
    for (int c = 0; c < channels; ++c) {
      rq.bias.push_back(any(rng) >> (trial % 8));
      rq.sum_coef.push_back(static_cast<int32_t>(rng() % 511) - 255);
      const int kind = static_cast<int>(rng() % 4);
      // Exercise left shifts, deep right shifts (to -31) and extreme multipliers.
      const double real = kind == 0 ? std::ldexp(1.0 + (rng() % 1000) / 1000.0, static_cast<int>(rng() % 6))
                          : kind == 1 ? std::ldexp(1.0, -31) * (1 + rng() % 3)
                                      : std::ldexp((rng() % 1000 + 1) / 1000.0, -static_cast<int>(rng() % 20));
      const QuantizedMultiplier q = quantize_multiplier(real);
      rq.multiplier.push_back(kind == 3 ? INT32_MAX : q.multiplier);
      rq.shift.push_back(q.shift);
    }
    rq.output_zero_point = static_cast<int32_t>(rng() % 256) - 128;
    rq.act_min = -100;
    rq.act_max = 120;
    std::vector<int32_t> acc(static_cast<size_t>(rows * (channels + 1)));
    for (auto& a : acc) a = trial % 2 ? any(rng) : any(rng) >> 12;
    RequantTile t;
    t.accum = acc.data();
    t.accum_stride = channels + 1;
    t.rows = rows;
    t.channels = channels;
    if (trial % 3) {
      t.sums = acc.data() + channels;
      t.sum_stride = channels + 1;
      t.sum_channel_step = 0;
    } else {
      rq.sum_coef.clear();
    }
    std::vector<int8_t> fast(static_cast<size_t>(rows * channels)), slow(fast.size());
    requantize_tile(t, rq, fast.data(), channels, true, 1);
    requantize_tile_scalar(t, rq, slow.data(), channels, true);
    REQUIRE(fast == slow);
  }
  CHECK(requantize_has_avx512() == (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")));
}

TEST_CASE("vectorized channel sums equal the scalar sums", "[fast]") {
  std::mt19937 rng(11);
  for (int channels : {1, 3, 8, 16, 21, 63, 64, 65, 130})
    for (int spacing : {1, 3}) {  // contiguous pixels (the C == 8 fast case) and strided ones
      const size_t stride = static_cast<size_t>(channels * spacing);
      std::vector<uint8_t> data(stride * 43);
      for (auto& b : data) b = static_cast<uint8_t>(rng());
      std::vector<int32_t> got(43), want(43, 0);
      channel_sums(data.data(), 43, static_cast<int64_t>(stride), channels, false, got.data());
      for (size_t i = 0; i < 43; ++i)
        for (int c = 0; c < channels; ++c) want[i] += data[i * stride + static_cast<size_t>(c)];
      INFO("channels " << channels << " spacing " << spacing);
      REQUIRE(got == want);
    }
}
