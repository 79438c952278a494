// No refresh: for experiments that isolate scheduling from refresh (the device would lose
// data; the timing model does not care). Never the default.
#include "builtins.hpp"

namespace tessel::sim::mem::impl {
namespace {

class NoRefresh final : public IRefresh {
 public:
  const std::string& name() const override { return name_; }
  void reset(const DramConfig&) override {}
  std::uint64_t next_due() const override { return kNever; }
  int due_rank(std::uint64_t) const override { return -1; }
  void on_refresh_issued(std::uint32_t, std::uint64_t) override {}

 private:
  std::string name_ = "none";
};

}  // namespace

std::unique_ptr<IRefresh> make_no_refresh() { return std::make_unique<NoRefresh>(); }

}  // namespace tessel::sim::mem::impl
