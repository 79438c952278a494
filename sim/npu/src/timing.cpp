#include "tessel/sim/npu/timing.hpp"

#include <algorithm>
#include <numeric>
#include <type_traits>
#include <vector>

namespace tessel::sim::npu {
namespace {

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// SOFTMAX: the reciprocal of each row's sum (a short Newton-Raphson in fixed point).
constexpr uint64_t kSoftmaxRowCycles = 8;

template <class T, class... Ts>
constexpr bool is_one_of = (std::is_same_v<T, Ts> || ...);

// Weight-stationary MAC array: see the formula in timing.hpp.
uint64_t mac_formula(uint64_t reduction, uint64_t outputs, uint64_t pixels,
                     const MacArrayConfig& m) {
  const uint64_t folds = ceil_div(reduction, m.rows) * ceil_div(outputs, m.cols);
  const uint64_t load = uint64_t{m.rows} * m.weight_load_cycles_per_row;
  return load + folds * std::max(pixels, load) + (m.rows + m.cols - 1) + m.pipeline_cycles;
}

// Accesses per SRAM bank: granule g = addr / width lives in bank g % banks.
class BankCounter {
 public:
  explicit BankCounter(const SramConfig& s) : width_(s.bank_width_bytes), per_bank_(s.banks) {}

  // `rows` runs of `len` bytes, `stride` apart, each read `repeat` times.
  void add(uint64_t addr, uint64_t len, uint64_t rows, uint64_t stride, uint64_t repeat) {
    if (len == 0 || rows == 0 || repeat == 0) return;
    if (stride == len) {  // one contiguous run
      len *= rows;
      rows = 1;
    }
    const uint64_t banks = per_bank_.size();
    // Rows `period` apart start a whole number of bank sweeps (width * banks bytes) apart,
    // so they touch the same banks the same number of times: count the first `period`
    // rows, each once for every row congruent to it. Same totals as row by row, but a
    // CONV's per-pixel input rows (thousands, from the compiler's cost model for every
    // candidate tiling) cost at most `period` iterations.
    const uint64_t sweep = width_ * banks;
    const uint64_t period = sweep / std::gcd(stride % sweep, sweep);
    for (uint64_t r = 0; r < rows && r < period; ++r) {
      const uint64_t times = repeat * ((rows - 1 - r) / period + 1);
      const uint64_t first = (addr + r * stride) / width_;
      const uint64_t last = (addr + r * stride + len - 1) / width_;
      const uint64_t n = last - first + 1;
      const uint64_t full = n / banks;
      if (full) {
        for (auto& b : per_bank_) b += full * times;
      }
      for (uint64_t g = first + full * banks; g <= last; ++g) per_bank_[g % banks] += times;
    }
  }
  uint64_t max() const { return *std::max_element(per_bank_.begin(), per_bank_.end()); }

 private:
  uint64_t width_;
  std::vector<uint64_t> per_bank_;
};

}  // namespace

uint64_t mac_cycles(const isa::Command& cmd, const NpuConfig& config) {
  return std::visit(
      [&](const auto& c) -> uint64_t {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, isa::Conv>) {
          return mac_formula(uint64_t{c.kernel_h} * c.kernel_w * c.in_c, c.out_c,
                             uint64_t{c.out_h} * c.out_w, config.mac);
        } else if constexpr (std::is_same_v<T, isa::Dwconv>) {
          return mac_formula(uint64_t{c.kernel_h} * c.kernel_w, c.out_c,
                             uint64_t{c.out_h} * c.out_w, config.mac);
        } else if constexpr (std::is_same_v<T, isa::Matmul>) {
          return mac_formula(c.k, c.n, c.m, config.mac);
        } else {
          return 0;
        }
      },
      cmd);
}

uint64_t vec_cycles(const isa::Command& cmd, const NpuConfig& config) {
  const uint64_t lanes = config.vec.lanes, pipe = config.vec.pipeline_cycles;
  return std::visit(
      [&](const auto& c) -> uint64_t {
        using T = std::decay_t<decltype(c)>;
        if constexpr (is_one_of<T, isa::Eltwise, isa::Lut>) {
          return ceil_div(c.count, lanes) + pipe;
        } else if constexpr (std::is_same_v<T, isa::Pool>) {
          return ceil_div(uint64_t{c.out_h} * c.out_w * c.channels * c.kernel_h * c.kernel_w,
                          lanes) +
                 pipe;
        } else if constexpr (std::is_same_v<T, isa::Resize>) {
          const uint64_t taps = c.mode == static_cast<uint8_t>(isa::ResizeMode::kBilinear) ? 4 : 1;
          return ceil_div(uint64_t{c.out_h} * c.out_w * c.channels * taps, lanes) + pipe;
        } else if constexpr (std::is_same_v<T, isa::ResizeRows>) {
          return ceil_div(uint64_t{c.out_rows} * c.out_w * c.channels * 4, lanes) + pipe;
        } else if constexpr (std::is_same_v<T, isa::Softmax>) {
          // Three passes over each row (maximum; exp and sum; scale) and a reciprocal per row.
          return ceil_div(uint64_t{c.rows} * c.depth * 3, lanes) + uint64_t{c.rows} * kSoftmaxRowCycles + pipe;
        } else if constexpr (std::is_same_v<T, isa::Mean>) {
          return ceil_div(uint64_t{c.in_h} * c.in_w * c.channels, lanes) + c.channels + pipe;
        } else {
          return 0;
        }
      },
      cmd);
}

ComputeTiming compute_timing(const isa::Command& cmd, const NpuConfig& config) {
  ComputeTiming t;
  BankCounter banks(config.sram);
  std::visit(
      [&](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (is_one_of<T, isa::Conv, isa::Dwconv>) {
          t.compute_cycles = mac_cycles(cmd, config);
          const bool dw = std::is_same_v<T, isa::Dwconv>;
          const uint64_t in_px = uint64_t{c.in_h} * c.in_w, out_px = uint64_t{c.out_h} * c.out_w;
          // The input is streamed once per output-channel fold (all of it for CONV; a
          // depthwise fold reads only its own channels, so once in total).
          const uint64_t refolds = dw ? 1 : ceil_div(c.out_c, config.mac.cols);
          banks.add(c.in_addr, c.in_c, in_px, c.in_pixel_stride, refolds);
          const uint64_t wbytes = dw ? uint64_t{c.kernel_h} * c.kernel_w * c.out_c
                                     : uint64_t{c.out_c} * c.kernel_h * c.kernel_w * c.in_c;
          banks.add(c.w_addr, wbytes, 1, wbytes, 1);
          banks.add(c.qp_addr, uint64_t{c.out_c} * 12, 1, 1, 1);
          banks.add(c.out_addr, c.out_c, out_px, c.out_pixel_stride, 1);
          t.sram_read_bytes = in_px * c.in_c * refolds + wbytes + uint64_t{c.out_c} * 12;
          t.sram_write_bytes = out_px * c.out_c;
        } else if constexpr (std::is_same_v<T, isa::Matmul>) {
          t.compute_cycles = mac_cycles(cmd, config);
          const uint64_t refolds = ceil_div(c.n, config.mac.cols);
          banks.add(c.in_addr, uint64_t{c.m} * c.k, 1, 1, refolds);
          banks.add(c.w_addr, uint64_t{c.n} * c.k, 1, 1, 1);
          banks.add(c.qp_addr, uint64_t{c.n} * 12, 1, 1, 1);
          banks.add(c.out_addr, uint64_t{c.m} * c.n, 1, 1, 1);
          t.sram_read_bytes = uint64_t{c.m} * c.k * refolds + uint64_t{c.n} * (c.k + 12);
          t.sram_write_bytes = uint64_t{c.m} * c.n;
        } else if constexpr (std::is_same_v<T, isa::Eltwise>) {
          t.compute_cycles = vec_cycles(cmd, config);
          banks.add(c.a_addr, c.count, 1, 1, 1);
          banks.add(c.b_addr, c.count, 1, 1, 1);
          banks.add(c.out_addr, c.count, 1, 1, 1);
          t.sram_read_bytes = uint64_t{c.count} * 2;
          t.sram_write_bytes = c.count;
        } else if constexpr (std::is_same_v<T, isa::Lut>) {
          t.compute_cycles = vec_cycles(cmd, config);
          banks.add(c.in_addr, c.count, 1, 1, 1);
          banks.add(c.out_addr, c.count, 1, 1, 1);
          banks.add(c.table_addr, 256, 1, 1, 1);
          t.sram_read_bytes = uint64_t{c.count} + 256;
          t.sram_write_bytes = c.count;
        } else if constexpr (is_one_of<T, isa::Pool, isa::Resize, isa::ResizeRows>) {
          t.compute_cycles = vec_cycles(cmd, config);
          // One pass over the input rows held in SRAM, one over the output rows written.
          uint64_t in_rows = c.in_h, out_rows = c.out_h;
          if constexpr (std::is_same_v<T, isa::ResizeRows>) in_rows = c.in_rows, out_rows = c.out_rows;
          const uint64_t in = in_rows * c.in_w * c.channels;
          const uint64_t out = out_rows * c.out_w * c.channels;
          banks.add(c.in_addr, in, 1, 1, 1);
          banks.add(c.out_addr, out, 1, 1, 1);
          t.sram_read_bytes = in;
          t.sram_write_bytes = out;
        } else if constexpr (std::is_same_v<T, isa::Softmax>) {
          t.compute_cycles = vec_cycles(cmd, config);
          const uint64_t n = uint64_t{c.rows} * c.depth;
          banks.add(c.in_addr, n, 1, 1, 1);
          banks.add(c.out_addr, n, 1, 1, 1);
          t.sram_read_bytes = 2 * n;  // the maximum pass and the exp pass read the row
          t.sram_write_bytes = n;
        } else if constexpr (std::is_same_v<T, isa::Mean>) {
          t.compute_cycles = vec_cycles(cmd, config);
          const uint64_t in = uint64_t{c.in_h} * c.in_w * c.channels;
          banks.add(c.in_addr, in, 1, 1, 1);
          banks.add(c.out_addr, c.channels, 1, 1, 1);
          t.sram_read_bytes = in;
          t.sram_write_bytes = c.channels;
        }
      },
      cmd);
  t.sram_cycles = banks.max();
  t.cycles = std::max(t.compute_cycles, t.sram_cycles);
  return t;
}

}  // namespace tessel::sim::npu
