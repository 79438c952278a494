#pragma once
// A trace observer that writes the Chrome/Perfetto JSON trace format ("traceEvents"):
// one track (thread) per engine with a span per command, one for the command processor
// (FENCE/END) and the job spans, and a DRAM bandwidth counter track (GB/s per window).
// Open the file in ui.perfetto.dev or chrome://tracing. Timestamps are microseconds of
// simulated time at the configured core clock.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tessel/sim/npu/observer.hpp"

namespace tessel::sim::npu {

class ChromeTraceWriter final : public INpuObserver {
 public:
  explicit ChromeTraceWriter(uint32_t clock_mhz) : clock_mhz_(clock_mhz) {}

  // Optional: names a command from (job_id, byte offset) — e.g. the model layer it
  // belongs to. Without it spans are named by opcode.
  using Namer = std::function<std::string(uint32_t job_id, uint32_t offset)>;
  void set_namer(Namer namer) { namer_ = std::move(namer); }

  void on_command(const CommandRecord& r) override;
  void on_job(uint32_t job_id, uint64_t start_cycle, uint64_t end_cycle) override;
  void on_dram_window(uint64_t start_cycle, uint64_t end_cycle, uint64_t read_bytes,
                      uint64_t write_bytes) override;

  // A model layer's span [start_cycle, end_cycle) on the "layers" track. Layers overlap
  // in time (a layer's loads run under its predecessor's compute), so they are written as
  // async slices, which Perfetto stacks instead of nesting.
  void add_layer(const std::string& name, const std::string& op, uint64_t start_cycle,
                 uint64_t end_cycle, uint64_t macs, uint64_t dram_bytes);

  size_t event_count() const { return events_.size(); }
  std::string json() const;
  // tessel::Error when the file cannot be written.
  void write(const std::string& path) const;

 private:
  double us(uint64_t cycles) const { return static_cast<double>(cycles) / clock_mhz_; }
  uint32_t clock_mhz_;
  Namer namer_;
  std::vector<std::string> events_;
  uint64_t next_layer_id_ = 1;
};

}  // namespace tessel::sim::npu
