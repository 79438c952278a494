#pragma once
// The device's functional effects (the bytes a command computes or moves), applied in
// command-start order, either at once on the caller's thread or by one worker thread
// while the caller goes on with the timing model.
//
// Why: a simulated inference spends about a third of its host time computing results
// (FunctionalUnit) and the rest in the timing model (DRAM controller, engines, MMU). The
// two never read each other's data: timing depends on command fields and addresses, not
// on tensor bytes. So the device posts each command's functional effect here when the
// command starts and continues simulating time; the worker applies the effects in the
// order they were posted, which is exactly the order the one-thread model applies them
// in. Results are therefore identical byte for byte, whatever the interleaving.
//
// The device waits for the worker (drain()) before anything outside it can look at the
// bytes: before it publishes progress (an interrupt, a halt, a register read by the
// host), before it reads memory the host or a job may have written (a ring entry, a
// command buffer), and before the host touches device memory or SRAM through Device's
// accessors. See docs/npu.md, "Functional and timing halves on two threads".
//
// Errors: a compute command's operands are checked at dispatch, so FunctionalUnit's
// OperandError is a safety net here. If it happens on the worker, the effects posted
// after it are skipped (the one-thread device halts at that command and starts nothing
// more), and drain() returns the error for the device to halt with. Any other exception
// is rethrown by drain() on the device's thread.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tessel/sim/npu/functional.hpp"
#include "tessel/sim/npu/memory.hpp"
#include "tessel_isa_commands.hpp"

namespace tessel::sim::npu {

class FunctionalPipe {
 public:
  // One piece of a DMA inside one page: physical address, SRAM address, length.
  struct Copy {
    uint64_t phys;
    uint32_t sram;
    uint32_t len;
  };
  // The first OperandError a drain found (ok = false), with the command's engine and
  // command-buffer offset.
  struct Failure {
    bool ok = true;
    uint32_t engine = 0;
    uint32_t offset = 0;
    std::string what;
  };

  // `async`: apply effects on a worker thread (started on the first post). Otherwise
  // every post applies its effect before returning.
  FunctionalPipe(bool async, PhysicalMemory& memory, uint8_t* sram, size_t sram_size);
  ~FunctionalPipe();  // waits for the posted effects, then stops the worker
  FunctionalPipe(const FunctionalPipe&) = delete;
  FunctionalPipe& operator=(const FunctionalPipe&) = delete;

  bool async() const { return async_; }

  // A compute command's effect: unit.execute(cmd, sram). `unit` must outlive the drain.
  void compute(FunctionalUnit& unit, const isa::Command& cmd, uint32_t engine, uint32_t offset);
  // A DMA's effect: DRAM -> SRAM (load) or SRAM -> DRAM, copy by copy.
  void dma(bool load, std::vector<Copy>&& copies);

  // Waits until every posted effect has been applied (or skipped after a failure).
  // Returns the failure, if any, and forgets it. Rethrows a non-OperandError exception.
  Failure drain();
  // Waits like drain() but leaves a failure for the next drain() (the host's accessors:
  // the device's thread reports it).
  void wait();
  // True when nothing posted is still pending (for tests).
  bool idle() const {
    std::lock_guard<std::mutex> lock(mu_);
    return posted_ == done_;
  }

  // Tasks the worker has taken since construction, applied or skipped after a failure
  // (for tests: proves the async path ran).
  uint64_t applied() const {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }

 private:
  struct Task {
    bool is_dma = false;
    bool load = false;
    FunctionalUnit* unit = nullptr;
    isa::Command cmd;
    uint32_t engine = 0, offset = 0;
    std::vector<Copy> copies;
  };
  void apply(Task& task);
  void post(Task&& task);
  void worker();

  const bool async_;
  PhysicalMemory& memory_;
  uint8_t* const sram_;
  const size_t sram_size_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // the worker waits for tasks
  std::condition_variable done_cv_;  // drain() waits for the worker
  std::vector<Task> queue_;          // posted, not yet taken by the worker
  uint64_t posted_ = 0, done_ = 0;
  bool stop_ = false;
  bool worker_waiting_ = false;
  Failure failure_;
  std::exception_ptr fatal_;
  std::thread thread_;
};

}  // namespace tessel::sim::npu
