// Question answered: does the `tessel` tool behave as its documentation says — output
// files, top-5 lines, JSON report keys, bench JSON, and clear errors with exit status 1?
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace {

const std::string kTool = TESSEL_TOOL;
const fs::path kShared = TESSEL_SHARED_DIR;

struct Result {
  int status;
  std::string out;  // stdout and stderr together
};

Result tessel(const std::string& args) {
  const std::string cmd = kTool + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  const int raw = pclose(p);
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, out};
}

std::string model(const std::string& stem) { return (kShared / "models" / "tflite" / (stem + ".tflite")).string(); }

fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("tessel_cli_test_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("tessel run classifies grace_hopper as military uniform and writes what it says", "[cli]") {
  const fs::path dir = temp_dir();
  for (const char* backend : {"ref", "cpu"}) {
    INFO("backend " << backend);
    const Result r = tessel("run " + model("coral_mobilenet_v2_1.0_224_quant") + " --backend " + backend +
                            " --input " + (kShared / "images" / "grace_hopper.bmp").string() + " --labels " +
                            (kShared / "images" / "imagenet_labels.txt").string() + " --output " +
                            (dir / "out").string() + " --report " + (dir / "report.json").string() +
                            " --repeat 2");
    INFO(r.out);
    REQUIRE(r.status == 0);
    // RANK SCORE INDEX LABEL, rank 1 first.
    CHECK_THAT(r.out, Catch::Contains("\n1 0.878906 653 military uniform\n"));
    CHECK_THAT(r.out, Catch::Contains("\n2 ") && Catch::Contains("\n5 "));
    // The output file is the golden's bytes.
    CHECK(slurp(dir / "out.0.bin") ==
          slurp(kShared / "goldens" / "coral_mobilenet_v2_1.0_224_quant" / "grace_hopper.output.0.bin"));
    const auto report = nlohmann::json::parse(slurp(dir / "report.json"));
    CHECK(report["backend"] == backend);
    CHECK(report["model"] == model("coral_mobilenet_v2_1.0_224_quant"));
    CHECK(report["wall_ms"].get<double>() > 0);
    CHECK(report["wall_ms_runs"].size() == 2);
    CHECK(report["outputs"][0]["shape"] == nlohmann::json::array({1, 1001}));
    CHECK(report["outputs"][0]["dtype"] == "uint8");
    CHECK(report["top5"][0]["index"] == 653);
  }
  fs::remove_all(dir);
}

TEST_CASE("the int8 per-channel MobileNetV2 also ranks military uniform first", "[cli]") {
  const Result r = tessel("run " + model("coral_tf2_mobilenet_v2_1.0_224_ptq") + " --backend cpu --input " +
                          (kShared / "images" / "grace_hopper.bmp").string() + " --labels " +
                          (kShared / "images" / "imagenet_labels.txt").string());
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("\n1 0.828125 653 military uniform\n"));
}

TEST_CASE("tessel bench writes whole-model and per-operator statistics", "[cli]") {
  const fs::path dir = temp_dir();
  const Result r = tessel("bench " + model("tflm_person_detect") + " --backend cpu --repeat 3 --json " +
                          (dir / "bench.json").string());
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(slurp(dir / "bench.json"));
  for (const char* key : {"median_ms", "min_ms", "max_ms"}) CHECK(j[key].get<double>() > 0);
  CHECK(j["min_ms"].get<double>() <= j["median_ms"].get<double>());
  CHECK(j["median_ms"].get<double>() <= j["max_ms"].get<double>());
  REQUIRE(j["ops"].size() == 31);  // person_detect: 14 depthwise + 14 conv + pool + reshape + softmax
  CHECK(j["ops"][0]["type"] == "DEPTHWISE_CONV_2D");  // person_detect starts with a depthwise conv
  CHECK(j["ops"][0].contains("median_ms"));
  fs::remove_all(dir);
}

TEST_CASE("bad input gives one clear error and exit status 1", "[cli]") {
  const fs::path dir = temp_dir();
  Result r = tessel("run " + (dir / "missing.tflite").string());
  CHECK(r.status == 1);
  CHECK_THAT(r.out, Catch::Contains("missing.tflite") && Catch::Contains("cannot open"));

  {  // a truncated model
    const std::string bytes = slurp(model("tflm_micro_speech_quantized"));
    std::ofstream(dir / "cut.tflite", std::ios::binary).write(bytes.data(), 5000);
  }
  r = tessel("run " + (dir / "cut.tflite").string());
  CHECK(r.status == 1);
  CHECK_THAT(r.out, Catch::Contains("cut.tflite"));

  std::ofstream(dir / "small.bin", std::ios::binary) << "abc";
  r = tessel("run " + model("tflm_micro_speech_quantized") + " --input " + (dir / "small.bin").string());
  CHECK(r.status == 1);
  CHECK_THAT(r.out, Catch::Contains("small.bin") && Catch::Contains("has 3 bytes") && Catch::Contains("1960"));

  r = tessel("run " + model("tflm_micro_speech_quantized") + " --backend gpu");
  CHECK(r.status != 0);
  CHECK_THAT(r.out, Catch::Contains("gpu"));

  r = tessel("run " + (dir / "small.bin").string());
  CHECK(r.status == 1);
  CHECK_THAT(r.out, Catch::Contains("unknown model format"));
  fs::remove_all(dir);
}

TEST_CASE("tessel membench writes the documented JSON keys", "[cli]") {
  const fs::path dir = temp_dir();
  const Result r = tessel("membench --arch ddr4-3200 --pattern seq-read --bytes 1048576 --json " +
                          (dir / "m.json").string());
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(slurp(dir / "m.json"));
  CHECK(j["peak_gbps"].get<double>() == Approx(25.6));
  CHECK(j["achieved_gbps"].get<double>() > 0.8 * 25.6);  // streaming reads: 85-98 % of peak
  CHECK(j["efficiency"].get<double>() <= 1.0);
  for (const char* k : {"mean", "p50", "p99"}) CHECK(j["latency_ns"][k].get<double>() > 0);
  CHECK(j["row_hit_rate"].get<double>() > 0.9);
  CHECK(j["requests_per_second"].get<double>() > 0);
  const Result bad = tessel("membench --arch no-such-dram");
  CHECK(bad.status == 1);
  CHECK_THAT(bad.out, Catch::Contains("unknown DRAM preset 'no-such-dram'"));
  fs::remove_all(dir);
}

TEST_CASE("tessel membench takes an NPU preset and benchmarks its memory system", "[cli]") {
  const fs::path dir = temp_dir();
  const Result r = tessel("membench --arch ethos-u55-256 --pattern seq-read --bytes 262144 --json " +
                          (dir / "m.json").string());
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(slurp(dir / "m.json"));
  CHECK(j["peak_gbps"].get<double>() == Approx(4266 * 2 / 1000.0).epsilon(0.01));  // 1 x16 channel
  const Result bad = tessel("membench --arch no-such-dram");
  CHECK_THAT(bad.out, Catch::Contains("NPU presets are accepted too"));
  fs::remove_all(dir);
}

TEST_CASE("tessel presets lists one preset per line: name, then a description", "[cli]") {
  const Result r = tessel("presets");
  INFO(r.out);
  REQUIRE(r.status == 0);
  std::istringstream lines(r.out);
  std::string line, first;
  int n = 0;
  while (std::getline(lines, line)) {
    const size_t gap = line.find("  ");
    REQUIRE(gap != std::string::npos);
    REQUIRE(gap > 0);
    CHECK(line.size() > gap + 10);  // a real description follows
    if (n++ == 0) first = line.substr(0, gap);
  }
  CHECK(n >= 4);
  CHECK(first == "default");
  for (const char* p : {"ethos-u55-256", "edgetpu-64x64", "cube-4096"})
    CHECK_THAT(r.out, Catch::Contains(std::string("\n") + p + "  "));
}

TEST_CASE("tessel simbench runs a tiled convolution exactly and writes its statistics", "[cli]") {
  const fs::path dir = temp_dir();
  const Result r = tessel("simbench --size 24 --channels 16 --filters 32 --repeat 1 --json " +
                          (dir / "s.json").string());
  INFO(r.out);
  REQUIRE(r.status == 0);
  const auto j = nlohmann::json::parse(slurp(dir / "s.json"));
  CHECK(j["outputs_match_reference"] == true);
  // Useful MACs only: with SAME padding, each axis has 24 * 3 - 2 taps inside the input.
  CHECK(j["macs"] == 70 * 70 * 16 * 32);
  CHECK(j["simulated_cycles"].get<uint64_t>() > 0);
  CHECK(j["cycles_per_second"].get<double>() > 0);
  CHECK(j["stats"]["config"]["mac"]["rows"] == 32);
  CHECK(j["stats"]["counters"]["MACS"] == j["macs"]);
  const Result bad = tessel("simbench --arch no-such-npu");
  CHECK(bad.status == 1);
  CHECK_THAT(bad.out, Catch::Contains("unknown NPU preset 'no-such-npu'"));
  fs::remove_all(dir);
}

TEST_CASE("docs/supported-ops.md is what the compiler's support rules generate", "[cli]") {
  const fs::path dir = temp_dir();
  const Result r = tessel("compile --supported-ops " + (dir / "ops.md").string());
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK(slurp(dir / "ops.md") == slurp(fs::path(TESSEL_SOURCE_DIR) / "docs" / "supported-ops.md"));
  fs::remove_all(dir);
}

TEST_CASE("tessel compile, disasm and run --backend npu on MobileNetV2", "[cli]") {
  const fs::path dir = temp_dir();
  const std::string tsl = (dir / "m.tsl").string();
  const Result c = tessel("compile " + model("coral_mobilenet_v2_1.0_224_quant") + " --arch ethos-u55-256 -o " + tsl +
                          " --report " + (dir / "c.json").string());
  INFO(c.out);
  REQUIRE(c.status == 0);
  // Everything runs on the NPU, the final SOFTMAX included.
  CHECK_THAT(c.out, Catch::Contains("66 NPU ops, 0 CPU ops"));
  CHECK_THAT(c.out, !Catch::Contains("CPU fallback"));
  const auto rep = nlohmann::json::parse(slurp(dir / "c.json"));
  CHECK(rep["hardware"] == "ethos-u55-256");
  CHECK(rep["cpu_ops"] == 0);
  bool saw_conv = false;
  for (const auto& l : rep["layers"])
    if (l["op"] == "CONV_2D") {
      saw_conv = true;
      for (const char* k : {"macs", "tiles", "estimated_cycles", "bound", "input_shapes", "output_shapes"})
        CHECK(l.contains(k));
      CHECK((l["bound"] == "compute" || l["bound"] == "memory"));
    }
  CHECK(saw_conv);

  const Result d = tessel("disasm " + tsl);
  REQUIRE(d.status == 0);
  CHECK_THAT(d.out, Catch::Contains("hardware 'ethos-u55-256'") && Catch::Contains("; --- CONV_2D 'MobilenetV2/Conv/Relu6;") &&
                        Catch::Contains("DMA_LOAD") && Catch::Contains("SOFTMAX") && Catch::Contains("END"));
  CHECK_THAT(d.out, !Catch::Contains("CPU segment"));
  // A fallback is printed with its reason and listed by disasm as a CPU segment.
  const std::string tsl_dl = (dir / "dl.tsl").string();
  const Result cd = tessel("compile " + model("coral_deeplabv3_mnv2_dm05_pascal_quant") + " --arch default -o " + tsl_dl);
  INFO(cd.out);
  REQUIRE(cd.status == 0);
  CHECK_THAT(cd.out, Catch::Contains("CPU fallback: op #71 ARG_MAX") && Catch::Contains("int64"));
  CHECK_THAT(tessel("disasm " + tsl_dl).out, Catch::Contains("CPU segment 0"));

  const std::string report = (dir / "r.json").string(), trace = (dir / "t.json").string();
  const Result r = tessel("run " + model("coral_mobilenet_v2_1.0_224_quant") + " --backend npu --arch default --input " +
                          (kShared / "images" / "grace_hopper.bmp").string() + " --labels " +
                          (kShared / "images" / "imagenet_labels.txt").string() + " --report " + report +
                          " --trace " + trace);
  INFO(r.out);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("outputs bit-exact with the reference kernels: yes") &&
                        Catch::Contains("1 ") && Catch::Contains("military uniform"));
  const auto j = nlohmann::json::parse(slurp(report));
  CHECK(j["outputs_match_reference"] == true);
  for (const char* k : {"npu_cycles", "npu_ms", "clock_mhz", "mac_utilization", "dram_read_bytes", "dram_write_bytes",
                        "cpu_wall_ms", "sim_wall_ms"})
    CHECK(j.contains(k));
  CHECK(j["clock_mhz"] == 1000);
  CHECK(j["npu_cycles"].get<uint64_t>() > 100000);
  CHECK(j["mac_utilization"].get<double>() > 0.0);
  CHECK(j["mac_utilization"].get<double>() <= 1.0);
  REQUIRE(j["layers"].size() == 66);
  for (const char* k : {"name", "op", "cycles", "macs", "dram_bytes", "bound"}) CHECK(j["layers"][0].contains(k));
  const auto t = nlohmann::json::parse(slurp(trace));
  CHECK(t.dump().find("MobilenetV2/Conv/Relu6") != std::string::npos);

  // The trace has one track per engine, DRAM bandwidth counters and per-layer spans.
  bool dram_counter = false;
  for (const auto& e : t.at("traceEvents")) dram_counter |= e.contains("ph") && e.at("ph") == "C";
  CHECK(dram_counter);
  // The default backend is the NPU (through the driver); the report names the device
  // and the ratios.
  const Result def = tessel("run " + model("tflm_person_detect") + " --report " + (dir / "def.json").string());
  INFO(def.out);
  REQUIRE(def.status == 0);
  const auto jd = nlohmann::json::parse(slurp(dir / "def.json"));
  CHECK(jd["backend"] == "npu");
  CHECK(jd["device"] == "sim://default");
  CHECK(jd["outputs_match_reference"] == true);
  CHECK(jd["sim_vs_cpu_time"].get<double>() > 0.0);
  CHECK(jd["npu_cycles_per_host_second"].get<double>() > 0.0);

  // A compiled .tsl runs directly (no model graph: no reference check), on its own
  // configuration only.
  const Result rt = tessel("run " + tsl + " --backend npu --arch ethos-u55-256 --report " + (dir / "rt.json").string());
  INFO(rt.out);
  CHECK(rt.status == 0);
  CHECK_THAT(rt.out, Catch::Contains("not checked (a .tsl has no model graph)"));
  const auto jt = nlohmann::json::parse(slurp(dir / "rt.json"));
  CHECK(jt["outputs_match_reference"].is_null());
  CHECK(jt["npu_cycles"].get<uint64_t>() > 0);
  const Result wrong = tessel("run " + tsl + " --backend npu --arch default");
  CHECK(wrong.status == 1);
  CHECK_THAT(wrong.out, Catch::Contains("model compiled for 'ethos-u55-256'") && Catch::Contains("the device is 'default'"));

  // A loadable is refused on another configuration, and a corrupt one is reported.
  const Result bad_model = tessel("compile " + model("coral_mobilenet_v2_1.0_224_quant") + " --arch no-such -o " + tsl);
  CHECK(bad_model.status == 1);
  {
    std::ofstream f(tsl, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(100);
    f.put('\x5a');
  }
  const Result corrupt = tessel("disasm " + tsl);
  CHECK(corrupt.status == 1);
  CHECK_THAT(corrupt.out, Catch::Contains("checksum"));
  fs::remove_all(dir);
}
