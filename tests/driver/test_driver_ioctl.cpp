// The driver's ioctl boundary (driver/include/uapi/tessel_accel.h): every ioctl refuses
// each kind of bad argument with the error the UAPI documents, GET_PARAM reports the
// configuration, SUBMIT's validation names the refused command, and mmap checks its
// offset and length. Runs the real driver core on the simulated device (SimNpu).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "driver_test_util.hpp"

using tessel::driver::SimNpu;
namespace isa = tessel::isa;
using namespace tessel::test;  // Bo, File, encode, load, store, copy_job, ...
namespace npu_sim = tessel::sim::npu;

namespace {

// A job that never finishes on its own (DMA_IN hangs) until its context is closed: it
// holds the device so that jobs submitted after it stay queued. `timeout_ns` is device
// time; the default is far beyond any test's duration.
uint64_t hang_device(SimNpu& npu, File& f, const Bo& buf, uint64_t timeout_ns = 1ull << 62) {
  npu.inject_hang(isa::Engine::kDmaIn);
  return f.run(encode({load(buf.va, 0, 64), isa::End{}}), {buf.handle}, {}, timeout_ns);
}

// The ioctl number `cmd` with its size field replaced (an older or newer structure).
uint32_t with_size(uint32_t cmd, uint32_t size) {
  return (cmd & ~(0x3FFFu << 16)) | (size & 0x3FFFu) << 16;
}

npu_sim::NpuConfig default_config() { return npu_sim::load_npu_preset_or_file("default"); }

}  // namespace

// ============================================================== sizes, numbers, pointers

TEST_CASE("ioctl: an unknown command is -ENOTTY, an unknown fd -EBADF") {
  SimNpu npu(default_config());
  File f(npu);
  tessel_get_param p{};
  p.param = TESSEL_PARAM_HW_ID;
  // An unused number, another driver's type, the right number with the wrong direction.
  CHECK(f.ioctl(TESSEL_IOC(TESSEL_IOC_WRITE | TESSEL_IOC_READ, 0x08, 16), &p) == -ENOTTY);
  CHECK(f.ioctl(TESSEL_IOC(TESSEL_IOC_WRITE | TESSEL_IOC_READ, 0xFF, 16), &p) == -ENOTTY);
  CHECK(f.ioctl((TESSEL_IOCTL_GET_PARAM & ~0xFF00u) | ('X' << 8), &p) == -ENOTTY);
  CHECK(f.ioctl(TESSEL_IOW(0x00, struct tessel_get_param), &p) == -ENOTTY);
  CHECK(f.ioctl(0, &p) == -ENOTTY);
  // The same structure through a valid number works, so the refusals above are about
  // the number alone.
  CHECK(f.ioctl(TESSEL_IOCTL_GET_PARAM, &p) == 0);

  CHECK(npu.ioctl(f.fd() + 100, TESSEL_IOCTL_GET_PARAM, &p) == -EBADF);
  CHECK(npu.ioctl(-1, TESSEL_IOCTL_GET_PARAM, &p) == -EBADF);
  CHECK(npu.close(f.fd() + 100) == -EBADF);
  int err = 0;
  CHECK(npu.mmap(f.fd() + 100, 1ull << 32, 4096, &err) == nullptr);
  CHECK(err == -EBADF);
  const int fd = f.fd();
  f.close();
  CHECK(npu.ioctl(fd, TESSEL_IOCTL_GET_PARAM, &p) == -EBADF);  // closed
  CHECK(npu.close(fd) == -EBADF);
}

TEST_CASE("ioctl: a NULL argument is -EFAULT for every command") {
  SimNpu npu(default_config());
  File f(npu);
  for (const uint32_t cmd :
       {TESSEL_IOCTL_GET_PARAM, TESSEL_IOCTL_BO_CREATE, TESSEL_IOCTL_BO_MMAP,
        TESSEL_IOCTL_BO_DESTROY, TESSEL_IOCTL_SUBMIT, TESSEL_IOCTL_WAIT, TESSEL_IOCTL_JOB_STATUS,
        TESSEL_IOCTL_PERF}) {
    INFO("ioctl nr " << TESSEL_IOC_NR(cmd));
    CHECK(f.ioctl(cmd, nullptr) == -EFAULT);
  }
}

namespace {
// An argument structure followed by bytes a newer user space would send.
template <class T>
struct Grown {
  T args;
  uint8_t tail[24];
};
}  // namespace

TEST_CASE("ioctl: the structure size is checked (smaller -EINVAL, larger with a tail)") {
  SimNpu npu(default_config());
  File f(npu);
  const Bo src = f.bo(4096), dst = f.bo(4096);

  // Each ioctl is tried three ways with otherwise valid arguments built by `make`:
  // 4 bytes short (-EINVAL), 24 bytes longer with a non-zero byte at the end (-E2BIG:
  // the caller asks for something this driver does not know), 24 bytes longer all zero
  // (accepted: same result as the exact size). The refusals must have no effect.
  const auto sizes = [&](uint32_t cmd, auto make, const char* what) {
    using T = decltype(make());
    INFO(what);
    Grown<T> g{};
    g.args = make();
    CHECK(f.ioctl(with_size(cmd, sizeof(T) - 4), &g) == -EINVAL);
    CHECK(f.ioctl(with_size(cmd, 0), &g) == -EINVAL);
    g.args = make();
    g.tail[23] = 1;
    CHECK(f.ioctl(with_size(cmd, sizeof(Grown<T>)), &g) == -E2BIG);
    g.args = make();
    g.tail[23] = 0;
    g.tail[0] = 0;
    CHECK(f.ioctl(with_size(cmd, sizeof(Grown<T>)), &g) == 0);
    for (uint8_t b : g.tail) CHECK(b == 0);  // only the known part is written back
    return g.args;
  };

  const tessel_get_param gp = sizes(
      TESSEL_IOCTL_GET_PARAM,
      [] {
        tessel_get_param p{};
        p.param = TESSEL_PARAM_HW_ID;
        return p;
      },
      "GET_PARAM");
  CHECK(gp.value == TESSEL_ISA_ID);

  // BO_CREATE: the refused calls must not have allocated anything.
  const uint64_t free_before = f.param(TESSEL_PARAM_DEVICE_MEMORY);
  const tessel_bo_create bc = sizes(
      TESSEL_IOCTL_BO_CREATE,
      [] {
        tessel_bo_create c{};
        c.size = 4096;
        return c;
      },
      "BO_CREATE");
  CHECK(bc.handle != 0);
  CHECK(f.param(TESSEL_PARAM_DEVICE_MEMORY) == free_before - 4096);

  const tessel_bo_mmap bm = sizes(
      TESSEL_IOCTL_BO_MMAP,
      [&] {
        tessel_bo_mmap m{};
        m.handle = bc.handle;
        return m;
      },
      "BO_MMAP");
  CHECK(npu.mmap(f.fd(), bm.offset, 4096) != nullptr);

  // BO_DESTROY: had a refused call destroyed the BO, the accepted one would be -ENOENT.
  sizes(
      TESSEL_IOCTL_BO_DESTROY,
      [&] {
        tessel_bo_destroy d{};
        d.handle = bc.handle;
        return d;
      },
      "BO_DESTROY");
  tessel_bo_mmap gone{};
  gone.handle = bc.handle;
  CHECK(f.ioctl(TESSEL_IOCTL_BO_MMAP, &gone) == -ENOENT);

  // SUBMIT: one accepted job (the refused ones queue nothing: the accepted job's fence is
  // the first this device hands out).
  for (int i = 0; i < 4096; ++i) src.host[i] = static_cast<uint8_t>(i * 13 + 5);
  const std::vector<uint32_t> words = copy_job(src.va, dst.va, 4096);
  std::memcpy(f.cmd_bo().host, words.data(), words.size() * 4);
  const uint32_t handles[] = {src.handle, dst.handle};
  const tessel_submit sub = sizes(
      TESSEL_IOCTL_SUBMIT,
      [&] {
        tessel_submit s{};
        s.cmd_handle = f.cmd_bo().handle;
        s.cmd_bytes = static_cast<uint32_t>(words.size() * 4);
        s.bo_count = 2;
        s.bo_handles = reinterpret_cast<uintptr_t>(handles);
        return s;
      },
      "SUBMIT");
  CHECK(sub.fence == 1);

  const tessel_wait w = sizes(
      TESSEL_IOCTL_WAIT,
      [&] {
        tessel_wait a{};
        a.fence = sub.fence;
        a.timeout_ns = 60'000'000'000ull;
        return a;
      },
      "WAIT");
  CHECK(w.status == TESSEL_JOB_DONE);
  CHECK(std::memcmp(src.host, dst.host, 4096) == 0);

  const tessel_job_status_args js = sizes(
      TESSEL_IOCTL_JOB_STATUS,
      [&] {
        tessel_job_status_args a{};
        a.fence = sub.fence;
        return a;
      },
      "JOB_STATUS");
  CHECK(js.status == TESSEL_JOB_DONE);
  CHECK(js.cycles > 0);

  uint64_t values[TESSEL_PERF_COUNT] = {};
  sizes(
      TESSEL_IOCTL_PERF,
      [&] {
        tessel_perf p{};
        p.fence = sub.fence;
        p.values = reinterpret_cast<uintptr_t>(values);
        p.count = TESSEL_PERF_COUNT;
        return p;
      },
      "PERF");
  CHECK(values[TESSEL_PERF_CYCLES] == js.cycles);
}

// ===================================================================== flags and pads

TEST_CASE("ioctl: non-zero flags or pad, and out-of-range enums, are -EINVAL") {
  SimNpu npu(default_config());
  File f(npu);
  const Bo src = f.bo(4096), dst = f.bo(4096);
  const uint64_t fence = f.run(copy_job(src.va, dst.va, 64), {src.handle, dst.handle});
  REQUIRE(f.wait(fence) == TESSEL_JOB_DONE);

  for (const uint32_t flags : {1u, 0x80000000u}) {
    INFO("flags " << flags);
    tessel_get_param gp{};
    gp.param = TESSEL_PARAM_HW_ID;
    gp.flags = flags;
    CHECK(f.ioctl(TESSEL_IOCTL_GET_PARAM, &gp) == -EINVAL);

    tessel_bo_create bc{};
    bc.size = 4096;
    bc.flags = flags;
    CHECK(f.ioctl(TESSEL_IOCTL_BO_CREATE, &bc) == -EINVAL);
    bc.flags = 0;
    bc.pad = flags;
    CHECK(f.ioctl(TESSEL_IOCTL_BO_CREATE, &bc) == -EINVAL);

    tessel_bo_mmap bm{};
    bm.handle = src.handle;
    bm.flags = flags;
    CHECK(f.ioctl(TESSEL_IOCTL_BO_MMAP, &bm) == -EINVAL);

    tessel_bo_destroy bd{};
    bd.handle = dst.handle;
    bd.flags = flags;
    CHECK(f.ioctl(TESSEL_IOCTL_BO_DESTROY, &bd) == -EINVAL);

    const std::vector<uint32_t> words = copy_job(src.va, dst.va, 64);
    std::memcpy(f.cmd_bo().host, words.data(), words.size() * 4);
    const uint32_t handles[] = {src.handle, dst.handle};
    tessel_submit s{};
    s.cmd_handle = f.cmd_bo().handle;
    s.cmd_bytes = static_cast<uint32_t>(words.size() * 4);
    s.bo_count = 2;
    s.bo_handles = reinterpret_cast<uintptr_t>(handles);
    s.flags = flags;
    CHECK(f.ioctl(TESSEL_IOCTL_SUBMIT, &s) == -EINVAL);
    CHECK(s.fence == 0);

    tessel_wait w{};
    w.fence = fence;
    w.flags = flags;
    CHECK(f.ioctl(TESSEL_IOCTL_WAIT, &w) == -EINVAL);

    tessel_job_status_args js{};
    js.fence = fence;
    js.flags = flags;
    CHECK(f.ioctl(TESSEL_IOCTL_JOB_STATUS, &js) == -EINVAL);

    uint64_t values[TESSEL_PERF_COUNT] = {};
    tessel_perf p{};
    p.fence = fence;
    p.values = reinterpret_cast<uintptr_t>(values);
    p.count = TESSEL_PERF_COUNT;
    p.flags = flags;
    CHECK(f.ioctl(TESSEL_IOCTL_PERF, &p) == -EINVAL);
  }
  // The refused BO_DESTROYs left the BO alone.
  tessel_bo_mmap still{};
  still.handle = dst.handle;
  CHECK(f.ioctl(TESSEL_IOCTL_BO_MMAP, &still) == 0);

  // Enumerations and counts.
  for (const uint32_t which : {uint32_t{TESSEL_PARAM_COUNT}, 0x100u, 0xFFFFFFFFu}) {
    tessel_get_param gp{};
    gp.param = which;
    CHECK(f.ioctl(TESSEL_IOCTL_GET_PARAM, &gp) == -EINVAL);
  }
  tessel_bo_create ro{};
  ro.size = 4096;
  ro.npu_read_only = 2;
  CHECK(f.ioctl(TESSEL_IOCTL_BO_CREATE, &ro) == -EINVAL);
  uint64_t values[TESSEL_PERF_COUNT] = {};
  tessel_perf p{};
  p.fence = fence;
  p.values = reinterpret_cast<uintptr_t>(values);
  p.count = 0;
  CHECK(f.ioctl(TESSEL_IOCTL_PERF, &p) == -EINVAL);
}

// ===================================================================== GET_PARAM

TEST_CASE("GET_PARAM reports the interface version and the device's configuration") {
  // Three configurations, one of them not a preset, so that no value can be a constant.
  npu_sim::NpuConfig custom = default_config();
  custom.mac.rows = 8;
  custom.mac.cols = 24;
  custom.clock_mhz = 700;
  custom.sram.size_kib = 512;
  custom.mmu.contexts = 5;
  for (const npu_sim::NpuConfig& config :
       {default_config(), npu_sim::load_npu_preset_or_file("ethos-u55-256"), custom}) {
    INFO("configuration " << config.name << " " << config.mac.rows << "x" << config.mac.cols);
    SimNpu npu(config);
    File f(npu);
    CHECK(f.param(TESSEL_PARAM_UAPI_VERSION) ==
          (uint64_t{TESSEL_UAPI_VERSION_MAJOR} << 16 | TESSEL_UAPI_VERSION_MINOR));
    CHECK(f.param(TESSEL_PARAM_HW_ID) == 0x4E534554u);
    CHECK(f.param(TESSEL_PARAM_HW_VERSION) ==
          (uint64_t{isa::kVersionMajor} << 16 | isa::kVersionMinor));
    const uint64_t caps = f.param(TESSEL_PARAM_HW_CAPS);
    CHECK(TESSEL_GET(caps, TESSEL_CAPS_CONTEXTS) == config.mmu.contexts);
    CHECK(TESSEL_GET(caps, TESSEL_CAPS_MMU) == 1);
    CHECK(f.param(TESSEL_PARAM_MAC_ROWS) == config.mac.rows);
    CHECK(f.param(TESSEL_PARAM_MAC_COLS) == config.mac.cols);
    CHECK(f.param(TESSEL_PARAM_SRAM_BYTES) == config.sram_bytes());
    CHECK(f.param(TESSEL_PARAM_CLOCK_MHZ) == config.clock_mhz);
    CHECK(f.param(TESSEL_PARAM_CONFIG_HASH) ==
          (npu_sim::npu_config_hash(config) & 0xFFFFFFFFu));
    CHECK(f.param(TESSEL_PARAM_CONTEXTS) == config.mmu.contexts);
    CHECK(f.param(TESSEL_PARAM_NUM_PERF) == TESSEL_PERF_COUNT);
    // Device memory: less than the DRAM (the driver's ring and page tables live there),
    // and exactly a BO's pages less after creating it (the first BO also costs the
    // level-2 page table of its 4 MiB region; the second, next to it, does not).
    const uint64_t mem = f.param(TESSEL_PARAM_DEVICE_MEMORY);
    CHECK(mem < config.dram_bytes);
    CHECK(mem > config.dram_bytes / 2);
    f.bo(4096);
    const uint64_t before = f.param(TESSEL_PARAM_DEVICE_MEMORY);
    CHECK(before == mem - 3 * 4096);
    f.bo(3 * 4096 + 1);  // rounded up to 4 pages
    CHECK(f.param(TESSEL_PARAM_DEVICE_MEMORY) == before - 4 * 4096);

    // CONTEXTS is how many files can be open at once; one more is -EBUSY until one closes.
    std::vector<int> fds;
    for (uint32_t i = 1; i < config.mmu.contexts; ++i) {
      fds.push_back(npu.open());
      CHECK(fds.back() >= 0);
    }
    CHECK(npu.open() == -EBUSY);
    REQUIRE(npu.close(fds.back()) == 0);
    fds.back() = npu.open();
    CHECK(fds.back() >= 0);
    for (const int fd : fds) CHECK(npu.close(fd) == 0);
  }
}

// ===================================================================== BO_CREATE

TEST_CASE("BO_CREATE: size, address, overlap and reserved-range errors") {
  SimNpu npu(default_config());
  File f(npu);
  const auto create = [&](uint64_t size, uint64_t va, tessel_bo_create* out = nullptr) {
    tessel_bo_create c{};
    c.size = size;
    c.va = va;
    const int rc = f.ioctl(TESSEL_IOCTL_BO_CREATE, &c);
    if (out != nullptr) *out = c;
    return rc;
  };
  CHECK(create(0, 0) == -EINVAL);
  CHECK(create(0, 0x10000000) == -EINVAL);
  // Misaligned addresses.
  CHECK(create(4096, 0x10000004) == -EINVAL);
  CHECK(create(4096, 0x10000800) == -EINVAL);
  CHECK(create(4096, 0x10000FFF) == -EINVAL);
  // The driver's reserved range and beyond the 32-bit NPU space.
  CHECK(create(4096, TESSEL_VA_RESERVED) == -EINVAL);
  CHECK(create(4096, 0xFFFFF000u) == -EINVAL);
  CHECK(create(8192, TESSEL_VA_RESERVED - 4096) == -EINVAL);  // runs into it
  CHECK(create(4096, 0x100000000ull) == -EINVAL);
  CHECK(create(4096, 0xFFFFFFFFFFFFF000ull) == -EINVAL);
  // An address whose end wraps around 2^64 onto the command window must not slip past the
  // range check (va + size overflows to a small number).
  CHECK(create(16u << 20, 0ull - (16u << 20)) == -EINVAL);
  CHECK(create(0x100000000ull, 0) == -EINVAL);       // larger than the NPU space
  CHECK(create(0xFFFFFFFFFFFFF000ull, 0) == -EINVAL);
  // Out of device memory (1 GiB on the default device).
  CHECK(create(0xF0000000ull, 0) == -ENOMEM);
  CHECK(create(0x80000000ull, 0x10000000) == -ENOMEM);

  // Overlap with another BO of this context: any intersection of the page ranges.
  tessel_bo_create a{};
  REQUIRE(create(8192, 0x20000000, &a) == 0);
  CHECK(a.va == 0x20000000);
  CHECK(a.handle != 0);
  CHECK(create(8192, 0x20000000) == -EEXIST);
  CHECK(create(4096, 0x20001000) == -EEXIST);        // its last page
  CHECK(create(8192, 0x1FFFF000) == -EEXIST);        // straddles its start
  CHECK(create(1, 0x20001000) == -EEXIST);           // 1 byte is a whole page
  CHECK(create(0x20000, 0x1FFF0000) == -EEXIST);     // covers it
  tessel_bo_create before{}, after{};
  CHECK(create(4096, 0x1FFFF000, &before) == 0);     // adjacent below
  CHECK(create(1, 0x20002000, &after) == 0);         // adjacent above
  CHECK(create(4096, 0x20003000) == 0);              // `after` took one page only
  // The highest address below the reserved range is usable.
  CHECK(create(4096, TESSEL_VA_RESERVED - 4096) == 0);

  // Driver-chosen addresses: aligned, outside the reserved range, never overlapping.
  std::vector<tessel_bo_create> chosen(6);
  for (size_t i = 0; i < chosen.size(); ++i) {
    REQUIRE(create(4096 * (i + 1) - 7, 0, &chosen[i]) == 0);
    CHECK(chosen[i].va % 4096 == 0);
    CHECK(chosen[i].va + 4096 * (i + 1) <= TESSEL_VA_RESERVED);
    CHECK(chosen[i].va != 0);
  }
  for (size_t i = 0; i < chosen.size(); ++i) {
    for (size_t j = i + 1; j < chosen.size(); ++j) {
      const uint64_t ei = chosen[i].va + 4096 * (i + 1), ej = chosen[j].va + 4096 * (j + 1);
      CHECK((ei <= chosen[j].va || ej <= chosen[i].va));
    }
    CHECK(create(4096, chosen[i].va) == -EEXIST);  // and they count as taken
  }
  // Handles are distinct and non-zero.
  for (size_t i = 0; i < chosen.size(); ++i) {
    CHECK(chosen[i].handle != 0);
    for (size_t j = i + 1; j < chosen.size(); ++j) CHECK(chosen[i].handle != chosen[j].handle);
  }

  // Another context has its own address space: the same address is free there.
  File g(npu);
  tessel_bo_create other{};
  other.size = 8192;
  other.va = 0x20000000;
  CHECK(g.ioctl(TESSEL_IOCTL_BO_CREATE, &other) == 0);
}

// ===================================================================== BO_MMAP / mmap / BO_DESTROY

TEST_CASE("BO_MMAP and mmap: unknown handles, bad offsets and lengths") {
  SimNpu npu(default_config());
  File f(npu), g(npu);
  const Bo a = f.bo(8192);
  tessel_bo_mmap m{};
  m.handle = a.handle;
  REQUIRE(f.ioctl(TESSEL_IOCTL_BO_MMAP, &m) == 0);

  tessel_bo_mmap bad{};
  bad.handle = 0;
  CHECK(f.ioctl(TESSEL_IOCTL_BO_MMAP, &bad) == -ENOENT);
  bad.handle = a.handle + 100;
  CHECK(f.ioctl(TESSEL_IOCTL_BO_MMAP, &bad) == -ENOENT);
  // Handles are per file: g has none yet.
  bad.handle = a.handle;
  CHECK(g.ioctl(TESSEL_IOCTL_BO_MMAP, &bad) == -ENOENT);

  int err = 1;
  CHECK(npu.mmap(f.fd(), m.offset, 8192, &err) != nullptr);
  CHECK(err == 0);
  CHECK(npu.mmap(f.fd(), m.offset, 1, &err) != nullptr);  // a prefix is fine
  const auto refused = [&](int fd, uint64_t offset, uint64_t length) {
    int e = 0;
    void* p = npu.mmap(fd, offset, length, &e);
    CHECK(p == nullptr);
    return e;
  };
  CHECK(refused(f.fd(), m.offset, 0) == -EINVAL);
  CHECK(refused(f.fd(), m.offset, 8193) == -EINVAL);          // past the BO
  CHECK(refused(f.fd(), m.offset, 1ull << 40) == -EINVAL);
  CHECK(refused(f.fd(), m.offset + 1, 4096) == -EINVAL);      // not an offset BO_MMAP gave
  CHECK(refused(f.fd(), m.offset + 4096, 4096) == -EINVAL);
  CHECK(refused(f.fd(), 0, 4096) == -ENOENT);                 // handle 0
  CHECK(refused(f.fd(), m.offset + (100ull << 32), 4096) == -ENOENT);
  CHECK(refused(g.fd(), m.offset, 4096) == -ENOENT);          // another file's offset

  // Destroyed: the handle and its offset are gone; destroying twice is -ENOENT.
  tessel_bo_destroy d{};
  d.handle = a.handle;
  REQUIRE(f.ioctl(TESSEL_IOCTL_BO_DESTROY, &d) == 0);
  CHECK(f.ioctl(TESSEL_IOCTL_BO_DESTROY, &d) == -ENOENT);
  CHECK(f.ioctl(TESSEL_IOCTL_BO_MMAP, &m) == -ENOENT);
  CHECK(refused(f.fd(), m.offset, 4096) == -ENOENT);
  d.handle = 0;
  CHECK(f.ioctl(TESSEL_IOCTL_BO_DESTROY, &d) == -ENOENT);
  // Its address is free again.
  tessel_bo_create again{};
  again.size = 8192;
  again.va = a.va;
  CHECK(f.ioctl(TESSEL_IOCTL_BO_CREATE, &again) == 0);
}

TEST_CASE("BO_DESTROY of a BO a pending job lists is -EBUSY; the job's own data survives") {
  SimNpu npu(default_config());
  File holder(npu), f(npu);
  const Bo scratch = holder.bo(4096);
  hang_device(npu, holder, scratch);

  const Bo src = f.bo(4096), dst = f.bo(4096), unused = f.bo(4096);
  for (int i = 0; i < 4096; ++i) src.host[i] = static_cast<uint8_t>(i ^ 0x5A);
  const uint64_t fence = f.run(copy_job(src.va, dst.va, 4096), {src.handle, dst.handle});

  // Queued behind the hung job: its BOs are busy, others are not; the command BO is not
  // listed (the driver copied the stream), so it may go.
  tessel_bo_destroy d{};
  d.handle = src.handle;
  CHECK(f.ioctl(TESSEL_IOCTL_BO_DESTROY, &d) == -EBUSY);
  d.handle = dst.handle;
  CHECK(f.ioctl(TESSEL_IOCTL_BO_DESTROY, &d) == -EBUSY);
  d.handle = unused.handle;
  CHECK(f.ioctl(TESSEL_IOCTL_BO_DESTROY, &d) == 0);
  // Overwrite the command BO with garbage, then destroy it: the queued job runs the copy
  // validated at submission.
  std::memset(f.cmd_bo().host, 0xFF, 4096);
  d.handle = f.cmd_bo().handle;
  CHECK(f.ioctl(TESSEL_IOCTL_BO_DESTROY, &d) == 0);

  // Not finished: WAIT with timeout 0 polls (-ETIMEDOUT, status reported), PERF -EBUSY.
  tessel_wait w{};
  w.fence = fence;
  w.timeout_ns = 0;
  CHECK(f.ioctl(TESSEL_IOCTL_WAIT, &w) == -ETIMEDOUT);
  CHECK(w.status == TESSEL_JOB_QUEUED);
  w.timeout_ns = 1'000'000;  // 1 ms of host time: still queued
  CHECK(f.ioctl(TESSEL_IOCTL_WAIT, &w) == -ETIMEDOUT);
  uint64_t values[TESSEL_PERF_COUNT] = {};
  tessel_perf p{};
  p.fence = fence;
  p.values = reinterpret_cast<uintptr_t>(values);
  p.count = TESSEL_PERF_COUNT;
  CHECK(f.ioctl(TESSEL_IOCTL_PERF, &p) == -EBUSY);
  tessel_job_status_args js{};
  js.fence = fence;
  REQUIRE(f.ioctl(TESSEL_IOCTL_JOB_STATUS, &js) == 0);
  CHECK(js.status == TESSEL_JOB_QUEUED);
  CHECK(js.start_ns == 0);

  // Closing the holder stops its job; ours runs.
  holder.close();
  CHECK(f.wait(fence) == TESSEL_JOB_DONE);
  CHECK(std::memcmp(src.host, dst.host, 4096) == 0);
  CHECK(f.ioctl(TESSEL_IOCTL_PERF, &p) == 0);
  d.handle = src.handle;
  CHECK(f.ioctl(TESSEL_IOCTL_BO_DESTROY, &d) == 0);
  d.handle = dst.handle;
  CHECK(f.ioctl(TESSEL_IOCTL_BO_DESTROY, &d) == 0);
}

TEST_CASE("SUBMIT: -EAGAIN once TESSEL_MAX_PENDING_JOBS are queued or running") {
  SimNpu npu(default_config());
  File holder(npu), f(npu), g(npu);
  const Bo scratch = holder.bo(4096), src = f.bo(4096), dst = f.bo(4096), g_buf = g.bo(4096);
  hang_device(npu, holder, scratch);  // one running
  std::vector<uint64_t> fences;
  for (uint32_t i = 1; i < TESSEL_MAX_PENDING_JOBS; ++i) {
    fences.push_back(f.run(copy_job(src.va, dst.va, 64), {src.handle, dst.handle}));
  }
  tessel_submit s{};
  CHECK(f.submit(copy_job(src.va, dst.va, 64), {src.handle, dst.handle}, &s) == -EAGAIN);
  CHECK(s.fence == 0);
  // The limit is the device's, not the context's.
  CHECK(g.submit(encode({load(g_buf.va, 0, 64), isa::End{}}), {g_buf.handle}, &s) == -EAGAIN);
  holder.close();
  CHECK(f.wait(fences.front()) == TESSEL_JOB_DONE);
  CHECK(g.submit(encode({load(g_buf.va, 0, 64), isa::End{}}), {g_buf.handle}, &s) == 0);
  CHECK(g.wait(s.fence) == TESSEL_JOB_DONE);
  for (const uint64_t fence : fences) CHECK(f.wait(fence) == TESSEL_JOB_DONE);
}

TEST_CASE("JOB_STATUS keeps each context's last TESSEL_JOB_HISTORY jobs") {
  SimNpu npu(default_config());
  File a(npu), b(npu);
  const std::vector<uint32_t> end = encode({isa::End{}});
  const uint64_t a_fence = a.run(end, {});
  REQUIRE(a.wait(a_fence) == TESSEL_JOB_DONE);
  // Another context finishes many more jobs than any history: A's one record stays.
  const uint32_t n = 4 * TESSEL_JOB_HISTORY + 100;
  std::vector<uint64_t> b_fences;
  for (uint32_t i = 0; i < n; ++i) {
    b_fences.push_back(b.run(end, {}));
    // Wait now and then so that the pending-job limit is never reached.
    if (i % 32 == 31) REQUIRE(b.wait(b_fences.back()) == TESSEL_JOB_DONE);
  }
  REQUIRE(b.wait(b_fences.back()) == TESSEL_JOB_DONE);
  tessel_job_status_args js{};
  js.fence = a_fence;
  CHECK(a.ioctl(TESSEL_IOCTL_JOB_STATUS, &js) == 0);
  CHECK(js.status == TESSEL_JOB_DONE);
  // B's last TESSEL_JOB_HISTORY are kept; its oldest are gone (-ENOENT), not kept forever.
  int missing = 0;
  for (uint32_t i = n - TESSEL_JOB_HISTORY; i < n; ++i) {
    js.fence = b_fences[i];
    if (b.ioctl(TESSEL_IOCTL_JOB_STATUS, &js) != 0 || js.status != TESSEL_JOB_DONE) ++missing;
  }
  CHECK(missing == 0);
  js.fence = b_fences.front();
  CHECK(b.ioctl(TESSEL_IOCTL_JOB_STATUS, &js) == -ENOENT);
  tessel_wait w{};
  w.fence = b_fences.front();
  CHECK(b.ioctl(TESSEL_IOCTL_WAIT, &w) == -ENOENT);
}

// ===================================================================== SUBMIT arguments

TEST_CASE("SUBMIT: command range, counts, handles, fences and pointers") {
  SimNpu npu(default_config());
  File f(npu), g(npu);
  const Bo src = f.bo(4096), dst = f.bo(4096), small_cmd = f.bo(4096);
  const std::vector<uint32_t> words = copy_job(src.va, dst.va, 256);
  const uint32_t bytes = static_cast<uint32_t>(words.size() * 4);
  std::memcpy(small_cmd.host, words.data(), bytes);
  std::memcpy(small_cmd.host + 1024, words.data(), bytes);
  const std::vector<uint32_t> handles = {src.handle, dst.handle};

  const auto base = [&] {
    tessel_submit s{};
    s.cmd_handle = small_cmd.handle;
    s.cmd_bytes = bytes;
    s.bo_count = 2;
    s.bo_handles = reinterpret_cast<uintptr_t>(handles.data());
    return s;
  };
  const auto try_submit = [&](tessel_submit s) {
    const int rc = f.ioctl(TESSEL_IOCTL_SUBMIT, &s);
    if (rc != 0) CHECK(s.fence == 0);
    return rc;
  };

  tessel_submit s = base();
  s.cmd_bytes = 0;
  CHECK(try_submit(s) == -EINVAL);
  s = base();
  s.cmd_bytes = bytes - 2;  // not a whole number of words
  CHECK(try_submit(s) == -EINVAL);
  s = base();
  s.cmd_offset = 2;  // misaligned
  CHECK(try_submit(s) == -EINVAL);
  s = base();
  s.cmd_offset = 4096 - bytes + 4;  // runs past the command BO's end
  CHECK(try_submit(s) == -EINVAL);
  s = base();
  s.cmd_offset = 4096;  // starts at its end
  CHECK(try_submit(s) == -EINVAL);
  s = base();
  s.cmd_offset = 0xFFFFFFFCu;  // would wrap in 32 bits
  CHECK(try_submit(s) == -EINVAL);
  s = base();
  s.cmd_bytes = TESSEL_MAX_CMD_BYTES + 4;
  CHECK(try_submit(s) == -EINVAL);
  s = base();
  s.cmd_bytes = 8192;  // longer than the command BO
  CHECK(try_submit(s) == -EINVAL);
  s = base();
  s.bo_count = TESSEL_MAX_JOB_BOS + 1;
  CHECK(try_submit(s) == -EINVAL);
  s = base();
  std::vector<uint64_t> many(TESSEL_MAX_IN_FENCES + 1, 1);
  s.in_fences = reinterpret_cast<uintptr_t>(many.data());
  s.in_fence_count = TESSEL_MAX_IN_FENCES + 1;
  CHECK(try_submit(s) == -EINVAL);

  // Unreadable arrays.
  s = base();
  s.bo_handles = 0;
  CHECK(try_submit(s) == -EFAULT);
  s = base();
  s.in_fence_count = 1;
  s.in_fences = 0;
  CHECK(try_submit(s) == -EFAULT);

  // Unknown handles: the command BO, a listed BO, another file's handle.
  s = base();
  s.cmd_handle = 0;
  CHECK(try_submit(s) == -ENOENT);
  s = base();
  s.cmd_handle = 999;
  CHECK(try_submit(s) == -ENOENT);
  const std::vector<uint32_t> unknown = {src.handle, 999};
  s = base();
  s.bo_handles = reinterpret_cast<uintptr_t>(unknown.data());
  CHECK(try_submit(s) == -ENOENT);
  const Bo g1 = g.bo(4096), g2 = g.bo(4096), g3 = g.bo(4096), g4 = g.bo(4096);
  (void)g1;
  (void)g2;
  (void)g3;
  const std::vector<uint32_t> foreign = {src.handle, dst.handle, g4.handle};
  REQUIRE(g4.handle > small_cmd.handle);  // a handle that exists in g only
  s = base();
  s.bo_count = 3;
  s.bo_handles = reinterpret_cast<uintptr_t>(foreign.data());
  CHECK(try_submit(s) == -ENOENT);

  // Unknown fences: 0, and one not handed out yet.
  for (const uint64_t bad : {uint64_t{0}, uint64_t{1}, uint64_t{1} << 40}) {
    INFO("in-fence " << bad);
    s = base();
    s.in_fences = reinterpret_cast<uintptr_t>(&bad);
    s.in_fence_count = 1;
    CHECK(try_submit(s) == -ENOENT);
  }

  // None of the refused submissions queued a job: the first accepted one has fence 1.
  s = base();
  REQUIRE(f.ioctl(TESSEL_IOCTL_SUBMIT, &s) == 0);
  CHECK(s.fence == 1);
  CHECK(f.wait(s.fence) == TESSEL_JOB_DONE);
  // A stream at an aligned offset inside the BO, and an in-fence of any earlier job.
  tessel_submit at = base();
  at.cmd_offset = 1024;
  const uint64_t dep = s.fence;
  at.in_fences = reinterpret_cast<uintptr_t>(&dep);
  at.in_fence_count = 1;
  REQUIRE(f.ioctl(TESSEL_IOCTL_SUBMIT, &at) == 0);
  CHECK(at.fence == 2);
  CHECK(f.wait(at.fence) == TESSEL_JOB_DONE);
  // The stream exactly filling the command BO's end.
  tessel_submit end = base();
  end.cmd_offset = 4096 - bytes;
  std::memcpy(small_cmd.host + end.cmd_offset, words.data(), bytes);
  REQUIRE(f.ioctl(TESSEL_IOCTL_SUBMIT, &end) == 0);
  CHECK(f.wait(end.fence) == TESSEL_JOB_DONE);

  // WAIT, JOB_STATUS and PERF: unknown fences, and another file's fence.
  for (const uint64_t bad : {uint64_t{0}, uint64_t{99}}) {
    tessel_wait w{};
    w.fence = bad;
    CHECK(f.ioctl(TESSEL_IOCTL_WAIT, &w) == -ENOENT);
    tessel_job_status_args js{};
    js.fence = bad;
    CHECK(f.ioctl(TESSEL_IOCTL_JOB_STATUS, &js) == -ENOENT);
    uint64_t v = 0;
    tessel_perf p{};
    p.fence = bad;
    p.values = reinterpret_cast<uintptr_t>(&v);
    p.count = 1;
    CHECK(f.ioctl(TESSEL_IOCTL_PERF, &p) == -ENOENT);
  }
  tessel_wait w{};
  w.fence = s.fence;
  CHECK(g.ioctl(TESSEL_IOCTL_WAIT, &w) == -ENOENT);
  tessel_job_status_args js{};
  js.fence = s.fence;
  CHECK(g.ioctl(TESSEL_IOCTL_JOB_STATUS, &js) == -ENOENT);

  // PERF: an unwritable array is -EFAULT; count beyond NUM_PERF copies NUM_PERF values.
  tessel_perf p{};
  p.fence = s.fence;
  p.values = 0;
  p.count = 1;
  CHECK(f.ioctl(TESSEL_IOCTL_PERF, &p) == -EFAULT);
  std::vector<uint64_t> values(TESSEL_PERF_COUNT + 4, 0xABABABABABABABABull);
  p.values = reinterpret_cast<uintptr_t>(values.data());
  p.count = static_cast<uint32_t>(values.size());
  REQUIRE(f.ioctl(TESSEL_IOCTL_PERF, &p) == 0);
  CHECK(values[TESSEL_PERF_JOBS] == 1);
  for (size_t i = TESSEL_PERF_COUNT; i < values.size(); ++i) CHECK(values[i] == 0xABABABABABABABABull);
  std::vector<uint64_t> one(2, 7);
  p.values = reinterpret_cast<uintptr_t>(one.data());
  p.count = 1;
  REQUIRE(f.ioctl(TESSEL_IOCTL_PERF, &p) == 0);
  CHECK(one[0] == values[0]);
  CHECK(one[1] == 7);
}

// ===================================================================== validation

TEST_CASE("SUBMIT validation: malformed streams are -EINVAL with the command's offset") {
  SimNpu npu(default_config());
  File f(npu);
  const Bo src = f.bo(8192), dst = f.bo(8192);
  const std::vector<uint32_t> bos = {src.handle, dst.handle};
  const auto refuse = [&](std::vector<uint32_t> words, int err, uint32_t reason,
                          uint32_t offset) {
    tessel_submit s{};
    CHECK(f.submit(words, bos, &s) == err);
    CHECK(s.error_reason == reason);
    CHECK(s.error_offset == offset);
    CHECK(s.fence == 0);
  };
  const std::vector<uint32_t> good = copy_job(src.va, dst.va, 64);
  const uint32_t nop = TESSEL_OP_NOP | 1u << 8;
  const uint32_t end = TESSEL_OP_END | 1u << 8;

  SECTION("unknown opcodes") {
    // Every opcode the contract does not define (it grows: ask the generated header).
    int unknown = 0;
    for (uint32_t op = 1; op < 256; ++op) {
      if (tessel_cmd_words(op) != 0) continue;
      ++unknown;
      INFO("opcode " << op);
      std::vector<uint32_t> w = good;
      w.insert(w.begin() + 14, op | 1u << 8);  // after the DMA_LOAD and SEM_SIGNAL
      refuse(w, -EINVAL, TESSEL_SUBMIT_BAD_OPCODE, 56);
      refuse({op | 1u << 8, end}, -EINVAL, TESSEL_SUBMIT_BAD_OPCODE, 0);
    }
    CHECK(unknown > 200);
    CHECK(tessel_cmd_words(0xFF) == 0);
  }
  SECTION("wrong lengths") {
    refuse({nop, TESSEL_OP_NOP | 2u << 8, 0, end}, -EINVAL, TESSEL_SUBMIT_BAD_LENGTH, 4);
    refuse({TESSEL_OP_NOP, end}, -EINVAL, TESSEL_SUBMIT_BAD_LENGTH, 0);  // length 0
    std::vector<uint32_t> w = good;
    w[12] = (w[12] & ~0xFF00u) | 3u << 8;  // SEM_SIGNAL (2 words) claiming 3
    refuse(w, -EINVAL, TESSEL_SUBMIT_BAD_LENGTH, 48);
    w = good;
    w[0] = (w[0] & ~0xFF00u) | 11u << 8;  // DMA_LOAD claiming 11 of its 12 words
    refuse(w, -EINVAL, TESSEL_SUBMIT_BAD_LENGTH, 0);
    // A DMA_LOAD cut short by the end of the stream (its header is right).
    std::vector<uint32_t> cut(good.begin(), good.begin() + 6);
    cut.insert(cut.begin(), nop);
    refuse(cut, -EINVAL, TESSEL_SUBMIT_BAD_LENGTH, 4);
    refuse({TESSEL_OP_END | 2u << 8, 0}, -EINVAL, TESSEL_SUBMIT_BAD_LENGTH, 0);
  }
  SECTION("reserved bits and zero DMA dimensions") {
    refuse({nop, nop | 1u << 16, end}, -EINVAL, TESSEL_SUBMIT_BAD_FIELD, 4);
    std::vector<uint32_t> w = good;
    w[16] |= 1u << 31;  // DMA_STORE's header
    refuse(w, -EINVAL, TESSEL_SUBMIT_BAD_FIELD, kStoreOffset);
    w = good;
    w[5] |= 1u << 16;  // DMA_LOAD's reserved half-word
    refuse(w, -EINVAL, TESSEL_SUBMIT_BAD_FIELD, 0);
    isa::DmaLoad zero = load(src.va, 0, 0);  // len0 0
    refuse(encode({isa::Nop{}, zero, isa::End{}}), -EINVAL, TESSEL_SUBMIT_BAD_FIELD, 4);
    zero = load(src.va, 0, 64);
    zero.n2 = 0;
    refuse(encode({isa::Nop{}, zero, isa::End{}}), -EINVAL, TESSEL_SUBMIT_BAD_FIELD, 4);
    isa::DmaStore zs = store(dst.va, 0, 64);
    zs.n3 = 0;
    refuse(encode({isa::Nop{}, isa::Nop{}, zs, isa::End{}}), -EINVAL, TESSEL_SUBMIT_BAD_FIELD, 8);
  }
  SECTION("reserved fields of every command that has them") {
    // Each command alone after a NOP, with one reserved field set: BAD_FIELD at offset 4
    // (operands are the device's business; the reserved bits are the contract's).
    const auto bad = [&](const char* name, const isa::Command& cmd) {
      INFO(name);
      refuse(encode({isa::Nop{}, cmd, isa::End{}}), -EINVAL, TESSEL_SUBMIT_BAD_FIELD, 4);
    };
    isa::SemSignal ss = signal(isa::Engine::kMac, 0);
    ss.reserved = 1;
    bad("SEM_SIGNAL", ss);
    isa::SemWait sw = wait_on(isa::Engine::kMac, 0);
    sw.reserved = 0x8000;
    bad("SEM_WAIT", sw);
    isa::Fence fe;
    fe.reserved = 1;
    bad("FENCE.reserved", fe);
    fe = isa::Fence{};
    fe.reserved2 = 1;
    bad("FENCE.reserved2", fe);
    isa::Conv cv;
    cv.reserved = 1;
    bad("CONV", cv);
    isa::Dwconv dw;
    dw.reserved = 2;
    bad("DWCONV", dw);
    for (int i = 0; i < 3; ++i) {
      isa::Matmul mm;
      isa::Eltwise el;
      isa::Mean mn;
      if (i == 0) mm.reserved = el.reserved = mn.reserved = 1;
      if (i == 1) mm.reserved2 = el.reserved2 = mn.reserved2 = 1;
      if (i == 2) mm.reserved3 = el.reserved3 = mn.reserved3 = 1;
      bad("MATMUL", mm);
      bad("ELTWISE", el);
      bad("MEAN", mn);
    }
    isa::Pool po;
    po.reserved = 1;
    bad("POOL", po);
    isa::Resize rs;
    rs.reserved = 1;
    bad("RESIZE", rs);
#ifdef TESSEL_OP_RESIZE_ROWS  // contract 1.2
    isa::ResizeRows rr;
    rr.reserved = 1;
    bad("RESIZE_ROWS.reserved", rr);
    rr = isa::ResizeRows{};
    rr.reserved2 = 1;
    bad("RESIZE_ROWS.reserved2", rr);
#endif
#ifdef TESSEL_OP_SOFTMAX  // contract 1.2; the hand-kept table the generated mask replaced missed it
    for (int i = 0; i < 3; ++i) {
      isa::Softmax sm;
      if (i == 0) sm.reserved = 1;
      if (i == 1) sm.reserved2 = 0x8000;
      if (i == 2) sm.reserved3 = 1;
      bad("SOFTMAX", sm);
    }
#endif
    // Control: a semaphore handshake with clear reserved fields is accepted and runs.
    const uint64_t fence = f.run(encode({isa::Nop{}, signal(isa::Engine::kMac, 3),
                                         wait_on(isa::Engine::kVec, 3), isa::End{}}),
                                 {});
    CHECK(f.wait(fence) == TESSEL_JOB_DONE);
  }
  SECTION("a stream that does not end with END") {
    std::vector<uint32_t> w = good;
    w.pop_back();
    refuse(w, -EINVAL, TESSEL_SUBMIT_NO_END, static_cast<uint32_t>(w.size() * 4));
    refuse({nop}, -EINVAL, TESSEL_SUBMIT_NO_END, 4);
    // END before the last command: the END's offset.
    w = good;
    w.insert(w.begin() + 12, end);
    refuse(w, -EINVAL, TESSEL_SUBMIT_NO_END, 48);
    refuse({end, end}, -EINVAL, TESSEL_SUBMIT_NO_END, 0);
  }
  SECTION("the well-formed stream itself is accepted and runs") {
    const uint64_t fence = f.run(good, bos);
    CHECK(f.wait(fence) == TESSEL_JOB_DONE);
    const uint64_t single = f.run({end}, {});
    CHECK(f.wait(single) == TESSEL_JOB_DONE);
  }
}

TEST_CASE("SUBMIT validation: DMAs outside the listed BOs or into read-only ones are -EACCES") {
  SimNpu npu(default_config());
  File f(npu), other(npu);
  const Bo a = f.bo(8192), b = f.bo(4096), unlisted = f.bo(4096), ro = f.bo(4096, true);
  // Two adjacent BOs at chosen addresses: a DMA spanning both is inside neither.
  const Bo lo = f.bo(4096, false, 0x30000000), hi = f.bo(4096, false, 0x30001000);
  const Bo foreign = other.bo(4096, false, 0x40000000);  // another context's buffer
  const std::vector<uint32_t> bos = {a.handle, b.handle, ro.handle, lo.handle, hi.handle};

  // Each case: the DMA is the second command (offset 4, after a NOP) or, for the stores,
  // the fourth (kStoreOffset in a copy job).
  const auto check_load = [&](isa::DmaLoad ld, int err, uint32_t reason) {
    tessel_submit s{};
    CHECK(f.submit(encode({isa::Nop{}, ld, isa::End{}}), bos, &s) == err);
    CHECK(s.error_reason == reason);
    CHECK(s.error_offset == (err == 0 ? 0u : 4u));
    if (err == 0) CHECK(f.wait(s.fence) == TESSEL_JOB_DONE);
  };
  const auto check_store = [&](isa::DmaStore st, int err, uint32_t reason) {
    tessel_submit s{};
    CHECK(f.submit(encode({load(a.va, 0, 64), signal(isa::Engine::kDmaIn, 0),
                           wait_on(isa::Engine::kDmaOut, 0), st, isa::End{}}),
                   bos, &s) == err);
    CHECK(s.error_reason == reason);
    CHECK(s.error_offset == (err == 0 ? 0u : kStoreOffset));
    if (err == 0) CHECK(f.wait(s.fence) == TESSEL_JOB_DONE);
  };

  SECTION("inside: the whole BO, its last byte, a strided pattern ending at its end") {
    check_load(load(a.va, 0, 8192), 0, TESSEL_SUBMIT_OK);
    check_load(load(a.va + 8191, 0, 1), 0, TESSEL_SUBMIT_OK);
    isa::DmaLoad strided = load(a.va, 0, 64);
    strided.n1 = 4;
    strided.dram_stride1 = 1024;
    strided.n2 = 2;
    strided.dram_stride2 = 8192 - 3 * 1024 - 64;  // last row ends exactly at the end
    strided.sram_stride1 = 64;
    strided.sram_stride2 = 256;
    check_load(strided, 0, TESSEL_SUBMIT_OK);
    check_load(load(ro.va, 0, 4096), 0, TESSEL_SUBMIT_OK);  // loads from read-only: fine
    check_store(store(b.va, 0, 4096), 0, TESSEL_SUBMIT_OK);
  }
  SECTION("outside: past the end, before the start, unlisted, another context's address") {
    check_load(load(a.va + 8192 - 63, 0, 64), -EACCES, TESSEL_SUBMIT_OUT_OF_BOUNDS);
    check_load(load(a.va, 0, 8193), -EACCES, TESSEL_SUBMIT_OUT_OF_BOUNDS);
    check_load(load(a.va - 1, 0, 2), -EACCES, TESSEL_SUBMIT_OUT_OF_BOUNDS);
    check_load(load(unlisted.va, 0, 64), -EACCES, TESSEL_SUBMIT_OUT_OF_BOUNDS);
    check_load(load(foreign.va, 0, 64), -EACCES, TESSEL_SUBMIT_OUT_OF_BOUNDS);
    check_load(load(0, 0, 64), -EACCES, TESSEL_SUBMIT_OUT_OF_BOUNDS);
    check_load(load(TESSEL_VA_RESERVED, 0, 64), -EACCES, TESSEL_SUBMIT_OUT_OF_BOUNDS);  // cmd window
    check_load(load(0xFFFFFFC0u, 0, 64), -EACCES, TESSEL_SUBMIT_OUT_OF_BOUNDS);
    check_load(load(lo.va + 4032, 0, 128), -EACCES, TESSEL_SUBMIT_OUT_OF_BOUNDS);  // spans lo|hi
    // Strided: only the last row leaves the BO; and strides with the third dimension.
    isa::DmaLoad strided = load(a.va, 0, 64);
    strided.n1 = 4;
    strided.dram_stride1 = 2048;  // rows at 0, 2048, 4096, 6144: the last ends at 6208
    strided.n2 = 2;
    strided.dram_stride2 = 2048;  // ... plus 2048: 8256 > 8192
    strided.sram_stride1 = 64;
    strided.sram_stride2 = 256;
    check_load(strided, -EACCES, TESSEL_SUBMIT_OUT_OF_BOUNDS);
    isa::DmaLoad deep = load(a.va, 0, 16);
    deep.n3 = 3;
    deep.dram_stride3 = 0x10000000;  // far beyond every BO
    deep.sram_stride3 = 16;
    check_load(deep, -EACCES, TESSEL_SUBMIT_OUT_OF_BOUNDS);
    isa::DmaLoad wrap = load(0xFFFFF000u, 0, 16);
    wrap.n1 = 2;
    wrap.dram_stride1 = 0x1000;  // 32-bit wrap onto a.va would be a bug
    check_load(wrap, -EACCES, TESSEL_SUBMIT_OUT_OF_BOUNDS);
    check_store(store(b.va + 4000, 0, 97), -EACCES, TESSEL_SUBMIT_OUT_OF_BOUNDS);
    check_store(store(foreign.va, 0, 64), -EACCES, TESSEL_SUBMIT_OUT_OF_BOUNDS);
  }
  SECTION("stores into a read-only BO") {
    check_store(store(ro.va, 0, 64), -EACCES, TESSEL_SUBMIT_READ_ONLY);
    check_store(store(ro.va + 4095, 0, 1), -EACCES, TESSEL_SUBMIT_READ_ONLY);
  }
  SECTION("the first refused command is the one reported") {
    tessel_submit s{};
    CHECK(f.submit(encode({load(a.va, 0, 64), isa::Nop{}, load(a.va + 8190, 0, 64),
                           load(unlisted.va, 0, 4), isa::End{}}),
                   bos, &s) == -EACCES);
    CHECK(s.error_reason == TESSEL_SUBMIT_OUT_OF_BOUNDS);
    CHECK(s.error_offset == 52);
    // An invalid command before an out-of-bounds DMA: -EINVAL for the first.
    CHECK(f.submit(encode({load(a.va, 0, 64)}), bos, &s) == -EINVAL);
    CHECK(s.error_reason == TESSEL_SUBMIT_NO_END);
  }
  // The foreign buffer was never touched by any of this.
  CHECK(std::all_of(foreign.host, foreign.host + foreign.size, [](uint8_t v) { return v == 0; }));
}
