#pragma once
// Pieces shared by the `tessel` subcommands.

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tessel/cpu/executor.hpp"
#include "tessel/ir/graph.hpp"

namespace tessel::tools {

// Reads a model file (.tflite) into the IR; throws Error for anything else.
ir::Graph load_model(const std::string& path);

// The kernel registry for a CPU backend name ("ref" or "cpu"); throws for others.
const cpu::OpRegistry& registry_for(const std::string& backend);

// The bytes for each graph input: from `files` (a raw file with exactly the tensor's bytes,
// or a .bmp image), one per input in order; inputs without a file get the goldens'
// xorshift pattern with seed 1.
std::vector<std::vector<uint8_t>> make_inputs(const cpu::Executor& ex,
                                              const std::vector<std::string>& files);
// The same for a model known by its input tensors only (e.g. a compiled loadable).
std::vector<std::vector<uint8_t>> make_inputs(const std::vector<ir::Tensor>& tensors,
                                              const std::vector<std::string>& files);

// Median of a non-empty sample.
double median(std::vector<double> v);

// One inference from a reset state, timed: its wall time in milliseconds.
double timed_run_ms(cpu::Executor& ex);

// Dequantized value of element i of a tensor's bytes (raw value when not quantized).
double element_value(const ir::Tensor& t, const uint8_t* data, size_t i);

// "int8[1,224,224,3]"
std::string describe_type(const ir::Tensor& t);
nlohmann::json shape_json(const ir::Tensor& t);

struct Ranked {
  size_t index;
  double score;
};
// The k best elements of an output, best first; ties go to the lower index.
std::vector<Ranked> top_k(const ir::Tensor& t, const uint8_t* data, size_t k);

}  // namespace tessel::tools
