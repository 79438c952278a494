#pragma once
// One channel's memory controller: read and write queues, a scheduler, a row policy,
// refresh, and the channel's devices (DramDevice). Event-driven: it computes the next
// cycle at which it can do anything (issue a command, complete a request, start a
// refresh) and jumps there, so idle cycles cost nothing.
//
// Trains (Request::bursts > 1, from MemorySystem::send_transaction): one queue entry for
// several bursts to one bank and row. The scheduler sees it as one request; when it picks
// the train's column command, the controller issues that command and then the train's
// other column commands back to back, each at its earliest legal cycle (DramDevice::
// issue_train_column), and completes the request with its last burst. Other banks' ACT
// and PRE still go in the gaps; no other column command goes between a train's bursts (it
// could not have gone earlier anyway: the data bus is the train's). A row-policy close
// (RDA/WRA) is applied to the last burst. Statistics count bursts: reads, writes, bytes
// and row hits/misses/conflicts (the first burst is classified, the others are hits).

#include <cstdint>
#include <memory>
#include <vector>

#include "tessel/sim/mem/command.hpp"
#include "tessel/sim/mem/dram_config.hpp"
#include "tessel/sim/mem/dram_device.hpp"
#include "tessel/sim/mem/i_observer.hpp"
#include "tessel/sim/mem/i_refresh.hpp"
#include "tessel/sim/mem/i_row_policy.hpp"
#include "tessel/sim/mem/i_scheduler.hpp"
#include "tessel/sim/mem/request.hpp"
#include "tessel/sim/mem/stats.hpp"

namespace tessel::sim::mem {

class ICompletionSink {
 public:
  virtual ~ICompletionSink() = default;
  virtual void on_done(const Request& request, std::uint32_t channel,
                       std::uint64_t done_cycle) = 0;
};

class ChannelController {
 public:
  // `sink` and `observers` are not owned and must outlive the controller.
  ChannelController(const DramConfig& config, std::uint32_t channel,
                    ICompletionSink* sink, const std::vector<IDramObserver*>* observers);

  bool can_accept(bool is_write) const {
    return is_write ? qsize_[1] < write_depth_ : qsize_[0] < read_depth_;
  }
  // Free queue entries (each holds one request, single burst or train).
  std::uint32_t free_entries(bool is_write) const {
    return is_write ? write_depth_ - qsize_[1] : read_depth_ - qsize_[0];
  }
  // Queues a request at cycle `now` (>= every cycle already processed).
  void enqueue(const Request& request, const DecodedAddress& where, std::uint64_t now);

  // The next cycle with something to do (kNever if nothing ever will, e.g. no refresh).
  std::uint64_t next_event();
  // Processes every event at cycles < `cycle`.
  void advance_to(std::uint64_t cycle);
  // Requests queued or with data still in flight.
  bool busy() const {
    return qsize_[0] + qsize_[1] > 0 || !read_done_.empty() || !write_done_.empty();
  }

  const DramDevice& device() const { return device_; }
  const ChannelStats& stats() const { return stats_; }
  bool write_mode() const { return write_mode_; }
  // Cross-check every incremental plan update against a full re-plan (std::logic_error on
  // a difference). Slow; for tests.
  void set_self_check(bool on) { self_check_ = on; }
  std::uint32_t queued(bool is_write) const { return qsize_[is_write ? 1 : 0]; }

 private:
  struct Slot {
    Request req;
    DecodedAddress where;
    std::uint32_t bank = 0;  // flat
    std::uint64_t seq = 0;
    std::int32_t prev = -1, next = -1;
    std::uint8_t row_class = 0;  // 0 = not yet classified, 1 = miss, 2 = conflict
  };
  struct BankQueue {
    std::int32_t head = -1, tail = -1;
    std::uint32_t count = 0;
    std::uint32_t hits = 0;  // queued requests for the bank's open row
  };
  enum class PlanKind : std::uint8_t { None, Wake, Issue };
  struct Plan {
    bool valid = false;
    PlanKind kind = PlanKind::None;
    std::uint64_t cycle = kNever;
    Command command = Command::ACT;
    std::uint32_t bank = 0;
    std::int32_t slot = -1;
    // The parts it was combined from, kept so an arrival can update the plan in O(1).
    int refresh_rank = -1;          // rank owing a refresh at plan time, or -1
    PlanKind refresh_kind = PlanKind::None;
    std::uint64_t refresh_cycle = kNever;
    Command refresh_command = Command::REF;
    bool has_request = false;       // the scheduler's choice among request candidates
    Candidate request;
    std::uint64_t request_cycle = kNever;
  };
  struct Done {
    Request req;
    std::uint64_t cycle;
  };
  // A FIFO whose completion cycles are non-decreasing (one per direction).
  struct DoneFifo {
    std::vector<Done> items;
    std::size_t head = 0;
    bool empty() const { return head == items.size(); }
    const Done& front() const { return items[head]; }
    void push(const Done& d) { items.push_back(d); }
    void pop() {
      if (++head == items.size()) {
        items.clear();
        head = 0;
      }
    }
  };

  void plan();
  void combine_plan();
  bool update_plan_for_arrival(std::int32_t slot, bool was_hit_free, bool was_other_free);
  void update_write_mode();
  void collect_candidates(int queue, int skip_rank, std::uint64_t now);
  void execute();
  void execute_refresh(Command cmd, std::uint32_t bank, std::uint64_t cycle);
  void recount_hits(std::uint32_t bank);
  void unlink(int queue, std::int32_t slot);
  void deliver(DoneFifo& fifo);
  void notify(Command cmd, std::uint32_t bank, const Slot* slot, std::uint64_t cycle);

  std::uint32_t channel_;
  std::uint32_t read_depth_, write_depth_, high_, low_;
  std::uint32_t read_latency_, write_latency_;  // command -> last data beat
  std::uint32_t burst_bytes_, tBL_;
  DramDevice device_;
  std::unique_ptr<IScheduler> scheduler_;
  std::unique_ptr<IRowPolicy> row_policy_;
  std::unique_ptr<IRefresh> refresh_;
  ICompletionSink* sink_;
  const std::vector<IDramObserver*>* observers_;

  std::vector<Slot> slots_;
  std::vector<std::int32_t> free_;
  std::vector<BankQueue> queues_[2];        // [read, write][flat bank]
  std::vector<std::uint64_t> nonempty_[2];  // bitsets over banks
  std::uint32_t qsize_[2] = {0, 0};
  std::uint64_t next_seq_ = 0;
  bool write_mode_ = false;
  bool self_check_ = false;

  std::uint64_t now_ = 0;  // every event before this cycle has been processed
  Plan plan_;
  std::vector<Candidate> candidates_;
  DoneFifo read_done_, write_done_;
  ChannelStats stats_;
};

}  // namespace tessel::sim::mem
