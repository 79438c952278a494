// Multi-burst transactions (MemorySystem::send_transaction): the split into one train per
// channel, bank and row; the timing of a train's column commands; equal bandwidth and
// statistics with single bursts; the plan invariants with trains; misuse errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessel/sim/mem/dram_config.hpp"
#include "tessel/sim/mem/i_observer.hpp"
#include "tessel/sim/mem/memory_system.hpp"

using namespace tessel::sim::mem;

namespace {

const std::vector<std::string> kPresets = {"ddr4-3200", "lpddr4x-4266", "lpddr5-6400", "hbm2"};

struct Recorder : IDramObserver {
  std::vector<CommandEvent> commands;
  void on_command(const CommandEvent& e) override { commands.push_back(e); }
};

struct Completion {
  Request request;
  std::uint64_t cycle;
};

// Streams `bytes` of reads (or writes) from address 0 in transactions of `tx` bytes (0:
// single bursts through send()), as fast as the queues accept them. Returns the cycle of
// the last completion.
std::uint64_t stream(MemorySystem& ms, std::uint64_t bytes, std::uint32_t tx, bool write,
                     std::vector<Completion>* done = nullptr) {
  std::uint64_t last = 0;
  ms.set_completion_callback([&](const Request& r, std::uint64_t c) {
    last = std::max(last, c);
    if (done) done->push_back({r, c});
  });
  const std::uint64_t burst = ms.config().org.burst_bytes();
  const std::uint64_t step = tx == 0 ? burst : tx;
  std::uint64_t id = 0;
  for (std::uint64_t a = 0; a < bytes; a += step) {
    Request r;
    r.addr = a;
    r.is_write = write;
    r.id = ++id;
    if (tx == 0) {
      while (!ms.can_accept(a, write)) ms.step();
      ms.send(r);
    } else {
      while (!ms.can_accept_transaction(a, tx, write)) ms.step();
      ms.send_transaction(r, tx);
    }
  }
  ms.run_until_idle();
  return last;
}

}  // namespace

TEST_CASE("a transaction becomes one train per channel, bank and row, each completed once",
          "[dram][transaction]") {
  const DramConfig c = load_dram_preset_or_file("lpddr4x-4266");  // 2 channels, 32 B bursts
  MemorySystem ms(c);
  std::vector<Completion> done;
  ms.set_completion_callback([&](const Request& r, std::uint64_t cy) { done.push_back({r, cy}); });
  Request r;
  r.addr = 4096;
  r.id = 77;
  REQUIRE(ms.can_accept_transaction(r.addr, 256, false));
  // RoBaCoBgRaCh: bursts alternate channels, so 256 bytes are 4 bursts in each channel,
  // all in one bank and row.
  CHECK(ms.send_transaction(r, 256) == 2);
  ms.run_until_idle();
  REQUIRE(done.size() == 2);
  std::map<std::uint32_t, std::uint32_t> per_channel;
  for (const Completion& d : done) {
    CHECK(d.request.id == 77);
    CHECK(d.request.bursts == 4);
    per_channel[ms.mapper().decode(d.request.addr).channel] += d.request.bursts;
  }
  CHECK(per_channel.size() == 2);
  const MemoryStats s = ms.stats();
  CHECK(s.total.reads == 8);
  CHECK(s.total.bytes == 256);
  CHECK(s.total.data_bus_busy_cycles == 8u * c.timing.tBL);
  CHECK(s.total.row_misses == 2);  // one ACT per channel, the other bursts are hits
  CHECK(s.total.row_hits == 6);
  CHECK(s.total.activates == 2);
  CHECK(s.latency.count() == 2);  // latency is per request (train)

  // A transaction across a row boundary splits there too: LPDDR4X with 1 KiB rows per
  // channel, so a 4 KiB page holds two rows of each channel.
  DramConfig small_rows = c;
  small_rows.org.columns = 512;
  MemorySystem rows(small_rows);
  std::vector<std::uint32_t> bursts;
  rows.set_completion_callback([&](const Request& q, std::uint64_t) { bursts.push_back(q.bursts); });
  Request q;
  REQUIRE(rows.can_accept_transaction(0, 4096, false));
  CHECK(rows.send_transaction(q, 4096) == 4);
  rows.run_until_idle();
  CHECK(bursts == std::vector<std::uint32_t>{32, 32, 32, 32});

  // Where same-bank-group column commands are further apart than a burst (DDR4: tCCD_L 8,
  // tBL 4), a train would keep the other bank groups out of its gaps: every burst stays
  // its own request.
  MemorySystem ddr4(load_dram_preset_or_file("ddr4-3200"));
  std::vector<std::uint32_t> singles;
  ddr4.set_completion_callback([&](const Request& d, std::uint64_t) { singles.push_back(d.bursts); });
  CHECK(ddr4.send_transaction(q, 512) == 8);
  ddr4.run_until_idle();
  CHECK(singles == std::vector<std::uint32_t>(8, 1));
}

TEST_CASE("a train's column commands follow each other at the column-to-column distance",
          "[dram][transaction]") {
  // LPDDR4X (no bank groups), and DDR4 with tCCD_L lowered to the burst time so that
  // trains form across its bank groups and ranks.
  DramConfig ddr4 = load_dram_preset_or_file("ddr4-3200");
  ddr4.timing.tCCD_L = ddr4.timing.tBL;
  ddr4.org.ranks = 2;
  for (const DramConfig& c : {load_dram_preset_or_file("lpddr4x-4266"), ddr4}) {
    INFO(c.name);
    MemorySystem ms(c);
    Recorder rec;
    ms.add_observer(&rec);
    const std::uint32_t burst = c.org.burst_bytes();
    const std::uint32_t tx = 4096;
    Request r;
    r.addr = 0;
    ms.send_transaction(r, tx);
    ms.run_until_idle();
    // Per channel and bank: one ACT, then that bank's train; its first column command no
    // earlier than ACT + tRCD, each next one exactly the larger of tCCD_L (same bank
    // group) and the burst's bus time later (nothing goes between a train's bursts).
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<CommandEvent>> per_bank;
    for (const CommandEvent& e : rec.commands)
      per_bank[{e.where.channel, (e.where.rank * 64 + e.where.bankgroup) * 64 + e.where.bank}]
          .push_back(e);
    std::uint64_t columns = 0;
    const std::uint64_t gap = std::max(c.timing.tCCD_L, c.timing.tBL);
    for (const auto& [where, cmds] : per_bank) {
      INFO("channel " << where.first << " bank " << where.second);
      REQUIRE(cmds.size() >= 3);  // trains of two or more bursts
      CHECK(cmds[0].command == Command::ACT);
      CHECK(cmds[1].cycle >= cmds[0].cycle + c.timing.tRCD);
      columns += cmds.size() - 1;
      for (std::size_t i = 2; i < cmds.size(); ++i) {
        CHECK(cmds[i].command == Command::RD);
        CHECK(cmds[i].cycle == cmds[i - 1].cycle + gap);
      }
    }
    CHECK(columns == tx / burst);
    // And on each channel's data bus, bursts never overlap.
    std::map<std::uint32_t, std::uint64_t> bus_free;
    for (const CommandEvent& e : rec.commands) {
      if (e.command != Command::RD) continue;
      CHECK(e.cycle >= bus_free[e.where.channel]);
      bus_free[e.where.channel] = e.cycle + c.timing.tBL;
    }
  }
}

TEST_CASE("streaming in transactions: the same bytes and close to the same time as single bursts",
          "[dram][transaction][bandwidth]") {
  for (const auto& name : kPresets) {
    for (const bool write : {false, true}) {
      INFO(name << (write ? " writes" : " reads"));
      const DramConfig c = load_dram_preset_or_file(name);
      const std::uint64_t bytes = 1u << 20;
      MemorySystem single(c), trains(c);
      const std::uint64_t t1 = stream(single, bytes, 0, write);
      const std::uint64_t t8 = stream(trains, bytes, 256, write);
      const MemoryStats a = single.stats(), b = trains.stats();
      CHECK(a.total.bytes == bytes);
      CHECK(b.total.bytes == bytes);
      CHECK((write ? b.total.writes : b.total.reads) == bytes / c.org.burst_bytes());
      CHECK(a.total.data_bus_busy_cycles == b.total.data_bus_busy_cycles);
      CHECK(b.total.refreshes > 0);
      // Measured (a WARN of `ratio`, 2026-12-02): LPDDR4X, where trains form, 1.0005 (reads)
      // and 0.9999 (writes): trains issue their bursts back to back, as FR-FCFS served a
      // sequential stream's single bursts anyway. Elsewhere a transaction's bursts are
      // separate requests that only arrive together: 1.0000 (LPDDR5 reads 0.99994).
      const double ratio = static_cast<double>(t8) / static_cast<double>(t1);
      INFO("single " << t1 << " cycles, trains " << t8 << " cycles");
      CHECK(ratio > 0.97);
      CHECK(ratio < 1.03);
    }
  }
}

TEST_CASE("trains keep the incremental plan equal to a full re-plan (self-check)",
          "[dram][transaction][determinism]") {
  std::vector<DramConfig> configs;
  for (const auto& name : kPresets) configs.push_back(load_dram_preset_or_file(name));
  DramConfig ddr4 = load_dram_preset_or_file("ddr4-3200");  // trains with bank groups, ranks
  ddr4.timing.tCCD_L = ddr4.timing.tBL;
  ddr4.org.ranks = 2;
  configs.push_back(ddr4);
  for (const DramConfig& base : configs) {
    for (const char* rows : {"open", "closed"}) {
      INFO(base.name << " " << rows);
      DramConfig c = base;
      c.controller.row_policy = rows;
      MemorySystem ms(c);
      ms.set_self_check(true);  // throws std::logic_error on any difference
      std::uint64_t x = 99, done_bursts = 0;
      ms.set_completion_callback([&](const Request& r, std::uint64_t) { done_bursts += r.bursts; });
      const std::uint64_t burst = c.org.burst_bytes();
      const std::uint64_t space = c.org.capacity_bytes() / 4096;
      std::uint64_t sent_bursts = 0;
      for (int i = 0; i < 600; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const std::uint32_t len = static_cast<std::uint32_t>(burst * (1 + x % 8));
        const std::uint64_t page = (x >> 8) % space;
        const std::uint64_t offset = ((x >> 40) % (4096 / burst)) * burst;
        const std::uint64_t addr = page * 4096 + std::min<std::uint64_t>(offset, 4096 - len);
        const bool write = (x >> 20) % 3 == 0;
        Request r;
        r.addr = addr;
        r.is_write = write;
        r.id = static_cast<std::uint64_t>(i);
        while (!ms.can_accept_transaction(addr, len, write)) ms.step();
        REQUIRE_NOTHROW(ms.send_transaction(r, len));
        sent_bursts += len / burst;
        ms.tick_until(ms.now() + (x >> 50) % 8);
      }
      REQUIRE_NOTHROW(ms.run_until_idle());
      CHECK(done_bursts == sent_bursts);
      const MemoryStats s = ms.stats();
      CHECK(s.total.reads + s.total.writes == sent_bursts);
      CHECK(s.total.row_hits + s.total.row_misses + s.total.row_conflicts == sent_bursts);
    }
  }
}

TEST_CASE("misused transactions are refused with a clear error", "[dram][transaction][errors]") {
  MemorySystem ms(load_dram_preset_or_file("lpddr4x-4266"));
  Request r;
  r.addr = 16;  // not burst-aligned
  CHECK_THROWS_WITH(ms.send_transaction(r, 64), Catch::Contains("not whole bursts inside one 4 KiB page"));
  r.addr = 0;
  CHECK_THROWS_AS(ms.send_transaction(r, 48), std::invalid_argument);    // not whole bursts
  CHECK_THROWS_AS(ms.send_transaction(r, 8192), std::invalid_argument);  // over 4 KiB
  r.addr = 4096 - 64;
  CHECK_THROWS_AS(ms.send_transaction(r, 128), std::invalid_argument);  // crosses a page
  CHECK_THROWS_AS(ms.can_accept_transaction(0, 0, false), std::invalid_argument);
  Request two;
  two.bursts = 2;  // only send_transaction makes trains: it knows where they fall
  CHECK_THROWS_WITH(ms.send(two), Catch::Contains("use send_transaction"));
  CHECK(ms.idle());
}
