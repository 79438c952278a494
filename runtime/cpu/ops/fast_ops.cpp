// The `cpu` backend's overrides: CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED with 8-bit
// activations and constant weights run through FastConv (oneDNN int32 accumulation + exact
// vectorized requantization); same-shape 8-bit ADD and SUB through a table the reference
// kernel fills. Everything else, and every case these do not cover, runs the reference.
//
// Each override first runs the reference prepare: the operator is validated by exactly
// the same code (same errors for the same bad models), and the reference RunFn is the
// fallback. Requantization parameters come from derive_requant_params, the function the
// reference bindings use, so both paths requantize with the same integers.
#include <memory>

#include "tessel/cpu/conv_params.hpp"
#include "tessel/cpu/executor.hpp"
#include "tessel/cpu/op_registry.hpp"
#include "tessel/kernels/fast_conv.hpp"

namespace tessel::cpu {

namespace {

bool is_8bit_triplet(const ir::Tensor& in, const ir::Tensor& w, const ir::Tensor& out) {
  const bool u8 = in.dtype == ir::DType::u8 && w.dtype == ir::DType::u8 && out.dtype == ir::DType::u8;
  const bool i8 = in.dtype == ir::DType::i8 && w.dtype == ir::DType::i8 && out.dtype == ir::DType::i8;
  return u8 || i8;
}

int attr_int(const PrepareContext& pc, const char* key, int def) {
  return static_cast<int>(pc.attrs().get_int(key, def));
}

// Fills the quantization part of a FastConvSpec from the operator's tensors.
void fill_quantization(const PrepareContext& pc, kernels::FastConvSpec& s, int channel_axis) {
  const ir::Tensor& in = pc.input(0);
  const ir::Tensor& w = pc.input(1);
  const ir::Tensor& out = pc.output(0);
  const ir::Tensor* bias = pc.has_input(2) ? &pc.input(2) : nullptr;
  const int activation = attr_int(pc, "fused_activation_function", 0);
  const kernels::RequantParams rq = derive_requant_params(
      in, w, bias, out, activation, channel_axis, multiplier_rule(pc.op().type, in, w));
  const size_t channels = static_cast<size_t>(s.out_c);
  auto per_channel = [&](const std::vector<int32_t>& v) {
    return v.size() == channels ? v : std::vector<int32_t>(channels, v.at(0));
  };
  s.multiplier = per_channel(rq.multiplier);
  s.shift = per_channel(rq.shift);
  s.output_zero_point = rq.output_offset;
  s.act_min = rq.act_min;
  s.act_max = rq.act_max;
  s.input_signed = in.dtype == ir::DType::i8;
  s.output_signed = out.dtype == ir::DType::i8;
  s.weights_signed = w.dtype == ir::DType::i8;
  s.input_zero_point = static_cast<int32_t>(in.quant.zero_point.at(0));
  s.weights = w.data.data();
  s.weight_zero_point.resize(channels);
  for (size_t c = 0; c < channels; ++c)
    s.weight_zero_point[c] = static_cast<int32_t>(
        w.quant.zero_point.size() == channels ? w.quant.zero_point[c] : w.quant.zero_point.at(0));
  s.bias.assign(channels, 0);
  if (bias) {
    const auto* b = bias->data_as<int32_t>();
    for (size_t c = 0; c < channels; ++c) s.bias[c] = b[c];
  }
}

RunFn fast_run(const kernels::FastConvSpec& spec, int threads) {
  auto conv = std::make_shared<kernels::FastConv>(spec, threads);
  return [conv](ExecContext& ec) { conv->run(ec.input<void>(0), ec.output<void>(0)); };
}

// True when FastConv can take this operator: 8-bit tensors, constant weights and bias.
bool fast_eligible(const PrepareContext& pc) {
  if (!kernels::fast_conv_supported()) return false;
  const ir::Tensor& w = pc.input(1);
  if (!is_8bit_triplet(pc.input(0), w, pc.output(0)) || !w.is_constant) return false;
  if (pc.has_input(2) && (!pc.input(2).is_constant || pc.input(2).dtype != ir::DType::i32)) return false;
  return true;
}

RunFn prepare_conv(const PrepareContext& pc, bool depthwise) {
  RunFn reference = ref_registry().find(pc.op().type)(pc);
  if (!fast_eligible(pc)) return reference;
  const ir::Tensor& in = pc.input(0);
  const ir::Tensor& w = pc.input(1);
  const ir::Tensor& out = pc.output(0);
  kernels::FastConvSpec s;
  s.depthwise = depthwise;
  s.batch = in.shape[0], s.in_h = in.shape[1], s.in_w = in.shape[2], s.in_c = in.shape[3];
  s.out_h = out.shape[1], s.out_w = out.shape[2], s.out_c = out.shape[3];
  s.kernel_h = w.shape[1], s.kernel_w = w.shape[2];
  // Grouped convolution (filter depth below the input's) stays on the reference kernel.
  if (!depthwise && w.shape[3] != s.in_c) return reference;
  s.stride_h = attr_int(pc, "stride_h", 1);
  s.stride_w = attr_int(pc, "stride_w", 1);
  s.dilation_h = attr_int(pc, "dilation_h_factor", 1);
  s.dilation_w = attr_int(pc, "dilation_w_factor", 1);
  if (static_cast<ir::Padding>(attr_int(pc, "padding", 0)) == ir::Padding::same) {
    s.pad_top = conv_padding(s.in_h, s.kernel_h, s.stride_h, s.dilation_h, s.out_h).before;
    s.pad_left = conv_padding(s.in_w, s.kernel_w, s.stride_w, s.dilation_w, s.out_w).before;
  }
  fill_quantization(pc, s, depthwise ? 3 : 0);
  return fast_run(s, pc.threads());
}

RunFn prepare_fast_conv_2d(const PrepareContext& pc) { return prepare_conv(pc, false); }
RunFn prepare_fast_depthwise_conv_2d(const PrepareContext& pc) { return prepare_conv(pc, true); }

RunFn prepare_fast_fully_connected(const PrepareContext& pc) {
  RunFn reference = ref_registry().find(pc.op().type)(pc);
  if (!fast_eligible(pc)) return reference;
  const ir::Tensor& in = pc.input(0);
  const ir::Tensor& w = pc.input(1);
  // A 1x1 convolution over [batches, 1, 1, depth].
  kernels::FastConvSpec s;
  s.in_c = w.shape[1];
  s.out_c = w.shape[0];
  s.batch = static_cast<int>(in.num_elements() / s.in_c);
  fill_quantization(pc, s, 0);
  return fast_run(s, pc.threads());
}

// ADD and SUB of two same-shape 8-bit tensors: the output byte is a function of the two input
// bytes, so a 256 x 256 table computed at load time by the reference kernel itself (run once
// over every pair) gives exactly the reference's result with one lookup per element.
RunFn prepare_fast_add_sub(const PrepareContext& pc) {
  RunFn reference = ref_registry().find(pc.op().type)(pc);
  if (pc.num_inputs() != 2) return reference;
  const ir::Tensor& a = pc.input(0);
  const ir::Tensor& b = pc.input(1);
  const ir::Tensor& y = pc.output(0);
  const bool eight_bit = a.dtype == ir::DType::u8 || a.dtype == ir::DType::i8;
  if (!eight_bit || b.dtype != a.dtype || y.dtype != a.dtype || a.shape != b.shape ||
      a.shape != y.shape || a.is_constant || b.is_constant)
    return reference;

  // The same operator over two inputs of 65536 elements enumerating every byte pair.
  ir::Graph grid;
  grid.source = pc.graph().source;
  for (const ir::Tensor* t : {&a, &b, &y}) {
    ir::Tensor copy;
    copy.name = t->name;
    copy.dtype = t->dtype;
    copy.quant = t->quant;
    copy.shape = {65536};
    grid.tensors.push_back(copy);
  }
  ir::Op op = pc.op();
  op.inputs = {0, 1};
  op.outputs = {2};
  grid.ops = {op};
  grid.inputs = {0, 1};
  grid.outputs = {2};
  Executor ex(grid, ref_registry());
  std::vector<uint8_t> first(65536), second(65536);
  for (size_t i = 0; i < 65536; ++i) {
    first[i] = static_cast<uint8_t>(i >> 8);
    second[i] = static_cast<uint8_t>(i & 0xFF);
  }
  ex.set_input(0, first.data(), first.size());
  ex.set_input(1, second.data(), second.size());
  ex.run();
  auto table = std::make_shared<std::vector<uint8_t>>(ex.output_data(0), ex.output_data(0) + 65536);
  const int64_t n = y.num_elements();
  return [table, n](ExecContext& ec) {
    const uint8_t* x1 = ec.input<uint8_t>(0);
    const uint8_t* x2 = ec.input<uint8_t>(1);
    uint8_t* out = ec.output<uint8_t>(0);
    const uint8_t* t = table->data();
    for (int64_t i = 0; i < n; ++i) out[i] = t[(size_t{x1[i]} << 8) | x2[i]];
  };
}

}  // namespace

void register_cpu_fast_ops(OpRegistry& r) {
  r.add(ir::OpType::ADD, prepare_fast_add_sub);
  r.add(ir::OpType::SUB, prepare_fast_add_sub);
  r.add(ir::OpType::CONV_2D, prepare_fast_conv_2d);
  r.add(ir::OpType::DEPTHWISE_CONV_2D, prepare_fast_depthwise_conv_2d);
  r.add(ir::OpType::FULLY_CONNECTED, prepare_fast_fully_connected);
}

}  // namespace tessel::cpu
