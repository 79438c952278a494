#pragma once
// DRAM commands as the controller issues them on one channel's command bus.

#include <cstdint>
#include <string_view>

namespace tessel::sim::mem {

// RDA/WRA are the column commands with auto-precharge (the closed-page policy's way of
// closing a row without spending a command-bus slot on PRE). PREA precharges every bank
// of one rank; REF is the all-bank refresh of one rank.
enum class Command : std::uint8_t { ACT, PRE, PREA, RD, WR, RDA, WRA, REF };
inline constexpr int kNumCommands = 8;

constexpr std::string_view command_name(Command c) {
  switch (c) {
    case Command::ACT: return "ACT";
    case Command::PRE: return "PRE";
    case Command::PREA: return "PREA";
    case Command::RD: return "RD";
    case Command::WR: return "WR";
    case Command::RDA: return "RDA";
    case Command::WRA: return "WRA";
    case Command::REF: return "REF";
  }
  return "?";
}

constexpr bool is_column(Command c) {
  return c == Command::RD || c == Command::WR || c == Command::RDA || c == Command::WRA;
}
constexpr bool is_read(Command c) { return c == Command::RD || c == Command::RDA; }
constexpr bool is_write(Command c) { return c == Command::WR || c == Command::WRA; }
constexpr bool has_auto_precharge(Command c) { return c == Command::RDA || c == Command::WRA; }

// "Never": the value of a cycle that will not come (no event pending).
inline constexpr std::uint64_t kNever = ~std::uint64_t{0};

}  // namespace tessel::sim::mem
