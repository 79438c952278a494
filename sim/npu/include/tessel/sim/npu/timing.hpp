#pragma once
// Engine occupancy: the analytic per-command latency formulas of the MAC array and the
// vector unit, and the SRAM bank model. docs/npu.md derives each formula; the timing
// tests check the simulator against them. (DMA time is not a formula: the DMA engine is
// simulated burst by burst against the DRAM model.)

#include <cstdint>

#include "tessel/sim/npu/config.hpp"
#include "tessel_isa_commands.hpp"

namespace tessel::sim::npu {

struct ComputeTiming {
  uint64_t compute_cycles = 0;  // the engine's own formula
  uint64_t sram_cycles = 0;     // the busiest SRAM bank's accesses for this command
  uint64_t cycles = 0;          // max(compute_cycles, sram_cycles): the occupancy
  uint64_t sram_read_bytes = 0;
  uint64_t sram_write_bytes = 0;
};

// MAC array, weight-stationary, R = mac.rows reduction lanes by C = mac.cols outputs.
// With K the reduction length (kh*kw*in_c for CONV, kh*kw for DWCONV, k for MATMUL), N
// the output channels (out_c; n for MATMUL) and P the output pixels (out_h*out_w; m):
//   folds  = ceil(K / R) * ceil(N / C)         (DWCONV: ceil(kh*kw / R) * ceil(out_c / C))
//   load   = R * weight_load_cycles_per_row    (weights of one fold)
//   cycles = load + folds * max(P, load) + (R + C - 1) + pipeline_cycles
// The first fold's weight load is exposed, later ones overlap the previous fold's
// streaming (double-buffered weights), and the array's fill/drain skew R + C - 1 is paid
// once per command.
uint64_t mac_cycles(const isa::Command& cmd, const NpuConfig& config);

// Vector unit: `lanes` elements per cycle:
//   ELTWISE, LUT:  ceil(count / lanes)
//   POOL:          ceil(out_h*out_w*channels*kernel_h*kernel_w / lanes)
//   RESIZE:        ceil(out_h*out_w*channels*(4 bilinear | 1 nearest) / lanes)
//   MEAN:          ceil(in_h*in_w*channels / lanes) + channels
// plus pipeline_cycles per command.
uint64_t vec_cycles(const isa::Command& cmd, const NpuConfig& config);

// Full timing of a MAC or vector command, including the SRAM bank model: every operand
// region is split into bank_width_bytes granules, granule g lives in bank g % banks, and
// each bank serves one granule per cycle. The MAC array re-reads its input once per
// output-channel fold. When the accesses crowd into few banks, sram_cycles exceeds
// compute_cycles and the difference is counted as SRAM bank-conflict stall.
ComputeTiming compute_timing(const isa::Command& cmd, const NpuConfig& config);

}  // namespace tessel::sim::npu
