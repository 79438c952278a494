// Operator bindings of the sequence group: IR operator -> validated kernel call.
//
// SVDF and UNIDIRECTIONAL_SEQUENCE_LSTM keep state between runs in variable tensors (an
// operator input with is_variable set); the RunFns update them in place through
// ExecContext::state and keep nothing else. Parameters are derived as TFLite Micro's
// Prepare derives them (svdf_common.cc PrepareSvdf; lstm_eval_common.cc
// UnidirectionalSequenceLstmPrepare), including where it computes in float.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tessel/cpu/op_registry.hpp"
#include "tessel/kernels/quant.hpp"
#include "tessel/kernels/sequence.hpp"

namespace tessel::cpu {

namespace {

using ir::DType;

std::string shape_str(const std::vector<int32_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// "weights_time 'svdf/wt'": how messages name an operator input.
std::string named(const char* role, const ir::Tensor& t) {
  return std::string(role) + " '" + t.name + "'";
}

void require_dtype(const PrepareContext& pc, const ir::Tensor& t, const char* role, DType want,
                   const std::string& context) {
  pc.require(t.dtype == want, context + ": " + named(role, t) + " must be " + ir::dtype_name(want) +
                                  ", is " + ir::dtype_name(t.dtype));
}

void require_shape(const PrepareContext& pc, const ir::Tensor& t, const char* role,
                   const std::vector<int32_t>& want) {
  pc.require(t.shape == want, named(role, t) + " must have shape " + shape_str(want) + ", has " +
                                  shape_str(t.shape));
}

void require_variable(const PrepareContext& pc, const ir::Tensor& t, const char* role) {
  pc.require(t.is_variable, named(role, t) +
                                " is not a variable tensor: the operator keeps its state "
                                "there between runs");
}

struct TensorQuant {
  float scale;
  int32_t zero_point;
};

TensorQuant per_tensor_quant(const PrepareContext& pc, const ir::Tensor& t, const char* role) {
  pc.require(t.quant.present(), named(role, t) + " has no quantization parameters");
  pc.require(!t.quant.per_channel(),
             named(role, t) + " is quantized per channel; only per-tensor is supported");
  const float scale = t.quant.scale[0];
  pc.require(scale > 0.0f && std::isfinite(scale),
             named(role, t) + " scale " + std::to_string(scale) + " is not positive and finite");
  return {scale, static_cast<int32_t>(t.quant.zero_point.at(0))};
}

// ---------------------------------------------------------------------------------------
// SVDF: inputs input, weights_feature, weights_time, bias (optional), activation_state
// (variable); attributes rank, fused_activation_function.

constexpr size_t kSvdfInput = 0;
constexpr size_t kSvdfWeightsFeature = 1;
constexpr size_t kSvdfWeightsTime = 2;
constexpr size_t kSvdfBias = 3;
constexpr size_t kSvdfState = 4;

RunFn prepare_svdf_float(const PrepareContext& pc, const kernels::SvdfDims& dims, int activation) {
  const std::string ctx = "float32 SVDF";
  require_dtype(pc, pc.input(kSvdfWeightsFeature), "weights_feature", DType::f32, ctx);
  require_dtype(pc, pc.input(kSvdfWeightsTime), "weights_time", DType::f32, ctx);
  require_dtype(pc, pc.input(kSvdfState), "activation_state", DType::f32, ctx);
  if (pc.has_input(kSvdfBias)) require_dtype(pc, pc.input(kSvdfBias), "bias", DType::f32, ctx);
  require_dtype(pc, pc.output(0), "output", DType::f32, ctx);
  pc.require(activation >= 0 && activation <= 5, "float32 SVDF: fused_activation_function " +
                                                     std::to_string(activation) +
                                                     " is not a TFLite activation");
  return [dims, activation](ExecContext& ec) {
    kernels::svdf_float(dims, activation, ec.input<float>(kSvdfInput),
                        ec.input<float>(kSvdfWeightsFeature), ec.input<float>(kSvdfWeightsTime),
                        ec.input<float>(kSvdfBias), ec.state<float>(kSvdfState),
                        ec.output<float>(0));
  };
}

RunFn prepare_svdf_int8(const PrepareContext& pc, const kernels::SvdfDims& dims, int activation) {
  const std::string ctx = "int8 SVDF";
  const ir::Tensor& input = pc.input(kSvdfInput);
  const ir::Tensor& weights_feature = pc.input(kSvdfWeightsFeature);
  const ir::Tensor& weights_time = pc.input(kSvdfWeightsTime);
  const ir::Tensor& state = pc.input(kSvdfState);
  const ir::Tensor& output = pc.output(0);
  require_dtype(pc, weights_feature, "weights_feature", DType::i8, ctx);
  pc.require(weights_time.dtype == DType::i16 || weights_time.dtype == DType::i8,
             ctx + ": " + named("weights_time", weights_time) + " must be int16 or int8, is " +
                 ir::dtype_name(weights_time.dtype));
  // TFLite Micro reads weights_time and the state with one element type.
  require_dtype(pc, state, "activation_state", weights_time.dtype,
                ctx + " with " + ir::dtype_name(weights_time.dtype) + " weights_time");
  require_dtype(pc, output, "output", DType::i8, ctx);
  // The integer kernel applies no activation (only the int8 saturation); TFLite's
  // converter emits RELU, expressed through the output's quantization range.
  pc.require(activation == 0 || activation == 1, ctx + ": fused_activation_function " +
                                                     std::to_string(activation) +
                                                     " is not supported (NONE or RELU)");

  const TensorQuant q_in = per_tensor_quant(pc, input, "input");
  const TensorQuant q_wf = per_tensor_quant(pc, weights_feature, "weights_feature");
  const TensorQuant q_wt = per_tensor_quant(pc, weights_time, "weights_time");
  const TensorQuant q_state = per_tensor_quant(pc, state, "activation_state");
  const TensorQuant q_out = per_tensor_quant(pc, output, "output");
  // The kernel does not subtract weight zero points (TFLite's weights are symmetric).
  pc.require(q_wf.zero_point == 0 && q_wt.zero_point == 0,
             ctx + ": weights must be symmetric (zero point 0)");
  // TFLite Micro's products and quotients are float; the bias check compares in double.
  const float state_times_time = q_state.scale * q_wt.scale;
  if (pc.has_input(kSvdfBias)) {
    const ir::Tensor& bias = pc.input(kSvdfBias);
    require_dtype(pc, bias, "bias", DType::i32, ctx);
    const TensorQuant q_bias = per_tensor_quant(pc, bias, "bias");
    pc.require(
        std::abs(static_cast<double>(q_bias.scale) - static_cast<double>(state_times_time)) < 1e-5,
        ctx + ": bias scale " + std::to_string(q_bias.scale) +
            " differs from activation_state scale * weights_time scale " +
            std::to_string(state_times_time));
  }
  kernels::SvdfQuantParams p;
  p.input_zero_point = q_in.zero_point;
  p.state_zero_point = q_state.zero_point;
  p.output_zero_point = q_out.zero_point;
  p.feature_multiplier =
      kernels::quantize_multiplier(static_cast<double>(q_in.scale * q_wf.scale / q_state.scale));
  p.output_multiplier =
      kernels::quantize_multiplier(static_cast<double>(state_times_time / q_out.scale));

  if (weights_time.dtype == DType::i16) {
    return [dims, p](ExecContext& ec) {
      kernels::svdf_quantized(dims, p, ec.input<int8_t>(kSvdfInput),
                              ec.input<int8_t>(kSvdfWeightsFeature),
                              ec.input<int16_t>(kSvdfWeightsTime), ec.input<int32_t>(kSvdfBias),
                              ec.state<int16_t>(kSvdfState), ec.output<int8_t>(0));
    };
  }
  return [dims, p](ExecContext& ec) {
    kernels::svdf_quantized(dims, p, ec.input<int8_t>(kSvdfInput),
                            ec.input<int8_t>(kSvdfWeightsFeature),
                            ec.input<int8_t>(kSvdfWeightsTime), ec.input<int32_t>(kSvdfBias),
                            ec.state<int8_t>(kSvdfState), ec.output<int8_t>(0));
  };
}

RunFn prepare_svdf(const PrepareContext& pc) {
  pc.require(pc.num_inputs() == 5 && pc.num_outputs() == 1,
             "expects 5 inputs (input, weights_feature, weights_time, bias, activation_state; "
             "bias may be absent) and 1 output, has " +
                 std::to_string(pc.num_inputs()) + " inputs and " +
                 std::to_string(pc.num_outputs()) + " outputs");
  for (size_t i : {kSvdfInput, kSvdfWeightsFeature, kSvdfWeightsTime})
    pc.require(pc.has_input(i), "required input " + std::to_string(i) + " is absent");
  pc.require(pc.has_input(kSvdfState),
             "activation_state (input 4) is absent: SVDF needs its variable state tensor");
  const ir::Tensor& input = pc.input(kSvdfInput);
  const ir::Tensor& weights_feature = pc.input(kSvdfWeightsFeature);
  const ir::Tensor& weights_time = pc.input(kSvdfWeightsTime);
  const ir::Tensor& state = pc.input(kSvdfState);
  const ir::Tensor& output = pc.output(0);
  require_variable(pc, state, "activation_state");

  pc.require(input.rank() == 2, named("input", input) +
                                    " must have rank 2 [batches, input_size], has shape " +
                                    shape_str(input.shape));
  pc.require(weights_feature.rank() == 2,
             named("weights_feature", weights_feature) +
                 " must have rank 2 [num_filters, input_size], has shape " +
                 shape_str(weights_feature.shape));
  pc.require(weights_time.rank() == 2,
             named("weights_time", weights_time) +
                 " must have rank 2 [num_filters, memory_size], has shape " +
                 shape_str(weights_time.shape));
  const int64_t rank = pc.attrs().get_int("rank", 0);
  kernels::SvdfDims dims;
  dims.batches = input.shape[0];
  dims.input_size = input.shape[1];
  dims.num_filters = weights_feature.shape[0];
  dims.memory_size = weights_time.shape[1];
  pc.require(rank >= 1 && rank <= dims.num_filters,
             "rank " + std::to_string(rank) +
                 " must be in [1, num_filters = " + std::to_string(dims.num_filters) + "]");
  dims.rank = static_cast<int32_t>(rank);
  pc.require(dims.num_filters % dims.rank == 0,
             "num_filters " + std::to_string(dims.num_filters) +
                 " (weights_feature dim 0) is not a multiple of rank " + std::to_string(rank));
  pc.require(dims.memory_size >= 1, "memory_size (weights_time dim 1) must be >= 1");
  const int32_t units = dims.num_units();
  require_shape(pc, weights_feature, "weights_feature", {dims.num_filters, dims.input_size});
  require_shape(pc, weights_time, "weights_time", {dims.num_filters, dims.memory_size});
  if (pc.has_input(kSvdfBias)) require_shape(pc, pc.input(kSvdfBias), "bias", {units});
  require_shape(pc, state, "activation_state", {dims.batches, dims.num_filters * dims.memory_size});
  require_shape(pc, output, "output", {dims.batches, units});

  const int activation = static_cast<int>(pc.attrs().get_int("fused_activation_function", 0));
  switch (input.dtype) {
    case DType::f32:
      pc.require(weights_feature.dtype == DType::f32,
                 "hybrid SVDF (float32 input, " +
                     std::string(ir::dtype_name(weights_feature.dtype)) +
                     " weights_feature) is not supported");
      return prepare_svdf_float(pc, dims, activation);
    case DType::i8: return prepare_svdf_int8(pc, dims, activation);
    default:
      pc.fail(std::string("input dtype ") + ir::dtype_name(input.dtype) +
              " is not supported (float32 or int8)");
  }
}

// ---------------------------------------------------------------------------------------
// UNIDIRECTIONAL_SEQUENCE_LSTM: TFLite's 24 inputs (models from older converters may list
// only the first 20); attributes fused_activation_function, cell_clip, proj_clip,
// time_major, diagonal_recurrent_tensors.

enum LstmInput : size_t {
  kInput = 0,
  kInputToInputWeights = 1,
  kInputToForgetWeights = 2,
  kInputToCellWeights = 3,
  kInputToOutputWeights = 4,
  kRecurrentToInputWeights = 5,
  kRecurrentToForgetWeights = 6,
  kRecurrentToCellWeights = 7,
  kRecurrentToOutputWeights = 8,
  kCellToInputWeights = 9,
  kCellToForgetWeights = 10,
  kCellToOutputWeights = 11,
  kInputGateBias = 12,
  kForgetGateBias = 13,
  kCellGateBias = 14,
  kOutputGateBias = 15,
  kProjectionWeights = 16,
  kProjectionBias = 17,
  kHiddenState = 18,  // TFLite's "output state"
  kCellState = 19,
  kInputLayerNorm = 20,
  kForgetLayerNorm = 21,
  kCellLayerNorm = 22,
  kOutputLayerNorm = 23,
};

constexpr const char* kLstmInputNames[24] = {"input",
                                             "input_to_input_weights",
                                             "input_to_forget_weights",
                                             "input_to_cell_weights",
                                             "input_to_output_weights",
                                             "recurrent_to_input_weights",
                                             "recurrent_to_forget_weights",
                                             "recurrent_to_cell_weights",
                                             "recurrent_to_output_weights",
                                             "cell_to_input_weights",
                                             "cell_to_forget_weights",
                                             "cell_to_output_weights",
                                             "input_gate_bias",
                                             "forget_gate_bias",
                                             "cell_gate_bias",
                                             "output_gate_bias",
                                             "projection_weights",
                                             "projection_bias",
                                             "output_state",
                                             "cell_state",
                                             "input_layer_norm_coefficients",
                                             "forget_layer_norm_coefficients",
                                             "cell_layer_norm_coefficients",
                                             "output_layer_norm_coefficients"};

constexpr size_t kGateInputWeights[4] = {kInputToInputWeights, kInputToForgetWeights,
                                         kInputToCellWeights, kInputToOutputWeights};
constexpr size_t kGateRecurrentWeights[4] = {kRecurrentToInputWeights, kRecurrentToForgetWeights,
                                             kRecurrentToCellWeights, kRecurrentToOutputWeights};
constexpr size_t kGateBias[4] = {kInputGateBias, kForgetGateBias, kCellGateBias, kOutputGateBias};

const ir::Tensor& lstm_input(const PrepareContext& pc, size_t i) {
  pc.require(pc.has_input(i),
             std::string(kLstmInputNames[i]) + " (input " + std::to_string(i) + ") is absent");
  return pc.input(i);
}

// TFLite Micro's kernel runs only the plain LSTM; name every variant the model uses.
void require_plain_lstm(const PrepareContext& pc) {
  std::string variants;
  auto note = [&](bool used, const char* what) {
    if (used) variants += (variants.empty() ? "" : ", ") + std::string(what);
  };
  note(!pc.has_input(kInputToInputWeights) || !pc.has_input(kRecurrentToInputWeights),
       "CIFG (input gate weights, inputs 1 and 5, absent)");
  note(pc.has_input(kCellToInputWeights) || pc.has_input(kCellToForgetWeights) ||
           pc.has_input(kCellToOutputWeights),
       "peephole (cell_to_*_weights, inputs 9-11)");
  note(pc.has_input(kProjectionWeights) || pc.has_input(kProjectionBias),
       "projection (inputs 16-17)");
  note(pc.has_input(kInputLayerNorm) || pc.has_input(kForgetLayerNorm) ||
           pc.has_input(kCellLayerNorm) || pc.has_input(kOutputLayerNorm),
       "layer normalization (inputs 20-23)");
  note(pc.attrs().get_int("diagonal_recurrent_tensors", 0) != 0,
       "diagonal recurrent weights (diagonal_recurrent_tensors)");
  pc.require(variants.empty(),
             "unsupported LSTM variant: " + variants +
                 "; only the LSTM without CIFG, peephole, projection and layer normalization "
                 "is supported (as in TFLite Micro)");
}

template <typename W, typename B>
kernels::LstmWeights<W, B> lstm_weights(const ExecContext& ec) {
  auto gate = [&](int g) {
    return kernels::LstmGateWeights<W, B>{ec.input<W>(kGateInputWeights[g]),
                                          ec.input<W>(kGateRecurrentWeights[g]),
                                          ec.input<B>(kGateBias[g])};
  };
  return {gate(0), gate(1), gate(2), gate(3)};
}

RunFn prepare_lstm_float(const PrepareContext& pc, const kernels::LstmDims& dims, float cell_clip) {
  const std::string ctx = "float32 LSTM";
  for (size_t g = 0; g < 4; ++g) {
    require_dtype(pc, pc.input(kGateInputWeights[g]), kLstmInputNames[kGateInputWeights[g]],
                  DType::f32, ctx);
    require_dtype(pc, pc.input(kGateRecurrentWeights[g]), kLstmInputNames[kGateRecurrentWeights[g]],
                  DType::f32, ctx);
    require_dtype(pc, pc.input(kGateBias[g]), kLstmInputNames[kGateBias[g]], DType::f32, ctx);
  }
  require_dtype(pc, pc.input(kHiddenState), "output_state", DType::f32, ctx);
  require_dtype(pc, pc.input(kCellState), "cell_state", DType::f32, ctx);
  require_dtype(pc, pc.output(0), "output", DType::f32, ctx);
  return [dims, cell_clip](ExecContext& ec) {
    kernels::lstm_float(dims, cell_clip, lstm_weights<float, float>(ec), ec.input<float>(kInput),
                        ec.state<float>(kHiddenState), ec.state<float>(kCellState),
                        ec.output<float>(0));
  };
}

// The 8x8->16 (int8 activations, int32 biases) and 16x8->16 (int16 activations, int64
// biases) paths. The output's quantization is not used: TFLite Micro copies the hidden
// state's bytes into the output.
RunFn prepare_lstm_integer(const PrepareContext& pc, const kernels::LstmDims& dims,
                           float cell_clip) {
  const ir::Tensor& input = pc.input(kInput);
  const ir::Tensor& hidden = pc.input(kHiddenState);
  const ir::Tensor& cell = pc.input(kCellState);
  const bool int8_act = input.dtype == DType::i8;
  const std::string ctx = int8_act ? "int8 LSTM" : "int16 LSTM";
  const DType bias_dtype = int8_act ? DType::i32 : DType::i64;
  require_dtype(pc, hidden, "output_state", input.dtype, ctx);
  require_dtype(pc, pc.output(0), "output", input.dtype, ctx);
  require_dtype(pc, cell, "cell_state", DType::i16, ctx);

  const TensorQuant q_in = per_tensor_quant(pc, input, "input");
  const TensorQuant q_hidden = per_tensor_quant(pc, hidden, "output_state");
  const TensorQuant q_cell = per_tensor_quant(pc, cell, "cell_state");
  if (!int8_act) {
    pc.require(q_in.zero_point == 0 && q_hidden.zero_point == 0,
               ctx + ": input and output_state must be symmetric (zero point 0)");
  }
  pc.require(q_cell.zero_point == 0, ctx + ": cell_state must be symmetric (zero point 0)");
  int exponent = 0;
  const float mantissa = std::frexp(q_cell.scale, &exponent);
  pc.require(mantissa == 0.5f && exponent - 1 >= -31 && exponent - 1 <= 0,
             ctx + ": cell_state scale " + std::to_string(q_cell.scale) +
                 " must be a power of two in [2^-31, 1]");

  kernels::LstmQuantParams p;
  p.input_zero_point = q_in.zero_point;
  p.hidden_zero_point = q_hidden.zero_point;
  p.cell_scale_power = exponent - 1;
  // Gate pre-activations are int16 Q3.12, gate outputs Q0.15.
  const float fc_output_scale = 0.000244140625f;       // 2^-12
  const float gate_output_scale = 0.000030517578125f;  // 2^-15
  kernels::LstmGateQuant* gate_quant[4] = {&p.input_gate, &p.forget_gate, &p.cell_gate,
                                           &p.output_gate};
  for (size_t g = 0; g < 4; ++g) {
    const ir::Tensor& w_in = pc.input(kGateInputWeights[g]);
    const ir::Tensor& w_rec = pc.input(kGateRecurrentWeights[g]);
    require_dtype(pc, w_in, kLstmInputNames[kGateInputWeights[g]], DType::i8, ctx);
    require_dtype(pc, w_rec, kLstmInputNames[kGateRecurrentWeights[g]], DType::i8, ctx);
    require_dtype(pc, pc.input(kGateBias[g]), kLstmInputNames[kGateBias[g]], bias_dtype, ctx);
    const TensorQuant q_w_in = per_tensor_quant(pc, w_in, kLstmInputNames[kGateInputWeights[g]]);
    const TensorQuant q_w_rec =
        per_tensor_quant(pc, w_rec, kLstmInputNames[kGateRecurrentWeights[g]]);
    pc.require(q_w_in.zero_point == 0 && q_w_rec.zero_point == 0,
               ctx + ": weights must be symmetric (zero point 0)");
    // GetQuantizedConvolutionMultipler: the scale product in float, the quotient in double.
    gate_quant[g]->input_fc = kernels::quantize_multiplier(
        static_cast<double>(q_in.scale * q_w_in.scale) / static_cast<double>(fc_output_scale));
    gate_quant[g]->recurrent_fc = kernels::quantize_multiplier(
        static_cast<double>(q_hidden.scale * q_w_rec.scale) / static_cast<double>(fc_output_scale));
    // The 16-bit path requantizes int64 accumulators, which TFLite supports for shifts
    // up to 7 (multipliers below 2^7).
    pc.require(
        int8_act || (gate_quant[g]->input_fc.shift <= 7 && gate_quant[g]->recurrent_fc.shift <= 7),
        ctx + ": the effective scale of a gate's fully connected layer must be < 128");
  }
  // CreateInterGateMulParams: scale products and quotients in double.
  const auto gate_out = static_cast<double>(gate_output_scale);
  p.forget_times_cell = kernels::quantize_multiplier(gate_out * static_cast<double>(q_cell.scale) /
                                                     static_cast<double>(q_cell.scale));
  p.input_times_cell =
      kernels::quantize_multiplier(gate_out * gate_out / static_cast<double>(q_cell.scale));
  p.output_times_cell =
      kernels::quantize_multiplier(gate_out * gate_out / static_cast<double>(q_hidden.scale));
  p.use_cell_clip = cell_clip > 0.0f;
  p.quantized_cell_clip = static_cast<int16_t>(std::min(
      std::max(static_cast<double>(cell_clip) / static_cast<double>(q_cell.scale), -32768.0),
      32767.0));

  if (int8_act) {
    return [dims, p](ExecContext& ec) {
      kernels::lstm_int8(dims, p, lstm_weights<int8_t, int32_t>(ec), ec.input<int8_t>(kInput),
                         ec.state<int8_t>(kHiddenState), ec.state<int16_t>(kCellState),
                         ec.output<int8_t>(0));
    };
  }
  return [dims, p](ExecContext& ec) {
    kernels::lstm_int16(dims, p, lstm_weights<int8_t, int64_t>(ec), ec.input<int16_t>(kInput),
                        ec.state<int16_t>(kHiddenState), ec.state<int16_t>(kCellState),
                        ec.output<int16_t>(0));
  };
}

RunFn prepare_lstm(const PrepareContext& pc) {
  pc.require(pc.num_inputs() >= 20 && pc.num_inputs() <= 24 && pc.num_outputs() == 1,
             "expects 24 inputs (20 in older models; absent optional ones included) and 1 "
             "output, has " +
                 std::to_string(pc.num_inputs()) + " inputs and " +
                 std::to_string(pc.num_outputs()) + " outputs");
  const ir::Tensor& input = lstm_input(pc, kInput);
  require_plain_lstm(pc);
  for (size_t g = 0; g < 4; ++g) {
    lstm_input(pc, kGateInputWeights[g]);
    lstm_input(pc, kGateRecurrentWeights[g]);
    lstm_input(pc, kGateBias[g]);
  }
  const ir::Tensor& hidden = lstm_input(pc, kHiddenState);
  const ir::Tensor& cell = lstm_input(pc, kCellState);
  require_variable(pc, hidden, "output_state");
  require_variable(pc, cell, "cell_state");

  const int activation = static_cast<int>(pc.attrs().get_int("fused_activation_function", 0));
  pc.require(activation == static_cast<int>(ir::Activation::tanh),
             "fused_activation_function " + std::to_string(activation) +
                 " is not supported: the cell gate activation must be TANH (4)");
  const auto cell_clip = static_cast<float>(pc.attrs().get_float("cell_clip", 0.0));
  pc.require(cell_clip >= 0.0f, "cell_clip " + std::to_string(cell_clip) + " is negative");

  pc.require(input.rank() == 3,
             named("input", input) + " must have rank 3, has shape " + shape_str(input.shape));
  kernels::LstmDims dims;
  dims.time_major = pc.attrs().get_int("time_major", 0) != 0;
  dims.batches = dims.time_major ? input.shape[1] : input.shape[0];
  dims.time_steps = dims.time_major ? input.shape[0] : input.shape[1];
  dims.input_size = input.shape[2];
  const ir::Tensor& forget_weights = pc.input(kInputToForgetWeights);
  pc.require(forget_weights.rank() == 2,
             named("input_to_forget_weights", forget_weights) +
                 " must have rank 2 [state_size, input_size], has shape " +
                 shape_str(forget_weights.shape));
  dims.state_size = forget_weights.shape[0];
  for (size_t g = 0; g < 4; ++g) {
    require_shape(pc, pc.input(kGateInputWeights[g]), kLstmInputNames[kGateInputWeights[g]],
                  {dims.state_size, dims.input_size});
    require_shape(pc, pc.input(kGateRecurrentWeights[g]), kLstmInputNames[kGateRecurrentWeights[g]],
                  {dims.state_size, dims.state_size});
    require_shape(pc, pc.input(kGateBias[g]), kLstmInputNames[kGateBias[g]], {dims.state_size});
  }
  // States may be [batch, state] or flat: only their size matters, as in TFLite Micro.
  const int64_t state_elements = int64_t{dims.batches} * dims.state_size;
  pc.require(hidden.num_elements() == state_elements && cell.num_elements() == state_elements,
             "output_state and cell_state must have batch * state_size = " +
                 std::to_string(state_elements) + " elements, have " +
                 std::to_string(hidden.num_elements()) + " and " +
                 std::to_string(cell.num_elements()));
  require_shape(pc, pc.output(0), "output", {input.shape[0], input.shape[1], dims.state_size});

  switch (input.dtype) {
    case DType::f32: return prepare_lstm_float(pc, dims, cell_clip);
    case DType::i8:
    case DType::i16: return prepare_lstm_integer(pc, dims, cell_clip);
    default:
      pc.fail(std::string("input dtype ") + ir::dtype_name(input.dtype) +
              " is not supported (float32, int8 or int16)");
  }
}

}  // namespace

void register_ref_sequence_ops(OpRegistry& r) {
  r.add(ir::OpType::SVDF, prepare_svdf);
  r.add(ir::OpType::UNIDIRECTIONAL_SEQUENCE_LSTM, prepare_lstm);
}

}  // namespace tessel::cpu
