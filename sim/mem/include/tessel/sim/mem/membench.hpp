#pragma once
// membench: drive one memory system with a synthetic pattern as fast as it accepts
// requests, and report achieved vs peak bandwidth, latency and the simulator's own speed.
// The library half of `tessel membench` (the CLI only parses options and writes the JSON).

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tessel/sim/mem/dram_config.hpp"
#include "tessel/sim/mem/stats.hpp"

namespace tessel::sim::mem {

// seq-read / seq-write: consecutive bursts from address 0 (wrapping at capacity).
// random-read: uniformly random burst addresses over the whole capacity.
// random-mixed: random addresses, each request a write with probability 1/2.
enum class Pattern { SeqRead, SeqWrite, RandomRead, RandomMixed };

std::string_view pattern_name(Pattern p);
Pattern parse_pattern(const std::string& name);  // tessel::Error on an unknown name

struct MembenchResult {
  std::string config_name;
  Pattern pattern = Pattern::SeqRead;
  std::uint64_t requests = 0;
  std::uint64_t bytes = 0;          // requests * burst bytes
  std::uint64_t total_cycles = 0;   // DRAM cycles until the last completion
  double achieved_gbps = 0;
  double peak_gbps = 0;
  double efficiency = 0;            // achieved / peak, 0..1
  double latency_ns_mean = 0;       // arrival at the controller -> completion
  double latency_ns_p50 = 0;
  double latency_ns_p99 = 0;
  double row_hit_rate = 0;
  double host_seconds = 0;
  double requests_per_second = 0;   // simulated requests per host second
  MemoryStats stats;
};

// `bytes` is rounded up to whole bursts. The simulated results depend only on the
// arguments (deterministic); host_seconds and requests_per_second are measured.
MembenchResult run_membench(const DramConfig& config, Pattern pattern, std::uint64_t bytes,
                            std::uint32_t seed);

// {achieved_gbps, peak_gbps, efficiency, latency_ns: {mean, p50, p99}, row_hit_rate,
//  requests_per_second}
nlohmann::json membench_json(const MembenchResult& result);

}  // namespace tessel::sim::mem
