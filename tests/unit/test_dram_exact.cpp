// Does an optimisation of the DRAM controller keep every simulated cycle? A golden hash of
// every command (cycle, command, bank, row, column, request) and every completion (request,
// channel, cycle) over a matrix of presets, schedulers, row policies, rank counts and two
// workloads (single bursts as fast as the queues accept them; random multi-burst
// transactions with idle gaps). The numbers were recorded from the controller before its
// per-bank candidate caches and the fused FR-FCFS path; a difference means some command
// moved. The same runs with the controller's self-check (incremental plan == full re-plan).

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "dram_trace_hash.hpp"
#include "tessel/sim/mem/dram_config.hpp"
#include "tessel/sim/mem/dram_device.hpp"
#include "tessel/sim/mem/i_observer.hpp"
#include "tessel/sim/mem/memory_system.hpp"

using namespace tessel::sim::mem;

namespace {

// Every command (with its request id) and every completion, in the order observed.
struct TraceHash : testing::CommandHash {
  std::uint64_t commands = 0, completions = 0;
  void on_command(const CommandEvent& e) override {
    ++commands;
    mix_command(e);
    mix(e.request_id);
  }
  void on_complete(const Request& r, std::uint32_t channel, std::uint64_t cycle) override {
    ++completions;
    mix(0xC0FFEE);
    mix(r.id);
    mix(r.addr);
    mix(channel);
    mix(cycle);
  }
};

struct Variant {
  const char* preset;
  const char* scheduler;
  const char* rows;
  std::uint32_t ranks;     // 0: the preset's
  bool train_ddr4;         // tCCD_L = tBL so that DDR4 forms trains
};

DramConfig make_config(const Variant& v) {
  DramConfig c = load_dram_preset_or_file(v.preset);
  c.controller.scheduler = v.scheduler;
  c.controller.row_policy = v.rows;
  if (v.ranks != 0) c.org.ranks = v.ranks;
  if (v.train_ddr4) c.timing.tCCD_L = c.timing.tBL;
  return c;
}

std::uint64_t xorshift(std::uint64_t& x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

// 20000 single bursts, half writes, random addresses with some sequential runs, sent as
// fast as the queues accept them (the membench loop).
TraceHash run_bursts(const DramConfig& c, bool self_check) {
  MemorySystem ms(c);
  ms.set_self_check(self_check);
  TraceHash hash;
  ms.add_observer(&hash);
  const std::uint64_t burst = c.org.burst_bytes();
  const std::uint64_t space = c.org.capacity_bytes() / burst;
  std::uint64_t x = 77, seq = 12345;
  for (std::uint64_t id = 0; id < 20000; ++id) {
    const std::uint64_t r = xorshift(x);
    Request q;
    q.id = id;
    q.is_write = (r & 1) != 0;
    q.addr = ((r >> 8) % 4 == 0 ? (seq++ % space) : ((r >> 12) % space)) * burst;
    while (!ms.can_accept(q.addr, q.is_write)) ms.step();
    ms.send(q);
  }
  ms.run_until_idle();
  return hash;
}

// 3000 transactions of 1-8 bursts (trains where the DRAM allows them), a third writes,
// with idle gaps of 0-40 cycles so that refresh and empty queues happen too.
TraceHash run_transactions(const DramConfig& c, bool self_check) {
  MemorySystem ms(c);
  ms.set_self_check(self_check);
  TraceHash hash;
  ms.add_observer(&hash);
  const std::uint64_t burst = c.org.burst_bytes();
  const std::uint64_t pages = c.org.capacity_bytes() / 4096;
  std::uint64_t x = 4242;
  for (int i = 0; i < 3000; ++i) {
    xorshift(x);
    const auto len = static_cast<std::uint32_t>(burst * (1 + x % 8));
    const std::uint64_t page = (x >> 8) % 64 == 0 ? (x >> 8) % pages : (x >> 8) % 16;
    const std::uint64_t offset = ((x >> 40) % (4096 / burst)) * burst;
    Request r;
    r.addr = page * 4096 + std::min<std::uint64_t>(offset, 4096 - len);
    r.is_write = (x >> 20) % 3 == 0;
    r.id = static_cast<std::uint64_t>(i);
    while (!ms.can_accept_transaction(r.addr, len, r.is_write)) ms.step();
    ms.send_transaction(r, len);
    ms.tick_until(ms.now() + (x >> 50) % 41);
  }
  ms.run_until_idle();
  return hash;
}

struct Golden {
  Variant v;
  std::uint64_t bursts_hash, transactions_hash;
};

// Recorded with TESSEL_PRINT_GOLDEN=1 (prints this table) from the reference controller.
const std::vector<Golden> kGolden = {
#include "dram_exact_golden.inc"
};

}  // namespace

TEST_CASE("exact: every command and completion at its recorded cycle across the matrix",
          "[dram][system][golden][exact]") {
  const bool print = std::getenv("TESSEL_PRINT_GOLDEN") != nullptr;
  REQUIRE(kGolden.size() >= 20);
  for (const Golden& g : kGolden) {
    const Variant& v = g.v;
    INFO(v.preset << " " << v.scheduler << " " << v.rows << " ranks " << v.ranks
                  << (v.train_ddr4 ? " trains" : ""));
    const DramConfig c = make_config(v);
    const TraceHash b = run_bursts(c, false);
    const TraceHash t = run_transactions(c, false);
    if (print) {
      std::printf("    {{\"%s\", \"%s\", \"%s\", %u, %s}, 0x%016llxull, 0x%016llxull},\n",
                  v.preset, v.scheduler, v.rows, v.ranks, v.train_ddr4 ? "true" : "false",
                  static_cast<unsigned long long>(b.h), static_cast<unsigned long long>(t.h));
      continue;
    }
    CHECK(b.completions == 20000);
    CHECK(b.h == g.bursts_hash);
    CHECK(t.h == g.transactions_hash);
  }
}

TEST_CASE("exact: the self-checked controller (full re-plan after every change) agrees",
          "[dram][system][exact][determinism]") {
  for (const Golden& g : kGolden) {
    const Variant& v = g.v;
    if (v.ranks == 0 && std::string(v.rows) == "closed") continue;  // keep it quick
    INFO(v.preset << " " << v.scheduler << " " << v.rows << " ranks " << v.ranks
                  << (v.train_ddr4 ? " trains" : ""));
    const DramConfig c = make_config(v);
    CHECK(run_bursts(c, true).h == g.bursts_hash);  // throws on any plan difference
    CHECK(run_transactions(c, true).h == g.transactions_hash);
  }
  // More than 32 banks per channel (select_frfcfs's multi-word path) and refresh of one
  // rank among four: no recorded hash, the self-check alone.
  for (const char* rows : {"open", "closed"}) {
    INFO("ddr4-3200 4 ranks " << rows);
    const DramConfig c = make_config({"ddr4-3200", "frfcfs", rows, 4, false});
    const TraceHash fast = run_bursts(c, false), checked = run_bursts(c, true);
    CHECK(fast.h == checked.h);
    CHECK(checked.completions == 20000);
    CHECK(run_transactions(c, false).h == run_transactions(c, true).h);
  }
}

TEST_CASE("exact: the bank-group/bank split of the earliest cycles equals earliest_*",
          "[dram][timing][exact]") {
  for (const char* preset : {"ddr4-3200", "lpddr4x-4266", "lpddr5-6400", "hbm2"}) {
    for (std::uint32_t ranks : {1u, 2u}) {
      INFO(preset << " ranks " << ranks);
      DramConfig c = load_dram_preset_or_file(preset);
      c.org.ranks = ranks;
      DramDevice d(c);
      std::uint64_t x = 5, t = 0;
      std::uint64_t checked = 0;
      for (int i = 0; i < 4000; ++i) {
        const auto bank = static_cast<std::uint32_t>(xorshift(x) % d.num_banks());
        const std::uint32_t row = static_cast<std::uint32_t>(xorshift(x) % 4);
        static constexpr Command kCommands[] = {Command::ACT, Command::PRE, Command::RD,
                                                Command::WR,  Command::RDA, Command::WRA};
        const Command cmd = kCommands[xorshift(x) % 6];
        const std::uint32_t use_row = is_column(cmd) ? d.open_row(bank) : row;
        if (!d.state_allows(cmd, bank, use_row)) continue;
        const std::uint64_t e = d.earliest(cmd, bank);
        t = std::max(t, e) + xorshift(x) % 3;
        d.issue(cmd, bank, use_row, t);
        for (std::uint32_t b = 0; b < d.num_banks(); ++b) {
          const std::uint32_t g = d.group_of(b);
          REQUIRE(d.earliest_act(b) == std::max(d.bank_next_act(b), d.group_floor_act(g)));
          REQUIRE(d.earliest_pre(b) == std::max(d.bank_next_pre(b), d.command_bus_free()));
          for (bool w : {false, true})
            REQUIRE(d.earliest_column(w, b) ==
                    std::max(d.bank_next_column(w, b), d.group_floor_column(w, g)));
          ++checked;
        }
      }
      CHECK(checked > 1000);
    }
  }
}
