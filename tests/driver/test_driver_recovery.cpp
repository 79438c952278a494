// Failure and recovery in the driver (driver/core/tsl_drv.c) on the simulated device:
// hangs caught by the timeout and followed by a reset, DMA errors, commands corrupted
// after validation (invalid opcodes, addresses redirected at another context's buffer),
// isolation between contexts, in-fences and cancellation, closing a file with work
// pending. Faults are injected through SimNpu (inject_hang, inject_dma_error,
// corrupt_next_job). Every check is on device state or device time, never on host time.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "driver_test_util.hpp"

using tessel::driver::SimNpu;
namespace isa = tessel::isa;
using namespace tessel::test;  // Bo, File, encode, load, store, copy_job, ...

namespace {

void fill(const Bo& b, uint32_t seed) {
  for (uint64_t i = 0; i < b.size; ++i) b.host[i] = static_cast<uint8_t>((i * 131 + seed * 29 + (i >> 8)) ^ seed);
}

// A job that never finishes on its own (its DMA_IN hangs and its timeout is far beyond
// any test) until its file is closed: it holds the device so that jobs submitted after it
// stay queued.
uint64_t hold_device(SimNpu& npu, File& f, const Bo& buf) {
  npu.inject_hang(isa::Engine::kDmaIn);
  return f.run(encode({load(buf.va, 0, 64), isa::End{}}), {buf.handle}, {}, 1ull << 62);
}

// A job whose first part takes long to simulate (a 16 MiB load, in 256 rows of 64 KiB
// landing on the same SRAM bytes), then a FENCE, so that whatever follows the FENCE is
// reached only after the load has finished. `tail` is appended after the FENCE; the
// offset of its first command is kSlowTailOffset.
std::vector<uint32_t> slow_job(const Bo& big, const std::vector<isa::Command>& tail) {
  isa::DmaLoad ld = load(big.va, 0, 64 * 1024);
  ld.n1 = static_cast<uint16_t>(big.size / (64 * 1024));
  ld.dram_stride1 = 64 * 1024;
  ld.sram_stride1 = 0;
  std::vector<isa::Command> cmds = {ld, isa::Fence{}};
  cmds.insert(cmds.end(), tail.begin(), tail.end());
  return encode(cmds);
}
constexpr uint32_t kSlowTailOffset = 48 + 12;
constexpr uint64_t kSlowBytes = 16u << 20;

bool log_has(SimNpu& npu, const std::string& what) {
  for (const std::string& line : npu.log()) {
    if (line.find(what) != std::string::npos) return true;
  }
  return false;
}

constexpr uint64_t kShortTimeoutNs = 1'000'000;  // 1 ms of device time

}  // namespace

// ============================================================================ timeouts

TEST_CASE("a CONV that hangs on the MAC times out; after the reset the same job computes") {
  SimNpu npu(tessel::sim::npu::load_npu_preset_or_file("default"));
  File f(npu);
  // One 1x1 convolution of 4 int8 channels: in {10, -3, 7, 20}, weights {1, 2, 3, -1},
  // bias 100, requantization by 1 (multiplier 2^30, shift 1): out = 100 + 5 = 105.
  const Bo in = f.bo(4096), out = f.bo(4096);
  const int8_t x[4] = {10, -3, 7, 20}, w[4] = {1, 2, 3, -1};
  const int32_t qp[3] = {100, 1 << 30, 1};
  std::memcpy(in.host, x, 4);
  std::memcpy(in.host + 64, w, 4);
  std::memcpy(in.host + 128, qp, sizeof qp);
  isa::Conv conv;
  conv.in_signed = conv.w_signed = conv.out_signed = 1;
  conv.depth_multiplier = 1;
  conv.in_addr = 0;
  conv.in_h = conv.in_w = 1;
  conv.in_c = conv.in_pixel_stride = 4;
  conv.out_h = conv.out_w = 1;
  conv.out_c = conv.out_pixel_stride = 1;
  conv.kernel_h = conv.kernel_w = conv.stride_h = conv.stride_w = 1;
  conv.dilation_h = conv.dilation_w = 1;
  conv.w_addr = 64;
  conv.qp_addr = 128;
  conv.out_addr = 256;
  conv.act_min = -128;
  conv.act_max = 127;
  const std::vector<uint32_t> job =
      encode({load(in.va, 0, 256), signal(isa::Engine::kDmaIn, 0), wait_on(isa::Engine::kMac, 0),
              conv, signal(isa::Engine::kMac, 1), wait_on(isa::Engine::kDmaOut, 1),
              store(out.va, 256, 4), isa::End{}});
  const std::vector<uint32_t> bos = {in.handle, out.handle};

  npu.inject_hang(isa::Engine::kMac);
  const uint64_t hung = f.run(job, bos, {}, kShortTimeoutNs);
  CHECK(f.wait(hung) == TESSEL_JOB_TIMEOUT);
  const tessel_job_status_args js = f.status(hung);
  CHECK(js.status == TESSEL_JOB_TIMEOUT);
  CHECK(js.end_ns - js.start_ns > kShortTimeoutNs);  // device time: the watchdog's rule
  CHECK(js.error_code == 0);                         // the device itself saw no error
  CHECK(out.all(0));                                 // the store never ran
  CHECK(log_has(npu, "timed out"));

  const uint64_t next = f.run(job, bos);
  CHECK(f.wait(next) == TESSEL_JOB_DONE);
  CHECK(static_cast<int8_t>(out.host[0]) == 105);
  CHECK(f.status(next).start_ns >= js.end_ns);
}

TEST_CASE("a DMA_IN that hangs times out; the next copy is complete and correct") {
  SimNpu npu(tessel::sim::npu::load_npu_preset_or_file("default"));
  File f(npu);
  const Bo src = f.bo(16384), dst = f.bo(16384);
  fill(src, 7);
  const std::vector<uint32_t> bos = {src.handle, dst.handle};
  npu.inject_hang(isa::Engine::kDmaIn);
  const uint64_t hung = f.run(copy_job(src.va, dst.va, 16384), bos, {}, kShortTimeoutNs);
  CHECK(f.wait(hung) == TESSEL_JOB_TIMEOUT);
  CHECK(dst.all(0));
  // Twice: the reset must have left the ring, interrupts and semaphores usable.
  for (int i = 0; i < 2; ++i) {
    std::memset(dst.host, 0, dst.size);
    const uint64_t fence = f.run(copy_job(src.va, dst.va, 16384), bos);
    CHECK(f.wait(fence) == TESSEL_JOB_DONE);
    CHECK(std::memcmp(src.host, dst.host, 16384) == 0);
  }
  // The failed job's record is unchanged by the jobs after it.
  CHECK(f.status(hung).status == TESSEL_JOB_TIMEOUT);
}

// ============================================================================ DMA errors

TEST_CASE("an injected DMA error is reported with its address and offset") {
  SimNpu npu(tessel::sim::npu::load_npu_preset_or_file("default"));
  File f(npu);
  const Bo src = f.bo(8192), dst = f.bo(8192);
  fill(src, 3);
  const std::vector<uint32_t> bos = {src.handle, dst.handle};

  SECTION("on DMA_IN: the load's address, no byte moved") {
    npu.inject_dma_error(isa::Engine::kDmaIn);
    // A NOP first, so that the failing command's offset is not 0.
    const uint64_t fence =
        f.run(encode({isa::Nop{}, load(src.va + 512, 0, 1024), signal(isa::Engine::kDmaIn, 0),
                      wait_on(isa::Engine::kDmaOut, 0), store(dst.va, 0, 1024), isa::End{}}),
              bos);
    CHECK(f.wait(fence) == TESSEL_JOB_DMA_ERROR);
    const tessel_job_status_args js = f.status(fence);
    CHECK(js.fault_addr == src.va + 512);
    CHECK(js.error_offset == 4);
    CHECK(js.error_code == TESSEL_ERROR_CODE_DMA_ERROR);
    CHECK(js.error_engine == TESSEL_ENGINE_DMA_IN);
    CHECK(dst.all(0));
  }
  SECTION("on DMA_OUT: the store's address") {
    npu.inject_dma_error(isa::Engine::kDmaOut);
    const uint64_t fence = f.run(copy_job(src.va, dst.va + 4096, 256), bos);
    CHECK(f.wait(fence) == TESSEL_JOB_DMA_ERROR);
    const tessel_job_status_args js = f.status(fence);
    CHECK(js.fault_addr == dst.va + 4096);
    CHECK(js.error_offset == kStoreOffset);
    CHECK(js.error_code == TESSEL_ERROR_CODE_DMA_ERROR);
    CHECK(js.error_engine == TESSEL_ENGINE_DMA_OUT);
    CHECK(dst.all(0));
  }
  // Either way the device was reset and works.
  const uint64_t fence = f.run(copy_job(src.va, dst.va, 8192), bos);
  CHECK(f.wait(fence) == TESSEL_JOB_DONE);
  CHECK(std::memcmp(src.host, dst.host, 8192) == 0);
}

TEST_CASE("a DMA error in one context: another context's job queued behind it completes") {
  SimNpu npu(tessel::sim::npu::load_npu_preset_or_file("default"));
  File a(npu), b(npu);
  const Bo big = a.bo(kSlowBytes), a_dst = a.bo(4096);
  const Bo b_src = b.bo(8192), b_dst = b.bo(8192);
  fill(b_src, 11);
  fill(big, 5);

  // A's store fails; it comes after the slow load, so B's job (submitted right after A's)
  // is queued while A still runs, as the premise below checks. The load lasts about 1 ms
  // of device time, ten of the simulator's 100 us slices; B's SUBMIT waits for the device
  // at most once, for the end of the current slice (its command BO is made beforehand:
  // creating and mapping it would wait more). (A holder job cannot order these jobs as in
  // the tests below: closing it resets the device, which clears the injected error.)
  b.cmd_bo();
  npu.inject_dma_error(isa::Engine::kDmaOut);
  const uint64_t fa = a.run(slow_job(big, {store(a_dst.va + 256, 0, 64), isa::End{}}),
                            {big.handle, a_dst.handle});
  const uint64_t fb = b.run(copy_job(b_src.va, b_dst.va, 8192), {b_src.handle, b_dst.handle});
  REQUIRE(a.status(fa).status == TESSEL_JOB_RUNNING);  // the premise: B really waits for A
  CHECK(b.status(fb).status == TESSEL_JOB_QUEUED);

  CHECK(a.wait(fa) == TESSEL_JOB_DMA_ERROR);
  const tessel_job_status_args ja = a.status(fa);
  CHECK(ja.fault_addr == a_dst.va + 256);
  CHECK(ja.error_offset == kSlowTailOffset);
  CHECK(a_dst.all(0));
  CHECK(b.wait(fb) == TESSEL_JOB_DONE);
  CHECK(b.status(fb).start_ns >= ja.end_ns);
  CHECK(std::memcmp(b_src.host, b_dst.host, 8192) == 0);
}

// ============================================================================ corruption

TEST_CASE("an opcode corrupted after validation is an invalid command at its offset") {
  SimNpu npu(tessel::sim::npu::load_npu_preset_or_file("default"));
  File a(npu), b(npu), holder(npu);
  const Bo a_src = a.bo(8192), a_dst = a.bo(8192);
  const Bo b_src = b.bo(8192), b_dst = b.bo(8192), scratch = holder.bo(4096);
  fill(a_src, 1);
  fill(b_src, 2);
  const std::vector<uint32_t> a_bos = {a_src.handle, a_dst.handle};
  // Both jobs queue behind the holder; A's starts first when the holder is closed, and
  // the corruption hits the next job started (A's), after validation accepted it.
  hold_device(npu, holder, scratch);
  const uint64_t fa = a.run(copy_job(a_src.va, a_dst.va, 8192), a_bos);
  const uint64_t fb = b.run(copy_job(b_src.va, b_dst.va, 8192), {b_src.handle, b_dst.handle});
  npu.corrupt_next_job(kStoreOffset, 0x7Du);  // DMA_STORE 0x02 -> 0x7F
  holder.close();

  CHECK(a.wait(fa) == TESSEL_JOB_INVALID_COMMAND);
  const tessel_job_status_args ja = a.status(fa);
  CHECK(ja.error_code == TESSEL_ERROR_CODE_BAD_OPCODE);
  CHECK(ja.error_offset == kStoreOffset);
  CHECK(a_dst.all(0));
  CHECK(b.wait(fb) == TESSEL_JOB_DONE);
  CHECK(b.status(fb).start_ns >= ja.end_ns);
  CHECK(std::memcmp(b_src.host, b_dst.host, 8192) == 0);
  // And A's context still works: the same job, uncorrupted, runs.
  const uint64_t again = a.run(copy_job(a_src.va, a_dst.va, 8192), a_bos);
  CHECK(a.wait(again) == TESSEL_JOB_DONE);
  CHECK(std::memcmp(a_src.host, a_dst.host, 8192) == 0);
}

TEST_CASE("contexts are isolated: refused by validation, and a corrupted address faults") {
  SimNpu npu(tessel::sim::npu::load_npu_preset_or_file("default"));
  File a(npu), b(npu), holder(npu);
  // B's secret at an address A has nothing at; and one address both use, with different
  // contents (each context has its own address space).
  const Bo secret = b.bo(4096, false, 0x40000000);
  const Bo b_same = b.bo(4096, false, 0x50000000), b_dst = b.bo(4096);
  const Bo a_same = a.bo(4096, false, 0x50000000);
  const Bo src = a.bo(4096), dst = a.bo(4096), scratch = holder.bo(4096);
  fill(secret, 99);
  fill(b_same, 98);
  fill(a_same, 1);
  fill(src, 2);
  const std::vector<uint8_t> secret_copy(secret.host, secret.host + secret.size);
  const std::vector<uint32_t> bos = {src.handle, dst.handle, a_same.handle};

  // A's job corrupted after validation (`offset`, `mask`) must fault at B's address
  // without touching anything; B's job, queued behind it, must run normally.
  const auto redirected = [&](uint32_t offset, uint32_t mask) {
    hold_device(npu, holder, scratch);
    const uint64_t fa = a.run(copy_job(src.va, dst.va, 4096), bos);
    const uint64_t fb = b.run(copy_job(secret.va, b_dst.va, 4096), {secret.handle, b_dst.handle});
    npu.corrupt_next_job(offset, mask);  // hits A's job: the next one to start
    holder.close();
    CHECK(a.wait(fa) == TESSEL_JOB_MMU_FAULT);
    const tessel_job_status_args js = a.status(fa);
    CHECK(js.fault_addr == secret.va);
    CHECK(js.error_offset == offset - 4);  // the DMA command whose address word it is
    CHECK(js.error_code == TESSEL_ERROR_CODE_MMU_FAULT);
    CHECK(dst.all(0));  // nothing of B's (or of A's own) reached A's destination
    CHECK(b.wait(fb) == TESSEL_JOB_DONE);
    CHECK(std::equal(secret_copy.begin(), secret_copy.end(), b_dst.host));
  };

  SECTION("validation refuses a DMA at B's address: A cannot list B's BO") {
    tessel_submit s{};
    CHECK(a.submit(copy_job(secret.va, dst.va, 64), bos, &s) == -EACCES);
    CHECK(s.error_reason == TESSEL_SUBMIT_OUT_OF_BOUNDS);
    CHECK(s.error_offset == kLoadOffset);
    CHECK(a.submit(copy_job(src.va, secret.va, 64), bos, &s) == -EACCES);
    CHECK(s.error_reason == TESSEL_SUBMIT_OUT_OF_BOUNDS);
    CHECK(s.error_offset == kStoreOffset);
  }
  SECTION("a load redirected at B's address after validation faults; nothing leaks") {
    redirected(kLoadOffset + 4, src.va ^ secret.va);  // DMA_LOAD's dram_addr word
  }
  SECTION("a store redirected at B's address after validation faults; B's data intact") {
    redirected(kStoreOffset + 4, dst.va ^ secret.va);  // DMA_STORE's dram_addr word
  }
  SECTION("the same address in two contexts is two buffers") {
    const uint64_t fence = a.run(copy_job(a_same.va, dst.va, 4096), bos);
    CHECK(a.wait(fence) == TESSEL_JOB_DONE);
    CHECK(std::memcmp(dst.host, a_same.host, 4096) == 0);
    CHECK(std::memcmp(dst.host, b_same.host, 4096) != 0);
  }
  // In every case B's buffer is unchanged.
  CHECK(std::equal(secret_copy.begin(), secret_copy.end(), secret.host));
}

TEST_CASE("a destroyed BO's address faults even though the TLB had it") {
  SimNpu npu(tessel::sim::npu::load_npu_preset_or_file("default"));
  File a(npu), b(npu);
  const Bo src = a.bo(4096), dst = a.bo(4096);
  Bo gone = a.bo(4096);
  fill(gone, 3);
  const std::vector<uint32_t> bos = {src.handle, dst.handle};
  // A job reads `gone`: its translation is now in the device's TLB.
  uint64_t fence = a.run(copy_job(gone.va, dst.va, 4096), {gone.handle, dst.handle});
  REQUIRE(a.wait(fence) == TESSEL_JOB_DONE);
  const uint32_t gone_va = gone.va;
  tessel_bo_destroy d{};
  d.handle = gone.handle;
  REQUIRE(a.ioctl(TESSEL_IOCTL_BO_DESTROY, &d) == 0);
  // Its pages go to B (first fit reuses them) with B's data.
  const Bo b_secret = b.bo(4096);
  fill(b_secret, 77);
  std::memset(dst.host, 0, dst.size);
  // A's next job, corrupted to read the old address: a fault, not B's bytes.
  npu.corrupt_next_job(kLoadOffset + 4, src.va ^ gone_va);
  fence = a.run(copy_job(src.va, dst.va, 4096), bos);
  CHECK(a.wait(fence) == TESSEL_JOB_MMU_FAULT);
  CHECK(a.status(fence).fault_addr == gone_va);
  CHECK(dst.all(0));
}

TEST_CASE("the device can write neither a read-only BO nor the job's command copy") {
  SimNpu npu(tessel::sim::npu::load_npu_preset_or_file("default"));
  File a(npu);
  const Bo src = a.bo(4096), dst = a.bo(4096), ro = a.bo(4096, true);
  fill(src, 5);
  fill(ro, 6);
  const std::vector<uint8_t> ro_copy(ro.host, ro.host + ro.size);
  const std::vector<uint32_t> bos = {src.handle, dst.handle, ro.handle};
  // Validation refuses a store into `ro`; after validation, the MMU does.
  for (const uint32_t target : {ro.va, uint32_t{TESSEL_VA_RESERVED}}) {
    INFO("store redirected to " << target);
    npu.corrupt_next_job(kStoreOffset + 4, dst.va ^ target);
    const uint64_t fence = a.run(copy_job(src.va, dst.va, 64), bos);
    CHECK(a.wait(fence) == TESSEL_JOB_MMU_FAULT);
    const tessel_job_status_args js = a.status(fence);
    CHECK(js.fault_addr == target);
    CHECK(js.error_offset == kStoreOffset);
  }
  CHECK(std::equal(ro_copy.begin(), ro_copy.end(), ro.host));
  // The same job uncorrupted runs (and reading `ro` is allowed).
  const uint64_t fence = a.run(copy_job(ro.va, dst.va, 64), bos);
  CHECK(a.wait(fence) == TESSEL_JOB_DONE);
  CHECK(std::memcmp(dst.host, ro.host, 64) == 0);
}

TEST_CASE("a new buffer never shows a closed context's data") {
  SimNpu npu(tessel::sim::npu::load_npu_preset_or_file("default"));
  File a(npu);
  {
    File b(npu);
    for (int i = 0; i < 8; ++i) fill(b.bo(64 * 1024), 0xA5);
  }  // closed: its pages are free
  for (int i = 0; i < 8; ++i) CHECK(a.bo(64 * 1024).all(0));
}

// ============================================================================ fences

TEST_CASE("in-fences order jobs, also across contexts") {
  SimNpu npu(tessel::sim::npu::load_npu_preset_or_file("default"));
  File a(npu), b(npu);
  const Bo src = a.bo(8192), mid = a.bo(8192), dst = a.bo(8192);
  const Bo b_src = b.bo(8192), b_dst = b.bo(8192);
  fill(src, 4);
  fill(b_src, 8);
  const std::vector<uint32_t> bos = {src.handle, mid.handle, dst.handle};
  // dst = mid = src, each step reading what the previous one wrote.
  const uint64_t f1 = a.run(copy_job(src.va, mid.va, 8192), bos);
  const uint64_t f2 = a.run(copy_job(mid.va, dst.va, 8192), bos, {f1});
  const uint64_t f3 = b.run(copy_job(b_src.va, b_dst.va, 8192), {b_src.handle, b_dst.handle},
                            {f2, f1});
  CHECK(b.wait(f3) == TESSEL_JOB_DONE);
  CHECK(a.wait(f2) == TESSEL_JOB_DONE);
  CHECK(a.wait(f1) == TESSEL_JOB_DONE);
  CHECK(std::memcmp(src.host, dst.host, 8192) == 0);
  CHECK(std::memcmp(b_src.host, b_dst.host, 8192) == 0);
  // Device time: each started after its in-fences finished.
  CHECK(a.status(f2).start_ns >= a.status(f1).end_ns);
  CHECK(b.status(f3).start_ns >= a.status(f2).end_ns);
}

TEST_CASE("a job whose in-fence failed is cancelled, and so are its dependents") {
  SimNpu npu(tessel::sim::npu::load_npu_preset_or_file("default"));
  File a(npu), b(npu);
  const Bo src = a.bo(4096), dst = a.bo(4096), b_src = b.bo(4096), b_dst = b.bo(4096);
  fill(src, 1);
  fill(b_src, 2);
  const std::vector<uint32_t> bos = {src.handle, dst.handle};
  const std::vector<uint32_t> b_bos = {b_src.handle, b_dst.handle};

  SECTION("after a timeout") {
    npu.inject_hang(isa::Engine::kDmaIn);
    const uint64_t bad = a.run(copy_job(src.va, dst.va, 4096), bos, {}, kShortTimeoutNs);
    const uint64_t d1 = a.run(copy_job(src.va, dst.va, 4096), bos, {bad});
    const uint64_t d2 = b.run(copy_job(b_src.va, b_dst.va, 4096), b_bos, {d1});
    const uint64_t independent = b.run(copy_job(b_src.va, b_dst.va, 64), b_bos);
    CHECK(a.wait(bad) == TESSEL_JOB_TIMEOUT);
    CHECK(a.wait(d1) == TESSEL_JOB_CANCELLED);
    CHECK(b.wait(d2) == TESSEL_JOB_CANCELLED);
    CHECK(b.wait(independent) == TESSEL_JOB_DONE);
    CHECK(a.status(d1).start_ns == 0);  // never ran
    CHECK(b.status(d2).start_ns == 0);
    CHECK(dst.all(0));
    CHECK(std::memcmp(b_dst.host, b_src.host, 64) == 0);
    CHECK(std::all_of(b_dst.host + 64, b_dst.host + 4096, [](uint8_t v) { return v == 0; }));
    // A cancelled job has finished: PERF answers (all zero: it never ran).
    uint64_t values[TESSEL_PERF_COUNT];
    std::fill(values, values + TESSEL_PERF_COUNT, 1);
    tessel_perf p{};
    p.fence = d1;
    p.values = reinterpret_cast<uintptr_t>(values);
    p.count = TESSEL_PERF_COUNT;
    CHECK(a.ioctl(TESSEL_IOCTL_PERF, &p) == 0);
    CHECK(std::all_of(values, values + TESSEL_PERF_COUNT, [](uint64_t v) { return v == 0; }));
  }
  SECTION("after a DMA error, an invalid command and an MMU fault") {
    npu.inject_dma_error(isa::Engine::kDmaIn);
    const uint64_t dma = a.run(copy_job(src.va, dst.va, 4096), bos);
    CHECK(a.wait(dma) == TESSEL_JOB_DMA_ERROR);
    npu.corrupt_next_job(kStoreOffset, 0x7Du);
    const uint64_t inval = a.run(copy_job(src.va, dst.va, 4096), bos);
    CHECK(a.wait(inval) == TESSEL_JOB_INVALID_COMMAND);
    npu.corrupt_next_job(kLoadOffset + 4, 0x10000000u);
    const uint64_t mmu = a.run(copy_job(src.va, dst.va, 4096), bos);
    CHECK(a.wait(mmu) == TESSEL_JOB_MMU_FAULT);
    for (const uint64_t failed : {dma, inval, mmu}) {
      const uint64_t dep = b.run(copy_job(b_src.va, b_dst.va, 4096), b_bos, {failed});
      CHECK(b.wait(dep) == TESSEL_JOB_CANCELLED);
    }
    CHECK(b_dst.all(0));
    // A dependency on a successful job, next to a failed one, still cancels; alone, runs.
    const uint64_t ok = a.run(copy_job(src.va, dst.va, 4096), bos);
    const uint64_t mixed = b.run(copy_job(b_src.va, b_dst.va, 4096), b_bos, {ok, dma});
    const uint64_t good = b.run(copy_job(b_src.va, b_dst.va, 4096), b_bos, {ok});
    CHECK(b.wait(mixed) == TESSEL_JOB_CANCELLED);
    CHECK(b.wait(good) == TESSEL_JOB_DONE);
    CHECK(std::memcmp(b_dst.host, b_src.host, 4096) == 0);
  }
}

// ============================================================================ close, wait

TEST_CASE("closing a file cancels its queued jobs and stops its running one") {
  SimNpu npu(tessel::sim::npu::load_npu_preset_or_file("default"));
  File holder(npu), c(npu);
  const Bo scratch = holder.bo(4096);
  const Bo c_src = c.bo(4096), c_dst = c.bo(4096);
  fill(c_src, 6);
  const std::vector<uint32_t> c_bos = {c_src.handle, c_dst.handle};
  const uint64_t held = hold_device(npu, holder, scratch);
  const uint64_t on_holder = c.run(copy_job(c_src.va, c_dst.va, 4096), c_bos, {held});
  const uint64_t mem_before_b = c.param(TESSEL_PARAM_DEVICE_MEMORY);

  // B queues three jobs behind the holder; C depends on B's second one.
  auto b = std::make_unique<File>(npu);
  const Bo b_src = b->bo(8192), b_dst = b->bo(8192);
  std::vector<uint64_t> bf;
  for (int i = 0; i < 3; ++i) {
    bf.push_back(b->run(copy_job(b_src.va, b_dst.va, 8192), {b_src.handle, b_dst.handle}));
  }
  const uint64_t on_b = c.run(copy_job(c_src.va, c_dst.va, 4096), c_bos, {bf[1]});

  // Neither has finished: WAIT with timeout 0 polls.
  tessel_wait w{};
  w.fence = held;
  w.timeout_ns = 0;
  CHECK(holder.ioctl(TESSEL_IOCTL_WAIT, &w) == -ETIMEDOUT);
  CHECK(w.status == TESSEL_JOB_RUNNING);
  w.fence = on_b;
  CHECK(c.ioctl(TESSEL_IOCTL_WAIT, &w) == -ETIMEDOUT);
  CHECK(w.status == TESSEL_JOB_QUEUED);

  b->close();
  b.reset();
  CHECK(c.wait(on_b) == TESSEL_JOB_CANCELLED);  // its in-fence was cancelled by the close
  CHECK(c.status(on_holder).status == TESSEL_JOB_QUEUED);
  // B's buffers, page tables and command copies are all freed, and so is the command
  // copy of C's cancelled job (the only other allocation since the measurement).
  CHECK(c.param(TESSEL_PARAM_DEVICE_MEMORY) == mem_before_b);

  holder.close();  // stops the running job (device reset)
  CHECK(c.wait(on_holder) == TESSEL_JOB_CANCELLED);
  CHECK(c_dst.all(0));
  const uint64_t after = c.run(copy_job(c_src.va, c_dst.va, 4096), c_bos);
  CHECK(c.wait(after) == TESSEL_JOB_DONE);
  CHECK(std::memcmp(c_src.host, c_dst.host, 4096) == 0);
  CHECK(log_has(npu, "cancelled"));
}
