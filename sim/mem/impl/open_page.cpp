// Open page: rows stay open after an access, betting on the next access hitting them.
// The controller closes a row only when a queued request needs another row (PRE) or a
// refresh is due (PREA).
#include "builtins.hpp"

namespace tessel::sim::mem::impl {
namespace {

class OpenPage final : public IRowPolicy {
 public:
  const std::string& name() const override { return name_; }
  bool close_after_access(const RowPolicyContext&) const override { return false; }

 private:
  std::string name_ = "open";
};

}  // namespace

std::unique_ptr<IRowPolicy> make_open_page() { return std::make_unique<OpenPage>(); }

}  // namespace tessel::sim::mem::impl
