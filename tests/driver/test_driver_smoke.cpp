// Smoke test of the driver on the simulated device: one DMA round trip through BOs.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "tessel/driver/sim_npu.hpp"
#include "tessel_accel.h"
#include "tessel_isa_commands.hpp"
#include "tessel_npu_isa.h"

using tessel::driver::SimNpu;
namespace isa = tessel::isa;

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

  isa::DmaLoad ld;
  ld.dram_addr = static_cast<uint32_t>(src.va);
  ld.sram_addr = 0;
  ld.len0 = 8192;
  ld.n1 = ld.n2 = ld.n3 = 1;
  isa::DmaStore st;
  st.dram_addr = static_cast<uint32_t>(dst.va);
  st.sram_addr = 0;
  st.len0 = 8192;
  st.n1 = st.n2 = st.n3 = 1;
  isa::SemSignal sig;
  sig.engine = 0;  // on DMA_IN, after the load
  sig.sem = 0;
  isa::SemWait wt;
  wt.engine = 1;  // on DMA_OUT, before the store
  wt.sem = 0;
  std::vector<uint32_t> words;
  for (const isa::Command& c : std::vector<isa::Command>{ld, sig, wt, st, isa::End{}}) isa::encode(c, words);
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
