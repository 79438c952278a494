// tessel run: one model on one backend; writes outputs, prints timings and top-5.
#include <chrono>
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "tessel/io/files.hpp"

namespace tessel::tools {

namespace {
struct RunOptions {
  std::string model;
  std::string backend = "cpu";
  std::vector<std::string> inputs;
  std::string output_prefix;
  std::string report;
  std::string labels;
  int repeat = 1;
  int threads = 1;
};

int run(const RunOptions& o) {
  const ir::Graph graph = load_model(o.model);
  cpu::Executor ex(graph, registry_for(o.backend), o.threads);
  const auto inputs = make_inputs(ex, o.inputs);

  std::vector<double> wall_ms;
  for (int r = 0; r < o.repeat; ++r) {
    for (size_t i = 0; i < inputs.size(); ++i) ex.set_input(i, inputs[i].data(), inputs[i].size());
    ex.reset_state();
    const auto t0 = std::chrono::steady_clock::now();
    ex.run();
    const auto t1 = std::chrono::steady_clock::now();
    wall_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
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

  nlohmann::json top5 = nlohmann::json::array();
  if (!o.labels.empty()) {
    const auto labels = io::read_labels(o.labels);
    const auto best = top_k(ex.output_tensor(0), ex.output_data(0), 5);
    for (size_t r = 0; r < best.size(); ++r) {
      const std::string label = best[r].index < labels.size() ? labels[best[r].index] : "?";
      std::printf("%zu %.6f %zu %s\n", r + 1, best[r].score, best[r].index, label.c_str());
      top5.push_back({{"rank", r + 1}, {"score", best[r].score}, {"index", best[r].index}, {"label", label}});
    }
  }

  if (!o.report.empty()) {
    nlohmann::json report = {{"model", o.model},       {"backend", o.backend},
                             {"threads", o.threads},    {"repeat", o.repeat},
                             {"wall_ms", med},          {"wall_ms_runs", wall_ms},
                             {"inputs", o.inputs},      {"outputs", outputs}};
    if (!o.labels.empty()) report["top5"] = top5;
    const std::string text = report.dump(2) + "\n";
    io::write_file(o.report, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  }
  return 0;
}
}  // namespace

void add_run_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Run a model and write its outputs");
  cmd->add_option("model", o->model, "Model file (.tflite)")->required();
  cmd->add_option("--backend", o->backend, "ref (reference kernels) or cpu (fast exact kernels)")
      ->check(CLI::IsMember({"ref", "cpu"}));
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
