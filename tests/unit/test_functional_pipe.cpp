// Question answered: does the device's functional worker (FunctionalPipe) apply effects
// exactly as the one-thread device does: in posting order, all of them before drain()
// or wait() returns, nothing after a failure, and the failure reported once with the
// command that caused it?
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <vector>

#include "functional_pipe.hpp"  // sim/npu/src (private to the device)
#include "tessel/sim/npu/functional.hpp"
#include "tessel/sim/npu/memory.hpp"

using namespace tessel::sim::npu;

namespace {

constexpr size_t kSram = 8192;
constexpr uint64_t kMem = 1 << 20;

// Device memory, SRAM and a pipe over them; the same random program for every instance.
struct Rig {
  PhysicalMemory mem{kMem};
  std::vector<uint8_t> sram = std::vector<uint8_t>(kSram, 0);
  FunctionalUnit unit;
  FunctionalPipe pipe;
  explicit Rig(bool async) : pipe(async, mem, sram.data(), sram.size()) {
    std::vector<uint8_t> init(kMem);
    std::mt19937 rng(7);
    for (auto& b : init) b = static_cast<uint8_t>(rng());
    mem.write(0, init.data(), init.size());
  }
  std::vector<uint8_t> memory_bytes() {
    std::vector<uint8_t> out(kMem);
    mem.read(0, out.data(), out.size());
    return out;
  }
};

// DMA loads and stores over overlapping regions, and LUTs reading what loads brought in
// and writing what stores take out: any reordering changes the final bytes.
void run_program(Rig& r, uint32_t seed) {
  std::mt19937 rng(seed);
  const auto pick = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
  for (int i = 0; i < 400; ++i) {
    const uint32_t what = pick(3);
    if (what < 2) {
      std::vector<FunctionalPipe::Copy> copies;
      for (uint32_t k = 0, n = 1 + pick(4); k < n; ++k) {
        const uint32_t len = 1 + pick(512);
        copies.push_back({pick(64 * 1024), pick(kSram - len), len});
      }
      r.pipe.dma(what == 0, std::move(copies));
    } else {
      tessel::isa::Lut lut;
      lut.count = 1 + pick(1024);
      lut.in_addr = pick(kSram - lut.count);
      lut.out_addr = pick(kSram - lut.count);
      lut.table_addr = pick(kSram - 256);
      r.pipe.compute(r.unit, lut, 2, 4 * static_cast<uint32_t>(i));
    }
  }
}

}  // namespace

TEST_CASE("the worker applies effects in posting order: the same bytes as one thread", "[pipe]") {
  for (uint32_t seed : {1u, 2u, 3u}) {
    INFO("seed " << seed);
    Rig one(false), two(true);
    run_program(one, seed);
    run_program(two, seed);
    REQUIRE(two.pipe.drain().ok);
    CHECK(two.pipe.applied() == 400);
    CHECK(two.pipe.idle());
    CHECK(one.sram == two.sram);
    CHECK(one.memory_bytes() == two.memory_bytes());
  }
}

TEST_CASE("wait() and drain() return only when every posted effect is applied", "[pipe]") {
  Rig r(true);
  // Two passes of 4-byte loads over the whole SRAM: the second must win everywhere.
  for (uint32_t i = 0; i < 2 * kSram / 4; ++i)
    r.pipe.dma(true, {{uint64_t{i} * 4, static_cast<uint32_t>((i * 4) % kSram), 4}});
  r.pipe.wait();
  CHECK(r.pipe.applied() == 2 * kSram / 4);
  std::vector<uint8_t> want(kSram);
  r.mem.read(kSram, want.data(), kSram);  // what the second pass loaded
  CHECK(r.sram == want);
}

TEST_CASE("a failing command: nothing after it is applied, drain() reports it once", "[pipe]") {
  SECTION("on the worker") {
    Rig r(true);
    const std::vector<uint8_t> before = r.memory_bytes();
    tessel::isa::Lut bad;
    bad.count = kSram;  // in_addr + count past the SRAM
    bad.in_addr = 16;
    bad.table_addr = 0;
    r.pipe.compute(r.unit, bad, 3, 40);
    r.pipe.dma(false, {{0, 0, 64}});  // would overwrite memory if applied
    r.pipe.wait();                    // waits, keeps the failure for drain()
    const FunctionalPipe::Failure f = r.pipe.drain();
    CHECK_FALSE(f.ok);
    CHECK(f.engine == 3);
    CHECK(f.offset == 40);
    CHECK(f.what.find("LUT") != std::string::npos);
    CHECK(r.memory_bytes() == before);
    CHECK(r.pipe.drain().ok);  // reported once
    // The pipe works again afterwards.
    r.pipe.dma(false, {{0, 0, 64}});
    REQUIRE(r.pipe.drain().ok);
    std::vector<uint8_t> head(64);
    r.mem.read(0, head.data(), head.size());
    CHECK(head == std::vector<uint8_t>(r.sram.begin(), r.sram.begin() + 64));
  }
  SECTION("on the caller's thread, the error is thrown at once") {
    Rig r(false);
    tessel::isa::Lut bad;
    bad.count = kSram;
    bad.in_addr = 16;
    CHECK_THROWS_AS(r.pipe.compute(r.unit, bad, 3, 40), OperandError);
    CHECK(r.pipe.drain().ok);
  }
}
