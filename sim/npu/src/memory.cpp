#include "tessel/sim/npu/memory.hpp"

#include <sys/mman.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "tessel/ir/error.hpp"

namespace tessel::sim::npu {

PhysicalMemory::PhysicalMemory(uint64_t size_bytes) : size_(size_bytes) {
  if (size_ == 0) return;
  void* p = ::mmap(nullptr, static_cast<size_t>(size_), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    throw Error("cannot reserve " + std::to_string(size_ >> 20) +
                " MiB of host address space for the device memory");
  }
  base_ = static_cast<uint8_t*>(p);
}

PhysicalMemory::~PhysicalMemory() {
  if (base_ != nullptr) ::munmap(base_, static_cast<size_t>(size_));
}

void PhysicalMemory::check(uint64_t addr, uint64_t n, const char* what) const {
  if (!contains(addr, n)) {
    throw Error(std::string("device memory ") + what + " of " + std::to_string(n) +
                " bytes at 0x" + [&] {
                  char b[24];
                  std::snprintf(b, sizeof b, "%llx", static_cast<unsigned long long>(addr));
                  return std::string(b);
                }() + " is outside the " + std::to_string(size_) + "-byte memory");
  }
}

void PhysicalMemory::read(uint64_t addr, void* dst, size_t n) const {
  check(addr, n, "read");
  if (n != 0) std::memcpy(dst, base_ + addr, n);
}

void PhysicalMemory::write(uint64_t addr, const void* src, size_t n) {
  check(addr, n, "write");
  if (n != 0) std::memcpy(base_ + addr, src, n);
}

uint8_t* PhysicalMemory::host_ptr(uint64_t addr, uint64_t n) {
  check(addr, n, "mapping");
  return base_ + addr;
}

uint32_t PhysicalMemory::read_u32(uint64_t addr) const {
  uint8_t b[4];
  read(addr, b, 4);
  return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
}

uint64_t PhysicalMemory::read_u64(uint64_t addr) const {
  return uint64_t{read_u32(addr)} | uint64_t{read_u32(addr + 4)} << 32;
}

void PhysicalMemory::write_u32(uint64_t addr, uint32_t v) {
  const uint8_t b[4] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8),
                        static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 24)};
  write(addr, b, 4);
}

void PhysicalMemory::write_u64(uint64_t addr, uint64_t v) {
  write_u32(addr, static_cast<uint32_t>(v));
  write_u32(addr + 4, static_cast<uint32_t>(v >> 32));
}

}  // namespace tessel::sim::npu
