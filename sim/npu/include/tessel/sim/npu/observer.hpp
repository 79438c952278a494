#pragma once
// Trace events leave the NPU model only through this interface (the model never formats
// output). Observers are called synchronously, in simulated-time order per engine, and
// must not call back into the device.

#include <cstdint>
#include <string>

namespace tessel::sim::npu {

struct CommandRecord {
  uint32_t engine = 0;       // isa::Engine, or 4 for the command processor (FENCE/END)
  uint8_t opcode = 0;
  uint32_t job_id = 0;
  uint32_t context = 0;       // MMU context of the job
  uint32_t offset = 0;       // byte offset of the command in the job's buffer
  uint64_t start_cycle = 0;
  uint64_t end_cycle = 0;
  uint64_t macs = 0;
  uint64_t dram_bytes = 0;   // DMA commands: bytes moved (whole bursts)
};

class INpuObserver {
 public:
  virtual ~INpuObserver() = default;
  virtual void on_command(const CommandRecord& record) = 0;
  virtual void on_job(uint32_t job_id, uint64_t start_cycle, uint64_t end_cycle) {
    (void)job_id, (void)start_cycle, (void)end_cycle;
  }
  // DRAM traffic completed in [start_cycle, end_cycle) (one sample per window of
  // `trace_window_cycles` while any DMA is active).
  virtual void on_dram_window(uint64_t start_cycle, uint64_t end_cycle, uint64_t read_bytes,
                              uint64_t write_bytes) {
    (void)start_cycle, (void)end_cycle, (void)read_bytes, (void)write_bytes;
  }
};

}  // namespace tessel::sim::npu
