// The functional half of the NPU's compute engines (see functional.hpp).
//
// How a command runs:
//  1. check_operands() validates the command's fields against the ISA and the SRAM size
//     without looking at memory.
//  2. execute() reads the requantization records (data, so only checkable now) and
//     validates them too.
//  3. The result is computed into a scratch buffer by the shared kernels (Tessel's fast
//     exact convolution, or the reference kernels that define the CPU oracle) and only
//     then copied into the output region.
// So a command that throws has written nothing, and an output region that overlaps an
// input region computes from the inputs as they were when the command started (as if the
// engine read every operand before writing any result).
//
// Semantics are never re-derived here: each command is mapped onto the kernel that
// implements the TFLite operator its pseudo-code names, with the parameters derived the way
// runtime/cpu/ops/*_ops.cpp derives them for that operator. The only arithmetic written
// here is what the kernels' APIs cannot express (see run_mac_reference and run_eltwise).
#include "tessel/sim/npu/functional.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "tessel/ir/error.hpp"
#include "tessel/kernels/conv.hpp"
#include "tessel/kernels/elementwise.hpp"
#include "tessel/kernels/fast_conv.hpp"
#include "tessel/kernels/fast_resize.hpp"
#include "tessel/kernels/quant.hpp"
#include "tessel/kernels/quant_reduce.hpp"
#include "tessel/kernels/shape.hpp"
#include "tessel/kernels/tensor.hpp"
#include "tessel/sim/npu/resize_params.hpp"

namespace tessel::sim::npu {
namespace {

// Scratch bytes whose resize leaves new bytes uninitialized: every use writes a buffer
// completely before reading it, and zero-filling megabytes per command (DeepLabV3's
// upsampled logits) showed in profiles.
template <typename T>
struct NoInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = NoInitAllocator<U>;
  };
  NoInitAllocator() = default;
  template <typename U>
  NoInitAllocator(const NoInitAllocator<U>&) noexcept {}
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using Scratch = std::vector<uint8_t, NoInitAllocator<uint8_t>>;

namespace k = tessel::kernels;

template <class T, class... Ts>
constexpr bool is_one_of = (std::is_same_v<T, Ts> || ...);

template <class T>
constexpr bool is_compute = is_one_of<T, isa::Conv, isa::Dwconv, isa::Matmul, isa::Eltwise,
                                      isa::Pool, isa::Lut, isa::Resize, isa::Mean, isa::ResizeRows,
                                      isa::Softmax>;

// One requantization record at qp_addr: int32 bias, multiplier, shift (little-endian).
constexpr uint64_t kQpRecordBytes = 12;
constexpr uint64_t kLutTableBytes = 256;

// MultiplyByQuantizedMultiplier's shift: QuantizeMultiplier produces [-31, 31] (a smaller
// exponent is flushed to a zero multiplier), and the arithmetic is defined on exactly that
// range (a left shift of at most 31 bits, a rounding right shift of at most 31).
constexpr int kMinShift = -31;
constexpr int kMaxShift = 31;

// ADD/SUB: (q - zp) << left_shift with |q - zp| <= 255, then the sum of the two rescaled
// inputs (each at most as large as its shifted input) must stay inside int32:
// 2 * 255 * 2^22 < 2^31 <= 2 * 255 * 2^23. TFLite uses 20 for 8-bit operands.
constexpr int kMaxAddLeftShift = 22;

const char* type_name(bool is_signed) { return is_signed ? "int8" : "uint8"; }
int32_t type_min(bool is_signed) { return is_signed ? -128 : 0; }
int32_t type_max(bool is_signed) { return is_signed ? 127 : 255; }

template <class C>
const char* command_name() {
  const char* name = isa::opcode_name(static_cast<uint8_t>(C::kOpcode));
  return name ? name : "?";
}

// ---------------------------------------------------------------------------------------
// Operand checks

// Collects the rules shared by all commands; every failure names the command and field.
class Checker {
 public:
  Checker(const char* command, size_t sram_size) : command_(command), sram_size_(sram_size) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw OperandError(std::string(command_) + ": " + what);
  }

  // An enum field: `v` must be below `count` (the values of enum `name`).
  void enumerated(const char* field, uint32_t v, uint32_t count, const char* name) const {
    if (v >= count) {
      fail(std::string(field) + " " + std::to_string(v) + " is not " + name + " (0.." +
           std::to_string(count - 1) + ")");
    }
  }

  void flag(const char* field, uint32_t v) const {
    if (v > 1) fail(std::string(field) + " " + std::to_string(v) + " is not 0 or 1");
  }

  void nonzero(const char* field, uint64_t v) const {
    if (v == 0) fail(std::string(field) + " is zero");
  }

  void in_range(const char* field, int64_t v, int64_t lo, int64_t hi, const char* why) const {
    if (v < lo || v > hi) {
      fail(std::string(field) + " " + std::to_string(v) + " is outside [" + std::to_string(lo) +
           ", " + std::to_string(hi) + "]" + (why[0] ? std::string(" (") + why + ")" : ""));
    }
  }

  // A zero point, or any other value, that must be representable in the operand's type.
  void in_type(const char* field, int32_t v, bool is_signed) const {
    if (v < type_min(is_signed) || v > type_max(is_signed)) {
      fail(std::string(field) + " " + std::to_string(v) + " is outside the " +
           type_name(is_signed) + " range [" + std::to_string(type_min(is_signed)) + ", " +
           std::to_string(type_max(is_signed)) + "]");
    }
  }

  void activation(int32_t act_min, int32_t act_max, bool out_signed) const {
    in_type("act_min", act_min, out_signed);
    in_type("act_max", act_max, out_signed);
    if (act_min > act_max) {
      fail("act_min " + std::to_string(act_min) + " > act_max " + std::to_string(act_max));
    }
  }

  // Requantization multipliers are Q31 significands of positive scale ratios.
  void multiplier(const char* field, int32_t m) const {
    if (m < 0) fail(std::string(field) + " " + std::to_string(m) + " is negative");
  }

  // [addr, addr + bytes) must lie inside the SRAM. Computed in 64 bits: addr and bytes are
  // each below 2^32 + 2^33, so nothing wraps.
  void region(const char* field, uint32_t addr, uint64_t bytes) const {
    const uint64_t end = uint64_t{addr} + bytes;
    if (end > sram_size_) {
      fail(std::string(field) + " region [" + hex(addr) + ", " + hex(end) + ") exceeds SRAM size " +
           hex(sram_size_));
    }
  }

  // `pixels` (>= 1) runs of `bytes` each, `stride` bytes apart.
  void pixels(const char* field, uint32_t addr, uint64_t pixels, uint64_t stride,
              uint64_t bytes) const {
    region(field, addr, (pixels - 1) * stride + bytes);
  }

  // One axis of a sliding window (CONV, DWCONV, POOL). TFLite lets a window hang over the
  // input's edges (padding), so out_h is not a function of in_h; the rule used here is
  //   (a) pad < (kernel - 1) * dilation + 1: the first window's last tap reaches index 0;
  //   (b) (out - 1) * stride - pad <= in - 1: the last window's first tap is at or before
  //       the last input index.
  // Window origins increase with the output index, so together they say that every
  // window's span overlaps the input. With dilation 1 (POOL) that means every window holds
  // at least one input element, which AVERAGE_POOL needs (it divides by the count). TFLite's
  // SAME and VALID padding always satisfy both; a tile of a larger layer does too (its
  // output rows are a subset of the layer's, with the tile's own input rows).
  struct Axis {
    const char *in, *out, *kernel, *stride, *dilation, *pad, *unit;
  };
  void window(const Axis& a, int64_t in, int64_t out, int64_t kernel, int64_t stride,
              int64_t dilation, int64_t pad) const {
    const int64_t extent = (kernel - 1) * dilation + 1;
    if (pad >= extent) {
      fail(std::string(a.pad) + " " + std::to_string(pad) + " puts the first output " + a.unit +
           "'s window entirely in the padding (window extent " + std::to_string(extent) + " = (" +
           a.kernel + " - 1) * " + a.dilation + " + 1)");
    }
    const int64_t last_origin = (out - 1) * stride - pad;
    if (last_origin > in - 1) {
      fail(std::string(a.out) + " " + std::to_string(out) + " is inconsistent with the geometry: " +
           "the last output " + a.unit + "'s window starts at input " + a.unit + " " +
           std::to_string(last_origin) + " = (" + a.out + " - 1) * " + a.stride + " - " + a.pad +
           ", past " + a.in + " " + std::to_string(in));
    }
  }

 private:
  const char* command_;
  uint64_t sram_size_;
};

constexpr Checker::Axis kRows{"in_h",       "out_h",   "kernel_h", "stride_h",
                              "dilation_h", "pad_top", "row"};
constexpr Checker::Axis kCols{"in_w",       "out_w",    "kernel_w", "stride_w",
                              "dilation_w", "pad_left", "column"};

template <class C>
void check_conv(const C& c, bool depthwise, const Checker& ck) {
  ck.flag("in_signed", c.in_signed);
  ck.flag("w_signed", c.w_signed);
  ck.flag("out_signed", c.out_signed);
  ck.nonzero("in_h", c.in_h);
  ck.nonzero("in_w", c.in_w);
  ck.nonzero("in_c", c.in_c);
  ck.nonzero("out_h", c.out_h);
  ck.nonzero("out_w", c.out_w);
  ck.nonzero("out_c", c.out_c);
  ck.nonzero("kernel_h", c.kernel_h);
  ck.nonzero("kernel_w", c.kernel_w);
  ck.nonzero("stride_h", c.stride_h);
  ck.nonzero("stride_w", c.stride_w);
  ck.nonzero("dilation_h", c.dilation_h);
  ck.nonzero("dilation_w", c.dilation_w);
  if (c.in_pixel_stride < c.in_c) {
    ck.fail("in_pixel_stride " + std::to_string(c.in_pixel_stride) + " is less than in_c " +
            std::to_string(c.in_c));
  }
  if (c.out_pixel_stride < c.out_c) {
    ck.fail("out_pixel_stride " + std::to_string(c.out_pixel_stride) + " is less than out_c " +
            std::to_string(c.out_c));
  }
  if (depthwise) {
    ck.nonzero("depth_multiplier", c.depth_multiplier);
    if (uint32_t{c.out_c} != uint32_t{c.in_c} * c.depth_multiplier) {
      ck.fail("out_c " + std::to_string(c.out_c) + " != in_c " + std::to_string(c.in_c) +
              " * depth_multiplier " + std::to_string(c.depth_multiplier));
    }
  } else if (c.depth_multiplier != 1) {
    ck.fail("depth_multiplier " + std::to_string(c.depth_multiplier) +
            " must be 1 (it is a DWCONV field)");
  }
  ck.window(kRows, c.in_h, c.out_h, c.kernel_h, c.stride_h, c.dilation_h, c.pad_top);
  ck.window(kCols, c.in_w, c.out_w, c.kernel_w, c.stride_w, c.dilation_w, c.pad_left);
  // Zero points inside their types keep |x - zx| and |w - zw| <= 255 (the kernels' int16
  // widening and accumulator bounds) and let padding be stored as the zero point's byte.
  ck.in_type("in_zp", c.in_zp, c.in_signed);
  ck.in_type("w_zp", c.w_zp, c.w_signed);
  ck.in_type("out_zp", c.out_zp, c.out_signed);
  ck.activation(c.act_min, c.act_max, c.out_signed);
  const uint64_t taps = uint64_t{c.kernel_h} * c.kernel_w;
  ck.pixels("in_addr", c.in_addr, uint64_t{c.in_h} * c.in_w, c.in_pixel_stride, c.in_c);
  ck.region("w_addr", c.w_addr, depthwise ? taps * c.out_c : taps * c.in_c * c.out_c);
  ck.region("qp_addr", c.qp_addr, kQpRecordBytes * c.out_c);
  ck.pixels("out_addr", c.out_addr, uint64_t{c.out_h} * c.out_w, c.out_pixel_stride, c.out_c);
}

void check(const isa::Conv& c, const Checker& ck) { check_conv(c, false, ck); }
void check(const isa::Dwconv& c, const Checker& ck) { check_conv(c, true, ck); }

void check(const isa::Matmul& c, const Checker& ck) {
  ck.flag("in_signed", c.in_signed);
  ck.flag("w_signed", c.w_signed);
  ck.flag("out_signed", c.out_signed);
  ck.nonzero("m", c.m);
  ck.nonzero("k", c.k);
  ck.nonzero("n", c.n);
  ck.in_type("in_zp", c.in_zp, c.in_signed);
  ck.in_type("w_zp", c.w_zp, c.w_signed);
  ck.in_type("out_zp", c.out_zp, c.out_signed);
  ck.activation(c.act_min, c.act_max, c.out_signed);
  ck.region("in_addr", c.in_addr, uint64_t{c.m} * c.k);
  ck.region("w_addr", c.w_addr, uint64_t{c.n} * c.k);
  ck.region("qp_addr", c.qp_addr, kQpRecordBytes * c.n);
  ck.region("out_addr", c.out_addr, uint64_t{c.m} * c.n);
}

void check(const isa::Eltwise& c, const Checker& ck) {
  ck.enumerated("op", c.op, isa::kEltwiseOpCount, "an ELTWISE_OP");
  ck.flag("is_signed", c.is_signed);
  ck.nonzero("count", c.count);
  // The kernels index with int32 shapes (any real SRAM is far smaller anyway).
  ck.in_range("count", c.count, 1, std::numeric_limits<int32_t>::max(), "");
  const bool s = c.is_signed != 0;
  const auto op = static_cast<isa::EltwiseOp>(c.op);
  if (op == isa::EltwiseOp::kAdd || op == isa::EltwiseOp::kSub) {
    ck.in_range("left_shift", c.left_shift, 0, kMaxAddLeftShift,
                "the shifted inputs and their sum must fit in int32");
    ck.in_type("a_zp", c.a_zp, s);
    ck.in_type("b_zp", c.b_zp, s);
    ck.in_type("out_zp", c.out_zp, s);
    ck.multiplier("a_mult", c.a_mult);
    ck.multiplier("b_mult", c.b_mult);
    ck.multiplier("out_mult", c.out_mult);
    // TFLite derives all three with QuantizeMultiplierSmallerThanOneExp.
    const char* why = "ADD/SUB multipliers are below one";
    ck.in_range("a_shift", c.a_shift, kMinShift, 0, why);
    ck.in_range("b_shift", c.b_shift, kMinShift, 0, why);
    ck.in_range("out_shift", c.out_shift, kMinShift, 0, why);
  } else if (op == isa::EltwiseOp::kMul) {
    ck.in_type("a_zp", c.a_zp, s);
    ck.in_type("b_zp", c.b_zp, s);
    ck.in_type("out_zp", c.out_zp, s);
    ck.multiplier("out_mult", c.out_mult);
    ck.in_range("out_shift", c.out_shift, kMinShift, kMaxShift, "");
  }  // MAX/MIN compare stored values: no quantization fields
  ck.activation(c.act_min, c.act_max, s);
  ck.region("a_addr", c.a_addr, c.count);
  ck.region("b_addr", c.b_addr, c.count);
  ck.region("out_addr", c.out_addr, c.count);
}

void check(const isa::Pool& c, const Checker& ck) {
  ck.enumerated("op", c.op, isa::kPoolOpCount, "a POOL_OP");
  ck.flag("is_signed", c.is_signed);
  ck.nonzero("in_h", c.in_h);
  ck.nonzero("in_w", c.in_w);
  ck.nonzero("channels", c.channels);
  ck.nonzero("out_h", c.out_h);
  ck.nonzero("out_w", c.out_w);
  ck.nonzero("kernel_h", c.kernel_h);
  ck.nonzero("kernel_w", c.kernel_w);
  ck.nonzero("stride_h", c.stride_h);
  ck.nonzero("stride_w", c.stride_w);
  ck.window(kRows, c.in_h, c.out_h, c.kernel_h, c.stride_h, 1, c.pad_top);
  ck.window(kCols, c.in_w, c.out_w, c.kernel_w, c.stride_w, 1, c.pad_left);
  ck.activation(c.act_min, c.act_max, c.is_signed != 0);
  ck.region("in_addr", c.in_addr, uint64_t{c.in_h} * c.in_w * c.channels);
  ck.region("out_addr", c.out_addr, uint64_t{c.out_h} * c.out_w * c.channels);
}

void check(const isa::Lut& c, const Checker& ck) {
  ck.nonzero("count", c.count);
  ck.region("in_addr", c.in_addr, c.count);
  ck.region("table_addr", c.table_addr, kLutTableBytes);
  ck.region("out_addr", c.out_addr, c.count);
}

void check(const isa::Resize& c, const Checker& ck) {
  ck.enumerated("mode", c.mode, isa::kResizeModeCount, "a RESIZE_MODE");
  ck.flag("is_signed", c.is_signed);
  ck.flag("align_corners", c.align_corners);
  ck.flag("half_pixel_centers", c.half_pixel_centers);
  // TFLite's RESIZE_BILINEAR rejects the pair; RESIZE_NEAREST_NEIGHBOR defines it.
  if (c.mode == static_cast<uint8_t>(isa::ResizeMode::kBilinear) && c.align_corners &&
      c.half_pixel_centers) {
    ck.fail("align_corners and half_pixel_centers are both set (BILINEAR allows one at most)");
  }
  ck.nonzero("in_h", c.in_h);
  ck.nonzero("in_w", c.in_w);
  ck.nonzero("channels", c.channels);
  ck.nonzero("out_h", c.out_h);
  ck.nonzero("out_w", c.out_w);
  ck.region("in_addr", c.in_addr, uint64_t{c.in_h} * c.in_w * c.channels);
  ck.region("out_addr", c.out_addr, uint64_t{c.out_h} * c.out_w * c.channels);
}

// RESIZE and RESIZE_ROWS (bilinear): as TFLite and the CPU binding, uint8 runs
// reference_ops::ResizeBilinear (float weights), int8 ResizeBilinearInteger; `fast` uses
// the cpu backend's vectorized kernels (the same bytes, tests/unit/test_fast_resize.cpp).
void resize_bilinear_bytes(const k::ResizeBilinearParams& p, bool is_signed, const uint8_t* in,
                           Scratch& out, bool fast) {
  if (fast) {
    const k::ResizeBilinearPlan plan =
        k::plan_resize_bilinear(p, is_signed ? k::FastElement::i8 : k::FastElement::u8);
    k::resize_bilinear_fast(plan, in, out.data(), 1);
  } else if (is_signed) {
    k::resize_bilinear_integer(p, reinterpret_cast<const int8_t*>(in), reinterpret_cast<int8_t*>(out.data()));
  } else {
    k::resize_bilinear(p, in, out.data());
  }
}

void check(const isa::ResizeRows& c, const Checker& ck) {
  ck.flag("is_signed", c.is_signed);
  ck.flag("align_corners", c.align_corners);
  ck.flag("half_pixel_centers", c.half_pixel_centers);
  if (c.align_corners && c.half_pixel_centers) {
    ck.fail("align_corners and half_pixel_centers are both set (BILINEAR allows one at most)");
  }
  ck.in_range("reserved", c.reserved, 0, 0, "must be zero");
  ck.in_range("reserved2", c.reserved2, 0, 0, "must be zero");
  ck.nonzero("in_h", c.in_h);
  ck.nonzero("in_w", c.in_w);
  ck.nonzero("channels", c.channels);
  ck.nonzero("out_h", c.out_h);
  ck.nonzero("out_w", c.out_w);
  ck.nonzero("out_rows", c.out_rows);
  ck.nonzero("in_rows", c.in_rows);
  ck.in_range("out_row + out_rows", int64_t{c.out_row} + c.out_rows, 1, c.out_h, "rows of the output");
  ck.in_range("in_row + in_rows", int64_t{c.in_row} + c.in_rows, 1, c.in_h, "rows of the input");
  const k::RowRange need = band_input_rows(c);
  if (need.first < c.in_row || need.end > int64_t{c.in_row} + c.in_rows) {
    ck.fail("the band reads input rows [" + std::to_string(need.first) + ", " +
            std::to_string(need.end) + ") but SRAM holds rows [" + std::to_string(c.in_row) +
            ", " + std::to_string(c.in_row + c.in_rows) + ")");
  }
  ck.region("in_addr", c.in_addr, uint64_t{c.in_rows} * c.in_w * c.channels);
  ck.region("out_addr", c.out_addr, uint64_t{c.out_rows} * c.out_w * c.channels);
}

void check(const isa::Softmax& c, const Checker& ck) {
  ck.flag("is_signed", c.is_signed);
  ck.in_range("reserved", c.reserved, 0, 0, "must be zero");
  ck.in_range("reserved2", c.reserved2, 0, 0, "must be zero");
  ck.in_range("reserved3", c.reserved3, 0, 0, "must be zero");
  ck.nonzero("rows", c.rows);
  ck.nonzero("depth", c.depth);
  ck.in_range("input_multiplier", c.input_multiplier, 1, INT32_MAX, "a positive Q31 multiplier");
  ck.in_range("input_left_shift", c.input_left_shift, 0, 31, "");
  ck.in_range("diff_min", c.diff_min, INT32_MIN, 0, "a cut-off below the row maximum");
  ck.region("in_addr", c.in_addr, uint64_t{c.rows} * c.depth);
  ck.region("out_addr", c.out_addr, uint64_t{c.rows} * c.depth);
}

void check(const isa::Mean& c, const Checker& ck) {
  ck.flag("is_signed", c.is_signed);
  ck.nonzero("in_h", c.in_h);
  ck.nonzero("in_w", c.in_w);
  ck.nonzero("channels", c.channels);
  ck.in_type("in_zp", c.in_zp, c.is_signed != 0);
  ck.in_type("out_zp", c.out_zp, c.is_signed != 0);
  ck.multiplier("mult", c.mult);
  ck.in_range("shift", c.shift, kMinShift, kMaxShift, "");
  ck.region("in_addr", c.in_addr, uint64_t{c.in_h} * c.in_w * c.channels);
  ck.region("out_addr", c.out_addr, c.channels);
}

// ---------------------------------------------------------------------------------------
// MAC commands (CONV, DWCONV, MATMUL) in one normalized form

enum class MacKind { conv, depthwise, matmul };

struct MacJob {
  const char* name = "";
  MacKind kind = MacKind::conv;
  bool in_signed = true, w_signed = true, out_signed = true;
  int in_h = 1, in_w = 1, in_c = 1, in_stride = 1;  // stride: bytes between input pixels
  int out_h = 1, out_w = 1, out_c = 1, out_stride = 1;
  int kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1, pad_top = 0, pad_left = 0;
  int32_t in_zp = 0, w_zp = 0, out_zp = 0, act_min = 0, act_max = 0;
  uint32_t in_addr = 0, w_addr = 0, qp_addr = 0, out_addr = 0;

  size_t in_pixels() const { return static_cast<size_t>(in_h) * in_w; }
  size_t out_pixels() const { return static_cast<size_t>(out_h) * out_w; }
  size_t weight_bytes() const {
    const size_t taps = static_cast<size_t>(kernel_h) * kernel_w;
    return kind == MacKind::depthwise ? taps * out_c : taps * in_c * out_c;
  }
};

template <class C>
MacJob conv_job(const C& c, MacKind kind) {
  MacJob j;
  j.name = command_name<C>();
  j.kind = kind;
  j.in_signed = c.in_signed != 0;
  j.w_signed = c.w_signed != 0;
  j.out_signed = c.out_signed != 0;
  j.in_h = c.in_h, j.in_w = c.in_w, j.in_c = c.in_c, j.in_stride = c.in_pixel_stride;
  j.out_h = c.out_h, j.out_w = c.out_w, j.out_c = c.out_c, j.out_stride = c.out_pixel_stride;
  j.kernel_h = c.kernel_h, j.kernel_w = c.kernel_w;
  j.stride_h = c.stride_h, j.stride_w = c.stride_w;
  j.dilation_h = c.dilation_h, j.dilation_w = c.dilation_w;
  j.pad_top = c.pad_top, j.pad_left = c.pad_left;
  j.in_zp = c.in_zp, j.w_zp = c.w_zp, j.out_zp = c.out_zp;
  j.act_min = c.act_min, j.act_max = c.act_max;
  j.in_addr = c.in_addr, j.w_addr = c.w_addr, j.qp_addr = c.qp_addr, j.out_addr = c.out_addr;
  return j;
}

MacJob mac_job(const isa::Conv& c) { return conv_job(c, MacKind::conv); }
MacJob mac_job(const isa::Dwconv& c) { return conv_job(c, MacKind::depthwise); }

// MATMUL as a 1x1 convolution over an m x 1 image of k channels (TFLite runs
// FULLY_CONNECTED the same way): rows of A are pixels, rows of B are filters.
MacJob mac_job(const isa::Matmul& c) {
  MacJob j;
  j.name = command_name<isa::Matmul>();
  j.kind = MacKind::matmul;
  j.in_signed = c.in_signed != 0;
  j.w_signed = c.w_signed != 0;
  j.out_signed = c.out_signed != 0;
  j.in_h = c.m, j.in_c = c.k, j.in_stride = c.k;
  j.out_h = c.m, j.out_c = c.n, j.out_stride = c.n;
  j.in_zp = c.in_zp, j.w_zp = c.w_zp, j.out_zp = c.out_zp;
  j.act_min = c.act_min, j.act_max = c.act_max;
  j.in_addr = c.in_addr, j.w_addr = c.w_addr, j.qp_addr = c.qp_addr, j.out_addr = c.out_addr;
  return j;
}

// The per-output-channel requantization records, validated: they are data in SRAM, so
// only execute() can see them. A shift outside [-31, 31] or a negative multiplier (no
// TFLite model produces either) is a bad operand like any other.
struct ChannelParams {
  std::vector<int32_t> bias, multiplier, shift;
};

ChannelParams read_qp(const MacJob& j, const uint8_t* sram) {
  ChannelParams p;
  p.bias.resize(static_cast<size_t>(j.out_c));
  p.multiplier.resize(p.bias.size());
  p.shift.resize(p.bias.size());
  for (size_t c = 0; c < p.bias.size(); ++c) {
    const uint64_t addr = j.qp_addr + kQpRecordBytes * c;
    int32_t rec[3];
    std::memcpy(rec, sram + addr, sizeof rec);  // little-endian, as the host
    auto fail = [&](const std::string& what) {
      throw OperandError(std::string(j.name) + ": qp record " + std::to_string(c) + " at " +
                         hex(addr) + ": " + what);
    };
    if (rec[1] < 0) fail("multiplier " + std::to_string(rec[1]) + " is negative");
    if (rec[2] < kMinShift || rec[2] > kMaxShift) {
      fail("shift " + std::to_string(rec[2]) + " is outside [" + std::to_string(kMinShift) + ", " +
           std::to_string(kMaxShift) + "]");
    }
    p.bias[c] = rec[0];
    p.multiplier[c] = rec[1];
    p.shift[c] = rec[2];
  }
  return p;
}

// Copies `pixels` runs of `bytes`, `stride` apart, into a contiguous buffer, XOR-ing every
// byte with `flip` (0 or 0x80, see run_mac_reference).
void gather_pixels(const uint8_t* src, size_t pixels, size_t bytes, size_t stride, uint8_t flip,
                   uint8_t* dst) {
  for (size_t p = 0; p < pixels; ++p, src += stride, dst += bytes) {
    if (flip == 0) {
      std::memcpy(dst, src, bytes);
    } else {
      for (size_t i = 0; i < bytes; ++i) dst[i] = static_cast<uint8_t>(src[i] ^ flip);
    }
  }
}

// The inverse: contiguous pixels out to runs `stride` apart (the gaps are left alone).
void scatter_pixels(const uint8_t* src, size_t pixels, size_t bytes, size_t stride, uint8_t* dst) {
  if (stride == bytes) {
    std::memcpy(dst, src, pixels * bytes);
    return;
  }
  for (size_t p = 0; p < pixels; ++p, src += bytes, dst += stride) std::memcpy(dst, src, bytes);
}

// The reference path for activations and weights of one type T (int8_t or uint8_t).
// The kernels return clamp(v, act_min, act_max) stored as T: with the clamp inside the
// output type's range, the stored byte is the output's byte whatever T is.
template <typename T>
void mac_reference_typed(const MacJob& j, const ChannelParams& qp, int32_t in_zp, const T* x,
                         const T* w, T* y) {
  k::RequantParams rq;
  rq.multiplier = qp.multiplier;
  rq.shift = qp.shift;
  rq.output_offset = j.out_zp;
  rq.act_min = j.act_min;
  rq.act_max = j.act_max;
  if (j.kind == MacKind::matmul) {
    k::FullyConnectedParams p;
    p.batches = j.in_h;
    p.depth = j.in_c;
    p.units = j.out_c;
    p.input_offset = -in_zp;
    p.weight_offset = -j.w_zp;
    k::fully_connected(p, rq, x, w, qp.bias.data(), y);
    return;
  }
  k::ConvParams p;
  p.stride_h = j.stride_h;
  p.stride_w = j.stride_w;
  p.dilation_h = j.dilation_h;
  p.dilation_w = j.dilation_w;
  p.pad_top = j.pad_top;
  p.pad_left = j.pad_left;
  p.input_offset = -in_zp;
  p.weight_offset = -j.w_zp;
  const k::Shape in{1, j.in_h, j.in_w, j.in_c};
  const k::Shape out{1, j.out_h, j.out_w, j.out_c};
  if (j.kind == MacKind::depthwise) {
    k::depthwise_conv_2d(p, rq, in, x, k::Shape{1, j.kernel_h, j.kernel_w, j.out_c}, w,
                         qp.bias.data(), out, y);
  } else {
    k::conv_2d(p, rq, in, x, k::Shape{j.out_c, j.kernel_h, j.kernel_w, j.in_c}, w, qp.bias.data(),
               out, y);
  }
}

// Runs a MAC command on the reference kernels into `out` (contiguous [out_pixels][out_c]).
// The kernels take activations and weights of one signedness, the command may mix them
// (TFLite never does, but the pseudo-code defines it). A mixed input is brought to the
// weights' type by flipping each byte's top bit: uint8 x read as int8 after x ^ 0x80 is
// x - 128, int8 x read as uint8 is x + 128; the zero point moves by the same 128, so every
// (x - in_zp) and hence every accumulator is unchanged.
void run_mac_reference(const MacJob& j, const ChannelParams& qp, const uint8_t* sram,
                       Scratch& in_buf, uint8_t* out) {
  const bool flip = j.in_signed != j.w_signed;
  const int32_t in_zp = !flip ? j.in_zp : (j.in_signed ? j.in_zp + 128 : j.in_zp - 128);
  const uint8_t* x = sram + j.in_addr;
  if (flip || j.in_stride != j.in_c) {
    in_buf.resize(j.in_pixels() * static_cast<size_t>(j.in_c));
    gather_pixels(x, j.in_pixels(), static_cast<size_t>(j.in_c), static_cast<size_t>(j.in_stride),
                  flip ? 0x80 : 0, in_buf.data());
    x = in_buf.data();
  }
  const uint8_t* w = sram + j.w_addr;
  if (j.w_signed) {
    mac_reference_typed(j, qp, in_zp, reinterpret_cast<const int8_t*>(x),
                        reinterpret_cast<const int8_t*>(w), reinterpret_cast<int8_t*>(out));
  } else {
    mac_reference_typed(j, qp, in_zp, x, w, out);
  }
}

// The job as the fast convolution sees it. FastConv (like TFLite) takes the output width
// to be the largest the padded input allows, while a command may compute fewer output
// columns (a tile of a layer). Input columns and rows past the last window's last tap are
// never read, so they are left out: then the widths agree. (The operand rules make both
// sizes at least 1.)
MacJob fast_view(const MacJob& j) {
  MacJob v = j;
  v.in_h = std::min(j.in_h,
                    (j.out_h - 1) * j.stride_h - j.pad_top + (j.kernel_h - 1) * j.dilation_h + 1);
  v.in_w = std::min(j.in_w,
                    (j.out_w - 1) * j.stride_w - j.pad_left + (j.kernel_w - 1) * j.dilation_w + 1);
  v.in_stride = v.in_c;
  return v;
}

// FastConv copies the input into a buffer padded (with the zero point) to cover every
// window whole. A window of a large, widely dilated kernel can span far more than the
// input (a 255 x 255 kernel at dilation 255 spans 64771 rows), so a legal command could
// ask for gigabytes there; such commands run on the reference kernels, whose cost follows
// the taps instead. Real layers need a few times their input at most.
constexpr uint64_t kMaxFastPaddedBytes = uint64_t{64} << 20;

uint64_t fast_padded_bytes(const MacJob& v) {
  const int64_t h = std::max<int64_t>(
      int64_t{v.in_h} + v.pad_top,
      int64_t{v.out_h - 1} * v.stride_h + int64_t{v.kernel_h - 1} * v.dilation_h + 1);
  const int64_t w = std::max<int64_t>(
      int64_t{v.in_w} + v.pad_left,
      int64_t{v.out_w - 1} * v.stride_w + int64_t{v.kernel_w - 1} * v.dilation_w + 1);
  return static_cast<uint64_t>(h) * static_cast<uint64_t>(w) * static_cast<uint64_t>(v.in_c);
}

// The input of `view` as a contiguous [in_h][in_w][in_c] tensor: SRAM itself when the
// command's pixels are packed and no column is left out, otherwise gathered into buf.
const uint8_t* fast_input(const MacJob& j, const MacJob& view, const uint8_t* sram,
                          Scratch& buf) {
  const uint8_t* x = sram + j.in_addr;
  if (j.in_stride == j.in_c && view.in_w == j.in_w) return x;
  const size_t c = static_cast<size_t>(j.in_c);
  const size_t row_in = static_cast<size_t>(j.in_w) * static_cast<size_t>(j.in_stride);
  const size_t row_out = static_cast<size_t>(view.in_w) * c;
  buf.resize(static_cast<size_t>(view.in_h) * row_out);
  for (size_t y = 0; y < static_cast<size_t>(view.in_h); ++y) {
    gather_pixels(x + y * row_in, static_cast<size_t>(view.in_w), c,
                  static_cast<size_t>(j.in_stride), 0, buf.data() + y * row_out);
  }
  return buf.data();
}

// 64-bit hash of a byte string (a cache index only: hits are confirmed byte for byte).
// Four independent lanes of eight bytes: one lane's multiply chain was the cost of every
// convolution command (its weights are hashed each time), four keep the multiplier busy.
uint64_t hash_bytes(const uint8_t* p, size_t n, uint64_t h) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  size_t i = 0;
  if (n >= 32) {
    uint64_t lane[4] = {h, h ^ 0x1111111111111111ull, h ^ 0x2222222222222222ull,
                        h ^ 0x3333333333333333ull};
    for (; i + 32 <= n; i += 32) {
      for (int k = 0; k < 4; ++k) {
        uint64_t w;
        std::memcpy(&w, p + i + 8 * k, 8);
        lane[k] = (lane[k] ^ w) * kMul;
        lane[k] ^= lane[k] >> 29;
      }
    }
    h = lane[0];
    for (int k = 1; k < 4; ++k) {
      h = (h ^ lane[k]) * kMul;
      h ^= h >> 29;
    }
  }
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
  }
  for (; i < n; ++i) {
    h = (h ^ p[i]) * kMul;
    h ^= h >> 29;
  }
  return h;
}

// Prepared fast convolutions, keyed by everything a FastConv bakes in: the geometry, the
// types and quantization of the command, and the bytes of its weights and requantization
// records. A tiled layer issues many commands with the same weights, so after the first
// tile each costs a hash, a comparison and the oneDNN call. Least recently used entries
// are dropped beyond kMaxEntries.
class FastConvCache {
 public:
  k::FastConv& get(const MacJob& j, const uint8_t* weights, const uint8_t* qp_bytes,
                   const ChannelParams& qp, int threads) {
    const std::vector<int64_t> key = key_of(j);
    const size_t wbytes = j.weight_bytes();
    const size_t qbytes = kQpRecordBytes * static_cast<size_t>(j.out_c);
    const uint64_t hash =
        hash_bytes(qp_bytes, qbytes, hash_bytes(weights, wbytes, 1469598103934665603ull));
    ++clock_;
    for (Entry& e : entries_) {
      // The hash only narrows the search: the stored bytes must match exactly.
      if (e.hash == hash && e.key == key && std::memcmp(e.weights.data(), weights, wbytes) == 0 &&
          std::memcmp(e.qp.data(), qp_bytes, qbytes) == 0) {
        e.last_use = clock_;
        return *e.conv;
      }
    }
    if (entries_.size() >= kMaxEntries) {
      entries_.erase(
          std::min_element(entries_.begin(), entries_.end(),
                           [](const Entry& a, const Entry& b) { return a.last_use < b.last_use; }));
    }
    Entry e;
    e.key = key;
    e.hash = hash;
    e.weights.assign(weights, weights + wbytes);
    e.qp.assign(qp_bytes, qp_bytes + qbytes);
    e.last_use = clock_;
    e.conv = std::make_unique<k::FastConv>(spec_of(j, e.weights.data(), qp), threads);
    entries_.push_back(std::move(e));
    return *entries_.back().conv;
  }

 private:
  static constexpr size_t kMaxEntries = 1024;  // a whole model's tiles (MobileNetV2: ~150)
  struct Entry {
    std::vector<int64_t> key;
    uint64_t hash = 0;
    std::vector<uint8_t> weights, qp;
    std::unique_ptr<k::FastConv> conv;
    uint64_t last_use = 0;
  };

  static std::vector<int64_t> key_of(const MacJob& j) {
    // clang-format off
    return {static_cast<int64_t>(j.kind), j.in_signed, j.w_signed, j.out_signed,
            j.in_h, j.in_w, j.in_c, j.out_h, j.out_w, j.out_c,
            j.kernel_h, j.kernel_w, j.stride_h, j.stride_w, j.dilation_h, j.dilation_w,
            j.pad_top, j.pad_left, j.in_zp, j.w_zp, j.out_zp, j.act_min, j.act_max};
    // clang-format on
  }

  static k::FastConvSpec spec_of(const MacJob& j, const uint8_t* weights, const ChannelParams& qp) {
    k::FastConvSpec s;
    s.batch = 1;
    s.in_h = j.in_h, s.in_w = j.in_w, s.in_c = j.in_c;
    s.out_h = j.out_h, s.out_w = j.out_w, s.out_c = j.out_c;
    s.kernel_h = j.kernel_h, s.kernel_w = j.kernel_w;
    s.stride_h = j.stride_h, s.stride_w = j.stride_w;
    s.dilation_h = j.dilation_h, s.dilation_w = j.dilation_w;
    s.pad_top = j.pad_top, s.pad_left = j.pad_left;
    s.depthwise = j.kind == MacKind::depthwise;
    s.input_signed = j.in_signed;
    s.input_zero_point = j.in_zp;
    s.output_signed = j.out_signed;
    s.weights = weights;
    s.weights_signed = j.w_signed;
    s.weight_zero_point.assign(static_cast<size_t>(j.out_c), j.w_zp);
    s.bias = qp.bias;
    s.multiplier = qp.multiplier;
    s.shift = qp.shift;
    s.output_zero_point = j.out_zp;
    s.act_min = j.act_min;
    s.act_max = j.act_max;
    return s;
  }

  std::vector<Entry> entries_;
  uint64_t clock_ = 0;
};

// ---------------------------------------------------------------------------------------
// Vector commands

// ELTWISE on operands of type T (int8_t or uint8_t), `count` elements, into y.
template <typename T>
void eltwise_typed(const isa::Eltwise& c, const T* a, const T* b, T* y) {
  const k::Shape shape{static_cast<int32_t>(c.count)};
  switch (static_cast<isa::EltwiseOp>(c.op)) {
    case isa::EltwiseOp::kAdd:
    case isa::EltwiseOp::kSub: {
      // TFLite's quantized ADD/SUB with the command's rescaling (as add_sub_params derives).
      k::QuantizedAddParams p;
      p.input1_offset = -c.a_zp;
      p.input2_offset = -c.b_zp;
      p.output_offset = c.out_zp;
      p.left_shift = c.left_shift;
      p.input1 = {c.a_mult, c.a_shift};
      p.input2 = {c.b_mult, c.b_shift};
      p.output = {c.out_mult, c.out_shift};
      p.activation_min = c.act_min;
      p.activation_max = c.act_max;
      if (static_cast<isa::EltwiseOp>(c.op) == isa::EltwiseOp::kAdd) {
        k::add_quantized(p, shape, a, shape, b, shape, y);
      } else {
        k::sub_quantized(p, shape, a, shape, b, shape, y);
      }
      return;
    }
    case isa::EltwiseOp::kMul: {
      k::QuantizedMulParams p;
      p.input1_offset = -c.a_zp;
      p.input2_offset = -c.b_zp;
      p.output_offset = c.out_zp;
      p.output = {c.out_mult, c.out_shift};
      p.activation_min = c.act_min;
      p.activation_max = c.act_max;
      k::mul_quantized(p, shape, a, shape, b, shape, y);
      return;
    }
    case isa::EltwiseOp::kMax:
    case isa::EltwiseOp::kMin: {
      // TFLite's MAXIMUM/MINIMUM have no activation; the command's clamp follows the
      // comparison (a no-op with the full range).
      k::maximum_minimum(static_cast<isa::EltwiseOp>(c.op) == isa::EltwiseOp::kMax, shape, a, shape,
                         b, shape, y);
      for (uint32_t i = 0; i < c.count; ++i)
        y[i] = static_cast<T>(k::clamp_i32(y[i], c.act_min, c.act_max));
      return;
    }
  }
}

template <typename T>
void pool_typed(const isa::Pool& c, const T* x, T* y) {
  k::PoolParams p;
  p.stride_h = c.stride_h;
  p.stride_w = c.stride_w;
  p.filter_h = c.kernel_h;
  p.filter_w = c.kernel_w;
  p.pad_top = c.pad_top;
  p.pad_left = c.pad_left;
  const k::ActivationRange act{c.act_min, c.act_max};
  const k::Shape in{1, c.in_h, c.in_w, c.channels};
  const k::Shape out{1, c.out_h, c.out_w, c.channels};
  if (c.op == static_cast<uint8_t>(isa::PoolOp::kAvg)) {
    k::average_pool_2d(p, act, in, x, out, y);
  } else {
    k::max_pool_2d(p, act, in, x, out, y);
  }
}

// TFLite's MEAN over axes 1 and 2: the command's mult/shift are QuantizeMultiplier(s_in /
// s_out), the arguments of TFLite's QuantizedMeanOrSum, which folds the division by the
// element count into them itself (here: fold_mean_divisor, as the CPU binding does).
template <typename T>
void mean_typed(const isa::Mean& c, const T* x, T* y) {
  k::ReduceGeometry g;
  g.input = k::Shape{1, c.in_h, c.in_w, c.channels};
  g.reduced[1] = g.reduced[2] = true;
  k::QuantizedReduceParams p;
  p.multiplier = k::fold_mean_divisor({c.mult, c.shift}, g.num_reduced());
  p.input_zero_point = c.in_zp;
  p.output_zero_point = c.out_zp;
  k::quantized_mean_or_sum(p, g, x, y);
}

template <typename T>
T* as(Scratch& buf) {
  return reinterpret_cast<T*>(buf.data());
}

// Useful taps of a window along one axis: k in [0, taps) with origin + k * step inside
// [0, size).
int64_t inside_taps(int64_t origin, int64_t step, int64_t taps, int64_t size) {
  step = std::max<int64_t>(step, 1);  // only unchecked commands can have 0
  const int64_t begin = origin >= 0 ? 0 : (-origin + step - 1) / step;
  const int64_t last = size - 1 - origin;
  const int64_t end = last < 0 ? 0 : last / step + 1;
  return std::max<int64_t>(0, std::min(end, taps) - std::min(begin, taps));
}

// Sum over the output positions of one axis of their inside taps.
uint64_t axis_taps(int64_t out, int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                   int64_t pad) {
  uint64_t total = 0;
  for (int64_t o = 0; o < out; ++o)
    total += static_cast<uint64_t>(inside_taps(o * stride - pad, dilation, kernel, in));
  return total;
}

}  // namespace

// ---------------------------------------------------------------------------------------

uint64_t command_macs(const isa::Command& cmd) {
  return std::visit(
      [](const auto& c) -> uint64_t {
        using T = std::decay_t<decltype(c)>;
        if constexpr (is_one_of<T, isa::Conv, isa::Dwconv>) {
          // Inside taps factor into rows x columns for every output pixel.
          const uint64_t taps =
              axis_taps(c.out_h, c.in_h, c.kernel_h, c.stride_h, c.dilation_h, c.pad_top) *
              axis_taps(c.out_w, c.in_w, c.kernel_w, c.stride_w, c.dilation_w, c.pad_left);
          const uint64_t per_tap =
              std::is_same_v<T, isa::Conv> ? uint64_t{c.in_c} * c.out_c : c.out_c;
          return taps * per_tap;
        } else if constexpr (std::is_same_v<T, isa::Matmul>) {
          return uint64_t{c.m} * c.k * c.n;
        } else {
          return 0;
        }
      },
      cmd);
}

// An ELTWISE on 8-bit operands is a function of the operand pair alone. Once commands
// with one parameter set have processed 65536 elements (a model's ADD layer, over its
// tiles and inferences), the function is evaluated for all 65536 pairs with the reference
// kernel (eltwise_typed), so the table is exact by construction, and later commands with
// those parameters are one lookup per element. Until then the kernel runs directly, so a
// parameter set that never reaches 65536 elements never pays for a table.
class PairTableCache {
 public:
  // The table for `c`'s parameters, or nullptr while it is not yet worth building.
  const uint8_t* get(const isa::Eltwise& c) {
    const Key key = {c.op,       c.is_signed, c.a_zp,     c.b_zp,     c.out_zp,
                     c.left_shift, c.a_mult,  c.a_shift,  c.b_mult,   c.b_shift,
                     c.out_mult, c.out_shift, c.act_min,  c.act_max};
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      if (entries_.size() >= kMaxEntries) entries_.clear();
      it = entries_.emplace(key, Entry{}).first;
    }
    Entry& e = it->second;
    if (!e.table.empty()) return e.table.data();
    e.seen += c.count;
    if (e.seen < 65536) return nullptr;
    std::vector<uint8_t> a(65536), b(65536);
    e.table.resize(65536);
    for (uint32_t i = 0; i < 65536; ++i) {
      a[i] = static_cast<uint8_t>(i & 255);
      b[i] = static_cast<uint8_t>(i >> 8);
    }
    isa::Eltwise all = c;
    all.count = 65536;
    if (c.is_signed) {
      eltwise_typed(all, reinterpret_cast<const int8_t*>(a.data()),
                    reinterpret_cast<const int8_t*>(b.data()),
                    reinterpret_cast<int8_t*>(e.table.data()));
    } else {
      eltwise_typed(all, a.data(), b.data(), e.table.data());
    }
    return e.table.data();
  }

  // y[i] = table[a[i] + 256 * b[i]] over the operands' bytes.
  static void apply(const uint8_t* table, const uint8_t* a, const uint8_t* b, uint8_t* y,
                    uint32_t count) {
    for (uint32_t i = 0; i < count; ++i) y[i] = table[a[i] | (uint32_t{b[i]} << 8)];
  }

 private:
  static constexpr size_t kMaxEntries = 256;
  using Key = std::array<int64_t, 14>;
  struct Entry {
    uint64_t seen = 0;  // elements processed without the table
    std::vector<uint8_t> table;
  };
  std::map<Key, Entry> entries_;
};

struct FunctionalUnit::Cache {
  FastConvCache convs;
  PairTableCache pair_tables;
  Scratch in, out;  // kept to avoid reallocating per command
};

FunctionalUnit::FunctionalUnit(int threads)
    : cache_(std::make_unique<Cache>()), threads_(std::max(1, threads)) {}

FunctionalUnit::~FunctionalUnit() = default;

void FunctionalUnit::check_operands(const isa::Command& cmd, size_t sram_size) {
  std::visit(
      [&](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (is_compute<T>) {
          check(c, Checker(command_name<T>(), sram_size));
        } else {
          throw std::logic_error(std::string("FunctionalUnit: ") + command_name<T>() +
                                 " is not a compute command");
        }
      },
      cmd);
}

void FunctionalUnit::execute(const isa::Command& cmd, uint8_t* sram, size_t sram_size) {
  check_operands(cmd, sram_size);
  Scratch& out = cache_->out;
  std::visit(
      [&](const auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (is_one_of<T, isa::Conv, isa::Dwconv, isa::Matmul>) {
          const MacJob j = mac_job(c);
          const ChannelParams qp = read_qp(j, sram);
          const size_t out_bytes = j.out_pixels() * static_cast<size_t>(j.out_c);
          out.resize(out_bytes);
          const MacJob v = fast_view(j);
          if (!reference_only_ && k::fast_conv_supported() &&
              fast_padded_bytes(v) <= kMaxFastPaddedBytes) {
            k::FastConv& conv =
                cache_->convs.get(v, sram + j.w_addr, sram + j.qp_addr, qp, threads_);
            conv.run(fast_input(j, v, sram, cache_->in), out.data());
          } else {
            run_mac_reference(j, qp, sram, cache_->in, out.data());
          }
          scatter_pixels(out.data(), j.out_pixels(), static_cast<size_t>(j.out_c),
                         static_cast<size_t>(j.out_stride), sram + j.out_addr);
        } else if constexpr (std::is_same_v<T, isa::Eltwise>) {
          out.resize(c.count);
          const uint8_t* table = reference_only_ ? nullptr : cache_->pair_tables.get(c);
          if (table) {
            PairTableCache::apply(table, sram + c.a_addr, sram + c.b_addr, out.data(), c.count);
          } else if (c.is_signed) {
            eltwise_typed(c, reinterpret_cast<const int8_t*>(sram + c.a_addr),
                          reinterpret_cast<const int8_t*>(sram + c.b_addr), as<int8_t>(out));
          } else {
            eltwise_typed(c, sram + c.a_addr, sram + c.b_addr, out.data());
          }
          std::memcpy(sram + c.out_addr, out.data(), c.count);
        } else if constexpr (std::is_same_v<T, isa::Pool>) {
          out.resize(size_t{c.out_h} * c.out_w * c.channels);
          if (c.is_signed) {
            pool_typed(c, reinterpret_cast<const int8_t*>(sram + c.in_addr), as<int8_t>(out));
          } else {
            pool_typed(c, sram + c.in_addr, out.data());
          }
          std::memcpy(sram + c.out_addr, out.data(), out.size());
        } else if constexpr (std::is_same_v<T, isa::Lut>) {
          // The byte is the index whatever the operand's type, so uint8 covers both.
          std::array<uint8_t, 256> table;
          std::memcpy(table.data(), sram + c.table_addr, table.size());
          out.resize(c.count);
          k::lookup_table(table, c.count, sram + c.in_addr, out.data());
          std::memcpy(sram + c.out_addr, out.data(), c.count);
        } else if constexpr (std::is_same_v<T, isa::Resize>) {
          out.resize(size_t{c.out_h} * c.out_w * c.channels);
          if (c.mode == static_cast<uint8_t>(isa::ResizeMode::kNearest)) {
            // Pure data movement (TFLite's GetNearestNeighbor indices): type-independent.
            k::ResizeNearestNeighborParams p;
            p.output_height = c.out_h;
            p.output_width = c.out_w;
            p.align_corners = c.align_corners != 0;
            p.half_pixel_centers = c.half_pixel_centers != 0;
            const k::AxisCopy plan =
                k::resize_nearest_neighbor_plan(k::Shape{1, c.in_h, c.in_w, c.channels}, p);
            k::axis_copy(plan, sram + c.in_addr, out.data(), 1);
          } else {
            resize_bilinear_bytes(bilinear_params(c), c.is_signed != 0, sram + c.in_addr, out,
                                  !reference_only_);
          }
          std::memcpy(sram + c.out_addr, out.data(), out.size());
        } else if constexpr (std::is_same_v<T, isa::ResizeRows>) {
          // The same kernels as RESIZE, restricted to the band (identical values).
          out.resize(size_t{c.out_rows} * c.out_w * c.channels);
          resize_bilinear_bytes(band_params(c), c.is_signed != 0, sram + c.in_addr, out, !reference_only_);
          std::memcpy(sram + c.out_addr, out.data(), out.size());
        } else if constexpr (std::is_same_v<T, isa::Softmax>) {
          k::SoftmaxParams p;
          p.input_multiplier = c.input_multiplier;
          p.input_left_shift = c.input_left_shift;
          p.diff_min = c.diff_min;
          out.resize(size_t{c.rows} * c.depth);
          if (c.is_signed) {
            k::softmax_quantized(p, c.rows, c.depth, reinterpret_cast<const int8_t*>(sram + c.in_addr),
                                 as<int8_t>(out));
          } else {
            k::softmax_quantized(p, c.rows, c.depth, sram + c.in_addr, out.data());
          }
          std::memcpy(sram + c.out_addr, out.data(), out.size());
        } else if constexpr (std::is_same_v<T, isa::Mean>) {
          out.resize(c.channels);
          if (c.is_signed) {
            mean_typed(c, reinterpret_cast<const int8_t*>(sram + c.in_addr), as<int8_t>(out));
          } else {
            mean_typed(c, sram + c.in_addr, out.data());
          }
          std::memcpy(sram + c.out_addr, out.data(), out.size());
        }
      },
      cmd);
}

}  // namespace tessel::sim::npu
