// AVX-512 version of requantize_tile (fast_requant.hpp). This file alone is compiled with
// AVX-512 enabled; requant.cpp calls it only when the CPU has AVX-512 F/BW/DQ/VL.
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

namespace tessel::kernels {

namespace {

// The per-channel constants of one block of 16 channels.
struct Block {
  __m512i bias, coef, mult, mult_odd, left, right;
  __m512i mask;       // (1 << right) - 1: the bits the final shift drops
  __m512i threshold;  // mask >> 1: a remainder above it (above it + 1 when negative) rounds up
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
  const __m512i threshold =
      _mm512_mask_add_epi32(b.threshold, _mm512_movepi32_mask(high), b.threshold, one);
  const __m512i res = _mm512_srav_epi32(high, b.right);
  return _mm512_mask_add_epi32(res, _mm512_cmpgt_epi32_mask(rem, threshold), res, one);
}

}  // namespace

void requantize_rows_avx512(const RequantTile& t, const ChannelRequant& rq, void* out,
                            int64_t out_stride, bool is_signed, int64_t row_begin, int64_t row_end) {
  const __m512i zp = _mm512_set1_epi32(rq.output_zero_point);
  const __m512i lo = _mm512_set1_epi32(rq.act_min);
  const __m512i hi = _mm512_set1_epi32(rq.act_max);
  const bool sums = t.sums != nullptr;
  for (int c = 0; c < t.channels; c += 16) {
    const int n = t.channels - c < 16 ? t.channels - c : 16;
    const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
    const Block b = load_block(rq, c, m, sums);
    for (int64_t r = row_begin; r < row_end; ++r) {
      __m512i v = _mm512_add_epi32(_mm512_maskz_loadu_epi32(m, t.accum + r * t.accum_stride + c), b.bias);
      if (sums) {
        const int32_t* srow = t.sums + r * t.sum_stride;
        const __m512i s = t.sum_channel_step == 0 ? _mm512_set1_epi32(srow[0])
                                                  : _mm512_maskz_loadu_epi32(m, srow + c);
        v = _mm512_add_epi32(v, _mm512_mullo_epi32(b.coef, s));
      }
      v = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(requant16(v, b), zp), lo), hi);
      if (is_signed)
        _mm512_mask_cvtsepi32_storeu_epi8(static_cast<int8_t*>(out) + r * out_stride + c, m, v);
      else
        _mm512_mask_cvtusepi32_storeu_epi8(static_cast<uint8_t*>(out) + r * out_stride + c, m, v);
    }
  }
}

void channel_sums_u8_avx512(const uint8_t* src, int64_t count, int64_t stride, int channels, int32_t* out) {
  // _mm512_sad_epu8 against zero adds each group of 8 bytes into a 64-bit lane.
  const __m512i zero = _mm512_setzero_si512();
  int64_t i = 0;
  if (channels == 8 && stride == 8) {  // eight contiguous pixels per load, one sum each
    for (; i + 8 <= count; i += 8)
      _mm512_mask_cvtepi64_storeu_epi32(out + i, 0xFF, _mm512_sad_epu8(_mm512_loadu_si512(src + i * 8), zero));
  }
  if (channels < 16) {  // too few bytes for a vector and a horizontal sum to pay off
    for (; i < count; ++i) {
      const uint8_t* px = src + i * stride;
      int32_t sum = 0;
      for (int c = 0; c < channels; ++c) sum += px[c];
      out[i] = sum;
    }
    return;
  }
  for (; i < count; ++i) {
    const uint8_t* px = src + i * stride;
    __m512i acc = zero;
    for (int c = 0; c < channels; c += 64) {
      const int n = channels - c < 64 ? channels - c : 64;
      const __mmask64 m = n == 64 ? ~__mmask64{0} : ((__mmask64{1} << n) - 1);
      acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(m, px + c), zero));
    }
    out[i] = static_cast<int32_t>(_mm512_reduce_add_epi64(acc));
  }
}

}  // namespace tessel::kernels
