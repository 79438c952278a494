// Question answered: does every shared model, compiled for every NPU preset and executed on
// the simulated NPU (with its CPU-fallback segments), reproduce the golden outputs byte for
// byte? (The goldens are TFLite's reference kernels' outputs; ../shared/goldens.)
//
// Each model is compiled once per preset and run on every golden input. Set
// TESSEL_NPU_GOLDEN_FILTER=substring to run only matching "model/preset" pairs.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tessel/compiler/compile.hpp"
#include "tessel/frontend/tflite.hpp"
#include "tessel/io/files.hpp"
#include "tessel/npu/sim_runner.hpp"
#include "tessel/sim/npu/config.hpp"

namespace fs = std::filesystem;
using namespace tessel;

namespace {

const fs::path kShared = TESSEL_SHARED_DIR;

// "" when equal, else a description of the first difference.
std::string compare(const std::vector<uint8_t>& want, const std::vector<uint8_t>& got) {
  if (want.size() != got.size())
    return "size " + std::to_string(got.size()) + ", golden " + std::to_string(want.size());
  size_t diffs = 0, first = 0;
  for (size_t i = 0; i < want.size(); ++i)
    if (want[i] != got[i] && diffs++ == 0) first = i;
  if (diffs == 0) return "";
  return std::to_string(diffs) + " of " + std::to_string(want.size()) + " bytes differ; first at byte " +
         std::to_string(first) + ": got " + std::to_string(got[first]) + ", golden " + std::to_string(want[first]);
}

}  // namespace

TEST_CASE("every model on every preset: NPU outputs equal the goldens byte for byte", "[npu][golden]") {
  const char* filter = std::getenv("TESSEL_NPU_GOLDEN_FILTER");
  std::map<std::string, std::vector<fs::path>> inputs;  // model -> input files
  for (const auto& dir : fs::directory_iterator(kShared / "goldens")) {
    if (!dir.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(dir.path()))
      if (io::ends_with(f.path().filename().string(), ".input.bin")) inputs[dir.path().filename().string()].push_back(f.path());
  }
  REQUIRE(inputs.size() >= 10);
  int runs = 0;
  for (auto& [model, files] : inputs) {
    std::sort(files.begin(), files.end());
    const ir::Graph g = tflite::import_file((kShared / "models" / "tflite" / (model + ".tflite")).string());
    for (const std::string& preset : sim::npu::npu_preset_names()) {
      const std::string key = model + "/" + preset;
      if (filter && key.find(filter) == std::string::npos) continue;
      INFO(key);
      const sim::npu::NpuConfig hw = sim::npu::load_npu_preset_or_file(preset);
      const compiler::CompileResult r = compiler::compile(g, hw);
      npu::SimRunner runner(r.loadable, hw);
      for (const fs::path& in : files) {
        const std::string stem = in.filename().string().substr(0, in.filename().string().size() - 10);
        INFO("input " << stem);
        const auto bytes = io::read_file(in.string());
        runner.set_input(0, bytes.data(), bytes.size());
        const npu::RunResult res = runner.run();
        for (size_t n = 0; n < res.outputs.size(); ++n) {
          const fs::path golden = in.parent_path() / (stem + ".output." + std::to_string(n) + ".bin");
          REQUIRE(fs::exists(golden));
          INFO("output " << n);
          CHECK(compare(io::read_file(golden.string()), res.outputs[n]) == "");
        }
        CHECK(res.npu_cycles > 0);
        ++runs;
      }
    }
  }
  CHECK(runs > 0);
}

// Question answered: does applying the functional effects on a worker thread (the default
// on a multi-core host, device.hpp) change anything a user sees? Real models, both ways.
TEST_CASE("functional effects on a worker thread: outputs, cycles and counters unchanged", "[npu][golden][async]") {
  const auto run_with = [](const char* async, const compiler::Loadable& loadable,
                           const sim::npu::NpuConfig& hw, const std::vector<uint8_t>& input) {
    setenv("TESSEL_SIM_ASYNC", async, 1);
    npu::SimRunner runner(loadable, hw);
    runner.set_input(0, input.data(), input.size());
    npu::RunResult res = runner.run();
    unsetenv("TESSEL_SIM_ASYNC");
    return res;
  };
  for (const std::string model : {"coral_mobilenet_v2_1.0_224_quant", "mlperf_tiny_kws_dscnn_kws_ref_model"}) {
    INFO(model);
    const ir::Graph g = tflite::import_file((kShared / "models" / "tflite" / (model + ".tflite")).string());
    const sim::npu::NpuConfig hw = sim::npu::load_npu_preset_or_file("default");
    const compiler::CompileResult r = compiler::compile(g, hw);
    std::vector<fs::path> files;
    for (const auto& f : fs::directory_iterator(kShared / "goldens" / model))
      if (io::ends_with(f.path().filename().string(), ".input.bin")) files.push_back(f.path());
    REQUIRE_FALSE(files.empty());
    std::sort(files.begin(), files.end());
    const auto input = io::read_file(files.front().string());
    const npu::RunResult one = run_with("0", r.loadable, hw, input);
    const npu::RunResult two = run_with("1", r.loadable, hw, input);
    REQUIRE(one.outputs.size() == two.outputs.size());
    for (size_t n = 0; n < one.outputs.size(); ++n) CHECK(compare(one.outputs[n], two.outputs[n]) == "");
    CHECK(one.npu_cycles == two.npu_cycles);
    CHECK(one.counters == two.counters);
    CHECK(one.stats == two.stats);
    REQUIRE(one.layers.size() == two.layers.size());
    for (size_t i = 0; i < one.layers.size(); ++i) {
      CHECK(one.layers[i].first_cycle == two.layers[i].first_cycle);
      CHECK(one.layers[i].last_cycle == two.layers[i].last_cycle);
    }
  }
}
