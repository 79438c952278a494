#pragma once
// The NPU's hardware configuration: every parameter of the model comes from here, and
// every value here comes from a preset file (sim/configs/npu/*.yaml) or a user's YAML
// file. The parser rejects unknown keys and out-of-range values with tessel::Error naming
// the file and the key.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tessel/sim/mem/dram_config.hpp"

namespace tessel::sim::npu {

struct MacArrayConfig {
  // Weight-stationary array: `rows` reduction lanes (input channel x kernel taps) by
  // `cols` output channels; rows * cols MACs per cycle at full utilization.
  uint32_t rows = 32;
  uint32_t cols = 32;
  // Cycles to load one row of weights into the array (a full fold loads `rows` rows). The
  // next fold's weights load while the current one streams (double-buffered), so only
  // the first load and loads longer than a fold's streaming time are exposed.
  uint32_t weight_load_cycles_per_row = 1;
  // Extra cycles per command: command decode and requantization pipeline drain.
  uint32_t pipeline_cycles = 8;
};

struct VectorConfig {
  uint32_t lanes = 32;            // elements per cycle for element-wise work
  uint32_t pipeline_cycles = 8;   // per-command startup + drain
};

struct SramConfig {
  uint32_t size_kib = 1024;
  uint32_t banks = 16;            // address-interleaved banks
  uint32_t bank_width_bytes = 16; // bytes per bank per cycle; interleave granule
};

struct DmaConfig {
  uint32_t engines = 2;           // the contract fixes 2: DMA_IN and DMA_OUT
  uint32_t bus_bytes_per_cycle = 32;  // shared NPU<->DRAM bus (interconnect), per core cycle
  uint32_t max_outstanding = 32;  // bursts in flight per DMA engine
  uint32_t setup_cycles = 16;     // per-command descriptor setup
  // Largest memory transaction (AXI-burst-like), bytes: a DMA command's bursts go to the
  // memory system in naturally aligned blocks of this size, each split into one train per
  // DRAM channel, bank and row (mem::MemorySystem::send_transaction). 0 = one DRAM burst
  // per transaction. A power of two <= 4096.
  uint32_t max_transaction_bytes = 0;
};

struct MmuConfig {
  uint32_t contexts = 16;         // <= 16 (PT_BASE registers)
  uint32_t tlb_entries = 32;      // fully associative, LRU
  uint32_t walk_cycles = 64;      // core cycles to fill a TLB miss
};

struct NpuConfig {
  std::string name;               // preset or file stem
  std::string description;        // one line, shown by `tessel presets`
  std::string source;             // the file it came from
  uint32_t clock_mhz = 1000;
  MacArrayConfig mac;
  VectorConfig vec;
  SramConfig sram;
  DmaConfig dma;
  MmuConfig mmu;
  uint32_t semaphores = 32;       // <= 256
  uint32_t queue_depth = 16;      // commands per engine queue
  uint64_t dram_bytes = 1ull << 30;  // physical memory size behind the DRAM model
  std::string dram_spec;          // the DRAM preset name or file it was built from
  mem::DramConfig dram;           // resolved (with any `dram.overrides` applied)

  uint64_t sram_bytes() const { return uint64_t{sram.size_kib} * 1024; }
  uint64_t macs_per_cycle() const { return uint64_t{mac.rows} * mac.cols; }
};

// Parses and validates. `source_name` names the file in errors.
NpuConfig parse_npu_config(const std::string& yaml_text, const std::string& source_name);
NpuConfig load_npu_config(const std::string& path);
// A preset name (`default`, ...) or a path to a YAML file.
NpuConfig load_npu_preset_or_file(const std::string& preset_or_path);
std::string npu_preset_dir();
std::vector<std::string> npu_preset_names();  // sorted, `default` first

// The resolved configuration, every parameter spelled out (written with every run).
nlohmann::json npu_config_json(const NpuConfig& config);
// FNV-1a 64 of the canonical JSON dump: identifies a hardware configuration (loadables
// record it; the CONFIG_HASH register exposes the low 32 bits).
uint64_t npu_config_hash(const NpuConfig& config);

}  // namespace tessel::sim::npu
