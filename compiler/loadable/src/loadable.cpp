// The `.tsl` file format: writer, bounds-checked reader and structural validation.
// The byte layout is specified in docs/loadable.md; keep the two in step (the unit test
// compares write_loadable's bytes with an encoder written from the document).
#include "tessel/compiler/loadable.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <numeric>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "tessel/ir/error.hpp"
#include "tessel/ir/verify.hpp"

namespace tessel::compiler {

namespace {

// ---------------------------------------------------------------------------------------
// Format constants (docs/loadable.md, "Header" and "Sections").

constexpr uint8_t kMagic[4] = {'T', 'S', 'L', '\0'};
constexpr uint32_t kHeaderSize = 32;        // the fixed header written by this version
constexpr uint32_t kSectionEntrySize = 24;  // kind u32, reserved u32, offset u64, size u64
constexpr size_t kChecksumFrom = 12;        // the checksum covers [12, file size)

enum SectionKind : uint32_t {
  kInfo = 1,
  kRegions = 2,
  kCommands = 3,
  kTensors = 4,
  kIo = 5,
  kNpuSegments = 6,
  kCpuSegments = 7,
  kSteps = 8,
  kLayers = 9,
};
constexpr uint32_t kFirstKind = kInfo;
constexpr uint32_t kLastKind = kLayers;

const char* section_name(uint32_t kind) {
  switch (kind) {
    case kInfo: return "INFO";
    case kRegions: return "REGIONS";
    case kCommands: return "COMMANDS";
    case kTensors: return "TENSORS";
    case kIo: return "IO";
    case kNpuSegments: return "NPU_SEGMENTS";
    case kCpuSegments: return "CPU_SEGMENTS";
    case kSteps: return "STEPS";
    case kLayers: return "LAYERS";
    default: return nullptr;
  }
}

// Tensor flags in CPU segment graphs.
constexpr uint8_t kFlagConstant = 1;
constexpr uint8_t kFlagVariable = 2;

// Attribute value tags: the index of the alternative in ir::AttrValue.
constexpr uint8_t kAttrInt = 0;
constexpr uint8_t kAttrFloat = 1;
constexpr uint8_t kAttrInts = 2;
constexpr uint8_t kAttrString = 3;
static_assert(std::is_same_v<std::variant_alternative_t<kAttrInt, ir::AttrValue>, int64_t>);
static_assert(std::is_same_v<std::variant_alternative_t<kAttrFloat, ir::AttrValue>, double>);
static_assert(
    std::is_same_v<std::variant_alternative_t<kAttrInts, ir::AttrValue>, std::vector<int64_t>>);
static_assert(std::is_same_v<std::variant_alternative_t<kAttrString, ir::AttrValue>, std::string>);

constexpr uint8_t kLastDType = static_cast<uint8_t>(ir::DType::string);

// Smallest encoded size of one element of each list, used to refuse a count that cannot
// fit in the bytes left before anything is allocated for it.
constexpr size_t kMinString = 4;
constexpr size_t kMinQuant = 4 + 4 + 4;
constexpr size_t kMinShape = 4;
constexpr size_t kMinRegion = kMinString + 1 + 4 + 4 + 4;
constexpr size_t kMinTensorEntry = kMinString + 1 + kMinShape + kMinQuant + 4 + 4 + 4;
constexpr size_t kMinGraph = kMinString + 4 + 4 + 4 + 4;
constexpr size_t kMinCpuSegment = kMinGraph + 4 + 4 + 4;
constexpr size_t kMinGraphTensor = kMinString + 1 + kMinShape + kMinQuant + 1 + 4;
constexpr size_t kMinOp = kMinString + 4 + kMinString + 4 + 4 + 4;
constexpr size_t kMinAttr = kMinString + 1 + 4;
constexpr size_t kMinStep = 1 + 4;
constexpr size_t kMinLayer = kMinString * 2 + 4 + 4 + 8 + 8 + kMinString;

// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF:
// the zlib/PNG checksum), table-driven.
uint32_t crc32(const uint8_t* data, size_t n) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string idx(const char* list, size_t i) {
  return std::string(list) + "[" + std::to_string(i) + "]";
}

// ---------------------------------------------------------------------------------------
// Writer: appends little-endian fields to a byte vector. Counts and lengths are u32; a
// list too long for that is an Error (never happens for a loadable that fits the 32-bit
// address space, but the writer does not silently truncate).

class Out {
 public:
  void u8(uint8_t v) { b_.push_back(v); }
  void u16(uint16_t v) { le(v, 2); }
  void u32(uint32_t v) { le(v, 4); }
  void i32(int32_t v) { le(static_cast<uint32_t>(v), 4); }
  void u64(uint64_t v) { le(v, 8); }
  void i64(int64_t v) { le(static_cast<uint64_t>(v), 8); }
  void f32(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    u32(bits);
  }
  void f64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    u64(bits);
  }
  void count(size_t n, const char* what) {
    if (n > std::numeric_limits<uint32_t>::max())
      throw Error(std::string("write_loadable: ") + what + ": " + std::to_string(n) +
                  " elements do not fit the format's 32-bit counts");
    u32(static_cast<uint32_t>(n));
  }
  void str(const std::string& s) {
    count(s.size(), "string");
    b_.insert(b_.end(), s.begin(), s.end());
  }
  void bytes(const std::vector<uint8_t>& v) {
    count(v.size(), "byte array");
    b_.insert(b_.end(), v.begin(), v.end());
  }
  std::vector<uint8_t>& buffer() { return b_; }

 private:
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> b_;
};

void put_shape(Out& o, const std::vector<int32_t>& shape) {
  o.count(shape.size(), "shape");
  for (int32_t d : shape) o.i32(d);
}

void put_quant(Out& o, const ir::Quantization& q) {
  o.count(q.scale.size(), "quantization scales");
  for (float s : q.scale) o.f32(s);
  o.count(q.zero_point.size(), "quantization zero points");
  for (int64_t z : q.zero_point) o.i64(z);
  o.i32(q.axis);
}

void put_ints(Out& o, const std::vector<int>& v) {
  o.count(v.size(), "index list");
  for (int x : v) o.i32(x);
}

void put_u32s(Out& o, const std::vector<uint32_t>& v) {
  o.count(v.size(), "index list");
  for (uint32_t x : v) o.u32(x);
}

void put_graph(Out& o, const ir::Graph& g) {
  o.str(g.source);
  o.count(g.tensors.size(), "graph tensors");
  for (const ir::Tensor& t : g.tensors) {
    o.str(t.name);
    o.u8(static_cast<uint8_t>(t.dtype));
    put_shape(o, t.shape);
    put_quant(o, t.quant);
    o.u8(static_cast<uint8_t>((t.is_constant ? kFlagConstant : 0) |
                              (t.is_variable ? kFlagVariable : 0)));
    o.bytes(t.data);
  }
  o.count(g.ops.size(), "graph ops");
  for (const ir::Op& op : g.ops) {
    // The type travels by name (OpType values are not stable across versions); an op
    // built in memory without a type_name is written under its OpType's name.
    o.str(op.type_name.empty() ? std::string(ir::op_type_name(op.type)) : op.type_name);
    o.i32(op.version);
    o.str(op.name);
    put_ints(o, op.inputs);
    put_ints(o, op.outputs);
    o.count(op.attrs.all().size(), "attributes");
    for (const auto& [key, value] : op.attrs.all()) {
      o.str(key);
      o.u8(static_cast<uint8_t>(value.index()));
      switch (value.index()) {
        case kAttrInt: o.i64(std::get<int64_t>(value)); break;
        case kAttrFloat: o.f64(std::get<double>(value)); break;
        case kAttrInts: {
          const auto& v = std::get<std::vector<int64_t>>(value);
          o.count(v.size(), "attribute list");
          for (int64_t x : v) o.i64(x);
          break;
        }
        default: o.str(std::get<std::string>(value)); break;
      }
    }
  }
  put_ints(o, g.inputs);
  put_ints(o, g.outputs);
}

std::vector<uint8_t> encode_section(uint32_t kind, const Loadable& l) {
  Out o;
  switch (kind) {
    case kInfo:
      o.str(l.model);
      o.str(l.hardware_name);
      o.u64(l.hardware_hash);
      o.str(l.hardware_json);
      break;
    case kRegions:
      o.count(l.regions.size(), "regions");
      for (const Region& r : l.regions) {
        o.str(r.name);
        o.u8(static_cast<uint8_t>(r.kind));
        o.u32(r.va);
        o.u32(r.bytes);
        o.bytes(r.data);
      }
      break;
    case kCommands: put_u32s(o, l.commands); break;
    case kTensors:
      o.count(l.tensors.size(), "tensors");
      for (const TensorEntry& t : l.tensors) {
        o.str(t.name);
        o.u8(static_cast<uint8_t>(t.dtype));
        put_shape(o, t.shape);
        put_quant(o, t.quant);
        o.u32(t.region);
        o.u32(t.offset);
        o.u32(t.bytes);
      }
      break;
    case kIo:
      put_u32s(o, l.inputs);
      put_u32s(o, l.outputs);
      break;
    case kNpuSegments:
      o.count(l.npu_segments.size(), "npu_segments");
      for (const NpuSegment& s : l.npu_segments) {
        o.u32(s.first_word);
        o.u32(s.word_count);
      }
      break;
    case kCpuSegments:
      o.count(l.cpu_segments.size(), "cpu_segments");
      for (const CpuSegment& s : l.cpu_segments) {
        put_graph(o, s.graph);
        put_u32s(o, s.inputs);
        put_u32s(o, s.outputs);
        o.count(s.reasons.size(), "reasons");
        for (const std::string& r : s.reasons) o.str(r);
      }
      break;
    case kSteps:
      o.count(l.steps.size(), "steps");
      for (const Step& s : l.steps) {
        o.u8(static_cast<uint8_t>(s.kind));
        o.u32(s.index);
      }
      break;
    case kLayers:
      o.count(l.layers.size(), "layers");
      for (const Layer& y : l.layers) {
        o.str(y.name);
        o.str(y.op);
        o.u32(y.first_word);
        o.u32(y.word_count);
        o.u64(y.macs);
        o.u64(y.estimated_cycles);
        o.str(y.bound);
      }
      break;
    default: break;
  }
  return std::move(o.buffer());
}

// ---------------------------------------------------------------------------------------
// Reader: a cursor over one section. Every read checks the bytes left first; every count
// is checked against the bytes left (times the element's smallest encoding) before
// anything is allocated. Errors read "<file>: <SECTION> section: <field>: <problem>",
// where the field is `path_` (the record being read, e.g. "tensors[3]") plus the field.

class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n, std::string context)
      : p_(p), n_(n), context_(std::move(context)) {}

  void set_path(std::string path) { path_ = std::move(path); }
  const std::string& path() const { return path_; }
  size_t left() const { return n_ - pos_; }
  size_t pos() const { return pos_; }

  [[noreturn]] void fail(const std::string& field, const std::string& msg) const {
    std::string where = path_;
    if (!field.empty()) where += (where.empty() ? "" : ".") + field;
    throw Error(context_ + ": " + (where.empty() ? "" : where + ": ") + msg);
  }

  const uint8_t* take(size_t n, const char* field) {
    if (n > left())
      fail(field, "needs " + std::to_string(n) + " bytes at section offset " +
                      std::to_string(pos_) + " but only " + std::to_string(left()) +
                      " are left (the section is truncated or a length is corrupt)");
    const uint8_t* p = p_ + pos_;
    pos_ += n;
    return p;
  }

  uint8_t u8(const char* f) { return *take(1, f); }
  uint16_t u16(const char* f) { return static_cast<uint16_t>(le(take(2, f), 2)); }
  uint32_t u32(const char* f) { return static_cast<uint32_t>(le(take(4, f), 4)); }
  int32_t i32(const char* f) { return static_cast<int32_t>(u32(f)); }
  uint64_t u64(const char* f) { return le(take(8, f), 8); }
  int64_t i64(const char* f) { return static_cast<int64_t>(u64(f)); }
  float f32(const char* f) {
    const uint32_t bits = u32(f);
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
  double f64(const char* f) {
    const uint64_t bits = u64(f);
    double v;
    std::memcpy(&v, &bits, 8);
    return v;
  }

  // A u32 element count whose elements take at least `min_each` bytes each.
  uint32_t count(size_t min_each, const char* f) {
    const uint32_t n = u32(f);
    if (static_cast<uint64_t>(n) * min_each > left())
      fail(f, "count " + std::to_string(n) + " needs at least " + std::to_string(n) + " x " +
                  std::to_string(min_each) + " bytes but only " + std::to_string(left()) +
                  " are left in the section");
    return n;
  }

  // The u32 length of a string or byte array.
  uint32_t length(const char* f) {
    const uint32_t n = u32(f);
    if (n > left())
      fail(f, "a length of " + std::to_string(n) + " bytes but only " + std::to_string(left()) +
                  " are left in the section");
    return n;
  }

  std::string str(const char* f) {
    const uint32_t n = length(f);
    const uint8_t* p = take(n, f);
    return std::string(reinterpret_cast<const char*>(p), n);
  }

  std::vector<uint8_t> bytes(const char* f) {
    const uint32_t n = length(f);
    const uint8_t* p = take(n, f);
    return std::vector<uint8_t>(p, p + n);
  }

  std::vector<uint32_t> u32s(const char* f) {
    const uint32_t n = count(4, f);
    std::vector<uint32_t> v(n);
    for (uint32_t i = 0; i < n; ++i) v[i] = u32(f);
    return v;
  }

  std::vector<int> i32s(const char* f) {
    const uint32_t n = count(4, f);
    std::vector<int> v(n);
    for (uint32_t i = 0; i < n; ++i) v[i] = i32(f);
    return v;
  }

  ir::DType dtype(const char* f) {
    const uint8_t code = u8(f);
    if (code > kLastDType)
      fail(f, "type code " + std::to_string(code) + " is not a known type (0.." +
                  std::to_string(kLastDType) + ")");
    return static_cast<ir::DType>(code);
  }

  std::vector<int32_t> shape(const char* f) {
    const uint32_t rank = count(4, f);
    std::vector<int32_t> s(rank);
    for (uint32_t i = 0; i < rank; ++i) s[i] = i32(f);
    return s;
  }

  ir::Quantization quant() {
    ir::Quantization q;
    const uint32_t ns = count(4, "quant.scale");
    q.scale.resize(ns);
    for (uint32_t i = 0; i < ns; ++i) q.scale[i] = f32("quant.scale");
    const uint32_t nz = count(8, "quant.zero_point");
    q.zero_point.resize(nz);
    for (uint32_t i = 0; i < nz; ++i) q.zero_point[i] = i64("quant.zero_point");
    q.axis = i32("quant.axis");
    return q;
  }

 private:
  static uint64_t le(const uint8_t* p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    return v;
  }

  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  std::string context_;
  std::string path_;
};

ir::Graph read_graph(Cursor& c, const std::string& base) {
  ir::Graph g;
  c.set_path(base);
  g.source = c.str("source");
  const uint32_t nt = c.count(kMinGraphTensor, "tensors");
  g.tensors.resize(nt);
  for (uint32_t i = 0; i < nt; ++i) {
    ir::Tensor& t = g.tensors[i];
    c.set_path(base + "." + idx("tensors", i));
    t.name = c.str("name");
    t.dtype = c.dtype("dtype");
    t.shape = c.shape("shape");
    t.quant = c.quant();
    const uint8_t flags = c.u8("flags");
    if (flags & ~(kFlagConstant | kFlagVariable))
      c.fail("flags", hex(flags) + " has bits other than constant (0x1) and variable (0x2)");
    t.is_constant = (flags & kFlagConstant) != 0;
    t.is_variable = (flags & kFlagVariable) != 0;
    t.data = c.bytes("data");
  }
  c.set_path(base);
  const uint32_t no = c.count(kMinOp, "ops");
  g.ops.resize(no);
  for (uint32_t i = 0; i < no; ++i) {
    ir::Op& op = g.ops[i];
    c.set_path(base + "." + idx("ops", i));
    op.type_name = c.str("type_name");
    op.type = ir::op_type_from_name(op.type_name);
    op.version = c.i32("version");
    op.name = c.str("name");
    op.inputs = c.i32s("inputs");
    op.outputs = c.i32s("outputs");
    const uint32_t na = c.count(kMinAttr, "attrs");
    for (uint32_t a = 0; a < na; ++a) {
      std::string key = c.str("attrs");
      if (op.attrs.has(key)) c.fail("attrs", "attribute '" + key + "' appears twice");
      const uint8_t tag = c.u8("attrs");
      switch (tag) {
        case kAttrInt: op.attrs.set(key, c.i64("attrs")); break;
        case kAttrFloat: op.attrs.set(key, c.f64("attrs")); break;
        case kAttrInts: {
          const uint32_t n = c.count(8, "attrs");
          std::vector<int64_t> v(n);
          for (uint32_t k = 0; k < n; ++k) v[k] = c.i64("attrs");
          op.attrs.set(key, std::move(v));
          break;
        }
        case kAttrString: op.attrs.set(key, c.str("attrs")); break;
        default:
          c.fail("attrs", "attribute '" + key + "' has value tag " + std::to_string(tag) +
                              " (0 int, 1 float, 2 int list, 3 string)");
      }
    }
  }
  c.set_path(base);
  g.inputs = c.i32s("inputs");
  g.outputs = c.i32s("outputs");
  return g;
}

void decode_section(uint32_t kind, Cursor& c, Loadable& l) {
  switch (kind) {
    case kInfo:
      l.model = c.str("model");
      l.hardware_name = c.str("hardware_name");
      l.hardware_hash = c.u64("hardware_hash");
      l.hardware_json = c.str("hardware_json");
      break;
    case kRegions: {
      const uint32_t n = c.count(kMinRegion, "regions");
      l.regions.resize(n);
      for (uint32_t i = 0; i < n; ++i) {
        Region& r = l.regions[i];
        c.set_path(idx("regions", i));
        r.name = c.str("name");
        const uint8_t k = c.u8("kind");
        if (k > static_cast<uint8_t>(Region::Kind::arena))
          c.fail("kind", std::to_string(k) + " is not constant (0) or arena (1)");
        r.kind = static_cast<Region::Kind>(k);
        r.va = c.u32("va");
        r.bytes = c.u32("bytes");
        r.data = c.bytes("data");
      }
      break;
    }
    case kCommands: l.commands = c.u32s("commands"); break;
    case kTensors: {
      const uint32_t n = c.count(kMinTensorEntry, "tensors");
      l.tensors.resize(n);
      for (uint32_t i = 0; i < n; ++i) {
        TensorEntry& t = l.tensors[i];
        c.set_path(idx("tensors", i));
        t.name = c.str("name");
        t.dtype = c.dtype("dtype");
        t.shape = c.shape("shape");
        t.quant = c.quant();
        t.region = c.u32("region");
        t.offset = c.u32("offset");
        t.bytes = c.u32("bytes");
      }
      break;
    }
    case kIo:
      l.inputs = c.u32s("inputs");
      l.outputs = c.u32s("outputs");
      break;
    case kNpuSegments: {
      const uint32_t n = c.count(8, "npu_segments");
      l.npu_segments.resize(n);
      for (uint32_t i = 0; i < n; ++i) {
        c.set_path(idx("npu_segments", i));
        l.npu_segments[i].first_word = c.u32("first_word");
        l.npu_segments[i].word_count = c.u32("word_count");
      }
      break;
    }
    case kCpuSegments: {
      const uint32_t n = c.count(kMinCpuSegment, "cpu_segments");
      l.cpu_segments.resize(n);
      for (uint32_t i = 0; i < n; ++i) {
        CpuSegment& s = l.cpu_segments[i];
        const std::string base = idx("cpu_segments", i);
        s.graph = read_graph(c, base + ".graph");
        c.set_path(base);
        s.inputs = c.u32s("inputs");
        s.outputs = c.u32s("outputs");
        const uint32_t nr = c.count(kMinString, "reasons");
        s.reasons.resize(nr);
        for (uint32_t k = 0; k < nr; ++k) s.reasons[k] = c.str("reasons");
      }
      break;
    }
    case kSteps: {
      const uint32_t n = c.count(kMinStep, "steps");
      l.steps.resize(n);
      for (uint32_t i = 0; i < n; ++i) {
        c.set_path(idx("steps", i));
        const uint8_t k = c.u8("kind");
        if (k > static_cast<uint8_t>(Step::Kind::cpu))
          c.fail("kind", std::to_string(k) + " is not npu (0) or cpu (1)");
        l.steps[i].kind = static_cast<Step::Kind>(k);
        l.steps[i].index = c.u32("index");
      }
      break;
    }
    case kLayers: {
      const uint32_t n = c.count(kMinLayer, "layers");
      l.layers.resize(n);
      for (uint32_t i = 0; i < n; ++i) {
        Layer& y = l.layers[i];
        c.set_path(idx("layers", i));
        y.name = c.str("name");
        y.op = c.str("op");
        y.first_word = c.u32("first_word");
        y.word_count = c.u32("word_count");
        y.macs = c.u64("macs");
        y.estimated_cycles = c.u64("estimated_cycles");
        y.bound = c.str("bound");
      }
      break;
    }
    default: break;
  }
  c.set_path("");
}

[[noreturn]] void fail_in(const std::string& source, const std::string& msg) {
  throw Error(source + ": " + msg);
}

std::string byte_hex(uint8_t b) {
  static const char* digits = "0123456789abcdef";
  return {digits[b >> 4], digits[b & 15]};
}

uint64_t read_le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// ---------------------------------------------------------------------------------------
// Validation helpers.

// Quantization must be usable as the IR verifier requires (the table's tensors are not
// in any graph, so ir::verify does not see them).
std::string quant_problem(const ir::Quantization& q, const std::vector<int32_t>& shape) {
  if (q.scale.size() != q.zero_point.size())
    return std::to_string(q.scale.size()) + " scales but " + std::to_string(q.zero_point.size()) +
           " zero points";
  if (q.per_channel()) {
    if (q.axis < 0 || static_cast<size_t>(q.axis) >= shape.size())
      return "quantized dimension " + std::to_string(q.axis) + " is outside rank " +
             std::to_string(shape.size());
    if (static_cast<int64_t>(q.scale.size()) != shape[static_cast<size_t>(q.axis)])
      return std::to_string(q.scale.size()) + " per-channel scales for dimension " +
             std::to_string(q.axis) + " of size " +
             std::to_string(shape[static_cast<size_t>(q.axis)]);
  }
  return "";
}

std::string shape_str(const std::vector<int32_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::string range_str(uint64_t first, uint64_t count) {
  return "[" + std::to_string(first) + ", " + std::to_string(first + count) + ")";
}

std::string hex_range(uint64_t first, uint64_t count) {
  return "[" + hex(first) + ", " + hex(first + count) + ")";
}

void validate_bindings(const Loadable& l, const CpuSegment& s, size_t si,
                       const std::string& where) {
  const std::string base = where + ": CPU_SEGMENTS section: " + idx("cpu_segments", si);
  const ir::Graph& g = s.graph;
  auto check_list = [&](const char* list, const std::vector<uint32_t>& bound,
                        const std::vector<int>& graph_list) {
    if (bound.size() != graph_list.size())
      throw Error(base + "." + list + ": " + std::to_string(bound.size()) +
                  " tensors bound but the graph has " + std::to_string(graph_list.size()) + " " +
                  list);
    for (size_t i = 0; i < bound.size(); ++i) {
      const std::string field = base + "." + idx(list, i);
      if (bound[i] >= l.tensors.size())
        throw Error(field + ": tensor " + std::to_string(bound[i]) +
                    " is outside the tensor table (" + std::to_string(l.tensors.size()) +
                    " tensors)");
      const TensorEntry& te = l.tensors[bound[i]];
      // ir::verify has checked that the graph's list indexes its tensors.
      const ir::Tensor& gt = g.tensors[static_cast<size_t>(graph_list[i])];
      if (te.dtype != gt.dtype || te.shape != gt.shape)
        throw Error(field + ": tensor " + std::to_string(bound[i]) + " '" + te.name + "' is " +
                    ir::dtype_name(te.dtype) + " " + shape_str(te.shape) + " but graph " + list +
                    " " + std::to_string(i) + " (" + g.describe_tensor(graph_list[i]) + ") is " +
                    ir::dtype_name(gt.dtype) + " " + shape_str(gt.shape));
    }
  };
  check_list("inputs", s.inputs, g.inputs);
  check_list("outputs", s.outputs, g.outputs);
}

}  // namespace

// ---------------------------------------------------------------------------------------

void validate_loadable(const Loadable& l, const std::string& where) {
  auto fail = [&](const char* section, const std::string& field, const std::string& msg) {
    throw Error(where + ": " + section + " section: " + field + ": " + msg);
  };
  constexpr uint64_t kAddressSpace = uint64_t{1} << 32;
  constexpr uint32_t kPage = 4096;

  if (l.commands.size() > std::numeric_limits<uint32_t>::max())
    fail("COMMANDS", "commands",
         std::to_string(l.commands.size()) + " words exceed the format's limit");

  // Regions: aligned, inside the 32-bit space, constant data exactly `bytes`, no overlap.
  for (size_t i = 0; i < l.regions.size(); ++i) {
    const Region& r = l.regions[i];
    const std::string p = idx("regions", i);
    if (r.kind != Region::Kind::constant && r.kind != Region::Kind::arena)
      fail("REGIONS", p + ".kind",
           std::to_string(static_cast<int>(r.kind)) + " is not constant (0) or arena (1)");
    if (r.va % kPage != 0)
      fail("REGIONS", p + ".va", hex(r.va) + " of region '" + r.name + "' is not 4 KiB aligned");
    if (uint64_t{r.va} + r.bytes > kAddressSpace)
      fail("REGIONS", p + ".bytes",
           hex(r.va) + " + " + hex(r.bytes) + " bytes of region '" + r.name +
               "' runs past the 32-bit address space");
    if (r.kind == Region::Kind::constant && r.data.size() != r.bytes)
      fail("REGIONS", p + ".data",
           "constant region '" + r.name + "' has " + std::to_string(r.data.size()) +
               " bytes of data for " + std::to_string(r.bytes) + " bytes");
    if (r.kind == Region::Kind::arena && !r.data.empty())
      fail("REGIONS", p + ".data",
           "arena region '" + r.name + "' carries " + std::to_string(r.data.size()) +
               " bytes of data (arenas are zero-initialised, with none)");
  }
  {
    std::vector<size_t> order(l.regions.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return l.regions[a].va != l.regions[b].va ? l.regions[a].va < l.regions[b].va : a < b;
    });
    // Empty regions occupy nothing; for the others, each must end before the next starts.
    size_t prev = order.size();
    for (size_t k : order) {
      const Region& r = l.regions[k];
      if (r.bytes == 0) continue;
      if (prev != order.size()) {
        const Region& q = l.regions[prev];
        if (uint64_t{q.va} + q.bytes > r.va) {
          const size_t a = std::min(prev, k), b = std::max(prev, k);
          const Region& ra = l.regions[a];
          const Region& rb = l.regions[b];
          fail("REGIONS", idx("regions", b),
               "region '" + rb.name + "' " + hex_range(rb.va, rb.bytes) + " overlaps " +
                   idx("regions", a) + " '" + ra.name + "' " + hex_range(ra.va, ra.bytes));
        }
      }
      prev = k;
    }
  }

  // Tensor table: a dense tensor of a sized type inside its region.
  for (size_t i = 0; i < l.tensors.size(); ++i) {
    const TensorEntry& t = l.tensors[i];
    const std::string p = idx("tensors", i);
    if (static_cast<uint8_t>(t.dtype) > kLastDType || t.dtype == ir::DType::string)
      fail("TENSORS", p + ".dtype",
           "tensor '" + t.name + "' has type code " + std::to_string(static_cast<int>(t.dtype)) +
               ", not a fixed-size type");
    // Bound the element count as we go (dimensions are at most 2^31 each, so one step
    // past 2^32 cannot overflow 64 bits) so a corrupt shape cannot wrap around.
    uint64_t elements = 1;
    for (size_t d = 0; d < t.shape.size(); ++d) {
      if (t.shape[d] < 0)
        fail("TENSORS", p + ".shape",
             "tensor '" + t.name + "' dimension " + std::to_string(d) + " is " +
                 std::to_string(t.shape[d]));
      elements *= static_cast<uint64_t>(t.shape[d]);
      if (elements > kAddressSpace) elements = kAddressSpace + 1;  // saturate: too big anyway
    }
    const std::string qp = quant_problem(t.quant, t.shape);
    if (!qp.empty()) fail("TENSORS", p + ".quant", "tensor '" + t.name + "': " + qp);
    const uint64_t want = elements * ir::dtype_size(t.dtype);
    if (want != t.bytes)
      fail("TENSORS", p + ".bytes",
           "tensor '" + t.name + "' records " + std::to_string(t.bytes) + " bytes but " +
               shape_str(t.shape) + " " + ir::dtype_name(t.dtype) + " needs " +
               (elements > kAddressSpace ? std::string("more than 4 GiB") : std::to_string(want)));
    if (t.region >= l.regions.size())
      fail("TENSORS", p + ".region",
           "tensor '" + t.name + "' is in region " + std::to_string(t.region) + " of " +
               std::to_string(l.regions.size()));
    const Region& r = l.regions[t.region];
    if (uint64_t{t.offset} + t.bytes > r.bytes)
      fail("TENSORS", p + ".offset",
           hex(t.offset) + " + " + std::to_string(t.bytes) + " bytes runs past region '" + r.name +
               "' (" + hex(r.bytes) + " bytes)");
  }

  // Model I/O.
  auto check_table_refs = [&](const char* list, const std::vector<uint32_t>& v) {
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i] >= l.tensors.size())
        fail("IO", idx(list, i),
             "tensor " + std::to_string(v[i]) + " is outside the tensor table (" +
                 std::to_string(l.tensors.size()) + " tensors)");
  };
  check_table_refs("inputs", l.inputs);
  check_table_refs("outputs", l.outputs);

  // NPU segments: non-empty runs inside the command stream.
  for (size_t i = 0; i < l.npu_segments.size(); ++i) {
    const NpuSegment& s = l.npu_segments[i];
    const std::string p = idx("npu_segments", i);
    if (s.word_count == 0) fail("NPU_SEGMENTS", p + ".word_count", "a segment has no commands");
    if (uint64_t{s.first_word} + s.word_count > l.commands.size())
      fail("NPU_SEGMENTS", p,
           "words " + range_str(s.first_word, s.word_count) + " run past the command stream (" +
               std::to_string(l.commands.size()) + " words)");
  }

  // CPU segments: each graph verifies and is bound to matching table tensors.
  for (size_t i = 0; i < l.cpu_segments.size(); ++i) {
    const CpuSegment& s = l.cpu_segments[i];
    try {
      ir::verify(s.graph);
    } catch (const Error& e) {
      fail("CPU_SEGMENTS", idx("cpu_segments", i) + ".graph", e.what());
    }
    validate_bindings(l, s, i, where);
  }

  // Steps and layers.
  for (size_t i = 0; i < l.steps.size(); ++i) {
    const Step& s = l.steps[i];
    const std::string p = idx("steps", i);
    if (s.kind == Step::Kind::npu) {
      if (s.index >= l.npu_segments.size())
        fail("STEPS", p + ".index",
             "NPU segment " + std::to_string(s.index) + " of " +
                 std::to_string(l.npu_segments.size()));
    } else if (s.kind == Step::Kind::cpu) {
      if (s.index >= l.cpu_segments.size())
        fail("STEPS", p + ".index",
             "CPU segment " + std::to_string(s.index) + " of " +
                 std::to_string(l.cpu_segments.size()));
    } else {
      fail("STEPS", p + ".kind",
           std::to_string(static_cast<int>(s.kind)) + " is not npu (0) or cpu (1)");
    }
  }
  for (size_t i = 0; i < l.layers.size(); ++i) {
    const Layer& y = l.layers[i];
    if (uint64_t{y.first_word} + y.word_count > l.commands.size())
      fail("LAYERS", idx("layers", i),
           "layer '" + y.name + "' words " + range_str(y.first_word, y.word_count) +
               " run past the command stream (" + std::to_string(l.commands.size()) + " words)");
  }
}

std::vector<uint8_t> write_loadable(const Loadable& l) {
  validate_loadable(l, "write_loadable");

  std::vector<std::vector<uint8_t>> sections;
  for (uint32_t kind = kFirstKind; kind <= kLastKind; ++kind)
    sections.push_back(encode_section(kind, l));

  Out o;
  const uint32_t n = static_cast<uint32_t>(sections.size());
  uint64_t offset = kHeaderSize + uint64_t{kSectionEntrySize} * n;
  uint64_t total = offset;
  for (const auto& s : sections) total += s.size();

  // Header; the checksum (bytes 8..11) is filled in last.
  for (uint8_t m : kMagic) o.u8(m);
  o.u16(kLoadableMajor);
  o.u16(kLoadableMinor);
  o.u32(0);
  o.u32(kHeaderSize);
  o.u64(total);
  o.u32(n);
  o.u32(0);  // reserved
  for (uint32_t k = 0; k < n; ++k) {
    o.u32(kFirstKind + k);
    o.u32(0);  // reserved
    o.u64(offset);
    o.u64(sections[k].size());
    offset += sections[k].size();
  }
  std::vector<uint8_t>& b = o.buffer();
  b.reserve(total);
  for (const auto& s : sections) b.insert(b.end(), s.begin(), s.end());

  const uint32_t crc = crc32(b.data() + kChecksumFrom, b.size() - kChecksumFrom);
  for (int i = 0; i < 4; ++i) b[8 + static_cast<size_t>(i)] = static_cast<uint8_t>(crc >> (8 * i));
  return std::move(b);
}

Loadable read_loadable(const uint8_t* data, size_t size, const std::string& source_name) {
  const std::string& src = source_name;
  auto fail = [&](const std::string& msg) { fail_in(src, msg); };

  // Header, in the order that gives the most useful message: what the file is, which
  // version it is, whether it is complete, whether it is intact.
  if (size == 0) fail("the file is empty");
  if (size < 4 || std::memcmp(data, kMagic, std::min<size_t>(size, 4)) != 0) {
    if (size < 4 && std::memcmp(data, kMagic, size) == 0)
      fail("truncated: " + std::to_string(size) + " bytes, a .tsl header has " +
           std::to_string(kHeaderSize));
    std::string got;
    for (size_t i = 0; i < std::min<size_t>(size, 4); ++i)
      got += (i ? " " : "") + byte_hex(data[i]);
    fail("not a Tessel loadable: the file starts with bytes " + got +
         " where a .tsl file starts with 'TSL\\0' (54 53 4c 00)");
  }
  if (size < 8)
    fail("truncated: " + std::to_string(size) + " bytes, a .tsl header has " +
         std::to_string(kHeaderSize));
  const uint16_t major = static_cast<uint16_t>(read_le(data + 4, 2));
  const uint16_t minor = static_cast<uint16_t>(read_le(data + 6, 2));
  if (major != kLoadableMajor)
    fail("format version " + std::to_string(major) + "." + std::to_string(minor) +
         " is not supported: this reader reads version " + std::to_string(kLoadableMajor) +
         ".x (it implements " + std::to_string(kLoadableMajor) + "." +
         std::to_string(kLoadableMinor) + "); recompile the model");
  // A newer minor only adds (sections, fields at the end of sections, header fields);
  // such additions are skipped. Extra bytes in a file of our minor or older are errors.
  const bool newer_minor = minor > kLoadableMinor;
  if (size < kHeaderSize)
    fail("truncated: " + std::to_string(size) + " bytes, a .tsl header has " +
         std::to_string(kHeaderSize));
  const uint64_t file_size = read_le(data + 16, 8);
  if (file_size != size)
    fail(file_size > size
             ? "truncated: the header records " + std::to_string(file_size) +
                   " bytes but the file has " + std::to_string(size)
             : "the file has " + std::to_string(size) + " bytes but the header records " +
                   std::to_string(file_size) + " (trailing bytes)");
  const uint32_t stored_crc = static_cast<uint32_t>(read_le(data + 8, 4));
  const uint32_t crc = crc32(data + kChecksumFrom, size - kChecksumFrom);
  if (crc != stored_crc)
    fail("checksum mismatch: the header records CRC-32 " + hex(stored_crc) +
         " but the contents give " + hex(crc) + "; the file is corrupt");

  // Section table.
  const uint32_t header_size = static_cast<uint32_t>(read_le(data + 12, 4));
  const uint32_t count = static_cast<uint32_t>(read_le(data + 24, 4));
  if (header_size < kHeaderSize || header_size > size ||
      (header_size != kHeaderSize && !newer_minor))
    fail("header: header_size " + std::to_string(header_size) + " is not " +
         std::to_string(kHeaderSize) +
         (header_size >= kHeaderSize && header_size <= size
              ? " (only a newer minor version may extend the header)"
              : ""));
  const uint64_t table_end = header_size + uint64_t{count} * kSectionEntrySize;
  if (table_end > size)
    fail("header: section_count " + std::to_string(count) + " needs a " +
         std::to_string(uint64_t{count} * kSectionEntrySize) + "-byte section table at offset " +
         std::to_string(header_size) + " but the file has " + std::to_string(size) + " bytes");

  struct Entry {
    uint32_t kind;
    uint64_t offset, size;
    uint32_t index;
  };
  std::vector<Entry> entries;
  entries.reserve(count);  // bounded by the file size just above
  std::array<bool, kLastKind + 1> seen{};
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* e = data + header_size + uint64_t{i} * kSectionEntrySize;
    Entry en{static_cast<uint32_t>(read_le(e, 4)), read_le(e + 8, 8), read_le(e + 16, 8), i};
    const char* name = section_name(en.kind);
    const std::string what = "section table entry " + std::to_string(i) + " (" +
                             (name ? std::string(name) : "kind " + std::to_string(en.kind)) + ")";
    if (en.offset < table_end || en.offset > size || en.size > size - en.offset)
      fail(what + ": offset " + std::to_string(en.offset) + " + size " + std::to_string(en.size) +
           " is outside the section area [" + std::to_string(table_end) + ", " +
           std::to_string(size) + ") of the file");
    if (name) {
      if (seen[en.kind]) fail(what + ": a second " + name + " section");
      seen[en.kind] = true;
    }
    entries.push_back(en);
  }
  {
    std::vector<Entry> sorted = entries;
    std::sort(sorted.begin(), sorted.end(),
              [](const Entry& a, const Entry& b) { return a.offset < b.offset; });
    for (size_t i = 1; i < sorted.size(); ++i)
      if (sorted[i - 1].offset + sorted[i - 1].size > sorted[i].offset)
        fail("section table entries " +
             std::to_string(std::min(sorted[i - 1].index, sorted[i].index)) + " and " +
             std::to_string(std::max(sorted[i - 1].index, sorted[i].index)) + " overlap");
  }
  for (uint32_t kind = kFirstKind; kind <= kLastKind; ++kind)
    if (!seen[kind])
      fail("the required " + std::string(section_name(kind)) + " section (kind " +
           std::to_string(kind) + ") is missing");

  // Sections. Unknown kinds (added by a later minor version) are skipped.
  Loadable l;
  l.major = major;
  l.minor = minor;
  for (const Entry& en : entries) {
    const char* name = section_name(en.kind);
    if (!name) continue;
    Cursor c(data + en.offset, static_cast<size_t>(en.size), src + ": " + name + " section");
    decode_section(en.kind, c, l);
    if (c.left() != 0 && !newer_minor)
      c.fail("", std::to_string(c.left()) +
                     " unread bytes at the end of the section (at section offset " +
                     std::to_string(c.pos()) + ")");
  }

  validate_loadable(l, src);
  return l;
}

void save_loadable(const Loadable& l, const std::string& path) {
  const std::vector<uint8_t> b = write_loadable(l);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(path + ": cannot open for writing: " + std::strerror(errno));
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  out.close();
  if (!out) throw Error(path + ": write failed: " + std::strerror(errno));
}

Loadable load_loadable(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open: " + std::strerror(errno));
  std::vector<uint8_t> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw Error(path + ": read failed: " + std::strerror(errno));
  return read_loadable(b.data(), b.size(), path);
}

}  // namespace tessel::compiler
