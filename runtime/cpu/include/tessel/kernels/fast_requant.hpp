#pragma once
// Exact requantization of int32 accumulator tiles, vectorized: the fast path's half of
// "oneDNN int32 accumulation + Tessel's exact requantization".
//
// For row r and channel c (c < channels):
//   acc   = accum[r * accum_stride + c] + bias[c]
//           + (sums ? sum_coef[c] * sums[r * sum_stride + c * sum_channel_step] : 0)
//   out[r * out_stride + c] = clamp(zp_out + multiply_by_quantized_multiplier(acc, m[c], s[c]),
//                                   act_min, act_max)
// The sum term carries the weight zero-point correction (uint8 models): `sums` holds the
// window sums of the input, either one per row (sum_channel_step 0, a convolution's extra
// all-ones output channel) or one per channel (step 1, depthwise).
// Integer adds wrap modulo 2^32 like TFLite's int32 arithmetic; results equal the scalar
// reference (quant.hpp) bit for bit, which test_fast_requant checks on random data.

#include <cstdint>
#include <vector>

namespace tessel::kernels {

struct ChannelRequant {
  std::vector<int32_t> bias;        // per channel; includes the input zero-point correction
  std::vector<int32_t> sum_coef;    // per channel; empty when there is no window-sum term
  std::vector<int32_t> multiplier;  // per channel, Q31, >= 0 (as every convolution's is)
  std::vector<int32_t> shift;       // per channel, > 0 = left
  int32_t output_zero_point = 0;
  int32_t act_min = -128;
  int32_t act_max = 127;
};

struct RequantTile {
  const int32_t* accum = nullptr;
  int64_t accum_stride = 0;
  const int32_t* sums = nullptr;  // may be null
  int64_t sum_stride = 0;
  int sum_channel_step = 0;
  int64_t rows = 0;
  int channels = 0;
};

// Writes int8 (is_signed) or uint8 outputs. `threads` > 1 splits rows with OpenMP.
void requantize_tile(const RequantTile& tile, const ChannelRequant& rq, void* out,
                     int64_t out_stride, bool is_signed, int threads);

// The same with the portable scalar code only (the reference the vector code is tested
// against, and the path on CPUs without AVX-512).
void requantize_tile_scalar(const RequantTile& tile, const ChannelRequant& rq, void* out,
                            int64_t out_stride, bool is_signed);

// True when the AVX-512 version runs on this CPU.
bool requantize_has_avx512();

// out[i] = sum of the `channels` bytes at src + i * stride, as unsigned (uint8 activations)
// or signed (int8) values: the per-pixel input sums behind the fast convolution's
// weight-zero-point correction. Vectorized (SAD) for uint8 on AVX-512 CPUs.
void channel_sums(const uint8_t* src, int64_t count, int64_t stride, int channels, bool is_signed,
                  int32_t* out);

}  // namespace tessel::kernels
