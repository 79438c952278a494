// Smoke test of the driver on the simulated device: one DMA round trip through BOs.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "driver_test_util.hpp"

using tessel::driver::SimNpu;
using tessel::test::copy_job;

TEST_CASE("a DMA round trip through buffer objects completes with its counters") {
  SimNpu npu(tessel::sim::npu::load_npu_preset_or_file("default"));
  const int fd = npu.open();
  REQUIRE(fd >= 0);
  tessel_bo_create src{}, dst{}, cmd{};
  src.size = dst.size = 8192;
  cmd.size = 4096;
  REQUIRE(npu.ioctl(fd, TESSEL_IOCTL_BO_CREATE, &src) == 0);
  REQUIRE(npu.ioctl(fd, TESSEL_IOCTL_BO_CREATE, &dst) == 0);
  REQUIRE(npu.ioctl(fd, TESSEL_IOCTL_BO_CREATE, &cmd) == 0);
  tessel_bo_mmap m{};
  m.handle = src.handle;
  REQUIRE(npu.ioctl(fd, TESSEL_IOCTL_BO_MMAP, &m) == 0);
  auto* in = static_cast<uint8_t*>(npu.mmap(fd, m.offset, src.size));
  REQUIRE(in != nullptr);
  for (int i = 0; i < 8192; ++i) in[i] = static_cast<uint8_t>(i * 7 + 1);

  // DMA_LOAD, SEM_SIGNAL on DMA_IN after the load, SEM_WAIT on DMA_OUT before the store,
  // DMA_STORE, END.
  const std::vector<uint32_t> words = copy_job(static_cast<uint32_t>(src.va),
                                               static_cast<uint32_t>(dst.va), 8192);
  m.handle = cmd.handle;
  REQUIRE(npu.ioctl(fd, TESSEL_IOCTL_BO_MMAP, &m) == 0);
  std::memcpy(npu.mmap(fd, m.offset, 4096), words.data(), words.size() * 4);

  const uint32_t bos[] = {src.handle, dst.handle};
  tessel_submit s{};
  s.cmd_handle = cmd.handle;
  s.cmd_bytes = static_cast<uint32_t>(words.size() * 4);
  s.bo_count = 2;
  s.bo_handles = reinterpret_cast<uintptr_t>(bos);
  const int rc = npu.ioctl(fd, TESSEL_IOCTL_SUBMIT, &s);
  INFO("reason " << s.error_reason << " offset " << s.error_offset);
  REQUIRE(rc == 0);
  tessel_wait w{};
  w.fence = s.fence;
  w.timeout_ns = 10'000'000'000ull;
  REQUIRE(npu.ioctl(fd, TESSEL_IOCTL_WAIT, &w) == 0);
  CHECK(w.status == TESSEL_JOB_DONE);
  m.handle = dst.handle;
  REQUIRE(npu.ioctl(fd, TESSEL_IOCTL_BO_MMAP, &m) == 0);
  const auto* out = static_cast<const uint8_t*>(npu.mmap(fd, m.offset, dst.size));
  CHECK(std::memcmp(in, out, 8192) == 0);
  tessel_job_status_args js{};
  js.fence = s.fence;
  REQUIRE(npu.ioctl(fd, TESSEL_IOCTL_JOB_STATUS, &js) == 0);
  CHECK(js.cycles > 0);
  std::vector<uint64_t> perf(TESSEL_PERF_COUNT);
  tessel_perf p{};
  p.fence = s.fence;
  p.values = reinterpret_cast<uintptr_t>(perf.data());
  p.count = TESSEL_PERF_COUNT;
  REQUIRE(npu.ioctl(fd, TESSEL_IOCTL_PERF, &p) == 0);
  CHECK(perf[TESSEL_PERF_DRAM_READ_BYTES] >= 8192);
  CHECK(perf[TESSEL_PERF_DRAM_WRITE_BYTES] >= 8192);
  CHECK(perf[TESSEL_PERF_CYCLES] == js.cycles);
  CHECK(npu.close(fd) == 0);
}
