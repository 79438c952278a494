#include "tessel/kernels/quant.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "tessel/ir/error.hpp"

namespace tessel::kernels {

int32_t multiply_by_quantized_multiplier(int64_t x, int32_t multiplier, int shift) {
  // Reduce the Q31 multiplier to Q15 (rounding, saturating at 0x7FFF) so that a 48-bit
  // x times it fits in 64 bits, then shift right by 15 - shift, rounding half up.
  const int32_t reduced =
      multiplier < 0x7FFF0000 ? ((multiplier + (1 << 15)) >> 16) : 0x7FFF;
  const int total_shift = 15 - shift;
  const int64_t rounded = x * static_cast<int64_t>(reduced) + (int64_t{1} << (total_shift - 1));
  return static_cast<int32_t>(rounded >> total_shift);
}

QuantizedMultiplier quantize_multiplier(double real) {
  QuantizedMultiplier q;
  if (real == 0.0) return q;
  int exponent = 0;
  const double significand = std::frexp(real, &exponent);  // real = significand * 2^exponent
  auto fixed = static_cast<int64_t>(std::round(significand * static_cast<double>(int64_t{1} << 31)));
  if (fixed == (int64_t{1} << 31)) {  // rounding carried into bit 31: renormalise
    fixed /= 2;
    ++exponent;
  }
  // Below 2^-31 every result would shift out to zero; TFLite encodes that as a zero
  // multiplier rather than a right shift of more than 31.
  if (exponent < -31) {
    exponent = 0;
    fixed = 0;
  }
  // A left shift of 32 or more cannot be applied to an int32 (and no sane model has a
  // scale ratio of 2^31); refuse it here rather than shift out of range later.
  check(exponent <= 31, "requantization multiplier " + std::to_string(real) + " is too large (>= 2^31)");
  q.multiplier = static_cast<int32_t>(fixed);
  q.shift = exponent;
  return q;
}

QuantizedMultiplier quantize_multiplier_smaller_than_one(double real) {
  check(real < 1.0 && real > 0.0,
        "requantization multiplier " + std::to_string(real) + " is not in (0, 1)");
  QuantizedMultiplier q = quantize_multiplier(real);
  check(q.shift <= 0, "requantization multiplier " + std::to_string(real) + " rounds to >= 1");
  return q;
}

QuantizedMultiplier quantize_multiplier_greater_than_one(double real) {
  check(real > 1.0, "requantization multiplier " + std::to_string(real) + " is not > 1");
  QuantizedMultiplier q = quantize_multiplier(real);
  return q;
}

ActivationRange activation_range_quantized(int activation, float scale, int32_t zero_point,
                                           int32_t qmin, int32_t qmax) {
  check(scale > 0.0f && std::isfinite(scale),
        "output scale " + std::to_string(scale) + " is not a positive finite number");
  auto quantize = [&](float f) {
    return zero_point + static_cast<int32_t>(std::round(f / scale));
  };
  switch (activation) {
    case 0:  // none
      return {qmin, qmax};
    case 1:  // RELU
      return {std::max(qmin, quantize(0.0f)), qmax};
    case 2:  // RELU_N1_TO_1
      return {std::max(qmin, quantize(-1.0f)), std::min(qmax, quantize(1.0f))};
    case 3:  // RELU6
      return {std::max(qmin, quantize(0.0f)), std::min(qmax, quantize(6.0f))};
    default:
      throw Error("fused activation " + std::to_string(activation) +
                  " has no quantized form (only NONE, RELU, RELU_N1_TO_1, RELU6)");
  }
}

ActivationRangeF activation_range_float(int activation) {
  // TFLite clamps to the largest finite float, so an overflowing result becomes FLT_MAX
  // rather than infinity.
  constexpr float big = std::numeric_limits<float>::max();
  switch (activation) {
    case 0: return {-big, big};
    case 1: return {0.0f, big};
    case 2: return {-1.0f, 1.0f};
    case 3: return {0.0f, 6.0f};
    default:
      throw Error("fused activation " + std::to_string(activation) +
                  " is not supported (only NONE, RELU, RELU_N1_TO_1, RELU6)");
  }
}

}  // namespace tessel::kernels
