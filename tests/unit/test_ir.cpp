// Question answered: does the IR verifier catch each kind of broken graph, naming it?
#include <catch2/catch.hpp>

#include "tessel/ir/graph.hpp"
#include "tessel/ir/verify.hpp"

using namespace tessel;
using namespace tessel::ir;

namespace {
Graph two_op_graph() {
  Graph g;
  g.source = "t.tflite";
  g.tensors.resize(4);
  g.tensors[0] = {"in", DType::i8, {1, 4}, {}, {}, false, false};
  g.tensors[1] = {"w", DType::i8, {4, 4}, {{0.5f}, {0}, 0}, std::vector<uint8_t>(16, 1), true, false};
  g.tensors[2] = {"mid", DType::i8, {1, 4}, {}, {}, false, false};
  g.tensors[3] = {"out", DType::i8, {1, 4}, {}, {}, false, false};
  Op a;
  a.type = OpType::FULLY_CONNECTED;
  a.type_name = "FULLY_CONNECTED";
  a.inputs = {0, 1, kNoTensor};
  a.outputs = {2};
  Op b;
  b.type = OpType::RELU;
  b.type_name = "RELU";
  b.name = "act";
  b.inputs = {2};
  b.outputs = {3};
  g.ops = {a, b};
  g.inputs = {0};
  g.outputs = {3};
  return g;
}

std::string verify_message(const Graph& g) {
  try {
    verify(g);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("a well-formed graph verifies") { CHECK_NOTHROW(verify(two_op_graph())); }

TEST_CASE("verifier rejects out-of-order, dangling and inconsistent graphs") {
  Graph g = two_op_graph();
  std::swap(g.ops[0], g.ops[1]);
  CHECK_THAT(verify_message(g), Catch::Contains("op #0 RELU 'act'") &&
                                    Catch::Contains("read before any operator writes it"));

  g = two_op_graph();
  g.ops[1].inputs[0] = 9;
  CHECK_THAT(verify_message(g), Catch::Contains("refers to tensor #9 of 4"));

  g = two_op_graph();
  g.ops[1].outputs[0] = 2;
  CHECK_THAT(verify_message(g), Catch::Contains("already written"));

  g = two_op_graph();
  g.tensors[1].data.resize(15);
  CHECK_THAT(verify_message(g), Catch::Contains("tensor #1 'w'") && Catch::Contains("15 bytes"));

  g = two_op_graph();
  g.tensors[1].quant = {{0.1f, 0.2f, 0.3f}, {0, 0, 0}, 0};
  CHECK_THAT(verify_message(g), Catch::Contains("3 per-channel scales for dimension 0 of size 4"));

  g = two_op_graph();
  g.tensors[1].quant = {{0.1f, 0.2f}, {0}, 0};
  CHECK_THAT(verify_message(g), Catch::Contains("2 scales but 1 zero points"));

  g = two_op_graph();
  g.tensors[0].shape = {1, -1};
  CHECK_THAT(verify_message(g), Catch::Contains("dynamic shapes"));

  g = two_op_graph();
  g.outputs = {2, 7};
  CHECK_THAT(verify_message(g), Catch::Contains("graph output refers to tensor #7"));
}

TEST_CASE("attributes are typed") {
  Attrs a;
  a.set("stride_w", int64_t{2});
  a.set("alpha", 0.2);
  a.set("axes", std::vector<int64_t>{1, 2});
  CHECK(a.get_int("stride_w", 1) == 2);
  CHECK(a.get_int("stride_h", 1) == 1);
  CHECK(a.get_float("alpha", 0) == Approx(0.2));
  CHECK(a.get_float("stride_w", 0) == 2.0);
  CHECK(a.get_ints("axes") == std::vector<int64_t>{1, 2});
  CHECK_THROWS_WITH(a.get_int("alpha", 0), Catch::Contains("'alpha' is not an integer"));
  CHECK(op_type_from_name("CONV_2D") == OpType::CONV_2D);
  CHECK(op_type_from_name("NOT_AN_OP") == OpType::unknown);
  CHECK(std::string(op_type_name(OpType::HARD_SWISH)) == "HARD_SWISH");
}
