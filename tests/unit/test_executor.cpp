// Question answered: does the executor fail at load time (not run time) for unsupported
// operators and dtypes, naming them; check input sizes; and keep/reset variable state?
#include <catch2/catch.hpp>

#include "op_test_util.hpp"

using namespace tessel;
using namespace tessel::test;

TEST_CASE("an unknown operator fails at load time, named") {
  OpTest t(ir::OpType::unknown, "CUSTOM:TFLite_Detection_PostProcess");
  t.input("x", ir::DType::f32, {1, 4});
  t.output("y", ir::DType::f32, {1, 4});
  const std::string err = t.prepare_error(cpu::ref_registry());
  CHECK_THAT(err, Catch::Contains("op #0 CUSTOM:TFLite_Detection_PostProcess 'op_under_test'") &&
                      Catch::Contains("not supported"));
  CHECK(t.prepare_error(cpu::cpu_registry()) == err);
}

TEST_CASE("an unsupported dtype fails at load time, naming the operator") {
  OpTest t(ir::OpType::RESHAPE);
  t.input("x", ir::DType::string, {2});
  t.constant("shape", ir::DType::i32, {1}, std::vector<int32_t>{2});
  t.output("y", ir::DType::string, {2});
  CHECK_THAT(t.prepare_error(cpu::ref_registry()), Catch::Contains("string"));
}

TEST_CASE("set_input checks the byte count and index") {
  OpTest t(ir::OpType::RESHAPE);
  t.input("x", ir::DType::i8, {2, 3});
  t.constant("shape", ir::DType::i32, {1}, std::vector<int32_t>{6});
  t.output("y", ir::DType::i8, {6});
  cpu::Executor ex(t.graph(), cpu::ref_registry());
  const std::vector<uint8_t> five(5, 1), six{1, 2, 3, 4, 5, 6};
  CHECK_THROWS_WITH(ex.set_input(0, five.data(), five.size()),
                    Catch::Contains("input 0 ('x', int8): expected 6 bytes, got 5"));
  CHECK_THROWS_WITH(ex.set_input(1, six.data(), six.size()), Catch::Contains("out of range"));
  ex.set_input(0, six.data(), six.size());
  std::vector<double> op_ms;
  ex.run(&op_ms);
  CHECK(op_ms.size() == 1);
  CHECK(std::vector<uint8_t>(ex.output_data(0), ex.output_data(0) + 6) == six);
}

TEST_CASE("variable tensors start at their zero point and reset_state restores them") {
  // An int8 SVDF-free check: a variable tensor feeding ADD keeps its initial value, which
  // for int8 with a zero point is the zero point (TFLite's ResetVariableTensor).
  ir::Graph g;
  g.source = "t";
  ir::Tensor x;
  x.name = "x";
  x.dtype = ir::DType::i8;
  x.shape = {3};
  ir::Tensor state = x;
  state.name = "state";
  state.is_variable = true;
  state.quant = quant(1.0f, 7);
  ir::Tensor y = x;
  y.name = "y";
  g.tensors = {x, state, y};
  ir::Op op;
  op.type = ir::OpType::RESHAPE;
  op.type_name = "RESHAPE";
  op.inputs = {1};
  op.outputs = {2};
  op.attrs.set("new_shape", std::vector<int64_t>{3});
  g.ops = {op};
  g.inputs = {0};
  g.outputs = {2};
  cpu::Executor ex(g, cpu::ref_registry());
  ex.run();
  CHECK(std::vector<uint8_t>(ex.output_data(0), ex.output_data(0) + 3) == std::vector<uint8_t>(3, 7));
}
