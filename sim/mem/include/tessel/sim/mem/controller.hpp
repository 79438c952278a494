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

#include <array>
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
  // Queues a request at cycle `now` (>= every cycle already processed); its arrival is
  // `now`.
  void enqueue(const Request& request, const DecodedAddress& where, std::uint64_t now) {
    enqueue(request, request.addr, request.bursts, where, now);
  }
  // The same for a train of `request`'s transaction: its address and burst count given
  // apart, so that no modified copy of the request is built (each such copy, read back
  // wider than it was written, was a store-forwarding stall).
  void enqueue(const Request& request, std::uint64_t addr, std::uint32_t bursts,
               const DecodedAddress& where, std::uint64_t now);

  // The next cycle with something to do (kNever if nothing ever will, e.g. no refresh).
  std::uint64_t next_event() {
    if (!plan_.valid) plan();
    const std::uint64_t rd = read_done_.front_cycle, wr = write_done_.front_cycle;
    const std::uint64_t done = rd < wr ? rd : wr;
    return plan_.cycle < done ? plan_.cycle : done;
  }
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
    std::int32_t prev = -1;  // the next one is in chain_
    std::uint8_t row_class = 0;  // 0 = not yet classified, 1 = miss, 2 = conflict
  };
  // One bank's requests of one kind (read or write), in arrival order (a list through
  // Slot::prev and chain_[].next). The scheduler's two candidates of the bank are cached
  // here rather than found by walking the list at every plan. Invariants, at every plan (checked by
  // check_bank_caches() in self-check mode):
  //   hits       = the queued requests for the bank's open row (0 if the bank is closed);
  //   hit_slot   = the oldest of them, -1 if none; hit_seq = its Slot::seq;
  //   other_slot = the oldest queued request that is not for the open row (every request
  //                if the bank is closed), -1 if none; other_seq = its Slot::seq.
  // They change when a request arrives (enqueue), leaves (unlink), or the bank's row
  // changes (ACT, PRE, RDA/WRA, PREA: refresh_bank()).
  struct BankQueue {
    std::int32_t head = -1, tail = -1;
    std::uint32_t count = 0;
    std::uint32_t hits = 0;
    std::int32_t hit_slot = -1, other_slot = -1;
    std::uint64_t hit_seq = 0, other_seq = 0;
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
  // A FIFO whose completion cycles are non-decreasing (one per direction). `front_cycle`
  // is the first completion's cycle, kNever when empty: next_event() reads it every step.
  struct DoneFifo {
    std::vector<Done> items;
    std::size_t head = 0;
    std::uint64_t front_cycle = kNever;
    bool empty() const { return front_cycle == kNever; }
    const Done& front() const { return items[head]; }
    // Built in place: a Done assembled on the stack and then copied cost a
    // store-forwarding stall per completion (two 8-byte stores read back as 16 bytes).
    void push(const Request& req, std::uint64_t cycle) {
      Done& d = items.emplace_back();
      d.req = req;
      d.cycle = cycle;
      if (front_cycle == kNever) front_cycle = cycle;
    }
    void pop() {
      if (++head == items.size()) {
        items.clear();
        head = 0;
        front_cycle = kNever;
      } else {
        front_cycle = items[head].cycle;
      }
    }
  };

  void plan();
  void combine_plan();
  bool update_plan_for_arrival(std::int32_t slot, bool was_hit_free, bool was_other_free);
  void update_write_mode();
  void collect_candidates(int queue, int skip_rank, std::uint64_t now);
  bool select_frfcfs(int queue, int skip_rank, std::uint64_t now, Candidate* chosen);
  __attribute__((noinline)) bool select_frfcfs_scan(int queue, int skip_rank, std::uint64_t now,
                                                    Candidate* chosen);
  void sync_scan(int queue, std::uint32_t bank);
  void sync_own(std::uint32_t bank);
  void select_request(int queue, int skip_rank, std::uint64_t now);
  void check_bank_caches() const;
  void execute();
  void execute_refresh(Command cmd, std::uint32_t bank, std::uint64_t cycle);
  void refresh_bank(std::uint32_t bank);
  std::int32_t next_of_kind(std::int32_t after, bool hit, std::uint32_t row) const;
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
  bool frfcfs_ = false;  // scheduler_->frfcfs_order(): plan() computes its choice itself
  // refresh_->next_due(), kept: it changes only through on_refresh_issued() (i_refresh.hpp),
  // and before it no rank is due, so plan() asks due_rank() only from that cycle on.
  std::uint64_t refresh_due_ = kNever;
  ICompletionSink* sink_;
  const std::vector<IDramObserver*>* observers_;

  std::vector<Slot> slots_;
  // Per slot, the next younger slot of its bank list (-1 at the tail) and its row: the
  // walks of a bank's list (refresh_bank on ACT) chase these, 8 bytes apart, instead of
  // 100-byte Slots. chain_[s].row == slots_[s].where.row.
  struct Link {
    std::int32_t next;
    std::uint32_t row;
  };
  std::vector<Link> chain_;
  // Per queue and bank, how many queued requests have each value of row % 64 (exact
  // counts, kept by enqueue and unlink). An ACT opening row R finds the bank's hits
  // without walking its list when R's bucket holds none of the list, or only its head
  // (refresh_bank); random rows rarely share a bucket.
  using RowBuckets = std::array<std::uint16_t, 64>;
  std::vector<RowBuckets> row_buckets_[2];
  std::vector<std::int32_t> free_;
  std::vector<BankQueue> queues_[2];        // [read, write][flat bank]
  // select_frfcfs()'s view of each candidate, so that its scan is a tight pass over a
  // dense array. scan_[q][0][bank] is the bank's hit, [1][bank] its other candidate
  // (BankQueue::hit_slot / other_slot); present_ says which exist. Invariant for a present
  // candidate, at every plan (checked by check_bank_caches()): `key` is scan_key(seq,
  // bank, hit) (controller.cpp: the order of (!hit, seq), naming the bank in its low
  // bits); `floor` indexes floors_: 3 * bank group + {0 ACT, 1 PRE,
  // 2 column}; `own` is the bank's own constraint for its command in DramDevice's split
  // of earliest_* (bank_next_column of the queue for the hit; bank_next_pre or
  // bank_next_act as the bank is open or closed for the other). A change of candidate
  // (enqueue, unlink) or of the bank's row (refresh_bank) re-derives an entry
  // (sync_scan()); a bank's own constraints change only through commands to that bank
  // (and PREA to its rank), after which sync_own() re-reads them.
  struct ScanEntry {
    std::uint64_t own = 0;
    std::uint64_t key = kNever;
    std::uint32_t floor = 0;
  };
  std::vector<ScanEntry> scan_[2][2];  // [queue][hit, other][bank]
  std::vector<std::uint64_t> floors_;       // select_frfcfs: per bank group, see ScanEntry
  std::uint32_t groups_ = 0;                // device_.num_groups()
  std::vector<std::uint64_t> skip_mask_;    // select_frfcfs: the banks of a refreshing rank
  std::vector<std::uint64_t> nonempty_[2];  // bitsets over banks
  // Bitsets over banks: which banks have a hit (present_[q][0]) and an other candidate
  // (present_[q][1]) in queue q, i.e. BankQueue::hit_slot / other_slot >= 0; kept by
  // sync_scan() with scan_ so that select_frfcfs() visits only present candidates.
  std::vector<std::uint64_t> present_[2][2];
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
