#include "tessel/sim/npu/simple_host.hpp"

#include <cstdio>
#include <string>

#include "tessel/ir/error.hpp"
#include "tessel_npu_isa.h"

namespace tessel::sim::npu {

SimpleHost::SimpleHost(Device& device, uint32_t context, uint64_t phys_base)
    : device_(device), context_(context), next_phys_(phys_base) {
  ring_ = alloc_phys(16 * TESSEL_RING_ENTRY_BYTES, 4096);
  l1_ = alloc_phys(8192, 4096);
  device_.write_reg(TESSEL_REG_RING_BASE_LO, static_cast<uint32_t>(ring_));
  device_.write_reg(TESSEL_REG_RING_BASE_HI, static_cast<uint32_t>(ring_ >> 32));
  device_.write_reg(TESSEL_REG_RING_SIZE, 16);
  device_.write_reg(TESSEL_REG_PT_BASE_LO(context), static_cast<uint32_t>(l1_));
  device_.write_reg(TESSEL_REG_PT_BASE_HI(context), static_cast<uint32_t>(l1_ >> 32));
  device_.write_reg(TESSEL_REG_IRQ_MASK, 0xF);
}

uint64_t SimpleHost::alloc_phys(uint64_t bytes, uint64_t align) {
  next_phys_ = (next_phys_ + align - 1) / align * align;
  const uint64_t p = next_phys_;
  next_phys_ += bytes;
  if (next_phys_ > device_.memory().size()) throw Error("SimpleHost: device memory exhausted");
  return p;
}

void SimpleHost::map_page(uint32_t va, uint64_t phys, bool writable) {
  PhysicalMemory& m = device_.memory();
  const uint64_t e1 = l1_ + uint64_t{va >> 22} * 8;
  uint64_t pte1 = m.read_u64(e1);
  if (!(pte1 & TESSEL_PTE_VALID)) {
    const uint64_t l2 = alloc_phys(8192, 4096);
    pte1 = (l2 >> 12) << 32 | TESSEL_PTE_VALID;
    m.write_u64(e1, pte1);
  }
  const uint64_t e2 = (pte1 >> 32 << 12) + uint64_t{(va >> 12) & 0x3FF} * 8;
  m.write_u64(e2, (phys >> 12) << 32 | TESSEL_PTE_VALID | (writable ? TESSEL_PTE_WRITABLE : 0));
}

namespace {
bool overlaps(const std::vector<std::pair<uint64_t, uint64_t>>& ranges, uint64_t start,
              uint64_t end) {
  for (const auto& r : ranges) {
    if (start < r.second && r.first < end) return true;
  }
  return false;
}
}  // namespace

uint32_t SimpleHost::next_free_va(uint64_t span) const {
  uint64_t va = next_va_;
  // Fixed ranges are few (one per loadable region): a linear scan per step is enough.
  for (bool moved = true; moved;) {
    moved = false;
    for (const auto& r : fixed_) {
      if (va < r.second && r.first < va + span) {
        va = r.second + 4096;  // past the fixed range, with a guard page
        moved = true;
      }
    }
  }
  if (va + span > 0xFFFFFFFFull) throw Error("SimpleHost: NPU virtual address space exhausted");
  return static_cast<uint32_t>(va);
}

uint32_t SimpleHost::map(uint64_t bytes, bool read_only) {
  const uint64_t pages = (bytes + 4095) / 4096;
  const uint32_t va = next_free_va(pages * 4096 + 4096);  // a guard page between buffers
  const uint64_t phys = alloc_phys(pages * 4096, 4096);
  for (uint64_t i = 0; i < pages; ++i) {
    map_page(static_cast<uint32_t>(va + i * 4096), phys + i * 4096, !read_only);
  }
  next_va_ = static_cast<uint32_t>(va + pages * 4096 + 4096);
  automatic_.emplace_back(va, next_va_);
  return va;
}

uint32_t SimpleHost::map_at(uint32_t va, uint64_t bytes, bool read_only) {
  const uint64_t pages = (bytes + 4095) / 4096;
  const uint64_t end = uint64_t{va} + pages * 4096;
  const auto hex = [](uint64_t v) {
    char b[24];
    std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
    return std::string(b);
  };
  if (va & 4095) throw Error("SimpleHost: map_at address " + hex(va) + " is not 4 KiB aligned");
  if (end > 0x100000000ull) {
    throw Error("SimpleHost: map_at range " + hex(va) + "+" + std::to_string(bytes) +
                " leaves the 32-bit NPU address space");
  }
  if (overlaps(fixed_, va, end) || overlaps(automatic_, va, end)) {
    throw Error("SimpleHost: map_at range [" + hex(va) + ", " + hex(end) +
                ") overlaps an address range already mapped or reserved");
  }
  const uint64_t phys = alloc_phys(pages * 4096, 4096);
  for (uint64_t i = 0; i < pages; ++i) {
    map_page(static_cast<uint32_t>(va + i * 4096), phys + i * 4096, !read_only);
  }
  if (pages > 0) fixed_.emplace_back(va, end);
  return va;
}

uint32_t SimpleHost::reserve_unmapped(uint64_t bytes) {
  const uint64_t span = (bytes + 4095) / 4096 * 4096 + 4096;
  const uint32_t va = next_free_va(span);
  next_va_ = static_cast<uint32_t>(va + span);
  automatic_.emplace_back(va, next_va_);
  return va;
}

uint64_t SimpleHost::phys(uint32_t va) const {
  const PhysicalMemory& m = device_.memory();
  const uint64_t pte1 = m.read_u64(l1_ + uint64_t{va >> 22} * 8);
  const uint64_t pte2 = m.read_u64((pte1 >> 32 << 12) + uint64_t{(va >> 12) & 0x3FF} * 8);
  if (!(pte1 & TESSEL_PTE_VALID) || !(pte2 & TESSEL_PTE_VALID)) {
    throw Error("SimpleHost: address not mapped");
  }
  return (pte2 >> 32 << 12) | (va & 4095);
}

void SimpleHost::write(uint32_t va, const void* src, uint64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  while (n > 0) {
    const uint64_t len = std::min<uint64_t>(n, 4096 - (va & 4095));
    device_.memory().write(phys(va), p, len);
    va += static_cast<uint32_t>(len), p += len, n -= len;
  }
}

void SimpleHost::read(uint32_t va, void* dst, uint64_t n) const {
  auto* p = static_cast<uint8_t*>(dst);
  while (n > 0) {
    const uint64_t len = std::min<uint64_t>(n, 4096 - (va & 4095));
    device_.memory().read(phys(va), p, len);
    va += static_cast<uint32_t>(len), p += len, n -= len;
  }
}

uint32_t SimpleHost::enqueue(const std::vector<uint32_t>& words) {
  const uint32_t buf = map(words.size() * 4, true);
  write(buf, words.data(), words.size() * 4);
  const uint32_t job = next_job_++;
  const uint32_t entry[8] = {buf, static_cast<uint32_t>(words.size() * 4), context_, job,
                             0, 0, 0, 0};
  device_.memory().write(ring_ + uint64_t{tail_ % 16} * TESSEL_RING_ENTRY_BYTES, entry,
                         sizeof entry);
  ++tail_;
  return tail_;
}

uint32_t SimpleHost::submit(const std::vector<uint32_t>& words) {
  const uint32_t job = next_job_;
  device_.write_reg(TESSEL_REG_RING_TAIL, enqueue(words));
  device_.write_reg(TESSEL_REG_DOORBELL, 1);
  return job;
}

uint64_t SimpleHost::run(const std::vector<uint32_t>& words, uint64_t max_cycles) {
  const uint64_t start = device_.now();
  submit(words);
  device_.run_until_idle(max_cycles);
  return device_.now() - start;
}

}  // namespace tessel::sim::npu
