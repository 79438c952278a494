// AVX-512 version of requantize_tile (fast_requant.hpp). This file alone is compiled with
// AVX-512 enabled; requant.cpp calls it only when the CPU has AVX-512 F/BW/DQ/VL.
//
// Sixteen channels at a time, each lane doing exactly what the scalar
// multiply_by_quantized_multiplier does:
//   x    = acc << max(shift, 0)                         (wraps, as TFLite's int32 multiply)
//   high = (x * m + nudge) / 2^31 truncated, nudge = 2^30 or 1 - 2^30 by the product's sign
//   out  = rounding_divide_by_pot(high, max(-shift, 0))
// The 32x32->64 products are formed separately for even and odd lanes (_mm512_mul_epi32
// reads the low half of each 64-bit lane) and recombined.
#include <immintrin.h>

#include <cstdint>

#include "tessel/kernels/fast_requant.hpp"

namespace tessel::kernels {

namespace {

// (p + nudge) / 2^31 truncated toward zero, on eight 64-bit products.
inline __m512i high_mul_64(__m512i p) {
  const __m512i zero = _mm512_setzero_si512();
  const __mmask8 neg = _mm512_cmplt_epi64_mask(p, zero);
  const __m512i nudge = _mm512_mask_blend_epi64(neg, _mm512_set1_epi64(int64_t{1} << 30),
                                                _mm512_set1_epi64(1 - (int64_t{1} << 30)));
  __m512i v = _mm512_add_epi64(p, nudge);
  // Division truncating toward zero = arithmetic shift after adding 2^31 - 1 to negatives.
  const __mmask8 vneg = _mm512_cmplt_epi64_mask(v, zero);
  v = _mm512_mask_add_epi64(v, vneg, v, _mm512_set1_epi64((int64_t{1} << 31) - 1));
  return _mm512_srai_epi64(v, 31);
}

inline __m512i requant16(__m512i acc, __m512i mult, __m512i shift) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i left = _mm512_max_epi32(shift, zero);
  const __m512i right = _mm512_sub_epi32(left, shift);  // max(-shift, 0)
  const __m512i x = _mm512_sllv_epi32(acc, left);

  const __m512i even = high_mul_64(_mm512_mul_epi32(x, mult));
  const __m512i odd = high_mul_64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(mult, 32)));
  __m512i high = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  // The one overflow case of the doubling high multiply saturates.
  const __m512i int_min = _mm512_set1_epi32(INT32_MIN);
  const __mmask16 sat = _mm512_cmpeq_epi32_mask(x, int_min) & _mm512_cmpeq_epi32_mask(mult, int_min);
  high = _mm512_mask_mov_epi32(high, sat, _mm512_set1_epi32(INT32_MAX));

  // rounding_divide_by_pot(high, right): ties away from zero.
  const __m512i mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, right), one);
  const __m512i rem = _mm512_and_si512(high, mask);
  __m512i threshold = _mm512_srli_epi32(mask, 1);
  threshold = _mm512_mask_add_epi32(threshold, _mm512_cmplt_epi32_mask(high, zero), threshold, one);
  __m512i res = _mm512_srav_epi32(high, right);
  return _mm512_mask_add_epi32(res, _mm512_cmpgt_epi32_mask(rem, threshold), res, one);
}

}  // namespace

void requantize_rows_avx512(const RequantTile& t, const ChannelRequant& rq, void* out,
                            int64_t out_stride, bool is_signed, int64_t row_begin, int64_t row_end) {
  const __m512i zp = _mm512_set1_epi32(rq.output_zero_point);
  const __m512i lo = _mm512_set1_epi32(rq.act_min);
  const __m512i hi = _mm512_set1_epi32(rq.act_max);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const int32_t* acc = t.accum + r * t.accum_stride;
    const int32_t* sums = t.sums ? t.sums + r * t.sum_stride : nullptr;
    for (int c = 0; c < t.channels; c += 16) {
      const int n = t.channels - c < 16 ? t.channels - c : 16;
      const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
      __m512i v = _mm512_add_epi32(_mm512_maskz_loadu_epi32(m, acc + c),
                                   _mm512_maskz_loadu_epi32(m, rq.bias.data() + c));
      if (sums) {
        const __m512i s = t.sum_channel_step == 0 ? _mm512_set1_epi32(sums[0])
                                                  : _mm512_maskz_loadu_epi32(m, sums + c);
        v = _mm512_add_epi32(v, _mm512_mullo_epi32(_mm512_maskz_loadu_epi32(m, rq.sum_coef.data() + c), s));
      }
      v = requant16(v, _mm512_maskz_loadu_epi32(m, rq.multiplier.data() + c),
                    _mm512_maskz_loadu_epi32(m, rq.shift.data() + c));
      v = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(v, zp), lo), hi);
      if (is_signed)
        _mm512_mask_cvtsepi32_storeu_epi8(static_cast<int8_t*>(out) + r * out_stride + c, m, v);
      else
        _mm512_mask_cvtusepi32_storeu_epi8(static_cast<uint8_t*>(out) + r * out_stride + c, m, v);
    }
  }
}

}  // namespace tessel::kernels
