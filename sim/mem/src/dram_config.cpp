// YAML loading and validation of DramConfig. Errors are tessel::Error with the message
// "<file>: <key path>: <problem>", e.g. "lpddr4x-4266.yaml: timing.tRCD: missing".
#include "tessel/sim/mem/dram_config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>

#include "tessel/ir/error.hpp"
#include "tessel/sim/mem/registry.hpp"
#include "tessel/sim/yaml_section.hpp"

#ifndef TESSEL_DRAM_PRESET_DIR
#error "TESSEL_DRAM_PRESET_DIR must be defined by the build"
#endif

namespace tessel::sim::mem {

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

bool is_pow2(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

DramConfig parse(const YAML::Node& root, const std::string& source) {
  if (!root.IsMap()) throw Error(source + ": expected a YAML mapping at the top level");
  const Section top(source, "", root);
  top.only({"name", "standard", "org", "timing", "controller"});

  DramConfig c;
  c.source = source;
  c.name = top.text("name");
  c.standard = top.text("standard");

  const Section org = top.map("org", true);
  org.only({"channels", "ranks", "bankgroups", "banks_per_group", "rows", "columns",
            "device_width", "bus_width", "burst_length", "data_rate_mtps"});
  DramOrg& o = c.org;
  o.channels = org.count("channels");
  o.ranks = org.count("ranks");
  o.bankgroups = org.count("bankgroups", 1);
  o.banks_per_group = org.count("banks_per_group");
  o.rows = org.count("rows");
  o.columns = org.count("columns");
  o.device_width = org.count("device_width");
  o.bus_width = org.count("bus_width");
  o.burst_length = org.count("burst_length");
  o.data_rate_mtps = org.count("data_rate_mtps");

  const Section tim = top.map("timing", true);
  tim.only({"tCK_ps", "tCL", "tCWL", "tRCD", "tRCD_WR", "tRP", "tRP_ab", "tRAS", "tRC",
            "tRRD", "tRRD_S", "tRRD_L", "tFAW", "tCCD", "tCCD_S", "tCCD_L", "tWTR", "tWTR_S",
            "tWTR_L", "tWR", "tRTP", "tRTRS", "tREFI", "tRFC"});
  DramTiming& t = c.timing;
  t.tCK_ps = tim.real("tCK_ps");
  t.tCL = tim.count("tCL");
  t.tCWL = tim.count("tCWL");
  t.tRCD = tim.count("tRCD");
  t.tRCD_WR = tim.count("tRCD_WR", t.tRCD);
  t.tRP = tim.count("tRP");
  t.tRP_ab = tim.count("tRP_ab", t.tRP);
  t.tRAS = tim.count("tRAS");
  t.tRC = tim.count("tRC");
  tim.pair("tRRD", t.tRRD_S, t.tRRD_L);
  t.tFAW = tim.count("tFAW");
  tim.pair("tCCD", t.tCCD_S, t.tCCD_L);
  tim.pair("tWTR", t.tWTR_S, t.tWTR_L);
  t.tWR = tim.count("tWR");
  t.tRTP = tim.count("tRTP");
  t.tRTRS = tim.count("tRTRS", 2);
  t.tREFI = tim.count("tREFI");
  t.tRFC = tim.count("tRFC");

  const Section ctl = top.map("controller", false);
  ctl.only({"scheduler", "row_policy", "address_mapping", "refresh", "read_queue_depth",
            "write_queue_depth", "write_high_watermark", "write_low_watermark"});
  ControllerConfig& k = c.controller;
  k.scheduler = ctl.text("scheduler", k.scheduler);
  k.row_policy = ctl.text("row_policy", k.row_policy);
  k.address_mapping = ctl.text("address_mapping", k.address_mapping);
  k.refresh = ctl.text("refresh", k.refresh);
  k.read_queue_depth = ctl.count("read_queue_depth", k.read_queue_depth);
  k.write_queue_depth = ctl.count("write_queue_depth", k.write_queue_depth);
  // Default watermarks follow the write queue depth: drain at 3/4 full, stop at 1/4.
  k.write_high_watermark = ctl.count("write_high_watermark", k.write_queue_depth * 3 / 4);
  k.write_low_watermark = ctl.count("write_low_watermark", k.write_queue_depth / 4);

  validate_dram_config(c, source);
  return c;
}

// beats per tCK implied by data rate and clock, or 0 if they do not agree on an integer.
std::uint32_t implied_beats(const DramConfig& c) {
  const double beats = c.org.data_rate_mtps * c.timing.tCK_ps / 1e6;
  const double rounded = std::round(beats);
  if (rounded < 1 || std::fabs(beats - rounded) > 0.01 * rounded) return 0;
  return static_cast<std::uint32_t>(rounded);
}

}  // namespace

std::uint32_t DramConfig::beats_per_clock() const { return implied_beats(*this); }

double DramConfig::peak_bandwidth_gbps() const {
  // bytes per tCK over all channels / tCK. Uses the clock (not the rounded nominal rate),
  // so peak and achieved bandwidth are measured with the same ruler.
  const double bytes_per_clock =
      static_cast<double>(org.channels) * org.bus_width / 8.0 * beats_per_clock();
  return bytes_per_clock / (timing.tCK_ps * 1e-3);  // bytes per ns = GB/s
}

void validate_dram_config(DramConfig& c, const std::string& where) {
  const auto fail = [&](const std::string& key, const std::string& problem) {
    throw Error(where + ": " + key + ": " + problem);
  };
  const DramOrg& o = c.org;
  const auto pow2 = [&](const char* key, std::uint64_t v) {
    if (!is_pow2(v))
      fail(std::string("org.") + key, "must be a power of two, got " + std::to_string(v));
  };
  pow2("channels", o.channels);
  pow2("ranks", o.ranks);
  pow2("bankgroups", o.bankgroups);
  pow2("banks_per_group", o.banks_per_group);
  pow2("rows", o.rows);
  pow2("columns", o.columns);
  pow2("burst_length", o.burst_length);
  if (o.bus_width == 0 || o.bus_width % 8 != 0)
    fail("org.bus_width", "must be a positive multiple of 8, got " + std::to_string(o.bus_width));
  pow2("bus_width", o.bus_width);
  if (o.device_width == 0 || o.bus_width % o.device_width != 0)
    fail("org.device_width", "must divide bus_width (" + std::to_string(o.bus_width) + ")");
  if (o.columns < o.burst_length)
    fail("org.columns", "fewer columns than one burst (" + std::to_string(o.burst_length) + ")");
  if (o.data_rate_mtps == 0) fail("org.data_rate_mtps", "must be positive");

  DramTiming& t = c.timing;
  if (!(t.tCK_ps > 0)) fail("timing.tCK_ps", "must be positive");
  const std::uint32_t beats = implied_beats(c);
  if (beats == 0 || o.burst_length % beats != 0) {
    std::ostringstream os;
    os << "data_rate_mtps (" << o.data_rate_mtps << ") and tCK_ps (" << t.tCK_ps
       << ") do not give a whole number of beats per clock dividing burst_length ("
       << o.burst_length << ")";
    fail("timing.tCK_ps", os.str());
  }
  t.tBL = o.burst_length / beats;

  const auto positive = [&](const char* key, std::uint32_t v) {
    if (v == 0) fail(std::string("timing.") + key, "must be at least 1");
  };
  positive("tCL", t.tCL);
  positive("tCWL", t.tCWL);
  positive("tRCD", t.tRCD);
  positive("tRCD_WR", t.tRCD_WR);
  positive("tRP", t.tRP);
  positive("tRP_ab", t.tRP_ab);
  positive("tRAS", t.tRAS);
  positive("tRC", t.tRC);
  positive("tRRD_S", t.tRRD_S);
  positive("tFAW", t.tFAW);
  positive("tCCD_S", t.tCCD_S);
  positive("tWTR_S", t.tWTR_S);
  positive("tWR", t.tWR);
  positive("tRTP", t.tRTP);
  positive("tREFI", t.tREFI);
  positive("tRFC", t.tRFC);

  // Consistency between parameters, as the standards define them.
  const auto at_least = [&](const char* key, std::uint32_t v, const char* what,
                            std::uint64_t bound) {
    if (v < bound) {
      std::ostringstream os;
      os << "timing." << key << " (" << v << ") < " << what << " (" << bound << ")";
      throw Error(where + ": " + os.str());
    }
  };
  at_least("tRC", t.tRC, "tRAS + tRP", std::uint64_t{t.tRAS} + t.tRP);
  at_least("tRAS", t.tRAS, "tRCD", t.tRCD);
  at_least("tRRD_L", t.tRRD_L, "tRRD_S", t.tRRD_S);
  at_least("tCCD_L", t.tCCD_L, "tCCD_S", t.tCCD_S);
  at_least("tWTR_L", t.tWTR_L, "tWTR_S", t.tWTR_S);
  at_least("tREFI", t.tREFI, "tRFC + 1", std::uint64_t{t.tRFC} + 1);

  const ControllerConfig& k = c.controller;
  const auto known = [&](const char* key, const std::string& name,
                         const std::vector<std::string>& names) {
    if (std::find(names.begin(), names.end(), name) == names.end())
      fail(std::string("controller.") + key,
           "unknown " + std::string(key) + " '" + name + "' (known: " + join(names) + ")");
  };
  known("scheduler", k.scheduler, scheduler_names());
  known("row_policy", k.row_policy, row_policy_names());
  known("address_mapping", k.address_mapping, address_mapping_names());
  known("refresh", k.refresh, refresh_names());
  if (k.read_queue_depth == 0) fail("controller.read_queue_depth", "must be at least 1");
  if (k.write_queue_depth == 0) fail("controller.write_queue_depth", "must be at least 1");
  if (k.write_high_watermark == 0 || k.write_high_watermark > k.write_queue_depth)
    fail("controller.write_high_watermark",
         "must be in 1..write_queue_depth (" + std::to_string(k.write_queue_depth) + ")");
  if (k.write_low_watermark >= k.write_high_watermark)
    fail("controller.write_low_watermark",
         "must be below write_high_watermark (" + std::to_string(k.write_high_watermark) + ")");
}

DramConfig parse_dram_config(const std::string& yaml_text, const std::string& source_name) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw Error(source_name + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  try {
    return parse(root, source_name);
  } catch (const YAML::Exception& e) {
    throw Error(source_name + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

DramConfig load_dram_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open DRAM config");
  std::ostringstream os;
  os << in.rdbuf();
  return parse_dram_config(os.str(), path);
}

std::string dram_preset_dir() { return TESSEL_DRAM_PRESET_DIR; }

std::vector<std::string> dram_preset_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dram_preset_dir(), ec))
    if (e.path().extension() == ".yaml") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

DramConfig load_dram_preset_or_file(const std::string& preset_or_path) {
  const std::filesystem::path p(preset_or_path);
  if (p.has_parent_path() || p.extension() == ".yaml" || p.extension() == ".yml")
    return load_dram_config(preset_or_path);
  const std::filesystem::path preset = std::filesystem::path(dram_preset_dir()) / (preset_or_path + ".yaml");
  if (std::filesystem::exists(preset)) return load_dram_config(preset.string());
  throw Error("unknown DRAM preset '" + preset_or_path + "' (known: " +
              join(dram_preset_names()) + "; or give a path to a .yaml file)");
}

nlohmann::json dram_config_json(const DramConfig& c) {
  const DramOrg& o = c.org;
  const DramTiming& t = c.timing;
  const ControllerConfig& k = c.controller;
  return nlohmann::json{
      {"name", c.name},
      {"standard", c.standard},
      {"org",
       {{"channels", o.channels}, {"ranks", o.ranks}, {"bankgroups", o.bankgroups},
        {"banks_per_group", o.banks_per_group}, {"rows", o.rows}, {"columns", o.columns},
        {"device_width", o.device_width}, {"bus_width", o.bus_width},
        {"burst_length", o.burst_length}, {"data_rate_mtps", o.data_rate_mtps}}},
      {"timing",
       {{"tCK_ps", t.tCK_ps}, {"tBL", t.tBL}, {"tCL", t.tCL}, {"tCWL", t.tCWL},
        {"tRCD", t.tRCD}, {"tRCD_WR", t.tRCD_WR}, {"tRP", t.tRP}, {"tRP_ab", t.tRP_ab},
        {"tRAS", t.tRAS}, {"tRC", t.tRC}, {"tRRD_S", t.tRRD_S}, {"tRRD_L", t.tRRD_L},
        {"tFAW", t.tFAW}, {"tCCD_S", t.tCCD_S}, {"tCCD_L", t.tCCD_L}, {"tWTR_S", t.tWTR_S},
        {"tWTR_L", t.tWTR_L}, {"tWR", t.tWR}, {"tRTP", t.tRTP}, {"tRTRS", t.tRTRS},
        {"tREFI", t.tREFI}, {"tRFC", t.tRFC}}},
      {"controller",
       {{"scheduler", k.scheduler}, {"row_policy", k.row_policy},
        {"address_mapping", k.address_mapping}, {"refresh", k.refresh},
        {"read_queue_depth", k.read_queue_depth}, {"write_queue_depth", k.write_queue_depth},
        {"write_high_watermark", k.write_high_watermark},
        {"write_low_watermark", k.write_low_watermark}}},
      {"peak_bandwidth_gbps", c.peak_bandwidth_gbps()},
  };
}

}  // namespace tessel::sim::mem
