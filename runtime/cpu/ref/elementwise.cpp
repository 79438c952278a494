// Reference kernels of the elementwise group (see tessel/kernels/elementwise.hpp).
#include "tessel/kernels/elementwise.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "tessel/kernels/fixed_point.hpp"

namespace tessel::kernels {

namespace {

namespace fp = fixed_point;

// Strides of `in` over the dimensions of `out` (trailing dimensions aligned), 0 along the
// dimensions where `in` has extent 1 and is therefore repeated.
void broadcast_strides(const Shape& in, const Shape& out, int64_t* strides) {
  int64_t stride = 1;
  for (int d = out.rank - 1; d >= 0; --d) {
    const int in_d = d - (out.rank - in.rank);
    const int32_t extent = in_d >= 0 ? in.dims[in_d] : 1;
    strides[d] = extent == 1 ? 0 : stride;
    stride *= extent;
  }
}

// Calls f(offset1, offset2, output_offset) for every output element in row-major order,
// with the flat offsets of the two input elements that broadcast onto it.
template <typename F>
void for_each_broadcast(const Shape& shape1, const Shape& shape2, const Shape& out, F f) {
  const int64_t n = out.num_elements();
  if (shape1 == out && shape2 == out) {
    for (int64_t i = 0; i < n; ++i) f(i, i, i);
    return;
  }
  int64_t stride1[Shape::kMaxRank];
  int64_t stride2[Shape::kMaxRank];
  broadcast_strides(shape1, out, stride1);
  broadcast_strides(shape2, out, stride2);
  int32_t index[Shape::kMaxRank] = {};
  int64_t offset1 = 0;
  int64_t offset2 = 0;
  for (int64_t o = 0; o < n; ++o) {
    f(offset1, offset2, o);
    // Advance the multi-index like an odometer, keeping both input offsets in step.
    for (int d = out.rank - 1; d >= 0; --d) {
      offset1 += stride1[d];
      offset2 += stride2[d];
      if (++index[d] < out.dims[d]) break;
      offset1 -= stride1[d] * out.dims[d];
      offset2 -= stride2[d] * out.dims[d];
      index[d] = 0;
    }
  }
}

template <typename T>
T clamp_activation(T x, T lo, T hi) {
  // TFLite's ActivationFunctionWithMinMax: min(max(x, lo), hi); a NaN passes through.
  return std::min(std::max(x, lo), hi);
}

template <typename T>
T saturate_to(int32_t v) {
  return static_cast<T>(clamp_i32(v, std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
}

// x / 2^exponent rounded half away from zero for any exponent >= 0. TFLite only defines
// exponents up to 31; beyond that every int32 rounds to 0, which is what the exact
// arithmetic gives and what the kernels that can get there (DIV, SOFTMAX) mean.
int32_t rounding_divide_by_pot_any(int32_t x, int exponent) {
  return exponent > 31 ? 0 : rounding_divide_by_pot(x, exponent);
}

// Leading bits equal to the sign bit, not counting the sign bit itself (TFLite's
// CountLeadingSignBits); 31 for 0 and -1.
int count_leading_sign_bits(int32_t x) {
  const uint32_t magnitude_bits = static_cast<uint32_t>(x >= 0 ? x : ~x);
  return fp::count_leading_zeros(magnitude_bits) - 1;
}

// int32 arithmetic with two's-complement wrap-around (TFLite's int32 kernels overflow the
// same way on every target it runs on; in C++ signed overflow is undefined).
int32_t wrap_add(int32_t a, int32_t b) { return fp::add(a, b); }
int32_t wrap_sub(int32_t a, int32_t b) { return fp::sub(a, b); }
int32_t wrap_mul(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) * static_cast<uint32_t>(b));
}

// TFLite's FloorDiv<int32>: floor(double(a) / double(b)), converted back to int32.
int32_t floor_div_int32(int32_t a, int32_t b) {
  if (b == 0) return a > 0 ? std::numeric_limits<int32_t>::max()
                           : (a < 0 ? std::numeric_limits<int32_t>::min() : 0);
  const double q = std::floor(static_cast<double>(a) / static_cast<double>(b));
  // Only INT32_MIN / -1 = 2^31 leaves the int32 range; x86's conversion gives INT32_MIN.
  return q > static_cast<double>(std::numeric_limits<int32_t>::max())
             ? std::numeric_limits<int32_t>::min()
             : static_cast<int32_t>(q);
}

// TFLite's FloorMod: the truncated remainder, moved into the divisor's sign.
int32_t floor_mod_int32(int32_t a, int32_t b) {
  if (b == 0 || b == -1) return 0;  // x % -1 is 0; INT32_MIN % -1 would trap
  const int32_t trunc_mod = a % b;
  return (trunc_mod != 0 && ((b < 0) != (trunc_mod < 0))) ? trunc_mod + b : trunc_mod;
}

float floor_mod_float(float a, float b) {
  const float trunc_mod = std::fmod(a, b);
  return (trunc_mod != 0 && ((b < 0) != (trunc_mod < 0))) ? trunc_mod + b : trunc_mod;
}

// TFLite's IntegerPow (repeated squaring, wrapping). TFLite rejects negative exponents at
// run time; here they give the integer part of the real result.
int32_t pow_int32(int32_t base, int32_t exponent) {
  if (exponent < 0) {
    if (base == 1) return 1;
    if (base == -1) return (exponent & 1) ? -1 : 1;
    return 0;
  }
  int32_t result = 1;
  while (exponent != 0) {
    if (exponent & 1) result = wrap_mul(result, base);
    exponent >>= 1;
    base = wrap_mul(base, base);
  }
  return result;
}

// 16-bit fixed-point primitives of TFLite's HardSwish, on int16 exactly as gemmlowp's
// int16 specialisations compute them.
int16_t saturating_rounding_doubling_high_mul_16(int16_t a, int16_t b) {
  if (a == b && a == std::numeric_limits<int16_t>::min()) return std::numeric_limits<int16_t>::max();
  const int32_t ab = int32_t{a} * int32_t{b};
  const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  return static_cast<int16_t>((ab + nudge) / (1 << 15));
}

// As above but truncating toward zero (ARM's SQDMULH); TFLite uses it to cancel the bias of
// the rounding variant.
int16_t saturating_doubling_high_mul_16(int16_t a, int16_t b) {
  if (a == b && a == std::numeric_limits<int16_t>::min()) return std::numeric_limits<int16_t>::max();
  return static_cast<int16_t>((int32_t{a} * int32_t{b}) / (1 << 15));
}

// gemmlowp's generic RoundingDivideByPOT instantiated for int16: the mask is truncated to
// 16 bits, so exponents >= 16 behave as that code does (exponent <= 31).
int16_t rounding_divide_by_pot_16(int16_t x, int exponent) {
  const auto mask = static_cast<int16_t>((int64_t{1} << exponent) - 1);
  const auto remainder = static_cast<int16_t>(x & mask);
  const auto threshold = static_cast<int16_t>((mask >> 1) + (x < 0 ? 1 : 0));
  return static_cast<int16_t>((x >> exponent) + (remainder > threshold ? 1 : 0));
}

int16_t saturating_left_shift_16(int16_t value, int amount) {
  const int64_t result = int64_t{value} * (int64_t{1} << amount);
  return static_cast<int16_t>(std::clamp<int64_t>(result, std::numeric_limits<int16_t>::min(),
                                                  std::numeric_limits<int16_t>::max()));
}

// The int16 kernels' input scaling: x * multiplier / 2^left_shift rounded half up
// (|x * multiplier| < 2^15 * 2^15, no overflow).
int32_t scale_int16_input(int16_t x, const Int16TranscendentalParams& p) {
  int32_t multiplier = p.input_multiplier;
  int left_shift = p.input_left_shift;
  if (multiplier == 0) {  // power-of-two input scale: the table's factor 3 only
    multiplier = 3 << left_shift;
    left_shift = 0;
  }
  const int32_t round = left_shift > 0 ? (1 << (left_shift - 1)) : 0;
  return (int32_t{x} * multiplier + round) >> left_shift;
}

// TFLite's 513-entry interpolating table lookup: the top 9 bits of the (offset) input
// index the table, the low 7 interpolate linearly to the next entry, rounding half up.
int16_t lut_lookup(int16_t value, const std::array<int16_t, 513>& lut) {
  const auto index = static_cast<uint16_t>(256 + (value >> 7));
  const int16_t offset = value & 0x7f;
  const int16_t base = lut[index];
  const auto slope = static_cast<int16_t>(lut[index + 1] - lut[index]);
  const int delta = (slope * offset + 64) >> 7;
  return static_cast<int16_t>(base + delta);
}

// TFLite's gen_lut for int16 tables: 512 samples of func over [input_min, input_max] plus
// the end point, on an output range [output_min, output_max] mapped to 65536 steps; each
// sample is biased by half the error that linear interpolation makes at the midpoint of its
// segment. All in float, as TFLite does.
void gen_lut(float (*func)(float), float input_min, float input_max, float output_min,
             float output_max, std::array<int16_t, 513>* lut) {
  constexpr int kSteps = 512;
  const float step = (input_max - input_min) / kSteps;
  const float half_step = step / 2;
  const float output_scaling_inv = 65536.0f / (output_max - output_min);
  const float table_min = std::numeric_limits<int16_t>::min();
  const float table_max = std::numeric_limits<int16_t>::max();
  for (int i = 0; i < kSteps; ++i) {
    const float val = func(input_min + i * step);
    const float val_midpoint = func(input_min + i * step + half_step);
    const float val_next = func(input_min + (i + 1) * step);
    const float sample_val = std::round(val * output_scaling_inv);
    const float midpoint_interp_val =
        std::round((val_next * output_scaling_inv + std::round(val * output_scaling_inv)) / 2);
    const float midpoint_val = std::round(val_midpoint * output_scaling_inv);
    const float midpoint_err = midpoint_interp_val - midpoint_val;
    const float bias = std::round(midpoint_err / 2);
    (*lut)[i] = static_cast<int16_t>(std::min(std::max(sample_val - bias, table_min), table_max));
  }
  (*lut)[kSteps] = static_cast<int16_t>(
      std::min(std::max(std::round(func(input_max) * output_scaling_inv), table_min), table_max));
}

// TFLite's RoundToNearest: half to even.
float round_half_to_even(float value) {
  const float floor_val = std::floor(value);
  const float diff = value - floor_val;
  if (diff < 0.5f || (diff == 0.5f && static_cast<int64_t>(floor_val) % 2 == 0)) return floor_val;
  return floor_val + 1.0f;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Broadcasting

bool broadcast_shape(const Shape& a, const Shape& b, Shape* out) {
  const int rank = std::max(a.rank, b.rank);
  Shape result;
  result.rank = rank;
  for (int d = 0; d < rank; ++d) {
    const int da = d - (rank - a.rank);
    const int db = d - (rank - b.rank);
    const int32_t ea = da >= 0 ? a.dims[da] : 1;
    const int32_t eb = db >= 0 ? b.dims[db] : 1;
    if (ea != eb && ea != 1 && eb != 1) return false;
    result.dims[d] = ea == 1 ? eb : ea;
  }
  *out = result;
  return true;
}

// ---------------------------------------------------------------------------------------
// Binary arithmetic: float and int32

void binary_float(BinaryOp op, float activation_min, float activation_max, const Shape& shape1,
                  const float* input1, const Shape& shape2, const float* input2,
                  const Shape& output_shape, float* output) {
  auto run = [&](auto f) {
    for_each_broadcast(shape1, shape2, output_shape, [&](int64_t i1, int64_t i2, int64_t o) {
      output[o] = clamp_activation(f(input1[i1], input2[i2]), activation_min, activation_max);
    });
  };
  switch (op) {
    case BinaryOp::add: return run([](float a, float b) { return a + b; });
    case BinaryOp::sub: return run([](float a, float b) { return a - b; });
    case BinaryOp::mul: return run([](float a, float b) { return a * b; });
    case BinaryOp::div: return run([](float a, float b) { return a / b; });
    case BinaryOp::maximum: return run([](float a, float b) { return a > b ? a : b; });
    case BinaryOp::minimum: return run([](float a, float b) { return a < b ? a : b; });
    case BinaryOp::squared_difference:
      return run([](float a, float b) { return (a - b) * (a - b); });
    case BinaryOp::floor_div:  // TFLite divides in double
      return run([](float a, float b) {
        return static_cast<float>(std::floor(static_cast<double>(a) / static_cast<double>(b)));
      });
    case BinaryOp::floor_mod: return run(floor_mod_float);
    case BinaryOp::pow: return run([](float a, float b) { return std::pow(a, b); });
  }
}

void binary_int32(BinaryOp op, int32_t activation_min, int32_t activation_max,
                  const Shape& shape1, const int32_t* input1, const Shape& shape2,
                  const int32_t* input2, const Shape& output_shape, int32_t* output) {
  auto run = [&](auto f) {
    for_each_broadcast(shape1, shape2, output_shape, [&](int64_t i1, int64_t i2, int64_t o) {
      output[o] = clamp_activation(f(input1[i1], input2[i2]), activation_min, activation_max);
    });
  };
  switch (op) {
    case BinaryOp::add: return run(wrap_add);
    case BinaryOp::sub: return run(wrap_sub);
    case BinaryOp::mul: return run(wrap_mul);
    case BinaryOp::div:  // truncating, as C++ (and TFLite's int32 DIV); x / 0 as floor_div
      return run([](int32_t a, int32_t b) {
        if (b == 0 || b == -1) return b == 0 ? floor_div_int32(a, 0) : wrap_sub(0, a);
        return a / b;
      });
    case BinaryOp::maximum: return run([](int32_t a, int32_t b) { return a > b ? a : b; });
    case BinaryOp::minimum: return run([](int32_t a, int32_t b) { return a < b ? a : b; });
    case BinaryOp::squared_difference:
      return run([](int32_t a, int32_t b) {
        const int32_t d = wrap_sub(a, b);
        return wrap_mul(d, d);
      });
    case BinaryOp::floor_div: return run(floor_div_int32);
    case BinaryOp::floor_mod: return run(floor_mod_int32);
    case BinaryOp::pow: return run(pow_int32);
  }
}

template <typename T>
void maximum_minimum(bool is_maximum, const Shape& shape1, const T* input1, const Shape& shape2,
                     const T* input2, const Shape& output_shape, T* output) {
  for_each_broadcast(shape1, shape2, output_shape, [&](int64_t i1, int64_t i2, int64_t o) {
    const T a = input1[i1];
    const T b = input2[i2];
    output[o] = is_maximum ? (a > b ? a : b) : (a < b ? a : b);
  });
}

template void maximum_minimum<int8_t>(bool, const Shape&, const int8_t*, const Shape&,
                                      const int8_t*, const Shape&, int8_t*);
template void maximum_minimum<uint8_t>(bool, const Shape&, const uint8_t*, const Shape&,
                                       const uint8_t*, const Shape&, uint8_t*);
template void maximum_minimum<int16_t>(bool, const Shape&, const int16_t*, const Shape&,
                                       const int16_t*, const Shape&, int16_t*);

// ---------------------------------------------------------------------------------------
// Binary arithmetic: quantized

namespace {

struct ScaledPair {
  int32_t input1;
  int32_t input2;
};

// Both inputs moved onto the common scale 2 * max(s1, s2) / 2^left_shift.
ScaledPair scale_to_common(const QuantizedAddParams& p, int32_t q1, int32_t q2) {
  const int32_t shifted1 = shift_left_wrapping(p.input1_offset + q1, p.left_shift);
  const int32_t shifted2 = shift_left_wrapping(p.input2_offset + q2, p.left_shift);
  return {multiply_by_quantized_multiplier_smaller_than_one_exp(shifted1, p.input1.multiplier,
                                                                p.input1.shift),
          multiply_by_quantized_multiplier_smaller_than_one_exp(shifted2, p.input2.multiplier,
                                                                p.input2.shift)};
}

template <typename T>
void add_or_sub(bool subtract, const QuantizedAddParams& p, const Shape& shape1, const T* input1,
                const Shape& shape2, const T* input2, const Shape& output_shape, T* output) {
  for_each_broadcast(shape1, shape2, output_shape, [&](int64_t i1, int64_t i2, int64_t o) {
    const ScaledPair s = scale_to_common(p, input1[i1], input2[i2]);
    const int32_t raw = subtract ? s.input1 - s.input2 : s.input1 + s.input2;
    const int32_t y = multiply_by_quantized_multiplier_smaller_than_one_exp(
                          raw, p.output.multiplier, p.output.shift) +
                      p.output_offset;
    output[o] = static_cast<T>(clamp_i32(y, p.activation_min, p.activation_max));
  });
}

}  // namespace

template <typename T>
void add_quantized(const QuantizedAddParams& params, const Shape& shape1, const T* input1,
                   const Shape& shape2, const T* input2, const Shape& output_shape, T* output) {
  add_or_sub(false, params, shape1, input1, shape2, input2, output_shape, output);
}

template <typename T>
void sub_quantized(const QuantizedAddParams& params, const Shape& shape1, const T* input1,
                   const Shape& shape2, const T* input2, const Shape& output_shape, T* output) {
  add_or_sub(true, params, shape1, input1, shape2, input2, output_shape, output);
}

template <typename T>
void squared_difference_quantized(const QuantizedAddParams& p, const Shape& shape1,
                                  const T* input1, const Shape& shape2, const T* input2,
                                  const Shape& output_shape, T* output) {
  for_each_broadcast(shape1, shape2, output_shape, [&](int64_t i1, int64_t i2, int64_t o) {
    const ScaledPair s = scale_to_common(p, input1[i1], input2[i2]);
    const int32_t diff = s.input1 - s.input2;
    const int32_t y =
        multiply_by_quantized_multiplier(diff * diff, p.output.multiplier, p.output.shift) +
        p.output_offset;
    output[o] = static_cast<T>(clamp_i32(y, p.activation_min, p.activation_max));
  });
}

template <typename T>
void mul_quantized(const QuantizedMulParams& p, const Shape& shape1, const T* input1,
                   const Shape& shape2, const T* input2, const Shape& output_shape, T* output) {
  for_each_broadcast(shape1, shape2, output_shape, [&](int64_t i1, int64_t i2, int64_t o) {
    const int32_t product = (p.input1_offset + input1[i1]) * (p.input2_offset + input2[i2]);
    const int32_t y =
        p.output_offset + multiply_by_quantized_multiplier(product, p.output.multiplier, p.output.shift);
    output[o] = static_cast<T>(clamp_i32(y, p.activation_min, p.activation_max));
  });
}

template <typename T>
void div_quantized(const QuantizedMulParams& p, const Shape& shape1, const T* input1,
                   const Shape& shape2, const T* input2, const Shape& output_shape, T* output) {
  for_each_broadcast(shape1, shape2, output_shape, [&](int64_t i1, int64_t i2, int64_t o) {
    int32_t dividend = p.input1_offset + input1[i1];
    int32_t divisor = p.input2_offset + input2[i2];
    if (divisor == 0) {
      const int32_t y = dividend > 0 ? p.activation_max
                                     : (dividend < 0 ? p.activation_min : p.output_offset);
      output[o] = static_cast<T>(clamp_i32(y, p.activation_min, p.activation_max));
      return;
    }
    if (divisor < 0) {  // the reciprocal must be a positive multiplier
      dividend = -dividend;
      divisor = -divisor;
    }
    // dividend / divisor = (dividend * 2^headroom) * (1/divisor) * 2^-headroom, with 1/divisor
    // = inverse * 2^(recip_shift - 31) from the fixed-point reciprocal.
    int recip_shift = 0;
    const int32_t inverse = fp::get_reciprocal(divisor, 31, &recip_shift);
    const int headroom = count_leading_sign_bits(dividend);
    const int32_t unscaled_quotient =
        multiply_by_quantized_multiplier_greater_than_one(dividend, inverse, headroom);
    const int total_shift = p.output.shift - recip_shift - headroom;  // <= 0, see binding
    const int32_t y =
        p.output_offset +
        rounding_divide_by_pot_any(
            saturating_rounding_doubling_high_mul(unscaled_quotient, p.output.multiplier),
            -total_shift);
    output[o] = static_cast<T>(clamp_i32(y, p.activation_min, p.activation_max));
  });
}

#define TESSEL_BINARY_QUANTIZED(kernel, params_type, T)                                    \
  template void kernel<T>(const params_type&, const Shape&, const T*, const Shape&, const T*, \
                          const Shape&, T*);
TESSEL_BINARY_QUANTIZED(add_quantized, QuantizedAddParams, int8_t)
TESSEL_BINARY_QUANTIZED(add_quantized, QuantizedAddParams, uint8_t)
TESSEL_BINARY_QUANTIZED(add_quantized, QuantizedAddParams, int16_t)
TESSEL_BINARY_QUANTIZED(sub_quantized, QuantizedAddParams, int8_t)
TESSEL_BINARY_QUANTIZED(sub_quantized, QuantizedAddParams, uint8_t)
TESSEL_BINARY_QUANTIZED(sub_quantized, QuantizedAddParams, int16_t)
TESSEL_BINARY_QUANTIZED(squared_difference_quantized, QuantizedAddParams, int8_t)
TESSEL_BINARY_QUANTIZED(squared_difference_quantized, QuantizedAddParams, int16_t)
TESSEL_BINARY_QUANTIZED(mul_quantized, QuantizedMulParams, int8_t)
TESSEL_BINARY_QUANTIZED(mul_quantized, QuantizedMulParams, uint8_t)
TESSEL_BINARY_QUANTIZED(mul_quantized, QuantizedMulParams, int16_t)
TESSEL_BINARY_QUANTIZED(div_quantized, QuantizedMulParams, int8_t)
TESSEL_BINARY_QUANTIZED(div_quantized, QuantizedMulParams, uint8_t)
#undef TESSEL_BINARY_QUANTIZED

// ---------------------------------------------------------------------------------------
// Activations: quantized

template <typename T>
void relu_quantized(const ReluParams& p, int64_t size, const T* input, T* output) {
  for (int64_t i = 0; i < size; ++i) {
    const int32_t y = p.output_zero_point +
                      multiply_by_quantized_multiplier(input[i] - p.input_zero_point,
                                                       p.output.multiplier, p.output.shift);
    output[i] = static_cast<T>(clamp_i32(y, p.activation_min, p.activation_max));
  }
}
template void relu_quantized<int8_t>(const ReluParams&, int64_t, const int8_t*, int8_t*);
template void relu_quantized<uint8_t>(const ReluParams&, int64_t, const uint8_t*, uint8_t*);
template void relu_quantized<int16_t>(const ReluParams&, int64_t, const int16_t*, int16_t*);

template <typename T>
void leaky_relu_quantized(const LeakyReluParams& p, int64_t size, const T* input, T* output) {
  for (int64_t i = 0; i < size; ++i) {
    const int32_t x = input[i] - p.input_zero_point;
    const QuantizedMultiplier& m = x >= 0 ? p.identity : p.alpha;
    output[i] = saturate_to<T>(p.output_zero_point +
                               multiply_by_quantized_multiplier(x, m.multiplier, m.shift));
  }
}
template void leaky_relu_quantized<int8_t>(const LeakyReluParams&, int64_t, const int8_t*, int8_t*);
template void leaky_relu_quantized<uint8_t>(const LeakyReluParams&, int64_t, const uint8_t*,
                                            uint8_t*);
template void leaky_relu_quantized<int16_t>(const LeakyReluParams&, int64_t, const int16_t*,
                                            int16_t*);

void leaky_relu_float(float alpha, int64_t size, const float* input, float* output) {
  for (int64_t i = 0; i < size; ++i) output[i] = input[i] > 0 ? input[i] : input[i] * alpha;
}

template <typename T, typename A>
void prelu_quantized(const PreluParams& p, const Shape& input_shape, const T* input,
                     const Shape& alpha_shape, const A* alpha, const Shape& output_shape,
                     T* output) {
  for_each_broadcast(input_shape, alpha_shape, output_shape, [&](int64_t ix, int64_t ia, int64_t o) {
    const int32_t x = p.input_offset + input[ix];
    const int32_t y =
        x >= 0 ? multiply_by_quantized_multiplier(x, p.identity.multiplier, p.identity.shift)
               : multiply_by_quantized_multiplier(x * (p.alpha_offset + alpha[ia]),
                                                  p.alpha.multiplier, p.alpha.shift);
    output[o] = saturate_to<T>(y + p.output_offset);
  });
}
template void prelu_quantized<int8_t, int8_t>(const PreluParams&, const Shape&, const int8_t*,
                                              const Shape&, const int8_t*, const Shape&, int8_t*);
template void prelu_quantized<uint8_t, uint8_t>(const PreluParams&, const Shape&, const uint8_t*,
                                                const Shape&, const uint8_t*, const Shape&,
                                                uint8_t*);
template void prelu_quantized<int16_t, int8_t>(const PreluParams&, const Shape&, const int16_t*,
                                               const Shape&, const int8_t*, const Shape&, int16_t*);

void prelu_float(const Shape& input_shape, const float* input, const Shape& alpha_shape,
                 const float* alpha, const Shape& output_shape, float* output) {
  for_each_broadcast(input_shape, alpha_shape, output_shape, [&](int64_t ix, int64_t ia, int64_t o) {
    output[o] = input[ix] >= 0.0f ? input[ix] : input[ix] * alpha[ia];
  });
}

template <typename T>
void hard_swish_quantized(const HardSwishParams& p, int64_t size, const T* input, T* output) {
  for (int64_t i = 0; i < size; ++i) {
    // |q - zp| <= 255, so the value and its 7-bit left shift fit in int16.
    const auto input_value = static_cast<int16_t>(input[i] - p.input_zero_point);
    const auto hires = static_cast<int16_t>(input_value * (1 << 7));
    // The input on the output scale, not yet shifted right by output_exponent.
    const int16_t on_preshift_output_scale =
        saturating_rounding_doubling_high_mul_16(hires, p.output_multiplier);
    // relu6(x + 3) / 6 as a Q0.15 value in [0, 1): first x / 3 saturated to [-1, 1] (the
    // left shift split in two so that only the last bit can saturate), then (v + 1) / 2.
    int16_t reluish = hires;
    if (p.reluish_exponent > 0) reluish = saturating_left_shift_16(reluish, p.reluish_exponent - 1);
    reluish = saturating_rounding_doubling_high_mul_16(reluish, p.reluish_multiplier);
    if (p.reluish_exponent > 0) reluish = saturating_left_shift_16(reluish, 1);
    if (p.reluish_exponent < 0) reluish = rounding_divide_by_pot_16(reluish, -p.reluish_exponent);
    reluish = static_cast<int16_t>((reluish + (1 << 15)) >> 1);
    const int16_t preshift_output = saturating_doubling_high_mul_16(reluish, on_preshift_output_scale);
    auto y = rounding_divide_by_pot_16(preshift_output, -p.output_exponent);
    y = static_cast<int16_t>(y + p.output_zero_point);
    output[i] = static_cast<T>(std::clamp<int16_t>(y, std::numeric_limits<T>::min(),
                                                   std::numeric_limits<T>::max()));
  }
}
template void hard_swish_quantized<int8_t>(const HardSwishParams&, int64_t, const int8_t*, int8_t*);
template void hard_swish_quantized<uint8_t>(const HardSwishParams&, int64_t, const uint8_t*,
                                            uint8_t*);

void logistic_int8(const Int8TranscendentalParams& p, int64_t size, const int8_t* input,
                   int8_t* output) {
  constexpr int kInputIntegerBits = 4;
  constexpr int kOutputIntegerBits = 8;  // the Q0.31 result rounded to 2^-8 steps
  for (int64_t i = 0; i < size; ++i) {
    const int32_t x = input[i] - p.input_zero_point;
    if (x <= -p.input_range_radius) {
      output[i] = std::numeric_limits<int8_t>::min();
    } else if (x >= p.input_range_radius) {
      output[i] = std::numeric_limits<int8_t>::max();
    } else {
      // |x| < radius keeps x * 2^shift inside int32 (that is what the radius is for).
      const int32_t x_q4 = multiply_by_quantized_multiplier(x, p.input_multiplier.multiplier,
                                                            p.input_multiplier.shift);
      const int32_t y_q0 = fp::logistic(x_q4, kInputIntegerBits);
      const int32_t y = rounding_divide_by_pot(y_q0, 31 - kOutputIntegerBits) - 128;
      output[i] = saturate_to<int8_t>(y);
    }
  }
}

void tanh_int8(const Int8TranscendentalParams& p, int64_t size, const int8_t* input,
               int8_t* output) {
  constexpr int kInputIntegerBits = 4;
  constexpr int kOutputFractionalBits = 7;  // output scale 1/128, zero point 0
  for (int64_t i = 0; i < size; ++i) {
    const int32_t x = input[i] - p.input_zero_point;
    if (x <= -p.input_range_radius) {
      output[i] = std::numeric_limits<int8_t>::min();
    } else if (x >= p.input_range_radius) {
      output[i] = std::numeric_limits<int8_t>::max();
    } else {
      const int32_t x_q4 = multiply_by_quantized_multiplier(x, p.input_multiplier.multiplier,
                                                            p.input_multiplier.shift);
      const int32_t y_q0 = fp::tanh(x_q4, kInputIntegerBits);
      output[i] = saturate_to<int8_t>(rounding_divide_by_pot(y_q0, 31 - kOutputFractionalBits));
    }
  }
}

void logistic_int16(const Int16TranscendentalParams& p, int64_t size, const int16_t* input,
                    int16_t* output) {
  for (int64_t i = 0; i < size; ++i) {
    // On the table's scale: 2^9 steps per table entry, entries 1/24 apart (so 3 * 4096 per
    // unit of input, which is where the factor 3 comes from).
    const int32_t x = scale_int16_input(input[i], p);
    const auto abs_x = static_cast<uint32_t>(std::abs(x));
    const uint32_t entry = abs_x >> 9;
    uint32_t result = 0;  // sigmoid(|x|) in Q0.25
    if (entry >= 255) {
      result = 0x7FFFu << 10;
    } else {
      const uint32_t a = fixed_point::kSigmoidTable[entry];
      const uint32_t b = fixed_point::kSigmoidTable[entry + 1];
      result = (a << 9) + (abs_x & 0x1ff) * (b - a);
    }
    // sigmoid(-x) = 1 - sigmoid(x); then round to Q0.15.
    result = x >= 0 ? result + (1u << 9) : (1u << 25) - result + (1u << 9) - 1;
    output[i] = static_cast<int16_t>(result >> 10);
  }
}

void tanh_int16(const Int16TranscendentalParams& p, int64_t size, const int16_t* input,
                int16_t* output) {
  for (int64_t i = 0; i < size; ++i) {
    // tanh(x) = 2 * sigmoid(2x) - 1: the same table at twice the input resolution (2^8
    // steps per entry).
    const int32_t x = scale_int16_input(input[i], p);
    const auto abs_x = static_cast<uint32_t>(std::abs(x));
    const uint32_t entry = abs_x >> 8;
    int32_t result = 0;
    if (entry >= 255) {
      result = 0xFFFF << 8;
    } else {
      const uint32_t a = fixed_point::kSigmoidTable[entry];
      const uint32_t b = fixed_point::kSigmoidTable[entry + 1];
      result = static_cast<int32_t>((a << 8) + (abs_x & 0xFF) * (b - a));
    }
    result = x >= 0 ? (result - (1 << 23) + (1 << 7)) : (-result + (1 << 23) + (1 << 7) - 1);
    output[i] = static_cast<int16_t>(result >> 8);
  }
}

template <typename T>
std::array<uint8_t, 256> make_lookup_table(float input_scale, int32_t input_zero_point,
                                           float output_scale, int32_t output_zero_point,
                                           float (*transform)(float)) {
  std::array<uint8_t, 256> table{};
  const float inverse_scale = 1 / output_scale;
  const int32_t minval = std::numeric_limits<T>::min();
  const int32_t maxval = std::numeric_limits<T>::max();
  for (int32_t val = minval; val <= maxval; ++val) {
    const float dequantized = input_scale * static_cast<float>(val - input_zero_point);
    const float rescaled = std::round(transform(dequantized) * inverse_scale);
    const auto quantized = static_cast<int32_t>(rescaled + static_cast<float>(output_zero_point));
    table[static_cast<uint8_t>(static_cast<T>(val))] =
        static_cast<uint8_t>(static_cast<T>(clamp_i32(quantized, minval, maxval)));
  }
  return table;
}
template std::array<uint8_t, 256> make_lookup_table<int8_t>(float, int32_t, float, int32_t,
                                                            float (*)(float));
template std::array<uint8_t, 256> make_lookup_table<uint8_t>(float, int32_t, float, int32_t,
                                                             float (*)(float));

template <typename T>
void lookup_table(const std::array<uint8_t, 256>& table, int64_t size, const T* input,
                  T* output) {
  for (int64_t i = 0; i < size; ++i)
    output[i] = static_cast<T>(table[static_cast<uint8_t>(input[i])]);
}
template void lookup_table<int8_t>(const std::array<uint8_t, 256>&, int64_t, const int8_t*,
                                   int8_t*);
template void lookup_table<uint8_t>(const std::array<uint8_t, 256>&, int64_t, const uint8_t*,
                                    uint8_t*);

// ---------------------------------------------------------------------------------------
// Softmax and log-softmax

namespace {
constexpr int kScaledDiffIntegerBits = 5;    // exp() input format Q5.26
constexpr int kAccumulationIntegerBits = 12;  // sum of exps in Q12.19: up to 4096 terms of <= 1
}  // namespace

template <typename In, typename Out>
void softmax_quantized(const SoftmaxParams& p, int64_t outer, int32_t depth, const In* input,
                       Out* output) {
  constexpr int32_t kOutMin = std::numeric_limits<Out>::min();
  constexpr int kOutBits = 8 * static_cast<int>(sizeof(Out));
  for (int64_t row = 0; row < outer; ++row) {
    const In* x = input + row * depth;
    Out* y = output + row * depth;
    In max_in_row = std::numeric_limits<In>::min();
    for (int32_t c = 0; c < depth; ++c) max_in_row = std::max(max_in_row, x[c]);

    // exp(beta * s_in * diff) in Q0.31 for a diff (<= 0) that passes the cut-off; diffs
    // >= diff_min keep diff * multiplier * 2^left_shift inside int32.
    auto exp_of_diff = [&](int32_t diff) {
      const int32_t scaled = multiply_by_quantized_multiplier_greater_than_one(
          diff, p.input_multiplier, p.input_left_shift);
      return fp::exp_on_negative_values(scaled, kScaledDiffIntegerBits);
    };
    int32_t sum_of_exps = 0;  // Q12.19
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t diff = int32_t{x[c]} - max_in_row;
      if (diff >= p.diff_min)
        sum_of_exps = fp::add(sum_of_exps, fp::rescale(exp_of_diff(diff), 0, kAccumulationIntegerBits));
    }

    // 1/sum = shifted_scale * 2^num_bits_over_unit; the probabilities are rounded to steps
    // of 2^-kOutBits. An exponent beyond 31 (sum >= 256 for 8-bit output, where TFLite
    // aborts) rounds every probability to 0, the exact result.
    int num_bits_over_unit = 0;
    const int32_t shifted_scale =
        fp::get_reciprocal(sum_of_exps, kAccumulationIntegerBits, &num_bits_over_unit);
    const int exponent = num_bits_over_unit + 31 - kOutBits;
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t diff = int32_t{x[c]} - max_in_row;
      if (diff >= p.diff_min) {
        const int32_t unsat =
            rounding_divide_by_pot_any(fp::mul(shifted_scale, exp_of_diff(diff)), exponent);
        y[c] = saturate_to<Out>(unsat + kOutMin);
      } else {
        y[c] = static_cast<Out>(kOutMin);
      }
    }
  }
}
template void softmax_quantized<int8_t, int8_t>(const SoftmaxParams&, int64_t, int32_t,
                                                const int8_t*, int8_t*);
template void softmax_quantized<uint8_t, uint8_t>(const SoftmaxParams&, int64_t, int32_t,
                                                  const uint8_t*, uint8_t*);
template void softmax_quantized<int8_t, int16_t>(const SoftmaxParams&, int64_t, int32_t,
                                                 const int8_t*, int16_t*);

void make_softmax_int16_tables(SoftmaxInt16Params* params) {
  // exp on [-10, 0] (exp(-10) is negligible in a sum) and 1/(1+x) on [0, 1], both onto the
  // output range [-1, 1].
  gen_lut([](float v) { return std::exp(v); }, -10.0f, 0.0f, -1.0f, 1.0f, &params->exp_table);
  gen_lut([](float v) { return 1.0f / (1.0f + v); }, 0.0f, 1.0f, -1.0f, 1.0f,
          &params->one_over_one_plus_x_table);
}

void softmax_int16(const SoftmaxInt16Params& p, int64_t outer, int32_t depth,
                   const int16_t* input, int16_t* output) {
  for (int64_t row = 0; row < outer; ++row) {
    const int16_t* x = input + row * depth;
    int16_t* y = output + row * depth;
    int16_t max_in_row = std::numeric_limits<int16_t>::min();
    for (int32_t c = 0; c < depth; ++c) max_in_row = std::max(max_in_row, x[c]);

    // exp(diff) in Q0.15 (diff mapped so that [-65535, 0] is [-10, 0], then recentred onto
    // the table's symmetric input range); cached in the output row.
    int32_t sum_of_exps = 0;  // Q16.15
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t scaled_diff = multiply_by_quantized_multiplier(
          x[c] - max_in_row, p.input_multiplier.multiplier, p.input_multiplier.shift);
      const int32_t sym_scaled_diff = scaled_diff + 32767;
      y[c] = lut_lookup(static_cast<int16_t>(clamp_i32(sym_scaled_diff, -32768, 32767)), p.exp_table);
      sum_of_exps += y[c];
    }

    // 1/sum from the 1/(1+x) table: sum normalised to [1, 2) in Q1.15 (rounded), x = that
    // minus 1, recentred onto [-32768, 32767].
    const int headroom_plus_one = fp::count_leading_zeros(static_cast<uint32_t>(sum_of_exps));
    const auto shifted_sum = static_cast<int32_t>(
        ((static_cast<int64_t>(sum_of_exps) << (headroom_plus_one - 1)) + (1 << 13)) >> 14);
    const int32_t sym_shifted_sum = shifted_sum - ((1 << 15) + (1 << 16));
    const int16_t reciprocal_scale = lut_lookup(
        static_cast<int16_t>(clamp_i32(sym_shifted_sum, -32768, 32767)), p.one_over_one_plus_x_table);

    const int right_shift = 31 - headroom_plus_one;
    const int64_t round = int64_t{1} << (right_shift - 1);
    for (int32_t c = 0; c < depth; ++c) {
      const auto result = static_cast<int32_t>(
          (static_cast<int64_t>(y[c]) * static_cast<int64_t>(reciprocal_scale) + round) >> right_shift);
      y[c] = static_cast<int16_t>(clamp_i32(result, 0, 32767));
    }
  }
}

void softmax_float(float beta, int64_t outer, int32_t depth, const float* input, float* output) {
  for (int64_t row = 0; row < outer; ++row) {
    const float* x = input + row * depth;
    float* y = output + row * depth;
    float max = std::numeric_limits<float>::lowest();
    for (int32_t c = 0; c < depth; ++c) max = std::max(max, x[c]);
    float sum = 0.0f;
    for (int32_t c = 0; c < depth; ++c) {
      y[c] = std::exp((x[c] - max) * beta);
      sum += y[c];
    }
    for (int32_t c = 0; c < depth; ++c) y[c] = y[c] / sum;
  }
}

template <typename T>
void log_softmax_quantized(const LogSoftmaxParams& p, int64_t outer, int32_t depth,
                           const T* input, T* output) {
  constexpr int32_t kMin = std::numeric_limits<T>::min();
  constexpr int32_t kMax = std::numeric_limits<T>::max();
  constexpr int kOutputIntegerBits = 4;  // output steps of 16/256 = 2^-4: Q5.26 >> 22
  for (int64_t row = 0; row < outer; ++row) {
    const T* x = input + row * depth;
    T* y = output + row * depth;
    T max_in_row = std::numeric_limits<T>::min();
    for (int32_t c = 0; c < depth; ++c) max_in_row = std::max(max_in_row, x[c]);

    auto diff_q5 = [&](int32_t diff) {
      return multiply_by_quantized_multiplier(diff, p.input_multiplier, p.input_left_shift);
    };
    int32_t sum_of_exps = 0;  // Q12.19
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t diff = int32_t{x[c]} - max_in_row;
      if (diff >= p.diff_min) {
        const int32_t e = fp::exp_on_negative_values(diff_q5(diff), kScaledDiffIntegerBits);
        sum_of_exps = fp::add(sum_of_exps, fp::rescale(e, 0, kAccumulationIntegerBits));
      }
    }
    const int32_t log_sum_q5 = fp::log_x_for_x_greater_than_or_equal_to_1(
        sum_of_exps, kAccumulationIntegerBits, kScaledDiffIntegerBits);

    // Diffs whose Q5.26 value minus log_sum would fall below the Q5.26 range (or below the
    // radius cut-off) give the minimum output.
    const int32_t shifted_log_sum = fp::add(log_sum_q5, std::numeric_limits<int32_t>::min());
    const int32_t adjusted_diff_min = std::max(
        p.diff_min - 1, multiply_by_quantized_multiplier(shifted_log_sum, p.reverse_scaling.multiplier,
                                                         p.reverse_scaling.shift));
    for (int32_t c = 0; c < depth; ++c) {
      const int32_t diff = int32_t{x[c]} - max_in_row;
      if (diff > adjusted_diff_min) {
        const int32_t out = rounding_divide_by_pot(fp::sub(diff_q5(diff), log_sum_q5),
                                                   31 - kScaledDiffIntegerBits - kOutputIntegerBits) +
                            kMax;
        y[c] = static_cast<T>(clamp_i32(out, kMin, kMax));
      } else {
        y[c] = static_cast<T>(kMin);
      }
    }
  }
}
template void log_softmax_quantized<int8_t>(const LogSoftmaxParams&, int64_t, int32_t,
                                            const int8_t*, int8_t*);
template void log_softmax_quantized<uint8_t>(const LogSoftmaxParams&, int64_t, int32_t,
                                             const uint8_t*, uint8_t*);

void log_softmax_float(int64_t outer, int32_t depth, const float* input, float* output) {
  for (int64_t row = 0; row < outer; ++row) {
    const float* x = input + row * depth;
    float* y = output + row * depth;
    float max = std::numeric_limits<float>::lowest();
    for (int32_t c = 0; c < depth; ++c) max = std::max(max, x[c]);
    float sum = 0.0f;
    for (int32_t c = 0; c < depth; ++c) sum += std::exp(x[c] - max);
    const float log_sum = std::log(sum);
    for (int32_t c = 0; c < depth; ++c) y[c] = x[c] - max - log_sum;
  }
}

// ---------------------------------------------------------------------------------------
// Unary

void unary_float(UnaryOp op, int64_t size, const float* input, float* output) {
  auto run = [&](auto f) {
    for (int64_t i = 0; i < size; ++i) output[i] = f(input[i]);
  };
  switch (op) {
    case UnaryOp::abs: return run([](float x) { return std::abs(x); });
    case UnaryOp::ceil: return run([](float x) { return std::ceil(x); });
    case UnaryOp::cos: return run([](float x) { return std::cos(x); });
    case UnaryOp::elu: return run([](float x) { return x < 0.0f ? std::expm1(x) : x; });
    case UnaryOp::exp: return run([](float x) { return std::exp(x); });
    case UnaryOp::floor: return run([](float x) { return std::floor(x); });
    case UnaryOp::hard_swish:
      return run([](float x) { return x * std::min(6.0f, std::max(0.0f, x + 3)) / 6; });
    case UnaryOp::log: return run([](float x) { return std::log(x); });
    case UnaryOp::logistic:
      return run([](float x) {
        // Beyond the cut-offs the float result is 1 or exp(x) to within rounding; TFLite
        // returns those directly.
        constexpr float kCutoffUpper = 16.619047164916992188f;
        constexpr float kCutoffLower = -9.0f;
        if (x > kCutoffUpper) return 1.0f;
        if (x < kCutoffLower) return std::exp(x);
        return 1.0f / (1.0f + std::exp(-x));
      });
    case UnaryOp::neg: return run([](float x) { return -x; });
    case UnaryOp::relu: return run([](float x) { return x < 0.0f ? 0.0f : x; });
    case UnaryOp::relu6:
      return run([](float x) { return x > 6.0f ? 6.0f : (x < 0.0f ? 0.0f : x); });
    case UnaryOp::relu_n1_to_1:
      return run([](float x) { return x > 1.0f ? 1.0f : (x < -1.0f ? -1.0f : x); });
    case UnaryOp::round: return run(round_half_to_even);
    case UnaryOp::rsqrt: return run([](float x) { return 1.0f / std::sqrt(x); });
    case UnaryOp::sin: return run([](float x) { return std::sin(x); });
    case UnaryOp::sqrt: return run([](float x) { return std::sqrt(x); });
    case UnaryOp::square: return run([](float x) { return x * x; });
    case UnaryOp::tanh: return run([](float x) { return std::tanh(x); });
  }
}

void neg_int32(int64_t size, const int32_t* input, int32_t* output) {
  for (int64_t i = 0; i < size; ++i) output[i] = wrap_sub(0, input[i]);
}

template <typename T>
void abs_quantized(const AbsParams& p, int64_t size, const T* input, T* output) {
  for (int64_t i = 0; i < size; ++i) {
    const int32_t value = std::abs(input[i] - p.input_zero_point);
    const int32_t scaled =
        p.rescale ? multiply_by_quantized_multiplier(value, p.output.multiplier, p.output.shift)
                  : value;
    output[i] = saturate_to<T>(scaled + p.output_zero_point);
  }
}
template void abs_quantized<int8_t>(const AbsParams&, int64_t, const int8_t*, int8_t*);
template void abs_quantized<int16_t>(const AbsParams&, int64_t, const int16_t*, int16_t*);

void rsqrt_int8(const RsqrtParams& p, int64_t size, const int8_t* input, int8_t* output) {
  // 1/sqrt(value) is formed with 20 extra fraction bits so that it stays an integer, and
  // those bits are removed again by the output multiplier.
  constexpr int kShift = 20;
  for (int64_t i = 0; i < size; ++i) {
    const int32_t value = input[i] - p.input_zero_point;
    if (value == 0) {  // 1/sqrt(0): the largest output
      output[i] = std::numeric_limits<int8_t>::max();
      continue;
    }
    if (value < 0) {  // undefined; TFLite Micro fails the invoke
      output[i] = std::numeric_limits<int8_t>::min();
      continue;
    }
    const QuantizedMultiplier inv_sqrt = fp::inv_sqrt_quantized_multiplier(value);
    const int32_t data =
        multiply_by_quantized_multiplier(1, inv_sqrt.multiplier, inv_sqrt.shift + kShift);
    const int32_t y =
        multiply_by_quantized_multiplier(data, p.output.multiplier, p.output.shift - kShift) +
        p.output_zero_point;
    output[i] = saturate_to<int8_t>(y);
  }
}

}  // namespace tessel::kernels
