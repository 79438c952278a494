#include "tessel/npu/sim_runner.hpp"

#include <algorithm>
#include <utility>

#include "tessel/ir/error.hpp"

namespace tessel::npu {

struct SimRunner::Impl {
  compiler::Loadable loadable;
  sim::npu::NpuConfig config;
  int threads = 1;
  // Shared by every run's device: its prepared fast kernels (packed weights, oneDNN
  // primitives) survive from one inference to the next, as they would in a driver.
  std::shared_ptr<sim::npu::FunctionalUnit> functional;
  std::unique_ptr<rt::Model> model;  // loaded on a fresh device, for the next run
  std::vector<std::vector<uint8_t>> inputs;
  std::string trace_path;

  void boot() {
    model.reset();
    if (!functional) functional = std::make_shared<sim::npu::FunctionalUnit>(threads);
    model = std::make_unique<rt::Model>(rt::Device::open(config, threads, functional), loadable,
                                        threads);
  }
};

SimRunner::SimRunner(const compiler::Loadable& loadable, const sim::npu::NpuConfig& config,
                     int cpu_threads)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.loadable = loadable;
  m.config = config;
  m.threads = std::max(1, cpu_threads);
  // Load now, so that a loadable that is inconsistent or does not fit fails here.
  m.boot();
  for (size_t i = 0; i < m.model->num_inputs(); ++i) m.inputs.emplace_back(m.model->input(i).bytes, 0);
}

SimRunner::~SimRunner() = default;
SimRunner::SimRunner(SimRunner&&) noexcept = default;
SimRunner& SimRunner::operator=(SimRunner&&) noexcept = default;

size_t SimRunner::num_inputs() const { return impl_->inputs.size(); }
size_t SimRunner::num_outputs() const { return impl_->loadable.outputs.size(); }

const compiler::TensorEntry& SimRunner::input(size_t i) const {
  if (i >= num_inputs()) {
    throw Error("input index " + std::to_string(i) + " out of range (" +
                std::to_string(num_inputs()) + " inputs)");
  }
  return impl_->loadable.tensors[impl_->loadable.inputs[i]];
}

const compiler::TensorEntry& SimRunner::output(size_t i) const {
  if (i >= num_outputs()) {
    throw Error("output index " + std::to_string(i) + " out of range (" +
                std::to_string(num_outputs()) + " outputs)");
  }
  return impl_->loadable.tensors[impl_->loadable.outputs[i]];
}

void SimRunner::set_input(size_t i, const void* data, size_t bytes) {
  Impl& m = *impl_;
  if (!m.model) m.boot();
  m.model->set_input(i, data, bytes);  // checks index and size, naming the tensor
  std::copy_n(static_cast<const uint8_t*>(data), bytes, m.inputs[i].begin());
}

void SimRunner::set_trace(const std::string& chrome_trace_path) {
  impl_->trace_path = chrome_trace_path;
}

RunResult SimRunner::run() {
  Impl& m = *impl_;
  if (!m.model) m.boot();
  // The device lives for one run: the next one starts from power-on state again.
  struct Retire {
    Impl& m;
    ~Retire() { m.model.reset(); }
  } retire{m};
  for (size_t i = 0; i < m.inputs.size(); ++i) m.model->set_input(i, m.inputs[i].data(), m.inputs[i].size());
  m.model->set_trace(m.trace_path);
  m.trace_path.clear();
  return m.model->run();
}

}  // namespace tessel::npu
