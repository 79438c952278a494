// All-bank refresh: each rank owes one REF every tREFI (JEDEC's average interval). Ranks
// are staggered by tREFI / ranks so they do not all stall the channel at once. The next
// obligation is counted from the previous one's due cycle, not from when the REF actually
// issued, so the long-run rate is exactly one per tREFI (no postponing credit is modelled).
#include <algorithm>
#include <vector>

#include "builtins.hpp"

namespace tessel::sim::mem::impl {
namespace {

class AllBankRefresh final : public IRefresh {
 public:
  const std::string& name() const override { return name_; }

  void reset(const DramConfig& config) override {
    interval_ = config.timing.tREFI;
    const std::uint32_t ranks = config.org.ranks;
    due_.assign(ranks, 0);
    for (std::uint32_t r = 0; r < ranks; ++r) due_[r] = interval_ + r * (interval_ / ranks);
  }

  std::uint64_t next_due() const override {
    return due_.empty() ? kNever : *std::min_element(due_.begin(), due_.end());
  }

  int due_rank(std::uint64_t now) const override {
    int best = -1;
    for (std::size_t r = 0; r < due_.size(); ++r)
      if (due_[r] <= now && (best < 0 || due_[r] < due_[static_cast<std::size_t>(best)]))
        best = static_cast<int>(r);
    return best;
  }

  void on_refresh_issued(std::uint32_t rank, std::uint64_t) override {
    due_[rank] += interval_;
  }

 private:
  std::string name_ = "all_bank";
  std::uint64_t interval_ = 0;
  std::vector<std::uint64_t> due_;
};

}  // namespace

std::unique_ptr<IRefresh> make_all_bank_refresh() { return std::make_unique<AllBankRefresh>(); }

}  // namespace tessel::sim::mem::impl
