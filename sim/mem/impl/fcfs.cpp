// FCFS: strictly in arrival order. The oldest request's next command issues as soon as it
// is legal; nothing younger overtakes it, even a row hit that could go now.
#include "builtins.hpp"

namespace tessel::sim::mem::impl {
namespace {

class Fcfs final : public IScheduler {
 public:
  const std::string& name() const override { return name_; }

  Selection select(const Candidate* c, std::size_t n, std::uint64_t now) const override {
    int oldest = -1;
    for (std::size_t i = 0; i < n; ++i)
      if (oldest < 0 || c[i].seq < c[oldest].seq) oldest = static_cast<int>(i);
    if (oldest < 0) return {};
    const std::uint64_t r = c[oldest].ready_at;
    return {oldest, r < now ? now : r};
  }

 private:
  std::string name_ = "fcfs";
};

}  // namespace

std::unique_ptr<IScheduler> make_fcfs() { return std::make_unique<Fcfs>(); }

}  // namespace tessel::sim::mem::impl
