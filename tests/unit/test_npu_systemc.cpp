// The SystemC/TLM-2.0 adapter: a testbench initiator programs the NPU through its
// register socket, waits for the interrupt signal, and checks results and timing.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>

#include "tessel/sim/npu/simple_host.hpp"
#include "tessel/sim/npu/systemc.hpp"
#include "tessel_isa_commands.hpp"
#include "tessel_npu_isa.h"

using namespace tessel::sim::npu;
namespace isa = tessel::isa;

// libsystemc's main() refers to sc_main; this test has Catch2's main instead.
int sc_main(int, char**) { return 0; }

namespace {

struct Testbench : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Testbench> bus;
  sc_core::sc_in<bool> irq;
  NpuModule* npu = nullptr;
  SimpleHost* host = nullptr;
  std::vector<uint32_t> job;
  // results
  uint32_t id = 0, done_job = 0, status = 0;
  sc_core::sc_time irq_time;
  uint64_t device_cycles_at_irq = 0;
  std::vector<uint8_t> out;
  uint32_t out_va = 0;

  SC_HAS_PROCESS(Testbench);
  explicit Testbench(sc_core::sc_module_name n) : sc_core::sc_module(n), bus("bus"), irq("irq") {
    SC_THREAD(main);
  }

  uint32_t access(bool write, uint32_t addr, uint32_t value) {
    tlm::tlm_generic_payload t;
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    t.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    t.set_address(addr);
    t.set_data_ptr(reinterpret_cast<unsigned char*>(&value));
    t.set_data_length(4);
    t.set_streaming_width(4);
    t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    bus->b_transport(t, delay);
    REQUIRE(t.get_response_status() == tlm::TLM_OK_RESPONSE);
    wait(delay);
    return value;
  }

  void main() {
    id = access(false, TESSEL_REG_ID, 0);
    access(true, TESSEL_REG_IRQ_MASK, 0xF);
    const uint32_t tail = host->enqueue(job);
    access(true, TESSEL_REG_RING_TAIL, tail);
    access(true, TESSEL_REG_DOORBELL, 1);
    wait(irq.posedge_event());
    irq_time = sc_core::sc_time_stamp();
    device_cycles_at_irq = npu->device().now();
    done_job = access(false, TESSEL_REG_DONE_JOB_ID, 0);
    status = access(false, TESSEL_REG_IRQ_STATUS, 0);
    access(true, TESSEL_REG_IRQ_CLEAR, status);
    out.resize(4096);
    host->read(out_va, out.data(), out.size());
    sc_core::sc_stop();
  }
};

}  // namespace

TEST_CASE("a job submitted over TLM runs and interrupts at the device's time", "[npu][systemc]") {
  const NpuConfig cfg = load_npu_preset_or_file("default");
  NpuModule npu("npu", cfg, /*quantum_cycles=*/2000);
  Testbench tb("tb");
  tb.bus.bind(npu.regs);
  tb.irq.bind(npu.irq);
  tb.npu = &npu;
  SimpleHost host(npu.device());
  tb.host = &host;
  // Copy 4 KiB DRAM -> SRAM -> another DRAM buffer, ordered by a semaphore.
  const uint32_t src = host.map(4096), dst = host.map(4096);
  std::vector<uint8_t> pattern(4096);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint8_t>(i * 7 + 1);
  host.write(src, pattern.data(), pattern.size());
  isa::DmaLoad ld;
  ld.dram_addr = src;
  ld.len0 = 4096;
  ld.n1 = ld.n2 = ld.n3 = 1;
  isa::DmaStore st;
  st.dram_addr = dst;
  st.len0 = 4096;
  st.n1 = st.n2 = st.n3 = 1;
  for (const isa::Command& c : std::vector<isa::Command>{
           ld, isa::SemSignal{0, 0, 0}, isa::SemWait{1, 0, 0}, st, isa::End{}}) {
    isa::encode(c, tb.job);
  }
  tb.out_va = dst;
  sc_core::sc_start(sc_core::sc_time(1, sc_core::SC_MS));
  CHECK(tb.id == TESSEL_ISA_ID);
  CHECK(tb.done_job == 1);
  CHECK(TESSEL_GET(tb.status, TESSEL_IRQ_STATUS_JOB_DONE) == 1);
  CHECK(tb.out == pattern);
  // The interrupt is seen at the simulated time the device raised it.
  const double irq_cycles = tb.irq_time / npu.clock_period();
  CHECK(irq_cycles == Approx(static_cast<double>(tb.device_cycles_at_irq)).margin(1));
  CHECK(tb.device_cycles_at_irq > 100);  // two 4 KiB DMAs through LPDDR4X take a while
}
