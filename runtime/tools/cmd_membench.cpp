// tessel membench: drives the DRAM memory system alone with a synthetic pattern and reports
// what the configuration delivers (bandwidth, latency, row hits) and how fast the model runs.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "tessel/io/files.hpp"
#include "tessel/ir/error.hpp"
#include "tessel/sim/mem/membench.hpp"
#include "tessel/sim/npu/config.hpp"

namespace tessel::tools {

namespace {
struct MembenchOptions {
  std::string arch;
  std::string pattern = "seq-read";
  uint64_t bytes = uint64_t{64} << 20;
  uint32_t seed = 1;
  std::string json;
};

// --arch takes a DRAM spec (preset or file) or an NPU configuration (preset or file), whose
// memory system is then benchmarked.
sim::mem::DramConfig resolve_dram(const std::string& arch) {
  const std::vector<std::string> npu = sim::npu::npu_preset_names();
  if (std::find(npu.begin(), npu.end(), arch) != npu.end())
    return sim::npu::load_npu_preset_or_file(arch).dram;
  try {
    return sim::mem::load_dram_preset_or_file(arch);
  } catch (const Error& dram_error) {
    if (std::filesystem::exists(arch)) {
      try {
        return sim::npu::load_npu_config(arch).dram;
      } catch (const Error&) {
        // Report the DRAM parser's complaint: the file is neither kind.
      }
    }
    std::string names;
    for (const auto& n : npu) names += (names.empty() ? "" : ", ") + n;
    throw Error(std::string(dram_error.what()) + " (NPU presets are accepted too: " + names + ")");
  }
}

int membench(const MembenchOptions& o) {
  namespace mem = sim::mem;
  const mem::DramConfig config = resolve_dram(o.arch);
  const mem::Pattern pattern = mem::parse_pattern(o.pattern);
  const mem::MembenchResult r = mem::run_membench(config, pattern, o.bytes, o.seed);
  nlohmann::json j = mem::membench_json(r);
  j["config"] = r.config_name;
  j["pattern"] = o.pattern;
  j["bytes"] = o.bytes;
  j["requests"] = r.requests;
  j["total_cycles"] = r.total_cycles;
  j["host_seconds"] = r.host_seconds;
  const std::string text = j.dump(2) + "\n";
  if (!o.json.empty()) io::write_file(o.json, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  std::printf("%s %s: %.2f of %.2f GB/s (%.1f %%), latency mean %.1f ns p99 %.1f ns, row hits %.1f %%, "
              "%.2f M requests/s simulated\n",
              r.config_name.c_str(), o.pattern.c_str(), j["achieved_gbps"].get<double>(),
              j["peak_gbps"].get<double>(), 100 * j["efficiency"].get<double>(),
              j["latency_ns"]["mean"].get<double>(), j["latency_ns"]["p99"].get<double>(),
              100 * j["row_hit_rate"].get<double>(), j["requests_per_second"].get<double>() / 1e6);
  return 0;
}
}  // namespace

void add_membench_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<MembenchOptions>();
  CLI::App* cmd = app.add_subcommand("membench", "Drive the DRAM memory system alone with a synthetic pattern");
  cmd->add_option("--arch", o->arch,
                  "DRAM preset (ddr4-3200, lpddr4x-4266, lpddr5-6400, hbm2), NPU preset (its memory system), or a DRAM/NPU config YAML file")
      ->required();
  cmd->add_option("--pattern", o->pattern, "seq-read, seq-write, random-read or random-mixed")
      ->check(CLI::IsMember({"seq-read", "seq-write", "random-read", "random-mixed"}));
  cmd->add_option("--bytes", o->bytes, "Bytes to transfer")->check(CLI::Range(uint64_t{64}, uint64_t{1} << 40));
  cmd->add_option("--seed", o->seed, "Seed of the random patterns");
  cmd->add_option("--json", o->json, "Write the results here");
  cmd->callback([o, &action] { action = [o] { return membench(*o); }; });
}

}  // namespace tessel::tools
