// FR-FCFS (Rixner et al., ISCA 2000): among the commands that can issue earliest, row hits
// (column commands) first, then the oldest request. It never waits when something is ready.
#include "builtins.hpp"

namespace tessel::sim::mem::impl {
namespace {

class FrFcfs final : public IScheduler {
 public:
  const std::string& name() const override { return name_; }

  // One pass, minimising the key (max(now, ready_at), not row_hit, seq).
  Selection select(const Candidate* c, std::size_t n, std::uint64_t now) const override {
    int best = -1;
    std::uint64_t best_when = kNever;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint64_t when = c[i].ready_at < now ? now : c[i].ready_at;
      if (best >= 0) {
        const Candidate& b = c[best];
        if (when > best_when) continue;
        if (when == best_when &&
            (b.row_hit != c[i].row_hit ? b.row_hit : b.seq < c[i].seq))
          continue;
      }
      best = static_cast<int>(i);
      best_when = when;
    }
    return {best, best_when};
  }
  bool frfcfs_order() const override { return true; }

 private:
  std::string name_ = "frfcfs";
};

}  // namespace

std::unique_ptr<IScheduler> make_frfcfs() { return std::make_unique<FrFcfs>(); }

}  // namespace tessel::sim::mem::impl
