// NPU configuration files: every bundled preset loads and matches the shape the issue
// asks for; `base:` and DRAM overrides resolve; the hash identifies hardware, not names;
// every kind of bad file is refused with an error naming the file and the key.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>

#include "tessel/ir/error.hpp"
#include "tessel/sim/npu/config.hpp"

using namespace tessel::sim::npu;

namespace {

NpuConfig parse(const std::string& text) { return parse_npu_config(text, "t.yaml"); }

// A complete configuration; tests replace one line at a time.
const std::string kFull = R"(name: t
description: "test"
clock_mhz: 800
mac: {rows: 8, cols: 16, weight_load_cycles_per_row: 2, pipeline_cycles: 5}
vector: {lanes: 16, pipeline_cycles: 4}
sram: {size_kib: 64, banks: 4, bank_width_bytes: 8}
dma: {engines: 2, bus_bytes_per_cycle: 16, max_outstanding: 4, setup_cycles: 10}
mmu: {contexts: 2, tlb_entries: 8, walk_cycles: 30}
command_processor: {semaphores: 8, queue_depth: 4}
memory: {dram: ddr4-3200, dram_mib: 256}
)";

std::string replace_line(const std::string& text, const std::string& prefix,
                         const std::string& line) {
  const size_t at = text.find(prefix);
  REQUIRE(at != std::string::npos);
  const size_t end = text.find('\n', at);
  return text.substr(0, at) + line + text.substr(end);
}

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const tessel::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("presets: the four bundled design points load with their documented shape") {
  const auto names = npu_preset_names();
  REQUIRE(names.size() >= 4);
  CHECK(names.front() == "default");

  const NpuConfig d = load_npu_preset_or_file("default");
  CHECK(d.name == "default");
  CHECK(d.macs_per_cycle() == 1024);
  CHECK(d.clock_mhz == 1000);
  CHECK(d.sram_bytes() == 1024 * 1024);
  CHECK(d.dram.name == "lpddr4x-4266");
  CHECK(d.dram.org.channels == 2);

  const NpuConfig u55 = load_npu_preset_or_file("ethos-u55-256");
  CHECK(u55.macs_per_cycle() == 256);
  CHECK(u55.dma.bus_bytes_per_cycle == 8);  // narrow bus
  CHECK(u55.dram.org.channels == 1);       // the override applied

  const NpuConfig tpu = load_npu_preset_or_file("edgetpu-64x64");
  CHECK(tpu.mac.rows == 64);
  CHECK(tpu.mac.cols == 64);
  CHECK(tpu.clock_mhz >= 450);
  CHECK(tpu.clock_mhz <= 550);
  CHECK(tpu.sram_bytes() >= 4u * 1024 * 1024);  // large on-chip SRAM

  const NpuConfig cube = load_npu_preset_or_file("cube-4096");
  CHECK(cube.macs_per_cycle() == 4096);
  CHECK(cube.dram.standard == "LPDDR5");

  for (const auto& n : names) {
    const NpuConfig c = load_npu_preset_or_file(n);
    CAPTURE(n);
    CHECK(c.name == n);
    CHECK(!c.description.empty());
    CHECK(c.description.find('\n') == std::string::npos);
  }
}

TEST_CASE("config: a complete file parses into every field") {
  const NpuConfig c = parse(kFull);
  CHECK(c.name == "t");
  CHECK(c.clock_mhz == 800);
  CHECK(c.mac.rows == 8);
  CHECK(c.mac.cols == 16);
  CHECK(c.mac.weight_load_cycles_per_row == 2);
  CHECK(c.mac.pipeline_cycles == 5);
  CHECK(c.vec.lanes == 16);
  CHECK(c.vec.pipeline_cycles == 4);
  CHECK(c.sram.size_kib == 64);
  CHECK(c.sram.banks == 4);
  CHECK(c.sram.bank_width_bytes == 8);
  CHECK(c.dma.bus_bytes_per_cycle == 16);
  CHECK(c.dma.max_outstanding == 4);
  CHECK(c.dma.setup_cycles == 10);
  CHECK(c.dma.max_transaction_bytes == 0);  // optional: one DRAM burst per transaction
  CHECK(c.mmu.contexts == 2);
  CHECK(c.mmu.tlb_entries == 8);
  CHECK(c.mmu.walk_cycles == 30);
  CHECK(c.semaphores == 8);
  CHECK(c.queue_depth == 4);
  CHECK(c.dram_bytes == 256ull << 20);
  CHECK(c.dram.name == "ddr4-3200");

  const nlohmann::json j = npu_config_json(c);
  CHECK(j["mac"]["rows"] == 8);
  CHECK(j["memory"]["dram"]["timing"]["tCL"] == c.dram.timing.tCL);
  CHECK(j["hash"] == npu_config_hash(c));
}

TEST_CASE("config: base + overrides, and DRAM overrides go through DRAM validation") {
  const NpuConfig c = parse("base: default\nmac: {rows: 64}\n");
  const NpuConfig d = load_npu_preset_or_file("default");
  CHECK(c.mac.rows == 64);
  CHECK(c.mac.cols == d.mac.cols);  // the rest comes from the base
  CHECK(c.sram.size_kib == d.sram.size_kib);
  CHECK(c.name == "t");
  CHECK(npu_config_hash(c) != npu_config_hash(d));

  // A new DRAM spec in a derived file does not inherit the base's DRAM overrides.
  const NpuConfig e = parse("base: ethos-u55-256\nmemory: {dram: lpddr5-6400, dram_mib: 512}\n");
  CHECK(e.dram.standard == "LPDDR5");
  CHECK(e.dram.org.channels == 2);

  const NpuConfig f = parse(replace_line(kFull, "memory:",
                                         "memory: {dram: lpddr4x-4266, dram_mib: 256, "
                                         "overrides: {timing: {tRCD: 50, tRC: 140}}}"));
  CHECK(f.dram.timing.tRCD == 50);
  CHECK(f.dram.timing.tRC == 140);
  // The override is validated like the spec itself: tRC < tRAS + tRP is refused.
  const std::string bad = error_of(replace_line(
      kFull, "memory:", "memory: {dram: lpddr4x-4266, dram_mib: 256, overrides: {timing: {tRC: 5}}}"));
  CHECK(bad.find("tRC") != std::string::npos);
  CHECK(bad.find("overrides") != std::string::npos);
}

TEST_CASE("config: the hash covers hardware parameters, not names") {
  const NpuConfig a = parse(kFull);
  const NpuConfig b = parse(replace_line(kFull, "name:", "name: other"));
  CHECK(npu_config_hash(a) == npu_config_hash(b));
  const NpuConfig c = parse(replace_line(kFull, "clock_mhz:", "clock_mhz: 801"));
  CHECK(npu_config_hash(a) != npu_config_hash(c));
  // Deterministic: the same file, the same hash.
  CHECK(npu_config_hash(parse(kFull)) == npu_config_hash(a));
}

TEST_CASE("config: a file on disk, a relative DRAM path, and the preset-or-file rule") {
  const std::string dir = std::string(TESSEL_SOURCE_DIR) + "/sim/configs";
  const std::string path = "/tmp/tessel_test_npu_config.yaml";
  {
    std::ofstream out(path);
    out << replace_line(kFull, "memory:",
                        "memory: {dram: " + dir + "/dram/hbm2.yaml, dram_mib: 256}");
  }
  const NpuConfig c = load_npu_preset_or_file(path);
  CHECK(c.dram.name == "hbm2");
  CHECK(c.source == path);
  std::remove(path.c_str());

  CHECK_THROWS_WITH(load_npu_preset_or_file("no-such-preset"),
                    Catch::Contains("unknown NPU preset 'no-such-preset'") &&
                        Catch::Contains("default"));
  CHECK_THROWS_WITH(load_npu_preset_or_file("/nonexistent/x.yaml"),
                    Catch::Contains("/nonexistent/x.yaml: cannot open"));
}

TEST_CASE("config: each kind of bad file names the file and the key") {
  struct Case {
    const char* prefix;
    const char* line;
    const char* expect;
  };
  const Case cases[] = {
      {"clock_mhz:", "clock_mhz: 0", "t.yaml: clock_mhz: must be in 1..10000"},
      {"clock_mhz:", "clock_mhz: fast", "t.yaml: clock_mhz: expected a non-negative integer"},
      {"clock_mhz:", "clock_mhz: -5", "t.yaml: clock_mhz: expected a non-negative integer"},
      {"mac:", "mac: {rows: 8, cols: 16, colz: 3}", "t.yaml: mac.colz: unknown key"},
      {"mac:", "mac: {cols: 16}", "t.yaml: mac.rows: missing"},
      {"mac:", "mac: [1, 2]", "t.yaml: mac: expected a mapping"},
      {"mac:", "mac: {rows: 99999, cols: 16}", "t.yaml: mac.rows: must be in 1..4096"},
      {"sram:", "sram: {size_kib: 64, banks: 4, bank_width_bytes: 6}",
       "t.yaml: sram.bank_width_bytes: must be a power of two"},
      {"sram:", "sram: {size_kib: 5, banks: 3, bank_width_bytes: 1024}",
       "t.yaml: sram.size_kib: must be a whole number of bank rows"},
      {"dma:", "dma: {engines: 3, bus_bytes_per_cycle: 16, max_outstanding: 4}",
       "t.yaml: dma.engines: must be in 2..2"},
      {"dma:", "dma: {engines: 2, bus_bytes_per_cycle: 16, max_outstanding: 4, max_transaction_bytes: 96}",
       "t.yaml: dma.max_transaction_bytes: must be 0 or a power of two up to 4096"},
      {"dma:", "dma: {engines: 2, bus_bytes_per_cycle: 16, max_outstanding: 4, max_transaction_bytes: 8192}",
       "t.yaml: dma.max_transaction_bytes: must be in 0..4096"},
      {"mmu:", "mmu: {contexts: 17, tlb_entries: 8, walk_cycles: 1}",
       "t.yaml: mmu.contexts: must be in 1..16"},
      {"command_processor:", "command_processor: {semaphores: 256, queue_depth: 4}",
       "t.yaml: command_processor.semaphores: must be in 1..255"},
      {"memory:", "memory: {dram: ddr9, dram_mib: 256}",
       "t.yaml: memory.dram: unknown DRAM preset 'ddr9'"},
      {"memory:", "memory: {dram: lpddr4x-4266, dram_mib: 4096}",
       "t.yaml: memory.dram_mib: 4096 MiB exceeds the DRAM organisation's"},
      {"memory:", "memory: {dram_mib: 256}", "t.yaml: memory.dram: missing"},
      {"description:", "description: [a, b]", "t.yaml: description: expected a string"},
      {"name:", "base: nothing", "t.yaml: base: unknown preset 'nothing'"},
      {"name:", "bogus: 1", "t.yaml: bogus: unknown key"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.line);
    const std::string e = error_of(replace_line(kFull, c.prefix, c.line));
    CHECK(e.find(c.expect) != std::string::npos);
    if (e.find(c.expect) == std::string::npos) WARN(e);
  }
  // Not YAML at all, and not a mapping.
  CHECK_THAT(error_of("mac: {rows: [\n"), Catch::Contains("t.yaml: line"));
  CHECK_THAT(error_of("- 1\n- 2\n"), Catch::Contains("t.yaml: expected a YAML mapping"));
  CHECK_THAT(error_of(""), Catch::Contains("t.yaml: expected a YAML mapping"));
}
