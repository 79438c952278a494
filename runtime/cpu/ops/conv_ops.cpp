// Operator bindings of the conv group: IR operator -> validated kernel call.
//
// Each prepare function checks what TFLite's Prepare checks (arity, dtypes, ranks, shapes,
// attributes, quantization), computes what it computes (output size, padding,
// requantization, activation range) with the shared functions of
// tessel/cpu/conv_params.hpp, fails with a message for anything Tessel does not support,
// and returns a RunFn that only calls the kernel.
#include "tessel/cpu/conv_params.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "tessel/cpu/op_registry.hpp"
#include "tessel/kernels/conv.hpp"
#include "tessel/kernels/quant.hpp"
#include "tessel/kernels/shape.hpp"

namespace tessel::cpu {

// =======================================================================================
// conv_params.hpp

int conv_output_size(ir::Padding padding, int in_size, int filter_size, int stride, int dilation) {
  const int effective_filter = (filter_size - 1) * dilation + 1;
  if (padding == ir::Padding::same) return (in_size + stride - 1) / stride;
  return (in_size + stride - effective_filter) / stride;
}

PaddingSpan conv_padding(int in_size, int filter_size, int stride, int dilation, int out_size) {
  const int effective_filter = (filter_size - 1) * dilation + 1;
  const int total = std::max(0, (out_size - 1) * stride + effective_filter - in_size);
  return {total / 2, total / 2 + total % 2};
}

MultiplierRule multiplier_rule(ir::OpType op, const ir::Tensor& input, const ir::Tensor& weights) {
  const bool u8 = input.dtype == ir::DType::u8;
  switch (op) {
    case ir::OpType::CONV_2D:
    case ir::OpType::DEPTHWISE_CONV_2D:
    case ir::OpType::TRANSPOSE_CONV:
      // The uint8 kernels take one legacy multiplier; the int8 and int16 ones the
      // per-channel arrays (per-tensor weights broadcast).
      return u8 ? MultiplierRule::float_product : MultiplierRule::per_channel;
    case ir::OpType::FULLY_CONNECTED:
      // Per-channel FULLY_CONNECTED exists for int8 and int16 only; uint8 per-channel
      // weights then fail in derive_requant_params. Per-tensor weights take the legacy
      // multiplier for every dtype, unlike CONV_2D.
      return weights.quant.per_channel() && !u8 ? MultiplierRule::per_channel
                                                : MultiplierRule::float_product;
    case ir::OpType::BATCH_MATMUL:
      return MultiplierRule::float_product;
    default:
      throw Error(std::string(ir::op_type_name(op)) + " has no convolution-style requantization");
  }
}

kernels::QuantizedMultiplier per_channel_multiplier(float input_scale, float weight_scale,
                                                    float output_scale) {
  return kernels::quantize_multiplier(static_cast<double>(input_scale) *
                                      static_cast<double>(weight_scale) /
                                      static_cast<double>(output_scale));
}

kernels::QuantizedMultiplier float_product_multiplier(float input_scale, float weight_scale,
                                                      float output_scale) {
  // The product is a float multiplication (TFLite writes double(a * b) with float a, b).
  const float product = input_scale * weight_scale;
  return kernels::quantize_multiplier(static_cast<double>(product) /
                                      static_cast<double>(output_scale));
}

namespace {

struct DTypeRange {
  int64_t min;
  int64_t max;
};

// The value range of a quantized dtype; false for dtypes that are not quantized types here.
bool quantized_range(ir::DType t, DTypeRange* r) {
  switch (t) {
    case ir::DType::i8:
      *r = {std::numeric_limits<int8_t>::min(), std::numeric_limits<int8_t>::max()};
      return true;
    case ir::DType::u8: *r = {0, std::numeric_limits<uint8_t>::max()}; return true;
    case ir::DType::i16:
      *r = {std::numeric_limits<int16_t>::min(), std::numeric_limits<int16_t>::max()};
      return true;
    default: return false;
  }
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// Input and output: one positive finite scale and a zero point inside the dtype's range.
void check_activation_quant(const ir::Tensor& t, const std::string& role) {
  const ir::Quantization& q = t.quant;
  check(q.present(), role + " has no quantization parameters");
  check(!q.per_channel(),
        role + " must be quantized per tensor, has " + std::to_string(q.scale.size()) + " scales");
  check(
      std::isfinite(q.scale[0]) && q.scale[0] > 0.0f,
      role + " scale " + num(static_cast<double>(q.scale[0])) + " is not a positive finite number");
  DTypeRange r{};
  check(quantized_range(t.dtype, &r),
        role + " dtype " + ir::dtype_name(t.dtype) + " is not a quantized type");
  const int64_t zp = q.zero_point.empty() ? 0 : q.zero_point[0];
  check(zp >= r.min && zp <= r.max, role + " zero point " + std::to_string(zp) + " is outside " +
                                        ir::dtype_name(t.dtype) + "'s range");
}

int64_t zero_point(const ir::Tensor& t) {
  return t.quant.zero_point.empty() ? 0 : t.quant.zero_point[0];
}

}  // namespace

kernels::ActivationRange output_activation_range(int activation, const ir::Tensor& output) {
  DTypeRange r{};
  check(
      quantized_range(output.dtype, &r),
      std::string("output dtype ") + ir::dtype_name(output.dtype) + " is not int8, uint8 or int16");
  check(output.quant.present(), "output has no quantization parameters");
  return kernels::activation_range_quantized(
      activation, output.quant.scale[0], static_cast<int32_t>(zero_point(output)),
      static_cast<int32_t>(r.min), static_cast<int32_t>(r.max));
}

kernels::RequantParams derive_requant_params(const ir::Tensor& input, const ir::Tensor& weights,
                                             const ir::Tensor* bias, const ir::Tensor& output,
                                             int activation, int channel_axis,
                                             MultiplierRule rule) {
  check_activation_quant(input, "input");
  check_activation_quant(output, "output");
  const bool int16_activations = input.dtype == ir::DType::i16;
  if (int16_activations) {
    check(zero_point(input) == 0 && zero_point(output) == 0,
          "int16 input and output need zero point 0 (TFLite's 16x8 scheme), have " +
              std::to_string(zero_point(input)) + " and " + std::to_string(zero_point(output)));
  }

  // Weights.
  const ir::Quantization& wq = weights.quant;
  check(wq.present(), "weights have no quantization parameters");
  check(channel_axis < weights.rank(), "weights have rank " + std::to_string(weights.rank()) +
                                           ", no output-channel dimension " +
                                           std::to_string(channel_axis));
  const int channels = channel_axis >= 0 ? weights.shape[static_cast<size_t>(channel_axis)] : 1;
  if (wq.per_channel()) {
    check(rule == MultiplierRule::per_channel,
          "weights are quantized per channel (" + std::to_string(wq.scale.size()) +
              " scales); with these dtypes TFLite takes per-tensor weights only");
    check(wq.axis == channel_axis, "weights are quantized along dimension " +
                                       std::to_string(wq.axis) + ", expected dimension " +
                                       std::to_string(channel_axis) + " (output channels)");
    check(static_cast<int>(wq.scale.size()) == channels,
          std::to_string(wq.scale.size()) + " weight scales for " + std::to_string(channels) +
              " output channels");
  }
  for (float s : wq.scale)
    check(std::isfinite(s) && s >= 0.0f,
          "weight scale " + num(static_cast<double>(s)) + " is not a finite non-negative number");
  DTypeRange wr{};
  check(quantized_range(weights.dtype, &wr),
        std::string("weights dtype ") + ir::dtype_name(weights.dtype) + " is not a quantized type");
  for (int64_t zp : wq.zero_point) {
    check(zp >= wr.min && zp <= wr.max, "weights zero point " + std::to_string(zp) +
                                            " is outside " + ir::dtype_name(weights.dtype) +
                                            "'s range");
    if (rule == MultiplierRule::per_channel || int16_activations)
      check(zp == 0, "weights zero point must be 0 (TFLite's " +
                         std::string(int16_activations ? "16x8" : "per-channel") +
                         " kernels take symmetric weights), is " + std::to_string(zp));
  }

  // Bias: zero point 0; under the float-product rule, TFLite's scale consistency check.
  const float s_in = input.quant.scale[0];
  const float s_out = output.quant.scale[0];
  if (bias) {
    for (int64_t zp : bias->quant.zero_point)
      check(zp == 0, "bias zero point must be 0, is " + std::to_string(zp));
    if (rule == MultiplierRule::float_product) {
      // TFLite reads the tensor's per-tensor ("legacy") scale, which is 0 when the bias has
      // no quantization or is quantized per channel.
      const double bias_scale =
          bias->quant.scale.size() == 1 ? static_cast<double>(bias->quant.scale[0]) : 0.0;
      const double product = static_cast<double>(s_in) * static_cast<double>(wq.scale[0]);
      check(std::abs(product - bias_scale) / static_cast<double>(s_out) <= 0.02,
            "bias scale " + num(bias_scale) + " does not match input scale * weight scale " +
                num(product) +
                " (TFLite requires the difference to be at most 2% of the output scale)");
    }
  }

  kernels::RequantParams rq;
  rq.multiplier.resize(static_cast<size_t>(channels));
  rq.shift.resize(static_cast<size_t>(channels));
  for (int c = 0; c < channels; ++c) {
    const float s_w = wq.per_channel() ? wq.scale[static_cast<size_t>(c)] : wq.scale[0];
    const kernels::QuantizedMultiplier m = rule == MultiplierRule::per_channel
                                               ? per_channel_multiplier(s_in, s_w, s_out)
                                               : float_product_multiplier(s_in, s_w, s_out);
    // TFLite's 64-bit MultiplyByQuantizedMultiplier shifts by 15 - shift, defined only
    // for shift <= 7 (its DCHECK); beyond that TFLite's result is garbage, so refuse.
    if (int16_activations)
      check(m.shift <= 7, "requantization scale of channel " + std::to_string(c) +
                              " (input scale * weight scale / output scale) is 128 or more, "
                              "beyond TFLite's 16-bit requantization");
    rq.multiplier[static_cast<size_t>(c)] = m.multiplier;
    rq.shift[static_cast<size_t>(c)] = m.shift;
  }
  rq.output_offset = static_cast<int32_t>(zero_point(output));
  const kernels::ActivationRange act = output_activation_range(activation, output);
  rq.act_min = act.min;
  rq.act_max = act.max;
  return rq;
}

// =======================================================================================
// Bindings

namespace {

using kernels::ActivationRangeF;
using kernels::RequantParams;
using kernels::Shape;

std::string shape_str(const std::vector<int32_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

void require_rank(const PrepareContext& pc, const ir::Tensor& t, const std::string& role,
                  int rank) {
  pc.require(t.rank() == rank, role + " must have rank " + std::to_string(rank) + ", has shape " +
                                   shape_str(t.shape));
}

// The binding must compute the output shape the way TFLite does and agree with the model.
void require_output_shape(const PrepareContext& pc, const std::vector<int32_t>& expected) {
  const ir::Tensor& out = pc.output(0);
  pc.require(out.shape == expected, "output shape " + shape_str(out.shape) +
                                        " does not match the shape computed from the inputs "
                                        "and attributes, " +
                                        shape_str(expected));
}

const ir::Tensor* optional_input(const PrepareContext& pc, size_t i) {
  return pc.has_input(i) ? &pc.input(i) : nullptr;
}

// An attribute that must be >= 1 (strides, dilations, filter sizes). An absent attribute
// has the schema default, which for strides and filter sizes is 0 and so is rejected,
// as TFLite rejects it. The upper bound keeps the kernels' index arithmetic (position *
// stride, tap * dilation) far from int overflow.
int positive_attr(const PrepareContext& pc, const std::string& key, int64_t schema_default) {
  const int64_t v = pc.attrs().get_int(key, schema_default);
  pc.require(v >= 1 && v <= std::numeric_limits<int16_t>::max(),
             key + " must be between 1 and 32767, is " + std::to_string(v));
  return static_cast<int>(v);
}

ir::Padding padding_attr(const PrepareContext& pc) {
  const int64_t v = pc.attrs().get_int("padding", static_cast<int64_t>(ir::Padding::same));
  pc.require(
      v == static_cast<int64_t>(ir::Padding::same) || v == static_cast<int64_t>(ir::Padding::valid),
      "padding " + std::to_string(v) + " is neither SAME (0) nor VALID (1)");
  return static_cast<ir::Padding>(v);
}

int activation_attr(const PrepareContext& pc) {
  return static_cast<int>(pc.attrs().get_int("fused_activation_function", 0));
}

ActivationRangeF float_activation(const PrepareContext& pc, int activation) {
  try {
    return kernels::activation_range_float(activation);
  } catch (const Error& e) {
    pc.fail(e.what());
  }
}

RequantParams requant_params(const PrepareContext& pc, const ir::Tensor& input,
                             const ir::Tensor& weights, const ir::Tensor* bias,
                             const ir::Tensor& output, int activation, int channel_axis,
                             MultiplierRule rule) {
  try {
    return derive_requant_params(input, weights, bias, output, activation, channel_axis, rule);
  } catch (const Error& e) {
    pc.fail(e.what());
  }
}

// The dtype combinations of CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV and FULLY_CONNECTED.
enum class Kind { f32, i8, u8, i16x8 };

Kind weighted_op_kind(const PrepareContext& pc, const ir::Tensor& input, const ir::Tensor& weights,
                      const ir::Tensor& output) {
  using ir::DType;
  pc.require(output.dtype == input.dtype,
             std::string("output dtype ") + ir::dtype_name(output.dtype) +
                 " differs from input dtype " + ir::dtype_name(input.dtype));
  if (input.dtype == DType::f32 && weights.dtype == DType::f32) return Kind::f32;
  if (input.dtype == DType::i8 && weights.dtype == DType::i8) return Kind::i8;
  if (input.dtype == DType::u8 && weights.dtype == DType::u8) return Kind::u8;
  if (input.dtype == DType::i16 && weights.dtype == DType::i8) return Kind::i16x8;
  pc.fail(std::string("input ") + ir::dtype_name(input.dtype) + " with weights " +
          ir::dtype_name(weights.dtype) +
          " is not supported (float32, int8 x int8, uint8 x uint8, int16 x int8)");
}

// Bias: float32 for float, int32 for 8-bit, int64 for 16x8 (TFLite's types); one value per
// output channel.
void check_bias(const PrepareContext& pc, Kind kind, const ir::Tensor* bias, int channels) {
  if (!bias) return;
  const ir::DType want = kind == Kind::f32     ? ir::DType::f32
                         : kind == Kind::i16x8 ? ir::DType::i64
                                               : ir::DType::i32;
  pc.require(bias->dtype == want, std::string("bias must be ") + ir::dtype_name(want) +
                                      " for these dtypes, is " + ir::dtype_name(bias->dtype));
  pc.require(bias->num_elements() == channels, "bias has " + std::to_string(bias->num_elements()) +
                                                   " elements for " + std::to_string(channels) +
                                                   " output channels");
}

// ---------------------------------------------------------------------------------------
// CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV share their kernel signatures, so one
// setup and one RunFn builder serve all three.

template <typename In, typename W, typename B>
using QuantConvKernel = void (*)(const kernels::ConvParams&, const RequantParams&, const Shape&,
                                 const In*, const Shape&, const W*, const B*, const Shape&, In*);
using FloatConvKernel = void (*)(const kernels::ConvParams&, ActivationRangeF, const Shape&,
                                 const float*, const Shape&, const float*, const float*,
                                 const Shape&, float*);

struct ConvKernels {
  QuantConvKernel<int8_t, int8_t, int32_t> i8;
  QuantConvKernel<uint8_t, uint8_t, int32_t> u8;
  QuantConvKernel<int16_t, int8_t, int64_t> i16x8;
  FloatConvKernel f32;
};

struct ConvSetup {
  Kind kind = Kind::f32;
  size_t input = 0, weights = 1, bias = 2;  // operand positions
  bool has_bias = false;
  kernels::ConvParams params;
  RequantParams rq;        // quantized kinds
  ActivationRangeF act{};  // float
  Shape input_shape, filter_shape, output_shape;
};

template <typename In, typename W, typename B>
RunFn quantized_conv_run(QuantConvKernel<In, W, B> kernel, const ConvSetup& s) {
  return [kernel, s](ExecContext& ec) {
    kernel(s.params, s.rq, s.input_shape, ec.input<In>(s.input), s.filter_shape,
           ec.input<W>(s.weights), s.has_bias ? ec.input<B>(s.bias) : nullptr, s.output_shape,
           ec.output<In>(0));
  };
}

RunFn conv_run(const ConvKernels& k, const ConvSetup& s) {
  switch (s.kind) {
    case Kind::i8: return quantized_conv_run(k.i8, s);
    case Kind::u8: return quantized_conv_run(k.u8, s);
    case Kind::i16x8: return quantized_conv_run(k.i16x8, s);
    case Kind::f32: break;
  }
  FloatConvKernel kernel = k.f32;
  return [kernel, s](ExecContext& ec) {
    kernel(s.params, s.act, s.input_shape, ec.input<float>(s.input), s.filter_shape,
           ec.input<float>(s.weights), s.has_bias ? ec.input<float>(s.bias) : nullptr,
           s.output_shape, ec.output<float>(0));
  };
}

// Dtypes, bias and quantization of a conv-family operator; `channel_axis` is the weights'
// output-channel dimension.
void setup_conv_quantization(const PrepareContext& pc, ConvSetup& s, int activation,
                             int channel_axis) {
  const ir::Tensor& input = pc.input(s.input);
  const ir::Tensor& weights = pc.input(s.weights);
  const ir::Tensor& output = pc.output(0);
  const ir::Tensor* bias = s.has_bias ? &pc.input(s.bias) : nullptr;
  s.kind = weighted_op_kind(pc, input, weights, output);
  check_bias(pc, s.kind, bias, weights.shape[static_cast<size_t>(channel_axis)]);
  if (s.kind == Kind::f32) {
    s.act = float_activation(pc, activation);
    return;
  }
  const MultiplierRule rule = multiplier_rule(pc.op().type, input, weights);
  s.rq = requant_params(pc, input, weights, bias, output, activation, channel_axis, rule);
  s.params.input_offset = static_cast<int32_t>(-zero_point(input));
  s.params.weight_offset = s.kind == Kind::u8 ? static_cast<int32_t>(-zero_point(weights)) : 0;
}

// Strides, dilations and padding of CONV_2D / DEPTHWISE_CONV_2D; returns the output's
// spatial size and sets the padding.
struct Spatial {
  int out_h = 0, out_w = 0;
};

Spatial setup_conv_window(const PrepareContext& pc, ConvSetup& s, int in_h, int in_w, int k_h,
                          int k_w) {
  const ir::Padding padding = padding_attr(pc);
  kernels::ConvParams& p = s.params;
  p.stride_h = positive_attr(pc, "stride_h", 0);
  p.stride_w = positive_attr(pc, "stride_w", 0);
  p.dilation_h = positive_attr(pc, "dilation_h_factor", 1);
  p.dilation_w = positive_attr(pc, "dilation_w_factor", 1);
  Spatial out;
  out.out_h = conv_output_size(padding, in_h, k_h, p.stride_h, p.dilation_h);
  out.out_w = conv_output_size(padding, in_w, k_w, p.stride_w, p.dilation_w);
  pc.require(out.out_h > 0 && out.out_w > 0, "the dilated " + std::to_string(k_h) + "x" +
                                                 std::to_string(k_w) + " filter does not fit the " +
                                                 std::to_string(in_h) + "x" + std::to_string(in_w) +
                                                 " input with VALID padding");
  p.pad_top = conv_padding(in_h, k_h, p.stride_h, p.dilation_h, out.out_h).before;
  p.pad_left = conv_padding(in_w, k_w, p.stride_w, p.dilation_w, out.out_w).before;
  return out;
}

const ConvKernels kConv2D{kernels::conv_2d, kernels::conv_2d, kernels::conv_2d, kernels::conv_2d};
const ConvKernels kDepthwise{kernels::depthwise_conv_2d, kernels::depthwise_conv_2d,
                             kernels::depthwise_conv_2d, kernels::depthwise_conv_2d};
const ConvKernels kTransposeConv{kernels::transpose_conv, kernels::transpose_conv,
                                 kernels::transpose_conv, kernels::transpose_conv};

// CONV_2D: input [N,H,W,Cin], weights OHWI [Cout,KH,KW,Cin/groups], optional bias [Cout].
RunFn prepare_conv_2d(const PrepareContext& pc) {
  pc.require_arity(2, 3, 1);
  ConvSetup s;
  s.has_bias = pc.has_input(2);
  const ir::Tensor& input = pc.input(0);
  const ir::Tensor& weights = pc.input(1);
  require_rank(pc, input, "input", 4);
  require_rank(pc, weights, "weights", 4);
  const int in_c = input.shape[3];
  const int out_c = weights.shape[0], k_h = weights.shape[1], k_w = weights.shape[2],
            k_c = weights.shape[3];
  pc.require(k_c > 0 && in_c % k_c == 0, "input channels " + std::to_string(in_c) +
                                             " are not a multiple of the weights' input channels " +
                                             std::to_string(k_c));
  const int groups = in_c / k_c;
  pc.require(out_c % groups == 0, "output channels " + std::to_string(out_c) +
                                      " are not a multiple of the " + std::to_string(groups) +
                                      " groups");
  const Spatial out = setup_conv_window(pc, s, input.shape[1], input.shape[2], k_h, k_w);
  require_output_shape(pc, {input.shape[0], out.out_h, out.out_w, out_c});
  setup_conv_quantization(pc, s, activation_attr(pc), 0);
  s.input_shape = Shape::of(input.shape);
  s.filter_shape = Shape::of(weights.shape);
  s.output_shape = Shape::of(pc.output(0).shape);
  return conv_run(kConv2D, s);
}

// DEPTHWISE_CONV_2D: input [N,H,W,Cin], weights [1,KH,KW,Cin*M], optional bias [Cin*M].
// The depth multiplier M is taken from the shapes, as TFLite's kernels do (they ignore the
// depth_multiplier option, which some converters leave inconsistent).
RunFn prepare_depthwise_conv_2d(const PrepareContext& pc) {
  pc.require_arity(2, 3, 1);
  ConvSetup s;
  s.has_bias = pc.has_input(2);
  const ir::Tensor& input = pc.input(0);
  const ir::Tensor& weights = pc.input(1);
  require_rank(pc, input, "input", 4);
  require_rank(pc, weights, "weights", 4);
  pc.require(weights.shape[0] == 1,
             "weights must have shape [1, KH, KW, channels], have " + shape_str(weights.shape));
  const int in_c = input.shape[3], out_c = weights.shape[3];
  pc.require(in_c > 0 && out_c % in_c == 0, "weight channels " + std::to_string(out_c) +
                                                " are not a multiple of the input channels " +
                                                std::to_string(in_c));
  const Spatial out =
      setup_conv_window(pc, s, input.shape[1], input.shape[2], weights.shape[1], weights.shape[2]);
  require_output_shape(pc, {input.shape[0], out.out_h, out.out_w, out_c});
  setup_conv_quantization(pc, s, activation_attr(pc), 3);
  s.input_shape = Shape::of(input.shape);
  s.filter_shape = Shape::of(weights.shape);
  s.output_shape = Shape::of(pc.output(0).shape);
  return conv_run(kDepthwise, s);
}

// TRANSPOSE_CONV: inputs (output_shape int32[4], weights OHWI [Cout,KH,KW,Cin], input
// [N,H,W,Cin], optional bias [Cout]). The padding is TFLite's: that of a convolution
// from the output size, with no dilation.
RunFn prepare_transpose_conv(const PrepareContext& pc) {
  pc.require_arity(3, 4, 1);
  ConvSetup s;
  s.input = 2;
  s.weights = 1;
  s.bias = 3;
  s.has_bias = pc.has_input(3);
  const ir::Tensor& shape_tensor = pc.input(0);
  const ir::Tensor& weights = pc.input(1);
  const ir::Tensor& input = pc.input(2);
  pc.require(shape_tensor.dtype == ir::DType::i32 && shape_tensor.rank() == 1 &&
                 shape_tensor.num_elements() == 4,
             "output_shape must be an int32 vector of 4 elements");
  pc.require(shape_tensor.is_constant,
             "output_shape must be a constant (the output shape is fixed at load time)");
  require_rank(pc, weights, "weights", 4);
  require_rank(pc, input, "input", 4);
  const int32_t* dims = shape_tensor.data_as<int32_t>();
  const std::vector<int32_t> declared(dims, dims + 4);
  require_output_shape(pc, declared);
  pc.require(input.shape[3] == weights.shape[3],
             "input channels " + std::to_string(input.shape[3]) +
                 " differ from the weights' input channels " + std::to_string(weights.shape[3]));
  pc.require(declared[0] == input.shape[0] && declared[3] == weights.shape[0],
             "output_shape " + shape_str(declared) + " must have the input's batch " +
                 std::to_string(input.shape[0]) + " and the weights' output channels " +
                 std::to_string(weights.shape[0]));
  const ir::Padding padding = padding_attr(pc);
  kernels::ConvParams& p = s.params;
  p.stride_h = positive_attr(pc, "stride_h", 0);
  p.stride_w = positive_attr(pc, "stride_w", 0);
  const int k_h = weights.shape[1], k_w = weights.shape[2];
  p.pad_top = conv_padding(declared[1], k_h, p.stride_h, 1,
                           conv_output_size(padding, declared[1], k_h, p.stride_h, 1))
                  .before;
  p.pad_left = conv_padding(declared[2], k_w, p.stride_w, 1,
                            conv_output_size(padding, declared[2], k_w, p.stride_w, 1))
                   .before;
  // Older op versions have no fused_activation_function; absent means NONE.
  setup_conv_quantization(pc, s, activation_attr(pc), 0);
  s.input_shape = Shape::of(input.shape);
  s.filter_shape = Shape::of(weights.shape);
  s.output_shape = Shape::of(declared);
  return conv_run(kTransposeConv, s);
}

// ---------------------------------------------------------------------------------------
// FULLY_CONNECTED: input [..., depth] (any shape whose size is a multiple of depth),
// weights [units, depth], optional bias [units]. Output [batches, units], or with
// keep_num_dims the input's shape with the last dimension replaced by units.
RunFn prepare_fully_connected(const PrepareContext& pc) {
  pc.require_arity(2, 3, 1);
  const int64_t format = pc.attrs().get_int("weights_format", 0);
  pc.require(format == 0, format == 1
                              ? "weights_format SHUFFLED4x16INT8 is not supported (only DEFAULT)"
                              : "unknown weights_format " + std::to_string(format));
  const ir::Tensor& input = pc.input(0);
  const ir::Tensor& weights = pc.input(1);
  const ir::Tensor& output = pc.output(0);
  const ir::Tensor* bias = optional_input(pc, 2);
  require_rank(pc, weights, "weights", 2);
  kernels::FullyConnectedParams p;
  p.units = weights.shape[0];
  p.depth = weights.shape[1];
  const int64_t size = input.num_elements();
  pc.require(p.depth > 0 && size % p.depth == 0,
             "input shape " + shape_str(input.shape) +
                 " does not split into rows of the weights' depth " + std::to_string(p.depth));
  p.batches = static_cast<int>(size / p.depth);
  std::vector<int32_t> expected;
  if (pc.attrs().get_int("keep_num_dims", 0) != 0) {
    pc.require(input.rank() >= 1 && input.shape.back() == p.depth,
               "with keep_num_dims the input's last dimension must be the weights' depth " +
                   std::to_string(p.depth) + ", input shape is " + shape_str(input.shape));
    expected = input.shape;
    expected.back() = p.units;
  } else {
    expected = {p.batches, p.units};
  }
  require_output_shape(pc, expected);

  const Kind kind = weighted_op_kind(pc, input, weights, output);
  check_bias(pc, kind, bias, p.units);
  const int activation = activation_attr(pc);
  const bool has_bias = bias != nullptr;
  if (kind == Kind::f32) {
    const ActivationRangeF act = float_activation(pc, activation);
    return [p, act, has_bias](ExecContext& ec) {
      kernels::fully_connected(p, act, ec.input<float>(0), ec.input<float>(1),
                               has_bias ? ec.input<float>(2) : nullptr, ec.output<float>(0));
    };
  }
  const MultiplierRule rule = multiplier_rule(ir::OpType::FULLY_CONNECTED, input, weights);
  const RequantParams rq = requant_params(pc, input, weights, bias, output, activation, 0, rule);
  p.input_offset = static_cast<int32_t>(-zero_point(input));
  p.weight_offset = static_cast<int32_t>(-zero_point(weights));
  switch (kind) {
    case Kind::i8:
      return [p, rq, has_bias](ExecContext& ec) {
        kernels::fully_connected(p, rq, ec.input<int8_t>(0), ec.input<int8_t>(1),
                                 has_bias ? ec.input<int32_t>(2) : nullptr, ec.output<int8_t>(0));
      };
    case Kind::u8:
      return [p, rq, has_bias](ExecContext& ec) {
        kernels::fully_connected(p, rq, ec.input<uint8_t>(0), ec.input<uint8_t>(1),
                                 has_bias ? ec.input<int32_t>(2) : nullptr, ec.output<uint8_t>(0));
      };
    case Kind::i16x8:
    case Kind::f32: break;
  }
  return [p, rq, has_bias](ExecContext& ec) {
    kernels::fully_connected(p, rq, ec.input<int16_t>(0), ec.input<int8_t>(1),
                             has_bias ? ec.input<int64_t>(2) : nullptr, ec.output<int16_t>(0));
  };
}

// ---------------------------------------------------------------------------------------
// BATCH_MATMUL: lhs [..., r, c], rhs [..., r, c], rank 2 to 5, batch dimensions
// broadcast; int8, int16 (TFLite's 16-bit path with int64 accumulation) and float32.
RunFn prepare_batch_matmul(const PrepareContext& pc) {
  pc.require_arity(2, 2, 1);
  const ir::Tensor& lhs = pc.input(0);
  const ir::Tensor& rhs = pc.input(1);
  const ir::Tensor& output = pc.output(0);
  pc.require(lhs.rank() >= 2 && lhs.rank() <= 5 && rhs.rank() >= 2 && rhs.rank() <= 5,
             "operands must have rank 2 to 5, have shapes " + shape_str(lhs.shape) + " and " +
                 shape_str(rhs.shape));
  pc.require(lhs.dtype == rhs.dtype && lhs.dtype == output.dtype &&
                 (lhs.dtype == ir::DType::f32 || lhs.dtype == ir::DType::i8 ||
                  lhs.dtype == ir::DType::i16),
             std::string("operands ") + ir::dtype_name(lhs.dtype) + " x " +
                 ir::dtype_name(rhs.dtype) + " -> " + ir::dtype_name(output.dtype) +
                 " are not supported (float32, int8 or int16 throughout)");
  kernels::BatchMatMulParams p;
  p.adj_x = pc.attrs().get_int("adj_x", 0) != 0;
  p.adj_y = pc.attrs().get_int("adj_y", 0) != 0;
  const size_t lr = lhs.shape.size(), rr = rhs.shape.size();
  const int rows = p.adj_x ? lhs.shape[lr - 1] : lhs.shape[lr - 2];
  const int lhs_depth = p.adj_x ? lhs.shape[lr - 2] : lhs.shape[lr - 1];
  const int rhs_depth = p.adj_y ? rhs.shape[rr - 1] : rhs.shape[rr - 2];
  const int cols = p.adj_y ? rhs.shape[rr - 2] : rhs.shape[rr - 1];
  pc.require(lhs_depth == rhs_depth, "contraction sizes differ: lhs " + shape_str(lhs.shape) +
                                         (p.adj_x ? " (adjoint)" : "") + " and rhs " +
                                         shape_str(rhs.shape) + (p.adj_y ? " (adjoint)" : ""));
  // Broadcast the batch dimensions, aligned from the right.
  const size_t batch_rank = std::max(lr, rr) - 2;
  std::vector<int32_t> expected(batch_rank);
  for (size_t i = 0; i < batch_rank; ++i) {
    const size_t from_right = batch_rank - i;  // 1 = the last batch dimension
    const int32_t l = from_right <= lr - 2 ? lhs.shape[lr - 2 - from_right] : 1;
    const int32_t r = from_right <= rr - 2 ? rhs.shape[rr - 2 - from_right] : 1;
    pc.require(l == r || l == 1 || r == 1, "batch dimensions of " + shape_str(lhs.shape) + " and " +
                                               shape_str(rhs.shape) + " do not broadcast");
    expected[i] = l == 1 ? r : l;
  }
  expected.push_back(rows);
  expected.push_back(cols);
  require_output_shape(pc, expected);
  const Shape ls = Shape::of(lhs.shape), rs = Shape::of(rhs.shape), os = Shape::of(output.shape);
  if (lhs.dtype == ir::DType::f32) {
    return [p, ls, rs, os](ExecContext& ec) {
      kernels::batch_matmul(p, ls, ec.input<float>(0), rs, ec.input<float>(1), os,
                            ec.output<float>(0));
    };
  }
  // One multiplier, TFLite's GetQuantizedConvolutionMultipler; no activation.
  const RequantParams rq = requant_params(pc, lhs, rhs, nullptr, output, 0, -1,
                                          multiplier_rule(ir::OpType::BATCH_MATMUL, lhs, rhs));
  p.lhs_offset = static_cast<int32_t>(-zero_point(lhs));
  p.rhs_offset = static_cast<int32_t>(-zero_point(rhs));
  if (lhs.dtype == ir::DType::i8) {
    return [p, rq, ls, rs, os](ExecContext& ec) {
      kernels::batch_matmul(p, rq, ls, ec.input<int8_t>(0), rs, ec.input<int8_t>(1), os,
                            ec.output<int8_t>(0));
    };
  }
  return [p, rq, ls, rs, os](ExecContext& ec) {
    kernels::batch_matmul(p, rq, ls, ec.input<int16_t>(0), rs, ec.input<int16_t>(1), os,
                          ec.output<int16_t>(0));
  };
}

// ---------------------------------------------------------------------------------------
// AVERAGE_POOL_2D and MAX_POOL_2D.

enum class PoolKind { average, max };

template <typename T>
RunFn quantized_pool_run(PoolKind kind, const kernels::PoolParams& p, kernels::ActivationRange act,
                         const Shape& is, const Shape& os) {
  if (kind == PoolKind::average)
    return [p, act, is, os](ExecContext& ec) {
      kernels::average_pool_2d(p, act, is, ec.input<T>(0), os, ec.output<T>(0));
    };
  return [p, act, is, os](ExecContext& ec) {
    kernels::max_pool_2d(p, act, is, ec.input<T>(0), os, ec.output<T>(0));
  };
}

RunFn prepare_pool(const PrepareContext& pc, PoolKind kind) {
  pc.require_arity(1, 1, 1);
  const ir::Tensor& input = pc.input(0);
  const ir::Tensor& output = pc.output(0);
  require_rank(pc, input, "input", 4);
  using ir::DType;
  pc.require(
      input.dtype == output.dtype && (input.dtype == DType::f32 || input.dtype == DType::i8 ||
                                      input.dtype == DType::u8 || input.dtype == DType::i16),
      std::string("input ") + ir::dtype_name(input.dtype) + " -> output " +
          ir::dtype_name(output.dtype) +
          " is not supported (float32, int8, uint8 or int16, the same for both)");
  const ir::Padding padding = padding_attr(pc);
  kernels::PoolParams p;
  p.stride_h = positive_attr(pc, "stride_h", 0);
  p.stride_w = positive_attr(pc, "stride_w", 0);
  p.filter_h = positive_attr(pc, "filter_height", 0);
  p.filter_w = positive_attr(pc, "filter_width", 0);
  const int in_h = input.shape[1], in_w = input.shape[2];
  const int out_h = conv_output_size(padding, in_h, p.filter_h, p.stride_h, 1);
  const int out_w = conv_output_size(padding, in_w, p.filter_w, p.stride_w, 1);
  pc.require(out_h > 0 && out_w > 0, "the " + std::to_string(p.filter_h) + "x" +
                                         std::to_string(p.filter_w) + " window does not fit the " +
                                         std::to_string(in_h) + "x" + std::to_string(in_w) +
                                         " input with VALID padding");
  require_output_shape(pc, {input.shape[0], out_h, out_w, input.shape[3]});
  // Every window has a tap inside the input, as the kernels require: the padding before
  // is less than the filter, and (out - 1) * stride < in puts the last window's start
  // inside.
  p.pad_top = conv_padding(in_h, p.filter_h, p.stride_h, 1, out_h).before;
  p.pad_left = conv_padding(in_w, p.filter_w, p.stride_w, 1, out_w).before;
  const int activation = activation_attr(pc);
  const Shape is = Shape::of(input.shape), os = Shape::of(output.shape);
  if (input.dtype == DType::f32) {
    const ActivationRangeF act = float_activation(pc, activation);
    if (kind == PoolKind::average)
      return [p, act, is, os](ExecContext& ec) {
        kernels::average_pool_2d(p, act, is, ec.input<float>(0), os, ec.output<float>(0));
      };
    return [p, act, is, os](ExecContext& ec) {
      kernels::max_pool_2d(p, act, is, ec.input<float>(0), os, ec.output<float>(0));
    };
  }
  // Pools work on stored values, so input and output must share their quantization
  // (TFLite asserts it).
  try {
    check_activation_quant(input, "input");
    check_activation_quant(output, "output");
  } catch (const Error& e) {
    pc.fail(e.what());
  }
  const float s_in = input.quant.scale[0], s_out = output.quant.scale[0];
  pc.require(std::abs(s_in - s_out) <= 1.0e-6f && zero_point(input) == zero_point(output),
             "input (scale " + num(static_cast<double>(s_in)) + ", zero point " +
                 std::to_string(zero_point(input)) + ") and output (scale " +
                 num(static_cast<double>(s_out)) + ", zero point " +
                 std::to_string(zero_point(output)) + ") must share their quantization");
  pc.require(input.dtype != DType::i16 || zero_point(input) == 0,
             "int16 input needs zero point 0, has " + std::to_string(zero_point(input)));
  kernels::ActivationRange act{};
  try {
    act = output_activation_range(activation, output);
  } catch (const Error& e) {
    pc.fail(e.what());
  }
  switch (input.dtype) {
    case DType::i8: return quantized_pool_run<int8_t>(kind, p, act, is, os);
    case DType::u8: return quantized_pool_run<uint8_t>(kind, p, act, is, os);
    default: return quantized_pool_run<int16_t>(kind, p, act, is, os);
  }
}

RunFn prepare_average_pool_2d(const PrepareContext& pc) {
  return prepare_pool(pc, PoolKind::average);
}
RunFn prepare_max_pool_2d(const PrepareContext& pc) { return prepare_pool(pc, PoolKind::max); }

}  // namespace

void register_ref_conv_ops(OpRegistry& r) {
  r.add(ir::OpType::CONV_2D, prepare_conv_2d);
  r.add(ir::OpType::DEPTHWISE_CONV_2D, prepare_depthwise_conv_2d);
  r.add(ir::OpType::TRANSPOSE_CONV, prepare_transpose_conv);
  r.add(ir::OpType::FULLY_CONNECTED, prepare_fully_connected);
  r.add(ir::OpType::BATCH_MATMUL, prepare_batch_matmul);
  r.add(ir::OpType::AVERAGE_POOL_2D, prepare_average_pool_2d);
  r.add(ir::OpType::MAX_POOL_2D, prepare_max_pool_2d);
}

}  // namespace tessel::cpu
