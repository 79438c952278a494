// Tensor operator group (data movement): each operator through its IR binding, with
// hand-computed expectations (or a straightforward index formula written independently
// in the test), plus the prepare failures a malformed model must produce.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "op_test_util.hpp"
#include "tessel/cpu/op_registry.hpp"
#include "tessel/kernels/tensor.hpp"

using namespace tessel;
using Catch::Matchers::Contains;
using ir::DType;
using ir::OpType;
using test::as_bytes;
using test::OpTest;
using test::quant;

namespace {

const cpu::OpRegistry& reg() {
  static const cpu::OpRegistry r = [] {
    cpu::OpRegistry x;
    cpu::register_ref_tensor_ops(x);
    return x;
  }();
  return r;
}

std::vector<int8_t> iota8(int n, int first = 0) {
  std::vector<int8_t> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<int8_t>(first + i);
  return v;
}

template <typename T>
std::vector<T> iota_t(int n, int first = 0) {
  std::vector<T> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<T>(first + i);
  return v;
}

}  // namespace

// ---------------------------------------------------------------------------------------
TEST_CASE("RESHAPE from new_shape with -1 keeps the bytes", "[tensor][reshape]") {
  OpTest t(OpType::RESHAPE);
  t.input("x", DType::i8, {2, 3});
  t.output("y", DType::i8, {3, 2});
  t.attr("new_shape", std::vector<int64_t>{3, -1});
  auto y = t.run<int8_t>(reg(), {as_bytes(iota8(6, -3))});
  CHECK(y == iota8(6, -3));
}

TEST_CASE("RESHAPE from a constant shape input (float, int64 shape)", "[tensor][reshape]") {
  OpTest t(OpType::RESHAPE);
  t.input("x", DType::f32, {1, 4});
  t.constant("shape", DType::i64, {3}, std::vector<int64_t>{2, 1, 2});
  t.output("y", DType::f32, {2, 1, 2});
  const std::vector<float> x{1.5f, -2.0f, 3.25f, 4.0f};
  CHECK(t.run<float>(reg(), {as_bytes(x)}) == x);
}

TEST_CASE("RESHAPE legacy new_shape [0] means a scalar", "[tensor][reshape]") {
  OpTest t(OpType::RESHAPE);
  t.input("x", DType::i32, {1, 1});
  t.output("y", DType::i32, {});
  t.attr("new_shape", std::vector<int64_t>{0});
  CHECK(t.run<int32_t>(reg(), {as_bytes(std::vector<int32_t>{-77})}) == std::vector<int32_t>{-77});
}

TEST_CASE("RESHAPE rejects bad shapes", "[tensor][reshape][errors]") {
  SECTION("non-constant shape input") {
    OpTest t(OpType::RESHAPE);
    t.input("x", DType::i8, {2, 3});
    t.input("shape", DType::i32, {2});
    t.output("y", DType::i8, {3, 2});
    CHECK_THAT(t.prepare_error(reg()), Contains("must be a constant tensor"));
  }
  SECTION("element count mismatch") {
    OpTest t(OpType::RESHAPE);
    t.input("x", DType::i8, {2, 3});
    t.output("y", DType::i8, {5});
    t.attr("new_shape", std::vector<int64_t>{5});
    CHECK_THAT(t.prepare_error(reg()), Contains("has 5 elements but the input [2, 3] has 6"));
  }
  SECTION("-1 that cannot be inferred") {
    OpTest t(OpType::RESHAPE);
    t.input("x", DType::i8, {2, 3});
    t.output("y", DType::i8, {4, 2});
    t.attr("new_shape", std::vector<int64_t>{4, -1});
    CHECK_THAT(t.prepare_error(reg()), Contains("cannot infer the -1"));
  }
  SECTION("two -1") {
    OpTest t(OpType::RESHAPE);
    t.input("x", DType::i8, {2, 3});
    t.output("y", DType::i8, {6});
    t.attr("new_shape", std::vector<int64_t>{-1, -1});
    CHECK_THAT(t.prepare_error(reg()), Contains("more than one -1"));
  }
  SECTION("declared output shape differs") {
    OpTest t(OpType::RESHAPE);
    t.input("x", DType::i8, {2, 3});
    t.output("y", DType::i8, {2, 3});
    t.attr("new_shape", std::vector<int64_t>{3, 2});
    CHECK_THAT(t.prepare_error(reg()),
               Contains("declared [2, 3] but the operator produces [3, 2]"));
  }
  SECTION("dtype mismatch") {
    OpTest t(OpType::RESHAPE);
    t.input("x", DType::i8, {6});
    t.output("y", DType::u8, {6});
    t.attr("new_shape", std::vector<int64_t>{6});
    CHECK_THAT(t.prepare_error(reg()), Contains("the types must match"));
  }
  SECTION("no shape at all") {
    OpTest t(OpType::RESHAPE);
    t.input("x", DType::i8, {6});
    t.output("y", DType::i8, {6});
    CHECK_THAT(t.prepare_error(reg()),
               Contains("needs a constant 1-D shape input or the new_shape"));
  }
  SECTION("unsupported dtype") {
    OpTest t(OpType::RESHAPE);
    t.input("x", DType::f64, {6});
    t.output("y", DType::f64, {6});
    t.attr("new_shape", std::vector<int64_t>{6});
    CHECK_THAT(t.prepare_error(reg()), Contains("dtype float64 of 'x' is not supported"));
  }
}

TEST_CASE("SQUEEZE", "[tensor][squeeze]") {
  SECTION("negative squeeze_dims") {
    OpTest t(OpType::SQUEEZE);
    t.input("x", DType::i16, {1, 3, 1});
    t.output("y", DType::i16, {1, 3});
    t.attr("squeeze_dims", std::vector<int64_t>{-1});
    CHECK(t.run<int16_t>(reg(), {as_bytes(std::vector<int16_t>{-300, 2, 30000})}) ==
          std::vector<int16_t>{-300, 2, 30000});
  }
  SECTION("no squeeze_dims squeezes every size-1 axis") {
    OpTest t(OpType::SQUEEZE);
    t.input("x", DType::i8, {1, 3, 1});
    t.output("y", DType::i8, {3});
    CHECK(t.run<int8_t>(reg(), {as_bytes(iota8(3))}) == iota8(3));
  }
  SECTION("squeezing an axis larger than 1 fails") {
    OpTest t(OpType::SQUEEZE);
    t.input("x", DType::i8, {1, 3, 1});
    t.output("y", DType::i8, {1, 1});
    t.attr("squeeze_dims", std::vector<int64_t>{1});
    CHECK_THAT(t.prepare_error(reg()), Contains("cannot squeeze axis 1 of size 3"));
  }
  SECTION("squeeze_dims out of range") {
    OpTest t(OpType::SQUEEZE);
    t.input("x", DType::i8, {1, 3});
    t.output("y", DType::i8, {3});
    t.attr("squeeze_dims", std::vector<int64_t>{-3});
    CHECK_THAT(t.prepare_error(reg()),
               Contains("squeeze_dims entry -3 is out of range for rank 2"));
  }
}

TEST_CASE("EXPAND_DIMS", "[tensor][expand_dims]") {
  SECTION("axis -1 appends") {
    OpTest t(OpType::EXPAND_DIMS);
    t.input("x", DType::f32, {2, 3});
    t.constant("axis", DType::i32, {}, std::vector<int32_t>{-1});
    t.output("y", DType::f32, {2, 3, 1});
    const std::vector<float> x{1, 2, 3, 4, 5, 6};
    CHECK(t.run<float>(reg(), {as_bytes(x)}) == x);
  }
  SECTION("axis 0 (int64) prepends") {
    OpTest t(OpType::EXPAND_DIMS);
    t.input("x", DType::u8, {2});
    t.constant("axis", DType::i64, {1}, std::vector<int64_t>{0});
    t.output("y", DType::u8, {1, 2});
    CHECK(t.run<uint8_t>(reg(), {as_bytes(std::vector<uint8_t>{7, 250})}) ==
          std::vector<uint8_t>{7, 250});
  }
  SECTION("axis out of range") {
    OpTest t(OpType::EXPAND_DIMS);
    t.input("x", DType::u8, {2});
    t.constant("axis", DType::i32, {}, std::vector<int32_t>{-3});
    t.output("y", DType::u8, {1, 2});
    CHECK_THAT(t.prepare_error(reg()), Contains("axis -3 is out of range for rank 2"));
  }
  SECTION("non-constant axis") {
    OpTest t(OpType::EXPAND_DIMS);
    t.input("x", DType::u8, {2});
    t.input("axis", DType::i32, {});
    t.output("y", DType::u8, {1, 2});
    CHECK_THAT(t.prepare_error(reg()), Contains("axis (input 1) must be a constant tensor"));
  }
}

// ---------------------------------------------------------------------------------------
TEST_CASE("TRANSPOSE 2-D", "[tensor][transpose]") {
  OpTest t(OpType::TRANSPOSE);
  t.input("x", DType::i8, {2, 3});
  t.constant("perm", DType::i32, {2}, std::vector<int32_t>{1, 0});
  t.output("y", DType::i8, {3, 2});
  // [[0 1 2] [3 4 5]] -> [[0 3] [1 4] [2 5]]
  CHECK(t.run<int8_t>(reg(), {as_bytes(iota8(6))}) == std::vector<int8_t>{0, 3, 1, 4, 2, 5});
}

template <typename T>
void check_transpose_3d(DType dt) {
  // perm [2, 0, 1]: y[k][i][j] = x[i][j][k] for x of shape [2, 3, 4].
  OpTest t(OpType::TRANSPOSE);
  t.input("x", dt, {2, 3, 4});
  t.constant("perm", DType::i32, {3}, std::vector<int32_t>{2, 0, 1});
  t.output("y", dt, {4, 2, 3});
  const std::vector<T> x = iota_t<T>(24, 1);
  std::vector<T> want;
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) want.push_back(x[static_cast<size_t>((i * 3 + j) * 4 + k)]);
  CHECK(t.run<T>(reg(), {as_bytes(x)}) == want);
}

TEST_CASE("TRANSPOSE 3-D for every element size", "[tensor][transpose]") {
  check_transpose_3d<int8_t>(DType::i8);
  check_transpose_3d<uint8_t>(DType::u8);
  check_transpose_3d<int16_t>(DType::i16);
  check_transpose_3d<int32_t>(DType::i32);
  check_transpose_3d<float>(DType::f32);
  check_transpose_3d<int64_t>(DType::i64);
}

TEST_CASE("TRANSPOSE 6-D reverses axes", "[tensor][transpose]") {
  OpTest t(OpType::TRANSPOSE);
  t.input("x", DType::i16, {2, 1, 2, 1, 2, 3});
  t.constant("perm", DType::i64, {6}, std::vector<int64_t>{5, 4, 3, 2, 1, 0});
  t.output("y", DType::i16, {3, 2, 1, 2, 1, 2});
  const std::vector<int16_t> x = iota_t<int16_t>(24);
  // y[f][e][d][c][b][a] = x[a][b][c][d][e][f]; b and d have size 1.
  std::vector<int16_t> want;
  for (int f = 0; f < 3; ++f)
    for (int e = 0; e < 2; ++e)
      for (int c = 0; c < 2; ++c)
        for (int a = 0; a < 2; ++a)
          want.push_back(x[static_cast<size_t>(((a * 2 + c) * 2 + e) * 3 + f)]);
  CHECK(t.run<int16_t>(reg(), {as_bytes(x)}) == want);
}

TEST_CASE("TRANSPOSE rejects bad perms", "[tensor][transpose][errors]") {
  SECTION("not a permutation") {
    OpTest t(OpType::TRANSPOSE);
    t.input("x", DType::i8, {2, 3});
    t.constant("perm", DType::i32, {2}, std::vector<int32_t>{0, 0});
    t.output("y", DType::i8, {2, 2});
    CHECK_THAT(t.prepare_error(reg()), Contains("perm [0, 0] is not a permutation of 0..1"));
  }
  SECTION("wrong length") {
    OpTest t(OpType::TRANSPOSE);
    t.input("x", DType::i8, {2, 3});
    t.constant("perm", DType::i32, {3}, std::vector<int32_t>{0, 1, 2});
    t.output("y", DType::i8, {2, 3});
    CHECK_THAT(t.prepare_error(reg()), Contains("has 3 entries for a rank-2 input"));
  }
  SECTION("7-D") {
    OpTest t(OpType::TRANSPOSE);
    t.input("x", DType::i8, {1, 1, 1, 1, 1, 1, 1});
    t.constant("perm", DType::i32, {7}, std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6});
    t.output("y", DType::i8, {1, 1, 1, 1, 1, 1, 1});
    CHECK_THAT(t.prepare_error(reg()), Contains("supports up to 6-D"));
  }
  SECTION("declared output shape") {
    OpTest t(OpType::TRANSPOSE);
    t.input("x", DType::i8, {2, 3});
    t.constant("perm", DType::i32, {2}, std::vector<int32_t>{1, 0});
    t.output("y", DType::i8, {2, 3});
    CHECK_THAT(t.prepare_error(reg()),
               Contains("declared [2, 3] but the operator produces [3, 2]"));
  }
}

// ---------------------------------------------------------------------------------------
TEST_CASE("PAD pads quantized int8 with the output zero point", "[tensor][pad]") {
  OpTest t(OpType::PAD);
  t.input("x", DType::i8, {2, 2}, quant(0.5f, -5));
  t.constant("paddings", DType::i32, {2, 2}, std::vector<int32_t>{1, 0, 0, 2});
  t.output("y", DType::i8, {3, 4}, quant(0.5f, -5));
  const std::vector<int8_t> want{-5, -5, -5, -5,  //
                                 1,  2,  -5, -5,  //
                                 3,  4,  -5, -5};
  CHECK(t.run<int8_t>(reg(), {as_bytes(std::vector<int8_t>{1, 2, 3, 4})}) == want);
}

TEST_CASE("PAD float with int64 paddings pads with 0", "[tensor][pad]") {
  OpTest t(OpType::PAD);
  t.input("x", DType::f32, {1, 2});
  t.constant("paddings", DType::i64, {2, 2}, std::vector<int64_t>{0, 1, 1, 1});
  t.output("y", DType::f32, {2, 4});
  const std::vector<float> want{0, 7.5f, -1, 0, 0, 0, 0, 0};
  CHECK(t.run<float>(reg(), {as_bytes(std::vector<float>{7.5f, -1})}) == want);
}

TEST_CASE("PAD uint8 and int16 quantized pad with their zero points", "[tensor][pad]") {
  SECTION("uint8") {
    OpTest t(OpType::PAD);
    t.input("x", DType::u8, {2}, quant(0.1f, 128));
    t.constant("paddings", DType::i32, {1, 2}, std::vector<int32_t>{2, 1});
    t.output("y", DType::u8, {5}, quant(0.1f, 128));
    CHECK(t.run<uint8_t>(reg(), {as_bytes(std::vector<uint8_t>{0, 255})}) ==
          std::vector<uint8_t>{128, 128, 0, 255, 128});
  }
  SECTION("int16") {
    OpTest t(OpType::PAD);
    t.input("x", DType::i16, {1}, quant(0.001f, 0));
    t.constant("paddings", DType::i32, {1, 2}, std::vector<int32_t>{1, 1});
    t.output("y", DType::i16, {3}, quant(0.001f, 0));
    CHECK(t.run<int16_t>(reg(), {as_bytes(std::vector<int16_t>{-32768})}) ==
          std::vector<int16_t>{0, -32768, 0});
  }
}

TEST_CASE("PADV2 pads with the constant value input", "[tensor][pad]") {
  SECTION("constant value tensor") {
    OpTest t(OpType::PADV2);
    t.input("x", DType::i8, {1, 2}, quant(0.5f, -5));
    t.constant("paddings", DType::i32, {2, 2}, std::vector<int32_t>{0, 0, 1, 1});
    t.constant("value", DType::i8, {}, std::vector<int8_t>{-128}, quant(0.5f, -5));
    t.output("y", DType::i8, {1, 4}, quant(0.5f, -5));
    CHECK(t.run<int8_t>(reg(), {as_bytes(std::vector<int8_t>{9, 10})}) ==
          std::vector<int8_t>{-128, 9, 10, -128});
  }
  SECTION("run-time value, int64 data") {
    OpTest t(OpType::PADV2);
    t.input("x", DType::i64, {2});
    t.constant("paddings", DType::i32, {1, 2}, std::vector<int32_t>{1, 0});
    t.input("value", DType::i64, {1});
    t.output("y", DType::i64, {3});
    CHECK(t.run<int64_t>(reg(), {as_bytes(std::vector<int64_t>{5, 6}),
                                 as_bytes(std::vector<int64_t>{int64_t{1} << 40})}) ==
          std::vector<int64_t>{int64_t{1} << 40, 5, 6});
  }
}

TEST_CASE("PAD rejects bad paddings and quantization", "[tensor][pad][errors]") {
  SECTION("negative padding") {
    OpTest t(OpType::PAD);
    t.input("x", DType::i8, {2});
    t.constant("paddings", DType::i32, {1, 2}, std::vector<int32_t>{-1, 1});
    t.output("y", DType::i8, {2});
    CHECK_THAT(t.prepare_error(reg()),
               Contains("paddings must be non-negative; axis 0 has [-1, 1]"));
  }
  SECTION("paddings shape") {
    OpTest t(OpType::PAD);
    t.input("x", DType::i8, {2, 2});
    t.constant("paddings", DType::i32, {1, 2}, std::vector<int32_t>{1, 1});
    t.output("y", DType::i8, {4, 2});
    CHECK_THAT(t.prepare_error(reg()), Contains("paddings must have shape [2, 2], has [1, 2]"));
  }
  SECTION("non-constant paddings") {
    OpTest t(OpType::PAD);
    t.input("x", DType::i8, {2});
    t.input("paddings", DType::i32, {1, 2});
    t.output("y", DType::i8, {4});
    CHECK_THAT(t.prepare_error(reg()), Contains("paddings (input 1) must be a constant tensor"));
  }
  SECTION("float paddings") {
    OpTest t(OpType::PAD);
    t.input("x", DType::i8, {2});
    t.constant("paddings", DType::f32, {1, 2}, std::vector<float>{1, 1});
    t.output("y", DType::i8, {4});
    CHECK_THAT(t.prepare_error(reg()), Contains("paddings must be int32 or int64"));
  }
  SECTION("input and output quantization differ") {
    OpTest t(OpType::PAD);
    t.input("x", DType::i8, {2}, quant(0.5f, 0));
    t.constant("paddings", DType::i32, {1, 2}, std::vector<int32_t>{1, 1});
    t.output("y", DType::i8, {4}, quant(0.25f, 0));
    CHECK_THAT(t.prepare_error(reg()), Contains("must have the same quantization"));
  }
  SECTION("PADV2 constant value quantization differs") {
    OpTest t(OpType::PADV2);
    t.input("x", DType::u8, {2}, quant(0.5f, 3));
    t.constant("paddings", DType::i32, {1, 2}, std::vector<int32_t>{1, 1});
    t.constant("value", DType::u8, {}, std::vector<uint8_t>{0}, quant(0.5f, 4));
    t.output("y", DType::u8, {4}, quant(0.5f, 3));
    CHECK_THAT(t.prepare_error(reg()),
               Contains("'value' (scale 0.5 zero point 4) and 'y' (scale 0.5 zero point 3)"));
  }
  SECTION("declared output shape") {
    OpTest t(OpType::PAD);
    t.input("x", DType::i8, {2});
    t.constant("paddings", DType::i32, {1, 2}, std::vector<int32_t>{1, 1});
    t.output("y", DType::i8, {3});
    CHECK_THAT(t.prepare_error(reg()), Contains("declared [3] but the operator produces [4]"));
  }
}

TEST_CASE("MIRROR_PAD REFLECT and SYMMETRIC", "[tensor][mirror_pad]") {
  SECTION("1-D REFLECT") {
    OpTest t(OpType::MIRROR_PAD);
    t.input("x", DType::i8, {3});
    t.constant("paddings", DType::i32, {1, 2}, std::vector<int32_t>{2, 2});
    t.output("y", DType::i8, {7});
    t.attr("mode", 0);
    CHECK(t.run<int8_t>(reg(), {as_bytes(std::vector<int8_t>{1, 2, 3})}) ==
          std::vector<int8_t>{3, 2, 1, 2, 3, 2, 1});
  }
  SECTION("1-D SYMMETRIC") {
    OpTest t(OpType::MIRROR_PAD);
    t.input("x", DType::i8, {3});
    t.constant("paddings", DType::i32, {1, 2}, std::vector<int32_t>{3, 2});
    t.output("y", DType::i8, {8});
    t.attr("mode", 1);
    CHECK(t.run<int8_t>(reg(), {as_bytes(std::vector<int8_t>{1, 2, 3})}) ==
          std::vector<int8_t>{3, 2, 1, 1, 2, 3, 3, 2});
  }
  SECTION("2-D REFLECT (TensorFlow's documented example)") {
    OpTest t(OpType::MIRROR_PAD);
    t.input("x", DType::f32, {2, 3});
    t.constant("paddings", DType::i64, {2, 2}, std::vector<int64_t>{1, 1, 2, 2});
    t.output("y", DType::f32, {4, 7});
    t.attr("mode", 0);
    const std::vector<float> want{6, 5, 4, 5, 6, 5, 4,  //
                                  3, 2, 1, 2, 3, 2, 1,  //
                                  6, 5, 4, 5, 6, 5, 4,  //
                                  3, 2, 1, 2, 3, 2, 1};
    CHECK(t.run<float>(reg(), {as_bytes(std::vector<float>{1, 2, 3, 4, 5, 6})}) == want);
  }
  SECTION("2-D SYMMETRIC (TensorFlow's documented example)") {
    OpTest t(OpType::MIRROR_PAD);
    t.input("x", DType::i32, {2, 3});
    t.constant("paddings", DType::i32, {2, 2}, std::vector<int32_t>{1, 1, 2, 2});
    t.output("y", DType::i32, {4, 7});
    t.attr("mode", 1);
    const std::vector<int32_t> want{2, 1, 1, 2, 3, 3, 2,  //
                                    2, 1, 1, 2, 3, 3, 2,  //
                                    5, 4, 4, 5, 6, 6, 5,  //
                                    5, 4, 4, 5, 6, 6, 5};
    CHECK(t.run<int32_t>(reg(), {as_bytes(std::vector<int32_t>{1, 2, 3, 4, 5, 6})}) == want);
  }
  SECTION("REFLECT padding as large as the dimension fails") {
    OpTest t(OpType::MIRROR_PAD);
    t.input("x", DType::i8, {3});
    t.constant("paddings", DType::i32, {1, 2}, std::vector<int32_t>{3, 0});
    t.output("y", DType::i8, {6});
    t.attr("mode", 0);
    CHECK_THAT(t.prepare_error(reg()), Contains("REFLECT paddings of axis 0 ([3, 0]) exceed 2"));
  }
  SECTION("SYMMETRIC padding larger than the dimension fails") {
    OpTest t(OpType::MIRROR_PAD);
    t.input("x", DType::i8, {3});
    t.constant("paddings", DType::i32, {1, 2}, std::vector<int32_t>{0, 4});
    t.output("y", DType::i8, {7});
    t.attr("mode", 1);
    CHECK_THAT(t.prepare_error(reg()), Contains("SYMMETRIC paddings of axis 0 ([0, 4]) exceed 3"));
  }
  SECTION("unknown mode") {
    OpTest t(OpType::MIRROR_PAD);
    t.input("x", DType::i8, {3});
    t.constant("paddings", DType::i32, {1, 2}, std::vector<int32_t>{0, 0});
    t.output("y", DType::i8, {3});
    t.attr("mode", 2);
    CHECK_THAT(t.prepare_error(reg()), Contains("mode 2 is neither REFLECT"));
  }
}

// ---------------------------------------------------------------------------------------
TEST_CASE("CONCATENATION along a negative axis", "[tensor][concatenation]") {
  OpTest t(OpType::CONCATENATION);
  t.input("a", DType::i8, {2, 1}, quant(0.5f, 1));
  t.input("b", DType::i8, {2, 2}, quant(0.5f, 1));
  t.output("y", DType::i8, {2, 3}, quant(0.5f, 1));
  t.attr("axis", -1);
  auto y = t.run<int8_t>(
      reg(), {as_bytes(std::vector<int8_t>{1, 2}), as_bytes(std::vector<int8_t>{10, 11, 20, 21})});
  CHECK(y == std::vector<int8_t>{1, 10, 11, 2, 20, 21});
}

TEST_CASE("CONCATENATION of three float inputs along axis 0 with a constant",
          "[tensor][concatenation]") {
  OpTest t(OpType::CONCATENATION);
  t.input("a", DType::f32, {1, 2});
  t.constant("b", DType::f32, {2, 2}, std::vector<float>{3, 4, 5, 6});
  t.input("c", DType::f32, {1, 2});
  t.output("y", DType::f32, {4, 2});
  auto y =
      t.run<float>(reg(), {as_bytes(std::vector<float>{1, 2}), as_bytes(std::vector<float>{7, 8})});
  CHECK(y == std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8});
}

TEST_CASE("CONCATENATION bool and int64", "[tensor][concatenation]") {
  SECTION("bool") {
    OpTest t(OpType::CONCATENATION);
    t.input("a", DType::bool8, {2});
    t.input("b", DType::bool8, {1});
    t.output("y", DType::bool8, {3});
    CHECK(t.run<uint8_t>(
              reg(), {as_bytes(std::vector<uint8_t>{1, 0}), as_bytes(std::vector<uint8_t>{1})}) ==
          std::vector<uint8_t>{1, 0, 1});
  }
  SECTION("int64 along axis 1 of 3-D") {
    OpTest t(OpType::CONCATENATION);
    t.input("a", DType::i64, {2, 1, 2});
    t.input("b", DType::i64, {2, 1, 2});
    t.output("y", DType::i64, {2, 2, 2});
    t.attr("axis", 1);
    CHECK(t.run<int64_t>(reg(), {as_bytes(std::vector<int64_t>{1, 2, 3, 4}),
                                 as_bytes(std::vector<int64_t>{5, 6, 7, 8})}) ==
          std::vector<int64_t>{1, 2, 5, 6, 3, 4, 7, 8});
  }
}

TEST_CASE("CONCATENATION uint8 rescales as TFLite's ConcatenationWithScaling",
          "[tensor][concatenation]") {
  // Output: scale 0.2f, zero point 10. In float, 1 / 0.2f rounds to exactly 5.
  // a (s 0.5, zp 1): scale 2.5, bias -2.5. q=2 -> 2.5 -> 3 (+10 = 13), although the exact
  //   real value (2 - 1) * 0.5 / 0.2000000030 = 2.49999996 would round to 2; q=0 -> -2.5
  //   -> -3 (ties away from zero) -> 7; q=3 -> 5 -> 15; q=4 -> 7.5 -> 8 -> 18;
  //   q=255 -> 635 -> 645 -> saturates at 255.
  // b (s 0.5, zp 0): q=1 -> 2.5 -> 3 -> 13; q=0 -> 10.
  // c (s 0.5, zp 3): bias -7.5. q=2 -> -2.5 -> -3 -> 7; q=0 -> -7.5 -> -8 -> 2.
  // d shares the output's parameters: copied raw.
  // e (s 4, zp 0): scale 20. q=1 -> 30; q=13 -> 270 -> saturates at 255.
  OpTest t(OpType::CONCATENATION);
  t.input("a", DType::u8, {5}, quant(0.5f, 1));
  t.input("b", DType::u8, {2}, quant(0.5f, 0));
  t.input("c", DType::u8, {2}, quant(0.5f, 3));
  t.input("d", DType::u8, {2}, quant(0.2f, 10));
  t.input("e", DType::u8, {2}, quant(4.0f, 0));
  t.output("y", DType::u8, {13}, quant(0.2f, 10));
  auto y = t.run<uint8_t>(
      reg(), {as_bytes(std::vector<uint8_t>{2, 0, 3, 4, 255}), as_bytes(std::vector<uint8_t>{1, 0}),
              as_bytes(std::vector<uint8_t>{2, 0}), as_bytes(std::vector<uint8_t>{0, 255}),
              as_bytes(std::vector<uint8_t>{1, 13})});
  const std::vector<uint8_t> want{13, 7,   15, 18, 255,  // a
                                  13, 10,                // b
                                  7,  2,                 // c
                                  0,  255,               // d
                                  30, 255};              // e
  CHECK(y == want);
}

TEST_CASE("CONCATENATION uint8 with equal parameters copies 2-D chunks",
          "[tensor][concatenation]") {
  OpTest t(OpType::CONCATENATION);
  t.input("a", DType::u8, {2, 1}, quant(0.5f, 3));
  t.input("b", DType::u8, {2, 1}, quant(0.5f, 3));
  t.output("y", DType::u8, {2, 2}, quant(0.5f, 3));
  t.attr("axis", 1);
  CHECK(t.run<uint8_t>(reg(), {as_bytes(std::vector<uint8_t>{0, 255}),
                               as_bytes(std::vector<uint8_t>{7, 8})}) ==
        std::vector<uint8_t>{0, 7, 255, 8});
}

TEST_CASE("CONCATENATION rejects", "[tensor][concatenation][errors]") {
  SECTION("int8 inputs with another quantization than the output") {
    OpTest t(OpType::CONCATENATION);
    t.input("a", DType::i8, {1}, quant(0.5f, 0));
    t.input("b", DType::i8, {1}, quant(0.25f, 0));
    t.output("y", DType::i8, {2}, quant(0.5f, 0));
    CHECK_THAT(t.prepare_error(reg()), Contains("TFLite does not rescale int8 concatenation"));
  }
  SECTION("int16 with a non-zero zero point") {
    OpTest t(OpType::CONCATENATION);
    t.input("a", DType::i16, {1}, quant(0.5f, 1));
    t.output("y", DType::i16, {1}, quant(0.5f, 1));
    CHECK_THAT(t.prepare_error(reg()), Contains("must have zero point 0"));
  }
  SECTION("fused activation") {
    OpTest t(OpType::CONCATENATION);
    t.input("a", DType::f32, {1});
    t.output("y", DType::f32, {1});
    t.attr("fused_activation_function", 1);
    CHECK_THAT(t.prepare_error(reg()), Contains("fused activation 1 is not supported"));
  }
  SECTION("shapes differ outside the axis") {
    OpTest t(OpType::CONCATENATION);
    t.input("a", DType::f32, {2, 2});
    t.input("b", DType::f32, {3, 2});
    t.output("y", DType::f32, {2, 4});
    t.attr("axis", 1);
    CHECK_THAT(t.prepare_error(reg()),
               Contains("differs from input 0 [2, 2] outside the concatenation axis 1"));
  }
  SECTION("axis out of range") {
    OpTest t(OpType::CONCATENATION);
    t.input("a", DType::f32, {2});
    t.output("y", DType::f32, {2});
    t.attr("axis", 1);
    CHECK_THAT(t.prepare_error(reg()), Contains("axis 1 is out of range for rank 1"));
  }
  SECTION("dtype mismatch") {
    OpTest t(OpType::CONCATENATION);
    t.input("a", DType::f32, {2});
    t.input("b", DType::i32, {2});
    t.output("y", DType::f32, {4});
    CHECK_THAT(t.prepare_error(reg()), Contains("the types must match"));
  }
}

// ---------------------------------------------------------------------------------------
TEST_CASE("STRIDED_SLICE basics", "[tensor][strided_slice]") {
  auto run = [](std::vector<int32_t> shape, std::vector<int32_t> out_shape, std::vector<int32_t> b,
                std::vector<int32_t> e, std::vector<int32_t> s,
                std::vector<std::pair<const char*, int>> masks) {
    OpTest t(OpType::STRIDED_SLICE);
    int n = 1;
    for (int32_t d : shape) n *= d;
    const int32_t k = static_cast<int32_t>(b.size());
    t.input("x", DType::i8, shape);
    t.constant("begin", DType::i32, {k}, b);
    t.constant("end", DType::i32, {k}, e);
    t.constant("strides", DType::i32, {k}, s);
    t.output("y", DType::i8, out_shape);
    for (auto& m : masks) t.attr(m.first, m.second);
    return t.run<int8_t>(reg(), {as_bytes(iota8(n))});
  };
  SECTION("1-D range") { CHECK(run({5}, {2}, {1}, {3}, {1}, {}) == std::vector<int8_t>{1, 2}); }
  SECTION("negative begin and end") {
    CHECK(run({5}, {2}, {-3}, {-1}, {1}, {}) == std::vector<int8_t>{2, 3});
  }
  SECTION("negative stride reverses; out-of-range begin clamps") {
    CHECK(run({5}, {4}, {10}, {0}, {-1}, {}) == std::vector<int8_t>{4, 3, 2, 1});
  }
  SECTION("negative stride with end_mask runs to the start") {
    CHECK(run({5}, {3}, {-1}, {0}, {-2}, {{"end_mask", 1}}) == std::vector<int8_t>{4, 2, 0});
  }
  SECTION("begin_mask and end_mask on a 2-D input with stride 2") {
    // x = [[0 1 2 3] [4 5 6 7] [8 9 10 11]].
    // x[1:3, 0::2]: end_mask bit 1 makes the column end 99 irrelevant.
    CHECK(run({3, 4}, {2, 2}, {1, 0}, {3, 99}, {1, 2}, {{"end_mask", 2}}) ==
          std::vector<int8_t>{4, 6, 8, 10});
    // x[:3, 1:4:2]: begin_mask bit 0 makes the row begin 2 irrelevant.
    CHECK(run({3, 4}, {3, 2}, {2, 1}, {3, 4}, {1, 2}, {{"begin_mask", 1}}) ==
          std::vector<int8_t>{1, 3, 5, 7, 9, 11});
  }
  SECTION("shrink_axis_mask drops the axis") {
    CHECK(run({3, 4}, {4}, {1, 0}, {2, 4}, {1, 1}, {{"shrink_axis_mask", 1}}) ==
          std::vector<int8_t>{4, 5, 6, 7});
    // A negative begin on a shrink axis counts from the end whatever end says.
    CHECK(run({3, 4}, {3}, {0, -1}, {3, 0}, {1, 1}, {{"shrink_axis_mask", 2}}) ==
          std::vector<int8_t>{3, 7, 11});
    CHECK(run({3, 4}, {}, {2, 1}, {0, 0}, {1, 1}, {{"shrink_axis_mask", 3}}) ==
          std::vector<int8_t>{9});
  }
  SECTION("new_axis_mask inserts a size-1 axis") {
    // x[tf.newaxis, 1:3] on a [4] input -> [1, 2].
    CHECK(run({4}, {1, 2}, {0, 1}, {0, 3}, {1, 1}, {{"new_axis_mask", 1}}) ==
          std::vector<int8_t>{1, 2});
    // x[1:3, tf.newaxis] -> [2, 1].
    CHECK(run({4}, {2, 1}, {1, 0}, {3, 0}, {1, 1}, {{"new_axis_mask", 2}}) ==
          std::vector<int8_t>{1, 2});
  }
  SECTION("new axis together with shrink") {
    // x[tf.newaxis, 1] on [3, 2] -> [1, 2] holding row 1.
    CHECK(run({3, 2}, {1, 2}, {0, 1}, {0, 2}, {1, 1},
              {{"new_axis_mask", 1}, {"shrink_axis_mask", 2}}) == std::vector<int8_t>{2, 3});
  }
  SECTION("ellipsis covers the leading axes") {
    // x[..., 1] on [2, 3, 4] -> [2, 3] holding x[i][j][1].
    CHECK(run({2, 3, 4}, {2, 3}, {0, 1}, {0, 2}, {1, 1},
              {{"ellipsis_mask", 1}, {"shrink_axis_mask", 2}}) ==
          std::vector<int8_t>{1, 5, 9, 13, 17, 21});
    // x[1, ..., ::3] on [2, 3, 4] -> [3, 2].
    CHECK(run({2, 3, 4}, {3, 2}, {1, 0, 0}, {2, 0, 4}, {1, 1, 3},
              {{"ellipsis_mask", 2}, {"shrink_axis_mask", 1}}) ==
          std::vector<int8_t>{12, 15, 16, 19, 20, 23});
  }
  SECTION("spec shorter than the rank takes the remaining axes whole") {
    CHECK(run({3, 2}, {1, 2}, {2}, {3}, {1}, {}) == std::vector<int8_t>{4, 5});
  }
  SECTION("offset: end is a size relative to begin") {
    CHECK(run({6}, {3}, {2}, {3}, {1}, {{"offset", 1}}) == std::vector<int8_t>{2, 3, 4});
  }
}

TEST_CASE("STRIDED_SLICE float and int64 element sizes", "[tensor][strided_slice]") {
  OpTest t(OpType::STRIDED_SLICE);
  t.input("x", DType::i64, {4});
  t.constant("begin", DType::i32, {1}, std::vector<int32_t>{3});
  t.constant("end", DType::i32, {1}, std::vector<int32_t>{-5});
  t.constant("strides", DType::i32, {1}, std::vector<int32_t>{-2});
  t.output("y", DType::i64, {2});
  CHECK(t.run<int64_t>(reg(), {as_bytes(std::vector<int64_t>{10, 11, 12, int64_t{1} << 50})}) ==
        std::vector<int64_t>{int64_t{1} << 50, 11});
}

TEST_CASE("STRIDED_SLICE rejects", "[tensor][strided_slice][errors]") {
  auto make = [](OpTest& t, std::vector<int32_t> b, std::vector<int32_t> e, std::vector<int32_t> s,
                 std::vector<int32_t> out) {
    const int32_t k = static_cast<int32_t>(b.size());
    t.input("x", DType::i8, {3, 4});
    t.constant("begin", DType::i32, {k}, b);
    t.constant("end", DType::i32, {static_cast<int32_t>(e.size())}, e);
    t.constant("strides", DType::i32, {static_cast<int32_t>(s.size())}, s);
    t.output("y", DType::i8, out);
  };
  SECTION("zero stride") {
    OpTest t(OpType::STRIDED_SLICE);
    make(t, {0, 0}, {3, 4}, {1, 0}, {3, 4});
    CHECK_THAT(t.prepare_error(reg()), Contains("strides[1] is zero"));
  }
  SECTION("shrink axis outside the input") {
    OpTest t(OpType::STRIDED_SLICE);
    make(t, {3, 0}, {4, 4}, {1, 1}, {4});
    t.attr("shrink_axis_mask", 1);
    CHECK_THAT(t.prepare_error(reg()),
               Contains("shrink_axis_mask axis 0 (begin 3, stride 1, size 3) selects no element"));
  }
  SECTION("begin/end lengths differ") {
    OpTest t(OpType::STRIDED_SLICE);
    make(t, {0, 0}, {3}, {1, 1}, {3, 4});
    CHECK_THAT(t.prepare_error(reg()), Contains("must have the same length"));
  }
  SECTION("non-constant begin") {
    OpTest t(OpType::STRIDED_SLICE);
    t.input("x", DType::i8, {3});
    t.input("begin", DType::i32, {1});
    t.constant("end", DType::i32, {1}, std::vector<int32_t>{3});
    t.constant("strides", DType::i32, {1}, std::vector<int32_t>{1});
    t.output("y", DType::i8, {3});
    CHECK_THAT(t.prepare_error(reg()), Contains("begin (input 1) must be a constant tensor"));
  }
  SECTION("declared output shape") {
    OpTest t(OpType::STRIDED_SLICE);
    make(t, {0, 0}, {3, 4}, {2, 1}, {1, 4});
    CHECK_THAT(t.prepare_error(reg()),
               Contains("declared [1, 4] but the operator produces [2, 4]"));
  }
  SECTION("two ellipses") {
    OpTest t(OpType::STRIDED_SLICE);
    make(t, {0, 0}, {3, 4}, {1, 1}, {3, 4});
    t.attr("ellipsis_mask", 3);
    CHECK_THAT(t.prepare_error(reg()), Contains("at most one position"));
  }
}

TEST_CASE("SLICE", "[tensor][slice]") {
  SECTION("size -1 runs to the end") {
    OpTest t(OpType::SLICE);
    t.input("x", DType::i8, {3, 4});
    t.constant("begin", DType::i32, {2}, std::vector<int32_t>{1, 1});
    t.constant("size", DType::i64, {2}, std::vector<int64_t>{2, -1});
    t.output("y", DType::i8, {2, 3});
    CHECK(t.run<int8_t>(reg(), {as_bytes(iota8(12))}) == std::vector<int8_t>{5, 6, 7, 9, 10, 11});
  }
  SECTION("begin + size beyond the dimension") {
    OpTest t(OpType::SLICE);
    t.input("x", DType::i8, {3, 4});
    t.constant("begin", DType::i32, {2}, std::vector<int32_t>{1, 3});
    t.constant("size", DType::i32, {2}, std::vector<int32_t>{2, 2});
    t.output("y", DType::i8, {2, 2});
    CHECK_THAT(t.prepare_error(reg()),
               Contains("axis 1: begin 3 size 2 do not fit a dimension of 4"));
  }
  SECTION("negative begin") {
    OpTest t(OpType::SLICE);
    t.input("x", DType::i8, {3});
    t.constant("begin", DType::i32, {1}, std::vector<int32_t>{-1});
    t.constant("size", DType::i32, {1}, std::vector<int32_t>{1});
    t.output("y", DType::i8, {1});
    CHECK_THAT(t.prepare_error(reg()), Contains("begin -1 size 1 do not fit"));
  }
}

// ---------------------------------------------------------------------------------------
TEST_CASE("SPLIT along a negative axis", "[tensor][split]") {
  OpTest t(OpType::SPLIT);
  t.constant("axis", DType::i32, {}, std::vector<int32_t>{-2});
  t.input("x", DType::i16, {4, 2});
  t.output("y0", DType::i16, {2, 2});
  t.output("y1", DType::i16, {2, 2});
  t.attr("num_splits", 2);
  auto outs = t.run_all(reg(), {as_bytes(iota_t<int16_t>(8, 100))});
  CHECK(test::from_bytes<int16_t>(outs[0].data(), outs[0].size()) ==
        std::vector<int16_t>{100, 101, 102, 103});
  CHECK(test::from_bytes<int16_t>(outs[1].data(), outs[1].size()) ==
        std::vector<int16_t>{104, 105, 106, 107});
}

TEST_CASE("SPLIT along the inner axis", "[tensor][split]") {
  OpTest t(OpType::SPLIT);
  t.constant("axis", DType::i32, {1}, std::vector<int32_t>{1});
  t.input("x", DType::f32, {2, 3});
  t.output("y0", DType::f32, {2, 1});
  t.output("y1", DType::f32, {2, 1});
  t.output("y2", DType::f32, {2, 1});
  t.attr("num_splits", 3);
  auto outs = t.run_all(reg(), {as_bytes(std::vector<float>{1, 2, 3, 4, 5, 6})});
  CHECK(test::from_bytes<float>(outs[0].data(), outs[0].size()) == std::vector<float>{1, 4});
  CHECK(test::from_bytes<float>(outs[1].data(), outs[1].size()) == std::vector<float>{2, 5});
  CHECK(test::from_bytes<float>(outs[2].data(), outs[2].size()) == std::vector<float>{3, 6});
}

TEST_CASE("SPLIT rejects", "[tensor][split][errors]") {
  SECTION("num_splits does not divide the axis") {
    OpTest t(OpType::SPLIT);
    t.constant("axis", DType::i32, {}, std::vector<int32_t>{0});
    t.input("x", DType::i8, {5});
    t.output("y0", DType::i8, {2});
    t.output("y1", DType::i8, {2});
    t.attr("num_splits", 2);
    CHECK_THAT(t.prepare_error(reg()),
               Contains("dimension 5 of axis 0 is not divisible by num_splits 2"));
  }
  SECTION("num_splits differs from the outputs") {
    OpTest t(OpType::SPLIT);
    t.constant("axis", DType::i32, {}, std::vector<int32_t>{0});
    t.input("x", DType::i8, {4});
    t.output("y0", DType::i8, {2});
    t.output("y1", DType::i8, {2});
    t.attr("num_splits", 4);
    CHECK_THAT(t.prepare_error(reg()), Contains("expects 4 outputs, has 2"));
  }
  SECTION("non-constant axis") {
    OpTest t(OpType::SPLIT);
    t.input("axis", DType::i32, {});
    t.input("x", DType::i8, {4});
    t.output("y0", DType::i8, {2});
    t.output("y1", DType::i8, {2});
    t.attr("num_splits", 2);
    CHECK_THAT(t.prepare_error(reg()), Contains("axis (input 0) must be a constant tensor"));
  }
}

TEST_CASE("SPLIT_V with a -1 size", "[tensor][split_v]") {
  OpTest t(OpType::SPLIT_V);
  t.input("x", DType::i8, {2, 5});
  t.constant("size_splits", DType::i64, {3}, std::vector<int64_t>{1, -1, 1});
  t.constant("axis", DType::i32, {}, std::vector<int32_t>{1});
  t.output("y0", DType::i8, {2, 1});
  t.output("y1", DType::i8, {2, 3});
  t.output("y2", DType::i8, {2, 1});
  t.attr("num_splits", 3);
  auto outs = t.run_all(reg(), {as_bytes(iota8(10))});
  CHECK(test::from_bytes<int8_t>(outs[0].data(), outs[0].size()) == std::vector<int8_t>{0, 5});
  CHECK(test::from_bytes<int8_t>(outs[1].data(), outs[1].size()) ==
        std::vector<int8_t>{1, 2, 3, 6, 7, 8});
  CHECK(test::from_bytes<int8_t>(outs[2].data(), outs[2].size()) == std::vector<int8_t>{4, 9});
}

TEST_CASE("SPLIT_V rejects", "[tensor][split_v][errors]") {
  auto make = [](OpTest& t, std::vector<int32_t> sizes) {
    t.input("x", DType::i8, {5});
    t.constant("size_splits", DType::i32, {static_cast<int32_t>(sizes.size())}, sizes);
    t.constant("axis", DType::i32, {}, std::vector<int32_t>{0});
    for (size_t i = 0; i < sizes.size(); ++i)
      t.output("y" + std::to_string(i), DType::i8, {sizes[i] < 0 ? 1 : sizes[i]});
    t.attr("num_splits", static_cast<int>(sizes.size()));
  };
  SECTION("sizes do not add up") {
    OpTest t(OpType::SPLIT_V);
    make(t, {2, 2});
    CHECK_THAT(t.prepare_error(reg()), Contains("sum to 4, not the dimension 5"));
  }
  SECTION("two -1") {
    OpTest t(OpType::SPLIT_V);
    make(t, {-1, -1});
    CHECK_THAT(t.prepare_error(reg()), Contains("more than one -1"));
  }
  SECTION("declared output shape") {
    OpTest t(OpType::SPLIT_V);
    make(t, {4, -1});
    t.tensor(3).shape = {2};  // y0 (tensor 3 after x, size_splits, axis) should be [4]
    CHECK_THAT(t.prepare_error(reg()),
               Contains("output 'y0' is declared [2] but the operator produces [4]"));
  }
}

TEST_CASE("PACK and UNPACK", "[tensor][pack]") {
  SECTION("PACK along axis 1 interleaves") {
    OpTest t(OpType::PACK);
    t.input("a", DType::i8, {2}, quant(0.1f, 3));
    t.input("b", DType::i8, {2}, quant(0.1f, 3));
    t.output("y", DType::i8, {2, 2}, quant(0.1f, 3));
    t.attr("values_count", 2);
    t.attr("axis", 1);
    CHECK(t.run<int8_t>(
              reg(), {as_bytes(std::vector<int8_t>{1, 2}), as_bytes(std::vector<int8_t>{3, 4})}) ==
          std::vector<int8_t>{1, 3, 2, 4});
  }
  SECTION("PACK along axis -3 (0) stacks; bool") {
    OpTest t(OpType::PACK);
    t.input("a", DType::bool8, {1, 2});
    t.input("b", DType::bool8, {1, 2});
    t.output("y", DType::bool8, {2, 1, 2});
    t.attr("values_count", 2);
    t.attr("axis", -3);
    CHECK(t.run<uint8_t>(reg(), {as_bytes(std::vector<uint8_t>{1, 0}),
                                 as_bytes(std::vector<uint8_t>{0, 1})}) ==
          std::vector<uint8_t>{1, 0, 0, 1});
  }
  SECTION("UNPACK along axis -1") {
    OpTest t(OpType::UNPACK);
    t.input("x", DType::i32, {2, 3});
    t.output("y0", DType::i32, {2});
    t.output("y1", DType::i32, {2});
    t.output("y2", DType::i32, {2});
    t.attr("num", 3);
    t.attr("axis", -1);
    auto outs = t.run_all(reg(), {as_bytes(iota_t<int32_t>(6))});
    CHECK(test::from_bytes<int32_t>(outs[0].data(), outs[0].size()) == std::vector<int32_t>{0, 3});
    CHECK(test::from_bytes<int32_t>(outs[1].data(), outs[1].size()) == std::vector<int32_t>{1, 4});
    CHECK(test::from_bytes<int32_t>(outs[2].data(), outs[2].size()) == std::vector<int32_t>{2, 5});
  }
  SECTION("PACK with another quantization than the output") {
    OpTest t(OpType::PACK);
    t.input("a", DType::i8, {2}, quant(0.1f, 3));
    t.input("b", DType::i8, {2}, quant(0.1f, 4));
    t.output("y", DType::i8, {2, 2}, quant(0.1f, 3));
    t.attr("values_count", 2);
    CHECK_THAT(t.prepare_error(reg()), Contains("PACK does not requantize"));
  }
  SECTION("PACK values_count mismatch") {
    OpTest t(OpType::PACK);
    t.input("a", DType::i8, {2});
    t.output("y", DType::i8, {1, 2});
    t.attr("values_count", 2);
    CHECK_THAT(t.prepare_error(reg()), Contains("values_count 2 does not match the 1 inputs"));
  }
  SECTION("UNPACK num mismatch") {
    OpTest t(OpType::UNPACK);
    t.input("x", DType::i8, {2, 3});
    t.output("y0", DType::i8, {3});
    t.output("y1", DType::i8, {3});
    t.attr("num", 3);
    CHECK_THAT(t.prepare_error(reg()), Contains("num 3 differs from the dimension 2 of axis 0"));
  }
  SECTION("UNPACK with another quantization than the outputs") {
    OpTest t(OpType::UNPACK);
    t.input("x", DType::u8, {2}, quant(1.0f, 0));
    t.output("y0", DType::u8, {}, quant(1.0f, 0));
    t.output("y1", DType::u8, {}, quant(2.0f, 0));
    t.attr("num", 2);
    CHECK_THAT(t.prepare_error(reg()), Contains("UNPACK does not requantize"));
  }
}

// ---------------------------------------------------------------------------------------
TEST_CASE("GATHER", "[tensor][gather]") {
  SECTION("axis 1 with run-time int64 indices of rank 2") {
    OpTest t(OpType::GATHER);
    t.input("x", DType::f32, {2, 3});
    t.input("idx", DType::i64, {2, 2});
    t.output("y", DType::f32, {2, 2, 2});
    t.attr("axis", 1);
    auto y = t.run<float>(reg(), {as_bytes(std::vector<float>{0, 1, 2, 10, 11, 12}),
                                  as_bytes(std::vector<int64_t>{2, 0, 1, 1})});
    CHECK(y == std::vector<float>{2, 0, 1, 1, 12, 10, 11, 11});
  }
  SECTION("negative axis with constant int32 indices") {
    OpTest t(OpType::GATHER);
    t.input("x", DType::i16, {3, 2});
    t.constant("idx", DType::i32, {3}, std::vector<int32_t>{2, 2, 0});
    t.output("y", DType::i16, {3, 2});
    t.attr("axis", -2);
    CHECK(t.run<int16_t>(reg(), {as_bytes(std::vector<int16_t>{1, 2, 3, 4, 5, 6})}) ==
          std::vector<int16_t>{5, 6, 5, 6, 1, 2});
  }
  SECTION("batch_dims 1: each batch row uses its own indices") {
    // x [2, 3], idx [2, 2], axis 1, batch_dims 1: y[b, i] = x[b, idx[b, i]].
    OpTest t(OpType::GATHER);
    t.input("x", DType::i8, {2, 3});
    t.input("idx", DType::i32, {2, 2});
    t.output("y", DType::i8, {2, 2});
    t.attr("axis", 1);
    t.attr("batch_dims", 1);
    auto y = t.run<int8_t>(reg(), {as_bytes(std::vector<int8_t>{0, 1, 2, 10, 11, 12}),
                                   as_bytes(std::vector<int32_t>{2, 0, 1, 1})});
    CHECK(y == std::vector<int8_t>{2, 0, 11, 11});
  }
  SECTION("batch_dims -1 with an outer axis between batch and gather axis") {
    // x [2, 2, 3], idx [2, 1], axis 2, batch_dims -1 (= 1): y[b, o, 0] = x[b, o, idx[b, 0]].
    OpTest t(OpType::GATHER);
    t.input("x", DType::i64, {2, 2, 3});
    t.input("idx", DType::i64, {2, 1});
    t.output("y", DType::i64, {2, 2, 1});
    t.attr("axis", 2);
    t.attr("batch_dims", -1);
    auto y = t.run<int64_t>(reg(),
                            {as_bytes(iota_t<int64_t>(12)), as_bytes(std::vector<int64_t>{1, 2})});
    CHECK(y == std::vector<int64_t>{1, 4, 8, 11});
  }
  SECTION("a run-time index out of range throws from run, naming the operator") {
    OpTest t(OpType::GATHER);
    t.input("x", DType::i8, {3});
    t.input("idx", DType::i32, {2});
    t.output("y", DType::i8, {2});
    CHECK_THROWS_WITH(
        t.run<int8_t>(reg(), {as_bytes(iota8(3)), as_bytes(std::vector<int32_t>{1, 3})}),
        Contains("op_under_test") &&
            Contains("gather index 3 (position 1 of the indices) is outside [0, 3)"));
    OpTest n(OpType::GATHER);
    n.input("x", DType::i8, {3});
    n.input("idx", DType::i64, {1});
    n.output("y", DType::i8, {1});
    CHECK_THROWS_AS(n.run<int8_t>(reg(), {as_bytes(iota8(3)), as_bytes(std::vector<int64_t>{-1})}),
                    Error);
  }
  SECTION("a constant index out of range fails in prepare") {
    OpTest t(OpType::GATHER);
    t.input("x", DType::i8, {3});
    t.constant("idx", DType::i32, {1}, std::vector<int32_t>{-1});
    t.output("y", DType::i8, {1});
    CHECK_THAT(t.prepare_error(reg()), Contains("index -1 is outside [0, 3)"));
  }
  SECTION("float indices") {
    OpTest t(OpType::GATHER);
    t.input("x", DType::i8, {3});
    t.input("idx", DType::f32, {1});
    t.output("y", DType::i8, {1});
    CHECK_THAT(t.prepare_error(reg()), Contains("must be int32 or int64"));
  }
  SECTION("batch_dims larger than axis") {
    OpTest t(OpType::GATHER);
    t.input("x", DType::i8, {2, 3});
    t.input("idx", DType::i32, {2, 1});
    t.output("y", DType::i8, {1, 3});
    t.attr("batch_dims", 1);
    CHECK_THAT(t.prepare_error(reg()), Contains("batch_dims 1 must be in [0, min(axis 0"));
  }
  SECTION("batch dims differ") {
    OpTest t(OpType::GATHER);
    t.input("x", DType::i8, {2, 3});
    t.input("idx", DType::i32, {3, 1});
    t.output("y", DType::i8, {2, 1});
    t.attr("axis", 1);
    t.attr("batch_dims", 1);
    CHECK_THAT(t.prepare_error(reg()), Contains("batch dimension 0 differs"));
  }
}

TEST_CASE("GATHER_ND", "[tensor][gather_nd]") {
  SECTION("full coordinates pick elements") {
    OpTest t(OpType::GATHER_ND);
    t.input("x", DType::i8, {2, 2});
    t.constant("idx", DType::i32, {2, 2}, std::vector<int32_t>{1, 0, 0, 1});
    t.output("y", DType::i8, {2});
    CHECK(t.run<int8_t>(reg(), {as_bytes(std::vector<int8_t>{1, 2, 3, 4})}) ==
          std::vector<int8_t>{3, 2});
  }
  SECTION("partial coordinates pick slices") {
    OpTest t(OpType::GATHER_ND);
    t.input("x", DType::f32, {2, 2, 2});
    t.input("idx", DType::i64, {2, 1, 2});
    t.output("y", DType::f32, {2, 1, 2});
    auto y = t.run<float>(reg(), {as_bytes(std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7}),
                                  as_bytes(std::vector<int64_t>{1, 1, 0, 1})});
    CHECK(y == std::vector<float>{6, 7, 2, 3});
  }
  SECTION("a run-time coordinate out of range throws") {
    OpTest t(OpType::GATHER_ND);
    t.input("x", DType::i8, {2, 3});
    t.input("idx", DType::i32, {1, 2});
    t.output("y", DType::i8, {1});
    // Flat position 0*3+3 = 3 is inside the tensor, but column 3 is not.
    CHECK_THROWS_WITH(
        t.run<int8_t>(reg(), {as_bytes(iota8(6)), as_bytes(std::vector<int32_t>{0, 3})}),
        Contains("gather_nd index 3 (row 0, column 1 of the indices) is outside [0, 3)"));
  }
  SECTION("a constant coordinate out of range fails in prepare") {
    OpTest t(OpType::GATHER_ND);
    t.input("x", DType::i8, {2, 3});
    t.constant("idx", DType::i32, {1, 1}, std::vector<int32_t>{2});
    t.output("y", DType::i8, {1, 3});
    CHECK_THAT(t.prepare_error(reg()), Contains("index 2 (row 0) is outside [0, 2)"));
  }
  SECTION("index depth above the rank") {
    OpTest t(OpType::GATHER_ND);
    t.input("x", DType::i8, {2});
    t.input("idx", DType::i32, {1, 2});
    t.output("y", DType::i8, {1});
    CHECK_THAT(t.prepare_error(reg()),
               Contains("indices rows have 2 coordinates but params has rank 1"));
  }
}

// ---------------------------------------------------------------------------------------
TEST_CASE("TILE", "[tensor][tile]") {
  SECTION("1-D") {
    OpTest t(OpType::TILE);
    t.input("x", DType::u8, {2});
    t.constant("m", DType::i32, {1}, std::vector<int32_t>{3});
    t.output("y", DType::u8, {6});
    CHECK(t.run<uint8_t>(reg(), {as_bytes(std::vector<uint8_t>{1, 2})}) ==
          std::vector<uint8_t>{1, 2, 1, 2, 1, 2});
  }
  SECTION("2-D with int64 multiples") {
    OpTest t(OpType::TILE);
    t.input("x", DType::f32, {2, 2});
    t.constant("m", DType::i64, {2}, std::vector<int64_t>{2, 2});
    t.output("y", DType::f32, {4, 4});
    const std::vector<float> want{1, 2, 1, 2, 3, 4, 3, 4, 1, 2, 1, 2, 3, 4, 3, 4};
    CHECK(t.run<float>(reg(), {as_bytes(std::vector<float>{1, 2, 3, 4})}) == want);
  }
  SECTION("multiples of the wrong length") {
    OpTest t(OpType::TILE);
    t.input("x", DType::f32, {2, 2});
    t.constant("m", DType::i32, {1}, std::vector<int32_t>{2});
    t.output("y", DType::f32, {4, 2});
    CHECK_THAT(t.prepare_error(reg()), Contains("must have one entry per input axis"));
  }
  SECTION("negative multiple") {
    OpTest t(OpType::TILE);
    t.input("x", DType::f32, {2});
    t.constant("m", DType::i32, {1}, std::vector<int32_t>{-1});
    t.output("y", DType::f32, {2});
    CHECK_THAT(t.prepare_error(reg()), Contains("multiple -1 of axis 0 is invalid"));
  }
}

TEST_CASE("SPACE_TO_DEPTH and DEPTH_TO_SPACE", "[tensor][space_to_depth]") {
  // x [1, 4, 4, 1] = 0..15; 2x2 blocks become depth in (row, column) order.
  const std::vector<int8_t> blocks{0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15};
  SECTION("SPACE_TO_DEPTH") {
    OpTest t(OpType::SPACE_TO_DEPTH);
    t.input("x", DType::i8, {1, 4, 4, 1});
    t.output("y", DType::i8, {1, 2, 2, 4});
    t.attr("block_size", 2);
    CHECK(t.run<int8_t>(reg(), {as_bytes(iota8(16))}) == blocks);
  }
  SECTION("DEPTH_TO_SPACE inverts it") {
    OpTest t(OpType::DEPTH_TO_SPACE);
    t.input("x", DType::i8, {1, 2, 2, 4});
    t.output("y", DType::i8, {1, 4, 4, 1});
    t.attr("block_size", 2);
    CHECK(t.run<int8_t>(reg(), {as_bytes(blocks)}) == iota8(16));
  }
  SECTION("SPACE_TO_DEPTH keeps channels innermost (TFLite test vector, 2 batches)") {
    // [2, 2, 2, 2] block 2: each batch's 2x2x2 becomes one pixel of depth 8 in the same order.
    OpTest t(OpType::SPACE_TO_DEPTH);
    t.input("x", DType::i16, {2, 2, 2, 2});
    t.output("y", DType::i16, {2, 1, 1, 8});
    t.attr("block_size", 2);
    CHECK(t.run<int16_t>(reg(), {as_bytes(iota_t<int16_t>(16))}) == iota_t<int16_t>(16));
  }
  SECTION("DEPTH_TO_SPACE with 2 output channels") {
    // [1, 1, 2, 8] block 2 -> [1, 2, 4, 2]: pixel x's depth d = (dy*2 + dx)*2 + c goes to
    // (dy, 2x + dx, c).
    OpTest t(OpType::DEPTH_TO_SPACE);
    t.input("x", DType::f32, {1, 1, 2, 8});
    t.output("y", DType::f32, {1, 2, 4, 2});
    t.attr("block_size", 2);
    const std::vector<float> x = iota_t<float>(16);
    std::vector<float> want;
    for (int dy = 0; dy < 2; ++dy)
      for (int ox = 0; ox < 4; ++ox)
        for (int c = 0; c < 2; ++c)
          want.push_back(x[static_cast<size_t>((ox / 2) * 8 + (dy * 2 + ox % 2) * 2 + c)]);
    CHECK(t.run<float>(reg(), {as_bytes(x)}) == want);
  }
  SECTION("block size does not divide") {
    OpTest t(OpType::SPACE_TO_DEPTH);
    t.input("x", DType::i8, {1, 3, 4, 1});
    t.output("y", DType::i8, {1, 1, 2, 4});
    t.attr("block_size", 2);
    CHECK_THAT(t.prepare_error(reg()), Contains("must be multiples of block_size 2"));
    OpTest d(OpType::DEPTH_TO_SPACE);
    d.input("x", DType::i8, {1, 1, 1, 6});
    d.output("y", DType::i8, {1, 2, 2, 1});
    d.attr("block_size", 2);
    CHECK_THAT(d.prepare_error(reg()), Contains("must be a multiple of block_size^2 = 4"));
  }
  SECTION("block size 0 and wrong rank") {
    OpTest t(OpType::SPACE_TO_DEPTH);
    t.input("x", DType::i8, {1, 2, 2, 1});
    t.output("y", DType::i8, {1, 2, 2, 1});
    CHECK_THAT(t.prepare_error(reg()), Contains("block_size must be positive, is 0"));
    OpTest r(OpType::DEPTH_TO_SPACE);
    r.input("x", DType::i8, {2, 2, 4});
    r.output("y", DType::i8, {4, 4, 1});
    r.attr("block_size", 2);
    CHECK_THAT(r.prepare_error(reg()), Contains("input must be 4-D"));
  }
}

// ---------------------------------------------------------------------------------------
namespace {

// Resizes x [1, 1, in_w, 1] (values 0..in_w-1) to width out_w: the result is the list of
// source columns TFLite picks.
std::vector<int8_t> resize_row(int in_w, int out_w, bool align_corners, bool half_pixel_centers) {
  OpTest t(OpType::RESIZE_NEAREST_NEIGHBOR);
  t.input("x", DType::i8, {1, 1, in_w, 1});
  t.constant("size", DType::i32, {2}, std::vector<int32_t>{1, out_w});
  t.output("y", DType::i8, {1, 1, out_w, 1});
  t.attr("align_corners", align_corners ? 1 : 0);
  t.attr("half_pixel_centers", half_pixel_centers ? 1 : 0);
  return t.run<int8_t>(reg(), {as_bytes(iota8(in_w))});
}

}  // namespace

TEST_CASE("RESIZE_NEAREST_NEIGHBOR source indices", "[tensor][resize_nearest_neighbor]") {
  // 2 -> 3: scale 2/3; floor(0, 0.67, 1.33).
  CHECK(resize_row(2, 3, false, false) == std::vector<int8_t>{0, 0, 1});
  // align_corners: scale (2-1)/(3-1) = 0.5; round(0, 0.5, 1) with 0.5 -> 1 (half away).
  CHECK(resize_row(2, 3, true, false) == std::vector<int8_t>{0, 1, 1});
  // half_pixel_centers: floor((x + 0.5) * 2/3) = floor(0.33, 1.0, 1.67).
  CHECK(resize_row(2, 3, false, true) == std::vector<int8_t>{0, 1, 1});
  // 3 -> 2 half pixel: floor(0.75, 2.25).
  CHECK(resize_row(3, 2, false, true) == std::vector<int8_t>{0, 2});
  // Both flags (TFLite accepts it): round((x + 0.5) * 0.5) = round(0.25, 0.75, 1.25).
  CHECK(resize_row(2, 3, true, true) == std::vector<int8_t>{0, 1, 1});
  // Downscale 4 -> 2 with align_corners: scale 3; round(0, 3).
  CHECK(resize_row(4, 2, true, false) == std::vector<int8_t>{0, 3});
  // Upscale to 1 with align_corners falls back to in/out: floor-free round(0 * 4) = 0.
  CHECK(resize_row(4, 1, true, false) == std::vector<int8_t>{0});
}

TEST_CASE("RESIZE_NEAREST_NEIGHBOR computes in float like TFLite",
          "[tensor][resize_nearest_neighbor]") {
  // 26 -> 22 without flags: the exact source is floor(x * 26 / 22), but TFLite multiplies
  // by float(26/22) = 1.18181813..., so at x = 11 it gets 12.999999 -> 12, not 13.
  std::vector<int8_t> want;
  for (int x = 0; x < 22; ++x) want.push_back(static_cast<int8_t>(x * 26 / 22));
  want[11] = 12;
  CHECK(resize_row(26, 22, false, false) == want);
  CHECK(kernels::resize_nearest_neighbor_source(11, 26, 22, false, false) == 12);
  // align_corners 14 -> 23: round(11 * float(13/22)) = round(6.4999995) = 6 (exactly 6.5 -> 7).
  CHECK(kernels::resize_nearest_neighbor_source(11, 14, 23, true, false) == 6);
  // half_pixel_centers 6 -> 37: floor(18.5 * float(6/37)) = floor(2.9999998) = 2 (exactly 3).
  CHECK(kernels::resize_nearest_neighbor_source(18, 6, 37, false, true) == 2);
}

TEST_CASE("RESIZE_NEAREST_NEIGHBOR 2-D with channels and batches (TFLite test vector)",
          "[tensor][resize_nearest_neighbor]") {
  // TFLite's ThreeDimensionalResize: [1, 2, 2, 2] -> 3x3.
  OpTest t(OpType::RESIZE_NEAREST_NEIGHBOR);
  t.input("x", DType::f32, {2, 2, 2, 2});
  t.constant("size", DType::i32, {2}, std::vector<int32_t>{3, 3});
  t.output("y", DType::f32, {2, 3, 3, 2});
  const std::vector<float> b{3, 4, 6, 10, 9, 10, 12, 16};
  const std::vector<float> one{3, 4, 3, 4, 6, 10, 3, 4, 3, 4, 6, 10, 9, 10, 9, 10, 12, 16};
  std::vector<float> x = b;
  for (float v : b) x.push_back(v + 100);
  std::vector<float> want = one;
  for (float v : one) want.push_back(v + 100);
  CHECK(t.run<float>(reg(), {as_bytes(x)}) == want);
}

TEST_CASE("RESIZE_NEAREST_NEIGHBOR dtypes and errors", "[tensor][resize_nearest_neighbor]") {
  SECTION("int16 and uint8") {
    OpTest t(OpType::RESIZE_NEAREST_NEIGHBOR);
    t.input("x", DType::i16, {1, 1, 2, 1});
    t.constant("size", DType::i32, {2}, std::vector<int32_t>{2, 4});
    t.output("y", DType::i16, {1, 2, 4, 1});
    CHECK(t.run<int16_t>(reg(), {as_bytes(std::vector<int16_t>{-1000, 1000})}) ==
          std::vector<int16_t>{-1000, -1000, 1000, 1000, -1000, -1000, 1000, 1000});
    OpTest u(OpType::RESIZE_NEAREST_NEIGHBOR);
    u.input("x", DType::u8, {1, 2, 1, 1});
    u.constant("size", DType::i32, {2}, std::vector<int32_t>{1, 1});
    u.output("y", DType::u8, {1, 1, 1, 1});
    CHECK(u.run<uint8_t>(reg(), {as_bytes(std::vector<uint8_t>{200, 100})}) ==
          std::vector<uint8_t>{200});
  }
  SECTION("int32 is rejected") {
    OpTest t(OpType::RESIZE_NEAREST_NEIGHBOR);
    t.input("x", DType::i32, {1, 1, 2, 1});
    t.constant("size", DType::i32, {2}, std::vector<int32_t>{1, 4});
    t.output("y", DType::i32, {1, 1, 4, 1});
    CHECK_THAT(t.prepare_error(reg()), Contains("input dtype int32 is not supported"));
  }
  SECTION("non-constant size") {
    OpTest t(OpType::RESIZE_NEAREST_NEIGHBOR);
    t.input("x", DType::i8, {1, 1, 2, 1});
    t.input("size", DType::i32, {2});
    t.output("y", DType::i8, {1, 1, 4, 1});
    CHECK_THAT(t.prepare_error(reg()), Contains("size (input 1) must be a constant tensor"));
  }
  SECTION("declared output shape") {
    OpTest t(OpType::RESIZE_NEAREST_NEIGHBOR);
    t.input("x", DType::i8, {1, 1, 2, 1});
    t.constant("size", DType::i32, {2}, std::vector<int32_t>{2, 4});
    t.output("y", DType::i8, {1, 1, 4, 1});
    CHECK_THAT(t.prepare_error(reg()),
               Contains("declared [1, 1, 4, 1] but the operator produces [1, 2, 4, 1]"));
  }
}

// ---------------------------------------------------------------------------------------
TEST_CASE("Zero-element tensors pass through without touching memory", "[tensor][empty]") {
  SECTION("SLICE of size 0") {
    OpTest t(OpType::SLICE);
    t.input("x", DType::i8, {3});
    t.constant("begin", DType::i32, {1}, std::vector<int32_t>{1});
    t.constant("size", DType::i32, {1}, std::vector<int32_t>{0});
    t.output("y", DType::i8, {0});
    CHECK(t.run<int8_t>(reg(), {as_bytes(iota8(3))}).empty());
  }
  SECTION("STRIDED_SLICE with begin past end") {
    OpTest t(OpType::STRIDED_SLICE);
    t.input("x", DType::i8, {3});
    t.constant("begin", DType::i32, {1}, std::vector<int32_t>{2});
    t.constant("end", DType::i32, {1}, std::vector<int32_t>{1});
    t.constant("strides", DType::i32, {1}, std::vector<int32_t>{1});
    t.output("y", DType::i8, {0});
    CHECK(t.run<int8_t>(reg(), {as_bytes(iota8(3))}).empty());
  }
  SECTION("CONCATENATION with an empty constant input") {
    OpTest t(OpType::CONCATENATION);
    t.constant("a", DType::f32, {0, 2}, std::vector<float>{});
    t.input("b", DType::f32, {1, 2});
    t.output("y", DType::f32, {1, 2});
    CHECK(t.run<float>(reg(), {as_bytes(std::vector<float>{5, 6})}) == std::vector<float>{5, 6});
  }
  SECTION("GATHER with no indices") {
    OpTest t(OpType::GATHER);
    t.input("x", DType::i8, {3, 2});
    t.constant("idx", DType::i32, {0}, std::vector<int32_t>{});
    t.output("y", DType::i8, {0, 2});
    CHECK(t.run<int8_t>(reg(), {as_bytes(iota8(6))}).empty());
  }
  SECTION("SPLIT_V with a -1 that resolves to 0") {
    OpTest t(OpType::SPLIT_V);
    t.input("x", DType::i8, {3});
    t.constant("size_splits", DType::i32, {2}, std::vector<int32_t>{3, -1});
    t.constant("axis", DType::i32, {}, std::vector<int32_t>{0});
    t.output("y0", DType::i8, {3});
    t.output("y1", DType::i8, {0});
    t.attr("num_splits", 2);
    auto outs = t.run_all(reg(), {as_bytes(iota8(3))});
    CHECK(test::from_bytes<int8_t>(outs[0].data(), outs[0].size()) == iota8(3));
    CHECK(outs[1].empty());
  }
}
