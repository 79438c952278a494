#pragma once
// One channel's DRAM devices as the controller sees them: bank state machines
// (closed / row open / refreshing) and, for every command, the earliest cycle at which
// it satisfies every JEDEC timing constraint given the commands issued so far.
//
// Constraints are kept the way Ramulator does: each node of the hierarchy (channel, rank,
// bank group, bank) holds "next legal cycle" per command class, raised when a command
// issues; a command's earliest cycle is the maximum over the nodes it touches. Issuing
// is O(1) (O(ranks) for rank-switch rules), querying is O(1) (O(banks) for PREA).
// The table of rules is written out once in dram_device.cpp, next to the JEDEC names.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tessel/sim/mem/command.hpp"
#include "tessel/sim/mem/dram_config.hpp"

namespace tessel::sim::mem {

enum class BankState : std::uint8_t { Closed, Opened, Refreshing };

class DramDevice {
 public:
  explicit DramDevice(const DramConfig& config);

  // Banks are numbered flat within the channel: ((rank * bankgroups) + bankgroup) *
  // banks_per_group + bank.
  std::uint32_t flat_bank(std::uint32_t rank, std::uint32_t bankgroup,
                          std::uint32_t bank) const {
    return (rank * bankgroups_ + bankgroup) * banks_per_group_ + bank;
  }
  std::uint32_t num_banks() const { return static_cast<std::uint32_t>(banks_.size()); }
  std::uint32_t rank_of(std::uint32_t flat) const { return banks_[flat].rank; }
  std::uint32_t banks_per_rank() const { return banks_per_rank_; }

  bool is_open(std::uint32_t flat) const { return banks_[flat].open; }
  std::uint32_t open_row(std::uint32_t flat) const { return banks_[flat].row; }
  std::uint32_t open_banks(std::uint32_t rank) const { return ranks_[rank].open_banks; }
  BankState bank_state(std::uint32_t flat, std::uint64_t now) const;

  // Earliest cycle at which `cmd` meets every timing constraint (ignoring whether the
  // bank state allows it). For PREA and REF, `flat` selects the rank (any of its banks).
  // Inline for the request commands (the controller checks every command it issues).
  std::uint64_t earliest(Command cmd, std::uint32_t flat) const {
    switch (cmd) {
      case Command::ACT: return earliest_act(flat);
      case Command::PRE: return earliest_pre(flat);
      case Command::RD:
      case Command::RDA: return earliest_column(false, flat);
      case Command::WR:
      case Command::WRA: return earliest_column(true, flat);
      default: return earliest_rank_command(cmd, flat);
    }
  }
  // The same for one command kind, inline: the controller asks these for every bank with
  // queued requests each time it plans.
  std::uint64_t earliest_act(std::uint32_t flat) const {
    const Bank& b = banks_[flat];
    return max4(b.next[kAct], groups_[b.group][kAct], ranks_[b.rank].next[kAct], command_bus_);
  }
  std::uint64_t earliest_pre(std::uint32_t flat) const {
    const std::uint64_t b = banks_[flat].next[kPre];
    return b > command_bus_ ? b : command_bus_;
  }
  std::uint64_t earliest_column(bool write, std::uint32_t flat) const {
    const int k = write ? kWr : kRd;
    const Bank& b = banks_[flat];
    const std::uint64_t c = channel_[k] > command_bus_ ? channel_[k] : command_bus_;
    return max4(b.next[k], groups_[b.group][k], ranks_[b.rank].next[k], c);
  }
  // The same split in two, for a planner asking about every bank at once: the part
  // shared by a bank group (its group, rank, channel and command-bus constraints) and the
  // bank's own. For every flat bank b in group g = group_of(b):
  //   earliest_act(b)           == max(bank_next_act(b), group_floor_act(g))
  //   earliest_pre(b)           == max(bank_next_pre(b), command_bus_free())
  //   earliest_column(w, b)     == max(bank_next_column(w, b), group_floor_column(w, g))
  std::uint32_t num_groups() const { return static_cast<std::uint32_t>(groups_.size()); }
  std::uint32_t group_of(std::uint32_t flat) const { return banks_[flat].group; }
  std::uint64_t command_bus_free() const { return command_bus_; }
  std::uint64_t group_floor_act(std::uint32_t group) const {
    const std::uint64_t g = groups_[group][kAct];
    const std::uint64_t r = ranks_[group_rank_[group]].next[kAct];
    const std::uint64_t x = g > r ? g : r;
    return x > command_bus_ ? x : command_bus_;
  }
  std::uint64_t group_floor_column(bool write, std::uint32_t group) const {
    const int k = write ? kWr : kRd;
    return max4(groups_[group][k], ranks_[group_rank_[group]].next[k], channel_[k], command_bus_);
  }
  std::uint64_t bank_next_act(std::uint32_t flat) const { return banks_[flat].next[kAct]; }
  std::uint64_t bank_next_pre(std::uint32_t flat) const { return banks_[flat].next[kPre]; }
  std::uint64_t bank_next_column(bool write, std::uint32_t flat) const {
    return banks_[flat].next[write ? kWr : kRd];
  }
  // Whether the bank/rank state allows `cmd` at all: ACT needs a closed bank, PRE an
  // open one, column commands the open row `row`, REF a rank with every bank closed.
  bool state_allows(Command cmd, std::uint32_t flat, std::uint32_t row) const {
    const Bank& b = banks_[flat];
    switch (cmd) {
      case Command::ACT: return !b.open;
      case Command::PRE: return b.open;
      case Command::RD:
      case Command::WR:
      case Command::RDA:
      case Command::WRA: return b.open && b.row == row;
      case Command::PREA: return true;
      case Command::REF: return ranks_[b.rank].open_banks == 0;
    }
    return false;
  }
  bool can_issue(Command cmd, std::uint32_t flat, std::uint32_t row,
                 std::uint64_t cycle) const {
    return state_allows(cmd, flat, row) && cycle >= earliest(cmd, flat);
  }
  // Applies the command's state change and timing consequences. Issuing a command that
  // can_issue() refuses is a programming error (std::logic_error).
  void issue(Command cmd, std::uint32_t flat, std::uint32_t row, std::uint64_t cycle) {
    if (!can_issue(cmd, flat, row, cycle)) refuse(cmd, flat, row, cycle);
    command_bus_ = cycle + 1;
    apply(cmd, flat, row, cycle);
  }

  // A train's second and later column commands (controller.hpp): the same bank and row as
  // the column command before them, issued by the controller when it issues the first, at
  // cycles ahead of its planning clock. They obey every bank, bank-group, rank and data-bus
  // rule; the command bus is not reserved for them (one command cycle each, which the
  // model leaves free for other banks' ACT and PRE in the gaps, as a controller would use it).
  std::uint64_t earliest_train_column(bool write, std::uint32_t flat) const {
    const int k = write ? kWr : kRd;
    const Bank& b = banks_[flat];
    return max4(b.next[k], groups_[b.group][k], ranks_[b.rank].next[k], channel_[k]);
  }
  void issue_train_column(Command cmd, std::uint32_t flat, std::uint32_t row,
                          std::uint64_t cycle);
  // The rest of a train at once: `count` more column commands after the one issued at
  // `first`, each at its earliest cycle, the last one `last_cmd` (RDA/WRA to close the row,
  // or the same command). Nothing else issues in between, so each follows the one before
  // by exactly column_gap() (the previous column command is the binding constraint: every
  // other one was already met at `first`), and the last one's rules dominate the others'
  // (every rule is "issue cycle + distance"). Returns the last command's cycle.
  std::uint64_t issue_train_rest(Command cmd, Command last_cmd, std::uint32_t flat,
                                 std::uint32_t row, std::uint64_t first, std::uint32_t count);
  // Column command to column command of the same bank: data bus, rank and bank group.
  std::uint64_t column_gap() const { return column_gap_; }

 private:
  // Command classes that constraints point to ("following" commands).
  enum Slot : int { kAct, kPre, kRd, kWr, kRef, kSlots };
  using Next = std::array<std::uint64_t, kSlots>;

  struct Bank {
    Next next{};
    std::uint32_t row = 0;
    bool open = false;
    // Its bank group (index into groups_) and rank, fixed at construction: the earliest_*
    // queries run for every candidate of every plan, and the divisions showed.
    std::uint32_t group = 0, rank = 0;
  };
  struct Rank {
    Next next{};
    std::array<std::uint64_t, 4> act_window{};  // last four ACT cycles, for tFAW
    std::uint32_t act_count = 0;
    std::uint32_t act_pos = 0;
    std::uint32_t open_banks = 0;
    std::uint64_t refresh_until = 0;
  };

  static std::uint64_t max4(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t d) {
    const std::uint64_t x = a > b ? a : b, y = c > d ? c : d;
    return x > y ? x : y;
  }
  static void raise(std::uint64_t& slot, std::uint64_t value) {
    if (value > slot) slot = value;
  }
  void close_bank(std::uint32_t flat, std::uint64_t act_ready);
  std::uint64_t earliest_rank_command(Command cmd, std::uint32_t flat) const;  // PREA, REF
  void apply(Command cmd, std::uint32_t flat, std::uint32_t row, std::uint64_t cycle);
  [[noreturn]] void refuse(Command cmd, std::uint32_t flat, std::uint32_t row,
                           std::uint64_t cycle) const;

  DramTiming t_;
  std::uint32_t bankgroups_, banks_per_group_, banks_per_rank_;
  // Derived distances (tCK), written once here so the rules below read like JEDEC.
  std::uint64_t rd_to_wr_;         // RD -> WR, any rank: tCL + tBL + tRTRS - tCWL
  std::uint64_t wr_to_rd_other_;   // WR -> RD, other rank: tCWL + tBL + tRTRS - tCL
  std::uint64_t wr_to_rd_s_;       // WR -> RD, same rank: tCWL + tBL + tWTR_S
  std::uint64_t wr_to_rd_l_;       // WR -> RD, same bank group: tCWL + tBL + tWTR_L
  std::uint64_t wr_to_pre_;        // WR -> PRE, same bank: tCWL + tBL + tWR
  std::uint64_t rank_switch_;      // RD->RD / WR->WR, other rank: tBL + tRTRS
  std::uint64_t column_gap_;       // max(tBL, tCCD_S, tCCD_L)

  std::vector<Bank> banks_;
  std::vector<Next> groups_;   // indexed rank * bankgroups + bankgroup
  std::vector<std::uint32_t> group_rank_;  // a group's rank (no division in the floors)
  std::vector<Rank> ranks_;
  Next channel_{};
  std::uint64_t command_bus_ = 0;  // one command per cycle per channel
};

}  // namespace tessel::sim::mem
