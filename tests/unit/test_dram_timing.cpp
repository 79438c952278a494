// Does the DRAM model enforce every JEDEC timing constraint exactly, no earlier and no later?
//
// Ramulator-style boundary tests: build the exact scenario, then show the command is
// refused at X-1 and accepted at X (DramDevice::can_issue/issue), where X is computed here
// from the spec's parameters. A synthetic "probe" spec with distinct values makes each
// constraint the binding one (checked: the tested term strictly exceeds every other
// bound); the same scenarios then run on the four bundled presets.
// The controller-level tests check that the controller actually issues commands at those
// cycles (hand-worked schedules recorded by an observer).

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "tessel/sim/mem/dram_config.hpp"
#include "tessel/sim/mem/dram_device.hpp"
#include "tessel/sim/mem/i_observer.hpp"
#include "tessel/sim/mem/memory_system.hpp"

using namespace tessel::sim::mem;

namespace {

// Two ranks, two bank groups of four banks, BL8 at 2 beats/clock (tBL = 4).
// Values are chosen so that every rule below is strictly the binding one.
DramConfig probe_config() {
  DramConfig c;
  c.name = "probe";
  c.standard = "probe";
  DramOrg& o = c.org;
  o.channels = 1;
  o.ranks = 2;
  o.bankgroups = 2;
  o.banks_per_group = 4;
  o.rows = 1024;
  o.columns = 64;
  o.device_width = 8;
  o.bus_width = 64;
  o.burst_length = 8;
  o.data_rate_mtps = 2000;
  DramTiming& t = c.timing;
  t.tCK_ps = 1000;
  t.tCL = 11;
  t.tCWL = 7;
  t.tRCD = 13;
  t.tRCD_WR = 12;
  t.tRP = 9;
  t.tRP_ab = 10;
  t.tRAS = 23;
  t.tRC = 37;  // > tRAS + tRP = 32, so tRC binds on its own
  t.tRRD_S = 3;
  t.tRRD_L = 5;
  t.tFAW = 29;
  t.tCCD_S = 5;  // > tBL, so tCCD_S (not the data bus) binds
  t.tCCD_L = 7;
  t.tWTR_S = 3;
  t.tWTR_L = 6;
  t.tWR = 14;
  t.tRTP = 6;
  t.tRTRS = 2;
  t.tREFI = 3000;
  t.tRFC = 120;
  c.controller.refresh = "none";
  c.controller.address_mapping = "RoBaRaCoCh";
  validate_dram_config(c, "probe");
  return c;
}

struct Banks {
  std::uint32_t a, same_group, other_group, other_rank;
  bool has_groups, has_ranks;
};

Banks banks_of(const DramDevice& d, const DramConfig& c) {
  Banks b{};
  b.a = d.flat_bank(0, 0, 0);
  b.same_group = d.flat_bank(0, 0, 1);
  b.has_groups = c.org.bankgroups > 1;
  b.other_group = b.has_groups ? d.flat_bank(0, 1, 0) : b.same_group;
  b.has_ranks = c.org.ranks > 1;
  b.other_rank = b.has_ranks ? d.flat_bank(1, 0, 0) : b.a;
  return b;
}

// The boundary itself: earliest == X, refused at X-1, accepted at X, and issuing at X-1
// is rejected by the device while issuing at X works.
void expect_boundary(DramDevice& d, Command cmd, std::uint32_t bank, std::uint32_t row,
                     std::uint64_t x) {
  INFO(std::string(command_name(cmd)) << " to bank " << bank << " expected at " << x);
  REQUIRE(x >= 1);
  CHECK(d.earliest(cmd, bank) == x);
  CHECK_FALSE(d.can_issue(cmd, bank, row, x - 1));
  CHECK(d.can_issue(cmd, bank, row, x));
  DramDevice early = d;
  CHECK_THROWS_AS(early.issue(cmd, bank, row, x - 1), std::logic_error);
  CHECK_NOTHROW(d.issue(cmd, bank, row, x));
}

constexpr std::uint32_t kRow = 5;
constexpr std::uint64_t kLate = 1000;  // a cycle after every earlier constraint has expired

// Runs every scenario on `c`. When `strict`, also requires the tested term to be the
// unique binding bound (true for the probe spec by construction).
void run_all_constraints(const DramConfig& c, bool strict) {
  const DramTiming& t = c.timing;
  const std::uint64_t bl = t.tBL;
  const auto binds = [&](std::uint64_t tested, std::initializer_list<std::uint64_t> others) {
    if (!strict) return;
    for (std::uint64_t o : others) CHECK(tested > o);
  };

  SECTION("ACT -> RD is tRCD") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    expect_boundary(d, Command::RD, b.a, kRow, t.tRCD);
  }
  SECTION("ACT -> WR is tRCD (tRCD_WR)") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    expect_boundary(d, Command::WR, b.a, kRow, t.tRCD_WR);
  }
  SECTION("ACT -> PRE is tRAS") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    expect_boundary(d, Command::PRE, b.a, kRow, t.tRAS);
  }
  SECTION("PRE -> ACT is tRP") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    const std::uint64_t pre = t.tRC;  // late enough that tRC is already met
    d.issue(Command::PRE, b.a, kRow, pre);
    expect_boundary(d, Command::ACT, b.a, kRow + 1, pre + t.tRP);
  }
  SECTION("ACT -> ACT, same bank, is tRC") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    d.issue(Command::PRE, b.a, kRow, t.tRAS);
    binds(t.tRC, {std::uint64_t{t.tRAS} + t.tRP});
    expect_boundary(d, Command::ACT, b.a, kRow + 1, std::max<std::uint64_t>(t.tRC, t.tRAS + t.tRP));
  }
  SECTION("ACT -> ACT, different bank group, is tRRD_S") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    expect_boundary(d, Command::ACT, b.other_group, kRow, b.has_groups ? t.tRRD_S : t.tRRD_L);
  }
  SECTION("ACT -> ACT, same bank group, is tRRD_L") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    binds(t.tRRD_L, {t.tRRD_S});
    expect_boundary(d, Command::ACT, b.same_group, kRow, t.tRRD_L);
  }
  SECTION("four-activate window tFAW") {
    DramDevice d(c);
    // Five banks alternating bank groups (when there are any); each ACT at its earliest.
    std::vector<std::uint32_t> five;
    for (std::uint32_t i = 0; five.size() < 5; ++i)
      five.push_back(c.org.bankgroups > 1 ? d.flat_bank(0, i % 2, i / 2) : d.flat_bank(0, 0, i));
    std::vector<std::uint64_t> at;
    for (int i = 0; i < 4; ++i) {
      const std::uint64_t e = d.earliest(Command::ACT, five[static_cast<std::size_t>(i)]);
      d.issue(Command::ACT, five[static_cast<std::size_t>(i)], kRow, e);
      at.push_back(e);
    }
    const bool same_group = c.org.bankgroups == 1;
    const std::uint64_t rrd = std::max(at[3] + (same_group ? t.tRRD_L : t.tRRD_S),
                                       at[2] + t.tRRD_L);  // five[4] shares five[2]'s group
    binds(at[0] + t.tFAW, {rrd});
    expect_boundary(d, Command::ACT, five[4], kRow, std::max(rrd, at[0] + t.tFAW));
  }
  SECTION("RD -> RD, different bank group, is tCCD_S (at least the burst)") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    d.issue(Command::ACT, b.other_group, kRow, 100);
    d.issue(Command::RD, b.a, kRow, kLate);
    const std::uint64_t gap = b.has_groups ? t.tCCD_S : t.tCCD_L;
    binds(gap, {bl});
    expect_boundary(d, Command::RD, b.other_group, kRow, kLate + std::max(gap, bl));
  }
  SECTION("RD -> RD, same bank group, is tCCD_L") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    d.issue(Command::ACT, b.same_group, kRow, 100);
    d.issue(Command::RD, b.a, kRow, kLate);
    binds(t.tCCD_L, {t.tCCD_S, bl});
    expect_boundary(d, Command::RD, b.same_group, kRow, kLate + std::max<std::uint64_t>(t.tCCD_L, bl));
  }
  SECTION("WR -> WR, different bank group, is tCCD_S") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    d.issue(Command::ACT, b.other_group, kRow, 100);
    d.issue(Command::WR, b.a, kRow, kLate);
    const std::uint64_t gap = b.has_groups ? t.tCCD_S : t.tCCD_L;
    expect_boundary(d, Command::WR, b.other_group, kRow, kLate + std::max(gap, bl));
  }
  SECTION("WR -> WR, same bank group, is tCCD_L") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    d.issue(Command::ACT, b.same_group, kRow, 100);
    d.issue(Command::WR, b.a, kRow, kLate);
    expect_boundary(d, Command::WR, b.same_group, kRow, kLate + std::max<std::uint64_t>(t.tCCD_L, bl));
  }
  SECTION("WR -> RD, different bank group, is tCWL + tBL + tWTR_S") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    d.issue(Command::ACT, b.other_group, kRow, 100);
    d.issue(Command::WR, b.a, kRow, kLate);
    const std::uint64_t wtr = b.has_groups ? t.tWTR_S : t.tWTR_L;
    expect_boundary(d, Command::RD, b.other_group, kRow, kLate + t.tCWL + bl + wtr);
  }
  SECTION("WR -> RD, same bank group, is tCWL + tBL + tWTR_L") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    d.issue(Command::ACT, b.same_group, kRow, 100);
    d.issue(Command::WR, b.a, kRow, kLate);
    binds(t.tWTR_L, {t.tWTR_S});
    expect_boundary(d, Command::RD, b.same_group, kRow, kLate + t.tCWL + bl + t.tWTR_L);
  }
  SECTION("RD -> PRE is tRTP") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    d.issue(Command::RD, b.a, kRow, kLate);
    expect_boundary(d, Command::PRE, b.a, kRow, kLate + t.tRTP);
  }
  SECTION("WR -> PRE is tCWL + tBL + tWR") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    d.issue(Command::WR, b.a, kRow, kLate);
    expect_boundary(d, Command::PRE, b.a, kRow, kLate + t.tCWL + bl + t.tWR);
  }
  SECTION("RD -> WR is tCL + tBL + tRTRS - tCWL") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    d.issue(Command::RD, b.a, kRow, kLate);
    const std::uint64_t x = kLate + t.tCL + bl + t.tRTRS - t.tCWL;
    binds(x - kLate, {std::uint64_t{t.tCCD_L}});
    expect_boundary(d, Command::WR, b.a, kRow, x);
  }
  SECTION("RDA: the next ACT waits for the implicit precharge (tRTP) plus tRP") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    const std::uint64_t rd = t.tRC;  // tRAS already met: precharge starts tRTP later
    d.issue(Command::RDA, b.a, kRow, rd);
    CHECK_FALSE(d.is_open(b.a));
    expect_boundary(d, Command::ACT, b.a, kRow + 1, rd + t.tRTP + t.tRP);
  }
  SECTION("RDA right after ACT: the implicit precharge waits for tRAS") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    d.issue(Command::RDA, b.a, kRow, t.tRCD);
    const std::uint64_t pre = std::max<std::uint64_t>(t.tRCD + t.tRTP, t.tRAS);
    expect_boundary(d, Command::ACT, b.a, kRow + 1, std::max<std::uint64_t>(pre + t.tRP, t.tRC));
  }
  SECTION("WRA: the next ACT waits for write recovery plus tRP") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    d.issue(Command::WRA, b.a, kRow, kLate);
    expect_boundary(d, Command::ACT, b.a, kRow + 1, kLate + t.tCWL + bl + t.tWR + t.tRP);
  }
  SECTION("PRE -> REF is tRP, REF -> ACT and REF -> REF are tRFC") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    d.issue(Command::PRE, b.a, kRow, t.tRAS);
    CHECK(d.state_allows(Command::REF, b.a, 0));
    expect_boundary(d, Command::REF, b.a, 0, t.tRAS + t.tRP);
    const std::uint64_t ref = t.tRAS + t.tRP;
    CHECK(d.bank_state(b.a, ref + 1) == BankState::Refreshing);
    CHECK(d.bank_state(b.a, ref + t.tRFC) == BankState::Closed);
    DramDevice again = d;
    expect_boundary(again, Command::REF, b.a, 0, ref + t.tRFC);
    expect_boundary(d, Command::ACT, b.same_group, kRow, ref + t.tRFC);
  }
  SECTION("PREA waits for every open bank's tRAS; PREA -> REF and -> ACT are tRPab") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.a, kRow, 0);
    d.issue(Command::ACT, b.same_group, kRow, 50);
    expect_boundary(d, Command::PREA, b.a, 0, 50 + t.tRAS);
    const std::uint64_t prea = 50 + t.tRAS;
    CHECK(d.open_banks(0) == 0);
    DramDevice act = d;
    expect_boundary(act, Command::ACT, b.a, kRow, prea + t.tRP_ab);
    expect_boundary(d, Command::REF, b.a, 0, prea + t.tRP_ab);
  }
  SECTION("one command per cycle on the command bus") {
    DramDevice d(c);
    const Banks b = banks_of(d, c);
    d.issue(Command::ACT, b.same_group, kRow, 0);
    d.issue(Command::ACT, b.a, kRow, kLate);
    // The other bank's PRE has long met tRAS; only the command bus holds it back.
    expect_boundary(d, Command::PRE, b.same_group, kRow, kLate + 1);
  }
  if (c.org.ranks > 1) {
    SECTION("RD -> RD, other rank, is tBL + tRTRS") {
      DramDevice d(c);
      const Banks b = banks_of(d, c);
      d.issue(Command::ACT, b.a, kRow, 0);
      d.issue(Command::ACT, b.other_rank, kRow, 100);
      d.issue(Command::RD, b.a, kRow, kLate);
      expect_boundary(d, Command::RD, b.other_rank, kRow, kLate + bl + t.tRTRS);
    }
    SECTION("WR -> WR, other rank, is tBL + tRTRS") {
      DramDevice d(c);
      const Banks b = banks_of(d, c);
      d.issue(Command::ACT, b.a, kRow, 0);
      d.issue(Command::ACT, b.other_rank, kRow, 100);
      d.issue(Command::WR, b.a, kRow, kLate);
      expect_boundary(d, Command::WR, b.other_rank, kRow, kLate + bl + t.tRTRS);
    }
    SECTION("WR -> RD, other rank, is tCWL + tBL + tRTRS - tCL (no tWTR)") {
      DramDevice d(c);
      const Banks b = banks_of(d, c);
      d.issue(Command::ACT, b.a, kRow, 0);
      d.issue(Command::ACT, b.other_rank, kRow, 100);
      d.issue(Command::WR, b.a, kRow, kLate);
      const std::int64_t gap = std::int64_t{t.tCWL} + t.tBL + t.tRTRS - t.tCL;
      expect_boundary(d, Command::RD, b.other_rank, kRow,
                      kLate + static_cast<std::uint64_t>(std::max<std::int64_t>(gap, 1)));
    }
  }
}

DramConfig preset(const std::string& name) { return load_dram_preset_or_file(name); }

}  // namespace

TEST_CASE("probe spec: every timing constraint binds at exactly its cycle", "[dram][timing]") {
  run_all_constraints(probe_config(), /*strict=*/true);
}

TEST_CASE("ddr4-3200: timing boundaries", "[dram][timing]") {
  run_all_constraints(preset("ddr4-3200"), false);
}
TEST_CASE("lpddr4x-4266: timing boundaries", "[dram][timing]") {
  run_all_constraints(preset("lpddr4x-4266"), false);
}
TEST_CASE("lpddr5-6400: timing boundaries", "[dram][timing]") {
  run_all_constraints(preset("lpddr5-6400"), false);
}
TEST_CASE("hbm2: timing boundaries", "[dram][timing]") {
  run_all_constraints(preset("hbm2"), false);
}

TEST_CASE("the data bus holds a burst for tBL even when tCCD_S is shorter", "[dram][timing]") {
  DramConfig c = probe_config();
  c.timing.tCCD_S = 2;
  c.timing.tCCD_L = 2;
  validate_dram_config(c, "probe");
  DramDevice d(c);
  const std::uint32_t a = d.flat_bank(0, 0, 0), other = d.flat_bank(0, 1, 0);
  d.issue(Command::ACT, a, kRow, 0);
  d.issue(Command::ACT, other, kRow, 100);
  d.issue(Command::RD, a, kRow, kLate);
  expect_boundary(d, Command::RD, other, kRow, kLate + c.timing.tBL);
}

TEST_CASE("bank state machine refuses commands the state does not allow", "[dram][timing]") {
  const DramConfig c = probe_config();
  DramDevice d(c);
  const std::uint32_t a = d.flat_bank(0, 0, 0);
  CHECK(d.bank_state(a, 0) == BankState::Closed);
  CHECK_FALSE(d.state_allows(Command::RD, a, kRow));  // closed bank
  CHECK_FALSE(d.state_allows(Command::PRE, a, kRow));
  CHECK_THROWS_AS(d.issue(Command::RD, a, kRow, kLate), std::logic_error);
  d.issue(Command::ACT, a, kRow, 0);
  CHECK(d.bank_state(a, 1) == BankState::Opened);
  CHECK_FALSE(d.state_allows(Command::ACT, a, kRow + 1));   // already open
  CHECK_FALSE(d.state_allows(Command::RD, a, kRow + 1));    // another row
  CHECK_FALSE(d.state_allows(Command::REF, a, 0));          // a bank of the rank is open
  CHECK(d.state_allows(Command::REF, d.flat_bank(1, 0, 0), 0));  // the other rank is not
}

// ---- The controller issues commands at exactly those cycles ----------------------------

namespace {

struct Recorder : IDramObserver {
  std::vector<CommandEvent> commands;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> done;  // (id, cycle)
  void on_command(const CommandEvent& e) override { commands.push_back(e); }
  void on_complete(const Request& r, std::uint32_t, std::uint64_t cycle) override {
    done.emplace_back(r.id, cycle);
  }
  std::vector<std::uint64_t> cycles(Command c) const {
    std::vector<std::uint64_t> v;
    for (const auto& e : commands)
      if (e.command == c) v.push_back(e.cycle);
    return v;
  }
  std::string sequence() const {
    std::string s;
    for (const auto& e : commands) s += std::string(command_name(e.command)) + " ";
    return s;
  }
};

std::uint64_t address(const MemorySystem& ms, std::uint32_t rank, std::uint32_t bg,
                      std::uint32_t bank, std::uint32_t row, std::uint32_t column) {
  DecodedAddress w;
  w.rank = rank;
  w.bankgroup = bg;
  w.bank = bank;
  w.row = row;
  w.column = column;
  return ms.mapper().encode(w);
}

void send(MemorySystem& ms, std::uint64_t addr, bool write, std::uint64_t id) {
  Request r;
  r.addr = addr;
  r.is_write = write;
  r.id = id;
  REQUIRE(ms.can_accept(addr, write));
  ms.send(r);
}

}  // namespace

TEST_CASE("controller: a read to a closed bank is ACT at arrival, RD at tRCD", "[dram][timing]") {
  const DramConfig c = probe_config();
  MemorySystem ms(c);
  Recorder rec;
  ms.add_observer(&rec);
  ms.tick_until(100);
  send(ms, address(ms, 0, 0, 0, kRow, 0), false, 1);
  send(ms, address(ms, 0, 0, 0, kRow, 1), false, 2);  // same row: a hit, tCCD_L later
  ms.run_until_idle();
  CHECK(rec.sequence() == "ACT RD RD ");
  CHECK(rec.cycles(Command::ACT) == std::vector<std::uint64_t>{100});
  CHECK(rec.cycles(Command::RD) == std::vector<std::uint64_t>{100 + 13, 100 + 13 + 7});
  // Data complete at RD + tCL + tBL.
  REQUIRE(rec.done.size() == 2);
  CHECK(rec.done[0] == std::make_pair<std::uint64_t, std::uint64_t>(1, 113 + 11 + 4));
  CHECK(rec.done[1] == std::make_pair<std::uint64_t, std::uint64_t>(2, 120 + 11 + 4));
  const MemoryStats s = ms.stats();
  CHECK(s.total.row_misses == 1);
  CHECK(s.total.row_hits == 1);
}

TEST_CASE("controller: a row conflict is PRE at tRAS/tRTP, ACT at tRP, RD at tRCD",
          "[dram][timing]") {
  const DramConfig c = probe_config();
  MemorySystem ms(c);
  Recorder rec;
  ms.add_observer(&rec);
  send(ms, address(ms, 0, 0, 0, kRow, 0), false, 1);
  send(ms, address(ms, 0, 0, 0, kRow + 1, 0), false, 2);
  ms.run_until_idle();
  CHECK(rec.sequence() == "ACT RD PRE ACT RD ");
  // ACT 0, RD 13; PRE at max(tRAS 23, 13 + tRTP 6) = 23; ACT at max(23 + tRP 9, tRC 37) =
  // 37; RD at 37 + 13 = 50.
  CHECK(rec.cycles(Command::PRE) == std::vector<std::uint64_t>{23});
  CHECK(rec.cycles(Command::ACT) == std::vector<std::uint64_t>{0, 37});
  CHECK(rec.cycles(Command::RD) == std::vector<std::uint64_t>{13, 50});
  CHECK(ms.stats().total.row_conflicts == 1);
}

TEST_CASE("controller: tRRD_S/tRRD_L/tFAW and tCCD_S/L in one hand-worked schedule",
          "[dram][timing]") {
  const DramConfig c = probe_config();
  MemorySystem ms(c);
  Recorder rec;
  ms.add_observer(&rec);
  // Five reads to five banks: (bg0,b0) (bg1,b0) (bg0,b1) (bg1,b1) (bg0,b2).
  for (std::uint32_t i = 0; i < 5; ++i) send(ms, address(ms, 0, i % 2, i / 2, kRow, 0), false, i);
  ms.run_until_idle();
  // ACT: 0; bg1 at tRRD_S 3; bg0 b1 at max(0+tRRD_L 5, 3+3) = 6; bg1 b1 at max(3+5, 6+3) = 9;
  // fifth at max(6+5, 9+3, 0+tFAW 29) = 29.
  CHECK(rec.cycles(Command::ACT) == std::vector<std::uint64_t>{0, 3, 6, 9, 29});
  // RD: 13; bg1 at max(3+13, 13+tCCD_S 5) = 18; bg0 b1 at max(6+13, 13+tCCD_L 7, 18+5) = 23;
  // bg1 b1 at max(9+13, 18+7, 23+5) = 28; fifth at max(29+13, 23+7, 28+5) = 42.
  CHECK(rec.cycles(Command::RD) == std::vector<std::uint64_t>{13, 18, 23, 28, 42});
}

namespace {
// Steps until the observer has seen `n` commands of kind `c`; returns the last one's cycle.
std::uint64_t run_until_command(MemorySystem& ms, const Recorder& rec, Command c,
                                std::size_t n) {
  while (rec.cycles(c).size() < n) REQUIRE(ms.step());
  return rec.cycles(c).back();
}
}  // namespace

TEST_CASE("controller: write-to-read (tWTR_S/L) and read-to-write turnarounds",
          "[dram][timing]") {
  const DramConfig c = probe_config();
  MemorySystem ms(c);
  Recorder rec;
  ms.add_observer(&rec);
  // Open three banks: bg0 b0 (written), bg1 b0 (other group), bg0 b1 (same group).
  send(ms, address(ms, 0, 1, 0, kRow, 0), false, 1);
  send(ms, address(ms, 0, 0, 1, kRow, 0), false, 2);
  ms.run_until_idle();
  send(ms, address(ms, 0, 0, 0, kRow, 0), true, 3);
  const std::uint64_t wr = run_until_command(ms, rec, Command::WR, 1);
  ms.tick_until(wr + 1);

  SECTION("read in another bank group: tCWL + tBL + tWTR_S after the write") {
    send(ms, address(ms, 0, 1, 0, kRow, 1), false, 4);
    const std::uint64_t rd = run_until_command(ms, rec, Command::RD, 3);
    CHECK(rd == wr + 7 + 4 + 3);
    // Then a write (read queue empty again): tCL + tBL + tRTRS - tCWL after the read.
    send(ms, address(ms, 0, 0, 0, kRow, 1), true, 5);
    CHECK(run_until_command(ms, rec, Command::WR, 2) == rd + 11 + 4 + 2 - 7);
  }
  SECTION("read in the same bank group: tCWL + tBL + tWTR_L after the write") {
    send(ms, address(ms, 0, 0, 1, kRow, 1), false, 4);
    CHECK(run_until_command(ms, rec, Command::RD, 3) == wr + 7 + 4 + 6);
  }
  ms.run_until_idle();
}

TEST_CASE("controller: closed page closes the row after every access (RDA/WRA)",
          "[dram][timing]") {
  DramConfig c = probe_config();
  c.controller.row_policy = "closed";
  MemorySystem ms(c);
  Recorder rec;
  ms.add_observer(&rec);
  send(ms, address(ms, 0, 0, 0, kRow, 0), false, 1);
  send(ms, address(ms, 0, 0, 0, kRow, 1), false, 2);  // same row, but it was closed
  send(ms, address(ms, 0, 0, 1, kRow, 0), true, 3);  // waits: reads go first
  ms.run_until_idle();
  CHECK(rec.sequence() == "ACT RDA ACT RDA ACT WRA ");
  // RDA at 13 closes at max(13 + tRTP, tRAS 23) = 23, so the same bank's ACT is at
  // max(23 + tRP 9, tRC 37) = 37 and its RDA at 50; the write's ACT follows at 51.
  CHECK(rec.cycles(Command::ACT) == std::vector<std::uint64_t>{0, 37, 51});
  CHECK(rec.cycles(Command::RDA) == std::vector<std::uint64_t>{13, 50});
  for (int b = 0; b < 2; ++b) {
    const DramDevice& d = ms.channel(0).device();
    CHECK_FALSE(d.is_open(d.flat_bank(0, 0, static_cast<std::uint32_t>(b))));
  }
  const MemoryStats s = ms.stats();
  CHECK(s.total.auto_precharges == 3);
  CHECK(s.total.row_hits == 0);
  CHECK(s.total.row_misses == 3);
}

TEST_CASE("controller: refresh every tREFI while idle, PREA first if rows are open",
          "[dram][timing][refresh]") {
  DramConfig c = probe_config();
  c.controller.refresh = "all_bank";
  c.org.ranks = 1;
  validate_dram_config(c, "probe");
  MemorySystem ms(c);
  Recorder rec;
  ms.add_observer(&rec);
  const std::uint64_t refi = c.timing.tREFI;
  // Open a row, then stay idle for ten refresh intervals.
  send(ms, address(ms, 0, 0, 0, kRow, 0), false, 1);
  ms.tick_until(10 * refi + 1);
  std::vector<std::uint64_t> expected;
  for (std::uint64_t k = 1; k <= 10; ++k) expected.push_back(k * refi);
  // The first refresh finds the row open: PREA at tREFI, REF tRPab later; every later one
  // is exactly on time.
  CHECK(rec.cycles(Command::PREA) == std::vector<std::uint64_t>{refi});
  auto refs = rec.cycles(Command::REF);
  REQUIRE(refs.size() == 10);
  CHECK(refs[0] == refi + c.timing.tRP_ab);
  refs[0] = refi;
  CHECK(refs == expected);
  CHECK(ms.stats().total.refreshes == 10);
}

TEST_CASE("controller: a read arriving during refresh waits until tRFC has passed",
          "[dram][timing][refresh]") {
  DramConfig c = probe_config();
  c.controller.refresh = "all_bank";
  c.org.ranks = 1;
  validate_dram_config(c, "probe");
  MemorySystem ms(c);
  Recorder rec;
  ms.add_observer(&rec);
  const std::uint64_t refi = c.timing.tREFI;
  ms.tick_until(refi + 5);  // REF issued at tREFI (all banks closed)
  REQUIRE(rec.cycles(Command::REF) == std::vector<std::uint64_t>{refi});
  CHECK(ms.channel(0).device().bank_state(0, refi + 5) == BankState::Refreshing);
  send(ms, address(ms, 0, 0, 0, kRow, 0), false, 1);
  CHECK(ms.earliest_issue_cycle(Command::ACT, address(ms, 0, 0, 0, kRow, 0)) ==
        refi + c.timing.tRFC);
  ms.run_until_idle();
  CHECK(rec.cycles(Command::ACT) == std::vector<std::uint64_t>{refi + c.timing.tRFC});
  REQUIRE(rec.done.size() == 1);
  CHECK(rec.done[0].second == refi + c.timing.tRFC + 13 + 11 + 4);
}

TEST_CASE("controller: ranks refresh staggered by tREFI / ranks", "[dram][timing][refresh]") {
  DramConfig c = probe_config();
  c.controller.refresh = "all_bank";
  MemorySystem ms(c);
  Recorder rec;
  ms.add_observer(&rec);
  const std::uint64_t refi = c.timing.tREFI;
  ms.tick_until(3 * refi + 1);
  std::vector<std::uint64_t> r0, r1;
  for (const auto& e : rec.commands) {
    REQUIRE(e.command == Command::REF);
    (e.where.rank == 0 ? r0 : r1).push_back(e.cycle);
  }
  CHECK(r0 == std::vector<std::uint64_t>{refi, 2 * refi, 3 * refi});
  CHECK(r1 == std::vector<std::uint64_t>{refi + refi / 2, 2 * refi + refi / 2});
}
