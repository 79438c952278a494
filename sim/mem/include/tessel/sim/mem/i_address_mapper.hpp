#pragma once
// Contract:
// - decode() maps a byte address to (channel, rank, bankgroup, bank, row, column-in-bursts).
//   Bits below the burst size are ignored; bits above the capacity are ignored (the
//   address space wraps), so any 64-bit address decodes to a valid location.
// - Over [0, capacity) in burst steps, decode() is a bijection onto all locations and
//   encode() is its inverse: encode(decode(a)) == a for burst-aligned a < capacity.
// - Implementations are pure functions of (organisation, address): no state, no
//   randomness, so two runs decode identically.
// - Implementations must not depend on timing; the controller never asks them anything
//   but decode/encode.

#include <cstdint>
#include <string>

#include "tessel/sim/mem/dram_config.hpp"
#include "tessel/sim/mem/request.hpp"

namespace tessel::sim::mem {

class IAddressMapper {
 public:
  virtual ~IAddressMapper() = default;
  virtual const std::string& name() const = 0;
  virtual DecodedAddress decode(std::uint64_t addr) const = 0;
  // decode() into `*out` (the same result). For callers that keep the location in a
  // container: writing it in place avoids copying a just-built struct, which costs a
  // store-forwarding stall per decode on x86 (MemorySystem::split).
  virtual void decode_to(std::uint64_t addr, DecodedAddress* out) const { *out = decode(addr); }
  // For mappings that are bit fields of the burst index (addr / burst bytes): the column's
  // field, [*shift, *shift + *bits). Two addresses whose burst indices differ only there
  // are in the same channel, rank, bank group, bank and row. False (the default) when the
  // mapping is not of that kind; MemorySystem then decodes every burst of a transaction.
  virtual bool column_field(std::uint32_t* shift, std::uint32_t* bits) const {
    (void)shift;
    (void)bits;
    return false;
  }
  virtual std::uint64_t encode(const DecodedAddress& where) const = 0;
};

}  // namespace tessel::sim::mem
