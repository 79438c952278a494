// Question answered: does the `cpu` backend produce exactly the `ref` backend's bytes for
// the operators it accelerates, on random shapes, parameters and values (including the
// uint8 weight-zero-point and padding corrections of the fast path)?
#include <catch2/catch.hpp>

#include <random>

#include "op_test_util.hpp"
#include "tessel/kernels/fast_conv.hpp"

using namespace tessel;
using namespace tessel::test;

namespace {

struct Rng {
  std::mt19937 g;
  int operator()(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g); }
  float scale(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(g); }
};

template <typename T>
std::vector<T> values(Rng& r, size_t n) {
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(r(std::is_signed<T>::value ? -128 : 0, std::is_signed<T>::value ? 127 : 255));
  return v;
}

// One random CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED, uint8 per-tensor or int8
// per-channel. Returns the test and the input bytes.
std::pair<OpTest, std::vector<uint8_t>> random_op(Rng& r, ir::OpType type, bool uint8_model) {
  const ir::DType dt = uint8_model ? ir::DType::u8 : ir::DType::i8;
  const float s_in = r.scale(0.005f, 0.05f), s_out = r.scale(0.01f, 0.2f);
  const int64_t zp_in = uint8_model ? r(0, 255) : r(-128, 127);
  const int64_t zp_out = uint8_model ? r(0, 255) : r(-128, 127);
  OpTest t(type);
  std::vector<uint8_t> input;
  const int act = std::vector<int>{0, 1, 3}[static_cast<size_t>(r(0, 2))];
  t.attr("fused_activation_function", act);

  auto weight_quant = [&](int channels, int axis) {
    if (uint8_model) return quant(r.scale(0.002f, 0.02f), r(90, 160));
    std::vector<float> s;
    for (int c = 0; c < channels; ++c) s.push_back(r.scale(0.001f, 0.02f));
    return quant_per_axis(s, axis);
  };
  auto bias = [&](int channels, const ir::Quantization& wq) {
    std::vector<int32_t> b(static_cast<size_t>(channels));
    for (auto& x : b) x = r(-3000, 3000);
    // Per-tensor weights take a per-tensor bias scale (TFLite's uint8 kernels check it);
    // per-channel weights a per-channel one.
    if (wq.scale.size() == 1) return std::make_pair(b, quant(s_in * wq.scale[0], 0));
    std::vector<float> bs;
    for (int c = 0; c < channels; ++c) bs.push_back(s_in * wq.scale[static_cast<size_t>(c)]);
    ir::Quantization bq = quant_per_axis(bs, 0);
    return std::make_pair(b, bq);
  };

  if (type == ir::OpType::FULLY_CONNECTED) {
    const int batches = r(1, 3), depth = r(1, 300), units = r(1, 70);
    t.input("x", dt, {batches, depth}, quant(s_in, zp_in));
    // TFLite's int8 FULLY_CONNECTED weights are per tensor in these models' era.
    const ir::Quantization wq = uint8_model ? weight_quant(units, 0) : quant(r.scale(0.001f, 0.02f), 0);
    if (uint8_model) t.constant("w", dt, {units, depth}, values<uint8_t>(r, static_cast<size_t>(units * depth)), wq);
    else t.constant("w", dt, {units, depth}, values<int8_t>(r, static_cast<size_t>(units * depth)), wq);
    auto [b, bq] = bias(units, wq);
    t.constant("b", ir::DType::i32, {units}, b, bq);
    t.output("y", dt, {batches, units}, quant(s_out, zp_out));
    input = uint8_model ? as_bytes(values<uint8_t>(r, static_cast<size_t>(batches * depth)))
                        : as_bytes(values<int8_t>(r, static_cast<size_t>(batches * depth)));
    return {t, input};
  }

  const bool dw = type == ir::OpType::DEPTHWISE_CONV_2D;
  const int n = r(1, 2), h = r(1, 17), w = r(1, 17), cin = r(1, dw ? 24 : 40);
  const int kh = r(1, 5), kw = r(1, 5), sh = r(1, 2), sw = r(1, 2), dh = r(1, 2), dwl = r(1, 2);
  const int mult = dw ? r(1, 2) : 1;
  const int cout = dw ? cin * mult : r(1, 48);
  const bool same = r(0, 1) == 1;
  auto out_size = [&](int in, int k, int s, int d) {
    const int eff = (k - 1) * d + 1;
    return same ? (in + s - 1) / s : (in - eff + s) / s;
  };
  const int oh = out_size(h, kh, sh, dh), ow = out_size(w, kw, sw, dwl);
  if (oh <= 0 || ow <= 0) return random_op(r, type, uint8_model);  // VALID window does not fit
  t.attr("padding", same ? 0 : 1);
  t.attr("stride_h", sh);
  t.attr("stride_w", sw);
  t.attr("dilation_h_factor", dh);
  t.attr("dilation_w_factor", dwl);
  if (dw) t.attr("depth_multiplier", mult);
  t.input("x", dt, {n, h, w, cin}, quant(s_in, zp_in));
  const std::vector<int32_t> wshape = dw ? std::vector<int32_t>{1, kh, kw, cout} : std::vector<int32_t>{cout, kh, kw, cin};
  const ir::Quantization wq = weight_quant(cout, dw ? 3 : 0);
  const size_t wn = static_cast<size_t>(cout) * static_cast<size_t>(kh * kw) * static_cast<size_t>(dw ? 1 : cin);
  if (uint8_model) t.constant("w", dt, wshape, values<uint8_t>(r, wn), wq);
  else t.constant("w", dt, wshape, values<int8_t>(r, wn), wq);
  auto [b, bq] = bias(cout, wq);
  t.constant("b", ir::DType::i32, {cout}, b, bq);
  t.output("y", dt, {n, oh, ow, cout}, quant(s_out, zp_out));
  const size_t in_n = static_cast<size_t>(n * h * w * cin);
  input = uint8_model ? as_bytes(values<uint8_t>(r, in_n)) : as_bytes(values<int8_t>(r, in_n));
  return {t, input};
}

// "x [1,5,7,3] w [..] y [..] padding=0 stride_h=2 ...": what a failing case was.
std::string describe(OpTest& t) {
  const ir::Graph& g = t.graph();
  std::string s;
  for (const ir::Tensor& tensor : g.tensors) {
    s += tensor.name + " [";
    for (int32_t d : tensor.shape) s += std::to_string(d) + ",";
    s += "] zp " + (tensor.quant.zero_point.empty() ? std::string("-") : std::to_string(tensor.quant.zero_point[0])) + "; ";
  }
  for (const auto& kv : g.ops[0].attrs.all())
    if (const int64_t* v = std::get_if<int64_t>(&kv.second)) s += kv.first + "=" + std::to_string(*v) + " ";
  return s;
}

}  // namespace

TEST_CASE("cpu backend equals ref on random convolutions, depthwise and fully-connected", "[fast]") {
  if (!kernels::fast_conv_supported()) WARN("no VNNI on this CPU: cpu uses the reference kernels for these ops");
  Rng r{std::mt19937(2024)};
  int checked = 0;
  for (ir::OpType type : {ir::OpType::CONV_2D, ir::OpType::DEPTHWISE_CONV_2D, ir::OpType::FULLY_CONNECTED})
    for (bool uint8_model : {false, true})
      for (int i = 0; i < 25; ++i) {
        auto [t, input] = random_op(r, type, uint8_model);
        INFO(ir::op_type_name(type) << (uint8_model ? " uint8" : " int8") << " case " << i << ": " << describe(t));
        const auto ref = t.run_all(cpu::ref_registry(), {input});
        const auto fast = t.run_all(cpu::cpu_registry(), {input}, 1 + i % 2);
        REQUIRE(ref == fast);
        ++checked;
      }
  CHECK(checked == 150);
}

TEST_CASE("cpu backend reports the same errors as ref", "[fast]") {
  Rng r{std::mt19937(5)};
  auto [t, input] = random_op(r, ir::OpType::CONV_2D, false);
  t.attr("fused_activation_function", 4);  // TANH: no quantized form
  const std::string ref = t.prepare_error(cpu::ref_registry());
  CHECK_FALSE(ref.empty());
  CHECK(t.prepare_error(cpu::cpu_registry()) == ref);
}

TEST_CASE("cpu backend equals ref on random 8-bit ADD and SUB", "[fast]") {
  Rng r{std::mt19937(77)};
  int checked = 0;
  for (ir::OpType type : {ir::OpType::ADD, ir::OpType::SUB})
    for (ir::DType dt : {ir::DType::u8, ir::DType::i8})
      for (int i = 0; i < 10; ++i) {
        const bool u8 = dt == ir::DType::u8;
        auto zp = [&] { return u8 ? r(0, 255) : r(-128, 127); };
        OpTest t(type);
        const std::vector<int32_t> shape{1, r(1, 9), r(1, 9), r(1, 40)};
        t.input("a", dt, shape, quant(r.scale(0.01f, 0.2f), zp()));
        t.input("b", dt, shape, quant(r.scale(0.01f, 0.2f), zp()));
        t.output("y", dt, shape, quant(r.scale(0.02f, 0.3f), zp()));
        t.attr("fused_activation_function", std::vector<int>{0, 1, 3}[static_cast<size_t>(r(0, 2))]);
        const size_t n = static_cast<size_t>(shape[1] * shape[2] * shape[3]);
        const auto a = u8 ? as_bytes(values<uint8_t>(r, n)) : as_bytes(values<int8_t>(r, n));
        const auto b = u8 ? as_bytes(values<uint8_t>(r, n)) : as_bytes(values<int8_t>(r, n));
        INFO(ir::op_type_name(type) << " case " << i << ": " << describe(t));
        REQUIRE(t.run_all(cpu::ref_registry(), {a, b}) == t.run_all(cpu::cpu_registry(), {a, b}));
        ++checked;
      }
  CHECK(checked == 40);
}
