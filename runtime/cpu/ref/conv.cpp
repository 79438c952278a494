// Reference kernels of the conv group (see tessel/kernels/conv.hpp).
//
// How the quantized kernels stay fast without SIMD code: the operands of every dot product
// are first widened to int16 with their zero-point offset applied (8-bit values minus a
// zero point lie in [-255, 255]; int16 activations have offset 0), so the inner loops are
// plain int16 x int16 -> int32 multiply-adds over contiguous memory, which compilers
// vectorize on their own. The weights are widened once per call (a small cost next to
// the multiply-adds), the input once per output pixel (convolution) or row (FC, matmul).
#include "tessel/kernels/conv.hpp"

#include <algorithm>
#include <limits>
#include <type_traits>
#include <vector>

namespace tessel::kernels {

namespace {

// The taps k in [begin, end) of a window whose positions origin + k * step lie inside
// [0, size). The inside positions of a window are always one contiguous run of taps, so
// looping over this range is the same as TFLite's per-tap "skip if outside" test.
struct TapRange {
  int begin;
  int end;
};

TapRange inside_taps(int origin, int step, int taps, int size) {
  const int begin = origin >= 0 ? 0 : (-origin + step - 1) / step;
  const int last = size - 1 - origin;  // the largest k * step that is still inside
  const int end = last < 0 ? 0 : last / step + 1;
  const int b = std::min(begin, taps);
  return {b, std::max(b, std::min(end, taps))};
}

// value + offset converted to To. Integer callers guarantee the sum fits (see the file
// comment). Float operands have no offset, and adding an integer 0 would turn -0.0f into
// +0.0f, so floats are only converted.
template <typename To, typename From>
To with_offset(From value, int32_t offset) {
  if constexpr (std::is_floating_point_v<From>) {
    (void)offset;
    return static_cast<To>(value);
  } else {
    return static_cast<To>(value + offset);
  }
}

template <typename T>
std::vector<int16_t> widen_with_offset(const T* values, int64_t n, int32_t offset) {
  std::vector<int16_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    out[static_cast<size_t>(i)] = with_offset<int16_t>(values[i], offset);
  return out;
}

template <typename Acc>
Acc dot(const int16_t* a, const int16_t* b, int64_t n) {
  Acc acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += static_cast<int32_t>(a[i]) * static_cast<int32_t>(b[i]);
  return acc;
}

// Float dot product in index order, as TFLite's reference loops accumulate (the library is
// built with -ffp-contract=off, so no fused multiply-adds change the rounding).
float dot_in_order(const float* a, const float* b, int64_t n) {
  float total = 0.0f;
  for (int64_t i = 0; i < n; ++i) total += a[i] * b[i];
  return total;
}

// TFLite's ActivationFunctionWithMinMax (a NaN passes through).
float clamp_float(float v, ActivationRangeF act) { return std::min(std::max(v, act.min), act.max); }

// ---------------------------------------------------------------------------------------
// CONV_2D

template <typename In, typename W, typename Acc>
void conv_quantized(const ConvParams& p, const RequantParams& rq, const Shape& is, const In* input,
                    const Shape& fs, const W* filter, const Acc* bias, const Shape& os,
                    In* output) {
  const int batches = is[0], in_h = is[1], in_w = is[2], in_c = is[3];
  const int out_c = fs[0], k_h = fs[1], k_w = fs[2], k_c = fs[3];
  const int out_h = os[1], out_w = os[2];
  const int groups = in_c / k_c;
  const int per_group = out_c / groups;
  const int64_t k_size = int64_t{k_h} * k_w * k_c;  // one output channel's filter
  const std::vector<int16_t> w = widen_with_offset(filter, out_c * k_size, p.weight_offset);
  // One output pixel's receptive field, laid out like a filter: [group][ky][kx][ic].
  // A tap outside the image holds 0, so it adds 0 to the sum, exactly as skipping it.
  std::vector<int16_t> patch(static_cast<size_t>(groups * k_size));

  for (int b = 0; b < batches; ++b) {
    for (int oy = 0; oy < out_h; ++oy) {
      const int iy0 = oy * p.stride_h - p.pad_top;
      for (int ox = 0; ox < out_w; ++ox) {
        const int ix0 = ox * p.stride_w - p.pad_left;
        for (int ky = 0; ky < k_h; ++ky) {
          const int iy = iy0 + ky * p.dilation_h;
          for (int kx = 0; kx < k_w; ++kx) {
            const int ix = ix0 + kx * p.dilation_w;
            const bool inside = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w;
            const int64_t tap = (int64_t{ky} * k_w + kx) * k_c;
            for (int g = 0; g < groups; ++g) {
              int16_t* dst = patch.data() + g * k_size + tap;
              if (!inside) {
                std::fill(dst, dst + k_c, int16_t{0});
                continue;
              }
              const In* src = input + is.offset(b, iy, ix, g * k_c);
              for (int ic = 0; ic < k_c; ++ic)
                dst[ic] = static_cast<int16_t>(src[ic] + p.input_offset);
            }
          }
        }
        In* y = output + os.offset(b, oy, ox, 0);
        for (int oc = 0; oc < out_c; ++oc) {
          const int g = oc / per_group;
          Acc acc = dot<Acc>(patch.data() + g * k_size, w.data() + oc * k_size, k_size);
          if (bias) acc += bias[oc];
          y[oc] = static_cast<In>(requantize(acc, rq, static_cast<size_t>(oc)));
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// DEPTHWISE_CONV_2D: per output pixel, an accumulator per output channel; every inside
// tap adds one contiguous row of input channels times one row of filter channels.

template <typename In, typename W, typename Acc>
void depthwise_quantized(const ConvParams& p, const RequantParams& rq, const Shape& is,
                         const In* input, const Shape& fs, const W* filter, const Acc* bias,
                         const Shape& os, In* output) {
  const int batches = is[0], in_h = is[1], in_w = is[2], in_c = is[3];
  const int k_h = fs[1], k_w = fs[2], out_c = fs[3];
  const int out_h = os[1], out_w = os[2];
  const int mult = out_c / in_c;
  const std::vector<int16_t> w =
      widen_with_offset(filter, int64_t{k_h} * k_w * out_c, p.weight_offset);
  std::vector<Acc> acc(static_cast<size_t>(out_c));

  for (int b = 0; b < batches; ++b) {
    for (int oy = 0; oy < out_h; ++oy) {
      const int iy0 = oy * p.stride_h - p.pad_top;
      const TapRange ry = inside_taps(iy0, p.dilation_h, k_h, in_h);
      for (int ox = 0; ox < out_w; ++ox) {
        const int ix0 = ox * p.stride_w - p.pad_left;
        const TapRange rx = inside_taps(ix0, p.dilation_w, k_w, in_w);
        std::fill(acc.begin(), acc.end(), Acc{0});
        for (int ky = ry.begin; ky < ry.end; ++ky) {
          for (int kx = rx.begin; kx < rx.end; ++kx) {
            const In* x = input + is.offset(b, iy0 + ky * p.dilation_h, ix0 + kx * p.dilation_w, 0);
            const int16_t* wt = w.data() + (int64_t{ky} * k_w + kx) * out_c;
            if (mult == 1) {
              for (int c = 0; c < out_c; ++c) acc[c] += (x[c] + p.input_offset) * int32_t{wt[c]};
            } else {
              for (int ic = 0; ic < in_c; ++ic) {
                const int32_t xv = x[ic] + p.input_offset;
                for (int m = 0; m < mult; ++m)
                  acc[ic * mult + m] += xv * int32_t{wt[ic * mult + m]};
              }
            }
          }
        }
        In* y = output + os.offset(b, oy, ox, 0);
        for (int oc = 0; oc < out_c; ++oc) {
          const Acc a = bias ? acc[oc] + bias[oc] : acc[oc];
          y[oc] = static_cast<In>(requantize(a, rq, static_cast<size_t>(oc)));
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// TRANSPOSE_CONV: TFLite's scatter formulation. Each input pixel adds input x filter into
// the output positions it influences; the filter is reordered to [ky][kx][ic][oc] so the
// innermost loop runs over output channels in both the filter and the accumulators.

template <typename T, typename W>
std::vector<T> filter_ohwi_to_hwio(const W* filter, const Shape& fs, int32_t offset) {
  const int out_c = fs[0], k_h = fs[1], k_w = fs[2], in_c = fs[3];
  std::vector<T> out(static_cast<size_t>(fs.num_elements()));
  for (int oc = 0; oc < out_c; ++oc)
    for (int ky = 0; ky < k_h; ++ky)
      for (int kx = 0; kx < k_w; ++kx)
        for (int ic = 0; ic < in_c; ++ic)
          out[static_cast<size_t>(((int64_t{ky} * k_w + kx) * in_c + ic) * out_c + oc)] =
              with_offset<T>(filter[fs.offset(oc, ky, kx, ic)], offset);
  return out;
}

// Adds every input pixel's contribution into `acc` ([OH, OW, Cout], zeroed by the caller).
// For one output element, contributions arrive ordered by (input y, input x, input
// channel), the order of TFLite's reference loops, which keeps float sums bit-exact.
template <typename In, typename Wt, typename Acc>
void transpose_scatter(const ConvParams& p, const Shape& is, const In* input, int b,
                       const Shape& fs, const std::vector<Wt>& w, const Shape& os,
                       int32_t input_offset, Acc* acc) {
  const int in_h = is[1], in_w = is[2], in_c = is[3];
  const int out_c = fs[0], k_h = fs[1], k_w = fs[2];
  const int out_h = os[1], out_w = os[2];
  for (int iy = 0; iy < in_h; ++iy) {
    const int oy0 = iy * p.stride_h - p.pad_top;
    const TapRange ry = inside_taps(oy0, 1, k_h, out_h);
    for (int ix = 0; ix < in_w; ++ix) {
      const int ox0 = ix * p.stride_w - p.pad_left;
      const TapRange rx = inside_taps(ox0, 1, k_w, out_w);
      const In* x = input + is.offset(b, iy, ix, 0);
      for (int ky = ry.begin; ky < ry.end; ++ky) {
        for (int kx = rx.begin; kx < rx.end; ++kx) {
          Acc* s = acc + (int64_t{oy0 + ky} * out_w + ox0 + kx) * out_c;
          const Wt* wt = w.data() + (int64_t{ky} * k_w + kx) * in_c * out_c;
          for (int ic = 0; ic < in_c; ++ic) {
            const Acc xv = with_offset<Acc>(x[ic], input_offset);
            const Wt* wr = wt + int64_t{ic} * out_c;
            for (int oc = 0; oc < out_c; ++oc) s[oc] += xv * static_cast<Acc>(wr[oc]);
          }
        }
      }
    }
  }
}

template <typename In, typename W, typename Acc>
void transpose_quantized(const ConvParams& p, const RequantParams& rq, const Shape& is,
                         const In* input, const Shape& fs, const W* filter, const Acc* bias,
                         const Shape& os, In* output) {
  const int out_c = fs[0];
  const int64_t pixels = int64_t{os[1]} * os[2];
  const std::vector<int16_t> w = filter_ohwi_to_hwio<int16_t>(filter, fs, p.weight_offset);
  std::vector<Acc> acc(static_cast<size_t>(pixels * out_c));
  for (int b = 0; b < is[0]; ++b) {
    std::fill(acc.begin(), acc.end(), Acc{0});
    transpose_scatter(p, is, input, b, fs, w, os, p.input_offset, acc.data());
    In* y = output + os.offset(b, 0, 0, 0);
    for (int64_t px = 0; px < pixels; ++px) {
      for (int oc = 0; oc < out_c; ++oc) {
        const int64_t i = px * out_c + oc;
        const Acc a = bias ? acc[static_cast<size_t>(i)] + bias[oc] : acc[static_cast<size_t>(i)];
        y[i] = static_cast<In>(requantize(a, rq, static_cast<size_t>(oc)));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// FULLY_CONNECTED

template <typename In, typename W, typename Acc>
void fc_quantized(const FullyConnectedParams& p, const RequantParams& rq, const In* input,
                  const W* weights, const Acc* bias, In* output) {
  const std::vector<int16_t> w =
      widen_with_offset(weights, int64_t{p.units} * p.depth, p.weight_offset);
  for (int b = 0; b < p.batches; ++b) {
    const std::vector<int16_t> x =
        widen_with_offset(input + int64_t{b} * p.depth, p.depth, p.input_offset);
    In* y = output + int64_t{b} * p.units;
    for (int u = 0; u < p.units; ++u) {
      Acc acc = dot<Acc>(x.data(), w.data() + int64_t{u} * p.depth, p.depth);
      if (bias) acc += bias[u];
      y[u] = static_cast<In>(requantize(acc, rq, static_cast<size_t>(u)));
    }
  }
}

// ---------------------------------------------------------------------------------------
// BATCH_MATMUL

// The matrices of one batch element and where each output batch element reads them.
struct MatMulGeometry {
  int rows = 0, depth = 0, cols = 0;          // X is rows x depth, Y is depth x cols
  int64_t lhs_matrix = 0, rhs_matrix = 0;     // elements per matrix
  std::vector<int64_t> lhs_batch, rhs_batch;  // per output batch element: matrix index
};

MatMulGeometry matmul_geometry(const BatchMatMulParams& p, const Shape& ls, const Shape& rs,
                               const Shape& os) {
  MatMulGeometry g;
  const int l1 = ls[ls.rank - 2], l2 = ls[ls.rank - 1];
  const int r1 = rs[rs.rank - 2], r2 = rs[rs.rank - 1];
  g.rows = p.adj_x ? l2 : l1;
  g.depth = p.adj_x ? l1 : l2;
  g.cols = p.adj_y ? r1 : r2;
  g.lhs_matrix = int64_t{l1} * l2;
  g.rhs_matrix = int64_t{r1} * r2;
  // Walk the output's batch index in row-major order; an operand's batch dimension of
  // size 1 (or missing on the left) stays at index 0.
  const int ob = os.rank - 2, lb = ls.rank - 2, rb = rs.rank - 2;
  int64_t batches = 1;
  for (int d = 0; d < ob; ++d) batches *= os[d];
  std::vector<int> index(static_cast<size_t>(ob), 0);
  for (int64_t n = 0; n < batches; ++n) {
    int64_t li = 0, ri = 0;
    for (int d = 0; d < ob; ++d) {
      const int ld = d - (ob - lb), rd = d - (ob - rb);
      if (ld >= 0) li = li * ls[ld] + (ls[ld] == 1 ? 0 : index[static_cast<size_t>(d)]);
      if (rd >= 0) ri = ri * rs[rd] + (rs[rd] == 1 ? 0 : index[static_cast<size_t>(d)]);
    }
    g.lhs_batch.push_back(li);
    g.rhs_batch.push_back(ri);
    for (int d = ob - 1; d >= 0; --d) {
      if (++index[static_cast<size_t>(d)] < os[d]) break;
      index[static_cast<size_t>(d)] = 0;
    }
  }
  return g;
}

// Copies X's rows ([rows][depth]) and Y's columns ([cols][depth]) of one batch element
// out of the (possibly transposed) operands, adding the offsets, so every output element
// is one contiguous dot product.
template <typename T, typename Buf>
void gather_operands(const BatchMatMulParams& p, const MatMulGeometry& g, const T* lhs,
                     const T* rhs, int32_t lhs_offset, int32_t rhs_offset, Buf* x_rows,
                     Buf* y_cols) {
  for (int i = 0; i < g.rows; ++i)
    for (int k = 0; k < g.depth; ++k)
      x_rows[int64_t{i} * g.depth + k] = with_offset<Buf>(
          p.adj_x ? lhs[int64_t{k} * g.rows + i] : lhs[int64_t{i} * g.depth + k], lhs_offset);
  for (int j = 0; j < g.cols; ++j)
    for (int k = 0; k < g.depth; ++k)
      y_cols[int64_t{j} * g.depth + k] = with_offset<Buf>(
          p.adj_y ? rhs[int64_t{j} * g.depth + k] : rhs[int64_t{k} * g.cols + j], rhs_offset);
}

template <typename T, typename Acc>
void matmul_quantized(const BatchMatMulParams& p, const RequantParams& rq, const Shape& ls,
                      const T* lhs, const Shape& rs, const T* rhs, const Shape& os, T* output) {
  const MatMulGeometry g = matmul_geometry(p, ls, rs, os);
  std::vector<int16_t> x(static_cast<size_t>(int64_t{g.rows} * g.depth));
  std::vector<int16_t> y(static_cast<size_t>(int64_t{g.cols} * g.depth));
  for (size_t n = 0; n < g.lhs_batch.size(); ++n) {
    gather_operands(p, g, lhs + g.lhs_batch[n] * g.lhs_matrix, rhs + g.rhs_batch[n] * g.rhs_matrix,
                    p.lhs_offset, p.rhs_offset, x.data(), y.data());
    T* out = output + static_cast<int64_t>(n) * g.rows * g.cols;
    for (int i = 0; i < g.rows; ++i)
      for (int j = 0; j < g.cols; ++j) {
        const Acc acc =
            dot<Acc>(x.data() + int64_t{i} * g.depth, y.data() + int64_t{j} * g.depth, g.depth);
        out[int64_t{i} * g.cols + j] = static_cast<T>(requantize(acc, rq, 0));
      }
  }
}

// ---------------------------------------------------------------------------------------
// Pools: per output pixel, one accumulator per channel over the window's inside taps.

template <typename T>
void average_pool_quantized(const PoolParams& p, ActivationRange act, const Shape& is,
                            const T* input, const Shape& os, T* output) {
  const int batches = is[0], in_h = is[1], in_w = is[2], depth = is[3];
  const int out_h = os[1], out_w = os[2];
  // |sum| <= 32768 * taps: fits int32 for any window of fewer than 65536 taps.
  std::vector<int32_t> sum(static_cast<size_t>(depth));
  for (int b = 0; b < batches; ++b) {
    for (int oy = 0; oy < out_h; ++oy) {
      const int iy0 = oy * p.stride_h - p.pad_top;
      const TapRange ry = inside_taps(iy0, 1, p.filter_h, in_h);
      for (int ox = 0; ox < out_w; ++ox) {
        const int ix0 = ox * p.stride_w - p.pad_left;
        const TapRange rx = inside_taps(ix0, 1, p.filter_w, in_w);
        const int32_t count = (ry.end - ry.begin) * (rx.end - rx.begin);
        std::fill(sum.begin(), sum.end(), 0);
        for (int ky = ry.begin; ky < ry.end; ++ky)
          for (int kx = rx.begin; kx < rx.end; ++kx) {
            const T* x = input + is.offset(b, iy0 + ky, ix0 + kx, 0);
            for (int c = 0; c < depth; ++c) sum[c] += x[c];
          }
        T* y = output + os.offset(b, oy, ox, 0);
        for (int c = 0; c < depth; ++c) {
          // Round to nearest, ties away from zero: C++ division truncates toward zero, so
          // the half is added on the side of the sign.
          const int32_t s = sum[c];
          const int32_t avg = s > 0 ? (s + count / 2) / count : (s - count / 2) / count;
          y[c] = static_cast<T>(clamp_i32(avg, act.min, act.max));
        }
      }
    }
  }
}

template <typename T>
void max_pool_quantized(const PoolParams& p, ActivationRange act, const Shape& is, const T* input,
                        const Shape& os, T* output) {
  const int batches = is[0], in_h = is[1], in_w = is[2], depth = is[3];
  const int out_h = os[1], out_w = os[2];
  std::vector<T> best(static_cast<size_t>(depth));
  for (int b = 0; b < batches; ++b) {
    for (int oy = 0; oy < out_h; ++oy) {
      const int iy0 = oy * p.stride_h - p.pad_top;
      const TapRange ry = inside_taps(iy0, 1, p.filter_h, in_h);
      for (int ox = 0; ox < out_w; ++ox) {
        const int ix0 = ox * p.stride_w - p.pad_left;
        const TapRange rx = inside_taps(ix0, 1, p.filter_w, in_w);
        std::fill(best.begin(), best.end(), std::numeric_limits<T>::lowest());
        for (int ky = ry.begin; ky < ry.end; ++ky)
          for (int kx = rx.begin; kx < rx.end; ++kx) {
            const T* x = input + is.offset(b, iy0 + ky, ix0 + kx, 0);
            for (int c = 0; c < depth; ++c) best[c] = std::max(best[c], x[c]);
          }
        T* y = output + os.offset(b, oy, ox, 0);
        for (int c = 0; c < depth; ++c) y[c] = static_cast<T>(clamp_i32(best[c], act.min, act.max));
      }
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Public entry points.

void conv_2d(const ConvParams& p, const RequantParams& rq, const Shape& input_shape,
             const int8_t* input, const Shape& filter_shape, const int8_t* filter,
             const int32_t* bias, const Shape& output_shape, int8_t* output) {
  conv_quantized(p, rq, input_shape, input, filter_shape, filter, bias, output_shape, output);
}

void conv_2d(const ConvParams& p, const RequantParams& rq, const Shape& input_shape,
             const uint8_t* input, const Shape& filter_shape, const uint8_t* filter,
             const int32_t* bias, const Shape& output_shape, uint8_t* output) {
  conv_quantized(p, rq, input_shape, input, filter_shape, filter, bias, output_shape, output);
}

void conv_2d(const ConvParams& p, const RequantParams& rq, const Shape& input_shape,
             const int16_t* input, const Shape& filter_shape, const int8_t* filter,
             const int64_t* bias, const Shape& output_shape, int16_t* output) {
  conv_quantized(p, rq, input_shape, input, filter_shape, filter, bias, output_shape, output);
}

void conv_2d(const ConvParams& p, ActivationRangeF act, const Shape& is, const float* input,
             const Shape& fs, const float* filter, const float* bias, const Shape& os,
             float* output) {
  const int batches = is[0], in_h = is[1], in_w = is[2], in_c = is[3];
  const int out_c = fs[0], k_h = fs[1], k_w = fs[2], k_c = fs[3];
  const int out_h = os[1], out_w = os[2];
  const int per_group = out_c / (in_c / k_c);
  for (int b = 0; b < batches; ++b) {
    for (int oy = 0; oy < out_h; ++oy) {
      const int iy0 = oy * p.stride_h - p.pad_top;
      const TapRange ry = inside_taps(iy0, p.dilation_h, k_h, in_h);
      for (int ox = 0; ox < out_w; ++ox) {
        const int ix0 = ox * p.stride_w - p.pad_left;
        const TapRange rx = inside_taps(ix0, p.dilation_w, k_w, in_w);
        float* y = output + os.offset(b, oy, ox, 0);
        for (int oc = 0; oc < out_c; ++oc) {
          const int channel0 = (oc / per_group) * k_c;
          // One running sum over (ky, kx, ic) in TFLite's order, bias added last.
          float total = 0.0f;
          for (int ky = ry.begin; ky < ry.end; ++ky)
            for (int kx = rx.begin; kx < rx.end; ++kx) {
              const float* x =
                  input + is.offset(b, iy0 + ky * p.dilation_h, ix0 + kx * p.dilation_w, channel0);
              const float* w = filter + fs.offset(oc, ky, kx, 0);
              for (int ic = 0; ic < k_c; ++ic) total += x[ic] * w[ic];
            }
          y[oc] = clamp_float(total + (bias ? bias[oc] : 0.0f), act);
        }
      }
    }
  }
}

void depthwise_conv_2d(const ConvParams& p, const RequantParams& rq, const Shape& input_shape,
                       const int8_t* input, const Shape& filter_shape, const int8_t* filter,
                       const int32_t* bias, const Shape& output_shape, int8_t* output) {
  depthwise_quantized(p, rq, input_shape, input, filter_shape, filter, bias, output_shape, output);
}

void depthwise_conv_2d(const ConvParams& p, const RequantParams& rq, const Shape& input_shape,
                       const uint8_t* input, const Shape& filter_shape, const uint8_t* filter,
                       const int32_t* bias, const Shape& output_shape, uint8_t* output) {
  depthwise_quantized(p, rq, input_shape, input, filter_shape, filter, bias, output_shape, output);
}

void depthwise_conv_2d(const ConvParams& p, const RequantParams& rq, const Shape& input_shape,
                       const int16_t* input, const Shape& filter_shape, const int8_t* filter,
                       const int64_t* bias, const Shape& output_shape, int16_t* output) {
  depthwise_quantized(p, rq, input_shape, input, filter_shape, filter, bias, output_shape, output);
}

void depthwise_conv_2d(const ConvParams& p, ActivationRangeF act, const Shape& is,
                       const float* input, const Shape& fs, const float* filter, const float* bias,
                       const Shape& os, float* output) {
  const int batches = is[0], in_h = is[1], in_w = is[2], in_c = is[3];
  const int k_h = fs[1], k_w = fs[2], out_c = fs[3];
  const int out_h = os[1], out_w = os[2];
  const int mult = out_c / in_c;
  // Each channel's sum runs over (ky, kx) in TFLite's order, bias added last.
  std::vector<float> total(static_cast<size_t>(out_c));
  for (int b = 0; b < batches; ++b) {
    for (int oy = 0; oy < out_h; ++oy) {
      const int iy0 = oy * p.stride_h - p.pad_top;
      const TapRange ry = inside_taps(iy0, p.dilation_h, k_h, in_h);
      for (int ox = 0; ox < out_w; ++ox) {
        const int ix0 = ox * p.stride_w - p.pad_left;
        const TapRange rx = inside_taps(ix0, p.dilation_w, k_w, in_w);
        std::fill(total.begin(), total.end(), 0.0f);
        for (int ky = ry.begin; ky < ry.end; ++ky)
          for (int kx = rx.begin; kx < rx.end; ++kx) {
            const float* x =
                input + is.offset(b, iy0 + ky * p.dilation_h, ix0 + kx * p.dilation_w, 0);
            const float* w = filter + fs.offset(0, ky, kx, 0);
            for (int ic = 0; ic < in_c; ++ic)
              for (int m = 0; m < mult; ++m) total[ic * mult + m] += x[ic] * w[ic * mult + m];
          }
        float* y = output + os.offset(b, oy, ox, 0);
        for (int oc = 0; oc < out_c; ++oc)
          y[oc] = clamp_float(total[oc] + (bias ? bias[oc] : 0.0f), act);
      }
    }
  }
}

void transpose_conv(const ConvParams& p, const RequantParams& rq, const Shape& input_shape,
                    const int8_t* input, const Shape& filter_shape, const int8_t* filter,
                    const int32_t* bias, const Shape& output_shape, int8_t* output) {
  transpose_quantized(p, rq, input_shape, input, filter_shape, filter, bias, output_shape, output);
}

void transpose_conv(const ConvParams& p, const RequantParams& rq, const Shape& input_shape,
                    const uint8_t* input, const Shape& filter_shape, const uint8_t* filter,
                    const int32_t* bias, const Shape& output_shape, uint8_t* output) {
  transpose_quantized(p, rq, input_shape, input, filter_shape, filter, bias, output_shape, output);
}

void transpose_conv(const ConvParams& p, const RequantParams& rq, const Shape& input_shape,
                    const int16_t* input, const Shape& filter_shape, const int8_t* filter,
                    const int64_t* bias, const Shape& output_shape, int16_t* output) {
  transpose_quantized(p, rq, input_shape, input, filter_shape, filter, bias, output_shape, output);
}

void transpose_conv(const ConvParams& p, ActivationRangeF act, const Shape& is, const float* input,
                    const Shape& fs, const float* filter, const float* bias, const Shape& os,
                    float* output) {
  const int out_c = fs[0];
  const int64_t pixels = int64_t{os[1]} * os[2];
  const std::vector<float> w = filter_ohwi_to_hwio<float>(filter, fs, 0);
  for (int b = 0; b < is[0]; ++b) {
    float* y = output + os.offset(b, 0, 0, 0);
    std::fill(y, y + pixels * out_c, 0.0f);
    transpose_scatter(p, is, input, b, fs, w, os, 0, y);
    for (int64_t px = 0; px < pixels; ++px)
      for (int oc = 0; oc < out_c; ++oc) {
        float& v = y[px * out_c + oc];
        if (bias) v += bias[oc];
        v = clamp_float(v, act);
      }
  }
}

void fully_connected(const FullyConnectedParams& p, const RequantParams& rq, const int8_t* input,
                     const int8_t* weights, const int32_t* bias, int8_t* output) {
  fc_quantized(p, rq, input, weights, bias, output);
}

void fully_connected(const FullyConnectedParams& p, const RequantParams& rq, const uint8_t* input,
                     const uint8_t* weights, const int32_t* bias, uint8_t* output) {
  fc_quantized(p, rq, input, weights, bias, output);
}

void fully_connected(const FullyConnectedParams& p, const RequantParams& rq, const int16_t* input,
                     const int8_t* weights, const int64_t* bias, int16_t* output) {
  fc_quantized(p, rq, input, weights, bias, output);
}

void fully_connected(const FullyConnectedParams& p, ActivationRangeF act, const float* input,
                     const float* weights, const float* bias, float* output) {
  for (int b = 0; b < p.batches; ++b) {
    const float* x = input + int64_t{b} * p.depth;
    float* y = output + int64_t{b} * p.units;
    for (int u = 0; u < p.units; ++u) {
      const float total = dot_in_order(x, weights + int64_t{u} * p.depth, p.depth);
      y[u] = clamp_float(total + (bias ? bias[u] : 0.0f), act);
    }
  }
}

void batch_matmul(const BatchMatMulParams& p, const RequantParams& rq, const Shape& lhs_shape,
                  const int8_t* lhs, const Shape& rhs_shape, const int8_t* rhs,
                  const Shape& output_shape, int8_t* output) {
  matmul_quantized<int8_t, int32_t>(p, rq, lhs_shape, lhs, rhs_shape, rhs, output_shape, output);
}

void batch_matmul(const BatchMatMulParams& p, const RequantParams& rq, const Shape& lhs_shape,
                  const int16_t* lhs, const Shape& rhs_shape, const int16_t* rhs,
                  const Shape& output_shape, int16_t* output) {
  matmul_quantized<int16_t, int64_t>(p, rq, lhs_shape, lhs, rhs_shape, rhs, output_shape, output);
}

void batch_matmul(const BatchMatMulParams& p, const Shape& lhs_shape, const float* lhs,
                  const Shape& rhs_shape, const float* rhs, const Shape& output_shape,
                  float* output) {
  const MatMulGeometry g = matmul_geometry(p, lhs_shape, rhs_shape, output_shape);
  std::vector<float> x(static_cast<size_t>(int64_t{g.rows} * g.depth));
  std::vector<float> y(static_cast<size_t>(int64_t{g.cols} * g.depth));
  for (size_t n = 0; n < g.lhs_batch.size(); ++n) {
    gather_operands(p, g, lhs + g.lhs_batch[n] * g.lhs_matrix, rhs + g.rhs_batch[n] * g.rhs_matrix,
                    0, 0, x.data(), y.data());
    float* out = output + static_cast<int64_t>(n) * g.rows * g.cols;
    for (int i = 0; i < g.rows; ++i)
      for (int j = 0; j < g.cols; ++j)
        out[int64_t{i} * g.cols + j] =
            dot_in_order(x.data() + int64_t{i} * g.depth, y.data() + int64_t{j} * g.depth, g.depth);
  }
}

void average_pool_2d(const PoolParams& p, ActivationRange act, const Shape& input_shape,
                     const int8_t* input, const Shape& output_shape, int8_t* output) {
  average_pool_quantized(p, act, input_shape, input, output_shape, output);
}

void average_pool_2d(const PoolParams& p, ActivationRange act, const Shape& input_shape,
                     const uint8_t* input, const Shape& output_shape, uint8_t* output) {
  average_pool_quantized(p, act, input_shape, input, output_shape, output);
}

void average_pool_2d(const PoolParams& p, ActivationRange act, const Shape& input_shape,
                     const int16_t* input, const Shape& output_shape, int16_t* output) {
  average_pool_quantized(p, act, input_shape, input, output_shape, output);
}

void average_pool_2d(const PoolParams& p, ActivationRangeF act, const Shape& is, const float* input,
                     const Shape& os, float* output) {
  const int batches = is[0], in_h = is[1], in_w = is[2], depth = is[3];
  const int out_h = os[1], out_w = os[2];
  std::vector<float> total(static_cast<size_t>(depth));
  for (int b = 0; b < batches; ++b) {
    for (int oy = 0; oy < out_h; ++oy) {
      const int iy0 = oy * p.stride_h - p.pad_top;
      const TapRange ry = inside_taps(iy0, 1, p.filter_h, in_h);
      for (int ox = 0; ox < out_w; ++ox) {
        const int ix0 = ox * p.stride_w - p.pad_left;
        const TapRange rx = inside_taps(ix0, 1, p.filter_w, in_w);
        const auto count = static_cast<float>((ry.end - ry.begin) * (rx.end - rx.begin));
        std::fill(total.begin(), total.end(), 0.0f);
        for (int ky = ry.begin; ky < ry.end; ++ky)
          for (int kx = rx.begin; kx < rx.end; ++kx) {
            const float* x = input + is.offset(b, iy0 + ky, ix0 + kx, 0);
            for (int c = 0; c < depth; ++c) total[c] += x[c];
          }
        float* y = output + os.offset(b, oy, ox, 0);
        for (int c = 0; c < depth; ++c) y[c] = clamp_float(total[c] / count, act);
      }
    }
  }
}

void max_pool_2d(const PoolParams& p, ActivationRange act, const Shape& input_shape,
                 const int8_t* input, const Shape& output_shape, int8_t* output) {
  max_pool_quantized(p, act, input_shape, input, output_shape, output);
}

void max_pool_2d(const PoolParams& p, ActivationRange act, const Shape& input_shape,
                 const uint8_t* input, const Shape& output_shape, uint8_t* output) {
  max_pool_quantized(p, act, input_shape, input, output_shape, output);
}

void max_pool_2d(const PoolParams& p, ActivationRange act, const Shape& input_shape,
                 const int16_t* input, const Shape& output_shape, int16_t* output) {
  max_pool_quantized(p, act, input_shape, input, output_shape, output);
}

void max_pool_2d(const PoolParams& p, ActivationRangeF act, const Shape& is, const float* input,
                 const Shape& os, float* output) {
  const int batches = is[0], in_h = is[1], in_w = is[2], depth = is[3];
  const int out_h = os[1], out_w = os[2];
  std::vector<float> best(static_cast<size_t>(depth));
  for (int b = 0; b < batches; ++b) {
    for (int oy = 0; oy < out_h; ++oy) {
      const int iy0 = oy * p.stride_h - p.pad_top;
      const TapRange ry = inside_taps(iy0, 1, p.filter_h, in_h);
      for (int ox = 0; ox < out_w; ++ox) {
        const int ix0 = ox * p.stride_w - p.pad_left;
        const TapRange rx = inside_taps(ix0, 1, p.filter_w, in_w);
        std::fill(best.begin(), best.end(), std::numeric_limits<float>::lowest());
        for (int ky = ry.begin; ky < ry.end; ++ky)
          for (int kx = rx.begin; kx < rx.end; ++kx) {
            const float* x = input + is.offset(b, iy0 + ky, ix0 + kx, 0);
            // std::max(best, x) keeps `best` when x is NaN, as TFLite's loop does.
            for (int c = 0; c < depth; ++c) best[c] = std::max(best[c], x[c]);
          }
        float* y = output + os.offset(b, oy, ox, 0);
        for (int c = 0; c < depth; ++c) y[c] = clamp_float(best[c], act);
      }
    }
  }
}

}  // namespace tessel::kernels
