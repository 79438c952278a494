// NPU configuration files: parsing, validation, presets, the resolved JSON and its hash.
//
// File format (every key is documented in docs/npu.md; presets in sim/configs/npu/ spell
// out every key):
//
//   name: default                 # optional, defaults to the file stem
//   description: "..."            # one line
//   base: default                 # optional: start from a preset, override what follows
//   clock_mhz: 1000
//   mac:    {rows, cols, weight_load_cycles_per_row, pipeline_cycles}
//   vector: {lanes, pipeline_cycles}
//   sram:   {size_kib, banks, bank_width_bytes}
//   dma:    {engines, bus_bytes_per_cycle, max_outstanding, setup_cycles,
//            max_transaction_bytes (optional, 0)}
//   mmu:    {contexts, tlb_entries, walk_cycles}
//   command_processor: {semaphores, queue_depth}
//   memory: {dram: PRESET_OR_PATH, dram_mib: N, overrides: {<DRAM YAML keys>}}
//
// `base` makes sweep files short: a file with `base: default` and `mac: {rows: 64}` is the
// default preset with a 64-row array. `memory.overrides` is merged into the DRAM spec file
// before it is validated, so an override goes through the same checks as the spec itself.
#include "tessel/sim/npu/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tessel/ir/error.hpp"
#include "tessel/sim/yaml_section.hpp"

#ifndef TESSEL_NPU_PRESET_DIR
#error "TESSEL_NPU_PRESET_DIR must be defined by the build"
#endif

namespace tessel::sim::npu {

namespace {

namespace fs = std::filesystem;

std::string read_text(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open " + what);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

YAML::Node load_yaml(const std::string& text, const std::string& source) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(source + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

// Recursively overlays `over` onto `base` (maps merge key by key, anything else replaces).
void merge_into(YAML::Node base, const YAML::Node& over) {
  for (auto it = over.begin(); it != over.end(); ++it) {
    const std::string key = it->first.as<std::string>();
    YAML::Node slot = base[key];
    if (slot && slot.IsMap() && it->second.IsMap())
      merge_into(slot, it->second);
    else
      base[key] = YAML::Clone(it->second);
  }
}

bool is_pow2(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// Resolves the DRAM spec named by memory.dram (a DRAM preset, or a path relative to the
// NPU file's folder) and applies memory.overrides.
mem::DramConfig resolve_dram(const Section& memory, const std::string& spec,
                             const std::string& source_dir) {
  std::string path;
  const fs::path p(spec);
  if (p.has_parent_path() || p.extension() == ".yaml" || p.extension() == ".yml") {
    path = p.is_absolute() || source_dir.empty() ? spec : (fs::path(source_dir) / p).string();
  } else {
    path = (fs::path(mem::dram_preset_dir()) / (spec + ".yaml")).string();
    if (!fs::exists(path))
      memory.fail("dram", "unknown DRAM preset '" + spec + "' (known: " +
                              join(mem::dram_preset_names()) + "; or a path to a .yaml file)");
  }
  const std::string text = read_text(path, "DRAM config");
  if (!memory.has("overrides")) return mem::parse_dram_config(text, path);
  const Section over = memory.map("overrides", false);
  YAML::Node dram = load_yaml(text, path);
  merge_into(dram, over.node());
  std::ostringstream os;
  os << dram;
  return mem::parse_dram_config(os.str(), path + " with " + memory.qualified("overrides"));
}

NpuConfig parse_root(YAML::Node root, const std::string& source, int depth) {
  if (!root.IsMap()) throw Error(source + ": expected a YAML mapping at the top level");
  const std::string stem = fs::path(source).stem().string();
  std::string inherited_from;

  if (root["base"]) {
    // Start from the base preset's document and overlay this one on it.
    if (depth > 4) throw Error(source + ": base: presets nest too deeply");
    const Section top(source, "", root);
    const std::string base = top.text("base");
    const std::vector<std::string> names = npu_preset_names();
    if (std::find(names.begin(), names.end(), base) == names.end())
      top.fail("base", "unknown preset '" + base + "' (known: " + join(names) + ")");
    const std::string base_path = (fs::path(npu_preset_dir()) / (base + ".yaml")).string();
    YAML::Node merged = load_yaml(read_text(base_path, "NPU preset"), base_path);
    merged.remove("name");
    merged.remove("description");
    YAML::Node own = YAML::Clone(root);
    own.remove("base");
    merge_into(merged, own);
    if (merged["memory"] && root["memory"] && root["memory"]["dram"] &&
        !root["memory"]["overrides"])
      merged["memory"].remove("overrides");  // a new DRAM spec drops the base's overrides
    NpuConfig c = parse_root(merged, source, depth + 1);
    if (!root["description"]) c.description = "preset '" + base + "' with overrides from " + stem;
    return c;
  }

  const Section top(source, "", root);
  top.only({"name", "description", "clock_mhz", "mac", "vector", "sram", "dma", "mmu",
            "command_processor", "memory"});
  NpuConfig c;
  c.source = source;
  c.name = top.text("name", stem);
  c.description = top.text("description", "");
  if (c.description.find('\n') != std::string::npos)
    top.fail("description", "must be one line");
  c.clock_mhz = top.count_in("clock_mhz", 1, 10000);

  const Section mac = top.map("mac", true);
  mac.only({"rows", "cols", "weight_load_cycles_per_row", "pipeline_cycles"});
  c.mac.rows = mac.count_in("rows", 1, 4096);
  c.mac.cols = mac.count_in("cols", 1, 4096);
  c.mac.weight_load_cycles_per_row = mac.count_in("weight_load_cycles_per_row", 1, 0, 1024);
  c.mac.pipeline_cycles = mac.count_in("pipeline_cycles", 8, 0, 100000);

  const Section vec = top.map("vector", true);
  vec.only({"lanes", "pipeline_cycles"});
  c.vec.lanes = vec.count_in("lanes", 1, 4096);
  c.vec.pipeline_cycles = vec.count_in("pipeline_cycles", 8, 0, 100000);

  const Section sram = top.map("sram", true);
  sram.only({"size_kib", "banks", "bank_width_bytes"});
  // The command fields address SRAM with 32 bits; 1 GiB is far beyond any real scratchpad.
  c.sram.size_kib = sram.count_in("size_kib", 4, 1u << 20);
  c.sram.banks = sram.count_in("banks", 1, 1024);
  c.sram.bank_width_bytes = sram.count_in("bank_width_bytes", 1, 1024);
  if (!is_pow2(c.sram.bank_width_bytes)) sram.fail("bank_width_bytes", "must be a power of two");
  if (c.sram_bytes() % (uint64_t{c.sram.banks} * c.sram.bank_width_bytes) != 0)
    sram.fail("size_kib", "must be a whole number of bank rows (banks x bank_width_bytes = " +
                              std::to_string(c.sram.banks * c.sram.bank_width_bytes) + " bytes)");

  const Section dma = top.map("dma", true);
  dma.only({"engines", "bus_bytes_per_cycle", "max_outstanding", "setup_cycles",
            "max_transaction_bytes"});
  c.dma.engines = dma.count_in("engines", 2, 2, 2);  // the contract: DMA_IN and DMA_OUT
  c.dma.bus_bytes_per_cycle = dma.count_in("bus_bytes_per_cycle", 1, 4096);
  c.dma.max_outstanding = dma.count_in("max_outstanding", 1, 1024);
  c.dma.setup_cycles = dma.count_in("setup_cycles", 16, 0, 100000);
  c.dma.max_transaction_bytes = dma.count_in("max_transaction_bytes", 0, 0, 4096);
  if (c.dma.max_transaction_bytes != 0 && !is_pow2(c.dma.max_transaction_bytes))
    dma.fail("max_transaction_bytes", "must be 0 or a power of two up to 4096");

  const Section mmu = top.map("mmu", true);
  mmu.only({"contexts", "tlb_entries", "walk_cycles"});
  c.mmu.contexts = mmu.count_in("contexts", 1, 16);  // 16 PT_BASE register pairs
  c.mmu.tlb_entries = mmu.count_in("tlb_entries", 1, 4096);
  c.mmu.walk_cycles = mmu.count_in("walk_cycles", 0, 100000);

  const Section cp = top.map("command_processor", true);
  cp.only({"semaphores", "queue_depth"});
  c.semaphores = cp.count_in("semaphores", 1, 255);  // CAPS.SEMAPHORES is 8 bits
  c.queue_depth = cp.count_in("queue_depth", 1, 4096);

  const Section memory = top.map("memory", true);
  memory.only({"dram", "dram_mib", "overrides"});
  c.dram_spec = memory.text("dram");
  const uint32_t mib = memory.count_in("dram_mib", 1, 4096);  // 32-bit NPU addresses
  c.dram_bytes = uint64_t{mib} << 20;
  c.dram = resolve_dram(memory, c.dram_spec, fs::path(source).parent_path().string());
  if (memory.has("overrides")) c.dram_spec += " (with overrides)";
  if (c.dram_bytes > c.dram.org.capacity_bytes())
    memory.fail("dram_mib", std::to_string(mib) + " MiB exceeds the DRAM organisation's " +
                                std::to_string(c.dram.org.capacity_bytes() >> 20) + " MiB");
  return c;
}

}  // namespace

NpuConfig parse_npu_config(const std::string& yaml_text, const std::string& source_name) {
  try {
    return parse_root(load_yaml(yaml_text, source_name), source_name, 0);
  } catch (const YAML::Exception& e) {
    throw Error(source_name + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

NpuConfig load_npu_config(const std::string& path) {
  return parse_npu_config(read_text(path, "NPU config"), path);
}

std::string npu_preset_dir() { return TESSEL_NPU_PRESET_DIR; }

std::vector<std::string> npu_preset_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(npu_preset_dir(), ec))
    if (e.path().extension() == ".yaml") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    if ((a == "default") != (b == "default")) return a == "default";
    return a < b;
  });
  return names;
}

NpuConfig load_npu_preset_or_file(const std::string& preset_or_path) {
  const fs::path p(preset_or_path);
  if (p.has_parent_path() || p.extension() == ".yaml" || p.extension() == ".yml")
    return load_npu_config(preset_or_path);
  const fs::path preset = fs::path(npu_preset_dir()) / (preset_or_path + ".yaml");
  if (fs::exists(preset)) return load_npu_config(preset.string());
  throw Error("unknown NPU preset '" + preset_or_path + "' (known: " + join(npu_preset_names()) +
              "; or give a path to a .yaml file)");
}

namespace {

// The hardware parameters only: two files describing the same machine hash the same.
nlohmann::json hardware_json(const NpuConfig& c) {
  return nlohmann::json{
      {"clock_mhz", c.clock_mhz},
      {"mac",
       {{"rows", c.mac.rows}, {"cols", c.mac.cols},
        {"weight_load_cycles_per_row", c.mac.weight_load_cycles_per_row},
        {"pipeline_cycles", c.mac.pipeline_cycles}}},
      {"vector", {{"lanes", c.vec.lanes}, {"pipeline_cycles", c.vec.pipeline_cycles}}},
      {"sram",
       {{"size_kib", c.sram.size_kib}, {"banks", c.sram.banks},
        {"bank_width_bytes", c.sram.bank_width_bytes}}},
      {"dma",
       {{"engines", c.dma.engines}, {"bus_bytes_per_cycle", c.dma.bus_bytes_per_cycle},
        {"max_outstanding", c.dma.max_outstanding}, {"setup_cycles", c.dma.setup_cycles},
        {"max_transaction_bytes", c.dma.max_transaction_bytes}}},
      {"mmu",
       {{"contexts", c.mmu.contexts}, {"tlb_entries", c.mmu.tlb_entries},
        {"walk_cycles", c.mmu.walk_cycles}}},
      {"command_processor", {{"semaphores", c.semaphores}, {"queue_depth", c.queue_depth}}},
      {"memory", {{"dram_mib", c.dram_bytes >> 20}, {"dram", mem::dram_config_json(c.dram)}}},
  };
}

}  // namespace

nlohmann::json npu_config_json(const NpuConfig& c) {
  nlohmann::json j = hardware_json(c);
  j["name"] = c.name;
  j["description"] = c.description;
  j["source"] = c.source;
  j["dram_spec"] = c.dram_spec;
  j["macs_per_cycle"] = c.macs_per_cycle();
  j["hash"] = npu_config_hash(c);
  return j;
}

uint64_t npu_config_hash(const NpuConfig& c) {
  const std::string text = hardware_json(c).dump();
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64
  for (const unsigned char ch : text) {
    h ^= ch;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace tessel::sim::npu
