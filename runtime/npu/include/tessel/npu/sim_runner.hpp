#pragma once
// Runs a compiled loadable on a simulated NPU through the driver and the runtime
// (tessel/runtime/runtime.hpp), one inference per run(), each on a fresh device.
//
// Runs are independent and reproducible. Each run() opens a device in its power-on state
// (DRAM banks closed, refresh phase 0, TLB empty, fresh memory) and loads the model on
// it, so the same inputs give the same outputs and the same cycle counts every time (a
// long-lived device carries DRAM row-buffer and refresh state from one run into the
// next and makes cycle counts drift by a few cycles). The same holds for CPU segments
// with state tensors (LSTM/SVDF): every run starts from the model's initial state. For a
// long-lived device shared by models, use tessel::rt::Device and tessel::rt::Model.
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

#include "tessel/compiler/loadable.hpp"
#include "tessel/runtime/runtime.hpp"
#include "tessel/sim/npu/config.hpp"

namespace tessel::npu {

using LayerTiming = rt::LayerTiming;
using RunResult = rt::RunResult;

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
