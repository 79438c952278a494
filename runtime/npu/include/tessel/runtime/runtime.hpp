#pragma once
// The Tessel runtime: open an NPU device, load a compiled model (.tsl) onto it, bind
// inputs, run it (synchronously or asynchronously), read outputs, per-layer cycles and
// counters. Everything goes through the driver's UAPI (driver/include/uapi/
// tessel_accel.h): buffer objects for the model's regions and its command stream, one
// submitted job per NPU segment, the CPU-fallback segments run on the `cpu` kernels
// between them, on the bytes in device memory (mmap of the arena).
//
//   auto dev = tessel::rt::Device::open("sim://default");
//   tessel::rt::Model model(dev, tessel::compiler::read_loadable_file("m.tsl"));
//   model.set_input(0, bytes.data(), bytes.size());
//   tessel::rt::RunResult r = model.run();          // or model.run_async().get()
//
// Devices. Today the only device kind is the in-process simulator: "sim://PRESET" (a
// name from `tessel presets`) or "sim://PATH" (an NPU configuration file). A Device is
// shared by the Models loaded on it (std::shared_ptr); each Model has its own context
// (its own NPU address space), so several Models, also from several threads, run on one
// device and the driver schedules their jobs.
//
// Reproducibility. A Device keeps its state between jobs (DRAM rows left open, refresh
// phase, TLB), as hardware does, so the same inference can take a few cycles more or
// less the second time. For cycle counts that are identical run after run, open a fresh
// device per run (tessel::npu::SimRunner does).
//
// Threads: a Model serializes its own runs; Models and Devices may be used from any
// thread.

#include <cstddef>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tessel/compiler/loadable.hpp"
#include "tessel/sim/npu/config.hpp"
#include "tessel/sim/npu/device.hpp"

namespace tessel::driver {
class SimNpu;
}

namespace tessel::rt {

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
  uint64_t npu_cycles = 0;        // sum over the NPU jobs of their device cycles
  double npu_ms = 0;              // npu_cycles at the configuration's clock
  sim::npu::Counters counters{};  // per-job counter deltas (TESSEL_IOCTL_PERF), summed
  std::vector<LayerTiming> layers;
  double cpu_segment_ms = 0;      // host wall time in CPU segments (with their copies)
  double sim_wall_ms = 0;         // host wall time of the whole run
  nlohmann::json stats;           // the simulated device's statistics after the run
};

class Device {
 public:
  // "sim://PRESET" or "sim://PATH". tessel::Error for another scheme, an unknown preset,
  // a bad configuration file, or a driver that does not probe. `threads`: host threads
  // for the simulated device's functional kernels.
  static std::shared_ptr<Device> open(const std::string& uri, int threads = 1);
  // A simulated device of this configuration.
  static std::shared_ptr<Device> open(const sim::npu::NpuConfig& config, int threads = 1,
                                      std::shared_ptr<sim::npu::FunctionalUnit> functional = nullptr);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  const std::string& uri() const { return uri_; }
  const sim::npu::NpuConfig& config() const;
  // The simulator port behind this device (observers, fault injection).
  driver::SimNpu& sim() { return *sim_; }
  // TESSEL_IOCTL_GET_PARAM through a context of this device.
  uint64_t param(uint32_t param);

 private:
  Device() = default;
  std::string uri_;
  std::unique_ptr<driver::SimNpu> sim_;
  int fd_ = -1;  // for queries
};

class Model {
 public:
  // Loads the model onto the device: opens a context, creates a buffer object per region
  // at its address (constants read-only, with their bytes; the arena zeroed) and one for
  // the command stream, prepares the CPU segments' kernels. tessel::Error when the model
  // was compiled for another hardware configuration (the message names both), when the
  // loadable is inconsistent, or a region cannot be placed.
  Model(std::shared_ptr<Device> device, const compiler::Loadable& loadable, int cpu_threads = 1);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const compiler::Loadable& loadable() const;
  size_t num_inputs() const;
  const compiler::TensorEntry& input(size_t i) const;
  size_t num_outputs() const;
  const compiler::TensorEntry& output(size_t i) const;

  // Model input i for the following runs (never set: zero bytes). tessel::Error naming
  // the tensor when the size differs or i is out of range.
  void set_input(size_t i, const void* data, size_t bytes);
  // One inference. tessel::Error when a job fails (naming the layer, the command and the
  // driver's reason: MMU fault with address, invalid command, DMA error, timeout).
  RunResult run();
  // run() on another thread; the future rethrows its error.
  std::future<RunResult> run_async();
  // Writes a Chrome/Perfetto trace of the next run (also when it fails) to this path.
  void set_trace(const std::string& chrome_trace_path);
  // Device-time budget per NPU job (0: the driver's default, 2 s of device time).
  void set_job_timeout_ns(uint64_t ns);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessel::rt
