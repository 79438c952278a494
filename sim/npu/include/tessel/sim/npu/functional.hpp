#pragma once
// The functional half of the NPU's compute engines: what each MAC-array and vector-unit
// command computes, on the SRAM scratchpad, exactly as the pseudo-code in docs/isa.md
// says (= TFLite's integer reference kernels, byte for byte). Timing lives elsewhere
// (timing.hpp); the simulator calls these when a command starts.
//
// Arithmetic runs on Tessel's fast exact CPU kernels where they exist (oneDNN int32 +
// exact requantization for CONV/DWCONV/MATMUL), otherwise on the reference kernels.
//
// Every function first checks its operands: each SRAM region it reads or writes lies
// inside [0, sram_size), shapes are non-zero and consistent (the output size matches the
// convolution geometry), enum values are known. A bad operand throws OperandError with a
// message naming the command and field, and nothing is written.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "tessel_isa_commands.hpp"

namespace tessel::sim::npu {

class OperandError : public std::runtime_error {
 public:
  explicit OperandError(const std::string& what) : std::runtime_error(what) {}
};

// Useful multiply-accumulates of a command (taps inside the input only), for counters.
uint64_t command_macs(const isa::Command& cmd);

// Caches prepared fast kernels (oneDNN primitives with packed weights) across commands
// with the same geometry, parameters and weight bytes, so a tiled layer pays the
// preparation once. Single-threaded use.
class FunctionalUnit {
 public:
  explicit FunctionalUnit(int threads = 1);
  ~FunctionalUnit();
  FunctionalUnit(const FunctionalUnit&) = delete;
  FunctionalUnit& operator=(const FunctionalUnit&) = delete;

  // Executes a CONV, DWCONV, MATMUL, ELTWISE, POOL, LUT, RESIZE or MEAN command on `sram`.
  // Other commands: std::logic_error (the caller routes only compute commands here).
  void execute(const isa::Command& cmd, uint8_t* sram, size_t sram_size);

  // Only checks the operands (throws OperandError); execute() calls it first.
  static void check_operands(const isa::Command& cmd, size_t sram_size);

  // Use the reference kernels even where a fast kernel exists (tests compare both).
  void set_reference_only(bool on) { reference_only_ = on; }

 private:
  struct Cache;
  std::unique_ptr<Cache> cache_;
  int threads_;
  bool reference_only_ = false;
};

}  // namespace tessel::sim::npu
