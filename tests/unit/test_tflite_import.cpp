// Question answered: does the TFLite front end read real models faithfully (shapes, types,
// quantization, operators, options), and does every malformed file give an Error that
// names what is wrong, never a crash or an out-of-bounds read?
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tessel/frontend/tflite.hpp"
#include "tessel/ir/graph.hpp"
#include "tflite_model.hpp"

using namespace tessel;
using namespace tessel::test;

namespace {

const std::string kModels = std::string(TESSEL_SHARED_DIR) + "/models/tflite/";

ir::Graph import_bytes(const std::vector<uint8_t>& b, const std::string& name = "t.tflite") {
  return tflite::import_buffer(b.data(), b.size(), name);
}

// The message of the Error importing `b` throws ("" if it imports), checked to start with
// the source name as every message must.
std::string import_error(const std::vector<uint8_t>& b, const std::string& name = "t.tflite") {
  try {
    import_bytes(b, name);
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.rfind(name + ": ", 0) == 0);
    return msg;
  }
  return "";
}

template <typename T>
void poke(std::vector<uint8_t>& b, size_t pos, T v) {
  REQUIRE(pos + sizeof(T) <= b.size());
  std::memcpy(b.data() + pos, &v, sizeof(T));
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::map<std::string, int> histogram(const ir::Graph& g) {
  std::map<std::string, int> h;
  for (const ir::Op& op : g.ops) ++h[op.type_name];
  return h;
}

const ir::Op& first_op(const ir::Graph& g, const std::string& type) {
  const auto it = std::find_if(g.ops.begin(), g.ops.end(),
                               [&](const ir::Op& op) { return op.type_name == type; });
  INFO("looking for " << type);
  REQUIRE(it != g.ops.end());
  return *it;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Real models: facts from /work/shared/models/MANIFEST.md.

namespace {
struct ModelFacts {
  const char* file;
  ir::DType in_dtype;
  std::vector<int32_t> in_shape;
  double in_scale;
  int64_t in_zero_point;
  std::map<std::string, int> ops;
  int per_channel_weights;  // conv / depthwise / fully-connected weights, per-channel
  int per_tensor_weights;   // ... per-tensor
};

const std::vector<ModelFacts>& manifest() {
  static const std::vector<ModelFacts> facts = {
      {"coral_mobilenet_v1_0.25_128_quant.tflite", ir::DType::u8, {1, 128, 128, 3}, 0.007812, 128,
       {{"CONV_2D", 15}, {"DEPTHWISE_CONV_2D", 13}, {"AVERAGE_POOL_2D", 1}, {"RESHAPE", 1}, {"SOFTMAX", 1}},
       0, 28},
      {"coral_mobilenet_v2_1.0_224_quant.tflite", ir::DType::u8, {1, 224, 224, 3}, 0.007812, 128,
       {{"CONV_2D", 36}, {"DEPTHWISE_CONV_2D", 17}, {"ADD", 10}, {"AVERAGE_POOL_2D", 1}, {"RESHAPE", 1},
        {"SOFTMAX", 1}},
       0, 53},
      {"coral_tf2_mobilenet_v2_1.0_224_ptq.tflite", ir::DType::u8, {1, 224, 224, 3}, 0.007843, 127,
       {{"QUANTIZE", 2}, {"CONV_2D", 36}, {"DEPTHWISE_CONV_2D", 17}, {"ADD", 10}, {"MEAN", 1},
        {"RESHAPE", 1}, {"SOFTMAX", 1}},
       53, 0},
      {"coral_deeplabv3_mnv2_dm05_pascal_quant.tflite", ir::DType::u8, {1, 513, 513, 3}, 0.007812, 128,
       {{"CONV_2D", 38}, {"DEPTHWISE_CONV_2D", 17}, {"ADD", 10}, {"AVERAGE_POOL_2D", 1},
        {"RESIZE_BILINEAR", 3}, {"QUANTIZE", 1}, {"CONCATENATION", 1}, {"ARG_MAX", 1}},
       0, 55},
      {"mlperf_tiny_ic_resnet8_pretrainedResnet_quant.tflite", ir::DType::i8, {1, 32, 32, 3}, 1.0, -128,
       {{"CONV_2D", 9}, {"ADD", 3}, {"AVERAGE_POOL_2D", 1}, {"RESHAPE", 1}, {"FULLY_CONNECTED", 1},
        {"SOFTMAX", 1}},
       9, 1},
      {"mlperf_tiny_kws_dscnn_kws_ref_model.tflite", ir::DType::i8, {1, 49, 10, 1}, 0.584703, 83,
       {{"CONV_2D", 5}, {"DEPTHWISE_CONV_2D", 4}, {"AVERAGE_POOL_2D", 1}, {"RESHAPE", 1},
        {"FULLY_CONNECTED", 1}, {"SOFTMAX", 1}},
       9, 1},
      {"mlperf_tiny_vww_mobilenetv1_025_96_int8.tflite", ir::DType::i8, {1, 96, 96, 3}, 0.003922, -128,
       {{"CONV_2D", 14}, {"DEPTHWISE_CONV_2D", 13}, {"AVERAGE_POOL_2D", 1}, {"RESHAPE", 1},
        {"FULLY_CONNECTED", 1}, {"SOFTMAX", 1}},
       27, 1},
      {"mlperf_tiny_ad_autoencoder_ad01_int8.tflite", ir::DType::i8, {1, 640}, 0.391015, 89,
       {{"FULLY_CONNECTED", 10}}, 0, 10},
      {"tflm_person_detect.tflite", ir::DType::i8, {1, 96, 96, 1}, 0.007843, -1,
       {{"DEPTHWISE_CONV_2D", 14}, {"CONV_2D", 14}, {"AVERAGE_POOL_2D", 1}, {"RESHAPE", 1},
        {"SOFTMAX", 1}},
       28, 0},
      {"tflm_micro_speech_quantized.tflite", ir::DType::i8, {1, 1960}, 0.101716, -128,
       {{"RESHAPE", 1}, {"DEPTHWISE_CONV_2D", 1}, {"FULLY_CONNECTED", 1}, {"SOFTMAX", 1}},
       // The MANIFEST's quantization notes: one depthwise filter, per-channel; the FC per-tensor.
       1, 1},
  };
  return facts;
}
}  // namespace

TEST_CASE("every real model imports with the MANIFEST's input, operators and weights", "[tflite]") {
  for (const ModelFacts& f : manifest()) {
    const std::string path = kModels + f.file;
    INFO(path);
    const ir::Graph g = tflite::import_file(path);
    CHECK(g.source == path);

    REQUIRE(g.inputs.size() == 1);
    const ir::Tensor& in = g.tensors[static_cast<size_t>(g.inputs[0])];
    CHECK(in.dtype == f.in_dtype);
    CHECK(in.shape == f.in_shape);
    REQUIRE(in.quant.scale.size() == 1);
    CHECK(in.quant.scale[0] == Approx(f.in_scale).margin(1e-6));
    CHECK(in.quant.zero_point == std::vector<int64_t>{f.in_zero_point});
    CHECK(histogram(g) == f.ops);
    CHECK(g.outputs.size() == 1);

    int per_channel = 0, per_tensor = 0;
    for (const ir::Op& op : g.ops) {
      CHECK(op.type != ir::OpType::unknown);
      CHECK(op.type_name == ir::op_type_name(op.type));
      REQUIRE(!op.outputs.empty());
      CHECK(op.name == g.tensors[static_cast<size_t>(op.outputs[0])].name);
      const bool conv = op.type == ir::OpType::CONV_2D;
      const bool dw = op.type == ir::OpType::DEPTHWISE_CONV_2D;
      if (!conv && !dw && op.type != ir::OpType::FULLY_CONNECTED) continue;
      const ir::Tensor& w = g.tensors[static_cast<size_t>(op.inputs[1])];
      CHECK(w.is_constant);
      CHECK(w.data.size() == w.num_bytes());
      if (w.quant.per_channel()) {
        ++per_channel;
        // Output channels: OHWI filters on axis 0, 1HW(I*M) depthwise filters on axis 3.
        CHECK(w.quant.axis == (dw ? 3 : 0));
        CHECK(static_cast<int64_t>(w.quant.scale.size()) == w.shape[static_cast<size_t>(w.quant.axis)]);
      } else {
        ++per_tensor;
      }
    }
    CHECK(per_channel == f.per_channel_weights);
    CHECK(per_tensor == f.per_tensor_weights);
  }
}

TEST_CASE("real models: operator options read as the schema's fields", "[tflite]") {
  SECTION("MobileNetV2: the stem is a stride-2 SAME conv with RELU6") {
    const ir::Graph g = tflite::import_file(kModels + "coral_mobilenet_v2_1.0_224_quant.tflite");
    const ir::Op& conv = g.ops[0];
    REQUIRE(conv.type == ir::OpType::CONV_2D);
    CHECK(conv.inputs[0] == g.inputs[0]);
    CHECK(conv.attrs.get_int("stride_w", -1) == 2);
    CHECK(conv.attrs.get_int("stride_h", -1) == 2);
    CHECK(conv.attrs.get_int("padding", -1) == static_cast<int>(ir::Padding::same));
    CHECK(conv.attrs.get_int("fused_activation_function", -1) == static_cast<int>(ir::Activation::relu6));
    CHECK(conv.attrs.get_int("dilation_w_factor", -1) == 1);
    CHECK(g.tensors[static_cast<size_t>(conv.inputs[1])].shape == std::vector<int32_t>{32, 3, 3, 3});
    CHECK(g.tensors[static_cast<size_t>(conv.outputs[0])].shape == std::vector<int32_t>{1, 112, 112, 32});
    const ir::Op& softmax = first_op(g, "SOFTMAX");
    CHECK(softmax.attrs.get_float("beta", -1) == 1.0);
  }
  SECTION("DeepLab: bilinear resize with align_corners, concat on axis 3, int64 argmax") {
    const ir::Graph g = tflite::import_file(kModels + "coral_deeplabv3_mnv2_dm05_pascal_quant.tflite");
    const ir::Op& resize = first_op(g, "RESIZE_BILINEAR");
    CHECK(resize.attrs.get_int("align_corners", -1) == 1);
    CHECK(resize.attrs.get_int("half_pixel_centers", -1) == 0);
    CHECK(first_op(g, "CONCATENATION").attrs.get_int("axis", -1) == 3);
    CHECK(first_op(g, "ARG_MAX").attrs.get_int("output_type", -1) == tfl::INT64);
    const ir::Op& pool = first_op(g, "AVERAGE_POOL_2D");
    CHECK(pool.attrs.get_int("filter_width", -1) == 33);
    CHECK(pool.attrs.get_int("filter_height", -1) == 33);
    CHECK(pool.attrs.get_int("padding", -1) == static_cast<int>(ir::Padding::valid));
  }
  SECTION("TF2 MobileNetV2: MEAN keeps dims; operator versions are kept") {
    const ir::Graph g = tflite::import_file(kModels + "coral_tf2_mobilenet_v2_1.0_224_ptq.tflite");
    CHECK(first_op(g, "MEAN").attrs.get_int("keep_dims", -1) == 1);
    CHECK(first_op(g, "MEAN").version == 2);
    CHECK(first_op(g, "CONV_2D").version == 3);
  }
  SECTION("ResNet-8: 8x8 average pool, FC without keep_num_dims") {
    const ir::Graph g = tflite::import_file(kModels + "mlperf_tiny_ic_resnet8_pretrainedResnet_quant.tflite");
    const ir::Op& pool = first_op(g, "AVERAGE_POOL_2D");
    CHECK(pool.attrs.get_int("stride_w", -1) == 8);
    CHECK(pool.attrs.get_int("filter_height", -1) == 8);
    const ir::Op& fc = first_op(g, "FULLY_CONNECTED");
    CHECK(fc.attrs.get_int("keep_num_dims", -1) == 0);
    CHECK(fc.attrs.get_int("weights_format", -1) == 0);
    CHECK(fc.version == 4);
  }
  SECTION("micro_speech: depthwise with depth_multiplier 8 and stride 2") {
    const ir::Graph g = tflite::import_file(kModels + "tflm_micro_speech_quantized.tflite");
    const ir::Op& dw = first_op(g, "DEPTHWISE_CONV_2D");
    CHECK(dw.attrs.get_int("depth_multiplier", -1) == 8);
    CHECK(dw.attrs.get_int("stride_w", -1) == 2);
    CHECK(dw.attrs.get_int("stride_h", -1) == 2);
    CHECK(g.tensors[static_cast<size_t>(dw.inputs[1])].shape == std::vector<int32_t>{1, 10, 8, 8});
  }
  SECTION("person_detect: a rank-1 bias with per-channel scales reads as axis 0") {
    // The file gives the bias quantized_dimension 3 (copied from the depthwise filter).
    const ir::Graph g = tflite::import_file(kModels + "tflm_person_detect.tflite");
    const ir::Op& dw = first_op(g, "DEPTHWISE_CONV_2D");
    CHECK(dw.attrs.get_int("depth_multiplier", -1) == 8);
    const ir::Tensor& bias = g.tensors[static_cast<size_t>(dw.inputs[2])];
    CHECK(bias.dtype == ir::DType::i32);
    CHECK(bias.shape == std::vector<int32_t>{8});
    CHECK(bias.quant.scale.size() == 8);
    CHECK(bias.quant.axis == 0);
  }
}

TEST_CASE("import_file reports files it cannot read", "[tflite]") {
  CHECK_THROWS_WITH(tflite::import_file("/nonexistent/m.tflite"),
                    Catch::Equals("/nonexistent/m.tflite: cannot open: No such file or directory"));
  CHECK_THROWS_WITH(tflite::import_file(kModels), Catch::Contains("not a regular file"));
}

// ---------------------------------------------------------------------------------------
// Minimal models written by the test's own FlatBuffers writer.

TEST_CASE("a one-ADD model imports with its tensors, quantization and options", "[tflite]") {
  const tfl::Built b = tfl::build(tfl::add_model());
  const ir::Graph g = import_bytes(b.bytes, "add.tflite");
  CHECK(g.source == "add.tflite");
  REQUIRE(g.tensors.size() == 3);
  CHECK(g.tensors[0].name == "a");
  CHECK(g.tensors[0].dtype == ir::DType::i8);
  CHECK(g.tensors[0].shape == std::vector<int32_t>{1, 2, 2, 3});
  CHECK(g.tensors[0].quant.scale == std::vector<float>{0.5f});
  CHECK(g.tensors[0].quant.zero_point == std::vector<int64_t>{-3});
  CHECK_FALSE(g.tensors[0].is_constant);
  CHECK(g.tensors[2].quant.zero_point == std::vector<int64_t>{5});
  REQUIRE(g.ops.size() == 1);
  const ir::Op& op = g.ops[0];
  CHECK(op.type == ir::OpType::ADD);
  CHECK(op.type_name == "ADD");
  CHECK(op.version == 2);
  CHECK(op.name == "y");
  CHECK(op.inputs == std::vector<int>{0, 1});
  CHECK(op.outputs == std::vector<int>{2});
  CHECK(op.attrs.get_int("fused_activation_function", -1) == 1);
  CHECK(op.attrs.get_int("pot_scale_int16", -1) == 1);  // absent: the schema default, true
  CHECK(g.inputs == std::vector<int>{0, 1});
  CHECK(g.outputs == std::vector<int>{2});
}

TEST_CASE("a one-CONV_2D model: constant data, per-channel axis, defaults", "[tflite]") {
  const tfl::ModelSpec m = tfl::conv_model();
  const ir::Graph g = import_bytes(tfl::build(m).bytes);
  const ir::Tensor& w = g.tensors[1];
  CHECK(w.is_constant);
  CHECK(w.data == m.buffers[1].data);
  CHECK(w.quant.per_channel());
  CHECK(w.quant.axis == 0);
  CHECK(w.quant.scale == std::vector<float>{0.1f, 0.2f, 0.3f, 0.4f});
  const ir::Tensor& bias = g.tensors[2];
  CHECK(bias.dtype == ir::DType::i32);
  REQUIRE(bias.data.size() == 16);
  CHECK(bias.data_as<int32_t>()[1] == -200);
  const ir::Op& conv = g.ops[0];
  CHECK(conv.type == ir::OpType::CONV_2D);
  CHECK(conv.attrs.get_int("padding", -1) == static_cast<int>(ir::Padding::valid));
  CHECK(conv.attrs.get_int("stride_w", -1) == 1);
  CHECK(conv.attrs.get_int("fused_activation_function", -1) == 3);
  CHECK(conv.attrs.get_int("dilation_w_factor", -1) == 1);  // absent: default 1
  CHECK(conv.attrs.get_int("dilation_h_factor", -1) == 1);
  CHECK(conv.attrs.get_int("quantized_bias_type", -1) == 0);
}

TEST_CASE("options: absent table gives schema defaults; a wrong table type is an error", "[tflite]") {
  SECTION("no options table") {
    tfl::ModelSpec m = tfl::conv_model();
    m.ops[0].options_type = 0;
    m.ops[0].options = nullptr;
    const ir::Graph g = import_bytes(tfl::build(m).bytes);
    CHECK(g.ops[0].attrs.get_int("stride_w", -1) == 0);
    CHECK(g.ops[0].attrs.get_int("dilation_h_factor", -1) == 1);
    CHECK(g.ops[0].attrs.get_int("padding", -1) == 0);
  }
  SECTION("Pool2DOptions on a CONV_2D") {
    tfl::ModelSpec m = tfl::conv_model();
    m.ops[0].options_type = tfl::Pool2DOptions;
    CHECK_THAT(import_error(tfl::build(m).bytes),
               Catch::Contains("operator #0 CONV_2D") &&
                   Catch::Contains("builtin_options is Pool2DOptions, CONV_2D takes Conv2DOptions"));
  }
  SECTION("an options type outside the union") {
    tfl::ModelSpec m = tfl::conv_model();
    m.ops[0].options_type = 250;
    CHECK_THAT(import_error(tfl::build(m).bytes), Catch::Contains("of unknown type 250"));
  }
}

TEST_CASE("operator codes: extended codes, custom and unknown operators keep their names", "[tflite]") {
  SECTION("builtin_code above 127 with the placeholder in deprecated_builtin_code") {
    tfl::ModelSpec m = tfl::add_model();
    m.codes = {tfl::OpCodeSpec::of(tfl::GELU)};
    m.ops[0].options_type = 0;
    m.ops[0].options = nullptr;
    m.ops[0].inputs = {0};
    m.inputs = {0};
    const ir::Graph g = import_bytes(tfl::build(m).bytes);
    CHECK(g.ops[0].type == ir::OpType::unknown);
    CHECK(g.ops[0].type_name == "GELU");
    CHECK(g.ops[0].attrs.get_int("approximate", -1) == 0);
  }
  SECTION("an old file with only deprecated_builtin_code and no version") {
    tfl::ModelSpec m = tfl::add_model();
    m.codes = {tfl::OpCodeSpec{}};
    m.codes[0].deprecated_builtin_code = 0;
    const ir::Graph g = import_bytes(tfl::build(m).bytes);
    CHECK(g.ops[0].type == ir::OpType::ADD);
    CHECK(g.ops[0].version == 1);
  }
  SECTION("a builtin Tessel does not know") {
    tfl::ModelSpec m = tfl::add_model();
    m.codes = {tfl::OpCodeSpec::of(tfl::STABLEHLO_WHILE)};
    const ir::Graph g = import_bytes(tfl::build(m).bytes);
    CHECK(g.ops[0].type == ir::OpType::unknown);
    CHECK(g.ops[0].type_name == "STABLEHLO_WHILE");
    CHECK(g.ops[0].attrs.all().empty());
  }
  SECTION("a code beyond the schema") {
    tfl::ModelSpec m = tfl::add_model();
    m.codes = {tfl::OpCodeSpec::of(240)};
    const ir::Graph g = import_bytes(tfl::build(m).bytes);
    CHECK(g.ops[0].type == ir::OpType::unknown);
    CHECK(g.ops[0].type_name == "BUILTIN_OP_240");
  }
  SECTION("CUSTOM") {
    tfl::ModelSpec m = tfl::add_model();
    m.codes = {tfl::OpCodeSpec::of(tfl::CUSTOM)};
    m.codes[0].custom_code = "TFLite_Detection_PostProcess";
    const ir::Graph g = import_bytes(tfl::build(m).bytes);
    CHECK(g.ops[0].type == ir::OpType::unknown);
    CHECK(g.ops[0].type_name == "CUSTOM:TFLite_Detection_PostProcess");
  }
  SECTION("a negative code") {
    tfl::ModelSpec m = tfl::add_model();
    m.codes = {tfl::OpCodeSpec{}};
    m.codes[0].deprecated_builtin_code = -4;
    m.codes[0].builtin_code = -9;
    CHECK_THAT(import_error(tfl::build(m).bytes),
               Catch::Contains("operator code #0: builtin code -4 is invalid"));
  }
}

TEST_CASE("optional inputs, variables, external buffers and the identifier", "[tflite]") {
  SECTION("input -1 is an absent optional input") {
    tfl::ModelSpec m = tfl::conv_model();
    m.ops[0].inputs = {0, 1, -1};
    const ir::Graph g = import_bytes(tfl::build(m).bytes);
    CHECK(g.ops[0].inputs == std::vector<int>{0, 1, ir::kNoTensor});
  }
  SECTION("is_variable") {
    tfl::ModelSpec m = tfl::add_model();
    m.tensors[1].is_variable = true;
    m.inputs = {0};
    const ir::Graph g = import_bytes(tfl::build(m).bytes);
    CHECK(g.tensors[1].is_variable);
    CHECK_FALSE(g.tensors[1].is_constant);
  }
  SECTION("a variable with initial data is refused") {
    tfl::ModelSpec m = tfl::add_model();
    m.tensors[1].is_variable = true;
    m.tensors[1].buffer = 1;
    m.buffers.push_back({std::vector<uint8_t>(12, 0), {}, {}});
    m.inputs = {0};
    CHECK_THAT(import_error(tfl::build(m).bytes),
               Catch::Contains("tensor #1 'b': variable tensor with initial data"));
  }
  SECTION("buffer data stored after the FlatBuffer (offset/size)") {
    tfl::ModelSpec m = tfl::conv_model();
    const std::vector<uint8_t> weights = m.buffers[1].data;
    m.buffers[1] = {{}, uint64_t{2}, uint64_t{weights.size()}};  // offset placeholder, same width
    tfl::Built b = tfl::build(m);
    const size_t at = b.bytes.size();
    b.bytes.insert(b.bytes.end(), weights.begin(), weights.end());
    poke<uint64_t>(b.bytes, b.buffers[1]->field_pos.at(1), at);
    const ir::Graph g = import_bytes(b.bytes);
    CHECK(g.tensors[1].data == weights);

    SECTION("reaching past the end of the file") {
      poke<uint64_t>(b.bytes, b.buffers[1]->field_pos.at(1), at + 1);
      CHECK_THAT(import_error(b.bytes),
                 Catch::Contains("Model.buffers[1]") && Catch::Contains("external data at offset") &&
                     Catch::Contains("extends past the end of the file"));
      poke<uint64_t>(b.bytes, b.buffers[1]->field_pos.at(1), std::numeric_limits<uint64_t>::max());
      CHECK_THAT(import_error(b.bytes), Catch::Contains("external data at offset"));
    }
  }
  SECTION("no file identifier is accepted; a different one is refused") {
    tfl::ModelSpec m = tfl::add_model();
    m.identifier = nullptr;
    CHECK(import_bytes(tfl::build(m).bytes).ops.size() == 1);
    m.identifier = "ONNX";
    CHECK_THAT(import_error(tfl::build(m).bytes), Catch::Contains("file identifier is 'ONNX'"));
  }
}

// ---------------------------------------------------------------------------------------
// Broken files: each must give an Error naming the fault.

TEST_CASE("every truncation of a small model is an Error, never a crash", "[tflite]") {
  for (const tfl::ModelSpec& m : {tfl::add_model(), tfl::conv_model()}) {
    const std::vector<uint8_t> full = tfl::build(m).bytes;
    REQUIRE_NOTHROW(import_bytes(full));
    for (size_t n = 0; n < full.size(); ++n) {
      // A copy of exactly n bytes, so ASan sees any read past the prefix.
      const std::vector<uint8_t> prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
      INFO("prefix of " << n << " of " << full.size() << " bytes");
      const std::string msg = import_error(prefix);
      CHECK_THAT(msg, Catch::Contains("truncated") || Catch::Contains("the file is empty"));
    }
  }
}

TEST_CASE("corrupt FlatBuffers structure is reported with the field path and offset", "[tflite]") {
  tfl::Built b = tfl::build(tfl::conv_model());
  SECTION("root offset past the end") {
    poke<uint32_t>(b.bytes, 0, 0xfffffff0u);
    CHECK_THAT(import_error(b.bytes),
               Catch::Contains("Model: truncated or corrupt file: offset at 0 points to 4294967280"));
  }
  SECTION("vtable outside the file") {
    poke<int32_t>(b.bytes, b.model->pos, -0x100000);
    CHECK_THAT(import_error(b.bytes), Catch::Contains("Model: truncated or corrupt file: table at offset") &&
                                          Catch::Contains("has its vtable at"));
    poke<int32_t>(b.bytes, b.model->pos, 0x7fffffff);
    CHECK_THAT(import_error(b.bytes), Catch::Contains("outside the file"));
  }
  SECTION("vtable size past the end of the file") {
    poke<uint16_t>(b.bytes, b.tensors[1]->vtable_pos, 0xfffe);
    CHECK_THAT(import_error(b.bytes),
               Catch::Contains("Model.subgraphs[0].tensors[1]: truncated or corrupt file: vtable at offset " +
                               std::to_string(b.tensors[1]->vtable_pos)) &&
                   Catch::Contains("extends past the end of the file (size " + std::to_string(b.bytes.size())));
  }
  SECTION("odd vtable size") {
    poke<uint16_t>(b.bytes, b.tensors[1]->vtable_pos, 3);
    CHECK_THAT(import_error(b.bytes), Catch::Contains("has invalid size 3"));
  }
  SECTION("a field outside its table") {
    // Field 2 (buffer) of tensor 1 claims to sit beyond the table's inline size.
    poke<uint16_t>(b.bytes, b.tensors[1]->vtable_pos + 4 + 2 * 2, 0x7ff0);
    CHECK_THAT(import_error(b.bytes),
               Catch::Contains("Model.subgraphs[0].tensors[1].buffer: corrupt file: field at offset") &&
                   Catch::Contains("lies outside its table"));
  }
  SECTION("a vector length pointing past the end") {
    poke<uint32_t>(b.bytes, b.tensor_shapes[1]->pos, 0x10000000u);
    CHECK_THAT(import_error(b.bytes),
               Catch::Contains("Model.subgraphs[0].tensors[1].shape: truncated or corrupt file: vector at offset " +
                               std::to_string(b.tensor_shapes[1]->pos) + " of 268435456 elements x 4 bytes"));
  }
  SECTION("a string length pointing past the end, and a missing terminator") {
    poke<uint32_t>(b.bytes, b.tensor_names[1]->pos, 0xffffffffu);
    CHECK_THAT(import_error(b.bytes), Catch::Contains("Model.subgraphs[0].tensors[1].name: truncated or corrupt "
                                                      "file: string at offset"));
    poke<uint32_t>(b.bytes, b.tensor_names[1]->pos, 2);  // "conv/w" read as "co" + 'n', not NUL
    CHECK_THAT(import_error(b.bytes), Catch::Contains("is not NUL-terminated"));
  }
  SECTION("an offset inside a vector of tables pointing past the end") {
    // The second element of subgraphs[0].tensors.
    const size_t elems = b.subgraph->refs.at(0)->pos + 4;
    poke<uint32_t>(b.bytes, elems + 4, 0x7ffffff0u);
    CHECK_THAT(import_error(b.bytes), Catch::Contains("Model.subgraphs[0].tensors[1]: truncated or corrupt file: "
                                                      "offset at " + std::to_string(elems + 4)));
  }
  SECTION("an empty file") { CHECK_THAT(import_error({}), Catch::EndsWith("the file is empty")); }
}

TEST_CASE("model-level inconsistencies name the table, field and index", "[tflite]") {
  SECTION("schema version") {
    tfl::ModelSpec m = tfl::add_model();
    m.version = 2;
    CHECK_THAT(import_error(tfl::build(m).bytes), Catch::Contains("schema version 2 is not supported"));
    m.version.reset();
    CHECK_THAT(import_error(tfl::build(m).bytes), Catch::Contains("schema version 0 is not supported"));
  }
  SECTION("no subgraphs") {
    tfl::ModelSpec m = tfl::add_model();
    m.no_subgraphs = true;
    CHECK_THAT(import_error(tfl::build(m).bytes), Catch::Contains("the model has no subgraphs"));
  }
  SECTION("opcode_index out of range") {
    tfl::ModelSpec m = tfl::add_model();
    m.ops[0].opcode_index = 5;
    CHECK_THAT(import_error(tfl::build(m).bytes, "model.tflite"),
               Catch::Equals("model.tflite: subgraph 0 operator #0: opcode_index 5 is out of range "
                             "(1 operator codes)"));
  }
  SECTION("operator tensor index out of range") {
    tfl::ModelSpec m = tfl::add_model();
    m.ops[0].inputs = {0, 7};
    CHECK_THAT(import_error(tfl::build(m).bytes),
               Catch::Contains("subgraph 0 operator #0 ADD: inputs[1] is tensor 7, out of range (3 tensors)"));
    m.ops[0].inputs = {0, -2};
    CHECK_THAT(import_error(tfl::build(m).bytes), Catch::Contains("inputs[1] is tensor -2, out of range"));
    m.ops[0].inputs = {0, 1};
    m.ops[0].outputs = {-1};
    CHECK_THAT(import_error(tfl::build(m).bytes),
               Catch::Contains("operator #0 ADD: outputs[0] is tensor -1, out of range"));
  }
  SECTION("graph input out of range") {
    tfl::ModelSpec m = tfl::add_model();
    m.inputs = {0, 3};
    CHECK_THAT(import_error(tfl::build(m).bytes),
               Catch::Contains("subgraph 0: inputs[1] is tensor 3, out of range (3 tensors)"));
  }
  SECTION("an operator reading a tensor nothing writes (from ir::verify)") {
    tfl::ModelSpec m = tfl::add_model();
    m.inputs = {0};
    CHECK_THAT(import_error(tfl::build(m).bytes),
               Catch::Contains("input 1 (tensor #1 'b') is read before any operator writes it"));
  }
}

TEST_CASE("tensor inconsistencies name the tensor", "[tflite]") {
  tfl::ModelSpec m = tfl::conv_model();
  SECTION("buffer size not matching shape x dtype") {
    m.buffers[1].data.resize(70);
    CHECK_THAT(import_error(tfl::build(m).bytes, "model.tflite"),
               Catch::Equals("model.tflite: subgraph 0 tensor #1 'conv/w': buffer 1 has 70 bytes, "
                             "shape [4,3,3,2] int8 needs 72"));
  }
  SECTION("buffer index out of range") {
    m.tensors[1].buffer = 9;
    CHECK_THAT(import_error(tfl::build(m).bytes),
               Catch::Contains("tensor #1 'conv/w': buffer 9 is out of range (3 buffers)"));
  }
  SECTION("per-channel scales not matching the quantized dimension") {
    m.tensors[1].scale = {0.1f, 0.2f, 0.3f};
    m.tensors[1].zero_point = {0, 0, 0};
    CHECK_THAT(import_error(tfl::build(m).bytes),
               Catch::Contains("tensor #1 'conv/w': quantization has 3 scales but dimension 0 "
                               "(quantized_dimension) of shape [4,3,3,2] has size 4"));
  }
  SECTION("quantized_dimension outside the shape") {
    m.tensors[1].quantized_dimension = 4;
    CHECK_THAT(import_error(tfl::build(m).bytes),
               Catch::Contains("tensor #1 'conv/w': quantized_dimension 4 is outside shape [4,3,3,2]"));
  }
  SECTION("scales and zero points disagree in number") {
    m.tensors[1].zero_point = {0, 0};
    CHECK_THAT(import_error(tfl::build(m).bytes),
               Catch::Contains("tensor #1 'conv/w': quantization has 4 scales but 2 zero points"));
    m.tensors[0].zero_point.clear();
    CHECK_THAT(import_error(tfl::build(m).bytes),
               Catch::Contains("tensor #0 'x': quantization has 1 scales but 0 zero points"));
  }
  SECTION("scales must be finite and not negative") {
    m.tensors[0].scale = {-0.5f};
    CHECK_THAT(import_error(tfl::build(m).bytes), Catch::Contains("tensor #0 'x': quantization scale[0] is -0.5"));
    m.tensors[0].scale = {std::numeric_limits<float>::quiet_NaN()};
    CHECK_THAT(import_error(tfl::build(m).bytes), Catch::Contains("tensor #0 'x': quantization scale[0] is nan"));
  }
  SECTION("zero point outside the tensor type") {
    m.tensors[0].zero_point = {128};
    CHECK_THAT(import_error(tfl::build(m).bytes),
               Catch::Contains("tensor #0 'x': quantization zero_point[0] is 128, outside the range of int8"));
  }
  SECTION("custom quantization") {
    m.tensors[0].custom_quantization = true;
    CHECK_THAT(import_error(tfl::build(m).bytes), Catch::Contains("tensor #0 'x': custom quantization"));
  }
  SECTION("a float tensor with min/max only has no quantization") {
    m.tensors[0].scale.clear();
    m.tensors[0].zero_point = {0};
    const ir::Graph g = import_bytes(tfl::build(m).bytes);
    CHECK_FALSE(g.tensors[0].quant.present());
  }
  SECTION("negative dimensions") {
    m.tensors[3].shape = {1, -1, 2, 4};
    CHECK_THAT(import_error(tfl::build(m).bytes),
               Catch::Contains("tensor #3 'conv/y': shape [1,-1,2,4]: dimension 1 is -1"));
  }
  SECTION("absurdly large shapes") {
    m.tensors[3].shape = {65536, 65536, 65536, 4};
    CHECK_THAT(import_error(tfl::build(m).bytes),
               Catch::Contains("tensor #3 'conv/y': shape [65536,65536,65536,4] is too large"));
    m.tensors[3].type = tfl::INT32;
    m.tensors[3].scale.clear();
    m.tensors[3].zero_point.clear();
    m.tensors[3].shape = {2, 1024, 1024, 1024};
    CHECK_THAT(import_error(tfl::build(m).bytes), Catch::Contains("is larger than 4294967296 bytes"));
  }
  SECTION("unsupported types") {
    m.tensors[3].type = tfl::INT4;
    CHECK_THAT(import_error(tfl::build(m).bytes),
               Catch::Contains("tensor #3 'conv/y': tensor type INT4 is not supported"));
    m.tensors[3].type = tfl::STRING;
    CHECK_THAT(import_error(tfl::build(m).bytes), Catch::Contains("tensor type STRING is not supported"));
    m.tensors[3].type = 99;
    CHECK_THAT(import_error(tfl::build(m).bytes), Catch::Contains("tensor type type code 99 is not supported"));
  }
  SECTION("sparse tensors") {
    m.tensors[1].sparse = true;
    CHECK_THAT(import_error(tfl::build(m).bytes), Catch::Contains("tensor #1 'conv/w': sparse tensors"));
  }
}

TEST_CASE("a file reusing one large buffer many times is refused, not expanded", "[tflite]") {
  // 100 tensors of 1 MiB all pointing at one 1 MiB buffer: 100 MiB from a 1 MiB file.
  tfl::ModelSpec m;
  m.codes = {tfl::OpCodeSpec::of(tfl::ADD)};
  m.buffers.push_back({std::vector<uint8_t>(1 << 20, 7), {}, {}});
  for (int i = 0; i < 100; ++i)
    m.tensors.push_back({"c" + std::to_string(i), tfl::INT8, {1 << 20}, 1, {}, {}, {}, false, false, false});
  CHECK_THAT(import_error(tfl::build(m).bytes), Catch::Contains("one object reused many times"));
}

TEST_CASE("mutated real models give an Error or a graph, never a crash", "[tflite][mutation]") {
  // Byte-level mutations of real files (run under ASan+UBSan in CI). Only survival is
  // checked; the messages are covered above. Most of a model's bytes are weights, where a
  // mutation changes nothing structural, so 9 in 10 edits go to the other bytes.
  for (const char* file : {"tflm_micro_speech_quantized.tflite", "tflm_person_detect.tflite"}) {
    const std::vector<uint8_t> original = read_file(kModels + file);
    std::vector<char> is_data(original.size(), 0);
    for (const ir::Tensor& t : import_bytes(original).tensors) {
      if (t.data.size() < 64) continue;
      const auto at = std::search(original.begin(), original.end(), t.data.begin(), t.data.end());
      REQUIRE(at != original.end());
      std::fill_n(is_data.begin() + (at - original.begin()), t.data.size(), 1);
    }
    std::vector<size_t> structure;
    for (size_t i = 0; i < original.size(); ++i)
      if (!is_data[i]) structure.push_back(i);
    const uint32_t interesting[] = {0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000u,
                                    0xffffffffu, static_cast<uint32_t>(original.size())};

    std::mt19937 rng(20240607);
    int imported = 0, refused = 0;
    for (int iter = 0; iter < 3000; ++iter) {
      std::vector<uint8_t> b = original;
      const int kind = static_cast<int>(rng() % 4);
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) {
        const size_t at = rng() % 10 != 0 ? structure[rng() % structure.size()] : rng() % b.size();
        switch (kind) {
          case 0: b[at] = static_cast<uint8_t>(rng()); break;                // random byte
          case 1: b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;   // bit flip
          case 2: {  // an interesting 32-bit value at a 4-aligned spot (offsets, lengths)
            const uint32_t v = interesting[rng() % (sizeof(interesting) / sizeof(interesting[0]))];
            std::memcpy(b.data() + (at & ~size_t{3}), &v, 4);
            break;
          }
          default: b.resize(std::min(b.size(), at + 1)); break;  // truncation
        }
      }
      try {
        import_bytes(b, "mutant.tflite");
        ++imported;
      } catch (const Error& e) {
        ++refused;
        REQUIRE(std::string(e.what()).rfind("mutant.tflite: ", 0) == 0);
      }
    }
    // Both outcomes occur: the mutations neither all miss nor all break the parse.
    INFO(file << ": imported " << imported << ", refused " << refused);
    CHECK(imported > 100);
    CHECK(refused > 1000);
  }
}
