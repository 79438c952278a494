#pragma once
// Contract:
// - Observers are told about every command issued and every request completed, in
//   simulated-time order per channel, synchronously from inside MemorySystem::tick_until().
// - They must not call back into the MemorySystem (no send(), no tick_until()).
// - The model never formats output itself; trace writers and test probes are observers.
// - With no observer attached the model pays nothing for this interface.

#include <cstdint>

#include "tessel/sim/mem/command.hpp"
#include "tessel/sim/mem/request.hpp"

namespace tessel::sim::mem {

struct CommandEvent {
  std::uint64_t cycle = 0;
  Command command = Command::ACT;
  DecodedAddress where;   // rank and bank fields always set; row for ACT and column
                          // commands, column for column commands
  std::uint64_t request_id = 0;  // the request the command serves (0 for PREA/REF)
};

class IDramObserver {
 public:
  virtual ~IDramObserver() = default;
  virtual void on_command(const CommandEvent& event) = 0;
  virtual void on_complete(const Request& request, std::uint32_t channel,
                           std::uint64_t done_cycle) {
    (void)request;
    (void)channel;
    (void)done_cycle;
  }
};

}  // namespace tessel::sim::mem
