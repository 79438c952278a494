#pragma once
// The DRAM standard (organisation + JEDEC timing) and the controller's configuration,
// loaded from one YAML file (sim/configs/dram/*.yaml; format in docs/memory-system.md).
//
// Every timing value is in command-clock cycles (tCK) and is validated when loaded:
// a missing or malformed key, an unknown key, an unknown policy name or an inconsistent
// combination (e.g. tRC < tRAS + tRP) throws tessel::Error naming the file and the key.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tessel::sim::mem {

struct DramOrg {
  std::uint32_t channels = 1;
  std::uint32_t ranks = 1;
  std::uint32_t bankgroups = 1;       // 1 for standards without bank groups (LPDDR4X)
  std::uint32_t banks_per_group = 8;
  std::uint32_t rows = 0;             // per bank
  std::uint32_t columns = 0;          // per row, in device-width units (JEDEC column address)
  std::uint32_t device_width = 16;    // DQ bits per device
  std::uint32_t bus_width = 16;       // DQ bits per channel
  std::uint32_t burst_length = 16;    // beats per access
  std::uint32_t data_rate_mtps = 0;   // nominal transfers per second per pin, in millions

  std::uint32_t banks_per_rank() const { return bankgroups * banks_per_group; }
  std::uint32_t banks_per_channel() const { return ranks * banks_per_rank(); }
  std::uint32_t burst_bytes() const { return bus_width / 8 * burst_length; }
  std::uint32_t bursts_per_row() const { return columns / burst_length; }
  // Bytes addressable through this organisation (all channels).
  std::uint64_t capacity_bytes() const {
    return std::uint64_t{channels} * banks_per_channel() * rows * bursts_per_row() *
           burst_bytes();
  }
};

// JEDEC timing parameters, all in tCK except tCK_ps. `_S`/`_L` are the different/same
// bank-group variants (equal for standards without bank groups).
struct DramTiming {
  double tCK_ps = 0;       // command clock period
  std::uint32_t tBL = 0;   // derived: burst_length / beats per tCK (data-bus cycles per burst)
  std::uint32_t tCL = 0;   // read latency (RL)
  std::uint32_t tCWL = 0;  // write latency (WL)
  std::uint32_t tRCD = 0;     // ACT -> RD
  std::uint32_t tRCD_WR = 0;  // ACT -> WR (HBM2 has its own; defaults to tRCD)
  std::uint32_t tRP = 0;      // PRE -> ACT (per bank)
  std::uint32_t tRP_ab = 0;   // PREA -> ACT/REF (LPDDR tRPab; defaults to tRP)
  std::uint32_t tRAS = 0;     // ACT -> PRE
  std::uint32_t tRC = 0;      // ACT -> ACT, same bank
  std::uint32_t tRRD_S = 0, tRRD_L = 0;  // ACT -> ACT, different bank
  std::uint32_t tFAW = 0;                // four-activate window per rank
  std::uint32_t tCCD_S = 0, tCCD_L = 0;  // RD->RD and WR->WR
  std::uint32_t tWTR_S = 0, tWTR_L = 0;  // end of write data -> RD
  std::uint32_t tWR = 0;                 // end of write data -> PRE
  std::uint32_t tRTP = 0;                // RD -> PRE
  std::uint32_t tRTRS = 0;  // data-bus turnaround: RD->WR and rank-to-rank switches
  std::uint32_t tREFI = 0;  // average refresh interval
  std::uint32_t tRFC = 0;   // all-bank refresh cycle time
};

struct ControllerConfig {
  std::string scheduler = "frfcfs";
  std::string row_policy = "open";
  std::string address_mapping = "RoBaCoBgRaCh";
  std::string refresh = "all_bank";
  std::uint32_t read_queue_depth = 32;   // per channel
  std::uint32_t write_queue_depth = 32;  // per channel
  // Write draining: switch to writes when the write queue holds >= high entries (or
  // reads run out); switch back when it holds <= low entries and reads are waiting.
  std::uint32_t write_high_watermark = 24;
  std::uint32_t write_low_watermark = 8;
};

struct DramConfig {
  std::string name;      // e.g. "ddr4-3200"
  std::string standard;  // e.g. "DDR4"
  std::string source;    // the file it came from ("" when built in code)
  DramOrg org;
  DramTiming timing;
  ControllerConfig controller;

  std::uint32_t beats_per_clock() const;  // data transfers per tCK (2 for DDR, 8 for LPDDR5)
  double peak_bandwidth_gbps() const;     // channels * bus bytes * data rate, in GB/s (1e9)
  double cycles_to_ns(double cycles) const { return cycles * timing.tCK_ps / 1000.0; }
};

// Loads and validates a YAML file.
DramConfig load_dram_config(const std::string& path);
// Parses YAML text; `source_name` is used in error messages in place of a file name.
DramConfig parse_dram_config(const std::string& yaml_text, const std::string& source_name);
// Validates a configuration (the loaders and MemorySystem call this) and fills the derived
// fields (timing.tBL). `where` prefixes error messages (the file name, or the config name).
void validate_dram_config(DramConfig& config, const std::string& where);

// The bundled presets: sim/configs/dram/<name>.yaml.
std::string dram_preset_dir();
std::vector<std::string> dram_preset_names();
// A preset name ("lpddr4x-4266") or a path to a YAML file.
DramConfig load_dram_preset_or_file(const std::string& preset_or_path);

// Every resolved parameter (written with every run's statistics).
nlohmann::json dram_config_json(const DramConfig& config);

}  // namespace tessel::sim::mem
