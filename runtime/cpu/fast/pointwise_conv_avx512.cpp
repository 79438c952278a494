// The register-blocked pointwise convolution's inner loop (small_conv.hpp has the algebra
// and the plan). This file alone is compiled with AVX-512 and VNNI enabled; small_conv.cpp
// calls it only after small_conv_cpu_ok().
//
// The pixels are processed a chunk at a time (plan.chunk, ~16 KB packed): the chunk is
// packed as [group][pixel][4 bytes] of u (the input flipped for int8, zero bytes past in_c)
// together with its window sums, then every quad of 16-channel blocks runs over it in
// tiles of P pixels:
//   per 4-byte group: NB weight loads (64 bytes each, the quad's stream), P broadcasts
//   (load-port vpbroadcastd at constant offsets 4 i from one pointer), NB x P vpdpbusd.
// With NB = 4, P = 6 that is 10 loads for 24 vpdpbusd; SPR-class cores issue two 512-bit
// vpdpbusd per cycle (ports 0 and 5) and two or three loads, so the loop is bound by the
// vpdpbusd themselves, 12 cycles per group, and the 24 independent chains cover their
// 5-cycle latency. Registers: 24 accumulators + 4 weights + 1 broadcast of 32.
// Then each of the NB x P vectors goes through the one-rounding requantization and is
// stored as 16 bytes. Per output vector that is ~16 instructions against in_c / 4
// vpdpbusd; fast_conv.cpp's use_pointwise_conv has the range where it was measured ahead of
// the small-depth kernel and of oneDNN (from 32 input channels on).

// direct_conv_avx512.hpp first: it includes <immintrin.h> (see there for a GCC 12 warning).
#include "direct_conv_avx512.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "tessel/kernels/small_conv.hpp"

namespace tessel::kernels {

namespace {

using namespace direct_avx512;

// Tile height for NB blocks: as many pixels as keep NB x P accumulators within 24 registers
// (NB weights and one broadcast also live in registers). 24 is a multiple of each, so
// plan.chunk (a multiple of 24) holds whole tiles.
constexpr int tile_pixels(int nb) { return nb == 4 ? 6 : nb == 3 ? 8 : 12; }

// Packs pixels [0, n) of `in` (in_c bytes each) as u into `packed` ([group][chunk][4]) and
// their sums of u (times `scale`, wrapping) into `sums` when given. 16 pixels at a time: a
// group's 4 bytes of 16 pixels are one gather (one load uop per pixel, where copying 4-byte
// words one by one costs a load, an xor and a store each: at 64 output channels that
// packing took a fifth of the time), one xor and one store, and the pixel sums come from
// the same vectors (one vpdpbusd against ones per group adds each pixel's 4 bytes in its
// lane; at most 255 * in_c, exact).
void pack_chunk(const PointwiseConvPlan& p, const uint8_t* in, int64_t n, uint8_t* packed, int32_t* sums,
                uint32_t scale) {
  const __m512i flip = _mm512_set1_epi32(p.flip_input ? static_cast<int32_t>(0x80808080u) : 0);
  const __m512i ones = _mm512_set1_epi8(1), all = _mm512_set1_epi32(-1);
  const int full = p.in_c / 4, rest = p.in_c % 4;
  const int64_t group_step = int64_t{p.chunk} * 4;
  // Byte offsets of 16 neighbouring pixels (at most 15 * in_c, well inside int32).
  const __m512i offsets = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                             _mm512_set1_epi32(p.in_c));
  for (int64_t first = 0; first < n; first += 16) {
    const int64_t left = n - first;
    const __mmask16 m = left >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << left) - 1);
    const uint8_t* px = in + first * p.in_c;
    uint8_t* dst = packed + first * 4;
    __m512i total = _mm512_setzero_si512();
    // Raw bytes to u, keeping only the `keep` bytes of each word (lanes past n get 0; they
    // are computed but never stored).
    auto put = [&](int g, __m512i words, __m512i keep) {
      words = _mm512_maskz_mov_epi32(m, _mm512_and_si512(_mm512_xor_si512(words, flip), keep));
      _mm512_storeu_si512(dst + g * group_step, words);
      if (sums) total = _mm512_dpbusd_epi32(total, words, ones);
    };
    for (int g = 0; g < full; ++g)
      put(g, _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, offsets, px + g * 4, 1), all);
    if (rest) {
      // The last group's bytes past in_c are 0 (their weights are 0 as well); read byte by
      // byte, as 4 bytes from the last pixel could run past the input.
      alignas(64) uint32_t words[16] = {};
      for (int64_t i = 0; i < std::min<int64_t>(16, left); ++i)
        std::memcpy(&words[i], px + i * p.in_c + full * 4, static_cast<size_t>(rest));
      const __m512i keep = _mm512_set1_epi32(static_cast<int32_t>((uint32_t{1} << (8 * rest)) - 1));
      put(full, _mm512_load_si512(words), keep);
    }
    if (sums) _mm512_storeu_si512(sums + first, _mm512_mullo_epi32(total, _mm512_set1_epi32(static_cast<int32_t>(scale))));
  }
}

// One quad (NB blocks of 16 channels, constants k[b], weights w = [group][NB][64]) over
// pixels [0, n) of a packed chunk, P at a time. The last tile may be partial: it computes
// the chunk's stale pixels past n too (the buffer holds whole tiles) and stores only n.
template <int NB, Sums S, bool Left, Clamp C>
void quad_tiles(const PointwiseConvPlan& p, const Output (&k)[NB], const int8_t* w, const uint8_t* packed,
                const int32_t* sums, int64_t n, uint8_t* out) {
  constexpr int P = tile_pixels(NB);
  const int64_t group_step = int64_t{p.chunk} * 4, out_c = p.out_c;
  for (int64_t t = 0; t < n; t += P) {
    __m512i acc[P][NB];
    for (int i = 0; i < P; ++i)
      for (int b = 0; b < NB; ++b) {
        if constexpr (S == Sums::none) acc[i][b] = k[b].bias;
        if constexpr (S == Sums::scaled) acc[i][b] = _mm512_add_epi32(k[b].bias, _mm512_set1_epi32(sums[t + i]));
        if constexpr (S == Sums::per_channel)
          acc[i][b] = _mm512_add_epi32(k[b].bias, _mm512_mullo_epi32(k[b].coef, _mm512_set1_epi32(sums[t + i])));
      }
    const uint8_t* x = packed + t * 4;
    const int8_t* wg = w;
    for (int g = 0; g < p.groups; ++g, x += group_step, wg += NB * 64) {
      __m512i wv[NB];
      for (int b = 0; b < NB; ++b) wv[b] = _mm512_loadu_si512(wg + b * 64);
      for (int i = 0; i < P; ++i) {
        int32_t v;
        std::memcpy(&v, x + i * 4, 4);
        const __m512i u = _mm512_set1_epi32(v);
        for (int b = 0; b < NB; ++b) acc[i][b] = _mm512_dpbusd_epi32(acc[i][b], u, wv[b]);
      }
    }
    // The accumulators leave the registers through memory: with them live across the
    // requantization (which needs registers of its own), GCC 12 spills every accumulator on
    // every group of the loop above instead.
    alignas(64) int32_t done[P][NB][16];
    for (int i = 0; i < P; ++i)
      for (int b = 0; b < NB; ++b) _mm512_store_si512(done[i][b], acc[i][b]);
    const int64_t valid = n - t;
    for (int i = 0; i < P && i < valid; ++i)
      for (int b = 0; b < NB; ++b)
        finish<Left, C>(k[b], _mm512_load_si512(done[i][b]), out + (t + i) * out_c + b * 16);
  }
}

// The run-time choices (zero-point correction, left shifts, clamp) turned into template
// arguments, one level at a time.
template <int NB, Sums S, bool Left>
void quad_tiles(const PointwiseConvPlan& p, Clamp clamp, const Output (&k)[NB], const int8_t* w,
                const uint8_t* packed, const int32_t* sums, int64_t n, uint8_t* out) {
  if (clamp == Clamp::int8_range)
    quad_tiles<NB, S, Left, Clamp::int8_range>(p, k, w, packed, sums, n, out);
  else if (clamp == Clamp::up_to_255)
    quad_tiles<NB, S, Left, Clamp::up_to_255>(p, k, w, packed, sums, n, out);
  else
    quad_tiles<NB, S, Left, Clamp::both>(p, k, w, packed, sums, n, out);
}

template <int NB>
void quad_tiles(const PointwiseConvPlan& p, Sums mode, Clamp clamp, const Output (&k)[NB], const int8_t* w,
                const uint8_t* packed, const int32_t* sums, int64_t n, uint8_t* out) {
  bool left = false;
  for (int b = 0; b < NB; ++b) left = left || k[b].b.any_left;
  auto with_sums = [&](auto s) {
    constexpr Sums S = decltype(s)::value;
    if (left)
      quad_tiles<NB, S, true>(p, clamp, k, w, packed, sums, n, out);
    else
      quad_tiles<NB, S, false>(p, clamp, k, w, packed, sums, n, out);
  };
  if (mode == Sums::none)
    with_sums(std::integral_constant<Sums, Sums::none>{});
  else if (mode == Sums::scaled)
    with_sums(std::integral_constant<Sums, Sums::scaled>{});
  else
    with_sums(std::integral_constant<Sums, Sums::per_channel>{});
}

// One quad's constants (first block c0, nb blocks), then its tiles over the chunk.
template <int NB>
void run_quad(const PointwiseConvPlan& p, Sums mode, Clamp clamp, int c0, const uint8_t* packed,
              const int32_t* sums, int64_t n, uint8_t* out) {
  Output k[NB];
  for (int b = 0; b < NB; ++b) {
    const int c = c0 + b * 16;
    const int lanes = std::min(16, p.out_c - c);
    // Lanes past out_c get zero weights and constants and are never stored.
    k[b].m = static_cast<__mmask16>((1u << lanes) - 1);
    k[b].b = avx512::load_one_round_block(p.rq, c, k[b].m);
    k[b].bias = _mm512_maskz_loadu_epi32(k[b].m, p.rq.bias.data() + c);
    k[b].coef = mode == Sums::per_channel ? _mm512_maskz_loadu_epi32(k[b].m, p.rq.sum_coef.data() + c)
                                          : _mm512_setzero_si512();
    k[b].lo = _mm512_set1_epi32(p.rq.act_min);
    k[b].hi = _mm512_set1_epi32(p.rq.act_max);
  }
  const int8_t* w = p.weights.data() + static_cast<size_t>(c0 / 16) * p.groups * 64;
  quad_tiles<NB>(p, mode, clamp, k, w, packed, sums, n, out + c0);
}

}  // namespace

size_t pointwise_conv_buffer_bytes(const PointwiseConvPlan& p) {
  return static_cast<size_t>(p.chunk) * p.groups * 4 + static_cast<size_t>(p.chunk) * 4;  // packed + sums
}

void pointwise_conv_avx512(const PointwiseConvPlan& p, const uint8_t* in, int64_t pixels, uint8_t* buffer,
                           uint8_t* out) {
  const bool with_sums = !p.rq.sum_coef.empty();
  const Sums mode = !with_sums ? Sums::none : p.uniform_coef ? Sums::scaled : Sums::per_channel;
  // One c for every channel: multiplied into the sum once per pixel, not per pixel and block.
  const uint32_t scale = mode == Sums::scaled ? static_cast<uint32_t>(p.rq.sum_coef[0]) : 1;
  const Clamp clamp = clamp_mode(p.rq, p.output_signed);
  uint8_t* packed = buffer;
  auto* sums = reinterpret_cast<int32_t*>(buffer + static_cast<size_t>(p.chunk) * p.groups * 4);
  const int blocks = (p.out_c + 15) / 16;
  for (int64_t first = 0; first < pixels; first += p.chunk) {
    const int64_t n = std::min<int64_t>(p.chunk, pixels - first);
    pack_chunk(p, in + first * p.in_c, n, packed, with_sums ? sums : nullptr, scale);
    uint8_t* o = out + first * p.out_c;
    for (int b = 0; b < blocks; b += 4) {
      switch (std::min(4, blocks - b)) {
        case 4: run_quad<4>(p, mode, clamp, b * 16, packed, sums, n, o); break;
        case 3: run_quad<3>(p, mode, clamp, b * 16, packed, sums, n, o); break;
        case 2: run_quad<2>(p, mode, clamp, b * 16, packed, sums, n, o); break;
        default: run_quad<1>(p, mode, clamp, b * 16, packed, sums, n, o); break;
      }
    }
  }
}

}  // namespace tessel::kernels
