#include "tessel/sim/mem/membench.hpp"

#include <chrono>

#include "tessel/ir/error.hpp"
#include "tessel/sim/mem/memory_system.hpp"

namespace tessel::sim::mem {

namespace {

// SplitMix64: tiny, fast, and identical on every platform (std distributions are not).
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t s_;
};

}  // namespace

std::string_view pattern_name(Pattern p) {
  switch (p) {
    case Pattern::SeqRead: return "seq-read";
    case Pattern::SeqWrite: return "seq-write";
    case Pattern::RandomRead: return "random-read";
    case Pattern::RandomMixed: return "random-mixed";
  }
  return "?";
}

Pattern parse_pattern(const std::string& name) {
  for (Pattern p : {Pattern::SeqRead, Pattern::SeqWrite, Pattern::RandomRead,
                    Pattern::RandomMixed})
    if (name == pattern_name(p)) return p;
  throw Error("unknown membench pattern '" + name +
              "' (known: seq-read, seq-write, random-read, random-mixed)");
}

MembenchResult run_membench(const DramConfig& config, Pattern pattern, std::uint64_t bytes,
                            std::uint32_t seed) {
  if (bytes == 0) throw Error("membench: bytes must be positive");
  MemorySystem ms(config);
  const DramConfig& cfg = ms.config();
  const std::uint64_t burst = cfg.org.burst_bytes();
  const std::uint64_t bursts_total = cfg.org.capacity_bytes() / burst;  // a power of two
  const std::uint64_t n = (bytes + burst - 1) / burst;

  SplitMix64 rng(seed);
  std::uint64_t i = 0;
  const auto make = [&](std::uint64_t k) {
    Request r;
    r.id = k;
    switch (pattern) {
      case Pattern::SeqRead:
      case Pattern::SeqWrite:
        r.addr = (k & (bursts_total - 1)) * burst;
        r.is_write = pattern == Pattern::SeqWrite;
        break;
      case Pattern::RandomRead:
        r.addr = (rng.next() & (bursts_total - 1)) * burst;
        break;
      case Pattern::RandomMixed: {
        const std::uint64_t x = rng.next();
        r.addr = ((x >> 1) & (bursts_total - 1)) * burst;
        r.is_write = (x & 1) != 0;
        break;
      }
    }
    return r;
  };

  const auto start = std::chrono::steady_clock::now();
  Request next = make(0);
  while (i < n) {
    while (i < n && ms.can_accept(next.addr, next.is_write)) {
      ms.send(next);
      if (++i < n) next = make(i);
    }
    ms.step();
  }
  ms.run_until_idle();
  const auto stop = std::chrono::steady_clock::now();

  MembenchResult r;
  r.config_name = cfg.name;
  r.pattern = pattern;
  r.requests = n;
  r.bytes = n * burst;
  r.stats = ms.stats();
  r.total_cycles = r.stats.total.last_completion_cycle;
  const double seconds = cfg.cycles_to_ns(static_cast<double>(r.total_cycles)) * 1e-9;
  r.achieved_gbps = seconds > 0 ? static_cast<double>(r.bytes) / seconds * 1e-9 : 0.0;
  r.peak_gbps = cfg.peak_bandwidth_gbps();
  r.efficiency = r.peak_gbps > 0 ? r.achieved_gbps / r.peak_gbps : 0.0;
  r.latency_ns_mean = cfg.cycles_to_ns(r.stats.latency.mean());
  r.latency_ns_p50 = cfg.cycles_to_ns(static_cast<double>(r.stats.latency.percentile(0.50)));
  r.latency_ns_p99 = cfg.cycles_to_ns(static_cast<double>(r.stats.latency.percentile(0.99)));
  r.row_hit_rate = r.stats.row_hit_rate();
  r.host_seconds = std::chrono::duration<double>(stop - start).count();
  r.requests_per_second =
      r.host_seconds > 0 ? static_cast<double>(n) / r.host_seconds : 0.0;
  return r;
}

nlohmann::json membench_json(const MembenchResult& r) {
  return nlohmann::json{
      {"achieved_gbps", r.achieved_gbps},
      {"peak_gbps", r.peak_gbps},
      {"efficiency", r.efficiency},
      {"latency_ns", {{"mean", r.latency_ns_mean}, {"p50", r.latency_ns_p50},
                      {"p99", r.latency_ns_p99}}},
      {"row_hit_rate", r.row_hit_rate},
      {"requests_per_second", r.requests_per_second},
  };
}

}  // namespace tessel::sim::mem
