#pragma once
// Device physical memory: the bytes behind the DRAM timing model. Sparse (1 MiB chunks
// allocated on first write; unwritten bytes read as zero) so a 1 GiB device costs only
// what is touched. Timing is not here: the DMA engine times accesses through
// mem::MemorySystem and moves the bytes here.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace tessel::sim::npu {

class PhysicalMemory {
 public:
  explicit PhysicalMemory(uint64_t size_bytes);

  uint64_t size() const { return size_; }
  // tessel::Error when [addr, addr + n) is not inside the memory.
  void read(uint64_t addr, void* dst, size_t n) const;
  void write(uint64_t addr, const void* src, size_t n);
  uint32_t read_u32(uint64_t addr) const;
  uint64_t read_u64(uint64_t addr) const;
  void write_u32(uint64_t addr, uint32_t v);
  void write_u64(uint64_t addr, uint64_t v);
  bool contains(uint64_t addr, uint64_t n) const { return addr <= size_ && n <= size_ - addr; }

 private:
  static constexpr unsigned kChunkShift = 20;
  static constexpr uint64_t kChunk = uint64_t{1} << kChunkShift;
  void check(uint64_t addr, uint64_t n, const char* what) const;
  uint64_t size_;
  std::vector<std::unique_ptr<uint8_t[]>> chunks_;
};

}  // namespace tessel::sim::npu
