// Question answered: do the elementwise reference kernels (binary arithmetic with
// broadcasting, activations, softmax family, unary math) compute TFLite's integer and float
// results, and does each binding reject what it cannot run with a message naming it?
//
// How: the integer rescaling ops are compared for exact equality with an independent loop
// written here (its own broadcasting index arithmetic and a 128-bit model of TFLite's
// double-rounding multiply); the transcendental ops (logistic, tanh, softmax, log-softmax,
// hard-swish, rsqrt, quantized division) with the real-valued function, within one
// quantization step (a few for the table-based int16 ones), and their exact bits against
// values pinned after a cross-check with TFLite's code; plus hand-computed cases, rounding
// ties, saturation, TFLite Micro's own softmax test vectors, and every bad-input path.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "op_test_util.hpp"
#include "tessel/cpu/op_registry.hpp"
#include "tessel/kernels/elementwise.hpp"
#include "tessel/kernels/fixed_point.hpp"
#include "tessel/kernels/quant.hpp"

// The reference computations here mix float scales into double arithmetic on purpose.
#pragma GCC diagnostic ignored "-Wdouble-promotion"

using namespace tessel;
using test::as_bytes;
using test::OpTest;
using test::quant;
using test::random_values;

namespace {

const cpu::OpRegistry& registry() {
  static const cpu::OpRegistry r = [] {
    cpu::OpRegistry reg;
    cpu::register_ref_elementwise_ops(reg);
    return reg;
  }();
  return r;
}

__extension__ typedef __int128 i128;

// TFLite's double-rounding MultiplyByQuantizedMultiplier modelled with 128-bit integers:
// round(x * 2^left * m / 2^31) with ties toward +infinity, then a division by 2^right
// rounding half away from zero.
int32_t model_mbqm(int32_t x, int32_t m, int shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  const i128 xs = static_cast<i128>(x) * (i128{1} << left);
  const i128 p = xs * m;
  const i128 d = i128{1} << 31;
  const i128 high = p >= 0 ? (p + d / 2) / d : -((-p + d / 2 - 1) / d);
  if (right == 0) return static_cast<int32_t>(high);
  const i128 e = i128{1} << right;
  return static_cast<int32_t>(high >= 0 ? (high + e / 2) / e : -((-high + e / 2) / e));
}

int32_t model_mbqm(int32_t x, double real) {
  const kernels::QuantizedMultiplier q = kernels::quantize_multiplier(real);
  return model_mbqm(x, q.multiplier, q.shift);
}

int32_t clamp(int64_t v, int64_t lo, int64_t hi) { return static_cast<int32_t>(std::min(std::max(v, lo), hi)); }

// Flat index of the input element that broadcasts onto output element `o` (numpy rules),
// computed from coordinates.
int64_t broadcast_index(const std::vector<int32_t>& in, const std::vector<int32_t>& out, int64_t o) {
  std::vector<int64_t> coord(out.size());
  for (size_t d = out.size(); d-- > 0;) {
    coord[d] = o % out[d];
    o /= out[d];
  }
  int64_t index = 0;
  const size_t lead = out.size() - in.size();
  for (size_t d = 0; d < in.size(); ++d) index = index * in[d] + (in[d] == 1 ? 0 : coord[d + lead]);
  return index;
}

int64_t count(const std::vector<int32_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<int64_t>());
}

struct Q {
  float scale;
  int32_t zp;
};

using Attrs = std::vector<std::pair<std::string, ir::AttrValue>>;

template <typename T>
std::vector<T> run_binary(ir::OpType type, ir::DType dt, const std::vector<int32_t>& s1,
                          const std::vector<T>& a, const std::vector<int32_t>& s2,
                          const std::vector<T>& b, const std::vector<int32_t>& so,
                          ir::Quantization q1 = {}, ir::Quantization q2 = {},
                          ir::Quantization qo = {}, int activation = 0) {
  OpTest t(type);
  t.input("a", dt, s1, std::move(q1));
  t.input("b", dt, s2, std::move(q2));
  t.output("y", dt, so, std::move(qo));
  t.attr("fused_activation_function", activation);
  return t.run<T>(registry(), {as_bytes(a), as_bytes(b)});
}

template <typename Out, typename In>
std::vector<Out> run_unary(ir::OpType type, ir::DType in_dt, ir::DType out_dt,
                           const std::vector<int32_t>& shape, const std::vector<In>& x,
                           ir::Quantization qi = {}, ir::Quantization qo = {}, const Attrs& attrs = {}) {
  OpTest t(type);
  t.input("x", in_dt, shape, std::move(qi));
  t.output("y", out_dt, shape, std::move(qo));
  for (const auto& kv : attrs) t.attr(kv.first, kv.second);
  return t.run<Out>(registry(), {as_bytes(x)});
}

template <typename T>
std::vector<T> all_values() {
  std::vector<T> v;
  for (int32_t i = std::numeric_limits<T>::min(); i <= std::numeric_limits<T>::max(); ++i)
    v.push_back(static_cast<T>(i));
  return v;
}

// The independent ADD / SUB of TFLite's scheme: inputs onto 2 * max(s1, s2) / 2^shift, then
// onto the output scale. `float_divisions` mirrors TFLite Micro's SUB parameter arithmetic.
template <typename T>
std::vector<T> model_add_sub(bool subtract, bool float_divisions, Q q1, Q q2, Q qo, int left_shift,
                             int32_t lo, int32_t hi, const std::vector<int32_t>& s1,
                             const std::vector<T>& a, const std::vector<int32_t>& s2,
                             const std::vector<T>& b, const std::vector<int32_t>& so) {
  double r1, r2, ro;
  if (float_divisions) {
    const float twice = 2 * std::max(q1.scale, q2.scale);
    r1 = static_cast<double>(q1.scale / twice);
    r2 = static_cast<double>(q2.scale / twice);
    ro = static_cast<double>(twice / (static_cast<float>(1 << left_shift) * qo.scale));
  } else {
    const double twice = 2.0 * static_cast<double>(std::max(q1.scale, q2.scale));
    r1 = static_cast<double>(q1.scale) / twice;
    r2 = static_cast<double>(q2.scale) / twice;
    ro = twice / (std::ldexp(1.0, left_shift) * static_cast<double>(qo.scale));
  }
  std::vector<T> out(static_cast<size_t>(count(so)));
  for (int64_t o = 0; o < count(so); ++o) {
    const int32_t x1 = (a[broadcast_index(s1, so, o)] - q1.zp) * (1 << left_shift);
    const int32_t x2 = (b[broadcast_index(s2, so, o)] - q2.zp) * (1 << left_shift);
    const int32_t y1 = model_mbqm(x1, r1);
    const int32_t y2 = model_mbqm(x2, r2);
    const int32_t y = model_mbqm(subtract ? y1 - y2 : y1 + y2, ro) + qo.zp;
    out[o] = static_cast<T>(clamp(y, lo, hi));
  }
  return out;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Largest |got - round(expected)| over a vector.
template <typename T>
int max_abs_diff(const std::vector<T>& got, const std::vector<double>& expected) {
  int worst = 0;
  for (size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, static_cast<int>(std::abs(got[i] - std::lround(expected[i]))));
  return worst;
}

}  // namespace

// =======================================================================================
// Fixed-point helpers

TEST_CASE("fixed_point: exp, logistic, tanh, log, reciprocal and rsqrt track the real functions") {
  namespace fp = kernels::fixed_point;
  const double q31 = 2147483648.0;
  CHECK(fp::exp_on_negative_values(0, 5) == fp::kRawMax);
  CHECK(fp::logistic(0, 4) == (1 << 30));
  CHECK(fp::tanh(0, 4) == 0);
  double worst_exp = 0, worst_logistic = 0, worst_tanh = 0, worst_log = 0, worst_recip = 0;
  for (int i = 0; i <= 4000; ++i) {
    const double x = -16.0 + i * 0.004;  // [-16, 0]
    const auto raw = static_cast<int32_t>(std::lround(x * (1 << 26)));  // Q5.26
    worst_exp = std::max(worst_exp, std::abs(fp::exp_on_negative_values(raw, 5) / q31 - std::exp(raw / 67108864.0)));
    const double y = -8.0 + i * 0.004;  // [-8, 8] in Q4.27
    const auto raw4 = static_cast<int32_t>(std::lround(y * (1 << 27)));
    worst_logistic = std::max(worst_logistic, std::abs(fp::logistic(raw4, 4) / q31 - sigmoid(raw4 / 134217728.0)));
    worst_tanh = std::max(worst_tanh, std::abs(fp::tanh(raw4, 4) / q31 - std::tanh(raw4 / 134217728.0)));
    const double z = 1.0 + i;  // [1, 4001] in Q12.19
    const auto raw12 = static_cast<int32_t>(z * (1 << 19));
    worst_log = std::max(worst_log, std::abs(fp::log_x_for_x_greater_than_or_equal_to_1(raw12, 12, 5) / 67108864.0 - std::log(z)));
    int bits = 0;
    const int32_t s = fp::get_reciprocal(raw12, 12, &bits);
    worst_recip = std::max(worst_recip, std::abs(s / q31 * std::ldexp(1.0, -bits) * z - 1.0));
  }
  CHECK(worst_exp < 1e-6);
  CHECK(worst_logistic < 1e-6);
  CHECK(worst_tanh < 1e-6);
  CHECK(worst_log < 1e-5);
  CHECK(worst_recip < 1e-6);
  // Five Newton steps from x = 1 leave ~1.2e-6 at the low end of the normalised range
  // (inputs 2 and 2^29 normalise to exactly 1/4).
  for (int32_t v : {2, 3, 10, 127, 1000, 65536, 1 << 29, INT32_MAX}) {
    const kernels::QuantizedMultiplier m = fp::inv_sqrt_quantized_multiplier(v);
    const double approx = m.multiplier / q31 * std::ldexp(1.0, m.shift);
    CHECK(std::abs(approx * std::sqrt(static_cast<double>(v)) - 1.0) < 1.5e-6);
  }
  CHECK(fp::inv_sqrt_quantized_multiplier(1).multiplier == fp::kRawMax);
}

TEST_CASE("fixed_point: saturation and rounding of the power-of-two scaling") {
  namespace fp = kernels::fixed_point;
  CHECK(fp::saturating_rounding_multiply_by_pot(1 << 29, 1) == (1 << 30));
  CHECK(fp::saturating_rounding_multiply_by_pot(1 << 30, 1) == fp::kRawMax);
  CHECK(fp::saturating_rounding_multiply_by_pot(-(1 << 30) - 1, 1) == fp::kRawMin);
  CHECK(fp::saturating_rounding_multiply_by_pot(5, -1) == 3);    // 2.5 -> 3
  CHECK(fp::saturating_rounding_multiply_by_pot(-5, -1) == -3);  // -2.5 -> -3
  CHECK(fp::rounding_half_sum(3, 4) == 4);                        // 3.5 -> 4
  CHECK(fp::rounding_half_sum(-3, -4) == -4);                     // -3.5 -> -4
  CHECK(fp::rounding_half_sum(fp::kRawMax, fp::kRawMax) == fp::kRawMax);
  CHECK(fp::count_leading_zeros(0) == 32);
  CHECK(fp::count_leading_zeros(1) == 31);
  CHECK(fp::count_leading_zeros(0x80000000u) == 0);
}

// =======================================================================================
// Broadcasting

TEST_CASE("broadcast_shape follows numpy's trailing-dimension rule") {
  using kernels::Shape;
  Shape out;
  REQUIRE(kernels::broadcast_shape(Shape{2, 1, 3}, Shape{4, 1}, &out));
  CHECK(out == Shape{2, 4, 3});
  REQUIRE(kernels::broadcast_shape(Shape{3}, Shape{}, &out));
  CHECK(out == Shape{3});
  REQUIRE(kernels::broadcast_shape(Shape{1, 1, 1, 1, 1, 5}, Shape{2, 1}, &out));
  CHECK(out == Shape{1, 1, 1, 1, 2, 5});
  CHECK_FALSE(kernels::broadcast_shape(Shape{2, 3}, Shape{3, 2}, &out));
  CHECK_FALSE(kernels::broadcast_shape(Shape{4, 3}, Shape{2, 3}, &out));
}

// =======================================================================================
// ADD / SUB

TEST_CASE("ADD int8 with unit scales is exact addition, saturating at the int8 limits") {
  const auto y = run_binary<int8_t>(ir::OpType::ADD, ir::DType::i8, {5}, {1, -7, 100, -100, 127},
                                    {5}, {2, 3, 100, -100, -128}, {5}, quant(1.0f, 0),
                                    quant(1.0f, 0), quant(1.0f, 0));
  CHECK(y == std::vector<int8_t>{3, -4, 127, -128, -1});
}

TEST_CASE("ADD int8 rounds ties half away from zero in the final right shift") {
  // Output scale 2: y = (a + b) / 2. 1.5 -> 2, -1.5 -> -2, 0.5 -> 1, -0.5 -> -1.
  const auto y = run_binary<int8_t>(ir::OpType::ADD, ir::DType::i8, {4}, {1, -1, 0, 0}, {4},
                                    {2, -2, 1, -1}, {4}, quant(1.0f, 0), quant(1.0f, 0),
                                    quant(2.0f, 0));
  CHECK(y == std::vector<int8_t>{2, -2, 1, -1});
}

TEST_CASE("ADD int8 with fused RELU6 clamps in the output's quantized domain") {
  // Output scale 0.1, zero point -20: RELU6 range is [-20, 40].
  const auto y = run_binary<int8_t>(ir::OpType::ADD, ir::DType::i8, {4}, {-50, 0, 30, 100}, {4},
                                    {0, 0, 0, 0}, {4}, quant(0.1f, 0), quant(0.1f, 0),
                                    quant(0.1f, -20), 3);
  CHECK(y == std::vector<int8_t>{-20, -20, 10, 40});
}

TEST_CASE("ADD int8/uint8/int16 equal the independent model, with broadcasting of any rank") {
  struct Case {
    std::vector<int32_t> s1, s2, so;
  };
  const std::vector<Case> cases = {{{2, 3, 4}, {2, 3, 4}, {2, 3, 4}},
                                   {{2, 3, 4}, {4}, {2, 3, 4}},
                                   {{3, 1}, {1, 5}, {3, 5}},
                                   {{1, 2, 1, 3}, {2, 1}, {1, 2, 2, 3}},
                                   {{2, 1, 1, 1, 2, 3}, {1, 3, 1, 2, 1, 1}, {2, 3, 1, 2, 2, 3}},
                                   {{}, {3, 2}, {3, 2}}};
  const Q q1{0.0173f, -7}, q2{0.0391f, 12}, qo{0.0459f, -3};
  uint32_t seed = 1;
  for (const Case& c : cases) {
    for (int activation : {0, 1}) {
      const auto a = random_values<int8_t>(static_cast<size_t>(count(c.s1)), -128, 127, seed++);
      const auto b = random_values<int8_t>(static_cast<size_t>(count(c.s2)), -128, 127, seed++);
      const auto y = run_binary<int8_t>(ir::OpType::ADD, ir::DType::i8, c.s1, a, c.s2, b, c.so,
                                        quant(q1.scale, q1.zp), quant(q2.scale, q2.zp),
                                        quant(qo.scale, qo.zp), activation);
      const int32_t lo = activation == 1 ? qo.zp : -128;
      CHECK(y == model_add_sub<int8_t>(false, false, q1, q2, qo, 20, lo, 127, c.s1, a, c.s2, b, c.so));
    }
  }
  {  // uint8, as MobileNetV2's residual ADDs
    const Q u1{0.0235f, 131}, u2{0.0187f, 119}, uo{0.0319f, 126};
    const auto a = random_values<uint8_t>(60, 0, 255, 41);
    const auto b = random_values<uint8_t>(5, 0, 255, 42);
    const auto y = run_binary<uint8_t>(ir::OpType::ADD, ir::DType::u8, {3, 4, 5}, a, {5}, b,
                                       {3, 4, 5}, quant(u1.scale, u1.zp), quant(u2.scale, u2.zp),
                                       quant(uo.scale, uo.zp));
    CHECK(y == model_add_sub<uint8_t>(false, false, u1, u2, uo, 20, 0, 255, {3, 4, 5}, a, {5}, b, {3, 4, 5}));
  }
  {  // int16: left shift 15
    const Q s1{0.00031f, 0}, s2{0.00047f, 0}, so{0.0009f, 0};
    const auto a = random_values<int16_t>(24, -32768, 32767, 43);
    const auto b = random_values<int16_t>(24, -32768, 32767, 44);
    const auto y = run_binary<int16_t>(ir::OpType::ADD, ir::DType::i16, {4, 6}, a, {4, 6}, b,
                                       {4, 6}, quant(s1.scale, 0), quant(s2.scale, 0), quant(so.scale, 0));
    CHECK(y == model_add_sub<int16_t>(false, false, s1, s2, so, 15, -32768, 32767, {4, 6}, a, {4, 6}, b, {4, 6}));
  }
}

TEST_CASE("SUB int8/uint8/int16 equal the independent model; unit scales subtract exactly") {
  const auto exact = run_binary<int8_t>(ir::OpType::SUB, ir::DType::i8, {4}, {5, -100, 100, 0}, {4},
                                        {7, 100, -100, -128}, {4}, quant(1.0f, 0), quant(1.0f, 0),
                                        quant(1.0f, 0));
  CHECK(exact == std::vector<int8_t>{-2, -128, 127, 127});

  const Q q1{0.0211f, 5}, q2{0.0063f, -40}, qo{0.0277f, 9};
  const auto a = random_values<int8_t>(30, -128, 127, 7);
  const auto b = random_values<int8_t>(6, -128, 127, 8);
  const auto y = run_binary<int8_t>(ir::OpType::SUB, ir::DType::i8, {5, 6}, a, {6}, b, {5, 6},
                                    quant(q1.scale, q1.zp), quant(q2.scale, q2.zp), quant(qo.scale, qo.zp));
  CHECK(y == model_add_sub<int8_t>(true, true, q1, q2, qo, 20, -128, 127, {5, 6}, a, {6}, b, {5, 6}));

  const Q u1{0.0211f, 120}, u2{0.0063f, 3}, uo{0.0277f, 128};
  const auto ua = random_values<uint8_t>(30, 0, 255, 9);
  const auto ub = random_values<uint8_t>(30, 0, 255, 10);
  const auto uy = run_binary<uint8_t>(ir::OpType::SUB, ir::DType::u8, {30}, ua, {30}, ub, {30},
                                      quant(u1.scale, u1.zp), quant(u2.scale, u2.zp), quant(uo.scale, uo.zp));
  CHECK(uy == model_add_sub<uint8_t>(true, false, u1, u2, uo, 20, 0, 255, {30}, ua, {30}, ub, {30}));

  const Q s1{0.0003f, 0}, so{0.0005f, 0};
  const auto ia = random_values<int16_t>(16, -32768, 32767, 11);
  const auto ib = random_values<int16_t>(16, -32768, 32767, 12);
  const auto iy = run_binary<int16_t>(ir::OpType::SUB, ir::DType::i16, {16}, ia, {16}, ib, {16},
                                      quant(s1.scale, 0), quant(s1.scale, 0), quant(so.scale, 0));
  CHECK(iy == model_add_sub<int16_t>(true, true, s1, s1, so, 15, -32768, 32767, {16}, ia, {16}, ib, {16}));
}

TEST_CASE("ADD/SUB/MUL float32 and int32 with fused activations and broadcasting") {
  const std::vector<float> a{-2.5f, 0.5f, 3.0f, 7.0f, -1.0f, 2.0f};
  const auto y = run_binary<float>(ir::OpType::ADD, ir::DType::f32, {2, 3}, a, {3}, std::vector<float>{1.0f, 0.25f, 4.0f},
                                   {2, 3}, {}, {}, {}, 3);
  CHECK(y == std::vector<float>{0.0f, 0.75f, 6.0f, 6.0f, 0.0f, 6.0f});
  const auto s = run_binary<float>(ir::OpType::SUB, ir::DType::f32, {2, 3}, a, {1}, std::vector<float>{0.5f},
                                   {2, 3}, {}, {}, {}, 2);
  CHECK(s == std::vector<float>{-1.0f, 0.0f, 1.0f, 1.0f, -1.0f, 1.0f});
  const auto m = run_binary<float>(ir::OpType::MUL, ir::DType::f32, {2, 3}, a, {2, 1}, std::vector<float>{2.0f, -1.0f},
                                   {2, 3});
  CHECK(m == std::vector<float>{-5.0f, 1.0f, 6.0f, -7.0f, 1.0f, -2.0f});

  const std::vector<int32_t> ia{INT32_MAX, -5, 7, 100};
  const auto iy = run_binary<int32_t>(ir::OpType::ADD, ir::DType::i32, {4}, ia, {1}, std::vector<int32_t>{1}, {4});
  CHECK(iy == std::vector<int32_t>{INT32_MIN, -4, 8, 101});  // wraps like two's complement
  const auto ir6 = run_binary<int32_t>(ir::OpType::MUL, ir::DType::i32, {4}, ia, {1}, std::vector<int32_t>{-1}, {4},
                                       {}, {}, {}, 3);
  CHECK(ir6 == std::vector<int32_t>{0, 5, 0, 0});
  const auto isub = run_binary<int32_t>(ir::OpType::SUB, ir::DType::i32, {4}, ia, {4}, std::vector<int32_t>{1, 5, 10, 0}, {4},
                                        {}, {}, {}, 1);
  CHECK(isub == std::vector<int32_t>{INT32_MAX - 1, 0, 0, 100});
}

// =======================================================================================
// MUL, DIV, SQUARED_DIFFERENCE, MAXIMUM / MINIMUM

TEST_CASE("MUL int8: exact products, saturation, and the doubling-high-mul tie toward +infinity") {
  // s1 * s2 / so = 1: y = a * b.
  const auto y = run_binary<int8_t>(ir::OpType::MUL, ir::DType::i8, {5}, {3, -4, 20, -20, 0}, {5},
                                    {5, 6, 20, 20, 9}, {5}, quant(0.5f, 0), quant(0.5f, 0), quant(0.25f, 0));
  CHECK(y == std::vector<int8_t>{15, -24, 127, -128, 0});
  // Multiplier exactly 1/2: 3/2 -> 2 and -3/2 -> -1 (ties toward +infinity), 5/2 -> 3.
  const auto h = run_binary<int8_t>(ir::OpType::MUL, ir::DType::i8, {3}, {3, -3, 5}, {3}, {1, 1, 1},
                                    {3}, quant(0.5f, 0), quant(0.5f, 0), quant(0.5f, 0));
  CHECK(h == std::vector<int8_t>{2, -1, 3});
}

TEST_CASE("MUL int8/uint8/int16 equal the independent model") {
  auto model = [](Q q1, Q q2, Q qo, double real, int32_t lo, int32_t hi, const std::vector<int32_t>& s1,
                  const std::vector<int32_t>& a, const std::vector<int32_t>& s2, const std::vector<int32_t>& b,
                  const std::vector<int32_t>& so) {
    std::vector<int32_t> out;
    for (int64_t o = 0; o < count(so); ++o) {
      const int32_t p = (a[broadcast_index(s1, so, o)] - q1.zp) * (b[broadcast_index(s2, so, o)] - q2.zp);
      out.push_back(clamp(model_mbqm(p, real) + qo.zp, lo, hi));
    }
    return out;
  };
  const Q q1{0.0311f, -9}, q2{0.0127f, 17}, qo{0.0213f, 4};
  const auto a = random_values<int8_t>(24, -128, 127, 21);
  const auto b = random_values<int8_t>(4, -128, 127, 22);
  const auto y = run_binary<int8_t>(ir::OpType::MUL, ir::DType::i8, {2, 3, 4}, a, {4}, b, {2, 3, 4},
                                    quant(q1.scale, q1.zp), quant(q2.scale, q2.zp), quant(qo.scale, qo.zp), 1);
  const double real = static_cast<double>(q1.scale) * static_cast<double>(q2.scale) / static_cast<double>(qo.scale);
  CHECK(std::vector<int32_t>(y.begin(), y.end()) ==
        model(q1, q2, qo, real, qo.zp, 127, {2, 3, 4}, {a.begin(), a.end()}, {4}, {b.begin(), b.end()}, {2, 3, 4}));

  const Q u1{0.0311f, 130}, u2{0.0127f, 90}, uo{0.0213f, 128};
  const auto ua = random_values<uint8_t>(12, 0, 255, 23);
  const auto ub = random_values<uint8_t>(12, 0, 255, 24);
  const auto uy = run_binary<uint8_t>(ir::OpType::MUL, ir::DType::u8, {12}, ua, {12}, ub, {12},
                                      quant(u1.scale, u1.zp), quant(u2.scale, u2.zp), quant(uo.scale, uo.zp));
  const double ureal = static_cast<double>(u1.scale * u2.scale / uo.scale);  // full TFLite: float
  CHECK(std::vector<int32_t>(uy.begin(), uy.end()) ==
        model(u1, u2, uo, ureal, 0, 255, {12}, {ua.begin(), ua.end()}, {12}, {ub.begin(), ub.end()}, {12}));

  const Q s{0.001f, 0}, so{0.03f, 0};
  const auto ia = random_values<int16_t>(10, -32768, 32767, 25);
  const auto ib = random_values<int16_t>(10, -32768, 32767, 26);
  const auto iy = run_binary<int16_t>(ir::OpType::MUL, ir::DType::i16, {10}, ia, {10}, ib, {10},
                                      quant(s.scale, 0), quant(s.scale, 0), quant(so.scale, 0));
  const double ireal = static_cast<double>(s.scale) * static_cast<double>(s.scale) / static_cast<double>(so.scale);
  CHECK(std::vector<int32_t>(iy.begin(), iy.end()) ==
        model(s, s, so, ireal, -32768, 32767, {10}, {ia.begin(), ia.end()}, {10}, {ib.begin(), ib.end()}, {10}));
}

TEST_CASE("DIV float32 and int32, and uint8/int8 within one step of the real quotient") {
  const auto f = run_binary<float>(ir::OpType::DIV, ir::DType::f32, {4}, std::vector<float>{1.0f, -3.0f, 7.0f, 9.0f},
                                   {1}, std::vector<float>{2.0f}, {4}, {}, {}, {}, 1);
  CHECK(f == std::vector<float>{0.5f, 0.0f, 3.5f, 4.5f});
  const auto i = run_binary<int32_t>(ir::OpType::DIV, ir::DType::i32, {4}, std::vector<int32_t>{7, -7, INT32_MIN, 5},
                                     {4}, std::vector<int32_t>{2, 2, -1, 0}, {4});
  CHECK(i == std::vector<int32_t>{3, -3, INT32_MIN, INT32_MAX});

  const Q q1{0.05f, 128}, q2{0.02f, 100}, qo{0.1f, 20};
  const auto a = all_values<uint8_t>();
  std::vector<uint8_t> b(256);
  for (size_t k = 0; k < b.size(); ++k) b[k] = static_cast<uint8_t>(k % 2 ? 140 + k % 90 : 60 - k % 40);
  const auto y = run_binary<uint8_t>(ir::OpType::DIV, ir::DType::u8, {256}, a, {256}, b, {256},
                                     quant(q1.scale, q1.zp), quant(q2.scale, q2.zp), quant(qo.scale, qo.zp));
  std::vector<double> expected;
  for (size_t k = 0; k < a.size(); ++k) {
    const double real = q1.scale * (a[k] - q1.zp) / (q2.scale * (b[k] - q2.zp));
    expected.push_back(std::min(255.0, std::max(0.0, real / qo.scale + qo.zp)));
  }
  CHECK(max_abs_diff(y, expected) <= 1);

  // A divisor at its zero point: the quotient saturates by the dividend's sign.
  const auto z = run_binary<int8_t>(ir::OpType::DIV, ir::DType::i8, {3}, {10, -10, 3}, {1}, {3}, {3},
                                    quant(0.1f, 3), quant(0.1f, 3), quant(0.1f, 0));
  CHECK(z == std::vector<int8_t>{127, -128, 0});
}

TEST_CASE("SQUARED_DIFFERENCE int8 equals the independent model; float32 and int32 exact") {
  const Q q1{0.043f, -11}, q2{0.029f, 6}, qo{0.35f, -128};
  const auto a = random_values<int8_t>(20, -128, 127, 31);
  const auto b = random_values<int8_t>(5, -128, 127, 32);
  const auto y = run_binary<int8_t>(ir::OpType::SQUARED_DIFFERENCE, ir::DType::i8, {4, 5}, a, {5}, b,
                                    {4, 5}, quant(q1.scale, q1.zp), quant(q2.scale, q2.zp), quant(qo.scale, qo.zp));
  const double twice = 2.0 * static_cast<double>(std::max(q1.scale, q2.scale));
  const double ro = twice * twice / static_cast<double>(static_cast<float>(1 << 14) * qo.scale);
  std::vector<int8_t> expected;
  for (int64_t o = 0; o < 20; ++o) {
    const int32_t d = model_mbqm((a[o] - q1.zp) * (1 << 7), q1.scale / twice) -
                      model_mbqm((b[o % 5] - q2.zp) * (1 << 7), q2.scale / twice);
    expected.push_back(static_cast<int8_t>(clamp(model_mbqm(d * d, ro) + qo.zp, -128, 127)));
  }
  CHECK(y == expected);
  // Against the real value too: within one step.
  std::vector<double> real;
  for (int64_t o = 0; o < 20; ++o) {
    const double d = q1.scale * (a[o] - q1.zp) - q2.scale * (b[o % 5] - q2.zp);
    real.push_back(std::min(127.0, d * d / qo.scale + qo.zp));
  }
  CHECK(max_abs_diff(y, real) <= 1);

  const auto f = run_binary<float>(ir::OpType::SQUARED_DIFFERENCE, ir::DType::f32, {3},
                                   std::vector<float>{1.5f, -2.0f, 0.0f}, {1}, std::vector<float>{0.5f}, {3});
  CHECK(f == std::vector<float>{1.0f, 6.25f, 0.25f});
  const auto i = run_binary<int32_t>(ir::OpType::SQUARED_DIFFERENCE, ir::DType::i32, {2},
                                     std::vector<int32_t>{7, -3}, {2}, std::vector<int32_t>{-2, 4}, {2});
  CHECK(i == std::vector<int32_t>{81, 49});
}

TEST_CASE("MAXIMUM / MINIMUM compare raw values of one quantization, with broadcasting") {
  const auto mx = run_binary<int8_t>(ir::OpType::MAXIMUM, ir::DType::i8, {2, 3}, {-5, 0, 9, 100, -128, 3},
                                     {3}, {1, -1, 10}, {2, 3}, quant(0.1f, -3), quant(0.1f, -3), quant(0.1f, -3));
  CHECK(mx == std::vector<int8_t>{1, 0, 10, 100, -1, 10});
  const auto mn = run_binary<uint8_t>(ir::OpType::MINIMUM, ir::DType::u8, {2, 1}, {7, 200}, {1, 3}, {0, 100, 255},
                                      {2, 3}, quant(0.5f, 128), quant(0.5f, 128), quant(0.5f, 128));
  CHECK(mn == std::vector<uint8_t>{0, 7, 7, 0, 100, 200});
  const auto m16 = run_binary<int16_t>(ir::OpType::MAXIMUM, ir::DType::i16, {2}, {-32768, 5}, {2}, {-1, 4}, {2},
                                       quant(0.01f, 0), quant(0.01f, 0), quant(0.01f, 0));
  CHECK(m16 == std::vector<int16_t>{-1, 5});
  const auto m32 = run_binary<int32_t>(ir::OpType::MINIMUM, ir::DType::i32, {2}, std::vector<int32_t>{INT32_MIN, 5},
                                       {1}, std::vector<int32_t>{0}, {2});
  CHECK(m32 == std::vector<int32_t>{INT32_MIN, 0});
  const float inf = std::numeric_limits<float>::infinity();
  const auto mf = run_binary<float>(ir::OpType::MAXIMUM, ir::DType::f32, {3}, std::vector<float>{-inf, 2.5f, inf},
                                    {3}, std::vector<float>{-1.0f, 2.0f, 0.0f}, {3});
  CHECK(mf == std::vector<float>{-1.0f, 2.5f, inf});
}

TEST_CASE("FLOOR_DIV, FLOOR_MOD and POW for float32 and int32") {
  const std::vector<int32_t> a{-7, 7, -7, 7, 0, 5, INT32_MIN};
  const std::vector<int32_t> b{2, 2, -2, -2, 3, 0, -1};
  CHECK(run_binary<int32_t>(ir::OpType::FLOOR_DIV, ir::DType::i32, {7}, a, {7}, b, {7}) ==
        std::vector<int32_t>{-4, 3, 3, -4, 0, INT32_MAX, INT32_MIN});
  CHECK(run_binary<int32_t>(ir::OpType::FLOOR_MOD, ir::DType::i32, {7}, a, {7}, b, {7}) ==
        std::vector<int32_t>{1, 1, -1, -1, 0, 0, 0});
  const std::vector<float> fa{-7.5f, 7.5f, 1.0f, -1.0f};
  const std::vector<float> fb{2.0f, -2.0f, 0.25f, 4.0f};
  CHECK(run_binary<float>(ir::OpType::FLOOR_DIV, ir::DType::f32, {4}, fa, {4}, fb, {4}) ==
        std::vector<float>{-4.0f, -4.0f, 4.0f, -1.0f});
  CHECK(run_binary<float>(ir::OpType::FLOOR_MOD, ir::DType::f32, {4}, fa, {4}, fb, {4}) ==
        std::vector<float>{0.5f, -0.5f, 0.0f, 3.0f});
  CHECK(run_binary<int32_t>(ir::OpType::POW, ir::DType::i32, {5}, std::vector<int32_t>{2, -3, 7, -1, 2},
                            {5}, std::vector<int32_t>{10, 3, 0, -3, -1}, {5}) ==
        std::vector<int32_t>{1024, -27, 1, -1, 0});
  CHECK(run_binary<float>(ir::OpType::POW, ir::DType::f32, {3}, std::vector<float>{2.0f, 9.0f, -2.0f}, {3},
                          std::vector<float>{-1.0f, 0.5f, 3.0f}, {3}) ==
        std::vector<float>{0.5f, 3.0f, -8.0f});
}

// =======================================================================================
// RELU family, LEAKY_RELU, PRELU

TEST_CASE("RELU/RELU6/RELU_N1_TO_1 quantized: a clamp for equal quantization, requantize-and-clamp otherwise") {
  const std::vector<int8_t> x{-128, -60, -10, 0, 10, 50, 127};
  // Scale 0.1, zero point -10: 0 -> -10, 6 -> 50, -1 -> -20, 1 -> 0.
  CHECK(run_unary<int8_t>(ir::OpType::RELU, ir::DType::i8, ir::DType::i8, {7}, x, quant(0.1f, -10), quant(0.1f, -10)) ==
        std::vector<int8_t>{-10, -10, -10, 0, 10, 50, 127});
  CHECK(run_unary<int8_t>(ir::OpType::RELU6, ir::DType::i8, ir::DType::i8, {7}, x, quant(0.1f, -10), quant(0.1f, -10)) ==
        std::vector<int8_t>{-10, -10, -10, 0, 10, 50, 50});
  CHECK(run_unary<int8_t>(ir::OpType::RELU_N1_TO_1, ir::DType::i8, ir::DType::i8, {7}, x, quant(0.1f, -10),
                          quant(0.1f, -10)) == std::vector<int8_t>{-20, -20, -10, 0, 0, 0, 0});

  // Different quantization: y = zp_out + MBQM(x - zp_in, s_in / s_out), then clamped.
  const Q qi{0.05f, 3}, qo{0.03f, -100};
  const auto all = all_values<int8_t>();
  const auto y = run_unary<int8_t>(ir::OpType::RELU6, ir::DType::i8, ir::DType::i8, {256}, all, quant(qi.scale, qi.zp),
                                   quant(qo.scale, qo.zp));
  const int32_t six = qo.zp + static_cast<int32_t>(std::round(6.0f / qo.scale));
  std::vector<int8_t> expected;
  for (int8_t v : all)
    expected.push_back(static_cast<int8_t>(clamp(qo.zp + model_mbqm(v - qi.zp, static_cast<double>(qi.scale) / qo.scale),
                                                 qo.zp, std::min(127, six))));
  CHECK(y == expected);

  const std::vector<uint8_t> u{0, 100, 128, 200, 255};
  CHECK(run_unary<uint8_t>(ir::OpType::RELU, ir::DType::u8, ir::DType::u8, {5}, u, quant(0.5f, 128), quant(1.0f, 0)) ==
        std::vector<uint8_t>{0, 0, 0, 36, 64});  // (200 - 128) / 2 = 36, 127 / 2 = 63.5 -> 64
  CHECK(run_unary<int16_t>(ir::OpType::RELU, ir::DType::i16, ir::DType::i16, {3}, std::vector<int16_t>{-300, 0, 300},
                           quant(0.01f, 0), quant(0.01f, 0)) == std::vector<int16_t>{0, 0, 300});
  CHECK(run_unary<float>(ir::OpType::RELU6, ir::DType::f32, ir::DType::f32, {4}, std::vector<float>{-1.0f, 2.5f, 6.5f, 0.0f}) ==
        std::vector<float>{0.0f, 2.5f, 6.0f, 0.0f});
  CHECK(run_unary<float>(ir::OpType::RELU_N1_TO_1, ir::DType::f32, ir::DType::f32, {3}, std::vector<float>{-3.0f, 0.5f, 2.0f}) ==
        std::vector<float>{-1.0f, 0.5f, 1.0f});
}

TEST_CASE("LEAKY_RELU int8/uint8/int16 equal the two-multiplier model; float32 exact") {
  for (float alpha : {0.2f, -0.5f, 1.7f}) {
    const Q qi{0.07f, -5}, qo{0.05f, 10};
    const auto all = all_values<int8_t>();
    const auto y = run_unary<int8_t>(ir::OpType::LEAKY_RELU, ir::DType::i8, ir::DType::i8, {256}, all,
                                     quant(qi.scale, qi.zp), quant(qo.scale, qo.zp), {{"alpha", double{alpha}}});
    std::vector<int8_t> expected;
    for (int8_t v : all) {
      const int32_t x = v - qi.zp;
      const double real = x >= 0 ? static_cast<double>(qi.scale / qo.scale) : static_cast<double>(qi.scale * alpha / qo.scale);
      expected.push_back(static_cast<int8_t>(clamp(qo.zp + model_mbqm(x, real), -128, 127)));
    }
    CHECK(y == expected);
  }
  const auto u = run_unary<uint8_t>(ir::OpType::LEAKY_RELU, ir::DType::u8, ir::DType::u8, {4},
                                    std::vector<uint8_t>{0, 100, 128, 255}, quant(0.1f, 128), quant(0.1f, 128),
                                    {{"alpha", 0.5}});
  CHECK(u == std::vector<uint8_t>{64, 114, 128, 255});  // -128 * 0.5 = -64; -28 * 0.5 = -14
  const auto s = run_unary<int16_t>(ir::OpType::LEAKY_RELU, ir::DType::i16, ir::DType::i16, {3},
                                    std::vector<int16_t>{-1001, 0, 999}, quant(0.001f, 0), quant(0.001f, 0),
                                    {{"alpha", 0.25}});
  CHECK(s == std::vector<int16_t>{-250, 0, 999});  // -250.25 -> -250
  const auto f = run_unary<float>(ir::OpType::LEAKY_RELU, ir::DType::f32, ir::DType::f32, {3},
                                  std::vector<float>{-2.0f, 0.0f, 3.0f}, {}, {}, {{"alpha", 0.25}});
  CHECK(f == std::vector<float>{-0.5f, 0.0f, 3.0f});
}

TEST_CASE("PRELU int8/uint8 with a broadcast alpha equal the two-multiplier model; float32 exact") {
  const Q qi{0.04f, 6}, qa{0.008f, -20}, qo{0.03f, -4};
  const std::vector<int32_t> in_shape{2, 2, 2, 3}, alpha_shape{1, 1, 3};
  const auto x = random_values<int8_t>(24, -128, 127, 51);
  const std::vector<int8_t> alpha{-128, 40, 127};
  OpTest t(ir::OpType::PRELU);
  t.input("x", ir::DType::i8, in_shape, quant(qi.scale, qi.zp));
  t.constant("alpha", ir::DType::i8, alpha_shape, alpha, quant(qa.scale, qa.zp));
  t.output("y", ir::DType::i8, in_shape, quant(qo.scale, qo.zp));
  const auto y = t.run<int8_t>(registry(), {as_bytes(x)});
  std::vector<int8_t> expected;
  for (int64_t o = 0; o < 24; ++o) {
    const int32_t v = x[o] - qi.zp;
    const int32_t r = v >= 0 ? model_mbqm(v, static_cast<double>(qi.scale) / qo.scale)
                             : model_mbqm(v * (alpha[broadcast_index(alpha_shape, in_shape, o)] - qa.zp),
                                          static_cast<double>(qi.scale) * qa.scale / qo.scale);
    expected.push_back(static_cast<int8_t>(clamp(r + qo.zp, -128, 127)));
  }
  CHECK(y == expected);

  OpTest tu(ir::OpType::PRELU);
  tu.input("x", ir::DType::u8, {1, 4}, quant(0.5f, 128));
  tu.constant("alpha", ir::DType::u8, {1}, std::vector<uint8_t>{64}, quant(1.0f / 128, 0));  // alpha 0.5
  tu.output("y", ir::DType::u8, {1, 4}, quant(0.5f, 128));
  CHECK(tu.run<uint8_t>(registry(), {as_bytes(std::vector<uint8_t>{0, 127, 128, 255})}) ==
        std::vector<uint8_t>{64, 127, 128, 255});  // -128 * 0.5 = -64; -1 * 0.5 = -0.5 -> -1 (the
                                                     // final shift rounds ties away from zero)

  OpTest tf(ir::OpType::PRELU);
  tf.input("x", ir::DType::f32, {2, 2});
  tf.constant("alpha", ir::DType::f32, {2}, std::vector<float>{0.5f, -1.0f});
  tf.output("y", ir::DType::f32, {2, 2});
  CHECK(tf.run<float>(registry(), {as_bytes(std::vector<float>{-2.0f, -2.0f, 3.0f, -4.0f})}) ==
        std::vector<float>{-1.0f, 2.0f, 3.0f, 4.0f});
}

// =======================================================================================
// LOGISTIC, TANH, HARD_SWISH

TEST_CASE("LOGISTIC int8 is within one step of the sigmoid, monotonic, exact at 0 and saturating") {
  for (float scale : {0.02f, 0.1f, 0.5f}) {
    const int32_t zp = 7;
    const auto all = all_values<int8_t>();
    const auto y = run_unary<int8_t>(ir::OpType::LOGISTIC, ir::DType::i8, ir::DType::i8, {256}, all,
                                     quant(scale, zp), quant(1.0f / 256, -128));
    std::vector<double> expected;
    for (int8_t v : all) expected.push_back(std::min(127.0, sigmoid(scale * (v - zp)) * 256 - 128));
    CHECK(max_abs_diff(y, expected) <= 1);
    CHECK(std::is_sorted(y.begin(), y.end()));
    CHECK(y[static_cast<size_t>(zp + 128)] == 0);  // sigmoid(0) = 1/2 -> 128 - 128
  }
  // Large scale: the radius cut-off saturates directly.
  const auto sat = run_unary<int8_t>(ir::OpType::LOGISTIC, ir::DType::i8, ir::DType::i8, {2},
                                     std::vector<int8_t>{-128, 127}, quant(1.0f, 0), quant(1.0f / 256, -128));
  CHECK(sat == std::vector<int8_t>{-128, 127});
}

TEST_CASE("TANH int8 is within one step of tanh, odd-symmetric and monotonic") {
  for (float scale : {0.01f, 0.05f, 0.3f}) {
    const auto all = all_values<int8_t>();
    const auto y = run_unary<int8_t>(ir::OpType::TANH, ir::DType::i8, ir::DType::i8, {256}, all, quant(scale, 0),
                                     quant(1.0f / 128, 0));
    std::vector<double> expected;
    for (int8_t v : all) expected.push_back(std::max(-128.0, std::min(127.0, std::tanh(static_cast<double>(scale) * v) * 128)));
    CHECK(max_abs_diff(y, expected) <= 1);
    CHECK(std::is_sorted(y.begin(), y.end()));
    CHECK(y[128] == 0);
    for (int v = 1; v < 127; ++v)  // -tanh(x) = tanh(-x), up to the int8 range's asymmetry
      CHECK(y[static_cast<size_t>(128 + v)] == std::min(127, -y[static_cast<size_t>(128 - v)]));
  }
}

TEST_CASE("LOGISTIC / TANH uint8 use TFLite's float lookup table") {
  const Q qi{0.0625f, 120};
  const auto all = all_values<uint8_t>();
  const auto y = run_unary<uint8_t>(ir::OpType::LOGISTIC, ir::DType::u8, ir::DType::u8, {256}, all,
                                    quant(qi.scale, qi.zp), quant(1.0f / 256, 0));
  const auto t = run_unary<uint8_t>(ir::OpType::TANH, ir::DType::u8, ir::DType::u8, {256}, all,
                                    quant(qi.scale, qi.zp), quant(1.0f / 128, 128));
  for (int v = 0; v < 256; ++v) {
    const float x = qi.scale * static_cast<float>(v - qi.zp);
    const float s = 1.0f / (1.0f + std::exp(-x));
    CHECK(y[static_cast<size_t>(v)] == clamp(static_cast<int32_t>(std::round(s * 256.0f)), 0, 255));
    CHECK(t[static_cast<size_t>(v)] == clamp(static_cast<int32_t>(std::round(std::tanh(x) * 128.0f)) + 128, 0, 255));
  }
}

TEST_CASE("LOGISTIC / TANH int16 track the real functions within TFLite's table accuracy") {
  const auto x = random_values<int16_t>(2000, -32768, 32767, 61);
  for (float scale : {1.0f / 4096, 1.0f / 4096 * 0.7f, 1.0f / 2048}) {
    const auto y = run_unary<int16_t>(ir::OpType::LOGISTIC, ir::DType::i16, ir::DType::i16, {2000}, x, quant(scale, 0),
                                      quant(1.0f / 32768, 0));
    const auto t = run_unary<int16_t>(ir::OpType::TANH, ir::DType::i16, ir::DType::i16, {2000}, x, quant(scale, 0),
                                      quant(1.0f / 32768, 0));
    std::vector<double> ey, et;
    for (int16_t v : x) {
      ey.push_back(std::min(32767.0, sigmoid(scale * v) * 32768));
      et.push_back(std::max(-32768.0, std::min(32767.0, std::tanh(static_cast<double>(scale) * v) * 32768)));
    }
    CHECK(max_abs_diff(y, ey) <= 4);
    CHECK(max_abs_diff(t, et) <= 8);
  }
  const auto z = run_unary<int16_t>(ir::OpType::LOGISTIC, ir::DType::i16, ir::DType::i16, {1}, std::vector<int16_t>{0},
                                    quant(1.0f / 4096, 0), quant(1.0f / 32768, 0));
  CHECK(z[0] == 16384);
}

TEST_CASE("HARD_SWISH int8/uint8 within one step of x * relu6(x + 3) / 6; float32 exact") {
  auto hard_swish = [](double v) { return v * std::min(6.0, std::max(0.0, v + 3)) / 6; };
  for (const auto& qq : {std::make_pair(Q{0.05f, -10}, Q{0.04f, -90}), std::make_pair(Q{0.02f, 30}, Q{0.011f, -100})}) {
    const Q qi = qq.first, qo = qq.second;
    const auto all = all_values<int8_t>();
    const auto y = run_unary<int8_t>(ir::OpType::HARD_SWISH, ir::DType::i8, ir::DType::i8, {256}, all,
                                     quant(qi.scale, qi.zp), quant(qo.scale, qo.zp));
    std::vector<double> expected;
    for (int8_t v : all)
      expected.push_back(std::max(-128.0, std::min(127.0, hard_swish(qi.scale * (v - qi.zp)) / qo.scale + qo.zp)));
    CHECK(max_abs_diff(y, expected) <= 1);
  }
  const auto all_u = all_values<uint8_t>();
  const auto u = run_unary<uint8_t>(ir::OpType::HARD_SWISH, ir::DType::u8, ir::DType::u8, {256}, all_u,
                                    quant(0.04f, 128), quant(0.025f, 20));
  std::vector<double> eu;
  for (uint8_t v : all_u) eu.push_back(std::max(0.0, std::min(255.0, hard_swish(0.04f * (v - 128)) / 0.025f + 20)));
  CHECK(max_abs_diff(u, eu) <= 1);
  CHECK(run_unary<float>(ir::OpType::HARD_SWISH, ir::DType::f32, ir::DType::f32, {4},
                         std::vector<float>{-4.0f, -1.5f, 1.5f, 4.0f}) ==
        std::vector<float>{-0.0f, -0.375f, 1.125f, 4.0f});
}

// =======================================================================================
// SOFTMAX, LOG_SOFTMAX

namespace {

std::vector<double> softmax_real(const std::vector<double>& logits, int depth, double beta) {
  std::vector<double> p(logits.size());
  for (size_t r = 0; r < logits.size() / static_cast<size_t>(depth); ++r) {
    const auto begin = logits.begin() + static_cast<long>(r * depth);
    const double mx = *std::max_element(begin, begin + depth);
    double sum = 0;
    for (int c = 0; c < depth; ++c) sum += std::exp(beta * (begin[c] - mx));
    for (int c = 0; c < depth; ++c) p[r * depth + c] = std::exp(beta * (begin[c] - mx)) / sum;
  }
  return p;
}

template <typename In, typename Out>
std::vector<Out> run_softmax(ir::DType in_dt, ir::DType out_dt, const std::vector<int32_t>& shape,
                             const std::vector<In>& x, ir::Quantization qi, ir::Quantization qo, double beta) {
  return run_unary<Out>(ir::OpType::SOFTMAX, in_dt, out_dt, shape, x, std::move(qi), std::move(qo), {{"beta", beta}});
}

}  // namespace

TEST_CASE("SOFTMAX int8: equal logits give equal probabilities; four of them give exactly 1/4") {
  const auto y = run_softmax<int8_t, int8_t>(ir::DType::i8, ir::DType::i8, {2, 4}, {5, 5, 5, 5, -100, -100, -100, -100},
                                             quant(0.1f, 0), quant(1.0f / 256, -128), 1.0);
  CHECK(y == std::vector<int8_t>{-64, -64, -64, -64, -64, -64, -64, -64});
  // One dominant logit: ~1 saturates at 127, the others round to 0 probability.
  const auto d = run_softmax<int8_t, int8_t>(ir::DType::i8, ir::DType::i8, {3}, {127, -128, -128}, quant(0.5f, 0),
                                             quant(1.0f / 256, -128), 1.0);
  CHECK(d == std::vector<int8_t>{127, -128, -128});
}

TEST_CASE("SOFTMAX int8 matches TFLite Micro's test vectors and the real softmax within one step") {
  // TFLite Micro's softmax_test 1-D and 2-D cases: inputs 1..5 (and -1..-5) at scale 0.1.
  const std::vector<double> logits{1, 2, 3, 4, 5, -1, -2, -3, -4, -5};
  const std::vector<double> golden{0.011656231, 0.031684921, 0.086128544, 0.234121657, 0.636408647,
                                   0.636408647, 0.234121657, 0.086128544, 0.031684921, 0.011656231};
  std::vector<int8_t> x;
  for (double v : logits) x.push_back(static_cast<int8_t>(std::lround(v / 0.1)));
  const auto y = run_softmax<int8_t, int8_t>(ir::DType::i8, ir::DType::i8, {2, 5}, x, quant(0.1f, 0),
                                             quant(1.0f / 256, -128), 1.0);
  std::vector<double> expected;
  for (double g : golden) expected.push_back(g * 256 - 128);
  CHECK(max_abs_diff(y, expected) <= 1);

  for (double beta : {1.0, 0.5, 2.0}) {
    for (float scale : {0.05f, 0.25f}) {
      const auto r = random_values<int8_t>(7 * 10, -128, 127, static_cast<uint32_t>(beta * 100 + scale * 1000));
      const auto p = run_softmax<int8_t, int8_t>(ir::DType::i8, ir::DType::i8, {7, 10}, r, quant(scale, 3),
                                                 quant(1.0f / 256, -128), beta);
      std::vector<double> real_logits;
      for (int8_t v : r) real_logits.push_back(scale * (v - 3));
      std::vector<double> e;
      for (double v : softmax_real(real_logits, 10, beta)) e.push_back(std::min(127.0, v * 256 - 128));
      CHECK(max_abs_diff(p, e) <= 1);
    }
  }
}

TEST_CASE("SOFTMAX uint8 (MANIFEST-uint8 arithmetic): probabilities within one step, 1001 classes") {
  // A MobileNet-like head: 1001 logits at scale ~0.1, zero point ~ 60.
  const auto x = random_values<uint8_t>(1001, 0, 255, 71);
  const float scale = 0.0984f;
  const auto y = run_softmax<uint8_t, uint8_t>(ir::DType::u8, ir::DType::u8, {1, 1001}, x, quant(scale, 60),
                                               quant(1.0f / 256, 0), 1.0);
  std::vector<double> logits;
  for (uint8_t v : x) logits.push_back(scale * (v - 60));
  std::vector<double> e;
  for (double v : softmax_real(logits, 1001, 1.0)) e.push_back(std::min(255.0, v * 256));
  CHECK(max_abs_diff(y, e) <= 1);
  const auto eq = run_softmax<uint8_t, uint8_t>(ir::DType::u8, ir::DType::u8, {2}, {9, 9}, quant(0.2f, 0),
                                                quant(1.0f / 256, 0), 1.0);
  CHECK(eq == std::vector<uint8_t>{128, 128});
}

TEST_CASE("SOFTMAX diffs beyond the cut-off radius give the minimum output") {
  // Scale 1, beta 1: multiplier 2^26 -> left shift 27, radius floor(31 * 2^26 / 2^27) = 15.
  const auto y = run_softmax<int8_t, int8_t>(ir::DType::i8, ir::DType::i8, {3}, {20, 4, 5}, quant(1.0f, 0),
                                             quant(1.0f / 256, -128), 1.0);
  CHECK(y == std::vector<int8_t>{127, -128, -128});
}

TEST_CASE("SOFTMAX int8 -> int16 and int16 -> int16 track the real softmax") {
  const auto x = random_values<int8_t>(40, -128, 127, 81);
  const auto y = run_softmax<int8_t, int16_t>(ir::DType::i8, ir::DType::i16, {4, 10}, x, quant(0.05f, -5),
                                              quant(1.0f / 65536, -32768), 1.0);
  std::vector<double> logits;
  for (int8_t v : x) logits.push_back(0.05 * (v + 5));
  std::vector<double> e;
  for (double v : softmax_real(logits, 10, 1.0)) e.push_back(std::min(32767.0, v * 65536 - 32768));
  CHECK(max_abs_diff(y, e) <= 2);

  // int16 -> int16 on TFLite Micro's 4-D softmax test data (scale 0.1), within its own
  // empirical tolerance of 7 steps of 2^-15: the exp and reciprocal tables interpolate.
  const std::vector<double> tflm_logits = {
      3, 6, -5, 4, -9, -10, -10, -8, 2, 2, 8, -5, -8, 5, -6, -8, 6, 1, -10, -8,
      7, 6, -10, -4, -5, 2, 7, 9, -9, 7, -4, -2, 8, 2, 2, 3, 6, 6, 2, 4,
      9, 7, -7, 0, 4, -3, 8, 8, -3, -4, -9, -9, 4, -8, -1, -10, -2, 6, -7, 0,
      -9, -8, 6, -1, -5, -10, -5, -10, 7, -2, -5, -4, 1, 2, 2, -2, -2, 1, 1, -4,
      -8, -3, 1, 1, -1, -2, 6, -1, -5, 6, -7, 8, 9, 0, 9, -9, -5, -2, 0, 8,
      4, 2, -3, 5, 8, -1, 1, -4, -9, 7, 3, -8, 0, 9, -4, 8, -1, 9, -9, 1};
  std::vector<int16_t> x16;
  for (double v : tflm_logits) x16.push_back(static_cast<int16_t>(std::lround(v / 0.1)));
  const auto y16 = run_softmax<int16_t, int16_t>(ir::DType::i16, ir::DType::i16, {2, 3, 4, 5}, x16, quant(0.1f, 0),
                                                 quant(1.0f / 32768, 0), 1.0);
  std::vector<double> e16;
  for (double v : softmax_real(tflm_logits, 5, 1.0)) e16.push_back(std::min(32767.0, v * 32768));
  CHECK(max_abs_diff(y16, e16) <= 7);
  // The same data through int8 -> int8 hits TFLite Micro's goldens within its tolerance of 1.
  std::vector<int8_t> x8(x16.begin(), x16.end());
  const auto y8 = run_softmax<int8_t, int8_t>(ir::DType::i8, ir::DType::i8, {2, 3, 4, 5}, x8, quant(0.1f, 0),
                                              quant(1.0f / 256, -128), 1.0);
  std::vector<double> e8;
  for (double v : softmax_real(tflm_logits, 5, 1.0)) e8.push_back(std::min(127.0, v * 256 - 128));
  CHECK(max_abs_diff(y8, e8) <= 1);
}

TEST_CASE("SOFTMAX float32 equals the direct formula") {
  const std::vector<float> x{1.0f, 2.0f, 3.0f, -1.0f, -1.0f, -1.0f};
  const auto y = run_softmax<float, float>(ir::DType::f32, ir::DType::f32, {2, 3}, x, {}, {}, 0.5);
  for (int r = 0; r < 2; ++r) {
    float sum = 0;
    for (int c = 0; c < 3; ++c) sum += std::exp((x[r * 3 + c] - x[r * 3 + (r == 0 ? 2 : 0)]) * 0.5f);
    for (int c = 0; c < 3; ++c)
      CHECK(y[r * 3 + c] == std::exp((x[r * 3 + c] - x[r * 3 + (r == 0 ? 2 : 0)]) * 0.5f) / sum);
  }
}

TEST_CASE("LOG_SOFTMAX int8/uint8 within one step of the real log-softmax; float32 exact") {
  const auto x = random_values<int8_t>(50, -128, 127, 91);
  const float scale = 0.07f;
  const auto y = run_unary<int8_t>(ir::OpType::LOG_SOFTMAX, ir::DType::i8, ir::DType::i8, {5, 10}, x, quant(scale, 4),
                                   quant(16.0f / 256, 127));
  std::vector<double> logits;
  for (int8_t v : x) logits.push_back(scale * (v - 4));
  std::vector<double> e;
  for (double p : softmax_real(logits, 10, 1.0)) e.push_back(std::max(-128.0, std::log(p) / 0.0625 + 127));
  CHECK(max_abs_diff(y, e) <= 1);
  // Four equal logits: log(1/4) / (1/16) = -22.18 -> 127 - 22 = 105.
  CHECK(run_unary<int8_t>(ir::OpType::LOG_SOFTMAX, ir::DType::i8, ir::DType::i8, {4}, std::vector<int8_t>{3, 3, 3, 3},
                          quant(scale, 0), quant(16.0f / 256, 127)) == std::vector<int8_t>{105, 105, 105, 105});

  const auto xu = random_values<uint8_t>(30, 0, 255, 92);
  const auto yu = run_unary<uint8_t>(ir::OpType::LOG_SOFTMAX, ir::DType::u8, ir::DType::u8, {3, 10}, xu,
                                     quant(scale, 128), quant(16.0f / 256, 255));
  std::vector<double> lu;
  for (uint8_t v : xu) lu.push_back(scale * (v - 128));
  std::vector<double> eu;
  for (double p : softmax_real(lu, 10, 1.0)) eu.push_back(std::max(0.0, std::log(p) / 0.0625 + 255));
  CHECK(max_abs_diff(yu, eu) <= 1);

  const std::vector<float> xf{1.0f, 2.0f, 4.0f};
  const auto yf = run_unary<float>(ir::OpType::LOG_SOFTMAX, ir::DType::f32, ir::DType::f32, {3}, xf);
  const float log_sum = std::log(std::exp(1.0f - 4.0f) + std::exp(2.0f - 4.0f) + std::exp(0.0f));
  CHECK(yf == std::vector<float>{1.0f - 4.0f - log_sum, 2.0f - 4.0f - log_sum, 0.0f - log_sum});
}

// =======================================================================================
// Unary math

TEST_CASE("float unary math equals the standard functions; ROUND is half to even") {
  const std::vector<float> x{0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f, -2.6f, 3.0f};
  const auto r = run_unary<float>(ir::OpType::ROUND, ir::DType::f32, ir::DType::f32, {8}, x);
  CHECK(r == std::vector<float>{0.0f, 2.0f, 2.0f, 0.0f, -2.0f, 2.0f, -3.0f, 3.0f});
  CHECK_FALSE(std::signbit(r[3]));  // TFLite's floor(-0.5) + 1 is +0

  const std::vector<float> p{0.25f, 1.0f, 2.0f, 9.0f};
  struct Case {
    ir::OpType op;
    float (*f)(float);
  };
  const std::vector<Case> cases = {
      {ir::OpType::EXP, [](float v) { return std::exp(v); }},
      {ir::OpType::LOG, [](float v) { return std::log(v); }},
      {ir::OpType::SQRT, [](float v) { return std::sqrt(v); }},
      {ir::OpType::RSQRT, [](float v) { return 1.0f / std::sqrt(v); }},
      {ir::OpType::SIN, [](float v) { return std::sin(v); }},
      {ir::OpType::COS, [](float v) { return std::cos(v); }},
      {ir::OpType::SQUARE, [](float v) { return v * v; }},
      {ir::OpType::NEG, [](float v) { return -v; }},
      {ir::OpType::ABS, [](float v) { return std::abs(v); }},
      {ir::OpType::TANH, [](float v) { return std::tanh(v); }},
      {ir::OpType::LOGISTIC, [](float v) { return 1.0f / (1.0f + std::exp(-v)); }},
  };
  for (const Case& c : cases) {
    const auto y = run_unary<float>(c.op, ir::DType::f32, ir::DType::f32, {4}, p);
    for (size_t i = 0; i < p.size(); ++i) CHECK(y[i] == c.f(p[i]));
  }
  const std::vector<float> m{-1.5f, -0.0f, 2.5f};
  CHECK(run_unary<float>(ir::OpType::FLOOR, ir::DType::f32, ir::DType::f32, {3}, m) == std::vector<float>{-2.0f, -0.0f, 2.0f});
  CHECK(run_unary<float>(ir::OpType::CEIL, ir::DType::f32, ir::DType::f32, {3}, m) == std::vector<float>{-1.0f, -0.0f, 3.0f});
  const auto elu = run_unary<float>(ir::OpType::ELU, ir::DType::f32, ir::DType::f32, {3}, m);
  CHECK(elu == std::vector<float>{std::expm1(-1.5f), -0.0f, 2.5f});
  // TFLite's logistic cut-offs: 1 above 16.619..., exp(x) below -9.
  const auto lg = run_unary<float>(ir::OpType::LOGISTIC, ir::DType::f32, ir::DType::f32, {2}, std::vector<float>{20.0f, -10.0f});
  CHECK(lg == std::vector<float>{1.0f, std::exp(-10.0f)});
  CHECK(run_unary<int32_t>(ir::OpType::NEG, ir::DType::i32, ir::DType::i32, {3}, std::vector<int32_t>{5, -7, INT32_MIN}) ==
        std::vector<int32_t>{-5, 7, INT32_MIN});
}

TEST_CASE("ABS int8/int16 quantized: offset-only for equal scales, requantized otherwise") {
  const auto same = run_unary<int8_t>(ir::OpType::ABS, ir::DType::i8, ir::DType::i8, {5},
                                      std::vector<int8_t>{-128, -10, 0, 5, 127}, quant(0.1f, -10), quant(0.1f, -100));
  CHECK(same == std::vector<int8_t>{18, -100, -90, -85, 37});  // |q + 10| - 100, saturating at 127
  const Q qi{0.06f, 3}, qo{0.035f, -128};
  const auto all = all_values<int8_t>();
  const auto y = run_unary<int8_t>(ir::OpType::ABS, ir::DType::i8, ir::DType::i8, {256}, all, quant(qi.scale, qi.zp),
                                   quant(qo.scale, qo.zp));
  for (size_t i = 0; i < all.size(); ++i)
    CHECK(y[i] == clamp(model_mbqm(std::abs(all[i] - qi.zp), static_cast<double>(qi.scale) / qo.scale) + qo.zp, -128, 127));
  CHECK(run_unary<int16_t>(ir::OpType::ABS, ir::DType::i16, ir::DType::i16, {3}, std::vector<int16_t>{-32768, -5, 9},
                           quant(0.5f, 0), quant(1.0f, 0)) == std::vector<int16_t>{16384, 3, 5});  // 2.5 -> 3
}

TEST_CASE("RSQRT int8 within one step of 1/sqrt; zero gives the maximum, negatives the minimum") {
  const Q qi{0.02f, -128}, qo{0.25f, -128};
  std::vector<int8_t> x;
  for (int v = -128; v <= 127; ++v) x.push_back(static_cast<int8_t>(v));
  const auto y = run_unary<int8_t>(ir::OpType::RSQRT, ir::DType::i8, ir::DType::i8, {256}, x, quant(qi.scale, qi.zp),
                                   quant(qo.scale, qo.zp));
  CHECK(y[0] == 127);  // input at the zero point: 1/sqrt(0)
  std::vector<double> e;
  for (size_t i = 1; i < x.size(); ++i)
    e.push_back(std::min(127.0, 1.0 / std::sqrt(qi.scale * (x[i] - qi.zp)) / qo.scale + qo.zp));
  CHECK(max_abs_diff(std::vector<int8_t>(y.begin() + 1, y.end()), e) <= 1);
  const auto neg = run_unary<int8_t>(ir::OpType::RSQRT, ir::DType::i8, ir::DType::i8, {1}, std::vector<int8_t>{-5},
                                     quant(0.1f, 0), quant(0.1f, 0));
  CHECK(neg[0] == -128);
}

// =======================================================================================
// Bad inputs: every prepare failure names the problem

namespace {

std::string binary_error(ir::OpType type, ir::DType d1, ir::DType d2, ir::DType dout,
                         const std::vector<int32_t>& s1, const std::vector<int32_t>& s2,
                         const std::vector<int32_t>& so, ir::Quantization q1, ir::Quantization q2,
                         ir::Quantization qo, int activation = 0) {
  OpTest t(type);
  t.input("a", d1, s1, std::move(q1));
  t.input("b", d2, s2, std::move(q2));
  t.output("y", dout, so, std::move(qo));
  t.attr("fused_activation_function", activation);
  return t.prepare_error(registry());
}

std::string unary_error(ir::OpType type, ir::DType din, ir::DType dout, ir::Quantization qi,
                        ir::Quantization qo, const Attrs& attrs = {}, std::vector<int32_t> shape = {4}) {
  OpTest t(type);
  t.input("x", din, shape, std::move(qi));
  t.output("y", dout, shape, std::move(qo));
  for (const auto& kv : attrs) t.attr(kv.first, kv.second);
  return t.prepare_error(registry());
}

}  // namespace

TEST_CASE("bad binary operands fail at prepare with a message naming the problem") {
  using Catch::Matchers::Contains;
  const auto q = quant(0.1f, 0);
  CHECK_THAT(binary_error(ir::OpType::ADD, ir::DType::i8, ir::DType::i8, ir::DType::i8, {2, 3}, {4, 3}, {2, 3}, q, q, q),
             Contains("do not broadcast"));
  CHECK_THAT(binary_error(ir::OpType::ADD, ir::DType::i8, ir::DType::i8, ir::DType::i8, {2, 3}, {3}, {3, 3}, q, q, q),
             Contains("is not the broadcast"));
  CHECK_THAT(binary_error(ir::OpType::ADD, ir::DType::i8, ir::DType::u8, ir::DType::i8, {3}, {3}, {3}, q, q, q),
             Contains("one dtype"));
  CHECK_THAT(binary_error(ir::OpType::ADD, ir::DType::i8, ir::DType::i8, ir::DType::i8, {3}, {3}, {3}, q, q, q, 4),
             Contains("fused activation TANH"));
  CHECK_THAT(binary_error(ir::OpType::MUL, ir::DType::f32, ir::DType::f32, ir::DType::f32, {3}, {3}, {3}, {}, {}, {}, 5),
             Contains("fused activation SIGN_BIT"));
  CHECK_THAT(binary_error(ir::OpType::ADD, ir::DType::i8, ir::DType::i8, ir::DType::i8, {3}, {3}, {3}, {}, q, q),
             Contains("has no quantization"));
  CHECK_THAT(binary_error(ir::OpType::ADD, ir::DType::i8, ir::DType::i8, ir::DType::i8, {3}, {3}, {3},
                          test::quant_per_axis({0.1f, 0.2f, 0.3f}, 0), q, q),
             Contains("per-axis"));
  CHECK_THAT(binary_error(ir::OpType::MAXIMUM, ir::DType::i8, ir::DType::i8, ir::DType::i8, {3}, {3}, {3}, q,
                          quant(0.2f, 0), q),
             Contains("share one quantization"));
  CHECK_THAT(binary_error(ir::OpType::MINIMUM, ir::DType::u8, ir::DType::u8, ir::DType::u8, {3}, {3}, {3},
                          quant(0.1f, 1), quant(0.1f, 1), quant(0.1f, 2)),
             Contains("share one quantization"));
  CHECK_THAT(binary_error(ir::OpType::MUL, ir::DType::i16, ir::DType::i16, ir::DType::i16, {3}, {3}, {3},
                          quant(0.1f, 3), q, q),
             Contains("int16 MUL requires 0"));
  CHECK_THAT(binary_error(ir::OpType::SQUARED_DIFFERENCE, ir::DType::u8, ir::DType::u8, ir::DType::u8, {3}, {3}, {3},
                          q, q, q),
             Contains("dtype uint8"));
  CHECK_THAT(binary_error(ir::OpType::FLOOR_DIV, ir::DType::i8, ir::DType::i8, ir::DType::i8, {3}, {3}, {3}, q, q, q),
             Contains("supported: float32, int32"));
  CHECK_THAT(binary_error(ir::OpType::ADD, ir::DType::i64, ir::DType::i64, ir::DType::i64, {3}, {3}, {3}, {}, {}, {}),
             Contains("dtype int64"));
  CHECK_THAT(binary_error(ir::OpType::ADD, ir::DType::f32, ir::DType::f32, ir::DType::f32, {1, 1, 1, 1, 1, 1, 2},
                          {2}, {1, 1, 1, 1, 1, 1, 2}, {}, {}, {}),
             Contains("up to 6 dimensions"));
  CHECK_THAT(binary_error(ir::OpType::ADD, ir::DType::i8, ir::DType::i8, ir::DType::i8, {3}, {3}, {3}, q, q,
                          quant(0.0f, 0)),
             Contains("positive finite scale"));
  OpTest arity(ir::OpType::ADD);
  arity.input("a", ir::DType::f32, {3});
  arity.output("y", ir::DType::f32, {3});
  CHECK_THAT(arity.prepare_error(registry()), Contains("expects 2 inputs"));
  // A good case prepares cleanly.
  CHECK(binary_error(ir::OpType::ADD, ir::DType::i8, ir::DType::i8, ir::DType::i8, {2, 3}, {3}, {2, 3}, q, q, q, 3) == "");
}

TEST_CASE("bad activation and softmax operands fail at prepare with a message naming the problem") {
  using Catch::Matchers::Contains;
  const auto q = quant(0.1f, 0);
  CHECK_THAT(unary_error(ir::OpType::SOFTMAX, ir::DType::i8, ir::DType::u8, q, quant(1.0f / 256, 0), {{"beta", 1.0}}),
             Contains("int8 -> uint8 are not supported"));
  CHECK_THAT(unary_error(ir::OpType::SOFTMAX, ir::DType::i8, ir::DType::i8, q, quant(1.0f / 256, 0), {{"beta", 1.0}}),
             Contains("requires -128"));
  CHECK_THAT(unary_error(ir::OpType::SOFTMAX, ir::DType::i8, ir::DType::i8, q, quant(1.0f / 128, -128), {{"beta", 1.0}}),
             Contains("requires 1/256"));
  CHECK_THAT(unary_error(ir::OpType::SOFTMAX, ir::DType::u8, ir::DType::u8, q, quant(1.0f / 256, 0), {{"beta", 0.0}}),
             Contains("must exceed 1"));
  CHECK_THAT(unary_error(ir::OpType::LOGISTIC, ir::DType::i8, ir::DType::i8, q, quant(1.0f / 128, -128)),
             Contains("int8 LOGISTIC requires 1/256"));
  CHECK_THAT(unary_error(ir::OpType::TANH, ir::DType::i8, ir::DType::i8, q, quant(1.0f / 128, 5)),
             Contains("int8 TANH requires 0"));
  CHECK_THAT(unary_error(ir::OpType::LOGISTIC, ir::DType::i16, ir::DType::i16, quant(1.0f / 4096, 0), quant(0.001f, 0)),
             Contains("requires 2^-15"));
  CHECK_THAT(unary_error(ir::OpType::LOGISTIC, ir::DType::i8, ir::DType::u8, q, q), Contains("one dtype"));
  CHECK_THAT(unary_error(ir::OpType::LOG_SOFTMAX, ir::DType::i8, ir::DType::i8, q, quant(1.0f / 256, 127)),
             Contains("requires 16/256"));
  CHECK_THAT(unary_error(ir::OpType::LOG_SOFTMAX, ir::DType::u8, ir::DType::u8, q, quant(16.0f / 256, 127)),
             Contains("requires 255"));
  CHECK_THAT(unary_error(ir::OpType::EXP, ir::DType::i8, ir::DType::i8, q, q), Contains("dtype int8"));
  CHECK_THAT(unary_error(ir::OpType::RSQRT, ir::DType::u8, ir::DType::u8, q, q), Contains("supported: float32, int8"));
  CHECK_THAT(unary_error(ir::OpType::HARD_SWISH, ir::DType::i16, ir::DType::i16, q, q), Contains("dtype int16"));
  CHECK_THAT(unary_error(ir::OpType::RELU, ir::DType::i8, ir::DType::i8, {}, q), Contains("has no quantization"));
  CHECK_THAT(unary_error(ir::OpType::ABS, ir::DType::i16, ir::DType::i16, quant(0.1f, 4), quant(0.1f, 0)),
             Contains("int16 ABS requires 0"));
  CHECK_THAT(unary_error(ir::OpType::SOFTMAX, ir::DType::f32, ir::DType::f32, {}, {}, {{"beta", 1.0}}, {}),
             Contains("at least one dimension"));
  {
    OpTest t(ir::OpType::RELU);
    t.input("x", ir::DType::f32, {4});
    t.output("y", ir::DType::f32, {2, 2});
    CHECK_THAT(t.prepare_error(registry()), Contains("one shape"));
  }
  {
    OpTest t(ir::OpType::PRELU);
    t.input("x", ir::DType::i8, {2, 3}, q);
    t.constant("alpha", ir::DType::i8, {2}, std::vector<int8_t>{1, 2}, q);
    t.output("y", ir::DType::i8, {2, 3}, q);
    CHECK_THAT(t.prepare_error(registry()), Contains("does not broadcast to the input shape"));
  }
  {
    OpTest t(ir::OpType::PRELU);
    t.input("x", ir::DType::i8, {3}, q);
    t.constant("alpha", ir::DType::u8, {1}, std::vector<uint8_t>{1}, q);
    t.output("y", ir::DType::i8, {3}, q);
    CHECK_THAT(t.prepare_error(registry()), Contains("must have the input's dtype"));
  }
}

// =======================================================================================
// Pinned outputs

namespace {

// FNV-1a over the output bytes: a compact fingerprint of a long exact output.
template <typename T>
uint64_t fingerprint(const std::vector<T>& v) {
  uint64_t h = 1469598103934665603ull;
  const auto* bytes = reinterpret_cast<const uint8_t*>(v.data());
  for (size_t i = 0; i < v.size() * sizeof(T); ++i) h = (h ^ bytes[i]) * 1099511628211ull;
  return h;
}

}  // namespace

// These values were cross-checked when written against a line-by-line transcription of
// gemmlowp's fixedpoint.h and TFLite's reference kernels (two million random fixed-point
// inputs and thousands of random kernel parameterisations, no difference). Most one-ulp
// changes to the Q31 arithmetic never reach an 8-bit output, so the raw values are pinned
// here, where any change to the arithmetic shows up.
TEST_CASE("pinned fixed-point results") {
  namespace fp = kernels::fixed_point;
  CHECK(fp::exp_on_negative_values(-(1 << 26), 5) == 790015308);  // exp(-1) * 2^31 = 790015084.9
  CHECK(fp::logistic(1 << 27, 4) == 1569936226);                   // sigmoid(1) * 2^31 = 1569935251
  CHECK(fp::tanh(-(1 << 26), 4) == -992388804);                    // tanh(-1/2) * 2^31 = -992388758
  CHECK(fp::log_x_for_x_greater_than_or_equal_to_1(10 << 19, 12, 5) == 154523870);  // log(10) * 2^26
  int bits = 0;
  CHECK(fp::get_reciprocal(3 << 19, 12, &bits) == 1431655762);  // 3 = 1.5 * 2^1, 2^31 / 1.5
  CHECK(bits == 1);
  CHECK(fp::inv_sqrt_quantized_multiplier(10).multiplier == 679093938);
  CHECK(fp::inv_sqrt_quantized_multiplier(10).shift == 0);

  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](int32_t v) {
    for (int b = 0; b < 4; ++b) h = (h ^ ((static_cast<uint32_t>(v) >> (8 * b)) & 0xff)) * 1099511628211ull;
  };
  for (int64_t i = 0; i < 4096; ++i) {
    mix(fp::exp_on_negative_values(static_cast<int32_t>(-i * 524287), 5));
    mix(fp::exp_on_negative_values(static_cast<int32_t>(-i * 524287), 0));
  }
  CHECK(h == 0xc746690717cb0c70ull);
  h = 1469598103934665603ull;
  for (int64_t i = 0; i < 4096; ++i) {
    const auto a = static_cast<int32_t>(INT32_MIN + i * 1048573);
    mix(fp::logistic(a, 4));
    mix(fp::tanh(a, 4));
  }
  CHECK(h == 0x228be33205d248d6ull);
  h = 1469598103934665603ull;
  for (int64_t i = 0; i < 4096; ++i) {
    const auto a = static_cast<int32_t>((1 << 19) + i * 524159);
    int b = 0;
    mix(fp::log_x_for_x_greater_than_or_equal_to_1(a, 12, 5));
    mix(fp::get_reciprocal(a, 12, &b));
    mix(b);
    const kernels::QuantizedMultiplier q = fp::inv_sqrt_quantized_multiplier(a);
    mix(q.multiplier);
    mix(q.shift);
  }
  CHECK(h == 0xfe1eddd097e7e996ull);
}

TEST_CASE("pinned kernel outputs of the transcendental and reciprocal-based operators") {
  const auto all8 = all_values<int8_t>();
  const auto allu = all_values<uint8_t>();
  const auto r8 = random_values<int8_t>(400, -128, 127, 1001);
  const auto ru = random_values<uint8_t>(1001, 0, 255, 1002);
  const auto r16 = random_values<int16_t>(2000, -32768, 32767, 1003);
  CHECK(fingerprint(run_unary<int8_t>(ir::OpType::LOGISTIC, ir::DType::i8, ir::DType::i8, {256}, all8,
                                      quant(0.1f, 7), quant(1.0f / 256, -128))) == 0x1c247f3074f36195ull);
  CHECK(fingerprint(run_unary<int8_t>(ir::OpType::TANH, ir::DType::i8, ir::DType::i8, {256}, all8,
                                      quant(0.05f, -3), quant(1.0f / 128, 0))) == 0x28901e4fee874c43ull);
  CHECK(fingerprint(run_unary<int8_t>(ir::OpType::HARD_SWISH, ir::DType::i8, ir::DType::i8, {256}, all8,
                                      quant(0.05f, -10), quant(0.04f, -90))) == 0xa9cd5b5f98d50bafull);
  CHECK(fingerprint(run_unary<int8_t>(ir::OpType::RSQRT, ir::DType::i8, ir::DType::i8, {256}, all8,
                                      quant(0.02f, -128), quant(0.25f, -128))) == 0x3612e10473e4fc37ull);
  CHECK(fingerprint(run_softmax<int8_t, int8_t>(ir::DType::i8, ir::DType::i8, {40, 10}, r8, quant(0.1f, 2),
                                                quant(1.0f / 256, -128), 1.0)) == 0x38c7c70f65b688c2ull);
  CHECK(fingerprint(run_softmax<int8_t, int16_t>(ir::DType::i8, ir::DType::i16, {40, 10}, r8, quant(0.1f, 2),
                                                 quant(1.0f / 65536, -32768), 1.0)) == 0x04e3daa6062a79e3ull);
  CHECK(fingerprint(run_softmax<uint8_t, uint8_t>(ir::DType::u8, ir::DType::u8, {1, 1001}, ru, quant(0.0984f, 60),
                                                  quant(1.0f / 256, 0), 1.0)) == 0x6b6779049f00206eull);
  CHECK(fingerprint(run_unary<int8_t>(ir::OpType::LOG_SOFTMAX, ir::DType::i8, ir::DType::i8, {40, 10}, r8,
                                      quant(0.07f, 4), quant(16.0f / 256, 127))) == 0x9957a5a8ff83faabull);
  CHECK(fingerprint(run_unary<int16_t>(ir::OpType::LOGISTIC, ir::DType::i16, ir::DType::i16, {2000}, r16,
                                       quant(0.7f / 4096, 0), quant(1.0f / 32768, 0))) == 0xf4e7ed33bc8054b5ull);
  CHECK(fingerprint(run_unary<int16_t>(ir::OpType::TANH, ir::DType::i16, ir::DType::i16, {2000}, r16,
                                       quant(1.0f / 2048, 0), quant(1.0f / 32768, 0))) == 0xe5fcae3a2ef026ecull);
  CHECK(fingerprint(run_softmax<int16_t, int16_t>(ir::DType::i16, ir::DType::i16, {200, 10}, r16, quant(0.0003f, 0),
                                                  quant(1.0f / 32768, 0), 1.0)) == 0x6a68f529e7f811cbull);
  CHECK(fingerprint(run_binary<uint8_t>(ir::OpType::DIV, ir::DType::u8, {256}, allu, {256},
                                        std::vector<uint8_t>(allu.rbegin(), allu.rend()), {256}, quant(0.05f, 128),
                                        quant(0.02f, 100), quant(0.1f, 20))) == 0x021769bfdf8f63c8ull);
}
