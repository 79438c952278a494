// AVX-512 version of requantize_tile (fast_requant.hpp). This file alone is compiled with
// AVX-512 enabled; requant.cpp calls it only when the CPU has AVX-512 F/BW/DQ/VL.
//
// The arithmetic lives in requant_avx512.hpp (requant16), shared with the direct
// convolution.
#include <cstdint>

#include "requant_avx512.hpp"
#include "tessel/kernels/fast_requant.hpp"

namespace tessel::kernels {

using avx512::Block;
using avx512::load_block;
using avx512::requant16;

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
