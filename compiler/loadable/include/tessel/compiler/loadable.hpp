#pragma once
// The `.tsl` loadable: what the compiler produces and the runtime loads. A versioned,
// self-describing binary holding everything needed to run one model on one hardware
// configuration: the NPU command stream, the constant data it reads (weights,
// requantization records, lookup tables), the activation arena's size, the tensor table
// with quantization, the model's I/O bindings, the CPU-fallback segments (as IR
// subgraphs), the execution order of NPU and CPU steps, and a map from command offsets to
// the model's operators (so that traces and reports can name layers).
//
// Address model. The NPU sees one 32-bit virtual address space per job. The compiler
// places every region at a fixed virtual address (Region::va) and the command stream
// uses those addresses directly; the runtime maps each region's buffer at its address
// (userspace-managed VA, like modern DRM "VM_BIND" drivers). Tensors live in a region at
// an offset.
//
// The file format is in docs/loadable.md. read_loadable() validates every offset, size,
// count and index and throws tessel::Error naming the section and field on a bad file;
// it never reads out of bounds.

#include <cstdint>
#include <string>
#include <vector>

#include "tessel/ir/graph.hpp"

namespace tessel::compiler {

inline constexpr uint16_t kLoadableMajor = 1;
inline constexpr uint16_t kLoadableMinor = 0;

struct Region {
  enum class Kind : uint8_t { constant = 0, arena = 1 };
  std::string name;              // "weights", "arena"
  Kind kind = Kind::constant;
  uint32_t va = 0;               // NPU virtual address (4 KiB aligned)
  uint32_t bytes = 0;            // size (for `arena`: zero-initialised at load)
  std::vector<uint8_t> data;     // `constant` only: exactly `bytes` bytes
};

// A tensor the loadable exchanges with the outside or between steps: model inputs and
// outputs and the boundary tensors of CPU segments. (Tensors internal to NPU segments are
// just arena offsets in the command stream.)
struct TensorEntry {
  std::string name;
  ir::DType dtype = ir::DType::i8;
  std::vector<int32_t> shape;
  ir::Quantization quant;
  uint32_t region = 0;           // index into Loadable::regions
  uint32_t offset = 0;           // bytes from the region's start; data is dense (C order)
  uint32_t bytes = 0;            // = elements * dtype size
};

// A contiguous run of command words that is submitted as one NPU job (ends with END).
struct NpuSegment {
  uint32_t first_word = 0;
  uint32_t word_count = 0;
};

// A piece of the model that runs on the CPU: an IR graph whose inputs and outputs are
// bound to entries of the tensor table (graph.inputs[i] <-> inputs[i]).
struct CpuSegment {
  ir::Graph graph;
  std::vector<uint32_t> inputs;   // tensor table indices
  std::vector<uint32_t> outputs;  // tensor table indices
  std::vector<std::string> reasons;  // why these operators are not on the NPU
};

struct Step {
  enum class Kind : uint8_t { npu = 0, cpu = 1 };
  Kind kind = Kind::npu;
  uint32_t index = 0;             // into npu_segments or cpu_segments
};

// One operator of the model as compiled: its commands are the words
// [first_word, first_word + word_count) of the command stream (0 words for operators
// folded away or run on the CPU).
struct Layer {
  std::string name;               // the model's operator name
  std::string op;                 // its type ("CONV_2D")
  uint32_t first_word = 0;
  uint32_t word_count = 0;
  uint64_t macs = 0;
  uint64_t estimated_cycles = 0;  // the cost model's estimate
  std::string bound;              // "compute", "memory" or "" (not on the NPU)
};

struct Loadable {
  uint16_t major = kLoadableMajor;
  uint16_t minor = kLoadableMinor;
  std::string model;              // source model file name (informational)
  // The hardware configuration compiled for: its name, hash (npu_config_hash) and the
  // resolved configuration as JSON text (npu_config_json), so a loadable is self-describing.
  std::string hardware_name;
  uint64_t hardware_hash = 0;
  std::string hardware_json;

  std::vector<Region> regions;
  std::vector<uint32_t> commands;   // all NPU segments' words
  std::vector<TensorEntry> tensors;
  std::vector<uint32_t> inputs;     // tensor table indices, in model input order
  std::vector<uint32_t> outputs;    // tensor table indices, in model output order
  std::vector<NpuSegment> npu_segments;
  std::vector<CpuSegment> cpu_segments;
  std::vector<Step> steps;          // execution order
  std::vector<Layer> layers;        // in model order
};

// Serialization. write_loadable never fails on a loadable that validate_loadable accepts.
std::vector<uint8_t> write_loadable(const Loadable& l);
Loadable read_loadable(const uint8_t* data, size_t size, const std::string& source_name);
void save_loadable(const Loadable& l, const std::string& path);
Loadable load_loadable(const std::string& path);

// Structural checks shared by the writer and the reader (indices in range, regions
// non-overlapping and aligned, tensors inside their regions, segments inside the command
// stream, every segment's graph verifies). Throws tessel::Error naming what is wrong.
void validate_loadable(const Loadable& l, const std::string& where);

}  // namespace tessel::compiler
