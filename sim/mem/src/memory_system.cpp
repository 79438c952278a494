#include "tessel/sim/mem/memory_system.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "tessel/sim/mem/registry.hpp"

namespace tessel::sim::mem {

MemorySystem::MemorySystem(const DramConfig& config) : config_(config) {
  validate_dram_config(config_, config_.source.empty() ? config_.name : config_.source);
  mapper_ = make_address_mapper(config_.controller.address_mapping, config_.org);
  // A train's bursts go back to back; that equals what the scheduler would do only when
  // same-bank-group column commands are no further apart than a burst's data time. Where
  // tCCD_L is longer (bank-group DRAMs: DDR4, LPDDR5 BG mode, HBM2), another bank group's
  // burst belongs in that gap, so there every burst stays its own request.
  trains_allowed_ = config_.timing.tCCD_L <= config_.timing.tBL;
  std::uint32_t shift = 0, bits = 0;
  linear_ = mapper_->column_field(&shift, &bits);
  if (linear_) {
    const std::uint64_t column = ((std::uint64_t{1} << bits) - 1) << shift;
    not_column_ = ~column;
    while ((std::uint64_t{1} << burst_shift_) < config_.org.burst_bytes()) ++burst_shift_;
    linear_ = (std::uint64_t{1} << burst_shift_) == config_.org.burst_bytes() && shift + bits < 64;
    column_shift_ = shift;
    column_bits_ = bits;
  }
  ICompletionSink* sink = this;
  for (std::uint32_t c = 0; c < config_.org.channels; ++c)
    channels_.push_back(std::make_unique<ChannelController>(config_, c, sink, &observers_));
  next_events_.assign(channels_.size(), kNever);
}

bool MemorySystem::can_accept(std::uint64_t addr, bool is_write) const {
  return channels_[decode(addr).channel]->can_accept(is_write);
}

void MemorySystem::send(const Request& request) {
  if (in_tick_)
    throw std::logic_error("MemorySystem::send called from a callback inside tick_until");
  if (request.bursts != 1)
    throw std::logic_error("MemorySystem::send: one burst per request (use send_transaction)");
  const DecodedAddress where = decode(request.addr);
  ChannelController& ch = *channels_[where.channel];
  if (!ch.can_accept(request.is_write))
    throw std::logic_error("MemorySystem::send: channel queue full (check can_accept first)");
  ch.enqueue(request, where, now_);  // arrival = now_ (by reference: no modified copy)
}

const MemorySystem::Split& MemorySystem::split(std::uint64_t addr, std::uint32_t bytes) const {
  if (bytes != 0)
    for (const Split& m : split_memo_)
      if (m.bytes == bytes && m.addr == addr) return m;
  const std::uint64_t burst = config_.org.burst_bytes();
  // Alignment by mask when the burst is a power of two (a 64-bit division was a visible
  // part of this function's cost).
  const bool misaligned = (burst & (burst - 1)) == 0 ? ((addr | bytes) & (burst - 1)) != 0
                                                      : bytes % burst != 0 || addr % burst != 0;
  if (bytes == 0 || misaligned || bytes > 4096 || addr / 4096 != (addr + bytes - 1) / 4096) {
    throw std::invalid_argument("MemorySystem: transaction of " + std::to_string(bytes) +
                                " bytes at " + std::to_string(addr) +
                                " is not whole bursts inside one 4 KiB page");
  }
  Split& m = split_memo_[split_victim_];
  split_victim_ = (split_victim_ + 1) % kSplitMemo;
  m.trains.clear();
  m.per_channel.clear();
  m.bytes = 0;
  if (trains_allowed_ && linear_) {
    // Closed form for a linear mapping: two bursts share a train when their indices agree
    // outside the column field [shift, shift + bits). Within each aligned block of
    // 2^(shift + bits) burst indices, those are the bursts with the same low `shift` bits:
    // the block's first min(2^shift, length) bursts each start a train, and train j holds
    // every 2^shift-th burst from there. Trains come in the order of their first bursts.
    // (Powers of two throughout: shifts, not divisions.)
    const std::uint64_t first = addr >> burst_shift_, end = first + (bytes >> burst_shift_);
    const std::uint64_t period = std::uint64_t{1} << column_shift_;
    const std::uint32_t block_shift = column_shift_ + column_bits_;
    for (std::uint64_t a = first; a < end;) {
      const std::uint64_t b = std::min(end, ((a >> block_shift) + 1) << block_shift);
      const std::uint64_t len = b - a;
      for (std::uint64_t j = 0; j < len && j < period; ++j) {
        // Fields written in place (see IAddressMapper::decode_to).
        Train& t = m.trains.emplace_back();
        t.addr = (a + j) << burst_shift_;
        mapper_->decode_to(t.addr, &t.where);
        t.bursts = static_cast<std::uint32_t>((len - j + period - 1) >> column_shift_);
        t.key = (a + j) & not_column_;
      }
      a = b;
    }
  } else {
    // Otherwise bursts with the same key share a train. The key: the burst itself where
    // trains do not form (every burst is its own request); otherwise its decoded location.
    for (std::uint64_t a = addr; a < addr + bytes; a += burst) {
      const DecodedAddress w = mapper_->decode(a);
      if (!trains_allowed_) {
        m.trains.push_back({a, w, 1, a});
        continue;
      }
      const std::uint64_t key =
          ((((std::uint64_t{w.row} * config_.org.ranks + w.rank) * config_.org.bankgroups +
             w.bankgroup) * config_.org.banks_per_group + w.bank) * config_.org.channels) +
          w.channel;
      auto t = std::find_if(m.trains.begin(), m.trains.end(),
                            [key](const Train& x) { return x.key == key; });
      if (t != m.trains.end()) {
        ++t->bursts;
      } else {
        m.trains.push_back({a, w, 1, key});
      }
    }
  }
  // Queue entries per channel, once: admission asks for them on every retry.
  for (const Train& t : m.trains) {
    auto c = std::find_if(m.per_channel.begin(), m.per_channel.end(),
                          [&](const std::pair<std::uint32_t, std::uint32_t>& x) { return x.first == t.where.channel; });
    if (c == m.per_channel.end()) {
      auto& entry = m.per_channel.emplace_back();  // in place, as the trains above
      entry.first = t.where.channel;
      entry.second = 1;
    } else {
      ++c->second;
    }
  }
  m.addr = addr;
  m.bytes = bytes;
  return m;
}

bool MemorySystem::can_accept_transaction(std::uint64_t addr, std::uint32_t bytes,
                                          bool is_write) const {
  if (bytes == config_.org.burst_bytes() && addr % bytes == 0) return can_accept(addr, is_write);
  for (const auto& [channel, entries] : split(addr, bytes).per_channel)
    if (entries > channels_[channel]->free_entries(is_write)) return false;
  return true;
}

std::uint32_t MemorySystem::max_entries_per_channel(std::uint64_t addr, std::uint32_t bytes) const {
  std::uint32_t most = 0;
  for (const auto& c : split(addr, bytes).per_channel) most = std::max(most, c.second);
  return most;
}

std::uint32_t MemorySystem::send_transaction(const Request& request, std::uint32_t bytes) {
  if (in_tick_)
    throw std::logic_error("MemorySystem::send_transaction called from a callback inside tick_until");
  if (bytes == config_.org.burst_bytes() && request.addr % bytes == 0) {  // one burst
    send(request);
    return 1;
  }
  if (!can_accept_transaction(request.addr, bytes, request.is_write))
    throw std::logic_error("MemorySystem::send_transaction: channel queue full (check can_accept_transaction first)");
  const std::vector<Train>& trains = split(request.addr, bytes).trains;
  for (const Train& t : trains)  // arrival = now_
    channels_[t.where.channel]->enqueue(request, t.addr, t.bursts, t.where, now_);
  return static_cast<std::uint32_t>(trains.size());
}

void MemorySystem::tick_until(std::uint64_t cycle) {
  if (cycle <= now_) return;
  in_tick_ = true;
  try {
    for (auto& ch : channels_) ch->advance_to(cycle);
  } catch (...) {
    in_tick_ = false;
    throw;
  }
  in_tick_ = false;
  now_ = cycle;
}

std::uint64_t MemorySystem::next_event_cycle() {
  std::uint64_t e = kNever;
  for (auto& ch : channels_) {
    const std::uint64_t c = ch->next_event();
    if (c < e) e = c;
  }
  return e;
}

// tick_until(next_event_cycle() + 1), advancing only the channels with an event before
// that cycle: advance_to() on the others would find nothing to do (their next event is
// what next_event() just said, and nothing is sent in between).
bool MemorySystem::step() {
  std::uint64_t e = kNever;
  for (std::size_t c = 0; c < channels_.size(); ++c) {
    next_events_[c] = channels_[c]->next_event();
    if (next_events_[c] < e) e = next_events_[c];
  }
  if (e == kNever) return false;
  const std::uint64_t until = (e < now_ ? now_ : e) + 1;
  in_tick_ = true;
  try {
    for (std::size_t c = 0; c < channels_.size(); ++c)
      if (next_events_[c] < until) channels_[c]->advance_to(until);
  } catch (...) {
    in_tick_ = false;
    throw;
  }
  in_tick_ = false;
  now_ = until;
  return true;
}

bool MemorySystem::idle() const {
  for (const auto& ch : channels_)
    if (ch->busy()) return false;
  return true;
}

void MemorySystem::run_until_idle() {
  while (!idle())
    if (!step()) break;
}

std::uint64_t MemorySystem::earliest_issue_cycle(Command cmd, std::uint64_t addr) const {
  const DecodedAddress w = mapper_->decode(addr);
  const DramDevice& dev = channels_[w.channel]->device();
  return dev.earliest(cmd, dev.flat_bank(w.rank, w.bankgroup, w.bank));
}

MemoryStats MemorySystem::stats() const {
  MemoryStats s;
  for (const auto& ch : channels_) {
    s.channels.push_back(ch->stats());
    s.total.add(ch->stats());
  }
  s.latency = latency_;
  return s;
}

void MemorySystem::on_done(const Request& request, std::uint32_t /*channel*/,
                           std::uint64_t done) {
  latency_.add(done - request.arrival);
  if (callback_) callback_(request, done);
}

}  // namespace tessel::sim::mem
