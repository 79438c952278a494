#pragma once
// A minimal host for tests and benchmarks of the device model alone: a bump allocator of
// physical pages, page tables for one context, one job ring, and polling submission.
// It is NOT the driver (driver/ is): no validation, no isolation, no recovery — just
// enough to put bytes and command streams in front of the device.

#include <cstdint>
#include <utility>
#include <vector>

#include "tessel/sim/npu/device.hpp"

namespace tessel::sim::npu {

class SimpleHost {
 public:
  // Sets up the ring (16 entries) and context `context`'s level-1 table, allocating
  // physical memory upwards from `phys_base` (two hosts on one device need disjoint
  // ranges; the last one constructed owns the ring).
  explicit SimpleHost(Device& device, uint32_t context = 0, uint64_t phys_base = 1ull << 20);

  // Allocates `bytes` of physical memory, maps it at a fresh NPU virtual address in the
  // context (writable unless `read_only`) and returns that address.
  // Automatic addresses start at 0x10000, leave a guard page after each buffer and skip
  // over every range placed with map_at().
  uint32_t map(uint64_t bytes, bool read_only = false);
  // Allocates `bytes` of physical memory and maps it at exactly `va` (4 KiB aligned), for
  // command streams compiled against fixed addresses (loadable regions). tessel::Error
  // when `va` is not aligned, the range leaves the 32-bit space or overlaps anything
  // mapped or reserved before. Returns `va`.
  uint32_t map_at(uint32_t va, uint64_t bytes, bool read_only = false);
  // Reserves virtual addresses without mapping them (to provoke faults).
  uint32_t reserve_unmapped(uint64_t bytes);
  void write(uint32_t va, const void* src, uint64_t n);
  void read(uint32_t va, void* dst, uint64_t n) const;
  uint64_t phys(uint32_t va) const;  // of a mapped address

  // Writes the command stream to a fresh buffer and a ring entry for it; returns the new
  // RING_TAIL value, which the caller writes (then rings DOORBELL) itself.
  uint32_t enqueue(const std::vector<uint32_t>& words);
  // enqueue() + RING_TAIL + DOORBELL through Device::write_reg. Returns the job id.
  uint32_t submit(const std::vector<uint32_t>& words);
  // submit() + run_until_idle(); returns the cycles the job took (device time).
  uint64_t run(const std::vector<uint32_t>& words, uint64_t max_cycles = 1ull << 40);

  Device& device() { return device_; }

 private:
  uint64_t alloc_phys(uint64_t bytes, uint64_t align);
  void map_page(uint32_t va, uint64_t phys, bool writable);
  // The next automatic address >= next_va_ whose `span` bytes miss every fixed range.
  uint32_t next_free_va(uint64_t span) const;

  Device& device_;
  uint32_t context_;
  uint64_t next_phys_;
  uint32_t next_va_ = 0x10000;
  // [start, end) of every map_at() range (automatic addresses avoid them) and of every
  // automatic map()/reserve_unmapped() range with its guard page (map_at() refuses them).
  std::vector<std::pair<uint64_t, uint64_t>> fixed_, automatic_;
  uint64_t ring_ = 0, l1_ = 0;
  uint32_t tail_ = 0, next_job_ = 1;
};

}  // namespace tessel::sim::npu
