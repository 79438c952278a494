// Question answered: do QUANTIZE, DEQUANTIZE, CAST, the reductions, ARG_MAX/ARG_MIN and
// RESIZE_BILINEAR compute exactly what TFLite's reference kernels compute (rounding ties,
// float-vs-double order, saturation, wrap-around), and does each binding reject the
// operands it cannot run?
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "op_test_util.hpp"
#include "tessel/cpu/op_registry.hpp"
#include "tessel/kernels/quant_reduce.hpp"

using namespace tessel;
using tessel::test::as_bytes;
using tessel::test::OpTest;
using tessel::test::quant;
using tessel::test::quant_per_axis;

namespace {

const cpu::OpRegistry& registry() {
  static const cpu::OpRegistry r = [] {
    cpu::OpRegistry reg;
    cpu::register_ref_quant_reduce_ops(reg);
    return reg;
  }();
  return r;
}

// Runs a one-input operator and returns its output.
template <typename Out, typename In>
std::vector<Out> run1(OpTest& t, const std::vector<In>& input) {
  return t.run<Out>(registry(), {as_bytes(input)});
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// ---- helpers building the single-op graphs -------------------------------------------

OpTest quantize_op(ir::DType in, ir::Quantization qin, ir::DType out, ir::Quantization qout,
                   std::vector<int32_t> shape) {
  OpTest t(ir::OpType::QUANTIZE);
  t.input("x", in, shape, std::move(qin));
  t.output("y", out, shape, std::move(qout));
  return t;
}

OpTest reduce_op(ir::OpType type, ir::DType dt, std::vector<int32_t> in_shape,
                 std::vector<int32_t> axes, std::vector<int32_t> out_shape, bool keep_dims,
                 ir::Quantization qin = {}, ir::Quantization qout = {}) {
  OpTest t(type);
  t.input("x", dt, std::move(in_shape), std::move(qin));
  t.constant("axis", ir::DType::i32, {static_cast<int32_t>(axes.size())}, axes);
  t.output("y", dt, std::move(out_shape), std::move(qout));
  t.attr("keep_dims", keep_dims ? 1 : 0);
  return t;
}

OpTest resize_op(ir::DType dt, std::vector<int32_t> in_shape, int32_t h, int32_t w,
                 bool align_corners, bool half_pixel_centers, ir::Quantization q = {}) {
  OpTest t(ir::OpType::RESIZE_BILINEAR);
  const int32_t n = in_shape[0], c = in_shape[3];
  t.input("x", dt, std::move(in_shape), q);
  t.constant("size", ir::DType::i32, {2}, std::vector<int32_t>{h, w});
  t.output("y", dt, {n, h, w, c}, q);
  t.attr("align_corners", align_corners ? 1 : 0);
  t.attr("half_pixel_centers", half_pixel_centers ? 1 : 0);
  return t;
}

}  // namespace

// =======================================================================================
// QUANTIZE

TEST_CASE("QUANTIZE float->int8 rounds half away from zero and saturates") {
  OpTest t = quantize_op(ir::DType::f32, {}, ir::DType::i8, quant(0.5f, -10), {1, 10});
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // x / 0.5: 2.5 -> 3, -2.5 -> -3, 1.5 -> 2, -1.5 -> -2, then + (-10).
  const std::vector<float> x = {1.25f, -1.25f, 0.75f, -0.75f, 0.0f, 100.0f, -100.0f, inf, -inf, nan};
  const std::vector<int8_t> want = {-7, -13, -8, -12, -10, 127, -128, 127, -128, -128};
  CHECK(run1<int8_t>(t, x) == want);
}

TEST_CASE("QUANTIZE float->int8 divides in float, not double") {
  // 0.003f / 0.002f is 1.49999994 in double (rounds to 1) but 1.5 in float (rounds to 2);
  // TFLite divides by static_cast<float>(scale).
  REQUIRE(std::round(static_cast<double>(0.003f) / static_cast<double>(0.002f)) == 1.0);
  OpTest t = quantize_op(ir::DType::f32, {}, ir::DType::i8, quant(0.002f, 0), {2});
  CHECK(run1<int8_t>(t, std::vector<float>{0.003f, -0.003f}) == std::vector<int8_t>{2, -2});
}

TEST_CASE("QUANTIZE float->uint8 and float->int16") {
  SECTION("uint8 with zero point 128") {
    OpTest t = quantize_op(ir::DType::f32, {}, ir::DType::u8, quant(1.0f / 128, 128), {5});
    const std::vector<float> x = {-1.0f, -2.0f, 0.0f, 0.99f, 1.5f};
    CHECK(run1<uint8_t>(t, x) == std::vector<uint8_t>{0, 0, 128, 255, 255});
  }
  SECTION("int16 symmetric") {
    OpTest t = quantize_op(ir::DType::f32, {}, ir::DType::i16, quant(0.25f, 0), {4});
    const std::vector<float> x = {1.0f, -0.625f, 9000.0f, -9000.0f};
    CHECK(run1<int16_t>(t, x) == std::vector<int16_t>{4, -3, 32767, -32768});
  }
}

TEST_CASE("QUANTIZE float->int8 per channel uses each channel's scale and zero point") {
  ir::Quantization q = quant_per_axis({0.5f, 1.0f, 2.0f}, 1);
  q.zero_point = {0, 1, -1};
  OpTest t = quantize_op(ir::DType::f32, {}, ir::DType::i8, q, {2, 3});
  // Row-major [2, 3]; channel = column.
  const std::vector<float> x = {1.0f, 1.0f, 1.0f, -3.0f, 2.5f, 5.0f};
  // col0: x/0.5; col1: round(x)+1 (2.5 -> 3); col2: round(x/2)-1 (0.5 -> 1, 2.5 -> 3).
  CHECK(run1<int8_t>(t, x) == std::vector<int8_t>{2, 2, 0, -6, 4, 2});
}

TEST_CASE("QUANTIZE uint8->uint8 reproduces TFLite's double rounding (DeepLab op 65)") {
  // DeepLab's scales; M = 0.4228..., encoded as 1816223033 * 2^-32. Expected values come
  // from a Python emulation of QuantizeMultiplier + MultiplyByQuantizedMultiplier; the last
  // row shows the exactly rounded q * s_in / s_out, which TFLite does NOT produce for
  // q = 1, 3, 29, 100 (e.g. 29 -> 12.26 -> 13, as shared/goldens/MANIFEST-uint8.md notes).
  OpTest t = quantize_op(ir::DType::u8, quant(0.012298396788537502f, 0), ir::DType::u8,
                         quant(0.029082998633384705f, 0), {12});
  const std::vector<uint8_t> q = {0, 1, 2, 3, 5, 7, 12, 29, 100, 128, 200, 255};
  const std::vector<uint8_t> want = {0, 1, 1, 2, 2, 3, 5, 13, 43, 54, 85, 108};
  const std::vector<uint8_t> exact = {0, 0, 1, 1, 2, 3, 5, 12, 42, 54, 85, 108};
  CHECK(run1<uint8_t>(t, q) == want);
  CHECK(want != exact);
}

TEST_CASE("QUANTIZE int8<->uint8 with equal scales flips the sign bit") {
  std::vector<uint8_t> all_u8(256);
  std::vector<int8_t> all_i8(256);
  for (int i = 0; i < 256; ++i) {
    all_u8[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
    all_i8[static_cast<size_t>(i)] = static_cast<int8_t>(i - 128);
  }
  SECTION("uint8 zp 127 -> int8 zp -1 (the coral_tf2 input QUANTIZE)") {
    OpTest t = quantize_op(ir::DType::u8, quant(0.007843137718737125f, 127), ir::DType::i8,
                           quant(0.007843137718737125f, -1), {256});
    const auto got = run1<int8_t>(t, all_u8);
    for (int i = 0; i < 256; ++i) CHECK(got[static_cast<size_t>(i)] == static_cast<int8_t>(i ^ 0x80));
  }
  SECTION("int8 zp -128 -> uint8 zp 0") {
    OpTest t = quantize_op(ir::DType::i8, quant(0.00390625f, -128), ir::DType::u8,
                           quant(0.00390625f, 0), {256});
    CHECK(run1<uint8_t>(t, all_i8) == all_u8);
  }
}

TEST_CASE("QUANTIZE int8->int8 rescales and saturates") {
  // M = 2: 100 -> 200 -> 127; -100 -> -128; ties cannot occur with M = 2.
  OpTest t = quantize_op(ir::DType::i8, quant(1.0f, 0), ir::DType::i8, quant(0.5f, 3), {4});
  CHECK(run1<int8_t>(t, std::vector<int8_t>{100, -100, 5, -7}) == std::vector<int8_t>{127, -128, 13, -11});
}

TEST_CASE("QUANTIZE int16->int8, int8->int16 and int16->int16") {
  SECTION("int16 -> int8: M = 1/256") {
    OpTest t = quantize_op(ir::DType::i16, quant(1.0f / 256, 0), ir::DType::i8, quant(1.0f, 0), {5});
    // 384 / 256 = 1.5 -> 2; -384 -> -1.5 -> -2 (RoundingDivideByPOT: half away from zero).
    CHECK(run1<int8_t>(t, std::vector<int16_t>{384, -384, 32767, -32768, 100}) ==
          std::vector<int8_t>{2, -2, 127, -128, 0});
  }
  SECTION("int8 -> int16: M = 256") {
    OpTest t = quantize_op(ir::DType::i8, quant(1.0f, 5), ir::DType::i16, quant(1.0f / 256, 0), {3});
    // (6 - 5) * 256 = 256; (-128 - 5) * 256 = -34048 saturates; 122 * 256 = 31232.
    CHECK(run1<int16_t>(t, std::vector<int8_t>{6, -128, 127}) == std::vector<int16_t>{256, -32768, 31232});
  }
  SECTION("int16 -> int16: M = 2 saturates") {
    OpTest t = quantize_op(ir::DType::i16, quant(1.0f, 0), ir::DType::i16, quant(0.5f, 0), {3});
    CHECK(run1<int16_t>(t, std::vector<int16_t>{20000, -20000, -3}) == std::vector<int16_t>{32767, -32768, -6});
  }
}

TEST_CASE("QUANTIZE rejects unsupported operands") {
  SECTION("int16 -> uint8") {
    OpTest t = quantize_op(ir::DType::i16, quant(1.0f, 0), ir::DType::u8, quant(1.0f, 0), {2});
    CHECK(contains(t.prepare_error(registry()), "QUANTIZE from int16 to uint8 is not supported"));
  }
  SECTION("float -> float") {
    OpTest t = quantize_op(ir::DType::f32, {}, ir::DType::f32, quant(1.0f, 0), {2});
    CHECK(contains(t.prepare_error(registry()), "QUANTIZE from float32 to float32 is not supported"));
  }
  SECTION("output without quantization") {
    OpTest t = quantize_op(ir::DType::f32, {}, ir::DType::i8, {}, {2});
    CHECK(contains(t.prepare_error(registry()), "output (int8) has no quantization parameters"));
  }
  SECTION("input without quantization") {
    OpTest t = quantize_op(ir::DType::i8, {}, ir::DType::i8, quant(1.0f, 0), {2});
    CHECK(contains(t.prepare_error(registry()), "input (int8) has no quantization parameters"));
  }
  SECTION("per-channel requantization") {
    OpTest t = quantize_op(ir::DType::i8, quant(1.0f, 0), ir::DType::i8, quant_per_axis({1.0f, 2.0f}, 0), {2});
    CHECK(contains(t.prepare_error(registry()), "per-channel requantization is not supported"));
  }
  SECTION("zero point outside the type") {
    OpTest t = quantize_op(ir::DType::f32, {}, ir::DType::u8, quant(1.0f, -1), {2});
    CHECK(contains(t.prepare_error(registry()), "output zero point -1 is outside the uint8 range"));
  }
  SECTION("non-positive scale") {
    OpTest t = quantize_op(ir::DType::f32, {}, ir::DType::i8, quant(0.0f, 0), {2});
    CHECK(contains(t.prepare_error(registry()), "is not a positive finite number"));
  }
  SECTION("shape mismatch") {
    OpTest t(ir::OpType::QUANTIZE);
    t.input("x", ir::DType::f32, {2, 3});
    t.output("y", ir::DType::i8, {3, 2}, quant(1.0f, 0));
    CHECK(contains(t.prepare_error(registry()), "output shape [3, 2] differs from the input shape [2, 3]"));
  }
}

// =======================================================================================
// DEQUANTIZE

TEST_CASE("DEQUANTIZE int8, uint8, int16 per tensor") {
  SECTION("int8") {
    OpTest t(ir::OpType::DEQUANTIZE);
    t.input("x", ir::DType::i8, {3}, quant(0.5f, -1));
    t.output("y", ir::DType::f32, {3});
    CHECK(run1<float>(t, std::vector<int8_t>{-128, 127, -1}) == std::vector<float>{-63.5f, 64.0f, 0.0f});
  }
  SECTION("uint8") {
    OpTest t(ir::OpType::DEQUANTIZE);
    t.input("x", ir::DType::u8, {3}, quant(0.25f, 128));
    t.output("y", ir::DType::f32, {3});
    CHECK(run1<float>(t, std::vector<uint8_t>{0, 255, 129}) == std::vector<float>{-32.0f, 31.75f, 0.25f});
  }
  SECTION("int16") {
    OpTest t(ir::OpType::DEQUANTIZE);
    t.input("x", ir::DType::i16, {2}, quant(1.0f / 1024, 0));
    t.output("y", ir::DType::f32, {2});
    CHECK(run1<float>(t, std::vector<int16_t>{-32768, 512}) == std::vector<float>{-32.0f, 0.5f});
  }
}

TEST_CASE("DEQUANTIZE int8 per channel") {
  ir::Quantization q = quant_per_axis({0.5f, 0.25f}, 0);
  q.zero_point = {0, 4};
  OpTest t(ir::OpType::DEQUANTIZE);
  t.input("w", ir::DType::i8, {2, 2}, q);
  t.output("y", ir::DType::f32, {2, 2});
  CHECK(run1<float>(t, std::vector<int8_t>{2, -3, 8, 0}) == std::vector<float>{1.0f, -1.5f, 1.0f, -1.0f});
}

TEST_CASE("DEQUANTIZE float16 converts every class of half exactly") {
  const std::vector<uint16_t> bits = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8000, 0x7C00, 0x3555, 0x7E00};
  OpTest t(ir::OpType::DEQUANTIZE);
  t.input("x", ir::DType::f16, {8});
  t.output("y", ir::DType::f32, {8});
  const auto y = run1<float>(t, bits);
  CHECK(y[0] == 1.0f);
  CHECK(y[1] == -2.0f);
  CHECK(y[2] == 65504.0f);
  CHECK(y[3] == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(y[4] == 0.0f);
  CHECK(std::signbit(y[4]));
  CHECK(y[5] == std::numeric_limits<float>::infinity());
  CHECK(y[6] == 0.333251953125f);
  CHECK(std::isnan(y[7]));
}

TEST_CASE("DEQUANTIZE rejects unsupported operands") {
  SECTION("int32 input") {
    OpTest t(ir::OpType::DEQUANTIZE);
    t.input("x", ir::DType::i32, {2}, quant(1.0f, 0));
    t.output("y", ir::DType::f32, {2});
    CHECK(contains(t.prepare_error(registry()), "DEQUANTIZE of int32 is not supported"));
  }
  SECTION("non-float output") {
    OpTest t(ir::OpType::DEQUANTIZE);
    t.input("x", ir::DType::i8, {2}, quant(1.0f, 0));
    t.output("y", ir::DType::i32, {2});
    CHECK(contains(t.prepare_error(registry()), "output must be float32, is int32"));
  }
  SECTION("missing quantization") {
    OpTest t(ir::OpType::DEQUANTIZE);
    t.input("x", ir::DType::u8, {2});
    t.output("y", ir::DType::f32, {2});
    CHECK(contains(t.prepare_error(registry()), "input (uint8) has no quantization parameters"));
  }
}

// =======================================================================================
// CAST

namespace {
OpTest cast_op(ir::DType in, ir::DType out, int32_t n) {
  OpTest t(ir::OpType::CAST);
  t.input("x", in, {n});
  t.output("y", out, {n});
  return t;
}
}  // namespace

TEST_CASE("CAST float->integer truncates toward zero and saturates") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  SECTION("int32 (NaN -> INT32_MAX as TFLite's int32 path)") {
    OpTest t = cast_op(ir::DType::f32, ir::DType::i32, 5);
    CHECK(run1<int32_t>(t, std::vector<float>{1.9f, -1.9f, 3e9f, -3e9f, nan}) ==
          std::vector<int32_t>{1, -1, INT32_MAX, INT32_MIN, INT32_MAX});
  }
  SECTION("uint8") {
    OpTest t = cast_op(ir::DType::f32, ir::DType::u8, 4);
    CHECK(run1<uint8_t>(t, std::vector<float>{-3.5f, 255.9f, 300.0f, 12.7f}) ==
          std::vector<uint8_t>{0, 255, 255, 12});
  }
  SECTION("int8 and int64") {
    OpTest t8 = cast_op(ir::DType::f32, ir::DType::i8, 3);
    CHECK(run1<int8_t>(t8, std::vector<float>{-200.0f, 127.9f, -0.5f}) == std::vector<int8_t>{-128, 127, 0});
    OpTest t64 = cast_op(ir::DType::f32, ir::DType::i64, 3);
    CHECK(run1<int64_t>(t64, std::vector<float>{1e19f, -2.5f, 16777216.0f}) ==
          std::vector<int64_t>{INT64_MAX, -2, 16777216});
  }
}

TEST_CASE("CAST between integers wraps, to and from bool tests non-zero") {
  SECTION("int32 -> int8 wraps modulo 256") {
    OpTest t = cast_op(ir::DType::i32, ir::DType::i8, 3);
    CHECK(run1<int8_t>(t, std::vector<int32_t>{300, -129, -5}) == std::vector<int8_t>{44, 127, -5});
  }
  SECTION("int64 -> int32 wraps, int16 -> int64 sign-extends") {
    OpTest t = cast_op(ir::DType::i64, ir::DType::i32, 2);
    CHECK(run1<int32_t>(t, std::vector<int64_t>{(int64_t{1} << 32) + 7, -1}) == std::vector<int32_t>{7, -1});
    OpTest t2 = cast_op(ir::DType::i16, ir::DType::i64, 2);
    CHECK(run1<int64_t>(t2, std::vector<int16_t>{-32768, 5}) == std::vector<int64_t>{-32768, 5});
  }
  SECTION("float -> bool") {
    OpTest t = cast_op(ir::DType::f32, ir::DType::bool8, 4);
    CHECK(run1<uint8_t>(t, std::vector<float>{0.0f, -0.0f, 0.5f, std::numeric_limits<float>::quiet_NaN()}) ==
          std::vector<uint8_t>{0, 0, 1, 1});
  }
  SECTION("bool -> float and bool -> int32 (any non-zero byte is true)") {
    OpTest t = cast_op(ir::DType::bool8, ir::DType::f32, 3);
    CHECK(run1<float>(t, std::vector<uint8_t>{0, 1, 2}) == std::vector<float>{0.0f, 1.0f, 1.0f});
    OpTest t2 = cast_op(ir::DType::bool8, ir::DType::i32, 2);
    CHECK(run1<int32_t>(t2, std::vector<uint8_t>{0xFF, 0}) == std::vector<int32_t>{1, 0});
  }
  SECTION("uint8 -> float, int32 -> float rounds to nearest") {
    OpTest t = cast_op(ir::DType::u8, ir::DType::f32, 2);
    CHECK(run1<float>(t, std::vector<uint8_t>{255, 0}) == std::vector<float>{255.0f, 0.0f});
    OpTest t2 = cast_op(ir::DType::i32, ir::DType::f32, 1);
    CHECK(run1<float>(t2, std::vector<int32_t>{16777217}) == std::vector<float>{16777216.0f});
  }
}

TEST_CASE("CAST rejects unsupported operands") {
  SECTION("float16") {
    OpTest t = cast_op(ir::DType::f16, ir::DType::f32, 2);
    CHECK(contains(t.prepare_error(registry()), "CAST from float16 to float32 is not supported"));
  }
  SECTION("shape mismatch") {
    OpTest t(ir::OpType::CAST);
    t.input("x", ir::DType::i32, {4});
    t.output("y", ir::DType::f32, {2, 2});
    CHECK(contains(t.prepare_error(registry()), "differs from the input shape"));
  }
}

// =======================================================================================
// MEAN / SUM / REDUCE_MAX / REDUCE_MIN

TEST_CASE("MEAN float over one axis, keep_dims on and off (TFLite Micro's test vectors)") {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8};
  OpTest t = reduce_op(ir::OpType::MEAN, ir::DType::f32, {2, 4}, {1}, {2}, false);
  CHECK(run1<float>(t, x) == std::vector<float>{2.5f, 6.5f});
  OpTest k = reduce_op(ir::OpType::MEAN, ir::DType::f32, {2, 4}, {1}, {2, 1}, true);
  CHECK(run1<float>(k, x) == std::vector<float>{2.5f, 6.5f});
}

TEST_CASE("MEAN float 4-D over H,W with negative and duplicate axes") {
  std::vector<float> x(24);
  for (int i = 0; i < 24; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i + 1);
  const std::vector<float> want = {6, 7, 18, 19};
  OpTest a = reduce_op(ir::OpType::MEAN, ir::DType::f32, {2, 2, 3, 2}, {1, 2}, {2, 1, 1, 2}, true);
  CHECK(run1<float>(a, x) == want);
  OpTest b = reduce_op(ir::OpType::MEAN, ir::DType::f32, {2, 2, 3, 2}, {-3, 2, 1, -2}, {2, 2}, false);
  CHECK(run1<float>(b, x) == want);
}

TEST_CASE("MEAN float sums in input order in float") {
  // Adding 1 to 1e8 in float changes nothing, so the eight ones vanish: the mean is
  // 1e8 / 9 = 11111111, where a double sum or the ones first would give 11111112.
  std::vector<float> x(9, 1.0f);
  x[0] = 1e8f;
  REQUIRE(static_cast<float>((1e8 + 8.0) / 9.0) == 11111112.0f);
  OpTest t = reduce_op(ir::OpType::MEAN, ir::DType::f32, {9}, {0}, {}, false);
  CHECK(run1<float>(t, x) == std::vector<float>{1e8f / 9.0f});
  CHECK(1e8f / 9.0f == 11111111.0f);
}

TEST_CASE("MEAN int8 over H,W folds 1/n into the multiplier") {
  // s_in/s_out = 2 -> (2^30, shift 2); n = 4 folds to (2^30, shift 0), i.e. x/2 with
  // gemmlowp's ties toward +infinity. out = 3 + round((sum - 4 * (-1)) / 2).
  const ir::Quantization qi = quant(0.5f, -1), qo = quant(0.25f, 3);
  OpTest t = reduce_op(ir::OpType::MEAN, ir::DType::i8, {1, 2, 2, 4}, {1, 2}, {1, 1, 1, 4}, true, qi, qo);
  // Channels (c0..c3) at (h, w) = (0,0), (0,1), (1,0), (1,1).
  const std::vector<int8_t> x = {1, -5, 0, -2,  //
                                 2, -6, 0, -2,  //
                                 3, -7, 0, -2,  //
                                 4, -8, 1, -3};
  // sums 10, -26, 1, -9 -> acc 14, -22, 5 (2.5 -> 3), -5 (-2.5 -> -2).
  CHECK(run1<int8_t>(t, x) == std::vector<int8_t>{10, -8, 6, 1});
}

TEST_CASE("MEAN int8 over another axis, equal quantization still rounds") {
  // n = 3: multiplier 2^30 (shift 1) folds to 715827882 = trunc(2^31 / 3), shift 0.
  // 5/3 = 1.67 -> 2 and -5/3 -> -2 (an older TFLite path truncated to 1 / -1 here).
  OpTest t = reduce_op(ir::OpType::MEAN, ir::DType::i8, {3, 3}, {-1}, {3}, false, quant(1.0f, 0), quant(1.0f, 0));
  CHECK(run1<int8_t>(t, std::vector<int8_t>{1, 1, 3, -1, -1, -3, 127, 127, 126}) ==
        std::vector<int8_t>{2, -2, 127});
  SECTION("ties go toward +infinity") {
    OpTest h = reduce_op(ir::OpType::MEAN, ir::DType::i8, {2, 2}, {1}, {2}, false, quant(1.0f, 0), quant(1.0f, 0));
    CHECK(run1<int8_t>(h, std::vector<int8_t>{1, 2, -1, -2}) == std::vector<int8_t>{2, -1});
  }
}

TEST_CASE("MEAN uint8 and int16") {
  SECTION("uint8 zero point 128") {
    OpTest t = reduce_op(ir::OpType::MEAN, ir::DType::u8, {1, 3}, {1}, {1, 1}, true, quant(0.5f, 128), quant(0.5f, 128));
    CHECK(run1<uint8_t>(t, std::vector<uint8_t>{128, 129, 131}) == std::vector<uint8_t>{129});
  }
  SECTION("uint8 with an empty axis list copies the input (full TFLite)") {
    OpTest t = reduce_op(ir::OpType::MEAN, ir::DType::u8, {3}, {}, {3}, false, quant(0.5f, 0), quant(1.0f, 0));
    CHECK(run1<uint8_t>(t, std::vector<uint8_t>{10, 11, 255}) == std::vector<uint8_t>{10, 11, 255});
  }
  SECTION("int8 with an empty axis list requantizes (TFLite Micro)") {
    OpTest t = reduce_op(ir::OpType::MEAN, ir::DType::i8, {3}, {}, {3}, false, quant(0.5f, 0), quant(1.0f, 0));
    CHECK(run1<int8_t>(t, std::vector<int8_t>{10, 11, -3}) == std::vector<int8_t>{5, 6, -1});
  }
  SECTION("int16 rescaled") {
    OpTest t = reduce_op(ir::OpType::MEAN, ir::DType::i16, {2, 2}, {0}, {2}, false, quant(1.0f, 0), quant(0.5f, 0));
    // means 2 and -20001 -> *2 -> 4, -40002 saturates.
    CHECK(run1<int16_t>(t, std::vector<int16_t>{1, -20000, 3, -20002}) == std::vector<int16_t>{4, -32768});
  }
}

TEST_CASE("SUM quantized rescales, rounds and saturates") {
  // s_in/s_out = 0.5: (2^30, shift 0), ties toward +infinity.
  OpTest t = reduce_op(ir::OpType::SUM, ir::DType::i8, {3, 3}, {1}, {3, 1}, true, quant(0.5f, 0), quant(1.0f, 0));
  CHECK(run1<int8_t>(t, std::vector<int8_t>{100, 100, 100, 3, 0, 0, -3, 0, 0}) ==
        std::vector<int8_t>{127, 2, -1});
  SECTION("zero points are removed from the sum before rescaling") {
    OpTest z = reduce_op(ir::OpType::SUM, ir::DType::u8, {4}, {0}, {1}, true, quant(1.0f, 10), quant(1.0f, 100));
    CHECK(run1<uint8_t>(z, std::vector<uint8_t>{10, 11, 12, 13}) == std::vector<uint8_t>{106});
  }
}

TEST_CASE("SUM int16 accumulates in a wrapping int32 as TFLite does") {
  // 65540 * 32767 = 2147549180 exceeds INT32_MAX and wraps to -2147418116; halved and
  // saturated that gives -32768 (exact arithmetic would give +32767).
  const int32_t n = 65540;
  OpTest t = reduce_op(ir::OpType::SUM, ir::DType::i16, {n}, {0}, {}, false, quant(0.5f, 0), quant(1.0f, 0));
  CHECK(run1<int16_t>(t, std::vector<int16_t>(static_cast<size_t>(n), 32767)) == std::vector<int16_t>{-32768});
}

TEST_CASE("SUM float and REDUCE_MAX / REDUCE_MIN") {
  const std::vector<float> xf = {1, -2, 3, 4, 5, -6};
  OpTest s = reduce_op(ir::OpType::SUM, ir::DType::f32, {2, 3}, {0}, {3}, false);
  CHECK(run1<float>(s, xf) == std::vector<float>{5, 3, -3});
  OpTest mx = reduce_op(ir::OpType::REDUCE_MAX, ir::DType::f32, {2, 3}, {-1}, {2, 1}, true);
  CHECK(run1<float>(mx, xf) == std::vector<float>{3, 5});
  OpTest mn8 = reduce_op(ir::OpType::REDUCE_MIN, ir::DType::i8, {2, 3}, {0, 1}, {}, false, quant(0.1f, 2), quant(0.1f, 2));
  CHECK(run1<int8_t>(mn8, std::vector<int8_t>{5, -128, 7, 0, 1, 2}) == std::vector<int8_t>{-128});
  OpTest mxu = reduce_op(ir::OpType::REDUCE_MAX, ir::DType::u8, {2, 2}, {0}, {2}, false, quant(1.0f, 0), quant(1.0f, 0));
  CHECK(run1<uint8_t>(mxu, std::vector<uint8_t>{0, 255, 254, 3}) == std::vector<uint8_t>{254, 255});
}

TEST_CASE("reductions reject bad operands") {
  SECTION("non-constant axis") {
    OpTest t(ir::OpType::MEAN);
    t.input("x", ir::DType::f32, {2, 2});
    t.input("axis", ir::DType::i32, {1});
    t.output("y", ir::DType::f32, {2});
    CHECK(contains(t.prepare_error(registry()), "must be a constant tensor"));
  }
  SECTION("axis out of range") {
    OpTest t = reduce_op(ir::OpType::SUM, ir::DType::f32, {2, 2}, {2}, {2}, false);
    CHECK(contains(t.prepare_error(registry()), "axis 2 is out of range for an input of rank 2"));
    OpTest n = reduce_op(ir::OpType::SUM, ir::DType::f32, {2, 2}, {-3}, {2}, false);
    CHECK(contains(n.prepare_error(registry()), "axis -3 is out of range"));
  }
  SECTION("output shape mismatch (keep_dims ignored)") {
    OpTest t = reduce_op(ir::OpType::MEAN, ir::DType::f32, {2, 4}, {1}, {2}, true);
    CHECK(contains(t.prepare_error(registry()), "output shape [2] does not match the computed shape [2, 1]"));
  }
  SECTION("int64 axis") {
    OpTest t(ir::OpType::MEAN);
    t.input("x", ir::DType::f32, {2, 2});
    t.constant("axis", ir::DType::i64, {1}, std::vector<int64_t>{1});
    t.output("y", ir::DType::f32, {2});
    CHECK(contains(t.prepare_error(registry()), "axis must be int32, is int64"));
  }
  SECTION("unsupported dtype") {
    OpTest t = reduce_op(ir::OpType::MEAN, ir::DType::i32, {2, 2}, {1}, {2}, false);
    CHECK(contains(t.prepare_error(registry()), "MEAN of int32 is not supported"));
  }
  SECTION("quantized MEAN without output quantization") {
    OpTest t = reduce_op(ir::OpType::MEAN, ir::DType::i8, {2, 2}, {1}, {2}, false, quant(1.0f, 0));
    CHECK(contains(t.prepare_error(registry()), "output (int8) has no quantization parameters"));
  }
  SECTION("REDUCE_MAX with rescaling") {
    OpTest t = reduce_op(ir::OpType::REDUCE_MAX, ir::DType::i8, {2, 2}, {1}, {2}, false, quant(1.0f, 0), quant(0.5f, 0));
    CHECK(contains(t.prepare_error(registry()), "input and output quantization must be equal"));
  }
}

// =======================================================================================
// ARG_MAX / ARG_MIN

namespace {
OpTest arg_op(ir::OpType type, ir::DType dt, std::vector<int32_t> in_shape, int32_t axis,
              ir::DType out_dt, std::vector<int32_t> out_shape) {
  OpTest t(type);
  t.input("x", dt, std::move(in_shape));
  t.constant("axis", ir::DType::i32, {}, std::vector<int32_t>{axis});
  t.output("y", out_dt, std::move(out_shape));
  t.attr("output_type", out_dt == ir::DType::i64 ? 4 : 2);
  return t;
}
}  // namespace

TEST_CASE("ARG_MAX uint8 -> int64 over channels, first index wins ties (DeepLab's last op)") {
  OpTest t = arg_op(ir::OpType::ARG_MAX, ir::DType::u8, {1, 2, 2, 3}, 3, ir::DType::i64, {1, 2, 2});
  const std::vector<uint8_t> x = {5, 7, 7, 9, 9, 9, 0, 1, 2, 200, 100, 255};
  CHECK(run1<int64_t>(t, x) == std::vector<int64_t>{1, 0, 2, 2});
}

TEST_CASE("ARG_MIN float -> int32 over a middle axis, negative axis") {
  // [2, 3, 2], axis -2 (= 1): output [2, 2], index along the middle.
  OpTest t = arg_op(ir::OpType::ARG_MIN, ir::DType::f32, {2, 3, 2}, -2, ir::DType::i32, {2, 2});
  const std::vector<float> x = {3, 1,  2, 1,  2, 0,  //
                                -1, 5, -1, 4, -2, 4};
  CHECK(run1<int32_t>(t, x) == std::vector<int32_t>{1, 2, 2, 1});
}

TEST_CASE("ARG_MAX int8 / int16 / int32 and an int64 axis") {
  OpTest t = arg_op(ir::OpType::ARG_MAX, ir::DType::i8, {4}, 0, ir::DType::i32, {});
  CHECK(run1<int32_t>(t, std::vector<int8_t>{-128, -5, -5, -6}) == std::vector<int32_t>{1});
  OpTest t16 = arg_op(ir::OpType::ARG_MAX, ir::DType::i16, {2, 2}, 0, ir::DType::i64, {2});
  CHECK(run1<int64_t>(t16, std::vector<int16_t>{-3, 9, 7, 9}) == std::vector<int64_t>{1, 0});
  OpTest t64(ir::OpType::ARG_MAX);
  t64.input("x", ir::DType::i32, {2, 2});
  t64.constant("axis", ir::DType::i64, {1}, std::vector<int64_t>{1});
  t64.output("y", ir::DType::i32, {2});
  CHECK(run1<int32_t>(t64, std::vector<int32_t>{1, 2, 4, 3}) == std::vector<int32_t>{1, 0});
}

TEST_CASE("ARG_MAX rejects bad operands") {
  SECTION("output_type disagrees with the output tensor") {
    OpTest t = arg_op(ir::OpType::ARG_MAX, ir::DType::f32, {2, 2}, 1, ir::DType::i32, {2});
    t.attr("output_type", 4);
    CHECK(contains(t.prepare_error(registry()), "output_type 4 does not match the output tensor's int32"));
  }
  SECTION("float output") {
    OpTest t = arg_op(ir::OpType::ARG_MAX, ir::DType::f32, {2, 2}, 1, ir::DType::f32, {2});
    CHECK(contains(t.prepare_error(registry()), "output must be int32 or int64, is float32"));
  }
  SECTION("axis out of range") {
    OpTest t = arg_op(ir::OpType::ARG_MAX, ir::DType::f32, {2, 2}, 2, ir::DType::i32, {2});
    CHECK(contains(t.prepare_error(registry()), "axis 2 is out of range for an input of rank 2"));
  }
  SECTION("non-constant axis") {
    OpTest t(ir::OpType::ARG_MIN);
    t.input("x", ir::DType::f32, {2, 2});
    t.input("axis", ir::DType::i32, {});
    t.output("y", ir::DType::i32, {2});
    CHECK(contains(t.prepare_error(registry()), "must be a constant tensor"));
  }
  SECTION("output shape mismatch") {
    OpTest t = arg_op(ir::OpType::ARG_MAX, ir::DType::f32, {2, 3}, 1, ir::DType::i32, {3});
    CHECK(contains(t.prepare_error(registry()), "output shape [3] does not match the computed shape [2]"));
  }
  SECTION("unsupported input dtype") {
    OpTest t = arg_op(ir::OpType::ARG_MAX, ir::DType::i64, {2}, 0, ir::DType::i32, {});
    CHECK(contains(t.prepare_error(registry()), "ARG_MAX of int64 is not supported"));
  }
}

// =======================================================================================
// RESIZE_BILINEAR

TEST_CASE("RESIZE_BILINEAR float align_corners 2x2 -> 3x3") {
  OpTest t = resize_op(ir::DType::f32, {1, 2, 2, 1}, 3, 3, true, false);
  CHECK(run1<float>(t, std::vector<float>{1, 2, 3, 4}) ==
        std::vector<float>{1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4});
}

TEST_CASE("RESIZE_BILINEAR uint8 align_corners 2x2 -> 3x3 adds 0.5 and truncates") {
  // Midpoints: (10+21)/2 = 15.5 -> 16, (10+30)/2 = 20 -> 20, centre 25.5 -> 26,
  // (21+41)/2 = 31, (30+41)/2 = 35.5 -> 36.
  OpTest t = resize_op(ir::DType::u8, {1, 2, 2, 1}, 3, 3, true, false, quant(0.1f, 3));
  CHECK(run1<uint8_t>(t, std::vector<uint8_t>{10, 21, 30, 41}) ==
        std::vector<uint8_t>{10, 16, 21, 20, 26, 31, 30, 36, 41});
}

TEST_CASE("RESIZE_BILINEAR float half_pixel_centers 2x2 -> 4x4 (TFLite test vector)") {
  OpTest t = resize_op(ir::DType::f32, {1, 2, 2, 1}, 4, 4, false, true);
  CHECK(run1<float>(t, std::vector<float>{1, 2, 3, 4}) ==
        std::vector<float>{1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f,  //
                           2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4});
}

TEST_CASE("RESIZE_BILINEAR int8 / int16 use TFLite's integer kernel (TFLite test vectors)") {
  const std::vector<int8_t> x8 = {127, -128, 64, 0};
  const std::vector<int8_t> corners_false = {127, 42, -43, -128, -128, -128,  //
                                             96,  42, -11, -64,  -64,  -64,   //
                                             64,  43, 21,  0,    0,    0,     //
                                             64,  43, 21,  0,    0,    0};
  const std::vector<int8_t> half_pixel = {127, 127, 42, -43, -128, -128,  //
                                          111, 111, 42, -27, -96,  -96,   //
                                          80,  80,  43, 5,   -32,  -32,   //
                                          64,  64,  43, 21,  0,    0};
  OpTest a = resize_op(ir::DType::i8, {1, 2, 2, 1}, 4, 6, false, false, quant(1.0f, 0));
  CHECK(run1<int8_t>(a, x8) == corners_false);
  OpTest b = resize_op(ir::DType::i8, {1, 2, 2, 1}, 4, 6, false, true, quant(1.0f, 0));
  CHECK(run1<int8_t>(b, x8) == half_pixel);

  const std::vector<int16_t> x16(x8.begin(), x8.end());
  OpTest c = resize_op(ir::DType::i16, {1, 2, 2, 1}, 4, 6, false, true, quant(1.0f, 0));
  CHECK(run1<int16_t>(c, x16) == std::vector<int16_t>(half_pixel.begin(), half_pixel.end()));
}

TEST_CASE("RESIZE_BILINEAR keeps batches and channels apart") {
  // [2, 1, 2, 2] -> [2, 1, 3, 2] with align_corners: each (batch, channel) row interpolates alone.
  OpTest t = resize_op(ir::DType::f32, {2, 1, 2, 2}, 1, 3, true, false);
  const std::vector<float> x = {0, 10, 2, 20,  //
                                4, -4, 8, -8};
  CHECK(run1<float>(t, x) == std::vector<float>{0, 10, 1, 15, 2, 20, 4, -4, 6, -6, 8, -8});
}

TEST_CASE("RESIZE_BILINEAR rejects bad operands") {
  SECTION("non-constant size") {
    OpTest t(ir::OpType::RESIZE_BILINEAR);
    t.input("x", ir::DType::f32, {1, 2, 2, 1});
    t.input("size", ir::DType::i32, {2});
    t.output("y", ir::DType::f32, {1, 4, 4, 1});
    CHECK(contains(t.prepare_error(registry()), "must be a constant tensor"));
  }
  SECTION("output shape disagrees with size") {
    OpTest t(ir::OpType::RESIZE_BILINEAR);
    t.input("x", ir::DType::f32, {1, 2, 2, 1});
    t.constant("size", ir::DType::i32, {2}, std::vector<int32_t>{4, 4});
    t.output("y", ir::DType::f32, {1, 4, 5, 1});
    CHECK(contains(t.prepare_error(registry()),
                   "output shape [1, 4, 5, 1] does not match the computed shape [1, 4, 4, 1]"));
  }
  SECTION("align_corners with half_pixel_centers") {
    OpTest t = resize_op(ir::DType::f32, {1, 2, 2, 1}, 3, 3, true, true);
    CHECK(contains(t.prepare_error(registry()), "align_corners and half_pixel_centers cannot both be set"));
  }
  SECTION("non-positive size") {
    OpTest t(ir::OpType::RESIZE_BILINEAR);
    t.input("x", ir::DType::f32, {1, 2, 2, 1});
    t.constant("size", ir::DType::i32, {2}, std::vector<int32_t>{0, 4});
    t.output("y", ir::DType::f32, {1, 0, 4, 1});
    CHECK(contains(t.prepare_error(registry()), "size [0, 4] must be positive"));
  }
  SECTION("3-D input") {
    OpTest t(ir::OpType::RESIZE_BILINEAR);
    t.input("x", ir::DType::f32, {2, 2, 1});
    t.constant("size", ir::DType::i32, {2}, std::vector<int32_t>{4, 4});
    t.output("y", ir::DType::f32, {4, 4, 1});
    CHECK(contains(t.prepare_error(registry()), "input must be 4-D"));
  }
  SECTION("output quantized differently") {
    OpTest t(ir::OpType::RESIZE_BILINEAR);
    t.input("x", ir::DType::u8, {1, 2, 2, 1}, quant(0.5f, 0));
    t.constant("size", ir::DType::i32, {2}, std::vector<int32_t>{3, 3});
    t.output("y", ir::DType::u8, {1, 3, 3, 1}, quant(0.25f, 0));
    CHECK(contains(t.prepare_error(registry()), "input and output quantization must be equal"));
  }
  SECTION("int32 input") {
    OpTest t = resize_op(ir::DType::i32, {1, 2, 2, 1}, 3, 3, false, false);
    CHECK(contains(t.prepare_error(registry()), "RESIZE_BILINEAR of int32 is not supported"));
  }
}

// =======================================================================================
// Kernel helpers used by the bindings

TEST_CASE("fold_mean_divisor matches TFLite's integer mean rescaling") {
  using kernels::fold_mean_divisor;
  using kernels::QuantizedMultiplier;
  // n = 49 (a 7x7 global pool): s = floor(log2 49) = 5, multiplier * 32 / 49 truncated.
  const QuantizedMultiplier m{1324055901, 1};
  const QuantizedMultiplier f = fold_mean_divisor(m, 49);
  CHECK(f.multiplier == static_cast<int32_t>((int64_t{1324055901} << 5) / 49));
  CHECK(f.shift == -4);
  // The shift is limited to 31 + shift so the final right shift stays <= 31.
  const QuantizedMultiplier g = fold_mean_divisor(QuantizedMultiplier{1 << 30, -29}, 1 << 10);
  CHECK(g.shift == -31);
  CHECK(g.multiplier == static_cast<int32_t>((int64_t{1} << 32) / 1024));
}
