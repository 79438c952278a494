#pragma once
// Prepare-time parameters of the conv group (CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV,
// FULLY_CONNECTED, BATCH_MATMUL, pools), derived exactly as TFLite's Prepare functions
// derive them. Every implementation of these operators (the reference bindings in
// runtime/cpu/ops/conv_ops.cpp, the fast path, the NPU lowering) should call these, so
// that they all requantize with the same integers.
//
// Contract:
// - The functions read tensor metadata only (dtype, shape, quantization), never data.
// - They throw tessel::Error whose message names the tensor's role ("input", "weights",
//   "bias", "output") and what is wrong, but not the operator; a binding prefixes it
//   (PrepareContext::fail does).
// - Implemented in runtime/cpu/ops/conv_ops.cpp (library tessel_ops_conv).

#include "tessel/ir/graph.hpp"
#include "tessel/kernels/conv.hpp"
#include "tessel/kernels/quant.hpp"

namespace tessel::cpu {

// TFLite's ComputeOutSize for one spatial dimension: ceil(in / stride) for SAME,
// ceil((in - effective_filter + 1) / stride) for VALID, where effective_filter =
// (filter - 1) * dilation + 1. The result is <= 0 when a VALID window does not fit.
int conv_output_size(ir::Padding padding, int in_size, int filter_size, int stride, int dilation);

// TFLite's ComputePaddingWithOffset. The total padding (out - 1) * stride +
// effective_filter - in (or 0 if negative) is split with the odd element after:
// `before` is TFLite's padding value, `after` = before + (total % 2). Reference kernels
// only need `before` (their bounds checks leave out whatever lies after the input);
// explicit-padding implementations need both.
struct PaddingSpan {
  int before = 0;
  int after = 0;
};
PaddingSpan conv_padding(int in_size, int filter_size, int stride, int dilation, int out_size);

// The two ways TFLite turns scales into a requantization multiplier.
enum class MultiplierRule {
  // The per-channel arrays of PopulateConvolutionQuantizationParams, used by the int8 and
  // int16 kernels of CONV_2D, DEPTHWISE_CONV_2D and TRANSPOSE_CONV (per-tensor weights
  // broadcast to every channel) and by FULLY_CONNECTED with per-channel weights:
  //   real[c] = double(s_in) * double(s_w[c]) / double(s_out).
  // Those kernels ignore the weight zero point, so it must be 0.
  per_channel,
  // GetQuantizedConvolutionMultipler, used by the uint8 conv kernels, FULLY_CONNECTED with
  // per-tensor weights (every dtype) and BATCH_MATMUL:
  //   real = double(float(s_in * s_w)) / double(s_out)   (the product rounded to float),
  // with TFLite's check that a bias scale is within 2% of an output step of s_in * s_w.
  float_product,
};

// The rule TFLite's kernel for `op` uses with these dtypes: float_product for uint8
// CONV_2D / DEPTHWISE_CONV_2D / TRANSPOSE_CONV, for FULLY_CONNECTED with per-tensor weights
// (or uint8 activations) and for BATCH_MATMUL; per_channel otherwise. Throws for operators
// outside the conv group.
MultiplierRule multiplier_rule(ir::OpType op, const ir::Tensor& input, const ir::Tensor& weights);

// QuantizeMultiplier of the per-channel real multiplier above.
kernels::QuantizedMultiplier per_channel_multiplier(float input_scale, float weight_scale,
                                                    float output_scale);
// QuantizeMultiplier of the float-product real multiplier above.
kernels::QuantizedMultiplier float_product_multiplier(float input_scale, float weight_scale,
                                                      float output_scale);

// TFLite's CalculateActivationRangeQuantized for a quantized int8, uint8 or int16 output.
// Throws for an activation with no quantized form (TANH, SIGN_BIT).
kernels::ActivationRange output_activation_range(int activation, const ir::Tensor& output);

// The whole requantization of a conv-like operator, as TFLite's Prepare computes it:
// one multiplier and shift per output channel (channel count = weights.shape[channel_axis],
// or 1 when channel_axis < 0), the output zero point, and the activation range. Checks
// what TFLite checks or relies on: input and output quantized per tensor with positive
// finite scales, zero points inside their dtype's range, weights quantized per tensor or
// (per_channel rule only) along channel_axis with one scale per channel, zero weight zero
// points where the rule needs them, a bias with zero point 0 and (float_product rule) a
// scale matching s_in * s_w, and for int16 activations TFLite's 16x8 constraints (zero
// points 0 everywhere, multipliers below 2^7 for the 64-bit requantization).
// `bias` may be null.
kernels::RequantParams derive_requant_params(const ir::Tensor& input, const ir::Tensor& weights,
                                             const ir::Tensor* bias, const ir::Tensor& output,
                                             int activation, int channel_axis, MultiplierRule rule);

}  // namespace tessel::cpu
