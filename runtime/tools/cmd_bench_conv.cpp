// tessel bench-conv: the fast CPU path's convolution throughput against oneDNN's own int8
// convolution (its fused, float-scaled int8 output: fast but not bit-exact with TFLite) on
// a model's dominant convolution shapes, measured side by side in one run.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <random>

#include <CLI/CLI.hpp>
#include <oneapi/dnnl/dnnl.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "tessel/io/files.hpp"
#include "tessel/kernels/fast_conv.hpp"
#include "tessel/kernels/quant.hpp"

namespace tessel::tools {

namespace {

struct BenchConvOptions {
  std::vector<std::string> models;
  std::string json;
  int top = 5;
  int repeat = 20;
  int threads = 1;
};

struct Shape {
  kernels::FastConvSpec spec;
  std::string layer;
  int64_t macs = 0;
};

// The convolution shapes of a model, from its CONV_2D / DEPTHWISE_CONV_2D operators.
std::vector<Shape> conv_shapes(const ir::Graph& g) {
  std::vector<Shape> out;
  for (const ir::Op& op : g.ops) {
    if (op.type != ir::OpType::CONV_2D && op.type != ir::OpType::DEPTHWISE_CONV_2D) continue;
    const ir::Tensor& in = g.tensors[static_cast<size_t>(op.inputs[0])];
    const ir::Tensor& w = g.tensors[static_cast<size_t>(op.inputs[1])];
    const ir::Tensor& o = g.tensors[static_cast<size_t>(op.outputs[0])];
    if (in.dtype != ir::DType::u8 && in.dtype != ir::DType::i8) continue;
    Shape s;
    kernels::FastConvSpec& c = s.spec;
    c.depthwise = op.type == ir::OpType::DEPTHWISE_CONV_2D;
    c.batch = in.shape[0], c.in_h = in.shape[1], c.in_w = in.shape[2], c.in_c = in.shape[3];
    c.out_h = o.shape[1], c.out_w = o.shape[2], c.out_c = o.shape[3];
    c.kernel_h = w.shape[1], c.kernel_w = w.shape[2];
    c.stride_h = static_cast<int>(op.attrs.get_int("stride_h", 1));
    c.stride_w = static_cast<int>(op.attrs.get_int("stride_w", 1));
    c.dilation_h = static_cast<int>(op.attrs.get_int("dilation_h_factor", 1));
    c.dilation_w = static_cast<int>(op.attrs.get_int("dilation_w_factor", 1));
    if (op.attrs.get_int("padding", 0) == static_cast<int>(ir::Padding::same)) {
      const int kh = (c.kernel_h - 1) * c.dilation_h + 1, kw = (c.kernel_w - 1) * c.dilation_w + 1;
      c.pad_top = std::max(0, ((c.out_h - 1) * c.stride_h + kh - c.in_h) / 2);
      c.pad_left = std::max(0, ((c.out_w - 1) * c.stride_w + kw - c.in_w) / 2);
    }
    c.input_signed = c.output_signed = in.dtype == ir::DType::i8;
    c.weights_signed = w.dtype == ir::DType::i8;
    const int64_t k = int64_t{c.kernel_h} * c.kernel_w * (c.depthwise ? 1 : c.in_c);
    s.macs = int64_t{c.batch} * c.out_h * c.out_w * c.out_c * k;
    s.layer = op.name;
    out.push_back(s);
  }
  return out;
}

// Fills the spec's quantization with plausible values and random weights.
void fill_random(kernels::FastConvSpec& c, std::vector<uint8_t>& weights, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t k = int64_t{c.kernel_h} * c.kernel_w * (c.depthwise ? 1 : c.in_c);
  weights.resize(static_cast<size_t>(c.out_c * k));
  for (auto& b : weights) b = static_cast<uint8_t>(rng());
  c.weights = weights.data();
  c.input_zero_point = c.input_signed ? -3 : 128;
  c.output_zero_point = c.output_signed ? 2 : 120;
  c.act_min = c.output_signed ? -128 : 0;
  c.act_max = c.output_signed ? 127 : 255;
  const kernels::QuantizedMultiplier q = kernels::quantize_multiplier(0.0007);
  c.weight_zero_point.assign(static_cast<size_t>(c.out_c), c.weights_signed ? 0 : 119);
  c.bias.assign(static_cast<size_t>(c.out_c), 1000);
  c.multiplier.assign(static_cast<size_t>(c.out_c), q.multiplier);
  c.shift.assign(static_cast<size_t>(c.out_c), q.shift);
}

// oneDNN's own int8 convolution of the same shape: s8 weights, int8/uint8 output through
// its per-channel output scales, zero padding handled by oneDNN.
class OnednnNativeConv {
 public:
  OnednnNativeConv(const kernels::FastConvSpec& c, int threads) : engine_(dnnl::engine::kind::cpu, 0) {
    omp_set_num_threads(threads);
    using dt = dnnl::memory::data_type;
    using tag = dnnl::memory::format_tag;
    const dt act = c.input_signed ? dt::s8 : dt::u8;
    const int groups = c.depthwise ? c.in_c : 1;
    dnnl::memory::desc src({c.batch, c.in_c, c.in_h, c.in_w}, act, tag::nhwc);
    dnnl::memory::desc dst({c.batch, c.out_c, c.out_h, c.out_w}, act, tag::nhwc);
    dnnl::memory::dims wd = c.depthwise
                                ? dnnl::memory::dims{groups, c.out_c / groups, 1, c.kernel_h, c.kernel_w}
                                : dnnl::memory::dims{c.out_c, c.in_c, c.kernel_h, c.kernel_w};
    dnnl::memory::desc wei(wd, dt::s8, tag::any);
    dnnl::memory::desc bias({c.out_c}, dt::s32, tag::x);
    const int kh = (c.kernel_h - 1) * c.dilation_h + 1, kw = (c.kernel_w - 1) * c.dilation_w + 1;
    const int pad_b = std::max(0, (c.out_h - 1) * c.stride_h + kh - c.in_h - c.pad_top);
    const int pad_r = std::max(0, (c.out_w - 1) * c.stride_w + kw - c.in_w - c.pad_left);
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                      src, wei, bias, dst, {c.stride_h, c.stride_w},
                                      {c.dilation_h - 1, c.dilation_w - 1}, {c.pad_top, c.pad_left},
                                      {pad_b, pad_r});
    dnnl::primitive_attr attr;
    attr.set_output_scales(2, std::vector<float>(static_cast<size_t>(c.out_c), 0.0007f));
    dnnl::convolution_forward::primitive_desc pd(d, attr, engine_);
    prim_ = dnnl::convolution_forward(pd);
    src_ = dnnl::memory(src, engine_);
    dst_ = dnnl::memory(dst, engine_);
    wei_ = dnnl::memory(pd.weights_desc(), engine_);
    bias_ = dnnl::memory(bias, engine_);
    std::fill_n(static_cast<int32_t*>(bias_.get_data_handle()), c.out_c, 1000);
  }
  void run(int threads) {
    omp_set_num_threads(threads);
    dnnl::stream s(engine_);
    prim_.execute(s, {{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, wei_}, {DNNL_ARG_BIAS, bias_}, {DNNL_ARG_DST, dst_}});
    s.wait();
  }

 private:
  dnnl::engine engine_;
  dnnl::convolution_forward prim_;
  dnnl::memory src_, dst_, wei_, bias_;
};

template <typename F>
double time_ms(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

int bench_conv(const BenchConvOptions& o) {
  if (!kernels::fast_conv_supported())
    throw Error("this CPU has no VNNI, so the cpu backend does not use the oneDNN convolution here");
  nlohmann::json results = nlohmann::json::array();
  for (const std::string& path : o.models) {
    const ir::Graph g = load_model(path);
    std::vector<Shape> shapes = conv_shapes(g);
    // Distinct shapes, most MACs first.
    std::sort(shapes.begin(), shapes.end(), [](const Shape& a, const Shape& b) { return a.macs > b.macs; });
    std::vector<Shape> picked;
    std::map<std::string, bool> seen;
    for (const Shape& s : shapes) {
      const auto& c = s.spec;
      const std::string key = std::to_string(c.in_h) + "x" + std::to_string(c.in_w) + "x" + std::to_string(c.in_c) +
                              "/" + std::to_string(c.out_c) + "/" + std::to_string(c.kernel_h) + "/" +
                              std::to_string(c.stride_h) + "/" + std::to_string(c.depthwise);
      if (seen[key]) continue;
      seen[key] = true;
      picked.push_back(s);
      if (static_cast<int>(picked.size()) == o.top) break;
    }
    for (Shape& s : picked) {
      std::vector<uint8_t> weights;
      fill_random(s.spec, weights, 1);
      kernels::FastConv ours(s.spec, o.threads);
      OnednnNativeConv theirs(s.spec, o.threads);
      const auto& c = s.spec;
      std::vector<uint8_t> in = io::xorshift_bytes(1, static_cast<size_t>(c.batch) * c.in_h * c.in_w * c.in_c, 1);
      std::vector<uint8_t> out(static_cast<size_t>(c.batch) * c.out_h * c.out_w * c.out_c);
      ours.run(in.data(), out.data());
      theirs.run(o.threads);
      std::vector<double> t_ours, t_theirs;
      for (int r = 0; r < o.repeat; ++r) {  // interleaved, so both see the same machine state
        t_ours.push_back(time_ms([&] { ours.run(in.data(), out.data()); }));
        t_theirs.push_back(time_ms([&] { theirs.run(o.threads); }));
      }
      const double ms_ours = median(t_ours), ms_theirs = median(t_theirs);
      const double gops = 2.0 * static_cast<double>(s.macs) / (ms_ours * 1e6);
      const double gops_theirs = 2.0 * static_cast<double>(s.macs) / (ms_theirs * 1e6);
      nlohmann::json r = {{"model", path},
                          {"layer", s.layer},
                          {"kind", c.depthwise ? "depthwise" : "conv"},
                          {"input", {c.batch, c.in_h, c.in_w, c.in_c}},
                          {"output", {c.batch, c.out_h, c.out_w, c.out_c}},
                          {"kernel", {c.kernel_h, c.kernel_w}},
                          {"stride", {c.stride_h, c.stride_w}},
                          {"macs", s.macs},
                          {"threads", o.threads},
                          {"tessel_ms", ms_ours},
                          {"onednn_int8_ms", ms_theirs},
                          {"tessel_gops", gops},
                          {"onednn_int8_gops", gops_theirs},
                          {"ratio", gops / gops_theirs}};
      std::printf("%-60s %-9s %4dx%-4d %4d->%-4d k%d s%d  tessel %7.1f GOPS  onednn %7.1f GOPS  ratio %.2f\n",
                  s.layer.c_str(), c.depthwise ? "depthwise" : "conv", c.in_h, c.in_w, c.in_c, c.out_c,
                  c.kernel_h, c.stride_h, gops, gops_theirs, gops / gops_theirs);
      results.push_back(r);
    }
  }
  nlohmann::json report = {{"threads", o.threads}, {"repeat", o.repeat}, {"shapes", results}};
  const std::string text = report.dump(2) + "\n";
  io::write_file(o.json, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  return 0;
}

}  // namespace

void add_bench_conv_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<BenchConvOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench-conv", "Fast-path convolution throughput vs oneDNN's own int8 convolution on a model's top shapes");
  cmd->add_option("models", o->models, "Model files (.tflite)")->required();
  cmd->add_option("--json", o->json, "Write the results here")->required();
  cmd->add_option("--top", o->top, "Distinct shapes per model, most MACs first")->check(CLI::Range(1, 1000));
  cmd->add_option("--repeat", o->repeat, "Timed runs per shape and implementation")->check(CLI::Range(1, 100000));
  cmd->add_option("--threads", o->threads, "Threads")->check(CLI::Range(1, 256));
  cmd->callback([o, &action] { action = [o] { return bench_conv(*o); }; });
}

}  // namespace tessel::tools
