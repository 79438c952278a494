#pragma once
// Contract:
// - The controller hands the scheduler a list of candidates, one per (bank, kind): for
//   every bank with queued requests in the queue being served (reads, or writes while
//   draining), the oldest request that hits the open row (its column command) and the
//   oldest request that does not (its ACT or PRE). All requests of one bank and kind
//   share the same next command and the same earliest cycle, so nothing is lost by
//   showing only the oldest.
// - Each candidate carries the earliest cycle at which its command satisfies every timing
//   constraint (`ready_at`, >= now). The controller guarantees the state does not change
//   before the returned cycle unless a request arrives, in which case it asks again.
// - select() returns the candidate to issue and the cycle to issue it at; the cycle must
//   be >= max(now, ready_at of that candidate). Returning no choice means "wait for an
//   arrival". The scheduler may deliberately wait past the earliest ready cycle (FCFS does).
// - The choice must be the minimum of a total order on candidates (for a given `now`):
//   select(A + B) == select({select(A), select(B)}). The controller relies on it to update
//   its choice in O(1) when a request arrives instead of asking about every bank again.
//   FR-FCFS orders by (max(now, ready_at), not row_hit, seq); FCFS by seq.
// - Implementations must be deterministic: decide only from the candidate fields (ties
//   broken by `seq`, the arrival order), never from pointer values, hashing or time.
// - Implementations must not modify controller state; refresh commands are not theirs
//   (the controller gives refresh priority before consulting the scheduler).
// - Fast path: a scheduler whose select() is exactly the minimum of the FR-FCFS key
//   (max(now, ready_at), not row_hit, seq) may say so with frfcfs_order(). The controller
//   then computes that minimum itself from its per-bank state, without building the
//   candidate list or calling select() (its self-check mode compares the two). Any other
//   order must leave frfcfs_order() false and is served through select().

#include <cstddef>
#include <cstdint>
#include <string>

#include "tessel/sim/mem/command.hpp"

namespace tessel::sim::mem {

struct Candidate {
  std::int32_t slot = -1;      // controller's handle of the request
  std::uint32_t bank = 0;      // flat bank index within the channel
  Command command = Command::ACT;
  bool row_hit = false;        // the command is the request's column access
  std::uint64_t seq = 0;       // arrival order within the channel (smaller = older)
  std::uint64_t ready_at = 0;  // earliest legal issue cycle
};

struct Selection {
  int index = -1;              // into the candidate array; -1 = nothing to issue
  std::uint64_t cycle = kNever;
};

class IScheduler {
 public:
  virtual ~IScheduler() = default;
  virtual const std::string& name() const = 0;
  virtual Selection select(const Candidate* candidates, std::size_t count,
                           std::uint64_t now) const = 0;
  virtual bool frfcfs_order() const { return false; }
};

}  // namespace tessel::sim::mem
