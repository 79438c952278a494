// tessel compile: a quantized model to a `.tsl` loadable for one NPU configuration, with a
// per-layer report (op, shapes, MACs, tiles, estimated cycles, bound) and the operators
// that fall back to the CPU with their reasons.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "tessel/compiler/compile.hpp"
#include "tessel/io/files.hpp"
#include "tessel/ir/error.hpp"
#include "tessel/sim/npu/config.hpp"

namespace tessel::tools {

namespace {

struct CompileOptionsCli {
  std::string model, arch = "default", out, report, dump_after, supported_ops;
};

void write_text(const std::string& path, const std::string& text) {
  io::write_file(path, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

int compile_cmd(const CompileOptionsCli& o) {
  if (!o.supported_ops.empty()) {
    write_text(o.supported_ops, compiler::supported_ops_markdown());
    if (o.model.empty()) return 0;
  }
  if (o.model.empty()) throw Error("compile: give a MODEL (or only --supported-ops FILE)");
  if (o.out.empty()) throw Error("compile: give -o OUT.tsl");
  const ir::Graph g = load_model(o.model);
  const sim::npu::NpuConfig hw = sim::npu::load_npu_preset_or_file(o.arch);
  compiler::CompileOptions co;
  co.dump_after = o.dump_after;
  co.dump = &std::cout;
  const compiler::CompileResult r = compiler::compile(g, hw, co);
  compiler::save_loadable(r.loadable, o.out);
  if (!o.report.empty()) write_text(o.report, r.report.dump(2) + "\n");
  const auto& rep = r.report;
  std::printf("%s for %s: %llu NPU ops, %llu CPU ops, %.1f M MACs, estimated %llu cycles (%.3f ms), "
              "%zu command words, %.1f KiB constants, %.1f KiB arena -> %s\n",
              o.model.c_str(), hw.name.c_str(), static_cast<unsigned long long>(rep["npu_ops"].get<uint64_t>()),
              static_cast<unsigned long long>(rep["cpu_ops"].get<uint64_t>()), rep["macs"].get<double>() / 1e6,
              static_cast<unsigned long long>(rep["estimated_cycles"].get<uint64_t>()),
              rep["estimated_cycles"].get<double>() / (hw.clock_mhz * 1e3), r.loadable.commands.size(),
              rep["constant_bytes"].get<double>() / 1024, rep["arena_bytes"].get<double>() / 1024, o.out.c_str());
  for (const auto& f : rep["fallbacks"])
    std::printf("  CPU fallback: op #%llu %s '%s': %s\n", static_cast<unsigned long long>(f["index"].get<uint64_t>()),
                f["op"].get<std::string>().c_str(), f["name"].get<std::string>().c_str(),
                f["reason"].get<std::string>().c_str());
  return 0;
}

}  // namespace

void add_compile_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<CompileOptionsCli>();
  CLI::App* cmd = app.add_subcommand("compile", "Compile a quantized model into an NPU loadable (.tsl)");
  cmd->add_option("model", o->model, "Model file (.tflite)");
  cmd->add_option("--arch", o->arch, "NPU preset (see `tessel presets`) or config YAML file");
  cmd->add_option("-o,--output", o->out, "The loadable to write (.tsl)");
  cmd->add_option("--report", o->report, "Write the per-layer report (JSON) here");
  std::string passes;
  for (const auto& p : compiler::pass_names()) passes += (passes.empty() ? "" : ", ") + p;
  cmd->add_option("--dump-after", o->dump_after, "Print the compiler's state after this pass (" + passes + ")");
  cmd->add_option("--supported-ops", o->supported_ops, "Write the operator-support document (Markdown) here");
  cmd->callback([o, &action] { action = [o] { return compile_cmd(*o); }; });
}

}  // namespace tessel::tools
