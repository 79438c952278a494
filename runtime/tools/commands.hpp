#pragma once
// The `tessel` subcommands. Each add_*_command registers its options; when its
// subcommand is chosen, parsing sets `action` to the command, which main() then runs.

#include <functional>

#include <CLI/CLI.hpp>

namespace tessel::tools {

using Action = std::function<int()>;

void add_run_command(CLI::App& app, Action& action);
void add_bench_command(CLI::App& app, Action& action);
void add_bench_conv_command(CLI::App& app, Action& action);
void add_membench_command(CLI::App& app, Action& action);
void add_presets_command(CLI::App& app, Action& action);
void add_simbench_command(CLI::App& app, Action& action);
void add_compile_command(CLI::App& app, Action& action);
void add_disasm_command(CLI::App& app, Action& action);

}  // namespace tessel::tools
