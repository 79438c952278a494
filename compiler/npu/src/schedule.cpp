// The back half of the pipeline: canonicalization, the DRAM arena, scheduling (command
// emission with semaphores) and packaging into a Loadable.
#include <algorithm>
#include <climits>
#include <exception>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "plan.hpp"
#include "tessel/cpu/conv_params.hpp"
#include "tessel/cpu/executor.hpp"
#include "tessel/cpu/op_registry.hpp"
#include "tessel/ir/error.hpp"
#include "tessel/ir/verify.hpp"
#include "tessel/sim/npu/config.hpp"
#include "tiles.hpp"

namespace tessel::compiler {

using ir::OpType;

// ------------------------------------------------------------------------- canonicalize

// canonicalize rewrites the graph into an equivalent one the later passes handle better.
// Each rewrite below is a small function that makes at most one change and says whether
// it did; canonicalize() runs them until none applies. Every rewrite is exact: the new
// graph computes the same bytes as the old one on the reference kernels (the argument is
// next to each rewrite and in docs/compiler.md), keeps the graph's inputs and outputs, and
// keeps the operators in a valid execution order. Tensors a rewrite orphans stay in
// Graph::tensors (unreferenced), so tensor indices never change.
namespace {

const ir::Tensor& tensor_of(const ir::Graph& g, int t) { return g.tensors[static_cast<size_t>(t)]; }

// How many operator inputs read each tensor, plus one per appearance in the graph outputs.
std::vector<int> reader_counts(const ir::Graph& g) {
  std::vector<int> readers(g.tensors.size(), 0);
  for (const ir::Op& op : g.ops)
    for (int t : op.inputs)
      if (t >= 0) readers[static_cast<size_t>(t)]++;
  for (int t : g.outputs) readers[static_cast<size_t>(t)]++;
  return readers;
}

bool is_graph_output(const ir::Graph& g, int t) {
  return std::find(g.outputs.begin(), g.outputs.end(), t) != g.outputs.end();
}

// The operator writing tensor `t`, or -1 (graph input, constant).
int producer_of(const ir::Graph& g, int t) {
  for (size_t i = 0; i < g.ops.size(); ++i)
    for (int o : g.ops[i].outputs)
      if (o == t) return static_cast<int>(i);
  return -1;
}

// Every operator that read `from` reads `to` instead.
void rewire_readers(ir::Graph& g, int from, int to) {
  for (ir::Op& op : g.ops)
    for (int& t : op.inputs)
      if (t == from) t = to;
}

void erase_op(ir::Graph& g, size_t i) { g.ops.erase(g.ops.begin() + static_cast<std::ptrdiff_t>(i)); }

bool is8(ir::DType t) { return t == ir::DType::i8 || t == ir::DType::u8; }

// Same dtype, and both quantized per tensor with the same scale and zero point.
bool same_8bit_quant(const ir::Tensor& a, const ir::Tensor& b) {
  return is8(a.dtype) && a.dtype == b.dtype && a.quant.scale.size() == 1 && b.quant.scale.size() == 1 &&
         a.quant.zero_point.size() == 1 && b.quant.zero_point.size() == 1 && a.quant.scale == b.quant.scale &&
         a.quant.zero_point == b.quant.zero_point;
}

// Operators whose outputs nothing reads (neither an operator nor the graph's outputs).
bool remove_dead_op(ir::Graph& g) {
  const std::vector<int> readers = reader_counts(g);
  for (size_t i = 0; i < g.ops.size(); ++i) {
    bool dead = true;
    for (int t : g.ops[i].outputs) dead = dead && readers[static_cast<size_t>(t)] == 0;
    if (dead) {
      erase_op(g, i);
      return true;
    }
  }
  return false;
}

// Operators that copy their input's bytes unchanged: a QUANTIZE to the identical dtype,
// quantization and shape, and a RESHAPE, SQUEEZE or EXPAND_DIMS whose output has its
// input's shape, dtype and quantization. Their readers read the input instead. Not when
// the operator writes a graph output (the output needs a writer).
bool drop_copy_op(ir::Graph& g) {
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const ir::Op& op = g.ops[i];
    const bool quantize = op.type == OpType::QUANTIZE && op.inputs.size() == 1;
    const bool reshape = op.type == OpType::RESHAPE || op.type == OpType::SQUEEZE || op.type == OpType::EXPAND_DIMS;
    if (!(quantize || reshape) || op.inputs.empty() || op.inputs[0] < 0 || op.outputs.size() != 1) continue;
    const ir::Tensor& a = tensor_of(g, op.inputs[0]);
    const ir::Tensor& b = tensor_of(g, op.outputs[0]);
    if (a.shape == b.shape && a.dtype == b.dtype && a.quant.scale == b.quant.scale &&
        a.quant.zero_point == b.quant.zero_point && !is_graph_output(g, op.outputs[0])) {
      const int from = op.outputs[0], to = op.inputs[0];
      erase_op(g, i);
      rewire_readers(g, from, to);
      return true;
    }
  }
  return false;
}

// The clamp [lo, hi] (in quantized values) that the standalone 8-bit activation `op`
// computes, read off the reference kernel applied to every input byte; nothing when its
// table is not exactly clamp(v, lo, hi) for every v.
std::optional<std::pair<int, int>> activation_clamp(const ir::Graph& g, const ir::Op& op) {
  std::vector<uint8_t> table;
  try {
    table = unary_table(g, op);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const ir::Tensor& in = tensor_of(g, op.inputs[0]);
  const bool sign = in.dtype == ir::DType::i8;
  auto value = [&](uint8_t b) { return sign ? int(int8_t(b)) : int(b); };
  const int qmin = sign ? -128 : 0, qmax = sign ? 127 : 255;
  const int lo = value(table[static_cast<size_t>(uint8_t(qmin))]);
  const int hi = value(table[static_cast<size_t>(uint8_t(qmax))]);
  if (lo > hi) return std::nullopt;
  for (int v = qmin; v <= qmax; ++v)
    if (value(table[static_cast<size_t>(uint8_t(v))]) != std::clamp(v, lo, hi)) return std::nullopt;
  return std::make_pair(lo, hi);
}

// Producer + activation fusion. A CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, SUB or
// MUL requantizes and then clamps its 8-bit output to the range of its fused activation
// [a0, a1]. When its only reader is a RELU, RELU6 or RELU_N1_TO_1 whose input and output
// have the producer output's dtype and quantization, that operator is a clamp to some
// [lo, hi] (checked on its reference table), and clamp(clamp(x, a0, a1), lo, hi) ==
// clamp(x, max(a0, lo), min(a1, hi)) whenever that intersection is not empty. So the
// producer takes the fused activation whose range (on the same output quantization) is
// exactly the intersection, writes the activation's output, and the activation goes. No
// fusion when no fused-activation value has that range.
bool fuse_activation(ir::Graph& g) {
  const std::vector<int> readers = reader_counts(g);
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const ir::Op& act = g.ops[i];
    if (act.type != OpType::RELU && act.type != OpType::RELU6 && act.type != OpType::RELU_N1_TO_1) continue;
    if (act.inputs.size() != 1 || act.outputs.size() != 1 || act.inputs[0] < 0) continue;
    const int mid = act.inputs[0], out = act.outputs[0];
    const int p = producer_of(g, mid);
    if (p < 0) continue;
    ir::Op& prod = g.ops[static_cast<size_t>(p)];
    if (prod.type != OpType::CONV_2D && prod.type != OpType::DEPTHWISE_CONV_2D &&
        prod.type != OpType::FULLY_CONNECTED && prod.type != OpType::ADD && prod.type != OpType::SUB &&
        prod.type != OpType::MUL)
      continue;
    if (prod.outputs.size() != 1 || readers[static_cast<size_t>(mid)] != 1 || is_graph_output(g, mid)) continue;
    const ir::Tensor& m = tensor_of(g, mid);
    const ir::Tensor& o = tensor_of(g, out);
    if (!same_8bit_quant(m, o) || m.shape != o.shape) continue;
    const int64_t existing = prod.attrs.get_int("fused_activation_function", 0);
    if (existing < 0 || existing > 3) continue;
    const std::optional<std::pair<int, int>> clamp = activation_clamp(g, act);
    if (!clamp) continue;
    const kernels::ActivationRange a = cpu::output_activation_range(static_cast<int>(existing), m);
    if (a.min > a.max) continue;
    const int lo = std::max(a.min, clamp->first), hi = std::min(a.max, clamp->second);
    if (lo > hi) continue;
    int fused = -1;
    for (int c : {0, 1, 3, 2}) {
      const kernels::ActivationRange r = cpu::output_activation_range(c, m);
      if (r.min == lo && r.max == hi) {
        fused = c;
        break;
      }
    }
    if (fused < 0) continue;
    prod.attrs.set("fused_activation_function", ir::AttrValue{int64_t{fused}});
    prod.outputs[0] = out;
    erase_op(g, i);
    return true;
  }
  return false;
}

// PAD into convolution. A PAD or PADV2 that pads only height and width of a 4-D 8-bit
// tensor with its zero point (real 0), read only by a VALID CONV_2D or DEPTHWISE_CONV_2D,
// is the padding SAME would add when the convolution's output size is SAME's for the
// unpadded input and the top (left) padding is SAME's: the reference kernels then read
// input row oy * stride - pad_top + ky * dilation, skipping rows outside the input, and a
// skipped row contributes (zero_point - zero_point) * w = 0 exactly as a padded row does
// (whatever lies below the last row a window reaches is never read). The convolution then
// reads the PAD's input with padding SAME and the PAD goes (dead). Other paddings (e.g.
// symmetric padding before a stride-2 convolution) keep the PAD: the IR has no explicit
// convolution padding.
bool fold_pad(ir::Graph& g) {
  const std::vector<int> readers = reader_counts(g);
  for (ir::Op& conv : g.ops) {
    if (conv.type != OpType::CONV_2D && conv.type != OpType::DEPTHWISE_CONV_2D) continue;
    if (conv.inputs.size() < 2 || conv.inputs[0] < 0 || conv.outputs.size() != 1) continue;
    if (conv.attrs.get_int("padding", -1) != static_cast<int64_t>(ir::Padding::valid)) continue;
    const int padded = conv.inputs[0];
    const int p = producer_of(g, padded);
    if (p < 0) continue;
    const ir::Op& pad = g.ops[static_cast<size_t>(p)];
    if (pad.type != OpType::PAD && pad.type != OpType::PADV2) continue;
    if (pad.inputs.size() < 2 || pad.inputs[0] < 0 || pad.inputs[1] < 0 || pad.outputs.size() != 1) continue;
    if (readers[static_cast<size_t>(padded)] != 1 || is_graph_output(g, padded)) continue;
    if (std::count(conv.inputs.begin(), conv.inputs.end(), padded) != 1) continue;
    const ir::Tensor& x = tensor_of(g, pad.inputs[0]);
    const ir::Tensor& xp = tensor_of(g, padded);
    if (!same_8bit_quant(x, xp) || x.rank() != 4 || xp.rank() != 4) continue;
    const int64_t zp = x.quant.zero_point[0];
    // The pad value: PAD (and PADV2 without a value) pads quantized tensors with the zero
    // point; PADV2's constant must hold exactly the zero point.
    if (pad.inputs.size() > 2 && pad.inputs[2] >= 0) {
      const ir::Tensor& cv = tensor_of(g, pad.inputs[2]);
      if (!cv.is_constant || cv.dtype != x.dtype || cv.num_elements() != 1 || cv.data.size() != 1) continue;
      const int64_t v = x.dtype == ir::DType::i8 ? int64_t(int8_t(cv.data[0])) : int64_t(cv.data[0]);
      if (v != zp) continue;
    }
    const ir::Tensor& pt = tensor_of(g, pad.inputs[1]);
    if (!pt.is_constant || pt.shape != std::vector<int32_t>{4, 2}) continue;
    std::vector<int64_t> pads(8);
    if (pt.dtype == ir::DType::i32 && pt.data.size() == 32) {
      for (size_t k = 0; k < 8; ++k) pads[k] = pt.data_as<int32_t>()[k];
    } else if (pt.dtype == ir::DType::i64 && pt.data.size() == 64) {
      for (size_t k = 0; k < 8; ++k) pads[k] = pt.data_as<int64_t>()[k];
    } else {
      continue;
    }
    if (pads[0] != 0 || pads[1] != 0 || pads[6] != 0 || pads[7] != 0) continue;  // batch, channels
    if (*std::min_element(pads.begin(), pads.end()) < 0) continue;
    if (xp.shape[1] != x.shape[1] + pads[2] + pads[3] || xp.shape[2] != x.shape[2] + pads[4] + pads[5]) continue;
    const ir::Tensor& w = tensor_of(g, conv.inputs[1]);
    const ir::Tensor& y = tensor_of(g, conv.outputs[0]);
    if (w.rank() != 4 || y.rank() != 4) continue;
    auto same_is_pad = [&](int axis, int64_t before, const char* stride, const char* dilation) {
      const int in = x.shape[static_cast<size_t>(axis)], k = w.shape[static_cast<size_t>(axis)];
      const int s = static_cast<int>(conv.attrs.get_int(stride, 1));
      const int d = static_cast<int>(conv.attrs.get_int(dilation, 1));
      const int out = y.shape[static_cast<size_t>(axis)];
      if (s <= 0 || d <= 0) return false;
      return cpu::conv_output_size(ir::Padding::same, in, k, s, d) == out &&
             cpu::conv_padding(in, k, s, d, out).before == before;
    };
    if (!same_is_pad(1, pads[2], "stride_h", "dilation_h_factor") ||
        !same_is_pad(2, pads[4], "stride_w", "dilation_w_factor"))
      continue;
    conv.inputs[0] = pad.inputs[0];
    conv.attrs.set("padding", ir::AttrValue{static_cast<int64_t>(ir::Padding::same)});
    return true;  // the PAD is now dead; remove_dead_op takes it
  }
  return false;
}

}  // namespace

// Runs the rewrites above until none applies. QUANTIZEs that really requantize stay
// (folding one into a producer's requantization would round twice differently), and so do
// RESHAPEs that change the shape: the arena makes them free (their output aliases their
// input), and CPU segments still need them as operators.
void canonicalize(Plan& p) {
  ir::Graph& g = p.graph;
  while (remove_dead_op(g) || drop_copy_op(g) || fuse_activation(g) || fold_pad(g)) {
  }
}

// -------------------------------------------------------------------------------- arena

namespace {

// Storage root of a tensor: an NPU alias operator's output shares its input's bytes.
std::vector<int> alias_roots(const Plan& p) {
  std::vector<int> root(p.graph.tensors.size());
  for (size_t t = 0; t < root.size(); ++t) root[t] = static_cast<int>(t);
  for (const NpuOp& n : p.npu_ops)
    if (n.kind == NpuKind::alias) root[static_cast<size_t>(n.output)] = root[static_cast<size_t>(n.inputs[0])];
  return root;
}

// Tensors a CPU segment reads from outside it, and writes for outside it.
void segment_boundary(const ir::Graph& g, const Segment& s, std::vector<int>& ins, std::vector<int>& outs) {
  std::set<int> produced, in_set;
  for (size_t i : s.ops)
    for (int t : g.ops[i].outputs) produced.insert(t);
  for (size_t i : s.ops)
    for (int t : g.ops[i].inputs)
      if (t >= 0 && !produced.count(t) && !g.tensors[static_cast<size_t>(t)].is_constant && !in_set.count(t)) {
        in_set.insert(t);
        ins.push_back(t);
      }
  std::set<size_t> inside(s.ops.begin(), s.ops.end());
  for (int t : produced) {
    bool outside = std::find(g.outputs.begin(), g.outputs.end(), t) != g.outputs.end();
    for (size_t j = 0; j < g.ops.size() && !outside; ++j)
      if (!inside.count(j))
        for (int u : g.ops[j].inputs) outside = outside || u == t;
    if (outside) outs.push_back(t);
  }
}

}  // namespace

void plan_arena(Plan& p) {
  const ir::Graph& g = p.graph;
  const std::vector<int> root = alias_roots(p);
  const size_t nt = g.tensors.size();
  std::vector<bool> needed(nt, false);
  for (const NpuOp& n : p.npu_ops) {  // tensors kept in SRAM need no DRAM
    for (size_t k = 0; k < n.inputs.size(); ++k)
      if (k >= 2 || n.res_in[k] < 0) needed[static_cast<size_t>(n.inputs[k])] = true;
    if (n.res_out < 0) needed[static_cast<size_t>(n.output)] = true;
  }
  for (int t : g.inputs) needed[static_cast<size_t>(t)] = true;
  for (int t : g.outputs) needed[static_cast<size_t>(t)] = true;
  for (const Segment& s : p.segments) {
    if (s.npu) continue;
    std::vector<int> ins, outs;
    segment_boundary(g, s, ins, outs);
    for (int t : ins) needed[static_cast<size_t>(t)] = true;
    for (int t : outs) needed[static_cast<size_t>(t)] = true;
  }
  // Lifetimes per storage root, in operator steps: from the producer (graph inputs: -1)
  // to the last reader (graph outputs: the end).
  std::vector<int64_t> first(nt, INT_MAX), last(nt, INT_MIN);
  auto touch = [&](int t, int64_t step) {
    const size_t r = static_cast<size_t>(root[static_cast<size_t>(t)]);
    first[r] = std::min(first[r], step);
    last[r] = std::max(last[r], step);
  };
  for (size_t i = 0; i < g.ops.size(); ++i) {
    for (int t : g.ops[i].inputs)
      if (t >= 0 && needed[static_cast<size_t>(t)]) touch(t, static_cast<int64_t>(i));
    for (int t : g.ops[i].outputs)
      if (needed[static_cast<size_t>(t)]) touch(t, static_cast<int64_t>(i));
  }
  for (int t : g.inputs) touch(t, -1);
  for (int t : g.outputs) touch(t, static_cast<int64_t>(g.ops.size()));
  // Bytes per root: the largest member (aliases have equal sizes).
  std::vector<uint64_t> bytes(nt, 0);
  for (size_t t = 0; t < nt; ++t)
    if (needed[t]) bytes[static_cast<size_t>(root[t])] = std::max<uint64_t>(bytes[static_cast<size_t>(root[t])], g.tensors[t].num_bytes());
  // First fit in order of first use.
  std::vector<size_t> order;
  for (size_t r = 0; r < nt; ++r)
    if (first[r] != INT_MAX && bytes[r] > 0) order.push_back(r);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return first[a] < first[b]; });
  std::vector<int64_t> offset(nt, -1);
  std::vector<size_t> placed;
  uint64_t top = 0;
  for (size_t r : order) {
    std::vector<std::pair<uint64_t, uint64_t>> busy;
    for (size_t q : placed)
      if (first[q] <= last[r] && first[r] <= last[q])
        busy.push_back({uint64_t(offset[q]), uint64_t(offset[q]) + align_up(bytes[q], 64)});
    std::sort(busy.begin(), busy.end());
    uint64_t at = 0;
    for (const auto& [lo, hi] : busy) {
      if (at + bytes[r] <= lo) break;
      at = std::max<uint64_t>(at, hi);
    }
    offset[r] = static_cast<int64_t>(at);
    top = std::max<uint64_t>(top, at + align_up(bytes[r], 64));
    placed.push_back(r);
  }
  p.arena_offset.assign(nt, -1);
  for (size_t t = 0; t < nt; ++t)
    if (needed[t]) p.arena_offset[t] = offset[static_cast<size_t>(root[t])];
  p.arena_bytes = std::max<uint64_t>(4096, (top + 4095) / 4096 * 4096);
  if (p.arena_bytes > kMaxRegionBytes) throw Error(g.source + ": activations exceed the NPU address space");
}

// ----------------------------------------------------------------------------- schedule

namespace {

// Semaphore numbers of the schedule (every NPU segment starts and ends with all zero).
enum Sem : uint8_t {
  kWFull = 0,    // +slot: a weight chunk is in SRAM        (DMA_IN -> compute)
  kWFree = 2,    // +slot: its last reader finished        (compute -> DMA_IN)
  kInFull = 4,   // +slot: an input block is in SRAM        (DMA_IN -> compute / DMA_OUT)
  kInFree = 6,   // +slot: its last reader finished        (compute / DMA_OUT -> DMA_IN)
  kOutFull = 8,  // +slot: an output tile is computed       (compute -> DMA_OUT)
  kOutFree = 10, // +slot: it is stored                     (DMA_OUT -> compute)
  kLayer = 12,   // a layer's outputs are all in DRAM       (DMA_OUT -> next layer's DMA_IN)
  // +0 MAC, +1 VEC, +2 DMA_OUT: the consumer of the FULL semaphores changes (e.g. MAC ->
  // VEC) and the old consumer has taken every count meant for it. Without this, the new
  // consumer's first wait could take a count the old one still needs (queues run
  // concurrently). One per receiving engine, so that only that engine ever waits on it.
  kHandoff = 13,
};

constexpr uint8_t kDmaIn = static_cast<uint8_t>(isa::Engine::kDmaIn);
constexpr uint8_t kDmaOut = static_cast<uint8_t>(isa::Engine::kDmaOut);
constexpr uint8_t kMac = static_cast<uint8_t>(isa::Engine::kMac);
constexpr uint8_t kVec = static_cast<uint8_t>(isa::Engine::kVec);

struct Emitter {
  std::vector<uint32_t>& words;
  void cmd(const isa::Command& c) { isa::encode(c, words); }
  void signal(uint8_t engine, int sem) { cmd(isa::SemSignal{engine, static_cast<uint8_t>(sem), 0}); }
  void wait(uint8_t engine, int sem) { cmd(isa::SemWait{engine, static_cast<uint8_t>(sem), 0}); }
  template <typename D>
  void xfer(const Xfer& x) {
    D d;
    d.dram_addr = x.dram;
    d.sram_addr = x.sram;
    d.len0 = x.len0;
    d.n1 = static_cast<uint16_t>(x.n1);
    d.n2 = static_cast<uint16_t>(x.n2);
    d.n3 = 1;
    d.dram_stride1 = x.dram_s1;
    d.dram_stride2 = x.dram_s2;
    d.sram_stride1 = x.sram_s1;
    d.sram_stride2 = x.sram_s2;
    cmd(d);
  }
};

uint8_t engine_of(NpuKind k) {
  return k == NpuKind::conv || k == NpuKind::dwconv || k == NpuKind::matmul ? kMac : kVec;
}

}  // namespace

void schedule(Plan& p) {
  const ir::Graph& g = p.graph;
  p.words.clear();
  p.npu_segments.clear();
  p.op_words.assign(g.ops.size(), {0, 0});
  Emitter e{p.words};
  for (const Segment& s : p.segments) {
    if (!s.npu) continue;
    const uint32_t seg_first = static_cast<uint32_t>(p.words.size());
    bool prev_layer = false;
    uint32_t prev_out_lo = 0, prev_out_hi = 0;
    uint8_t prev_consumer = 0xFF;
    bool prev_res_in = false;
    for (size_t i : s.ops) {
      const NpuOp& n = p.npu_ops[static_cast<size_t>(p.npu_op_of[i])];
      const uint32_t first = static_cast<uint32_t>(p.words.size());
      if (n.kind == NpuKind::alias) {
        p.op_words[i] = {first, 0};
        continue;
      }
      Bases b;
      auto va = [&](int t) {
        const int64_t off = p.arena_offset[static_cast<size_t>(t)];
        return off < 0 ? 0u : kArenaVa + static_cast<uint32_t>(off);  // resident tensors: unused
      };
      for (int t : n.inputs) b.in.push_back(va(t));
      b.out = va(n.output);
      b.constants = kConstantVa;
      const uint8_t eng = engine_of(n.kind);
      const uint8_t consumer = n.kind == NpuKind::copy ? kDmaOut : eng;
      if (prev_layer && consumer != prev_consumer) {
        const int to = consumer == kMac ? 0 : consumer == kVec ? 1 : 2;
        e.signal(prev_consumer, kHandoff + to);
        e.wait(consumer, kHandoff + to);
      }
      prev_consumer = consumer;
      // Weights may be fetched while the previous layer drains, unless their slots overlap
      // the previous layer's output slots (still being stored).
      const uint32_t w_lo = n.w_slot[0], w_hi = std::max(n.w_slot[0], n.w_slot[1]) + n.w_slot_bytes;
      // A previous layer that read an SRAM-resident input may still be reading it (it has
      // no input releases for DMA_IN to wait on): then fetch nothing before it is done.
      const bool w_overlap = prev_layer && ((w_lo < prev_out_hi && prev_out_lo < w_hi) || prev_res_in);
      bool waited_layer = !prev_layer;
      int tiles = 0, in_blocks = 0, w_chunks = 0, outs = 0;
      bool has_compute = true, cur_in_dma = false;
      for_each_tile(n, n.tile, b, [&](const Tile& t) {
        if (t.new_w) {
          if (!waited_layer && w_overlap) {
            e.wait(kDmaIn, kLayer);
            waited_layer = true;
          }
          const int slot = t.w_index % 2;
          if (t.w_index >= 2) e.wait(kDmaIn, kWFree + slot);
          for (const Xfer& x : t.w_loads) e.xfer<isa::DmaLoad>(x);
          e.signal(kDmaIn, kWFull + slot);
          ++w_chunks;
        }
        if (t.new_in) cur_in_dma = !t.in_loads.empty();
        if (t.new_in && cur_in_dma) {
          if (!waited_layer) {
            e.wait(kDmaIn, kLayer);
            waited_layer = true;
          }
          const int slot = t.in_index % 2;
          if (t.in_index >= 2) e.wait(kDmaIn, kInFree + slot);
          for (const Xfer& x : t.in_loads) e.xfer<isa::DmaLoad>(x);
          e.signal(kDmaIn, kInFull + slot);
          ++in_blocks;
        }
        const int is = t.in_index % 2, ws = t.w_index >= 0 ? t.w_index % 2 : 0, os = tiles % 2;
        const bool out_dma = !t.stores.empty();
        if (t.has_compute) {
          if (t.new_w) e.wait(eng, kWFull + ws);
          if (t.new_in && cur_in_dma) e.wait(eng, kInFull + is);
          if (out_dma && outs >= 2) e.wait(eng, kOutFree + os);
          e.cmd(t.compute);
          if (t.last_in_use && cur_in_dma) e.signal(eng, kInFree + is);
          if (t.last_w_use) e.signal(eng, kWFree + ws);
          if (out_dma) {
            e.signal(eng, kOutFull + os);
            e.wait(kDmaOut, kOutFull + os);
            for (const Xfer& x : t.stores) e.xfer<isa::DmaStore>(x);
            e.signal(kDmaOut, kOutFree + os);
            ++outs;
          }
        } else {
          has_compute = false;
          e.wait(kDmaOut, kInFull + is);
          for (const Xfer& x : t.stores) e.xfer<isa::DmaStore>(x);
          e.signal(kDmaOut, kInFree + is);
        }
        ++tiles;
      });
      // Balance: consume the releases nobody waited for, so every semaphore is 0 again.
      for (int k = std::max(0, in_blocks - 2); k < in_blocks; ++k) e.wait(kDmaIn, kInFree + k % 2);
      for (int k = std::max(0, w_chunks - 2); k < w_chunks; ++k) e.wait(kDmaIn, kWFree + k % 2);
      if (has_compute)
        for (int k = std::max(0, outs - 2); k < outs; ++k) e.wait(eng, kOutFree + k % 2);
      if (!waited_layer) e.wait(kDmaIn, kLayer);  // a layer with no input loads
      // "This layer is done": its last store, or (output kept in SRAM) its last compute.
      e.signal(outs > 0 || !has_compute ? kDmaOut : eng, kLayer);
      prev_layer = true;
      prev_res_in = n.res_in[0] >= 0 || n.res_in[1] >= 0;
      prev_out_lo = n.out_slot[0];
      prev_out_hi = std::max(n.out_slot[0], n.out_slot[1]) + n.out_slot_bytes;
      if (!has_compute) {
        prev_out_lo = n.in_slot[0];
        prev_out_hi = std::max(n.in_slot[0], n.in_slot[1]) + n.in_slot_bytes;
      }
      p.op_words[i] = {first, static_cast<uint32_t>(p.words.size()) - first};
    }
    if (p.words.size() == seg_first) continue;  // only aliases: nothing to run
    if (prev_layer) e.wait(kDmaIn, kLayer);
    e.cmd(isa::End{});
    p.npu_segments.push_back({seg_first, static_cast<uint32_t>(p.words.size()) - seg_first});
  }
}

// ------------------------------------------------------------------------------ package

Loadable package(const Plan& p) {
  const ir::Graph& g = p.graph;
  Loadable l;
  l.model = g.source;
  l.hardware_name = p.hw->name;
  l.hardware_hash = sim::npu::npu_config_hash(*p.hw);
  l.hardware_json = sim::npu::npu_config_json(*p.hw).dump();
  uint32_t arena_region = 0;
  if (!p.constants.empty()) {
    Region c;
    c.name = "constants";
    c.kind = Region::Kind::constant;
    c.va = kConstantVa;
    c.bytes = static_cast<uint32_t>(p.constants.size());
    c.data = p.constants;
    l.regions.push_back(std::move(c));
    arena_region = 1;
  }
  Region a;
  a.name = "arena";
  a.kind = Region::Kind::arena;
  a.va = kArenaVa;
  a.bytes = static_cast<uint32_t>(p.arena_bytes);
  l.regions.push_back(a);
  l.commands = p.words;
  l.npu_segments = p.npu_segments;

  std::map<int, uint32_t> entry;  // graph tensor -> tensor table index
  auto entry_of = [&](int t) {
    auto it = entry.find(t);
    if (it != entry.end()) return it->second;
    const ir::Tensor& src = g.tensors[static_cast<size_t>(t)];
    if (p.arena_offset[static_cast<size_t>(t)] < 0)
      throw Error(g.source + ": " + g.describe_tensor(t) + " has no place in the arena");
    TensorEntry e;
    e.name = src.name;
    e.dtype = src.dtype;
    e.shape = src.shape;
    e.quant = src.quant;
    e.region = arena_region;
    e.offset = static_cast<uint32_t>(p.arena_offset[static_cast<size_t>(t)]);
    e.bytes = static_cast<uint32_t>(src.num_bytes());
    const uint32_t index = static_cast<uint32_t>(l.tensors.size());
    l.tensors.push_back(std::move(e));
    entry[t] = index;
    return index;
  };
  for (int t : g.inputs) l.inputs.push_back(entry_of(t));
  for (int t : g.outputs) l.outputs.push_back(entry_of(t));

  size_t npu_seg = 0;
  for (const Segment& s : p.segments) {
    if (s.npu) {
      bool emits = false;
      for (size_t i : s.ops) emits = emits || p.op_words[i].second > 0;
      if (emits) l.steps.push_back({Step::Kind::npu, static_cast<uint32_t>(npu_seg++)});
      continue;
    }
    CpuSegment cs;
    std::vector<int> ins, outs;
    segment_boundary(g, s, ins, outs);
    std::map<int, int> remap;
    auto local = [&](int t) {
      if (t < 0) return t;
      auto it = remap.find(t);
      if (it != remap.end()) return it->second;
      const int n = static_cast<int>(cs.graph.tensors.size());
      cs.graph.tensors.push_back(g.tensors[static_cast<size_t>(t)]);
      remap[t] = n;
      return n;
    };
    for (int t : ins) cs.graph.inputs.push_back(local(t));
    for (size_t i : s.ops) {
      ir::Op op = g.ops[i];
      for (int& t : op.inputs) t = local(t);
      for (int& t : op.outputs) t = local(t);
      cs.graph.ops.push_back(std::move(op));
      cs.reasons.push_back(g.describe_op(i) + ": " + *p.cpu_reason[i]);
    }
    for (int t : outs) cs.graph.outputs.push_back(local(t));
    cs.graph.source = g.source;
    for (int t : ins) cs.inputs.push_back(entry_of(t));
    for (int t : outs) cs.outputs.push_back(entry_of(t));
    ir::verify(cs.graph);
    l.steps.push_back({Step::Kind::cpu, static_cast<uint32_t>(l.cpu_segments.size())});
    l.cpu_segments.push_back(std::move(cs));
  }

  for (size_t i = 0; i < g.ops.size(); ++i) {
    Layer ly;
    ly.name = g.ops[i].name;
    ly.op = g.ops[i].type_name;
    ly.first_word = p.op_words[i].first;
    ly.word_count = p.op_words[i].second;
    if (p.npu_op_of[i] >= 0) {
      const NpuOp& n = p.npu_ops[static_cast<size_t>(p.npu_op_of[i])];
      ly.macs = n.macs;
      ly.estimated_cycles = n.est_cycles;
      if (n.kind != NpuKind::alias) ly.bound = n.est_compute >= n.est_dma ? "compute" : "memory";
    }
    l.layers.push_back(std::move(ly));
  }
  return l;
}

}  // namespace tessel::compiler
