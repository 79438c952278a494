// Sequence operators (SVDF, UNIDIRECTIONAL_SEQUENCE_LSTM) on the reference registry.
//
// Expected values come from hand calculation (small SVDF cases with power-of-two scales),
// from TFLite Micro's own LSTM test vectors (float golden values, checked within TFLite
// Micro's tolerances for the quantized variants), and from straightforward oracles written
// here independently of the kernels (a history-based SVDF, a time-outer integer LSTM),
// which use only the shared requantization helpers and the separately tested LUT
// nonlinearities.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "op_test_util.hpp"
#include "tessel/cpu/executor.hpp"
#include "tessel/ir/verify.hpp"
#include "tessel/kernels/quant.hpp"
#include "tessel/kernels/sequence.hpp"

using namespace tessel;
using ir::DType;
using test::as_bytes;
using test::OpTest;
using test::quant;

namespace {

const cpu::OpRegistry& registry() {
  static const cpu::OpRegistry r = [] {
    cpu::OpRegistry x;
    cpu::register_ref_sequence_ops(x);
    return x;
  }();
  return r;
}

// One Executor kept across runs, so variable tensors carry state from run to run; the
// given extra tensors (the states) are exposed as additional graph outputs.
class Session {
 public:
  Session(const ir::Graph& g, const std::vector<int>& extra_outputs) : graph_(g) {
    for (int t : extra_outputs) graph_.outputs.push_back(t);
    ir::verify(graph_);
    ex_ = std::make_unique<cpu::Executor>(graph_, registry());
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  template <typename T>
  void run(const std::vector<T>& input) {
    ex_->set_input(0, input.data(), input.size() * sizeof(T));
    ex_->run();
  }
  template <typename T>
  std::vector<T> output(size_t i) const {
    return test::from_bytes<T>(ex_->output_data(i), ex_->output_bytes(i));
  }
  void reset() { ex_->reset_state(); }

 private:
  ir::Graph graph_;
  std::unique_ptr<cpu::Executor> ex_;
};

template <typename T>
int32_t sat(int64_t v) {
  return static_cast<int32_t>(std::min<int64_t>(std::max<int64_t>(v, std::numeric_limits<T>::min()),
                                                std::numeric_limits<T>::max()));
}

int32_t mbqm(int32_t x, const kernels::QuantizedMultiplier& m) {
  return kernels::multiply_by_quantized_multiplier(x, m.multiplier, m.shift);
}

template <typename T>
std::vector<T> quantize_values(const std::vector<float>& v, float scale, int32_t zp) {
  std::vector<T> q;
  for (float x : v)
    q.push_back(static_cast<T>(sat<T>(zp + static_cast<int64_t>(std::round(x / scale)))));
  return q;
}

template <typename T>
std::vector<float> dequantize_values(const std::vector<T>& q, float scale, int32_t zp) {
  std::vector<float> v;
  for (T x : q) v.push_back(static_cast<float>(int32_t{x} - zp) * scale);
  return v;
}

void check_near(const std::vector<float>& got, const std::vector<float>& want, float tolerance) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << ", want " << want[i]);
    CHECK(std::abs(got[i] - want[i]) <= tolerance);
  }
}

}  // namespace

// =======================================================================================
// SVDF

namespace {

// int8x16 SVDF small enough to check by hand. Scales are powers of two so that
//   feature multiplier = 0.5 * 0.25 / 0.125 = 1   (the new state entry is the exact dot),
//   output multiplier  = 0.125 * 0.0625 / (1/64) = 0.5 (output = round(acc / 2), ties up).
// Tensors: 0 input, 1 weights_feature, 2 weights_time, 3 bias, 4 state, 5 output.
OpTest hand_svdf_int16_state() {
  OpTest t(ir::OpType::SVDF);
  t.input("x", DType::i8, {1, 2}, quant(0.5f, 1));
  t.constant("wf", DType::i8, {2, 2}, std::vector<int8_t>{1, 2, -3, 1}, quant(0.25f, 0));
  t.constant("wt", DType::i16, {2, 3}, std::vector<int16_t>{1, 2, 3, 4, 5, 6}, quant(0.0625f, 0));
  t.constant("b", DType::i32, {2}, std::vector<int32_t>{10, -7}, quant(1.0f / 128, 0));
  t.variable("state", DType::i16, {1, 6}, quant(0.125f, 0));
  t.output("y", DType::i8, {1, 2}, quant(1.0f / 64, -3));
  t.attr("rank", 1);
  t.attr("fused_activation_function", 1);
  return t;
}

// The SVDF written as a history: every run appends one feature value per (batch, filter);
// the output reads the newest memory_size values (older slots hold the state's zero
// point, as the executor initialises them).
struct SvdfOracle {
  int batches, input_size, filters, rank, memory;
  std::vector<int8_t> wf;
  std::vector<int32_t> wt;  // int16 or int8 values
  std::vector<int32_t> bias;
  int32_t zp_in, zp_state, zp_out, state_min, state_max;
  kernels::QuantizedMultiplier m1, m2;
  std::vector<std::vector<int32_t>> history;  // [batch * filters] -> values, oldest first

  std::vector<int8_t> run(const std::vector<int8_t>& x) {
    history.resize(static_cast<size_t>(batches * filters));
    std::vector<int8_t> out;
    for (int b = 0; b < batches; ++b) {
      for (int f = 0; f < filters; ++f) {
        int64_t dot = 0;
        for (int i = 0; i < input_size; ++i)
          dot += wf[static_cast<size_t>(f * input_size + i)] *
                 (x[static_cast<size_t>(b * input_size + i)] - zp_in);
        const int32_t v = zp_state + mbqm(static_cast<int32_t>(dot), m1);
        history[static_cast<size_t>(b * filters + f)].push_back(
            std::min(std::max(v, state_min), state_max));
      }
      for (int u = 0; u < filters / rank; ++u) {
        int64_t acc = bias.empty() ? 0 : bias[static_cast<size_t>(u)];
        for (int r = 0; r < rank; ++r) {
          const int f = u * rank + r;
          const auto& h = history[static_cast<size_t>(b * filters + f)];
          for (int m = 0; m < memory; ++m) {
            // Slot m holds the value from (memory - 1 - m) runs ago.
            const int64_t age = memory - 1 - m;
            const int64_t idx = static_cast<int64_t>(h.size()) - 1 - age;
            const int32_t s = idx >= 0 ? h[static_cast<size_t>(idx)] : zp_state;
            acc += int64_t{wt[static_cast<size_t>(f * memory + m)]} * (s - zp_state);
          }
        }
        out.push_back(
            static_cast<int8_t>(sat<int8_t>(zp_out + mbqm(static_cast<int32_t>(acc), m2))));
      }
    }
    return out;
  }
};

}  // namespace

TEST_CASE("SVDF int8x16: hand-checked outputs and state over four runs, then reset", "[svdf]") {
  OpTest t = hand_svdf_int16_state();
  Session s(t.graph(), {4});
  // Run 1: x - zp = [4, -4]; new entries f0 = 4 - 8 = -4, f1 = -12 - 4 = -16.
  // acc0 = 10 + 3 * -4 = -2 -> -1 -> -4;  acc1 = -7 + 6 * -16 = -103 -> -51.5 -> -51 -> -54.
  s.run(std::vector<int8_t>{5, -3});
  CHECK(s.output<int8_t>(0) == std::vector<int8_t>{-4, -54});
  CHECK(s.output<int16_t>(1) == std::vector<int16_t>{0, 0, -4, 0, 0, -16});
  // Run 2: x - zp = [0, 2]; new f0 = 4, f1 = 2; state f0 [0, -4, 4], f1 [0, -16, 2].
  // acc0 = 10 - 8 + 12 = 14 -> 7 -> 4;  acc1 = -7 - 80 + 12 = -75 -> -37.5 -> -37 -> -40.
  s.run(std::vector<int8_t>{1, 3});
  CHECK(s.output<int8_t>(0) == std::vector<int8_t>{4, -40});
  CHECK(s.output<int16_t>(1) == std::vector<int16_t>{0, -4, 4, 0, -16, 2});
  // Run 3 (input at its zero point): f0 [-4, 4, 0], f1 [-16, 2, 0].
  // acc0 = 10 - 4 + 8 = 14 -> 4;  acc1 = -7 - 64 + 10 = -61 -> -30.5 -> -30 -> -33.
  s.run(std::vector<int8_t>{1, 1});
  CHECK(s.output<int8_t>(0) == std::vector<int8_t>{4, -33});
  // Run 4: f0 [4, 0, 0], f1 [2, 0, 0]: acc0 = 14 -> 4;  acc1 = -7 + 8 = 1 -> 0.5 -> 1 -> -2.
  s.run(std::vector<int8_t>{1, 1});
  CHECK(s.output<int8_t>(0) == std::vector<int8_t>{4, -2});
  // Reset returns to the zero state: run 1 again.
  s.reset();
  s.run(std::vector<int8_t>{5, -3});
  CHECK(s.output<int8_t>(0) == std::vector<int8_t>{-4, -54});
}

TEST_CASE("SVDF int8 state: zero point initialisation, saturation after adding it", "[svdf]") {
  // input_size 1, two filters of rank 2 (one unit), memory 2, every scale 1 except the
  // output's 4: feature multiplier 1, output multiplier 0.25.
  OpTest t(ir::OpType::SVDF);
  t.input("x", DType::i8, {1, 1}, quant(1.0f, 0));
  t.constant("wf", DType::i8, {2, 1}, std::vector<int8_t>{100, -100}, quant(1.0f, 0));
  t.constant("wt", DType::i8, {2, 2}, std::vector<int8_t>{1, 2, 1, 1}, quant(1.0f, 0));
  t.constant("b", DType::i32, {1}, std::vector<int32_t>{5}, quant(1.0f, 0));
  t.variable("state", DType::i8, {1, 4}, quant(1.0f, 10));
  t.output("y", DType::i8, {1, 1}, quant(4.0f, 0));
  t.attr("rank", 2);
  Session s(t.graph(), {4});
  // The state starts at its zero point 10. New entries: 10 + 200 -> 127 and 10 - 200 ->
  // -128 (saturated after adding the zero point, not wrapped).
  // acc = 5 + (1 * 0 + 2 * 117) + (1 * 0 + 1 * -138) = 101; the multiplier 0.25 is 0.5 (a
  // doubling high multiply, ties up: 50.5 -> 51) then a rounding right shift by 1 (ties
  // away from zero: 25.5 -> 26), so the output is 26 where exact rounding would give 25.
  s.run(std::vector<int8_t>{2});
  CHECK(s.output<int8_t>(1) == std::vector<int8_t>{10, 127, 10, -128});
  CHECK(s.output<int8_t>(0) == std::vector<int8_t>{26});
  // Input 0: new entries are the zero point; acc = 5 + 1 * 117 + 1 * -138 = -16 -> -4.
  s.run(std::vector<int8_t>{0});
  CHECK(s.output<int8_t>(1) == std::vector<int8_t>{127, 10, -128, 10});
  CHECK(s.output<int8_t>(0) == std::vector<int8_t>{-4});
}

TEST_CASE("SVDF int8x16 and int8: random data over several runs match a history oracle", "[svdf]") {
  const bool int16_state = GENERATE(true, false);
  const int batches = 2, input_size = 5, filters = 6, rank = 2, memory = 4;
  const DType state_dt = int16_state ? DType::i16 : DType::i8;
  const float s_in = 0.02f, s_wf = 0.01f, s_state = int16_state ? 0.0005f : 0.02f;
  const float s_wt = int16_state ? 0.0007f : 0.01f, s_out = 0.03f;
  const int32_t zp_in = -4, zp_state = int16_state ? 0 : 3, zp_out = 6;
  auto wf = test::random_values<int8_t>(static_cast<size_t>(filters * input_size), -127, 127, 11);
  auto wt =
      int16_state
          ? test::random_values<int32_t>(static_cast<size_t>(filters * memory), -3000, 3000, 12)
          : test::random_values<int32_t>(static_cast<size_t>(filters * memory), -127, 127, 12);
  auto bias = test::random_values<int32_t>(static_cast<size_t>(filters / rank), -20000, 20000, 13);

  OpTest t(ir::OpType::SVDF);
  t.input("x", DType::i8, {batches, input_size}, quant(s_in, zp_in));
  t.constant("wf", DType::i8, {filters, input_size}, wf, quant(s_wf, 0));
  if (int16_state) {
    std::vector<int16_t> wt16(wt.begin(), wt.end());
    t.constant("wt", DType::i16, {filters, memory}, wt16, quant(s_wt, 0));
  } else {
    std::vector<int8_t> wt8(wt.begin(), wt.end());
    t.constant("wt", DType::i8, {filters, memory}, wt8, quant(s_wt, 0));
  }
  t.constant("b", DType::i32, {filters / rank}, bias, quant(s_state * s_wt, 0));
  t.variable("state", state_dt, {batches, filters * memory}, quant(s_state, zp_state));
  t.output("y", DType::i8, {batches, filters / rank}, quant(s_out, zp_out));
  t.attr("rank", rank);
  t.attr("fused_activation_function", 1);

  SvdfOracle oracle{batches,
                    input_size,
                    filters,
                    rank,
                    memory,
                    wf,
                    wt,
                    bias,
                    zp_in,
                    zp_state,
                    zp_out,
                    int16_state ? -32768 : -128,
                    int16_state ? 32767 : 127,
                    kernels::quantize_multiplier(static_cast<double>(s_in * s_wf / s_state)),
                    kernels::quantize_multiplier(static_cast<double>(s_state * s_wt / s_out)),
                    {}};
  Session s(t.graph(), {});
  for (uint32_t step = 0; step < 6; ++step) {
    auto x = test::random_values<int8_t>(static_cast<size_t>(batches * input_size), -128, 127,
                                         100 + step);
    s.run(x);
    INFO("run " << step);
    CHECK(s.output<int8_t>(0) == oracle.run(x));
  }
}

TEST_CASE("SVDF float32: exact small-integer case with bias, rank 2 and RELU", "[svdf]") {
  // input_size 2, filters 2 (rank 2: one unit), memory 2. All values are small integers,
  // so every float operation is exact.
  OpTest t(ir::OpType::SVDF);
  t.input("x", DType::f32, {1, 2});
  t.constant("wf", DType::f32, {2, 2}, std::vector<float>{1, 2, -1, 3});
  t.constant("wt", DType::f32, {2, 2}, std::vector<float>{2, 1, -1, 4});
  t.constant("b", DType::f32, {1}, std::vector<float>{0.5f});
  t.variable("state", DType::f32, {1, 4});
  t.output("y", DType::f32, {1, 1});
  t.attr("rank", 2);
  t.attr("fused_activation_function", 1);  // RELU
  Session s(t.graph(), {4});
  // x = [1, 1]: f0 = 3, f1 = 2; state [0, 3, 0, 2]; y = 0.5 + 1 * 3 + 4 * 2 = 11.5.
  s.run(std::vector<float>{1, 1});
  CHECK(s.output<float>(1) == std::vector<float>{0, 3, 0, 2});
  CHECK(s.output<float>(0) == std::vector<float>{11.5f});
  // x = [0, -2]: f0 = -4, f1 = -6; state [3, -4, 2, -6]; y = 0.5 + (6 - 4) + (-2 - 24) = -23.5 ->
  // 0.
  s.run(std::vector<float>{0, -2});
  CHECK(s.output<float>(1) == std::vector<float>{3, -4, 2, -6});
  CHECK(s.output<float>(0) == std::vector<float>{0.0f});
}

TEST_CASE("SVDF float32 without bias and activation NONE", "[svdf]") {
  OpTest t(ir::OpType::SVDF);
  t.input("x", DType::f32, {2, 1});
  t.constant("wf", DType::f32, {1, 1}, std::vector<float>{2});
  t.constant("wt", DType::f32, {1, 3}, std::vector<float>{1, 10, 100});
  t.no_input();
  t.variable("state", DType::f32, {2, 3});
  t.output("y", DType::f32, {2, 1});
  t.attr("rank", 1);
  Session s(t.graph(), {});
  s.run(std::vector<float>{1, -1});
  CHECK(s.output<float>(0) == std::vector<float>{200, -200});
  s.run(std::vector<float>{3, 0});
  CHECK(s.output<float>(0) == std::vector<float>{620, -20});
  s.run(std::vector<float>{0, 0});
  CHECK(s.output<float>(0) == std::vector<float>{62, -2});
}

TEST_CASE("SVDF: invalid models fail at prepare with a clear message", "[svdf]") {
  SECTION("state dtype differs from weights_time") {
    OpTest t = hand_svdf_int16_state();
    t.tensor(4).dtype = DType::i8;
    CHECK_THAT(t.prepare_error(registry()),
               Catch::Contains("activation_state 'state' must be int16, is int8"));
  }
  SECTION("missing state") {
    OpTest t(ir::OpType::SVDF);
    t.input("x", DType::i8, {1, 2}, quant(0.5f, 1));
    t.constant("wf", DType::i8, {2, 2}, std::vector<int8_t>{1, 2, -3, 1}, quant(0.25f, 0));
    t.constant("wt", DType::i16, {2, 3}, std::vector<int16_t>{1, 2, 3, 4, 5, 6}, quant(0.0625f, 0));
    t.no_input();
    t.no_input();
    t.output("y", DType::i8, {1, 2}, quant(1.0f / 64, -3));
    t.attr("rank", 1);
    CHECK_THAT(t.prepare_error(registry()),
               Catch::Contains("activation_state (input 4) is absent"));
  }
  SECTION("state is not a variable tensor") {
    OpTest t = hand_svdf_int16_state();
    t.tensor(4).is_variable = false;
    t.tensor(4).is_constant = true;
    t.tensor(4).data.assign(12, 0);
    CHECK_THAT(t.prepare_error(registry()), Catch::Contains("'state' is not a variable tensor"));
  }
  SECTION("rank does not divide the number of filters") {
    OpTest t = hand_svdf_int16_state();
    t.attr("rank", 3);
    CHECK_THAT(t.prepare_error(registry()),
               Catch::Contains("rank 3 must be in [1, num_filters = 2]"));
    OpTest t2(ir::OpType::SVDF);
    t2.input("x", DType::f32, {1, 1});
    t2.constant("wf", DType::f32, {3, 1}, std::vector<float>{1, 1, 1});
    t2.constant("wt", DType::f32, {3, 1}, std::vector<float>{1, 1, 1});
    t2.no_input();
    t2.variable("state", DType::f32, {1, 3});
    t2.output("y", DType::f32, {1, 1});
    t2.attr("rank", 2);
    CHECK_THAT(
        t2.prepare_error(registry()),
        Catch::Contains("num_filters 3 (weights_feature dim 0) is not a multiple of rank 2"));
  }
  SECTION("state shape") {
    OpTest t = hand_svdf_int16_state();
    t.tensor(4).shape = {1, 4};
    CHECK_THAT(t.prepare_error(registry()),
               Catch::Contains("activation_state 'state' must have shape [1, 6], has [1, 4]"));
  }
  SECTION("bias scale inconsistent with state and weights_time") {
    OpTest t = hand_svdf_int16_state();
    t.tensor(3).quant = quant(0.01f, 0);
    CHECK_THAT(t.prepare_error(registry()), Catch::Contains("bias scale"));
  }
  SECTION("missing quantization") {
    OpTest t = hand_svdf_int16_state();
    t.tensor(2).quant = {};
    CHECK_THAT(t.prepare_error(registry()),
               Catch::Contains("weights_time 'wt' has no quantization parameters"));
  }
  SECTION("int8 SVDF with an activation other than NONE or RELU") {
    OpTest t = hand_svdf_int16_state();
    t.attr("fused_activation_function", 3);
    CHECK_THAT(t.prepare_error(registry()),
               Catch::Contains("fused_activation_function 3 is not supported"));
  }
  SECTION("hybrid: float input with int8 weights") {
    OpTest t(ir::OpType::SVDF);
    t.input("x", DType::f32, {1, 1});
    t.constant("wf", DType::i8, {1, 1}, std::vector<int8_t>{1}, quant(1.0f, 0));
    t.constant("wt", DType::f32, {1, 1}, std::vector<float>{1});
    t.no_input();
    t.variable("state", DType::f32, {1, 1});
    t.output("y", DType::f32, {1, 1});
    t.attr("rank", 1);
    CHECK_THAT(t.prepare_error(registry()), Catch::Contains("hybrid SVDF"));
  }
  SECTION("uint8 input") {
    OpTest t = hand_svdf_int16_state();
    t.tensor(0).dtype = DType::u8;
    CHECK_THAT(t.prepare_error(registry()), Catch::Contains("input dtype uint8 is not supported"));
  }
}

// =======================================================================================
// LSTM nonlinearities

TEST_CASE("LSTM int16 sigmoid and tanh: hand-checked points and accuracy over all inputs",
          "[lstm]") {
  // sigmoid(0) = 0.5; x = 512 (0.125 in Q3.12) lands on table entry 3 exactly:
  // (34813 * 2^9 + 2^9) >> 10 = 17407.
  CHECK(kernels::lstm_sigmoid(0) == 16384);
  CHECK(kernels::lstm_sigmoid(512) == 17407);
  CHECK(kernels::lstm_tanh(0, -12) == 0);
  // Saturation: |x| * 3 >> 8 reaches the end of the table.
  CHECK(kernels::lstm_tanh(32767, -12) == 32767);
  CHECK(kernels::lstm_tanh(-32768, -12) == -32767);

  for (int x = -32768; x <= 32767; ++x) {
    const auto x16 = static_cast<int16_t>(x);
    const double sig = 1.0 / (1.0 + std::exp(-x / 4096.0));
    INFO("x = " << x);
    REQUIRE(std::abs(kernels::lstm_sigmoid(x16) / 32768.0 - sig) < 1.5e-4);
    for (int power : {-15, -12, -11, -9}) {
      INFO("power = " << power);
      REQUIRE(std::abs(kernels::lstm_tanh(x16, power) / 32768.0 - std::tanh(std::ldexp(x, power))) <
              3e-4);
    }
  }
}

// =======================================================================================
// LSTM

namespace {

// Gate order in these tests: input, forget, cell, output (TFLite's input order).
constexpr size_t kInW[4] = {1, 2, 3, 4};
constexpr size_t kRecW[4] = {5, 6, 7, 8};
constexpr size_t kBias[4] = {12, 13, 14, 15};

// The tensors of one LSTM operator, as raw bytes with their dtypes and quantization.
struct LstmCase {
  kernels::LstmDims dims;
  DType act = DType::f32, weight = DType::f32, bias = DType::f32, cell = DType::f32;
  std::array<std::vector<uint8_t>, 4> w_in, w_rec, b;
  std::array<ir::Quantization, 4> q_w_in, q_w_rec, q_b;
  ir::Quantization q_in, q_hidden, q_cell;
  float cell_clip = 0.0f;
};

struct BuiltLstm {
  OpTest t{ir::OpType::UNIDIRECTIONAL_SEQUENCE_LSTM};
  std::array<int, 24> ids{};
};

// Adds TFLite's 24 inputs in order. `hook(i, t)` may add input i itself (returning true),
// e.g. to make it absent or give it other properties.
BuiltLstm build_lstm(const LstmCase& c, const std::function<bool(size_t, OpTest&)>& hook = {}) {
  BuiltLstm m;
  OpTest& t = m.t;
  const auto& d = c.dims;
  const std::vector<int32_t> seq = d.time_major ? std::vector<int32_t>{d.time_steps, d.batches}
                                                : std::vector<int32_t>{d.batches, d.time_steps};
  for (size_t i = 0; i < 24; ++i) {
    m.ids[i] = -2;
    if (hook && hook(i, t)) continue;
    int id = ir::kNoTensor;
    for (size_t g = 0; g < 4; ++g) {
      if (i == kInW[g])
        id = t.constant("w_in" + std::to_string(g), c.weight, {d.state_size, d.input_size},
                        c.w_in[g], c.q_w_in[g]);
      if (i == kRecW[g])
        id = t.constant("w_rec" + std::to_string(g), c.weight, {d.state_size, d.state_size},
                        c.w_rec[g], c.q_w_rec[g]);
      if (i == kBias[g])
        id = t.constant("b" + std::to_string(g), c.bias, {d.state_size}, c.b[g], c.q_b[g]);
    }
    if (i == 0) id = t.input("x", c.act, {seq[0], seq[1], d.input_size}, c.q_in);
    if (i == 18) id = t.variable("hidden", c.act, {d.batches, d.state_size}, c.q_hidden);
    if (i == 19) id = t.variable("cell", c.cell, {d.batches, d.state_size}, c.q_cell);
    if (id == ir::kNoTensor) t.no_input();
    m.ids[i] = id;
  }
  t.output("y", c.act, {seq[0], seq[1], d.state_size}, c.q_hidden);
  t.attr("fused_activation_function", 4);
  t.attr("cell_clip", ir::AttrValue{static_cast<double>(c.cell_clip)});
  t.attr("time_major", d.time_major ? 1 : 0);
  return m;
}

// TFLite Micro's LSTM test model (testdata/lstm_test_data.cc): 2 batches, 3 time steps,
// input and state size 2, batch-major, cell clip 6.
struct RealLstm {
  kernels::LstmDims dims{2, 3, 2, 2, false};
  std::array<std::vector<float>, 4> w_in{
      {{10, 10, 20, 20}, {-10, -10, -20, -20}, {1, 1, 1, 1}, {1, 1, 1, 1}}};
  std::array<std::vector<float>, 4> w_rec = w_in;
  std::array<std::vector<float>, 4> b{{{-1, -2}, {1, 2}, {0, 0}, {0, 0}}};
  float cell_clip = 6.0f;
  std::vector<float> input{0.2f,   0.3f,  0.2f,  0.3f,  0.2f,  0.3f,
                           -0.98f, 0.62f, 0.01f, 0.99f, 0.49f, -0.32f};
  // Expected after one run from zero states.
  std::vector<float> output{0.26455893f, 0.26870455f, 0.47935803f,     0.47937014f,
                            0.58013272f, 0.58013278f, -1.41184672e-3f, -1.43329117e-5f,
                            0.46887168f, 0.46891281f, 0.50054074f,     0.50054148f};
  std::vector<float> hidden{0.58013272f, 0.58013278f, 0.50054074f, 0.50054148f};
  std::vector<float> cell{0.89740515f, 0.8974053f, 0.80327607f, 0.80327785f};
};

LstmCase float_case(const RealLstm& r) {
  LstmCase c;
  c.dims = r.dims;
  c.cell_clip = r.cell_clip;
  for (size_t g = 0; g < 4; ++g) {
    c.w_in[g] = as_bytes(r.w_in[g]);
    c.w_rec[g] = as_bytes(r.w_rec[g]);
    c.b[g] = as_bytes(r.b[g]);
  }
  return c;
}

// TFLite Micro's quantization settings for that model (Get2X2Int8/Int16LstmQuantizationSettings).
struct LstmQuantSettings {
  DType act, bias;
  float s_in;
  int32_t zp_in;
  float s_hidden;
  int32_t zp_hidden;
  float s_cell;
  std::array<float, 4> s_w, s_b;  // per gate
};

template <typename Act, typename Bias>
LstmCase quantized_case(const RealLstm& r, const LstmQuantSettings& q) {
  LstmCase c;
  c.dims = r.dims;
  c.cell_clip = r.cell_clip;
  c.act = q.act;
  c.weight = DType::i8;
  c.bias = q.bias;
  c.cell = DType::i16;
  c.q_in = quant(q.s_in, q.zp_in);
  c.q_hidden = quant(q.s_hidden, q.zp_hidden);
  c.q_cell = quant(q.s_cell, 0);
  for (size_t g = 0; g < 4; ++g) {
    c.w_in[g] = as_bytes(quantize_values<int8_t>(r.w_in[g], q.s_w[g], 0));
    c.w_rec[g] = as_bytes(quantize_values<int8_t>(r.w_rec[g], q.s_w[g], 0));
    c.b[g] = as_bytes(quantize_values<Bias>(r.b[g], q.s_b[g], 0));
    c.q_w_in[g] = c.q_w_rec[g] = quant(q.s_w[g], 0);
    c.q_b[g] = quant(q.s_b[g], 0);
  }
  return c;
}

LstmQuantSettings tflm_int8_settings() {
  // Gate order: input, forget, cell, output.
  return {
      DType::i8,
      DType::i32,
      0.00784313725490196f,
      0,
      0.004705882165580988f,
      -21,
      0.00024414062f,
      {0.15748031496062992f, 0.15748031496062992f, 0.007874015748031496f, 0.007874015748031496f},
      {0.0012351397251814111f, 0.0012351397251814111f, 6.175698625907056e-5f,
       6.175698625907056e-5f}};
}

LstmQuantSettings tflm_int16_settings() {
  return {
      DType::i16,
      DType::i64,
      3.0518044e-5f,
      0,
      2.1362956633198035e-05f,
      0,
      0.00024414062f,
      {0.15748031496062992f, 0.15748031496062992f, 0.007874015748031496f, 0.007874015748031496f},
      {4.8059911474468205e-06f, 4.8059911474468205e-06f, 2.40299557372341e-07f,
       2.40299557372341e-07f}};
}

// A straightforward integer LSTM (8-bit activations), time-outer, with every multiplier
// derived here from the scales.
struct Int8LstmOracle {
  kernels::LstmDims d;
  std::array<std::vector<int8_t>, 4> w_in, w_rec;
  std::array<std::vector<int32_t>, 4> bias;
  float s_in, s_hidden, s_cell;
  int32_t zp_in, zp_hidden;
  std::array<float, 4> s_w;
  float cell_clip;
  std::vector<int32_t> h, c;

  std::vector<int8_t> run(const std::vector<int8_t>& x) {
    const int B = d.batches, T = d.time_steps, I = d.input_size, S = d.state_size;
    if (h.empty()) {
      h.assign(static_cast<size_t>(B * S), zp_hidden);
      c.assign(static_cast<size_t>(B * S), 0);
    }
    int cell_power = 0;
    std::frexp(s_cell, &cell_power);
    cell_power -= 1;
    std::array<kernels::QuantizedMultiplier, 4> m_in, m_rec;
    for (size_t g = 0; g < 4; ++g) {
      m_in[g] = kernels::quantize_multiplier(static_cast<double>(s_in * s_w[g]) * 4096.0);
      m_rec[g] = kernels::quantize_multiplier(static_cast<double>(s_hidden * s_w[g]) * 4096.0);
    }
    const auto m_fc = kernels::quantize_multiplier(1.0 / 32768.0);
    const auto m_ig =
        kernels::quantize_multiplier(1.0 / (32768.0 * 32768.0 * static_cast<double>(s_cell)));
    const auto m_h =
        kernels::quantize_multiplier(1.0 / (32768.0 * 32768.0 * static_cast<double>(s_hidden)));
    const int32_t clip =
        static_cast<int32_t>(static_cast<double>(cell_clip) / static_cast<double>(s_cell));

    std::vector<int8_t> out(static_cast<size_t>(B * T * S));
    for (int t = 0; t < T; ++t) {
      for (int b = 0; b < B; ++b) {
        const int row = d.time_major ? t * B + b : b * T + t;
        std::array<std::vector<int32_t>, 4> gate;
        for (size_t g = 0; g < 4; ++g) {
          for (int s = 0; s < S; ++s) {
            int64_t acc_in = bias[g][static_cast<size_t>(s)], acc_rec = 0;
            for (int i = 0; i < I; ++i)
              acc_in += w_in[g][static_cast<size_t>(s * I + i)] *
                        (x[static_cast<size_t>(row * I + i)] - zp_in);
            for (int k = 0; k < S; ++k)
              acc_rec += w_rec[g][static_cast<size_t>(s * S + k)] *
                         (h[static_cast<size_t>(b * S + k)] - zp_hidden);
            const int32_t pre =
                sat<int16_t>(sat<int16_t>(mbqm(static_cast<int32_t>(acc_in), m_in[g])) +
                             sat<int16_t>(mbqm(static_cast<int32_t>(acc_rec), m_rec[g])));
            gate[g].push_back(g == 2 ? kernels::lstm_tanh(static_cast<int16_t>(pre), -12)
                                     : kernels::lstm_sigmoid(static_cast<int16_t>(pre)));
          }
        }
        for (int s = 0; s < S; ++s) {
          int32_t& cs = c[static_cast<size_t>(b * S + s)];
          const auto us = static_cast<size_t>(s);
          int32_t next = sat<int16_t>(sat<int16_t>(mbqm(gate[1][us] * cs, m_fc)) +
                                      sat<int16_t>(mbqm(gate[0][us] * gate[2][us], m_ig)));
          if (cell_clip > 0.0f) next = std::min(std::max(next, -clip), clip);
          cs = next;
          const int32_t th = kernels::lstm_tanh(static_cast<int16_t>(cs), cell_power);
          h[static_cast<size_t>(b * S + s)] = sat<int8_t>(zp_hidden + mbqm(th * gate[3][us], m_h));
          out[static_cast<size_t>(row * S + s)] =
              static_cast<int8_t>(h[static_cast<size_t>(b * S + s)]);
        }
      }
    }
    return out;
  }
};

// A random int8 LSTM with asymmetric input and hidden state, a cell scale of 2^-11 and a
// cell clip that engages.
struct RandomInt8Lstm {
  LstmCase c;
  Int8LstmOracle oracle;
};

RandomInt8Lstm random_int8_lstm(bool time_major) {
  RandomInt8Lstm r;
  kernels::LstmDims d{2, 3, 3, 4, time_major};
  const float s_in = 0.05f, s_hidden = 0.008f, s_cell = 1.0f / 2048;
  const std::array<float, 4> s_w{0.02f, 0.03f, 0.025f, 0.015f};
  const int32_t zp_in = 5, zp_hidden = -7;
  const float clip = 1.25f;
  LstmCase& c = r.c;
  c.dims = d;
  c.act = DType::i8;
  c.weight = DType::i8;
  c.bias = DType::i32;
  c.cell = DType::i16;
  c.q_in = quant(s_in, zp_in);
  c.q_hidden = quant(s_hidden, zp_hidden);
  c.q_cell = quant(s_cell, 0);
  c.cell_clip = clip;
  Int8LstmOracle& o = r.oracle;
  o = Int8LstmOracle{d, {}, {}, {}, s_in, s_hidden, s_cell, zp_in, zp_hidden, s_w, clip, {}, {}};
  for (size_t g = 0; g < 4; ++g) {
    const auto seed = static_cast<uint32_t>(20 + 3 * g);
    o.w_in[g] = test::random_values<int8_t>(static_cast<size_t>(d.state_size * d.input_size), -127,
                                            127, seed);
    o.w_rec[g] = test::random_values<int8_t>(static_cast<size_t>(d.state_size * d.state_size), -127,
                                             127, seed + 1);
    o.bias[g] =
        test::random_values<int32_t>(static_cast<size_t>(d.state_size), -3000, 3000, seed + 2);
    c.w_in[g] = as_bytes(o.w_in[g]);
    c.w_rec[g] = as_bytes(o.w_rec[g]);
    c.b[g] = as_bytes(o.bias[g]);
    c.q_w_in[g] = c.q_w_rec[g] = quant(s_w[g], 0);
    c.q_b[g] = quant(s_in * s_w[g], 0);
  }
  return r;
}

}  // namespace

TEST_CASE("LSTM float32: TFLite Micro's test vectors", "[lstm]") {
  const RealLstm r;
  BuiltLstm m = build_lstm(float_case(r));
  Session s(m.t.graph(), {m.ids[18], m.ids[19]});
  s.run(r.input);
  check_near(s.output<float>(0), r.output, 1e-6f);
  check_near(s.output<float>(1), r.hidden, 1e-6f);
  check_near(s.output<float>(2), r.cell, 1e-6f);
}

TEST_CASE("LSTM float32: time-major layout gives the same values transposed", "[lstm]") {
  const RealLstm r;
  LstmCase c = float_case(r);
  c.dims.time_major = true;
  // [batch, time, input] -> [time, batch, input]
  std::vector<float> x(r.input.size());
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 3; ++t)
      for (int i = 0; i < 2; ++i)
        x[static_cast<size_t>((t * 2 + b) * 2 + i)] =
            r.input[static_cast<size_t>((b * 3 + t) * 2 + i)];
  BuiltLstm m = build_lstm(c);
  Session s(m.t.graph(), {});
  s.run(x);
  const auto y = s.output<float>(0);
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 3; ++t)
      for (int k = 0; k < 2; ++k) {
        INFO("b " << b << " t " << t << " k " << k);
        CHECK(std::abs(y[static_cast<size_t>((t * 2 + b) * 2 + k)] -
                       r.output[static_cast<size_t>((b * 3 + t) * 2 + k)]) <= 1e-6f);
      }
}

TEST_CASE("LSTM int8 (8x8->16): TFLite Micro's test vectors within its tolerance", "[lstm]") {
  const RealLstm r;
  const LstmQuantSettings q = tflm_int8_settings();
  BuiltLstm m = build_lstm(quantized_case<int8_t, int32_t>(r, q));
  Session s(m.t.graph(), {m.ids[18], m.ids[19]});
  s.run(quantize_values<int8_t>(r.input, q.s_in, q.zp_in));
  check_near(dequantize_values(s.output<int8_t>(0), q.s_hidden, q.zp_hidden), r.output, 1e-2f);
  check_near(dequantize_values(s.output<int8_t>(1), q.s_hidden, q.zp_hidden), r.hidden, 1e-2f);
  check_near(dequantize_values(s.output<int16_t>(2), q.s_cell, 0), r.cell, 1e-2f);
}

TEST_CASE("LSTM int16 (16x8->16): TFLite Micro's test vectors within its tolerance", "[lstm]") {
  const RealLstm r;
  const LstmQuantSettings q = tflm_int16_settings();
  BuiltLstm m = build_lstm(quantized_case<int16_t, int64_t>(r, q));
  Session s(m.t.graph(), {m.ids[18], m.ids[19]});
  s.run(quantize_values<int16_t>(r.input, q.s_in, 0));
  check_near(dequantize_values(s.output<int16_t>(0), q.s_hidden, 0), r.output, 1e-3f);
  check_near(dequantize_values(s.output<int16_t>(1), q.s_hidden, 0), r.hidden, 1e-3f);
  check_near(dequantize_values(s.output<int16_t>(2), q.s_cell, 0), r.cell, 1e-2f);
}

TEST_CASE("LSTM int8: exact match with an independent oracle; state persists, reset works",
          "[lstm]") {
  const bool time_major = GENERATE(false, true);
  RandomInt8Lstm r = random_int8_lstm(time_major);
  BuiltLstm m = build_lstm(r.c);
  Session s(m.t.graph(), {m.ids[18], m.ids[19]});
  const auto x = test::random_values<int8_t>(18, -128, 127, 77);

  s.run(x);
  const auto first = s.output<int8_t>(0);
  CHECK(first == r.oracle.run(x));
  std::vector<int8_t> hidden(r.oracle.h.begin(), r.oracle.h.end());
  std::vector<int16_t> cell(r.oracle.c.begin(), r.oracle.c.end());
  CHECK(s.output<int8_t>(1) == hidden);
  CHECK(s.output<int16_t>(2) == cell);
  // The clip (1.25 -> 2560 in Q4.11) engages somewhere, so the test covers it.
  bool clipped = false;
  for (int16_t v : cell) clipped = clipped || std::abs(v) == 2560;
  CHECK(clipped);

  // Same input again: the state carried over changes the output.
  s.run(x);
  const auto second = s.output<int8_t>(0);
  CHECK(second != first);
  CHECK(second == r.oracle.run(x));

  s.reset();
  s.run(x);
  CHECK(s.output<int8_t>(0) == first);
}

TEST_CASE("LSTM: unsupported variants and invalid models fail at prepare", "[lstm]") {
  const RealLstm r;
  const LstmCase c8 = quantized_case<int8_t, int32_t>(r, tflm_int8_settings());
  auto absent = [](std::vector<size_t> which) {
    return [which](size_t i, OpTest& t) {
      for (size_t w : which)
        if (w == i) {
          t.no_input();
          return true;
        }
      return false;
    };
  };
  auto extra_vector = [](std::vector<size_t> which) {
    return [which](size_t i, OpTest& t) {
      for (size_t w : which)
        if (w == i) {
          t.constant("extra" + std::to_string(i), DType::i16, {2}, std::vector<int16_t>{1, 1},
                     quant(1.0f, 0));
          return true;
        }
      return false;
    };
  };
  auto error_of = [&](const LstmCase& c, const std::function<bool(size_t, OpTest&)>& hook) {
    BuiltLstm m = build_lstm(c, hook);
    return m.t.prepare_error(registry());
  };

  SECTION("the valid model prepares") { CHECK(error_of(c8, {}).empty()); }
  SECTION("CIFG") {
    CHECK_THAT(error_of(c8, absent({1, 5})),
               Catch::Contains("unsupported LSTM variant: CIFG") &&
                   Catch::Contains(
                       "only the LSTM without CIFG, peephole, projection and layer normalization"));
  }
  SECTION("peephole") {
    CHECK_THAT(error_of(c8, extra_vector({9, 10, 11})),
               Catch::Contains("unsupported LSTM variant: peephole"));
  }
  SECTION("projection") {
    CHECK_THAT(error_of(c8, extra_vector({17})),
               Catch::Contains("unsupported LSTM variant: projection"));
  }
  SECTION("layer normalization") {
    CHECK_THAT(error_of(c8, extra_vector({20, 21, 22, 23})),
               Catch::Contains("unsupported LSTM variant: layer normalization"));
  }
  SECTION("several variants are all named") {
    CHECK_THAT(error_of(c8,
                        [&](size_t i, OpTest& t) {
                          return absent({1, 5})(i, t) || extra_vector({9})(i, t);
                        }),
               Catch::Contains("CIFG (input gate weights, inputs 1 and 5, absent), peephole"));
  }
  SECTION("missing cell state") {
    CHECK_THAT(error_of(c8, absent({19})), Catch::Contains("cell_state (input 19) is absent"));
  }
  SECTION("hidden state not variable") {
    BuiltLstm m = build_lstm(c8);
    ir::Tensor& hidden = m.t.tensor(m.ids[18]);
    hidden.is_variable = false;
    hidden.is_constant = true;
    hidden.data.assign(4, 0);
    CHECK_THAT(m.t.prepare_error(registry()),
               Catch::Contains("output_state 'hidden' is not a variable tensor"));
  }
  SECTION("only 19 inputs") {
    BuiltLstm m = build_lstm(c8);
    ir::Graph g = m.t.graph();
    g.ops[0].inputs.resize(19);
    std::string err;
    try {
      cpu::Executor ex(g, registry());
    } catch (const Error& e) {
      err = e.what();
    }
    CHECK_THAT(err, Catch::Contains("expects 24 inputs"));
  }
  SECTION("cell gate activation other than TANH") {
    BuiltLstm m = build_lstm(c8);
    m.t.attr("fused_activation_function", 1);
    CHECK_THAT(
        m.t.prepare_error(registry()),
        Catch::Contains(
            "fused_activation_function 1 is not supported: the cell gate activation must be TANH"));
  }
  SECTION("diagonal recurrent weights") {
    BuiltLstm m = build_lstm(c8);
    m.t.attr("diagonal_recurrent_tensors", 1);
    CHECK_THAT(m.t.prepare_error(registry()), Catch::Contains("diagonal recurrent weights"));
  }
  SECTION("negative cell clip") {
    LstmCase c = c8;
    c.cell_clip = -1.0f;
    CHECK_THAT(error_of(c, {}), Catch::Contains("cell_clip -1.000000 is negative"));
  }
  SECTION("cell state scale not a power of two") {
    LstmCase c = c8;
    c.q_cell = quant(0.0003f, 0);
    CHECK_THAT(error_of(c, {}),
               Catch::Contains("cell_state scale 0.000300 must be a power of two"));
  }
  SECTION("cell state of the wrong dtype") {
    LstmCase c = c8;
    c.cell = DType::i8;
    CHECK_THAT(error_of(c, {}),
               Catch::Contains("int8 LSTM: cell_state 'cell' must be int16, is int8"));
  }
  SECTION("per-channel weights") {
    BuiltLstm m = build_lstm(c8);
    m.t.tensor(m.ids[3]).quant = test::quant_per_axis({0.1f, 0.2f}, 0);
    CHECK_THAT(m.t.prepare_error(registry()),
               Catch::Contains("input_to_cell_weights 'w_in2' is quantized per channel"));
  }
  SECTION("weights of the wrong shape") {
    BuiltLstm m = build_lstm(c8);
    m.t.tensor(m.ids[7]).shape = {2, 1};
    m.t.tensor(m.ids[7]).data.resize(2);
    CHECK_THAT(
        m.t.prepare_error(registry()),
        Catch::Contains("recurrent_to_cell_weights 'w_rec2' must have shape [2, 2], has [2, 1]"));
  }
  SECTION("int16 activations with a zero point") {
    LstmCase c = quantized_case<int16_t, int64_t>(r, tflm_int16_settings());
    c.q_in = quant(3.0518044e-5f, 3);
    CHECK_THAT(error_of(c, {}),
               Catch::Contains("int16 LSTM: input and output_state must be symmetric"));
  }
  SECTION("hybrid: float input with int8 weights") {
    LstmCase c = c8;
    c.act = DType::f32;
    c.cell = DType::f32;
    c.q_in = c.q_hidden = c.q_cell = {};
    CHECK_THAT(
        error_of(c, {}),
        Catch::Contains("float32 LSTM: input_to_input_weights 'w_in0' must be float32, is int8"));
  }
}
