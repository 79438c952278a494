#pragma once
// Counters of the memory system. Plain data: the model fills them, observers and tools
// format them.

#include <cstdint>
#include <map>
#include <vector>

namespace tessel::sim::mem {

struct ChannelStats {
  std::uint64_t reads = 0;
  std::uint64_t writes = 0;
  // Each served request is exactly one of: a row hit (its row was open when it was first
  // considered), a miss (bank closed: ACT), a conflict (another row open: PRE + ACT).
  std::uint64_t row_hits = 0;
  std::uint64_t row_misses = 0;
  std::uint64_t row_conflicts = 0;
  std::uint64_t activates = 0;
  std::uint64_t precharges = 0;       // explicit PRE
  std::uint64_t precharge_alls = 0;   // PREA (before refresh)
  std::uint64_t auto_precharges = 0;  // RDA/WRA
  std::uint64_t refreshes = 0;
  std::uint64_t bytes = 0;
  std::uint64_t data_bus_busy_cycles = 0;  // cycles the data bus carried a burst
  std::uint64_t write_drains = 0;          // switches from reads to writes
  std::uint64_t latency_sum_cycles = 0;    // arrival -> completion, over all requests
  std::uint64_t last_completion_cycle = 0;

  void add(const ChannelStats& o);
};

// Exact latency distribution in cycles (one counter per cycle value).
class LatencyHistogram {
 public:
  void add(std::uint64_t cycles);
  std::uint64_t count() const { return count_; }
  double mean() const;
  // Nearest-rank percentile: the smallest latency L with at least p*count samples <= L.
  std::uint64_t percentile(double p) const;
  std::uint64_t max() const {
    if (!sparse_.empty()) return sparse_.rbegin()->first;
    return counts_.empty() ? 0 : counts_.size() - 1;
  }

 private:
  // Latencies below kDense are counted in a vector indexed by the latency, the rare longer
  // ones in a map: a few very long latencies must not cost zero-filling (and copying, with
  // every stats()) a vector as long as the longest one (that fill showed in simbench
  // profiles). The statistics are the same as with one vector.
  static constexpr std::uint64_t kDense = 4096;
  std::vector<std::uint64_t> counts_;
  std::map<std::uint64_t, std::uint64_t> sparse_;
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;  // exact (an x87 long double add per request was slow)
};

struct MemoryStats {
  std::vector<ChannelStats> channels;
  ChannelStats total;
  LatencyHistogram latency;  // all requests, reads and writes
  double row_hit_rate() const {
    const std::uint64_t n = total.reads + total.writes;
    return n == 0 ? 0.0 : static_cast<double>(total.row_hits) / static_cast<double>(n);
  }
};

}  // namespace tessel::sim::mem
