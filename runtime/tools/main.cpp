// tessel: the command-line tool. `tessel --help` lists the subcommands.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "tessel/ir/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Tessel: NPU simulator, compiler and CPU reference for quantized models"};
  app.require_subcommand(1);
  tessel::tools::Action action;
  tessel::tools::add_run_command(app, action);
  tessel::tools::add_bench_command(app, action);
  tessel::tools::add_bench_conv_command(app, action);
  tessel::tools::add_membench_command(app, action);
  tessel::tools::add_presets_command(app, action);
  tessel::tools::add_simbench_command(app, action);
  tessel::tools::add_compile_command(app, action);
  tessel::tools::add_disasm_command(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return action();
  } catch (const tessel::Error& e) {
    std::fprintf(stderr, "tessel: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tessel: internal error: %s\n", e.what());
    return 2;
  }
}
