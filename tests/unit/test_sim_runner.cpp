// The NPU runtime (tessel::npu::SimRunner) on hand-built loadables: NPU jobs against the
// reference kernels, NPU -> CPU -> NPU chains, hardware-hash and input checks, errors
// naming layers, per-layer timing, reproducibility, the Chrome trace; and
// SimpleHost::map_at, which the runner maps regions with.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tessel/compiler/loadable.hpp"
#include "tessel/kernels/conv.hpp"
#include "tessel/npu/sim_runner.hpp"
#include "tessel/sim/npu/simple_host.hpp"
#include "tessel_isa_commands.hpp"
#include "tessel_npu_isa.h"

namespace {

namespace isa = tessel::isa;
namespace k = tessel::kernels;
namespace ir = tessel::ir;
using tessel::compiler::Loadable;
using tessel::compiler::Region;
using tessel::npu::RunResult;
using tessel::npu::SimRunner;
using tessel::sim::npu::NpuConfig;
using Catch::Matchers::Contains;

const NpuConfig& config() {
  static const NpuConfig c = tessel::sim::npu::load_npu_preset_or_file("default");
  return c;
}

size_t perf(isa::Perf p) { return static_cast<size_t>(p); }

// Where the hand-built loadables put their regions (4 KiB aligned, as the compiler does).
constexpr uint32_t kConstVa = 0x10000000;
constexpr uint32_t kArenaVa = 0x20000000;
// SRAM layout of every conv layer below.
constexpr uint32_t kSramIn = 0, kSramW = 0x40000, kSramQp = 0x80000, kSramOut = 0xC0000;

// An int8 convolution (SAME padding, stride 1, batch 1) with random weights and
// per-channel requantization, and its reference result from the CPU kernels.
struct ConvLayer {
  int h = 0, w = 0, cin = 0, cout = 0, kernel = 1;
  int32_t in_zp = -3, out_zp = 5;
  std::vector<int8_t> weights;  // [cout][kernel][kernel][cin]
  std::vector<int32_t> qp;      // per output channel {bias, multiplier, shift}
  std::vector<int32_t> bias;
  k::RequantParams rq;

  size_t in_bytes() const { return static_cast<size_t>(h * w * cin); }
  size_t out_bytes() const { return static_cast<size_t>(h * w * cout); }

  std::vector<int8_t> reference(const std::vector<int8_t>& input) const {
    k::ConvParams p;
    p.pad_top = p.pad_left = kernel / 2;
    p.input_offset = -in_zp;
    std::vector<int8_t> out(out_bytes());
    k::conv_2d(p, rq, k::Shape{1, h, w, cin}, input.data(), k::Shape{cout, kernel, kernel, cin},
               weights.data(), bias.data(), k::Shape{1, h, w, cout}, out.data());
    return out;
  }

  // MACs the convolution performs, padding taps excluded.
  uint64_t macs() const {
    uint64_t taps = 0;
    const int pad = kernel / 2;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int ky = 0; ky < kernel; ++ky)
          for (int kx = 0; kx < kernel; ++kx) {
            const int iy = y - pad + ky, ix = x - pad + kx;
            if (iy >= 0 && iy < h && ix >= 0 && ix < w) ++taps;
          }
    return taps * static_cast<uint64_t>(cin) * static_cast<uint64_t>(cout);
  }

  isa::Conv command(uint32_t out_addr = kSramOut) const {
    isa::Conv c;
    c.in_signed = c.w_signed = c.out_signed = 1;
    c.depth_multiplier = 1;
    c.in_addr = kSramIn;
    c.in_h = c.out_h = static_cast<uint16_t>(h);
    c.in_w = c.out_w = static_cast<uint16_t>(w);
    c.in_c = c.in_pixel_stride = static_cast<uint16_t>(cin);
    c.out_c = c.out_pixel_stride = static_cast<uint16_t>(cout);
    c.kernel_h = c.kernel_w = static_cast<uint8_t>(kernel);
    c.stride_h = c.stride_w = c.dilation_h = c.dilation_w = 1;
    c.pad_top = c.pad_left = static_cast<uint8_t>(kernel / 2);
    c.w_addr = kSramW;
    c.qp_addr = kSramQp;
    c.out_addr = out_addr;
    c.in_zp = static_cast<int16_t>(in_zp);
    c.w_zp = 0;
    c.out_zp = static_cast<int16_t>(out_zp);
    c.act_min = -128;
    c.act_max = 127;
    return c;
  }
};

ConvLayer make_conv(int h, int w, int cin, int cout, int kernel, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(-128, 127);
  std::uniform_int_distribution<int32_t> mult(1 << 30, INT32_MAX), bias(-4000, 4000);
  std::uniform_int_distribution<int> shift(-10, -7);
  ConvLayer c;
  c.h = h, c.w = w, c.cin = cin, c.cout = cout, c.kernel = kernel;
  c.weights.resize(static_cast<size_t>(cout * kernel * kernel * cin));
  for (auto& v : c.weights) v = static_cast<int8_t>(byte(rng));
  c.rq.output_offset = c.out_zp;
  c.rq.act_min = -128;
  c.rq.act_max = 127;
  for (int oc = 0; oc < cout; ++oc) {
    c.bias.push_back(bias(rng));
    c.rq.multiplier.push_back(mult(rng));
    c.rq.shift.push_back(shift(rng));
    c.qp.insert(c.qp.end(), {c.bias.back(), c.rq.multiplier.back(), c.rq.shift.back()});
  }
  return c;
}

std::vector<int8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> byte(-128, 127);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = static_cast<int8_t>(byte(rng));
  return v;
}

isa::DmaLoad load(uint32_t dram, uint32_t sram, size_t bytes) {
  isa::DmaLoad d;
  d.dram_addr = dram;
  d.sram_addr = sram;
  d.len0 = static_cast<uint32_t>(bytes);
  d.n1 = d.n2 = d.n3 = 1;
  return d;
}

isa::DmaStore store(uint32_t dram, uint32_t sram, size_t bytes) {
  isa::DmaStore d;
  d.dram_addr = dram;
  d.sram_addr = sram;
  d.len0 = static_cast<uint32_t>(bytes);
  d.n1 = d.n2 = d.n3 = 1;
  return d;
}

constexpr uint8_t kDmaIn = 0, kDmaOut = 1, kMac = 2;

// Builds a Loadable the way the compiler would: one constant region, one arena, a tensor
// table, NPU segments of encoded commands, CPU segments, steps and layers.
class Builder {
 public:
  Builder() {
    l_.model = "hand-built";
    l_.hardware_name = config().name;
    l_.hardware_hash = tessel::sim::npu::npu_config_hash(config());
    l_.regions.resize(2);
    l_.regions[0].name = "weights";
    l_.regions[0].kind = Region::Kind::constant;
    l_.regions[0].va = kConstVa;
    l_.regions[1].name = "arena";
    l_.regions[1].kind = Region::Kind::arena;
    l_.regions[1].va = kArenaVa;
  }

  // Appends constant data; returns its NPU address.
  uint32_t constant(const void* data, size_t n) {
    auto& d = l_.regions[0].data;
    d.resize((d.size() + 63) / 64 * 64);
    const auto off = static_cast<uint32_t>(d.size());
    d.insert(d.end(), static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + n);
    return kConstVa + off;
  }
  // An arena tensor; returns its tensor table index.
  uint32_t tensor(const std::string& name, std::vector<int32_t> shape, float scale, int64_t zp) {
    tessel::compiler::TensorEntry t;
    t.name = name;
    t.dtype = ir::DType::i8;
    t.shape = std::move(shape);
    t.quant.scale = {scale};
    t.quant.zero_point = {zp};
    t.region = 1;
    t.offset = arena_;
    t.bytes = 1;
    for (int32_t d : t.shape) t.bytes *= static_cast<uint32_t>(d);
    arena_ = (arena_ + t.bytes + 63) / 64 * 64;
    l_.tensors.push_back(t);
    return static_cast<uint32_t>(l_.tensors.size() - 1);
  }
  uint32_t va(uint32_t tensor) const { return kArenaVa + l_.tensors[tensor].offset; }

  void begin_npu() { npu_first_ = static_cast<uint32_t>(l_.commands.size()); }
  void end_npu() {
    emit(isa::End{});
    l_.npu_segments.push_back({npu_first_, static_cast<uint32_t>(l_.commands.size()) - npu_first_});
    l_.steps.push_back({tessel::compiler::Step::Kind::npu,
                        static_cast<uint32_t>(l_.npu_segments.size() - 1)});
  }
  void emit(const isa::Command& c) { isa::encode(c, l_.commands); }
  void begin_layer(const std::string& name, const std::string& op, uint64_t macs = 0) {
    tessel::compiler::Layer y;
    y.name = name;
    y.op = op;
    y.macs = macs;
    y.first_word = static_cast<uint32_t>(l_.commands.size());
    y.bound = "compute";
    y.estimated_cycles = 1234;
    l_.layers.push_back(y);
  }
  void end_layer() {
    auto& y = l_.layers.back();
    y.word_count = static_cast<uint32_t>(l_.commands.size()) - y.first_word;
  }

  // One NPU layer: load input, weights and requantization records, convolve, store.
  void conv_layer(const std::string& name, const ConvLayer& c, uint32_t in, uint32_t out) {
    const uint32_t w = constant(c.weights.data(), c.weights.size());
    const uint32_t qp = constant(c.qp.data(), c.qp.size() * 4);
    begin_layer(name, "CONV_2D", c.macs());
    emit(load(va(in), kSramIn, c.in_bytes()));
    emit(load(w, kSramW, c.weights.size()));
    emit(load(qp, kSramQp, c.qp.size() * 4));
    emit(isa::SemSignal{kDmaIn, 0, 0});
    emit(isa::SemWait{kMac, 0, 0});
    emit(c.command());
    emit(isa::SemSignal{kMac, 1, 0});
    emit(isa::SemWait{kDmaOut, 1, 0});
    emit(store(va(out), kSramOut, c.out_bytes()));
    end_layer();
  }

  void cpu_segment(ir::Graph g, std::vector<uint32_t> ins, std::vector<uint32_t> outs,
                   const std::string& layer, const std::string& op) {
    begin_layer(layer, op);
    end_layer();
    l_.layers.back().bound = "";
    tessel::compiler::CpuSegment s;
    s.graph = std::move(g);
    s.inputs = std::move(ins);
    s.outputs = std::move(outs);
    s.reasons = {op + " has no NPU command"};
    l_.cpu_segments.push_back(std::move(s));
    l_.steps.push_back({tessel::compiler::Step::Kind::cpu,
                        static_cast<uint32_t>(l_.cpu_segments.size() - 1)});
  }

  Loadable finish(std::vector<uint32_t> inputs, std::vector<uint32_t> outputs) {
    l_.regions[0].data.resize((l_.regions[0].data.size() + 4095) / 4096 * 4096);
    l_.regions[0].bytes = static_cast<uint32_t>(l_.regions[0].data.size());
    l_.regions[1].bytes = (arena_ + 4095) / 4096 * 4096;
    l_.inputs = std::move(inputs);
    l_.outputs = std::move(outputs);
    return l_;
  }

 private:
  Loadable l_;
  uint32_t arena_ = 0;
  uint32_t npu_first_ = 0;
};

// A one-operator int8 graph for a CPU segment: tensor 0 is its input, tensor 1 its output.
ir::Graph one_op_graph(ir::OpType type, const std::string& name, std::vector<int32_t> in_shape,
                       ir::Quantization in_q, std::vector<int32_t> out_shape,
                       ir::Quantization out_q, ir::Attrs attrs) {
  ir::Graph g;
  g.source = "cpu segment " + name;
  ir::Tensor in, out;
  in.name = name + "/in";
  out.name = name + "/out";
  in.dtype = out.dtype = ir::DType::i8;
  in.shape = std::move(in_shape);
  out.shape = std::move(out_shape);
  in.quant = std::move(in_q);
  out.quant = std::move(out_q);
  g.tensors = {in, out};
  ir::Op op;
  op.type = type;
  op.type_name = ir::op_type_name(type);
  op.name = name;
  op.inputs = {0};
  op.outputs = {1};
  op.attrs = std::move(attrs);
  g.ops = {op};
  g.inputs = {0};
  g.outputs = {1};
  return g;
}

ir::Quantization quant(float scale, int64_t zp) {
  ir::Quantization q;
  q.scale = {scale};
  q.zero_point = {zp};
  return q;
}

// ---- the models --------------------------------------------------------------------------

// One NPU segment, one layer: a 3x3 convolution.
struct SingleConv {
  ConvLayer conv = make_conv(12, 10, 16, 24, 3, 11);
  Loadable loadable;
  SingleConv() {
    Builder b;
    const uint32_t in = b.tensor("input", {1, 12, 10, 16}, 0.5f, -3);
    const uint32_t out = b.tensor("output", {1, 12, 10, 24}, 0.25f, 5);
    b.begin_npu();
    b.conv_layer("conv1", conv, in, out);
    b.end_npu();  // END lies outside every layer
    loadable = b.finish({in}, {out});
  }
};

// NPU conv 3x3 -> CPU MAX_POOL_2D 2x2/2 -> NPU conv 1x1 -> CPU SOFTMAX.
struct Chain {
  static constexpr float kLogitScale = 0.125f;
  ConvLayer conv_a = make_conv(8, 8, 8, 16, 3, 21);
  ConvLayer conv_b = make_conv(4, 4, 16, 10, 1, 22);
  Loadable loadable;
  Chain() {
    Builder b;
    const uint32_t in = b.tensor("image", {1, 8, 8, 8}, 0.5f, conv_a.in_zp);
    const uint32_t t1 = b.tensor("conv_a", {1, 8, 8, 16}, 0.25f, conv_a.out_zp);
    const uint32_t t2 = b.tensor("pool", {1, 4, 4, 16}, 0.25f, conv_a.out_zp);
    const uint32_t t3 = b.tensor("logits", {1, 4, 4, 10}, kLogitScale, conv_b.out_zp);
    const uint32_t t4 = b.tensor("probs", {1, 4, 4, 10}, 1.0f / 256, -128);
    conv_b.in_zp = conv_a.out_zp;  // conv_b reads the pooled conv_a output
    b.begin_npu();
    b.conv_layer("conv_a", conv_a, in, t1);
    b.end_npu();
    ir::Attrs pool;
    pool.set("padding", int64_t{static_cast<int>(ir::Padding::valid)});
    pool.set("stride_h", int64_t{2});
    pool.set("stride_w", int64_t{2});
    pool.set("filter_height", int64_t{2});
    pool.set("filter_width", int64_t{2});
    pool.set("fused_activation_function", int64_t{0});
    b.cpu_segment(one_op_graph(ir::OpType::MAX_POOL_2D, "pool", {1, 8, 8, 16},
                               quant(0.25f, conv_a.out_zp), {1, 4, 4, 16},
                               quant(0.25f, conv_a.out_zp), pool),
                  {t1}, {t2}, "pool", "MAX_POOL_2D");
    b.begin_npu();
    b.conv_layer("conv_b", conv_b, t2, t3);
    b.end_npu();
    ir::Attrs softmax;
    softmax.set("beta", 1.0);
    b.cpu_segment(one_op_graph(ir::OpType::SOFTMAX, "softmax", {1, 4, 4, 10},
                               quant(kLogitScale, conv_b.out_zp), {1, 4, 4, 10},
                               quant(1.0f / 256, -128), softmax),
                  {t3}, {t4}, "softmax", "SOFTMAX");
    loadable = b.finish({in}, {t4, t1});  // conv_a's output is a model output too
  }

  // Independent expectations: the reference convolutions, a max pool written here, and
  // the quantized softmax computed in double precision (TFLite's integer softmax may
  // differ from it by one step).
  std::vector<int8_t> pooled(const std::vector<int8_t>& a) const {
    std::vector<int8_t> p(4 * 4 * 16);
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 4; ++x)
        for (int c = 0; c < 16; ++c) {
          int m = -128;
          for (int dy = 0; dy < 2; ++dy)
            for (int dx = 0; dx < 2; ++dx)
              m = std::max<int>(
                  m, a[static_cast<size_t>(((2 * y + dy) * 8 + 2 * x + dx) * 16 + c)]);
          p[static_cast<size_t>((y * 4 + x) * 16 + c)] = static_cast<int8_t>(m);
        }
    return p;
  }
  std::vector<double> softmax_ref(const std::vector<int8_t>& logits) const {
    std::vector<double> out(logits.size());
    for (size_t row = 0; row < logits.size() / 10; ++row) {
      double mx = -1e30, sum = 0;
      for (size_t i = 0; i < 10; ++i) {
        mx = std::max(mx, static_cast<double>(logits[row * 10 + i]));
      }
      for (size_t i = 0; i < 10; ++i) {
        sum += std::exp(double{kLogitScale} * (logits[row * 10 + i] - mx));
      }
      for (size_t i = 0; i < 10; ++i) {
        const double p = std::exp(double{kLogitScale} * (logits[row * 10 + i] - mx)) / sum;
        out[row * 10 + i] = std::min(127.0, std::round(p * 256) - 128);
      }
    }
    return out;
  }
};

std::vector<int8_t> as_i8(const std::vector<uint8_t>& v) {
  return std::vector<int8_t>(v.begin(), v.end());
}

void check_chain(SimRunner& runner, const Chain& m, uint32_t seed) {
  const std::vector<int8_t> image = random_bytes(8 * 8 * 8, seed);
  runner.set_input(0, image.data(), image.size());
  const RunResult r = runner.run();
  REQUIRE(r.outputs.size() == 2);
  const std::vector<int8_t> a = m.conv_a.reference(image);
  CHECK(as_i8(r.outputs[1]) == a);
  const std::vector<int8_t> logits = m.conv_b.reference(m.pooled(a));
  const std::vector<double> want = m.softmax_ref(logits);
  const std::vector<int8_t> got = as_i8(r.outputs[0]);
  REQUIRE(got.size() == want.size());
  int worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    worst = std::max(worst, static_cast<int>(std::abs(got[i] - want[i])));
  }
  CHECK(worst <= 1);
}

}  // namespace

// ---- tests -------------------------------------------------------------------------------

TEST_CASE("one NPU segment computes the reference convolution", "[runner]") {
  SingleConv m;
  SimRunner runner(m.loadable, config());
  REQUIRE(runner.num_inputs() == 1);
  REQUIRE(runner.num_outputs() == 1);
  CHECK(runner.input(0).name == "input");
  CHECK(runner.output(0).name == "output");
  const std::vector<int8_t> image = random_bytes(m.conv.in_bytes(), 5);
  runner.set_input(0, image.data(), image.size());
  const RunResult r = runner.run();
  REQUIRE(r.outputs.size() == 1);
  CHECK(as_i8(r.outputs[0]) == m.conv.reference(image));
  CHECK(r.npu_cycles > 0);
  CHECK(r.counters[perf(isa::Perf::kCycles)] == r.npu_cycles);
  CHECK(r.counters[perf(isa::Perf::kJobs)] == 1);
  CHECK(r.counters[perf(isa::Perf::kMacs)] == m.conv.macs());
  CHECK(r.npu_ms == Approx(static_cast<double>(r.npu_cycles) / (config().clock_mhz * 1e3)));
  CHECK(r.cpu_segment_ms == 0);
  CHECK(r.sim_wall_ms > 0);
  CHECK(r.stats["counters"]["MACS"].get<uint64_t>() == m.conv.macs());
  REQUIRE(r.layers.size() == 1);
  CHECK(r.layers[0].name == "conv1");
  CHECK(r.layers[0].op == "CONV_2D");
  CHECK(r.layers[0].macs == m.conv.macs());
  CHECK(r.layers[0].bound == "compute");
  CHECK(r.layers[0].estimated_cycles == 1234);
  // DMA bytes of the layer: whole bursts covering input, weights, qp and output.
  const uint64_t burst = config().dram.org.burst_bytes();
  const auto bursts = [&](uint64_t n) { return (n + burst - 1) / burst * burst; };
  CHECK(r.layers[0].dram_bytes == bursts(m.conv.in_bytes()) + bursts(m.conv.weights.size()) +
                                      bursts(m.conv.qp.size() * 4) + bursts(m.conv.out_bytes()));
}

TEST_CASE("an NPU -> CPU -> NPU -> CPU chain computes the model", "[runner]") {
  Chain m;
  SimRunner runner(m.loadable, config());
  check_chain(runner, m, 1);
  // A second run with another input: nothing of the first run leaks into it.
  check_chain(runner, m, 2);
  const RunResult r = runner.run();
  CHECK(r.counters[perf(isa::Perf::kJobs)] == 2);
  CHECK(r.counters[perf(isa::Perf::kMacs)] == m.conv_a.macs() + m.conv_b.macs());
  CHECK(r.cpu_segment_ms > 0);
  REQUIRE(r.layers.size() == 4);
  CHECK(r.layers[1].name == "pool");
  CHECK(r.layers[1].cycles == 0);  // CPU layers take no NPU time
  CHECK(r.layers[1].macs == 0);
  // CPU segments do not advance the NPU timeline: conv_b starts where conv_a's job ended.
  CHECK(r.layers[2].first_cycle >= r.layers[0].last_cycle);
  CHECK(r.layers[2].last_cycle <= r.npu_cycles);
}

TEST_CASE("a loadable for other hardware is refused", "[runner]") {
  SingleConv m;
  m.loadable.hardware_name = "big-npu";
  m.loadable.hardware_hash ^= 1;
  CHECK_THROWS_AS(SimRunner(m.loadable, config()), tessel::Error);
  CHECK_THROWS_WITH(SimRunner(m.loadable, config()),
                    Contains("model compiled for 'big-npu'") &&
                        Contains("but the device is '" + config().name + "'"));
}

TEST_CASE("a faulting command is reported with its layer", "[runner]") {
  // Layer one is fine; layer two's CONV writes past the end of SRAM.
  ConvLayer good = make_conv(4, 4, 8, 8, 1, 3);
  Builder b;
  const uint32_t in = b.tensor("in", {1, 4, 4, 8}, 1, 0);
  const uint32_t mid = b.tensor("mid", {1, 4, 4, 8}, 1, 0);
  b.begin_npu();
  b.conv_layer("fine", good, in, mid);
  b.begin_layer("broken_conv", "CONV_2D");
  b.emit(good.command(static_cast<uint32_t>(config().sram_bytes()) - 16));
  b.end_layer();
  b.end_npu();
  SimRunner runner(b.finish({in}, {mid}), config());
  const auto check_error = [&] {
    CHECK_THROWS_WITH(runner.run(), Contains("layer 'broken_conv' (CONV_2D)") &&
                                        Contains("BAD_OPERAND") && Contains("MAC") &&
                                        Contains("CONV"));
  };
  check_error();
  check_error();  // the runner recovers: the next run faults the same way, not worse

  SECTION("a DMA outside the model's buffers is refused, naming the layer and the address") {
    Builder f;
    const uint32_t t = f.tensor("t", {64}, 1, 0);
    f.begin_npu();
    f.begin_layer("stray_load", "ADD");
    f.emit(load(0x30000000, 0, 64));  // nothing is mapped there
    f.end_layer();
    f.end_npu();
    SimRunner r2(f.finish({t}, {t}), config());
    // The driver's validation refuses the job before the device sees it (the MMU fault
    // that would follow is tested in tests/driver).
    CHECK_THROWS_WITH(r2.run(), Contains("layer 'stray_load'") && Contains("refused") &&
                                    Contains("EACCES") && Contains("0x30000000"));
  }
  SECTION("a hang is reported") {
    Builder f;
    const uint32_t t = f.tensor("t", {64}, 1, 0);
    f.begin_npu();
    f.begin_layer("waits_forever", "ADD");
    f.emit(isa::SemWait{kMac, 7, 0});
    f.end_layer();
    f.end_npu();
    SimRunner r2(f.finish({t}, {t}), config());
    CHECK_THROWS_WITH(r2.run(), Contains("hung") && Contains("timed out"));
  }
}

TEST_CASE("per-layer timing follows the device", "[runner][timing]") {
  // Two layers on one job: conv1 loads and convolves, conv2 convolves conv1's result in
  // SRAM (same MAC queue, so strictly after conv1) and stores it.
  ConvLayer c1 = make_conv(16, 16, 32, 32, 3, 8);
  ConvLayer c2 = make_conv(16, 16, 32, 16, 1, 9);
  Builder b;
  const uint32_t in = b.tensor("in", {1, 16, 16, 32}, 1, c1.in_zp);
  const uint32_t out = b.tensor("out", {1, 16, 16, 16}, 1, c2.out_zp);
  const uint32_t w1 = b.constant(c1.weights.data(), c1.weights.size());
  const uint32_t q1 = b.constant(c1.qp.data(), c1.qp.size() * 4);
  const uint32_t w2 = b.constant(c2.weights.data(), c2.weights.size());
  const uint32_t q2 = b.constant(c2.qp.data(), c2.qp.size() * 4);
  b.begin_npu();
  b.begin_layer("conv1", "CONV_2D");
  b.emit(load(b.va(in), kSramIn, c1.in_bytes()));
  b.emit(load(w1, kSramW, c1.weights.size()));
  b.emit(load(q1, kSramQp, c1.qp.size() * 4));
  b.emit(isa::SemSignal{kDmaIn, 0, 0});
  b.emit(isa::SemWait{kMac, 0, 0});
  b.emit(c1.command(0xA0000));
  b.end_layer();
  b.begin_layer("conv2", "CONV_2D");
  const uint32_t w2_sram = 0x60000, q2_sram = 0x70000;
  b.emit(load(w2, w2_sram, c2.weights.size()));
  b.emit(load(q2, q2_sram, c2.qp.size() * 4));
  b.emit(isa::SemSignal{kDmaIn, 2, 0});
  b.emit(isa::SemWait{kMac, 2, 0});
  isa::Conv cmd2 = c2.command(kSramOut);
  cmd2.in_addr = 0xA0000;
  cmd2.w_addr = w2_sram;
  cmd2.qp_addr = q2_sram;
  c2.in_zp = c1.out_zp;
  cmd2.in_zp = static_cast<int16_t>(c2.in_zp);
  b.emit(cmd2);
  b.emit(isa::SemSignal{kMac, 1, 0});
  b.emit(isa::SemWait{kDmaOut, 1, 0});
  b.emit(store(b.va(out), kSramOut, c2.out_bytes()));
  b.end_layer();
  b.end_npu();
  SimRunner runner(b.finish({in}, {out}), config());
  const std::vector<int8_t> image = random_bytes(c1.in_bytes(), 4);
  runner.set_input(0, image.data(), image.size());
  const RunResult r = runner.run();
  CHECK(as_i8(r.outputs[0]) == c2.reference(c1.reference(image)));

  REQUIRE(r.layers.size() == 2);
  const auto& l1 = r.layers[0];
  const auto& l2 = r.layers[1];
  CHECK(l1.cycles > 0);
  CHECK(l2.cycles > 0);
  CHECK(l1.first_cycle < l1.last_cycle);
  CHECK(l1.cycles == l1.last_cycle - l1.first_cycle);
  CHECK(l2.first_cycle < l2.last_cycle);
  // conv2's loads overlap conv1 (DMA_IN runs ahead), but its CONV follows conv1's.
  CHECK(l2.first_cycle <= l1.last_cycle);
  CHECK(l2.last_cycle > l1.last_cycle);
  CHECK(l2.last_cycle <= r.npu_cycles);
  CHECK(l1.first_cycle == 0);
  CHECK(l1.macs == c1.macs());
  CHECK(l2.macs == c2.macs());
  CHECK(l1.busy[kMac] > 0);
  CHECK(l1.busy[kDmaIn] > 0);
  CHECK(l1.busy[kDmaOut] == 0);
  CHECK(l2.busy[kDmaOut] > 0);
  // Every engine's busy cycles split exactly over the layers.
  const isa::Perf busy[4] = {isa::Perf::kDmaInBusy, isa::Perf::kDmaOutBusy, isa::Perf::kMacBusy,
                             isa::Perf::kVecBusy};
  for (size_t e = 0; e < 4; ++e) {
    CHECK(l1.busy[e] + l2.busy[e] == r.counters[perf(busy[e])]);
  }
  CHECK(l1.dram_bytes + l2.dram_bytes ==
        r.counters[perf(isa::Perf::kDramReadBytes)] + r.counters[perf(isa::Perf::kDramWriteBytes)]);
  // The job ends at the END barrier, right after conv2's store completes (the device
  // notices a DRAM completion at its next event, up to a cycle or so later).
  CHECK(r.npu_cycles - l2.last_cycle <= 4);
}

TEST_CASE("runs are reproducible", "[runner]") {
  Chain m;
  SimRunner runner(m.loadable, config());
  const std::vector<int8_t> image = random_bytes(8 * 8 * 8, 3);
  runner.set_input(0, image.data(), image.size());
  const RunResult a = runner.run();
  const RunResult b = runner.run();
  CHECK(a.outputs == b.outputs);
  CHECK(a.npu_cycles == b.npu_cycles);
  CHECK(a.counters == b.counters);
  REQUIRE(a.layers.size() == b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    CHECK(a.layers[i].first_cycle == b.layers[i].first_cycle);
    CHECK(a.layers[i].last_cycle == b.layers[i].last_cycle);
  }
  // A second runner (a second device) agrees too.
  SimRunner other(m.loadable, config());
  other.set_input(0, image.data(), image.size());
  const RunResult c = other.run();
  CHECK(c.outputs == a.outputs);
  CHECK(c.npu_cycles == a.npu_cycles);
  CHECK(c.stats["counters"] == a.stats["counters"]);
}

TEST_CASE("set_input checks the size and names the tensor", "[runner]") {
  SingleConv m;
  SimRunner runner(m.loadable, config());
  std::vector<int8_t> small(m.conv.in_bytes() - 1);
  CHECK_THROWS_WITH(runner.set_input(0, small.data(), small.size()),
                    Contains("'input'") && Contains(std::to_string(m.conv.in_bytes())));
  CHECK_THROWS_AS(runner.set_input(1, small.data(), small.size()), tessel::Error);
  CHECK_THROWS_AS(runner.input(3), tessel::Error);
}

TEST_CASE("a Chrome trace names spans after layers", "[runner][trace]") {
  Chain m;
  SimRunner runner(m.loadable, config());
  const std::string path = "test_sim_runner_trace.json";
  std::remove(path.c_str());
  runner.set_trace(path);
  runner.run();
  std::ifstream f(path);
  REQUIRE(f.good());
  const nlohmann::json j = nlohmann::json::parse(f);
  std::set<std::string> names;
  size_t commands = 0;
  for (const auto& e : j.at("traceEvents")) {
    if (e.at("ph") == "X" && e.at("tid").get<int>() < 4) {
      names.insert(e.at("name").get<std::string>());
      ++commands;
    }
  }
  CHECK(names == std::set<std::string>{"conv_a", "conv_b"});
  CHECK(commands == 2 * 5);  // per conv layer: three loads, the convolution, the store
  // One async span per layer on the layers track, begin and end.
  std::set<std::string> layer_spans;
  for (const auto& e : j.at("traceEvents")) {
    if (e.at("ph") == "b" && e.at("cat") == "layer") layer_spans.insert(e.at("name").get<std::string>());
  }
  CHECK(layer_spans == std::set<std::string>{"conv_a", "conv_b"});
  f.close();
  // The trace is of the next run only.
  std::remove(path.c_str());
  runner.run();
  CHECK_FALSE(std::ifstream(path).good());
}

TEST_CASE("the runner refuses an inconsistent loadable", "[runner]") {
  SingleConv m;
  SECTION("a tensor outside its region") {
    m.loadable.tensors[1].offset = m.loadable.regions[1].bytes;
    CHECK_THROWS_WITH(SimRunner(m.loadable, config()), Contains("'output'"));
  }
  SECTION("a segment outside the command stream") {
    m.loadable.npu_segments[0].word_count += 1;
    CHECK_THROWS_WITH(SimRunner(m.loadable, config()), Contains("NPU segment #0"));
  }
  SECTION("overlapping regions") {
    m.loadable.regions[1].va = m.loadable.regions[0].va;
    CHECK_THROWS_WITH(SimRunner(m.loadable, config()), Contains("cannot map region 'arena'"));
  }
}

TEST_CASE("SimpleHost::map_at maps at exact addresses next to automatic ones", "[runner][host]") {
  tessel::sim::npu::Device dev(config());
  tessel::sim::npu::SimpleHost host(dev);
  CHECK(host.map_at(0x10000000, 5000) == 0x10000000);
  CHECK_THROWS_WITH(host.map_at(0x10001000, 4096), Contains("overlaps"));
  CHECK_THROWS_WITH(host.map_at(0x20000010, 4096), Contains("aligned"));
  CHECK_THROWS_WITH(host.map_at(0xFFFFF000, 8192), Contains("32-bit"));
  // Data goes through.
  const std::vector<uint8_t> data = {1, 2, 3, 4, 5};
  host.write(0x10000000 + 4094, data.data(), data.size());
  std::vector<uint8_t> back(5);
  host.read(0x10000000 + 4094, back.data(), back.size());
  CHECK(back == data);
  // Automatic addresses skip fixed ranges; fixed ranges may not overlap automatic ones.
  const uint32_t a = host.map(100);
  CHECK_THROWS_WITH(host.map_at(a, 4096), Contains("overlaps"));
  CHECK(host.map_at(a + 0x8000, 4096) == a + 0x8000);
  uint32_t last = a;
  for (int i = 0; i < 8; ++i) {
    const uint32_t v = host.map(4096);
    CHECK((v + 4096 <= a + 0x8000 || v >= a + 0x9000));
    CHECK(v > last);
    last = v;
  }
  // Read-only fixed mappings refuse DMA stores.
  const uint32_t ro = host.map_at(0x30000000, 4096, true);
  std::vector<uint32_t> words;
  isa::encode(store(ro, 0, 64), words);
  isa::encode(isa::End{}, words);
  host.run(words);
  CHECK(dev.read_reg(TESSEL_REG_ERROR_STATUS) != 0);
}
