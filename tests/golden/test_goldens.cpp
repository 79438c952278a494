// Question answered: do the `ref` and `cpu` backends reproduce, byte for byte, what
// TFLite's reference kernels computed for every shared model and input?
// Reads ../shared/goldens and ../shared/models in place.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tessel/cpu/executor.hpp"
#include "tessel/frontend/tflite.hpp"
#include "tessel/io/files.hpp"

namespace fs = std::filesystem;
using namespace tessel;

namespace {

const fs::path kShared = TESSEL_SHARED_DIR;

struct GoldenCase {
  std::string model;                // file stem
  std::string input;                // e.g. "grace_hopper"
  fs::path input_file;
  std::vector<fs::path> outputs;    // output.N.bin, N = 0, 1, ...
};

std::vector<GoldenCase> golden_cases() {
  std::vector<GoldenCase> cases;
  for (const auto& dir : fs::directory_iterator(kShared / "goldens")) {
    if (!dir.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(dir.path())) {
      const std::string name = f.path().filename().string();
      const std::string suffix = ".input.bin";
      if (!io::ends_with(name, suffix)) continue;
      GoldenCase c;
      c.model = dir.path().filename().string();
      c.input = name.substr(0, name.size() - suffix.size());
      c.input_file = f.path();
      for (int n = 0;; ++n) {
        fs::path out = dir.path() / (c.input + ".output." + std::to_string(n) + ".bin");
        if (!fs::exists(out)) break;
        c.outputs.push_back(out);
      }
      cases.push_back(c);
    }
  }
  std::sort(cases.begin(), cases.end(), [](const GoldenCase& a, const GoldenCase& b) {
    return a.model != b.model ? a.model < b.model : a.input < b.input;
  });
  return cases;
}

// "" when equal, else a description of the first difference.
std::string compare(const std::vector<uint8_t>& want, const uint8_t* got, size_t got_size) {
  if (want.size() != got_size)
    return "size " + std::to_string(got_size) + ", golden " + std::to_string(want.size());
  size_t diffs = 0, first = 0;
  for (size_t i = 0; i < want.size(); ++i)
    if (want[i] != got[i] && diffs++ == 0) first = i;
  if (diffs == 0) return "";
  return std::to_string(diffs) + " of " + std::to_string(want.size()) + " bytes differ; first at byte " +
         std::to_string(first) + ": got " + std::to_string(got[first]) + ", golden " +
         std::to_string(want[first]);
}

void check_backend(const cpu::OpRegistry& registry, const char* backend) {
  const auto cases = golden_cases();
  REQUIRE(cases.size() >= 35);  // the shared set: 10 models, 2-5 inputs each (35 in all)
  std::map<std::string, ir::Graph> graphs;
  for (const GoldenCase& c : cases) {
    INFO(backend << " backend, model " << c.model << ", input " << c.input);
    auto it = graphs.find(c.model);
    if (it == graphs.end())
      it = graphs.emplace(c.model, tflite::import_file((kShared / "models" / "tflite" / (c.model + ".tflite")).string())).first;
    cpu::Executor ex(it->second, registry, 2);
    const auto input = io::read_file(c.input_file.string());
    ex.set_input(0, input.data(), input.size());
    ex.run();
    REQUIRE(ex.num_outputs() == c.outputs.size());
    for (size_t n = 0; n < c.outputs.size(); ++n) {
      INFO("output " << n);
      CHECK(compare(io::read_file(c.outputs[n].string()), ex.output_data(n), ex.output_bytes(n)) == "");
    }
  }
}

}  // namespace

TEST_CASE("ref backend reproduces every golden output", "[golden][ref]") {
  check_backend(cpu::ref_registry(), "ref");
}

TEST_CASE("cpu backend reproduces every golden output", "[golden][cpu]") {
  check_backend(cpu::cpu_registry(), "cpu");
}
