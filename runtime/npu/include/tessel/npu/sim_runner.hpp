#pragma once
// Runs a compiled loadable on the simulated NPU: the NPU segments as jobs on a
// sim::npu::Device, the CPU-fallback segments on the CPU kernels (the `cpu` registry), in
// the loadable's step order, and reports outputs, device cycles, counters and per-layer
// timing.
//
// Memory. Every region of the loadable is mapped at its fixed NPU virtual address
// (SimpleHost::map_at): constant regions read-only with their data, the arena writable
// and zeroed. Tensors that cross a step boundary live in device memory at their tensor
// table offsets; a CPU segment reads its inputs from there and writes its outputs back,
// as a driver sharing memory with the NPU would.
//
// Runs are independent and reproducible. Each run() starts from a device in its power-on
// state (a fresh Device: DRAM banks closed, refresh phase 0, TLB empty, arena zeroed), so
// the same inputs give the same outputs and the same cycle counts every time. (A single
// long-lived device would carry DRAM row-buffer and refresh state from one run into the
// next and make cycle counts drift by a few cycles.) CPU segments with state tensors
// (LSTM/SVDF) do keep their state across runs, as the model defines.
//
// Time. The NPU timeline of a run is device cycles from 0; CPU segments take no NPU time
// (the device is idle while the host computes), so npu_cycles is the sum of the NPU jobs'
// cycles and per-layer cycles are positions on that timeline. Host wall time is reported
// separately (cpu_segment_ms, sim_wall_ms).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tessel/compiler/loadable.hpp"
#include "tessel/sim/npu/config.hpp"
#include "tessel/sim/npu/device.hpp"

namespace tessel::npu {

// One entry per Loadable::layers entry, in the same order.
struct LayerTiming {
  std::string name, op;
  // NPU timeline (cycles since the run's first job started): the earliest start and the
  // latest end of the layer's commands; cycles = last - first. All 0 for a layer without
  // commands (folded away or run on the CPU).
  uint64_t first_cycle = 0, last_cycle = 0, cycles = 0;
  uint64_t busy[4] = {0, 0, 0, 0};  // per isa::Engine: cycles its commands occupied it
  uint64_t macs = 0;                // as executed by the device (useful MACs)
  uint64_t dram_bytes = 0;          // moved by its DMA commands (whole bursts)
  std::string bound;                // the compiler's verdict ("compute", "memory", "")
  uint64_t estimated_cycles = 0;    // the compiler's cost-model estimate
};

struct RunResult {
  std::vector<std::vector<uint8_t>> outputs;  // model outputs in order, dense bytes
  uint64_t npu_cycles = 0;       // sum over NPU segments of device cycles
  double npu_ms = 0;             // npu_cycles at the configuration's clock
  sim::npu::Counters counters{}; // summed over segments, indexed by isa::Perf
  std::vector<LayerTiming> layers;
  double cpu_segment_ms = 0;     // host wall time in CPU segments (with their copies)
  double sim_wall_ms = 0;        // host wall time of the whole run()
  nlohmann::json stats;          // Device::stats_json() after the run
};

class SimRunner {
 public:
  // Copies the loadable (the runner owns what it runs). Throws tessel::Error when the
  // loadable was compiled for another hardware configuration (hardware_hash differs from
  // npu_config_hash(config)), when it is structurally inconsistent in a way the runner
  // depends on (indices, offsets and sizes), when its regions cannot be mapped, or when a
  // CPU segment's graph cannot be prepared by the `cpu` kernels. `cpu_threads`: host
  // threads for the CPU segments' kernels and for the device's functional kernels.
  SimRunner(const compiler::Loadable& loadable, const sim::npu::NpuConfig& config,
            int cpu_threads = 1);
  ~SimRunner();
  SimRunner(SimRunner&&) noexcept;
  SimRunner& operator=(SimRunner&&) noexcept;
  SimRunner(const SimRunner&) = delete;
  SimRunner& operator=(const SimRunner&) = delete;

  size_t num_inputs() const;
  const compiler::TensorEntry& input(size_t i) const;
  size_t num_outputs() const;
  const compiler::TensorEntry& output(size_t i) const;

  // Model input i for the following runs (inputs that were never set are zero bytes).
  // tessel::Error naming the tensor when `bytes` differs from its size or i is out of range.
  void set_input(size_t i, const void* data, size_t bytes);

  // One inference. tessel::Error when an NPU job faults or hangs (naming the layer of the
  // failing command and the device's reason) or a CPU kernel fails. May be called again.
  RunResult run();

  // Writes a Chrome/Perfetto trace of the next run() (also when it fails) to this path,
  // with each command's span named after its layer. An empty path cancels.
  void set_trace(const std::string& chrome_trace_path);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessel::npu
