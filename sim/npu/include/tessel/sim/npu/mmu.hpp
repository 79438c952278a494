#pragma once
// The NPU MMU: per-context two-level page tables in device memory (format: docs/isa.md,
// struct PTE), 4 KiB pages over a 32-bit NPU virtual address space, and one fully
// associative LRU TLB tagged with the context. A miss costs `walk_cycles` (the walk reads
// two PTEs; their DRAM traffic is not modelled separately).

#include <cstdint>
#include <vector>

#include "tessel/sim/npu/config.hpp"
#include "tessel/sim/npu/memory.hpp"

namespace tessel::sim::npu {

struct Translation {
  bool ok = false;
  uint64_t phys = 0;     // physical address of `va` when ok
  uint32_t cycles = 0;   // 0 on a TLB hit, walk_cycles on a miss
};

class Mmu {
 public:
  Mmu(const MmuConfig& config, const PhysicalMemory& memory);

  void set_table_base(uint32_t context, uint64_t phys) { bases_.at(context) = phys; }
  uint64_t table_base(uint32_t context) const { return bases_.at(context); }
  // Translates `va` in `context`; !ok when a level is not VALID or a write hits a page
  // without WRITABLE, or the table lies outside memory.
  Translation translate(uint32_t context, uint32_t va, bool write);
  void flush() { tlb_.clear(); }
  uint64_t misses() const { return misses_; }
  void reset_counters() { misses_ = 0; }

 private:
  struct TlbEntry {
    uint32_t context, vpage;
    uint64_t ppage;
    bool writable;
    uint64_t last_use;
  };
  MmuConfig config_;
  const PhysicalMemory& memory_;
  std::vector<uint64_t> bases_;
  std::vector<TlbEntry> tlb_;
  uint64_t use_clock_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace tessel::sim::npu
