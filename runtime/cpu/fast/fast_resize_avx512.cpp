// AVX-512 versions of the fast resize and arg min/max kernels (fast_resize.hpp). This file
// alone is compiled with AVX-512 enabled (and -ffp-contract=off: a multiply followed by an
// add must stay two roundings, as in the reference); fast_resize.cpp calls it only when the
// CPU has AVX-512 F/BW/DQ/VL.
//
// Resize: 16 channels of one output pixel per vector; a depth that is not a multiple of 16
// ends with a block overlapping the previous one (e.g. channels 0-15 and 5-20 for 21), so
// no lane is masked. Each lane performs exactly the scalar kernel's float operations
// (_mm512_mul_ps / _mm512_add_ps round like mulss / addss), so results are bit-identical;
// the integer kernel is exact integer arithmetic in int32 lanes.
//
// Arg min/max: each value is turned into a 16-bit key (v' << 8) | lane, where v' orders the
// values so that the wanted extremum is the smallest key (v' = v flipped for max, the sign
// bit flipped for int8). The smallest key of a chunk of 32 channels, found with one
// _mm_minpos_epu16 after two vertical minimums, gives both the extremum and, among equal
// values, the lowest lane: the first index, as the reference's strict comparison picks.
#include <immintrin.h>

#include <cstdint>
#include <vector>

#include "tessel/kernels/fast_resize.hpp"

namespace tessel::kernels {

namespace {

inline __mmask16 lanes16(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
}

// ---------------------------------------------------------------------------------------
// Float kernel (float32, uint8)

inline __m512 load_float(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
inline __m512 load_float(const uint8_t* p, __mmask16 m) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, p)));
}

inline void store_float(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
inline void store_float(float* p, __mmask16 m, __m512 v) { _mm512_mask_storeu_ps(p, m, v); }
// The value lies in [-0.5, 255.5) (quant_reduce.cpp): truncation toward zero, then the low
// byte, is the reference's static_cast<uint8_t>. (Narrowing into a register and storing it
// plainly is much cheaper than vpmovdb's masked memory form.)
inline __m128i to_bytes(__m512 v) { return _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(v)); }
inline void store_float(uint8_t* p, __m512 v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), to_bytes(v)); }
inline void store_float(uint8_t* p, __mmask16 m, __m512 v) { _mm_mask_storeu_epi8(p, m, to_bytes(v)); }

// One output pixel's 16 channels from c: ((A_l*(1-dx) + B_l*(1-dx)) + A_u*dx) + B_u*dx +
// rounding, as the reference.
struct PixelTaps {
  const float *al, *bl, *au, *bu;
  __m512 wx0, wx1;
};
inline __m512 interpolate16(const PixelTaps& t, int64_t c, __m512 rounding) {
  __m512 v = _mm512_mul_ps(_mm512_loadu_ps(t.al + c), t.wx0);
  v = _mm512_add_ps(v, _mm512_mul_ps(_mm512_loadu_ps(t.bl + c), t.wx0));
  v = _mm512_add_ps(v, _mm512_mul_ps(_mm512_loadu_ps(t.au + c), t.wx1));
  v = _mm512_add_ps(v, _mm512_mul_ps(_mm512_loadu_ps(t.bu + c), t.wx1));
  return _mm512_add_ps(v, rounding);
}

template <typename T>
void float_rows(const ResizeBilinearPlan& plan, const T* input, T* output, int64_t row_begin,
                int64_t row_end) {
  const ResizeBilinearParams& p = plan.params;
  const int64_t d = p.depth;
  const int64_t in_row = int64_t{p.input_width} * d;
  const int64_t out_row = int64_t{p.output_width} * d;
  const int32_t out_w = p.output_width;
  const BilinearTap* cols = plan.cols.data();
  const __m512 rounding = _mm512_set1_ps(std::is_same<T, float>::value ? 0.0f : 0.5f);
  // The row-phase products; 16 zero floats of padding let a pixel narrower than 16
  // channels be loaded whole (the lanes past its depth are computed but not stored).
  std::vector<float> a_buf(static_cast<size_t>(in_row + 16)), b_buf(static_cast<size_t>(in_row + 16));
  float* a = a_buf.data();
  float* b = b_buf.data();
  const __mmask16 narrow = lanes16(d);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const int64_t batch = r / p.output_height;
    const BilinearTap& ty = plan.rows[static_cast<size_t>(r % p.output_height)];
    const T* lo = input + (batch * p.input_height + ty.lower - p.input_row_begin) * in_row;
    const T* hi = input + (batch * p.input_height + ty.upper - p.input_row_begin) * in_row;
    // Row phase: A = v(lower row) * (1 - dy), B = v(upper row) * dy.
    const __m512 wy0 = _mm512_set1_ps(ty.rest), wy1 = _mm512_set1_ps(ty.frac);
    for (int64_t i = 0; i < in_row; i += 16) {
      const __mmask16 m = lanes16(in_row - i);
      _mm512_mask_storeu_ps(a + i, m, _mm512_mul_ps(load_float(lo + i, m), wy0));
      _mm512_mask_storeu_ps(b + i, m, _mm512_mul_ps(load_float(hi + i, m), wy1));
    }
    T* out = output + (r - p.output_row_begin) * out_row;
    for (int32_t x = 0; x < out_w; ++x) {
      const BilinearTap tx = cols[x];
      const PixelTaps t{a + tx.lower * d, b + tx.lower * d, a + tx.upper * d, b + tx.upper * d,
                        _mm512_set1_ps(tx.rest), _mm512_set1_ps(tx.frac)};
      T* px = out + x * d;
      if (d < 16) {
        store_float(px, narrow, interpolate16(t, 0, rounding));
        continue;
      }
      // Blocks of 16 channels; the last one ends at the pixel's last channel, overlapping
      // the one before it (the shared lanes are computed twice, identically).
      for (int64_t c = 0; c + 16 < d; c += 16) store_float(px + c, interpolate16(t, c, rounding));
      store_float(px + d - 16, interpolate16(t, d - 16, rounding));
    }
  }
}

// ---------------------------------------------------------------------------------------
// Integer kernel (int8)

void integer_rows(const ResizeBilinearPlan& plan, const int8_t* input, int8_t* output, int64_t row_begin,
                  int64_t row_end) {
  const ResizeBilinearParams& p = plan.params;
  const int64_t d = p.depth;
  const int64_t in_row = int64_t{p.input_width} * d;
  const int64_t out_row = int64_t{p.output_width} * d;
  const int32_t out_w = p.output_width;
  const BilinearTap* cols = plan.cols.data();
  const __m512i half = _mm512_set1_epi32(1 << 19);
  const __m512i zero = _mm512_setzero_si512();
  // Padded by 16 zeros like float_rows' buffers.
  std::vector<int32_t> v_buf(static_cast<size_t>(in_row + 16));
  int32_t* v = v_buf.data();
  const __mmask16 narrow = lanes16(d);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const int64_t batch = r / p.output_height;
    const BilinearTap& ty = plan.rows[static_cast<size_t>(r % p.output_height)];
    const int8_t* lo = input + (batch * p.input_height + ty.lower - p.input_row_begin) * in_row;
    const int8_t* hi = input + (batch * p.input_height + ty.upper - p.input_row_begin) * in_row;
    // Row phase: V = v(lower row) * wy0 + v(upper row) * wy1, |V| <= 2^18.
    const __m512i wy0 = _mm512_set1_epi32(ty.rest_10), wy1 = _mm512_set1_epi32(ty.frac_10);
    for (int64_t i = 0; i < in_row; i += 16) {
      const __mmask16 m = lanes16(in_row - i);
      const __m512i l = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, lo + i));
      const __m512i h = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, hi + i));
      _mm512_mask_storeu_epi32(v + i, m,
                               _mm512_add_epi32(_mm512_mullo_epi32(l, wy0), _mm512_mullo_epi32(h, wy1)));
    }
    int8_t* out = output + (r - p.output_row_begin) * out_row;
    for (int32_t x = 0; x < out_w; ++x) {
      const BilinearTap tx = cols[x];
      const int32_t* vl = v + tx.lower * d;
      const int32_t* vu = v + tx.upper * d;
      const __m512i wx0 = _mm512_set1_epi32(tx.rest_10), wx1 = _mm512_set1_epi32(tx.frac_10);
      auto interpolate16 = [&](int64_t c) {
        const __m512i sum = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_loadu_si512(vl + c), wx0),
                                             _mm512_mullo_epi32(_mm512_loadu_si512(vu + c), wx1));
        // The reference's (sum +- 2^19) / 2^20 truncating toward zero is
        // sign(sum) * ((|sum| + 2^19) >> 20), also for sum = 0.
        const __m512i q = _mm512_srli_epi32(_mm512_add_epi32(_mm512_abs_epi32(sum), half), 20);
        // |result| <= 128: the low byte is the reference's static_cast<int8_t>.
        return _mm512_cvtepi32_epi8(_mm512_mask_sub_epi32(q, _mm512_cmplt_epi32_mask(sum, zero), zero, q));
      };
      int8_t* px = out + x * d;
      if (d < 16) {
        _mm_mask_storeu_epi8(px, narrow, interpolate16(0));
        continue;
      }
      // As in float_rows: the last block overlaps the one before it.
      for (int64_t c = 0; c + 16 < d; c += 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(px + c), interpolate16(c));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(px + d - 16), interpolate16(d - 16));
    }
  }
}

// ---------------------------------------------------------------------------------------
// Arg min/max

// The smallest of 32 u16 keys.
inline uint32_t min_key(__m512i keys) {
  const __m256i m256 = _mm256_min_epu16(_mm512_castsi512_si256(keys), _mm512_extracti64x4_epi64(keys, 1));
  const __m128i m128 = _mm_min_epu16(_mm256_castsi256_si128(m256), _mm256_extracti128_si256(m256, 1));
  return static_cast<uint32_t>(_mm_cvtsi128_si32(_mm_minpos_epu16(m128))) & 0xFFFFu;
}

// The keys of up to 32 values from p (mask m): (v << 8) XOR `tag`, where tag holds the
// order flip in its high byte and the lane index in its low byte (v << 8 has a zero low
// byte, so XOR sets the index), or 0xFFFF for lanes past the end of the axis, so that they
// never win (a real key is at most 0xFF1F).
inline __m512i keys32(const uint8_t* p, __mmask32 m, __m512i tag) {
  return _mm512_xor_si512(_mm512_slli_epi16(_mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, p)), 8), tag);
}

template <typename Index>
void arg_rows(const ArgLastAxisParams& p, const uint8_t* input, Index* output, int64_t begin, int64_t end) {
  const int64_t n = p.axis_size;
  // XOR that maps values to key order: smallest key = wanted extremum.
  const uint16_t flip = static_cast<uint16_t>((p.is_max ? 0xFF : 0x00) ^ (p.element == FastElement::i8 ? 0x80 : 0x00));
  auto tags = [flip](int64_t valid) {
    alignas(64) uint16_t k[32];
    for (int i = 0; i < 32; ++i)
      k[i] = i < valid ? static_cast<uint16_t>((flip << 8) | i) : uint16_t{0xFFFF};
    return _mm512_load_si512(k);
  };
  const __m512i full_tag = tags(32);
  const int64_t tail = n % 32;
  const __m512i tail_tag = tags(tail);
  const __mmask32 tail_mask = static_cast<__mmask32>((uint64_t{1} << tail) - 1);
  if (n <= 32) {  // one chunk per pixel: its smallest key is the answer
    const __mmask32 m = n == 32 ? ~__mmask32{0} : tail_mask;
    const __m512i tag = n == 32 ? full_tag : tail_tag;
    for (int64_t o = begin; o < end; ++o) output[o] = static_cast<Index>(min_key(keys32(input + o * n, m, tag)) & 0xFF);
    return;
  }
  for (int64_t o = begin; o < end; ++o) {
    const uint8_t* px = input + o * n;
    uint32_t best = 0x100;  // above every key's high byte
    int64_t best_index = 0;
    for (int64_t base = 0; base < n; base += 32) {
      const bool full = n - base >= 32;
      const uint32_t key = min_key(keys32(px + base, full ? ~__mmask32{0} : tail_mask, full ? full_tag : tail_tag));
      // Later chunks replace the best only when strictly better: the first index wins.
      if ((key >> 8) < best) {
        best = key >> 8;
        best_index = base + (key & 0xFF);
      }
    }
    output[o] = static_cast<Index>(best_index);
  }
}

}  // namespace

void resize_bilinear_rows_avx512(const ResizeBilinearPlan& plan, const void* input, void* output,
                                 int64_t row_begin, int64_t row_end) {
  switch (plan.element) {
    case FastElement::f32:
      float_rows(plan, static_cast<const float*>(input), static_cast<float*>(output), row_begin, row_end);
      return;
    case FastElement::u8:
      float_rows(plan, static_cast<const uint8_t*>(input), static_cast<uint8_t*>(output), row_begin, row_end);
      return;
    case FastElement::i8:
      integer_rows(plan, static_cast<const int8_t*>(input), static_cast<int8_t*>(output), row_begin, row_end);
      return;
  }
}

void arg_min_max_last_axis_avx512(const ArgLastAxisParams& p, const void* input, void* output, int64_t begin,
                                  int64_t end) {
  // int8 values are handled as their bytes; the key's sign flip restores their order.
  const uint8_t* in = static_cast<const uint8_t*>(input);
  if (p.index64)
    arg_rows(p, in, static_cast<int64_t*>(output), begin, end);
  else
    arg_rows(p, in, static_cast<int32_t*>(output), begin, end);
}

}  // namespace tessel::kernels
