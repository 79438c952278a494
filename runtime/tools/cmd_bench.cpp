// tessel bench: wall time of whole inferences and of each operator, as JSON.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "tessel/io/files.hpp"

namespace tessel::tools {

namespace {
struct BenchOptions {
  std::string model;
  std::string backend = "cpu";
  std::vector<std::string> inputs;
  std::string json;
  int repeat = 10;
  int warmup = 1;
  int threads = 1;
};

nlohmann::json stats(const std::vector<double>& v) {
  return {{"median_ms", median(v)},
          {"min_ms", *std::min_element(v.begin(), v.end())},
          {"max_ms", *std::max_element(v.begin(), v.end())}};
}

int bench(const BenchOptions& o) {
  const ir::Graph graph = load_model(o.model);
  cpu::Executor ex(graph, registry_for(o.backend), o.threads);
  const auto inputs = make_inputs(ex, o.inputs);
  for (size_t i = 0; i < inputs.size(); ++i) ex.set_input(i, inputs[i].data(), inputs[i].size());

  for (int w = 0; w < o.warmup; ++w) ex.run();
  std::vector<double> total;
  std::vector<std::vector<double>> per_op(graph.ops.size());
  std::vector<double> op_ms;
  for (int r = 0; r < o.repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    ex.run(&op_ms);
    const auto t1 = std::chrono::steady_clock::now();
    total.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    for (size_t i = 0; i < op_ms.size(); ++i) per_op[i].push_back(op_ms[i]);
  }

  nlohmann::json ops = nlohmann::json::array();
  for (size_t i = 0; i < graph.ops.size(); ++i) {
    nlohmann::json op = stats(per_op[i]);
    op["index"] = i;
    op["type"] = graph.ops[i].type_name;
    op["name"] = graph.ops[i].name;
    ops.push_back(op);
  }
  nlohmann::json report = stats(total);
  report["model"] = o.model;
  report["backend"] = o.backend;
  report["threads"] = o.threads;
  report["repeat"] = o.repeat;
  report["warmup"] = o.warmup;
  report["runs_ms"] = total;
  report["ops"] = ops;
  const std::string text = report.dump(2) + "\n";
  io::write_file(o.json, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  std::printf("%s %s threads=%d: median %.3f ms (min %.3f, max %.3f, %d runs)\n", o.model.c_str(),
              o.backend.c_str(), o.threads, report["median_ms"].get<double>(),
              report["min_ms"].get<double>(), report["max_ms"].get<double>(), o.repeat);
  return 0;
}
}  // namespace

void add_bench_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Time a model's inference and each operator");
  cmd->add_option("model", o->model, "Model file (.tflite)")->required();
  cmd->add_option("--backend", o->backend, "ref or cpu")->check(CLI::IsMember({"ref", "cpu"}));
  cmd->add_option("--input", o->inputs, "Input files (default: xorshift seed 1)");
  cmd->add_option("--json", o->json, "Write the results here")->required();
  cmd->add_option("--repeat", o->repeat, "Timed runs")->check(CLI::Range(1, 100000));
  cmd->add_option("--warmup", o->warmup, "Untimed runs first")->check(CLI::Range(0, 1000));
  cmd->add_option("--threads", o->threads, "Threads for the cpu backend")->check(CLI::Range(1, 256));
  cmd->callback([o, &action] { action = [o] { return bench(*o); }; });
}

}  // namespace tessel::tools
