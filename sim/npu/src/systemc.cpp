#include "tessel/sim/npu/systemc.hpp"

#include <cstring>

namespace tessel::sim::npu {

NpuModule::NpuModule(sc_core::sc_module_name name, const NpuConfig& config,
                     uint64_t quantum_cycles, int functional_threads)
    : sc_core::sc_module(name),
      regs("regs"),
      irq("irq"),
      device_(config, functional_threads),
      period_(1.0e6 / config.clock_mhz, sc_core::SC_PS),
      quantum_(quantum_cycles == 0 ? 1 : quantum_cycles) {
  regs.register_b_transport(this, &NpuModule::b_transport);
  device_.set_irq_callback([this](bool) { irq_changed_ = true; });
  SC_HAS_PROCESS(NpuModule);
  SC_THREAD(run);
}

uint64_t NpuModule::cycles_at(const sc_core::sc_time& t) const {
  return static_cast<uint64_t>(t / period_);
}

void NpuModule::b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  const uint64_t addr = trans.get_address();
  if (trans.get_data_length() != 4 || (addr & 3) != 0 || trans.get_byte_enable_ptr() ||
      trans.get_streaming_width() != 4 || addr > 0xFFFFFFFFull) {
    trans.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
    return;
  }
  // Catch the device up to the initiator's local time, then apply the access.
  const uint64_t at = cycles_at(sc_core::sc_time_stamp() + delay);
  if (at > device_.now()) device_.run_until(at);
  uint32_t value = 0;
  if (trans.is_read()) {
    value = device_.read_reg(static_cast<uint32_t>(addr));
    std::memcpy(trans.get_data_ptr(), &value, 4);
  } else if (trans.is_write()) {
    std::memcpy(&value, trans.get_data_ptr(), 4);
    device_.write_reg(static_cast<uint32_t>(addr), value);
    kick_.notify(delay);  // the device may have work now (doorbell, reset, irq clear)
  }
  delay += period_;  // one core cycle per register access
  trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

void NpuModule::run() {
  for (;;) {
    if (irq_changed_) {
      irq_changed_ = false;
      irq.write(device_.irq_level());
    }
    if (!device_.busy() || device_.hung()) {
      wait(kick_);
      const uint64_t at = cycles_at(sc_core::sc_time_stamp());
      if (at > device_.now()) device_.run_until(at);
      continue;
    }
    // Run ahead by one quantum (stopping early when the interrupt line changes), then let
    // SystemC time catch up with the device.
    device_.run_until_event(device_.now() + quantum_, [this] { return irq_changed_; });
    const sc_core::sc_time device_time = period_ * static_cast<double>(device_.now());
    if (device_time > sc_core::sc_time_stamp()) wait(device_time - sc_core::sc_time_stamp());
  }
}

}  // namespace tessel::sim::npu
