// The direct small-depth convolution's inner loop (small_conv.hpp has the algebra). This
// file alone is compiled with AVX-512 and VNNI enabled; small_conv.cpp calls it only after
// small_conv_cpu_ok().
//
// One call computes one output row. Blocks of 16 output channels are the outer loop, so a
// block's weights (one register per 4-byte window group) and its requantization constants
// stay in registers while the row's pixels stream past; per pixel and block the work is
// `groups` vpdpbusd whose u8 operand is the group's 4 input bytes broadcast to every lane
// (a load-port broadcast), then requant16_one_round (output zero point included), the clamp
// and one 16-byte store. The copied input rows (a few KB) stay in L1 across the blocks.
//
// Port 0 bounds the loop on AVX-512 cores (vpdpbusd, vpmuldq and vector shifts all issue
// there), which is why the requantization is the one-rounding form (2 shifts per 16 lanes
// instead of 6) and why per-pixel choices are template parameters rather than branches.

// direct_conv_avx512.hpp first: it includes <immintrin.h> (see there for a GCC 12 warning).
#include "direct_conv_avx512.hpp"

#include <cstdint>
#include <cstring>
#include <utility>

#include "requant_avx512.hpp"
#include "tessel/kernels/small_conv.hpp"

namespace tessel::kernels {

namespace {

using namespace direct_avx512;

inline __m512i broadcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Adds the weight zero-point correction to P accumulators, requantizes and stores them.
template <int P, Sums S, bool Left, Clamp C>
inline void finish_pixels(const Output& k, __m512i (&acc)[P], const int32_t* sums, int64_t out_c, uint8_t* o) {
  for (int i = 0; i < P; ++i) {
    if constexpr (S == Sums::scaled) acc[i] = _mm512_add_epi32(acc[i], _mm512_set1_epi32(sums[i]));
    if constexpr (S == Sums::per_channel)
      acc[i] = _mm512_add_epi32(acc[i], _mm512_mullo_epi32(k.coef, _mm512_set1_epi32(sums[i])));
  }
  for (int i = 0; i < P; ++i) finish<Left, C>(k, acc[i], o + i * out_c);
}

// P neighbouring output pixels of one block: P independent vpdpbusd chains, interleaved so
// that their latency (a chain of G dependent vpdpbusd) overlaps. `sums` holds each pixel's
// window sum of u (times c when S is scaled).
template <int G, int P, Sums S, bool Left, Clamp C>
inline void pixels(const Output& k, const __m512i (&w)[G], const int64_t (&off)[G], int64_t step, int64_t out_c,
                   const uint8_t* win, const int32_t* sums, uint8_t* o) {
  __m512i acc[P];
  for (int i = 0; i < P; ++i) acc[i] = k.bias;  // the folded bias starts the sum
  for (int g = 0; g < G; ++g)
    for (int i = 0; i < P; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], broadcast4(win + i * step + off[g]), w[g]);
  finish_pixels<P, S, Left, C>(k, acc, sums, out_c, o);
}

// One block over a whole output row, with the per-pixel choices fixed at compile time.
template <int G, Sums S, bool Left, Clamp C>
void block_row(const Output& k, const __m512i (&w)[G], const int64_t (&off)[G], int64_t step, int64_t out_c, int out_w,
               const uint8_t* rows, const int32_t* sums, uint8_t* out) {
  constexpr int P = 4;
  int ox = 0;
  for (; ox + P <= out_w; ox += P)
    pixels<G, P, S, Left, C>(k, w, off, step, out_c, rows + ox * step, sums + ox, out + ox * out_c);
  for (; ox < out_w; ++ox)
    pixels<G, 1, S, Left, C>(k, w, off, step, out_c, rows + ox * step, sums + ox, out + ox * out_c);
}

template <int G, Sums S, bool Left>
void block_row(const Output& k, Clamp clamp, const __m512i (&w)[G], const int64_t (&off)[G], int64_t step,
               int64_t out_c, int out_w, const uint8_t* rows, const int32_t* sums, uint8_t* out) {
  if (clamp == Clamp::int8_range)
    block_row<G, S, Left, Clamp::int8_range>(k, w, off, step, out_c, out_w, rows, sums, out);
  else if (clamp == Clamp::up_to_255)
    block_row<G, S, Left, Clamp::up_to_255>(k, w, off, step, out_c, out_w, rows, sums, out);
  else
    block_row<G, S, Left, Clamp::both>(k, w, off, step, out_c, out_w, rows, sums, out);
}

template <int G, Sums S>
void block_row(const Output& k, Clamp clamp, const __m512i (&w)[G], const int64_t (&off)[G], int64_t step,
               int64_t out_c, int out_w, const uint8_t* rows, const int32_t* sums, uint8_t* out) {
  if (k.b.any_left)
    block_row<G, S, true>(k, clamp, w, off, step, out_c, out_w, rows, sums, out);
  else
    block_row<G, S, false>(k, clamp, w, off, step, out_c, out_w, rows, sums, out);
}

// The window sums of u for one output row, computed with the same groups against a vector
// of ones (zero for a group's pad bytes). Every lane gets the same sum, so 15 of 16 lanes
// are wasted: the fallback for CPUs without VBMI and for windows too far apart.
template <int G>
void window_sums(const SmallConvPlan& p, const int64_t (&off)[G], const uint8_t* rows, uint32_t scale, int32_t* sums) {
  __m512i ones[G];
  for (int g = 0; g < G; ++g) ones[g] = _mm512_loadu_si512(p.ones.data() + g * 64);
  for (int ox = 0; ox < p.out_w; ++ox) {
    const uint8_t* win = rows + ox * p.pixel_step;
    // Two chains halve the latency of the G dependent vpdpbusd.
    __m512i a0 = _mm512_setzero_si512(), a1 = _mm512_setzero_si512();
    for (int g = 0; g < G; g += 2) {
      a0 = _mm512_dpbusd_epi32(a0, broadcast4(win + off[g]), ones[g]);
      if (g + 1 < G) a1 = _mm512_dpbusd_epi32(a1, broadcast4(win + off[g + 1]), ones[g + 1]);
    }
    sums[ox] = static_cast<int32_t>(
        scale * static_cast<uint32_t>(_mm_cvtsi128_si32(_mm512_castsi512_si128(_mm512_add_epi32(a0, a1)))));
  }
}

#define TESSEL_VBMI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni,avx512vbmi")))

// The same with one output pixel per lane: for each group, vpermt2b gathers the group's 4
// bytes of `sum_lanes` neighbouring windows out of 128 consecutive row bytes (the plan's
// sum_index), and one vpdpbusd against the ones adds them. Needs VBMI, hence its own
// target.
template <int G>
TESSEL_VBMI_TARGET void window_sums_vbmi(const SmallConvPlan& p, const uint8_t* rows, uint32_t scale, int32_t* sums) {
  __m512i idx[G], ones[G];
  int64_t row_off[G];
  for (int g = 0; g < G; ++g) {
    idx[g] = _mm512_loadu_si512(p.sum_index.data() + g * 64);
    ones[g] = _mm512_loadu_si512(p.ones.data() + g * 64);
    row_off[g] = p.sum_row_offset[static_cast<size_t>(g)];
  }
  const __m512i c = _mm512_set1_epi32(static_cast<int32_t>(scale));
  const int lanes = p.sum_lanes;
  for (int ox = 0; ox < p.out_w; ox += lanes) {
    const uint8_t* at = rows + ox * p.pixel_step;
    // Two chains: the groups' vpdpbusd would otherwise wait on each other's latency.
    __m512i part[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
    for (int g = 0; g < G; ++g) {
      const uint8_t* base = at + row_off[g];
      const __m512i bytes = _mm512_permutex2var_epi8(_mm512_loadu_si512(base), idx[g], _mm512_loadu_si512(base + 64));
      part[g % 2] = _mm512_dpbusd_epi32(part[g % 2], bytes, ones[g]);
    }
    const __m512i acc = _mm512_mullo_epi32(_mm512_add_epi32(part[0], part[1]), c);
    const int n = p.out_w - ox < lanes ? p.out_w - ox : lanes;
    _mm512_mask_storeu_epi32(sums + ox, static_cast<__mmask16>((1u << n) - 1), acc);
  }
}

// G is the number of window groups, a template parameter so that the weights are an array
// of registers and the group loop unrolls.
template <int G>
void row_kernel(const SmallConvPlan& p, const uint8_t* rows, int32_t* sums, uint8_t* out) {
  const int64_t step = p.pixel_step, out_c = p.out_c;
  int64_t off[G];
  for (int g = 0; g < G; ++g) off[g] = p.group_offset[static_cast<size_t>(g)];
  if (sums) {
    // One c for every channel: multiply once per pixel here (wrapping like the rest of the
    // accumulator) instead of once per pixel and block.
    const uint32_t scale = p.uniform_coef ? static_cast<uint32_t>(p.rq.sum_coef[0]) : 1;
    if (p.sum_lanes > 0)
      window_sums_vbmi<G>(p, rows, scale, sums);
    else
      window_sums<G>(p, off, rows, scale, sums);
  }
  const Sums mode = !sums ? Sums::none : p.uniform_coef ? Sums::scaled : Sums::per_channel;
  const Clamp clamp = clamp_mode(p.rq, p.output_signed);
  Output k = {};
  k.lo = _mm512_set1_epi32(p.rq.act_min);
  k.hi = _mm512_set1_epi32(p.rq.act_max);
  for (int c = 0; c < out_c; c += 16) {
    const int n = out_c - c < 16 ? static_cast<int>(out_c - c) : 16;
    k.m = static_cast<__mmask16>((1u << n) - 1);
    // Lanes past out_c load zero weights and constants and are never stored.
    k.b = avx512::load_one_round_block(p.rq, c, k.m);
    k.bias = _mm512_maskz_loadu_epi32(k.m, p.rq.bias.data() + c);
    k.coef =
        mode == Sums::per_channel ? _mm512_maskz_loadu_epi32(k.m, p.rq.sum_coef.data() + c) : _mm512_setzero_si512();
    __m512i w[G];
    const int8_t* wb = p.weights.data() + static_cast<size_t>(c / 16) * G * 64;
    for (int g = 0; g < G; ++g) w[g] = _mm512_loadu_si512(wb + g * 64);
    if (mode == Sums::none)
      block_row<G, Sums::none>(k, clamp, w, off, step, out_c, p.out_w, rows, sums, out + c);
    else if (mode == Sums::scaled)
      block_row<G, Sums::scaled>(k, clamp, w, off, step, out_c, p.out_w, rows, sums, out + c);
    else
      block_row<G, Sums::per_channel>(k, clamp, w, off, step, out_c, p.out_w, rows, sums, out + c);
  }
}

using RowKernel = void (*)(const SmallConvPlan&, const uint8_t*, int32_t*, uint8_t*);

template <int... G>
constexpr RowKernel pick(int groups, std::integer_sequence<int, G...>) {
  RowKernel k = nullptr;
  ((k = (groups == G + 1 ? &row_kernel<G + 1> : k)), ...);
  return k;
}

}  // namespace

void small_conv_requant_avx512(const ChannelRequant& rq, const int32_t* acc, int channels, bool is_signed,
                               uint8_t* out) {
  const Clamp clamp = clamp_mode(rq, is_signed);
  Output k = {};
  k.lo = _mm512_set1_epi32(rq.act_min);
  k.hi = _mm512_set1_epi32(rq.act_max);
  for (int c = 0; c < channels; c += 16) {
    const int n = channels - c < 16 ? channels - c : 16;
    k.m = static_cast<__mmask16>((1u << n) - 1);
    k.b = avx512::load_one_round_block(rq, c, k.m);
    const __m512i a = _mm512_maskz_loadu_epi32(k.m, acc + c);
    uint8_t* o = out + c;
    if (clamp == Clamp::int8_range)
      k.b.any_left ? finish<true, Clamp::int8_range>(k, a, o) : finish<false, Clamp::int8_range>(k, a, o);
    else if (clamp == Clamp::up_to_255)
      k.b.any_left ? finish<true, Clamp::up_to_255>(k, a, o) : finish<false, Clamp::up_to_255>(k, a, o);
    else
      k.b.any_left ? finish<true, Clamp::both>(k, a, o) : finish<false, Clamp::both>(k, a, o);
  }
}

void small_conv_row_avx512(const SmallConvPlan& plan, const uint8_t* const* rows, uint8_t* buffer, int32_t* sums,
                           uint8_t* out) {
  // Copy the window rows into the buffer as u = byte ^ 0x80 for int8 input, between (or in
  // place of) zero-point padding.
  const __m512i flip = _mm512_set1_epi8(plan.flip_input ? static_cast<char>(0x80) : 0);
  for (int ky = 0; ky < plan.kernel_h; ++ky) {
    uint8_t* dst = buffer + ky * plan.row_stride;
    const uint8_t* src = rows[ky];
    if (!src) {
      std::memset(dst, plan.pad_byte, static_cast<size_t>(plan.row_bytes));
      continue;
    }
    std::memset(dst, plan.pad_byte, static_cast<size_t>(plan.left_bytes));
    dst += plan.left_bytes;
    for (int64_t i = 0; i < plan.in_bytes; i += 64) {
      const int64_t left = plan.in_bytes - i;
      const __mmask64 m = left >= 64 ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
      _mm512_mask_storeu_epi8(dst + i, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src + i), flip));
    }
    std::memset(dst + plan.in_bytes, plan.pad_byte,
                static_cast<size_t>(plan.row_bytes - plan.left_bytes - plan.in_bytes));
  }
  static_assert(kSmallConvMaxGroups == 16, "instantiate row_kernel for every group count");
  pick(plan.groups, std::make_integer_sequence<int, kSmallConvMaxGroups>{})(plan, buffer, sums, out);
}

}  // namespace tessel::kernels
