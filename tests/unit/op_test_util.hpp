#pragma once
// A harness for operator tests: build a one-operator graph, prepare it with a registry
// (so the binding's validation runs exactly as for a real model), run it, read outputs.
//
//   OpTest t(ir::OpType::ADD);
//   int a = t.input("a", ir::DType::i8, {1, 2, 2, 3}, quant(0.5f, -3));
//   int b = t.constant("b", ir::DType::i8, {3}, std::vector<int8_t>{1, 2, 3}, quant(0.25f, 0));
//   int y = t.output("y", ir::DType::i8, {1, 2, 2, 3}, quant(1.0f, 5));
//   t.attr("fused_activation_function", 0);
//   auto out = t.run<int8_t>(registry, {as_bytes(std::vector<int8_t>{...})});
//   std::string err = t.prepare_error(registry);   // "" if prepare succeeded

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tessel/cpu/executor.hpp"
#include "tessel/cpu/op_registry.hpp"
#include "tessel/ir/graph.hpp"
#include "tessel/ir/verify.hpp"

namespace tessel::test {

inline ir::Quantization quant(float scale, int64_t zero_point) {
  ir::Quantization q;
  q.scale = {scale};
  q.zero_point = {zero_point};
  return q;
}

inline ir::Quantization quant_per_axis(std::vector<float> scales, int axis) {
  ir::Quantization q;
  q.zero_point.assign(scales.size(), 0);
  q.scale = std::move(scales);
  q.axis = axis;
  return q;
}

template <typename T>
std::vector<uint8_t> as_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

template <typename T>
std::vector<T> from_bytes(const uint8_t* p, size_t bytes) {
  std::vector<T> v(bytes / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), p, v.size() * sizeof(T));
  return v;
}

// Uniform random values of T in [lo, hi] (integers) from a fixed seed.
template <typename T>
std::vector<T> random_values(size_t n, int64_t lo, int64_t hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

class OpTest {
 public:
  explicit OpTest(ir::OpType type, std::string type_name = "") {
    op_.type = type;
    op_.type_name = type_name.empty() ? ir::op_type_name(type) : type_name;
    op_.name = "op_under_test";
    graph_.source = "test";
  }

  // A graph input, fed by run().
  int input(const std::string& name, ir::DType dt, std::vector<int32_t> shape,
            ir::Quantization q = {}) {
    int t = add_tensor(name, dt, std::move(shape), std::move(q));
    graph_.inputs.push_back(t);
    op_.inputs.push_back(t);
    return t;
  }
  // A constant input with the given values.
  template <typename T>
  int constant(const std::string& name, ir::DType dt, std::vector<int32_t> shape,
               const std::vector<T>& values, ir::Quantization q = {}) {
    int t = add_tensor(name, dt, std::move(shape), std::move(q));
    graph_.tensors[static_cast<size_t>(t)].data = as_bytes(values);
    graph_.tensors[static_cast<size_t>(t)].is_constant = true;
    op_.inputs.push_back(t);
    return t;
  }
  // A variable (state) input, zero-initialised by the executor.
  int variable(const std::string& name, ir::DType dt, std::vector<int32_t> shape,
               ir::Quantization q = {}) {
    int t = add_tensor(name, dt, std::move(shape), std::move(q));
    graph_.tensors[static_cast<size_t>(t)].is_variable = true;
    op_.inputs.push_back(t);
    return t;
  }
  // An absent optional input.
  void no_input() { op_.inputs.push_back(ir::kNoTensor); }
  int output(const std::string& name, ir::DType dt, std::vector<int32_t> shape,
             ir::Quantization q = {}) {
    int t = add_tensor(name, dt, std::move(shape), std::move(q));
    graph_.outputs.push_back(t);
    op_.outputs.push_back(t);
    return t;
  }
  void attr(const std::string& key, ir::AttrValue v) { op_.attrs.set(key, std::move(v)); }
  void attr(const std::string& key, int v) { op_.attrs.set(key, int64_t{v}); }
  ir::Tensor& tensor(int t) { return graph_.tensors[static_cast<size_t>(t)]; }

  const ir::Graph& graph() {
    graph_.ops = {op_};
    return graph_;
  }

  // Prepares and runs once; returns output `which` as T. `inputs` are the bytes of the
  // graph inputs in the order they were added.
  template <typename T>
  std::vector<T> run(const cpu::OpRegistry& registry, const std::vector<std::vector<uint8_t>>& inputs,
                     size_t which = 0, int threads = 1) {
    auto outs = run_all(registry, inputs, threads);
    return from_bytes<T>(outs.at(which).data(), outs.at(which).size());
  }

  std::vector<std::vector<uint8_t>> run_all(const cpu::OpRegistry& registry,
                                            const std::vector<std::vector<uint8_t>>& inputs,
                                            int threads = 1) {
    const ir::Graph& g = graph();
    ir::verify(g);
    cpu::Executor ex(g, registry, threads);
    for (size_t i = 0; i < inputs.size(); ++i) ex.set_input(i, inputs[i].data(), inputs[i].size());
    ex.run();
    std::vector<std::vector<uint8_t>> outs;
    for (size_t i = 0; i < ex.num_outputs(); ++i)
      outs.emplace_back(ex.output_data(i), ex.output_data(i) + ex.output_bytes(i));
    return outs;
  }

  // The message of the Error that preparing throws, or "" if preparing succeeds.
  std::string prepare_error(const cpu::OpRegistry& registry) {
    try {
      const ir::Graph& g = graph();
      ir::verify(g);
      cpu::Executor ex(g, registry);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

 private:
  int add_tensor(const std::string& name, ir::DType dt, std::vector<int32_t> shape,
                 ir::Quantization q) {
    ir::Tensor t;
    t.name = name;
    t.dtype = dt;
    t.shape = std::move(shape);
    t.quant = std::move(q);
    graph_.tensors.push_back(std::move(t));
    return static_cast<int>(graph_.tensors.size()) - 1;
  }

  ir::Graph graph_;
  ir::Op op_;
};

}  // namespace tessel::test
