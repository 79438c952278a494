#pragma once
// FNV-1a over what a DRAM model does, for tests that pin its exact behaviour: each command
// (cycle, command, channel, rank, bank group, bank, row, column), in the order observed.
// Two runs, or two builds, with the same hash issued the same commands at the same cycles.

#include <cstdint>

#include "tessel/sim/mem/i_observer.hpp"

namespace tessel::sim::mem::testing {

struct CommandHash : IDramObserver {
  std::uint64_t h = 1469598103934665603ull;
  std::uint64_t count = 0;
  void mix(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  }
  void mix_command(const CommandEvent& e) {
    mix(e.cycle);
    mix(static_cast<std::uint64_t>(e.command));
    mix(e.where.channel);
    mix(e.where.rank);
    mix(e.where.bankgroup);
    mix(e.where.bank);
    mix(e.where.row);
    mix(e.where.column);
  }
  void on_command(const CommandEvent& e) override {
    ++count;
    mix_command(e);
  }
};

}  // namespace tessel::sim::mem::testing
