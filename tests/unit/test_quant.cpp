// Question answered: does the shared requantization arithmetic equal TFLite's, including
// its rounding ties, saturation and multiplier encoding?
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "tessel/ir/error.hpp"
#include "tessel/kernels/quant.hpp"

using namespace tessel::kernels;

namespace {
__extension__ typedef __int128 i128;

// Exact x * real rounded like TFLite's double rounding would, computed independently with
// 128-bit integers: first round(x * m / 2^31) with ties toward +infinity (gemmlowp's nudge), then divide by
// 2^right_shift rounding half away from zero.
int32_t model_mbqm(int32_t x, int32_t m, int shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  const i128 xs = static_cast<i128>(static_cast<int32_t>(static_cast<uint32_t>(x) << left));
  const i128 p = xs * m;
  const i128 d = i128{1} << 31;
  i128 high = p >= 0 ? (p + d / 2) / d : -((-p + d / 2 - 1) / d);  // ties toward +inf
  if (xs == std::numeric_limits<int32_t>::min() && m == std::numeric_limits<int32_t>::min())
    high = std::numeric_limits<int32_t>::max();
  const i128 e = i128{1} << right;
  if (right == 0) return static_cast<int32_t>(high);
  const i128 q = high >= 0 ? (high + e / 2) / e : -((-high + e / 2) / e);
  return static_cast<int32_t>(q);
}
}  // namespace

TEST_CASE("saturating_rounding_doubling_high_mul rounds ties up and saturates") {
  CHECK(saturating_rounding_doubling_high_mul(INT32_MIN, INT32_MIN) == INT32_MAX);
  // 2 * a * b / 2^32 with a*b = 2^30 exactly -> 0.5 -> rounds to 1.
  CHECK(saturating_rounding_doubling_high_mul(1 << 15, 1 << 15) == 1);
  // -0.5: the negative nudge is 1 - 2^30, so (-2^31 + 1) / 2^31 truncates to 0.
  CHECK(saturating_rounding_doubling_high_mul(-(1 << 15), 1 << 15) == 0);
  CHECK(saturating_rounding_doubling_high_mul(-3 * (1 << 14), 1 << 16) == -1);  // -1.5 -> -1
  CHECK(saturating_rounding_doubling_high_mul((1 << 15) - 1, 1 << 15) == 0);
  CHECK(saturating_rounding_doubling_high_mul(INT32_MAX, INT32_MAX) == INT32_MAX - 1);
}

TEST_CASE("rounding_divide_by_pot ties away from zero") {
  CHECK(rounding_divide_by_pot(5, 1) == 3);    // 2.5 -> 3
  CHECK(rounding_divide_by_pot(-5, 1) == -3);  // -2.5 -> -3
  CHECK(rounding_divide_by_pot(6, 2) == 2);    // 1.5 -> 2
  CHECK(rounding_divide_by_pot(-6, 2) == -2);  // -1.5 -> -2
  CHECK(rounding_divide_by_pot(-7, 2) == -2);  // -1.75 -> -2
  CHECK(rounding_divide_by_pot(7, 0) == 7);
  CHECK(rounding_divide_by_pot(INT32_MIN, 31) == -1);
}

TEST_CASE("multiply_by_quantized_multiplier equals an independent 128-bit model") {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> xs(-(1 << 24), 1 << 24);
  std::uniform_int_distribution<int32_t> ms(1 << 30, INT32_MAX);
  std::uniform_int_distribution<int> shifts(-31, 6);
  for (int i = 0; i < 200000; ++i) {
    int32_t x = xs(rng), m = ms(rng);
    int s = shifts(rng);
    if (s > 0) x >>= s;  // keep the left-shifted value in range, as real models do
    REQUIRE(multiply_by_quantized_multiplier(x, m, s) == model_mbqm(x, m, s));
  }
}

TEST_CASE("double rounding differs from single rounding on a known tie") {
  // x = 1, M = 0.25 as (0.5, shift -1): the high-mul gives round(0.5) = 1, then
  // round(1 / 2) = 1; exact single rounding of 0.25 would give 0. TFLite's default build
  // (and the goldens) use the double-rounded value.
  CHECK(multiply_by_quantized_multiplier(1, 1 << 30, -1) == 1);
  // x = 3: round(1.5) = 2, then round(2 / 2) = 1; exact 0.75 -> 1 as well.
  CHECK(multiply_by_quantized_multiplier(3, 1 << 30, -1) == 1);
}

TEST_CASE("quantize_multiplier matches TFLite's encoding") {
  QuantizedMultiplier q = quantize_multiplier(0.5);
  CHECK(q.multiplier == (1 << 30));
  CHECK(q.shift == 0);
  q = quantize_multiplier(1.0);
  CHECK(q.multiplier == (1 << 30));
  CHECK(q.shift == 1);
  q = quantize_multiplier(0.0);
  CHECK(q.multiplier == 0);
  CHECK(q.shift == 0);
  // Just below 1: the significand rounds to 2^31 and is renormalised.
  q = quantize_multiplier(1.0 - 1e-12);
  CHECK(q.multiplier == (1 << 30));
  CHECK(q.shift == 1);
  // Tiny multipliers flush to zero instead of shifting right by more than 31.
  q = quantize_multiplier(std::ldexp(1.0, -40));
  CHECK(q.multiplier == 0);
  CHECK(q.shift == 0);
  // Reconstruction error is below one part in 2^30.
  for (double r : {0.0001234, 0.00390625, 0.3333333, 0.75, 1.5, 37.25}) {
    q = quantize_multiplier(r);
    CHECK(std::fabs(q.multiplier * std::ldexp(1.0, q.shift - 31) - r) <= r * std::ldexp(1.0, -30));
  }
  CHECK_THROWS_AS(quantize_multiplier(std::ldexp(1.0, 31)), tessel::Error);
  CHECK(quantize_multiplier(std::ldexp(1.0, 30)).shift == 31);
  CHECK_THROWS_AS(quantize_multiplier_smaller_than_one(1.5), tessel::Error);
  CHECK(quantize_multiplier_smaller_than_one(0.25).shift == -1);
  CHECK(quantize_multiplier_greater_than_one(3.0).shift == 2);
}

TEST_CASE("64-bit multiply_by_quantized_multiplier (int16 path)") {
  // M = 0.5 (m = 2^30, shift 0): reduced multiplier 2^14, result (x * 2^14 + 2^14) >> 15.
  CHECK(multiply_by_quantized_multiplier(int64_t{3}, 1 << 30, 0) == 2);    // 1.5 -> 2 (half up)
  CHECK(multiply_by_quantized_multiplier(int64_t{-3}, 1 << 30, 0) == -1);  // -1.5 -> -1 (half up)
  CHECK(multiply_by_quantized_multiplier(int64_t{1} << 40, 1 << 30, -9) == (1 << 30));  // 2^40 * 2^-10
  CHECK(multiply_by_quantized_multiplier(int64_t{1000000}, 1 << 30, -3) == 62500);
  // Multipliers at the top of the range saturate the reduced multiplier at 0x7FFF.
  CHECK(multiply_by_quantized_multiplier(int64_t{1} << 15, INT32_MAX, 0) == 0x7FFF);
}

TEST_CASE("activation ranges follow TFLite's quantized thresholds") {
  // int8, scale 0.05, zp -10: RELU6 -> [-10, -10 + round(6/0.05)=110].
  ActivationRange r = activation_range_quantized(3, 0.05f, -10, -128, 127);
  CHECK(r.min == -10);
  CHECK(r.max == 110);
  r = activation_range_quantized(1, 0.05f, -10, -128, 127);
  CHECK(r.min == -10);
  CHECK(r.max == 127);
  r = activation_range_quantized(0, 0.05f, -10, -128, 127);
  CHECK(r.min == -128);
  CHECK(r.max == 127);
  // RELU_N1_TO_1 with a large scale clamps to the type's range.
  r = activation_range_quantized(2, 0.001f, 0, -128, 127);
  CHECK(r.min == -128);
  CHECK(r.max == 127);
  CHECK_THROWS_AS(activation_range_quantized(4, 0.1f, 0, -128, 127), tessel::Error);
  CHECK_THROWS_AS(activation_range_quantized(0, 0.0f, 0, -128, 127), tessel::Error);
}
