#pragma once
// Tile generation: the concrete sequence of transfers and compute commands of one tiled
// NPU operator. The cost model (estimate) and the emitter (schedule) both walk this same
// sequence, so the estimate describes exactly the commands that are emitted.

#include <cstdint>
#include <functional>
#include <vector>

#include "plan.hpp"

namespace tessel::compiler {

// One DMA transfer: up to three dimensions (len0 bytes, n1 rows, n2 planes).
struct Xfer {
  uint32_t dram = 0, sram = 0;
  uint32_t len0 = 0;
  uint32_t n1 = 1, n2 = 1;
  uint32_t dram_s1 = 0, dram_s2 = 0;
  uint32_t sram_s1 = 0, sram_s2 = 0;
  uint64_t bytes() const { return uint64_t{len0} * n1 * n2; }
};

struct Tile {
  bool new_w = false, new_in = false;          // starts a weight chunk / input block
  bool last_w_use = false, last_in_use = false;  // last tile reading them
  int w_index = -1, in_index = -1;             // chunk / block counters (slot = index % 2)
  std::vector<Xfer> w_loads, in_loads, stores;
  bool has_compute = true;                     // false for copy
  isa::Command compute;
  // Operand addresses already final (SRAM-resident tensors): place() leaves them alone.
  bool in_fixed[2] = {false, false};
  bool out_fixed = false;
};

// DRAM addresses the tiles use. For estimates every base may be 0: only sizes matter.
struct Bases {
  std::vector<uint32_t> in;   // per op input
  uint32_t out = 0;
  uint32_t constants = 0;     // the constant region's VA
};

// Calls `visit` for each tile of `op` under tiling `t` with SRAM slots as in `op` (w_slot,
// in_slot, out_slot). Returns false (visiting nothing) if `t` is not a valid tiling.
bool for_each_tile(const NpuOp& op, const TileShape& t, const Bases& bases,
                   const std::function<void(const Tile&)>& visit);

// Bytes each slot needs under tiling `t` (max over tiles), and how many of each slot the
// tiling needs (1 when a single chunk/block is reused, else 2).
struct SlotNeeds {
  uint32_t w = 0, in = 0, out = 0;
  int w_slots = 0, in_slots = 0, out_slots = 0;
  int tiles = 0;
};
SlotNeeds slot_needs(const NpuOp& op, const TileShape& t);

// Rounds SRAM slot sizes up to this (keeps every slot bank-aligned for any preset).
inline constexpr uint32_t kSramAlign = 64;
inline uint32_t align_up(uint64_t v, uint32_t a) {
  return static_cast<uint32_t>((v + a - 1) / a * a);
}

}  // namespace tessel::compiler
