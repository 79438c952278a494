// Reference kernels of the sequence group (see tessel/kernels/sequence.hpp).
#include "tessel/kernels/sequence.hpp"
#include "tessel/kernels/fixed_point.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

namespace tessel::kernels {

namespace {

// Reduces an exact sum modulo 2^32: the value an int32 accumulator holds in TFLite Micro,
// which wraps on overflow on every target it runs on.
int32_t wrap_to_int32(int64_t v) {
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(v)));
}

template <typename T>
int32_t saturate_to(int32_t v) {
  return clamp_i32(v, std::numeric_limits<T>::min(), std::numeric_limits<T>::max());
}

// ---------------------------------------------------------------------------------------
// SVDF

// TFLite Micro's ActivationValFloat. Its RELU family uses TfLiteMax/TfLiteMin, which are
// std::fmax/std::fmin in the default build (this decides what a NaN input becomes).
float svdf_activation(int activation, float a) {
  switch (activation) {
    case 1: return std::fmax(0.0f, a);                    // RELU
    case 2: return std::fmax(-1.0f, std::fmin(a, 1.0f));  // RELU_N1_TO_1
    case 3: return std::fmax(0.0f, std::fmin(a, 6.0f));   // RELU6
    case 4: return std::tanh(a);                          // TANH
    case 5: return std::signbit(a) ? 1.0f : 0.0f;         // SIGN_BIT
    default: return a;                                    // NONE
  }
}

// Moves every filter's memory one step into the past; the newest slot (memory_size - 1)
// is then overwritten. TFLite shifts the whole buffer by one element, which differs from
// this per-row shift only in slots that are overwritten immediately afterwards.
template <typename T>
void age_state(const SvdfDims& d, T* state) {
  for (int64_t row = 0; row < int64_t{d.batches} * d.num_filters; ++row) {
    T* s = state + row * d.memory_size;
    std::memmove(s, s + 1, static_cast<size_t>(d.memory_size - 1) * sizeof(T));
  }
}

template <typename T>
void svdf_integer(const SvdfDims& d, const SvdfQuantParams& p, const int8_t* input,
                  const int8_t* weights_feature, const T* weights_time, const int32_t* bias,
                  T* state, int8_t* output) {
  const int32_t units = d.num_units();
  age_state(d, state);
  for (int32_t b = 0; b < d.batches; ++b) {
    const int8_t* x = input + int64_t{b} * d.input_size;
    T* state_b = state + int64_t{b} * d.num_filters * d.memory_size;

    // Feature stage: |w * (x - zp)| <= 128 * 255, so the int32 sum is exact for inputs of
    // up to 65793 elements. The zero point is added before saturating to the state type.
    for (int32_t f = 0; f < d.num_filters; ++f) {
      const int8_t* w = weights_feature + int64_t{f} * d.input_size;
      int64_t acc = 0;
      for (int32_t i = 0; i < d.input_size; ++i)
        acc += int32_t{w[i]} * (int32_t{x[i]} - p.input_zero_point);
      const int32_t scaled = multiply_by_quantized_multiplier(
          wrap_to_int32(acc), p.feature_multiplier.multiplier, p.feature_multiplier.shift);
      state_b[int64_t{f} * d.memory_size + d.memory_size - 1] =
          static_cast<T>(saturate_to<T>(p.state_zero_point + scaled));
    }

    // Time stage and rank reduction. An int16 product is below 2^31 in magnitude, but
    // memory_size of them plus the bias can exceed int32: TFLite's int32 accumulator wraps.
    for (int32_t u = 0; u < units; ++u) {
      int64_t acc = bias ? bias[u] : 0;
      for (int32_t r = 0; r < d.rank; ++r) {
        const int64_t f = int64_t{u} * d.rank + r;
        const T* w = weights_time + f * d.memory_size;
        const T* s = state_b + f * d.memory_size;
        for (int32_t m = 0; m < d.memory_size; ++m)
          acc += int64_t{w[m]} * (int64_t{s[m]} - p.state_zero_point);
      }
      const int32_t scaled = multiply_by_quantized_multiplier(
          wrap_to_int32(acc), p.output_multiplier.multiplier, p.output_multiplier.shift);
      output[int64_t{b} * units + u] =
          static_cast<int8_t>(saturate_to<int8_t>(p.output_zero_point + scaled));
    }
  }
}

// ---------------------------------------------------------------------------------------
// LSTM, integer

// The LUT functions take v = 3 * 2^12 * x (a Q3.12 value times 3). With one table entry
// per 1/24, the table then reaches |x| < 10.6 for the sigmoid and |2x| < 10.6 for tanh.
//
// Sigmoid: |v| / 2^9 = 24 |x| is the table position; 9 fractional bits interpolate.
// sigmoid(-x) = 1 - sigmoid(x) is folded into the final rounding to Q0.15.
int16_t sigmoid_from_scaled(int32_t v) {
  const uint32_t abs_v = static_cast<uint32_t>(std::abs(v));
  const uint32_t index = abs_v >> 9;
  uint32_t q25;  // sigmoid(|x|) in Q0.25
  if (index >= 255) {
    q25 = 0x7FFFu << 10;
  } else {
    const uint32_t lo = fixed_point::kSigmoidTable[index];
    const uint32_t hi = fixed_point::kSigmoidTable[index + 1];
    q25 = (lo << 9) + (abs_v & 0x1FF) * (hi - lo);
  }
  q25 = v >= 0 ? q25 + (1u << 9) : (1u << 25) - q25 + (1u << 9) - 1;
  return static_cast<int16_t>(q25 >> 10);
}

// Tanh via tanh(x) = 2 sigmoid(2x) - 1: |v| / 2^8 = 24 * 2|x| is the table position.
int16_t tanh_from_scaled(int32_t v) {
  const uint32_t abs_v = static_cast<uint32_t>(std::abs(v));
  const uint32_t index = abs_v >> 8;
  int32_t q24;  // sigmoid(2|x|) in Q0.24
  if (index >= 255) {
    q24 = 0xFFFF << 8;
  } else {
    const uint32_t lo = fixed_point::kSigmoidTable[index];
    const uint32_t hi = fixed_point::kSigmoidTable[index + 1];
    q24 = static_cast<int32_t>((lo << 8) + (abs_v & 0xFF) * (hi - lo));
  }
  q24 = v >= 0 ? q24 - (1 << 23) + (1 << 7) : -q24 + (1 << 23) + (1 << 7) - 1;
  return static_cast<int16_t>(q24 >> 8);
}

// The gate's fully connected layer for one output row: exact sum of
// w * (x + input_offset) plus bias, requantized to Q3.12 and saturated to int16. With an
// int32 bias (8-bit activations) the sum is TFLite's int32 accumulator (|term| <= 128 *
// 255); with an int64 bias (16-bit activations) it is TFLite's int64 accumulator and the
// 64-bit requantization applies.
template <typename Act, typename Bias>
int32_t gate_fc_row(const Act* x, int32_t input_offset, const int8_t* w, int32_t n, Bias bias,
                    const QuantizedMultiplier& m) {
  int64_t acc = bias;
  for (int32_t k = 0; k < n; ++k) acc += int32_t{w[k]} * (int32_t{x[k]} + input_offset);
  int32_t scaled;
  if constexpr (sizeof(Bias) == sizeof(int32_t)) {
    scaled = multiply_by_quantized_multiplier(wrap_to_int32(acc), m.multiplier, m.shift);
  } else {
    scaled = multiply_by_quantized_multiplier(acc, m.multiplier, m.shift);
  }
  return saturate_to<int16_t>(scaled);
}

enum class GateActivation { sigmoid, tanh };

// One gate for one batch row: act(sat16(FC_input(x) + FC_recurrent(h))) in Q0.15. The
// recurrent layer has no bias. Each FC result is saturated to int16 before the
// saturating add, as TFLite writes them to int16 buffers.
template <typename Act, typename Bias>
void integer_gate(const LstmGateWeights<int8_t, Bias>& w, const LstmGateQuant& q, const LstmDims& d,
                  const LstmQuantParams& p, const Act* x, const Act* h, GateActivation activation,
                  int16_t* gate) {
  for (int32_t s = 0; s < d.state_size; ++s) {
    const int32_t from_input =
        gate_fc_row(x, -p.input_zero_point, w.input_weights + int64_t{s} * d.input_size,
                    d.input_size, w.bias[s], q.input_fc);
    const int32_t from_hidden =
        gate_fc_row(h, -p.hidden_zero_point, w.recurrent_weights + int64_t{s} * d.state_size,
                    d.state_size, Bias{0}, q.recurrent_fc);
    const auto pre = static_cast<int16_t>(saturate_to<int16_t>(from_input + from_hidden));
    gate[s] = activation == GateActivation::sigmoid ? lstm_sigmoid(pre) : lstm_tanh(pre, -12);
  }
}

// TFLite's integer elementwise Mul of two symmetric int16 operands:
// sat(zp + requantize(a * b)); |a * b| <= 2^30 fits int32.
template <typename Out>
int32_t gate_mul(int32_t a, int32_t b, const QuantizedMultiplier& m, int32_t zero_point) {
  return saturate_to<Out>(zero_point +
                          multiply_by_quantized_multiplier(a * b, m.multiplier, m.shift));
}

// Row offset (in rows of input_size or state_size) of batch b at time t.
int64_t sequence_row(const LstmDims& d, int32_t b, int32_t t) {
  return d.time_major ? int64_t{t} * d.batches + b : int64_t{b} * d.time_steps + t;
}

template <typename Act, typename Bias>
void lstm_integer(const LstmDims& d, const LstmQuantParams& p, const LstmWeights<int8_t, Bias>& w,
                  const Act* input, Act* hidden_state, int16_t* cell_state, Act* output) {
  const auto n = static_cast<size_t>(d.state_size);
  std::vector<int16_t> input_gate(n), forget_gate(n), cell_gate(n), output_gate(n);
  // Batch rows are independent (every operation is per row or per element), so the
  // order of the loops does not change any value: TFLite steps all batches at once when
  // time_major and one batch at a time otherwise.
  for (int32_t b = 0; b < d.batches; ++b) {
    Act* h = hidden_state + int64_t{b} * d.state_size;
    int16_t* c = cell_state + int64_t{b} * d.state_size;
    for (int32_t t = 0; t < d.time_steps; ++t) {
      const Act* x = input + sequence_row(d, b, t) * d.input_size;
      integer_gate(w.forget_gate, p.forget_gate, d, p, x, h, GateActivation::sigmoid,
                   forget_gate.data());
      integer_gate(w.input_gate, p.input_gate, d, p, x, h, GateActivation::sigmoid,
                   input_gate.data());
      integer_gate(w.cell_gate, p.cell_gate, d, p, x, h, GateActivation::tanh, cell_gate.data());
      integer_gate(w.output_gate, p.output_gate, d, p, x, h, GateActivation::sigmoid,
                   output_gate.data());
      for (size_t s = 0; s < n; ++s) {
        // c = sat16(sat16(f * c) + sat16(i * g)), then the optional symmetric clip.
        const int32_t kept = gate_mul<int16_t>(forget_gate[s], c[s], p.forget_times_cell, 0);
        const int32_t added = gate_mul<int16_t>(input_gate[s], cell_gate[s], p.input_times_cell, 0);
        auto updated = static_cast<int16_t>(saturate_to<int16_t>(kept + added));
        if (p.use_cell_clip) {
          updated = std::max(std::min(p.quantized_cell_clip, updated),
                             static_cast<int16_t>(-p.quantized_cell_clip));
        }
        c[s] = updated;
        // h = sat(zp_h + requantize(tanh(c) * o)); the recurrent layers above read the old h.
        h[s] = static_cast<Act>(gate_mul<Act>(lstm_tanh(c[s], p.cell_scale_power), output_gate[s],
                                              p.output_times_cell, p.hidden_zero_point));
      }
      std::memcpy(output + sequence_row(d, b, t) * d.state_size, h, n * sizeof(Act));
    }
  }
}

// ---------------------------------------------------------------------------------------
// LSTM, float

// TFLite's float FullyConnected and Mul clamp to the activation range of NONE,
// [lowest, max]: finite values pass, infinities saturate, NaN passes (std::min/max keep
// their first argument when a comparison is false).
float clamp_none(float v) {
  return std::min(std::max(v, std::numeric_limits<float>::lowest()),
                  std::numeric_limits<float>::max());
}

float fc_row_float(const float* x, const float* w, int32_t n, float bias) {
  float total = 0.0f;
  for (int32_t k = 0; k < n; ++k) total += x[k] * w[k];
  return clamp_none(total + bias);
}

// TFLite's reference float Logistic, with its cutoffs.
float logistic_float(float v) {
  const float cutoff_upper = 16.619047164916992188f;
  const float cutoff_lower = -9.0f;
  if (v > cutoff_upper) return 1.0f;
  if (v < cutoff_lower) return std::exp(v);
  return 1.0f / (1.0f + std::exp(-v));
}

void float_gate(const LstmGateWeights<float, float>& w, const LstmDims& d, const float* x,
                const float* h, GateActivation activation, float* gate) {
  for (int32_t s = 0; s < d.state_size; ++s) {
    const float from_input =
        fc_row_float(x, w.input_weights + int64_t{s} * d.input_size, d.input_size, w.bias[s]);
    // The recurrent layer has no bias: TFLite adds a 0.0f bias value.
    const float from_hidden =
        fc_row_float(h, w.recurrent_weights + int64_t{s} * d.state_size, d.state_size, 0.0f);
    const float pre = from_input + from_hidden;
    gate[s] = activation == GateActivation::sigmoid ? logistic_float(pre) : std::tanh(pre);
  }
}

}  // namespace

void svdf_float(const SvdfDims& d, int activation, const float* input, const float* weights_feature,
                const float* weights_time, const float* bias, float* state, float* output) {
  const int32_t units = d.num_units();
  age_state(d, state);
  for (int32_t b = 0; b < d.batches; ++b) {
    const float* x = input + int64_t{b} * d.input_size;
    float* state_b = state + int64_t{b} * d.num_filters * d.memory_size;
    for (int32_t f = 0; f < d.num_filters; ++f) {
      const float* w = weights_feature + int64_t{f} * d.input_size;
      float dot = 0.0f;
      for (int32_t i = 0; i < d.input_size; ++i) dot += w[i] * x[i];
      state_b[int64_t{f} * d.memory_size + d.memory_size - 1] = dot;
    }
    // TFLite's order: each filter's time dot product from 0.0f, then bias (or 0.0f) plus
    // the rank's dot products in filter order, then the activation.
    for (int32_t u = 0; u < units; ++u) {
      float acc = bias ? bias[u] : 0.0f;
      for (int32_t r = 0; r < d.rank; ++r) {
        const int64_t f = int64_t{u} * d.rank + r;
        const float* w = weights_time + f * d.memory_size;
        const float* s = state_b + f * d.memory_size;
        float dot = 0.0f;
        for (int32_t m = 0; m < d.memory_size; ++m) dot += w[m] * s[m];
        acc += dot;
      }
      output[int64_t{b} * units + u] = svdf_activation(activation, acc);
    }
  }
}

void svdf_quantized(const SvdfDims& dims, const SvdfQuantParams& params, const int8_t* input,
                    const int8_t* weights_feature, const int16_t* weights_time, const int32_t* bias,
                    int16_t* state, int8_t* output) {
  svdf_integer(dims, params, input, weights_feature, weights_time, bias, state, output);
}

void svdf_quantized(const SvdfDims& dims, const SvdfQuantParams& params, const int8_t* input,
                    const int8_t* weights_feature, const int8_t* weights_time, const int32_t* bias,
                    int8_t* state, int8_t* output) {
  svdf_integer(dims, params, input, weights_feature, weights_time, bias, state, output);
}

int16_t lstm_sigmoid(int16_t x) { return sigmoid_from_scaled(int32_t{x} * 3); }

int16_t lstm_tanh(int16_t x, int input_scale_power) {
  // Bring x to 3 * 2^12 per unit: multiply by 3 * 2^(12 + power) when that is an integer,
  // else by 3 then shift right by -(12 + power), rounding half up.
  const int left_shift = 12 + input_scale_power;
  if (left_shift >= 0) return tanh_from_scaled(int32_t{x} * (3 << left_shift));
  const int right_shift = -left_shift;
  return tanh_from_scaled((int32_t{x} * 3 + (1 << (right_shift - 1))) >> right_shift);
}

void lstm_int8(const LstmDims& dims, const LstmQuantParams& params,
               const LstmWeights<int8_t, int32_t>& weights, const int8_t* input,
               int8_t* hidden_state, int16_t* cell_state, int8_t* output) {
  lstm_integer(dims, params, weights, input, hidden_state, cell_state, output);
}

void lstm_int16(const LstmDims& dims, const LstmQuantParams& params,
                const LstmWeights<int8_t, int64_t>& weights, const int16_t* input,
                int16_t* hidden_state, int16_t* cell_state, int16_t* output) {
  lstm_integer(dims, params, weights, input, hidden_state, cell_state, output);
}

void lstm_float(const LstmDims& d, float cell_clip, const LstmWeights<float, float>& w,
                const float* input, float* hidden_state, float* cell_state, float* output) {
  const auto n = static_cast<size_t>(d.state_size);
  std::vector<float> input_gate(n), forget_gate(n), cell_gate(n), output_gate(n);
  for (int32_t b = 0; b < d.batches; ++b) {
    float* h = hidden_state + int64_t{b} * d.state_size;
    float* c = cell_state + int64_t{b} * d.state_size;
    for (int32_t t = 0; t < d.time_steps; ++t) {
      const float* x = input + sequence_row(d, b, t) * d.input_size;
      float_gate(w.forget_gate, d, x, h, GateActivation::sigmoid, forget_gate.data());
      float_gate(w.input_gate, d, x, h, GateActivation::sigmoid, input_gate.data());
      float_gate(w.cell_gate, d, x, h, GateActivation::tanh, cell_gate.data());
      float_gate(w.output_gate, d, x, h, GateActivation::sigmoid, output_gate.data());
      for (size_t s = 0; s < n; ++s) {
        const float kept = clamp_none(forget_gate[s] * c[s]);
        const float added = clamp_none(input_gate[s] * cell_gate[s]);
        float updated = kept + added;
        if (cell_clip > 0.0f) updated = std::max(std::min(cell_clip, updated), -cell_clip);
        c[s] = updated;
        h[s] = clamp_none(std::tanh(c[s]) * output_gate[s]);
      }
      std::memcpy(output + sequence_row(d, b, t) * d.state_size, h, n * sizeof(float));
    }
  }
}

}  // namespace tessel::kernels
