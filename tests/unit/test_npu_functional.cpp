// Question answered: does each NPU compute command (CONV, DWCONV, MATMUL, ELTWISE, POOL,
// LUT, RESIZE, MEAN) leave in SRAM exactly the bytes TFLite's integer reference kernels
// compute, on the fast and on the reference path, without touching a byte outside its
// output; and does every bad operand throw OperandError naming the command and field,
// leaving SRAM as it was?
//
// Expectations come from the reference kernels called directly on separately laid-out
// tensors, and for the MAC commands also from a literal transcription of the ISA's
// pseudo-code (the only oracle for signedness mixes the kernels cannot express; where both
// apply they must agree). Quantization parameters are derived from random real scales with
// QuantizeMultiplier, as a compiler would.
#include <catch2/catch.hpp>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "tessel/kernels/conv.hpp"
#include "tessel/kernels/elementwise.hpp"
#include "tessel/kernels/fast_conv.hpp"
#include "tessel/kernels/quant.hpp"
#include "tessel/kernels/quant_reduce.hpp"
#include "tessel/kernels/tensor.hpp"
#include "tessel/sim/npu/functional.hpp"

using namespace tessel;
using tessel::sim::npu::command_macs;
using tessel::sim::npu::FunctionalUnit;
using tessel::sim::npu::OperandError;
namespace k = tessel::kernels;

namespace {

using Rng = std::mt19937;
using Bytes = std::vector<uint8_t>;

constexpr size_t kSramSize = 128 * 1024;

int pick(Rng& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
bool coin(Rng& rng, double p = 0.5) { return std::bernoulli_distribution(p)(rng); }
// Log-uniform in [lo, hi]: scales spread over orders of magnitude.
double scale(Rng& rng, double lo, double hi) {
  return std::exp(std::uniform_real_distribution<double>(std::log(lo), std::log(hi))(rng));
}

int tmin(bool s) { return s ? -128 : 0; }
int tmax(bool s) { return s ? 127 : 255; }
int value(uint8_t byte, bool s) { return s ? int{static_cast<int8_t>(byte)} : int{byte}; }
uint8_t byte_of(int v) { return static_cast<uint8_t>(v & 0xFF); }

Bytes random_bytes(Rng& rng, size_t n) {
  Bytes b(n);
  for (auto& v : b) v = static_cast<uint8_t>(pick(rng, 0, 255));
  return b;
}

// A random SRAM image and a bump allocator that places operands at random (unaligned)
// addresses with random gaps between them.
struct Sram {
  Bytes bytes;
  uint32_t next = 0;
  Rng* rng;

  explicit Sram(Rng& r) : bytes(random_bytes(r, kSramSize)), rng(&r) {}
  uint32_t place(size_t size) {
    next += static_cast<uint32_t>(pick(*rng, 0, 67));
    const uint32_t addr = next;
    next += static_cast<uint32_t>(size);
    REQUIRE(next <= bytes.size());
    return addr;
  }
  // Writes `pixels` runs of `len` bytes from contiguous `src` to addr, `stride` apart.
  void put(uint32_t addr, const uint8_t* src, size_t pixels, size_t len, size_t stride) {
    for (size_t p = 0; p < pixels; ++p)
      std::memcpy(bytes.data() + addr + p * stride, src + p * len, len);
  }
  void put(uint32_t addr, const Bytes& src) { put(addr, src.data(), 1, src.size(), src.size()); }
};

// Where two SRAM images first differ, or "" when they are equal.
std::string first_difference(const Bytes& got, const Bytes& want) {
  for (size_t i = 0; i < want.size(); ++i) {
    if (got[i] != want[i]) {
      return "byte " + std::to_string(i) + ": got " + std::to_string(got[i]) + ", want " +
             std::to_string(want[i]);
    }
  }
  return "";
}

// Runs `cmd` on a copy of `before` with a fresh unit (fast path when the CPU has it, then
// reference only) and compares the whole SRAM with `want`.
void check_both_paths(const isa::Command& cmd, const Bytes& before, const Bytes& want,
                      int threads = 1) {
  for (const bool reference_only : {false, true}) {
    INFO((reference_only ? "reference path" : "fast path") << ": " << isa::disassemble(cmd));
    FunctionalUnit unit(threads);
    unit.set_reference_only(reference_only);
    Bytes sram = before;
    unit.execute(cmd, sram.data(), sram.size());
    CHECK(first_difference(sram, want) == "");
  }
}

// ---------------------------------------------------------------------------------------
// MAC commands

enum class Mac { conv, dwconv, matmul };

struct MacCase {
  Mac kind = Mac::conv;
  bool in_signed = true, w_signed = true, out_signed = true;
  int in_h = 1, in_w = 1, in_c = 1, out_h = 1, out_w = 1, out_c = 1;
  int kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pad_top = 0, pad_left = 0, dm = 1;
  int in_zp = 0, w_zp = 0, out_zp = 0, act_min = -128, act_max = 127;
  Bytes input;    // [in_h][in_w][in_c]
  Bytes weights;  // conv [out_c][kh][kw][in_c]; dwconv [kh][kw][out_c]; matmul [n][k]
  std::vector<int32_t> bias, mult, shift;

  int taps() const { return kind == Mac::dwconv ? kh * kw : kh * kw * in_c; }
};

// One axis of a window: SAME, VALID, or a tile (any padding and output count the
// operand rule allows).
struct Axis {
  int in, kernel, stride, dilation, pad, out;
};
Axis random_axis(Rng& rng, int max_in, int max_kernel, int max_stride, int max_dilation) {
  Axis a{};
  a.kernel = pick(rng, 1, max_kernel);
  a.stride = pick(rng, 1, max_stride);
  a.dilation = a.kernel > 1 ? pick(rng, 1, max_dilation) : 1;
  const int extent = (a.kernel - 1) * a.dilation + 1;
  a.in = pick(rng, 1, max_in);
  switch (pick(rng, 0, 2)) {
    case 0:  // SAME
      a.out = (a.in + a.stride - 1) / a.stride;
      a.pad = std::max(0, ((a.out - 1) * a.stride + extent - a.in) / 2);
      break;
    case 1:  // VALID
      a.in = std::max(a.in, extent);
      a.out = (a.in - extent) / a.stride + 1;
      a.pad = 0;
      break;
    default:  // a tile
      a.pad = pick(rng, 0, extent - 1);
      a.out = pick(rng, 1, (a.in - 1 + a.pad) / a.stride + 1);
  }
  return a;
}

// Realistic quantization: random scales, per-channel weight scales, the output scale set so
// that outputs spread over the type's range; multipliers by QuantizeMultiplier.
void random_quant(Rng& rng, MacCase& c, bool per_channel) {
  c.in_zp = pick(rng, tmin(c.in_signed), tmax(c.in_signed));
  if (c.w_signed) {
    c.w_zp = coin(rng, 0.8) ? 0 : pick(rng, -20, 20);  // TFLite: 0; the ISA allows others
  } else {
    c.w_zp = pick(rng, 90, 165);
  }
  c.out_zp = pick(rng, tmin(c.out_signed), tmax(c.out_signed));
  const double s_in = scale(rng, 0.004, 0.1);
  const double s_w0 = scale(rng, 0.002, 0.05);
  // |x - zx| and |w - zw| are about 74 on average: aim at an output spread of ~40 steps.
  const double target =
      40.0 / (std::sqrt(static_cast<double>(c.taps())) * 74.0 * 74.0) * scale(rng, 0.3, 3.0);
  const double s_out = s_in * s_w0 / target;
  std::normal_distribution<double> real_bias(0.0, 0.5);
  for (int oc = 0; oc < c.out_c; ++oc) {
    const double s_w = per_channel ? s_w0 * scale(rng, 0.5, 2.0) : s_w0;
    const k::QuantizedMultiplier q = k::quantize_multiplier(s_in * s_w / s_out);
    c.mult.push_back(q.multiplier);
    c.shift.push_back(q.shift);
    const double b = std::round(real_bias(rng) / (s_in * s_w));
    c.bias.push_back(static_cast<int32_t>(std::clamp(b, -1e7, 1e7)));
  }
  // Fused activation: none, RELU or RELU6, in the output's quantized domain.
  c.act_min = tmin(c.out_signed);
  c.act_max = tmax(c.out_signed);
  const int kind = pick(rng, 0, 2);
  if (kind >= 1) c.act_min = std::max(c.act_min, c.out_zp);
  if (kind == 2)
    c.act_max = std::min(c.act_max, c.out_zp + static_cast<int>(std::lround(6.0 / s_out)));
  c.act_max = std::max(c.act_max, c.act_min);
}

void random_signedness(Rng& rng, MacCase& c) {
  if (coin(rng, 0.7)) {  // a TFLite model: one type throughout
    c.in_signed = c.w_signed = c.out_signed = coin(rng);
  } else {
    c.in_signed = coin(rng);
    c.w_signed = coin(rng);
    c.out_signed = coin(rng);
  }
}

// Random shapes; `wide` widens every range (the hidden stress test).
MacCase random_conv(Rng& rng, bool depthwise, bool wide = false) {
  MacCase c;
  c.kind = depthwise ? Mac::dwconv : Mac::conv;
  random_signedness(rng, c);
  const int max_in = wide ? 24 : 12, max_kernel = wide ? 7 : (depthwise ? 5 : 4);
  const int max_stride = wide ? 5 : 3, max_dilation = wide ? 4 : 2;
  const Axis y = random_axis(rng, max_in, max_kernel, max_stride, max_dilation);
  const Axis x = random_axis(rng, max_in, max_kernel, max_stride, max_dilation);
  c.in_h = y.in, c.out_h = y.out, c.pad_top = y.pad;
  c.kh = y.kernel, c.sh = y.stride, c.dh = y.dilation;
  c.in_w = x.in, c.out_w = x.out, c.pad_left = x.pad;
  c.kw = x.kernel, c.sw = x.stride, c.dw = x.dilation;
  if (depthwise) {
    c.in_c = pick(rng, 1, 20);
    c.dm = coin(rng) ? 1 : pick(rng, 2, wide ? 5 : 3);
    c.out_c = c.in_c * c.dm;
  } else {
    c.in_c = pick(rng, 1, 24);
    c.out_c = pick(rng, 1, 24);
  }
  c.input = random_bytes(rng, static_cast<size_t>(c.in_h) * c.in_w * c.in_c);
  c.weights = random_bytes(
      rng, static_cast<size_t>(c.kh) * c.kw * (depthwise ? c.out_c : c.out_c * c.in_c));
  random_quant(rng, c, coin(rng, 0.7));
  return c;
}

MacCase random_matmul(Rng& rng) {
  MacCase c;
  c.kind = Mac::matmul;
  random_signedness(rng, c);
  c.in_h = c.out_h = pick(rng, 1, 40);  // m
  c.in_c = pick(rng, 1, 80);            // k
  c.out_c = pick(rng, 1, 40);           // n
  c.input = random_bytes(rng, static_cast<size_t>(c.in_h) * c.in_c);
  c.weights = random_bytes(rng, static_cast<size_t>(c.out_c) * c.in_c);
  random_quant(rng, c, coin(rng, 0.3));
  return c;
}

// The ISA's pseudo-code, literally: for every output, the bias plus the products of the
// taps inside the input, MultiplyByQuantizedMultiplier, + out_zp, clamp.
Bytes pseudo_code(const MacCase& c) {
  Bytes out(static_cast<size_t>(c.out_h) * c.out_w * c.out_c);
  for (int oy = 0; oy < c.out_h; ++oy)
    for (int ox = 0; ox < c.out_w; ++ox)
      for (int oc = 0; oc < c.out_c; ++oc) {
        int32_t acc = c.bias[static_cast<size_t>(oc)];
        for (int ky = 0; ky < c.kh; ++ky)
          for (int kx = 0; kx < c.kw; ++kx) {
            const int iy = oy * c.sh - c.pad_top + ky * c.dh;
            const int ix = ox * c.sw - c.pad_left + kx * c.dw;
            if (iy < 0 || iy >= c.in_h || ix < 0 || ix >= c.in_w) continue;
            const size_t pixel = (static_cast<size_t>(iy) * c.in_w + ix) * c.in_c;
            if (c.kind == Mac::dwconv) {
              const int ic = oc / c.dm;
              const uint8_t w = c.weights[(static_cast<size_t>(ky) * c.kw + kx) * c.out_c + oc];
              acc += (value(c.input[pixel + ic], c.in_signed) - c.in_zp) *
                     (value(w, c.w_signed) - c.w_zp);
            } else {
              for (int ic = 0; ic < c.in_c; ++ic) {
                const uint8_t w =
                    c.weights[((static_cast<size_t>(oc) * c.kh + ky) * c.kw + kx) * c.in_c + ic];
                acc += (value(c.input[pixel + ic], c.in_signed) - c.in_zp) *
                       (value(w, c.w_signed) - c.w_zp);
              }
            }
          }
        const int32_t v = k::multiply_by_quantized_multiplier(acc, c.mult[static_cast<size_t>(oc)],
                                                              c.shift[static_cast<size_t>(oc)]) +
                          c.out_zp;
        out[(static_cast<size_t>(oy) * c.out_w + ox) * c.out_c + oc] =
            byte_of(std::clamp(v, c.act_min, c.act_max));
      }
  return out;
}

// The reference kernels (TFLite's CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED), for cases of
// one type T throughout.
template <typename T>
Bytes reference_typed(const MacCase& c) {
  k::RequantParams rq;
  rq.multiplier = c.mult;
  rq.shift = c.shift;
  rq.output_offset = c.out_zp;
  rq.act_min = c.act_min;
  rq.act_max = c.act_max;
  std::vector<T> input(c.input.size()), weights(c.weights.size());
  std::memcpy(input.data(), c.input.data(), input.size());
  std::memcpy(weights.data(), c.weights.data(), weights.size());
  std::vector<T> out(static_cast<size_t>(c.out_h) * c.out_w * c.out_c);
  if (c.kind == Mac::matmul) {
    k::FullyConnectedParams p;
    p.batches = c.in_h;
    p.depth = c.in_c;
    p.units = c.out_c;
    p.input_offset = -c.in_zp;
    p.weight_offset = -c.w_zp;
    k::fully_connected(p, rq, input.data(), weights.data(), c.bias.data(), out.data());
  } else {
    k::ConvParams p;
    p.stride_h = c.sh;
    p.stride_w = c.sw;
    p.dilation_h = c.dh;
    p.dilation_w = c.dw;
    p.pad_top = c.pad_top;
    p.pad_left = c.pad_left;
    p.input_offset = -c.in_zp;
    p.weight_offset = -c.w_zp;
    const k::Shape is{1, c.in_h, c.in_w, c.in_c}, os{1, c.out_h, c.out_w, c.out_c};
    if (c.kind == Mac::dwconv) {
      k::depthwise_conv_2d(p, rq, is, input.data(), k::Shape{1, c.kh, c.kw, c.out_c},
                           weights.data(), c.bias.data(), os, out.data());
    } else {
      k::conv_2d(p, rq, is, input.data(), k::Shape{c.out_c, c.kh, c.kw, c.in_c}, weights.data(),
                 c.bias.data(), os, out.data());
    }
  }
  Bytes bytes(out.size());
  std::memcpy(bytes.data(), out.data(), bytes.size());
  return bytes;
}

// The expected output bytes: the reference kernels where they apply (checked against the
// pseudo-code), the pseudo-code for mixed signedness.
Bytes expected_mac(const MacCase& c) {
  const Bytes literal = pseudo_code(c);
  if (c.in_signed == c.w_signed && c.w_signed == c.out_signed) {
    const Bytes ref = c.in_signed ? reference_typed<int8_t>(c) : reference_typed<uint8_t>(c);
    REQUIRE(ref == literal);
  }
  return literal;
}

struct Placement {
  uint32_t in = 0, w = 0, qp = 0, out = 0;
  int in_stride = 0, out_stride = 0;  // bytes between pixels
};

Bytes qp_bytes(const MacCase& c) {
  Bytes b(12 * static_cast<size_t>(c.out_c));
  for (size_t oc = 0; oc < static_cast<size_t>(c.out_c); ++oc) {
    const int32_t rec[3] = {c.bias[oc], c.mult[oc], c.shift[oc]};
    std::memcpy(b.data() + 12 * oc, rec, 12);
  }
  return b;
}

// Lays the case out in `sram` (pixel strides with random gaps for CONV/DWCONV).
Placement place(Rng& rng, Sram& sram, const MacCase& c) {
  Placement p;
  const bool strided = c.kind != Mac::matmul && coin(rng, 0.6);
  p.in_stride = c.in_c + (strided ? pick(rng, 0, 9) : 0);
  p.out_stride = c.out_c + (strided ? pick(rng, 0, 9) : 0);
  const size_t in_px = static_cast<size_t>(c.in_h) * c.in_w,
               out_px = static_cast<size_t>(c.out_h) * c.out_w;
  p.in = sram.place((in_px - 1) * p.in_stride + c.in_c);
  sram.put(p.in, c.input.data(), in_px, static_cast<size_t>(c.in_c),
           static_cast<size_t>(p.in_stride));
  p.w = sram.place(c.weights.size());
  sram.put(p.w, c.weights);
  const Bytes qp = qp_bytes(c);
  p.qp = sram.place(qp.size());
  sram.put(p.qp, qp);
  p.out = sram.place((out_px - 1) * p.out_stride + c.out_c);
  return p;
}

template <class C>
C conv_command(const MacCase& c, const Placement& p) {
  C m;
  m.in_signed = c.in_signed, m.w_signed = c.w_signed, m.out_signed = c.out_signed;
  m.depth_multiplier = static_cast<uint8_t>(c.dm);
  m.in_addr = p.in, m.w_addr = p.w, m.qp_addr = p.qp, m.out_addr = p.out;
  m.in_h = static_cast<uint16_t>(c.in_h), m.in_w = static_cast<uint16_t>(c.in_w);
  m.in_c = static_cast<uint16_t>(c.in_c), m.in_pixel_stride = static_cast<uint16_t>(p.in_stride);
  m.out_h = static_cast<uint16_t>(c.out_h), m.out_w = static_cast<uint16_t>(c.out_w);
  m.out_c = static_cast<uint16_t>(c.out_c);
  m.out_pixel_stride = static_cast<uint16_t>(p.out_stride);
  m.kernel_h = static_cast<uint8_t>(c.kh), m.kernel_w = static_cast<uint8_t>(c.kw);
  m.stride_h = static_cast<uint8_t>(c.sh), m.stride_w = static_cast<uint8_t>(c.sw);
  m.dilation_h = static_cast<uint8_t>(c.dh), m.dilation_w = static_cast<uint8_t>(c.dw);
  m.pad_top = static_cast<uint8_t>(c.pad_top), m.pad_left = static_cast<uint8_t>(c.pad_left);
  m.in_zp = static_cast<int16_t>(c.in_zp), m.w_zp = static_cast<int16_t>(c.w_zp);
  m.out_zp = static_cast<int16_t>(c.out_zp);
  m.act_min = static_cast<int16_t>(c.act_min), m.act_max = static_cast<int16_t>(c.act_max);
  return m;
}

isa::Command mac_command(const MacCase& c, const Placement& p) {
  if (c.kind == Mac::conv) return conv_command<isa::Conv>(c, p);
  if (c.kind == Mac::dwconv) return conv_command<isa::Dwconv>(c, p);
  isa::Matmul m;
  m.in_signed = c.in_signed, m.w_signed = c.w_signed, m.out_signed = c.out_signed;
  m.in_addr = p.in, m.w_addr = p.w, m.qp_addr = p.qp, m.out_addr = p.out;
  m.m = static_cast<uint16_t>(c.in_h);
  m.k = static_cast<uint16_t>(c.in_c);
  m.n = static_cast<uint16_t>(c.out_c);
  m.in_zp = static_cast<int16_t>(c.in_zp), m.w_zp = static_cast<int16_t>(c.w_zp);
  m.out_zp = static_cast<int16_t>(c.out_zp);
  m.act_min = static_cast<int16_t>(c.act_min), m.act_max = static_cast<int16_t>(c.act_max);
  return m;
}

// Places a case, runs it on both paths, compares all of SRAM.
void check_mac_case(Rng& rng, const MacCase& c, int threads = 1) {
  Sram sram(rng);
  const Placement p = place(rng, sram, c);
  const isa::Command cmd = mac_command(c, p);
  const Bytes out = expected_mac(c);
  Sram w = sram;
  w.put(p.out, out.data(), static_cast<size_t>(c.out_h) * c.out_w, static_cast<size_t>(c.out_c),
        static_cast<size_t>(p.out_stride));
  check_both_paths(cmd, sram.bytes, w.bytes, threads);
}

}  // namespace

TEST_CASE("CONV writes the reference convolution's bytes", "[npu][functional]") {
  Rng rng(101);
  for (int i = 0; i < 120; ++i) {
    const MacCase c = random_conv(rng, false);
    INFO("case " << i);
    check_mac_case(rng, c);
  }
}

TEST_CASE("DWCONV writes the reference depthwise convolution's bytes", "[npu][functional]") {
  Rng rng(202);
  for (int i = 0; i < 120; ++i) {
    const MacCase c = random_conv(rng, true);
    INFO("case " << i << " depth_multiplier " << c.dm);
    check_mac_case(rng, c);
  }
}

TEST_CASE("MATMUL writes the reference fully-connected layer's bytes", "[npu][functional]") {
  Rng rng(303);
  for (int i = 0; i < 80; ++i) {
    const MacCase c = random_matmul(rng);
    INFO("case " << i);
    check_mac_case(rng, c);
  }
}

TEST_CASE("MAC commands over wider random geometries (stress)", "[.][stress][npu][functional]") {
  Rng rng(4242);
  for (int i = 0; i < 3000; ++i) {
    const MacCase c = random_conv(rng, i % 3 == 1, true);
    INFO("case " << i);
    check_mac_case(rng, c, 1 + i % 2);
  }
}

TEST_CASE("a window far larger than its input runs (reference kernels past a size limit)",
          "[npu][functional]") {
  Rng rng(4343);
  for (const bool depthwise : {false, true}) {
    MacCase c;
    c.kind = depthwise ? Mac::dwconv : Mac::conv;
    c.in_h = 3, c.in_w = 2, c.in_c = 1;
    c.kh = c.kw = 255, c.dh = c.dw = 255;  // spans 64771 x 64771: padded, 4 GiB
    c.pad_top = 254, c.pad_left = 1;
    c.out_h = 1, c.out_w = 2, c.out_c = 1;
    c.input = random_bytes(rng, 6);
    c.weights = random_bytes(rng, 255 * 255);
    random_quant(rng, c, false);
    check_mac_case(rng, c);
    // Rows: taps at -254, 1, 256, ...: only row 1 is inside. Columns: output 0's taps
    // start at -1 (then 254, ...): none inside; output 1's first tap is column 0.
    CHECK(command_macs(mac_command(c, Placement{})) == 1);
  }
}

TEST_CASE("MAC commands with two threads give the same bytes", "[npu][functional]") {
  Rng rng(404);
  for (int i = 0; i < 6; ++i) {
    MacCase c = random_conv(rng, i % 2 == 1);
    INFO("case " << i);
    check_mac_case(rng, c, 2);
  }
  check_mac_case(rng, random_matmul(rng), 2);
}

TEST_CASE("a MAC output overlapping its input is computed from the input as it was",
          "[npu][functional]") {
  Rng rng(505);
  MacCase c = random_matmul(rng);
  c.in_h = c.out_h = 16;
  c.in_c = 48;
  c.out_c = 32;  // m*n <= m*k: the output fits over the input
  c.in_signed = c.w_signed = c.out_signed = true;
  c.input = random_bytes(rng, 16 * 48);
  c.weights = random_bytes(rng, 32 * 48);
  c.bias.clear(), c.mult.clear(), c.shift.clear();
  random_quant(rng, c, true);
  Sram sram(rng);
  Placement p = place(rng, sram, c);
  p.out = p.in + 5;
  const isa::Command cmd = mac_command(c, p);
  Sram want = sram;
  want.put(p.out, expected_mac(c));
  check_both_paths(cmd, sram.bytes, want.bytes);
}

TEST_CASE("the fast path's cache never reuses a convolution for other weights or records",
          "[npu][functional]") {
  if (!k::fast_conv_supported()) return;  // nothing cached without the fast path
  Rng rng(606);
  MacCase c = random_conv(rng, false);
  Sram sram(rng);
  const Placement p = place(rng, sram, c);
  const isa::Command cmd = mac_command(c, p);
  FunctionalUnit unit;
  const size_t out_px = static_cast<size_t>(c.out_h) * c.out_w;
  auto run_and_check = [&](const MacCase& now) {
    Sram want = sram;
    want.put(p.out, expected_mac(now).data(), out_px, static_cast<size_t>(now.out_c),
             static_cast<size_t>(p.out_stride));
    unit.execute(cmd, sram.bytes.data(), sram.bytes.size());
    CHECK(first_difference(sram.bytes, want.bytes) == "");
  };
  run_and_check(c);
  run_and_check(c);  // a hit
  // One weight byte changes: same geometry and records, different result.
  c.weights[c.weights.size() / 2] ^= 0x5A;
  sram.put(p.w, c.weights);
  run_and_check(c);
  // One bias changes.
  c.bias[0] += 12345;
  sram.put(p.qp, qp_bytes(c));
  run_and_check(c);
  // New input, same everything else: the cached convolution is reused on it.
  c.input = random_bytes(rng, c.input.size());
  sram.put(p.in, c.input.data(), static_cast<size_t>(c.in_h) * c.in_w, static_cast<size_t>(c.in_c),
           static_cast<size_t>(p.in_stride));
  run_and_check(c);
}

TEST_CASE("command_macs counts the taps inside the input", "[npu][functional]") {
  Rng rng(707);
  for (int i = 0; i < 30; ++i) {
    const MacCase c = random_conv(rng, i % 2 == 1);
    uint64_t taps = 0;
    for (int oy = 0; oy < c.out_h; ++oy)
      for (int ox = 0; ox < c.out_w; ++ox)
        for (int ky = 0; ky < c.kh; ++ky)
          for (int kx = 0; kx < c.kw; ++kx) {
            const int iy = oy * c.sh - c.pad_top + ky * c.dh,
                      ix = ox * c.sw - c.pad_left + kx * c.dw;
            if (iy >= 0 && iy < c.in_h && ix >= 0 && ix < c.in_w) ++taps;
          }
    const uint64_t per_tap = c.kind == Mac::conv ? uint64_t(c.in_c) * c.out_c : uint64_t(c.out_c);
    CHECK(command_macs(mac_command(c, Placement{})) == taps * per_tap);
  }
  const MacCase m = random_matmul(rng);
  CHECK(command_macs(mac_command(m, Placement{})) == uint64_t(m.in_h) * m.in_c * m.out_c);
  CHECK(command_macs(isa::Eltwise{}) == 0);
  CHECK(command_macs(isa::Pool{}) == 0);
}

// ---------------------------------------------------------------------------------------
// Vector commands

namespace {

// Places `inputs`, runs cmd (made by `make` from their addresses and the output address),
// and compares SRAM with the inputs plus `expected` at the output.
void check_vector(Rng& rng, const std::vector<Bytes>& inputs, const Bytes& expected,
                  const std::function<isa::Command(const std::vector<uint32_t>&, uint32_t)>& make) {
  Sram sram(rng);
  std::vector<uint32_t> addrs;
  for (const Bytes& in : inputs) {
    addrs.push_back(sram.place(in.size()));
    sram.put(addrs.back(), in);
  }
  const uint32_t out = sram.place(expected.size());
  Sram want = sram;
  want.put(out, expected);
  check_both_paths(make(addrs, out), sram.bytes, want.bytes);
}

template <typename T>
Bytes as_bytes(const std::vector<T>& v) {
  Bytes b(v.size());
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}
template <typename T>
std::vector<T> as_typed(const Bytes& b) {
  std::vector<T> v(b.size());
  std::memcpy(v.data(), b.data(), b.size());
  return v;
}

void random_activation(Rng& rng, bool s, int zp, int* lo, int* hi) {
  *lo = tmin(s), *hi = tmax(s);
  if (coin(rng)) *lo = std::max(*lo, zp);  // RELU
  if (coin(rng, 0.3)) *hi = std::max(*lo, std::min(*hi, zp + pick(rng, 10, 100)));
}

struct EltwiseCase {
  isa::Eltwise cmd;  // addresses filled in later
  Bytes a, b;
};

EltwiseCase random_eltwise(Rng& rng, isa::EltwiseOp op, bool s) {
  EltwiseCase e;
  isa::Eltwise& c = e.cmd;
  c.op = static_cast<uint8_t>(op);
  c.is_signed = s;
  c.count = static_cast<uint32_t>(pick(rng, 1, 3000));
  e.a = random_bytes(rng, c.count);
  e.b = random_bytes(rng, c.count);
  const double sa = scale(rng, 0.01, 0.2), sb = scale(rng, 0.01, 0.2);
  c.a_zp = static_cast<int16_t>(pick(rng, tmin(s), tmax(s)));
  c.b_zp = static_cast<int16_t>(pick(rng, tmin(s), tmax(s)));
  c.out_zp = static_cast<int16_t>(pick(rng, tmin(s), tmax(s)));
  if (op == isa::EltwiseOp::kAdd || op == isa::EltwiseOp::kSub) {
    // TFLite's ADD/SUB derivation (add_sub_params), with its left_shift of 20 or another
    // the ISA allows.
    const double so = (sa + sb) * scale(rng, 0.5, 1.5);
    c.left_shift = static_cast<uint8_t>(coin(rng) ? 20 : pick(rng, 10, 22));
    const double twice_max = 2 * std::max(sa, sb);
    const k::QuantizedMultiplier m1 = k::quantize_multiplier_smaller_than_one(sa / twice_max);
    const k::QuantizedMultiplier m2 = k::quantize_multiplier_smaller_than_one(sb / twice_max);
    const k::QuantizedMultiplier mo =
        k::quantize_multiplier_smaller_than_one(twice_max / ((1 << c.left_shift) * so));
    c.a_mult = m1.multiplier, c.a_shift = static_cast<int8_t>(m1.shift);
    c.b_mult = m2.multiplier, c.b_shift = static_cast<int8_t>(m2.shift);
    c.out_mult = mo.multiplier, c.out_shift = static_cast<int8_t>(mo.shift);
  } else if (op == isa::EltwiseOp::kMul) {
    const double so = sa * sb * scale(rng, 20.0, 200.0);
    const k::QuantizedMultiplier mo = k::quantize_multiplier(sa * sb / so);
    c.out_mult = mo.multiplier, c.out_shift = static_cast<int8_t>(mo.shift);
  }
  int lo, hi;
  random_activation(rng, s, c.out_zp, &lo, &hi);
  c.act_min = static_cast<int16_t>(lo), c.act_max = static_cast<int16_t>(hi);
  return e;
}

template <typename T>
Bytes expected_eltwise(const EltwiseCase& e) {
  const isa::Eltwise& c = e.cmd;
  const std::vector<T> a = as_typed<T>(e.a), b = as_typed<T>(e.b);
  std::vector<T> out(c.count);
  const k::Shape shape{static_cast<int32_t>(c.count)};
  const auto op = static_cast<isa::EltwiseOp>(c.op);
  if (op == isa::EltwiseOp::kAdd || op == isa::EltwiseOp::kSub) {
    k::QuantizedAddParams p;
    p.input1_offset = -c.a_zp, p.input2_offset = -c.b_zp, p.output_offset = c.out_zp;
    p.left_shift = c.left_shift;
    p.input1 = {c.a_mult, c.a_shift};
    p.input2 = {c.b_mult, c.b_shift};
    p.output = {c.out_mult, c.out_shift};
    p.activation_min = c.act_min, p.activation_max = c.act_max;
    if (op == isa::EltwiseOp::kAdd)
      k::add_quantized(p, shape, a.data(), shape, b.data(), shape, out.data());
    else
      k::sub_quantized(p, shape, a.data(), shape, b.data(), shape, out.data());
  } else if (op == isa::EltwiseOp::kMul) {
    k::QuantizedMulParams p;
    p.input1_offset = -c.a_zp, p.input2_offset = -c.b_zp, p.output_offset = c.out_zp;
    p.output = {c.out_mult, c.out_shift};
    p.activation_min = c.act_min, p.activation_max = c.act_max;
    k::mul_quantized(p, shape, a.data(), shape, b.data(), shape, out.data());
  } else {
    k::maximum_minimum(op == isa::EltwiseOp::kMax, shape, a.data(), shape, b.data(), shape,
                       out.data());
    for (T& v : out) v = static_cast<T>(std::clamp<int>(v, c.act_min, c.act_max));
  }
  return as_bytes(out);
}

}  // namespace

TEST_CASE("ELTWISE writes TFLite's ADD/SUB/MUL/MAXIMUM/MINIMUM bytes", "[npu][functional]") {
  Rng rng(808);
  for (uint32_t op = 0; op < isa::kEltwiseOpCount; ++op) {
    for (const bool s : {true, false}) {
      for (int i = 0; i < 6; ++i) {
        INFO(isa::to_string(static_cast<isa::EltwiseOp>(op))
             << (s ? " int8" : " uint8") << " case " << i);
        const EltwiseCase e = random_eltwise(rng, static_cast<isa::EltwiseOp>(op), s);
        const Bytes want = s ? expected_eltwise<int8_t>(e) : expected_eltwise<uint8_t>(e);
        check_vector(rng, {e.a, e.b}, want, [&](const std::vector<uint32_t>& in, uint32_t out) {
          isa::Eltwise c = e.cmd;
          c.a_addr = in[0], c.b_addr = in[1], c.out_addr = out;
          return isa::Command{c};
        });
      }
    }
  }
}

// ELTWISE commands go through a table of all 65536 operand pairs (PairTableCache) once
// 65536 elements with their parameters have been processed: the same bytes as the kernels
// before and after, for every op and both types, with tables for other parameter sets kept
// alongside.
TEST_CASE("large ELTWISE (the operand-pair table) writes the kernels' bytes", "[npu][functional]") {
  Rng rng(810);
  std::vector<std::pair<EltwiseCase, Bytes>> cases;
  for (uint32_t op = 0; op < isa::kEltwiseOpCount; ++op) {
    for (const bool s : {true, false}) {
      for (int i = 0; i < 3; ++i) {
        INFO(isa::to_string(static_cast<isa::EltwiseOp>(op))
             << (s ? " int8" : " uint8") << " case " << i);
        EltwiseCase e = random_eltwise(rng, static_cast<isa::EltwiseOp>(op), s);
        e.cmd.count = static_cast<uint32_t>(pick(rng, 8192, 40000));
        e.a = random_bytes(rng, e.cmd.count);
        e.b = random_bytes(rng, e.cmd.count);
        const Bytes want = s ? expected_eltwise<int8_t>(e) : expected_eltwise<uint8_t>(e);
        check_vector(rng, {e.a, e.b}, want, [&](const std::vector<uint32_t>& in, uint32_t out) {
          isa::Eltwise c = e.cmd;
          c.a_addr = in[0], c.b_addr = in[1], c.out_addr = out;
          return isa::Command{c};
        });
        cases.push_back({e, want});
      }
    }
  }
  // One unit for all of them, several rounds: the first ones without tables, the later
  // ones with (every case has at least 8192 elements: 8 rounds make 65536).
  FunctionalUnit unit(1);
  for (int round = 0; round < 9; ++round) {
    for (size_t i = 0; i < cases.size(); ++i) {
      INFO("round " << round << " case " << i);
      Sram sram(rng);
      isa::Eltwise c = cases[i].first.cmd;
      c.a_addr = sram.place(c.count);
      c.b_addr = sram.place(c.count);
      c.out_addr = sram.place(c.count);
      sram.put(c.a_addr, cases[i].first.a);
      sram.put(c.b_addr, cases[i].first.b);
      Sram want = sram;
      want.put(c.out_addr, cases[i].second);
      unit.execute(isa::Command{c}, sram.bytes.data(), sram.bytes.size());
      CHECK(first_difference(sram.bytes, want.bytes) == "");
    }
  }
}

TEST_CASE("ELTWISE in place (out_addr = a_addr) reads every input before writing",
          "[npu][functional]") {
  Rng rng(809);
  for (uint32_t op = 0; op < isa::kEltwiseOpCount; ++op) {
    const EltwiseCase e = random_eltwise(rng, static_cast<isa::EltwiseOp>(op), true);
    Sram sram(rng);
    isa::Eltwise c = e.cmd;
    c.a_addr = c.out_addr = sram.place(e.a.size());
    c.b_addr = sram.place(e.b.size());
    sram.put(c.a_addr, e.a);
    sram.put(c.b_addr, e.b);
    Sram want = sram;
    want.put(c.out_addr, expected_eltwise<int8_t>(e));
    check_both_paths(c, sram.bytes, want.bytes);
  }
}

TEST_CASE("POOL writes TFLite's AVERAGE_POOL_2D / MAX_POOL_2D bytes", "[npu][functional]") {
  Rng rng(909);
  for (int i = 0; i < 40; ++i) {
    const bool s = coin(rng), avg = i % 2 == 0;
    const Axis y = random_axis(rng, 14, 4, 3, 1), x = random_axis(rng, 14, 4, 3, 1);
    const int ch = pick(rng, 1, 24);
    isa::Pool c;
    c.op = static_cast<uint8_t>(avg ? isa::PoolOp::kAvg : isa::PoolOp::kMax);
    c.is_signed = s;
    c.kernel_h = static_cast<uint8_t>(y.kernel), c.kernel_w = static_cast<uint8_t>(x.kernel);
    c.stride_h = static_cast<uint8_t>(y.stride), c.stride_w = static_cast<uint8_t>(x.stride);
    c.pad_top = static_cast<uint8_t>(y.pad), c.pad_left = static_cast<uint8_t>(x.pad);
    c.in_h = static_cast<uint16_t>(y.in), c.in_w = static_cast<uint16_t>(x.in);
    c.out_h = static_cast<uint16_t>(y.out), c.out_w = static_cast<uint16_t>(x.out);
    c.channels = static_cast<uint16_t>(ch);
    int lo, hi;
    random_activation(rng, s, pick(rng, tmin(s), tmax(s)), &lo, &hi);
    c.act_min = static_cast<int16_t>(lo), c.act_max = static_cast<int16_t>(hi);
    const Bytes in = random_bytes(rng, static_cast<size_t>(y.in) * x.in * ch);
    k::PoolParams p;
    p.stride_h = y.stride, p.stride_w = x.stride, p.filter_h = y.kernel, p.filter_w = x.kernel;
    p.pad_top = y.pad, p.pad_left = x.pad;
    const k::Shape is{1, y.in, x.in, ch}, os{1, y.out, x.out, ch};
    Bytes want(static_cast<size_t>(y.out) * x.out * ch);
    if (s) {
      std::vector<int8_t> xi = as_typed<int8_t>(in), yo(want.size());
      if (avg)
        k::average_pool_2d(p, {lo, hi}, is, xi.data(), os, yo.data());
      else
        k::max_pool_2d(p, {lo, hi}, is, xi.data(), os, yo.data());
      want = as_bytes(yo);
    } else {
      if (avg)
        k::average_pool_2d(p, {lo, hi}, is, in.data(), os, want.data());
      else
        k::max_pool_2d(p, {lo, hi}, is, in.data(), os, want.data());
    }
    INFO("case " << i);
    check_vector(rng, {in}, want, [&](const std::vector<uint32_t>& a, uint32_t out) {
      isa::Pool cmd = c;
      cmd.in_addr = a[0], cmd.out_addr = out;
      return isa::Command{cmd};
    });
  }
}

TEST_CASE("LUT looks every byte up in the table", "[npu][functional]") {
  Rng rng(1010);
  for (int i = 0; i < 10; ++i) {
    const Bytes table = random_bytes(rng, 256);
    const Bytes in = random_bytes(rng, static_cast<size_t>(pick(rng, 1, 5000)));
    Bytes want(in.size());
    for (size_t j = 0; j < in.size(); ++j) want[j] = table[in[j]];
    check_vector(rng, {in, table}, want, [&](const std::vector<uint32_t>& a, uint32_t out) {
      isa::Lut c;
      c.in_addr = a[0], c.table_addr = a[1], c.out_addr = out;
      c.count = static_cast<uint32_t>(in.size());
      return isa::Command{c};
    });
  }
}

TEST_CASE("RESIZE writes TFLite's RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR bytes",
          "[npu][functional]") {
  Rng rng(1111);
  struct Flags {
    bool align_corners, half_pixel_centers;
  };
  const Flags flags[] = {{false, false}, {true, false}, {false, true}, {true, true}};
  for (const bool bilinear : {true, false}) {
    for (const Flags f : flags) {
      if (bilinear && f.align_corners && f.half_pixel_centers) continue;  // a bad operand
      for (int i = 0; i < 6; ++i) {
        const bool s = coin(rng);
        const int in_h = pick(rng, 1, 9), in_w = pick(rng, 1, 9), ch = pick(rng, 1, 8);
        const int out_h = pick(rng, 1, 17), out_w = pick(rng, 1, 17);
        const Bytes in = random_bytes(rng, static_cast<size_t>(in_h) * in_w * ch);
        Bytes want(static_cast<size_t>(out_h) * out_w * ch);
        if (bilinear) {
          k::ResizeBilinearParams p;
          p.input_height = in_h, p.input_width = in_w, p.depth = ch;
          p.output_height = out_h, p.output_width = out_w;
          p.align_corners = f.align_corners, p.half_pixel_centers = f.half_pixel_centers;
          if (s) {  // TFLite: int8 through ResizeBilinearInteger, uint8 through ResizeBilinear
            std::vector<int8_t> yo(want.size());
            k::resize_bilinear_integer(p, as_typed<int8_t>(in).data(), yo.data());
            want = as_bytes(yo);
          } else {
            k::resize_bilinear(p, in.data(), want.data());
          }
        } else {
          k::ResizeNearestNeighborParams p;
          p.output_height = out_h, p.output_width = out_w;
          p.align_corners = f.align_corners, p.half_pixel_centers = f.half_pixel_centers;
          k::axis_copy(k::resize_nearest_neighbor_plan(k::Shape{1, in_h, in_w, ch}, p), in.data(),
                       want.data(), 1);
        }
        INFO((bilinear ? "bilinear" : "nearest") << " align_corners " << f.align_corners
                                                 << " half_pixel_centers " << f.half_pixel_centers);
        check_vector(rng, {in}, want, [&](const std::vector<uint32_t>& a, uint32_t out) {
          isa::Resize c;
          c.mode = static_cast<uint8_t>(bilinear ? isa::ResizeMode::kBilinear
                                                 : isa::ResizeMode::kNearest);
          c.is_signed = s;
          c.align_corners = f.align_corners, c.half_pixel_centers = f.half_pixel_centers;
          c.in_addr = a[0], c.out_addr = out;
          c.in_h = static_cast<uint16_t>(in_h), c.in_w = static_cast<uint16_t>(in_w);
          c.channels = static_cast<uint16_t>(ch);
          c.out_h = static_cast<uint16_t>(out_h), c.out_w = static_cast<uint16_t>(out_w);
          return isa::Command{c};
        });
      }
    }
  }
}

TEST_CASE("RESIZE_ROWS writes a band of the whole bilinear resize from only the rows it reads",
          "[npu][functional]") {
  Rng rng(2222);
  FunctionalUnit unit;
  constexpr size_t kBandSram = 64 * 1024;
  for (int i = 0; i < 80; ++i) {
    const bool s = coin(rng);
    const int flags = pick(rng, 0, 2);  // none, align_corners, half_pixel_centers
    const int in_h = pick(rng, 1, 12), in_w = pick(rng, 1, 9), ch = pick(rng, 1, 6);
    const int out_h = pick(rng, 1, 30), out_w = pick(rng, 1, 17);
    const Bytes in = random_bytes(rng, static_cast<size_t>(in_h) * in_w * ch);
    // Expected: the rows of the whole-tensor kernel (the TFLite-checked path).
    k::ResizeBilinearParams p;
    p.input_height = in_h, p.input_width = in_w, p.depth = ch;
    p.output_height = out_h, p.output_width = out_w;
    p.align_corners = flags == 1, p.half_pixel_centers = flags == 2;
    Bytes whole(static_cast<size_t>(out_h) * out_w * ch);
    if (s) {
      std::vector<int8_t> yo(whole.size());
      k::resize_bilinear_integer(p, as_typed<int8_t>(in).data(), yo.data());
      whole = as_bytes(yo);
    } else {
      k::resize_bilinear(p, in.data(), whole.data());
    }
    const int r0 = pick(rng, 0, out_h - 1), rows = pick(rng, 1, out_h - r0);
    k::ResizeBilinearParams band = p;
    band.output_row_begin = r0, band.output_row_end = r0 + rows;
    const k::RowRange need = k::resize_bilinear_input_rows(band, s);
    INFO("case " << i << ": " << in_h << "x" << in_w << "x" << ch << " -> " << out_h << "x" << out_w
                  << " rows [" << r0 << ", " << r0 + rows << ") signed " << s << " flags " << flags
                  << " needs [" << need.first << ", " << need.end << ")");
    REQUIRE(need.first >= 0);
    REQUIRE(need.first < need.end);
    REQUIRE(need.end <= in_h);
    // SRAM holds exactly the needed rows; everything around them is noise, so a band that
    // read any other row would differ from the whole resize.
    Bytes sram = random_bytes(rng, kBandSram);
    const size_t row = static_cast<size_t>(in_w) * ch;
    const uint32_t in_addr = 0x100, out_addr = 0x8000;
    std::copy(in.begin() + static_cast<long>(row * static_cast<size_t>(need.first)),
              in.begin() + static_cast<long>(row * static_cast<size_t>(need.end)), sram.begin() + in_addr);
    isa::ResizeRows c;
    c.is_signed = s;
    c.align_corners = p.align_corners, c.half_pixel_centers = p.half_pixel_centers;
    c.in_addr = in_addr, c.out_addr = out_addr;
    c.in_h = static_cast<uint16_t>(in_h), c.in_w = static_cast<uint16_t>(in_w);
    c.channels = static_cast<uint16_t>(ch);
    c.out_h = static_cast<uint16_t>(out_h), c.out_w = static_cast<uint16_t>(out_w);
    c.out_row = static_cast<uint16_t>(r0), c.out_rows = static_cast<uint16_t>(rows);
    c.in_row = static_cast<uint16_t>(need.first), c.in_rows = static_cast<uint16_t>(need.end - need.first);
    unit.execute(isa::Command{c}, sram.data(), sram.size());
    const size_t out_row = static_cast<size_t>(out_w) * ch;
    const Bytes got(sram.begin() + out_addr, sram.begin() + out_addr + static_cast<long>(out_row * static_cast<size_t>(rows)));
    const Bytes want(whole.begin() + static_cast<long>(out_row * static_cast<size_t>(r0)),
                     whole.begin() + static_cast<long>(out_row * static_cast<size_t>(r0 + rows)));
    CHECK(got == want);
    // One row short of what the band reads is refused before anything is written.
    isa::ResizeRows short_band = c;
    if (short_band.in_rows > 1) {
      short_band.in_rows = static_cast<uint16_t>(short_band.in_rows - 1);
      CHECK_THROWS_WITH(unit.execute(isa::Command{short_band}, sram.data(), sram.size()),
                        Catch::Contains("reads input rows"));
    }
  }
  // Bands beyond the output or the input are operand errors.
  Bytes sram(kBandSram);
  isa::ResizeRows c;
  c.in_h = 4, c.in_w = 4, c.channels = 1, c.out_h = 8, c.out_w = 8;
  c.out_row = 6, c.out_rows = 3, c.in_row = 0, c.in_rows = 4;
  CHECK_THROWS_WITH(unit.execute(isa::Command{c}, sram.data(), sram.size()), Catch::Contains("out_row + out_rows"));
  c.out_rows = 2, c.in_row = 1;
  CHECK_THROWS_WITH(unit.execute(isa::Command{c}, sram.data(), sram.size()), Catch::Contains("in_row + in_rows"));
  c.in_row = 0, c.reserved2 = 1;
  CHECK_THROWS_WITH(unit.execute(isa::Command{c}, sram.data(), sram.size()), Catch::Contains("reserved2"));
}

TEST_CASE("SOFTMAX writes TFLite's quantized softmax bytes, row by row", "[npu][functional]") {
  Rng rng(3333);
  FunctionalUnit unit;
  constexpr size_t kSram = 64 * 1024;
  for (int i = 0; i < 40; ++i) {
    const bool s = coin(rng);
    const int rows = pick(rng, 1, 12), depth = pick(rng, 1, 1001);
    if (static_cast<size_t>(rows) * depth * 2 + 0x200 > kSram) continue;
    k::SoftmaxParams p;  // TFLite-shaped: multiplier in [2^30, 2^31), small shifts
    p.input_multiplier = pick(rng, 1 << 30, 0x7FFFFFFF);
    p.input_left_shift = pick(rng, 0, 12);
    p.diff_min = -pick(rng, 1, 1 << 20);
    const Bytes in = random_bytes(rng, static_cast<size_t>(rows) * depth);
    Bytes want(in.size());
    if (s) {
      std::vector<int8_t> yo(in.size());
      k::softmax_quantized(p, rows, depth, as_typed<int8_t>(in).data(), yo.data());
      want = as_bytes(yo);
    } else {
      k::softmax_quantized(p, rows, depth, in.data(), want.data());
    }
    Bytes sram = random_bytes(rng, kSram);
    const uint32_t in_addr = 0x40, out_addr = static_cast<uint32_t>(0x80 + in.size());
    std::copy(in.begin(), in.end(), sram.begin() + in_addr);
    isa::Softmax c;
    c.is_signed = s;
    c.in_addr = in_addr, c.out_addr = out_addr;
    c.rows = static_cast<uint32_t>(rows), c.depth = static_cast<uint16_t>(depth);
    c.input_multiplier = p.input_multiplier, c.input_left_shift = p.input_left_shift, c.diff_min = p.diff_min;
    INFO("case " << i << ": " << rows << "x" << depth << " signed " << s);
    unit.execute(isa::Command{c}, sram.data(), sram.size());
    CHECK(Bytes(sram.begin() + out_addr, sram.begin() + out_addr + static_cast<long>(in.size())) == want);
  }
  // Operand checks name the field.
  Bytes sram(kSram);
  isa::Softmax c;
  c.rows = 2, c.depth = 10, c.input_multiplier = 1 << 30, c.input_left_shift = 2, c.diff_min = -100;
  const auto bad = [&](isa::Softmax b, const char* field) {
    CHECK_THROWS_WITH(unit.execute(isa::Command{b}, sram.data(), sram.size()), Catch::Contains(field));
  };
  isa::Softmax b = c;
  b.rows = 0;
  bad(b, "rows");
  b = c, b.input_multiplier = 0;
  bad(b, "input_multiplier");
  b = c, b.input_left_shift = 32;
  bad(b, "input_left_shift");
  b = c, b.diff_min = 5;
  bad(b, "diff_min");
  b = c, b.out_addr = static_cast<uint32_t>(kSram - 19);
  bad(b, "out_addr");
  b = c, b.is_signed = 2;
  bad(b, "is_signed");
}

TEST_CASE("MEAN writes TFLite's quantized MEAN over height and width", "[npu][functional]") {
  Rng rng(1212);
  for (int i = 0; i < 30; ++i) {
    const bool s = coin(rng);
    const int h = pick(rng, 1, 16), w = pick(rng, 1, 16), ch = pick(rng, 1, 40);
    const double s_in = scale(rng, 0.01, 0.1), s_out = s_in * scale(rng, 0.3, 3.0);
    const k::QuantizedMultiplier m = k::quantize_multiplier(s_in / s_out);
    isa::Mean c;
    c.is_signed = s;
    c.in_zp = static_cast<int16_t>(pick(rng, tmin(s), tmax(s)));
    c.out_zp = static_cast<int16_t>(pick(rng, tmin(s), tmax(s)));
    c.in_h = static_cast<uint16_t>(h), c.in_w = static_cast<uint16_t>(w);
    c.channels = static_cast<uint16_t>(ch);
    c.mult = m.multiplier, c.shift = static_cast<int8_t>(m.shift);
    const Bytes in = random_bytes(rng, static_cast<size_t>(h) * w * ch);
    // As the CPU binding runs TFLite's QuantizedMeanOrSum: 1/n folded into s_in / s_out.
    k::ReduceGeometry g;
    g.input = k::Shape{1, h, w, ch};
    g.reduced[1] = g.reduced[2] = true;
    k::QuantizedReduceParams p;
    p.multiplier = k::fold_mean_divisor(m, int64_t{h} * w);
    p.input_zero_point = c.in_zp, p.output_zero_point = c.out_zp;
    Bytes want(static_cast<size_t>(ch));
    if (s) {
      std::vector<int8_t> yo(want.size());
      k::quantized_mean_or_sum(p, g, as_typed<int8_t>(in).data(), yo.data());
      want = as_bytes(yo);
    } else {
      k::quantized_mean_or_sum(p, g, in.data(), want.data());
    }
    // And the result is the mean: within one step of the real value (requantized).
    for (int cc = 0; cc < ch; ++cc) {
      double sum = 0;
      for (int px = 0; px < h * w; ++px)
        sum += value(in[static_cast<size_t>(px) * ch + cc], s) - c.in_zp;
      const double real = sum / (h * w) * s_in / s_out + c.out_zp;
      const double clamped = std::clamp(real, double(tmin(s)), double(tmax(s)));
      CHECK(std::abs(value(want[static_cast<size_t>(cc)], s) - clamped) <= 1.0);
    }
    INFO("case " << i);
    check_vector(rng, {in}, want, [&](const std::vector<uint32_t>& a, uint32_t out) {
      isa::Mean cmd = c;
      cmd.in_addr = a[0], cmd.out_addr = out;
      return isa::Command{cmd};
    });
  }
}

// ---------------------------------------------------------------------------------------
// Operand checks

namespace {

// Valid commands of each kind, small, inside a 64 KiB SRAM.
constexpr size_t kCheckSram = 64 * 1024;

isa::Conv valid_conv() {
  isa::Conv c;
  c.in_signed = c.w_signed = c.out_signed = 1;
  c.depth_multiplier = 1;
  c.in_addr = 0x100, c.w_addr = 0x1000, c.qp_addr = 0x2000, c.out_addr = 0x3000;
  c.in_h = c.in_w = 8, c.in_c = 4, c.in_pixel_stride = 4;
  c.out_h = c.out_w = 4, c.out_c = 6, c.out_pixel_stride = 8;
  c.kernel_h = c.kernel_w = 3, c.stride_h = c.stride_w = 2, c.dilation_h = c.dilation_w = 1;
  c.pad_top = c.pad_left = 1;
  c.in_zp = -5, c.out_zp = 3, c.act_min = -128, c.act_max = 127;
  return c;
}

isa::Dwconv valid_dwconv() {
  isa::Dwconv c;
  c.in_signed = c.w_signed = c.out_signed = 0;
  c.depth_multiplier = 2;
  c.in_addr = 0x100, c.w_addr = 0x1000, c.qp_addr = 0x2000, c.out_addr = 0x3000;
  c.in_h = c.in_w = 7, c.in_c = 3, c.in_pixel_stride = 3;
  c.out_h = c.out_w = 7, c.out_c = 6, c.out_pixel_stride = 6;
  c.kernel_h = c.kernel_w = 3, c.stride_h = c.stride_w = 1, c.dilation_h = c.dilation_w = 2;
  c.pad_top = c.pad_left = 2;
  c.in_zp = 128, c.w_zp = 120, c.out_zp = 100, c.act_min = 0, c.act_max = 255;
  return c;
}

isa::Matmul valid_matmul() {
  isa::Matmul c;
  c.in_signed = c.w_signed = c.out_signed = 1;
  c.in_addr = 0x100, c.w_addr = 0x1000, c.qp_addr = 0x2000, c.out_addr = 0x3000;
  c.m = 8, c.k = 16, c.n = 12;
  c.act_min = -128, c.act_max = 127;
  return c;
}

isa::Eltwise valid_eltwise(isa::EltwiseOp op) {
  isa::Eltwise c;
  c.op = static_cast<uint8_t>(op);
  c.is_signed = 1;
  c.left_shift = 20;
  c.a_addr = 0x100, c.b_addr = 0x1000, c.out_addr = 0x2000, c.count = 100;
  c.a_mult = c.b_mult = c.out_mult = 1 << 30;
  c.a_shift = c.b_shift = -1, c.out_shift = -18;
  c.act_min = -128, c.act_max = 127;
  return c;
}

isa::Pool valid_pool() {
  isa::Pool c;
  c.op = static_cast<uint8_t>(isa::PoolOp::kAvg);
  c.is_signed = 1;
  c.kernel_h = c.kernel_w = 2, c.stride_h = c.stride_w = 2;
  c.in_addr = 0x100, c.out_addr = 0x2000;
  c.in_h = c.in_w = 8, c.channels = 5, c.out_h = c.out_w = 4;
  c.act_min = -128, c.act_max = 127;
  return c;
}

isa::Lut valid_lut() {
  isa::Lut c;
  c.in_addr = 0x100, c.table_addr = 0x1000, c.out_addr = 0x2000, c.count = 300;
  return c;
}

isa::Resize valid_resize() {
  isa::Resize c;
  c.mode = static_cast<uint8_t>(isa::ResizeMode::kBilinear);
  c.is_signed = 1;
  c.in_addr = 0x100, c.out_addr = 0x2000;
  c.in_h = c.in_w = 4, c.channels = 3, c.out_h = c.out_w = 8;
  return c;
}

isa::Mean valid_mean() {
  isa::Mean c;
  c.is_signed = 1;
  c.in_addr = 0x100, c.out_addr = 0x2000;
  c.in_h = c.in_w = 7, c.channels = 16;
  c.mult = 1 << 30, c.shift = 1;
  return c;
}

// Fills the qp records of a MAC command with valid values (a valid command must run).
template <class C>
void put_valid_qp(Bytes& sram, const C& c, int channels) {
  for (int oc = 0; oc < channels; ++oc) {
    const int32_t rec[3] = {oc * 10, 1 << 30, -8};
    std::memcpy(sram.data() + c.qp_addr + 12 * static_cast<size_t>(oc), rec, 12);
  }
}

// The command must run on the SRAM, and its mutation must be refused with a message that
// starts "<COMMAND>: <field> ", without any byte of SRAM changing.
template <class C>
void expect_bad(const C& valid, const char* field, const std::function<void(C&)>& mutate) {
  Rng rng(77);
  Bytes sram = random_bytes(rng, kCheckSram);
  if constexpr (std::is_same_v<C, isa::Conv> || std::is_same_v<C, isa::Dwconv>)
    put_valid_qp(sram, valid, valid.out_c);
  if constexpr (std::is_same_v<C, isa::Matmul>) put_valid_qp(sram, valid, valid.n);
  {
    FunctionalUnit unit;
    Bytes copy = sram;
    INFO("the valid base command " << isa::disassemble(valid));
    REQUIRE_NOTHROW(unit.execute(valid, copy.data(), copy.size()));
  }
  C bad = valid;
  mutate(bad);
  const std::string prefix =
      std::string(isa::opcode_name(static_cast<uint8_t>(C::kOpcode))) + ": " + field + " ";
  INFO("expected a message starting '" << prefix << "' for " << isa::disassemble(bad));
  for (const bool reference_only : {false, true}) {
    FunctionalUnit unit;
    unit.set_reference_only(reference_only);
    const Bytes before = sram;
    std::string message;
    try {
      unit.execute(bad, sram.data(), sram.size());
    } catch (const OperandError& e) {
      message = e.what();
    }
    INFO("message: " << message);
    CHECK(message.rfind(prefix, 0) == 0);
    CHECK(sram == before);
  }
  CHECK_THROWS_AS(FunctionalUnit::check_operands(bad, sram.size()), OperandError);
}

}  // namespace

TEST_CASE("CONV operand checks name the field and write nothing", "[npu][functional][errors]") {
  using C = isa::Conv;
  const C v = valid_conv();
  expect_bad<C>(v, "in_signed", [](C& c) { c.in_signed = 2; });
  expect_bad<C>(v, "out_signed", [](C& c) { c.out_signed = 7; });
  expect_bad<C>(v, "in_h", [](C& c) { c.in_h = 0; });
  expect_bad<C>(v, "in_c", [](C& c) { c.in_c = 0; });
  expect_bad<C>(v, "out_w", [](C& c) { c.out_w = 0; });
  expect_bad<C>(v, "out_c", [](C& c) { c.out_c = 0; });
  expect_bad<C>(v, "kernel_w", [](C& c) { c.kernel_w = 0; });
  expect_bad<C>(v, "stride_h", [](C& c) { c.stride_h = 0; });
  expect_bad<C>(v, "dilation_w", [](C& c) { c.dilation_w = 0; });
  expect_bad<C>(v, "in_pixel_stride", [](C& c) { c.in_pixel_stride = 3; });
  expect_bad<C>(v, "out_pixel_stride", [](C& c) { c.out_pixel_stride = 5; });
  expect_bad<C>(v, "depth_multiplier", [](C& c) { c.depth_multiplier = 2; });
  expect_bad<C>(v, "depth_multiplier", [](C& c) { c.depth_multiplier = 0; });
  // out_h 5 with stride 2, pad 1: the last window would start at input row 7 = in_h - 1,
  // still fine; out_h 6 starts at row 9, past in_h 8.
  expect_bad<C>(v, "out_h", [](C& c) { c.out_h = 6; });
  expect_bad<C>(v, "out_w", [](C& c) { c.out_w = 9; });
  expect_bad<C>(v, "pad_top", [](C& c) { c.pad_top = 3; });
  expect_bad<C>(v, "pad_left", [](C& c) { c.pad_left = 5, c.dilation_w = 2; });
  expect_bad<C>(v, "in_zp", [](C& c) { c.in_zp = 128; });
  expect_bad<C>(v, "w_zp", [](C& c) { c.w_zp = -129; });
  expect_bad<C>(v, "out_zp", [](C& c) { c.out_zp = 200; });
  expect_bad<C>(v, "in_zp", [](C& c) { c.in_signed = 0; });  // -5 is not a uint8
  expect_bad<C>(v, "act_min", [](C& c) { c.act_min = 10, c.act_max = 5; });
  expect_bad<C>(v, "act_max", [](C& c) { c.act_max = 128; });
  expect_bad<C>(v, "act_min", [](C& c) { c.out_signed = 0, c.out_zp = 3, c.act_max = 255; });
  expect_bad<C>(v, "in_addr", [](C& c) { c.in_addr = kCheckSram - 100; });
  expect_bad<C>(v, "in_addr", [](C& c) { c.in_pixel_stride = 4000; });
  expect_bad<C>(v, "w_addr", [](C& c) { c.w_addr = kCheckSram - 6 * 9 * 4 + 1; });
  expect_bad<C>(v, "qp_addr", [](C& c) { c.qp_addr = kCheckSram - 71; });
  expect_bad<C>(v, "out_addr", [](C& c) { c.out_addr = 0xFFFFFFF0u; });  // no 32-bit wrap
  expect_bad<C>(v, "out_addr", [](C& c) { c.out_pixel_stride = 60000; });
}

TEST_CASE("DWCONV and MATMUL operand checks", "[npu][functional][errors]") {
  using D = isa::Dwconv;
  const D d = valid_dwconv();
  expect_bad<D>(d, "depth_multiplier", [](D& c) { c.depth_multiplier = 0; });
  expect_bad<D>(d, "out_c", [](D& c) { c.depth_multiplier = 3; });
  expect_bad<D>(d, "out_c", [](D& c) { c.out_c = 7, c.out_pixel_stride = 7; });
  expect_bad<D>(d, "pad_top", [](D& c) { c.pad_top = 5; });  // extent (3-1)*2+1 = 5
  expect_bad<D>(d, "in_zp", [](D& c) { c.in_zp = 256; });
  expect_bad<D>(d, "w_zp", [](D& c) { c.w_zp = -1; });
  expect_bad<D>(d, "w_addr", [](D& c) { c.w_addr = kCheckSram - 53; });  // 3*3*6 = 54 bytes
  using M = isa::Matmul;
  const M m = valid_matmul();
  expect_bad<M>(m, "w_signed", [](M& c) { c.w_signed = 9; });
  expect_bad<M>(m, "m", [](M& c) { c.m = 0; });
  expect_bad<M>(m, "k", [](M& c) { c.k = 0; });
  expect_bad<M>(m, "n", [](M& c) { c.n = 0; });
  expect_bad<M>(m, "out_zp", [](M& c) { c.out_zp = -200; });
  expect_bad<M>(m, "act_max", [](M& c) { c.out_signed = 0, c.act_min = 0, c.act_max = 300; });
  expect_bad<M>(m, "in_addr", [](M& c) { c.in_addr = kCheckSram - 127; });
  expect_bad<M>(m, "w_addr", [](M& c) { c.k = 6000; });
  expect_bad<M>(m, "qp_addr", [](M& c) { c.qp_addr = kCheckSram - 12 * 12 + 4; });
  expect_bad<M>(m, "out_addr", [](M& c) { c.out_addr = kCheckSram; });
}

TEST_CASE("vector command operand checks", "[npu][functional][errors]") {
  using E = isa::Eltwise;
  const E add = valid_eltwise(isa::EltwiseOp::kAdd);
  expect_bad<E>(add, "op", [](E& c) { c.op = 5; });
  expect_bad<E>(add, "is_signed", [](E& c) { c.is_signed = 2; });
  expect_bad<E>(add, "count", [](E& c) { c.count = 0; });
  expect_bad<E>(add, "left_shift", [](E& c) { c.left_shift = 23; });
  expect_bad<E>(add, "a_shift", [](E& c) { c.a_shift = 1; });
  expect_bad<E>(add, "b_shift", [](E& c) { c.b_shift = -32; });
  expect_bad<E>(add, "out_shift", [](E& c) { c.out_shift = 3; });
  expect_bad<E>(add, "a_mult", [](E& c) { c.a_mult = -1; });
  expect_bad<E>(add, "out_mult", [](E& c) { c.out_mult = INT32_MIN; });
  expect_bad<E>(add, "b_zp", [](E& c) { c.b_zp = 128; });
  expect_bad<E>(add, "act_min", [](E& c) { c.act_min = -129; });
  expect_bad<E>(add, "a_addr", [](E& c) { c.a_addr = kCheckSram - 99; });
  expect_bad<E>(add, "b_addr", [](E& c) { c.count = 62000; });
  expect_bad<E>(add, "out_addr", [](E& c) { c.out_addr = 0xFFFFFFFFu; });
  const E mul = valid_eltwise(isa::EltwiseOp::kMul);
  expect_bad<E>(mul, "out_shift", [](E& c) { c.out_shift = 32; });
  expect_bad<E>(mul, "a_zp", [](E& c) { c.is_signed = 0, c.a_zp = -1; });
  const E max = valid_eltwise(isa::EltwiseOp::kMax);
  expect_bad<E>(max, "act_max", [](E& c) { c.act_max = 1000; });

  using P = isa::Pool;
  const P pool = valid_pool();
  expect_bad<P>(pool, "op", [](P& c) { c.op = 2; });
  expect_bad<P>(pool, "kernel_h", [](P& c) { c.kernel_h = 0; });
  expect_bad<P>(pool, "stride_w", [](P& c) { c.stride_w = 0; });
  expect_bad<P>(pool, "channels", [](P& c) { c.channels = 0; });
  expect_bad<P>(pool, "out_h", [](P& c) { c.out_h = 5; });
  expect_bad<P>(pool, "pad_left", [](P& c) { c.pad_left = 2; });  // a window of padding only
  expect_bad<P>(pool, "act_min", [](P& c) { c.act_min = 5, c.act_max = 4; });
  expect_bad<P>(pool, "out_addr", [](P& c) { c.out_addr = kCheckSram - 79; });

  using L = isa::Lut;
  const L lut = valid_lut();
  expect_bad<L>(lut, "count", [](L& c) { c.count = 0; });
  expect_bad<L>(lut, "table_addr", [](L& c) { c.table_addr = kCheckSram - 255; });
  expect_bad<L>(lut, "in_addr", [](L& c) { c.in_addr = kCheckSram - 299; });

  using R = isa::Resize;
  const R resize = valid_resize();
  expect_bad<R>(resize, "mode", [](R& c) { c.mode = 2; });
  expect_bad<R>(resize, "align_corners", [](R& c) { c.align_corners = 3; });
  expect_bad<R>(resize, "half_pixel_centers", [](R& c) { c.half_pixel_centers = 2; });
  expect_bad<R>(resize, "align_corners", [](R& c) { c.align_corners = c.half_pixel_centers = 1; });
  expect_bad<R>(resize, "out_w", [](R& c) { c.out_w = 0; });
  expect_bad<R>(resize, "in_addr", [](R& c) { c.in_h = 6000; });
  expect_bad<R>(resize, "out_addr", [](R& c) { c.out_h = 4000; });

  using Mn = isa::Mean;
  const Mn mean = valid_mean();
  expect_bad<Mn>(mean, "is_signed", [](Mn& c) { c.is_signed = 4; });
  expect_bad<Mn>(mean, "in_w", [](Mn& c) { c.in_w = 0; });
  expect_bad<Mn>(mean, "in_zp", [](Mn& c) { c.in_zp = -129; });
  expect_bad<Mn>(mean, "mult", [](Mn& c) { c.mult = -5; });
  expect_bad<Mn>(mean, "shift", [](Mn& c) { c.shift = 32; });
  expect_bad<Mn>(mean, "shift", [](Mn& c) { c.shift = -32; });
  expect_bad<Mn>(mean, "out_addr", [](Mn& c) { c.out_addr = kCheckSram - 15; });
}

TEST_CASE("operand edge cases that are valid run", "[npu][functional][errors]") {
  Rng rng(88);
  Bytes sram = random_bytes(rng, kCheckSram);
  FunctionalUnit unit;
  // NEAREST defines align_corners together with half_pixel_centers.
  isa::Resize r = valid_resize();
  r.mode = static_cast<uint8_t>(isa::ResizeMode::kNearest);
  r.align_corners = r.half_pixel_centers = 1;
  CHECK_NOTHROW(unit.execute(r, sram.data(), sram.size()));
  // Regions ending exactly at the end of SRAM.
  isa::Lut l = valid_lut();
  l.out_addr = kCheckSram - l.count;
  l.table_addr = kCheckSram - 256;
  CHECK_NOTHROW(unit.execute(l, sram.data(), sram.size()));
  // The last window starting on the last input row/column, and the widest legal padding.
  isa::Conv c = valid_conv();
  c.out_h = 5;                  // (5-1)*2 - 1 = 7 = in_h - 1
  c.pad_left = 2, c.out_w = 5;  // extent 3: pad 2 is the largest; (5-1)*2 - 2 = 6 <= 7
  put_valid_qp(sram, c, c.out_c);
  CHECK_NOTHROW(unit.execute(c, sram.data(), sram.size()));
  // MAX/MIN ignore the rescaling fields.
  isa::Eltwise e = valid_eltwise(isa::EltwiseOp::kMin);
  e.left_shift = 200, e.a_shift = 50, e.a_mult = -7, e.a_zp = 999;
  CHECK_NOTHROW(unit.execute(e, sram.data(), sram.size()));
}

TEST_CASE("bad requantization records in SRAM throw before anything is written",
          "[npu][functional][errors]") {
  Rng rng(99);
  const isa::Conv c = valid_conv();
  for (const bool reference_only : {false, true}) {
    for (const int which : {1, 2, 3}) {  // negative multiplier, shift 32, shift -32
      Bytes sram = random_bytes(rng, kCheckSram);
      put_valid_qp(sram, c, c.out_c);
      const int32_t bad = which == 1 ? -3 : (which == 2 ? 32 : -32);
      std::memcpy(sram.data() + c.qp_addr + 12 * 5 + (which == 1 ? 4 : 8), &bad, 4);
      const Bytes before = sram;
      FunctionalUnit unit;
      unit.set_reference_only(reference_only);
      std::string message;
      try {
        unit.execute(c, sram.data(), sram.size());
      } catch (const OperandError& e) {
        message = e.what();
      }
      INFO(message);
      CHECK(message.rfind("CONV: qp record 5 at ", 0) == 0);
      CHECK(message.find(which == 1 ? "multiplier" : "shift") != std::string::npos);
      CHECK(sram == before);
    }
  }
}

TEST_CASE("non-compute commands are not the functional unit's", "[npu][functional][errors]") {
  Bytes sram(1024);
  FunctionalUnit unit;
  CHECK_THROWS_AS(unit.execute(isa::Nop{}, sram.data(), sram.size()), std::logic_error);
  CHECK_THROWS_AS(FunctionalUnit::check_operands(isa::DmaLoad{}, sram.size()), std::logic_error);
  // ...and OperandError is not what they throw (the device treats that as a guest error).
  try {
    unit.execute(isa::End{}, sram.data(), sram.size());
  } catch (const OperandError&) {
    FAIL("END reported as a bad operand");
  } catch (const std::logic_error&) {
  }
}
