#include "tessel/sim/mem/stats.hpp"

#include <cmath>

namespace tessel::sim::mem {

void ChannelStats::add(const ChannelStats& o) {
  reads += o.reads;
  writes += o.writes;
  row_hits += o.row_hits;
  row_misses += o.row_misses;
  row_conflicts += o.row_conflicts;
  activates += o.activates;
  precharges += o.precharges;
  precharge_alls += o.precharge_alls;
  auto_precharges += o.auto_precharges;
  refreshes += o.refreshes;
  bytes += o.bytes;
  data_bus_busy_cycles += o.data_bus_busy_cycles;
  write_drains += o.write_drains;
  latency_sum_cycles += o.latency_sum_cycles;
  if (o.last_completion_cycle > last_completion_cycle)
    last_completion_cycle = o.last_completion_cycle;
}

void LatencyHistogram::add(std::uint64_t cycles) {
  if (cycles < kDense) {
    if (cycles >= counts_.size()) counts_.resize(cycles + 1, 0);
    ++counts_[cycles];
  } else {
    ++sparse_[cycles];
  }
  ++count_;
  sum_ += cycles;
}

double LatencyHistogram::mean() const {
  // The same division as when the sum was kept in long double (exact for integers below
  // 2^64, as this one is), so means are unchanged to the last bit.
  return count_ == 0 ? 0.0
                     : static_cast<double>(static_cast<long double>(sum_) /
                                           static_cast<long double>(count_));
}

std::uint64_t LatencyHistogram::percentile(double p) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(count_)));
  if (rank < 1) rank = 1;
  std::uint64_t seen = 0;
  for (std::uint64_t l = 0; l < counts_.size(); ++l) {
    seen += counts_[l];
    if (seen >= rank) return l;
  }
  for (const auto& [l, n] : sparse_) {
    seen += n;
    if (seen >= rank) return l;
  }
  return max();
}

}  // namespace tessel::sim::mem
