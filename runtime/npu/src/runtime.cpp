#include "tessel/runtime/runtime.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <chrono>
#include <cstdio>
#include <utility>

#include "tessel/cpu/executor.hpp"
#include "tessel/cpu/op_registry.hpp"
#include "tessel/ir/error.hpp"
#include "tessel/sim/npu/chrome_trace.hpp"
#include "tessel/driver/sim_npu.hpp"
#include "tessel_accel.h"
#include "tessel_isa_commands.hpp"
#include "tessel_npu_isa.h"

namespace tessel::rt {
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


std::string errno_name(int err) {
  switch (-err) {
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EEXIST: return "EEXIST";
    case EBUSY: return "EBUSY";
    case EFAULT: return "EFAULT";
    case EAGAIN: return "EAGAIN";
    case ETIMEDOUT: return "ETIMEDOUT";
    default: return "errno " + std::to_string(-err);
  }
}

const char* submit_reason(uint32_t r) {
  switch (r) {
    case TESSEL_SUBMIT_BAD_OPCODE: return "unknown opcode";
    case TESSEL_SUBMIT_BAD_LENGTH: return "wrong command length";
    case TESSEL_SUBMIT_BAD_FIELD: return "reserved field set or empty DMA";
    case TESSEL_SUBMIT_NO_END: return "the stream does not end with END";
    case TESSEL_SUBMIT_OUT_OF_BOUNDS: return "a DMA reaches outside the job's buffers";
    case TESSEL_SUBMIT_READ_ONLY: return "a DMA_STORE into a read-only buffer";
    default: return "";
  }
}

const char* job_status_name(uint32_t s) {
  switch (s) {
    case TESSEL_JOB_DONE: return "done";
    case TESSEL_JOB_MMU_FAULT: return "MMU fault";
    case TESSEL_JOB_INVALID_COMMAND: return "invalid command";
    case TESSEL_JOB_TIMEOUT: return "timeout (device reset)";
    case TESSEL_JOB_DMA_ERROR: return "DMA error";
    case TESSEL_JOB_CANCELLED: return "cancelled";
    default: return "unfinished";
  }
}

}  // namespace

// ------------------------------------------------------------------------------ Device

std::shared_ptr<Device> Device::open(const sim::npu::NpuConfig& config, int threads,
                                     std::shared_ptr<sim::npu::FunctionalUnit> functional) {
  std::shared_ptr<Device> d(new Device);
  d->uri_ = "sim://" + config.name;
  d->sim_ = std::make_unique<driver::SimNpu>(config, std::max(1, threads), std::move(functional));
  d->fd_ = d->sim_->open();
  if (d->fd_ < 0) throw Error("tessel: cannot open a context on " + d->uri_ + ": " + errno_name(d->fd_));
  return d;
}

std::shared_ptr<Device> Device::open(const std::string& uri, int threads) {
  const std::string scheme = "sim://";
  if (uri.compare(0, scheme.size(), scheme) != 0) {
    throw Error("device URI '" + uri + "': only sim://PRESET or sim://CONFIG.yaml is supported");
  }
  const std::string what = uri.substr(scheme.size());
  if (what.empty()) throw Error("device URI '" + uri + "' names no preset or configuration file");
  std::shared_ptr<Device> d = open(sim::npu::load_npu_preset_or_file(what), threads);
  d->uri_ = uri;
  return d;
}

Device::~Device() {
  if (sim_ && fd_ >= 0) sim_->close(fd_);
}

const sim::npu::NpuConfig& Device::config() const { return sim_->config(); }

uint64_t Device::param(uint32_t p) {
  tessel_get_param a{};
  a.param = p;
  const int rc = sim_->ioctl(fd_, TESSEL_IOCTL_GET_PARAM, &a);
  if (rc != 0) throw Error("GET_PARAM " + std::to_string(p) + ": " + errno_name(rc));
  return a.value;
}

// ------------------------------------------------------------------------------- Model

struct Model::Impl {
  std::shared_ptr<Device> device;
  driver::SimNpu* npu = nullptr;
  int fd = -1;
  compiler::Loadable loadable;
  int threads = 1;
  std::vector<std::unique_ptr<cpu::Executor>> executors;  // per CPU segment
  std::vector<std::vector<uint8_t>> inputs;                // per model input
  std::string trace_path;
  uint64_t timeout_ns = 0;
  std::mutex run_mu;  // one run at a time per model (they share the buffers)
  // Per region: its BO handle and host mapping; the command stream's BO.
  std::vector<uint32_t> region_bo;
  std::vector<uint8_t*> region_ptr;
  uint32_t cmd_bo = 0;
  // Layers with commands, sorted by first word: {first_word, end_word, layer index}.
  struct Span {
    uint32_t first, end;
    size_t layer;
  };
  std::vector<Span> spans;

  // Per-layer accounting of retired commands, done as they retire (on the device
  // thread). One job runs at a time per model and jobs of other contexts are skipped by
  // their job id, so the segment being run tells which words an offset refers to.
  class Collector final : public sim::npu::INpuObserver {
   public:
    Collector(const Impl& impl, std::vector<LayerTiming>& layers, uint64_t origin)
        : impl_(impl), layers_(layers), origin_(origin), seen_(layers.size(), 0) {}
    uint32_t segment = 0;  // set before each job is submitted
    long last_layer = -1;  // of the last retired command (names a hang's neighbourhood)
    void on_command(const sim::npu::CommandRecord& r) override {
      if (r.context != context_) return;  // another model's job on the same device
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
    void set_context(uint32_t c) { context_ = c; }

   private:
    const Impl& impl_;
    std::vector<LayerTiming>& layers_;
    uint64_t origin_;
    std::vector<char> seen_;  // per layer: a command was attributed to it
    uint32_t context_ = 0;
  };

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

  uint8_t* host_of(const TensorEntry& t) const { return region_ptr[t.region] + t.offset; }

  uint32_t create_bo(uint64_t bytes, uint32_t va, bool read_only, const std::string& what,
                     uint8_t** ptr) {
    tessel_bo_create c{};
    c.size = std::max<uint64_t>(bytes, 1);
    c.va = va;
    c.npu_read_only = read_only ? 1 : 0;
    int rc = npu->ioctl(fd, TESSEL_IOCTL_BO_CREATE, &c);
    if (rc != 0) {
      throw Error("loadable '" + loadable.model + "': cannot map " + what +
                  (va ? " at " + hex(va) : std::string()) + " (" + std::to_string(bytes) +
                  " bytes): " + errno_name(rc) +
                  (rc == -EEXIST ? " (it overlaps another region)" : ""));
    }
    tessel_bo_mmap m{};
    m.handle = c.handle;
    rc = npu->ioctl(fd, TESSEL_IOCTL_BO_MMAP, &m);
    if (rc == 0) *ptr = static_cast<uint8_t*>(npu->mmap(fd, m.offset, c.size, &rc));
    if (rc != 0 || *ptr == nullptr) throw Error("cannot mmap " + what + ": " + errno_name(rc));
    return c.handle;
  }

  // One span per layer that ran on the NPU, on the trace's "layers" track.
  static void add_layer_spans(sim::npu::ChromeTraceWriter& trace, const RunResult& r,
                              uint64_t origin) {
    for (const LayerTiming& t : r.layers) {
      if (t.last_cycle == 0) continue;  // no commands (CPU or folded away)
      trace.add_layer(t.name, t.op, origin + t.first_cycle, origin + t.last_cycle, t.macs,
                      t.dram_bytes);
    }
  }

  [[noreturn]] void fail_job(uint32_t segment, const tessel_job_status_args& st,
                             long last_layer) const;
  void run_npu(uint32_t segment, RunResult& result, Collector& collector);
  void run_cpu(uint32_t segment);
  RunResult run();
};

// Why an NPU job failed, in words: the driver's status, the layer and the command.
void Model::Impl::fail_job(uint32_t segment, const tessel_job_status_args& st,
                           long last_layer) const {
  const std::string seg = "NPU segment #" + std::to_string(segment);
  if (st.status == TESSEL_JOB_TIMEOUT) {
    std::string msg = seg + " hung: timed out after " + std::to_string((st.end_ns - st.start_ns) / 1000) +
                      " us of device time and the device was reset (a hang: e.g. a SEM_WAIT "
                      "that nothing signals)";
    if (last_layer >= 0) {
      msg += "; the last command retired belongs to layer '" +
             loadable.layers[static_cast<size_t>(last_layer)].name + "'";
    } else {
      msg += "; no command retired";
    }
    throw Error(msg);
  }
  const compiler::NpuSegment& n = loadable.npu_segments[segment];
  const uint64_t word = uint64_t{n.first_word} + st.error_offset / 4;
  std::string msg = "NPU error";
  const long li = st.error_code == TESSEL_ERROR_CODE_BAD_RING_ENTRY ? -1 : layer_at(segment, st.error_offset);
  if (li >= 0) {
    const compiler::Layer& y = loadable.layers[static_cast<size_t>(li)];
    msg += " in layer '" + y.name + "' (" + y.op + ")";
  }
  msg += ": " + std::string(job_status_name(st.status));
  if (st.error_code != 0) {
    msg += ", " + std::string(isa::to_string(static_cast<isa::ErrorCode>(st.error_code))) + " on " +
           (st.error_engine < sim::npu::kEngines
                ? isa::to_string(static_cast<isa::Engine>(st.error_engine))
                : "the command processor");
  }
  msg += ", " + seg + ", command word " + std::to_string(word) + " (byte offset " +
         std::to_string(st.error_offset) + " in the job)";
  if (st.status == TESSEL_JOB_MMU_FAULT || st.status == TESSEL_JOB_DMA_ERROR) {
    msg += ", fault address " + hex(st.fault_addr);
  }
  if (word < uint64_t{n.first_word} + n.word_count) {
    const isa::DecodeResult d = isa::decode(loadable.commands.data() + word,
                                            n.first_word + n.word_count - word);
    if (d.ok) msg += " [" + isa::disassemble(d.command) + "]";
  }
  throw Error(msg);
}

void Model::Impl::run_npu(uint32_t segment, RunResult& result, Collector& collector) {
  const compiler::NpuSegment& n = loadable.npu_segments[segment];
  std::vector<uint32_t> bos(region_bo);
  tessel_submit s{};
  s.cmd_handle = cmd_bo;
  s.cmd_offset = n.first_word * 4;
  s.cmd_bytes = n.word_count * 4;
  s.bo_count = static_cast<uint32_t>(bos.size());
  s.bo_handles = reinterpret_cast<uintptr_t>(bos.data());
  s.timeout_ns = timeout_ns;
  collector.segment = segment;
  const int rc = npu->ioctl(fd, TESSEL_IOCTL_SUBMIT, &s);
  if (rc != 0) {
    std::string msg = "NPU segment #" + std::to_string(segment) + ": the driver refused the job: " +
                      errno_name(rc);
    if (s.error_reason != 0) {
      const uint64_t word = uint64_t{n.first_word} + s.error_offset / 4;
      msg += ", " + std::string(submit_reason(s.error_reason)) + " at command word " +
             std::to_string(word);
      const long li = layer_at(segment, s.error_offset);
      if (li >= 0) msg += " (layer '" + loadable.layers[static_cast<size_t>(li)].name + "')";
      if (word < uint64_t{n.first_word} + n.word_count) {
        const isa::DecodeResult d = isa::decode(loadable.commands.data() + word,
                                                n.first_word + n.word_count - word);
        if (d.ok) msg += " [" + isa::disassemble(d.command) + "]";
      }
    }
    throw Error(msg);
  }
  tessel_wait w{};
  w.fence = s.fence;
  w.timeout_ns = ~uint64_t{0};
  int wrc = npu->ioctl(fd, TESSEL_IOCTL_WAIT, &w);
  if (wrc != 0) throw Error("waiting for NPU segment #" + std::to_string(segment) + ": " + errno_name(wrc));
  tessel_job_status_args st{};
  st.fence = s.fence;
  wrc = npu->ioctl(fd, TESSEL_IOCTL_JOB_STATUS, &st);
  if (wrc != 0) throw Error("JOB_STATUS: " + errno_name(wrc));
  if (st.status != TESSEL_JOB_DONE) fail_job(segment, st, collector.last_layer);
  result.npu_cycles += st.cycles;
  sim::npu::Counters c{};
  tessel_perf p{};
  p.fence = s.fence;
  p.values = reinterpret_cast<uintptr_t>(c.data());
  p.count = static_cast<uint32_t>(c.size());
  wrc = npu->ioctl(fd, TESSEL_IOCTL_PERF, &p);
  if (wrc != 0) throw Error("PERF: " + errno_name(wrc));
  for (size_t i = 0; i < c.size(); ++i) result.counters[i] += c[i];
}

// A CPU segment works on the bytes in device memory (through the arena's mapping): its
// inputs are where an NPU job or an earlier CPU segment left them, its outputs go back
// for the steps after it.
void Model::Impl::run_cpu(uint32_t segment) {
  const compiler::CpuSegment& c = loadable.cpu_segments[segment];
  cpu::Executor& ex = *executors[segment];
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const TensorEntry& t = loadable.tensors[c.inputs[i]];
    ex.set_input(i, host_of(t), t.bytes);
  }
  try {
    ex.run();
  } catch (const Error& e) {
    throw Error("CPU segment #" + std::to_string(segment) + ": " + e.what());
  }
  for (size_t i = 0; i < c.outputs.size(); ++i) {
    const TensorEntry& t = loadable.tensors[c.outputs[i]];
    std::memcpy(host_of(t), ex.output_data(i), ex.output_bytes(i));
  }
}

RunResult Model::Impl::run() {
  std::lock_guard<std::mutex> one_at_a_time(run_mu);
  const Clock::time_point t0 = Clock::now();
  RunResult result;
  for (const compiler::Layer& y : loadable.layers) {
    LayerTiming t;
    t.name = y.name;
    t.op = y.op;
    t.bound = y.bound;
    t.estimated_cycles = y.estimated_cycles;
    result.layers.push_back(t);
  }
  uint64_t origin = 0;
  npu->with_device([&](sim::npu::Device& d) { origin = d.now(); });
  Collector collector(*this, result.layers, origin);
  collector.set_context(static_cast<uint32_t>(npu->context_of(fd)));
  std::unique_ptr<sim::npu::ChromeTraceWriter> trace;
  const std::string path = std::move(trace_path);  // for this run only
  trace_path.clear();
  if (!path.empty()) {
    trace = std::make_unique<sim::npu::ChromeTraceWriter>(device->config().clock_mhz);
    trace->set_namer([this, &collector](uint32_t, uint32_t offset) {
      return span_name(collector.segment, offset);
    });
  }
  npu->with_device([&](sim::npu::Device& d) {
    d.add_observer(&collector);
    if (trace) d.add_observer(trace.get());
  });
  // The observers are locals: detach them however the run ends.
  struct Detach {
    Impl& m;
    Collector& c;
    sim::npu::ChromeTraceWriter* t;
    ~Detach() {
      m.npu->with_device([&](sim::npu::Device& d) {
        d.remove_observer(&c);
        if (t) d.remove_observer(t);
      });
    }
  } detach{*this, collector, trace.get()};

  try {
    for (size_t i = 0; i < inputs.size(); ++i) {
      const TensorEntry& t = loadable.tensors[loadable.inputs[i]];
      std::memcpy(host_of(t), inputs[i].data(), t.bytes);
    }
    for (const compiler::Step& step : loadable.steps) {
      if (step.kind == compiler::Step::Kind::npu) {
        run_npu(step.index, result, collector);
      } else {
        const Clock::time_point c0 = Clock::now();
        run_cpu(step.index);
        result.cpu_segment_ms += ms_since(c0);
      }
    }
  } catch (...) {
    // The trace of a failed run is the most useful one; a failure to write it must not
    // hide the run's own error.
    if (trace) {
      add_layer_spans(*trace, result, origin);
      try {
        trace->write(path);
      } catch (const Error&) {
      }
    }
    throw;
  }
  if (trace) {
    add_layer_spans(*trace, result, origin);
    trace->write(path);
  }

  for (uint32_t o : loadable.outputs) {
    const TensorEntry& t = loadable.tensors[o];
    const uint8_t* p = host_of(t);
    result.outputs.emplace_back(p, p + t.bytes);
  }
  for (LayerTiming& t : result.layers) t.cycles = t.last_cycle - t.first_cycle;
  result.npu_ms = static_cast<double>(result.npu_cycles) / (device->config().clock_mhz * 1e3);
  npu->with_device([&](sim::npu::Device& d) { result.stats = d.stats_json(); });
  result.sim_wall_ms = ms_since(t0);
  return result;
}

Model::Model(std::shared_ptr<Device> device, const compiler::Loadable& loadable, int cpu_threads)
    : impl_(std::make_unique<Impl>()) {
  if (!device) throw Error("Model: no device");
  const uint64_t device_hash = sim::npu::npu_config_hash(device->config());
  if (loadable.hardware_hash != device_hash) {
    throw Error("model compiled for '" + loadable.hardware_name + "' (hash " +
                hex(loadable.hardware_hash) + ") but the device is '" + device->config().name +
                "' (hash " + hex(device_hash) + ")");
  }
  // The driver's view of the same fact (CONFIG_HASH register: the low 32 bits).
  const uint64_t reg_hash = device->param(TESSEL_PARAM_CONFIG_HASH);
  if (reg_hash != (loadable.hardware_hash & 0xFFFFFFFFu)) {
    throw Error("model compiled for '" + loadable.hardware_name + "' but the device reports " +
                "configuration hash " + hex(reg_hash));
  }
  check_loadable(loadable);
  Impl& m = *impl_;
  m.device = std::move(device);
  m.npu = &m.device->sim();
  m.loadable = loadable;
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

  m.fd = m.npu->open();
  if (m.fd < 0) throw Error("cannot open a context on " + m.device->uri() + ": " + errno_name(m.fd));
  try {
    for (const Region& r : m.loadable.regions) {
      const bool constant = r.kind == Region::Kind::constant;
      uint8_t* p = nullptr;
      m.region_bo.push_back(m.create_bo(r.bytes, r.va, constant, "region '" + r.name + "'", &p));
      m.region_ptr.push_back(p);
      // The arena needs no writing: the driver hands out zeroed memory.
      if (constant && r.bytes > 0) std::memcpy(p, r.data.data(), r.bytes);
    }
    uint8_t* p = nullptr;
    m.cmd_bo = m.create_bo(m.loadable.commands.size() * 4, 0, true, "the command stream", &p);
    std::memcpy(p, m.loadable.commands.data(), m.loadable.commands.size() * 4);
  } catch (...) {
    m.npu->close(m.fd);
    throw;
  }
}

Model::~Model() {
  if (impl_ && impl_->npu && impl_->fd >= 0) impl_->npu->close(impl_->fd);
}

const compiler::Loadable& Model::loadable() const { return impl_->loadable; }
size_t Model::num_inputs() const { return impl_->loadable.inputs.size(); }
size_t Model::num_outputs() const { return impl_->loadable.outputs.size(); }

const compiler::TensorEntry& Model::input(size_t i) const {
  if (i >= num_inputs()) {
    throw Error("input index " + std::to_string(i) + " out of range (" +
                std::to_string(num_inputs()) + " inputs)");
  }
  return impl_->loadable.tensors[impl_->loadable.inputs[i]];
}

const compiler::TensorEntry& Model::output(size_t i) const {
  if (i >= num_outputs()) {
    throw Error("output index " + std::to_string(i) + " out of range (" +
                std::to_string(num_outputs()) + " outputs)");
  }
  return impl_->loadable.tensors[impl_->loadable.outputs[i]];
}

void Model::set_input(size_t i, const void* data, size_t bytes) {
  const TensorEntry& t = input(i);
  if (bytes != t.bytes) {
    throw Error("input #" + std::to_string(i) + " '" + t.name + "' " + ir::dtype_name(t.dtype) +
                shape_str(t.shape) + " takes " + std::to_string(t.bytes) + " bytes, got " +
                std::to_string(bytes));
  }
  std::lock_guard<std::mutex> lock(impl_->run_mu);
  std::copy_n(static_cast<const uint8_t*>(data), bytes, impl_->inputs[i].begin());
}

RunResult Model::run() { return impl_->run(); }

std::future<RunResult> Model::run_async() {
  Impl* m = impl_.get();
  return std::async(std::launch::async, [m] { return m->run(); });
}

void Model::set_trace(const std::string& chrome_trace_path) {
  std::lock_guard<std::mutex> lock(impl_->run_mu);
  impl_->trace_path = chrome_trace_path;
}

void Model::set_job_timeout_ns(uint64_t ns) {
  std::lock_guard<std::mutex> lock(impl_->run_mu);
  impl_->timeout_ns = ns;
}

}  // namespace tessel::rt
