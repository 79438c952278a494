#pragma once
// The memory system facade: address mapping onto channels, one controller per channel,
// one DRAM clock. Plain C++ (no SystemC); a TLM adapter drives it with tick_until().
//
// Time: `now()` is the DRAM command-clock cycle. tick_until(c) processes every event at
// cycles < c and sets now() = c; a request sent at now() may have its first command issued
// in cycle now(). Completion callbacks and observers run inside tick_until() and must not
// call send() or tick_until() (collect the completions, act after tick_until returns).
//
// Typical closed loop:
//   while (work) { while (ms.can_accept(a, w)) ms.send({a, w, id}); ms.step(); }

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "tessel/sim/mem/controller.hpp"
#include "tessel/sim/mem/dram_config.hpp"
#include "tessel/sim/mem/i_address_mapper.hpp"
#include "tessel/sim/mem/i_observer.hpp"
#include "tessel/sim/mem/request.hpp"
#include "tessel/sim/mem/stats.hpp"

namespace tessel::sim::mem {

class MemorySystem final : private ICompletionSink {
 public:
  using CompletionCallback =
      std::function<void(const Request& request, std::uint64_t done_cycle)>;

  // Validates `config` (tessel::Error naming the key on a bad value).
  explicit MemorySystem(const DramConfig& config);
  MemorySystem(const MemorySystem&) = delete;
  MemorySystem& operator=(const MemorySystem&) = delete;

  void set_completion_callback(CompletionCallback cb) { callback_ = std::move(cb); }
  // Not owned; must outlive the MemorySystem (or be attached before any tick).
  void add_observer(IDramObserver* observer) { observers_.push_back(observer); }

  bool can_accept(std::uint64_t addr, bool is_write) const;
  // Queues one burst arriving at now() (the queued copy's arrival; `request` is not
  // changed). std::logic_error if !can_accept()
  // or request.bursts != 1.
  void send(const Request& request);

  // A transaction: `bytes` from `addr` (both multiples of the burst size; at most 4 KiB,
  // inside one 4 KiB page, as an AXI burst). It becomes one request per (channel, bank,
  // row) it touches, each a train of the transaction's bursts there (request.bursts),
  // all with request.id; the completion callback runs once per train. On DRAMs whose
  // tCCD_L exceeds the burst time (bank groups) every burst is its own request instead:
  // there a train would keep other bank groups out of its data-bus gaps.
  // can_accept_transaction is true when every channel involved has a free queue entry for
  // each of its requests. A transaction of one burst is the same as can_accept()/send().
  bool can_accept_transaction(std::uint64_t addr, std::uint32_t bytes, bool is_write) const;
  // std::invalid_argument on a misaligned or oversized transaction, std::logic_error if
  // !can_accept_transaction(). Returns the number of trains queued.
  std::uint32_t send_transaction(const Request& request, std::uint32_t bytes);
  // The most queue entries one channel needs for the transaction at `addr` (with empty
  // queues it is accepted only if this fits the channel's read and write queues).
  std::uint32_t max_entries_per_channel(std::uint64_t addr, std::uint32_t bytes) const;

  std::uint64_t now() const { return now_; }
  void tick_until(std::uint64_t cycle);
  // The next cycle at which any channel has an event (kNever if none).
  std::uint64_t next_event_cycle();
  // Processes the next event cycle (tick_until(next_event_cycle() + 1)); false if none.
  bool step();
  // Runs until every sent request has completed (refresh keeps going meanwhile).
  void run_until_idle();
  bool idle() const;

  const DramConfig& config() const { return config_; }
  const IAddressMapper& mapper() const { return *mapper_; }
  double peak_bandwidth_gbps() const { return config_.peak_bandwidth_gbps(); }
  double cycles_to_ns(double cycles) const { return config_.cycles_to_ns(cycles); }

  // Earliest cycle at which `cmd` to the bank holding `addr` meets every timing
  // constraint (for tests and tools; state legality is not checked).
  std::uint64_t earliest_issue_cycle(Command cmd, std::uint64_t addr) const;
  const ChannelController& channel(std::uint32_t i) const { return *channels_[i]; }
  // See ChannelController::set_self_check (tests only; slow).
  void set_self_check(bool on) {
    for (auto& ch : channels_) ch->set_self_check(on);
  }
  MemoryStats stats() const;

 private:
  void on_done(const Request& request, std::uint32_t channel, std::uint64_t done) override;

  // The last address decoded: the DMA engine asks can_accept() and then send() for the
  // same burst, so the second decode (a virtual call) is served from here.
  const DecodedAddress& decode(std::uint64_t addr) const {
    if (addr != memo_addr_ || !memo_valid_) {
      memo_where_ = mapper_->decode(addr);
      memo_addr_ = addr;
      memo_valid_ = true;
    }
    return memo_where_;
  }

  // One train of a transaction, and the last few transactions split: a DMA engine asks
  // can_accept_transaction() and then send_transaction() for the same one, and the NPU's
  // two engines ask in turn while the queues are full (a single memo entry thrashed
  // between them and split() was the timing model's largest cost).
  struct Train {
    std::uint64_t addr;
    DecodedAddress where;
    std::uint32_t bursts;
    std::uint64_t key;  // what its bursts share (see split())
  };
  struct Split {
    std::vector<Train> trains;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> per_channel;  // {channel, entries}
    std::uint64_t addr = 0;
    std::uint32_t bytes = 0;  // 0: nothing memoized
  };
  const Split& split(std::uint64_t addr, std::uint32_t bytes) const;

  DramConfig config_;
  std::unique_ptr<IAddressMapper> mapper_;
  bool trains_allowed_ = true;  // tCCD_L <= tBL (see the constructor)
  static constexpr std::size_t kSplitMemo = 4;
  mutable std::array<Split, kSplitMemo> split_memo_;
  mutable std::size_t split_victim_ = 0;  // round-robin replacement
  bool linear_ = false;             // the mapper's column_field() is known:
  std::uint64_t not_column_ = 0;     //   burst-index bits outside the column field
  std::uint32_t burst_shift_ = 0;    //   log2(burst bytes)
  std::uint32_t column_shift_ = 0;   //   the column field in the burst index
  std::uint32_t column_bits_ = 0;
  mutable std::uint64_t memo_addr_ = 0;
  mutable DecodedAddress memo_where_;
  mutable bool memo_valid_ = false;
  std::vector<IDramObserver*> observers_;
  std::vector<std::unique_ptr<ChannelController>> channels_;
  std::vector<std::uint64_t> next_events_;  // step(): each channel's next event
  CompletionCallback callback_;
  LatencyHistogram latency_;
  std::uint64_t now_ = 0;
  bool in_tick_ = false;
};

}  // namespace tessel::sim::mem
