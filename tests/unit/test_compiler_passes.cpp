// Question answered: does each pass of the NPU compiler (compiler/npu: canonicalize,
// partition, lower, tile, arena, schedule, package, and the --dump-after hook) keep what it
// promises? Every expectation is computed here from the graph, the ISA document and
// TFLite's formulas, never read back from the pass under test:
//
// - canonicalize: dead operators, identity QUANTIZEs and same-shape reshapes go,
//   RELU/RELU6/RELU_N1_TO_1 fuse into their producer's clamp when the intersection of the
//   clamps is a fused activation, a zero-point PAD that is a VALID convolution's SAME
//   padding folds into it; the canonical graph computes the reference's bytes (and, for
//   PAD -> CONV -> RELU, the simulated NPU does too); everything else stays.
// - partition: the reasons for CPU fallback, maximal segments, malformed models throw.
// - lower: requantization records and command fields equal TFLite's integers (computed
//   with an independent QuantizeMultiplier), LUT tables equal the reference kernel,
//   constants are aligned, in place and disjoint; MUL (int8/uint8, with and without RELU6),
//   MAXIMUM and MINIMUM compiled for default and ethos-u55-256 (several tiles) run on the
//   NPU and the simulator computes the reference's bytes; broadcasting, constant operands
//   and MAXIMUM with mixed quantizations are refused with their reasons.
// - tile: SRAM slots fit and are disjoint, every transfer stays in its slot and in its
//   tensor, and the stores of all tiles write every output byte exactly once (also for
//   tilings forced by hand); the cost model says when a tiling does not fit.
// - residency: a tensor kept in SRAM goes from its producer straight to its only reader,
//   and its region stays clear of both operators' slots.
// - arena: tensors whose lifetimes overlap never share bytes; NPU aliases share.
// - schedule: an abstract command processor (queues of queue_depth, semaphores, barriers)
//   runs every NPU segment of every shared model on every preset to END with every
//   semaphore back at 0, under greedy and random interleavings; a happens-before analysis
//   proves each semaphore's waits (and signals) are ordered, so counts reach the waiter
//   the scheduler meant, and that every two accesses of different engines to the same
//   SRAM or arena bytes (one a write) are ordered by it (no data race).
// - package: the loadable validates, survives write/read, its layer ranges partition the
//   NPU commands, its CPU segments verify, and it names its hardware.
// - --dump-after: a dump per pass name; an unknown name throws listing the passes.
//
// Besides the shared models, two graphs built here (every NPU operator kind; a residual
// chain the residency pass keeps on chip) are compiled for every preset. DeepLabV3 is
// compiled for one preset unless TESSEL_COMPILER_TESTS_FULL=1 (see all_compiled());
// TESSEL_TEST_TIMES=1 prints each compilation's time.
#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "op_test_util.hpp"
#include "plan.hpp"
#include "tessel/compiler/compile.hpp"
#include "tessel/compiler/loadable.hpp"
#include "tessel/cpu/conv_params.hpp"
#include "tessel/cpu/executor.hpp"
#include "tessel/cpu/op_registry.hpp"
#include "tessel/cpu/quant_params.hpp"
#include "tessel/frontend/tflite.hpp"
#include "tessel/ir/graph.hpp"
#include "tessel/ir/verify.hpp"
#include "tessel/npu/sim_runner.hpp"
#include "tessel/sim/npu/config.hpp"
#include "tessel_isa_commands.hpp"
#include "tiles.hpp"

using namespace tessel;
using namespace tessel::compiler;
using ir::DType;
using ir::OpType;

namespace {

// ===================================================================== graph building

ir::Quantization qt(float scale, int64_t zero_point) {
  ir::Quantization q;
  q.scale = {scale};
  q.zero_point = {zero_point};
  return q;
}

ir::Quantization qaxis(std::vector<float> scales, int axis) {
  ir::Quantization q;
  q.zero_point.assign(scales.size(), 0);
  q.scale = std::move(scales);
  q.axis = axis;
  return q;
}

// An integer attribute (AttrValue from a plain int would be ambiguous).
ir::AttrValue I(int64_t v) { return ir::AttrValue{v}; }

using tessel::test::as_bytes;
using tessel::test::random_values;

// A small graph under construction (tensors, operators, inputs, outputs).
class Builder {
 public:
  Builder() { g.source = "hand-built"; }

  int tensor(const std::string& name, DType dt, std::vector<int32_t> shape, ir::Quantization q = {}) {
    ir::Tensor t;
    t.name = name;
    t.dtype = dt;
    t.shape = std::move(shape);
    t.quant = std::move(q);
    g.tensors.push_back(std::move(t));
    return static_cast<int>(g.tensors.size()) - 1;
  }
  int input(const std::string& name, DType dt, std::vector<int32_t> shape, ir::Quantization q = {}) {
    const int t = tensor(name, dt, std::move(shape), std::move(q));
    g.inputs.push_back(t);
    return t;
  }
  template <typename T>
  int constant(const std::string& name, DType dt, std::vector<int32_t> shape, const std::vector<T>& values,
               ir::Quantization q = {}) {
    const int t = tensor(name, dt, std::move(shape), std::move(q));
    g.tensors[static_cast<size_t>(t)].data = as_bytes(values);
    g.tensors[static_cast<size_t>(t)].is_constant = true;
    return t;
  }
  void output(int t) { g.outputs.push_back(t); }
  size_t op(OpType type, std::vector<int> ins, std::vector<int> outs,
            std::vector<std::pair<std::string, ir::AttrValue>> attrs = {}) {
    ir::Op o;
    o.type = type;
    o.type_name = ir::op_type_name(type);
    o.name = std::string(o.type_name) + "_" + std::to_string(g.ops.size());
    o.inputs = std::move(ins);
    o.outputs = std::move(outs);
    for (auto& [k, v] : attrs) o.attrs.set(k, v);
    g.ops.push_back(std::move(o));
    return g.ops.size() - 1;
  }
  const ir::Tensor& t(int i) const { return g.tensors[static_cast<size_t>(i)]; }

  ir::Graph g;
};

// An int8 CONV_2D with per-channel weights and bias; returns the output tensor.
int add_conv(Builder& b, int in, int out_c, int k, int stride, int activation, const ir::Quantization& out_q,
             uint32_t seed, int batch = 1) {
  const ir::Tensor x = b.t(in);
  const int in_c = x.shape[3];
  const float s_in = x.quant.scale[0];
  std::vector<float> ws(static_cast<size_t>(out_c)), bs(static_cast<size_t>(out_c));
  for (int c = 0; c < out_c; ++c) {
    ws[static_cast<size_t>(c)] = 0.002f + 0.00013f * static_cast<float>(c % 7);
    bs[static_cast<size_t>(c)] = s_in * ws[static_cast<size_t>(c)];
  }
  const int w = b.constant("conv_w" + std::to_string(seed), DType::i8, {out_c, k, k, in_c},
                           random_values<int8_t>(size_t(out_c) * k * k * in_c, -127, 127, seed), qaxis(ws, 0));
  const int bias = b.constant("conv_b" + std::to_string(seed), DType::i32, {out_c},
                              random_values<int32_t>(size_t(out_c), -4000, 4000, seed + 1), qaxis(bs, 0));
  const int oh = (x.shape[1] + stride - 1) / stride, ow = (x.shape[2] + stride - 1) / stride;
  const int y = b.tensor("conv_out" + std::to_string(seed), DType::i8, {batch, oh, ow, out_c}, out_q);
  b.op(OpType::CONV_2D, {in, w, bias}, {y},
       {{"padding", I(0)}, {"stride_h", I(stride)}, {"stride_w", I(stride)},
        {"fused_activation_function", I(activation)}});
  return y;
}

// One operator of every NPU kind, small enough to compile in milliseconds (default preset).
struct Zoo {
  ir::Graph g;
  size_t conv, dwconv, pool, lut, add, fc, concat, mean, resize;
};

Zoo make_zoo() {
  Builder b;
  Zoo z{};
  const ir::Quantization qc = qt(0.1f, 3);
  const int x = b.input("x", DType::i8, {1, 20, 18, 24}, qt(0.05f, -2));
  const int c = add_conv(b, x, 40, 3, 1, 3, qc, 1);
  z.conv = b.g.ops.size() - 1;
  {  // depthwise 3x3 stride 2, depth multiplier 2, per-channel weights on axis 3
    std::vector<float> ws(48), bs(48);
    for (size_t i = 0; i < 48; ++i) {
      ws[i] = 0.004f + 0.0002f * static_cast<float>(i % 5);
      bs[i] = 0.05f * ws[i];
    }
    const int w = b.constant("dw_w", DType::i8, {1, 3, 3, 48}, random_values<int8_t>(432, -127, 127, 11), qaxis(ws, 3));
    const int bias = b.constant("dw_b", DType::i32, {48}, random_values<int32_t>(48, -3000, 3000, 12), qaxis(bs, 0));
    const int y = b.tensor("dw_out", DType::i8, {1, 10, 9, 48}, qt(0.08f, -5));
    z.dwconv = b.op(OpType::DEPTHWISE_CONV_2D, {x, w, bias}, {y},
                    {{"padding", I(0)}, {"stride_h", I(2)}, {"stride_w", I(2)}, {"depth_multiplier", I(2)},
                     {"fused_activation_function", I(1)}});
    b.output(y);
  }
  {
    const int y = b.tensor("pool_out", DType::i8, {1, 10, 9, 40}, qc);
    z.pool = b.op(OpType::MAX_POOL_2D, {c}, {y},
                  {{"padding", I(0)}, {"stride_h", I(2)}, {"stride_w", I(2)}, {"filter_height", I(3)},
                   {"filter_width", I(3)}});
    b.output(y);
  }
  const int r = b.tensor("relu_out", DType::i8, {1, 20, 18, 40}, qc);
  z.lut = b.op(OpType::RELU, {c}, {r});
  const int a = b.tensor("add_out", DType::i8, {1, 20, 18, 40}, qc);
  z.add = b.op(OpType::ADD, {c, r}, {a}, {{"fused_activation_function", I(0)}});
  {  // FULLY_CONNECTED over the conv output as [360, 40]
    const float s_w = 0.003f;
    const int w = b.constant("fc_w", DType::i8, {24, 40}, random_values<int8_t>(960, -127, 127, 21), qt(s_w, 0));
    const int bias = b.constant("fc_b", DType::i32, {24}, random_values<int32_t>(24, -2000, 2000, 22),
                                qt(0.1f * s_w, 0));
    const int y = b.tensor("fc_out", DType::i8, {360, 24}, qt(0.2f, -1));
    z.fc = b.op(OpType::FULLY_CONNECTED, {c, w, bias}, {y}, {{"fused_activation_function", I(0)}});
    b.output(y);
  }
  {
    const int y = b.tensor("concat_out", DType::i8, {1, 20, 18, 80}, qc);
    z.concat = b.op(OpType::CONCATENATION, {c, a}, {y}, {{"axis", I(3)}, {"fused_activation_function", I(0)}});
    b.output(y);
  }
  {
    const int axes = b.constant("mean_axes", DType::i32, {2}, std::vector<int32_t>{1, 2});
    const int y = b.tensor("mean_out", DType::i8, {1, 1, 1, 40}, qt(0.05f, 0));
    z.mean = b.op(OpType::MEAN, {c, axes}, {y}, {{"keep_dims", I(1)}});
    b.output(y);
  }
  {  // bilinear upsampling 20x18 -> 37x33 (half-pixel centers)
    const int size = b.constant("resize_size", DType::i32, {2}, std::vector<int32_t>{37, 33});
    const int y = b.tensor("resize_out", DType::i8, {1, 37, 33, 40}, qc);
    z.resize = b.op(OpType::RESIZE_BILINEAR, {c, size}, {y},
                    {{"align_corners", I(0)}, {"half_pixel_centers", I(1)}});
    b.output(y);
  }
  z.g = std::move(b.g);
  ir::verify(z.g);
  return z;
}

// A residual block chain: 1x1 expand, 3x3 depthwise, 1x1 project, ADD with the input,
// LOGISTIC, MAX_POOL, then a 1x1 conv again: consecutive NPU operators on both compute
// engines, where the residency pass can keep tensors on chip.
ir::Graph make_chain() {
  Builder b;
  const ir::Quantization qx = qt(0.04f, -6);
  const int x = b.input("x", DType::i8, {1, 28, 28, 16}, qx);
  const int e = add_conv(b, x, 48, 1, 1, 3, qt(0.03f, -128), 31);
  std::vector<float> ws(48), bs(48);
  for (size_t i = 0; i < 48; ++i) {
    ws[i] = 0.01f + 0.0005f * float(i % 3);
    bs[i] = 0.03f * ws[i];
  }
  const int w = b.constant("dw_w", DType::i8, {1, 3, 3, 48}, random_values<int8_t>(432, -127, 127, 33), qaxis(ws, 3));
  const int bias = b.constant("dw_b", DType::i32, {48}, random_values<int32_t>(48, -500, 500, 34), qaxis(bs, 0));
  const int d = b.tensor("dw", DType::i8, {1, 28, 28, 48}, qt(0.05f, -128));
  b.op(OpType::DEPTHWISE_CONV_2D, {e, w, bias}, {d},
       {{"padding", I(0)}, {"stride_h", I(1)}, {"stride_w", I(1)}, {"depth_multiplier", I(1)},
        {"fused_activation_function", I(3)}});
  const int pr = add_conv(b, d, 16, 1, 1, 0, qt(0.06f, 4), 35);
  const int a = b.tensor("sum", DType::i8, {1, 28, 28, 16}, qt(0.07f, 1));
  b.op(OpType::ADD, {x, pr}, {a}, {{"fused_activation_function", I(0)}});
  const int l = b.tensor("sigmoid", DType::i8, {1, 28, 28, 16}, qt(1.f / 256, -128));
  b.op(OpType::LOGISTIC, {a}, {l});
  const int m = b.tensor("pool", DType::i8, {1, 14, 14, 16}, qt(1.f / 256, -128));
  b.op(OpType::MAX_POOL_2D, {l}, {m},
       {{"padding", I(0)}, {"stride_h", I(2)}, {"stride_w", I(2)}, {"filter_height", I(2)}, {"filter_width", I(2)}});
  const int y = add_conv(b, m, 24, 1, 1, 1, qt(0.02f, -100), 37);
  b.output(y);
  ir::verify(b.g);
  return b.g;
}

// ============================================================== presets, models, passes

const std::vector<sim::npu::NpuConfig>& presets() {
  static const std::vector<sim::npu::NpuConfig> all = [] {
    std::vector<sim::npu::NpuConfig> v;
    for (const std::string& n : sim::npu::npu_preset_names()) v.push_back(sim::npu::load_npu_preset_or_file(n));
    return v;
  }();
  return all;
}

const sim::npu::NpuConfig& preset(const std::string& name) {
  for (const auto& p : presets())
    if (p.name == name) return p;
  FAIL("no preset " << name);
  throw 0;
}

const sim::npu::NpuConfig& default_hw() { return preset("default"); }

std::vector<std::string> model_paths() {
  std::vector<std::string> v;
  const std::filesystem::path dir = std::filesystem::path(TESSEL_SHARED_DIR) / "models" / "tflite";
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".tflite") v.push_back(e.path().string());
  std::sort(v.begin(), v.end());
  return v;
}

std::string stem(const std::string& path) { return std::filesystem::path(path).stem().string(); }

const std::string& mobilenet_v2() {
  static const std::string p =
      (std::filesystem::path(TESSEL_SHARED_DIR) / "models" / "tflite" / "coral_mobilenet_v2_1.0_224_quant.tflite").string();
  return p;
}

// The passes in pipeline order; run_passes stops after pass `last` (0 = canonicalize).
enum Pass { kCanonicalize, kPartition, kLower, kTile, kResidency, kArena, kSchedule };

Plan run_passes(const ir::Graph& g, const sim::npu::NpuConfig& hw, Pass last) {
  Plan p;
  p.hw = &hw;
  p.graph = g;
  canonicalize(p);
  if (last == kCanonicalize) return p;
  partition(p);
  if (last == kPartition) return p;
  lower(p);
  if (last == kLower) return p;
  tile(p);
  if (last == kTile) return p;
  residency(p);
  if (last == kResidency) return p;
  plan_arena(p);
  if (last == kArena) return p;
  schedule(p);
  return p;
}

// Every shared model compiled for every preset, once per test process (the passes are the
// expensive part; every check below reads the same plans).
struct Compiled {
  std::string model;
  const sim::npu::NpuConfig* hw = nullptr;
  Plan plan;
  Loadable loadable;
};

ir::Graph make_chain();

// A shared model by path, or one of this test's graphs by name ("zoo", "chain").
const ir::Graph& imported(const std::string& path) {
  static std::map<std::string, ir::Graph> cache;
  auto it = cache.find(path);
  if (it == cache.end())
    it = cache.emplace(path, path == "zoo" ? make_zoo().g : path == "chain" ? make_chain() : tflite::import_file(path))
             .first;
  return it->second;
}

const Compiled& compiled(const std::string& path, const sim::npu::NpuConfig& hw) {
  static std::map<std::pair<std::string, std::string>, std::unique_ptr<Compiled>> cache;
  auto& slot = cache[{path, hw.name}];
  if (!slot) {
    auto c = std::make_unique<Compiled>();
    c->model = stem(path);
    c->hw = &hw;
    const auto t0 = std::chrono::steady_clock::now();
    c->plan = run_passes(imported(path), hw, kSchedule);
    c->loadable = package(c->plan);
    if (std::getenv("TESSEL_TEST_TIMES"))
      std::fprintf(stderr, "%s on %s: %.2f s\n", c->model.c_str(), hw.name.c_str(),
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    slot = std::move(c);
  }
  return *slot;
}

// Every (model, preset) pair. DeepLabV3 takes 4-12 s to compile per preset (the tiler's
// candidate search; see the report in docs), so by default it is compiled for the smallest
// preset only (256 KiB SRAM, 16 semaphores, queues of 8: the most tiles and the least
// slack); TESSEL_COMPILER_TESTS_FULL=1 runs it on every preset (about 30 s more).
std::vector<const Compiled*> all_compiled() {
  const bool full = std::getenv("TESSEL_COMPILER_TESTS_FULL") != nullptr;
  std::vector<const Compiled*> v;
  std::vector<std::string> models = model_paths();
  models.push_back("zoo");
  models.push_back("chain");
  for (const std::string& m : models)
    for (const auto& hw : presets())
      if (full || stem(m).find("deeplab") == std::string::npos || hw.name == "ethos-u55-256")
        v.push_back(&compiled(m, hw));
  return v;
}

std::string where(const Compiled& c) { return c.model + " on " + c.hw->name; }

const ir::Tensor& T(const ir::Graph& g, int i) { return g.tensors.at(static_cast<size_t>(i)); }
int64_t zp_of(const ir::Tensor& t) { return t.quant.zero_point.empty() ? 0 : t.quant.zero_point[0]; }

// ================================================================ TFLite's integers, again

// TFLite's QuantizeMultiplier: real = q * 2^shift with q in [0.5, 1) as a Q31 integer.
std::pair<int32_t, int32_t> quantize_multiplier_ref(double real) {
  if (real == 0.0) return {0, 0};
  int shift = 0;
  const double q = std::frexp(real, &shift);
  auto fixed = static_cast<int64_t>(std::round(q * double(int64_t{1} << 31)));
  if (fixed == (int64_t{1} << 31)) {
    fixed /= 2;
    ++shift;
  }
  if (shift < -31) {
    shift = 0;
    fixed = 0;
  }
  if (shift > 30) {
    shift = 30;
    fixed = (int64_t{1} << 31) - 1;
  }
  return {static_cast<int32_t>(fixed), shift};
}

// TFLite's CalculateActivationRangeQuantized for an 8-bit output.
std::pair<int32_t, int32_t> activation_range_ref(int activation, const ir::Tensor& out) {
  const int32_t qmin = out.dtype == DType::i8 ? -128 : 0, qmax = out.dtype == DType::i8 ? 127 : 255;
  const float s = out.quant.scale[0];
  const auto z = static_cast<int32_t>(zp_of(out));
  auto q = [&](float f) { return z + static_cast<int32_t>(std::round(f / s)); };
  switch (activation) {
    case 1: return {std::max(qmin, q(0.f)), qmax};
    case 2: return {std::max(qmin, q(-1.f)), std::min(qmax, q(1.f))};
    case 3: return {std::max(qmin, q(0.f)), std::min(qmax, q(6.f))};
    default: return {qmin, qmax};
  }
}

// The expected requantization of a CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED operator:
// records {bias, multiplier, shift} per output channel, and the command's fields.
struct ExpectedQuant {
  std::vector<int32_t> records;  // 3 per channel
  int32_t in_zp = 0, w_zp = 0, out_zp = 0, act_min = 0, act_max = 0;
  bool in_signed = false, w_signed = false, out_signed = false;
};

ExpectedQuant expected_quant(const ir::Graph& g, size_t op_index) {
  const ir::Op& op = g.ops[op_index];
  const ir::Tensor& in = T(g, op.inputs[0]);
  const ir::Tensor& w = T(g, op.inputs[1]);
  const ir::Tensor& out = T(g, op.outputs[0]);
  const bool has_bias = op.inputs.size() > 2 && op.inputs[2] >= 0;
  const int channels = op.type == OpType::DEPTHWISE_CONV_2D ? w.shape[3] : w.shape[0];
  // Which of TFLite's two multiplier formulas (see conv_params.hpp for the citations):
  // the uint8 kernels and per-tensor FULLY_CONNECTED round the scale product to float.
  const bool float_product = in.dtype == DType::u8 || (op.type == OpType::FULLY_CONNECTED && !w.quant.per_channel());
  ExpectedQuant e;
  const float s_in = in.quant.scale[0], s_out = out.quant.scale[0];
  for (int c = 0; c < channels; ++c) {
    const float s_w = w.quant.scale[w.quant.per_channel() ? static_cast<size_t>(c) : 0];
    const double real = float_product ? double(float(s_in * s_w)) / double(s_out)
                                      : double(s_in) * double(s_w) / double(s_out);
    const auto [m, sh] = quantize_multiplier_ref(real);
    int32_t bias = 0;
    if (has_bias) std::memcpy(&bias, T(g, op.inputs[2]).data.data() + size_t(c) * 4, 4);
    e.records.insert(e.records.end(), {bias, m, sh});
  }
  e.in_zp = static_cast<int32_t>(zp_of(in));
  e.w_zp = w.dtype == DType::u8 ? static_cast<int32_t>(zp_of(w)) : 0;
  e.out_zp = static_cast<int32_t>(zp_of(out));
  const auto range = activation_range_ref(static_cast<int>(op.attrs.get_int("fused_activation_function", 0)), out);
  e.act_min = range.first;
  e.act_max = range.second;
  e.in_signed = in.dtype == DType::i8;
  e.w_signed = w.dtype == DType::i8;
  e.out_signed = out.dtype == DType::i8;
  return e;
}

// An 8-bit ADD / SUB as TFLite's Prepare sets it up (lite/kernels/add.cc, sub.cc): inputs
// scaled to twice the larger input scale after a left shift of 20, then to the output.
void check_eltwise_proto(const ir::Graph& g, const NpuOp& n) {
  const ir::Op& op = g.ops[n.op];
  const ir::Tensor& a = T(g, op.inputs[0]);
  const ir::Tensor& b = T(g, op.inputs[1]);
  const ir::Tensor& out = T(g, op.outputs[0]);
  const auto* c = std::get_if<isa::Eltwise>(&n.proto);
  REQUIRE(c);
  const double twice = 2.0 * double(std::max(a.quant.scale[0], b.quant.scale[0]));
  const auto ma = quantize_multiplier_ref(double(a.quant.scale[0]) / twice);
  const auto mb = quantize_multiplier_ref(double(b.quant.scale[0]) / twice);
  const auto mo = quantize_multiplier_ref(twice / (double(1 << 20) * double(out.quant.scale[0])));
  CHECK(c->op == uint8_t(op.type == OpType::ADD ? isa::EltwiseOp::kAdd : isa::EltwiseOp::kSub));
  CHECK(bool(c->is_signed) == (out.dtype == DType::i8));
  CHECK(c->left_shift == 20);
  CHECK(c->a_zp == zp_of(a));
  CHECK(c->b_zp == zp_of(b));
  CHECK(c->out_zp == zp_of(out));
  CHECK(c->a_mult == ma.first);
  CHECK(c->a_shift == ma.second);
  CHECK(c->b_mult == mb.first);
  CHECK(c->b_shift == mb.second);
  CHECK(c->out_mult == mo.first);
  CHECK(c->out_shift == mo.second);
  const auto range = activation_range_ref(static_cast<int>(op.attrs.get_int("fused_activation_function", 0)), out);
  CHECK(c->act_min == range.first);
  CHECK(c->act_max == range.second);
}

std::vector<int32_t> qp_words(const std::vector<uint8_t>& qp) {
  std::vector<int32_t> v(qp.size() / 4);
  std::memcpy(v.data(), qp.data(), v.size() * 4);
  return v;
}

// Compares a MAC operator's quantization fields (CONV, DWCONV, MATMUL share the names).
template <typename C>
void check_mac_fields(const C& c, const ExpectedQuant& e) {
  CHECK(bool(c.in_signed) == e.in_signed);
  CHECK(bool(c.w_signed) == e.w_signed);
  CHECK(bool(c.out_signed) == e.out_signed);
  CHECK(c.in_zp == e.in_zp);
  CHECK(c.w_zp == e.w_zp);
  CHECK(c.out_zp == e.out_zp);
  CHECK(c.act_min == e.act_min);
  CHECK(c.act_max == e.act_max);
}

void check_mac_proto(const NpuOp& n, const ExpectedQuant& e) {
  if (const auto* c = std::get_if<isa::Conv>(&n.proto)) {
    check_mac_fields(*c, e);
    CHECK(c->depth_multiplier == 1);
  } else if (const auto* d = std::get_if<isa::Dwconv>(&n.proto)) {
    check_mac_fields(*d, e);
  } else if (const auto* m = std::get_if<isa::Matmul>(&n.proto)) {
    check_mac_fields(*m, e);
  } else {
    FAIL("a MAC operator without a MAC command prototype");
  }
}

// The 256-entry table of a per-tensor unary operator, by running the reference kernel on
// a graph of this test's own: the operator on a tensor of 256 elements holding a
// permutation of all byte values.
std::vector<uint8_t> reference_table(const ir::Graph& g, size_t op_index) {
  const ir::Op& src = g.ops[op_index];
  Builder b;
  ir::Tensor in = T(g, src.inputs[0]), out = T(g, src.outputs[0]);
  const int x = b.input("x", in.dtype, {1, 4, 8, 8}, in.quant);
  const int y = b.tensor("y", out.dtype, {1, 4, 8, 8}, out.quant);
  b.output(y);
  ir::Op op = src;
  op.inputs = {x};
  op.outputs = {y};
  b.g.ops = {op};
  ir::verify(b.g);
  cpu::Executor ex(b.g, cpu::ref_registry());
  std::vector<uint8_t> perm(256);
  for (size_t i = 0; i < 256; ++i) perm[i] = static_cast<uint8_t>((i * 37 + 11) & 255);
  ex.set_input(0, perm.data(), perm.size());
  ex.run();
  std::vector<uint8_t> table(256);
  for (size_t i = 0; i < 256; ++i) table[perm[i]] = ex.output_data(0)[i];
  return table;
}

// ======================================================================== DMA footprints

// Calls f(dram_start, sram_start, len) for each contiguous row of a transfer.
template <typename F>
void rows_of(const Xfer& x, F f) {
  for (uint64_t i2 = 0; i2 < x.n2; ++i2)
    for (uint64_t i1 = 0; i1 < x.n1; ++i1)
      f(uint64_t{x.dram} + i2 * x.dram_s2 + i1 * x.dram_s1, uint64_t{x.sram} + i2 * x.sram_s2 + i1 * x.sram_s1,
        uint64_t{x.len0});
}

struct Range {
  uint64_t lo = 0, hi = 0;  // [lo, hi)
  bool contains(uint64_t a, uint64_t n) const { return a >= lo && a + n <= hi; }
};

bool inside_any(const std::vector<Range>& rs, uint64_t a, uint64_t n) {
  return std::any_of(rs.begin(), rs.end(), [&](const Range& r) { return r.contains(a, n); });
}

// Synthetic DRAM bases for a tiling walk: every input tensor, the output and the constant
// region far apart, so that a transfer that leaves its tensor cannot land in another one.
constexpr uint64_t kSpacing = 0x01000000;  // 16 MiB, more than any shared model's tensor
struct Layout {
  Bases bases;
  std::vector<Range> inputs;  // per op input
  Range output;
  std::vector<Range> constants;  // the operator's constant blobs
};

Layout layout_for(const ir::Graph& g, const NpuOp& n) {
  Layout l;
  uint64_t at = kSpacing;
  for (int t : n.inputs) {
    l.bases.in.push_back(static_cast<uint32_t>(at));
    l.inputs.push_back({at, at + T(g, t).num_bytes()});
    at += kSpacing;
  }
  l.bases.out = static_cast<uint32_t>(at);
  l.output = {at, at + T(g, n.output).num_bytes()};
  at += kSpacing;
  l.bases.constants = static_cast<uint32_t>(at);
  auto blob = [&](uint32_t off, size_t bytes) {
    if (bytes) l.constants.push_back({at + off, at + off + bytes});
  };
  blob(n.weights_off, n.weights.size());
  blob(n.qp_off, n.qp.size());
  blob(n.table_off, n.table.size());
  return l;
}

// What a compute command reads and writes in SRAM, from the pseudo-code of docs/isa.md:
// f(role, address, bytes) with role 0 / 1 = the activation operands (a, b), 2 = weights,
// requantization records or table, 3 = the output. Strided pixels give one run each.
template <typename F>
void compute_footprint(const isa::Command& cmd, F f) {
  std::visit(
      [&](const auto& c) {
        using C = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<C, isa::Conv> || std::is_same_v<C, isa::Dwconv>) {
          auto pixels = [&](int role, uint64_t base, uint64_t h, uint64_t w, uint64_t ch, uint64_t stride) {
            if (stride == ch) {
              f(role, base, h * w * ch);
              return;
            }
            for (uint64_t i = 0; i < h * w; ++i) f(role, base + i * stride, ch);
          };
          pixels(0, c.in_addr, c.in_h, c.in_w, c.in_c, c.in_pixel_stride);
          const uint64_t taps = uint64_t{c.kernel_h} * c.kernel_w;
          f(2, c.w_addr, std::is_same_v<C, isa::Dwconv> ? taps * c.out_c : uint64_t{c.out_c} * taps * c.in_c);
          f(2, c.qp_addr, uint64_t{c.out_c} * 12);
          pixels(3, c.out_addr, c.out_h, c.out_w, c.out_c, c.out_pixel_stride);
        } else if constexpr (std::is_same_v<C, isa::Matmul>) {
          f(0, c.in_addr, uint64_t{c.m} * c.k);
          f(2, c.w_addr, uint64_t{c.n} * c.k);
          f(2, c.qp_addr, uint64_t{c.n} * 12);
          f(3, c.out_addr, uint64_t{c.m} * c.n);
        } else if constexpr (std::is_same_v<C, isa::Eltwise>) {
          f(0, c.a_addr, c.count);
          f(1, c.b_addr, c.count);
          f(3, c.out_addr, c.count);
        } else if constexpr (std::is_same_v<C, isa::Pool>) {
          f(0, c.in_addr, uint64_t{c.in_h} * c.in_w * c.channels);
          f(3, c.out_addr, uint64_t{c.out_h} * c.out_w * c.channels);
        } else if constexpr (std::is_same_v<C, isa::Lut>) {
          f(0, c.in_addr, c.count);
          f(2, c.table_addr, 256);
          f(3, c.out_addr, c.count);
        } else if constexpr (std::is_same_v<C, isa::Resize>) {
          f(0, c.in_addr, uint64_t{c.in_h} * c.in_w * c.channels);
          f(3, c.out_addr, uint64_t{c.out_h} * c.out_w * c.channels);
        } else if constexpr (std::is_same_v<C, isa::Mean>) {
          f(0, c.in_addr, uint64_t{c.in_h} * c.in_w * c.channels);
          f(3, c.out_addr, c.channels);
        }
      },
      cmd);
}

// The SRAM slots of a tiled operator as distinct ranges (one slot when both indices name
// the same address).
struct Slots {
  std::vector<Range> w, in, out;
};

Slots slots_of(const NpuOp& n) {
  Slots s;
  auto add = [](std::vector<Range>& v, const uint32_t* at, uint32_t bytes) {
    if (bytes == 0) return;
    v.push_back({at[0], uint64_t{at[0]} + bytes});
    if (at[1] != at[0]) v.push_back({at[1], uint64_t{at[1]} + bytes});
  };
  add(s.w, n.w_slot, n.w_slot_bytes);
  add(s.in, n.in_slot, n.in_slot_bytes);
  add(s.out, n.out_slot, n.out_slot_bytes);
  return s;
}

// SRAM regions of the tensors an operator keeps on chip (residency pass).
std::vector<Range> resident_in(const ir::Graph& g, const NpuOp& n) {
  std::vector<Range> r(2);
  for (size_t k = 0; k < 2 && k < n.inputs.size(); ++k)
    if (n.res_in[k] >= 0) r[k] = {uint64_t(n.res_in[k]), uint64_t(n.res_in[k]) + T(g, n.inputs[k]).num_bytes()};
  return r;
}

// Walks tiling `ts` of `n`: every load reads inside an input tensor (activations) or the
// operator's constants (weights), every store writes inside the output, and the stores
// (plus, for an output kept in SRAM, the compute commands' writes to its region) write
// each output byte exactly once. With `sram`, also: every transfer's SRAM side and every
// compute operand lies in a slot of its kind (copies store from the input slot) or in the
// operand's resident region. Returns the number of tiles.
int check_tiling(const ir::Graph& g, const NpuOp& n, const TileShape& ts, const std::string& what, bool sram) {
  INFO(what << ": tile rows " << ts.rows << " chans " << ts.chans << (ts.channels_outer ? " channels outer" : " rows outer"));
  const Layout l = layout_for(g, n);
  const Slots s = slots_of(n);
  const std::vector<Range> res_in = resident_in(g, n);
  const Range res_out = n.res_out >= 0 ? Range{uint64_t(n.res_out), uint64_t(n.res_out) + T(g, n.output).num_bytes()}
                                       : Range{};
  std::vector<uint8_t> written(l.output.hi - l.output.lo, 0);
  bool in_ok = true, w_ok = true, out_ok = true, sram_ok = true, res_ok = true;
  int tiles = 0;
  const bool valid = for_each_tile(n, ts, l.bases, [&](const Tile& t) {
    ++tiles;
    for (const Xfer& x : t.in_loads)
      rows_of(x, [&](uint64_t d, uint64_t a, uint64_t len) {
        in_ok = in_ok && inside_any(l.inputs, d, len);
        sram_ok = sram_ok && (!sram || inside_any(s.in, a, len));
      });
    for (const Xfer& x : t.w_loads)
      rows_of(x, [&](uint64_t d, uint64_t a, uint64_t len) {
        w_ok = w_ok && inside_any(l.constants, d, len);
        sram_ok = sram_ok && (!sram || inside_any(s.w, a, len));
      });
    for (const Xfer& x : t.stores)
      rows_of(x, [&](uint64_t d, uint64_t a, uint64_t len) {
        sram_ok = sram_ok && (!sram || inside_any(t.has_compute ? s.out : s.in, a, len));
        if (!l.output.contains(d, len)) {
          out_ok = false;
          return;
        }
        for (uint64_t k = 0; k < len; ++k) written[d - l.output.lo + k]++;
      });
    if (!t.has_compute) return;
    compute_footprint(t.compute, [&](int role, uint64_t a, uint64_t len) {
      if (role < 2 && n.res_in[role] >= 0) {
        res_ok = res_ok && res_in[size_t(role)].contains(a, len);
      } else if (role == 3 && n.res_out >= 0) {
        if (!res_out.contains(a, len)) {
          res_ok = false;
          return;
        }
        for (uint64_t k = 0; k < len; ++k) written[a - res_out.lo + k]++;
      } else if (sram) {
        sram_ok = sram_ok && inside_any(role < 2 ? s.in : role == 2 ? s.w : s.out, a, len);
      }
    });
  });
  REQUIRE(valid);
  CHECK(in_ok);
  CHECK(w_ok);
  CHECK(out_ok);
  CHECK(sram_ok);
  CHECK(res_ok);
  size_t never = 0, twice = 0;
  for (uint8_t w : written) {
    never += w == 0;
    twice += w > 1;
  }
  CHECK(never == 0);
  CHECK(twice == 0);
  return tiles;
}

// ====================================================================== command streams

// A command as the abstract command processor sees it.
struct Cmd {
  enum Kind { work, signal, wait, barrier, end, nop } kind = work;
  int queue = -1;   // engine queue (work, signal, wait)
  int sem = -1;     // signal, wait
  uint32_t word = 0;
  std::string text;  // disassembly, for messages
  isa::Command command;
};

// The queue of each command, from the table in docs/isa.md.
int queue_of(const isa::Command& c) {
  if (std::holds_alternative<isa::DmaLoad>(c)) return int(isa::Engine::kDmaIn);
  if (std::holds_alternative<isa::DmaStore>(c)) return int(isa::Engine::kDmaOut);
  if (std::holds_alternative<isa::Conv>(c) || std::holds_alternative<isa::Dwconv>(c) ||
      std::holds_alternative<isa::Matmul>(c))
    return int(isa::Engine::kMac);
  return int(isa::Engine::kVec);  // ELTWISE, POOL, LUT, RESIZE, MEAN
}

std::vector<Cmd> decode_segment(const std::vector<uint32_t>& words, const NpuSegment& s) {
  std::vector<Cmd> cmds;
  size_t at = s.first_word;
  const size_t end = size_t{s.first_word} + s.word_count;
  while (at < end) {
    const isa::DecodeResult d = isa::decode(words.data() + at, end - at);
    INFO("word " << at);
    REQUIRE(d.ok);
    Cmd c;
    c.word = static_cast<uint32_t>(at);
    c.text = isa::disassemble(d.command);
    c.command = d.command;
    if (const auto* sg = std::get_if<isa::SemSignal>(&d.command)) {
      c.kind = Cmd::signal;
      c.queue = sg->engine;
      c.sem = sg->sem;
    } else if (const auto* w = std::get_if<isa::SemWait>(&d.command)) {
      c.kind = Cmd::wait;
      c.queue = w->engine;
      c.sem = w->sem;
    } else if (std::holds_alternative<isa::End>(d.command)) {
      c.kind = Cmd::end;
    } else if (std::holds_alternative<isa::Fence>(d.command)) {
      c.kind = Cmd::barrier;
    } else if (std::holds_alternative<isa::Nop>(d.command)) {
      c.kind = Cmd::nop;
    } else {
      c.kind = Cmd::work;
      c.queue = queue_of(d.command);
    }
    cmds.push_back(std::move(c));
    at += d.words;
  }
  return cmds;
}

// Static checks of one segment's semaphore program; returns "" or the first problem.
//  1. operands in range, the segment ends with END;
//  2. in program order, every SEM_WAIT is preceded by more signals of its semaphore than
//     earlier waits (the k-th wait has its k-th signal before it), and counts end at 0;
//  3. with the k-th wait matched to the k-th signal, a happens-before analysis (vector
//     clocks over the four queues: queue order, signal -> matched wait, barriers) shows
//     that consecutive waits of each semaphore are ordered, and so are consecutive
//     signals. Then in every execution the k-th wait really consumes the k-th signal's
//     count: no engine can steal a count meant for another.
//
// `order`, when given, receives the happens-before relation (vector clocks) for the
// memory-race check below.
using Clock = std::array<uint32_t, 4>;
struct Order {
  std::vector<Clock> vc;      // per command: per queue, how many of its commands happen before
  std::vector<uint32_t> own;  // per command: its position in its queue (1-based)
  // Command a happens before command b (both on queues).
  bool before(const std::vector<Cmd>& cmds, size_t a, size_t b) const {
    return vc[b][static_cast<size_t>(cmds[a].queue)] >= own[a];
  }
};

std::string check_semaphore_program(const std::vector<Cmd>& cmds, uint32_t semaphores, Order* order = nullptr) {
  if (cmds.empty() || cmds.back().kind != Cmd::end) return "the segment does not end with END";
  auto join = [](Clock& a, const Clock& b) {
    for (size_t i = 0; i < 4; ++i) a[i] = std::max(a[i], b[i]);
  };
  Order local;
  Order& o = order ? *order : local;
  o.vc.assign(cmds.size(), Clock{});
  o.own.assign(cmds.size(), 0);
  std::vector<Clock>& vc = o.vc;
  std::vector<uint32_t>& own = o.own;
  std::array<Clock, 4> tail{};
  Clock floor{};
  std::array<uint32_t, 4> pos{};
  std::vector<std::vector<size_t>> signals(semaphores), waits(semaphores);
  for (size_t i = 0; i < cmds.size(); ++i) {
    const Cmd& c = cmds[i];
    if (c.kind == Cmd::end || c.kind == Cmd::barrier) {
      if (c.kind == Cmd::end && i + 1 != cmds.size()) return "END before the segment's last command";
      for (const Clock& t : tail) join(floor, t);
      continue;
    }
    if (c.kind == Cmd::nop) continue;
    if (c.queue < 0 || c.queue >= 4) return "engine out of range at word " + std::to_string(c.word);
    if ((c.kind == Cmd::signal || c.kind == Cmd::wait) && (c.sem < 0 || uint32_t(c.sem) >= semaphores))
      return "semaphore " + std::to_string(c.sem) + " beyond the preset's " + std::to_string(semaphores) +
             " at word " + std::to_string(c.word);
    const size_t e = static_cast<size_t>(c.queue);
    Clock v = tail[e];
    join(v, floor);
    if (c.kind == Cmd::wait) {
      auto& ws = waits[static_cast<size_t>(c.sem)];
      const auto& ss = signals[static_cast<size_t>(c.sem)];
      if (ws.size() >= ss.size())
        return "SEM_WAIT at word " + std::to_string(c.word) + " on semaphore " + std::to_string(c.sem) +
               " has no earlier SEM_SIGNAL left to consume";
      join(v, vc[ss[ws.size()]]);
      ws.push_back(i);
    }
    v[e] = ++pos[e];
    own[i] = pos[e];
    vc[i] = v;
    tail[e] = v;
    if (c.kind == Cmd::signal) signals[static_cast<size_t>(c.sem)].push_back(i);
  }
  for (uint32_t s = 0; s < semaphores; ++s)
    if (signals[s].size() != waits[s].size())
      return "semaphore " + std::to_string(s) + " ends at " + std::to_string(int64_t(signals[s].size()) - int64_t(waits[s].size()));
  auto before = [&](size_t a, size_t b) { return o.before(cmds, a, b); };
  for (uint32_t s = 0; s < semaphores; ++s)
    for (const auto* list : {&waits[s], &signals[s]})
      for (size_t k = 1; k < list->size(); ++k) {
        const size_t a = (*list)[k - 1], b = (*list)[k];
        if (cmds[a].queue != cmds[b].queue && !before(a, b))
          return std::string(list == &waits[s] ? "waits" : "signals") + " on semaphore " + std::to_string(s) +
                 " at words " + std::to_string(cmds[a].word) + " (" + isa::to_string(isa::Engine(cmds[a].queue)) +
                 ") and " + std::to_string(cmds[b].word) + " (" + isa::to_string(isa::Engine(cmds[b].queue)) +
                 ") are not ordered";
      }
  return "";
}

// Calls f(dram, sram, len) for each contiguous row of a DMA command (four dimensions).
template <typename D, typename F>
void dma_rows(const D& d, F f) {
  for (uint64_t i3 = 0; i3 < std::max<uint16_t>(d.n3, 1); ++i3)
    for (uint64_t i2 = 0; i2 < std::max<uint16_t>(d.n2, 1); ++i2)
      for (uint64_t i1 = 0; i1 < std::max<uint16_t>(d.n1, 1); ++i1)
        f(uint64_t{d.dram_addr} + i3 * d.dram_stride3 + i2 * d.dram_stride2 + i1 * d.dram_stride1,
          uint64_t{d.sram_addr} + i3 * d.sram_stride3 + i2 * d.sram_stride2 + i1 * d.sram_stride1, uint64_t{d.len0});
}

// Memory races: with the happens-before relation of the semaphores, every two accesses to
// the same SRAM or arena bytes, at least one a write, must be ordered (the later one in
// program order after the earlier one). Tracked per 64-byte granule (every slot, region
// and arena tensor is 64-byte aligned, so accesses of different queues never share a
// granule legitimately): the last write and, per queue, the last read since it. Constants
// are read-only and not tracked. Returns "" or the first race.
std::string check_memory_races(const std::vector<Cmd>& cmds, const Order& order, uint64_t sram_bytes,
                               uint64_t arena_bytes) {
  constexpr uint64_t kGranule = 64;
  struct Cell {
    int32_t write = -1;
    std::array<int32_t, 4> read{{-1, -1, -1, -1}};
  };
  std::vector<Cell> sram((sram_bytes + kGranule - 1) / kGranule), arena((arena_bytes + kGranule - 1) / kGranule);
  std::string problem;
  auto describe = [&](size_t i) {
    return "word " + std::to_string(cmds[i].word) + " (" + isa::to_string(isa::Engine(cmds[i].queue)) + ": " +
           cmds[i].text.substr(0, 60) + ")";
  };
  auto touch = [&](std::vector<Cell>& mem, const char* space, size_t i, uint64_t at, uint64_t len, bool write) {
    if (len == 0 || !problem.empty()) return;
    if (at + len > mem.size() * kGranule) {
      problem = describe(i) + " reaches past the " + space;
      return;
    }
    for (uint64_t g = at / kGranule; g <= (at + len - 1) / kGranule && problem.empty(); ++g) {
      Cell& c = mem[g];
      auto ordered = [&](int32_t j, const char* what) {
        if (j >= 0 && !order.before(cmds, size_t(j), i))
          problem = std::string(space) + " bytes " + std::to_string(g * kGranule) + "..+64: " + what + " at " +
                    describe(size_t(j)) + " and " + (write ? "write" : "read") + " at " + describe(i) +
                    " are not ordered";
      };
      ordered(c.write, "write");
      if (write) {
        for (int32_t r : c.read) ordered(r, "read");
        c.write = int32_t(i);
        c.read.fill(-1);
      } else {
        c.read[static_cast<size_t>(cmds[i].queue)] = int32_t(i);
      }
    }
  };
  auto dram = [&](size_t i, uint64_t va, uint64_t len, bool write) {
    if (va >= kArenaVa) touch(arena, "arena", i, va - kArenaVa, len, write);
    else if (write || va < kConstantVa) problem = describe(i) + " touches DRAM outside the arena and constants";
  };
  for (size_t i = 0; i < cmds.size() && problem.empty(); ++i) {
    const Cmd& c = cmds[i];
    if (c.kind != Cmd::work) continue;
    if (const auto* l = std::get_if<isa::DmaLoad>(&c.command)) {
      dma_rows(*l, [&](uint64_t d, uint64_t s, uint64_t len) {
        dram(i, d, len, false);
        touch(sram, "SRAM", i, s, len, true);
      });
    } else if (const auto* st = std::get_if<isa::DmaStore>(&c.command)) {
      dma_rows(*st, [&](uint64_t d, uint64_t s, uint64_t len) {
        touch(sram, "SRAM", i, s, len, false);
        dram(i, d, len, true);
      });
    } else {
      compute_footprint(c.command, [&](int role, uint64_t a, uint64_t len) { touch(sram, "SRAM", i, a, len, role == 3); });
    }
  }
  return problem;
}

// The abstract command processor: in-order dispatch into four queues of `depth` commands
// (stopping at a full queue), FENCE/END wait for every queue empty, SEM_WAIT blocks its
// queue while the count is 0, everything else completes at once. `policy` picks what
// happens next: 0 = dispatch whenever possible (queues run full), 1 = run engines whenever
// possible (queues stay short), 2 = a random ready action. Also checks that each wait takes
// the count its scheduler meant: waits on a semaphore complete in program order.
struct SimOutcome {
  bool ended = false;
  std::string problem;
};

SimOutcome simulate(const std::vector<Cmd>& cmds, uint32_t semaphores, uint32_t depth, int policy,
                    std::mt19937* rng) {
  SimOutcome r;
  std::array<std::deque<size_t>, 4> q;
  std::vector<int64_t> count(semaphores, 0);
  std::vector<std::deque<size_t>> pending(semaphores);  // waits not yet completed, program order
  for (size_t i = 0; i < cmds.size(); ++i)
    if (cmds[i].kind == Cmd::wait) pending[static_cast<size_t>(cmds[i].sem)].push_back(i);
  size_t pc = 0;
  auto can_dispatch = [&] {
    if (pc >= cmds.size()) return false;
    const Cmd& c = cmds[pc];
    if (c.kind == Cmd::end || c.kind == Cmd::barrier)
      return std::all_of(q.begin(), q.end(), [](const auto& d) { return d.empty(); });
    if (c.kind == Cmd::nop) return true;
    return q[static_cast<size_t>(c.queue)].size() < depth;
  };
  auto can_step = [&](size_t e) {
    if (q[e].empty()) return false;
    const Cmd& c = cmds[q[e].front()];
    return c.kind != Cmd::wait || count[static_cast<size_t>(c.sem)] > 0;
  };
  auto dispatch = [&] {
    const Cmd& c = cmds[pc];
    if (c.kind == Cmd::end) r.ended = true;
    else if (c.kind == Cmd::work || c.kind == Cmd::signal || c.kind == Cmd::wait)
      q[static_cast<size_t>(c.queue)].push_back(pc);
    ++pc;
  };
  auto step = [&](size_t e) {
    const size_t i = q[e].front();
    q[e].pop_front();
    const Cmd& c = cmds[i];
    if (c.kind == Cmd::signal) ++count[static_cast<size_t>(c.sem)];
    if (c.kind == Cmd::wait) {
      --count[static_cast<size_t>(c.sem)];
      auto& p = pending[static_cast<size_t>(c.sem)];
      if (p.front() != i && r.problem.empty())
        r.problem = "SEM_WAIT at word " + std::to_string(c.word) + " (" + isa::to_string(isa::Engine(c.queue)) +
                    ") took a count of semaphore " + std::to_string(c.sem) + " meant for the wait at word " +
                    std::to_string(cmds[p.front()].word) + " (" + isa::to_string(isa::Engine(cmds[p.front()].queue)) + ")";
      p.erase(std::find(p.begin(), p.end(), i));
    }
  };
  std::vector<int> ready;
  while (!r.ended) {
    ready.clear();
    for (size_t e = 0; e < 4; ++e)
      if (can_step(e)) ready.push_back(static_cast<int>(e));
    const bool d = can_dispatch();
    if (ready.empty() && !d) {
      std::ostringstream o;
      o << "deadlock: next command at word " << (pc < cmds.size() ? cmds[pc].word : 0) << " ("
        << (pc < cmds.size() ? cmds[pc].text : "none") << "); queue heads:";
      for (size_t e = 0; e < 4; ++e)
        o << " " << isa::to_string(isa::Engine(e)) << "=" << (q[e].empty() ? "empty" : cmds[q[e].front()].text)
          << " (" << q[e].size() << ")";
      r.problem = o.str();
      return r;
    }
    if (policy == 0) {
      if (d) dispatch();
      else step(static_cast<size_t>(ready.front()));
    } else if (policy == 1) {
      if (!ready.empty()) step(static_cast<size_t>(ready.front()));
      else dispatch();
    } else {
      std::uniform_int_distribution<size_t> pick(0, ready.size() + (d ? 1 : 0) - 1);
      const size_t k = pick(*rng);
      if (k < ready.size()) step(static_cast<size_t>(ready[k]));
      else dispatch();
    }
  }
  for (uint32_t s = 0; s < semaphores && r.problem.empty(); ++s)
    if (count[s] != 0) r.problem = "semaphore " + std::to_string(s) + " ends at " + std::to_string(count[s]);
  return r;
}

}  // namespace

// ========================================================================= canonicalize

TEST_CASE("canonicalize drops dead operators and identity QUANTIZEs, keeps requantizations", "[canonicalize]") {
  Builder b;
  const ir::Quantization qx = qt(0.05f, -3);
  const int x = b.input("x", DType::i8, {1, 4, 4, 8}, qx);
  // An identity QUANTIZE (same dtype, scale, zero point): its consumer must read x.
  const int xq = b.tensor("x_identity", DType::i8, {1, 4, 4, 8}, qx);
  b.op(OpType::QUANTIZE, {x}, {xq});
  const int r = b.tensor("relu", DType::i8, {1, 4, 4, 8}, qx);
  b.op(OpType::RELU, {xq}, {r});
  // A real requantization (another scale): stays.
  const int rq = b.tensor("requantized", DType::i8, {1, 4, 4, 8}, qt(0.1f, 5));
  b.op(OpType::QUANTIZE, {r}, {rq});
  // A dead chain: RELU -> TANH, nothing reads the TANH (removing it makes the RELU dead).
  const int d1 = b.tensor("dead1", DType::i8, {1, 4, 4, 8}, qx);
  b.op(OpType::RELU, {x}, {d1});
  const int d2 = b.tensor("dead2", DType::i8, {1, 4, 4, 8}, qt(1.f / 128, 0));
  b.op(OpType::TANH, {d1}, {d2});
  // An identity QUANTIZE producing a graph output: it must stay (the output needs a writer).
  const int out2 = b.tensor("out_identity", DType::i8, {1, 4, 4, 8}, qt(0.1f, 5));
  b.op(OpType::QUANTIZE, {rq}, {out2});
  b.output(rq);
  b.output(out2);
  ir::verify(b.g);

  Plan p = run_passes(b.g, default_hw(), kCanonicalize);
  const ir::Graph& g = p.graph;
  REQUIRE_NOTHROW(ir::verify(g));
  REQUIRE(g.ops.size() == 3);
  CHECK(g.ops[0].type == OpType::RELU);
  CHECK(g.ops[0].inputs == std::vector<int>{x});  // rewired past the identity QUANTIZE
  CHECK(g.ops[0].outputs == std::vector<int>{r});
  CHECK(g.ops[1].type == OpType::QUANTIZE);
  CHECK(g.ops[1].inputs == std::vector<int>{r});
  CHECK(g.ops[1].outputs == std::vector<int>{rq});
  CHECK(g.ops[2].type == OpType::QUANTIZE);
  CHECK(g.ops[2].outputs == std::vector<int>{out2});
  CHECK(g.outputs == std::vector<int>({rq, out2}));
  CHECK(g.inputs == std::vector<int>{x});

  // The canonical graph computes what the original does (the reference kernels).
  std::vector<int8_t> in = random_values<int8_t>(128, -128, 127, 5);
  auto run = [&](const ir::Graph& graph) {
    cpu::Executor ex(graph, cpu::ref_registry());
    ex.set_input(0, in.data(), in.size());
    ex.run();
    std::vector<uint8_t> o(ex.output_data(0), ex.output_data(0) + ex.output_bytes(0));
    o.insert(o.end(), ex.output_data(1), ex.output_data(1) + ex.output_bytes(1));
    return o;
  };
  CHECK(run(g) == run(b.g));
}

TEST_CASE("canonicalize keeps the shared models valid and removes only no-ops", "[canonicalize]") {
  for (const std::string& m : model_paths()) {
    INFO(stem(m));
    const ir::Graph& g = imported(m);
    const Plan p = run_passes(g, default_hw(), kCanonicalize);
    REQUIRE_NOTHROW(ir::verify(p.graph));
    CHECK(p.graph.inputs == g.inputs);
    CHECK(p.graph.outputs == g.outputs);
    // Every removed operator was an identity QUANTIZE or dead; the survivors keep their order.
    // The other rewrites (activation fusion, PAD folding, same-shape reshapes) find nothing
    // in these models: they have no standalone RELU/RELU6/RELU_N1_TO_1, no PAD, and every
    // RESHAPE changes the shape; so every survivor keeps its fused activation and padding.
    size_t j = 0;
    for (size_t i = 0; i < g.ops.size(); ++i) {
      if (j < p.graph.ops.size() && p.graph.ops[j].name == g.ops[i].name && p.graph.ops[j].type == g.ops[i].type) {
        for (const char* key : {"fused_activation_function", "padding"})
          CHECK(p.graph.ops[j].attrs.get_int(key, -1) == g.ops[i].attrs.get_int(key, -1));
        CHECK(p.graph.ops[j].outputs == g.ops[i].outputs);
        ++j;
        continue;
      }
      const ir::Op& op = g.ops[i];
      bool read = false;
      for (const ir::Op& other : g.ops)
        for (int t : other.inputs) read = read || t == op.outputs[0];
      const bool identity = op.type == OpType::QUANTIZE && T(g, op.inputs[0]).dtype == T(g, op.outputs[0]).dtype &&
                            T(g, op.inputs[0]).quant.scale == T(g, op.outputs[0]).quant.scale &&
                            T(g, op.inputs[0]).quant.zero_point == T(g, op.outputs[0]).quant.zero_point;
      INFO("removed " << g.describe_op(i));
      CHECK((identity || !read));
    }
    CHECK(j == p.graph.ops.size());
  }
}

namespace {

// The reference kernels' output bytes of `g` (every output, concatenated) on random
// inputs drawn with `seed` (one per input tensor, its whole dtype range).
std::vector<uint8_t> reference_bytes(const ir::Graph& g, uint32_t seed) {
  cpu::Executor ex(g, cpu::ref_registry());
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const ir::Tensor& t = T(g, g.inputs[i]);
    const std::vector<uint8_t> in = random_values<uint8_t>(t.num_bytes(), 0, 255, seed + uint32_t(i));
    ex.set_input(i, in.data(), in.size());
  }
  ex.run();
  std::vector<uint8_t> out;
  for (size_t i = 0; i < g.outputs.size(); ++i)
    out.insert(out.end(), ex.output_data(i), ex.output_data(i) + ex.output_bytes(i));
  return out;
}

// The canonical graph of `g`, checked to be valid, to keep the graph's inputs and outputs
// and to compute the same bytes as `g` on the reference kernels.
ir::Graph canonical(const ir::Graph& g) {
  ir::verify(g);
  const Plan p = run_passes(g, default_hw(), kCanonicalize);
  REQUIRE_NOTHROW(ir::verify(p.graph));
  CHECK(p.graph.inputs == g.inputs);
  CHECK(p.graph.outputs == g.outputs);
  for (uint32_t seed : {1u, 2u, 3u}) CHECK(reference_bytes(p.graph, seed) == reference_bytes(g, seed));
  return p.graph;
}

std::vector<OpType> op_types(const ir::Graph& g) {
  std::vector<OpType> v;
  for (const ir::Op& op : g.ops) v.push_back(op.type);
  return v;
}

int fused_act(const ir::Op& op) { return static_cast<int>(op.attrs.get_int("fused_activation_function", 0)); }

// The producer kinds of activation fusion, each with a 1x6x6x8 int8 output quantized `q`.
enum class Producer { conv, dwconv, fc, add, sub, mul };

// x -> producer (fused activation `existing`, output quantized `q`) -> `act` (output
// quantized `act_q`) -> y; returns the graph (y is its output). `extra_reader`: the
// producer's output is read by one more operator (a RELU writing a graph output);
// `producer_output`: the producer's output is itself a graph output.
ir::Graph producer_then_activation(Producer kind, int existing, OpType act, const ir::Quantization& q,
                                   const ir::Quantization& act_q, bool extra_reader = false,
                                   bool producer_output = false) {
  Builder b;
  const ir::Quantization qx = qt(0.04f, 2);
  const int x = b.input("x", DType::i8, {1, 6, 6, 8}, qx);
  int mid = -1;
  switch (kind) {
    case Producer::conv:
      mid = add_conv(b, x, 8, 3, 1, existing, q, 7);
      break;
    case Producer::dwconv: {
      std::vector<float> ws(8, 0.006f), bs(8, 0.04f * 0.006f);
      const int w = b.constant("dw_w", DType::i8, {1, 3, 3, 8}, random_values<int8_t>(72, -127, 127, 8), qaxis(ws, 3));
      const int bias = b.constant("dw_b", DType::i32, {8}, random_values<int32_t>(8, -900, 900, 9), qaxis(bs, 0));
      mid = b.tensor("dw_out", DType::i8, {1, 6, 6, 8}, q);
      b.op(OpType::DEPTHWISE_CONV_2D, {x, w, bias}, {mid},
           {{"padding", I(0)}, {"stride_h", I(1)}, {"stride_w", I(1)}, {"depth_multiplier", I(1)},
            {"fused_activation_function", I(existing)}});
      break;
    }
    case Producer::fc: {
      const int w = b.constant("fc_w", DType::i8, {8, 8}, random_values<int8_t>(64, -127, 127, 10), qt(0.01f, 0));
      const int bias = b.constant("fc_b", DType::i32, {8}, random_values<int32_t>(8, -300, 300, 11), qt(0.04f * 0.01f, 0));
      mid = b.tensor("fc_out", DType::i8, {36, 8}, q);
      b.op(OpType::FULLY_CONNECTED, {x, w, bias}, {mid}, {{"fused_activation_function", I(existing)}});
      break;
    }
    case Producer::add:
    case Producer::sub:
    case Producer::mul: {
      const int x2 = b.input("x2", DType::i8, {1, 6, 6, 8}, qt(0.03f, -7));
      mid = b.tensor("sum", DType::i8, {1, 6, 6, 8}, q);
      const OpType t = kind == Producer::add ? OpType::ADD : kind == Producer::sub ? OpType::SUB : OpType::MUL;
      b.op(t, {x, x2}, {mid},
           {{"fused_activation_function", I(existing)}});
      break;
    }
  }
  const int y = b.tensor("act_out", DType::i8, T(b.g, mid).shape, act_q);
  b.op(act, {mid}, {y});
  b.output(y);
  if (extra_reader) {
    const int r = b.tensor("relu2", DType::i8, T(b.g, mid).shape, q);
    b.op(OpType::RELU, {mid}, {r});
    b.output(r);
  }
  if (producer_output) b.output(mid);
  return b.g;
}

}  // namespace

TEST_CASE("canonicalize fuses RELU, RELU6 and RELU_N1_TO_1 into the producer's clamp", "[canonicalize]") {
  // Output quantization scale 0.05, zero point -3: 0 -> -3, 6 -> 117, -1 -> -23, 1 -> 17.
  // The fused activation is the intersection of both clamps, when one has that range:
  // RELU and RELU_N1_TO_1 intersect in [0, 1], which none has.
  const ir::Quantization q = qt(0.05f, -3);
  const int kNone = 0, kRelu = 1, kN1 = 2, kRelu6 = 3, kNo = -1;
  struct Case {
    int existing;
    OpType act;
    int fused;  // kNo: no fusion
  };
  const Case cases[] = {
      {kNone, OpType::RELU, kRelu},    {kNone, OpType::RELU6, kRelu6},  {kNone, OpType::RELU_N1_TO_1, kN1},
      {kRelu, OpType::RELU, kRelu},    {kRelu, OpType::RELU6, kRelu6},  {kRelu6, OpType::RELU, kRelu6},
      {kRelu6, OpType::RELU6, kRelu6}, {kN1, OpType::RELU_N1_TO_1, kN1}, {kN1, OpType::RELU6, kNo},
      {kRelu, OpType::RELU_N1_TO_1, kNo}, {kRelu6, OpType::RELU_N1_TO_1, kNo}, {kN1, OpType::RELU, kNo},
  };
  for (Producer kind : {Producer::conv, Producer::dwconv, Producer::fc, Producer::add, Producer::sub, Producer::mul})
    for (const Case& c : cases) {
      INFO("producer " << int(kind) << ", fused " << c.existing << " then " << ir::op_type_name(c.act));
      const ir::Graph g = producer_then_activation(kind, c.existing, c.act, q, q);
      const ir::Graph cg = canonical(g);
      if (c.fused == kNo) {
        CHECK(cg.ops.size() == g.ops.size());
        continue;
      }
      REQUIRE(cg.ops.size() == g.ops.size() - 1);
      const ir::Op& prod = cg.ops.back();
      CHECK(prod.type == g.ops[g.ops.size() - 2].type);
      CHECK(fused_act(prod) == c.fused);
      CHECK(prod.outputs == g.ops.back().outputs);  // writes the activation's output
    }
  // Where 0 is the lowest value (zero point -128, scale 6/255) RELU and RELU6 clamp nothing
  // and RELU then RELU_N1_TO_1 is exactly RELU_N1_TO_1.
  const ir::Quantization q6 = qt(6.f / 255, -128);
  const ir::Graph g = producer_then_activation(Producer::conv, kRelu, OpType::RELU_N1_TO_1, q6, q6);
  const ir::Graph cg = canonical(g);
  REQUIRE(op_types(cg) == std::vector<OpType>{OpType::CONV_2D});
  CHECK(fused_act(cg.ops[0]) == kN1);
}

TEST_CASE("canonicalize keeps activations it cannot fuse exactly", "[canonicalize]") {
  const ir::Quantization q = qt(0.05f, -3);
  SECTION("the activation requantizes (another scale or zero point)") {
    // One ulp apart, the activation's own table is still a clamp (its multiplier rounds
    // to 1), but the producer would requantize to another scale.
    for (const ir::Quantization& other : {qt(0.06f, -3), qt(0.05f, -2), qt(std::nextafter(0.05f, 1.f), -3)}) {
      const ir::Graph cg = canonical(producer_then_activation(Producer::conv, 0, OpType::RELU, q, other));
      CHECK(op_types(cg) == std::vector<OpType>({OpType::CONV_2D, OpType::RELU}));
    }
  }
  SECTION("the producer's output has a second reader") {
    const ir::Graph cg = canonical(producer_then_activation(Producer::add, 0, OpType::RELU6, q, q, true));
    CHECK(op_types(cg) == std::vector<OpType>({OpType::ADD, OpType::RELU6, OpType::RELU}));
  }
  SECTION("the producer's output is a graph output") {
    const ir::Graph cg = canonical(producer_then_activation(Producer::fc, 0, OpType::RELU, q, q, false, true));
    CHECK(op_types(cg) == std::vector<OpType>({OpType::FULLY_CONNECTED, OpType::RELU}));
  }
  SECTION("the producer has no fused activation (MAX_POOL_2D is not a requantizing producer here)") {
    Builder b;
    const int x = b.input("x", DType::i8, {1, 4, 4, 8}, q);
    const int m = b.tensor("pool", DType::i8, {1, 2, 2, 8}, q);
    b.op(OpType::MAX_POOL_2D, {x}, {m},
         {{"padding", I(1)}, {"stride_h", I(2)}, {"stride_w", I(2)}, {"filter_height", I(2)}, {"filter_width", I(2)}});
    const int y = b.tensor("relu", DType::i8, {1, 2, 2, 8}, q);
    b.op(OpType::RELU, {m}, {y});
    b.output(y);
    CHECK(op_types(canonical(b.g)) == std::vector<OpType>({OpType::MAX_POOL_2D, OpType::RELU}));
  }
}

namespace {

// x [1, h, w, c] int8 -> PAD or PADV2 (paddings [4][2], PADV2 value `pad_value`) -> 3x3
// CONV_2D (or depthwise) with `padding`, stride `stride` -> RELU -> y. The convolution's
// output size follows from the padded input.
struct PadConv {
  int x = -1, padded = -1, conv_out = -1, y = -1;
  ir::Graph g;
};

PadConv pad_then_conv(int h, int w, int c, std::array<int32_t, 8> pads, bool padv2, int pad_value, bool depthwise,
                      int padding, int stride, bool extra_reader = false) {
  Builder b;
  PadConv r;
  const ir::Quantization qx = qt(0.05f, -4);
  r.x = b.input("x", DType::i8, {1, h, w, c}, qx);
  const int paddings = b.constant("paddings", DType::i32, {4, 2}, std::vector<int32_t>(pads.begin(), pads.end()));
  const int ph = h + pads[2] + pads[3], pw = w + pads[4] + pads[5], pc = c + pads[6] + pads[7];
  r.padded = b.tensor("padded", DType::i8, {1, ph, pw, pc}, qx);
  if (padv2) {
    const int v = b.constant("pad_value", DType::i8, {}, std::vector<int8_t>{static_cast<int8_t>(pad_value)}, qx);
    b.op(OpType::PADV2, {r.x, paddings, v}, {r.padded});
  } else {
    b.op(OpType::PAD, {r.x, paddings}, {r.padded});
  }
  const int oh = padding == 0 ? (ph + stride - 1) / stride : (ph - 3) / stride + 1;
  const int ow = padding == 0 ? (pw + stride - 1) / stride : (pw - 3) / stride + 1;
  const ir::Quantization qo = qt(0.08f, 5);
  if (depthwise) {
    std::vector<float> ws(size_t(pc), 0.007f), bs(size_t(pc), 0.05f * 0.007f);
    const int wt = b.constant("dw_w", DType::i8, {1, 3, 3, pc}, random_values<int8_t>(size_t(9 * pc), -127, 127, 41),
                              qaxis(ws, 3));
    const int bias = b.constant("dw_b", DType::i32, {pc}, random_values<int32_t>(size_t(pc), -900, 900, 42), qaxis(bs, 0));
    r.conv_out = b.tensor("dw_out", DType::i8, {1, oh, ow, pc}, qo);
    b.op(OpType::DEPTHWISE_CONV_2D, {r.padded, wt, bias}, {r.conv_out},
         {{"padding", I(padding)}, {"stride_h", I(stride)}, {"stride_w", I(stride)}, {"depth_multiplier", I(1)},
          {"fused_activation_function", I(0)}});
  } else {
    const int out_c = 6;
    std::vector<float> ws(out_c, 0.004f), bs(out_c, 0.05f * 0.004f);
    const int wt = b.constant("w", DType::i8, {out_c, 3, 3, pc},
                              random_values<int8_t>(size_t(out_c * 9 * pc), -127, 127, 43), qaxis(ws, 0));
    const int bias = b.constant("b", DType::i32, {out_c}, random_values<int32_t>(out_c, -900, 900, 44), qaxis(bs, 0));
    r.conv_out = b.tensor("conv_out", DType::i8, {1, oh, ow, out_c}, qo);
    b.op(OpType::CONV_2D, {r.padded, wt, bias}, {r.conv_out},
         {{"padding", I(padding)}, {"stride_h", I(stride)}, {"stride_w", I(stride)},
          {"fused_activation_function", I(0)}});
  }
  r.y = b.tensor("y", DType::i8, T(b.g, r.conv_out).shape, qo);
  b.op(OpType::RELU, {r.conv_out}, {r.y});
  b.output(r.y);
  if (extra_reader) {
    const int n = b.tensor("relu2", DType::i8, {1, ph, pw, pc}, qx);
    b.op(OpType::RELU, {r.padded}, {n});
    b.output(n);
  }
  r.g = std::move(b.g);
  return r;
}

}  // namespace

TEST_CASE("canonicalize folds a zero-point PAD into a VALID convolution as SAME padding", "[canonicalize]") {
  struct Case {
    const char* what;
    int h, w;
    std::array<int32_t, 8> pads;
    bool padv2, depthwise;
    int stride;
  };
  const Case cases[] = {
      {"PAD 1 all round, 3x3 stride 1", 9, 7, {0, 0, 1, 1, 1, 1, 0, 0}, false, false, 1},
      {"PAD bottom/right only, stride 2 (TensorFlow's SAME)", 10, 8, {0, 0, 0, 1, 0, 1, 0, 0}, false, false, 2},
      {"PADV2 with the zero point, depthwise", 6, 6, {0, 0, 1, 1, 1, 1, 0, 0}, true, true, 1},
      {"odd input, stride 2: SAME pads 1 before and after", 9, 9, {0, 0, 1, 1, 1, 1, 0, 0}, false, true, 2},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    const PadConv m = pad_then_conv(c.h, c.w, 8, c.pads, c.padv2, -4, c.depthwise, 1, c.stride);
    const ir::Graph cg = canonical(m.g);
    // The PAD goes; the convolution reads x with SAME padding; the RELU is fused.
    REQUIRE(cg.ops.size() == 1);
    const ir::Op& conv = cg.ops[0];
    CHECK(conv.type == (c.depthwise ? OpType::DEPTHWISE_CONV_2D : OpType::CONV_2D));
    CHECK(conv.inputs[0] == m.x);
    CHECK(conv.attrs.get_int("padding", -1) == 0);
    CHECK(conv.outputs == std::vector<int>{m.y});
    CHECK(fused_act(conv) == 1);
  }
}

TEST_CASE("canonicalize keeps PADs that are not the convolution's SAME padding", "[canonicalize]") {
  struct Case {
    const char* what;
    int h, w;
    std::array<int32_t, 8> pads;
    bool padv2;
    int pad_value, padding, stride;
    bool extra_reader;
  };
  const Case cases[] = {
      {"PADV2 with a value other than the zero point", 6, 6, {0, 0, 1, 1, 1, 1, 0, 0}, true, 0, 1, 1, false},
      {"padding on the channel axis", 6, 6, {0, 0, 1, 1, 1, 1, 0, 2}, false, 0, 1, 1, false},
      {"a SAME convolution after the PAD", 6, 6, {0, 0, 1, 1, 1, 1, 0, 0}, false, 0, 0, 1, false},
      {"symmetric padding before stride 2 (SAME pads 0 before)", 10, 10, {0, 0, 1, 1, 1, 1, 0, 0}, false, 0, 1, 2, false},
      {"more padding than SAME (output grows)", 6, 6, {0, 0, 2, 2, 1, 1, 0, 0}, false, 0, 1, 1, false},
      {"the padded tensor has a second reader", 6, 6, {0, 0, 1, 1, 1, 1, 0, 0}, false, 0, 1, 1, true},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    const PadConv m = pad_then_conv(c.h, c.w, 8, c.pads, c.padv2, c.pad_value, false, c.padding, c.stride,
                                    c.extra_reader);
    const ir::Graph cg = canonical(m.g);
    REQUIRE(cg.ops.size() >= 2);
    CHECK((cg.ops[0].type == OpType::PAD || cg.ops[0].type == OpType::PADV2));
    CHECK(cg.ops[1].inputs[0] == m.padded);
    CHECK(cg.ops[1].attrs.get_int("padding", -1) == c.padding);
  }
}

TEST_CASE("canonicalize drops RESHAPE, SQUEEZE and EXPAND_DIMS that keep the shape", "[canonicalize]") {
  const ir::Quantization q = qt(0.05f, -3);
  // x -> RELU -> `type` (to `out_shape`) -> RELU -> y.
  auto chain = [&](OpType type, std::vector<int32_t> in_shape, std::vector<int32_t> out_shape,
                   bool reshape_is_output) {
    Builder b;
    const int x = b.input("x", DType::i8, in_shape, q);
    const int r = b.tensor("relu", DType::i8, in_shape, q);
    b.op(OpType::RELU, {x}, {r});
    const int s = b.tensor("reshaped", DType::i8, out_shape, q);
    if (type == OpType::RESHAPE) {
      const int shape = b.constant("shape", DType::i32, {int32_t(out_shape.size())}, out_shape);
      b.op(type, {r, shape}, {s});
    } else if (type == OpType::EXPAND_DIMS) {
      const int axis = b.constant("axis", DType::i32, {1}, std::vector<int32_t>{0});
      b.op(type, {r, axis}, {s});
    } else {
      b.op(type, {r}, {s});
    }
    const int y = b.tensor("relu2", DType::i8, out_shape, q);
    b.op(OpType::RELU, {s}, {y});
    b.output(y);
    if (reshape_is_output) b.output(s);
    return b.g;
  };
  const std::vector<int32_t> shape = {1, 4, 6, 8};
  SECTION("a RESHAPE to the same shape goes; its reader reads its input") {
    const ir::Graph g = chain(OpType::RESHAPE, shape, shape, false);
    const ir::Graph cg = canonical(g);
    REQUIRE(op_types(cg) == std::vector<OpType>({OpType::RELU, OpType::RELU}));
    CHECK(cg.ops[1].inputs[0] == g.ops[0].outputs[0]);
  }
  SECTION("a SQUEEZE of a tensor without size-1 axes goes") {
    const ir::Graph cg = canonical(chain(OpType::SQUEEZE, {2, 3, 4}, {2, 3, 4}, false));
    CHECK(op_types(cg) == std::vector<OpType>({OpType::RELU, OpType::RELU}));
  }
  SECTION("a SQUEEZE that removes an axis stays") {
    const ir::Graph cg = canonical(chain(OpType::SQUEEZE, shape, {4, 6, 8}, false));
    CHECK(op_types(cg) == std::vector<OpType>({OpType::RELU, OpType::SQUEEZE, OpType::RELU}));
  }
  SECTION("a RESHAPE that changes the shape stays") {
    const ir::Graph cg = canonical(chain(OpType::RESHAPE, shape, {4, 48}, false));
    CHECK(op_types(cg) == std::vector<OpType>({OpType::RELU, OpType::RESHAPE, OpType::RELU}));
  }
  SECTION("an EXPAND_DIMS stays (it always adds an axis)") {
    const ir::Graph cg = canonical(chain(OpType::EXPAND_DIMS, shape, {1, 1, 4, 6, 8}, false));
    CHECK(op_types(cg) == std::vector<OpType>({OpType::RELU, OpType::EXPAND_DIMS, OpType::RELU}));
  }
  SECTION("a same-shape RESHAPE that writes a graph output stays") {
    const ir::Graph cg = canonical(chain(OpType::RESHAPE, shape, shape, true));
    CHECK(op_types(cg) == std::vector<OpType>({OpType::RELU, OpType::RESHAPE, OpType::RELU}));
  }
}

TEST_CASE("canonicalize: PAD -> CONV (VALID) -> RELU compiled and simulated equals the reference", "[canonicalize][npu]") {
  for (bool depthwise : {false, true}) {
    INFO((depthwise ? "depthwise" : "conv"));
    const PadConv m = pad_then_conv(14, 12, 16, {0, 0, 1, 1, 1, 1, 0, 0}, false, 0, depthwise, 1, 1);
    // After canonicalize one operator is left, and it runs on the NPU.
    const Plan p = run_passes(m.g, default_hw(), kPartition);
    REQUIRE(p.graph.ops.size() == 1);
    CHECK_FALSE(p.cpu_reason[0]);
    const CompileResult r = compile(m.g, default_hw());
    tessel::npu::SimRunner runner(r.loadable, default_hw());
    for (uint32_t seed : {5u, 6u}) {
      const std::vector<uint8_t> in = random_values<uint8_t>(T(m.g, m.x).num_bytes(), 0, 255, seed);
      runner.set_input(0, in.data(), in.size());
      const tessel::npu::RunResult res = runner.run();
      REQUIRE(res.outputs.size() == 1);
      CHECK(res.outputs[0] == reference_bytes(m.g, seed));
    }
  }
}

// ============================================================================ partition

namespace {

// The CPU-fallback reason partition gives the single operator of `g` (nullopt: NPU).
std::optional<std::string> reason_of(const ir::Graph& g, const sim::npu::NpuConfig& hw) {
  const Plan p = run_passes(g, hw, kPartition);
  REQUIRE(p.cpu_reason.size() == 1);
  return p.cpu_reason[0];
}

// A graph with one int8 3x3 CONV (output channels 8) on an input of `in_shape`.
ir::Graph one_conv(std::vector<int32_t> in_shape, int weight_in_c = -1, int out_c = 8) {
  Builder b;
  const int x = b.input("x", DType::i8, in_shape, qt(0.05f, 1));
  const int in_c = weight_in_c > 0 ? weight_in_c : in_shape[3];
  std::vector<float> ws(8, 0.003f);
  const int w = b.constant("w", DType::i8, {8, 3, 3, in_c}, random_values<int8_t>(size_t(72) * in_c, -127, 127, 3),
                           qaxis(ws, 0));
  const int y = b.tensor("y", DType::i8, {in_shape[0], in_shape[1], in_shape[2], out_c}, qt(0.1f, -4));
  b.op(OpType::CONV_2D, {x, w, ir::kNoTensor}, {y},
       {{"padding", I(0)}, {"stride_h", I(1)}, {"stride_w", I(1)}, {"fused_activation_function", I(0)}});
  b.output(y);
  return b.g;
}

}  // namespace

TEST_CASE("partition reports why an operator runs on the CPU", "[partition]") {
  const sim::npu::NpuConfig& hw = default_hw();
  SECTION("a supported convolution runs on the NPU") { CHECK_FALSE(reason_of(one_conv({1, 8, 8, 4}), hw)); }
  SECTION("LOG_SOFTMAX has no NPU command") {
    Builder b;
    const int x = b.input("x", DType::i8, {1, 10}, qt(0.1f, 0));
    const int y = b.tensor("y", DType::i8, {1, 10}, qt(16.f / 256, 127));
    b.op(OpType::LOG_SOFTMAX, {x}, {y});
    b.output(y);
    const auto r = reason_of(b.g, hw);
    REQUIRE(r);
    CHECK(*r == "no NPU command computes LOG_SOFTMAX");
  }
  SECTION("int8 SOFTMAX runs on the NPU; int8 -> int16 does not") {
    Builder b;
    const int x = b.input("x", DType::i8, {1, 10}, qt(0.1f, 0));
    const int y = b.tensor("y", DType::i8, {1, 10}, qt(1.f / 256, -128));
    b.op(OpType::SOFTMAX, {x}, {y}, {{"beta", ir::AttrValue{1.0}}});
    b.output(y);
    CHECK_FALSE(reason_of(b.g, hw));
    Builder b16;
    const int x16 = b16.input("x", DType::i8, {1, 10}, qt(0.1f, 0));
    const int y16 = b16.tensor("y", DType::i16, {1, 10}, qt(1.f / 65536, -32768));
    b16.op(OpType::SOFTMAX, {x16}, {y16}, {{"beta", ir::AttrValue{1.0}}});
    b16.output(y16);
    const auto r = reason_of(b16.g, hw);
    REQUIRE(r);
    CHECK_THAT(*r, Catch::Contains("int16"));
  }
  SECTION("SOFTMAX with a wrong output quantization is refused with the CPU binding's reason") {
    Builder b;
    const int x = b.input("x", DType::i8, {1, 10}, qt(0.1f, 0));
    const int y = b.tensor("y", DType::i8, {1, 10}, qt(1.f / 128, -128));
    b.op(OpType::SOFTMAX, {x}, {y}, {{"beta", ir::AttrValue{1.0}}});
    b.output(y);
    CHECK_THROWS_WITH(reason_of(b.g, hw), Catch::Contains("1/256"));
  }
  SECTION("ARG_MAX with an int64 output") {
    Builder b;
    const int x = b.input("x", DType::i8, {1, 10}, qt(0.1f, 0));
    const int axis = b.constant("axis", DType::i32, {1}, std::vector<int32_t>{1});
    const int y = b.tensor("argmax", DType::i64, {1});
    b.op(OpType::ARG_MAX, {x, axis}, {y}, {{"output_type", I(4)}});
    b.output(y);
    const auto r = reason_of(b.g, hw);
    REQUIRE(r);
    CHECK_THAT(*r, Catch::Contains("int64") && Catch::Contains("argmax"));
  }
  SECTION("ADD with broadcasting") {
    Builder b;
    const int a = b.input("a", DType::i8, {1, 4, 4, 8}, qt(0.1f, 0));
    const int c = b.input("c", DType::i8, {1, 1, 1, 8}, qt(0.2f, 3));
    const int y = b.tensor("y", DType::i8, {1, 4, 4, 8}, qt(0.25f, -2));
    b.op(OpType::ADD, {a, c}, {y}, {{"fused_activation_function", I(0)}});
    b.output(y);
    const auto r = reason_of(b.g, hw);
    REQUIRE(r);
    CHECK_THAT(*r, Catch::Contains("broadcasting"));
  }
  SECTION("MUL with broadcasting") {
    Builder b;
    const int a = b.input("a", DType::i8, {1, 4, 4, 8}, qt(0.1f, 0));
    const int c = b.input("c", DType::i8, {1, 4, 4, 1}, qt(0.2f, 3));
    const int y = b.tensor("y", DType::i8, {1, 4, 4, 8}, qt(0.25f, -2));
    b.op(OpType::MUL, {a, c}, {y}, {{"fused_activation_function", I(0)}});
    b.output(y);
    const auto r = reason_of(b.g, hw);
    REQUIRE(r);
    CHECK(*r == "broadcasting (the inputs' shapes differ from the output's)");
  }
  SECTION("MAXIMUM and MINIMUM with broadcasting") {
    for (OpType t : {OpType::MAXIMUM, OpType::MINIMUM}) {
      Builder b;
      const int a = b.input("a", DType::u8, {1, 1, 4, 8}, qt(0.1f, 128));
      const int c = b.input("c", DType::u8, {1, 3, 4, 8}, qt(0.1f, 128));
      const int y = b.tensor("y", DType::u8, {1, 3, 4, 8}, qt(0.1f, 128));
      b.op(t, {a, c}, {y});
      b.output(y);
      const auto r = reason_of(b.g, hw);
      REQUIRE(r);
      CHECK(*r == "broadcasting (the inputs' shapes differ from the output's)");
    }
  }
  SECTION("MUL with a constant operand") {
    Builder b;
    const int a = b.input("a", DType::i8, {1, 2, 2, 4}, qt(0.1f, 0));
    const int c = b.constant("c", DType::i8, {1, 2, 2, 4}, random_values<int8_t>(16, -128, 127, 4), qt(0.2f, 3));
    const int y = b.tensor("y", DType::i8, {1, 2, 2, 4}, qt(0.25f, -2));
    b.op(OpType::MUL, {a, c}, {y}, {{"fused_activation_function", I(0)}});
    b.output(y);
    const auto r = reason_of(b.g, hw);
    REQUIRE(r);
    CHECK(*r == "a constant operand");
  }
  SECTION("MAXIMUM with different input quantizations") {
    // The reference kernels refuse it as TFLite does (a malformed model, not a fallback);
    // the NPU predicate on its own names the reason too.
    for (const auto& [qa, qb] : {std::pair{qt(0.1f, 0), qt(0.2f, 0)}, std::pair{qt(0.1f, 0), qt(0.1f, 1)}}) {
      Builder b;
      const int a = b.input("a", DType::i8, {1, 4, 4, 8}, qa);
      const int c = b.input("c", DType::i8, {1, 4, 4, 8}, qb);
      const int y = b.tensor("y", DType::i8, {1, 4, 4, 8}, qa);
      b.op(OpType::MAXIMUM, {a, c}, {y});
      b.output(y);
      const auto r = npu_unsupported_reason(b.g, 0, hw);
      REQUIRE(r);
      CHECK(*r == "inputs and output do not share one quantization (the comparison is on raw values)");
      CHECK_THROWS_WITH(reason_of(b.g, hw), Catch::Contains("MAXIMUM") && Catch::Contains("share one quantization"));
    }
  }
  SECTION("CONV with batch 2") {
    const auto r = reason_of(one_conv({2, 8, 8, 4}), hw);
    REQUIRE(r);
    CHECK_THAT(*r, Catch::Contains("batch"));
  }
  SECTION("grouped CONV (the reference kernels accept it, the NPU does not)") {
    const ir::Graph g = one_conv({1, 8, 8, 8}, 4);
    const auto r = reason_of(g, hw);  // partition prepared it with the reference kernel
    REQUIRE(r);
    CHECK_THAT(*r, Catch::Contains("grouped"));
  }
  SECTION("a configuration with fewer than 16 semaphores") {
    const sim::npu::NpuConfig small =
        sim::npu::parse_npu_config("base: default\ncommand_processor: {semaphores: 8, queue_depth: 16}\n", "t.yaml");
    REQUIRE(small.semaphores == 8);
    const auto r = reason_of(one_conv({1, 8, 8, 4}), small);
    REQUIRE(r);
    CHECK_THAT(*r, Catch::Contains("semaphores") && Catch::Contains("8"));
  }
}

TEST_CASE("partition cuts maximal segments in operator order", "[partition]") {
  // RELU, RELU (NPU) | LOG_SOFTMAX (CPU) | RELU (NPU) | LOG_SOFTMAX (CPU)
  Builder b;
  const ir::Quantization qa = qt(0.1f, 2), qs = qt(16.f / 256, 127);
  const int x = b.input("x", DType::i8, {1, 16}, qa);
  const int a = b.tensor("a", DType::i8, {1, 16}, qa);
  b.op(OpType::RELU, {x}, {a});
  const int c = b.tensor("c", DType::i8, {1, 16}, qa);
  b.op(OpType::RELU, {a}, {c});
  const int s = b.tensor("s", DType::i8, {1, 16}, qs);
  b.op(OpType::LOG_SOFTMAX, {c}, {s});
  const int r = b.tensor("r", DType::i8, {1, 16}, qs);
  b.op(OpType::RELU, {s}, {r});
  const int t = b.tensor("t", DType::i8, {1, 16}, qs);
  b.op(OpType::LOG_SOFTMAX, {r}, {t});
  b.output(t);
  const Plan p = run_passes(b.g, default_hw(), kPartition);
  REQUIRE(p.segments.size() == 4);
  CHECK(p.segments[0].npu);
  CHECK(p.segments[0].ops == std::vector<size_t>{0, 1});
  CHECK_FALSE(p.segments[1].npu);
  CHECK(p.segments[1].ops == std::vector<size_t>{2});
  CHECK(p.segments[2].npu);
  CHECK(p.segments[2].ops == std::vector<size_t>{3});
  CHECK_FALSE(p.segments[3].npu);
  CHECK(p.segments[3].ops == std::vector<size_t>{4});

  // The shared models: segments cover the operators in order, alternate targets (maximal),
  // agree with the reasons, and every reason is a non-empty sentence.
  for (const Compiled* cp : all_compiled()) {
    INFO(where(*cp));
    const Plan& q = cp->plan;
    size_t next = 0;
    for (size_t k = 0; k < q.segments.size(); ++k) {
      CHECK_FALSE(q.segments[k].ops.empty());
      if (k > 0) CHECK(q.segments[k].npu != q.segments[k - 1].npu);
      for (size_t i : q.segments[k].ops) {
        CHECK(i == next++);
        CHECK(q.segments[k].npu == !q.cpu_reason[i]);
        if (q.cpu_reason[i]) CHECK(q.cpu_reason[i]->size() > 5);
      }
    }
    CHECK(next == q.graph.ops.size());
  }
}

TEST_CASE("partition throws for a malformed operator instead of falling back", "[partition]") {
  // A CONV whose output has 9 channels while its weights have 8.
  const ir::Graph g = one_conv({1, 8, 8, 4}, -1, 9);
  REQUIRE_NOTHROW(ir::verify(g));  // structurally fine: only the operator's semantics are wrong
  Plan p;
  p.hw = &default_hw();
  p.graph = g;
  canonicalize(p);
  CHECK_THROWS_AS(partition(p), Error);
  CHECK_THROWS_WITH(compile(g, default_hw()), Catch::Contains("CONV_2D"));
}

// ================================================================================ lower

TEST_CASE("lower: CONV requantization equals TFLite's integers", "[lower]") {
  // An int8 per-channel CONV with RELU6 and a uint8 per-tensor CONV (weight zero point 120,
  // the float-product multiplier rule) with RELU.
  for (const bool u8 : {false, true}) {
    INFO((u8 ? "uint8" : "int8"));
    Builder b;
    const DType dt = u8 ? DType::u8 : DType::i8;
    const float s_in = 0.0235f, s_out = 0.0917f;
    const int x = b.input("x", dt, {1, 9, 7, 5}, qt(s_in, u8 ? 128 : -7));
    const int out_c = 12;
    std::vector<float> ws(out_c), bs(out_c);
    for (size_t c = 0; c < ws.size(); ++c) ws[c] = 0.0011f * float(c + 1);
    int w;
    int bias;
    if (u8) {
      w = b.constant("w", dt, {out_c, 3, 3, 5}, random_values<uint8_t>(size_t(out_c) * 45, 0, 255, 7), qt(0.0042f, 120));
      bias = b.constant("b", DType::i32, {out_c}, random_values<int32_t>(out_c, -9000, 9000, 8), qt(s_in * 0.0042f, 0));
    } else {
      for (size_t c = 0; c < ws.size(); ++c) bs[c] = s_in * ws[c];
      w = b.constant("w", dt, {out_c, 3, 3, 5}, random_values<int8_t>(size_t(out_c) * 45, -127, 127, 7), qaxis(ws, 0));
      bias = b.constant("b", DType::i32, {out_c}, random_values<int32_t>(out_c, -9000, 9000, 8), qaxis(bs, 0));
    }
    const int y = b.tensor("y", dt, {1, 5, 4, out_c}, qt(s_out, u8 ? 3 : 11));
    b.op(OpType::CONV_2D, {x, w, bias}, {y},
         {{"padding", I(0)}, {"stride_h", I(2)}, {"stride_w", I(2)}, {"fused_activation_function", I(u8 ? 1 : 3)}});
    b.output(y);
    ir::verify(b.g);

    const Plan p = run_passes(b.g, default_hw(), kLower);
    REQUIRE(p.npu_ops.size() == 1);
    const NpuOp& n = p.npu_ops[0];
    REQUIRE(n.kind == NpuKind::conv);
    const ExpectedQuant e = expected_quant(b.g, 0);
    REQUIRE(n.qp.size() == size_t(out_c) * 12);
    CHECK(qp_words(n.qp) == e.records);
    check_mac_proto(n, e);
    const auto& c = std::get<isa::Conv>(n.proto);
    CHECK(c.kernel_h == 3);
    CHECK(c.kernel_w == 3);
    CHECK(c.stride_h == 2);
    CHECK(c.stride_w == 2);
    CHECK(c.dilation_h == 1);
    CHECK(c.dilation_w == 1);
    // The same integers as the CPU kernels' prepare step (the function the brief names).
    const kernels::RequantParams rq = cpu::derive_requant_params(
        T(b.g, x), T(b.g, w), &T(b.g, bias), T(b.g, y), u8 ? 1 : 3, 0, cpu::multiplier_rule(OpType::CONV_2D, T(b.g, x), T(b.g, w)));
    for (int ch = 0; ch < out_c; ++ch) {
      const size_t k = rq.multiplier.size() == 1 ? 0 : size_t(ch);
      CHECK(e.records[size_t(ch) * 3 + 1] == rq.multiplier[k]);
      CHECK(e.records[size_t(ch) * 3 + 2] == rq.shift[k]);
    }
    CHECK(e.act_min == rq.act_min);
    CHECK(e.act_max == rq.act_max);
    CHECK(e.out_zp == rq.output_offset);
    // The constants hold the model's weights and the records, 64-byte aligned.
    CHECK(n.weights == T(b.g, w).data);
    CHECK(n.weights_off % 64 == 0);
    CHECK(n.qp_off % 64 == 0);
    REQUIRE(n.weights_off + n.weights.size() <= p.constants.size());
    REQUIRE(n.qp_off + n.qp.size() <= p.constants.size());
    CHECK(std::equal(n.qp.begin(), n.qp.end(), p.constants.begin() + n.qp_off));
  }
}

TEST_CASE("lower: ELTWISE ADD fields equal TFLite's integers", "[lower]") {
  for (const bool u8 : {false, true}) {
    INFO((u8 ? "uint8" : "int8"));
    Builder b;
    const DType dt = u8 ? DType::u8 : DType::i8;
    const int x = b.input("x", dt, {1, 6, 5, 7}, qt(0.031f, u8 ? 120 : -3));
    const int y = b.input("y", dt, {1, 6, 5, 7}, qt(0.047f, u8 ? 131 : 9));
    const int z = b.tensor("z", dt, {1, 6, 5, 7}, qt(0.066f, u8 ? 100 : -20));
    b.op(OpType::ADD, {x, y}, {z}, {{"fused_activation_function", I(u8 ? 3 : 1)}});
    b.output(z);
    const Plan p = run_passes(b.g, default_hw(), kLower);
    REQUIRE(p.npu_ops.size() == 1);
    REQUIRE(p.npu_ops[0].kind == NpuKind::eltwise);
    CHECK(p.npu_ops[0].count == 210);
    check_eltwise_proto(b.g, p.npu_ops[0]);
  }
}

TEST_CASE("lower: ELTWISE MUL fields equal TFLite's integers", "[lower]") {
  // TFLite's Prepare (lite/kernels/mul.cc, TFLM mul_common.cc): QuantizeMultiplier of
  // s_a * s_b / s_out, computed in double by TFLite Micro (int8) and in float by full
  // TFLite (uint8); offsets from the zero points; the fused activation's range.
  struct Case {
    bool u8;
    float sa, sb, so;
    int act;
  };
  const Case cases[] = {
      {false, 0.031f, 0.047f, 0.066f, 3},      // real < 1: negative shift
      {true, 0.031f, 0.047f, 0.066f, 1},
      {false, 0.5f, 0.75f, 0.01f, 0},          // real > 1: positive shift
      {true, 0.0123f, 0.0456f, 0.0000789f, 3},
      {false, 0.00391f, 0.0117f, 0.0891f, 2},
  };
  for (const Case& k : cases) {
    INFO((k.u8 ? "uint8" : "int8") << " " << k.sa << " * " << k.sb << " / " << k.so << " act " << k.act);
    Builder b;
    const DType dt = k.u8 ? DType::u8 : DType::i8;
    const int x = b.input("x", dt, {1, 6, 5, 7}, qt(k.sa, k.u8 ? 120 : -3));
    const int y = b.input("y", dt, {1, 6, 5, 7}, qt(k.sb, k.u8 ? 131 : 9));
    const int z = b.tensor("z", dt, {1, 6, 5, 7}, qt(k.so, k.u8 ? 100 : -20));
    b.op(OpType::MUL, {x, y}, {z}, {{"fused_activation_function", I(k.act)}});
    b.output(z);
    const Plan p = run_passes(b.g, default_hw(), kLower);
    REQUIRE(p.npu_ops.size() == 1);
    const NpuOp& n = p.npu_ops[0];
    REQUIRE(n.kind == NpuKind::eltwise);
    CHECK(n.count == 210);
    CHECK(n.inputs == std::vector<int>{x, y});
    const auto* c = std::get_if<isa::Eltwise>(&n.proto);
    REQUIRE(c);
    const double real = k.u8 ? double(k.sa * k.sb / k.so) : double(k.sa) * double(k.sb) / double(k.so);
    const auto mo = quantize_multiplier_ref(real);
    CHECK(c->op == uint8_t(isa::EltwiseOp::kMul));
    CHECK(bool(c->is_signed) == !k.u8);
    CHECK(c->a_zp == zp_of(T(b.g, x)));
    CHECK(c->b_zp == zp_of(T(b.g, y)));
    CHECK(c->out_zp == zp_of(T(b.g, z)));
    CHECK(c->out_mult == mo.first);
    CHECK(c->out_shift == mo.second);
    CHECK((c->out_shift > 0) == (real >= 1.0));
    const auto range = activation_range_ref(k.act, T(b.g, z));
    CHECK(c->act_min == range.first);
    CHECK(c->act_max == range.second);
    // The CPU binding's own parameters (the function the lowering calls) agree.
    const kernels::QuantizedMulParams q = cpu::mul_quant_params(cpu::PrepareContext(b.g, 0));
    CHECK(q.output.multiplier == mo.first);
    CHECK(q.output.shift == mo.second);
  }
}

TEST_CASE("lower: ELTWISE MAX/MIN compare raw values with the full-range clamp", "[lower]") {
  for (const bool u8 : {false, true})
    for (OpType t : {OpType::MAXIMUM, OpType::MINIMUM}) {
      INFO((u8 ? "uint8 " : "int8 ") << ir::op_type_name(t));
      Builder b;
      const DType dt = u8 ? DType::u8 : DType::i8;
      const ir::Quantization q = qt(0.07f, u8 ? 117 : -9);
      const int x = b.input("x", dt, {3, 11}, q);
      const int y = b.input("y", dt, {3, 11}, q);
      const int z = b.tensor("z", dt, {3, 11}, q);
      b.op(t, {x, y}, {z});
      b.output(z);
      const Plan p = run_passes(b.g, default_hw(), kLower);
      REQUIRE(p.npu_ops.size() == 1);
      REQUIRE(p.npu_ops[0].kind == NpuKind::eltwise);
      CHECK(p.npu_ops[0].count == 33);
      const auto* c = std::get_if<isa::Eltwise>(&p.npu_ops[0].proto);
      REQUIRE(c);
      CHECK(c->op == uint8_t(t == OpType::MAXIMUM ? isa::EltwiseOp::kMax : isa::EltwiseOp::kMin));
      CHECK(bool(c->is_signed) == !u8);
      CHECK(c->act_min == (u8 ? 0 : -128));
      CHECK(c->act_max == (u8 ? 255 : 127));
    }
}

namespace {

// x, y (the same shape) -> `op` (MUL with fused activation `act`; MAXIMUM, MINIMUM) -> z.
ir::Graph binary_graph(OpType op, DType dt, const std::vector<int32_t>& shape, const ir::Quantization& qa,
                       const ir::Quantization& qb, const ir::Quantization& qo, int act) {
  Builder b;
  const int x = b.input("x", dt, shape, qa);
  const int y = b.input("y", dt, shape, qb);
  const int z = b.tensor("z", dt, shape, qo);
  if (op == OpType::MUL) b.op(op, {x, y}, {z}, {{"fused_activation_function", I(act)}});
  else b.op(op, {x, y}, {z});
  b.output(z);
  ir::verify(b.g);
  return b.g;
}

// Compiles the one-operator graph `g` for `hw`, checks that the operator runs on the NPU
// (in `min_tiles` tiles or more), and compares the simulated output with the reference
// kernels' bytes on random inputs.
void check_simulated(const ir::Graph& g, const sim::npu::NpuConfig& hw, int64_t min_tiles) {
  INFO(hw.name);
  const Plan p = run_passes(g, hw, kTile);
  REQUIRE(p.cpu_reason.size() == 1);
  CHECK_FALSE(p.cpu_reason[0]);
  REQUIRE(p.npu_ops.size() == 1);
  CHECK(p.npu_ops[0].kind == NpuKind::eltwise);
  CHECK(int64_t(p.npu_ops[0].tiles) >= min_tiles);
  const CompileResult r = compile(g, hw);
  CHECK(r.loadable.cpu_segments.empty());
  REQUIRE(r.loadable.npu_segments.size() == 1);
  REQUIRE(r.loadable.layers.size() == 1);
  CHECK(r.loadable.layers[0].op == ir::op_type_name(g.ops[0].type));
  CHECK(r.loadable.layers[0].bound != "");
  CHECK(r.loadable.layers[0].estimated_cycles > 0);
  tessel::npu::SimRunner runner(r.loadable, hw);
  for (uint32_t seed : {11u, 12u}) {
    for (size_t i = 0; i < g.inputs.size(); ++i) {
      const std::vector<uint8_t> in =
          random_values<uint8_t>(T(g, g.inputs[i]).num_bytes(), 0, 255, seed + uint32_t(i));
      runner.set_input(i, in.data(), in.size());
    }
    const tessel::npu::RunResult res = runner.run();
    REQUIRE(res.outputs.size() == 1);
    const std::vector<uint8_t> expect = reference_bytes(g, seed);
    CHECK(res.outputs[0] == expect);
    // The comparison means something: the outputs are not one saturated value.
    CHECK(std::set<uint8_t>(expect.begin(), expect.end()).size() > 8);
  }
}

}  // namespace

TEST_CASE("lower: MUL and MAXIMUM/MINIMUM compiled and simulated equal the reference", "[lower][npu]") {
  // 1x64x64x32: three 128 KiB tensors, more than ethos-u55-256's 256 KiB SRAM holds.
  const std::vector<int32_t> shape = {1, 64, 64, 32};
  std::mt19937 rng(2024);
  std::uniform_real_distribution<float> log_scale(std::log(0.002f), std::log(0.2f));
  std::uniform_real_distribution<float> log_ratio(std::log(20.f), std::log(400.f));
  std::uniform_int_distribution<int> zp8(-40, 40);
  for (const std::string hw_name : {"default", "ethos-u55-256"}) {
    const sim::npu::NpuConfig& hw = preset(hw_name);
    const int64_t min_tiles = hw_name == "ethos-u55-256" ? 2 : 1;
    for (const DType dt : {DType::i8, DType::u8}) {
      const int64_t base = dt == DType::u8 ? 128 : 0;
      INFO(ir::dtype_name(dt));
      // MUL, without and with RELU6, two random scale triples each: s_out = s_a * s_b *
      // ratio, so the product of two centred 8-bit values (|p| up to 2^14) lands spread
      // over the output range (and RELU6 clamps the lower half).
      for (int act : {0, 3})
        for (int k = 0; k < 2; ++k) {
          const float sa = std::exp(log_scale(rng)), sb = std::exp(log_scale(rng));
          const float so = sa * sb * std::exp(log_ratio(rng));
          const ir::Quantization qa = qt(sa, base + zp8(rng)), qb = qt(sb, base + zp8(rng));
          const ir::Quantization qo = qt(so, base + zp8(rng));
          INFO("MUL act " << act << " scales " << sa << " " << sb << " -> " << so);
          check_simulated(binary_graph(OpType::MUL, dt, shape, qa, qb, qo, act), hw, min_tiles);
        }
      {  // s_a * s_b / s_out = 3.7: a left shift in the requantization.
        INFO("MUL with a multiplier above 1");
        const ir::Quantization qa = qt(0.05f, base + 3), qb = qt(0.02f, base - 5), qo = qt(0.05f * 0.02f / 3.7f, base);
        check_simulated(binary_graph(OpType::MUL, dt, {1, 32, 32, 16}, qa, qb, qo, 0), hw, 1);
      }
      for (OpType t : {OpType::MAXIMUM, OpType::MINIMUM}) {
        INFO(ir::op_type_name(t));
        const ir::Quantization q = qt(std::exp(log_scale(rng)), base + zp8(rng));
        check_simulated(binary_graph(t, dt, shape, q, q, q, 0), hw, min_tiles);
      }
    }
  }
}

TEST_CASE("lower: LUT tables are the reference kernel on every input byte", "[lower]") {
  struct Case {
    OpType op;
    DType dt;
    ir::Quantization in_q, out_q;
  };
  const Case cases[] = {
      {OpType::LOGISTIC, DType::i8, qt(0.08f, 5), qt(1.f / 256, -128)},
      {OpType::TANH, DType::u8, qt(0.03f, 140), qt(1.f / 128, 128)},
      {OpType::HARD_SWISH, DType::i8, qt(0.05f, -10), qt(0.04f, -30)},
  };
  for (const Case& k : cases) {
    INFO(ir::op_type_name(k.op));
    Builder b;
    const int x = b.input("x", k.dt, {1, 5, 7, 3}, k.in_q);
    const int y = b.tensor("y", k.dt, {1, 5, 7, 3}, k.out_q);
    b.op(k.op, {x}, {y});
    b.output(y);
    const Plan p = run_passes(b.g, default_hw(), kLower);
    REQUIRE(p.npu_ops.size() == 1);
    const NpuOp& n = p.npu_ops[0];
    REQUIRE(n.kind == NpuKind::lut);
    const std::vector<uint8_t> expect = reference_table(b.g, 0);
    CHECK(n.table == expect);
    CHECK(n.table_off % 64 == 0);
    REQUIRE(n.table_off + 256 <= p.constants.size());
    CHECK(std::equal(expect.begin(), expect.end(), p.constants.begin() + n.table_off));
  }
}

TEST_CASE("lower: the shared models' constants and requantization", "[lower]") {
  for (const Compiled* cp : all_compiled()) {
    const Compiled& c = *cp;
    if (c.hw->name != "default" && c.model.find("deeplab") == std::string::npos) continue;  // one preset each
    INFO(where(c));
    const Plan& p = c.plan;
    std::vector<Range> blobs;
    for (const NpuOp& n : p.npu_ops) {
      INFO(p.graph.describe_op(n.op));
      // Aligned, inside the constant region, holding exactly the packed bytes.
      auto blob = [&](const std::vector<uint8_t>& bytes, uint32_t off) {
        if (bytes.empty()) return;
        CHECK(off % 64 == 0);
        REQUIRE(uint64_t(off) + bytes.size() <= p.constants.size());
        CHECK(std::equal(bytes.begin(), bytes.end(), p.constants.begin() + off));
        blobs.push_back({off, uint64_t(off) + bytes.size()});
      };
      blob(n.weights, n.weights_off);
      blob(n.qp, n.qp_off);
      blob(n.table, n.table_off);
      const ir::Op& op = p.graph.ops[n.op];
      if (n.kind == NpuKind::conv || n.kind == NpuKind::dwconv || n.kind == NpuKind::matmul) {
        CHECK(n.weights == T(p.graph, op.inputs[1]).data);  // the model's own layout
        const ExpectedQuant e = expected_quant(p.graph, n.op);
        CHECK(qp_words(n.qp) == e.records);
        check_mac_proto(n, e);
      }
      if (n.kind == NpuKind::lut) CHECK(n.table == reference_table(p.graph, n.op));
      if (n.kind == NpuKind::eltwise && op.type == OpType::ADD) check_eltwise_proto(p.graph, n);
    }
    // No two blobs share a byte.
    std::sort(blobs.begin(), blobs.end(), [](const Range& a, const Range& b) { return a.lo < b.lo; });
    for (size_t i = 1; i < blobs.size(); ++i) CHECK(blobs[i - 1].hi <= blobs[i].lo);
  }
}

// ================================================================================= tile

TEST_CASE("tile: MobileNetV2's tilings fit the SRAM of every preset and cover each output once", "[tile]") {
  for (const sim::npu::NpuConfig& hw : presets()) {
    const Compiled& c = compiled(mobilenet_v2(), hw);
    INFO(where(c));
    const Plan& p = c.plan;
    int resident = 0;
    for (const NpuOp& n : p.npu_ops) {
      if (n.kind == NpuKind::alias) continue;
      INFO(p.graph.describe_op(n.op) << " (" << npu_kind_name(n.kind) << ")");
      // Slots: inside the SRAM (below the operator's limit when tensors stay on chip) and
      // pairwise disjoint, also from the resident tensors' regions.
      const Slots s = slots_of(n);
      std::vector<Range> slots;
      for (const auto* v : {&s.w, &s.in, &s.out}) slots.insert(slots.end(), v->begin(), v->end());
      const uint64_t limit = n.sram_limit ? n.sram_limit : hw.sram_bytes();
      CHECK(limit <= hw.sram_bytes());
      for (const Range& r : slots) CHECK(r.hi <= limit);
      std::vector<Range> regions = slots;
      for (const Range& r : resident_in(p.graph, n))
        if (r.hi > r.lo) regions.push_back(r);
      if (n.res_out >= 0) regions.push_back({uint64_t(n.res_out), uint64_t(n.res_out) + T(p.graph, n.output).num_bytes()});
      resident += n.res_out >= 0;
      for (const Range& r : regions) CHECK(r.hi <= hw.sram_bytes());
      for (size_t i = 0; i < regions.size(); ++i)
        for (size_t j = i + 1; j < regions.size(); ++j)
          CHECK((regions[i].hi <= regions[j].lo || regions[j].hi <= regions[i].lo));
      // The cost model agrees that it fits.
      CHECK(estimate(n, n.tile, hw).fits);
      // Transfers and compute operands in their slots or regions, loads inside their
      // tensors, every output byte written once.
      const int tiles = check_tiling(p.graph, n, n.tile, "chosen tiling", true);
      CHECK(tiles == n.tiles);
    }
    INFO(resident << " operators keep their output in SRAM");
  }
}

TEST_CASE("residency: a tensor kept in SRAM goes straight to its only reader", "[tile][residency]") {
  size_t kept = 0;
  for (const Compiled* cp : all_compiled()) {
    const Compiled& c = *cp;
    INFO(where(c));
    const Plan& p = c.plan;
    const ir::Graph& g = p.graph;
    std::vector<int> readers(g.tensors.size(), 0);
    for (const ir::Op& op : g.ops)
      for (int t : op.inputs)
        if (t >= 0) readers[size_t(t)]++;
    for (const Segment& seg : p.segments) {
      for (size_t k = 0; k < seg.ops.size(); ++k) {
        if (!seg.npu) continue;
        const NpuOp& a = p.npu_ops[size_t(p.npu_op_of[seg.ops[k]])];
        for (size_t i = 0; i < 2; ++i)
          if (a.res_in[i] >= 0) {
            // The producer is the previous operator of this NPU segment, writing there.
            INFO(g.describe_op(a.op) << " input " << i);
            REQUIRE(k > 0);
            const NpuOp& prev = p.npu_ops[size_t(p.npu_op_of[seg.ops[k - 1]])];
            CHECK(prev.output == a.inputs[i]);
            CHECK(prev.res_out == a.res_in[i]);
          }
        if (a.res_out < 0) continue;
        ++kept;
        INFO(g.describe_op(a.op) << " keeps " << g.describe_tensor(a.output) << " in SRAM");
        // Nobody else needs the bytes in DRAM: not a model output, one reader, the next
        // operator, which reads it from the same place; and it has no arena place.
        CHECK(std::find(g.outputs.begin(), g.outputs.end(), a.output) == g.outputs.end());
        CHECK(readers[size_t(a.output)] == 1);
        REQUIRE(k + 1 < seg.ops.size());
        const NpuOp& b = p.npu_ops[size_t(p.npu_op_of[seg.ops[k + 1]])];
        bool reads = false;
        for (size_t i = 0; i < 2 && i < b.inputs.size(); ++i)
          reads = reads || (b.inputs[i] == a.output && b.res_in[i] == a.res_out);
        CHECK(reads);
        CHECK(p.arena_offset[size_t(a.output)] < 0);
      }
    }
  }
  INFO(kept << " tensors kept in SRAM");
  CHECK(kept > 0);  // the pass does something on the shared models
}

TEST_CASE("tile: forced tilings of every operator kind write each output byte once", "[tile]") {
  const Zoo z = make_zoo();
  const Plan p = run_passes(z.g, default_hw(), kTile);
  auto op = [&](size_t i) -> const NpuOp& {
    REQUIRE(p.npu_op_of[i] >= 0);
    return p.npu_ops[size_t(p.npu_op_of[i])];
  };
  struct Forced {
    size_t op;
    NpuKind kind;
    std::vector<TileShape> shapes;
  };
  const std::vector<Forced> cases = {
      // conv: 20 rows x 40 channels; bands and groups that do not divide evenly, both orders
      {z.conv, NpuKind::conv, {{7, 16, true}, {7, 16, false}, {1, 40, true}, {20, 3, false}, {20, 40, true}, {6, 1, true}}},
      // dwconv (depth multiplier 2): 10 rows x 48 channels, groups a multiple of 2
      {z.dwconv, NpuKind::dwconv, {{3, 10, true}, {4, 6, false}, {10, 48, true}, {1, 2, false}}},
      // pool: 10 rows x 40 channels
      {z.pool, NpuKind::pool, {{3, 16, true}, {1, 40, false}, {4, 7, false}, {10, 40, true}}},
      // matmul: m = 360, n = 24
      {z.fc, NpuKind::matmul, {{50, 10, true}, {7, 24, false}, {360, 5, true}, {1, 1, false}}},
      // eltwise and lut: 14400 elements
      {z.add, NpuKind::eltwise, {{1000, 0, true}, {64, 0, true}, {14400, 0, true}, {777, 0, true}}},
      {z.lut, NpuKind::lut, {{333, 0, true}, {14400, 0, true}}},
      // copy: 360 outer rows of two inputs with 40 bytes each
      {z.concat, NpuKind::copy, {{7, 0, true}, {360, 0, true}, {1, 0, true}}},
      // mean: 40 channels
      {z.mean, NpuKind::mean, {{1, 16, true}, {1, 40, true}, {1, 7, true}}},
      // resize: 37 output rows; whole (RESIZE) or bands (RESIZE_ROWS) that do not divide evenly
      {z.resize, NpuKind::resize, {{37, 1, true}, {5, 1, true}, {1, 1, true}, {36, 1, true}}},
  };
  for (const Forced& f : cases) {
    const NpuOp& n = op(f.op);
    INFO(p.graph.describe_op(f.op));
    REQUIRE(n.kind == f.kind);
    for (const TileShape& t : f.shapes) {
      const int tiles = check_tiling(p.graph, n, t, npu_kind_name(n.kind), false);
      CHECK(tiles == estimate(n, t, default_hw()).tiles);
    }
    check_tiling(p.graph, n, n.tile, "chosen tiling", true);
  }
  // After residency, the chosen tilings still stay in their slots and regions.
  const Plan pr = run_passes(z.g, default_hw(), kResidency);
  for (const NpuOp& n : pr.npu_ops) {
    INFO(pr.graph.describe_op(n.op) << " after residency");
    check_tiling(pr.graph, n, n.tile, "chosen tiling", true);
  }
  // Invalid tilings visit nothing.
  int visits = 0;
  CHECK_FALSE(for_each_tile(op(z.conv), TileShape{0, 8, true}, Bases{}, [&](const Tile&) { ++visits; }));
  CHECK_FALSE(for_each_tile(op(z.dwconv), TileShape{2, 3, true}, Bases{}, [&](const Tile&) { ++visits; }));
  CHECK_FALSE(for_each_tile(op(z.conv), TileShape{21, 8, true}, Bases{}, [&](const Tile&) { ++visits; }));
  CHECK(visits == 0);
}

// The first convolution of a compiled model (nullptr if it has none).
const NpuOp* first_conv(const Compiled& c) {
  for (const NpuOp& n : c.plan.npu_ops)
    if (n.kind == NpuKind::conv) return &n;
  return nullptr;
}

TEST_CASE("tile: estimate() says when a tiling needs more SRAM than the preset has", "[tile]") {
  const sim::npu::NpuConfig& small = preset("ethos-u55-256");
  const Compiled& c = compiled(mobilenet_v2(), small);
  // The first CONV: 224x224x3 in, 112x112x32 out (401 KB, more than 256 KiB by itself).
  const NpuOp* first = first_conv(c);
  REQUIRE(first);
  REQUIRE(uint64_t(first->win.out_h) * first->win.out_w * first->win.out_c > small.sram_bytes());
  const Cost whole = estimate(*first, TileShape{first->win.out_h, first->win.out_c, true}, small);
  CHECK(whole.tiles == 1);
  CHECK_FALSE(whole.fits);
  CHECK(uint64_t(whole.w_bytes) + whole.in_bytes + whole.out_bytes > small.sram_bytes());
  // The same tiling fits the 8 MiB preset.
  const sim::npu::NpuConfig& big = preset("edgetpu-64x64");
  CHECK(estimate(*first, TileShape{first->win.out_h, first->win.out_c, true}, big).fits);
  // One output row at a time fits the small one.
  CHECK(estimate(*first, TileShape{1, first->win.out_c, true}, small).fits);
  // choose_tiling never returns a tiling that does not fit.
  Cost chosen;
  const auto t = choose_tiling(*first, small, &chosen);
  REQUIRE(t);
  CHECK(chosen.fits);
}

TEST_CASE("cost: a bus-bound stream that cannot cover a refresh loses tRFC/tREFI of the bus", "[tile][cost]") {
  // The first CONV of MobileNetV2 on the 256-MAC preset is memory-bound (8 B/cycle bus,
  // 8 outstanding bursts: 256 bytes, far less than the ~1100 the bus moves in one refresh).
  const sim::npu::NpuConfig& small = preset("ethos-u55-256");
  const Compiled& c = compiled(mobilenet_v2(), small);
  const NpuOp* first = first_conv(c);
  REQUIRE(first);
  const TileShape t = first->tile;
  const Cost with = estimate(*first, t, small);
  REQUIRE(with.fits);
  REQUIRE(with.dma > with.compute);
  sim::npu::NpuConfig no_refresh = small;
  no_refresh.dram.controller.refresh = "none";
  const Cost without = estimate(*first, t, no_refresh);
  const auto& tm = small.dram.timing;
  const double share = double(tm.tRFC) / tm.tREFI;  // 598 / 8328 on LPDDR4X
  // Transfer time scales by 1 / (1 - share); setup and latency do not.
  CHECK(double(with.dma) > double(without.dma) * (1 + 0.8 * share));
  CHECK(double(with.dma) < double(without.dma) / (1 - share) + 1);
  // A window that covers a refresh keeps the full bus rate.
  sim::npu::NpuConfig deep = small;
  deep.dma.max_outstanding = 1024;
  CHECK(estimate(*first, t, deep).dma == without.dma);
  // The default preset is DRAM-bound: the bus term does not apply there.
  const NpuOp* d0 = first_conv(compiled(mobilenet_v2(), default_hw()));
  REQUIRE(d0);
  sim::npu::NpuConfig dflt_none = default_hw();
  dflt_none.dram.controller.refresh = "none";
  CHECK(estimate(*d0, d0->tile, default_hw()).dma == estimate(*d0, d0->tile, dflt_none).dma);
}

// The pass places each new region at the top of the SRAM unless that overlaps the region
// its producer reads; then just below it. A chain thus reuses two regions (an earlier
// version stacked every region below the previous one, wasting SRAM).
TEST_CASE("residency: a chain of resident tensors alternates between two SRAM regions", "[residency]") {
  const Compiled& c = compiled("chain", default_hw());
  const Plan& p = c.plan;
  std::vector<Range> regions;
  for (const NpuOp& n : p.npu_ops)
    if (n.res_out >= 0)
      regions.push_back({uint64_t(n.res_out), uint64_t(n.res_out) + align_up(T(p.graph, n.output).num_bytes(), 64)});
  REQUIRE(regions.size() >= 3);
  // Each region written while the previous one is read; the one before that is dead and
  // its place is free again, so the footprint is the two largest consecutive regions.
  uint64_t lowest = UINT64_MAX, two = 0;
  for (size_t i = 0; i < regions.size(); ++i) {
    lowest = std::min(lowest, regions[i].lo);
    if (i > 0) two = std::max(two, (regions[i].hi - regions[i].lo) + (regions[i - 1].hi - regions[i - 1].lo));
  }
  INFO(regions.size() << " resident tensors; lowest region starts at " << lowest << " of " << default_hw().sram_bytes());
  CHECK(default_hw().sram_bytes() - lowest <= two);
}

// ================================================================================ arena

TEST_CASE("arena: tensors alive at the same time never share bytes", "[arena]") {
  for (const Compiled* cp : all_compiled()) {
    const Compiled& c = *cp;
    INFO(where(c));
    const Plan& p = c.plan;
    const ir::Graph& g = p.graph;
    const size_t nt = g.tensors.size();
    const int64_t end = static_cast<int64_t>(g.ops.size());
    // Storage groups: an NPU alias operator's output must share its input's offset.
    std::vector<size_t> group(nt);
    std::iota(group.begin(), group.end(), size_t{0});
    std::function<size_t(size_t)> find = [&](size_t t) { return group[t] == t ? t : group[t] = find(group[t]); };
    for (const NpuOp& n : p.npu_ops)
      if (n.kind == NpuKind::alias) {
        INFO(g.describe_op(n.op));
        CHECK(p.arena_offset[size_t(n.output)] == p.arena_offset[size_t(n.inputs[0])]);
        CHECK(p.arena_offset[size_t(n.output)] >= 0);
        group[find(size_t(n.output))] = find(size_t(n.inputs[0]));
      }
    // Lifetimes: producer (graph inputs: -1) to last reader (graph outputs: the end).
    std::vector<int64_t> first(nt, INT64_MAX), last(nt, INT64_MIN);
    auto live = [&](size_t t, int64_t step) {
      first[t] = std::min(first[t], step);
      last[t] = std::max(last[t], step);
    };
    for (int t : g.inputs) live(size_t(t), -1);
    for (int t : g.outputs) live(size_t(t), end);
    for (size_t i = 0; i < g.ops.size(); ++i) {
      for (int t : g.ops[i].inputs)
        if (t >= 0) live(size_t(t), int64_t(i));
      for (int t : g.ops[i].outputs) live(size_t(t), int64_t(i));
    }
    struct Span {
      int64_t first = INT64_MAX, last = INT64_MIN;
      uint64_t lo = 0, hi = 0;
      std::vector<size_t> members;
    };
    std::map<size_t, Span> spans;
    for (size_t t = 0; t < nt; ++t) {
      if (p.arena_offset[t] < 0) continue;
      const uint64_t off = uint64_t(p.arena_offset[t]);
      CHECK(off % 64 == 0);
      CHECK(off + g.tensors[t].num_bytes() <= p.arena_bytes);
      Span& s = spans[find(t)];
      if (s.members.empty()) s.lo = off;
      CHECK(s.lo == off);  // every member of a group at the same place
      s.hi = std::max(s.hi, off + g.tensors[t].num_bytes());
      s.first = std::min(s.first, first[t]);
      s.last = std::max(s.last, last[t]);
      s.members.push_back(t);
    }
    // Every tensor the NPU reads or writes, and every graph input and output, has a place.
    // (except tensors the residency pass keeps in SRAM).
    for (const NpuOp& n : p.npu_ops) {
      for (size_t k = 0; k < n.inputs.size(); ++k)
        if (k >= 2 || n.res_in[k] < 0) CHECK(p.arena_offset[size_t(n.inputs[k])] >= 0);
      if (n.res_out < 0) CHECK(p.arena_offset[size_t(n.output)] >= 0);
    }
    for (int t : g.inputs) CHECK(p.arena_offset[size_t(t)] >= 0);
    for (int t : g.outputs) CHECK(p.arena_offset[size_t(t)] >= 0);
    std::vector<const Span*> v;
    for (const auto& kv : spans) v.push_back(&kv.second);
    for (size_t i = 0; i < v.size(); ++i)
      for (size_t j = i + 1; j < v.size(); ++j) {
        const Span& a = *v[i];
        const Span& b = *v[j];
        const bool alive_together = a.first <= b.last && b.first <= a.last;
        const bool share_bytes = a.lo < b.hi && b.lo < a.hi;
        if (alive_together && share_bytes) {
          FAIL_CHECK(g.describe_tensor(int(a.members[0])) << " [" << a.first << ", " << a.last << "] @" << a.lo
                                                          << " and " << g.describe_tensor(int(b.members[0])) << " ["
                                                          << b.first << ", " << b.last << "] @" << b.lo << " overlap");
        }
      }
  }
}

// ============================================================================= schedule

TEST_CASE("schedule: every NPU segment runs to END on an abstract command processor", "[schedule]") {
  std::mt19937 rng(20240607);
  size_t segments = 0, random_runs = 0;
  for (const Compiled* cp : all_compiled()) {
    const Compiled& c = *cp;
    INFO(where(c));
    const Plan& p = c.plan;
    for (size_t s = 0; s < p.npu_segments.size(); ++s) {
      INFO("NPU segment " << s);
      const std::vector<Cmd> cmds = decode_segment(p.words, p.npu_segments[s]);
      ++segments;
      CHECK(check_semaphore_program(cmds, c.hw->semaphores) == "");
      for (int policy : {0, 1}) {
        const SimOutcome r = simulate(cmds, c.hw->semaphores, c.hw->queue_depth, policy, nullptr);
        INFO("policy " << policy);
        CHECK(r.ended);
        CHECK(r.problem == "");
      }
      // 50 random interleavings per model, spread over its segments (at least one each).
      const int runs = std::max<int>(1, int(50 / p.npu_segments.size()));
      for (int k = 0; k < runs; ++k) {
        const SimOutcome r = simulate(cmds, c.hw->semaphores, c.hw->queue_depth, 2, &rng);
        ++random_runs;
        INFO("random run " << k);
        CHECK(r.ended);
        CHECK(r.problem == "");
        if (!r.ended || !r.problem.empty()) break;
      }
    }
  }
  CHECK(segments > 0);
  CHECK(random_runs >= 50);
}

TEST_CASE("schedule: accesses of different engines to the same bytes are ordered by semaphores", "[schedule]") {
  size_t segments = 0;
  for (const Compiled* cp : all_compiled()) {
    const Compiled& c = *cp;
    INFO(where(c));
    const Plan& p = c.plan;
    for (size_t s = 0; s < p.npu_segments.size(); ++s) {
      INFO("NPU segment " << s);
      const std::vector<Cmd> cmds = decode_segment(p.words, p.npu_segments[s]);
      Order order;
      REQUIRE(check_semaphore_program(cmds, c.hw->semaphores, &order) == "");
      CHECK(check_memory_races(cmds, order, c.hw->sram_bytes(), p.arena_bytes) == "");
      ++segments;
    }
  }
  CHECK(segments > 0);
}

TEST_CASE("schedule: the abstract command processor catches broken streams", "[schedule]") {
  // The checker must be able to fail: a wait with no signal deadlocks; a signal nobody
  // consumes leaves a count; a cross-engine race on one semaphore is reported; a queue of
  // depth 1 that fills with a wait whose signal comes later stalls dispatch.
  auto mk = [](Cmd::Kind k, int q, int s = -1) {
    Cmd c;
    c.kind = k;
    c.queue = q;
    c.sem = s;
    return c;
  };
  const Cmd end = mk(Cmd::end, -1);
  {
    const std::vector<Cmd> cmds = {mk(Cmd::wait, 2, 0), end};
    CHECK_FALSE(simulate(cmds, 16, 4, 0, nullptr).ended);
    CHECK(check_semaphore_program(cmds, 16) != "");
  }
  {
    const std::vector<Cmd> cmds = {mk(Cmd::signal, 0, 3), end};
    CHECK(simulate(cmds, 16, 4, 0, nullptr).problem != "");
    CHECK(check_semaphore_program(cmds, 16) != "");
  }
  {
    // DMA_IN signals twice; MAC and VEC each wait once, unordered: either may take either.
    const std::vector<Cmd> cmds = {mk(Cmd::signal, 0, 1), mk(Cmd::signal, 0, 1), mk(Cmd::wait, 2, 1),
                                   mk(Cmd::wait, 3, 1), end};
    CHECK_THAT(check_semaphore_program(cmds, 16), Catch::Contains("not ordered"));
    std::mt19937 rng(1);
    bool stolen = false;
    for (int k = 0; k < 50 && !stolen; ++k) stolen = simulate(cmds, 16, 4, 2, &rng).problem != "";
    CHECK(stolen);
  }
  {
    // Depth 1: MAC's queue holds a wait; the MAC command behind it cannot be dispatched,
    // and the signal it waits for comes after that command in program order.
    const std::vector<Cmd> cmds = {mk(Cmd::wait, 2, 0), mk(Cmd::work, 2), mk(Cmd::signal, 0, 0), end};
    CHECK_FALSE(simulate(cmds, 16, 1, 0, nullptr).ended);
    CHECK_FALSE(simulate(cmds, 16, 1, 1, nullptr).ended);
  }
  CHECK(check_semaphore_program({mk(Cmd::signal, 0, 20), mk(Cmd::wait, 1, 20), end}, 16) != "");
  {
    // A load into SRAM and a LUT reading those bytes: a race without a semaphore between
    // them, none with one; a LUT writing bytes a later load overwrites needs one too.
    isa::DmaLoad load;
    load.dram_addr = kArenaVa;
    load.sram_addr = 256;
    load.len0 = 100;
    load.n1 = load.n2 = load.n3 = 1;
    isa::Lut lut;
    lut.in_addr = 300;
    lut.out_addr = 1024;
    lut.table_addr = 2048;
    lut.count = 10;
    Cmd l = mk(Cmd::work, 0), v = mk(Cmd::work, 3);
    l.command = load;
    v.command = lut;
    const std::vector<Cmd> racy = {l, v, end};
    Order o;
    REQUIRE(check_semaphore_program(racy, 16, &o) == "");
    CHECK_THAT(check_memory_races(racy, o, 4096, 4096), Catch::Contains("not ordered"));
    const std::vector<Cmd> synced = {l, mk(Cmd::signal, 0, 4), mk(Cmd::wait, 3, 4), v, end};
    REQUIRE(check_semaphore_program(synced, 16, &o) == "");
    CHECK(check_memory_races(synced, o, 4096, 4096) == "");
    isa::DmaLoad over = load;
    over.sram_addr = 1024;  // overwrites the LUT's output
    Cmd l2 = mk(Cmd::work, 0);
    l2.command = over;
    const std::vector<Cmd> war = {l, mk(Cmd::signal, 0, 4), mk(Cmd::wait, 3, 4), v, l2, end};
    REQUIRE(check_semaphore_program(war, 16, &o) == "");
    CHECK_THAT(check_memory_races(war, o, 4096, 4096), Catch::Contains("not ordered"));
  }
}

TEST_CASE("schedule: removing a data synchronization from a real stream is caught", "[schedule]") {
  // The race check must see the hazards the semaphores exist for: take MobileNetV2's
  // stream, drop a matched SEM_SIGNAL / SEM_WAIT pair (the k-th of each on one semaphore,
  // so every other wait still meets its own signal) and look for a race. Some pairs are
  // implied by others (e.g. the first input load of a layer), so each data-carrying
  // semaphore (FULL: data arrived; FREE: a slot may be overwritten) must be caught for at
  // least one of several pairs.
  const Compiled& c = compiled(mobilenet_v2(), default_hw());
  REQUIRE_FALSE(c.plan.npu_segments.empty());
  const std::vector<Cmd> cmds = decode_segment(c.plan.words, c.plan.npu_segments[0]);
  for (int sem : {4, 5, 6, 8, 9, 10, 11}) {
    INFO("semaphore " << sem);
    int caught = 0, tried = 0;
    for (int pick : {0, 1, 2, 5, 20, 50}) {
      int ns = 0, nw = 0;
      bool dropped_signal = false, dropped_wait = false;
      std::vector<Cmd> v;
      for (const Cmd& x : cmds) {
        if (x.kind == Cmd::signal && x.sem == sem && ns++ == pick) {
          dropped_signal = true;
          continue;
        }
        if (x.kind == Cmd::wait && x.sem == sem && nw++ == pick) {
          dropped_wait = true;
          continue;
        }
        v.push_back(x);
      }
      if (!dropped_signal || !dropped_wait) continue;
      ++tried;
      Order o;
      const std::string order_problem = check_semaphore_program(v, default_hw().semaphores, &o);
      if (!order_problem.empty() || check_memory_races(v, o, default_hw().sram_bytes(), c.plan.arena_bytes) != "")
        ++caught;
    }
    CHECK(tried > 0);
    CHECK(caught > 0);
  }
}

// ============================================================================== package

TEST_CASE("package: the loadable validates, round-trips and maps layers to commands", "[package]") {
  for (const Compiled* cp : all_compiled()) {
    const Compiled& c = *cp;
    INFO(where(c));
    const Plan& p = c.plan;
    const Loadable& l = c.loadable;
    REQUIRE_NOTHROW(validate_loadable(l, c.model));
    CHECK(l.hardware_hash == sim::npu::npu_config_hash(*c.hw));
    CHECK(l.hardware_name == c.hw->name);
    CHECK(l.commands == p.words);

    // Round trip.
    const std::vector<uint8_t> bytes = write_loadable(l);
    const Loadable r = read_loadable(bytes.data(), bytes.size(), c.model);
    CHECK(r.commands == l.commands);
    CHECK(r.hardware_hash == l.hardware_hash);
    REQUIRE(r.tensors.size() == l.tensors.size());
    for (size_t i = 0; i < l.tensors.size(); ++i) {
      const TensorEntry &a = l.tensors[i], &b = r.tensors[i];
      CHECK(a.name == b.name);
      CHECK(a.dtype == b.dtype);
      CHECK(a.shape == b.shape);
      CHECK(a.quant.scale == b.quant.scale);
      CHECK(a.quant.zero_point == b.quant.zero_point);
      CHECK(a.region == b.region);
      CHECK(a.offset == b.offset);
      CHECK(a.bytes == b.bytes);
    }
    CHECK(r.inputs == l.inputs);
    CHECK(r.outputs == l.outputs);
    REQUIRE(r.npu_segments.size() == l.npu_segments.size());
    for (size_t i = 0; i < l.npu_segments.size(); ++i) {
      CHECK(r.npu_segments[i].first_word == l.npu_segments[i].first_word);
      CHECK(r.npu_segments[i].word_count == l.npu_segments[i].word_count);
    }
    REQUIRE(r.layers.size() == l.layers.size());
    for (size_t i = 0; i < l.layers.size(); ++i) {
      CHECK(r.layers[i].first_word == l.layers[i].first_word);
      CHECK(r.layers[i].word_count == l.layers[i].word_count);
      CHECK(r.layers[i].name == l.layers[i].name);
    }
    REQUIRE(r.regions.size() == l.regions.size());
    for (size_t i = 0; i < l.regions.size(); ++i) {
      CHECK(r.regions[i].va == l.regions[i].va);
      CHECK(r.regions[i].bytes == l.regions[i].bytes);
      CHECK(r.regions[i].data == l.regions[i].data);
    }
    CHECK(r.cpu_segments.size() == l.cpu_segments.size());
    CHECK(r.steps.size() == l.steps.size());

    // Model inputs and outputs are bound to tensors of their shapes.
    REQUIRE(l.inputs.size() == p.graph.inputs.size());
    for (size_t i = 0; i < l.inputs.size(); ++i)
      CHECK(l.tensors[l.inputs[i]].shape == T(p.graph, p.graph.inputs[i]).shape);
    REQUIRE(l.outputs.size() == p.graph.outputs.size());
    for (size_t i = 0; i < l.outputs.size(); ++i)
      CHECK(l.tensors[l.outputs[i]].shape == T(p.graph, p.graph.outputs[i]).shape);

    // One layer per operator; CPU operators have no words; every NPU operator that does
    // work has some.
    REQUIRE(l.layers.size() == p.graph.ops.size());
    for (size_t i = 0; i < l.layers.size(); ++i) {
      CHECK(l.layers[i].op == p.graph.ops[i].type_name);
      if (p.cpu_reason[i]) CHECK(l.layers[i].word_count == 0);
      else if (p.npu_ops[size_t(p.npu_op_of[i])].kind != NpuKind::alias) CHECK(l.layers[i].word_count > 0);
    }
    // Layer ranges partition each NPU segment's commands in model order, except the
    // semaphore glue between layers and the final END.
    std::vector<int> owner(l.commands.size(), -1);
    for (size_t i = 0; i < l.layers.size(); ++i)
      for (uint32_t w = 0; w < l.layers[i].word_count; ++w) {
        const size_t at = size_t(l.layers[i].first_word) + w;
        REQUIRE(at < owner.size());
        CHECK(owner[at] == -1);
        owner[at] = int(i);
      }
    for (const NpuSegment& s : l.npu_segments) {
      int prev = -1;
      for (const Cmd& cmd : decode_segment(l.commands, s)) {
        const int o = owner[cmd.word];
        if (o < 0) {
          INFO("unowned command at word " << cmd.word << ": " << cmd.text);
          CHECK((cmd.kind == Cmd::signal || cmd.kind == Cmd::wait || cmd.kind == Cmd::end));
          continue;
        }
        const Layer& ly = l.layers[size_t(o)];
        CHECK(o >= prev);  // model order
        if (o != prev) CHECK(ly.first_word == cmd.word);  // a layer starts at a command
        CHECK(ly.first_word + ly.word_count <= s.first_word + s.word_count);  // inside the segment
        prev = o;
      }
    }
    for (size_t w = 0; w < owner.size(); ++w)
      if (owner[w] >= 0) {
        bool in_segment = false;
        for (const NpuSegment& s : l.npu_segments) in_segment = in_segment || (w >= s.first_word && w < s.first_word + s.word_count);
        CHECK(in_segment);
      }

    // Steps: the plan's segments in order, NPU and CPU indices each counting up.
    size_t ni = 0, ci = 0, si = 0;
    for (const Segment& seg : p.segments) {
      bool emits = !seg.npu;
      for (size_t i : seg.ops) emits = emits || p.op_words[i].second > 0;
      if (!emits) continue;
      REQUIRE(si < l.steps.size());
      CHECK(l.steps[si].kind == (seg.npu ? Step::Kind::npu : Step::Kind::cpu));
      CHECK(l.steps[si].index == (seg.npu ? ni++ : ci++));
      ++si;
    }
    CHECK(si == l.steps.size());
    CHECK(ni == l.npu_segments.size());
    CHECK(ci == l.cpu_segments.size());

    // CPU segments: verified graphs of the fallback operators with their reasons.
    size_t cs_index = 0;
    for (const Segment& seg : p.segments) {
      if (seg.npu) continue;
      REQUIRE(cs_index < l.cpu_segments.size());
      const CpuSegment& cs = l.cpu_segments[cs_index++];
      CHECK_NOTHROW(ir::verify(cs.graph));
      REQUIRE(cs.graph.ops.size() == seg.ops.size());
      REQUIRE(cs.reasons.size() == seg.ops.size());
      for (size_t k = 0; k < seg.ops.size(); ++k) {
        CHECK(cs.graph.ops[k].type == p.graph.ops[seg.ops[k]].type);
        CHECK_THAT(cs.reasons[k], Catch::Contains(*p.cpu_reason[seg.ops[k]]));
      }
      REQUIRE(cs.inputs.size() == cs.graph.inputs.size());
      REQUIRE(cs.outputs.size() == cs.graph.outputs.size());
      for (size_t k = 0; k < cs.inputs.size(); ++k)
        CHECK(l.tensors[cs.inputs[k]].name == cs.graph.tensors[size_t(cs.graph.inputs[k])].name);
      for (size_t k = 0; k < cs.outputs.size(); ++k)
        CHECK(l.tensors[cs.outputs[k]].name == cs.graph.tensors[size_t(cs.graph.outputs[k])].name);
    }
  }
}

// ========================================================================= --dump-after

TEST_CASE("compile --dump-after writes the state after each pass; unknown names throw", "[dump]") {
  const Zoo z = make_zoo();
  for (const std::string& pass : pass_names()) {
    INFO(pass);
    std::stringstream dump;
    CompileOptions o;
    o.dump_after = pass;
    o.dump = &dump;
    const CompileResult r = compile(z.g, default_hw(), o);
    const std::string text = dump.str();
    const std::string header = "=== after " + pass + "\n";
    CHECK(text.rfind(header, 0) == 0);
    CHECK(text.size() > header.size() + 10);
    CHECK(text.find("=== after", header.size()) == std::string::npos);  // one dump only
    CHECK(r.loadable.commands.size() > 0);
  }
  // The passes of docs/compiler.md appear in pipeline order (others may sit between them).
  const std::vector<std::string> documented = {"canonicalize", "partition", "lower", "tile", "arena", "schedule", "package"};
  size_t at = 0;
  for (const std::string& pass : pass_names())
    if (at < documented.size() && pass == documented[at]) ++at;
  CHECK(at == documented.size());
  std::stringstream dump;
  CompileOptions o;
  o.dump_after = "bogus";
  o.dump = &dump;
  try {
    compile(z.g, default_hw(), o);
    FAIL("an unknown pass name was accepted");
  } catch (const Error& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("bogus"));
    for (const std::string& pass : pass_names()) CHECK_THAT(what, Catch::Contains(pass));
  }
  CHECK(dump.str().empty());
}

