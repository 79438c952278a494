#pragma once
// Prepare-time requantization parameters of operators outside the conv group, derived
// exactly as the CPU bindings derive them (which is how TFLite's Prepare functions do), so
// that every implementation — the reference bindings, the NPU lowering — requantizes
// with the same integers. (The conv group's are in conv_params.hpp.)
//
// Each function reads tensor metadata of the operator at `pc` and throws tessel::Error
// naming the operator if the operator is not one it handles or its quantization is not
// supported.

#include "tessel/cpu/op_registry.hpp"
#include "tessel/kernels/elementwise.hpp"
#include "tessel/kernels/quant.hpp"

namespace tessel::cpu {

// ADD or SUB with int8/uint8/int16 operands: TFLite's general quantized path (both
// inputs onto 2 * max(s1, s2) / 2^left_shift, then onto the output scale), the fused
// activation's range included. Implemented in elementwise_ops.cpp.
kernels::QuantizedAddParams add_sub_quant_params(const PrepareContext& pc);

// MUL with int8/uint8/int16 operands: QuantizeMultiplier(s1 * s2 / s_out) (in double as
// TFLite Micro for int8/int16, in float as full TFLite for uint8), the offsets and the
// fused activation's range. Implemented in elementwise_ops.cpp.
kernels::QuantizedMulParams mul_quant_params(const PrepareContext& pc);

// MEAN / SUM: QuantizeMultiplier(s_in / s_out), before MEAN folds in 1 / (reduced count).
// Implemented in quant_reduce_ops.cpp.
kernels::QuantizedMultiplier reduce_ratio_multiplier(const PrepareContext& pc);

// SOFTMAX with an 8-bit input and an output of the same type: every check the CPU
// binding makes (so the NPU refuses what the CPU would), then TFLite's
// PreprocessSoftmaxScaling parameters. Implemented in elementwise_ops.cpp.
kernels::SoftmaxParams softmax_quant_params(const PrepareContext& pc);

}  // namespace tessel::cpu
