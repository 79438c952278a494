#include "tessel/kernels/fast_conv.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include <oneapi/dnnl/dnnl.hpp>

#include "tessel/ir/error.hpp"

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

struct FastConv::Impl {
  FastConvSpec s;
  int groups = 1;
  int acc_c = 0;            // channels of the int32 accumulator (out_c, + 1 with a sum channel)
  int padded_h = 0, padded_w = 0;
  bool pad_input = false;   // copy the input into a zero-point-padded buffer first
  bool need_sums = false;   // weight zero point differs from the storage offset
  int64_t macs = 0;

  dnnl::convolution_forward prim;
  dnnl::memory src_mem, weights_mem, ones_mem, dst_mem, sum_mem;
  std::vector<uint8_t> padded;
  std::vector<int32_t> acc, sums;
  ChannelRequant rq;

  int threads = 1;

  Impl(const FastConvSpec& spec, int thread_count) : s(spec), threads(std::max(1, thread_count)) {
    check(fast_conv_supported(), "fast convolution needs a CPU with VNNI");
    omp_set_num_threads(threads);
    const int kh_eff = (s.kernel_h - 1) * s.dilation_h + 1;
    const int kw_eff = (s.kernel_w - 1) * s.dilation_w + 1;
    groups = s.depthwise ? s.in_c : 1;
    const int in_per_group = s.in_c / groups;
    const int out_per_group = s.out_c / groups;
    const int woff = s.weights_signed ? 0 : 128;
    for (int c = 0; c < s.out_c; ++c)
      if (s.weight_zero_point[static_cast<size_t>(c)] != woff) need_sums = true;
    acc_c = s.out_c + (need_sums && !s.depthwise ? 1 : 0);

    // Rows/columns the padded input needs so that every output window is inside it.
    padded_h = std::max(s.in_h + s.pad_top, (s.out_h - 1) * s.stride_h + kh_eff);
    padded_w = std::max(s.in_w + s.pad_left, (s.out_w - 1) * s.stride_w + kw_eff);
    pad_input = s.pad_top > 0 || s.pad_left > 0 || padded_h > s.in_h || padded_w > s.in_w;
    if (!pad_input) padded_h = s.in_h, padded_w = s.in_w;

    // oneDNN descriptors: logical dims are NCHW / (G)OIHW whatever the physical layout.
    const dt src_dt = s.input_signed ? dt::s8 : dt::u8;
    dnnl::memory::desc src_md({s.batch, s.in_c, padded_h, padded_w}, src_dt, tag::nhwc);
    dnnl::memory::desc dst_md({s.batch, acc_c, s.out_h, s.out_w}, dt::s32, tag::nhwc);
    const int oc_per_group_total = s.depthwise ? out_per_group : acc_c;
    dnnl::memory::dims wdims =
        s.depthwise ? dnnl::memory::dims{groups, out_per_group, 1, s.kernel_h, s.kernel_w}
                    : dnnl::memory::dims{acc_c, in_per_group, s.kernel_h, s.kernel_w};
    dnnl::memory::desc wei_any(wdims, dt::s8, tag::any);
    dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md, wei_any,
        dst_md, {s.stride_h, s.stride_w}, {s.dilation_h - 1, s.dilation_w - 1}, {0, 0}, {0, 0});
    dnnl::convolution_forward::primitive_desc pd(desc, cpu_engine());
    prim = dnnl::convolution_forward(pd);

    // Pack weights into plain (g)oihw s8, then let oneDNN reorder into its blocked layout.
    const int taps = s.kernel_h * s.kernel_w;
    std::vector<int8_t> plain(static_cast<size_t>(groups) * oc_per_group_total * in_per_group * taps, 0);
    std::vector<int8_t> ones(plain.size(), 1);
    std::vector<int64_t> weight_sum(static_cast<size_t>(s.out_c), 0);
    const auto* w8 = static_cast<const uint8_t*>(s.weights);
    auto weight = [&](size_t idx) -> int {  // original value, signed or unsigned
      return s.weights_signed ? static_cast<int>(static_cast<int8_t>(w8[idx])) : static_cast<int>(w8[idx]);
    };
    for (int oc = 0; oc < s.out_c; ++oc) {
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
    }
    if (need_sums && !s.depthwise) {  // the extra all-ones output channel
      std::fill(plain.begin() + static_cast<long>(static_cast<size_t>(s.out_c) * in_per_group * taps),
                plain.end(), int8_t{1});
    }
    weights_mem = reorder_weights(plain, wdims, pd.weights_desc());
    if (need_sums && s.depthwise) ones_mem = reorder_weights(ones, wdims, pd.weights_desc());

    src_mem = dnnl::memory(src_md, cpu_engine(), DNNL_MEMORY_NONE);
    dst_mem = dnnl::memory(dst_md, cpu_engine(), DNNL_MEMORY_NONE);
    const int64_t out_pixels = int64_t{s.batch} * s.out_h * s.out_w;
    acc.resize(static_cast<size_t>(out_pixels * acc_c));
    if (need_sums && s.depthwise) {
      sums.resize(static_cast<size_t>(out_pixels * s.out_c));
      sum_mem = dnnl::memory(dst_md, cpu_engine(), sums.data());
    }
    if (pad_input)
      padded.resize(static_cast<size_t>(s.batch) * padded_h * padded_w * s.in_c);

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
    rq.multiplier = s.multiplier;
    rq.shift = s.shift;
    rq.output_zero_point = s.output_zero_point;
    rq.act_min = s.act_min;
    rq.act_max = s.act_max;
    macs = out_pixels * s.out_c * k;
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

  void run(const void* input, void* output) {
    omp_set_num_threads(threads);
    const void* src = input;
    if (pad_input) {
      // Fill with the input zero point (its byte pattern is the same for int8 and uint8),
      // then copy each input row into place.
      std::memset(padded.data(), static_cast<uint8_t>(s.input_zero_point), padded.size());
      const size_t row = static_cast<size_t>(s.in_w) * s.in_c;
      for (int n = 0; n < s.batch; ++n)
        for (int y = 0; y < s.in_h; ++y)
          std::memcpy(&padded[((static_cast<size_t>(n) * padded_h + y + s.pad_top) * padded_w + s.pad_left) * s.in_c],
                      static_cast<const uint8_t*>(input) + (static_cast<size_t>(n) * s.in_h + y) * row, row);
      src = padded.data();
    }
    src_mem.set_data_handle(const_cast<void*>(src));
    dst_mem.set_data_handle(acc.data());
    dnnl::stream stream(cpu_engine());
    prim.execute(stream, {{DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, weights_mem}, {DNNL_ARG_DST, dst_mem}});
    if (need_sums && s.depthwise)
      prim.execute(stream, {{DNNL_ARG_SRC, src_mem}, {DNNL_ARG_WEIGHTS, ones_mem}, {DNNL_ARG_DST, sum_mem}});
    stream.wait();

    RequantTile tile;
    tile.accum = acc.data();
    tile.accum_stride = acc_c;
    tile.rows = int64_t{s.batch} * s.out_h * s.out_w;
    tile.channels = s.out_c;
    if (need_sums) {
      tile.sums = s.depthwise ? sums.data() : acc.data() + s.out_c;
      tile.sum_stride = s.depthwise ? s.out_c : acc_c;
      tile.sum_channel_step = s.depthwise ? 1 : 0;
    }
    requantize_tile(tile, rq, output, s.out_c, s.output_signed, threads);
  }
};

FastConv::FastConv(const FastConvSpec& spec, int threads) : impl_(std::make_unique<Impl>(spec, threads)) {}
FastConv::~FastConv() = default;
void FastConv::run(const void* input, void* output) { impl_->run(input, output); }
int64_t FastConv::macs() const { return impl_->macs; }

}  // namespace tessel::kernels
