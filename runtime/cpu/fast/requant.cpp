#include "tessel/kernels/fast_requant.hpp"

#include <algorithm>

#include "tessel/kernels/quant.hpp"

namespace tessel::kernels {

// Implemented in requant_avx512.cpp (compiled with AVX-512 enabled).
void requantize_rows_avx512(const RequantTile& tile, const ChannelRequant& rq, void* out,
                            int64_t out_stride, bool is_signed, int64_t row_begin, int64_t row_end);
void channel_sums_u8_avx512(const uint8_t* src, int64_t count, int64_t stride, int channels, int32_t* out);

namespace {

inline int32_t wrap_add(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}
inline int32_t wrap_mul(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) * static_cast<uint32_t>(b));
}

void requantize_rows_scalar(const RequantTile& t, const ChannelRequant& rq, void* out,
                            int64_t out_stride, bool is_signed, int64_t row_begin, int64_t row_end) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    const int32_t* acc = t.accum + r * t.accum_stride;
    const int32_t* sums = t.sums ? t.sums + r * t.sum_stride : nullptr;
    for (int c = 0; c < t.channels; ++c) {
      int32_t v = wrap_add(acc[c], rq.bias[static_cast<size_t>(c)]);
      if (sums) v = wrap_add(v, wrap_mul(rq.sum_coef[static_cast<size_t>(c)], sums[c * t.sum_channel_step]));
      v = multiply_by_quantized_multiplier(v, rq.multiplier[static_cast<size_t>(c)],
                                           rq.shift[static_cast<size_t>(c)]);
      v = clamp_i32(wrap_add(v, rq.output_zero_point), rq.act_min, rq.act_max);
      if (is_signed)
        static_cast<int8_t*>(out)[r * out_stride + c] = static_cast<int8_t>(v);
      else
        static_cast<uint8_t*>(out)[r * out_stride + c] = static_cast<uint8_t>(v);
    }
  }
}

}  // namespace

bool requantize_has_avx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  return has;
}

void channel_sums(const uint8_t* src, int64_t count, int64_t stride, int channels, bool is_signed,
                  int32_t* out) {
  if (!is_signed && requantize_has_avx512()) {
    channel_sums_u8_avx512(src, count, stride, channels, out);
    return;
  }
  for (int64_t i = 0; i < count; ++i) {
    const uint8_t* px = src + i * stride;
    int32_t sum = 0;
    if (is_signed) {
      for (int c = 0; c < channels; ++c) sum += static_cast<int8_t>(px[c]);
    } else {
      for (int c = 0; c < channels; ++c) sum += px[c];
    }
    out[i] = sum;
  }
}

void requantize_tile_scalar(const RequantTile& tile, const ChannelRequant& rq, void* out,
                            int64_t out_stride, bool is_signed) {
  requantize_rows_scalar(tile, rq, out, out_stride, is_signed, 0, tile.rows);
}

void requantize_tile(const RequantTile& tile, const ChannelRequant& rq, void* out,
                     int64_t out_stride, bool is_signed, int threads) {
  const bool vec = requantize_has_avx512();
  auto body = [&](int64_t b, int64_t e) {
    if (vec)
      requantize_rows_avx512(tile, rq, out, out_stride, is_signed, b, e);
    else
      requantize_rows_scalar(tile, rq, out, out_stride, is_signed, b, e);
  };
  // Small tiles are not worth waking threads for.
  const int64_t work = tile.rows * tile.channels;
  if (threads <= 1 || work < (int64_t{1} << 15)) {
    body(0, tile.rows);
    return;
  }
  const int64_t chunk = (tile.rows + threads - 1) / threads;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int p = 0; p < threads; ++p) {
    const int64_t b = std::min<int64_t>(tile.rows, p * chunk);
    const int64_t e = std::min<int64_t>(tile.rows, b + chunk);
    if (b < e) body(b, e);
  }
}

}  // namespace tessel::kernels
