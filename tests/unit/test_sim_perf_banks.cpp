// compute_timing() counts SRAM bank accesses for a CONV's per-pixel rows by counting one
// period of rows (rows a whole number of bank sweeps apart touch the same banks) instead
// of every row. This checks it against the model counted row by row, granule by granule,
// on random operand layouts and SRAM organisations (bank counts that are not powers of
// two included, where the period is longest).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "tessel/sim/npu/config.hpp"
#include "tessel/sim/npu/timing.hpp"
#include "tessel_isa_commands.hpp"

using namespace tessel;
using namespace tessel::sim::npu;

namespace {

// The SRAM model of timing.hpp, literally: every granule of every row, `repeat` times
// (rows that follow each other without a gap are one run, whose granules count once).
struct NaiveBanks {
  uint64_t width;
  std::vector<uint64_t> count;
  void add(uint64_t addr, uint64_t len, uint64_t rows, uint64_t stride, uint64_t repeat) {
    if (stride == len) {
      len *= rows;
      rows = 1;
    }
    for (uint64_t r = 0; r < rows; ++r) {
      if (len == 0) continue;
      const uint64_t first = (addr + r * stride) / width, last = (addr + r * stride + len - 1) / width;
      for (uint64_t g = first; g <= last; ++g) count[g % count.size()] += repeat;
    }
  }
};

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

template <class T>
uint64_t naive_sram_cycles(const T& c, const NpuConfig& cfg, bool dw) {
  NaiveBanks b{cfg.sram.bank_width_bytes, std::vector<uint64_t>(cfg.sram.banks, 0)};
  const uint64_t in_px = uint64_t{c.in_h} * c.in_w, out_px = uint64_t{c.out_h} * c.out_w;
  const uint64_t refolds = dw ? 1 : ceil_div(c.out_c, cfg.mac.cols);
  b.add(c.in_addr, c.in_c, in_px, c.in_pixel_stride, refolds);
  const uint64_t wbytes = dw ? uint64_t{c.kernel_h} * c.kernel_w * c.out_c
                             : uint64_t{c.out_c} * c.kernel_h * c.kernel_w * c.in_c;
  b.add(c.w_addr, wbytes, 1, wbytes, 1);
  b.add(c.qp_addr, uint64_t{c.out_c} * 12, 1, 1, 1);
  b.add(c.out_addr, c.out_c, out_px, c.out_pixel_stride, 1);
  return *std::max_element(b.count.begin(), b.count.end());
}

}  // namespace

TEST_CASE("SRAM bank counts by period equal the row-by-row count", "[npu][timing]") {
  std::mt19937 rng(12345);
  const auto pick = [&](uint32_t lo, uint32_t hi) {
    return std::uniform_int_distribution<uint32_t>(lo, hi)(rng);
  };
  NpuConfig cfg = load_npu_preset_or_file("default");
  int checked = 0, with_stalls = 0;
  for (int i = 0; i < 300; ++i) {
    cfg.sram.banks = pick(1, 40);
    cfg.sram.bank_width_bytes = 1u << pick(0, 6);
    isa::Conv c;
    c.in_h = static_cast<uint16_t>(pick(1, 40));
    c.in_w = static_cast<uint16_t>(pick(1, 40));
    c.in_c = static_cast<uint16_t>(pick(1, 96));
    c.in_pixel_stride = static_cast<uint16_t>(c.in_c + pick(0, 70));
    c.out_h = static_cast<uint16_t>(pick(1, 40));
    c.out_w = static_cast<uint16_t>(pick(1, 40));
    c.out_c = static_cast<uint16_t>(pick(1, 96));
    c.out_pixel_stride = static_cast<uint16_t>(c.out_c + pick(0, 70));
    c.kernel_h = static_cast<uint8_t>(pick(1, 3));
    c.kernel_w = static_cast<uint8_t>(pick(1, 3));
    c.in_addr = pick(0, 100000);
    c.w_addr = pick(0, 100000);
    c.qp_addr = pick(0, 100000);
    c.out_addr = pick(0, 100000);
    const ComputeTiming t = compute_timing(c, cfg);
    INFO("case " << i << ": banks " << cfg.sram.banks << " width " << cfg.sram.bank_width_bytes);
    REQUIRE(t.sram_cycles == naive_sram_cycles(c, cfg, false));
    isa::Dwconv d;
    d.in_h = c.in_h;
    d.in_w = c.in_w;
    d.in_c = c.in_c;
    d.in_pixel_stride = c.in_pixel_stride;
    d.out_h = c.out_h;
    d.out_w = c.out_w;
    d.out_c = c.in_c;
    d.out_pixel_stride = static_cast<uint16_t>(d.out_c + pick(0, 70));
    d.kernel_h = c.kernel_h;
    d.kernel_w = c.kernel_w;
    d.in_addr = c.in_addr;
    d.w_addr = c.w_addr;
    d.qp_addr = c.qp_addr;
    d.out_addr = c.out_addr;
    const ComputeTiming td = compute_timing(d, cfg);
    REQUIRE(td.sram_cycles == naive_sram_cycles(d, cfg, true));
    ++checked;
    if (t.sram_cycles > t.compute_cycles || td.sram_cycles > td.compute_cycles) ++with_stalls;
  }
  CHECK(checked == 300);
  CHECK(with_stalls > 0);  // the cases reach the regime where the bank count decides
}
