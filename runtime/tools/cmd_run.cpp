// tessel run: one model on one backend; writes outputs, prints timings and top-5.
#include <algorithm>
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "tessel/compiler/compile.hpp"
#include "tessel/io/files.hpp"
#include "tessel/ir/error.hpp"
#include "tessel/npu/sim_runner.hpp"
#include "tessel/sim/npu/config.hpp"

namespace tessel::tools {

namespace {
struct RunOptions {
  std::string model;
  std::string backend = "npu";  // the default since the driver/runtime landed (issue 5)
  std::vector<std::string> inputs;
  std::string output_prefix;
  std::string report;
  std::string labels;
  int repeat = 1;
  int threads = 1;
  std::string arch = "default";  // npu backend
  std::string trace;             // npu backend: Chrome/Perfetto trace
};

void write_json(const std::string& path, const nlohmann::json& j) {
  const std::string text = j.dump(2) + "\n";
  io::write_file(path, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

nlohmann::json print_top5(const std::string& labels_file, const ir::Tensor& t, const uint8_t* data) {
  nlohmann::json top5 = nlohmann::json::array();
  if (labels_file.empty()) return top5;
  const auto labels = io::read_labels(labels_file);
  const auto best = top_k(t, data, 5);
  for (size_t r = 0; r < best.size(); ++r) {
    const std::string label = best[r].index < labels.size() ? labels[best[r].index] : "?";
    std::printf("%zu %.6f %zu %s\n", r + 1, best[r].score, best[r].index, label.c_str());
    top5.push_back({{"rank", r + 1}, {"score", best[r].score}, {"index", best[r].index}, {"label", label}});
  }
  return top5;
}

ir::Tensor tensor_of(const compiler::TensorEntry& e) {
  ir::Tensor t;
  t.name = e.name;
  t.dtype = e.dtype;
  t.shape = e.shape;
  t.quant = e.quant;
  return t;
}

// The NPU backend: compile for --arch (or load a compiled .tsl), run on the simulated NPU
// (CPU-fallback segments on the cpu kernels), check every output against the reference
// kernels byte for byte, and compare with the cpu backend's wall time for the same inputs.
// A .tsl carries no model graph: then there is no reference check and no cpu timing.
int run_npu(const RunOptions& o) {
  const bool loadable_file = io::ends_with(o.model, ".tsl");
  const sim::npu::NpuConfig hw = sim::npu::load_npu_preset_or_file(o.arch);
  std::unique_ptr<ir::Graph> graph;
  compiler::CompileResult compiled;
  if (loadable_file) {
    compiled.loadable = compiler::load_loadable(o.model);
  } else {
    graph = std::make_unique<ir::Graph>(load_model(o.model));
    compiled = compiler::compile(*graph, hw);
  }
  npu::SimRunner runner(compiled.loadable, hw, o.threads);
  std::unique_ptr<cpu::Executor> ref, fast;
  if (graph) {
    ref = std::make_unique<cpu::Executor>(*graph, cpu::ref_registry(), 1);
    fast = std::make_unique<cpu::Executor>(*graph, cpu::cpu_registry(), o.threads);
  }
  std::vector<ir::Tensor> in_tensors, out_tensors;
  for (size_t i = 0; i < runner.num_inputs(); ++i) in_tensors.push_back(tensor_of(runner.input(i)));
  for (size_t i = 0; i < runner.num_outputs(); ++i) out_tensors.push_back(tensor_of(runner.output(i)));
  const auto inputs = make_inputs(in_tensors, o.inputs);
  for (size_t i = 0; i < inputs.size(); ++i) {
    runner.set_input(i, inputs[i].data(), inputs[i].size());
    if (ref) ref->set_input(i, inputs[i].data(), inputs[i].size());
    if (fast) fast->set_input(i, inputs[i].data(), inputs[i].size());
  }
  npu::RunResult res;
  std::vector<double> sim_ms, cpu_ms;
  // Each backend is timed in its own block of runs after an untimed warm-up run, the cpu
  // backend first (as `tessel bench` times it, in a process that has not yet simulated
  // anything). Alternating them run by run let every simulation evict the cpu backend's
  // weights and buffers from the caches, and timing the cpu backend after the simulations
  // (which map and unmap a device's memory per run) measured it 1.5x slower than a
  // process of its own does; both made the simulation's ratio to it look better.
  if (fast) {
    fast->reset_state();
    fast->run();  // warm-up
    for (int r = 0; r < o.repeat; ++r) cpu_ms.push_back(timed_run_ms(*fast));
  }
  // The simulation's warm-up: its functional model prepares each tile's kernels (oneDNN
  // primitives, packed weights) on first use and keeps them, as the cpu backend's executor
  // does when it is built; without it a single run's time was mostly that preparation.
  runner.run();
  if (!o.trace.empty()) runner.set_trace(o.trace);  // the first timed run writes it
  for (int r = 0; r < o.repeat; ++r) {
    res = runner.run();
    sim_ms.push_back(res.sim_wall_ms);
  }
  bool match = true;
  if (ref) {
    ref->reset_state();
    ref->run();
    match = res.outputs.size() == ref->num_outputs();
    for (size_t i = 0; match && i < res.outputs.size(); ++i)
      match = res.outputs[i].size() == ref->output_bytes(i) &&
              std::equal(res.outputs[i].begin(), res.outputs[i].end(), ref->output_data(i));
  }
  const auto counter = [&](isa::Perf p) { return res.counters[static_cast<size_t>(p)]; };
  const uint64_t macs = counter(isa::Perf::kMacs);
  const double util = res.npu_cycles ? double(macs) / (double(res.npu_cycles) * double(hw.macs_per_cycle())) : 0.0;
  const double sim_med = median(sim_ms), cpu_med = cpu_ms.empty() ? 0.0 : median(cpu_ms);
  // Roofline of a layer: max(MACs / array MACs per cycle, compulsory DRAM bytes / bytes per
  // cycle of the slower of the DRAM and the NPU's bus).
  const double bytes_per_cycle =
      std::min<double>(hw.dma.bus_bytes_per_cycle, hw.dram.peak_bandwidth_gbps() * 1e3 / hw.clock_mhz);
  nlohmann::json layers = nlohmann::json::array();
  double roofline_sum = 0;
  uint64_t finished = 0;  // latest end of the layers so far
  for (size_t i = 0; i < res.layers.size(); ++i) {
    const npu::LayerTiming& l = res.layers[i];
    const nlohmann::json c = graph ? compiled.report["layers"][i]
                                   : nlohmann::json{{"target", l.bound.empty() ? "cpu" : "npu"}};
    // The cycles this layer adds to the timeline: from the end of everything before it to
    // its own end (its span, `span_cycles`, also covers work overlapped with its neighbours).
    const uint64_t exclusive = l.cycles == 0 || l.last_cycle <= finished ? 0 : l.last_cycle - finished;
    finished = std::max(finished, l.last_cycle);
    nlohmann::json j = {{"name", l.name}, {"op", l.op}, {"target", c["target"]}, {"cycles", exclusive},
                        {"span_cycles", l.cycles}, {"first_cycle", l.first_cycle}, {"last_cycle", l.last_cycle},
                        {"macs", l.macs}, {"dram_bytes", l.dram_bytes}, {"bound", l.bound},
                        {"estimated_cycles", l.estimated_cycles}};
    if (c["target"] == "npu" && c.contains("macs")) {
      const double roof = std::max(double(c["macs"].get<uint64_t>()) / double(hw.macs_per_cycle()),
                                   double(c["compulsory_dram_bytes"].get<uint64_t>()) / bytes_per_cycle);
      j["roofline_cycles"] = roof;
      roofline_sum += roof;
    } else if (c.contains("reason")) {
      j["reason"] = c["reason"];
    }
    layers.push_back(j);
  }
  std::printf("model: %s\nbackend: npu (simulated %s, %u MHz)\n", o.model.c_str(), hw.name.c_str(), hw.clock_mhz);
  if (ref)
    std::printf("outputs bit-exact with the reference kernels: %s\n", match ? "yes" : "NO");
  else
    std::printf("outputs bit-exact with the reference kernels: not checked (a .tsl has no model graph)\n");
  std::printf("npu latency: %llu cycles = %.3f ms at %u MHz; MAC utilization %.1f %%\n",
              static_cast<unsigned long long>(res.npu_cycles), res.npu_ms, hw.clock_mhz, 100 * util);
  std::printf("dram: %llu bytes read, %llu bytes written\n",
              static_cast<unsigned long long>(counter(isa::Perf::kDramReadBytes)),
              static_cast<unsigned long long>(counter(isa::Perf::kDramWriteBytes)));
  if (fast)
    std::printf("cpu backend on this host: %.3f ms; npu/cpu time ratio %.3f; simulation wall time %.1f ms "
                "(median of %d)\n",
                cpu_med, cpu_med > 0 ? res.npu_ms / cpu_med : 0.0, sim_med, o.repeat);
  else
    std::printf("simulation wall time %.1f ms (median of %d)\n", sim_med, o.repeat);
  nlohmann::json outputs = nlohmann::json::array();
  for (size_t i = 0; i < res.outputs.size(); ++i) {
    const ir::Tensor& t = out_tensors.at(i);
    nlohmann::json out = {{"index", i}, {"name", t.name}, {"dtype", ir::dtype_name(t.dtype)}, {"shape", shape_json(t)}};
    if (!o.output_prefix.empty()) {
      const std::string path = o.output_prefix + "." + std::to_string(i) + ".bin";
      io::write_file(path, res.outputs[i].data(), res.outputs[i].size());
      out["file"] = path;
    }
    outputs.push_back(out);
  }
  const nlohmann::json top5 =
      res.outputs.empty() ? nlohmann::json::array() : print_top5(o.labels, out_tensors.at(0), res.outputs[0].data());
  if (!o.report.empty()) {
    nlohmann::json report = {{"model", o.model},
                             {"backend", "npu"},
                             {"arch", hw.name},
                             {"threads", o.threads},
                             {"repeat", o.repeat},
                             {"outputs_match_reference", ref ? nlohmann::json(match) : nlohmann::json(nullptr)},
                             {"npu_cycles", res.npu_cycles},
                             {"npu_ms", res.npu_ms},
                             {"clock_mhz", hw.clock_mhz},
                             {"mac_utilization", util},
                             {"dram_read_bytes", counter(isa::Perf::kDramReadBytes)},
                             {"dram_write_bytes", counter(isa::Perf::kDramWriteBytes)},
                             {"cpu_wall_ms", fast ? nlohmann::json(cpu_med) : nlohmann::json(nullptr)},
                             {"sim_wall_ms", sim_med},
                             {"sim_wall_ms_runs", sim_ms},
                             {"cpu_wall_ms_runs", cpu_ms},
                             {"device", "sim://" + o.arch},
                             {"npu_vs_cpu_time", fast && cpu_med > 0 ? nlohmann::json(res.npu_ms / cpu_med)
                                                                     : nlohmann::json(nullptr)},
                             {"sim_vs_cpu_time", fast && cpu_med > 0 ? nlohmann::json(sim_med / cpu_med)
                                                                     : nlohmann::json(nullptr)},
                             {"npu_cycles_per_host_second",
                              sim_med > 0 ? double(res.npu_cycles) / (sim_med / 1e3) : 0.0},
                             {"wall_ms", sim_med},
                             {"roofline_cycles", roofline_sum},
                             {"layers", layers},
                             {"inputs", o.inputs},
                             {"outputs", outputs},
                             {"stats", res.stats}};
    if (!o.labels.empty()) report["top5"] = top5;
    write_json(o.report, report);
  }
  return match ? 0 : 1;
}

int run(const RunOptions& o) {
  if (o.backend == "npu") return run_npu(o);
  if (!o.trace.empty()) throw Error("--trace needs --backend npu");
  const ir::Graph graph = load_model(o.model);
  cpu::Executor ex(graph, registry_for(o.backend), o.threads);
  const auto inputs = make_inputs(ex, o.inputs);

  std::vector<double> wall_ms;
  for (int r = 0; r < o.repeat; ++r) {
    for (size_t i = 0; i < inputs.size(); ++i) ex.set_input(i, inputs[i].data(), inputs[i].size());
    wall_ms.push_back(timed_run_ms(ex));
  }
  const double med = median(wall_ms);

  std::printf("model: %s\nbackend: %s (%d thread%s)\n", o.model.c_str(), o.backend.c_str(),
              o.threads, o.threads == 1 ? "" : "s");
  std::printf("wall_ms: %.3f (median of %d)\n", med, o.repeat);
  nlohmann::json outputs = nlohmann::json::array();
  for (size_t i = 0; i < ex.num_outputs(); ++i) {
    const ir::Tensor& t = ex.output_tensor(i);
    nlohmann::json out = {{"index", i}, {"name", t.name}, {"dtype", ir::dtype_name(t.dtype)},
                          {"shape", shape_json(t)}};
    if (!o.output_prefix.empty()) {
      const std::string path = o.output_prefix + "." + std::to_string(i) + ".bin";
      io::write_file(path, ex.output_data(i), ex.output_bytes(i));
      out["file"] = path;
    }
    std::printf("output %zu: %s %s\n", i, t.name.c_str(), describe_type(t).c_str());
    outputs.push_back(out);
  }

  const nlohmann::json top5 = print_top5(o.labels, ex.output_tensor(0), ex.output_data(0));

  if (!o.report.empty()) {
    nlohmann::json report = {{"model", o.model},       {"backend", o.backend},
                             {"threads", o.threads},    {"repeat", o.repeat},
                             {"wall_ms", med},          {"wall_ms_runs", wall_ms},
                             {"inputs", o.inputs},      {"outputs", outputs}};
    if (!o.labels.empty()) report["top5"] = top5;
    write_json(o.report, report);
  }
  return 0;
}
}  // namespace

void add_run_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Run a model and write its outputs");
  cmd->add_option("model", o->model, "Model file (.tflite; for --backend npu also a compiled .tsl)")->required();
  cmd->add_option("--backend", o->backend,
                  "npu (default: compiled, through the driver on the simulated NPU), ref (reference "
                  "kernels) or cpu (fast exact kernels)")
      ->check(CLI::IsMember({"ref", "cpu", "npu"}));
  cmd->add_option("--arch", o->arch, "npu backend: NPU preset (see `tessel presets`) or config YAML file");
  cmd->add_option("--trace", o->trace, "npu backend: write a Chrome/Perfetto trace (JSON) here");
  cmd->add_option("--input", o->inputs,
                  "Input file per model input, in order: raw tensor bytes or a .bmp image "
                  "(default: the goldens' xorshift pattern, seed 1)");
  cmd->add_option("--output", o->output_prefix, "Write output N to PREFIX.N.bin");
  cmd->add_option("--report", o->report, "Write a JSON report");
  cmd->add_option("--labels", o->labels, "Label file: print the top-5 classes of output 0");
  cmd->add_option("--repeat", o->repeat, "Run N times; wall_ms is the median")->check(CLI::Range(1, 100000));
  cmd->add_option("--threads", o->threads, "Threads for the cpu backend")->check(CLI::Range(1, 256));
  cmd->callback([o, &action] { action = [o] { return run(*o); }; });
}

}  // namespace tessel::tools
