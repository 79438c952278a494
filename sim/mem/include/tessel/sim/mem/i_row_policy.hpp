#pragma once
// Contract:
// - Asked once per column command, just before it issues: should this access close its
//   row (issue RDA/WRA, auto-precharge) or leave it open (RD/WR)?
// - The answer may depend only on the context given (pure function), so runs are
//   deterministic. The policy never issues commands itself and sees no timing: the
//   controller applies the auto-precharge timing (tRTP/tWR, tRAS, then tRP).
// - An open row left by the policy is closed by the controller only when a queued
//   request needs another row in that bank (PRE), or for refresh (PREA).

#include <cstdint>
#include <string>

namespace tessel::sim::mem {

struct RowPolicyContext {
  std::uint32_t bank = 0;           // flat bank index within the channel
  std::uint32_t row = 0;
  std::uint32_t other_hits_queued = 0;  // requests still queued for this open row
};

class IRowPolicy {
 public:
  virtual ~IRowPolicy() = default;
  virtual const std::string& name() const = 0;
  virtual bool close_after_access(const RowPolicyContext& ctx) const = 0;
};

}  // namespace tessel::sim::mem
