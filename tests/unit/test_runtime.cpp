// The runtime (tessel/runtime/runtime.hpp and its C API tessel_runtime.h) on real models:
// device URIs, loading a .tsl through the driver, the hardware check, synchronous and
// asynchronous inference, several models on one device from several threads.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tessel/compiler/compile.hpp"
#include "tessel/compiler/loadable.hpp"
#include "tessel/frontend/tflite.hpp"
#include "tessel/io/files.hpp"
#include "tessel/ir/error.hpp"
#include "tessel/runtime/runtime.hpp"
#include "tessel/runtime/tessel_runtime.h"
#include "tessel_accel.h"
#include "tessel/sim/npu/config.hpp"

namespace fs = std::filesystem;
using namespace tessel;
using Catch::Matchers::Contains;

namespace {

const fs::path kShared = TESSEL_SHARED_DIR;

compiler::Loadable compile_for(const std::string& model, const std::string& preset) {
  const ir::Graph g = tflite::import_file((kShared / "models" / "tflite" / (model + ".tflite")).string());
  return compiler::compile(g, sim::npu::load_npu_preset_or_file(preset)).loadable;
}

std::vector<uint8_t> golden(const std::string& model, const std::string& file) {
  return io::read_file((kShared / "goldens" / model / file).string());
}

}  // namespace

TEST_CASE("device URIs: sim://PRESET and sim://FILE; anything else is refused", "[runtime]") {
  auto d = rt::Device::open("sim://ethos-u55-256");
  CHECK(d->config().name == "ethos-u55-256");
  CHECK(d->param(TESSEL_PARAM_MAC_ROWS) * d->param(TESSEL_PARAM_MAC_COLS) == d->config().macs_per_cycle());
  const std::string file = std::string(TESSEL_SOURCE_DIR) + "/sim/configs/npu/cube-4096.yaml";
  CHECK(rt::Device::open("sim://" + file)->config().name == "cube-4096");
  CHECK_THROWS_WITH(rt::Device::open("pcie://0"), Contains("sim://"));
  CHECK_THROWS_AS(rt::Device::open("sim://no-such-preset"), Error);
  CHECK_THROWS_WITH(rt::Device::open("sim://"), Contains("names no preset"));
}

TEST_CASE("a model on a device: golden outputs, then again on the same device", "[runtime]") {
  const std::string model = "tflm_person_detect";
  auto dev = rt::Device::open("sim://default");
  rt::Model m(dev, compile_for(model, "default"));
  for (const char* input : {"person", "no_person"}) {
    const auto in = golden(model, std::string(input) + ".input.bin");
    m.set_input(0, in.data(), in.size());
    const rt::RunResult r = m.run();
    REQUIRE(r.outputs.size() == 1);
    CHECK(r.outputs[0] == golden(model, std::string(input) + ".output.0.bin"));
    CHECK(r.npu_cycles > 0);
    CHECK(r.counters[0] == r.npu_cycles);  // PERF CYCLES of the jobs
  }
}

TEST_CASE("a model compiled for another configuration is refused, naming both", "[runtime]") {
  auto dev = rt::Device::open("sim://default");
  CHECK_THROWS_WITH(rt::Model(dev, compile_for("tflm_micro_speech_quantized", "ethos-u55-256")),
                    Contains("ethos-u55-256") && Contains("default"));
}

TEST_CASE("two models on one device, run asynchronously from two threads", "[runtime]") {
  auto dev = rt::Device::open("sim://default");
  const std::string a_name = "tflm_person_detect", b_name = "mlperf_tiny_kws_dscnn_kws_ref_model";
  rt::Model a(dev, compile_for(a_name, "default"));
  rt::Model b(dev, compile_for(b_name, "default"));
  std::vector<std::string> b_inputs;
  for (const auto& f : fs::directory_iterator(kShared / "goldens" / b_name)) {
    const std::string n = f.path().filename().string();
    if (n.size() > 10 && n.substr(n.size() - 10) == ".input.bin") b_inputs.push_back(n.substr(0, n.size() - 10));
  }
  REQUIRE(!b_inputs.empty());
  const auto a_in = golden(a_name, "person.input.bin");
  const auto b_in = golden(b_name, b_inputs[0] + ".input.bin");
  a.set_input(0, a_in.data(), a_in.size());
  b.set_input(0, b_in.data(), b_in.size());
  std::vector<uint8_t> a_out, b_out;
  std::thread ta([&] {
    for (int i = 0; i < 3; ++i) a_out = a.run_async().get().outputs.at(0);
  });
  std::thread tb([&] {
    for (int i = 0; i < 3; ++i) b_out = b.run().outputs.at(0);
  });
  ta.join();
  tb.join();
  CHECK(a_out == golden(a_name, "person.output.0.bin"));
  CHECK(b_out == golden(b_name, b_inputs[0] + ".output.0.bin"));
}

TEST_CASE("the C API: open, load, invoke (sync and async), outputs, errors", "[runtime][c-api]") {
  const std::string model = "tflm_person_detect";
  const fs::path tsl = fs::temp_directory_path() / "test_runtime_person_detect.tsl";
  compiler::save_loadable(compile_for(model, "default"), tsl.string());
  char err[512] = "";
  CHECK(tessel_rt_open("nope://x", err, sizeof err) == nullptr);
  CHECK_THAT(std::string(err), Contains("sim://"));
  tessel_rt_device* dev = tessel_rt_open("sim://default", err, sizeof err);
  REQUIRE(dev != nullptr);
  CHECK(tessel_rt_load(dev, "/nonexistent.tsl", err, sizeof err) == nullptr);
  CHECK_THAT(std::string(err), Contains("nonexistent"));
  tessel_rt_model* m = tessel_rt_load(dev, tsl.string().c_str(), err, sizeof err);
  INFO(err);
  REQUIRE(m != nullptr);
  REQUIRE(tessel_rt_num_inputs(m) == 1);
  REQUIRE(tessel_rt_num_outputs(m) == 1);
  const auto in = golden(model, "person.input.bin");
  CHECK(tessel_rt_input_bytes(m, 0) == in.size());
  CHECK(tessel_rt_input_bytes(m, 5) == 0);
  CHECK(tessel_rt_set_input(m, 0, in.data(), in.size() - 1, err, sizeof err) == -1);
  CHECK_THAT(std::string(err), Contains(std::to_string(in.size())));
  REQUIRE(tessel_rt_set_input(m, 0, in.data(), in.size(), err, sizeof err) == 0);
  std::vector<uint8_t> out(tessel_rt_output_bytes(m, 0));
  CHECK(tessel_rt_get_output(m, 0, out.data(), out.size(), err, sizeof err) == -1);  // nothing ran
  REQUIRE(tessel_rt_invoke(m, err, sizeof err) == 0);
  REQUIRE(tessel_rt_get_output(m, 0, out.data(), out.size(), err, sizeof err) == 0);
  CHECK(out == golden(model, "person.output.0.bin"));
  const uint64_t cycles = tessel_rt_last_cycles(m);
  CHECK(cycles > 0);
  const auto in2 = golden(model, "no_person.input.bin");
  REQUIRE(tessel_rt_set_input(m, 0, in2.data(), in2.size(), err, sizeof err) == 0);
  REQUIRE(tessel_rt_invoke_async(m, err, sizeof err) == 0);
  CHECK(tessel_rt_invoke_async(m, err, sizeof err) == -1);  // one pending at a time
  REQUIRE(tessel_rt_wait(m, err, sizeof err) == 0);
  REQUIRE(tessel_rt_get_output(m, 0, out.data(), out.size(), err, sizeof err) == 0);
  CHECK(out == golden(model, "no_person.output.0.bin"));
  CHECK(tessel_rt_wait(m, err, sizeof err) == -1);
  tessel_rt_unload(m);
  tessel_rt_close(dev);
  fs::remove(tsl);
}
