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
  // decode() of `n` consecutive bursts from `addr` into out[0..n): one call per
  // transaction instead of one per burst. Overriding it is optional.
  virtual void decode_run(std::uint64_t addr, std::uint32_t n, std::uint64_t burst_bytes,
                          DecodedAddress* out) const {
    for (std::uint32_t i = 0; i < n; ++i) out[i] = decode(addr + i * burst_bytes);
  }
  virtual std::uint64_t encode(const DecodedAddress& where) const = 0;
};

}  // namespace tessel::sim::mem
