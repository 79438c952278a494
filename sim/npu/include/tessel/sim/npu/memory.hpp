#pragma once
// Device physical memory: the bytes behind the DRAM timing model. One anonymous mapping
// reserved without backing (MAP_NORESERVE): the host OS supplies zero pages on first
// touch, so a 1 GiB device costs only what is touched, and the bytes are contiguous, so a
// driver port can hand out host pointers to them (mmap of a buffer object). Timing is not
// here: the DMA engine times accesses through mem::MemorySystem and moves the bytes here.

#include <cstddef>
#include <cstdint>

namespace tessel::sim::npu {

class PhysicalMemory {
 public:
  // tessel::Error when the host cannot reserve `size_bytes` of address space.
  explicit PhysicalMemory(uint64_t size_bytes);
  ~PhysicalMemory();
  PhysicalMemory(const PhysicalMemory&) = delete;
  PhysicalMemory& operator=(const PhysicalMemory&) = delete;

  uint64_t size() const { return size_; }
  // tessel::Error when [addr, addr + n) is not inside the memory.
  void read(uint64_t addr, void* dst, size_t n) const;
  void write(uint64_t addr, const void* src, size_t n);
  uint32_t read_u32(uint64_t addr) const;
  uint64_t read_u64(uint64_t addr) const;
  void write_u32(uint64_t addr, uint32_t v);
  void write_u64(uint64_t addr, uint64_t v);
  bool contains(uint64_t addr, uint64_t n) const { return addr <= size_ && n <= size_ - addr; }
  // Host pointer to [addr, addr + n) (what a mapping of those pages gives the host CPU);
  // tessel::Error when the range is not inside the memory.
  uint8_t* host_ptr(uint64_t addr, uint64_t n);

 private:
  void check(uint64_t addr, uint64_t n, const char* what) const;
  uint64_t size_;
  uint8_t* base_ = nullptr;
};

}  // namespace tessel::sim::npu
