#pragma once
// Reference kernels of the sequence group: SVDF and UNIDIRECTIONAL_SEQUENCE_LSTM, with
// TensorFlow Lite Micro's reference semantics (svdf_common.cc; lstm_eval.h/.cc and
// lstm_eval_common.cc, the 2023 rewrite of its LSTM kernel).
//
// Contract:
// - State tensors (SVDF activation state, LSTM hidden and cell state) are read and updated
//   in place; everything else is read-only. A kernel call is one invocation of the
//   operator: the caller keeps the state between calls to continue the sequence.
// - Parameters (multipliers, zero points, clips) are precomputed by the caller exactly as
//   TFLite Micro's Prepare does; kernels do not validate anything.
// - Integer accumulators are int32 in TFLite Micro, and wrap on overflow on every target
//   it runs on; these kernels accumulate exactly and reduce modulo 2^32 at the same points,
//   which gives the same bytes without signed-overflow UB. (Realistic models never get
//   near the bounds given in the comments.)
// - Float kernels perform the same float operations in the same order as TFLite Micro
//   (the library is built with -ffp-contract=off), so their results are bit-identical on
//   the same libm.

#include <cstdint>

#include "tessel/kernels/quant.hpp"

namespace tessel::kernels {

// ---------------------------------------------------------------------------------------
// SVDF: a rank-`rank` factorisation of a fully connected layer over a time window.
//
//   state[b][f][0 .. memory-2] <- state[b][f][1 .. memory-1]        (age by one step)
//   state[b][f][memory-1]      <- sum_i weights_feature[f][i] * input[b][i]
//   output[b][u]               <- act(bias[u] + sum_{r<rank} sum_m weights_time[f][m] *
//                                     state[b][f][m]),   f = u * rank + r
//
// Layouts: input [batches, input_size], weights_feature [num_filters, input_size],
// weights_time [num_filters, memory_size], bias [num_units] (optional),
// state [batches, num_filters * memory_size] (filter-major, newest entry last),
// output [batches, num_units].
struct SvdfDims {
  int32_t batches = 0;
  int32_t input_size = 0;
  int32_t num_filters = 0;  // num_units * rank
  int32_t rank = 1;
  int32_t memory_size = 0;

  int32_t num_units() const { return num_filters / rank; }
};

// Float SVDF. `activation` is the TFLite fused activation enum value (NONE, RELU,
// RELU_N1_TO_1, RELU6, TANH, SIGN_BIT); `bias` may be null.
void svdf_float(const SvdfDims& dims, int activation, const float* input,
                const float* weights_feature, const float* weights_time, const float* bias,
                float* state, float* output);

// Quantized SVDF parameters (TFLite Micro's PrepareSvdf):
//   feature_multiplier = input_scale * weights_feature_scale / state_scale
//   output_multiplier  = state_scale * weights_time_scale / output_scale
// (both products and quotients in float, then QuantizeMultiplier on the double value).
struct SvdfQuantParams {
  int32_t input_zero_point = 0;
  int32_t state_zero_point = 0;
  int32_t output_zero_point = 0;
  QuantizedMultiplier feature_multiplier;
  QuantizedMultiplier output_multiplier;
};

// Integer SVDF: int8 input, weights_feature and output, int32 bias (may be null), and
// weights_time and state both int16 (the usual "int8x16" model) or both int8. The new
// state entry is zp_state + requantized feature, saturated to the state type; the output
// is saturated to int8 and no fused activation is applied (TFLite Micro's integer kernel
// has none; the converter expresses RELU through the output range).
void svdf_quantized(const SvdfDims& dims, const SvdfQuantParams& params, const int8_t* input,
                    const int8_t* weights_feature, const int16_t* weights_time, const int32_t* bias,
                    int16_t* state, int8_t* output);
void svdf_quantized(const SvdfDims& dims, const SvdfQuantParams& params, const int8_t* input,
                    const int8_t* weights_feature, const int8_t* weights_time, const int32_t* bias,
                    int8_t* state, int8_t* output);

// ---------------------------------------------------------------------------------------
// UNIDIRECTIONAL_SEQUENCE_LSTM without CIFG, peephole, projection or layer norm (the only
// form TFLite Micro's kernel runs). Per time step and batch row, with h and c the hidden
// and cell state:
//
//   i = sigmoid(W_i x + R_i h + b_i)      f = sigmoid(W_f x + R_f h + b_f)
//   g = tanh(W_g x + R_g h + b_g)         o = sigmoid(W_o x + R_o h + b_o)
//   c <- clip(f * c + i * g)              h <- o * tanh(c)           output[t] = h
//
// Layouts: input [time, batch, input_size] when time_major, else [batch, time,
// input_size]; output likewise with state_size; weights W [state_size, input_size],
// R [state_size, state_size]; bias [state_size]; hidden and cell state
// [batch, state_size].
struct LstmDims {
  int32_t batches = 0;
  int32_t time_steps = 0;
  int32_t input_size = 0;
  int32_t state_size = 0;
  bool time_major = false;
};

template <typename Weight, typename Bias>
struct LstmGateWeights {
  const Weight* input_weights = nullptr;      // [state_size, input_size]
  const Weight* recurrent_weights = nullptr;  // [state_size, state_size]
  const Bias* bias = nullptr;                 // [state_size]
};

template <typename Weight, typename Bias>
struct LstmWeights {
  LstmGateWeights<Weight, Bias> input_gate;
  LstmGateWeights<Weight, Bias> forget_gate;
  LstmGateWeights<Weight, Bias> cell_gate;
  LstmGateWeights<Weight, Bias> output_gate;
};

// Float LSTM. cell_clip > 0 clips the cell state to [-cell_clip, cell_clip].
void lstm_float(const LstmDims& dims, float cell_clip, const LstmWeights<float, float>& weights,
                const float* input, float* hidden_state, float* cell_state, float* output);

// Integer LSTM parameters (TFLite Micro's PrepareGateParametersInteger). Every gate's two
// fully connected layers produce int16 in Q3.12 (scale 2^-12); sigmoid and tanh produce
// Q0.15 (scale 2^-15); the cell state is int16 with a power-of-two scale.
struct LstmGateQuant {
  // input_scale * weight_scale / 2^-12 (product in float, as GetQuantizedConvolutionMultipler)
  QuantizedMultiplier input_fc;
  // hidden_scale * weight_scale / 2^-12
  QuantizedMultiplier recurrent_fc;
};

struct LstmQuantParams {
  LstmGateQuant input_gate;
  LstmGateQuant forget_gate;
  LstmGateQuant cell_gate;
  LstmGateQuant output_gate;
  int32_t input_zero_point = 0;
  int32_t hidden_zero_point = 0;
  QuantizedMultiplier forget_times_cell;  // 2^-15 * cell_scale / cell_scale
  QuantizedMultiplier input_times_cell;   // 2^-15 * 2^-15 / cell_scale
  QuantizedMultiplier output_times_cell;  // 2^-15 * 2^-15 / hidden_scale
  int cell_scale_power = -15;             // cell_scale == 2^cell_scale_power
  int16_t quantized_cell_clip = 0;        // used when use_cell_clip
  bool use_cell_clip = false;
};

// 8x8->16 LSTM: int8 input, hidden state and output, int8 weights, int32 biases, int16 cell.
void lstm_int8(const LstmDims& dims, const LstmQuantParams& params,
               const LstmWeights<int8_t, int32_t>& weights, const int8_t* input,
               int8_t* hidden_state, int16_t* cell_state, int8_t* output);

// 16x8->16 LSTM: int16 input, hidden state and output (zero points 0), int8 weights, int64
// biases, int16 cell.
void lstm_int16(const LstmDims& dims, const LstmQuantParams& params,
                const LstmWeights<int8_t, int64_t>& weights, const int16_t* input,
                int16_t* hidden_state, int16_t* cell_state, int16_t* output);

// The LSTM's int16 nonlinearities (TFLite's LUT-based integer Logistic and Tanh, as TFLite
// Micro's LSTM calls them), exposed for testing:
//   lstm_sigmoid: x in Q3.12 -> sigmoid(x) in Q0.15;
//   lstm_tanh:    x with scale 2^input_scale_power -> tanh(x) in Q0.15
//                 (the gate uses input_scale_power = -12, the cell state its own power).
int16_t lstm_sigmoid(int16_t x);
int16_t lstm_tanh(int16_t x, int input_scale_power);

}  // namespace tessel::kernels
