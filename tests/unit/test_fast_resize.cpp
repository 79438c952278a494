// Question answered: do the `cpu` backend's fast RESIZE_BILINEAR and ARG_MAX / ARG_MIN give
// exactly the reference's bytes, for every dtype, coordinate mode, shape (including
// DeepLabV3's), channel count, batch and thread count, and does the AVX-512 version equal
// its scalar fallback?
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>

#include "op_test_util.hpp"
#include "tessel/kernels/fast_requant.hpp"
#include "tessel/kernels/fast_resize.hpp"

using namespace tessel;
using namespace tessel::test;
namespace k = tessel::kernels;

namespace {

struct Rng {
  std::mt19937 g;
  int operator()(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g); }
};

size_t count(const std::vector<int32_t>& shape) {
  size_t n = 1;
  for (int32_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

// Random bytes of a tensor: integers over the whole type range, or floats of mixed sign
// and magnitude (finite; signed zeros included, which the float path's + 0.0f touches).
std::vector<uint8_t> random_tensor(Rng& r, ir::DType dt, size_t n) {
  switch (dt) {
    case ir::DType::u8: return as_bytes(random_values<uint8_t>(n, 0, 255, r.g()));
    case ir::DType::i8: return as_bytes(random_values<int8_t>(n, -128, 127, r.g()));
    default: {
      std::vector<float> v(n);
      std::uniform_real_distribution<float> mantissa(-1.0f, 1.0f);
      for (auto& x : v) {
        const int kind = r(0, 9);
        x = kind == 0 ? -0.0f : kind == 1 ? 0.0f : std::ldexp(mantissa(r.g), r(-20, 20));
      }
      return as_bytes(v);
    }
  }
}

ir::Quantization quant_for(ir::DType dt) {
  if (dt == ir::DType::f32) return {};
  return quant(0.05f, dt == ir::DType::u8 ? 128 : -3);
}

enum class Mode { plain, align_corners, half_pixel };

OpTest resize_op(ir::DType dt, std::vector<int32_t> in_shape, int out_h, int out_w, Mode mode) {
  OpTest t(ir::OpType::RESIZE_BILINEAR);
  t.input("x", dt, in_shape, quant_for(dt));
  t.constant("size", ir::DType::i32, {2}, std::vector<int32_t>{out_h, out_w});
  t.output("y", dt, {in_shape[0], out_h, out_w, in_shape[3]}, quant_for(dt));
  t.attr("align_corners", mode == Mode::align_corners ? 1 : 0);
  t.attr("half_pixel_centers", mode == Mode::half_pixel ? 1 : 0);
  return t;
}

// Where two byte buffers differ, as a short message ("" when they are equal): printing
// whole multi-megabyte buffers on a failure would take Catch forever.
std::string byte_diff(const std::vector<uint8_t>& expected, const std::vector<uint8_t>& got) {
  if (expected.size() != got.size())
    return "sizes differ: " + std::to_string(expected.size()) + " vs " + std::to_string(got.size());
  size_t first = expected.size(), count = 0;
  for (size_t i = 0; i < expected.size(); ++i)
    if (expected[i] != got[i]) {
      if (count++ == 0) first = i;
    }
  if (count == 0) return "";
  return std::to_string(count) + " bytes differ, first at byte " + std::to_string(first) + ": " +
         std::to_string(expected[first]) + " vs " + std::to_string(got[first]);
}

// Runs the operator with the `ref` and the `cpu` registries and checks the bytes agree.
void check_cpu_equals_ref(OpTest& t, const std::vector<uint8_t>& input, int threads) {
  const auto ref = t.run_all(cpu::ref_registry(), {input}, 1);
  const auto fast = t.run_all(cpu::cpu_registry(), {input}, threads);
  REQUIRE(ref.size() == 1);
  REQUIRE(fast.size() == 1);
  CHECK(byte_diff(ref[0], fast[0]) == "");
}

const char* mode_name(Mode m) {
  return m == Mode::plain ? "plain" : m == Mode::align_corners ? "align_corners" : "half_pixel_centers";
}

const ir::DType kResizeTypes[] = {ir::DType::u8, ir::DType::i8, ir::DType::f32};
const Mode kModes[] = {Mode::plain, Mode::align_corners, Mode::half_pixel};

}  // namespace

// ---------------------------------------------------------------------------------------
// RESIZE_BILINEAR

TEST_CASE("fast resize: hand-computed values of the float and the integer kernel", "[fast_resize]") {
  // 2x2 -> 3x3 with align_corners: the middle column is the mean of the two columns.
  // uint8 (float kernel): 0.5 + 0.5 = 1.0 truncates to 1. int8 (integer kernel): -0.5
  // rounds half away from zero to -1.
  OpTest u = resize_op(ir::DType::u8, {1, 2, 2, 1}, 3, 3, Mode::align_corners);
  CHECK(u.run<uint8_t>(cpu::cpu_registry(), {as_bytes(std::vector<uint8_t>{0, 1, 0, 1})}) ==
        std::vector<uint8_t>{0, 1, 1, 0, 1, 1, 0, 1, 1});
  OpTest s = resize_op(ir::DType::i8, {1, 2, 2, 1}, 3, 3, Mode::align_corners);
  CHECK(s.run<int8_t>(cpu::cpu_registry(), {as_bytes(std::vector<int8_t>{0, -1, 0, -1})}) ==
        std::vector<int8_t>{0, -1, -1, 0, -1, -1, 0, -1, -1});
  // float32 1x2 -> 1x4 without corners: scale 0.5, coordinates 0, 0.5, 1, 1.5 (clamped).
  OpTest f = resize_op(ir::DType::f32, {1, 1, 2, 1}, 1, 4, Mode::plain);
  CHECK(f.run<float>(cpu::cpu_registry(), {as_bytes(std::vector<float>{2.0f, 4.0f})}) ==
        std::vector<float>{2.0f, 3.0f, 4.0f, 4.0f});
  // -0.0 + 0.0f is +0.0: the fast path must add the (zero) rounding term too.
  OpTest z = resize_op(ir::DType::f32, {1, 1, 1, 1}, 1, 2, Mode::plain);
  const auto zero = z.run<float>(cpu::cpu_registry(), {as_bytes(std::vector<float>{-0.0f})});
  CHECK_FALSE(std::signbit(zero.at(0)));
  CHECK_FALSE(std::signbit(zero.at(1)));
}

TEST_CASE("fast resize: DeepLabV3's shapes equal the reference", "[fast_resize]") {
  Rng r{std::mt19937(7)};
  struct Shape {
    std::vector<int32_t> in;
    int out_h, out_w;
  };
  const Shape shapes[] = {{{1, 33, 33, 21}, 513, 513}, {{1, 1, 1, 256}, 33, 33}, {{1, 33, 33, 21}, 33, 33}};
  for (const Shape& s : shapes)
    for (ir::DType dt : kResizeTypes)
      for (int threads : {1, 2}) {
        INFO(ir::dtype_name(dt) << " " << s.in[1] << "x" << s.in[2] << "x" << s.in[3] << " -> " << s.out_h
                                << "x" << s.out_w << " threads " << threads);
        OpTest t = resize_op(dt, s.in, s.out_h, s.out_w, Mode::align_corners);
        check_cpu_equals_ref(t, random_tensor(r, dt, count(s.in)), threads);
      }
}

TEST_CASE("fast resize: random shapes, modes, dtypes, batches and threads equal the reference",
          "[fast_resize]") {
  Rng r{std::mt19937(1234)};
  for (int iter = 0; iter < 60; ++iter)
    for (ir::DType dt : kResizeTypes)
      for (Mode mode : kModes) {
        const int batch = r(1, 2), ih = r(1, 12), iw = r(1, 12), c = r(1, 40);
        // Mostly upsampling (the common use), sometimes down or to a single pixel.
        const int oh = r(0, 3) == 0 ? r(1, 4) : r(1, 40), ow = r(0, 3) == 0 ? r(1, 4) : r(1, 40);
        const int threads = r(1, 2);
        INFO(ir::dtype_name(dt) << " " << mode_name(mode) << " [" << batch << "," << ih << "," << iw << ","
                                << c << "] -> " << oh << "x" << ow << " threads " << threads);
        OpTest t = resize_op(dt, {batch, ih, iw, c}, oh, ow, mode);
        check_cpu_equals_ref(t, random_tensor(r, dt, count({batch, ih, iw, c})), threads);
      }
}

TEST_CASE("fast resize: large enough to run on two threads, batch 2", "[fast_resize]") {
  Rng r{std::mt19937(99)};
  for (ir::DType dt : kResizeTypes)
    for (Mode mode : kModes) {
      INFO(ir::dtype_name(dt) << " " << mode_name(mode));
      OpTest t = resize_op(dt, {2, 9, 11, 19}, 67, 53, mode);
      check_cpu_equals_ref(t, random_tensor(r, dt, count({2, 9, 11, 19})), 2);
    }
}

TEST_CASE("fast resize: AVX-512 kernels equal the scalar fallback", "[fast_resize]") {
  if (!k::requantize_has_avx512()) WARN("no AVX-512 on this CPU: both runs use the scalar kernels");
  Rng r{std::mt19937(5)};
  for (int iter = 0; iter < 40; ++iter)
    for (ir::DType dt : kResizeTypes)
      for (Mode mode : kModes) {
        k::ResizeBilinearParams p;
        p.batches = r(1, 2);
        p.input_height = r(1, 10);
        p.input_width = r(1, 10);
        p.depth = iter == 0 ? 21 : r(1, 70);
        p.output_height = r(1, 30);
        p.output_width = r(1, 30);
        p.align_corners = mode == Mode::align_corners;
        p.half_pixel_centers = mode == Mode::half_pixel;
        const k::FastElement e = dt == ir::DType::u8   ? k::FastElement::u8
                                 : dt == ir::DType::i8 ? k::FastElement::i8
                                                       : k::FastElement::f32;
        const k::ResizeBilinearPlan plan = k::plan_resize_bilinear(p, e);
        const size_t elem = dt == ir::DType::f32 ? 4 : 1;
        const auto in = random_tensor(
            r, dt, count({p.batches, p.input_height, p.input_width, p.depth}));
        const size_t out_bytes =
            count({p.batches, p.output_height, p.output_width, p.depth}) * elem;
        std::vector<uint8_t> vec(out_bytes, 0xAA), scalar(out_bytes, 0x55);
        k::resize_bilinear_fast(plan, in.data(), vec.data(), 1);
        k::resize_bilinear_fast_scalar(plan, in.data(), scalar.data());
        INFO(ir::dtype_name(dt) << " " << mode_name(mode) << " depth " << p.depth);
        CHECK(byte_diff(scalar, vec) == "");
      }
}

// The NPU's tiled resize computes bands of output rows from bands of input rows (the
// functional unit uses these kernels for RESIZE_ROWS): every band of random shapes gives
// the reference band kernel's bytes, vectorized and scalar.
TEST_CASE("fast resize: bands of output rows equal the reference's bands", "[fast_resize]") {
  Rng r{std::mt19937(77)};
  for (int iter = 0; iter < 60; ++iter)
    for (const bool integer : {false, true})
      for (Mode mode : kModes) {
        k::ResizeBilinearParams p;
        p.input_height = r(1, 12);
        p.input_width = r(1, 12);
        p.depth = r(1, 40);
        p.output_height = r(1, 40);
        p.output_width = r(1, 40);
        p.align_corners = mode == Mode::align_corners;
        p.half_pixel_centers = mode == Mode::half_pixel;
        p.output_row_begin = r(0, p.output_height - 1);
        p.output_row_end = r(p.output_row_begin + 1, p.output_height);
        const k::RowRange in_rows = k::resize_bilinear_input_rows(p, integer);
        p.input_row_begin = in_rows.first;
        INFO((integer ? "int8 " : "uint8 ") << mode_name(mode) << " rows " << p.output_row_begin << ".."
                                           << p.output_row_end << " of " << p.output_height
                                           << ", input rows " << in_rows.first << ".." << in_rows.end);
        const size_t row_in = static_cast<size_t>(p.input_width) * static_cast<size_t>(p.depth);
        const size_t row_out = static_cast<size_t>(p.output_width) * static_cast<size_t>(p.depth);
        const auto in = random_tensor(r, integer ? ir::DType::i8 : ir::DType::u8,
                                      static_cast<size_t>(in_rows.end - in_rows.first) * row_in);
        const size_t out_bytes = static_cast<size_t>(p.output_row_end - p.output_row_begin) * row_out;
        std::vector<uint8_t> want(out_bytes, 0x11), vec(out_bytes, 0xAA), scalar(out_bytes, 0x55);
        if (integer) {
          k::resize_bilinear_integer(p, reinterpret_cast<const int8_t*>(in.data()),
                                     reinterpret_cast<int8_t*>(want.data()));
        } else {
          k::resize_bilinear(p, in.data(), want.data());
        }
        const k::ResizeBilinearPlan plan =
            k::plan_resize_bilinear(p, integer ? k::FastElement::i8 : k::FastElement::u8);
        k::resize_bilinear_fast(plan, in.data(), vec.data(), r(1, 2));
        k::resize_bilinear_fast_scalar(plan, in.data(), scalar.data());
        CHECK(byte_diff(want, vec) == "");
        CHECK(byte_diff(want, scalar) == "");
      }
}

TEST_CASE("fast resize: bad operators fail with the reference's messages", "[fast_resize]") {
  OpTest both = resize_op(ir::DType::u8, {1, 2, 2, 1}, 3, 3, Mode::align_corners);
  both.attr("half_pixel_centers", 1);
  const std::string err = both.prepare_error(cpu::cpu_registry());
  CHECK_THAT(err, Catch::Contains("align_corners and half_pixel_centers cannot both be set"));
  CHECK(err == both.prepare_error(cpu::ref_registry()));

  OpTest rescale(ir::OpType::RESIZE_BILINEAR);
  rescale.input("x", ir::DType::i8, {1, 2, 2, 3}, quant(0.5f, 0));
  rescale.constant("size", ir::DType::i32, {2}, std::vector<int32_t>{4, 4});
  rescale.output("y", ir::DType::i8, {1, 4, 4, 3}, quant(0.25f, 0));
  CHECK_THAT(rescale.prepare_error(cpu::cpu_registry()), Catch::Contains("quantization must be equal"));
}

TEST_CASE("fast resize: int16 keeps the reference kernel", "[fast_resize]") {
  Rng r{std::mt19937(3)};
  OpTest t(ir::OpType::RESIZE_BILINEAR);
  t.input("x", ir::DType::i16, {1, 3, 4, 5}, quant(0.01f, 0));
  t.constant("size", ir::DType::i32, {2}, std::vector<int32_t>{7, 9});
  t.output("y", ir::DType::i16, {1, 7, 9, 5}, quant(0.01f, 0));
  t.attr("half_pixel_centers", 1);
  check_cpu_equals_ref(t, as_bytes(random_values<int16_t>(60, -32768, 32767, r.g())), 1);
}

// ---------------------------------------------------------------------------------------
// ARG_MAX / ARG_MIN

namespace {

OpTest arg_op(bool is_max, ir::DType dt, const std::vector<int32_t>& shape, int axis, ir::DType index) {
  OpTest t(is_max ? ir::OpType::ARG_MAX : ir::OpType::ARG_MIN);
  t.input("x", dt, shape, quant_for(dt));
  t.constant("axis", ir::DType::i32, {1}, std::vector<int32_t>{axis});
  std::vector<int32_t> out_shape;
  const int resolved = axis < 0 ? axis + static_cast<int>(shape.size()) : axis;
  for (size_t d = 0; d < shape.size(); ++d)
    if (static_cast<int>(d) != resolved) out_shape.push_back(shape[d]);
  t.output("y", index, out_shape);
  return t;
}

// The argument of the extremum with the first index winning, written independently.
template <typename T>
int64_t first_extremum(const std::vector<T>& v, size_t begin, size_t n, bool is_max) {
  size_t best = begin;
  for (size_t i = begin; i < begin + n; ++i)
    if (is_max ? v[i] > v[best] : v[i] < v[best]) best = i;
  return static_cast<int64_t>(best - begin);
}

}  // namespace

TEST_CASE("fast arg min/max: ties pick the first index", "[fast_resize]") {
  // uint8 rows of 5: ties in the middle, all equal, extremes at both ends.
  const std::vector<uint8_t> u{3, 7, 7, 1, 7, 9, 9, 9, 9, 9, 255, 0, 255, 0, 0, 0, 5, 5, 0, 4};
  OpTest mx = arg_op(true, ir::DType::u8, {4, 5}, 1, ir::DType::i64);
  CHECK(mx.run<int64_t>(cpu::cpu_registry(), {as_bytes(u)}) == std::vector<int64_t>{1, 0, 0, 1});
  OpTest mn = arg_op(false, ir::DType::u8, {4, 5}, -1, ir::DType::i32);
  CHECK(mn.run<int32_t>(cpu::cpu_registry(), {as_bytes(u)}) == std::vector<int32_t>{3, 0, 1, 0});
  // int8: the sign matters (-128 is the minimum, 127 the maximum).
  const std::vector<int8_t> s{-1, 127, -128, 127, -128, 0};
  OpTest smx = arg_op(true, ir::DType::i8, {2, 3}, 1, ir::DType::i32);
  CHECK(smx.run<int32_t>(cpu::cpu_registry(), {as_bytes(s)}) == std::vector<int32_t>{1, 0});
  OpTest smn = arg_op(false, ir::DType::i8, {2, 3}, 1, ir::DType::i64);
  CHECK(smn.run<int64_t>(cpu::cpu_registry(), {as_bytes(s)}) == std::vector<int64_t>{2, 1});
}

TEST_CASE("fast arg min/max: long axes (several 32-lane chunks) against a direct scan", "[fast_resize]") {
  Rng r{std::mt19937(11)};
  for (int n : {31, 32, 33, 64, 65, 100, 300}) {
    // Few distinct values, so the extremum repeats across chunks; the first must win.
    const auto v = random_values<uint8_t>(static_cast<size_t>(3 * n), 250, 255, r.g());
    for (bool is_max : {true, false}) {
      OpTest t = arg_op(is_max, ir::DType::u8, {3, n}, 1, ir::DType::i64);
      const auto got = t.run<int64_t>(cpu::cpu_registry(), {as_bytes(v)});
      INFO("axis " << n << (is_max ? " max" : " min"));
      for (size_t o = 0; o < 3; ++o)
        CHECK(got[o] == first_extremum(v, o * static_cast<size_t>(n), static_cast<size_t>(n), is_max));
    }
  }
}

TEST_CASE("fast arg min/max: random shapes, dtypes and index types equal the reference", "[fast_resize]") {
  Rng r{std::mt19937(21)};
  for (int iter = 0; iter < 80; ++iter) {
    const ir::DType dt = r(0, 1) ? ir::DType::u8 : ir::DType::i8;
    const ir::DType index = r(0, 1) ? ir::DType::i64 : ir::DType::i32;
    const bool is_max = r(0, 1) == 1;
    std::vector<int32_t> shape;
    const int rank = r(1, 4);
    for (int d = 0; d < rank; ++d) shape.push_back(r(1, d + 1 == rank ? 70 : 9));
    // The last axis by index or as -1; sometimes another axis (the reference kernel runs),
    // or one followed only by size-1 dimensions (still contiguous: the fast kernel runs).
    int axis = r(0, 1) ? rank - 1 : -1;
    if (r(0, 4) == 0) axis = r(0, rank - 1);
    if (r(0, 4) == 0) shape.push_back(1);
    const int threads = r(1, 2);
    // A narrow value range makes ties common.
    const auto input = r(0, 1) ? random_tensor(r, dt, count(shape))
                               : as_bytes(random_values<uint8_t>(count(shape), 0, 2, r.g()));
    INFO(ir::dtype_name(dt) << " -> " << ir::dtype_name(index) << (is_max ? " max" : " min") << " rank "
                            << shape.size() << " axis " << axis << " threads " << threads);
    OpTest t = arg_op(is_max, dt, shape, axis, index);
    check_cpu_equals_ref(t, input, threads);
  }
}

TEST_CASE("fast arg min/max: DeepLabV3's ARG_MAX equals the reference", "[fast_resize]") {
  Rng r{std::mt19937(8)};
  for (int threads : {1, 2}) {
    OpTest t = arg_op(true, ir::DType::u8, {1, 513, 513, 21}, 3, ir::DType::i64);
    check_cpu_equals_ref(t, random_tensor(r, ir::DType::u8, count({1, 513, 513, 21})), threads);
  }
}

TEST_CASE("fast arg min/max: AVX-512 kernel equals the scalar fallback", "[fast_resize]") {
  if (!k::requantize_has_avx512()) WARN("no AVX-512 on this CPU: both runs use the scalar kernel");
  Rng r{std::mt19937(13)};
  for (int iter = 0; iter < 200; ++iter) {
    k::ArgLastAxisParams p;
    p.outer = r(1, 50);
    p.axis_size = r(1, 100);
    p.is_max = r(0, 1) == 1;
    p.element = r(0, 1) ? k::FastElement::u8 : k::FastElement::i8;
    p.index64 = r(0, 1) == 1;
    const int lo = r(0, 255);
    const auto in = random_values<uint8_t>(static_cast<size_t>(p.outer * p.axis_size), lo, std::min(255, lo + r(0, 4)), r.g());
    const size_t bytes = static_cast<size_t>(p.outer) * (p.index64 ? 8 : 4);
    std::vector<uint8_t> vec(bytes, 0xAA), scalar(bytes, 0x55);
    k::arg_min_max_last_axis(p, in.data(), vec.data(), 1);
    k::arg_min_max_last_axis_scalar(p, in.data(), scalar.data());
    INFO("outer " << p.outer << " axis " << p.axis_size << (p.is_max ? " max" : " min"));
    CHECK(byte_diff(scalar, vec) == "");
  }
}

TEST_CASE("fast arg min/max: float32 and bad operators keep the reference behaviour", "[fast_resize]") {
  Rng r{std::mt19937(17)};
  OpTest f = arg_op(true, ir::DType::f32, {3, 7}, 1, ir::DType::i32);
  check_cpu_equals_ref(f, random_tensor(r, ir::DType::f32, 21), 1);

  OpTest bad = arg_op(false, ir::DType::u8, {3, 7}, 1, ir::DType::f32);
  const std::string err = bad.prepare_error(cpu::cpu_registry());
  CHECK_THAT(err, Catch::Contains("output must be int32 or int64"));
  CHECK(err == bad.prepare_error(cpu::ref_registry()));
}
