#include "tessel/npu/sim_runner.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <utility>

#include "tessel/cpu/executor.hpp"
#include "tessel/cpu/op_registry.hpp"
#include "tessel/ir/error.hpp"
#include "tessel/sim/npu/chrome_trace.hpp"
#include "tessel/sim/npu/simple_host.hpp"
#include "tessel_isa_commands.hpp"
#include "tessel_npu_isa.h"

namespace tessel::npu {
namespace {

using Clock = std::chrono::steady_clock;
using compiler::Loadable;
using compiler::Region;
using compiler::TensorEntry;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

std::string shape_str(const std::vector<int32_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string describe(const Loadable& l, uint32_t tensor) {
  return "tensor #" + std::to_string(tensor) + " '" + l.tensors[tensor].name + "'";
}

// The checks the runner's memory safety depends on (every index, offset and size it
// follows). The loadable reader validates more; a hand-built loadable may not have been
// through it.
void check_loadable(const Loadable& l) {
  const std::string where = "loadable '" + l.model + "': ";
  const auto fail = [&](const std::string& msg) { throw Error(where + msg); };
  for (size_t r = 0; r < l.regions.size(); ++r) {
    const Region& g = l.regions[r];
    if (g.kind == Region::Kind::constant && g.data.size() != g.bytes) {
      fail("region #" + std::to_string(r) + " '" + g.name + "' holds " +
           std::to_string(g.data.size()) + " bytes of data but its size is " +
           std::to_string(g.bytes));
    }
  }
  for (size_t t = 0; t < l.tensors.size(); ++t) {
    const TensorEntry& e = l.tensors[t];
    const std::string name = describe(l, static_cast<uint32_t>(t));
    if (e.region >= l.regions.size()) {
      fail(name + " names region #" + std::to_string(e.region) + ", which does not exist");
    }
    if (uint64_t{e.offset} + e.bytes > l.regions[e.region].bytes) {
      fail(name + " (" + std::to_string(e.bytes) + " bytes at offset " + std::to_string(e.offset) +
           ") does not fit in region '" + l.regions[e.region].name + "' (" +
           std::to_string(l.regions[e.region].bytes) + " bytes)");
    }
  }
  const auto check_tensor_index = [&](uint32_t t, const std::string& what) {
    if (t >= l.tensors.size()) {
      fail(what + " names tensor #" + std::to_string(t) + ", which does not exist");
    }
  };
  // Bytes the host writes must land in writable memory the NPU expects to change.
  const auto check_in_arena = [&](uint32_t t, const std::string& what) {
    if (l.regions[l.tensors[t].region].kind != Region::Kind::arena) {
      fail(what + " " + describe(l, t) + " is not in an arena region");
    }
  };
  for (uint32_t t : l.inputs) check_tensor_index(t, "a model input");
  for (uint32_t t : l.outputs) check_tensor_index(t, "a model output");
  for (uint32_t t : l.inputs) check_in_arena(t, "model input");
  for (size_t s = 0; s < l.npu_segments.size(); ++s) {
    const compiler::NpuSegment& n = l.npu_segments[s];
    if (n.word_count == 0 || uint64_t{n.first_word} + n.word_count > l.commands.size()) {
      fail("NPU segment #" + std::to_string(s) + " (words " + std::to_string(n.first_word) + "+" +
           std::to_string(n.word_count) + ") is empty or outside the " +
           std::to_string(l.commands.size()) + "-word command stream");
    }
  }
  for (size_t s = 0; s < l.cpu_segments.size(); ++s) {
    const compiler::CpuSegment& c = l.cpu_segments[s];
    const std::string seg = "CPU segment #" + std::to_string(s);
    if (c.inputs.size() != c.graph.inputs.size() || c.outputs.size() != c.graph.outputs.size()) {
      fail(seg + " binds " + std::to_string(c.inputs.size()) + " inputs and " +
           std::to_string(c.outputs.size()) + " outputs but its graph has " +
           std::to_string(c.graph.inputs.size()) + " and " +
           std::to_string(c.graph.outputs.size()));
    }
    const auto check_binding = [&](uint32_t t, int graph_tensor, const std::string& what) {
      check_tensor_index(t, seg + " " + what);
      if (graph_tensor < 0 || static_cast<size_t>(graph_tensor) >= c.graph.tensors.size()) {
        fail(seg + " " + what + ": its graph names tensor #" + std::to_string(graph_tensor) +
             ", which does not exist");
      }
      const size_t graph_bytes = c.graph.tensors[static_cast<size_t>(graph_tensor)].num_bytes();
      if (graph_bytes != l.tensors[t].bytes) {
        fail(seg + " " + what + " " + describe(l, t) + " has " +
             std::to_string(l.tensors[t].bytes) + " bytes but the graph's " +
             c.graph.describe_tensor(graph_tensor) + " has " + std::to_string(graph_bytes));
      }
    };
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      check_binding(c.inputs[i], c.graph.inputs[i], "input");
    }
    for (size_t i = 0; i < c.outputs.size(); ++i) {
      check_binding(c.outputs[i], c.graph.outputs[i], "output");
      check_in_arena(c.outputs[i], seg + " output");
    }
  }
  for (size_t s = 0; s < l.steps.size(); ++s) {
    const compiler::Step& st = l.steps[s];
    const bool npu = st.kind == compiler::Step::Kind::npu;
    const size_t n = npu ? l.npu_segments.size() : l.cpu_segments.size();
    if (st.index >= n) {
      fail("step #" + std::to_string(s) + " names " + (npu ? "NPU" : "CPU") + " segment #" +
           std::to_string(st.index) + ", which does not exist");
    }
  }
  for (const compiler::Layer& y : l.layers) {
    if (uint64_t{y.first_word} + y.word_count > l.commands.size()) {
      fail("layer '" + y.name + "' (words " + std::to_string(y.first_word) + "+" +
           std::to_string(y.word_count) + ") is outside the command stream");
    }
  }
}

}  // namespace

struct SimRunner::Impl {
  Loadable loadable;
  sim::npu::NpuConfig config;
  int threads = 1;
  std::vector<std::unique_ptr<cpu::Executor>> executors;  // per CPU segment
  std::vector<std::vector<uint8_t>> inputs;                // per model input
  std::string trace_path;
  // Layers with commands, sorted by first word: {first_word, end_word, layer index}.
  struct Span {
    uint32_t first, end;
    size_t layer;
  };
  std::vector<Span> spans;
  // The device of the next run (created by boot(), destroyed when a run ends).
  std::unique_ptr<sim::npu::Device> dev;
  std::unique_ptr<sim::npu::SimpleHost> host;
  // Shared by every run's device: its prepared fast kernels (packed weights, oneDNN
  // primitives) survive from one inference to the next, as they would in a driver.
  std::shared_ptr<sim::npu::FunctionalUnit> functional;

  // Per-layer accounting of retired commands, done as they retire. One job runs at a time,
  // so the segment being run tells which words a record's byte offset refers to.
  class Collector final : public sim::npu::INpuObserver {
   public:
    Collector(const Impl& impl, std::vector<LayerTiming>& layers, uint64_t origin)
        : impl_(impl), layers_(layers), origin_(origin), seen_(layers.size(), 0) {}
    uint32_t segment = 0;
    long last_layer = -1;  // of the last retired command (names a hang's neighbourhood)
    void on_command(const sim::npu::CommandRecord& r) override {
      const long li = impl_.layer_at(segment, r.offset);
      if (li < 0) return;
      last_layer = li;
      LayerTiming& t = layers_[static_cast<size_t>(li)];
      const uint64_t start = r.start_cycle - origin_, end = r.end_cycle - origin_;
      if (!seen_[static_cast<size_t>(li)]) {
        seen_[static_cast<size_t>(li)] = 1;
        t.first_cycle = start;
        t.last_cycle = end;
      }
      t.first_cycle = std::min(t.first_cycle, start);
      t.last_cycle = std::max(t.last_cycle, end);
      if (r.engine < sim::npu::kEngines) t.busy[r.engine] += r.end_cycle - r.start_cycle;
      t.macs += r.macs;
      t.dram_bytes += r.dram_bytes;
    }

   private:
    const Impl& impl_;
    std::vector<LayerTiming>& layers_;
    uint64_t origin_;
    std::vector<char> seen_;  // per layer: a command was attributed to it
  };

  // The layer whose words contain the command at `byte_offset` of NPU segment `segment`'s
  // job buffer; -1 when none does.
  long layer_at(uint32_t segment, uint32_t byte_offset) const {
    const uint64_t word = uint64_t{loadable.npu_segments[segment].first_word} + byte_offset / 4;
    auto it = std::upper_bound(spans.begin(), spans.end(), word,
                               [](uint64_t w, const Span& s) { return w < s.first; });
    if (it == spans.begin()) return -1;
    --it;
    return word < it->end ? static_cast<long>(it->layer) : -1;
  }

  // A span name for the trace: the layer, or the opcode for words outside every layer.
  std::string span_name(uint32_t segment, uint32_t byte_offset) const {
    const long li = layer_at(segment, byte_offset);
    if (li >= 0) return loadable.layers[static_cast<size_t>(li)].name;
    const uint64_t word = uint64_t{loadable.npu_segments[segment].first_word} + byte_offset / 4;
    const char* op = word < loadable.commands.size()
                         ? isa::opcode_name(static_cast<uint8_t>(loadable.commands[word] & 0xFF))
                         : nullptr;
    return op ? op : "?";
  }

  uint32_t va_of(const TensorEntry& t) const { return loadable.regions[t.region].va + t.offset; }

  // A device in its power-on state with every region mapped at its address.
  void boot() {
    host.reset();
    if (!functional) functional = std::make_shared<sim::npu::FunctionalUnit>(threads);
    dev = std::make_unique<sim::npu::Device>(config, threads, functional);
    host = std::make_unique<sim::npu::SimpleHost>(*dev);
    for (const Region& r : loadable.regions) {
      const bool constant = r.kind == Region::Kind::constant;
      try {
        host->map_at(r.va, r.bytes, constant);
      } catch (const Error& e) {
        throw Error("loadable '" + loadable.model + "': cannot map region '" + r.name + "' at " +
                    hex(r.va) + ": " + e.what());
      }
      // The arena needs no writing: fresh device memory reads as zero.
      if (constant && r.bytes > 0) host->write(r.va, r.data.data(), r.bytes);
    }
  }

  [[noreturn]] void fail_npu(uint32_t segment, long last_layer) const;
  void run_npu(uint32_t segment, RunResult& result, Collector& collector);
  void run_cpu(uint32_t segment);
};

// Why an NPU job did not finish, in words: the device's reason, and the layer and command
// it stopped at.
void SimRunner::Impl::fail_npu(uint32_t segment, long last_layer) const {
  const std::string seg = "NPU segment #" + std::to_string(segment);
  if (dev->hung()) {
    std::string msg = seg + " hung at cycle " + std::to_string(dev->now()) +
                      ": no queue can make progress (a SEM_WAIT that nothing signals?)";
    if (last_layer >= 0) {
      msg += "; the last command retired belongs to layer '" +
             loadable.layers[static_cast<size_t>(last_layer)].name + "'";
    }
    throw Error(msg);
  }
  const uint32_t status = dev->read_reg(TESSEL_REG_ERROR_STATUS);
  if (status == 0) throw Error(seg + " did not reach END (device still busy)");
  const uint32_t code = TESSEL_GET(status, TESSEL_ERROR_STATUS_CODE);
  const uint32_t engine = TESSEL_GET(status, TESSEL_ERROR_STATUS_ENGINE);
  const uint32_t offset = dev->read_reg(TESSEL_REG_ERROR_OFFSET);
  const compiler::NpuSegment& n = loadable.npu_segments[segment];
  const uint64_t word = uint64_t{n.first_word} + offset / 4;
  std::string msg = "NPU error";
  const long li = code == TESSEL_ERROR_CODE_BAD_RING_ENTRY ? -1 : layer_at(segment, offset);
  if (li >= 0) {
    const compiler::Layer& y = loadable.layers[static_cast<size_t>(li)];
    msg += " in layer '" + y.name + "' (" + y.op + ")";
  }
  msg += ": " + std::string(isa::to_string(static_cast<isa::ErrorCode>(code))) + " on " +
         (engine < sim::npu::kEngines ? isa::to_string(static_cast<isa::Engine>(engine))
                                      : "the command processor") +
         ", " + seg + ", command word " + std::to_string(word) + " (byte offset " +
         std::to_string(offset) + " in the job)";
  if (code == TESSEL_ERROR_CODE_MMU_FAULT) {
    msg += ", fault address " + hex(dev->read_reg(TESSEL_REG_FAULT_ADDR));
  }
  msg += ": " + dev->last_error();
  if (word < uint64_t{n.first_word} + n.word_count) {
    const isa::DecodeResult d = isa::decode(loadable.commands.data() + word,
                                            n.first_word + n.word_count - word);
    if (d.ok) msg += " [" + isa::disassemble(d.command) + "]";
  }
  throw Error(msg);
}

void SimRunner::Impl::run_npu(uint32_t segment, RunResult& result, Collector& collector) {
  const compiler::NpuSegment& n = loadable.npu_segments[segment];
  const std::vector<uint32_t> words(loadable.commands.begin() + n.first_word,
                                    loadable.commands.begin() + n.first_word + n.word_count);
  const sim::npu::Counters before = dev->counters();
  const uint64_t start = dev->now();
  collector.segment = segment;
  const uint32_t job = host->submit(words);
  dev->run_until_idle();
  if (dev->hung() || dev->busy() || dev->read_reg(TESSEL_REG_ERROR_STATUS) != 0 ||
      dev->read_reg(TESSEL_REG_DONE_JOB_ID) != job) {
    fail_npu(segment, collector.last_layer);
  }
  result.npu_cycles += dev->now() - start;
  const sim::npu::Counters after = dev->counters();
  for (size_t i = 0; i < after.size(); ++i) result.counters[i] += after[i] - before[i];
}

// A CPU segment works on the bytes in device memory: its inputs are read from their
// tensor table locations (where an NPU job or an earlier CPU segment left them) and its
// outputs written back for the steps after it.
void SimRunner::Impl::run_cpu(uint32_t segment) {
  const compiler::CpuSegment& c = loadable.cpu_segments[segment];
  cpu::Executor& ex = *executors[segment];
  std::vector<uint8_t> buf;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const TensorEntry& t = loadable.tensors[c.inputs[i]];
    buf.resize(t.bytes);
    host->read(va_of(t), buf.data(), t.bytes);
    ex.set_input(i, buf.data(), t.bytes);
  }
  try {
    ex.run();
  } catch (const Error& e) {
    throw Error("CPU segment #" + std::to_string(segment) + ": " + e.what());
  }
  for (size_t i = 0; i < c.outputs.size(); ++i) {
    const TensorEntry& t = loadable.tensors[c.outputs[i]];
    host->write(va_of(t), ex.output_data(i), ex.output_bytes(i));
  }
}

SimRunner::SimRunner(const compiler::Loadable& loadable, const sim::npu::NpuConfig& config,
                     int cpu_threads)
    : impl_(std::make_unique<Impl>()) {
  const uint64_t device_hash = sim::npu::npu_config_hash(config);
  if (loadable.hardware_hash != device_hash) {
    throw Error("model compiled for '" + loadable.hardware_name + "' (hash " +
                hex(loadable.hardware_hash) + ") but the device is '" + config.name + "' (hash " +
                hex(device_hash) + ")");
  }
  check_loadable(loadable);
  Impl& m = *impl_;
  m.loadable = loadable;
  m.config = config;
  m.threads = std::max(1, cpu_threads);
  for (size_t i = 0; i < m.loadable.layers.size(); ++i) {
    const compiler::Layer& y = m.loadable.layers[i];
    if (y.word_count > 0) m.spans.push_back({y.first_word, y.first_word + y.word_count, i});
  }
  std::sort(m.spans.begin(), m.spans.end(),
            [](const Impl::Span& a, const Impl::Span& b) { return a.first < b.first; });
  // Executors keep references into their graphs: the loadable copy lives in the Impl,
  // which never moves.
  for (const compiler::CpuSegment& c : m.loadable.cpu_segments) {
    m.executors.push_back(std::make_unique<cpu::Executor>(c.graph, cpu::cpu_registry(), m.threads));
  }
  for (uint32_t t : m.loadable.inputs) m.inputs.emplace_back(m.loadable.tensors[t].bytes, 0);
  // Map the regions now, so that a loadable that does not fit fails at load time.
  m.boot();
}

SimRunner::~SimRunner() = default;
SimRunner::SimRunner(SimRunner&&) noexcept = default;
SimRunner& SimRunner::operator=(SimRunner&&) noexcept = default;

size_t SimRunner::num_inputs() const { return impl_->loadable.inputs.size(); }
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
  const TensorEntry& t = input(i);
  if (bytes != t.bytes) {
    throw Error("input #" + std::to_string(i) + " '" + t.name + "' " + ir::dtype_name(t.dtype) +
                shape_str(t.shape) + " takes " + std::to_string(t.bytes) + " bytes, got " +
                std::to_string(bytes));
  }
  std::copy_n(static_cast<const uint8_t*>(data), bytes, impl_->inputs[i].begin());
}

void SimRunner::set_trace(const std::string& chrome_trace_path) {
  impl_->trace_path = chrome_trace_path;
}

RunResult SimRunner::run() {
  const Clock::time_point t0 = Clock::now();
  Impl& m = *impl_;
  if (!m.dev) m.boot();
  // The device lives for one run: the next one starts from power-on state again, and the
  // observers below (locals) are never called after this function returns.
  struct Retire {
    Impl& m;
    ~Retire() {
      m.host.reset();
      m.dev.reset();
    }
  } retire{m};

  RunResult result;
  for (const compiler::Layer& y : m.loadable.layers) {
    LayerTiming t;
    t.name = y.name;
    t.op = y.op;
    t.bound = y.bound;
    t.estimated_cycles = y.estimated_cycles;
    result.layers.push_back(t);
  }
  Impl::Collector collector(m, result.layers, m.dev->now());
  m.dev->add_observer(&collector);
  std::unique_ptr<sim::npu::ChromeTraceWriter> trace;
  const std::string trace_path = std::move(m.trace_path);  // for this run only
  m.trace_path.clear();
  if (!trace_path.empty()) {
    trace = std::make_unique<sim::npu::ChromeTraceWriter>(m.config.clock_mhz);
    trace->set_namer([&m, &collector](uint32_t, uint32_t offset) {
      return m.span_name(collector.segment, offset);
    });
    m.dev->add_observer(trace.get());
  }

  try {
    for (size_t i = 0; i < m.inputs.size(); ++i) {
      const TensorEntry& t = m.loadable.tensors[m.loadable.inputs[i]];
      m.host->write(m.va_of(t), m.inputs[i].data(), t.bytes);
    }
    for (const compiler::Step& step : m.loadable.steps) {
      if (step.kind == compiler::Step::Kind::npu) {
        m.run_npu(step.index, result, collector);
      } else {
        const Clock::time_point c0 = Clock::now();
        m.run_cpu(step.index);
        result.cpu_segment_ms += ms_since(c0);
      }
    }
  } catch (...) {
    // The trace of a failed run is the most useful one; a failure to write it must not
    // hide the run's own error.
    if (trace) {
      try {
        trace->write(trace_path);
      } catch (const Error&) {
      }
    }
    throw;
  }
  if (trace) trace->write(trace_path);

  for (uint32_t o : m.loadable.outputs) {
    const TensorEntry& t = m.loadable.tensors[o];
    std::vector<uint8_t> bytes(t.bytes);
    m.host->read(m.va_of(t), bytes.data(), t.bytes);
    result.outputs.push_back(std::move(bytes));
  }
  for (LayerTiming& t : result.layers) t.cycles = t.last_cycle - t.first_cycle;
  result.npu_ms = static_cast<double>(result.npu_cycles) / (m.config.clock_mhz * 1e3);
  result.stats = m.dev->stats_json();
  result.sim_wall_ms = ms_since(t0);
  return result;
}

}  // namespace tessel::npu
