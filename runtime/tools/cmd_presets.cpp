// tessel presets: the bundled NPU configurations, one per line: name, then a one-line
// description (sim/configs/npu/<name>.yaml holds the parameters and their sources).
#include <cstdio>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "tessel/sim/npu/config.hpp"

namespace tessel::tools {

void add_presets_command(CLI::App& app, Action& action) {
  CLI::App* cmd = app.add_subcommand("presets", "List the bundled NPU hardware presets");
  cmd->callback([&action] {
    action = [] {
      for (const std::string& name : sim::npu::npu_preset_names()) {
        const sim::npu::NpuConfig c = sim::npu::load_npu_preset_or_file(name);
        std::printf("%s  %s\n", c.name.c_str(), c.description.c_str());
      }
      return 0;
    };
  });
}

}  // namespace tessel::tools
