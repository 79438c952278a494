#pragma once
// The exact AVX-512 requantization of 16 int32 accumulators (one block of 16 channels),
// shared by requant_avx512.cpp (int32 tiles from oneDNN) and small_conv_avx512.cpp (the
// direct convolution, which requantizes straight from registers). Include it only from
// translation units compiled with AVX-512 F/BW/DQ/VL enabled.
//
// Each lane computes exactly the scalar multiply_by_quantized_multiplier (multipliers are
// non-negative, checked by callers, so the saturating case INT32_MIN^2 cannot occur):
//   x    = acc << max(shift, 0)                      (32-bit, wrapping, as TFLite)
//   high = (x * m + 2^30) >> 31                      (arithmetic)
//     TFLite adds 2^30 (or 1 - 2^30 when x*m < 0) and divides by 2^31 truncating toward
//     zero; for negative products truncation is ceil, and ceil((p + 1 - 2^30) / 2^31) =
//     floor((p + 2^30) / 2^31), so one formula serves both signs.
//   out  = rounding_divide_by_pot(high, max(-shift, 0)): round half away from zero.
// The 32x32->64 products are formed separately for even and odd lanes (_mm512_mul_epi32
// reads the low half of each 64-bit lane) and recombined. Per-channel constants are set up
// once per block of 16 channels and kept in registers while the rows stream past.
#include <immintrin.h>

#include <cstdint>

#include "tessel/kernels/fast_requant.hpp"

namespace tessel::kernels::avx512 {

// The per-channel constants of one block of 16 channels.
struct Block {
  __m512i bias, coef, mult, mult_odd, left, right;
  __m512i mask;       // (1 << right) - 1: the bits the final shift drops
  __m512i threshold;  // mask >> 1: a remainder above it (above it + 1 when
                      // negative) rounds up
  bool any_left;      // some channel shifts left first
};

inline Block load_block(const ChannelRequant& rq, int c, __mmask16 m, bool sums) {
  Block b;
  const __m512i zero = _mm512_setzero_si512();
  b.bias = _mm512_maskz_loadu_epi32(m, rq.bias.data() + c);
  b.coef = sums ? _mm512_maskz_loadu_epi32(m, rq.sum_coef.data() + c) : zero;
  b.mult = _mm512_maskz_loadu_epi32(m, rq.multiplier.data() + c);
  b.mult_odd = _mm512_srli_epi64(b.mult, 32);
  const __m512i shift = _mm512_maskz_loadu_epi32(m, rq.shift.data() + c);
  b.left = _mm512_max_epi32(shift, zero);
  b.right = _mm512_sub_epi32(b.left, shift);  // max(-shift, 0)
  const __m512i one = _mm512_set1_epi32(1);
  b.mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, b.right), one);
  b.threshold = _mm512_srli_epi32(b.mask, 1);
  b.any_left = _mm512_test_epi32_mask(b.left, b.left) != 0;
  return b;
}

// (p + 2^30) >> 31 on 64-bit products: TFLite's rounding doubling high multiply (see top).
inline __m512i high_mul(__m512i p) {
  return _mm512_srai_epi64(_mm512_add_epi64(p, _mm512_set1_epi64(int64_t{1} << 30)), 31);
}

inline __m512i requant16(__m512i acc, const Block& b) {
  const __m512i x = b.any_left ? _mm512_sllv_epi32(acc, b.left) : acc;
  const __m512i even = high_mul(_mm512_mul_epi32(x, b.mult));
  const __m512i odd = high_mul(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), b.mult_odd));
  // |x * m| < 2^62, so each high part fits in 32 bits: recombine, then divide by 2^right
  // rounding half away from zero exactly as rounding_divide_by_pot does.
  const __m512i high = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i rem = _mm512_and_si512(high, b.mask);
  const __m512i threshold = _mm512_mask_add_epi32(b.threshold, _mm512_movepi32_mask(high), b.threshold, one);
  const __m512i res = _mm512_srav_epi32(high, b.right);
  return _mm512_mask_add_epi32(res, _mm512_cmpgt_epi32_mask(rem, threshold), res, one);
}

}  // namespace tessel::kernels::avx512

namespace tessel::kernels::avx512 {

// The same requantization with a single rounding step, for the direct convolution, whose
// inner loop is bound by port 0 (where vpdpbusd, vpmuldq and the vector shifts all issue):
// this form needs 2 shifts per 16 lanes instead of 6. Per lane, with p = (acc << left) * m
// formed exactly in 64 bits and r = max(-shift, 0):
//   r = 0:   out = floor((p + 2^30) / 2^31)                    (high_mul above)
//   r >= 1:  high = floor((p + 2^30) / 2^31) as above, and rounding_divide_by_pot is
//            floor((high + 2^(r-1) - [high < 0]) / 2^r) (ties away from zero). Nested
//            floors of integers merge, floor((floor(a / 2^31) + b) / 2^r) =
//            floor((a + b 2^31) / 2^(31+r)), so
//            out = floor((p + 2^30 + 2^(30+r) - [high < 0] 2^31) / 2^(31+r)).
//            [high < 0] is [p < -2^30]; using [p < 0] instead changes nothing, because
//            for -2^30 <= p < 0 high is 0 and floor((2^(r-1) - 1) / 2^r) =
//            floor(2^(r-1) / 2^r) = 0.
// So out = (p + K - [p < 0] N) >> S with per-lane constants K = 2^30 (+ 2^(30+r) when
// r >= 1), N = 2^31 when r >= 1 else 0, S = 31 + r.
// The output zero point zp rides along: floor((t + zp 2^S) / 2^S) = floor(t / 2^S) + zp,
// so K also holds zp 2^S and the result is zp + out (modulo 2^32, as TFLite's addition).
// Overflow: this needs r <= 22 (callers check): then |p| < 2^62, K <= 2^30 + 2^52 and
// |zp 2^S| < 2^8 2^53 = 2^61 for |zp| <= 255, so the 64-bit sum stays below 2^63.
// test_small_conv checks all of it against the scalar reference on random and extreme
// values (through small_conv_requantize).
struct OneRoundBlock {
  __m512i left;                 // per 32-bit lane
  __m512i mult_even, mult_odd;  // multiplier of lane 2i / 2i+1 in the low half of 64-bit lane i
  __m512i k_even, k_odd, n_even, n_odd, s_even, s_odd;  // the 64-bit constants above
  bool any_left;
};

inline OneRoundBlock load_one_round_block(const ChannelRequant& rq, int c, __mmask16 m) {
  const __m512i zp = _mm512_set1_epi64(rq.output_zero_point);
  OneRoundBlock b;
  const __m512i zero = _mm512_setzero_si512();
  const __m512i mult = _mm512_maskz_loadu_epi32(m, rq.multiplier.data() + c);
  const __m512i shift = _mm512_maskz_loadu_epi32(m, rq.shift.data() + c);
  b.left = _mm512_max_epi32(shift, zero);
  b.any_left = _mm512_test_epi32_mask(b.left, b.left) != 0;
  const __m512i right = _mm512_sub_epi32(b.left, shift);
  b.mult_even = mult;
  b.mult_odd = _mm512_srli_epi64(mult, 32);
  // 64-bit lanes of r for the even and odd channels.
  const __m512i r_even = _mm512_and_si512(right, _mm512_set1_epi64(0xFFFFFFFF));
  const __m512i r_odd = _mm512_srli_epi64(right, 32);
  const __m512i k30 = _mm512_set1_epi64(int64_t{1} << 30);
  const __m512i n31 = _mm512_set1_epi64(int64_t{1} << 31);
  auto consts = [&](__m512i r, __m512i& k, __m512i& n, __m512i& s) {
    const __mmask8 rounds = _mm512_test_epi64_mask(r, r);  // r >= 1
    s = _mm512_add_epi64(r, _mm512_set1_epi64(31));
    k = _mm512_mask_add_epi64(k30, rounds, k30, _mm512_sllv_epi64(k30, r));
    k = _mm512_add_epi64(k, _mm512_sllv_epi64(zp, s));  // zp * 2^S, two's complement
    n = _mm512_maskz_mov_epi64(rounds, n31);
  };
  consts(r_even, b.k_even, b.n_even, b.s_even);
  consts(r_odd, b.k_odd, b.n_odd, b.s_odd);
  return b;
}

// `left` must be b.any_left; callers pass it as a constant to take the test out of loops.
inline __m512i requant16_one_round(__m512i acc, const OneRoundBlock& b, bool left) {
  const __m512i x = left ? _mm512_sllv_epi32(acc, b.left) : acc;
  const __m512i zero = _mm512_setzero_si512();
  // Odd lanes moved to the even positions by a shuffle (port 5) rather than a shift.
  const __m512i x_odd = _mm512_shuffle_epi32(x, _MM_PERM_DDBB);
  const __m512i pe = _mm512_mul_epi32(x, b.mult_even);
  const __m512i po = _mm512_mul_epi32(x_odd, b.mult_odd);
  __m512i te = _mm512_add_epi64(pe, b.k_even);
  __m512i to = _mm512_add_epi64(po, b.k_odd);
  te = _mm512_mask_sub_epi64(te, _mm512_cmplt_epi64_mask(pe, zero), te, b.n_even);
  to = _mm512_mask_sub_epi64(to, _mm512_cmplt_epi64_mask(po, zero), to, b.n_odd);
  te = _mm512_srav_epi64(te, b.s_even);
  to = _mm512_srav_epi64(to, b.s_odd);
  // Low dwords back together: lane 2i from te's dword 2i, lane 2i+1 from to's dword 2i.
  const __m512i idx = _mm512_set_epi32(30, 14, 28, 12, 26, 10, 24, 8, 22, 6, 20, 4, 18, 2, 16, 0);
  return _mm512_permutex2var_epi32(te, idx, to);
}

}  // namespace tessel::kernels::avx512
