#pragma once
// gemmlowp-style fixed-point arithmetic for the transcendental parts of TFLite's integer
// kernels (softmax, log-softmax, logistic, tanh, rsqrt, quantized division).
//
// A value is a raw int32 plus a number of integer bits I (0 <= I <= 30), the Q(I).(31-I)
// format: real = raw / 2^(31 - I). The format is not stored; each function says which it
// takes and returns, and the kernels keep track (as TFLite's FixedPoint<int32_t, I> type
// does at compile time).
//
// Contract:
// - Every function reproduces gemmlowp's scalar int32 implementation bit for bit,
//   including its rounding (SaturatingRoundingDoublingHighMul ties away from zero,
//   RoundingDivideByPOT ties away from zero, RoundingHalfSum ties away from zero) and its
//   saturation points. TFLite's reference kernels are defined by that code, so any
//   "improvement" here changes the kernels' bytes.
// - gemmlowp's plain additions may overflow (undefined behaviour in C++); here they wrap
//   (two's complement), which is what every compiler TFLite runs on does in practice.
//   The kernels' input ranges keep the additions that matter from overflowing.

#include <cstdint>
#include <limits>

#include "tessel/kernels/quant.hpp"

namespace tessel::kernels::fixed_point {

inline constexpr int32_t kRawMax = std::numeric_limits<int32_t>::max();
inline constexpr int32_t kRawMin = std::numeric_limits<int32_t>::min();

// a + b and a - b with two's-complement wrap-around.
inline int32_t add(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}
inline int32_t sub(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) - static_cast<uint32_t>(b));
}
inline int32_t neg(int32_t a) { return sub(0, a); }

// Product of Q(Ia) and Q(Ib) values, in Q(Ia+Ib): the integer bits add up, the raw values
// go through SaturatingRoundingDoublingHighMul.
inline int32_t mul(int32_t a, int32_t b) { return saturating_rounding_doubling_high_mul(a, b); }

// The Q(I) representation of 1.0: 2^(31-I), or the largest raw value when I == 0 (1.0
// itself is not representable in Q0.31).
inline int32_t one(int integer_bits) {
  return integer_bits == 0 ? kRawMax : static_cast<int32_t>(int64_t{1} << (31 - integer_bits));
}

// x * 2^exponent: a left shift that saturates to [kRawMin, kRawMax] for exponent > 0, a
// right shift rounding half away from zero for exponent < 0 (gemmlowp's
// SaturatingRoundingMultiplyByPOT and TFLite's run-time-exponent variant).
// Saturation uses gemmlowp's symmetric threshold 2^(31-exponent) - 1, so -2^(31-exponent)
// saturates to kRawMin even though it is exactly representable after the shift (same value).
inline int32_t saturating_rounding_multiply_by_pot(int32_t x, int exponent) {
  if (exponent == 0) return x;
  if (exponent < 0) return rounding_divide_by_pot(x, -exponent);
  const int32_t threshold = static_cast<int32_t>((int64_t{1} << (31 - exponent)) - 1);
  if (x > threshold) return kRawMax;
  if (x < -threshold) return kRawMin;
  return shift_left_wrapping(x, exponent);
}

// Converts a Q(src) value to Q(dst) (gemmlowp's Rescale): a saturating left shift when
// dst has fewer integer bits, a rounding right shift when it has more.
inline int32_t rescale(int32_t raw, int src_integer_bits, int dst_integer_bits) {
  return saturating_rounding_multiply_by_pot(raw, src_integer_bits - dst_integer_bits);
}

// (a + b) / 2 rounded half away from zero, computed without overflow.
inline int32_t rounding_half_sum(int32_t a, int32_t b) {
  const int64_t sum = int64_t{a} + int64_t{b};
  const int64_t sign = sum >= 0 ? 1 : -1;
  return static_cast<int32_t>((sum + sign) / 2);
}

// a + b and a - b saturated to the int32 range (TFLite's SaturatingAddNonGemmlowp,
// SaturatingSub).
inline int32_t saturating_add(int32_t a, int32_t b) {
  const int64_t s = int64_t{a} + int64_t{b};
  return static_cast<int32_t>(s > kRawMax ? kRawMax : (s < kRawMin ? kRawMin : s));
}
inline int32_t saturating_sub(int32_t a, int32_t b) {
  const int64_t s = int64_t{a} - int64_t{b};
  return static_cast<int32_t>(s > kRawMax ? kRawMax : (s < kRawMin ? kRawMin : s));
}

// Number of leading zero bits of x as an unsigned 32-bit value; 32 for 0.
inline int count_leading_zeros(uint32_t x) {
  int n = 0;
  for (uint32_t bit = uint32_t{1} << 31; bit != 0 && (x & bit) == 0; bit >>= 1) ++n;
  return n;
}


// exp(a) for a in [-1/4, 0), Q0.31 -> Q0.31: the Taylor expansion of degree 4 around -1/8,
// exp(a) = exp(-1/8) * (1 + x + x^2/2 + x^3/6 + x^4/24) with x = a + 1/8.
inline int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
  constexpr int32_t kExpMinusOneEighth = 1895147668;  // exp(-1/8) in Q0.31
  constexpr int32_t kOneThird = 715827883;            // 1/3 in Q0.31
  const int32_t x = add(a, int32_t{1} << 28);         // + 1/8
  const int32_t x2 = mul(x, x);
  const int32_t x3 = mul(x2, x);
  const int32_t x4 = mul(x2, x2);
  const int32_t x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2);
  // ((x^4/4 + x^3) / 3 + x^2) / 2 = x^4/24 + x^3/6 + x^2/2
  const int32_t higher_terms =
      saturating_rounding_multiply_by_pot(add(mul(add(x4_over_4, x3), kOneThird), x2), -1);
  return add(kExpMinusOneEighth, mul(kExpMinusOneEighth, add(x, higher_terms)));
}

// exp(a) for a <= 0 given in Q(integer_bits), integer_bits in [0, 29]; result in Q0.31
// (exp(0) gives kRawMax). a = r - k/4 with r in [-1/4, 0): exp(r) comes from the Taylor
// expansion, and each set bit of k multiplies in a tabulated exp(-2^j), j = -2..4 (a
// "barrel shifter"). For integer_bits > 5, inputs below -32 give exactly 0.
inline int32_t exp_on_negative_values(int32_t a, int integer_bits) {
  const int fractional_bits = 31 - integer_bits;
  const int32_t one_quarter = int32_t{1} << (fractional_bits - 2);
  const int32_t r_raw = sub(a & (one_quarter - 1), one_quarter);  // r in Q(integer_bits)
  int32_t result =
      exp_on_interval_between_negative_one_quarter_and_0_excl(rescale(r_raw, integer_bits, 0));
  const int32_t k_quarters = sub(r_raw, a);  // k/4 >= 0, in Q(integer_bits)
  // exp(-2^j) in Q0.31 for j = -2, -1, 0, 1, 2, 3, 4.
  static constexpr int32_t kExpMinusPowerOfTwo[7] = {1672461947, 1302514674, 790015084,
                                                     290630308,  39332535,   720401,
                                                     242};
  for (int j = -2; j <= 4; ++j) {
    if (integer_bits <= j) continue;  // bit 2^j does not exist in this format
    if (k_quarters & (int32_t{1} << (fractional_bits + j)))
      result = mul(result, kExpMinusPowerOfTwo[j + 2]);
  }
  if (integer_bits > 5 && a < -(int32_t{1} << (36 - integer_bits))) result = 0;  // a < -32
  if (a == 0) result = kRawMax;
  return result;
}

// 1 / (1 + a) for a in [0, 1), Q0.31 -> Q0.31. Newton-Raphson on the half denominator
// d = (1 + a) / 2 in [1/2, 1): x <- x + x * (1 - d * x) converges to 1/d; three steps from
// the minimax starting guess 48/17 - 32/17 * d, all in Q2.29.
inline int32_t one_over_one_plus_x_for_x_in_0_1(int32_t a) {
  constexpr int32_t k48Over17 = 1515870810;      // Q2.29
  constexpr int32_t kMinus32Over17 = -1010580540;  // Q2.29
  constexpr int32_t kOneQ2 = int32_t{1} << 29;     // 1.0 in Q2.29
  const int32_t half_denominator = rounding_half_sum(a, kRawMax);  // Q0.31
  int32_t x = add(k48Over17, mul(half_denominator, kMinus32Over17));
  for (int i = 0; i < 3; ++i) {
    const int32_t one_minus_d_x = sub(kOneQ2, mul(half_denominator, x));
    x = add(x, rescale(mul(x, one_minus_d_x), 4, 2));
  }
  // 1/(1+a) = (1/d) / 2: reading the Q2.29 raw value as Q1.30 halves it exactly.
  return rescale(x, 1, 0);
}

// (1 - a) / (1 + a) = 1/d - 1 for a in [0, 1), Q0.31 -> Q0.31 (same iteration).
inline int32_t one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a) {
  constexpr int32_t k48Over17 = 1515870810;
  constexpr int32_t kMinus32Over17 = -1010580540;
  constexpr int32_t kOneQ2 = int32_t{1} << 29;
  const int32_t half_denominator = rounding_half_sum(a, kRawMax);
  int32_t x = add(k48Over17, mul(half_denominator, kMinus32Over17));
  for (int i = 0; i < 3; ++i) {
    const int32_t one_minus_d_x = sub(kOneQ2, mul(half_denominator, x));
    x = add(x, rescale(mul(x, one_minus_d_x), 4, 2));
  }
  return rescale(sub(x, kOneQ2), 2, 0);
}

// tanh(a) for a in Q(integer_bits), integer_bits <= 28; result in Q0.31.
// tanh(|a|) = (1 - exp(-2|a|)) / (1 + exp(-2|a|)); -2|a| is the raw value of -|a| read
// with one more integer bit.
inline int32_t tanh(int32_t a, int integer_bits) {
  if (a == 0) return 0;
  const bool negative = a < 0;
  const int32_t minus_abs = negative ? a : neg(a);
  const int32_t t =
      one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(minus_abs, integer_bits + 1));
  return negative ? neg(t) : t;
}

// logistic(a) = 1 / (1 + exp(-a)) for a in Q(integer_bits); result in Q0.31.
// Computed for |a| and mirrored: logistic(-x) = 1 - logistic(x).
inline int32_t logistic(int32_t a, int integer_bits) {
  if (a == 0) return int32_t{1} << 30;  // 1/2
  const bool positive = a > 0;
  const int32_t abs_a = positive ? a : neg(a);
  const int32_t r =
      one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(neg(abs_a), integer_bits));
  return positive ? r : sub(kRawMax, r);
}

// log(x) for x >= 1 in Q(input_integer_bits); result in Q(output_integer_bits)
// (TFLite's log_x_for_x_greater_than_or_equal_to_1). x = 2^e * r is reduced two ways (r
// scaled into [1/2, 1) and [sqrt(1/2), sqrt 2) * sqrt(1/2)), the better of the two is kept,
// and log(r) comes from a rational approximation around sqrt(sqrt(1/2)). The exponent part
// is accumulated with one extra integer bit of headroom.
inline int32_t log_x_for_x_greater_than_or_equal_to_1(int32_t x, int input_integer_bits,
                                                      int output_integer_bits) {
  const int accum_bits = output_integer_bits + 1;
  constexpr int32_t kLog2 = 1488522236;          // log(2), Q0.31
  constexpr int32_t kSqrtSqrtHalf = 1805811301;  // (1/2)^(1/4)
  constexpr int32_t kSqrtHalf = 1518500250;      // (1/2)^(1/2)
  constexpr int32_t kOneQuarter = 536870912;
  constexpr int32_t kAlphaN = 117049297;  // 11/240 * 2^(1/4)
  constexpr int32_t kAlphaD = 127690142;  // 1/20 * 2^(1/4)
  constexpr int32_t kAlphaI = 1057819769;  // 2 / 2^(1/4) - 2^(1/4)
  constexpr int32_t kAlphaF = 638450708;  // 1/4 * 2^(1/4)
  const int32_t shifted_quarter = rescale(kOneQuarter, 0, accum_bits);

  // The raw input read as Q0.31; the shift that normalises it gives the power of two.
  const int32_t z_a = x;
  const int z_a_headroom_plus_1 = count_leading_zeros(static_cast<uint32_t>(z_a));
  const int32_t r_a_tmp = saturating_rounding_multiply_by_pot(z_a, z_a_headroom_plus_1 - 1);
  const int32_t r_a_raw = saturating_rounding_multiply_by_pot(mul(r_a_tmp, kSqrtHalf), 1);
  const int32_t z_a_pow_2_adj = saturating_add(
      saturating_rounding_multiply_by_pot(input_integer_bits - z_a_headroom_plus_1,
                                          31 - accum_bits),
      shifted_quarter);

  const int32_t z_b = mul(z_a, kSqrtHalf);
  const int z_b_headroom = count_leading_zeros(static_cast<uint32_t>(z_b)) - 1;
  const int32_t r_b_raw = saturating_rounding_multiply_by_pot(z_a, z_b_headroom);
  const int32_t z_b_pow_2_adj = saturating_sub(
      saturating_rounding_multiply_by_pot(input_integer_bits - z_b_headroom, 31 - accum_bits),
      shifted_quarter);

  const int32_t r = r_a_raw < r_b_raw ? r_a_raw : r_b_raw;
  const int32_t z_pow_2_adj = z_a_pow_2_adj > z_b_pow_2_adj ? z_a_pow_2_adj : z_b_pow_2_adj;

  const int32_t p = rounding_half_sum(r, kSqrtSqrtHalf);
  int32_t q = sub(r, kSqrtSqrtHalf);
  q = add(q, q);
  const int32_t common_sq = mul(q, q);
  const int32_t num = add(mul(q, r), mul(mul(q, common_sq), kAlphaN));
  const int32_t denom_minus_one =
      add(mul(p, add(add(kAlphaI, q), mul(kAlphaD, common_sq))), mul(kAlphaF, q));
  const int32_t recip_denom = one_over_one_plus_x_for_x_in_0_1(denom_minus_one);
  const int32_t num_scaled = rescale(num, 0, accum_bits);
  return rescale(add(mul(z_pow_2_adj, kLog2), mul(num_scaled, recip_denom)), accum_bits,
                 output_integer_bits);
}

// 1/x for x > 0 in Q(x_integer_digits) (TFLite's GetReciprocal): x = m * 2^b with m in
// [1, 2) and b = *num_bits_over_unit; returns 1/m in Q0.31, so 1/x = result * 2^-b.
inline int32_t get_reciprocal(int32_t x, int x_integer_digits, int* num_bits_over_unit) {
  const int headroom_plus_one = count_leading_zeros(static_cast<uint32_t>(x));
  *num_bits_over_unit = x_integer_digits - headroom_plus_one;
  const int32_t shifted_minus_one = static_cast<int32_t>(
      (static_cast<uint32_t>(x) << headroom_plus_one) - (uint32_t{1} << 31));
  return one_over_one_plus_x_for_x_in_0_1(shifted_minus_one);
}

// 1/sqrt(input) for input >= 0 as a multiplier/shift pair (TFLite's
// GetInvSqrtQuantizedMultiplierExp with reverse_shift = -1, i.e. shift > 0 = left):
// 1/sqrt(input) ~= multiplier * 2^(shift - 31). input <= 1 gives (kRawMax, 0), as TFLite
// does to avoid an overflow (and to treat 0 like 1).
inline QuantizedMultiplier inv_sqrt_quantized_multiplier(int32_t input) {
  if (input <= 1) return {kRawMax, 0};
  // Bring input into [2^27, 2^29) by an even shift, tracking the exponent of the result.
  int right_shift = 11;
  while (input >= (int32_t{1} << 29)) {
    input /= 4;
    ++right_shift;
  }
  const int max_left_shift_bits = count_leading_zeros(static_cast<uint32_t>(input)) - 1;
  const int left_shift_bit_pairs = max_left_shift_bits / 2 - 1;
  right_shift -= left_shift_bit_pairs;
  input <<= 2 * left_shift_bit_pairs;
  // Newton-Raphson for 1/sqrt(v), v = input / 2^29 in [1/4, 1), in Q3.28 from x = 1:
  // x <- 3/2 x - v/2 x^3, five steps.
  const int32_t half_v = rounding_divide_by_pot(input >> 1, 1);
  constexpr int32_t kThreeHalves = (int32_t{1} << 28) + (int32_t{1} << 27);
  int32_t x = int32_t{1} << 28;
  for (int i = 0; i < 5; ++i) {
    const int32_t x3 = rescale(mul(mul(x, x), x), 9, 3);
    x = rescale(sub(mul(kThreeHalves, x), mul(half_v, x3)), 6, 3);
  }
  constexpr int32_t kHalfSqrt2 = 1518500250;  // sqrt(2)/2 in Q0.31
  QuantizedMultiplier out;
  out.multiplier = mul(x, kHalfSqrt2);
  if (right_shift < 0) {
    out.multiplier = shift_left_wrapping(out.multiplier, -right_shift);
    right_shift = 0;
  }
  out.shift = -right_shift;
  return out;
}


// TFLite's table of sigmoid(i / 24) in Q0.16, i = 0..255 (the last entry is 65535), shared
// by its int16 LOGISTIC and TANH kernels and the integer LSTM. These are TFLite's exact values (not all of them
// are round(65536 * sigmoid(i / 24))), which the int16 kernels need to be bit-exact.
inline constexpr uint16_t kSigmoidTable[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794,
    41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443,
    48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169, 53581, 53983, 54374,
    54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544,
    58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279,
    61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990,
    63090, 63186, 63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030,
    64090, 64148, 64204, 64257, 64308, 64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652,
    64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019,
    65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234,
    65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360,
    65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476,
    65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498, 65500, 65501,
    65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516,
    65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529,
    65529, 65530, 65530, 65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532,
    65532, 65532, 65532, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65533, 65534, 65534,
    65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535};
}  // namespace tessel::kernels::fixed_point
