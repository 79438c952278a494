#pragma once
// Typed, validated access to one YAML mapping, shared by the configuration parsers
// (DRAM specs, NPU presets). Every error is tessel::Error "<file>: <key path>: <problem>",
// e.g. "default.yaml: mac.rows: expected a non-negative integer, got 'x'".
// Include only from .cpp files that link yaml-cpp.

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <string>

#include "tessel/ir/error.hpp"

namespace tessel::sim {

// Typed access to one YAML mapping with the key path kept for error messages.
class Section {
 public:
  Section(const std::string& source, std::string path, YAML::Node node)
      : source_(source), path_(std::move(path)), node_(std::move(node)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw Error(source_ + ": " + qualified(key) + ": " + problem);
  }
  std::string qualified(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }

  bool has(const std::string& key) const { return bool(node_[key]); }

  // Every key present must be one of `known` (typos are errors, not silent defaults).
  void only(std::initializer_list<const char*> known) const {
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      const std::string key = it->first.as<std::string>();
      if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; }))
        fail(key, "unknown key");
    }
  }

  Section map(const std::string& key, bool required) const {
    const YAML::Node n = node_[key];
    if (!n) {
      if (required) fail(key, "missing");
      return Section(source_, qualified(key), YAML::Node(YAML::NodeType::Map));
    }
    if (!n.IsMap()) fail(key, "expected a mapping");
    return Section(source_, qualified(key), n);
  }

  std::string text(const std::string& key) const {
    const YAML::Node n = node_[key];
    if (!n) fail(key, "missing");
    if (!n.IsScalar()) fail(key, "expected a string");
    return n.Scalar();
  }
  std::string text(const std::string& key, const std::string& fallback) const {
    return has(key) ? text(key) : fallback;
  }

  std::uint32_t count(const std::string& key) const {
    const std::uint64_t v = count64(key);
    if (v > UINT32_MAX) fail(key, "too large: " + std::to_string(v));
    return static_cast<std::uint32_t>(v);
  }
  std::uint32_t count(const std::string& key, std::uint32_t fallback) const {
    return has(key) ? count(key) : fallback;
  }

  std::uint64_t count64(const std::string& key) const {
    const YAML::Node n = node_[key];
    if (!n) fail(key, "missing");
    if (!n.IsScalar()) fail(key, "expected a non-negative integer");
    const std::string& s = n.Scalar();
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty())
      fail(key, "expected a non-negative integer, got '" + s + "'");
    return v;
  }

  // A required count that must lie in [lo, hi].
  std::uint32_t count_in(const std::string& key, std::uint32_t lo, std::uint32_t hi) const {
    return in_range(key, count(key), lo, hi);
  }
  // An optional one (`fallback` when absent).
  std::uint32_t count_in(const std::string& key, std::uint32_t fallback, std::uint32_t lo,
                         std::uint32_t hi) const {
    return in_range(key, count(key, fallback), lo, hi);
  }
  std::uint32_t in_range(const std::string& key, std::uint32_t v, std::uint32_t lo,
                         std::uint32_t hi) const {
    if (v < lo || v > hi)
      fail(key, "must be in " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " +
                    std::to_string(v));
    return v;
  }

  const YAML::Node& node() const { return node_; }

  double real(const std::string& key) const {
    const YAML::Node n = node_[key];
    if (!n) fail(key, "missing");
    if (!n.IsScalar()) fail(key, "expected a number");
    const std::string& s = n.Scalar();
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v))
      fail(key, "expected a number, got '" + s + "'");
    return v;
  }

  // A _S/_L pair that may also be given as one value for both (standards without bank
  // groups): "tRRD: 22" or "tRRD_S: 4" + "tRRD_L: 8".
  void pair(const std::string& base, std::uint32_t& s, std::uint32_t& l) const {
    const bool one = has(base), split = has(base + "_S") || has(base + "_L");
    if (one && split) fail(base, "give either " + base + " or " + base + "_S/" + base + "_L");
    if (one) {
      s = l = count(base);
    } else {
      s = count(base + "_S");
      l = count(base + "_L");
    }
  }

 private:
  const std::string& source_;
  std::string path_;
  YAML::Node node_;
};

}  // namespace tessel::sim
