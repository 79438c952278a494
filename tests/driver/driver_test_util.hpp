// Helpers shared by the driver tests (tests/driver/test_driver_*.cpp): buffer objects and
// an open file of the simulated device (SimNpu), and builders for the small command
// streams the tests submit. One copy, so that a fix to how the tests drive the UAPI reaches
// every test at once.
//
// File and its methods use Catch2's REQUIRE, so they belong on the test thread only
// (Catch2 assertions are not thread-safe); the command builders and Bo are plain values
// and may be used from any thread.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tessel/driver/sim_npu.hpp"
#include "tessel_accel.h"
#include "tessel_isa_commands.hpp"
#include "tessel_npu_isa.h"

namespace tessel::test {

// A buffer object as the tests see it: its handle, NPU virtual address, size (rounded up
// to whole pages, as the driver allocates) and a host mapping of the whole BO.
struct Bo {
  uint32_t handle = 0;
  uint32_t va = 0;
  uint64_t size = 0;
  uint8_t* host = nullptr;

  // Every byte of the BO equals `v`.
  bool all(uint8_t v) const {
    return std::all_of(host, host + size, [v](uint8_t b) { return b == v; });
  }
};

// One open file (= one context) of the device; closed on destruction.
class File {
 public:
  explicit File(driver::SimNpu& npu) : npu_(npu), fd_(npu.open()) { REQUIRE(fd_ >= 0); }
  ~File() {
    if (fd_ >= 0) npu_.close(fd_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  int fd() const { return fd_; }
  int ioctl(uint32_t cmd, void* arg) { return npu_.ioctl(fd_, cmd, arg); }
  void close() {
    REQUIRE(npu_.close(fd_) == 0);
    fd_ = -1;
  }

  // Creates a BO (at `va`, or where the driver chooses for 0) and maps it.
  Bo bo(uint64_t size, bool read_only = false, uint64_t va = 0) {
    tessel_bo_create c{};
    c.size = size;
    c.va = va;
    c.npu_read_only = read_only ? 1 : 0;
    REQUIRE(ioctl(TESSEL_IOCTL_BO_CREATE, &c) == 0);
    Bo b;
    b.handle = c.handle;
    b.va = static_cast<uint32_t>(c.va);
    b.size = (size + 4095) / 4096 * 4096;
    tessel_bo_mmap m{};
    m.handle = c.handle;
    REQUIRE(ioctl(TESSEL_IOCTL_BO_MMAP, &m) == 0);
    b.host = static_cast<uint8_t*>(npu_.mmap(fd_, m.offset, b.size));
    REQUIRE(b.host != nullptr);
    return b;
  }

  // The 64 KiB command BO that submit() uses (created on first use).
  const Bo& cmd_bo() {
    if (cmd_.handle == 0) cmd_ = bo(64 * 1024);
    return cmd_;
  }

  // Copies `words` into the command BO at byte `offset` and submits them with the BOs
  // `bos`, the in-fences `fences` and the job timeout `timeout_ns` (0: the driver's
  // default). The command BO may be reused at once: the driver copies the stream.
  // Returns the ioctl's result; `out` (when given) receives the structure as the driver
  // wrote it back.
  int submit(const std::vector<uint32_t>& words, const std::vector<uint32_t>& bos,
             tessel_submit* out = nullptr, const std::vector<uint64_t>& fences = {},
             uint64_t timeout_ns = 0, uint32_t offset = 0) {
    const Bo& cmd = cmd_bo();
    REQUIRE(offset + words.size() * 4 <= cmd.size);
    std::memcpy(cmd.host + offset, words.data(), words.size() * 4);
    tessel_submit s{};
    s.cmd_handle = cmd.handle;
    s.cmd_offset = offset;
    s.cmd_bytes = static_cast<uint32_t>(words.size() * 4);
    s.bo_count = static_cast<uint32_t>(bos.size());
    s.bo_handles = reinterpret_cast<uintptr_t>(bos.data());
    s.in_fence_count = static_cast<uint32_t>(fences.size());
    s.in_fences = reinterpret_cast<uintptr_t>(fences.data());
    s.timeout_ns = timeout_ns;
    const int rc = ioctl(TESSEL_IOCTL_SUBMIT, &s);
    if (out != nullptr) *out = s;
    return rc;
  }
  // Submits and requires acceptance; the fence.
  uint64_t run(const std::vector<uint32_t>& words, const std::vector<uint32_t>& bos,
               const std::vector<uint64_t>& fences = {}, uint64_t timeout_ns = 0) {
    tessel_submit s{};
    const int rc = submit(words, bos, &s, fences, timeout_ns);
    INFO("submit: reason " << s.error_reason << " at offset " << s.error_offset);
    REQUIRE(rc == 0);
    REQUIRE(s.fence != 0);
    return s.fence;
  }
  // Waits for `fence` (requiring the WAIT ioctl to succeed); the job's status.
  uint32_t wait(uint64_t fence) {
    tessel_wait w{};
    w.fence = fence;
    w.timeout_ns = 60'000'000'000ull;  // generous: a hang must show as a failure, not block
    REQUIRE(ioctl(TESSEL_IOCTL_WAIT, &w) == 0);
    return w.status;
  }
  // JOB_STATUS of `fence`, requiring the ioctl to succeed.
  tessel_job_status_args status(uint64_t fence) {
    tessel_job_status_args js{};
    js.fence = fence;
    REQUIRE(ioctl(TESSEL_IOCTL_JOB_STATUS, &js) == 0);
    return js;
  }
  // GET_PARAM `which`, requiring the ioctl to succeed.
  uint64_t param(uint32_t which) {
    tessel_get_param p{};
    p.param = which;
    REQUIRE(ioctl(TESSEL_IOCTL_GET_PARAM, &p) == 0);
    return p.value;
  }

 private:
  driver::SimNpu& npu_;
  int fd_;
  Bo cmd_;
};

// ---------------------------------------------------------------- command builders

inline std::vector<uint32_t> encode(const std::vector<isa::Command>& cmds) {
  std::vector<uint32_t> words;
  for (const isa::Command& c : cmds) isa::encode(c, words);
  return words;
}

// A one-row DMA of `len` bytes (n1 = n2 = n3 = 1); DMA_LOAD and DMA_STORE share one
// layout (tessel_isa.yaml), so one builder serves both.
template <typename Dma>
Dma one_row_dma(uint32_t dram, uint32_t sram, uint32_t len) {
  Dma c;
  c.dram_addr = dram;
  c.sram_addr = sram;
  c.len0 = len;
  c.n1 = c.n2 = c.n3 = 1;
  return c;
}
inline isa::DmaLoad load(uint32_t dram, uint32_t sram, uint32_t len) {
  return one_row_dma<isa::DmaLoad>(dram, sram, len);
}
inline isa::DmaStore store(uint32_t dram, uint32_t sram, uint32_t len) {
  return one_row_dma<isa::DmaStore>(dram, sram, len);
}

inline isa::SemSignal signal(isa::Engine engine, uint8_t sem) {
  isa::SemSignal c;
  c.engine = static_cast<uint8_t>(engine);
  c.sem = sem;
  return c;
}

inline isa::SemWait wait_on(isa::Engine engine, uint8_t sem) {
  isa::SemWait c;
  c.engine = static_cast<uint8_t>(engine);
  c.sem = sem;
  return c;
}

// DRAM -> SRAM -> DRAM copy of `len` bytes (the DMA_OUT queue waits for the load).
// Byte offsets: DMA_LOAD 0 (address word at 4), SEM_SIGNAL 48, SEM_WAIT 56, DMA_STORE 64
// (address word at 68), END 112.
inline std::vector<uint32_t> copy_job(uint32_t src, uint32_t dst, uint32_t len) {
  return encode({load(src, 0, len), signal(isa::Engine::kDmaIn, 0),
                 wait_on(isa::Engine::kDmaOut, 0), store(dst, 0, len), isa::End{}});
}
constexpr uint32_t kLoadOffset = 0, kStoreOffset = 64;

}  // namespace tessel::test
