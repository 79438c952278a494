// The device's event loop steps the DRAM model ahead of its own clock while its DMA
// engines can only wait for completions (Device::next_event / next_completion). That
// look-ahead must never be visible: a job must take the same cycles and produce the same
// counters and DRAM statistics whether the host runs the device to idle in one call or in
// slices of any length (run_until stops at a limit the look-ahead must not cross: a
// request sent after the limit would otherwise be stamped with a later DRAM cycle).
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "tessel/sim/npu/config.hpp"
#include "tessel/sim/npu/device.hpp"
#include "tessel/sim/npu/simple_host.hpp"
#include "tessel_isa_commands.hpp"
#include "tessel_npu_isa.h"

using namespace tessel;
using namespace tessel::sim::npu;

namespace {

std::vector<uint32_t> encode(const std::vector<isa::Command>& cmds) {
  std::vector<uint32_t> w;
  for (const auto& c : cmds) isa::encode(c, w);
  return w;
}

template <class T>
T dma(uint32_t dram, uint32_t sram, uint32_t len0, uint32_t n1, uint32_t dram_stride1,
      uint32_t sram_stride1) {
  T d;
  d.dram_addr = dram;
  d.sram_addr = sram;
  d.len0 = len0;
  d.n1 = n1;
  d.n2 = d.n3 = 1;
  d.dram_stride1 = dram_stride1;
  d.sram_stride1 = sram_stride1;
  return d;
}

struct Outcome {
  uint64_t job_cycles = 0;
  Counters counters{};
  std::string dram;  // the DRAM statistics of stats_json()
};

// Two jobs that keep both DMA engines busy at once: long streams (the engines sit at
// their outstanding limit), strided rows that all fall into one DRAM channel (its queue
// fills up: the engines wait for queue space), page-crossing rows (MMU walks delay
// bursts), and a store that follows a load through semaphores. `slice` = 0 runs the jobs
// to idle in one call; otherwise in run_until() steps of `slice` cycles.
Outcome run_jobs(const NpuConfig& cfg, uint64_t slice) {
  Device dev(cfg);
  SimpleHost host(dev);
  const uint32_t big = 192 * 1024;
  const uint32_t a = host.map(big), b = host.map(big), c = host.map(1 << 20);
  std::vector<uint8_t> bytes(big);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7 + 3);
  host.write(a, bytes.data(), bytes.size());
  const std::vector<std::vector<uint32_t>> jobs = {
      encode({dma<isa::DmaLoad>(a, 0, big, 1, 0, 0),
              dma<isa::DmaStore>(b, 0x40000, big, 1, 0, 0), isa::End{}}),
      encode({dma<isa::DmaLoad>(a, 0, 32, 2048, 64, 32),       // one channel, one row each
              dma<isa::DmaStore>(c, 0x20000, 32, 2048, 64, 32),
              dma<isa::DmaLoad>(c + 4000, 0x40000, 200, 300, 3000, 256),  // pages crossed
              isa::SemSignal{0, 0, 0}, isa::SemWait{1, 0, 0},
              dma<isa::DmaStore>(b + 96, 0x40000, 200, 300, 512, 256), isa::End{}}),
  };
  // Both jobs in the ring at once: the second starts when the first ends, so no idle time
  // (which run_until slices would add) separates them.
  for (const auto& words : jobs) host.submit(words);
  if (slice == 0) {
    dev.run_until_idle();
  } else {
    for (int guard = 0; dev.busy() && guard < 10000000; ++guard) dev.run_until(dev.now() + slice);
  }
  REQUIRE_FALSE(dev.busy());
  REQUIRE(dev.read_reg(TESSEL_REG_ERROR_STATUS) == 0);
  REQUIRE(dev.read_reg(TESSEL_REG_DONE_JOB_ID) == 2);
  Outcome o;
  o.counters = dev.counters();
  o.job_cycles = o.counters[static_cast<size_t>(isa::Perf::kCycles)];
  o.dram = dev.stats_json()["dram"].dump();
  return o;
}

void check_slices(const NpuConfig& cfg) {
  const Outcome whole = run_jobs(cfg, 0);
  REQUIRE(whole.job_cycles > 0);
  REQUIRE(whole.counters[static_cast<size_t>(isa::Perf::kDramReadBytes)] > 0);
  REQUIRE(whole.counters[static_cast<size_t>(isa::Perf::kDramWriteBytes)] > 0);
  for (uint64_t slice : {1, 7, 64, 1000, 25000}) {
    INFO("slice " << slice);
    const Outcome s = run_jobs(cfg, slice);
    CHECK(s.job_cycles == whole.job_cycles);
    CHECK(s.counters == whole.counters);
    CHECK(s.dram == whole.dram);
  }
}

}  // namespace

TEST_CASE("DRAM look-ahead: the same cycles and counters in any run_until slicing",
          "[npu][timing]") {
  check_slices(load_npu_preset_or_file("default"));
}

TEST_CASE("DRAM look-ahead: unchanged with queues that fill up before the outstanding limit",
          "[npu][timing]") {
  NpuConfig cfg = load_npu_preset_or_file("default");
  cfg.dram.controller.read_queue_depth = 4;
  cfg.dram.controller.write_queue_depth = 4;
  cfg.dram.controller.write_high_watermark = 3;
  cfg.dram.controller.write_low_watermark = 1;
  check_slices(cfg);
}
