// Question answered: does a `.tsl` loadable survive write/read field by field (with a CPU
// segment imported from a real model), are its bytes the layout docs/loadable.md
// specifies, and does every broken file give an Error naming the file, section and field,
// never a crash or a huge allocation?
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "tessel/compiler/loadable.hpp"
#include "tessel/frontend/tflite.hpp"
#include "tessel/ir/graph.hpp"
#include "tessel/ir/verify.hpp"

using namespace tessel;
using namespace tessel::compiler;

namespace {

// ---------------------------------------------------------------------------------------
// An encoder written from docs/loadable.md alone (not from loadable.cpp): the test checks
// that write_loadable produces exactly these bytes, and uses it to craft files the
// library's writer refuses to produce (it validates first).

// CRC-32 bit by bit, straight from the definition in the document.
uint32_t ref_crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1u) ? 0xEDB88320u : 0u);
  }
  return ~c;
}

class Enc {
 public:
  void u8(uint64_t v) { b.push_back(static_cast<uint8_t>(v)); }
  void u16(uint64_t v) { put(v, 2); }
  void u32(uint64_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void i32(int64_t v) { put(static_cast<uint64_t>(v), 4); }
  void i64(int64_t v) { put(static_cast<uint64_t>(v), 8); }
  void f32(float v) {
    uint32_t x;
    std::memcpy(&x, &v, 4);
    u32(x);
  }
  void f64(double v) {
    uint64_t x;
    std::memcpy(&x, &v, 8);
    u64(x);
  }
  void str(const std::string& s) {
    u32(s.size());
    b.insert(b.end(), s.begin(), s.end());
  }
  void bytes(const std::vector<uint8_t>& v) {
    u32(v.size());
    b.insert(b.end(), v.begin(), v.end());
  }
  template <typename T>
  void u32_list(const std::vector<T>& v) {
    u32(v.size());
    for (T x : v) u32(static_cast<uint64_t>(x));
  }
  template <typename T>
  void i32_list(const std::vector<T>& v) {
    u32(v.size());
    for (T x : v) i32(x);
  }
  void dtype(ir::DType t) { u8(static_cast<uint8_t>(t)); }
  void quant(const ir::Quantization& q) {
    u32(q.scale.size());
    for (float s : q.scale) f32(s);
    u32(q.zero_point.size());
    for (int64_t z : q.zero_point) i64(z);
    i32(q.axis);
  }
  std::vector<uint8_t> b;

 private:
  void put(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
};

struct DocSection {
  uint32_t kind;
  std::vector<uint8_t> payload;
};

std::vector<DocSection> doc_sections(const Loadable& l) {
  std::vector<DocSection> out;
  Enc e;
  // 1 INFO
  e.str(l.model);
  e.str(l.hardware_name);
  e.u64(l.hardware_hash);
  e.str(l.hardware_json);
  out.push_back({1, e.b});
  // 2 REGIONS
  e = Enc();
  e.u32(l.regions.size());
  for (const Region& r : l.regions) {
    e.str(r.name);
    e.u8(static_cast<uint8_t>(r.kind));
    e.u32(r.va);
    e.u32(r.bytes);
    e.bytes(r.data);
  }
  out.push_back({2, e.b});
  // 3 COMMANDS
  e = Enc();
  e.u32_list(l.commands);
  out.push_back({3, e.b});
  // 4 TENSORS
  e = Enc();
  e.u32(l.tensors.size());
  for (const TensorEntry& t : l.tensors) {
    e.str(t.name);
    e.dtype(t.dtype);
    e.i32_list(t.shape);
    e.quant(t.quant);
    e.u32(t.region);
    e.u32(t.offset);
    e.u32(t.bytes);
  }
  out.push_back({4, e.b});
  // 5 IO
  e = Enc();
  e.u32_list(l.inputs);
  e.u32_list(l.outputs);
  out.push_back({5, e.b});
  // 6 NPU_SEGMENTS
  e = Enc();
  e.u32(l.npu_segments.size());
  for (const NpuSegment& s : l.npu_segments) {
    e.u32(s.first_word);
    e.u32(s.word_count);
  }
  out.push_back({6, e.b});
  // 7 CPU_SEGMENTS
  e = Enc();
  e.u32(l.cpu_segments.size());
  for (const CpuSegment& s : l.cpu_segments) {
    const ir::Graph& g = s.graph;
    e.str(g.source);
    e.u32(g.tensors.size());
    for (const ir::Tensor& t : g.tensors) {
      e.str(t.name);
      e.dtype(t.dtype);
      e.i32_list(t.shape);
      e.quant(t.quant);
      e.u8((t.is_constant ? 1 : 0) | (t.is_variable ? 2 : 0));
      e.bytes(t.data);
    }
    e.u32(g.ops.size());
    for (const ir::Op& op : g.ops) {
      e.str(op.type_name);
      e.i32(op.version);
      e.str(op.name);
      e.i32_list(op.inputs);
      e.i32_list(op.outputs);
      e.u32(op.attrs.all().size());
      for (const auto& [key, v] : op.attrs.all()) {  // std::map: sorted by key
        e.str(key);
        if (const auto* i = std::get_if<int64_t>(&v)) {
          e.u8(0);
          e.i64(*i);
        } else if (const auto* d = std::get_if<double>(&v)) {
          e.u8(1);
          e.f64(*d);
        } else if (const auto* list = std::get_if<std::vector<int64_t>>(&v)) {
          e.u8(2);
          e.u32(list->size());
          for (int64_t x : *list) e.i64(x);
        } else {
          e.u8(3);
          e.str(std::get<std::string>(v));
        }
      }
    }
    e.i32_list(g.inputs);
    e.i32_list(g.outputs);
    e.u32_list(s.inputs);
    e.u32_list(s.outputs);
    e.u32(s.reasons.size());
    for (const std::string& r : s.reasons) e.str(r);
  }
  out.push_back({7, e.b});
  // 8 STEPS
  e = Enc();
  e.u32(l.steps.size());
  for (const Step& s : l.steps) {
    e.u8(static_cast<uint8_t>(s.kind));
    e.u32(s.index);
  }
  out.push_back({8, e.b});
  // 9 LAYERS
  e = Enc();
  e.u32(l.layers.size());
  for (const Layer& y : l.layers) {
    e.str(y.name);
    e.str(y.op);
    e.u32(y.first_word);
    e.u32(y.word_count);
    e.u64(y.macs);
    e.u64(y.estimated_cycles);
    e.str(y.bound);
  }
  out.push_back({9, e.b});
  return out;
}

void fix_checksum(std::vector<uint8_t>& f) {
  const uint32_t c = ref_crc32(f.data() + 12, f.size() - 12);
  for (int i = 0; i < 4; ++i) f[8 + static_cast<size_t>(i)] = static_cast<uint8_t>(c >> (8 * i));
}

struct FileOptions {
  uint16_t major = 1;
  uint16_t minor = 0;
  uint32_t extra_header = 0;  // bytes of (zero) header beyond the 32 of version 1.0
};

// Header, section table, payloads in order, checksum: the document's "File layout".
std::vector<uint8_t> doc_file(const std::vector<DocSection>& sections, FileOptions o = {}) {
  Enc e;
  const uint64_t header_size = 32 + o.extra_header;
  uint64_t offset = header_size + 24 * sections.size();
  uint64_t total = offset;
  for (const DocSection& s : sections) total += s.payload.size();
  e.u8('T');
  e.u8('S');
  e.u8('L');
  e.u8(0);
  e.u16(o.major);
  e.u16(o.minor);
  e.u32(0);  // checksum, below
  e.u32(header_size);
  e.u64(total);
  e.u32(sections.size());
  e.u32(0);
  for (uint32_t i = 0; i < o.extra_header; ++i) e.u8(0);
  for (const DocSection& s : sections) {
    e.u32(s.kind);
    e.u32(0);
    e.u64(offset);
    e.u64(s.payload.size());
    offset += s.payload.size();
  }
  for (const DocSection& s : sections) e.b.insert(e.b.end(), s.payload.begin(), s.payload.end());
  fix_checksum(e.b);
  return e.b;
}

std::vector<uint8_t> doc_file(const Loadable& l) { return doc_file(doc_sections(l)); }

uint64_t get_le(const std::vector<uint8_t>& f, size_t pos, int n) {
  REQUIRE(pos + static_cast<size_t>(n) <= f.size());
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t{f[pos + static_cast<size_t>(i)]} << (8 * i);
  return v;
}

void set_le(std::vector<uint8_t>& f, size_t pos, uint64_t v, int n) {
  REQUIRE(pos + static_cast<size_t>(n) <= f.size());
  for (int i = 0; i < n; ++i) f[pos + static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (8 * i));
}

// Where the payload of section `kind` starts, found through the section table.
size_t payload_of(const std::vector<uint8_t>& f, uint32_t kind) {
  const size_t header_size = get_le(f, 12, 4);
  const size_t count = get_le(f, 24, 4);
  for (size_t i = 0; i < count; ++i)
    if (get_le(f, header_size + 24 * i, 4) == kind) return get_le(f, header_size + 24 * i + 8, 8);
  FAIL("no section of kind " << kind);
  return 0;
}

Loadable read_bytes(const std::vector<uint8_t>& f, const std::string& name = "m.tsl") {
  return read_loadable(f.data(), f.size(), name);
}

// The message of the Error reading `f` throws ("" if it reads), checked to start with the
// source name as every message must. Any other exception fails the test.
std::string read_error(const std::vector<uint8_t>& f, const std::string& name = "m.tsl") {
  try {
    read_bytes(f, name);
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.rfind(name + ": ", 0) == 0);
    return msg;
  }
  return "";
}

std::string write_error(const Loadable& l) {
  try {
    write_loadable(l);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// ---------------------------------------------------------------------------------------
// Test loadables.

const std::string kModel = "coral_mobilenet_v2_1.0_224_quant.tflite";

const ir::Graph& mobilenet() {
  static const ir::Graph g =
      tflite::import_file(std::string(TESSEL_SHARED_DIR) + "/models/tflite/" + kModel);
  return g;
}

// The operators [first_op, end) of `g` as a graph of their own: the tensors they use,
// renumbered; inputs = what they read that is neither constant nor written among them;
// outputs = the model's outputs.
ir::Graph tail_subgraph(const ir::Graph& g, size_t first_op) {
  ir::Graph s;
  s.source = g.source;
  std::map<int, int> remap;
  auto map_tensor = [&](int t) {
    if (t == ir::kNoTensor) return t;
    auto it = remap.find(t);
    if (it != remap.end()) return it->second;
    const int n = static_cast<int>(s.tensors.size());
    s.tensors.push_back(g.tensors[static_cast<size_t>(t)]);
    remap[t] = n;
    return n;
  };
  std::set<int> written;
  for (size_t i = first_op; i < g.ops.size(); ++i) {
    ir::Op op = g.ops[i];
    for (int& t : op.inputs) {
      const bool outside = t != ir::kNoTensor && !written.count(t) &&
                           !g.tensors[static_cast<size_t>(t)].is_constant && !remap.count(t);
      t = map_tensor(t);
      if (outside) s.inputs.push_back(t);
    }
    for (int& t : op.outputs) {
      written.insert(t);
      t = map_tensor(t);
    }
    s.ops.push_back(op);
  }
  for (int t : g.outputs) s.outputs.push_back(map_tensor(t));
  return s;
}

std::vector<uint8_t> pattern(size_t n, unsigned mul, unsigned add) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * mul + add);
  return v;
}

// Several regions (one empty), per-channel quantization on two axes, a CPU segment that
// is MobileNetV2's RESHAPE + SOFTMAX tail, two NPU segments, steps and layers.
Loadable rich() {
  const ir::Graph& m = mobilenet();
  REQUIRE(m.ops.size() >= 2);
  ir::Graph sub = tail_subgraph(m, m.ops.size() - 2);
  REQUIRE(sub.ops.size() == 2);
  REQUIRE(sub.ops[0].type_name == "RESHAPE");
  REQUIRE(sub.ops[1].type_name == "SOFTMAX");
  REQUIRE(sub.inputs.size() == 1);
  REQUIRE(sub.outputs.size() == 1);
  // The imported ops carry an int list (new_shape) and a float (beta); give them the other
  // two attribute kinds too so that all four are written and read.
  sub.ops[0].attrs.set("tessel_test_int", int64_t{-7});
  sub.ops[1].attrs.set("tessel_test_note", std::string("kept on the CPU"));
  const ir::Tensor& logits = sub.tensors[static_cast<size_t>(sub.inputs[0])];
  const ir::Tensor& probs = sub.tensors[static_cast<size_t>(sub.outputs[0])];
  const ir::Tensor& image = m.tensors[static_cast<size_t>(m.inputs[0])];

  Loadable l;
  l.model = kModel;
  l.hardware_name = "edgetpu-64x64";
  l.hardware_hash = 0xF00DFACE12345678ull;
  l.hardware_json = "{\"name\": \"edgetpu-64x64\", \"mac\": {\"rows\": 64, \"cols\": 64}}";

  l.regions = {
      {"weights", Region::Kind::constant, 0x1000, 0x2000, pattern(0x2000, 37, 11)},
      {"luts", Region::Kind::constant, 0x4000, 512, pattern(512, 3, 200)},
      {"empty", Region::Kind::constant, 0x8000, 0, {}},
      {"arena", Region::Kind::arena, 0x100000, 0x40000, {}},
  };
  for (uint32_t i = 0; i < 64; ++i) l.commands.push_back(0x9E3779B9u * (i + 1));

  TensorEntry t_image{"image", image.dtype, image.shape, image.quant, 3, 0, 0};
  t_image.bytes = static_cast<uint32_t>(image.num_bytes());
  TensorEntry t_logits{logits.name, logits.dtype, logits.shape, logits.quant, 3, 0x30000, 1001};
  TensorEntry t_probs{probs.name, probs.dtype, probs.shape, probs.quant, 3, 0x30400, 1001};
  TensorEntry t_conv{"conv_w",
                     ir::DType::i8,
                     {4, 1, 1, 8},
                     {{0.5f, 0.25f, 0.125f, 0.0625f}, {0, 0, 0, 0}, 0},
                     0,
                     0x100,
                     32};
  TensorEntry t_dw{"dw_w",
                   ir::DType::i8,
                   {1, 3, 3, 4},
                   {{0.01f, 0.02f, 0.03f, 0.04f}, {1, -2, 3, -4}, 3},
                   0,
                   0x200,
                   36};
  TensorEntry t_lut{"lut", ir::DType::i16, {256}, {}, 1, 0, 512};
  l.tensors = {t_image, t_logits, t_probs, t_conv, t_dw, t_lut};
  l.inputs = {0};
  l.outputs = {2};
  l.npu_segments = {{0, 40}, {40, 24}};
  l.cpu_segments.push_back(
      {sub, {1}, {2}, {"RESHAPE: a view, not worth a job", "SOFTMAX: needs exp, no NPU unit"}});
  l.steps = {{Step::Kind::npu, 0}, {Step::Kind::npu, 1}, {Step::Kind::cpu, 0}};
  l.layers = {
      {"MobilenetV2/Conv/Relu6", "CONV_2D", 0, 40, 10838016, 123456, "compute"},
      {"MobilenetV2/Logits/Conv2d_1c_1x1", "CONV_2D", 40, 24, 1281280, 40000, "memory"},
      {sub.ops[0].name, "RESHAPE", 0, 0, 0, 0, ""},
      {sub.ops[1].name, "SOFTMAX", 0, 0, 0, 0, ""},
  };
  return l;
}

// A small loadable (a few hundred bytes) for the exhaustive truncation and mutation
// loops: every section non-empty, a hand-made one-ADD CPU graph with a per-channel
// constant.
Loadable small() {
  Loadable l;
  l.model = "s.tflite";
  l.hardware_name = "default";
  l.hardware_hash = 42;
  l.hardware_json = "{}";
  l.regions = {{"w", Region::Kind::constant, 0x1000, 16, pattern(16, 1, 0)},
               {"arena", Region::Kind::arena, 0x2000, 0x100, {}}};
  l.commands = {1, 2, 3, 4, 5, 6};
  l.tensors = {{"x", ir::DType::i8, {1, 4}, {{0.5f}, {-1}, 0}, 1, 0, 4},
               {"y", ir::DType::i8, {1, 4}, {{0.25f}, {3}, 0}, 1, 0x10, 4}};
  l.inputs = {0};
  l.outputs = {1};
  l.npu_segments = {{0, 6}};
  ir::Graph g;
  g.source = "s.tflite";
  g.tensors = {
      {"x", ir::DType::i8, {1, 4}, {{0.5f}, {-1}, 0}, {}, false, false},
      {"c",
       ir::DType::i8,
       {4},
       {{0.1f, 0.2f, 0.3f, 0.4f}, {0, 0, 0, 0}, 0},
       {1, 2, 3, 4},
       true,
       false},
      {"y", ir::DType::i8, {1, 4}, {{0.25f}, {3}, 0}, {}, false, false},
  };
  ir::Op add;
  add.type = ir::OpType::ADD;
  add.type_name = "ADD";
  add.version = 2;
  add.name = "y";
  add.inputs = {0, 1};
  add.outputs = {2};
  add.attrs.set("fused_activation_function", int64_t{1});
  g.ops = {add};
  g.inputs = {0};
  g.outputs = {2};
  l.cpu_segments.push_back({g, {0}, {1}, {"ADD: broadcast"}});
  l.steps = {{Step::Kind::npu, 0}, {Step::Kind::cpu, 0}};
  l.layers = {{"conv", "CONV_2D", 0, 6, 96, 40, "compute"}, {"y", "ADD", 0, 0, 0, 0, ""}};
  return l;
}

// ---------------------------------------------------------------------------------------
// Field-by-field equality.

void check_quant(const ir::Quantization& a, const ir::Quantization& b) {
  CHECK(a.scale == b.scale);
  CHECK(a.zero_point == b.zero_point);
  CHECK(a.axis == b.axis);
}

void check_graph(const ir::Graph& a, const ir::Graph& b) {
  CHECK(a.source == b.source);
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    INFO("graph tensor " << i);
    const ir::Tensor& x = a.tensors[i];
    const ir::Tensor& y = b.tensors[i];
    CHECK(x.name == y.name);
    CHECK(x.dtype == y.dtype);
    CHECK(x.shape == y.shape);
    check_quant(x.quant, y.quant);
    CHECK(x.data == y.data);
    CHECK(x.is_constant == y.is_constant);
    CHECK(x.is_variable == y.is_variable);
  }
  REQUIRE(a.ops.size() == b.ops.size());
  for (size_t i = 0; i < a.ops.size(); ++i) {
    INFO("graph op " << i);
    const ir::Op& x = a.ops[i];
    const ir::Op& y = b.ops[i];
    CHECK(x.type == y.type);
    CHECK(x.type_name == y.type_name);
    CHECK(x.version == y.version);
    CHECK(x.name == y.name);
    CHECK(x.inputs == y.inputs);
    CHECK(x.outputs == y.outputs);
    CHECK(x.attrs.all() == y.attrs.all());
  }
  CHECK(a.inputs == b.inputs);
  CHECK(a.outputs == b.outputs);
}

void check_loadable(const Loadable& a, const Loadable& b) {
  CHECK(a.model == b.model);
  CHECK(a.hardware_name == b.hardware_name);
  CHECK(a.hardware_hash == b.hardware_hash);
  CHECK(a.hardware_json == b.hardware_json);
  REQUIRE(a.regions.size() == b.regions.size());
  for (size_t i = 0; i < a.regions.size(); ++i) {
    INFO("region " << i);
    CHECK(a.regions[i].name == b.regions[i].name);
    CHECK(a.regions[i].kind == b.regions[i].kind);
    CHECK(a.regions[i].va == b.regions[i].va);
    CHECK(a.regions[i].bytes == b.regions[i].bytes);
    CHECK(a.regions[i].data == b.regions[i].data);
  }
  CHECK(a.commands == b.commands);
  REQUIRE(a.tensors.size() == b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    INFO("tensor " << i);
    const TensorEntry& x = a.tensors[i];
    const TensorEntry& y = b.tensors[i];
    CHECK(x.name == y.name);
    CHECK(x.dtype == y.dtype);
    CHECK(x.shape == y.shape);
    check_quant(x.quant, y.quant);
    CHECK(x.region == y.region);
    CHECK(x.offset == y.offset);
    CHECK(x.bytes == y.bytes);
  }
  CHECK(a.inputs == b.inputs);
  CHECK(a.outputs == b.outputs);
  REQUIRE(a.npu_segments.size() == b.npu_segments.size());
  for (size_t i = 0; i < a.npu_segments.size(); ++i) {
    CHECK(a.npu_segments[i].first_word == b.npu_segments[i].first_word);
    CHECK(a.npu_segments[i].word_count == b.npu_segments[i].word_count);
  }
  REQUIRE(a.cpu_segments.size() == b.cpu_segments.size());
  for (size_t i = 0; i < a.cpu_segments.size(); ++i) {
    INFO("cpu segment " << i);
    check_graph(a.cpu_segments[i].graph, b.cpu_segments[i].graph);
    CHECK(a.cpu_segments[i].inputs == b.cpu_segments[i].inputs);
    CHECK(a.cpu_segments[i].outputs == b.cpu_segments[i].outputs);
    CHECK(a.cpu_segments[i].reasons == b.cpu_segments[i].reasons);
  }
  REQUIRE(a.steps.size() == b.steps.size());
  for (size_t i = 0; i < a.steps.size(); ++i) {
    CHECK(a.steps[i].kind == b.steps[i].kind);
    CHECK(a.steps[i].index == b.steps[i].index);
  }
  REQUIRE(a.layers.size() == b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    INFO("layer " << i);
    const Layer& x = a.layers[i];
    const Layer& y = b.layers[i];
    CHECK(x.name == y.name);
    CHECK(x.op == y.op);
    CHECK(x.first_word == y.first_word);
    CHECK(x.word_count == y.word_count);
    CHECK(x.macs == y.macs);
    CHECK(x.estimated_cycles == y.estimated_cycles);
    CHECK(x.bound == y.bound);
  }
}

void check_same_bytes(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want) {
  CHECK(got.size() == want.size());
  const auto diff = std::mismatch(got.begin(), got.end(), want.begin(), want.end());
  if (diff.first != got.end() || diff.second != want.end()) {
    const size_t at = static_cast<size_t>(diff.first - got.begin());
    FAIL("first difference at byte " << at << " of " << got.size());
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------

TEST_CASE("the checksum is zlib's CRC-32 of everything after the checksum field", "[loadable]") {
  const std::string check = "123456789";
  REQUIRE(ref_crc32(reinterpret_cast<const uint8_t*>(check.data()), check.size()) == 0xCBF43926u);
  const std::vector<uint8_t> f = write_loadable(small());
  CHECK(get_le(f, 8, 4) == ref_crc32(f.data() + 12, f.size() - 12));
}

TEST_CASE("a rich loadable round-trips field by field", "[loadable]") {
  const Loadable l = rich();
  const std::vector<uint8_t> f = write_loadable(l);
  const Loadable r = read_bytes(f);
  CHECK(r.major == 1);
  CHECK(r.minor == 0);
  check_loadable(l, r);

  // Independent spot checks of what was read (not only "same as written").
  const ir::Graph& g = r.cpu_segments.at(0).graph;
  CHECK(g.ops.at(0).type == ir::OpType::RESHAPE);
  CHECK(g.ops.at(1).type == ir::OpType::SOFTMAX);
  CHECK(g.ops.at(1).attrs.get_float("beta", 0.0) == 1.0);
  CHECK(g.ops.at(0).attrs.get_int("tessel_test_int", 0) == -7);
  CHECK(g.ops.at(1).attrs.get_string("tessel_test_note", "") == "kept on the CPU");
  // This model's RESHAPE carries new_shape as an (empty) int list; its kind survives.
  REQUIRE(g.ops.at(0).attrs.has("new_shape"));
  CHECK(std::holds_alternative<std::vector<int64_t>>(g.ops.at(0).attrs.all().at("new_shape")));
  // RESHAPE's shape operand: a constant int32 [2] holding {1, 1001}.
  const ir::Tensor& shape = g.tensors.at(static_cast<size_t>(g.ops.at(0).inputs.at(1)));
  REQUIRE(shape.is_constant);
  REQUIRE(shape.data.size() == 8);
  CHECK(shape.data_as<int32_t>()[0] == 1);
  CHECK(shape.data_as<int32_t>()[1] == 1001);
  CHECK_NOTHROW(ir::verify(g));
  CHECK(r.tensors.at(4).quant.axis == 3);
  CHECK(r.tensors.at(4).quant.zero_point == std::vector<int64_t>{1, -2, 3, -4});
  CHECK(r.tensors.at(1).shape == std::vector<int32_t>{1, 1, 1, 1001});
  CHECK(r.regions.at(0).data.at(1) == 48);  // 1 * 37 + 11
  CHECK(r.hardware_hash == 0xF00DFACE12345678ull);
}

TEST_CASE("write_loadable writes exactly the layout of docs/loadable.md", "[loadable]") {
  SECTION("rich") { check_same_bytes(write_loadable(rich()), doc_file(rich())); }
  SECTION("small") { check_same_bytes(write_loadable(small()), doc_file(small())); }
  SECTION("empty lists") {
    Loadable l;
    check_same_bytes(write_loadable(l), doc_file(l));
    check_loadable(l, read_bytes(write_loadable(l)));
  }
  SECTION("the writer writes its own version whatever the struct says") {
    Loadable l = small();
    l.minor = 9;
    const std::vector<uint8_t> f = write_loadable(l);
    CHECK(get_le(f, 4, 2) == kLoadableMajor);
    CHECK(get_le(f, 6, 2) == kLoadableMinor);
  }
}

TEST_CASE("save_loadable and load_loadable go through a file", "[loadable]") {
  const auto path = std::filesystem::temp_directory_path() /
                    ("tessel_test_loadable_" + std::to_string(std::random_device{}()) + ".tsl");
  const Loadable l = rich();
  save_loadable(l, path.string());
  const Loadable r = load_loadable(path.string());
  std::filesystem::remove(path);
  check_loadable(l, r);

  try {
    load_loadable(path.string());
    FAIL("loading a missing file succeeded");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::StartsWith(path.string() + ": cannot open"));
  }
  // Errors of a file that exists also name it.
  const std::vector<uint8_t> bad = {'P', 'K', 3, 4, 0, 0, 0, 0};
  CHECK_THAT(read_error(bad, path.string()),
             Catch::StartsWith(path.string() + ": not a Tessel loadable"));
}

TEST_CASE("header: magic, versions, length and checksum", "[loadable]") {
  const std::vector<uint8_t> good = write_loadable(small());

  SECTION("empty file") { CHECK(read_error({}) == "m.tsl: the file is empty"); }
  SECTION("bad magic") {
    std::vector<uint8_t> f = good;
    f[0] = 'P';
    f[1] = 'K';
    CHECK(read_error(f) ==
          "m.tsl: not a Tessel loadable: the file starts with bytes 50 4b 4c 00 "
          "where a .tsl file starts with 'TSL\\0' (54 53 4c 00)");
  }
  SECTION("another major version is refused, naming both versions") {
    FileOptions o;
    o.major = 2;
    CHECK_THAT(read_error(doc_file(doc_sections(small()), o)),
               Catch::StartsWith(
                   "m.tsl: format version 2.0 is not supported: this reader reads version 1.x"));
    o.major = 0;
    o.minor = 3;
    CHECK_THAT(read_error(doc_file(doc_sections(small()), o)),
               Catch::Contains("format version 0.3 is not supported") && Catch::Contains("1.0"));
  }
  SECTION("a newer minor version with additions is accepted") {
    // What a 1.3 writer might add: a larger header, a new section kind, a field at the end
    // of an existing section.
    std::vector<DocSection> s = doc_sections(rich());
    s.insert(s.begin() + 3, DocSection{200, {1, 2, 3, 4, 5}});
    s.back().payload.insert(s.back().payload.end(), {0xAA, 0xBB, 0xCC});
    FileOptions o;
    o.minor = 3;
    o.extra_header = 8;
    const std::vector<uint8_t> f = doc_file(s, o);
    CHECK(read_error(f) == "");
    const Loadable r = read_bytes(f);
    CHECK(r.major == 1);
    CHECK(r.minor == 3);
    check_loadable(rich(), r);
  }
  SECTION(
      "in a file of this minor version, unknown sections are skipped but extra bytes are errors") {
    std::vector<DocSection> s = doc_sections(small());
    s.push_back(DocSection{77, {9, 9}});
    CHECK(read_error(doc_file(s)) == "");

    std::vector<DocSection> t = doc_sections(small());
    t.back().payload.insert(t.back().payload.end(), {0xAA, 0xBB, 0xCC});
    CHECK_THAT(
        read_error(doc_file(t)),
        Catch::StartsWith("m.tsl: LAYERS section: 3 unread bytes at the end of the section"));

    FileOptions o;
    o.extra_header = 8;
    CHECK_THAT(read_error(doc_file(doc_sections(small()), o)),
               Catch::StartsWith("m.tsl: header: header_size 40 is not 32"));
  }
  SECTION("a trailing byte") {
    std::vector<uint8_t> f = good;
    f.push_back(0);
    CHECK_THAT(read_error(f), Catch::Contains("trailing bytes"));
  }
  SECTION("a flipped byte anywhere after the checksum field is a checksum mismatch") {
    for (size_t pos : {size_t{12}, size_t{25}, size_t{40}, good.size() / 2, good.size() - 1}) {
      std::vector<uint8_t> f = good;
      f[pos] ^= 0x10;
      INFO("byte " << pos);
      CHECK_THAT(read_error(f),
                 Catch::StartsWith("m.tsl: checksum mismatch: the header records CRC-32 0x") &&
                     Catch::EndsWith("the file is corrupt"));
    }
  }
}

TEST_CASE("every truncation of a small file is an Error, never a crash", "[loadable]") {
  const std::vector<uint8_t> good = write_loadable(small());
  REQUIRE(good.size() < 1000);
  for (size_t n = 0; n < good.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    const std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    const std::string msg = read_error(cut);
    if (n == 0)
      CHECK(msg == "m.tsl: the file is empty");
    else if (n < 32)
      CHECK_THAT(msg, Catch::StartsWith("m.tsl: truncated: " + std::to_string(n) + " bytes"));
    else
      CHECK_THAT(msg, Catch::StartsWith("m.tsl: truncated: the header records " +
                                        std::to_string(good.size()) + " bytes"));
    // The same cut with the header repaired (file size and checksum), so that the
    // section table and the payload readers meet the missing bytes.
    if (n >= 32) {
      std::vector<uint8_t> fixed = cut;
      set_le(fixed, 16, n, 8);
      fix_checksum(fixed);
      CHECK_THAT(read_error(fixed),
                 Catch::Contains("section table") || Catch::Contains("section area"));
    }
  }
}

TEST_CASE("section table: payloads inside the file, no overlap, required kinds once",
          "[loadable]") {
  const std::vector<uint8_t> good = write_loadable(small());
  auto entry = [](size_t i) { return 32 + 24 * i; };
  std::vector<uint8_t> f = good;

  SECTION("a size past the end of the file") {
    set_le(f, entry(1) + 16, uint64_t{1} << 40, 8);
    fix_checksum(f);
    CHECK_THAT(read_error(f),
               Catch::StartsWith("m.tsl: section table entry 1 (REGIONS): offset ") &&
                   Catch::Contains("+ size 1099511627776 is outside the section area"));
  }
  SECTION("an offset inside the header") {
    set_le(f, entry(0) + 8, 4, 8);
    fix_checksum(f);
    CHECK_THAT(read_error(f),
               Catch::StartsWith("m.tsl: section table entry 0 (INFO): offset 4 + size"));
  }
  SECTION("an offset near 2^64 (no wrap-around)") {
    set_le(f, entry(2) + 8, ~uint64_t{0} - 3, 8);
    fix_checksum(f);
    CHECK_THAT(read_error(f), Catch::Contains("section table entry 2 (COMMANDS)") &&
                                  Catch::Contains("outside the section area"));
  }
  SECTION("overlapping payloads") {
    set_le(f, entry(3) + 8, get_le(f, entry(2) + 8, 8), 8);
    fix_checksum(f);
    CHECK(read_error(f) == "m.tsl: section table entries 2 and 3 overlap");
  }
  SECTION("a known kind twice") {
    set_le(f, entry(8), 1, 4);
    fix_checksum(f);
    CHECK(read_error(f) == "m.tsl: section table entry 8 (INFO): a second INFO section");
  }
  SECTION("a required kind missing") {
    set_le(f, entry(8), 99, 4);
    fix_checksum(f);
    CHECK(read_error(f) == "m.tsl: the required LAYERS section (kind 9) is missing");
  }
  SECTION("a section count past the file") {
    set_le(f, 24, 0x10000000, 4);
    fix_checksum(f);
    CHECK_THAT(read_error(f), Catch::StartsWith("m.tsl: header: section_count 268435456 needs a"));
  }
}

TEST_CASE("absurd counts are refused before anything is allocated", "[loadable]") {
  // Each count is checked against the bytes left in its section; had the reader trusted
  // them it would ask for gigabytes (std::bad_alloc, which read_error does not catch).
  const Loadable l = small();
  const std::vector<uint8_t> good = write_loadable(l);
  auto patched = [&](uint32_t kind, size_t at, uint32_t value) {
    std::vector<uint8_t> f = good;
    set_le(f, payload_of(f, kind) + at, value, 4);
    fix_checksum(f);
    return read_error(f);
  };
  CHECK_THAT(patched(2, 0, 0x80000000u),
             Catch::StartsWith("m.tsl: REGIONS section: regions: count 2147483648 needs at least "
                               "2147483648 x 17 bytes but only"));
  CHECK_THAT(
      patched(3, 0, 0xFFFFFFFFu),
      Catch::StartsWith("m.tsl: COMMANDS section: commands: count 4294967295 needs at least"));
  // INFO holds three strings and a u64; after the model's length, the rest is left.
  const size_t info_left =
      l.model.size() + 4 + l.hardware_name.size() + 8 + 4 + l.hardware_json.size();
  CHECK(patched(1, 0, 0x7FFFFFFFu) ==
        "m.tsl: INFO section: model: a length of 2147483647 bytes but only " +
            std::to_string(info_left) + " are left in the section");
  // TENSORS: count, name "x", dtype, then the rank.
  CHECK_THAT(patched(4, 4 + 4 + 1 + 1, 0x40000000u),
             Catch::StartsWith("m.tsl: TENSORS section: tensors[0].shape: count 1073741824"));
  // CPU_SEGMENTS: count, graph source "s.tflite", then the graph's tensor count.
  const size_t graph_tensors = 4 + 4 + l.cpu_segments[0].graph.source.size();
  CHECK_THAT(patched(7, graph_tensors, 0x80000000u),
             Catch::StartsWith(
                 "m.tsl: CPU_SEGMENTS section: cpu_segments[0].graph.tensors: count 2147483648"));
  // First graph tensor "x" i8 [1, 4] with 1 scale and 1 zero point: then flags, then data.
  const size_t x_flags = graph_tensors + 4 + (4 + 1) + 1 + (4 + 2 * 4) + (4 + 4) + (4 + 8) + 4;
  CHECK_THAT(
      patched(7, x_flags + 1, 0xFFFFFFF0u),
      Catch::StartsWith("m.tsl: CPU_SEGMENTS section: cpu_segments[0].graph.tensors[0].data: "
                        "a length of 4294967280 bytes but only"));
  CHECK_THAT(patched(8, 0, 0x40000000u),
             Catch::StartsWith("m.tsl: STEPS section: steps: count 1073741824"));
}

TEST_CASE("bad codes and flags name the field", "[loadable]") {
  const Loadable l = small();
  const std::vector<uint8_t> good = write_loadable(l);
  auto patched = [&](uint32_t kind, size_t at, uint8_t value) {
    std::vector<uint8_t> f = good;
    f.at(payload_of(f, kind) + at) = value;
    fix_checksum(f);
    return read_error(f);
  };
  CHECK(patched(4, 4 + 4 + 1, 99) ==
        "m.tsl: TENSORS section: tensors[0].dtype: type code 99 is not a known type (0..12)");
  CHECK(patched(2, 4 + 4 + 1, 5) ==
        "m.tsl: REGIONS section: regions[0].kind: 5 is not constant (0) or arena (1)");
  CHECK(patched(8, 4, 2) == "m.tsl: STEPS section: steps[0].kind: 2 is not npu (0) or cpu (1)");
  const size_t x_flags = 4 + 4 + l.cpu_segments[0].graph.source.size() + 4 + (4 + 1) + 1 +
                         (4 + 2 * 4) + (4 + 4) + (4 + 8) + 4;
  CHECK(patched(7, x_flags, 0x84) ==
        "m.tsl: CPU_SEGMENTS section: cpu_segments[0].graph.tensors[0].flags: 0x84 has bits other "
        "than constant (0x1) and variable (0x2)");
}

namespace {
// `bad` must be refused both when read from a file (crafted with the document's encoder)
// and by write_loadable, with `expected` after the source name.
void expect_invalid(const Loadable& bad, const std::string& expected) {
  const std::string from_file = read_error(doc_file(bad));
  CHECK_THAT(from_file, Catch::StartsWith("m.tsl: " + expected));
  CHECK_THAT(write_error(bad), Catch::StartsWith("write_loadable: " + expected));
}
}  // namespace

TEST_CASE("structural errors name the section, the field and the values", "[loadable]") {
  Loadable l = rich();
  REQUIRE(read_error(doc_file(l)) == "");

  SECTION("overlapping regions") {
    l.regions[1].va = 0x2000;
    expect_invalid(
        l,
        "REGIONS section: regions[1]: region 'luts' [0x2000, 0x2200) overlaps regions[0] "
        "'weights' [0x1000, 0x3000)");
  }
  SECTION("an unaligned region") {
    l.regions[1].va = 0x4010;
    expect_invalid(l,
                   "REGIONS section: regions[1].va: 0x4010 of region 'luts' is not 4 KiB aligned");
  }
  SECTION("a region past the 32-bit address space") {
    l.regions[3].va = 0xFFFF0000u;
    expect_invalid(
        l,
        "REGIONS section: regions[3].bytes: 0xffff0000 + 0x40000 bytes of region 'arena' "
        "runs past the 32-bit address space");
  }
  SECTION("constant data of the wrong size") {
    l.regions[1].data.resize(100);
    expect_invalid(l,
                   "REGIONS section: regions[1].data: constant region 'luts' has 100 bytes of data "
                   "for 512 bytes");
  }
  SECTION("data in an arena") {
    l.regions[3].data = {1};
    expect_invalid(l, "REGIONS section: regions[3].data: arena region 'arena' carries 1 bytes");
  }
  SECTION("a tensor outside its region") {
    l.tensors[2].offset = 0x3FF00;
    expect_invalid(
        l,
        "TENSORS section: tensors[2].offset: 0x3ff00 + 1001 bytes runs past region 'arena' "
        "(0x40000 bytes)");
  }
  SECTION("a tensor whose bytes do not match its shape") {
    l.tensors[3].bytes = 31;
    expect_invalid(l,
                   "TENSORS section: tensors[3].bytes: tensor 'conv_w' records 31 bytes but "
                   "[4, 1, 1, 8] int8 needs 32");
  }
  SECTION("a tensor in a region that does not exist") {
    l.tensors[0].region = 7;
    expect_invalid(l, "TENSORS section: tensors[0].region: tensor 'image' is in region 7 of 4");
  }
  SECTION("per-channel scales that do not match the axis") {
    l.tensors[3].quant.scale.pop_back();
    l.tensors[3].quant.zero_point.pop_back();
    expect_invalid(l,
                   "TENSORS section: tensors[3].quant: tensor 'conv_w': 3 per-channel scales for "
                   "dimension 0 of size 4");
  }
  SECTION("a huge shape (no overflow)") {
    l.tensors[5].shape = {65536, 65536, 65536};
    expect_invalid(l,
                   "TENSORS section: tensors[5].bytes: tensor 'lut' records 512 bytes but "
                   "[65536, 65536, 65536] int16 needs more than 4 GiB");
  }
  SECTION("a model output outside the tensor table") {
    l.outputs = {6};
    expect_invalid(l, "IO section: outputs[0]: tensor 6 is outside the tensor table (6 tensors)");
  }
  SECTION("an NPU segment past the command stream") {
    l.npu_segments[1].word_count = 25;
    expect_invalid(l,
                   "NPU_SEGMENTS section: npu_segments[1]: words [40, 65) run past the command "
                   "stream (64 words)");
  }
  SECTION("an empty NPU segment") {
    l.npu_segments[0].word_count = 0;
    expect_invalid(l,
                   "NPU_SEGMENTS section: npu_segments[0].word_count: a segment has no commands");
  }
  SECTION("a step naming a segment that does not exist") {
    l.steps.push_back({Step::Kind::cpu, 1});
    expect_invalid(l, "STEPS section: steps[3].index: CPU segment 1 of 1");
    l.steps.back() = {Step::Kind::npu, 2};
    expect_invalid(l, "STEPS section: steps[3].index: NPU segment 2 of 2");
  }
  SECTION("a layer's words past the command stream") {
    l.layers[1].word_count = 1000;
    expect_invalid(l,
                   "LAYERS section: layers[1]: layer 'MobilenetV2/Logits/Conv2d_1c_1x1' words "
                   "[40, 1040) run past the command stream (64 words)");
  }
  SECTION("a CPU segment whose graph fails the verifier") {
    l.cpu_segments[0].graph.ops[1].inputs[0] = 99;
    const std::string msg = read_error(doc_file(l));
    // The verifier's message follows, starting with the graph's source (the model path).
    CHECK_THAT(msg, Catch::StartsWith("m.tsl: CPU_SEGMENTS section: cpu_segments[0].graph: ") &&
                        Catch::Contains(kModel + ": op #1 SOFTMAX"));
    CHECK_THAT(msg, Catch::Contains("op #1 SOFTMAX") && Catch::Contains("refers to tensor #99"));
    CHECK_THAT(write_error(l),
               Catch::StartsWith("write_loadable: CPU_SEGMENTS section: cpu_segments[0].graph:"));
  }
  SECTION("a bound tensor whose shape differs from the graph's") {
    l.tensors[1].shape = {1, 1001};
    const std::string msg = read_error(doc_file(l));
    CHECK_THAT(msg, Catch::StartsWith(
                        "m.tsl: CPU_SEGMENTS section: cpu_segments[0].inputs[0]: tensor 1 '"));
    CHECK_THAT(msg, Catch::Contains("is uint8 [1, 1001] but graph inputs 0 (tensor #") &&
                        Catch::EndsWith("is uint8 [1, 1, 1, 1001]"));
  }
  SECTION("a bound tensor of another type") {
    l.tensors[2].dtype = ir::DType::i8;
    CHECK_THAT(read_error(doc_file(l)), Catch::Contains("cpu_segments[0].outputs[0]: tensor 2") &&
                                            Catch::Contains("is int8 [1, 1001]"));
  }
  SECTION("binding lists that do not match the graph's") {
    l.cpu_segments[0].outputs.push_back(2);
    expect_invalid(l,
                   "CPU_SEGMENTS section: cpu_segments[0].outputs: 2 tensors bound but the graph "
                   "has 1 outputs");
    l.cpu_segments[0].outputs = {17};
    expect_invalid(
        l,
        "CPU_SEGMENTS section: cpu_segments[0].outputs[0]: tensor 17 is outside the tensor table");
  }
}

TEST_CASE("random byte mutations with a repaired checksum give Errors, never crashes",
          "[loadable]") {
  // Repairing the checksum sends the mutations past it into the section table, payload
  // readers and validation. Anything but tessel::Error escaping read_loadable fails here
  // (the sanitizer build also catches out-of-bounds reads).
  std::mt19937 rng(20240611);
  int rejected = 0;
  int accepted = 0;
  for (const std::vector<uint8_t>& base : {write_loadable(small()), doc_file(small())}) {
    for (int it = 0; it < 3000; ++it) {
      std::vector<uint8_t> f = base;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) {
        const size_t pos = 12 + rng() % (f.size() - 12);
        switch (rng() % 4) {
          case 0: f[pos] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
          case 1: f[pos] = 0xFF; break;
          case 2: f[pos] = 0; break;
          default: f[pos] = static_cast<uint8_t>(rng()); break;
        }
      }
      if (rng() % 8 == 0) {  // also cut or grow the file, keeping the header consistent
        const size_t n = 32 + rng() % (f.size() - 32 + 16);
        f.resize(n, 0x5A);
        set_le(f, 16, n, 8);
      }
      fix_checksum(f);
      try {
        read_bytes(f);
        ++accepted;
      } catch (const Error&) {
        ++rejected;
      }
    }
  }
  INFO("accepted " << accepted << ", rejected " << rejected);
  CHECK(rejected > 3000);
  CHECK(accepted > 0);  // e.g. flips inside constant data or names
}
