#include "tessel/sim/mem/controller.hpp"

#include <stdexcept>

#include "tessel/sim/mem/registry.hpp"

namespace tessel::sim::mem {

namespace {
constexpr int kReadQ = 0;
constexpr int kWriteQ = 1;
constexpr std::uint8_t kMiss = 1;
constexpr std::uint8_t kConflict = 2;
// ScanEntry::key: bit 63 set for a non-hit, then the request's seq, then its bank in the
// low 8 bits. Seqs are distinct, so the bank bits never decide an order; they name the
// winner without a conditional move per candidate. Needs seq < 2^55 and <= 256 banks.
constexpr std::uint64_t kNotHit = std::uint64_t{1} << 63;
constexpr int kBankBits = 8;
constexpr std::uint64_t scan_key(std::uint64_t seq, std::uint32_t bank, bool hit) {
  return (hit ? 0 : kNotHit) | seq << kBankBits | bank;
}

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
  refresh_due_ = refresh_->next_due();
  frfcfs_ = scheduler_->frfcfs_order();
  const std::uint32_t depth = read_depth_ + write_depth_;
  if (depth > 0xffff) throw std::invalid_argument("ChannelController: queues deeper than 65535");
  slots_.resize(depth);
  chain_.resize(depth);
  free_.reserve(depth);
  for (std::uint32_t i = depth; i-- > 0;) free_.push_back(static_cast<std::int32_t>(i));
  const std::uint32_t banks = device_.num_banks();
  if (banks > (1u << kBankBits))
    throw std::invalid_argument("ChannelController: more than 256 banks per channel");
  candidates_.reserve(2 * std::size_t{banks});
  for (int q = 0; q < 2; ++q) {
    queues_[q].resize(banks);
    nonempty_[q].assign((banks + 63) / 64, 0);
    row_buckets_[q].assign(banks, RowBuckets{});
    scan_[q][0].resize(banks);
    scan_[q][1].resize(banks);
    present_[q][0].assign((banks + 63) / 64, 0);
    present_[q][1].assign((banks + 63) / 64, 0);
  }
  for (std::uint32_t b = 0; b < banks; ++b)
    for (int q = 0; q < 2; ++q) {
      scan_[q][0][b].floor = 3 * device_.group_of(b) + 2;  // fixed: the queue's column command
      sync_scan(q, b);
    }
  for (std::uint32_t b = 0; b < banks; ++b) sync_own(b);
  groups_ = device_.num_groups();
  floors_.assign(3 * std::size_t{groups_}, 0);
  skip_mask_.assign((banks + 63) / 64, 0);
}

void ChannelController::enqueue(const Request& request, std::uint64_t addr,
                                std::uint32_t bursts, const DecodedAddress& where,
                                std::uint64_t now) {
  const int q = request.is_write ? kWriteQ : kReadQ;
  if (!can_accept(request.is_write))
    throw std::logic_error("ChannelController::enqueue: queue full");
  if (now < now_) throw std::logic_error("ChannelController::enqueue: time went backwards");
  now_ = now;

  const std::int32_t s = free_.back();
  free_.pop_back();
  Slot& slot = slots_[static_cast<std::size_t>(s)];
  slot.req.addr = addr;  // field by field (see controller.hpp)
  slot.req.is_write = request.is_write;
  slot.req.id = request.id;
  slot.req.arrival = now;
  slot.req.bursts = bursts;
  slot.where = where;
  slot.bank = device_.flat_bank(where.rank, where.bankgroup, where.bank);
  if (next_seq_ >> (63 - kBankBits) != 0)
    throw std::logic_error("ChannelController: request sequence number overflow");
  slot.seq = next_seq_++;
  slot.row_class = 0;
  chain_[static_cast<std::size_t>(s)] = {-1, where.row};

  BankQueue& bq = queues_[q][slot.bank];
  const bool was_hit_free = bq.hit_slot < 0;
  const bool was_other_free = bq.other_slot < 0;
  slot.prev = bq.tail;
  if (bq.tail >= 0)
    chain_[static_cast<std::size_t>(bq.tail)].next = s;
  else
    bq.head = s;
  bq.tail = s;
  ++bq.count;
  // The newest request: the bank's candidate of its kind only if it has none yet (and
  // then its ScanEntry changes; otherwise nothing select_frfcfs() sees does).
  const std::uint64_t bit = std::uint64_t{1} << (slot.bank % 64);
  if (device_.is_open(slot.bank) && device_.open_row(slot.bank) == where.row) {
    ++bq.hits;
    if (was_hit_free) {
      bq.hit_slot = s;
      bq.hit_seq = slot.seq;
      ScanEntry& e = scan_[q][0][slot.bank];
      e.key = scan_key(slot.seq, slot.bank, true);
      e.own = device_.bank_next_column(q == kWriteQ, slot.bank);
      present_[q][0][slot.bank / 64] |= bit;
    }
  } else if (was_other_free) {
    bq.other_slot = s;
    bq.other_seq = slot.seq;
    ScanEntry& e = scan_[q][1][slot.bank];
    const bool open = device_.is_open(slot.bank);
    e.key = scan_key(slot.seq, slot.bank, false);
    e.floor = 3 * device_.group_of(slot.bank) + (open ? 1 : 0);
    e.own = open ? device_.bank_next_pre(slot.bank) : device_.bank_next_act(slot.bank);
    present_[q][1][slot.bank / 64] |= bit;
  }
  nonempty_[q][slot.bank / 64] |= bit;
  ++row_buckets_[q][slot.bank][where.row % 64];
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
  const std::uint64_t ready = hit    ? device_.earliest_column(slot.req.is_write, slot.bank)
                              : open ? device_.earliest_pre(slot.bank)
                                     : device_.earliest_act(slot.bank);
  c[n++] = {s, slot.bank, cmd, hit, slot.seq, ready < now_ ? now_ : ready};
  if (frfcfs_) {
    // FrFcfs::select() on these two, inline: the minimum of (max(now, ready_at), !hit, seq).
    const Candidate& nc = c[n - 1];
    const std::uint64_t when = nc.ready_at;  // >= now_
    if (plan_.has_request) {
      const Candidate& oc = c[0];
      const std::uint64_t old_when = oc.ready_at < now_ ? now_ : oc.ready_at;
      if (old_when < when ||
          (old_when == when && (oc.row_hit != nc.row_hit ? oc.row_hit : oc.seq < nc.seq))) {
        plan_.request_cycle = old_when;
        combine_plan();
        return true;
      }
    }
    plan_.has_request = true;
    plan_.request = nc;
    plan_.request_cycle = when;
    combine_plan();
    return true;
  }
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
// They are the bank's cached hit_slot and other_slot (BankQueue).
void ChannelController::collect_candidates(int q, int skip_rank, std::uint64_t now) {
  candidates_.clear();
  const bool write = q == kWriteQ;
  const Command column = write ? Command::WR : Command::RD;
  const auto& bits = nonempty_[q];
  for (std::size_t w = 0; w < bits.size(); ++w) {
    for (std::uint64_t word = bits[w]; word != 0; word &= word - 1) {
      const auto bank = static_cast<std::uint32_t>(w * 64 + static_cast<unsigned>(
                                                                 __builtin_ctzll(word)));
      if (skip_rank >= 0 && device_.rank_of(bank) == static_cast<std::uint32_t>(skip_rank))
        continue;
      const BankQueue& bq = queues_[q][bank];
      if (bq.hit_slot >= 0) {
        const std::uint64_t ready = device_.earliest_column(write, bank);
        candidates_.push_back({bq.hit_slot, bank, column, true, bq.hit_seq,
                               ready < now ? now : ready});
      }
      if (bq.other_slot >= 0) {
        const bool open = device_.is_open(bank);
        const std::uint64_t ready = open ? device_.earliest_pre(bank) : device_.earliest_act(bank);
        candidates_.push_back({bq.other_slot, bank, open ? Command::PRE : Command::ACT, false,
                               bq.other_seq, ready < now ? now : ready});
      }
    }
  }
}

// FR-FCFS fused with the collection: the minimum of (max(now, ready_at), !row_hit, seq)
// over exactly the candidates collect_candidates() would list, without listing them (the
// self-check compares the two, select_request()). Each candidate's `when` is max(its
// bank's own constraint, its bank group's floor for the command), DramDevice's split of
// earliest_*: the floors (with `now` folded in) are computed once per call, the bank's
// part is cached in scan_. The key (when, scan_key) is one 128-bit number, compared and
// kept with conditional moves: which candidate wins is data a branch predictor cannot
// learn. Ties on `when` go to a hit, then to the older request (scan_key's order).
bool ChannelController::select_frfcfs(int q, int skip_rank, std::uint64_t now,
                                      Candidate* chosen) {
  const bool write = q == kWriteQ;
  // A single candidate (a DMA train stream often leaves just one): it is the choice, at
  // max(now, its earliest cycle); no floors, no comparisons.
  if (present_[q][0].size() == 1 && skip_rank < 0) {
    const std::uint64_t h = present_[q][0][0], o = present_[q][1][0];
    const bool one_hit = o == 0 && h != 0 && (h & (h - 1)) == 0;
    const bool one_other = h == 0 && o != 0 && (o & (o - 1)) == 0;
    if (one_hit || one_other) {
      const auto bank = static_cast<std::uint32_t>(__builtin_ctzll(h | o));
      const BankQueue& bq = queues_[q][bank];
      const bool open = device_.is_open(bank);
      const std::uint64_t ready = one_hit ? device_.earliest_column(write, bank)
                                  : open  ? device_.earliest_pre(bank)
                                          : device_.earliest_act(bank);
      chosen->slot = one_hit ? bq.hit_slot : bq.other_slot;
      chosen->bank = bank;
      chosen->command = one_hit ? (write ? Command::WR : Command::RD)
                                : (open ? Command::PRE : Command::ACT);
      chosen->row_hit = one_hit;
      chosen->seq = one_hit ? bq.hit_seq : bq.other_seq;
      chosen->ready_at = ready < now ? now : ready;
      return true;
    }
  }
  return select_frfcfs_scan(q, skip_rank, now, chosen);
}

// select_frfcfs() over several candidates (kept out of line: the single-candidate path
// above is common with DMA trains and should not pay for this one's registers).
bool ChannelController::select_frfcfs_scan(int q, int skip_rank, std::uint64_t now,
                                           Candidate* chosen) {
  const bool write = q == kWriteQ;
  const std::uint64_t bus = device_.command_bus_free();
  const std::uint64_t pre_floor = bus > now ? bus : now;
  std::uint64_t* floors = floors_.data();
  for (std::uint32_t g = 0; g < groups_; ++g) {
    const std::uint64_t a = device_.group_floor_act(g), c = device_.group_floor_column(write, g);
    floors[3 * g] = a > now ? a : now;
    floors[3 * g + 1] = pre_floor;
    floors[3 * g + 2] = c > now ? c : now;
  }
  if (skip_rank >= 0) {  // leave out the rank waiting for its refresh
    const std::uint32_t per = device_.banks_per_rank();
    const std::uint32_t first = static_cast<std::uint32_t>(skip_rank) * per;
    std::fill(skip_mask_.begin(), skip_mask_.end(), 0);
    for (std::uint32_t b = first; b < first + per; ++b)
      skip_mask_[b / 64] |= std::uint64_t{1} << (b % 64);
  }

  // (when, key) as one 128-bit number: one compare, and the winner kept with conditional
  // moves rather than branches.
  __extension__ using Key = unsigned __int128;
  Key best = ~Key{0};
  const auto consider = [&](const ScanEntry& e) {
    const std::uint64_t f = floors[e.floor];
    const Key key = (Key{e.own > f ? e.own : f} << 64) | e.key;
    best = key < best ? key : best;
  };
  if (present_[q][0].size() == 1 && device_.num_banks() <= 32) {
    // Up to 32 banks: hits and others in one word, one loop (one loop exit to mispredict).
    std::uint64_t word = present_[q][0][0] | present_[q][1][0] << 32;
    if (skip_rank >= 0) word &= ~(skip_mask_[0] | skip_mask_[0] << 32);
    const ScanEntry* entries[2] = {scan_[q][0].data(), scan_[q][1].data()};
    for (; word != 0; word &= word - 1) {
      const auto i = static_cast<unsigned>(__builtin_ctzll(word));
      consider(entries[i >> 5][i & 31]);
    }
  } else {
    for (std::uint32_t kind = 0; kind < 2; ++kind) {  // hits, then others
      const ScanEntry* entries = scan_[q][kind].data();
      const auto& bits = present_[q][kind];
      for (std::size_t w = 0; w < bits.size(); ++w) {
        std::uint64_t word = bits[w];
        if (skip_rank >= 0) word &= ~skip_mask_[w];
        for (; word != 0; word &= word - 1)
          consider(entries[w * 64 + static_cast<unsigned>(__builtin_ctzll(word))]);
      }
    }
  }
  const auto best_when = static_cast<std::uint64_t>(best >> 64);
  const auto best_key = static_cast<std::uint64_t>(best);
  if (best_when == kNever) return false;
  const auto bank = static_cast<std::uint32_t>(best_key & ((1u << kBankBits) - 1));
  const BankQueue& bq = queues_[q][bank];
  const bool hit = (best_key & kNotHit) == 0;
  chosen->slot = hit ? bq.hit_slot : bq.other_slot;
  chosen->bank = bank;
  chosen->command = hit ? (write ? Command::WR : Command::RD)
                        : (device_.is_open(bank) ? Command::PRE : Command::ACT);
  chosen->row_hit = hit;
  chosen->seq = (best_key & ~kNotHit) >> kBankBits;
  chosen->ready_at = best_when;
  return true;
}

// Re-derives queue q's ScanEntry keys and the other's floor, and the present_ bits, of
// `bank` from its BankQueue and the bank's state. Not `own`: every caller is followed by
// sync_own() (or sets it, for one new candidate).
void ChannelController::sync_scan(int q, std::uint32_t bank) {
  const BankQueue& bq = queues_[q][bank];
  const bool has_hit = bq.hit_slot >= 0, has_other = bq.other_slot >= 0;
  scan_[q][0][bank].key = has_hit ? scan_key(bq.hit_seq, bank, true) : kNever;
  ScanEntry& other = scan_[q][1][bank];
  other.key = has_other ? scan_key(bq.other_seq, bank, false) : kNever;
  other.floor = 3 * device_.group_of(bank) + (device_.is_open(bank) ? 1 : 0);
  const std::uint64_t bit = std::uint64_t{1} << (bank % 64);
  std::uint64_t& hits = present_[q][0][bank / 64];
  std::uint64_t& others = present_[q][1][bank / 64];
  hits = has_hit ? hits | bit : hits & ~bit;
  others = has_other ? others | bit : others & ~bit;
}

// After a command to `bank`: its own constraints in all four of its ScanEntries (read
// first: the stores could alias the device's values).
void ChannelController::sync_own(std::uint32_t bank) {
  const std::uint64_t rd = device_.bank_next_column(false, bank);
  const std::uint64_t wr = device_.bank_next_column(true, bank);
  const std::uint64_t other =
      device_.is_open(bank) ? device_.bank_next_pre(bank) : device_.bank_next_act(bank);
  scan_[kReadQ][0][bank].own = rd;
  scan_[kWriteQ][0][bank].own = wr;
  scan_[kReadQ][1][bank].own = other;
  scan_[kWriteQ][1][bank].own = other;
}

// The scheduler's choice among queue `q`'s requests (outside rank `skip_rank`) into plan_.
void ChannelController::select_request(int q, int skip_rank, std::uint64_t now) {
  if (frfcfs_) {
    plan_.has_request = select_frfcfs(q, skip_rank, now, &plan_.request);
    if (plan_.has_request) plan_.request_cycle = plan_.request.ready_at;
    if (!self_check_) return;
  }
  collect_candidates(q, skip_rank, now);
  Selection s;
  if (!candidates_.empty()) s = scheduler_->select(candidates_.data(), candidates_.size(), now);
  if (frfcfs_) {  // self-check: the fused path must equal the scheduler's own select()
    const Candidate& f = plan_.request;
    const Candidate* c = s.index < 0 ? nullptr : &candidates_[static_cast<std::size_t>(s.index)];
    const bool same = plan_.has_request == (c != nullptr) &&
                      (c == nullptr || (f.slot == c->slot && f.command == c->command &&
                                        f.ready_at == c->ready_at && f.seq == c->seq &&
                                        plan_.request_cycle == s.cycle));
    if (!same) throw std::logic_error("ChannelController: fused FR-FCFS differs from select()");
    return;
  }
  if (s.index >= 0) {
    plan_.has_request = true;
    plan_.request = candidates_[static_cast<std::size_t>(s.index)];
    plan_.request_cycle = s.cycle;
  }
}

void ChannelController::plan() {
  const std::uint64_t t0 = now_;
  // Every field a Plan{} would reset that combine_plan() does not always write.
  plan_.command = Command::ACT;
  plan_.bank = 0;
  plan_.refresh_kind = PlanKind::None;
  plan_.refresh_cycle = kNever;
  plan_.refresh_command = Command::REF;
  plan_.has_request = false;
  plan_.request_cycle = kNever;
  update_write_mode();
  if (self_check_) {
    check_bank_caches();
    if (refresh_due_ != refresh_->next_due())
      throw std::logic_error("ChannelController: cached refresh due cycle is stale");
  }

  // Refresh first: a due rank gets PREA (if any bank is open) then REF, and its requests
  // wait. Requests to other ranks may go ahead if they are ready strictly earlier.
  plan_.refresh_rank = t0 < refresh_due_ ? -1 : refresh_->due_rank(t0);
  if (plan_.refresh_rank >= 0) {
    const auto rank = static_cast<std::uint32_t>(plan_.refresh_rank);
    const Command c = device_.open_banks(rank) > 0 ? Command::PREA : Command::REF;
    const std::uint64_t e = device_.earliest(c, rank * device_.banks_per_rank());
    plan_.refresh_kind = PlanKind::Issue;
    plan_.refresh_cycle = e < t0 ? t0 : e;
    plan_.refresh_command = c;
  } else if (refresh_due_ != kNever) {
    plan_.refresh_kind = PlanKind::Wake;
    plan_.refresh_cycle = refresh_due_;
  }

  const int q = write_mode_ ? kWriteQ : kReadQ;
  if (qsize_[q] > 0) {
    if (frfcfs_ && !self_check_) {
      plan_.has_request = select_frfcfs(q, plan_.refresh_rank, t0, &plan_.request);
      if (plan_.has_request) plan_.request_cycle = plan_.request.ready_at;
    } else {
      select_request(q, plan_.refresh_rank, t0);
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

// After the bank's row changed (ACT, PRE, RDA/WRA, PREA): its hit count and candidates.
// A closed bank has no hits and its oldest request is the other candidate. An open one's
// row R: when R's row bucket (row_buckets_) is empty, nothing hits; when it holds one
// request and that is the head, the head is the only hit and the next one the oldest
// other. Otherwise a walk of the list, written without branches on the row comparison
// (which requests hit is data the branch predictor cannot learn).
void ChannelController::refresh_bank(std::uint32_t bank) {
  const bool open = device_.is_open(bank);
  const std::uint32_t row = device_.open_row(bank);
  for (int q = 0; q < 2; ++q) {
    BankQueue& bq = queues_[q][bank];
    const std::uint16_t bucket = open ? row_buckets_[q][bank][row % 64] : 0;
    if (bucket == 0) {
      bq.hits = 0;
      bq.hit_slot = -1;
      bq.other_slot = bq.head;
      if (bq.head >= 0) bq.other_seq = slots_[static_cast<std::size_t>(bq.head)].seq;
    } else if (bucket == 1 && chain_[static_cast<std::size_t>(bq.head)].row == row) {
      bq.hits = 1;
      bq.hit_slot = bq.head;
      bq.hit_seq = slots_[static_cast<std::size_t>(bq.head)].seq;
      bq.other_slot = chain_[static_cast<std::size_t>(bq.head)].next;
      if (bq.other_slot >= 0) bq.other_seq = slots_[static_cast<std::size_t>(bq.other_slot)].seq;
    } else {
      std::uint32_t hits = 0;
      std::int32_t hit = -1, other = -1;
      for (std::int32_t s = bq.head; s >= 0; s = chain_[static_cast<std::size_t>(s)].next) {
        const bool h = chain_[static_cast<std::size_t>(s)].row == row;
        hits += h ? 1u : 0u;
        hit = h && hit < 0 ? s : hit;
        other = !h && other < 0 ? s : other;
      }
      bq.hits = hits;
      bq.hit_slot = hit;
      bq.other_slot = other;
      if (hit >= 0) bq.hit_seq = slots_[static_cast<std::size_t>(hit)].seq;
      if (other >= 0) bq.other_seq = slots_[static_cast<std::size_t>(other)].seq;
    }
    sync_scan(q, bank);
  }
}

// The first slot after `after` in its bank list that is (hit) or is not (!hit) for `row`.
std::int32_t ChannelController::next_of_kind(std::int32_t after, bool hit,
                                             std::uint32_t row) const {
  std::int32_t s = chain_[static_cast<std::size_t>(after)].next;
  while (s >= 0 && (chain_[static_cast<std::size_t>(s)].row == row) != hit)
    s = chain_[static_cast<std::size_t>(s)].next;
  return s;
}

// Self-check: every BankQueue cache equals a walk of its list (see BankQueue).
void ChannelController::check_bank_caches() const {
  for (int q = 0; q < 2; ++q)
    for (std::uint32_t bank = 0; bank < device_.num_banks(); ++bank) {
      const BankQueue& bq = queues_[q][bank];
      const bool open = device_.is_open(bank);
      std::uint32_t hits = 0, count = 0;
      std::int32_t hit = -1, other = -1;
      for (std::int32_t s = bq.head; s >= 0; s = chain_[static_cast<std::size_t>(s)].next) {
        const std::size_t k = static_cast<std::size_t>(s);
        if (chain_[k].row != slots_[k].where.row)
          throw std::logic_error("ChannelController: chain row differs from the slot's");
        ++count;
        if (open && slots_[static_cast<std::size_t>(s)].where.row == device_.open_row(bank)) {
          ++hits;
          if (hit < 0) hit = s;
        } else if (other < 0) {
          other = s;
        }
      }
      const bool nonempty = (nonempty_[q][bank / 64] >> (bank % 64) & 1) != 0;
      if (hits != bq.hits || count != bq.count || hit != bq.hit_slot || other != bq.other_slot ||
          (hit >= 0 && bq.hit_seq != slots_[static_cast<std::size_t>(hit)].seq) ||
          (other >= 0 && bq.other_seq != slots_[static_cast<std::size_t>(other)].seq) ||
          nonempty != (count > 0))
        throw std::logic_error("ChannelController: stale per-bank candidate cache");
      const ScanEntry& eh = scan_[q][0][bank];
      const ScanEntry& eo = scan_[q][1][bank];
      const std::uint32_t g = device_.group_of(bank);
      const bool write = q == kWriteQ;
      const bool scan_ok =
          eh.floor == 3 * g + 2 &&
          (hit < 0 || (eh.key == scan_key(bq.hit_seq, bank, true) &&
                       eh.own == device_.bank_next_column(write, bank))) &&
          (other < 0 ||
           (eo.key == scan_key(bq.other_seq, bank, false) && eo.floor == 3 * g + (open ? 1 : 0) &&
            eo.own == (open ? device_.bank_next_pre(bank) : device_.bank_next_act(bank))));
      RowBuckets buckets{};
      for (std::int32_t s = bq.head; s >= 0; s = chain_[static_cast<std::size_t>(s)].next)
        ++buckets[slots_[static_cast<std::size_t>(s)].where.row % 64];
      if (buckets != row_buckets_[q][bank])
        throw std::logic_error("ChannelController: stale row buckets");
      const bool hit_bit = (present_[q][0][bank / 64] >> (bank % 64) & 1) != 0;
      const bool other_bit = (present_[q][1][bank / 64] >> (bank % 64) & 1) != 0;
      if (!scan_ok || hit_bit != (hit >= 0) || other_bit != (other >= 0))
        throw std::logic_error("ChannelController: stale scan entry");
    }
}

void ChannelController::unlink(int q, std::int32_t s) {
  Slot& slot = slots_[static_cast<std::size_t>(s)];
  const std::int32_t next = chain_[static_cast<std::size_t>(s)].next;
  BankQueue& bq = queues_[q][slot.bank];
  // The next candidate of the leaving one's kind is the next younger request of that kind.
  // The leaving request is the bank's hit (its column command issued; hits already counts
  // it out), so the open row is its row. An RDA/WRA closes the row: refresh_bank() follows.
  // Its ScanEntry key and present_ bit follow (own and floor do not change with it).
  const std::uint64_t bit = std::uint64_t{1} << (slot.bank % 64);
  if (s == bq.hit_slot) {
    bq.hit_slot = bq.hits == 0 ? -1 : next_of_kind(s, true, slot.where.row);
    std::uint64_t& present = present_[q][0][slot.bank / 64];
    if (bq.hit_slot >= 0) {
      bq.hit_seq = slots_[static_cast<std::size_t>(bq.hit_slot)].seq;
      scan_[q][0][slot.bank].key = scan_key(bq.hit_seq, slot.bank, true);
    } else {
      present &= ~bit;
    }
  } else if (s == bq.other_slot) {
    const bool open = device_.is_open(slot.bank);
    bq.other_slot = open ? next_of_kind(s, false, device_.open_row(slot.bank))
                         : chain_[static_cast<std::size_t>(s)].next;
    std::uint64_t& present = present_[q][1][slot.bank / 64];
    if (bq.other_slot >= 0) {
      bq.other_seq = slots_[static_cast<std::size_t>(bq.other_slot)].seq;
      scan_[q][1][slot.bank].key = scan_key(bq.other_seq, slot.bank, false);
    } else {
      present &= ~bit;
    }
  }
  if (slot.prev >= 0)
    chain_[static_cast<std::size_t>(slot.prev)].next = next;
  else
    bq.head = next;
  if (next >= 0)
    slots_[static_cast<std::size_t>(next)].prev = slot.prev;
  else
    bq.tail = slot.prev;
  --bq.count;
  --row_buckets_[q][slot.bank][slot.where.row % 64];
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
      refresh_bank(bank);
      break;
    case Command::PRE:
      ++stats_.precharges;
      slot.row_class = kConflict;
      refresh_bank(bank);
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
        write_done_.push(slot.req, last + write_latency_);
      } else {
        stats_.reads += n;
        read_done_.push(slot.req, last + read_latency_);
      }
      stats_.bytes += std::uint64_t{burst_bytes_} * n;
      stats_.data_bus_busy_cycles += std::uint64_t{tBL_} * n;
      unlink(q, s);
      if (has_auto_precharge(cmd)) {
        ++stats_.auto_precharges;
        refresh_bank(bank);
      }
      break;
    }
    case Command::PREA:
    case Command::REF:
      throw std::logic_error("refresh command planned for a request");
  }
  sync_own(bank);  // the command raised the bank's own constraints
}

void ChannelController::execute_refresh(Command cmd, std::uint32_t bank, std::uint64_t t) {
  device_.issue(cmd, bank, 0, t);
  if (!observers_->empty()) notify(cmd, bank, nullptr, t);
  const std::uint32_t rank = device_.rank_of(bank);
  if (cmd == Command::PREA) {
    ++stats_.precharge_alls;
    const std::uint32_t first = rank * device_.banks_per_rank();
    for (std::uint32_t k = first; k < first + device_.banks_per_rank(); ++k) {
      refresh_bank(k);
      sync_own(k);
    }
  } else {
    ++stats_.refreshes;
    refresh_->on_refresh_issued(rank, t);
    refresh_due_ = refresh_->next_due();
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

void ChannelController::advance_to(std::uint64_t cycle) {
  for (;;) {
    if (!plan_.valid) plan();
    const std::uint64_t rd = read_done_.front_cycle, wr = write_done_.front_cycle;
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
