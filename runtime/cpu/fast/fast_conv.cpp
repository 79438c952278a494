#include "tessel/kernels/fast_conv.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include <oneapi/dnnl/dnnl.hpp>

#include "tessel/ir/error.hpp"
#include "tessel/kernels/depthwise_conv.hpp"
#include "tessel/kernels/small_conv.hpp"

namespace tessel::kernels {

namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

// oneDNN 2.6's AMX int8 convolution (brgconv:avx512_core_amx_int8) gives wrong and
// run-to-run different results with 2 threads on some shapes (seen: batch 2, 13x14x20 input,
// 1x3 kernel, stride 2, explicit right padding; test_fast_conv has the case). Its AVX-512
// VNNI kernels are exact, so oneDNN is capped there before its first use, unless the user
// chose an ISA with ONEDNN_MAX_CPU_ISA.
void cap_onednn_isa() {
  static const bool done = [] {
    if (!std::getenv("ONEDNN_MAX_CPU_ISA") && !std::getenv("DNNL_MAX_CPU_ISA")) {
      try {
        dnnl::set_max_cpu_isa(dnnl::cpu_isa::avx512_core_vnni);
      } catch (const dnnl::error&) {
        // Already fixed by an earlier oneDNN call in this process; nothing to do.
      }
    }
    return true;
  }();
  (void)done;
}

const dnnl::engine& cpu_engine() {
  cap_onednn_isa();
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// Whether a convolution runs the direct VNNI kernel (small_conv.hpp) instead of oneDNN's
// int32 output + requantize_tile. Measured (docs/kernels.md): the direct kernel is ahead,
// often 1.3-3x, up to 48 input channels; at 64 the two are even and beyond oneDNN wins.
// (1x1 convolutions from 32 channels on take the pointwise kernel first.)
// TESSEL_SMALL_CONV=0 turns it off (A/B measurements, tests of the oneDNN path).
bool use_small_conv(const FastConvSpec& s) {
  if (const char* env = std::getenv("TESSEL_SMALL_CONV"); env && std::string(env) == "0") return false;
  return small_conv_cpu_ok() && small_conv_fits(s) && s.in_c <= 48;
}

// Whether a 1x1 convolution (stride 1, no padding) runs the register-blocked pointwise
// kernel (small_conv.hpp); checked before use_small_conv. Measured (docs/kernels.md): from
// 32 input channels on it beats both the direct kernel and oneDNN (1.2-1.7x on
// MobileNetV2's expansions); with int8 input it still wins at 960 channels, while with
// uint8 input oneDNN's own kernel gets ahead beyond ~384 (0.74 vs 0.84 of oneDNN's fused
// convolution at 576). TESSEL_POINTWISE_CONV=0 turns it off; TESSEL_POINTWISE_CONV=all
// takes every shape it fits (measurements, tests).
bool use_pointwise_conv(const FastConvSpec& s) {
  const char* env = std::getenv("TESSEL_POINTWISE_CONV");
  if (env && std::string(env) == "0") return false;
  if (!small_conv_cpu_ok() || !pointwise_conv_fits(s)) return false;
  if (env && std::string(env) == "all") return true;
  const int deepest = s.input_signed ? 1024 : 384;
  return s.in_c >= 32 && s.in_c <= deepest;
}

// Whether a depthwise convolution runs the direct kernel (depthwise_conv.hpp: int16 pairs,
// vpdpwssd, requantized in registers) instead of oneDNN's int32 output + requantize_tile
// (plus, for uint8 weights, a second all-ones oneDNN run for the window sums). Measured
// (docs/kernels.md): faster on every depthwise layer of the shared models, 1.0-3.5x per
// operator (0.35-0.50 -> 0.55-0.94 of oneDNN's own fused int8 depthwise convolution; stride 2
// gains least), so every shape it fits takes it: depth multiplier 1, windows up to 5x5,
// right shifts up to 22. TESSEL_DW_CONV=0 turns it off (A/B measurements, tests of the
// oneDNN path).
bool use_dw_conv(const FastConvSpec& s) {
  if (const char* env = std::getenv("TESSEL_DW_CONV"); env && std::string(env) == "0") return false;
  return small_conv_cpu_ok() && depthwise_conv_fits(s);
}

inline int32_t wrap_add(int32_t a, int64_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

}  // namespace

bool fast_conv_supported() {
  // TESSEL_FAST_CONV=0 forces the exact fallback (used by tests of that path).
  if (const char* env = std::getenv("TESSEL_FAST_CONV"); env && std::string(env) == "0") return false;
  cap_onednn_isa();
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx2_vnni || isa == dnnl::cpu_isa::avx512_core_vnni ||
         isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
}

// How a convolution runs: the output is cut into bands of rows (per image) small enough
// that a band's int32 accumulators stay in the L2 cache; each band is one oneDNN call on the
// matching slice of the (padded) input followed at once by the requantization of that band.
// Bands run in parallel on our own OpenMP threads, each oneDNN call single-threaded with its
// own scratchpad, so no int32 tensor ever makes a round trip through memory.
struct FastConv::Impl {
  // A band's int32 working set: inside a 1-2 MiB L2 (per core on the machines measured)
  // with room for inputs and weights.
  static constexpr int64_t kBandBytes = int64_t{512} << 10;

  FastConvSpec s;
  int threads = 1;
  int groups = 1;
  int kh_eff = 1, kw_eff = 1;
  int padded_h = 0, padded_w = 0;
  bool pad_input = false;   // copy the input into a zero-point-padded buffer first
  bool need_sums = false;   // weight zero point differs from the storage offset
  int band_rows = 1;        // output rows per band (the last band of an image may be shorter)
  int64_t macs = 0;

  // One oneDNN primitive per distinct band height (full bands and the last, shorter one).
  struct BandPrimitive {
    int rows = 0;
    dnnl::convolution_forward prim;
    dnnl::memory::desc src_md, dst_md, weights_md, scratch_md;
    size_t scratch_bytes = 0;
    dnnl::memory weights, ones;  // packed for this primitive (shared when layouts agree)
  };
  BandPrimitive full, last;    // unused when own_kernel()
  std::unique_ptr<SmallConv> direct;
  std::unique_ptr<PointwiseConv> pointwise;
  std::unique_ptr<DepthwiseConv> dw;
  // One of our own kernels (above) rather than oneDNN's band primitives.
  bool own_kernel() const { return direct || pointwise || dw; }
  std::vector<uint8_t> padded;
  ChannelRequant rq;

  // Per-thread working memory, and oneDNN objects made once so that a band costs only
  // handle updates (constructing a stream or memory object per call is measurable).
  struct Scratch {
    std::vector<int32_t> acc, sums;
    std::vector<int32_t> pixel_sums;
    std::vector<uint8_t> onednn;
    std::vector<uint8_t> rows;  // the direct kernel's copy of a window's input rows
    std::vector<const uint8_t*> in_rows;  // and where those rows are in the image
    std::unique_ptr<dnnl::stream> stream;
    dnnl::memory src[2], dst[2], sum[2], scratchpad[2];  // [0] full band, [1] last band
  };
  std::vector<Scratch> scratch;

  Impl(const FastConvSpec& spec, int thread_count) : s(spec), threads(std::max(1, thread_count)) {
    check(fast_conv_supported(), "fast convolution needs a CPU with VNNI");
    kh_eff = (s.kernel_h - 1) * s.dilation_h + 1;
    kw_eff = (s.kernel_w - 1) * s.dilation_w + 1;
    groups = s.depthwise ? s.in_c : 1;
    const int in_per_group = s.in_c / groups;
    const int out_per_group = s.out_c / groups;
    const int woff = s.weights_signed ? 0 : 128;
    for (int c = 0; c < s.out_c; ++c)
      if (s.weight_zero_point[static_cast<size_t>(c)] != woff) need_sums = true;

    // Rows/columns the padded input needs so that every output window is inside it.
    padded_h = std::max(s.in_h + s.pad_top, (s.out_h - 1) * s.stride_h + kh_eff);
    padded_w = std::max(s.in_w + s.pad_left, (s.out_w - 1) * s.stride_w + kw_eff);
    pad_input = s.pad_top > 0 || s.pad_left > 0 || padded_h > s.in_h || padded_w > s.in_w;
    if (use_dw_conv(s)) {
      dw = std::make_unique<DepthwiseConv>(s);  // pads as it converts rows: no padded image
      pad_input = false;
    } else if (use_pointwise_conv(s)) {
      pointwise = std::make_unique<PointwiseConv>(s);  // 1x1, stride 1, no padding
      pad_input = false;
    } else if (use_small_conv(s)) {
      // The direct kernel pads each row as it copies it: no padded image.
      direct = std::make_unique<SmallConv>(s, padded_w);
      pad_input = false;
    }
    if (!pad_input) padded_h = s.in_h, padded_w = s.in_w;
    if (pad_input) padded.resize(static_cast<size_t>(s.batch) * padded_h * padded_w * s.in_c);

    // Band height: accumulators (and window sums) of a band within kBandBytes, and at least
    // as many bands as threads when the output has the rows for it.
    const int64_t row_bytes = int64_t{s.out_w} * s.out_c * 4 * (need_sums && s.depthwise ? 2 : 1);
    band_rows = static_cast<int>(std::clamp<int64_t>(kBandBytes / std::max<int64_t>(row_bytes, 1), 1, s.out_h));
    const int64_t bands_per_image = (s.out_h + band_rows - 1) / band_rows;
    if (s.batch * bands_per_image < threads) {
      band_rows = std::max(1, static_cast<int>((int64_t{s.out_h} * s.batch + threads - 1) / threads));
    } else if (threads > 1 && s.batch == 1) {
      // Whole rounds of even bands: the static schedule gives each thread a run of bands,
      // so 3 bands on 2 threads left one thread two (33 rows as 15 + 15 + 3 took 30 rows'
      // time on one thread), and 2 uneven ones (24 + 9) one thread most of the work. Round
      // the count up to a multiple of the threads and even out the heights (33 rows:
      // 9 + 9 + 9 + 6, or 17 + 16). Never taller than the cache-sized height above.
      const int64_t bands = (bands_per_image + threads - 1) / threads * threads;
      band_rows = static_cast<int>((s.out_h + bands - 1) / bands);
    }
    band_rows = std::min(band_rows, s.out_h);

    const dnnl::memory::dims wdims =
        s.depthwise ? dnnl::memory::dims{groups, out_per_group, 1, s.kernel_h, s.kernel_w}
                    : dnnl::memory::dims{s.out_c, in_per_group, s.kernel_h, s.kernel_w};
    if (!own_kernel()) {
      // Primitives are created single-threaded: they run inside our own parallel loop.
      omp_set_num_threads(1);
      full = make_band_primitive(band_rows, wdims);
      const int last_rows = s.out_h - (s.out_h - 1) / band_rows * band_rows;
      if (last_rows != band_rows) last = make_band_primitive(last_rows, wdims);
    }

    // Pack weights into plain (g)oihw s8, then let oneDNN reorder into its blocked layout.
    const int taps = s.kernel_h * s.kernel_w;
    std::vector<int8_t> plain(static_cast<size_t>(s.out_c) * in_per_group * taps, 0);
    std::vector<int64_t> weight_sum(static_cast<size_t>(s.out_c), 0);
    const auto* w8 = static_cast<const uint8_t*>(s.weights);
    auto weight = [&](size_t idx) -> int {  // original value, signed or unsigned
      return s.weights_signed ? static_cast<int>(static_cast<int8_t>(w8[idx])) : static_cast<int>(w8[idx]);
    };
    for (int oc = 0; oc < s.out_c; ++oc)
      for (int ky = 0; ky < s.kernel_h; ++ky)
        for (int kx = 0; kx < s.kernel_w; ++kx)
          for (int ic = 0; ic < in_per_group; ++ic) {
            // TFLite layouts: conv [oc][ky][kx][ic]; depthwise [0][ky][kx][oc].
            const size_t src = s.depthwise
                                   ? (static_cast<size_t>(ky) * s.kernel_w + kx) * s.out_c + oc
                                   : ((static_cast<size_t>(oc) * s.kernel_h + ky) * s.kernel_w + kx) * in_per_group + ic;
            const int v = weight(src);
            weight_sum[static_cast<size_t>(oc)] += v;
            // (g)oihw index: for depthwise g = oc / M, o = oc % M, i = 0.
            const size_t dst = ((static_cast<size_t>(oc) * in_per_group + ic) * s.kernel_h + ky) * s.kernel_w + kx;
            plain[dst] = static_cast<int8_t>(v - woff);
          }
    std::vector<int8_t> ones(need_sums && s.depthwise ? plain.size() : 0, 1);
    for (BandPrimitive* b : {&full, &last}) {
      if (b->rows == 0) continue;
      if (b == &last && last.weights_md == full.weights_md) {
        last.weights = full.weights;
        last.ones = full.ones;
        continue;
      }
      b->weights = reorder_weights(plain, wdims, b->weights_md);
      if (!ones.empty()) b->ones = reorder_weights(ones, wdims, b->weights_md);
    }

    // Per-channel constants: bias - zx sum w + K zx zw; window-sum coefficient woff - zw.
    const int64_t k = int64_t{taps} * in_per_group;
    const int64_t zx = s.input_zero_point;
    rq.bias.resize(static_cast<size_t>(s.out_c));
    rq.sum_coef.assign(static_cast<size_t>(s.out_c), 0);
    for (size_t c = 0; c < rq.bias.size(); ++c) {
      const int64_t zw = s.weight_zero_point[c];
      rq.bias[c] = wrap_add(s.bias[c], -zx * weight_sum[c] + k * zx * zw);
      rq.sum_coef[c] = static_cast<int32_t>(woff - zw);
    }
    if (!need_sums) rq.sum_coef.clear();
    for (int32_t m : s.multiplier) check(m >= 0, "fast convolution: negative requantization multiplier");
    rq.multiplier = s.multiplier;
    rq.shift = s.shift;
    rq.output_zero_point = s.output_zero_point;
    rq.act_min = s.act_min;
    rq.act_max = s.act_max;
    macs = int64_t{s.batch} * s.out_h * s.out_w * s.out_c * k;

    scratch.resize(static_cast<size_t>(threads));
    const size_t band_pixels = static_cast<size_t>(band_rows) * s.out_w;
    for (Scratch& sc : scratch) {
      if (own_kernel()) continue;  // their scratch (sc.rows) is sized on first use
      sc.acc.resize(band_pixels * s.out_c);
      if (need_sums) sc.sums.resize(s.depthwise ? band_pixels * s.out_c : band_pixels);
      if (need_sums && !s.depthwise)
        sc.pixel_sums.resize(static_cast<size_t>((band_rows - 1) * s.stride_h + kh_eff) * padded_w);
      sc.onednn.resize(std::max(full.scratch_bytes, last.scratch_bytes));
      sc.stream = std::make_unique<dnnl::stream>(cpu_engine());
      for (int which = 0; which < 2; ++which) {
        const BandPrimitive& b = which == 0 ? full : last;
        if (b.rows == 0) continue;
        sc.src[which] = dnnl::memory(b.src_md, cpu_engine(), DNNL_MEMORY_NONE);
        sc.dst[which] = dnnl::memory(b.dst_md, cpu_engine(), sc.acc.data());
        if (need_sums && s.depthwise) sc.sum[which] = dnnl::memory(b.dst_md, cpu_engine(), sc.sums.data());
        sc.scratchpad[which] = dnnl::memory(b.scratch_md, cpu_engine(), sc.onednn.data());
      }
    }
  }

  BandPrimitive make_band_primitive(int rows, const dnnl::memory::dims& wdims) {
    BandPrimitive b;
    b.rows = rows;
    const int in_rows = (rows - 1) * s.stride_h + kh_eff;
    b.src_md = dnnl::memory::desc({1, s.in_c, in_rows, padded_w}, s.input_signed ? dt::s8 : dt::u8, tag::nhwc);
    b.dst_md = dnnl::memory::desc({1, s.out_c, rows, s.out_w}, dt::s32, tag::nhwc);
    const dnnl::memory::desc wei_any(wdims, dt::s8, tag::any);
    dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, b.src_md, wei_any,
        b.dst_md, {s.stride_h, s.stride_w}, {s.dilation_h - 1, s.dilation_w - 1}, {0, 0}, {0, 0});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::convolution_forward::primitive_desc pd(desc, attr, cpu_engine());
    // Full and last bands must agree on the packed weight layout (they share the weights).
    b.weights_md = pd.weights_desc();
    b.scratch_md = pd.scratchpad_desc();
    b.prim = dnnl::convolution_forward(pd);
    b.scratch_bytes = b.scratch_md.get_size();
    return b;
  }

  static dnnl::memory reorder_weights(std::vector<int8_t>& plain, const dnnl::memory::dims& dims,
                                      const dnnl::memory::desc& want) {
    const tag plain_tag = dims.size() == 5 ? tag::goihw : tag::oihw;
    dnnl::memory user(dnnl::memory::desc(dims, dt::s8, plain_tag), cpu_engine(), plain.data());
    dnnl::memory packed(want, cpu_engine());
    dnnl::stream stream(cpu_engine());
    dnnl::reorder(user, packed).execute(stream, user, packed);
    stream.wait();
    return packed;
  }

  // Window sums of the input for output rows [row0, row0 + rows) of image `src`: for each
  // output pixel, the sum of every input byte its window covers (padding = zero point).
  void window_sums(const uint8_t* src, int row0, int rows, Scratch& sc) const {
    const size_t row_stride = static_cast<size_t>(padded_w) * s.in_c;
    if (s.kernel_h == 1 && s.kernel_w == 1) {  // the window is the one pixel it samples
      for (int oy = 0; oy < rows; ++oy)
        channel_sums(src + static_cast<size_t>((row0 + oy) * s.stride_h) * row_stride, s.out_w,
                     int64_t{s.stride_w} * s.in_c, s.in_c, s.input_signed,
                     sc.sums.data() + static_cast<size_t>(oy) * s.out_w);
      return;
    }
    // Per input pixel the sum over its channels, then a box sum per output pixel.
    const int in_row0 = row0 * s.stride_h;
    const int in_rows = (rows - 1) * s.stride_h + kh_eff;
    for (int y = 0; y < in_rows; ++y)
      channel_sums(src + static_cast<size_t>(in_row0 + y) * row_stride, padded_w, s.in_c, s.in_c,
                   s.input_signed, sc.pixel_sums.data() + static_cast<size_t>(y) * padded_w);
    for (int oy = 0; oy < rows; ++oy)
      for (int ox = 0; ox < s.out_w; ++ox) {
        int32_t sum = 0;
        for (int ky = 0; ky < s.kernel_h; ++ky)
          for (int kx = 0; kx < s.kernel_w; ++kx)
            sum += sc.pixel_sums[static_cast<size_t>(oy * s.stride_h + ky * s.dilation_h) * padded_w +
                                 static_cast<size_t>(ox * s.stride_w + kx * s.dilation_w)];
        sc.sums[static_cast<size_t>(oy) * s.out_w + ox] = sum;
      }
  }

  // The direct kernel, one output row at a time, on the unpadded input (rows above or below
  // the image are passed as null).
  void run_band_direct(const uint8_t* image, uint8_t* out_image, int row0, Scratch& sc) {
    const int rows = std::min(band_rows, s.out_h - row0);
    const size_t row_bytes = static_cast<size_t>(s.in_w) * s.in_c;
    std::vector<const uint8_t*>& in_rows = sc.in_rows;  // kept: no allocation per band
    in_rows.resize(static_cast<size_t>(s.kernel_h));
    for (int r = 0; r < rows; ++r) {
      const int oy = row0 + r;
      for (int ky = 0; ky < s.kernel_h; ++ky) {
        const int y = oy * s.stride_h + ky * s.dilation_h - s.pad_top;
        in_rows[static_cast<size_t>(ky)] = y >= 0 && y < s.in_h ? image + static_cast<size_t>(y) * row_bytes : nullptr;
      }
      direct->run_row(in_rows.data(), out_image + static_cast<size_t>(oy) * s.out_w * s.out_c, sc.rows);
    }
  }

  void run_band(const uint8_t* image, uint8_t* out_image, int row0, Scratch& sc) {
    if (direct) {
      run_band_direct(image, out_image, row0, sc);
      return;
    }
    if (dw) {
      dw->run_rows(image, row0, std::min(band_rows, s.out_h - row0), out_image, sc.rows);
      return;
    }
    if (pointwise) {  // the band's pixels are consecutive in input and output
      const int64_t first = int64_t{row0} * s.out_w, pixels = int64_t{std::min(band_rows, s.out_h - row0)} * s.out_w;
      pointwise->run(image + first * s.in_c, pixels, out_image + first * s.out_c, sc.rows);
      return;
    }
    const int k = (row0 + band_rows <= s.out_h) ? 0 : 1;
    const BandPrimitive& b = k == 0 ? full : last;
    const uint8_t* src = image + static_cast<size_t>(row0) * s.stride_h * padded_w * s.in_c;
    sc.src[k].set_data_handle(const_cast<uint8_t*>(src));
    b.prim.execute(*sc.stream, {{DNNL_ARG_SRC, sc.src[k]}, {DNNL_ARG_WEIGHTS, b.weights},
                                {DNNL_ARG_DST, sc.dst[k]}, {DNNL_ARG_SCRATCHPAD, sc.scratchpad[k]}});
    if (need_sums && s.depthwise)
      b.prim.execute(*sc.stream, {{DNNL_ARG_SRC, sc.src[k]}, {DNNL_ARG_WEIGHTS, b.ones},
                                  {DNNL_ARG_DST, sc.sum[k]}, {DNNL_ARG_SCRATCHPAD, sc.scratchpad[k]}});
    sc.stream->wait();
    if (need_sums && !s.depthwise) window_sums(image, row0, b.rows, sc);

    RequantTile tile;
    tile.accum = sc.acc.data();
    tile.accum_stride = s.out_c;
    tile.rows = int64_t{b.rows} * s.out_w;
    tile.channels = s.out_c;
    if (need_sums) {
      tile.sums = sc.sums.data();
      tile.sum_stride = s.depthwise ? s.out_c : 1;
      tile.sum_channel_step = s.depthwise ? 1 : 0;
    }
    requantize_tile(tile, rq, out_image + static_cast<size_t>(row0) * s.out_w * s.out_c, s.out_c,
                    s.output_signed, 1);
  }

  void run(const void* input, void* output) {
    const uint8_t* src = static_cast<const uint8_t*>(input);
    if (pad_input) {
      // Copy each input row into place and fill only the border around it with the input
      // zero point (its byte pattern is the same for int8 and uint8).
      const uint8_t zp = static_cast<uint8_t>(s.input_zero_point);
      const size_t c = static_cast<size_t>(s.in_c);
      const size_t row = static_cast<size_t>(s.in_w) * c;
      const size_t padded_row = static_cast<size_t>(padded_w) * c;
      const size_t left = static_cast<size_t>(s.pad_left) * c;
      const size_t right = padded_row - left - row;
      for (int n = 0; n < s.batch; ++n) {
        uint8_t* image = padded.data() + static_cast<size_t>(n) * padded_h * padded_row;
        std::memset(image, zp, static_cast<size_t>(s.pad_top) * padded_row);
        for (int y = 0; y < s.in_h; ++y) {
          uint8_t* dst = image + static_cast<size_t>(y + s.pad_top) * padded_row;
          std::memset(dst, zp, left);
          std::memcpy(dst + left, src + (static_cast<size_t>(n) * s.in_h + y) * row, row);
          std::memset(dst + left + row, zp, right);
        }
        const size_t below = static_cast<size_t>(padded_h - s.pad_top - s.in_h);
        std::memset(image + static_cast<size_t>(s.pad_top + s.in_h) * padded_row, zp, below * padded_row);
      }
      src = padded.data();
    }
    const int bands_per_image = (s.out_h + band_rows - 1) / band_rows;
    const int total = s.batch * bands_per_image;
    const size_t in_image = static_cast<size_t>(padded_h) * padded_w * s.in_c;
    const size_t out_image = static_cast<size_t>(s.out_h) * s.out_w * s.out_c;
    auto* out = static_cast<uint8_t*>(output);
    const int workers = std::min(threads, total);
    // oneDNN's primitives run single-threaded inside our loop. With one worker there is no
    // team, and oneDNN would size its own from the calling thread's OpenMP setting, which
    // a thread that did not build this convolution (e.g. the simulator's device thread of
    // a new device) has at its default: all cores, with their spinning workers.
    omp_set_num_threads(1);
#pragma omp parallel for num_threads(workers) schedule(static)
    for (int i = 0; i < total; ++i) {
      const int n = i / bands_per_image;
      run_band(src + n * in_image, out + n * out_image, (i % bands_per_image) * band_rows,
               scratch[static_cast<size_t>(omp_get_thread_num())]);
    }
  }
};

FastConv::FastConv(const FastConvSpec& spec, int threads) : impl_(std::make_unique<Impl>(spec, threads)) {}
FastConv::~FastConv() = default;
void FastConv::run(const void* input, void* output) { impl_->run(input, output); }
int64_t FastConv::macs() const { return impl_->macs; }
const char* FastConv::kernel() const {
  return impl_->direct ? "direct-vnni" : impl_->pointwise ? "pointwise-vnni" : impl_->dw ? "depthwise-vnni" : "onednn";
}

}  // namespace tessel::kernels
