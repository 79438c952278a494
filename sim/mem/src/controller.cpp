#include "tessel/sim/mem/controller.hpp"

#include <stdexcept>

#include "tessel/sim/mem/registry.hpp"

namespace tessel::sim::mem {

namespace {
constexpr int kReadQ = 0;
constexpr int kWriteQ = 1;
constexpr std::uint8_t kMiss = 1;
constexpr std::uint8_t kConflict = 2;

template <typename T>
std::unique_ptr<T> required(std::unique_ptr<T> p, const char* what, const std::string& name) {
  if (!p) throw std::invalid_argument(std::string("unknown ") + what + " '" + name + "'");
  return p;
}
}  // namespace

ChannelController::ChannelController(const DramConfig& config, std::uint32_t channel,
                                     ICompletionSink* sink,
                                     const std::vector<IDramObserver*>* observers)
    : channel_(channel),
      read_depth_(config.controller.read_queue_depth),
      write_depth_(config.controller.write_queue_depth),
      high_(config.controller.write_high_watermark),
      low_(config.controller.write_low_watermark),
      read_latency_(config.timing.tCL + config.timing.tBL),
      write_latency_(config.timing.tCWL + config.timing.tBL),
      burst_bytes_(config.org.burst_bytes()),
      tBL_(config.timing.tBL),
      device_(config),
      scheduler_(required(make_scheduler(config.controller.scheduler), "scheduler",
                          config.controller.scheduler)),
      row_policy_(required(make_row_policy(config.controller.row_policy), "row policy",
                           config.controller.row_policy)),
      refresh_(required(make_refresh(config.controller.refresh), "refresh policy",
                        config.controller.refresh)),
      sink_(sink),
      observers_(observers) {
  refresh_->reset(config);
  const std::uint32_t depth = read_depth_ + write_depth_;
  slots_.resize(depth);
  free_.reserve(depth);
  for (std::uint32_t i = depth; i-- > 0;) free_.push_back(static_cast<std::int32_t>(i));
  const std::uint32_t banks = device_.num_banks();
  for (int q = 0; q < 2; ++q) {
    queues_[q].resize(banks);
    nonempty_[q].assign((banks + 63) / 64, 0);
  }
  candidates_.reserve(2 * std::size_t{banks});
}

void ChannelController::enqueue(const Request& request, const DecodedAddress& where,
                                std::uint64_t now) {
  const int q = request.is_write ? kWriteQ : kReadQ;
  if (!can_accept(request.is_write))
    throw std::logic_error("ChannelController::enqueue: queue full");
  if (now < now_) throw std::logic_error("ChannelController::enqueue: time went backwards");
  now_ = now;

  const std::int32_t s = free_.back();
  free_.pop_back();
  Slot& slot = slots_[static_cast<std::size_t>(s)];
  slot.req = request;
  slot.where = where;
  slot.bank = device_.flat_bank(where.rank, where.bankgroup, where.bank);
  slot.seq = next_seq_++;
  slot.row_class = 0;
  slot.next = -1;

  BankQueue& bq = queues_[q][slot.bank];
  const bool was_hit_free = bq.hits == 0;
  const bool was_other_free = bq.count == bq.hits;
  slot.prev = bq.tail;
  if (bq.tail >= 0)
    slots_[static_cast<std::size_t>(bq.tail)].next = s;
  else
    bq.head = s;
  bq.tail = s;
  ++bq.count;
  if (device_.is_open(slot.bank) && device_.open_row(slot.bank) == where.row) ++bq.hits;
  nonempty_[q][slot.bank / 64] |= std::uint64_t{1} << (slot.bank % 64);
  ++qsize_[q];
  if (plan_.valid && !update_plan_for_arrival(s, was_hit_free, was_other_free))
    plan_.valid = false;
  if (self_check_ && plan_.valid) {
    const Plan incremental = plan_;
    const bool mode = write_mode_;
    plan();
    if (plan_.kind != incremental.kind || plan_.cycle != incremental.cycle ||
        plan_.slot != incremental.slot || plan_.bank != incremental.bank ||
        plan_.command != incremental.command || write_mode_ != mode)
      throw std::logic_error("ChannelController: incremental plan differs from a full re-plan");
  }
}

// An arrival adds at most one candidate (its bank's first request of its kind), and the
// scheduler's choice is the minimum of a total order (contract in i_scheduler.hpp), so
// the new choice is the better of the old choice and the new candidate. Returns false
// when a full re-plan is needed (the arrival flips the read/write mode).
bool ChannelController::update_plan_for_arrival(std::int32_t s, bool was_hit_free,
                                                bool was_other_free) {
  // A refresh that falls due now changes which ranks may be served: start over.
  if (plan_.refresh_kind == PlanKind::Wake && plan_.refresh_cycle <= now_) return false;
  const bool mode = write_mode_;
  update_write_mode();
  if (write_mode_ != mode) return false;
  const Slot& slot = slots_[static_cast<std::size_t>(s)];
  if (slot.req.is_write != write_mode_) return true;  // not in the queue being served
  if (plan_.refresh_rank >= 0 &&
      device_.rank_of(slot.bank) == static_cast<std::uint32_t>(plan_.refresh_rank))
    return true;  // its rank is waiting for a refresh

  const bool open = device_.is_open(slot.bank);
  const bool hit = open && device_.open_row(slot.bank) == slot.where.row;
  if (hit ? !was_hit_free : !was_other_free) return true;  // an older one stands for it

  Candidate c[2];
  std::size_t n = 0;
  if (plan_.has_request) c[n++] = plan_.request;
  const Command cmd = hit ? (slot.req.is_write ? Command::WR : Command::RD)
                          : (open ? Command::PRE : Command::ACT);
  const std::uint64_t ready = device_.earliest(cmd, slot.bank);
  c[n++] = {s, slot.bank, cmd, hit, slot.seq, ready < now_ ? now_ : ready};
  const Selection sel = scheduler_->select(c, n, now_);
  if (sel.index < 0) {
    plan_.has_request = false;
  } else {
    plan_.has_request = true;
    plan_.request = c[sel.index];
    plan_.request_cycle = sel.cycle;
  }
  combine_plan();
  return true;
}

void ChannelController::update_write_mode() {
  const std::uint32_t reads = qsize_[kReadQ], writes = qsize_[kWriteQ];
  if (!write_mode_) {
    if (writes > 0 && (writes >= high_ || reads == 0)) {
      write_mode_ = true;
      ++stats_.write_drains;
    }
  } else if (writes == 0 || (writes <= low_ && reads > 0)) {
    write_mode_ = false;
  }
}

// Per bank, the oldest row hit and the oldest non-hit stand for all requests of their
// kind (same next command, same earliest cycle); see the contract in i_scheduler.hpp.
void ChannelController::collect_candidates(int q, int skip_rank, std::uint64_t now) {
  candidates_.clear();
  const Command column = q == kWriteQ ? Command::WR : Command::RD;
  const auto& bits = nonempty_[q];
  for (std::size_t w = 0; w < bits.size(); ++w) {
    for (std::uint64_t word = bits[w]; word != 0; word &= word - 1) {
      const auto bank = static_cast<std::uint32_t>(w * 64 + static_cast<unsigned>(
                                                                 __builtin_ctzll(word)));
      if (skip_rank >= 0 && device_.rank_of(bank) == static_cast<std::uint32_t>(skip_rank))
        continue;
      const BankQueue& bq = queues_[q][bank];
      const bool open = device_.is_open(bank);
      std::int32_t hit = -1, other = -1;
      if (!open || bq.hits == 0) {
        other = bq.head;
      } else if (bq.hits == bq.count) {
        hit = bq.head;
      } else {
        const std::uint32_t row = device_.open_row(bank);
        for (std::int32_t s = bq.head; s >= 0 && (hit < 0 || other < 0);
             s = slots_[static_cast<std::size_t>(s)].next) {
          if (slots_[static_cast<std::size_t>(s)].where.row == row) {
            if (hit < 0) hit = s;
          } else if (other < 0) {
            other = s;
          }
        }
      }
      if (hit >= 0) {
        const std::uint64_t ready = device_.earliest_column(q == kWriteQ, bank);
        candidates_.push_back({hit, bank, column, true,
                               slots_[static_cast<std::size_t>(hit)].seq,
                               ready < now ? now : ready});
      }
      if (other >= 0) {
        const Command c = open ? Command::PRE : Command::ACT;
        const std::uint64_t ready = open ? device_.earliest_pre(bank) : device_.earliest_act(bank);
        candidates_.push_back({other, bank, c, false,
                               slots_[static_cast<std::size_t>(other)].seq,
                               ready < now ? now : ready});
      }
    }
  }
}

void ChannelController::plan() {
  const std::uint64_t t0 = now_;
  plan_ = Plan{};
  update_write_mode();

  // Refresh first: a due rank gets PREA (if any bank is open) then REF, and its requests
  // wait. Requests to other ranks may go ahead if they are ready strictly earlier.
  plan_.refresh_rank = refresh_->due_rank(t0);
  if (plan_.refresh_rank >= 0) {
    const auto rank = static_cast<std::uint32_t>(plan_.refresh_rank);
    const Command c = device_.open_banks(rank) > 0 ? Command::PREA : Command::REF;
    const std::uint64_t e = device_.earliest(c, rank * device_.banks_per_rank());
    plan_.refresh_kind = PlanKind::Issue;
    plan_.refresh_cycle = e < t0 ? t0 : e;
    plan_.refresh_command = c;
  } else {
    const std::uint64_t due = refresh_->next_due();
    if (due != kNever) {
      plan_.refresh_kind = PlanKind::Wake;
      plan_.refresh_cycle = due;
    }
  }

  const int q = write_mode_ ? kWriteQ : kReadQ;
  if (qsize_[q] > 0) {
    collect_candidates(q, plan_.refresh_rank, t0);
    if (!candidates_.empty()) {
      const Selection s = scheduler_->select(candidates_.data(), candidates_.size(), t0);
      if (s.index >= 0) {
        plan_.has_request = true;
        plan_.request = candidates_[static_cast<std::size_t>(s.index)];
        plan_.request_cycle = s.cycle;
      }
    }
  }
  combine_plan();
}

// The refresh part wins ties; a request goes first only if it can issue strictly earlier.
void ChannelController::combine_plan() {
  plan_.valid = true;
  plan_.kind = plan_.refresh_kind;
  plan_.cycle = plan_.refresh_cycle;
  plan_.slot = -1;
  if (plan_.refresh_kind == PlanKind::Issue) {
    plan_.command = plan_.refresh_command;
    plan_.bank = static_cast<std::uint32_t>(plan_.refresh_rank) * device_.banks_per_rank();
  }
  if (plan_.has_request) {
    const Candidate& c = plan_.request;
    if (plan_.request_cycle < c.ready_at)
      throw std::logic_error("scheduler " + scheduler_->name() +
                             " chose a command before its ready cycle");
    if (plan_.request_cycle < plan_.cycle) {
      plan_.kind = PlanKind::Issue;
      plan_.cycle = plan_.request_cycle;
      plan_.command = c.command;
      plan_.bank = c.bank;
      plan_.slot = c.slot;
    }
  }
}

void ChannelController::recount_hits(std::uint32_t bank) {
  const bool open = device_.is_open(bank);
  const std::uint32_t row = device_.open_row(bank);
  for (int q = 0; q < 2; ++q) {
    BankQueue& bq = queues_[q][bank];
    std::uint32_t hits = 0;
    if (open)
      for (std::int32_t s = bq.head; s >= 0; s = slots_[static_cast<std::size_t>(s)].next)
        hits += slots_[static_cast<std::size_t>(s)].where.row == row ? 1u : 0u;
    bq.hits = hits;
  }
}

void ChannelController::unlink(int q, std::int32_t s) {
  Slot& slot = slots_[static_cast<std::size_t>(s)];
  BankQueue& bq = queues_[q][slot.bank];
  if (slot.prev >= 0)
    slots_[static_cast<std::size_t>(slot.prev)].next = slot.next;
  else
    bq.head = slot.next;
  if (slot.next >= 0)
    slots_[static_cast<std::size_t>(slot.next)].prev = slot.prev;
  else
    bq.tail = slot.prev;
  --bq.count;
  if (bq.count == 0) nonempty_[q][slot.bank / 64] &= ~(std::uint64_t{1} << (slot.bank % 64));
  --qsize_[q];
  free_.push_back(s);
}

void ChannelController::notify(Command cmd, std::uint32_t bank, const Slot* slot,
                               std::uint64_t cycle) {
  CommandEvent ev;
  ev.cycle = cycle;
  ev.command = cmd;
  if (slot != nullptr) {
    ev.where = slot->where;
    ev.request_id = slot->req.id;
  } else {
    ev.where.channel = channel_;
    ev.where.rank = device_.rank_of(bank);
  }
  for (IDramObserver* o : *observers_) o->on_command(ev);
}

void ChannelController::execute() {
  const std::uint64_t t = plan_.cycle;
  now_ = t;
  plan_.valid = false;
  if (plan_.kind != PlanKind::Issue) return;  // a wake-up: re-plan at `t`

  const std::uint32_t bank = plan_.bank;
  if (plan_.slot < 0) {
    execute_refresh(plan_.command, bank, t);
    return;
  }
  const std::int32_t s = plan_.slot;
  Slot& slot = slots_[static_cast<std::size_t>(s)];
  Command cmd = plan_.command;

  bool close = false;
  if (is_column(cmd)) {
    const int q = is_write(cmd) ? kWriteQ : kReadQ;
    RowPolicyContext ctx;
    ctx.bank = bank;
    ctx.row = slot.where.row;
    ctx.other_hits_queued = queues_[q][bank].hits - 1 + queues_[1 - q][bank].hits;
    close = row_policy_->close_after_access(ctx);
    if (close && slot.req.bursts <= 1) cmd = q == kWriteQ ? Command::WRA : Command::RDA;
  }
  device_.issue(cmd, bank, slot.where.row, t);
  if (!observers_->empty()) notify(cmd, bank, &slot, t);
  // A train: its other bursts follow at their earliest cycles; the last one closes the row
  // if the policy says so. `last` is the cycle of the final column command.
  std::uint64_t last = t;
  if (is_column(cmd) && slot.req.bursts > 1) {
    const Command last_cmd = !close ? cmd : is_write(cmd) ? Command::WRA : Command::RDA;
    last = device_.issue_train_rest(cmd, last_cmd, bank, slot.where.row, t, slot.req.bursts - 1);
    if (!observers_->empty()) {
      for (std::uint32_t k = 1; k < slot.req.bursts; ++k)
        notify(k + 1 == slot.req.bursts ? last_cmd : cmd, bank, &slot,
               t + device_.column_gap() * k);
    }
    cmd = last_cmd;  // RDA/WRA: the bank is closed after the train
  }

  switch (cmd) {
    case Command::ACT:
      ++stats_.activates;
      if (slot.row_class == 0) slot.row_class = kMiss;
      recount_hits(bank);
      break;
    case Command::PRE:
      ++stats_.precharges;
      slot.row_class = kConflict;
      recount_hits(bank);
      break;
    case Command::RD:
    case Command::RDA:
    case Command::WR:
    case Command::WRA: {
      const bool write = is_write(cmd);
      const int q = write ? kWriteQ : kReadQ;
      const std::uint32_t n = slot.req.bursts;
      --queues_[q][bank].hits;
      switch (slot.row_class) {
        case kMiss: ++stats_.row_misses; break;
        case kConflict: ++stats_.row_conflicts; break;
        default: ++stats_.row_hits; break;
      }
      stats_.row_hits += n - 1;  // a train's later bursts find their row open
      if (write) {
        stats_.writes += n;
        write_done_.push({slot.req, last + write_latency_});
      } else {
        stats_.reads += n;
        read_done_.push({slot.req, last + read_latency_});
      }
      stats_.bytes += std::uint64_t{burst_bytes_} * n;
      stats_.data_bus_busy_cycles += std::uint64_t{tBL_} * n;
      unlink(q, s);
      if (has_auto_precharge(cmd)) {
        ++stats_.auto_precharges;
        recount_hits(bank);
      }
      break;
    }
    case Command::PREA:
    case Command::REF:
      throw std::logic_error("refresh command planned for a request");
  }
}

void ChannelController::execute_refresh(Command cmd, std::uint32_t bank, std::uint64_t t) {
  device_.issue(cmd, bank, 0, t);
  if (!observers_->empty()) notify(cmd, bank, nullptr, t);
  const std::uint32_t rank = device_.rank_of(bank);
  if (cmd == Command::PREA) {
    ++stats_.precharge_alls;
    const std::uint32_t first = rank * device_.banks_per_rank();
    for (std::uint32_t k = first; k < first + device_.banks_per_rank(); ++k) {
      queues_[kReadQ][k].hits = 0;
      queues_[kWriteQ][k].hits = 0;
    }
  } else {
    ++stats_.refreshes;
    refresh_->on_refresh_issued(rank, t);
  }
}

void ChannelController::deliver(DoneFifo& fifo) {
  const Done d = fifo.front();
  fifo.pop();
  stats_.latency_sum_cycles += d.cycle - d.req.arrival;
  if (d.cycle > stats_.last_completion_cycle) stats_.last_completion_cycle = d.cycle;
  if (sink_ != nullptr) sink_->on_done(d.req, channel_, d.cycle);
  for (IDramObserver* o : *observers_) o->on_complete(d.req, channel_, d.cycle);
}

std::uint64_t ChannelController::next_event() {
  if (!plan_.valid) plan();
  std::uint64_t e = plan_.cycle;
  if (!read_done_.empty() && read_done_.front().cycle < e) e = read_done_.front().cycle;
  if (!write_done_.empty() && write_done_.front().cycle < e) e = write_done_.front().cycle;
  return e;
}

void ChannelController::advance_to(std::uint64_t cycle) {
  for (;;) {
    if (!plan_.valid) plan();
    const std::uint64_t rd = read_done_.empty() ? kNever : read_done_.front().cycle;
    const std::uint64_t wr = write_done_.empty() ? kNever : write_done_.front().cycle;
    const std::uint64_t done = rd < wr ? rd : wr;
    // Completions at a cycle are reported before commands issued in that cycle.
    if (done <= plan_.cycle) {
      if (done >= cycle) break;
      deliver(rd <= wr ? read_done_ : write_done_);
      continue;
    }
    if (plan_.cycle >= cycle) break;
    execute();
  }
}

}  // namespace tessel::sim::mem
