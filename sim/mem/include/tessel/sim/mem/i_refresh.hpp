#pragma once
// Contract:
// - The policy owns *when* refresh is due; the controller owns *how* it is carried out
//   (PREA when banks are open, then REF) and gives it priority over requests to the
//   refreshing rank, which wait until the REF has issued (and then tRFC, enforced as a
//   timing constraint).
// - next_due() is the earliest cycle at which some rank owes a refresh (kNever if none
//   ever will). It changes only through on_refresh_issued(), so the controller may sleep
//   until that cycle.
// - due_rank(now) names the rank that owes a refresh at `now` (the one due longest), or
//   -1; it is -1 whenever now < next_due() (the controller asks only from that cycle on).
//   The controller calls on_refresh_issued(rank, cycle) when that rank's REF issues.
// - Implementations are deterministic functions of the spec and of the calls above.

#include <cstdint>
#include <string>

#include "tessel/sim/mem/dram_config.hpp"

namespace tessel::sim::mem {

class IRefresh {
 public:
  virtual ~IRefresh() = default;
  virtual const std::string& name() const = 0;
  virtual void reset(const DramConfig& config) = 0;
  virtual std::uint64_t next_due() const = 0;
  virtual int due_rank(std::uint64_t now) const = 0;
  virtual void on_refresh_issued(std::uint32_t rank, std::uint64_t cycle) = 0;
};

}  // namespace tessel::sim::mem
