// Question answered: does the direct depthwise convolution (depthwise_conv.hpp: x - zx and
// w - zw as int16 pairs, vpdpwssd, the one-rounding requantization in registers) give
// exactly TFLite's bytes, through FastConv and called directly on bands of rows, for every
// signedness, zero point, padding, stride, dilation, kernel size, width, channel count and
// thread count; and do the shapes it does not take (depth multiplier > 1, right shifts past
// its limit, windows past its register budget) still come out exact on the oneDNN path?
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>

#include "conv_spec_util.hpp"
#include "tessel/kernels/depthwise_conv.hpp"
#include "tessel/kernels/fast_conv.hpp"
#include "tessel/kernels/quant.hpp"
#include "tessel/kernels/small_conv.hpp"

using namespace tessel::kernels;

namespace {

using Case = testing::ConvCase;
using testing::describe;
using testing::pick;
using testing::run_fast;

template <typename T>
T one_of(std::mt19937& rng, std::initializer_list<T> v) {
  return *(v.begin() + pick(rng, 0, static_cast<int>(v.size()) - 1));
}

struct Options {
  bool uint8_model = false;
  bool same = true;
  bool per_channel_zw = false;
  int multiplier = 1;  // depth multiplier
  int deep_shift = 0;  // 0: random shifts; else every channel gets shift -deep_shift
};

// A random depthwise convolution. Zero points are drawn with extra weight on the edges of
// their type's range; channel counts around the 16-lane blocks; widths 1..40.
Case random_case(std::mt19937& rng, const Options& o) {
  Case c;
  FastConvSpec& s = c.spec;
  s.depthwise = true;
  s.batch = pick(rng, 1, 2);
  s.in_c = pick(rng, 0, 1) ? one_of(rng, {1, 15, 16, 17, 33, 144}) : pick(rng, 1, 70);
  s.out_c = s.in_c * o.multiplier;
  const int kind = pick(rng, 0, 9);
  if (kind < 6) {
    s.kernel_h = s.kernel_w = 3;
  } else if (kind < 8) {
    s.kernel_h = pick(rng, 1, 5);
    s.kernel_w = pick(rng, 1, 5);
  } else {
    s.kernel_h = s.kernel_w = one_of(rng, {1, 5});
  }
  s.stride_h = pick(rng, 1, 2);
  s.stride_w = pick(rng, 0, 3) == 0 ? 3 - s.stride_h : s.stride_h;
  s.dilation_h = pick(rng, 0, 5) == 0 ? 2 : 1;
  s.dilation_w = pick(rng, 0, 5) == 0 ? pick(rng, 2, 3) : 1;
  s.in_h = pick(rng, 1, 12);
  s.in_w = pick(rng, 1, 40);
  testing::set_output_geometry(s, o.same);
  s.input_signed = s.output_signed = s.weights_signed = !o.uint8_model;
  auto edge_or = [&](std::initializer_list<int> edges, int lo, int hi) {
    return pick(rng, 0, 2) == 0 ? one_of(rng, edges) : pick(rng, lo, hi);
  };
  s.input_zero_point = o.uint8_model ? edge_or({0, 255}, 0, 255) : edge_or({-128, 127}, -128, 127);
  s.output_zero_point = o.uint8_model ? edge_or({0, 255}, 0, 255) : edge_or({-128, 127}, -128, 127);
  s.act_min = o.uint8_model ? 0 : -128;
  s.act_max = o.uint8_model ? 255 : 127;
  if (pick(rng, 0, 2) == 0) s.act_min += pick(rng, 0, 60), s.act_max -= pick(rng, 0, 60);
  const int shared_zw = o.uint8_model ? edge_or({0, 128, 255}, 0, 255) : 0;
  c.weights.resize(static_cast<size_t>(s.kernel_h) * s.kernel_w * s.out_c);
  for (auto& b : c.weights) b = static_cast<uint8_t>(pick(rng, 0, 255));
  c.input.resize(static_cast<size_t>(s.batch) * s.in_h * s.in_w * s.in_c);
  // Mostly random bytes; sometimes runs of the extremes (largest products).
  const bool extremes = pick(rng, 0, 3) == 0;
  for (auto& b : c.input) b = static_cast<uint8_t>(extremes ? one_of(rng, {0, 127, 128, 255}) : pick(rng, 0, 255));
  for (int oc = 0; oc < s.out_c; ++oc) {
    int zw = shared_zw;
    if (o.per_channel_zw) zw = o.uint8_model ? edge_or({0, 255}, 0, 255) : edge_or({-128, 127}, -20, 20);
    s.weight_zero_point.push_back(zw);
    s.bias.push_back(pick(rng, -40000, 40000));
    const int k = pick(rng, 0, 9);
    const double real = o.deep_shift    ? std::ldexp(pick(rng, 5000, 9000) / 10000.0, -o.deep_shift)
                        : k == 0        ? std::ldexp(pick(rng, 1000, 9999) / 10000.0, pick(rng, 0, 2))
                        : k == 1        ? std::ldexp(pick(rng, 5000, 9000) / 10000.0, -pick(rng, 16, 22))
                                        : std::ldexp(pick(rng, 1000, 9999) / 10000.0, -pick(rng, 4, 14));
    const QuantizedMultiplier q = quantize_multiplier(real);
    s.multiplier.push_back(q.multiplier);
    s.shift.push_back(q.shift);
  }
  s.weights = c.weights.data();
  return c;
}

std::vector<uint8_t> naive(const Case& c) { return testing::naive_conv(c); }

bool available() {
  if (!small_conv_cpu_ok() || !fast_conv_supported()) {
    WARN("this CPU has no AVX-512 VNNI: the direct depthwise kernel is not used here, nothing to test");
    return false;
  }
  return true;
}

}  // namespace

TEST_CASE("direct depthwise convolution equals TFLite's arithmetic on random shapes", "[fast][depthwise]") {
  if (!available()) return;
  std::mt19937 rng(4242);
  int direct = 0, total = 0;
  for (bool uint8_model : {false, true})
    for (bool same : {false, true})
      for (bool per_channel_zw : {false, true})
        for (int i = 0; i < 40; ++i) {
          Options o;
          o.uint8_model = uint8_model, o.same = same, o.per_channel_zw = per_channel_zw;
          const Case c = random_case(rng, o);
          INFO(describe(c.spec));
          std::string kernel;
          const std::vector<uint8_t> got = run_fast(c, 1 + i % 3, &kernel);
          ++total;
          if (kernel == "depthwise-vnni") ++direct;
          REQUIRE(got == naive(c));
        }
  // Every case fits (windows up to 5x5 are within the register budget).
  CHECK(direct == total);
}

TEST_CASE("direct depthwise convolution: channel counts, widths and threads", "[fast][depthwise]") {
  if (!available()) return;
  std::mt19937 rng(9);
  for (int channels : {1, 15, 17, 33, 144, 960})
    for (int width : {1, 2, 3, 4, 5, 7, 13, 40})
      for (int stride : {1, 2}) {
        Options o;
        o.uint8_model = (channels + width) % 2 == 0;
        o.same = width % 3 != 0;
        Case c = random_case(rng, o);
        FastConvSpec& s = c.spec;
        s.in_c = s.out_c = channels;
        s.kernel_h = s.kernel_w = 3;
        s.stride_h = s.stride_w = stride;
        s.dilation_h = s.dilation_w = 1;
        s.in_w = width;
        s.in_h = channels >= 144 ? 5 : 9;
        s.batch = 1;
        testing::set_output_geometry(s, o.same);
        // Regenerate the per-channel vectors and data for the new sizes.
        c.weights.resize(static_cast<size_t>(9) * channels);
        for (auto& b : c.weights) b = static_cast<uint8_t>(pick(rng, 0, 255));
        c.input.resize(static_cast<size_t>(s.in_h) * s.in_w * channels);
        for (auto& b : c.input) b = static_cast<uint8_t>(pick(rng, 0, 255));
        const int zw = s.weight_zero_point[0];
        const int32_t m = s.multiplier[0], sh = s.shift[0];
        s.weight_zero_point.assign(static_cast<size_t>(channels), zw);
        s.multiplier.assign(static_cast<size_t>(channels), m);
        s.shift.assign(static_cast<size_t>(channels), sh);
        s.bias.resize(static_cast<size_t>(channels));
        for (auto& b : s.bias) b = pick(rng, -40000, 40000);
        INFO(describe(s));
        const std::vector<uint8_t> want = naive(c);
        for (int threads : {1, 2, 3}) {
          std::string kernel;
          REQUIRE(run_fast(c, threads, &kernel) == want);
          CHECK(kernel == std::string("depthwise-vnni"));
        }
      }
}

TEST_CASE("direct depthwise kernel on bands of rows", "[fast][depthwise]") {
  // run_rows on any band must write exactly that band's rows (its row cache starts empty
  // per call) and nothing else.
  if (!available()) return;
  std::mt19937 rng(31);
  for (int i = 0; i < 60; ++i) {
    Options o;
    o.uint8_model = i % 2 == 0;
    o.same = i % 3 != 0;
    o.per_channel_zw = i % 4 == 0;
    const Case c = random_case(rng, o);
    FastConvSpec s = c.spec;
    s.weights = c.weights.data();
    INFO(describe(s));
    REQUIRE(depthwise_conv_fits(s));
    const DepthwiseConv conv(s);
    const std::vector<uint8_t> want = naive(c);
    const size_t out_image = static_cast<size_t>(s.out_h) * s.out_w * s.out_c;
    const size_t in_image = static_cast<size_t>(s.in_h) * s.in_w * s.in_c;
    std::vector<uint8_t> got(want.size(), 0xA5), buffer;
    for (int n = 0; n < s.batch; ++n) {
      int row = 0;
      while (row < s.out_h) {
        const int rows = std::min(pick(rng, 1, 4), s.out_h - row);
        conv.run_rows(c.input.data() + n * in_image, row, rows, got.data() + n * out_image, buffer);
        row += rows;
      }
    }
    REQUIRE(got == want);
    // A band in the middle leaves the other rows alone.
    if (s.out_h >= 3) {
      std::vector<uint8_t> part(out_image, 0xA5);
      conv.run_rows(c.input.data(), 1, 1, part.data(), buffer);
      const size_t row_bytes = static_cast<size_t>(s.out_w) * s.out_c;
      for (size_t b = 0; b < out_image; ++b) {
        const bool in_band = b >= row_bytes && b < 2 * row_bytes;
        REQUIRE(part[b] == (in_band ? want[b] : 0xA5));
      }
    }
  }
}

TEST_CASE("direct depthwise convolution: zero-point and clamp edges", "[fast][depthwise]") {
  if (!available()) return;
  std::mt19937 rng(17);
  for (bool uint8_model : {false, true})
    for (int zx : {0, 1, 2})
      for (int zw : {0, 1, 2}) {
        Options o;
        o.uint8_model = uint8_model;
        Case c = random_case(rng, o);
        FastConvSpec& s = c.spec;
        const int lo = uint8_model ? 0 : -128, hi = uint8_model ? 255 : 127;
        s.input_zero_point = zx == 0 ? lo : zx == 1 ? hi : 0;
        for (auto& z : s.weight_zero_point) z = zw == 0 ? lo : zw == 1 ? hi : 0;
        s.output_zero_point = zx == 2 ? lo : hi;
        // Inputs and weights at the far end from their zero points: the largest products.
        for (auto& b : c.input) b = static_cast<uint8_t>(pick(rng, 0, 1) ? lo : hi);
        for (auto& b : c.weights) b = static_cast<uint8_t>(pick(rng, 0, 1) ? lo : hi);
        s.act_min = zw == 1 ? lo + 1 : lo;
        s.act_max = zw == 2 ? hi - 1 : hi;
        INFO(describe(s));
        std::string kernel;
        REQUIRE(run_fast(c, 2, &kernel) == naive(c));
        CHECK(kernel == std::string("depthwise-vnni"));
      }
}

TEST_CASE("depthwise shapes the direct kernel does not take stay exact", "[fast][depthwise]") {
  if (!available()) return;
  std::mt19937 rng(55);
  for (bool uint8_model : {false, true}) {
    // Right shift exactly at the limit (exponent -22): the direct kernel. One past it: oneDNN.
    for (int deep : {kSmallConvMaxRightShift, kSmallConvMaxRightShift + 1}) {
      Options o;
      o.uint8_model = uint8_model;
      o.deep_shift = deep;
      const Case c = random_case(rng, o);
      INFO(describe(c.spec));
      REQUIRE(c.spec.shift[0] == -deep);
      std::string kernel;
      REQUIRE(run_fast(c, 2, &kernel) == naive(c));
      CHECK(kernel == std::string(deep <= kSmallConvMaxRightShift ? "depthwise-vnni" : "onednn"));
    }
    // Depth multiplier 2 and 3.
    for (int m : {2, 3}) {
      Options o;
      o.uint8_model = uint8_model;
      o.multiplier = m;
      const Case c = random_case(rng, o);
      INFO(describe(c.spec));
      std::string kernel;
      REQUIRE(run_fast(c, 2, &kernel) == naive(c));
      CHECK(kernel == std::string("onednn"));
    }
    // A 7x7 window: 28 pairs, past the register budget.
    {
      Options o;
      o.uint8_model = uint8_model;
      Case c = random_case(rng, o);
      c.spec.kernel_h = c.spec.kernel_w = 7;
      c.spec.dilation_h = c.spec.dilation_w = 1;
      c.spec.in_h = 9;
      testing::set_output_geometry(c.spec, true);
      c.weights.resize(static_cast<size_t>(49) * c.spec.out_c);
      for (auto& b : c.weights) b = static_cast<uint8_t>(pick(rng, 0, 255));
      c.input.resize(static_cast<size_t>(c.spec.batch) * c.spec.in_h * c.spec.in_w * c.spec.in_c);
      for (auto& b : c.input) b = static_cast<uint8_t>(pick(rng, 0, 255));
      INFO(describe(c.spec));
      std::string kernel;
      REQUIRE(run_fast(c, 1, &kernel) == naive(c));
      CHECK(kernel == std::string("onednn"));
    }
  }
}

TEST_CASE("TESSEL_DW_CONV=0 turns the direct depthwise kernel off", "[fast][depthwise]") {
  if (!available()) return;
  std::mt19937 rng(3);
  Options o;
  o.uint8_model = true;
  const Case c = random_case(rng, o);
  INFO(describe(c.spec));
  ::setenv("TESSEL_DW_CONV", "0", 1);
  std::string kernel;
  const std::vector<uint8_t> got = run_fast(c, 1, &kernel);
  ::unsetenv("TESSEL_DW_CONV");
  CHECK(kernel == std::string("onednn"));
  REQUIRE(got == naive(c));
  run_fast(c, 1, &kernel);
  CHECK(kernel == std::string("depthwise-vnni"));
}
