#pragma once
// A memory request as the memory system sees it: one burst (burst_length beats of the
// channel's bus), or a train of `bursts` bursts that all fall in one bank and row. Callers
// send single bursts with MemorySystem::send(); MemorySystem::send_transaction() splits a
// larger transfer into trains (one per channel, bank and row it touches).

#include <cstdint>

namespace tessel::sim::mem {

struct Request {
  std::uint64_t addr = 0;     // byte address; the low bits inside one burst are ignored
  bool is_write = false;
  std::uint64_t id = 0;       // caller's tag, returned with the completion
  std::uint64_t arrival = 0;  // DRAM clock cycle; stamped by MemorySystem::send()
  // Bursts in this request (>= 1). More than one only from send_transaction(): the
  // bursts at addr and the following addresses of the same channel, bank and row. The
  // controller issues a train's column commands back to back (see controller.hpp) and
  // reports the request complete when its last burst is.
  std::uint32_t bursts = 1;
};

// Where an address lands. `column` counts bursts within the row (the JEDEC column
// address divided by the burst length), so every field is a dense index.
struct DecodedAddress {
  std::uint32_t channel = 0;
  std::uint32_t rank = 0;
  std::uint32_t bankgroup = 0;
  std::uint32_t bank = 0;  // bank within its bank group
  std::uint32_t row = 0;
  std::uint32_t column = 0;

  friend bool operator==(const DecodedAddress& a, const DecodedAddress& b) {
    return a.channel == b.channel && a.rank == b.rank && a.bankgroup == b.bankgroup &&
           a.bank == b.bank && a.row == b.row && a.column == b.column;
  }
};

}  // namespace tessel::sim::mem
