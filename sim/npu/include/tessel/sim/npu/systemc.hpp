#pragma once
// The SystemC/TLM-2.0 face of the NPU: a thin module around the plain C++ Device.
//
//   regs  tlm_utils::simple_target_socket: 32-bit register reads/writes (blocking
//         transport, loosely timed). Before each access the device catches up to the
//         initiator's local time (sc_time_stamp() + delay), so register side effects are
//         ordered with the initiator's view of time even when it runs decoupled.
//   irq   sc_signal<bool>: the interrupt line, updated at the simulated time it changes.
//
// Temporal decoupling: the module's thread lets the device run ahead of SystemC time by
// up to `quantum_cycles` (or to the next interrupt change, whichever first) and then
// waits for SystemC time to catch up, so the kernel sees one context switch per quantum
// instead of one per event. Device memory is reached through device().memory(): the
// in-process driver port maps it as the host sees DMA-able memory.

#include <cstdint>
#include <memory>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "tessel/sim/npu/device.hpp"

namespace tessel::sim::npu {

class NpuModule : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<NpuModule> regs;
  sc_core::sc_signal<bool> irq;

  NpuModule(sc_core::sc_module_name name, const NpuConfig& config,
            uint64_t quantum_cycles = 10000, int functional_threads = 1);

  Device& device() { return device_; }
  sc_core::sc_time clock_period() const { return period_; }

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  void run();
  uint64_t cycles_at(const sc_core::sc_time& t) const;

  Device device_;
  sc_core::sc_time period_;
  uint64_t quantum_;
  sc_core::sc_event kick_;
  bool irq_changed_ = false;
};

}  // namespace tessel::sim::npu
