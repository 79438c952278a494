// Operator bindings of the quant_reduce group: IR operator -> validated kernel call.
//
// Which TFLite implements a dtype: int8 and int16 follow TensorFlow Lite Micro (it produced
// the int8 goldens), uint8 follows full TensorFlow Lite's reference kernels (the uint8
// goldens, see shared/goldens/MANIFEST-uint8.md). Where the two differ it is said at the
// binding.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "tessel/cpu/op_registry.hpp"
#include "tessel/cpu/quant_params.hpp"
#include "tessel/kernels/quant.hpp"
#include "tessel/kernels/quant_reduce.hpp"

namespace tessel::cpu {

namespace {

using ir::DType;
namespace k = kernels;

std::string shape_str(const std::vector<int32_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string dtype_str(DType t) { return ir::dtype_name(t); }

// Pair key for switching over (input dtype, output dtype).
constexpr int pair(DType a, DType b) { return static_cast<int>(a) * 64 + static_cast<int>(b); }

void require_rank_supported(const PrepareContext& pc, const ir::Tensor& t, const std::string& what) {
  pc.require(t.rank() <= k::Shape::kMaxRank,
             what + " has rank " + std::to_string(t.rank()) + "; at most 8 is supported");
}

void require_same_shape(const PrepareContext& pc, const ir::Tensor& in, const ir::Tensor& out) {
  pc.require(in.shape == out.shape, "output shape " + shape_str(out.shape) +
                                        " differs from the input shape " + shape_str(in.shape));
}

// The declared output shape must be the one TFLite's Prepare would compute.
void require_output_shape(const PrepareContext& pc, const std::vector<int32_t>& expected) {
  const ir::Tensor& out = pc.output(0);
  pc.require(out.shape == expected, "output shape " + shape_str(out.shape) +
                                        " does not match the computed shape " + shape_str(expected));
}

bool is_quantized_type(DType t) { return t == DType::i8 || t == DType::u8 || t == DType::i16; }

struct IntRange {
  int64_t lo;
  int64_t hi;
};
IntRange range_of(DType t) {
  switch (t) {
    case DType::i8: return {-128, 127};
    case DType::u8: return {0, 255};
    default: return {-32768, 32767};  // int16, the only other quantized type here
  }
}

void require_scale(const PrepareContext& pc, float scale, const std::string& what) {
  pc.require(scale > 0.0f && std::isfinite(scale),
             what + " scale " + std::to_string(scale) + " is not a positive finite number");
}

void require_zero_point(const PrepareContext& pc, int64_t zp, DType t, const std::string& what) {
  const IntRange r = range_of(t);
  pc.require(zp >= r.lo && zp <= r.hi, what + " zero point " + std::to_string(zp) +
                                           " is outside the " + dtype_str(t) + " range");
}

struct TensorQuant {
  float scale;
  int32_t zero_point;
};

// The per-tensor quantization of a quantized tensor, checked.
TensorQuant per_tensor_quant(const PrepareContext& pc, const ir::Tensor& t, const std::string& what) {
  pc.require(t.quant.present(), what + " (" + dtype_str(t.dtype) + ") has no quantization parameters");
  pc.require(!t.quant.per_channel(), what + " is quantized per channel; only per-tensor quantization is supported here");
  require_scale(pc, t.quant.scale[0], what);
  require_zero_point(pc, t.quant.zero_point[0], t.dtype, what);
  return {t.quant.scale[0], static_cast<int32_t>(t.quant.zero_point[0])};
}

// TFLite's QuantizeMultiplier(double(s_in) / double(s_out)); a left shift above 31 would
// need a ratio of 2^31, which no sane model has and the arithmetic cannot represent.
k::QuantizedMultiplier ratio_multiplier(const PrepareContext& pc, float s_in, float s_out) {
  const double ratio = static_cast<double>(s_in) / static_cast<double>(s_out);
  const k::QuantizedMultiplier m = k::quantize_multiplier(ratio);
  pc.require(m.shift <= 31, "scale ratio " + std::to_string(ratio) + " is too large to requantize");
  return m;
}

// Per-axis quantization parameters of `t`, viewed as [outer, channels, inner].
k::PerChannelQuantParams per_channel_params(const PrepareContext& pc, const ir::Tensor& t,
                                            const std::string& what) {
  const ir::Quantization& q = t.quant;
  k::PerChannelQuantParams p;
  p.scale = q.scale;
  for (size_t c = 0; c < q.scale.size(); ++c) {
    require_scale(pc, q.scale[c], what + " channel " + std::to_string(c));
    require_zero_point(pc, q.zero_point[c], t.dtype, what + " channel " + std::to_string(c));
    p.zero_point.push_back(static_cast<int32_t>(q.zero_point[c]));
  }
  // ir::verify guarantees 0 <= axis < rank and one scale per slice along it.
  const size_t axis = static_cast<size_t>(q.axis);
  for (size_t d = 0; d < axis; ++d) p.outer *= t.shape[d];
  p.channels = t.shape[axis];
  for (size_t d = axis + 1; d < t.shape.size(); ++d) p.inner *= t.shape[d];
  return p;
}

// ---------------------------------------------------------------------------------------
// QUANTIZE

template <typename Out>
RunFn affine_quantize_fn(const k::AffineQuantizeParams& p, int64_t n) {
  return [p, n](ExecContext& ec) { k::affine_quantize(p, ec.input<float>(0), n, ec.output<Out>(0)); };
}

template <typename Out>
RunFn per_channel_quantize_fn(const k::PerChannelQuantParams& p) {
  return [p](ExecContext& ec) { k::per_channel_quantize(p, ec.input<float>(0), ec.output<Out>(0)); };
}

template <typename In, typename Out>
RunFn requantize_fn(const k::RequantizeParams& p, int64_t n) {
  return [p, n](ExecContext& ec) { k::requantize(p, ec.input<In>(0), n, ec.output<Out>(0)); };
}

const char* const kQuantizePairs =
    "supported: float32 -> int8/uint8/int16; int8 -> int8/uint8/int16; uint8 -> int8/uint8; "
    "int16 -> int8/int16";

RunFn prepare_quantize_from_float(const PrepareContext& pc, const ir::Tensor& out, int64_t n) {
  pc.require(is_quantized_type(out.dtype), std::string("QUANTIZE from float32 to ") +
                                               dtype_str(out.dtype) + " is not supported (" +
                                               kQuantizePairs + ")");
  if (out.quant.per_channel()) {
    // Full TFLite's PerChannelQuantize: the same rounding with each channel's scale.
    const k::PerChannelQuantParams p = per_channel_params(pc, out, "output");
    switch (out.dtype) {
      case DType::i8: return per_channel_quantize_fn<int8_t>(p);
      case DType::u8: return per_channel_quantize_fn<uint8_t>(p);
      default: return per_channel_quantize_fn<int16_t>(p);
    }
  }
  const TensorQuant q = per_tensor_quant(pc, out, "output");
  const k::AffineQuantizeParams p{q.scale, q.zero_point};
  switch (out.dtype) {
    case DType::i8: return affine_quantize_fn<int8_t>(p, n);
    case DType::u8: return affine_quantize_fn<uint8_t>(p, n);
    default: return affine_quantize_fn<int16_t>(p, n);
  }
}

// Requantization: TFLite's Prepare derives one multiplier from double(s_in) / double(s_out)
// and Eval runs reference_ops::Requantize. int8 -> int16 exists in TFLite Micro only.
RunFn prepare_requantize(const PrepareContext& pc, const ir::Tensor& in, const ir::Tensor& out,
                         int64_t n) {
  const int key = pair(in.dtype, out.dtype);
  const bool supported = key == pair(DType::i8, DType::i8) || key == pair(DType::i8, DType::u8) ||
                         key == pair(DType::i8, DType::i16) || key == pair(DType::u8, DType::i8) ||
                         key == pair(DType::u8, DType::u8) || key == pair(DType::i16, DType::i8) ||
                         key == pair(DType::i16, DType::i16);
  pc.require(supported, "QUANTIZE from " + dtype_str(in.dtype) + " to " + dtype_str(out.dtype) +
                            " is not supported (" + kQuantizePairs + ")");
  const TensorQuant qi = per_tensor_quant(pc, in, "input");
  const TensorQuant qo = per_tensor_quant(pc, out, "output");
  k::RequantizeParams p;
  p.multiplier = ratio_multiplier(pc, qi.scale, qo.scale);
  p.input_zero_point = qi.zero_point;
  p.output_zero_point = qo.zero_point;
  switch (key) {
    case pair(DType::i8, DType::i8): return requantize_fn<int8_t, int8_t>(p, n);
    case pair(DType::i8, DType::u8): return requantize_fn<int8_t, uint8_t>(p, n);
    case pair(DType::i8, DType::i16): return requantize_fn<int8_t, int16_t>(p, n);
    case pair(DType::u8, DType::i8): return requantize_fn<uint8_t, int8_t>(p, n);
    case pair(DType::u8, DType::u8): return requantize_fn<uint8_t, uint8_t>(p, n);
    case pair(DType::i16, DType::i8): return requantize_fn<int16_t, int8_t>(p, n);
    default: return requantize_fn<int16_t, int16_t>(p, n);
  }
}

RunFn prepare_quantize(const PrepareContext& pc) {
  pc.require_arity(1, 1, 1);
  const ir::Tensor& in = pc.input(0);
  const ir::Tensor& out = pc.output(0);
  require_same_shape(pc, in, out);
  const int64_t n = in.num_elements();
  if (in.dtype == DType::f32) return prepare_quantize_from_float(pc, out, n);
  pc.require(!out.quant.per_channel(), "per-channel requantization is not supported (TFLite has none)");
  return prepare_requantize(pc, in, out, n);
}

// ---------------------------------------------------------------------------------------
// DEQUANTIZE

template <typename In>
RunFn dequantize_fn(const k::DequantizeParams& p, int64_t n) {
  return [p, n](ExecContext& ec) { k::dequantize(p, ec.input<In>(0), n, ec.output<float>(0)); };
}

template <typename In>
RunFn per_channel_dequantize_fn(const k::PerChannelQuantParams& p) {
  return [p](ExecContext& ec) { k::per_channel_dequantize(p, ec.input<In>(0), ec.output<float>(0)); };
}

RunFn prepare_dequantize(const PrepareContext& pc) {
  pc.require_arity(1, 1, 1);
  const ir::Tensor& in = pc.input(0);
  const ir::Tensor& out = pc.output(0);
  require_same_shape(pc, in, out);
  pc.require(out.dtype == DType::f32, "output must be float32, is " + dtype_str(out.dtype));
  const int64_t n = in.num_elements();
  if (in.dtype == DType::f16) {
    return [n](ExecContext& ec) {
      k::dequantize_float16(ec.input<uint16_t>(0), n, ec.output<float>(0));
    };
  }
  pc.require(is_quantized_type(in.dtype), "DEQUANTIZE of " + dtype_str(in.dtype) +
                                              " is not supported (int8, uint8, int16, float16)");
  if (in.quant.per_channel()) {
    pc.require(in.dtype != DType::i16, "per-channel DEQUANTIZE of int16 is not supported (TFLite has none)");
    const k::PerChannelQuantParams p = per_channel_params(pc, in, "input");
    if (in.dtype == DType::i8) return per_channel_dequantize_fn<int8_t>(p);
    return per_channel_dequantize_fn<uint8_t>(p);
  }
  const TensorQuant q = per_tensor_quant(pc, in, "input");
  const k::DequantizeParams p{q.scale, q.zero_point};
  switch (in.dtype) {
    case DType::i8: return dequantize_fn<int8_t>(p, n);
    case DType::u8: return dequantize_fn<uint8_t>(p, n);
    default: return dequantize_fn<int16_t>(p, n);
  }
}

// ---------------------------------------------------------------------------------------
// CAST

bool cast_type_of(DType t, k::CastType* out) {
  switch (t) {
    case DType::f32: *out = k::CastType::f32; return true;
    case DType::i32: *out = k::CastType::i32; return true;
    case DType::i64: *out = k::CastType::i64; return true;
    case DType::i16: *out = k::CastType::i16; return true;
    case DType::i8: *out = k::CastType::i8; return true;
    case DType::u8: *out = k::CastType::u8; return true;
    case DType::bool8: *out = k::CastType::boolean; return true;
    default: return false;
  }
}

// CAST converts values, not quantized reals: TFLite ignores quantization parameters here.
RunFn prepare_cast(const PrepareContext& pc) {
  pc.require_arity(1, 1, 1);
  const ir::Tensor& in = pc.input(0);
  const ir::Tensor& out = pc.output(0);
  require_same_shape(pc, in, out);
  k::CastType from{}, to{};
  pc.require(cast_type_of(in.dtype, &from) && cast_type_of(out.dtype, &to),
             "CAST from " + dtype_str(in.dtype) + " to " + dtype_str(out.dtype) +
                 " is not supported (types: float32, int32, int64, int16, int8, uint8, bool)");
  const k::CastFn fn = k::cast_kernel(from, to);
  const int64_t n = in.num_elements();
  return [fn, n](ExecContext& ec) { fn(ec.input<void>(0), n, ec.output<void>(0)); };
}

// ---------------------------------------------------------------------------------------
// MEAN, SUM, REDUCE_MAX, REDUCE_MIN

struct Reduction {
  k::ReduceGeometry geometry;
  bool no_axes = false;  // the axis tensor has no elements
};

// Validates the operands common to every reduction and resolves the axes as TFLite's
// ResolveAxis does: negative axes count from the end, duplicates count once.
Reduction resolve_reduction(const PrepareContext& pc) {
  pc.require_arity(2, 2, 1);
  const ir::Tensor& in = pc.input(0);
  const ir::Tensor& axis = pc.input(1);
  const ir::Tensor& out = pc.output(0);
  require_rank_supported(pc, in, "input");
  pc.require(out.dtype == in.dtype, "output dtype " + dtype_str(out.dtype) +
                                        " differs from the input dtype " + dtype_str(in.dtype));
  pc.require(axis.dtype == DType::i32, "axis must be int32, is " + dtype_str(axis.dtype));
  pc.require(axis.is_constant, "axis (" + axis.name +
                                   ") must be a constant tensor; run-time axes are not supported");
  pc.require(axis.rank() <= 1, "axis must be a scalar or a 1-D tensor, has shape " + shape_str(axis.shape));

  Reduction r;
  r.geometry.input = k::Shape::of(in.shape);
  const int rank = in.rank();
  const int64_t num_axes = axis.num_elements();
  r.no_axes = num_axes == 0;
  // A scalar input has nothing to reduce; TFLite ignores the axis values then.
  for (int64_t i = 0; i < num_axes && rank > 0; ++i) {
    const int32_t a = axis.data_as<int32_t>()[i];
    const int resolved = a < 0 ? a + rank : a;
    pc.require(resolved >= 0 && resolved < rank,
               "axis " + std::to_string(a) + " is out of range for an input of rank " + std::to_string(rank));
    r.geometry.reduced[resolved] = true;
  }

  const bool keep_dims = pc.attrs().get_int("keep_dims", 0) != 0;
  std::vector<int32_t> expected;
  for (int d = 0; d < rank; ++d) {
    if (!r.geometry.reduced[d])
      expected.push_back(in.shape[static_cast<size_t>(d)]);
    else if (keep_dims)
      expected.push_back(1);
  }
  require_output_shape(pc, expected);
  return r;
}

template <typename T>
RunFn quantized_mean_or_sum_fn(const k::QuantizedReduceParams& p, const k::ReduceGeometry& g) {
  return [p, g](ExecContext& ec) { k::quantized_mean_or_sum(p, g, ec.input<T>(0), ec.output<T>(0)); };
}

// Quantized MEAN and SUM. Current TFLite Micro (int8, int16) and full TFLite (uint8) both
// run every quantized MEAN and SUM through the integer QuantizedMeanOrSum: requantize the
// zero-point-corrected int32 sum with QuantizeMultiplier(s_in / s_out), folding 1/n into the
// multiplier for MEAN. Older releases had other paths (a 4-D mean-over-H,W kernel, a
// truncating mean when input and output quantization are equal, float rescaling); both
// runtimes dropped them, so the goldens' reference snapshot has this one only.
// Full TFLite alone copies the input unchanged when the axis list is empty; TFLite Micro
// requantizes with n = 1.
RunFn prepare_quantized_mean_or_sum(const PrepareContext& pc, const Reduction& r, bool mean) {
  const ir::Tensor& in = pc.input(0);
  const TensorQuant qi = per_tensor_quant(pc, in, "input");
  const TensorQuant qo = per_tensor_quant(pc, pc.output(0), "output");
  if (in.dtype == DType::u8 && r.no_axes) {
    const size_t bytes = in.num_bytes();
    return [bytes](ExecContext& ec) {
      if (bytes != 0) std::memcpy(ec.output<void>(0), ec.input<void>(0), bytes);
    };
  }
  k::QuantizedReduceParams p;
  p.multiplier = ratio_multiplier(pc, qi.scale, qo.scale);
  p.input_zero_point = qi.zero_point;
  p.output_zero_point = qo.zero_point;
  const int64_t n = r.geometry.num_reduced();
  if (mean && n > 0) p.multiplier = k::fold_mean_divisor(p.multiplier, n);
  switch (in.dtype) {
    case DType::i8: return quantized_mean_or_sum_fn<int8_t>(p, r.geometry);
    case DType::u8: return quantized_mean_or_sum_fn<uint8_t>(p, r.geometry);
    default: return quantized_mean_or_sum_fn<int16_t>(p, r.geometry);
  }
}

RunFn prepare_mean_or_sum(const PrepareContext& pc, bool mean) {
  const Reduction r = resolve_reduction(pc);
  const DType t = pc.input(0).dtype;
  const char* op = mean ? "MEAN" : "SUM";
  if (t == DType::f32) {
    const k::ReduceGeometry g = r.geometry;
    if (mean) return [g](ExecContext& ec) { k::mean_float(g, ec.input<float>(0), ec.output<float>(0)); };
    return [g](ExecContext& ec) { k::sum_float(g, ec.input<float>(0), ec.output<float>(0)); };
  }
  pc.require(is_quantized_type(t), std::string(op) + " of " + dtype_str(t) +
                                       " is not supported (float32, int8, uint8, int16)");
  return prepare_quantized_mean_or_sum(pc, r, mean);
}

RunFn prepare_mean(const PrepareContext& pc) { return prepare_mean_or_sum(pc, true); }
RunFn prepare_sum(const PrepareContext& pc) { return prepare_mean_or_sum(pc, false); }

template <typename T>
RunFn reduce_extremum_fn(const k::ReduceGeometry& g, bool is_max) {
  if (is_max) return [g](ExecContext& ec) { k::reduce_max(g, ec.input<T>(0), ec.output<T>(0)); };
  return [g](ExecContext& ec) { k::reduce_min(g, ec.input<T>(0), ec.output<T>(0)); };
}

// REDUCE_MAX / REDUCE_MIN pick raw values, so TFLite requires the output to be quantized
// exactly like the input.
RunFn prepare_reduce_extremum(const PrepareContext& pc, bool is_max) {
  const Reduction r = resolve_reduction(pc);
  const ir::Tensor& in = pc.input(0);
  const ir::Tensor& out = pc.output(0);
  if (is_quantized_type(in.dtype)) {
    pc.require(in.quant.scale == out.quant.scale && in.quant.zero_point == out.quant.zero_point,
               "input and output quantization must be equal (the op does not rescale)");
  }
  switch (in.dtype) {
    case DType::f32: return reduce_extremum_fn<float>(r.geometry, is_max);
    case DType::i8: return reduce_extremum_fn<int8_t>(r.geometry, is_max);
    case DType::u8: return reduce_extremum_fn<uint8_t>(r.geometry, is_max);
    case DType::i16: return reduce_extremum_fn<int16_t>(r.geometry, is_max);
    case DType::i32: return reduce_extremum_fn<int32_t>(r.geometry, is_max);
    default:
      pc.fail(std::string(is_max ? "REDUCE_MAX" : "REDUCE_MIN") + " of " + dtype_str(in.dtype) +
              " is not supported (float32, int8, uint8, int16, int32)");
  }
}

RunFn prepare_reduce_max(const PrepareContext& pc) { return prepare_reduce_extremum(pc, true); }
RunFn prepare_reduce_min(const PrepareContext& pc) { return prepare_reduce_extremum(pc, false); }

// ---------------------------------------------------------------------------------------
// ARG_MAX / ARG_MIN

template <typename T>
RunFn arg_min_max_fn(const k::ArgMinMaxParams& p, DType index_type) {
  if (index_type == DType::i32)
    return [p](ExecContext& ec) { k::arg_min_max(p, ec.input<T>(0), ec.output<int32_t>(0)); };
  return [p](ExecContext& ec) { k::arg_min_max(p, ec.input<T>(0), ec.output<int64_t>(0)); };
}

// TFLite's output_type option uses the schema's TensorType codes.
constexpr int64_t kTensorTypeInt32 = 2;
constexpr int64_t kTensorTypeInt64 = 4;

RunFn prepare_arg_min_max(const PrepareContext& pc, bool is_max) {
  pc.require_arity(2, 2, 1);
  const ir::Tensor& in = pc.input(0);
  const ir::Tensor& axis = pc.input(1);
  const ir::Tensor& out = pc.output(0);
  const int rank = in.rank();
  pc.require(rank >= 1, "input must have at least one dimension");
  pc.require(axis.dtype == DType::i32 || axis.dtype == DType::i64,
             "axis must be int32 or int64, is " + dtype_str(axis.dtype));
  pc.require(axis.is_constant, "axis (" + axis.name +
                                   ") must be a constant tensor; run-time axes are not supported");
  pc.require(axis.num_elements() == 1, "axis must hold exactly one value, has shape " + shape_str(axis.shape));
  const int64_t a = axis.dtype == DType::i32 ? axis.data_as<int32_t>()[0] : axis.data_as<int64_t>()[0];
  const int64_t resolved = a < 0 ? a + rank : a;
  pc.require(resolved >= 0 && resolved < rank,
             "axis " + std::to_string(a) + " is out of range for an input of rank " + std::to_string(rank));

  pc.require(out.dtype == DType::i32 || out.dtype == DType::i64,
             "output must be int32 or int64, is " + dtype_str(out.dtype));
  if (pc.attrs().has("output_type")) {
    const int64_t code = pc.attrs().get_int("output_type", 0);
    const DType declared = code == kTensorTypeInt32 ? DType::i32
                           : code == kTensorTypeInt64 ? DType::i64
                                                      : DType::string;
    pc.require(declared == out.dtype, "output_type " + std::to_string(code) +
                                          " does not match the output tensor's " + dtype_str(out.dtype));
  }

  k::ArgMinMaxParams p;
  p.is_max = is_max;
  std::vector<int32_t> expected;
  for (int d = 0; d < rank; ++d) {
    const int32_t size = in.shape[static_cast<size_t>(d)];
    if (d < resolved) p.outer *= size;
    if (d > resolved) p.inner *= size;
    if (d != resolved) expected.push_back(size);
  }
  p.axis_size = in.shape[static_cast<size_t>(resolved)];
  require_output_shape(pc, expected);
  pc.require(p.axis_size > 0, "the reduced axis has size 0");

  switch (in.dtype) {
    case DType::f32: return arg_min_max_fn<float>(p, out.dtype);
    case DType::i8: return arg_min_max_fn<int8_t>(p, out.dtype);
    case DType::u8: return arg_min_max_fn<uint8_t>(p, out.dtype);
    case DType::i16: return arg_min_max_fn<int16_t>(p, out.dtype);
    case DType::i32: return arg_min_max_fn<int32_t>(p, out.dtype);
    default:
      pc.fail(std::string(is_max ? "ARG_MAX" : "ARG_MIN") + " of " + dtype_str(in.dtype) +
              " is not supported (float32, int8, uint8, int16, int32)");
  }
}

RunFn prepare_arg_max(const PrepareContext& pc) { return prepare_arg_min_max(pc, true); }
RunFn prepare_arg_min(const PrepareContext& pc) { return prepare_arg_min_max(pc, false); }

// ---------------------------------------------------------------------------------------
// RESIZE_BILINEAR

// Sizes up to 2^20 keep the integer kernel's 1/1024-unit coordinates inside int32 and the
// float kernel's source coordinates exact enough never to reach past the last pixel.
constexpr int32_t kMaxResizeSize = 1 << 20;

// Which kernel: float32 and uint8 use reference_ops::ResizeBilinear (float weights, + 0.5,
// truncation; uint8 as full TFLite's reference kernel, the DeepLab goldens depend on it);
// int8 (TFLite Micro and full TFLite) and int16 (full TFLite) use ResizeBilinearInteger.
RunFn prepare_resize_bilinear(const PrepareContext& pc) {
  pc.require_arity(2, 2, 1);
  const ir::Tensor& in = pc.input(0);
  const ir::Tensor& size = pc.input(1);
  const ir::Tensor& out = pc.output(0);
  pc.require(in.rank() == 4, "input must be 4-D (NHWC), has shape " + shape_str(in.shape));
  pc.require(size.dtype == DType::i32, "size must be int32, is " + dtype_str(size.dtype));
  pc.require(size.is_constant, "size (" + size.name +
                                   ") must be a constant tensor; run-time output sizes are not supported");
  pc.require(size.shape == std::vector<int32_t>{2}, "size must have shape [2], has " + shape_str(size.shape));
  const int32_t new_h = size.data_as<int32_t>()[0];
  const int32_t new_w = size.data_as<int32_t>()[1];
  pc.require(new_h > 0 && new_w > 0, "size [" + std::to_string(new_h) + ", " + std::to_string(new_w) +
                                         "] must be positive");

  k::ResizeBilinearParams p;
  p.batches = in.shape[0];
  p.input_height = in.shape[1];
  p.input_width = in.shape[2];
  p.depth = in.shape[3];
  p.output_height = new_h;
  p.output_width = new_w;
  p.align_corners = pc.attrs().get_int("align_corners", 0) != 0;
  p.half_pixel_centers = pc.attrs().get_int("half_pixel_centers", 0) != 0;
  pc.require(!(p.align_corners && p.half_pixel_centers),
             "align_corners and half_pixel_centers cannot both be set");
  pc.require(p.input_height < kMaxResizeSize && p.input_width < kMaxResizeSize &&
                 new_h < kMaxResizeSize && new_w < kMaxResizeSize,
             "image sizes must be below 2^20");
  require_output_shape(pc, {p.batches, new_h, new_w, p.depth});
  pc.require(out.dtype == in.dtype, "output dtype " + dtype_str(out.dtype) +
                                        " differs from the input dtype " + dtype_str(in.dtype));
  if (is_quantized_type(in.dtype)) {
    pc.require(in.quant.scale == out.quant.scale && in.quant.zero_point == out.quant.zero_point,
               "input and output quantization must be equal (the op does not rescale)");
  }

  switch (in.dtype) {
    case DType::f32:
      return [p](ExecContext& ec) { k::resize_bilinear(p, ec.input<float>(0), ec.output<float>(0)); };
    case DType::u8:
      return [p](ExecContext& ec) { k::resize_bilinear(p, ec.input<uint8_t>(0), ec.output<uint8_t>(0)); };
    case DType::i8:
      return [p](ExecContext& ec) {
        k::resize_bilinear_integer(p, ec.input<int8_t>(0), ec.output<int8_t>(0));
      };
    case DType::i16:
      return [p](ExecContext& ec) {
        k::resize_bilinear_integer(p, ec.input<int16_t>(0), ec.output<int16_t>(0));
      };
    default:
      pc.fail("RESIZE_BILINEAR of " + dtype_str(in.dtype) +
              " is not supported (float32, uint8, int8, int16)");
  }
}

}  // namespace

kernels::QuantizedMultiplier reduce_ratio_multiplier(const PrepareContext& pc) {
  const TensorQuant qi = per_tensor_quant(pc, pc.input(0), "input");
  const TensorQuant qo = per_tensor_quant(pc, pc.output(0), "output");
  return ratio_multiplier(pc, qi.scale, qo.scale);
}

void register_ref_quant_reduce_ops(OpRegistry& r) {
  r.add(ir::OpType::QUANTIZE, prepare_quantize);
  r.add(ir::OpType::DEQUANTIZE, prepare_dequantize);
  r.add(ir::OpType::CAST, prepare_cast);
  r.add(ir::OpType::MEAN, prepare_mean);
  r.add(ir::OpType::SUM, prepare_sum);
  r.add(ir::OpType::REDUCE_MAX, prepare_reduce_max);
  r.add(ir::OpType::REDUCE_MIN, prepare_reduce_min);
  r.add(ir::OpType::ARG_MAX, prepare_arg_max);
  r.add(ir::OpType::ARG_MIN, prepare_arg_min);
  r.add(ir::OpType::RESIZE_BILINEAR, prepare_resize_bilinear);
}

}  // namespace tessel::cpu
