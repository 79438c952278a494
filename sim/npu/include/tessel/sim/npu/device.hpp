#pragma once
// The NPU device model, plain C++ (the SystemC module in systemc.hpp is a thin adapter).
//
// What a host sees: the registers of docs/isa.md (read_reg/write_reg), device memory
// (memory(): the bytes behind the DRAM model) and one level-triggered interrupt line
// (set_irq_callback). A driver writes jobs into the ring, rings the doorbell, and the
// device runs them: the command processor reads each job's command buffer through the
// MMU, decodes it and appends commands to the four engine queues (DMA_IN, DMA_OUT, MAC,
// VEC); each queue runs in order, queues run concurrently, SEM_SIGNAL/SEM_WAIT order
// them, FENCE/END are barriers.
//
// Time: now() counts core-clock cycles. The model is event-driven, not ticked: a MAC or
// vector command occupies its engine for a computed latency (timing.hpp), a DMA command
// for as long as its bursts take through the interconnect and the DRAM model
// (mem::MemorySystem, cycle-accurate DRAM timing). run_until(c) processes every event
// before cycle c. The functional effect of a command (bytes in SRAM/DRAM) happens when it
// starts; a correct command stream never observes the difference, because data
// dependencies between queues must be expressed with semaphores.
//
// Errors (MMU fault, malformed command, bad operand): the device halts, sets
// ERROR_STATUS/ERROR_OFFSET/FAULT_ADDR, raises the interrupt and stays halted until
// SOFT_RESET. A faulting DMA moves no bytes at all.
//
// Threads: the functional effects (the bytes) may be applied by a worker thread in
// command-start order while this thread simulates time (FunctionalPipe, on by default on
// a host with more than one core; TESSEL_SIM_ASYNC=0 turns it off). Nothing observable
// changes: the device waits for the worker before it retires a FENCE or END (so before
// the host can see a fence value, a done job or their interrupt), before it halts and
// before it reads a ring entry or command buffer; memory() and sram() wait too.

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tessel/sim/mem/memory_system.hpp"
#include "tessel/sim/npu/config.hpp"
#include "tessel/sim/npu/functional.hpp"
#include "tessel/sim/npu/memory.hpp"
#include "tessel/sim/npu/mmu.hpp"
#include "tessel/sim/npu/observer.hpp"
#include "tessel_isa_commands.hpp"

namespace tessel::sim::npu {

class FunctionalPipe;

inline constexpr uint64_t kNever = ~uint64_t{0};
inline constexpr uint32_t kEngines = 4;  // isa::Engine values

// Performance counters, indexed by isa::Perf (64-bit, readable through PERF_LO/HI).
using Counters = std::array<uint64_t, isa::kPerfCount>;

class Device {
 public:
  // `functional_threads`: threads for the exact kernels that compute results.
  // `functional`: share a FunctionalUnit (and its cache of prepared kernels) with other
  // devices or across device lifetimes, e.g. a runtime that runs the same model on a fresh
  // device per inference; nullptr = a private one.
  explicit Device(const NpuConfig& config, int functional_threads = 1,
                  std::shared_ptr<FunctionalUnit> functional = nullptr);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // ---- host interface -----------------------------------------------------------------
  uint32_t read_reg(uint32_t offset);
  void write_reg(uint32_t offset, uint32_t value);
  // Device memory and SRAM: both first wait for functional effects still being applied.
  PhysicalMemory& memory();
  // Called with the new level whenever (IRQ_STATUS & IRQ_MASK) != 0 changes.
  void set_irq_callback(std::function<void(bool)> cb) { irq_cb_ = std::move(cb); }
  bool irq_level() const { return (irq_status_ & irq_mask_) != 0; }

  // ---- simulation -----------------------------------------------------------------------
  uint64_t now() const { return now_; }
  // True while there is work that time can advance (a job running or queued in the ring).
  bool busy() const;
  // True while a job is running (STATUS.BUSY): a job entered the ring and the doorbell
  // (or the end of the previous job) started it. A host that advances time only while
  // this holds keeps idle gaps out of the device's clock.
  bool job_running() const { return job_active_; }
  // True when busy but no event can ever happen (e.g. every queue waits on a semaphore
  // nobody will signal): the device hangs as hardware would; a driver's timeout sees it.
  bool hung() const { return hung_; }
  // Advances simulated time to `cycle` (or until the device goes idle, whichever first).
  // Idle time passes too (now() follows the caller's clock).
  void run_until(uint64_t cycle);
  // run_until(), but returns as soon as `stop()` is true after an event (the SystemC
  // adapter stops at interrupt changes); then now() is the cycle of that event.
  void run_until_event(uint64_t cycle, const std::function<bool()>& stop);
  // Runs until idle, hung or halted, at most `max_cycles` more cycles. Returns now().
  uint64_t run_until_idle(uint64_t max_cycles = kNever);

  // ---- observation ----------------------------------------------------------------------
  const NpuConfig& config() const { return config_; }
  uint64_t counter(uint32_t index) const;  // isa::Perf index; 0 when out of range
  Counters counters() const;
  // Counters plus the DRAM model's statistics, as written on every run.
  nlohmann::json stats_json() const;
  // Why the device halted, in words (ERROR_STATUS has the code).
  const std::string& last_error() const { return last_error_; }
  void add_observer(INpuObserver* observer) { observers_.push_back(observer); }
  void remove_observer(INpuObserver* observer) {
    observers_.erase(std::remove(observers_.begin(), observers_.end(), observer), observers_.end());
  }
  void set_trace_window(uint64_t cycles) { trace_window_ = cycles == 0 ? 1 : cycles; }
  const mem::MemorySystem& memory_system() const { return *dram_; }
  uint8_t* sram();
  size_t sram_size() const { return sram_.size(); }
  FunctionalUnit& functional() { return *functional_; }
  // Fault injection for driver tests: the engine's next command never completes.
  void inject_hang(isa::Engine engine) { hang_engine_[static_cast<uint32_t>(engine)] = true; }
  // Fault injection: the engine's next DMA command fails (ERROR_CODE DMA_ERROR, FAULT_ADDR
  // = its dram_addr) before moving any byte. Only DMA_IN/DMA_OUT; others are ignored.
  // Both injections are cleared by SOFT_RESET.
  void inject_dma_error(isa::Engine engine) {
    const auto e = static_cast<uint32_t>(engine);
    if (e < 2) dma_error_engine_[e] = true;
  }

 private:
  struct Queued {
    isa::Command cmd;
    uint32_t offset = 0;
  };
  // A DMA row's piece inside one page, translated (start_dma's scratch).
  struct DmaSegment {
    uint64_t phys;
    uint32_t sram;
    uint32_t len;
    uint64_t walked;  // translation cycles spent up to and including this segment's page
  };
  // One memory transaction: consecutive bursts inside one naturally aligned block of
  // dma.max_transaction_bytes (one burst when that is 0).
  struct DmaTransaction {
    uint64_t phys;     // burst-aligned physical address
    uint32_t bursts;   // >= 1
    bool write;
    uint64_t ready;    // core cycle from which it may issue (setup + its page's translation)
  };
  struct EngineState {
    std::deque<Queued> queue;
    bool busy = false;
    bool hung = false;               // fault injection
    Queued current;
    uint64_t start = 0;
    uint64_t end = kNever;           // compute engines: completion cycle
    uint64_t wait_since = kNever;    // head is a SEM_WAIT that cannot proceed yet
    uint64_t macs = 0;
    // DMA engines
    std::vector<DmaTransaction> xfers;
    size_t next_xfer = 0;
    uint32_t outstanding = 0;        // bursts in flight
    uint64_t last_done_dram = 0;
    uint64_t dma_bytes = 0;
    uint64_t issue_at = 0;           // after descriptor setup
    uint64_t min_cycles = 0;         // setup + walks + bus time: stall_dram is the excess
  };

  // A transaction may issue while the engine has room for all its bursts in flight (or
  // has none in flight: one larger than the limit still goes, alone).
  bool under_outstanding_limit(const EngineState& s, const DmaTransaction& x) const {
    return s.outstanding == 0 || s.outstanding + x.bursts <= config_.dma.max_outstanding;
  }
  void reset_state();
  // Waits for the functional worker; halts (BAD_OPERAND) if it reports a failure.
  void sync_functional();
  void update_irq();
  void set_irq(uint32_t bits);
  void halt(isa::ErrorCode code, uint32_t engine, uint32_t offset, uint32_t fault_addr,
            const std::string& why);
  void try_start_job();
  bool dispatch();        // command processor: decodes and appends to the queues
  bool retire_barrier();  // FENCE/END once every queue is idle
  bool start_engines();   // starts queue heads on idle engines
  void start_compute(uint32_t engine);
  void start_dma(uint32_t engine);
  void check_dma_operands(uint32_t sram_addr, uint32_t len0, uint32_t n1, uint32_t n2,
                          uint32_t n3, uint32_t s1, uint32_t s2, uint32_t s3) const;
  void finish_command(uint32_t engine, uint64_t end_cycle);
  bool pump_dma();
  uint64_t next_event(uint64_t limit);
  uint64_t next_completion(uint64_t bound);
  void advance_to(uint64_t cycle);
  bool run_loop(uint64_t limit, const std::function<bool()>* stop);  // true: stopped
  bool all_idle() const;
  uint64_t dram_cycle_at(uint64_t npu_cycle) const;
  uint64_t npu_cycle_at(uint64_t dram_cycle) const;
  void note_dram_bytes(uint64_t npu_cycle, bool write, uint64_t bytes);

  NpuConfig config_;
  uint64_t config_hash_ = 0;
  PhysicalMemory memory_;
  std::unique_ptr<mem::MemorySystem> dram_;
  Mmu mmu_;
  std::vector<uint8_t> sram_;
  std::shared_ptr<FunctionalUnit> functional_;
  std::vector<INpuObserver*> observers_;
  std::function<void(bool)> irq_cb_;

  // registers
  uint64_t ring_base_ = 0;
  uint32_t ring_size_ = 0, ring_head_ = 0, ring_tail_ = 0;
  uint32_t irq_status_ = 0, irq_mask_ = 0;
  uint32_t error_status_ = 0, error_offset_ = 0, fault_addr_ = 0;
  uint32_t done_job_id_ = 0, fence_value_ = 0;
  uint32_t perf_hi_latch_ = 0;
  bool halted_ = false;
  bool hung_ = false;
  bool last_irq_level_ = false;
  std::string last_error_;

  // the running job
  bool job_active_ = false;
  uint32_t job_id_ = 0, job_context_ = 0;
  uint64_t job_start_ = 0;
  std::vector<uint32_t> job_words_;
  size_t job_pos_ = 0;  // next word to decode
  // dispatch(): the command at stalled_pos_ waits for room in engine stalled_engine_'s
  // queue (already decoded and checked); kNoStall when the CP is not waiting.
  static constexpr size_t kNoStall = ~size_t{0};
  size_t stalled_pos_ = kNoStall;
  uint32_t stalled_engine_ = 0;
  bool barrier_pending_ = false;
  Queued barrier_;

  std::array<EngineState, kEngines> engines_;
  std::array<bool, kEngines> hang_engine_{};
  std::array<bool, kEngines> dma_error_engine_{};
  std::vector<uint32_t> semaphores_;
  std::vector<uint32_t> sem_signaler_;  // engine of the last SEM_SIGNAL per semaphore
  uint64_t now_ = 0;
  Counters counters_{};
  mem::ChannelStats dram_base_;  // DRAM statistics at the last reset (counters are deltas)

  // interconnect: one shared bus to DRAM, one burst per bus_cycles_per_burst_
  uint64_t bus_free_at_ = 0;
  uint32_t bus_rr_ = 0;
  uint32_t bus_cycles_per_burst_ = 1;
  uint64_t epoch_ = 0;  // bumped by halt/reset: completions of older requests are dropped
  uint64_t next_request_id_ = 1;
  // DRAM requests completed in the last tick: id, DRAM completion cycle, bursts (a train
  // counts them all).
  struct DramDone {
    uint64_t id;
    uint64_t cycle;
    uint32_t bursts;
  };
  std::vector<DramDone> dram_done_;
  std::vector<DmaSegment> dma_segments_;    // start_dma's scratch, kept to avoid reallocating

  // DRAM bandwidth trace windows
  uint64_t trace_window_ = 1000;
  uint64_t window_start_ = 0;
  uint64_t window_read_ = 0, window_write_ = 0;
  uint64_t dram_per_npu_num_ = 1, dram_per_npu_den_ = 1;  // DRAM cycles per core cycle
  // Precomputed for the crossings' fast path (device.cpp, div_exact).
  uint64_t dram_fast_max_ = 0, npu_fast_max_ = 0;
  double inv_den_ = 1.0, inv_num_ = 1.0;

  // Last member: destroyed first, so the worker finishes before SRAM, memory and the
  // functional unit go away.
  std::unique_ptr<FunctionalPipe> pipe_;
};

}  // namespace tessel::sim::npu
