// The direct depthwise convolution's row work (depthwise_conv.hpp has the arithmetic). This
// file alone is compiled with AVX-512 and VNNI enabled; depthwise_conv.cpp calls it, and
// FastConv uses it only after small_conv_cpu_ok().
//
// Per band of output rows, each input row a window touches is converted once into pair
// form (x16[p], x16[p + dilation_w] per channel; padding columns are 0) in one of the plan.slots
// per-thread slots; rows above and below the image point at a row of zeros. Then per output
// row, blocks of 16 channels are the outer loop so that the block's pair weights (one
// register per pair) and requantization constants stay in registers while 4 pixels at a
// time stream past: per pixel and pair one 64-byte load and one vpdpwssd.

// direct_conv_avx512.hpp first: it includes <immintrin.h> (see there for a GCC 12 warning).
#include "direct_conv_avx512.hpp"

#include <cstdint>
#include <cstring>
#include <utility>

#include "requant_avx512.hpp"
#include "tessel/kernels/depthwise_conv.hpp"

namespace tessel::kernels {

namespace {

using namespace direct_avx512;

uint8_t* aligned(uint8_t* p) {
  return reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(p) + 63) & ~uintptr_t{63});
}

// x - zx of one block of 16 channels at input column x (0 outside the image), as int32.
template <bool Signed>
inline __m512i x16(const DepthwiseConvPlan& p, const uint8_t* src, int x, int b, __mmask16 m, __m512i zx) {
  if (x < 0 || x >= p.in_w) return _mm512_setzero_si512();
  const __m128i bytes = _mm_maskz_loadu_epi8(m, src + int64_t{x} * p.channels + b * 16);
  const __m512i v = Signed ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes);
  return _mm512_maskz_sub_epi32(m, v, zx);
}

inline __m512i pair(__m512i lo, __m512i hi) {
  return _mm512_mask_blend_epi16(0xAAAAAAAA, lo, _mm512_slli_epi32(hi, 16));
}

// Converts input row `src` (in_w * channels bytes) into pair form at `dst`: pair j holds
// columns (q, q + dilation_w) of the padded row, q = j * pair_step. Pairs are written in
// order, all blocks of a pair at a time (sequential loads and stores). When the low column
// of pair j is the high column of an earlier pair (dilation_w a multiple of pair_step:
// stride 1, or stride 2 with dilation 2) it is taken from that pair's high half, so each
// input column is converted once.
template <bool Signed>
void convert_row(const DepthwiseConvPlan& p, const uint8_t* src, uint8_t* dst) {
  const __m512i zx = _mm512_set1_epi32(p.input_zero_point);
  const int64_t pixel_bytes = int64_t{p.blocks} * 64;
  const int d = p.dilation_w, step = p.pair_step;
  const int lag = d % step == 0 ? d / step : 0;  // pairs back to the one holding our low column
  const int last = p.blocks - 1;
  const int tail = p.channels - last * 16;
  const __mmask16 tail_mask = static_cast<__mmask16>((1u << tail) - 1);
  if (lag == 1 && p.blocks == 1) {
    // One block: carry the high half in a register (reading it back from the pair just
    // stored would put a store-to-load forwarding delay on every pair).
    __m512i lo = x16<Signed>(p, src, -p.pad_left, 0, tail_mask, zx);
    for (int j = 0; j < p.pair_w; ++j) {
      const __m512i hi = x16<Signed>(p, src, j * step - p.pad_left + d, 0, tail_mask, zx);
      _mm512_store_si512(dst + j * pixel_bytes, pair(lo, hi));
      lo = hi;
    }
    return;
  }
  for (int j = 0; j < p.pair_w; ++j) {
    const int x = j * step - p.pad_left;
    uint8_t* out = dst + j * pixel_bytes;
    if (lag > 0 && j >= lag) {
      const uint8_t* prev = out - lag * pixel_bytes;
      for (int b = 0; b < p.blocks; ++b) {
        const __mmask16 m = b == last ? tail_mask : __mmask16{0xFFFF};
        const __m512i lo = _mm512_srli_epi32(_mm512_load_si512(prev + b * 64), 16);
        _mm512_store_si512(out + b * 64, pair(lo, x16<Signed>(p, src, x + d, b, m, zx)));
      }
    } else {
      for (int b = 0; b < p.blocks; ++b) {
        const __mmask16 m = b == last ? tail_mask : __mmask16{0xFFFF};
        _mm512_store_si512(out + b * 64, pair(x16<Signed>(p, src, x, b, m, zx), x16<Signed>(p, src, x + d, b, m, zx)));
      }
    }
  }
}

// P neighbouring output pixels of one block.
template <int G, int P, bool Left, Clamp C>
inline void pixels(const Output& k, const __m512i (&w)[G], const uint8_t* const (&at)[G], int64_t pos, int64_t step,
                   uint8_t* o, int64_t out_c) {
  __m512i acc[P];
  for (int i = 0; i < P; ++i) acc[i] = k.bias;
  for (int g = 0; g < G; ++g)
    for (int i = 0; i < P; ++i)
      acc[i] = _mm512_dpwssd_epi32(acc[i], _mm512_load_si512(at[g] + pos + i * step), w[g]);
  for (int i = 0; i < P; ++i) finish<Left, C>(k, acc[i], o + i * out_c);
}

template <int G, bool Left, Clamp C>
void block_row(const Output& k, const __m512i (&w)[G], const uint8_t* const (&at)[G], int64_t step, int out_w,
               uint8_t* out, int64_t out_c) {
  constexpr int P = 4;
  int ox = 0;
  for (; ox + P <= out_w; ox += P) pixels<G, P, Left, C>(k, w, at, ox * step, step, out + ox * out_c, out_c);
  for (; ox < out_w; ++ox) pixels<G, 1, Left, C>(k, w, at, ox * step, step, out + ox * out_c, out_c);
}

// One output row; hrow[ky] is the pair-form input row of window row ky (or zeros).
template <int G>
void row_kernel(const DepthwiseConvPlan& p, const uint8_t* const* hrow, uint8_t* out) {
  const int64_t pixel_bytes = int64_t{p.blocks} * 64;
  const int64_t step = p.stride_w / p.pair_step * pixel_bytes;
  const int64_t out_c = p.channels;
  const Clamp clamp = clamp_mode(p.rq, p.output_signed);
  Output k = {};
  k.lo = _mm512_set1_epi32(p.rq.act_min);
  k.hi = _mm512_set1_epi32(p.rq.act_max);
  k.coef = _mm512_setzero_si512();
  for (int b = 0; b < p.blocks; ++b) {
    const int c = b * 16;
    const int n = p.channels - c < 16 ? p.channels - c : 16;
    k.m = static_cast<__mmask16>((1u << n) - 1);
    k.b = avx512::load_one_round_block(p.rq, c, k.m);
    k.bias = _mm512_maskz_loadu_epi32(k.m, p.rq.bias.data() + c);
    __m512i w[G];
    const uint8_t* at[G];
    const int16_t* wb = p.weights.data() + static_cast<size_t>(b) * G * 32;
    for (int g = 0; g < G; ++g) {
      w[g] = _mm512_loadu_si512(wb + g * 32);
      const int ky = g / p.pairs_w, kp = g % p.pairs_w;
      at[g] = hrow[ky] + int64_t{2} * kp * p.dilation_w / p.pair_step * pixel_bytes + b * 64;
    }
    uint8_t* o = out + c;
    if (k.b.any_left) {
      if (clamp == Clamp::int8_range)
        block_row<G, true, Clamp::int8_range>(k, w, at, step, p.out_w, o, out_c);
      else if (clamp == Clamp::up_to_255)
        block_row<G, true, Clamp::up_to_255>(k, w, at, step, p.out_w, o, out_c);
      else
        block_row<G, true, Clamp::both>(k, w, at, step, p.out_w, o, out_c);
    } else {
      if (clamp == Clamp::int8_range)
        block_row<G, false, Clamp::int8_range>(k, w, at, step, p.out_w, o, out_c);
      else if (clamp == Clamp::up_to_255)
        block_row<G, false, Clamp::up_to_255>(k, w, at, step, p.out_w, o, out_c);
      else
        block_row<G, false, Clamp::both>(k, w, at, step, p.out_w, o, out_c);
    }
  }
}

using RowKernel = void (*)(const DepthwiseConvPlan&, const uint8_t* const*, uint8_t*);

template <int... G>
constexpr RowKernel pick(int groups, std::integer_sequence<int, G...>) {
  RowKernel k = nullptr;
  ((k = (groups == G + 1 ? &row_kernel<G + 1> : k)), ...);
  return k;
}

}  // namespace

size_t depthwise_conv_buffer_bytes(const DepthwiseConvPlan& plan) {
  // Alignment slack, the row slots and a row of zeros.
  return static_cast<size_t>(64 + (plan.slots + 1) * plan.pair_row_bytes);
}

void depthwise_conv_rows_avx512(const DepthwiseConvPlan& p, const uint8_t* image, int row0, int rows,
                                uint8_t* out_image, uint8_t* buffer) {
  static_assert(kDepthwiseMaxPairs == 16, "instantiate row_kernel for every pair count");
  const RowKernel kernel =
      pick(p.kernel_h * p.pairs_w, std::make_integer_sequence<int, kDepthwiseMaxPairs>{});
  uint8_t* base = aligned(buffer);
  uint8_t* zeros = base + p.slots * p.pair_row_bytes;
  std::memset(zeros, 0, static_cast<size_t>(p.pair_row_bytes));
  const int64_t in_row_bytes = int64_t{p.in_w} * p.channels;
  const int64_t out_row_bytes = int64_t{p.out_w} * p.channels;
  // Which input row each slot holds (-1: none); valid within this call only.
  int tag[kDepthwiseMaxSlots];
  for (int i = 0; i < p.slots; ++i) tag[i] = -1;
  const uint8_t* hrow[kDepthwiseMaxPairs];
  for (int r = 0; r < rows; ++r) {
    const int oy = row0 + r;
    int need[kDepthwiseMaxPairs];
    bool keep[kDepthwiseMaxSlots];
    for (int i = 0; i < p.slots; ++i) keep[i] = false;
    for (int ky = 0; ky < p.kernel_h; ++ky) {
      const int y = oy * p.stride_h + ky * p.dilation_h - p.pad_top;
      need[ky] = y >= 0 && y < p.in_h ? y : -1;
      for (int i = 0; i < p.slots; ++i)
        if (need[ky] >= 0 && tag[i] == need[ky]) keep[i] = true;
    }
    for (int ky = 0; ky < p.kernel_h; ++ky) {
      if (need[ky] < 0) {
        hrow[ky] = zeros;
        continue;
      }
      int slot = -1;
      for (int i = 0; i < p.slots && slot < 0; ++i)
        if (tag[i] == need[ky]) slot = i;
      if (slot < 0) {
        // Replace the oldest row this output row does not use (rows only move down).
        for (int i = 0; i < p.slots; ++i)
          if (!keep[i] && (slot < 0 || tag[i] < tag[slot])) slot = i;
        tag[slot] = need[ky];
        keep[slot] = true;
        (p.input_signed ? convert_row<true> : convert_row<false>)(p, image + need[ky] * in_row_bytes, base + slot * p.pair_row_bytes);
      }
      hrow[ky] = base + slot * p.pair_row_bytes;
    }
    kernel(p, hrow, out_image + oy * out_row_bytes);
  }
}

}  // namespace tessel::kernels
