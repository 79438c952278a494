#pragma once
// TFLite's integer requantization arithmetic, in one place.
//
// A quantized kernel accumulates in int32 and must map the accumulator back to the output
// scale: out = zp_out + acc * (s_in * s_w / s_out). TFLite represents the real multiplier
// M as a Q31 fixed-point significand in [2^30, 2^31) and a power-of-two exponent
// (M = significand * 2^(shift - 31)), and applies it with two roundings
// ("double rounding", the default TFLite build; TFLITE_SINGLE_ROUNDING is opt-in):
//   1. SaturatingRoundingDoublingHighMul: high 32 bits of 2*a*b, rounded to nearest with
//      ties toward +infinity (gemmlowp's nudge: -0.5 -> 0, 0.5 -> 1);
//   2. RoundingDivideByPOT: arithmetic shift right, rounded half away from zero.
// The goldens in ../shared/goldens were produced with exactly this, so any change here
// must keep them byte-identical.

#include <cstdint>
#include <limits>

namespace tessel::kernels {

// (a * b * 2) / 2^32 rounded to nearest, ties toward +infinity, saturating the single
// overflow case a == b == INT32_MIN.
inline int32_t saturating_rounding_doubling_high_mul(int32_t a, int32_t b) {
  const bool overflow = a == b && a == std::numeric_limits<int32_t>::min();
  const int64_t ab = static_cast<int64_t>(a) * static_cast<int64_t>(b);
  // Adding 2^30 (or 1 - 2^30 for negatives) before the truncating division by 2^31
  // rounds to nearest; an exact negative tie truncates towards zero, i.e. rounds up.
  const int64_t nudge = ab >= 0 ? (int64_t{1} << 30) : (1 - (int64_t{1} << 30));
  const int32_t high = static_cast<int32_t>((ab + nudge) / (int64_t{1} << 31));
  return overflow ? std::numeric_limits<int32_t>::max() : high;
}

// x / 2^exponent rounded to nearest, ties away from zero. exponent in [0, 31].
inline int32_t rounding_divide_by_pot(int32_t x, int exponent) {
  const int32_t mask = static_cast<int32_t>((int64_t{1} << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

// x * 2^n for n >= 0 with two's-complement wrap-around, as TFLite's `x * (1 << n)` behaves
// on every target it runs on (signed overflow is UB in C++, so do it on uint32).
inline int32_t shift_left_wrapping(int32_t x, int n) {
  return static_cast<int32_t>(static_cast<uint32_t>(x) << n);
}

// TFLite's MultiplyByQuantizedMultiplier (double rounding): x * M where
// M = multiplier * 2^(shift - 31); shift > 0 is a left shift applied before the multiply.
inline int32_t multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift) {
  const int left_shift = shift > 0 ? shift : 0;
  const int right_shift = shift > 0 ? 0 : -shift;
  return rounding_divide_by_pot(
      saturating_rounding_doubling_high_mul(shift_left_wrapping(x, left_shift), multiplier),
      right_shift);
}

// TFLite's 64-bit-input MultiplyByQuantizedMultiplier (int16 activations with int64
// accumulators): reduces the multiplier to Q15 and rounds once, half up.
// Requires multiplier >= 0, shift in [-31, 7], |x| < 2^47.
int32_t multiply_by_quantized_multiplier(int64_t x, int32_t multiplier, int shift);

// TFLite's MultiplyByQuantizedMultiplierSmallerThanOneExp: left_shift <= 0.
inline int32_t multiply_by_quantized_multiplier_smaller_than_one_exp(int32_t x,
                                                                     int32_t multiplier,
                                                                     int left_shift) {
  return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier),
                                -left_shift);
}

// TFLite's MultiplyByQuantizedMultiplierGreaterThanOne: left_shift >= 0.
inline int32_t multiply_by_quantized_multiplier_greater_than_one(int32_t x,
                                                                 int32_t multiplier,
                                                                 int left_shift) {
  return saturating_rounding_doubling_high_mul(shift_left_wrapping(x, left_shift), multiplier);
}

// A real multiplier as TFLite stores it.
struct QuantizedMultiplier {
  int32_t multiplier = 0;  // Q31 significand in [2^30, 2^31), or 0
  int shift = 0;           // power-of-two exponent; > 0 means left shift
};

// TFLite's QuantizeMultiplier: frexp, round(q * 2^31) half away from zero, renormalise
// the 2^31 case, and flush exponents below -31 to a zero multiplier. A negative `real`
// (LEAKY_RELU's alpha) gives a negative significand, as in TFLite.
// Throws tessel::Error for real >= 2^31 (a left shift past 31 bits).
QuantizedMultiplier quantize_multiplier(double real);

// As quantize_multiplier but for real < 1 (TFLite's QuantizeMultiplierSmallerThanOneExp);
// the result's shift is <= 0. Throws tessel::Error if real >= 1.
QuantizedMultiplier quantize_multiplier_smaller_than_one(double real);

// As quantize_multiplier but for real > 1 (QuantizeMultiplierGreaterThanOne); shift >= 0.
QuantizedMultiplier quantize_multiplier_greater_than_one(double real);

// Saturating cast of an int32 into [lo, hi].
inline int32_t clamp_i32(int32_t v, int32_t lo, int32_t hi) {
  return v < lo ? lo : (v > hi ? hi : v);
}

// The clamp a fused activation imposes on a quantized output.
struct ActivationRange {
  int32_t min;
  int32_t max;
};

// TFLite's CalculateActivationRangeQuantized: the fused activation (TFLite enum value,
// see ir::Activation) mapped into the output's quantized domain, intersected with the
// type's range [qmin, qmax]. Thresholds are quantized as zp + round(float(t) / scale) in
// float, as TFLite does. Throws tessel::Error for an activation that has no quantized form.
ActivationRange activation_range_quantized(int activation, float scale, int32_t zero_point,
                                           int32_t qmin, int32_t qmax);

// The float clamp of a fused activation (TFLite's CalculateActivationRange for float).
struct ActivationRangeF {
  float min;
  float max;
};
ActivationRangeF activation_range_float(int activation);

}  // namespace tessel::kernels
