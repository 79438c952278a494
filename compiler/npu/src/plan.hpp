#pragma once
// The compiler's working state between passes (internal to compiler/npu). Each pass fills
// in a part; verify_plan() checks what the passes so far promise.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tessel/compiler/loadable.hpp"
#include "tessel/ir/graph.hpp"
#include "tessel/sim/npu/config.hpp"
#include "tessel_isa_commands.hpp"

namespace tessel::compiler {

// What an NPU operator does, as the tiler and the emitter see it.
enum class NpuKind {
  conv,     // CONV on the MAC array
  dwconv,   // DWCONV on the MAC array
  matmul,   // MATMUL on the MAC array (FULLY_CONNECTED)
  eltwise,  // ELTWISE on the vector unit (ADD, SUB, MUL, MAXIMUM, MINIMUM)
  pool,     // POOL on the vector unit
  lut,      // LUT on the vector unit (any per-tensor unary 8-bit operator)
  resize,   // RESIZE (whole) or RESIZE_ROWS (bands of output rows) on the vector unit
  mean,     // MEAN over height and width on the vector unit
  softmax,  // SOFTMAX on the vector unit (rows of the last dimension)
  copy,     // DMA only: CONCATENATION (a block copy per input)
  alias,    // no commands: RESHAPE and friends share their input's bytes
};
const char* npu_kind_name(NpuKind k);

// Geometry of a windowed operator (conv, dwconv, pool) over NHWC tensors, batch 1.
struct Window {
  int in_h = 0, in_w = 0, in_c = 0;
  int out_h = 0, out_w = 0, out_c = 0;
  int kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int pad_top = 0, pad_left = 0;
  int depth_multiplier = 1;
};

// One loop of a tiled operator: output rows [row0, row0 + rows) and output channels
// (or, for flat operators, elements) [ch0, ch0 + chans).
struct TileShape {
  int rows = 0;   // output rows per tile (windowed); elements per tile (flat); M rows (matmul)
  int chans = 0;  // output channels per tile (conv, dwconv, pool, matmul, mean)
  bool channels_outer = true;  // loop order: channel groups outside row bands
};

struct NpuOp {
  size_t op = 0;                 // graph operator index
  NpuKind kind = NpuKind::alias;
  std::vector<int> inputs;       // activation tensors read (graph indices)
  int output = -1;               // activation tensor written
  Window win;                    // conv, dwconv, pool
  int64_t m = 0, k = 0, n = 0;   // matmul
  int64_t count = 0;             // eltwise, lut: elements
  // The command with every quantization field set; addresses and tile geometry are
  // filled per tile by the emitter.
  isa::Command proto;
  // Constant data in the packed layouts the commands read (weights as the model stores
  // them: CONV OHWI, DWCONV HW(C*M), MATMUL [n][k]; requantization records {bias,
  // multiplier, shift} per output channel; a 256-byte LUT).
  std::vector<uint8_t> weights, qp, table;
  uint32_t weights_off = 0, qp_off = 0, table_off = 0;  // in the constant region
  // copy (CONCATENATION): per input, its bytes per outer index; the output's
  uint64_t outer = 0;
  std::vector<uint64_t> copy_inner;
  uint64_t copy_total_inner = 0;

  // On-chip residency (residency pass): a tensor passed between two consecutive NPU
  // operators can stay in SRAM instead of going through DRAM. res_in[i] / res_out are SRAM
  // addresses of such tensors (dense, as in DRAM), -1 when the tensor is in DRAM;
  // sram_limit bounds this operator's slots (0 = the whole SRAM).
  int64_t res_in[2] = {-1, -1};
  int64_t res_out = -1;
  uint32_t sram_limit = 0;

  // Tiling (tile pass).
  TileShape tile;
  uint64_t macs = 0;             // useful MACs
  uint64_t dram_bytes = 0;       // estimated DRAM traffic of the chosen tiling
  uint64_t compulsory_bytes = 0; // inputs + weights + outputs once
  uint64_t est_cycles = 0;       // cost model estimate
  uint64_t est_compute = 0, est_dma = 0;
  int tiles = 0;
  // SRAM layout (tile pass): two weight slots, two input slots, two output slots.
  uint32_t w_slot[2] = {0, 0}, in_slot[2] = {0, 0}, out_slot[2] = {0, 0};
  uint32_t w_slot_bytes = 0, in_slot_bytes = 0, out_slot_bytes = 0;
};

// A maximal run of consecutive operators with one target.
struct Segment {
  bool npu = true;
  std::vector<size_t> ops;       // graph operator indices, in order
};

struct Plan {
  const sim::npu::NpuConfig* hw = nullptr;
  ir::Graph graph;                           // after canonicalize
  std::vector<std::optional<std::string>> cpu_reason;  // per op: set = runs on the CPU
  std::vector<Segment> segments;
  std::vector<NpuOp> npu_ops;                // lower: one per NPU operator, graph order
  std::vector<int> npu_op_of;                // graph op -> index in npu_ops or -1
  std::vector<uint8_t> constants;            // lower: the constant region's contents
  // arena pass: per graph tensor, its byte offset in the arena (-1 = none: constant or
  // never materialized)
  std::vector<int64_t> arena_offset;
  uint64_t arena_bytes = 0;
  // schedule pass
  std::vector<uint32_t> words;
  std::vector<NpuSegment> npu_segments;
  std::vector<std::pair<uint32_t, uint32_t>> op_words;  // per graph op: first word, count
};

// The fixed NPU virtual address layout of every loadable.
inline constexpr uint32_t kConstantVa = 0x10000000u;
inline constexpr uint32_t kArenaVa = 0x40000000u;
inline constexpr uint32_t kMaxRegionBytes = 0x30000000u;

// The 256-entry table of a per-tensor 8-bit unary operator `op` of `g`: its reference
// kernel applied to every input byte (lower.cpp; throws what the kernel's prepare throws).
std::vector<uint8_t> unary_table(const ir::Graph& g, const ir::Op& op);

// Passes (pipeline.cpp runs them in this order).
void canonicalize(Plan& p);
void partition(Plan& p);
void lower(Plan& p);
void tile(Plan& p);
void residency(Plan& p);
void plan_arena(Plan& p);
void schedule(Plan& p);
Loadable package(const Plan& p);

// Why the NPU cannot run operator `op` of `g` on `hw`, or nothing when it can. The rules
// are small predicates; supported_ops_markdown() documents them.
std::optional<std::string> npu_unsupported_reason(const ir::Graph& g, size_t op,
                                                  const sim::npu::NpuConfig& hw);

// Cost model (tiler and report): estimated cycles of one operator with tiling `t`.
struct Cost {
  uint64_t cycles = 0, compute = 0, dma = 0, dram_bytes = 0;
  int tiles = 0;
  bool fits = false;
  uint32_t w_bytes = 0, in_bytes = 0, out_bytes = 0;  // per slot
};
Cost estimate(const NpuOp& op, const TileShape& t, const sim::npu::NpuConfig& hw);
// The cheapest tiling of `op` that fits the SRAM (nothing if none does); its cost in *cost.
std::optional<TileShape> choose_tiling(const NpuOp& op, const sim::npu::NpuConfig& hw, Cost* cost);

}  // namespace tessel::compiler
