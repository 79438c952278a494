// Operator support (the predicates and their document), partitioning into NPU and CPU
// segments, and lowering: each NPU operator becomes an NpuOp with its command prototype
// (every quantization field set, with the same integers the CPU kernels use) and its
// constants packed for the commands.
#include <algorithm>
#include <cstring>
#include <functional>
#include <sstream>

#include "plan.hpp"
#include "tessel/compiler/compile.hpp"
#include "tessel/cpu/conv_params.hpp"
#include "tessel/cpu/executor.hpp"
#include "tessel/cpu/op_registry.hpp"
#include "tessel/cpu/quant_params.hpp"
#include "tessel/ir/error.hpp"
#include "tiles.hpp"

namespace tessel::compiler {

using ir::DType;
using ir::OpType;

const char* npu_kind_name(NpuKind k) {
  switch (k) {
    case NpuKind::conv: return "conv";
    case NpuKind::dwconv: return "dwconv";
    case NpuKind::matmul: return "matmul";
    case NpuKind::eltwise: return "eltwise";
    case NpuKind::pool: return "pool";
    case NpuKind::lut: return "lut";
    case NpuKind::resize: return "resize";
    case NpuKind::mean: return "mean";
    case NpuKind::softmax: return "softmax";
    case NpuKind::copy: return "copy";
    case NpuKind::alias: return "alias";
  }
  return "?";
}

namespace {

bool is8(DType t) { return t == DType::i8 || t == DType::u8; }
int64_t zp(const ir::Tensor& t) { return t.quant.zero_point.empty() ? 0 : t.quant.zero_point[0]; }
bool per_tensor(const ir::Tensor& t) { return t.quant.present() && !t.quant.per_channel(); }
bool same_quant(const ir::Tensor& a, const ir::Tensor& b) {
  return a.dtype == b.dtype && per_tensor(a) && per_tensor(b) && a.quant.scale[0] == b.quant.scale[0] &&
         zp(a) == zp(b);
}
int attr(const ir::Op& op, const char* key, int def) { return static_cast<int>(op.attrs.get_int(key, def)); }

// The operators whose 8-bit per-tensor semantics are a function of one input byte: the
// NPU runs them as a 256-entry table computed by the reference kernel itself.
bool is_table_op(OpType t) {
  switch (t) {
    case OpType::LOGISTIC:
    case OpType::TANH:
    case OpType::HARD_SWISH:
    case OpType::RELU:
    case OpType::RELU6:
    case OpType::RELU_N1_TO_1:
    case OpType::LEAKY_RELU:
    case OpType::QUANTIZE:
    case OpType::ABS:
    case OpType::NEG:
    case OpType::ELU:
      return true;
    default:
      return false;
  }
}

bool is_alias_op(OpType t) {
  return t == OpType::RESHAPE || t == OpType::SQUEEZE || t == OpType::EXPAND_DIMS;
}

// One rule of the support document.
struct Rule {
  const char* ops;
  const char* npu;
  const char* conditions;
};
const Rule kRules[] = {
    {"CONV_2D", "CONV (MAC array)",
     "batch 1; int8 or uint8 activations; int8 weights (per-channel or per-tensor) or uint8 "
     "per-tensor weights; one group; kernel, stride, dilation <= 255; dimensions <= 65535; "
     "a tile of one output row fits the SRAM"},
    {"DEPTHWISE_CONV_2D", "DWCONV (MAC array)", "as CONV_2D; any depth multiplier"},
    {"FULLY_CONNECTED", "MATMUL (MAC array)",
     "8-bit activations and weights, 2-D weights [n][k], m, k, n <= 65535"},
    {"ADD, SUB, MUL", "ELTWISE (vector unit)",
     "8-bit per-tensor, all three tensors the same shape (no broadcasting), no constant operand"},
    {"MAXIMUM, MINIMUM", "ELTWISE (vector unit)",
     "as ADD; both inputs and the output share one quantization (as TFLite requires)"},
    {"AVERAGE_POOL_2D, MAX_POOL_2D", "POOL (vector unit)",
     "batch 1; 8-bit; input and output share quantization (as TFLite requires); window <= 255"},
    {"MEAN", "MEAN (vector unit)", "batch 1, 4-D, 8-bit, over axes 1 and 2 (height, width)"},
    {"RESIZE_BILINEAR", "RESIZE, or RESIZE_ROWS bands when it does not fit the SRAM (vector unit)",
     "batch 1; 8-bit; sizes below 65536; one band of output rows with the input rows it reads "
     "fits the SRAM"},
    {"SOFTMAX", "SOFTMAX (vector unit)",
     "int8 -> int8 or uint8 -> uint8 with TFLite's output quantization (scale 1/256); the last "
     "dimension <= 65535; TFLite's fixed-point algorithm, exact"},
    {"LOGISTIC, TANH, HARD_SWISH, RELU, RELU6, RELU_N1_TO_1, LEAKY_RELU, ABS, NEG, ELU, QUANTIZE (8-bit to 8-bit)",
     "LUT (vector unit)",
     "8-bit per-tensor input and output: the 256-entry table is the reference kernel's output for "
     "every input byte, so the result is exact by construction"},
    {"CONCATENATION", "DMA block copies", "every input and the output share dtype and quantization; no fused activation"},
    {"RESHAPE, SQUEEZE, EXPAND_DIMS", "none (the output aliases the input's bytes)",
     "same dtype and quantization"},
    {"everything else", "CPU fallback", "the reason is reported per operator"},
};

// ----------------------------------------------------------------------------- lowering

const ir::Tensor& T(const ir::Graph& g, int i) { return g.tensors.at(static_cast<size_t>(i)); }

std::vector<uint8_t> qp_records(const std::vector<int32_t>& bias, const kernels::RequantParams& rq,
                                int channels) {
  std::vector<uint8_t> out(static_cast<size_t>(channels) * 12);
  for (int c = 0; c < channels; ++c) {
    const size_t i = rq.multiplier.size() == 1 ? 0 : static_cast<size_t>(c);
    const int32_t rec[3] = {bias.empty() ? 0 : bias[static_cast<size_t>(c)], rq.multiplier[i], rq.shift[i]};
    std::memcpy(out.data() + static_cast<size_t>(c) * 12, rec, 12);
  }
  return out;
}

std::vector<int32_t> bias_of(const ir::Graph& g, const ir::Op& op, size_t index) {
  if (index >= op.inputs.size() || op.inputs[index] == ir::kNoTensor) return {};
  const ir::Tensor& b = T(g, op.inputs[index]);
  std::vector<int32_t> v(static_cast<size_t>(b.num_elements()));
  std::memcpy(v.data(), b.data.data(), v.size() * 4);
  return v;
}

template <typename C>
void set_conv_quant(C& c, const ir::Tensor& in, const ir::Tensor& w, const ir::Tensor& out,
                    const kernels::RequantParams& rq) {
  c.in_signed = in.dtype == DType::i8;
  c.w_signed = w.dtype == DType::i8;
  c.out_signed = out.dtype == DType::i8;
  c.in_zp = static_cast<int16_t>(zp(in));
  c.w_zp = static_cast<int16_t>(w.dtype == DType::u8 ? zp(w) : 0);
  c.out_zp = static_cast<int16_t>(rq.output_offset);
  c.act_min = static_cast<int16_t>(rq.act_min);
  c.act_max = static_cast<int16_t>(rq.act_max);
}

template <typename C>
void set_window(C& c, const Window& w) {
  c.kernel_h = static_cast<uint8_t>(w.kernel_h);
  c.kernel_w = static_cast<uint8_t>(w.kernel_w);
  c.stride_h = static_cast<uint8_t>(w.stride_h);
  c.stride_w = static_cast<uint8_t>(w.stride_w);
}

Window window_of(const ir::Op& op, const ir::Tensor& in, const ir::Tensor& out, int kh, int kw,
                 int dilation_h, int dilation_w) {
  Window w;
  w.in_h = in.shape[1];
  w.in_w = in.shape[2];
  w.in_c = in.shape[3];
  w.out_h = out.shape[1];
  w.out_w = out.shape[2];
  w.out_c = out.shape[3];
  w.kernel_h = kh;
  w.kernel_w = kw;
  w.stride_h = attr(op, "stride_h", 1);
  w.stride_w = attr(op, "stride_w", 1);
  w.dilation_h = dilation_h;
  w.dilation_w = dilation_w;
  w.pad_top = cpu::conv_padding(w.in_h, kh, w.stride_h, dilation_h, w.out_h).before;
  w.pad_left = cpu::conv_padding(w.in_w, kw, w.stride_w, dilation_w, w.out_w).before;
  return w;
}

uint64_t windowed_macs(const Window& w, int taps_c) {
  // Useful MACs: taps inside the input, per output pixel and channel.
  uint64_t rows = 0, cols = 0;
  for (int oy = 0; oy < w.out_h; ++oy)
    for (int ky = 0; ky < w.kernel_h; ++ky) {
      const int iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
      rows += iy >= 0 && iy < w.in_h;
    }
  for (int ox = 0; ox < w.out_w; ++ox)
    for (int kx = 0; kx < w.kernel_w; ++kx) {
      const int ix = ox * w.stride_w - w.pad_left + kx * w.dilation_w;
      cols += ix >= 0 && ix < w.in_w;
    }
  return rows * cols * uint64_t(uint32_t(taps_c)) * uint64_t(uint32_t(w.out_c));
}

}  // namespace

// The 256-entry table of a per-tensor 8-bit unary operator: the reference kernel applied
// to every input byte (also canonicalize's activation test).
std::vector<uint8_t> unary_table(const ir::Graph& g, const ir::Op& op) {
  ir::Graph t;
  ir::Tensor in = T(g, op.inputs[0]), out = T(g, op.outputs[0]);
  in.shape = {256};
  out.shape = {256};
  in.data.clear();
  out.data.clear();
  t.tensors = {in, out};
  ir::Op o = op;
  o.inputs = {0};
  o.outputs = {1};
  t.ops = {o};
  t.inputs = {0};
  t.outputs = {1};
  t.source = g.source;
  cpu::Executor ex(t, cpu::ref_registry());
  std::vector<uint8_t> bytes(256);
  for (int b = 0; b < 256; ++b) bytes[static_cast<size_t>(b)] = static_cast<uint8_t>(b);
  ex.set_input(0, bytes.data(), 256);
  ex.run();
  return std::vector<uint8_t>(ex.output_data(0), ex.output_data(0) + 256);
}

namespace {

// The part of an ELTWISE every binary element-wise operator shares: two same-shape
// inputs, one element per output element, the type, the three zero points, the output
// rescaling and the clamp. ADD/SUB add their input rescalings.
isa::Eltwise eltwise_proto(NpuOp& n, const ir::Op& op, const ir::Tensor& out, isa::EltwiseOp kind,
                           int a_zp, int b_zp, int out_zp, kernels::QuantizedMultiplier out_scale,
                           int act_min, int act_max) {
  n.kind = NpuKind::eltwise;
  n.inputs = {op.inputs[0], op.inputs[1]};
  n.count = out.num_elements();
  isa::Eltwise c;
  c.op = static_cast<uint8_t>(kind);
  c.is_signed = out.dtype == DType::i8;
  c.a_zp = static_cast<int16_t>(a_zp);
  c.b_zp = static_cast<int16_t>(b_zp);
  c.out_zp = static_cast<int16_t>(out_zp);
  c.out_mult = out_scale.multiplier;
  c.out_shift = static_cast<int8_t>(out_scale.shift);
  c.act_min = static_cast<int16_t>(act_min);
  c.act_max = static_cast<int16_t>(act_max);
  return c;
}

// Builds the NpuOp of graph operator `i` (assumed to pass the structural predicate).
NpuOp lower_one(const ir::Graph& g, size_t i) {
  const ir::Op& op = g.ops[i];
  NpuOp n;
  n.op = i;
  n.output = op.outputs.at(0);
  const ir::Tensor& out = T(g, n.output);
  const cpu::PrepareContext pc(g, i);
  switch (op.type) {
    case OpType::CONV_2D:
    case OpType::DEPTHWISE_CONV_2D: {
      const bool dw = op.type == OpType::DEPTHWISE_CONV_2D;
      const ir::Tensor& in = T(g, op.inputs[0]);
      const ir::Tensor& w = T(g, op.inputs[1]);
      const ir::Tensor* bias = op.inputs.size() > 2 && op.inputs[2] != ir::kNoTensor ? &T(g, op.inputs[2]) : nullptr;
      n.inputs = {op.inputs[0]};
      n.win = window_of(op, in, out, w.shape[1], w.shape[2], attr(op, "dilation_h_factor", 1),
                        attr(op, "dilation_w_factor", 1));
      n.win.depth_multiplier = dw ? n.win.out_c / n.win.in_c : 1;
      const int axis = dw ? 3 : 0;
      const kernels::RequantParams rq = cpu::derive_requant_params(
          in, w, bias, out, attr(op, "fused_activation_function", 0), axis, cpu::multiplier_rule(op.type, in, w));
      n.weights = w.data;
      n.qp = qp_records(bias_of(g, op, 2), rq, n.win.out_c);
      isa::Conv c;
      set_conv_quant(c, in, w, out, rq);
      set_window(c, n.win);
      c.dilation_h = static_cast<uint8_t>(n.win.dilation_h);
      c.dilation_w = static_cast<uint8_t>(n.win.dilation_w);
      c.depth_multiplier = static_cast<uint8_t>(n.win.depth_multiplier);
      if (dw) {
        n.kind = NpuKind::dwconv;
        isa::Dwconv d;
        d.in_signed = c.in_signed; d.w_signed = c.w_signed; d.out_signed = c.out_signed;
        d.depth_multiplier = c.depth_multiplier;
        d.kernel_h = c.kernel_h; d.kernel_w = c.kernel_w; d.stride_h = c.stride_h; d.stride_w = c.stride_w;
        d.dilation_h = c.dilation_h; d.dilation_w = c.dilation_w;
        d.in_zp = c.in_zp; d.w_zp = c.w_zp; d.out_zp = c.out_zp; d.act_min = c.act_min; d.act_max = c.act_max;
        n.proto = d;
        n.macs = windowed_macs(n.win, 1);
      } else {
        n.kind = NpuKind::conv;
        n.proto = c;
        n.macs = windowed_macs(n.win, n.win.in_c);
      }
      break;
    }
    case OpType::FULLY_CONNECTED: {
      const ir::Tensor& in = T(g, op.inputs[0]);
      const ir::Tensor& w = T(g, op.inputs[1]);
      const ir::Tensor* bias = op.inputs.size() > 2 && op.inputs[2] != ir::kNoTensor ? &T(g, op.inputs[2]) : nullptr;
      n.kind = NpuKind::matmul;
      n.inputs = {op.inputs[0]};
      n.k = w.shape[1];
      n.n = w.shape[0];
      n.m = in.num_elements() / n.k;
      const kernels::RequantParams rq = cpu::derive_requant_params(
          in, w, bias, out, attr(op, "fused_activation_function", 0), 0, cpu::multiplier_rule(op.type, in, w));
      n.weights = w.data;
      n.qp = qp_records(bias_of(g, op, 2), rq, static_cast<int>(n.n));
      isa::Matmul c;
      set_conv_quant(c, in, w, out, rq);
      n.proto = c;
      n.macs = uint64_t(n.m * n.k * n.n);
      break;
    }
    case OpType::ADD:
    case OpType::SUB: {
      const kernels::QuantizedAddParams p = cpu::add_sub_quant_params(pc);
      isa::Eltwise c = eltwise_proto(n, op, out, op.type == OpType::ADD ? isa::EltwiseOp::kAdd : isa::EltwiseOp::kSub,
                                     -p.input1_offset, -p.input2_offset, p.output_offset, p.output,
                                     p.activation_min, p.activation_max);
      c.left_shift = static_cast<uint8_t>(p.left_shift);
      c.a_mult = p.input1.multiplier;
      c.a_shift = static_cast<int8_t>(p.input1.shift);
      c.b_mult = p.input2.multiplier;
      c.b_shift = static_cast<int8_t>(p.input2.shift);
      n.proto = c;
      break;
    }
    case OpType::MUL: {
      // TFLite's quantized MUL: (a - a_zp) * (b - b_zp) requantized by s_a * s_b / s_out.
      const kernels::QuantizedMulParams p = cpu::mul_quant_params(pc);
      n.proto = eltwise_proto(n, op, out, isa::EltwiseOp::kMul, -p.input1_offset, -p.input2_offset,
                              p.output_offset, p.output, p.activation_min, p.activation_max);
      break;
    }
    case OpType::MAXIMUM:
    case OpType::MINIMUM: {
      // Raw comparison (all three tensors share one quantization) and no activation: the
      // clamp is the dtype's full range.
      const bool s8 = out.dtype == DType::i8;
      n.proto = eltwise_proto(n, op, out, op.type == OpType::MAXIMUM ? isa::EltwiseOp::kMax : isa::EltwiseOp::kMin,
                              zp(out), zp(out), zp(out), kernels::QuantizedMultiplier{}, s8 ? -128 : 0,
                              s8 ? 127 : 255);
      break;
    }
    case OpType::AVERAGE_POOL_2D:
    case OpType::MAX_POOL_2D: {
      const ir::Tensor& in = T(g, op.inputs[0]);
      n.kind = NpuKind::pool;
      n.inputs = {op.inputs[0]};
      n.win = window_of(op, in, out, attr(op, "filter_height", 1), attr(op, "filter_width", 1), 1, 1);
      const kernels::ActivationRange act =
          cpu::output_activation_range(attr(op, "fused_activation_function", 0), out);
      isa::Pool c;
      c.op = static_cast<uint8_t>(op.type == OpType::AVERAGE_POOL_2D ? isa::PoolOp::kAvg : isa::PoolOp::kMax);
      c.is_signed = in.dtype == DType::i8;
      set_window(c, n.win);
      c.act_min = static_cast<int16_t>(act.min);
      c.act_max = static_cast<int16_t>(act.max);
      n.proto = c;
      break;
    }
    case OpType::MEAN: {
      const ir::Tensor& in = T(g, op.inputs[0]);
      n.kind = NpuKind::mean;
      n.inputs = {op.inputs[0]};
      n.win.in_h = in.shape[1];
      n.win.in_w = in.shape[2];
      n.win.in_c = in.shape[3];
      n.win.out_c = in.shape[3];
      const kernels::QuantizedMultiplier m = cpu::reduce_ratio_multiplier(pc);
      isa::Mean c;
      c.is_signed = in.dtype == DType::i8;
      c.in_zp = static_cast<int16_t>(zp(in));
      c.out_zp = static_cast<int16_t>(zp(out));
      c.mult = m.multiplier;
      c.shift = static_cast<int8_t>(m.shift);
      n.proto = c;
      break;
    }
    case OpType::SOFTMAX: {
      const ir::Tensor& in = T(g, op.inputs[0]);
      n.kind = NpuKind::softmax;
      n.inputs = {op.inputs[0]};
      n.k = in.shape.back();                 // depth: the softmax axis
      n.m = in.num_elements() / n.k;         // rows
      n.count = in.num_elements();
      const kernels::SoftmaxParams sp = cpu::softmax_quant_params(pc);
      isa::Softmax c;
      c.is_signed = in.dtype == DType::i8;
      c.depth = static_cast<uint16_t>(n.k);
      c.input_multiplier = sp.input_multiplier;
      c.input_left_shift = sp.input_left_shift;
      c.diff_min = sp.diff_min;
      n.proto = c;
      break;
    }
    case OpType::RESIZE_BILINEAR: {
      const ir::Tensor& in = T(g, op.inputs[0]);
      n.kind = NpuKind::resize;
      n.inputs = {op.inputs[0]};
      n.win.in_h = in.shape[1];
      n.win.in_w = in.shape[2];
      n.win.in_c = in.shape[3];
      n.win.out_h = out.shape[1];
      n.win.out_w = out.shape[2];
      n.win.out_c = out.shape[3];
      isa::Resize c;
      c.mode = static_cast<uint8_t>(isa::ResizeMode::kBilinear);
      c.is_signed = in.dtype == DType::i8;
      c.align_corners = static_cast<uint8_t>(attr(op, "align_corners", 0) != 0);
      c.half_pixel_centers = static_cast<uint8_t>(attr(op, "half_pixel_centers", 0) != 0);
      c.in_h = static_cast<uint16_t>(n.win.in_h);
      c.in_w = static_cast<uint16_t>(n.win.in_w);
      c.channels = static_cast<uint16_t>(n.win.in_c);
      c.out_h = static_cast<uint16_t>(n.win.out_h);
      c.out_w = static_cast<uint16_t>(n.win.out_w);
      n.proto = c;
      break;
    }
    case OpType::CONCATENATION: {
      n.kind = NpuKind::copy;
      int axis = attr(op, "axis", 0);
      if (axis < 0) axis += out.rank();
      n.outer = 1;
      for (int d = 0; d < axis; ++d) n.outer *= uint64_t(uint32_t(out.shape[static_cast<size_t>(d)]));
      for (int in : op.inputs) {
        n.inputs.push_back(in);
        n.copy_inner.push_back(uint64_t(T(g, in).num_elements()) / n.outer);
      }
      n.copy_total_inner = uint64_t(out.num_elements()) / n.outer;
      break;
    }
    default:
      if (is_alias_op(op.type)) {
        n.kind = NpuKind::alias;
        n.inputs = {op.inputs[0]};
      } else {
        n.kind = NpuKind::lut;
        n.inputs = {op.inputs[0]};
        n.count = out.num_elements();
        n.table = unary_table(g, op);
        n.proto = isa::Lut{};
      }
      break;
  }
  return n;
}

// Candidate tilings of an operator, and the best one (by estimated cycles, then DRAM
// bytes, then fewer tiles) among those that fit the SRAM.
// Tile sizes that split `total` into about 1, 2, 3, 4, 6, 9, ... parts (at most
// kMaxParts: more, smaller tiles only add per-command overhead).
constexpr int64_t kMaxParts = 256;
std::vector<int> divisions(int64_t total, int64_t floor_to = 1) {
  std::vector<int> v;
  for (int64_t k = 1; k <= total && k <= kMaxParts; k = k < 4 ? k + 1 : k * 3 / 2) {
    int64_t per = (total + k - 1) / k;
    if (floor_to > 1 && per > floor_to) per = (per + floor_to - 1) / floor_to * floor_to;
    if (per >= 1 && (v.empty() || v.back() != per)) v.push_back(static_cast<int>(per));
    if (per == 1) break;
  }
  if (total <= kMaxParts && (v.empty() || v.back() != 1)) v.push_back(1);
  return v;
}

std::vector<int> channel_choices(int total, int step) {
  std::vector<int> v{total};
  for (int c = step; c < total; c *= 2) v.push_back(c);
  if (step < total) v.push_back(step);
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

std::optional<TileShape> choose_tiling(const NpuOp& op, const sim::npu::NpuConfig& hw, Cost* best_cost) {
  std::vector<TileShape> cands;
  const int cols = static_cast<int>(hw.mac.cols);
  switch (op.kind) {
    case NpuKind::conv:
    case NpuKind::dwconv:
    case NpuKind::pool: {
      const int step = op.kind == NpuKind::dwconv ? cols * op.win.depth_multiplier
                       : op.kind == NpuKind::pool ? static_cast<int>(hw.vec.lanes)
                                                  : cols;
      for (int r : divisions(op.win.out_h))
        for (int c : channel_choices(op.win.out_c, std::max(1, step)))
          for (bool outer : {true, false}) cands.push_back({r, c, outer});
      break;
    }
    case NpuKind::matmul:
      for (int r : divisions(op.m))
        for (int c : channel_choices(static_cast<int>(op.n), cols))
          for (bool outer : {true, false}) cands.push_back({r, c, outer});
      break;
    case NpuKind::eltwise:
    case NpuKind::lut:
      for (int r : divisions(op.count, 64)) cands.push_back({r, 0, true});
      break;
    case NpuKind::mean:
      for (int c : channel_choices(op.win.in_c, static_cast<int>(hw.vec.lanes))) cands.push_back({1, c, true});
      break;
    case NpuKind::softmax:
      for (int r : divisions(op.m)) cands.push_back({r, 0, true});
      break;
    case NpuKind::resize:
      // The whole tensor in one RESIZE, or bands of output rows (RESIZE_ROWS).
      for (int r : divisions(op.win.out_h)) cands.push_back({r, 1, true});
      break;
    case NpuKind::copy:
      for (int r : divisions(static_cast<int64_t>(op.outer))) if (r <= 65535) cands.push_back({r, 0, true});
      break;
    case NpuKind::alias:
      return TileShape{};
  }
  std::optional<TileShape> best;
  Cost bc;
  for (const TileShape& t : cands) {
    const Cost c = estimate(op, t, hw);
    if (!c.fits || c.tiles == 0) continue;
    const bool better = !best || c.cycles < bc.cycles ||
                        (c.cycles == bc.cycles && (c.dram_bytes < bc.dram_bytes ||
                                                   (c.dram_bytes == bc.dram_bytes && c.tiles < bc.tiles)));
    if (better) {
      best = t;
      bc = c;
    }
  }
  if (best && best_cost) *best_cost = bc;
  return best;
}

std::optional<std::string> npu_unsupported_reason(const ir::Graph& g, size_t i,
                                                  const sim::npu::NpuConfig& hw) {
  const ir::Op& op = g.ops[i];
  auto act8 = [&](int t) { return is8(T(g, t).dtype) && per_tensor(T(g, t)); };
  const std::string name = ir::op_type_name(op.type);
  for (int t : op.outputs)
    if (!act8(t))
      return "output " + T(g, t).name + " is " + ir::dtype_name(T(g, t).dtype) +
             (is8(T(g, t).dtype) ? " without per-tensor quantization" : "") + "; the NPU computes 8-bit quantized tensors";
  const ir::Tensor& out = T(g, op.outputs.at(0));
  auto rank4_batch1 = [&](const ir::Tensor& t) { return t.rank() == 4 && t.shape[0] == 1; };
  auto dims_ok = [&](const ir::Tensor& t) {
    for (int d : t.shape)
      if (d > 65535) return false;
    return true;
  };
  switch (op.type) {
    case OpType::CONV_2D:
    case OpType::DEPTHWISE_CONV_2D: {
      const ir::Tensor& in = T(g, op.inputs[0]);
      const ir::Tensor& w = T(g, op.inputs[1]);
      if (!act8(op.inputs[0])) return "input is not 8-bit per-tensor quantized";
      if (!rank4_batch1(in)) return "batch size other than 1";
      if (!w.is_constant) return "weights are not constant";
      if (!is8(w.dtype)) return std::string("weights are ") + ir::dtype_name(w.dtype);
      if (w.dtype == DType::u8 && w.quant.per_channel()) return "uint8 weights with per-channel zero points";
      if (op.type == OpType::CONV_2D && w.shape[3] != in.shape[3]) return "grouped convolution";
      if (w.shape[1] > 255 || w.shape[2] > 255 || attr(op, "stride_h", 1) > 255 || attr(op, "stride_w", 1) > 255 ||
          attr(op, "dilation_h_factor", 1) > 255 || attr(op, "dilation_w_factor", 1) > 255)
        return "kernel, stride or dilation above 255";
      if (!dims_ok(in) || !dims_ok(out)) return "a dimension above 65535";
      if (op.inputs.size() > 2 && op.inputs[2] != ir::kNoTensor && T(g, op.inputs[2]).dtype != DType::i32)
        return "bias is not int32";
      break;
    }
    case OpType::FULLY_CONNECTED: {
      const ir::Tensor& in = T(g, op.inputs[0]);
      const ir::Tensor& w = T(g, op.inputs[1]);
      if (!act8(op.inputs[0])) return "input is not 8-bit per-tensor quantized";
      if (!w.is_constant || !is8(w.dtype) || w.rank() != 2) return "weights are not constant 8-bit [n][k]";
      if (w.dtype == DType::u8 && w.quant.per_channel()) return "uint8 weights with per-channel zero points";
      if (op.inputs.size() > 2 && op.inputs[2] != ir::kNoTensor && T(g, op.inputs[2]).dtype != DType::i32)
        return "bias is not int32";
      const int64_t k = w.shape[1], n = w.shape[0];
      if (k > 65535 || n > 65535 || in.num_elements() / k > 65535) return "m, k or n above 65535";
      break;
    }
    case OpType::ADD:
    case OpType::SUB:
    case OpType::MUL:
    case OpType::MAXIMUM:
    case OpType::MINIMUM: {
      if (!act8(op.inputs[0]) || !act8(op.inputs[1])) return "inputs are not 8-bit per-tensor quantized";
      if (T(g, op.inputs[0]).shape != out.shape || T(g, op.inputs[1]).shape != out.shape)
        return "broadcasting (the inputs' shapes differ from the output's)";
      if (T(g, op.inputs[0]).is_constant || T(g, op.inputs[1]).is_constant) return "a constant operand";
      if ((op.type == OpType::MAXIMUM || op.type == OpType::MINIMUM) &&
          (!same_quant(T(g, op.inputs[0]), out) || !same_quant(T(g, op.inputs[1]), out)))
        return "inputs and output do not share one quantization (the comparison is on raw values)";
      break;
    }
    case OpType::AVERAGE_POOL_2D:
    case OpType::MAX_POOL_2D: {
      const ir::Tensor& in = T(g, op.inputs[0]);
      if (!act8(op.inputs[0]) || !rank4_batch1(in)) return "not a batch-1 8-bit 4-D tensor";
      if (attr(op, "filter_height", 1) > 255 || attr(op, "filter_width", 1) > 255 || attr(op, "stride_h", 1) > 255 ||
          attr(op, "stride_w", 1) > 255)
        return "window or stride above 255";
      if (!dims_ok(in)) return "a dimension above 65535";
      break;
    }
    case OpType::MEAN: {
      const ir::Tensor& in = T(g, op.inputs[0]);
      if (!act8(op.inputs[0]) || !rank4_batch1(in)) return "not a batch-1 8-bit 4-D tensor";
      const ir::Tensor& axes = T(g, op.inputs[1]);
      if (!axes.is_constant || axes.dtype != DType::i32) return "axes are not a constant int32 tensor";
      std::vector<int> a(axes.data_as<int32_t>(), axes.data_as<int32_t>() + axes.num_elements());
      for (int& v : a) v = v < 0 ? v + 4 : v;
      std::sort(a.begin(), a.end());
      if (a != std::vector<int>{1, 2}) return "reduction over axes other than {1, 2}";
      break;
    }
    case OpType::RESIZE_BILINEAR: {
      const ir::Tensor& in = T(g, op.inputs[0]);
      if (!act8(op.inputs[0]) || !rank4_batch1(in)) return "not a batch-1 8-bit 4-D tensor";
      break;
    }
    case OpType::SOFTMAX: {
      const ir::Tensor& in = T(g, op.inputs[0]);
      if (!act8(op.inputs[0]) || in.dtype != out.dtype) return "not 8-bit in and the same 8-bit type out";
      if (in.rank() < 1 || in.shape.back() < 1 || in.shape.back() > 65535) return "a last dimension outside [1, 65535]";
      if (in.num_elements() / in.shape.back() > 0xFFFFFFFFll) return "more than 2^32 rows";
      try {
        cpu::softmax_quant_params(cpu::PrepareContext(g, i));
      } catch (const Error& e) {
        return std::string("the quantized softmax does not apply: ") + e.what();
      }
      break;
    }
    case OpType::CONCATENATION: {
      if (attr(op, "fused_activation_function", 0) != 0) return "a fused activation";
      for (int t : op.inputs)
        if (!same_quant(T(g, t), out) || T(g, t).is_constant)
          return "inputs with other quantization than the output (would need requantization) or constant inputs";
      break;
    }
    default:
      if (is_alias_op(op.type)) {
        if (!same_quant(T(g, op.inputs[0]), out) || T(g, op.inputs[0]).is_constant)
          return "input and output quantization differ, or the input is constant";
        return std::nullopt;
      }
      if (is_table_op(op.type)) {
        const ir::Tensor& in = T(g, op.inputs[0]);
        if (!act8(op.inputs[0])) return std::string("input is ") + ir::dtype_name(in.dtype) + ", not 8-bit per-tensor";
        if (in.num_elements() != out.num_elements()) return "element counts differ";
        if (in.is_constant) return "constant input";
        break;
      }
      return "no NPU command computes " + name;
  }
  if (hw.semaphores < 16)
    return "the configuration has " + std::to_string(hw.semaphores) + " semaphores; the schedule needs 16";
  // Lower it and look for a tiling that fits the SRAM.
  const NpuOp n = lower_one(g, i);
  if (!choose_tiling(n, hw, nullptr))
    return "no tiling fits the " + std::to_string(hw.sram.size_kib) + " KiB SRAM";
  return std::nullopt;
}

// --------------------------------------------------------------------------------- passes

void partition(Plan& p) {
  const ir::Graph& g = p.graph;
  p.cpu_reason.assign(g.ops.size(), std::nullopt);
  for (size_t i = 0; i < g.ops.size(); ++i) {
    // Every operator must be valid for the reference kernels (the oracle): a malformed
    // operator is an error for the model, not a fallback.
    const cpu::PrepareFn prep = cpu::ref_registry().find(g.ops[i].type);
    if (!prep)
      throw Error(g.source + ": " + g.describe_op(i) + ": operator " + g.ops[i].type_name +
                  " is not supported by Tessel (no NPU lowering and no CPU kernel)");
    (void)prep(cpu::PrepareContext(g, i));
    p.cpu_reason[i] = npu_unsupported_reason(g, i, *p.hw);
  }
  p.segments.clear();
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const bool npu = !p.cpu_reason[i];
    if (p.segments.empty() || p.segments.back().npu != npu) p.segments.push_back({npu, {}});
    p.segments.back().ops.push_back(i);
  }
}

void lower(Plan& p) {
  const ir::Graph& g = p.graph;
  p.npu_ops.clear();
  p.npu_op_of.assign(g.ops.size(), -1);
  p.constants.clear();
  auto place = [&](const std::vector<uint8_t>& bytes) {
    const uint32_t off = align_up(p.constants.size(), 64);
    p.constants.resize(off);
    p.constants.insert(p.constants.end(), bytes.begin(), bytes.end());
    return off;
  };
  for (size_t i = 0; i < g.ops.size(); ++i) {
    if (p.cpu_reason[i]) continue;
    NpuOp n = lower_one(g, i);
    if (!n.weights.empty()) n.weights_off = place(n.weights);
    if (!n.qp.empty()) n.qp_off = place(n.qp);
    if (!n.table.empty()) n.table_off = place(n.table);
    p.npu_op_of[i] = static_cast<int>(p.npu_ops.size());
    p.npu_ops.push_back(std::move(n));
  }
  if (p.constants.size() > kMaxRegionBytes) throw Error(g.source + ": constants exceed the NPU address space");
}

namespace {

// Applies tiling `t` (with cost `c`) to `n`: the tile counts, the estimate, and the SRAM
// layout (weight slots, input slots, output slots, upwards from address 0).
void apply_tiling(NpuOp& n, const TileShape& t, const Cost& c, const Plan& p) {
  n.tile = t;
  n.tiles = c.tiles;
  n.est_cycles = c.cycles;
  n.est_compute = c.compute;
  n.est_dma = c.dma;
  n.dram_bytes = c.dram_bytes;
  const SlotNeeds s = slot_needs(n, n.tile);
  uint32_t at = 0;
  auto lay = [&](uint32_t (&slot)[2], int count, uint32_t bytes) {
    for (int k = 0; k < 2; ++k) {
      slot[k] = at;
      if (k < count) at += bytes;
    }
    if (count < 2) slot[1] = slot[0];
  };
  lay(n.w_slot, s.w_slots, s.w);
  lay(n.in_slot, s.in_slots, s.in);
  lay(n.out_slot, s.out_slots, s.out);
  n.w_slot_bytes = s.w;
  n.in_slot_bytes = s.in;
  n.out_slot_bytes = s.out;
  const uint64_t limit = n.sram_limit ? n.sram_limit : p.hw->sram_bytes();
  if (at > limit) throw Error(p.graph.describe_op(n.op) + ": SRAM layout overflows");
}

}  // namespace

void tile(Plan& p) {
  for (NpuOp& n : p.npu_ops) {
    if (n.kind == NpuKind::alias) continue;
    Cost c;
    const std::optional<TileShape> t = choose_tiling(n, *p.hw, &c);
    if (!t) throw Error(p.graph.describe_op(n.op) + ": no tiling fits the SRAM (partition should have said so)");
    apply_tiling(n, *t, c, p);
    // Compulsory traffic: every input, weight and output byte once.
    uint64_t comp = n.weights.size() + n.qp.size() + n.table.size();
    for (int in : n.inputs) comp += p.graph.tensors[static_cast<size_t>(in)].num_bytes();
    comp += p.graph.tensors[static_cast<size_t>(n.output)].num_bytes();
    n.compulsory_bytes = comp;
  }
}

// Keeps a tensor on chip when it goes from one NPU operator straight to the next and
// nothing else reads it: the producer computes into an SRAM region at the top of the
// scratchpad instead of storing to DRAM, and the consumer computes from it instead of
// loading. Both operators are re-tiled with their slots below the region; the change is
// kept only when the cost model says the pair gets faster. A chain alternates between two
// regions (the one being read and the one being written).
void residency(Plan& p) {
  const ir::Graph& g = p.graph;
  std::vector<int> readers(g.tensors.size(), 0);
  for (const ir::Op& op : g.ops)
    for (int t : op.inputs)
      if (t >= 0) readers[static_cast<size_t>(t)]++;
  for (int t : g.outputs) readers[static_cast<size_t>(t)] += 2;  // outputs must reach DRAM
  const uint64_t sram = p.hw->sram_bytes();
  for (const Segment& seg : p.segments) {
    if (!seg.npu) continue;
    for (size_t k = 0; k + 1 < seg.ops.size(); ++k) {
      NpuOp& a = p.npu_ops[static_cast<size_t>(p.npu_op_of[seg.ops[k]])];
      NpuOp& b = p.npu_ops[static_cast<size_t>(p.npu_op_of[seg.ops[k + 1]])];
      if (a.kind == NpuKind::alias || a.kind == NpuKind::copy || b.kind == NpuKind::alias || b.kind == NpuKind::copy)
        continue;
      const int t = a.output;
      if (readers[static_cast<size_t>(t)] != 1) continue;
      int slot = -1;
      for (size_t i = 0; i < b.inputs.size() && i < 2; ++i)
        if (b.inputs[i] == t) slot = static_cast<int>(i);
      if (slot < 0) continue;
      const uint64_t bytes = align_up(g.tensors[static_cast<size_t>(t)].num_bytes(), 64);
      if (bytes > sram / 2) continue;
      // At the top of the SRAM unless that overlaps a region `a` reads from (live while
      // `a` writes this one); then just below it. A chain alternates between the two.
      uint64_t base = sram - bytes, lowest = sram;
      bool clash = false;
      for (size_t i = 0; i < 2 && i < a.inputs.size(); ++i) {
        if (a.res_in[i] < 0) continue;
        const uint64_t lo = uint64_t(a.res_in[i]);
        const uint64_t hi = lo + align_up(g.tensors[static_cast<size_t>(a.inputs[i])].num_bytes(), 64);
        lowest = std::min(lowest, lo);
        clash = clash || (lo < sram && base < hi);
      }
      if (clash) {
        if (bytes > lowest) continue;
        base = lowest - bytes;
      }
      NpuOp a2 = a, b2 = b;
      a2.res_out = int64_t(base);
      a2.sram_limit = static_cast<uint32_t>(std::min<uint64_t>(a.sram_limit ? a.sram_limit : sram, base));
      b2.res_in[slot] = int64_t(base);
      b2.sram_limit = static_cast<uint32_t>(base);
      Cost ca, cb;
      const std::optional<TileShape> ta = choose_tiling(a2, *p.hw, &ca);
      const std::optional<TileShape> tb = choose_tiling(b2, *p.hw, &cb);
      if (!ta || !tb || ca.cycles + cb.cycles >= a.est_cycles + b.est_cycles) continue;
      apply_tiling(a2, *ta, ca, p);
      apply_tiling(b2, *tb, cb, p);
      a = std::move(a2);
      b = std::move(b2);
    }
  }
}

std::string supported_ops_markdown() {
  std::ostringstream o;
  o << "# Operators on the NPU\n\n"
       "Generated by `tessel compile --supported-ops` from the compiler's support rules\n"
       "(`compiler/npu/src/lower.cpp`, `npu_unsupported_reason`); do not edit by hand.\n\n"
       "An operator runs on the NPU when every condition holds; otherwise it runs on the CPU\n"
       "(`cpu` kernels) and `tessel compile` reports the reason. Every operator must also be\n"
       "valid for the reference kernels (docs/kernels.md). Common to all NPU operators: the\n"
       "outputs are int8 or uint8 with per-tensor quantization, and the configuration has at\n"
       "least 16 semaphores.\n\n"
       "| TFLite operator | NPU command | conditions |\n|---|---|---|\n";
  for (const Rule& r : kRules) o << "| " << r.ops << " | " << r.npu << " | " << r.conditions << " |\n";
  return o.str();
}

}  // namespace tessel::compiler
