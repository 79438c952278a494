#include "common.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "tessel/frontend/tflite.hpp"
#include "tessel/io/files.hpp"
#include "tessel/io/image.hpp"

namespace tessel::tools {

ir::Graph load_model(const std::string& path) {
  if (io::ends_with(path, ".tflite")) return tflite::import_file(path);
  throw Error(path + ": unknown model format (expected a .tflite file)");
}

const cpu::OpRegistry& registry_for(const std::string& backend) {
  if (backend == "ref") return cpu::ref_registry();
  if (backend == "cpu") return cpu::cpu_registry();
  throw Error("unknown backend '" + backend + "' (expected ref or cpu)");
}

std::vector<std::vector<uint8_t>> make_inputs(const cpu::Executor& ex,
                                              const std::vector<std::string>& files) {
  std::vector<ir::Tensor> tensors;
  for (size_t i = 0; i < ex.num_inputs(); ++i) tensors.push_back(ex.input_tensor(i));
  return make_inputs(tensors, files);
}

std::vector<std::vector<uint8_t>> make_inputs(const std::vector<ir::Tensor>& tensors,
                                              const std::vector<std::string>& files) {
  if (files.size() > tensors.size())
    throw Error(std::to_string(files.size()) + " --input files given, the model has " +
                std::to_string(tensors.size()) + " inputs");
  std::vector<std::vector<uint8_t>> inputs;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const ir::Tensor& t = tensors[i];
    if (i >= files.size()) {
      inputs.push_back(io::xorshift_bytes(1, static_cast<size_t>(t.num_elements()), ir::dtype_size(t.dtype)));
      continue;
    }
    const std::string& f = files[i];
    std::vector<uint8_t> bytes;
    if (io::ends_with(f, ".bmp") || io::ends_with(f, ".BMP")) {
      bytes = io::image_to_input(io::read_bmp(f), t);
    } else {
      bytes = io::read_file(f);
      if (bytes.size() != t.num_bytes())
        throw Error(f + ": has " + std::to_string(bytes.size()) + " bytes; input " + std::to_string(i) +
                    " '" + t.name + "' " + describe_type(t) + " needs " + std::to_string(t.num_bytes()));
    }
    inputs.push_back(std::move(bytes));
  }
  return inputs;
}

double timed_run_ms(cpu::Executor& ex) {
  ex.reset_state();
  const auto t0 = std::chrono::steady_clock::now();
  ex.run();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

namespace {
template <typename T>
double load(const uint8_t* data, size_t i) {
  T v;
  std::memcpy(&v, data + i * sizeof(T), sizeof(T));
  return static_cast<double>(v);
}
}  // namespace

double element_value(const ir::Tensor& t, const uint8_t* data, size_t i) {
  double raw = 0;
  switch (t.dtype) {
    case ir::DType::i8: raw = load<int8_t>(data, i); break;
    case ir::DType::u8: raw = load<uint8_t>(data, i); break;
    case ir::DType::i16: raw = load<int16_t>(data, i); break;
    case ir::DType::i32: raw = load<int32_t>(data, i); break;
    case ir::DType::i64: raw = load<int64_t>(data, i); break;
    case ir::DType::f32: raw = load<float>(data, i); break;
    default: throw Error("cannot rank values of a " + std::string(ir::dtype_name(t.dtype)) + " output");
  }
  if (!t.quant.present()) return raw;
  return (raw - static_cast<double>(t.quant.zero_point[0])) * static_cast<double>(t.quant.scale[0]);
}

std::string describe_type(const ir::Tensor& t) {
  std::string s = std::string(ir::dtype_name(t.dtype)) + "[";
  for (size_t i = 0; i < t.shape.size(); ++i) s += (i ? "," : "") + std::to_string(t.shape[i]);
  return s + "]";
}

nlohmann::json shape_json(const ir::Tensor& t) { return nlohmann::json(t.shape); }

std::vector<Ranked> top_k(const ir::Tensor& t, const uint8_t* data, size_t k) {
  std::vector<Ranked> all;
  const size_t n = static_cast<size_t>(t.num_elements());
  for (size_t i = 0; i < n; ++i) all.push_back({i, element_value(t, data, i)});
  k = std::min(k, n);
  std::partial_sort(all.begin(), all.begin() + static_cast<long>(k), all.end(),
                    [](const Ranked& a, const Ranked& b) {
                      return a.score != b.score ? a.score > b.score : a.index < b.index;
                    });
  all.resize(k);
  return all;
}

}  // namespace tessel::tools
