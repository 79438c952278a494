// AVX-512 version of requantize_tile (fast_requant.hpp). This file alone is compiled with
// AVX-512 enabled; requant.cpp calls it only when the CPU has AVX-512 F/BW/DQ/VL.
//
// Each lane computes exactly the scalar multiply_by_quantized_multiplier, rewritten for
// 64-bit lanes, where nothing can overflow (multipliers are non-negative, checked by callers):
//   x    = acc << max(shift, 0)                      (32-bit, wrapping, as TFLite)
//   high = (x * m + 2^30) >> 31                      (arithmetic)
//     TFLite adds 2^30 (or 1 - 2^30 when x*m < 0) and divides by 2^31 truncating toward
//     zero; for negative products truncation is ceil, and ceil((p + 1 - 2^30) / 2^31) =
//     floor((p + 2^30) / 2^31), so one formula serves both signs.
//   out  = (high + 2^(e-1) - [high < 0 and e > 0]) >> e,  e = max(-shift, 0)
//     which is rounding_divide_by_pot: round half away from zero.
// The 32x32->64 products are formed separately for even and odd lanes (_mm512_mul_epi32
// reads the low half of each 64-bit lane) and recombined. Per-channel constants are set up
// once per block of 16 channels and kept in registers while the rows stream past.
#include <immintrin.h>

#include <cstdint>

#include "tessel/kernels/fast_requant.hpp"

namespace tessel::kernels {

namespace {

// The per-channel constants of one block of 16 channels, split into even/odd 64-bit lanes.
struct Block {
  __m512i bias, coef, mult, left;      // 32-bit lanes
  __m512i mult_odd;                    // multiplier of odd lanes moved to the low halves
  __m512i right_even, right_odd;       // 64-bit shift counts
  __m512i half_even, half_odd;         // 2^(e-1) (0 when e = 0), 64-bit
  __m512i round_even, round_odd;       // -1 where e > 0 (the negative correction applies)
};

inline Block load_block(const ChannelRequant& rq, int c, __mmask16 m, bool sums) {
  Block b;
  const __m512i zero = _mm512_setzero_si512();
  b.bias = _mm512_maskz_loadu_epi32(m, rq.bias.data() + c);
  b.coef = sums ? _mm512_maskz_loadu_epi32(m, rq.sum_coef.data() + c) : zero;
  b.mult = _mm512_maskz_loadu_epi32(m, rq.multiplier.data() + c);
  const __m512i shift = _mm512_maskz_loadu_epi32(m, rq.shift.data() + c);
  b.left = _mm512_max_epi32(shift, zero);
  const __m512i right = _mm512_sub_epi32(b.left, shift);  // max(-shift, 0)
  b.mult_odd = _mm512_srli_epi64(b.mult, 32);
  // 32-bit lanes -> 64-bit lanes: even lanes are the low halves, odd lanes the high halves.
  const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFF);
  b.right_even = _mm512_and_si512(right, low32);
  b.right_odd = _mm512_srli_epi64(right, 32);
  const __m512i one = _mm512_set1_epi64(1);
  b.half_even = _mm512_srli_epi64(_mm512_sllv_epi64(one, b.right_even), 1);
  b.half_odd = _mm512_srli_epi64(_mm512_sllv_epi64(one, b.right_odd), 1);
  b.round_even = _mm512_movm_epi64(_mm512_cmpgt_epi64_mask(b.right_even, _mm512_setzero_si512()));
  b.round_odd = _mm512_movm_epi64(_mm512_cmpgt_epi64_mask(b.right_odd, _mm512_setzero_si512()));
  return b;
}

// One half (even or odd lanes): products p of x and m in 64-bit lanes.
inline __m512i finish_half(__m512i p, __m512i right, __m512i half, __m512i round) {
  const __m512i high = _mm512_srai_epi64(_mm512_add_epi64(p, _mm512_set1_epi64(int64_t{1} << 30)), 31);
  const __m512i neg = _mm512_and_si512(_mm512_srai_epi64(high, 63), round);  // -1 or 0
  return _mm512_srav_epi64(_mm512_add_epi64(_mm512_add_epi64(high, half), neg), right);
}

inline __m512i requant16(__m512i acc, const Block& b) {
  const __m512i x = _mm512_sllv_epi32(acc, b.left);
  const __m512i even = finish_half(_mm512_mul_epi32(x, b.mult), b.right_even, b.half_even, b.round_even);
  const __m512i odd = finish_half(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), b.mult_odd), b.right_odd,
                                  b.half_odd, b.round_odd);
  return _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
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
  for (int64_t i = 0; i < count; ++i) {
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
