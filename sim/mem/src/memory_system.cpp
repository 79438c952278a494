#include "tessel/sim/mem/memory_system.hpp"

#include <stdexcept>

#include "tessel/sim/mem/registry.hpp"

namespace tessel::sim::mem {

MemorySystem::MemorySystem(const DramConfig& config) : config_(config) {
  validate_dram_config(config_, config_.source.empty() ? config_.name : config_.source);
  mapper_ = make_address_mapper(config_.controller.address_mapping, config_.org);
  ICompletionSink* sink = this;
  for (std::uint32_t c = 0; c < config_.org.channels; ++c)
    channels_.push_back(std::make_unique<ChannelController>(config_, c, sink, &observers_));
}

bool MemorySystem::can_accept(std::uint64_t addr, bool is_write) const {
  return channels_[decode(addr).channel]->can_accept(is_write);
}

void MemorySystem::send(Request request) {
  if (in_tick_)
    throw std::logic_error("MemorySystem::send called from a callback inside tick_until");
  const DecodedAddress where = decode(request.addr);
  ChannelController& ch = *channels_[where.channel];
  if (!ch.can_accept(request.is_write))
    throw std::logic_error("MemorySystem::send: channel queue full (check can_accept first)");
  request.arrival = now_;
  ch.enqueue(request, where, now_);
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

bool MemorySystem::step() {
  const std::uint64_t e = next_event_cycle();
  if (e == kNever) return false;
  tick_until((e < now_ ? now_ : e) + 1);
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
