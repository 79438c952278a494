// Closed page: every access closes its row with auto-precharge (RDA/WRA), so the next
// access to the bank pays tRCD but never tRP on the critical path, and no PRE command
// takes a command-bus slot. Good for random traffic, bad for streams.
#include "builtins.hpp"

namespace tessel::sim::mem::impl {
namespace {

class ClosedPage final : public IRowPolicy {
 public:
  const std::string& name() const override { return name_; }
  bool close_after_access(const RowPolicyContext&) const override { return true; }

 private:
  std::string name_ = "closed";
};

}  // namespace

std::unique_ptr<IRowPolicy> make_closed_page() { return std::make_unique<ClosedPage>(); }

}  // namespace tessel::sim::mem::impl
