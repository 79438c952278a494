#include "tessel/sim/npu/mmu.hpp"

#include "tessel_npu_isa.h"

namespace tessel::sim::npu {

Mmu::Mmu(const MmuConfig& config, const PhysicalMemory& memory)
    : config_(config), memory_(memory), bases_(config.contexts, 0) {
  tlb_.reserve(config.tlb_entries);
}

Translation Mmu::translate(uint32_t context, uint32_t va, bool write) {
  Translation t;
  if (context >= bases_.size() || bases_[context] == 0) return t;
  const uint32_t vpage = va >> TESSEL_PAGE_SHIFT;
  const uint64_t page_off = va & ((1u << TESSEL_PAGE_SHIFT) - 1);
  ++use_clock_;
  for (TlbEntry& e : tlb_) {
    if (e.context == context && e.vpage == vpage) {
      if (write && !e.writable) return t;
      e.last_use = use_clock_;
      t.ok = true;
      t.phys = (e.ppage << TESSEL_PAGE_SHIFT) | page_off;
      return t;
    }
  }
  // Walk: level 1 indexed by va[31:22], level 2 by va[21:12]; 8-byte entries
  // {u32 flags, u32 phys_page}.
  ++misses_;
  t.cycles = config_.walk_cycles;
  const uint64_t l1 = bases_[context] + uint64_t{va >> 22} * TESSEL_PTE_BYTES;
  if (!memory_.contains(l1, 8)) return t;
  const uint64_t e1 = memory_.read_u64(l1);
  if (!(e1 & TESSEL_PTE_VALID)) return t;
  const uint64_t l2 =
      (e1 >> 32 << TESSEL_PAGE_SHIFT) + uint64_t{(va >> 12) & 0x3FFu} * TESSEL_PTE_BYTES;
  if (!memory_.contains(l2, 8)) return t;
  const uint64_t e2 = memory_.read_u64(l2);
  if (!(e2 & TESSEL_PTE_VALID)) return t;
  const bool writable = (e2 & TESSEL_PTE_WRITABLE) != 0;
  const uint64_t ppage = e2 >> 32;
  if (!memory_.contains(ppage << TESSEL_PAGE_SHIFT, 1u << TESSEL_PAGE_SHIFT)) return t;
  // Fill (LRU replacement).
  TlbEntry fill{context, vpage, ppage, writable, use_clock_};
  if (tlb_.size() < config_.tlb_entries) {
    tlb_.push_back(fill);
  } else if (!tlb_.empty()) {
    TlbEntry* victim = &tlb_[0];
    for (TlbEntry& e : tlb_) {
      if (e.last_use < victim->last_use) victim = &e;
    }
    *victim = fill;
  }
  if (write && !writable) return t;
  t.ok = true;
  t.phys = (ppage << TESSEL_PAGE_SHIFT) | page_off;
  return t;
}

}  // namespace tessel::sim::npu
