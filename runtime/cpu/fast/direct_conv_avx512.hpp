#pragma once
// What the direct AVX-512 convolutions (small_conv_avx512.cpp, pointwise_conv_avx512.cpp)
// share: a block of 16 output channels' constants and the step from an int32 accumulator
// vector to 16 stored bytes (the one-rounding requantization of requant_avx512.hpp, the
// clamp, the byte conversion). Include it only from translation units compiled with
// AVX-512 F/BW/DQ/VL enabled, before any other include of <immintrin.h>.
//
// GCC 12 reports the self-initialized placeholder inside <immintrin.h>'s unmasked
// intrinsics (_mm512_undefined_epi32) as uninitialized once they are inlined deep enough
// (GCC bug 105593, fixed in GCC 13); nothing in these kernels reads an uninitialized value.
// The warning is silenced here for the rest of each including translation unit (the
// intrinsics are inlined into the includer's code, where the warning would point).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <cstdint>

#include "requant_avx512.hpp"
#include "tessel/kernels/fast_requant.hpp"

namespace tessel::kernels::direct_avx512 {

// One block of 16 output channels: its constants, in registers while the pixels stream.
struct Output {
  avx512::OneRoundBlock b;  // includes the output zero point
  __m512i bias, coef;       // the folded constant; c (per-channel correction only)
  __m512i lo, hi;
  __mmask16 m;  // channels of this block that exist
};

// The activation clamp: both ends; none, when the range is int8's and the saturating
// conversion (vpmovsdb) is the clamp; or the low end only, when the range ends at uint8's
// 255 and the unsigned saturating conversion (vpmovusdb, which reads its input as unsigned,
// hence the low clamp first, act_min >= 0) clamps the top.
enum class Clamp { both, int8_range, up_to_255 };

inline Clamp clamp_mode(const ChannelRequant& rq, bool is_signed) {
  if (is_signed && rq.act_min == -128 && rq.act_max == 127) return Clamp::int8_range;
  if (!is_signed && rq.act_max == 255) return Clamp::up_to_255;
  return Clamp::both;
}

// How the weight zero-point correction c * sum(u) enters: not at all, as a precomputed
// product (one c for all channels), or multiplied per channel.
enum class Sums { none, scaled, per_channel };

// Requantizes one accumulator vector (16 channels of one pixel), clamps it and stores its
// bytes. After a two-sided clamp every value is inside the output type, so truncating to
// bytes is exact for int8 and uint8 alike.
template <bool Left, Clamp C>
inline void finish(const Output& k, __m512i acc, uint8_t* o) {
  __m512i v = avx512::requant16_one_round(acc, k.b, Left);
  __m128i bytes;
  if constexpr (C == Clamp::both) {
    bytes = _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_max_epi32(v, k.lo), k.hi));
  } else if constexpr (C == Clamp::int8_range) {
    bytes = _mm512_cvtsepi32_epi8(v);
  } else {
    bytes = _mm512_cvtusepi32_epi8(_mm512_max_epi32(v, k.lo));
  }
  _mm_mask_storeu_epi8(o, k.m, bytes);
}

}  // namespace tessel::kernels::direct_avx512
