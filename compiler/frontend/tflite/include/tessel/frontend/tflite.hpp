#pragma once
// The TFLite front end: reads a .tflite FlatBuffers file into Tessel's graph IR.
//
// Contract:
// - Reads subgraph 0 (the main graph). Every offset, length and index in the file is
//   bounds-checked before use; a truncated, corrupt, inconsistent or unsupported file
//   throws tessel::Error whose message names the file and the table, field, index or
//   byte offset at fault. It never reads outside the buffer and never crashes.
// - Operators keep their TFLite names (Op::type_name) and options as attributes named
//   after the schema's option fields (see graph.hpp). Operators Tessel does not know
//   import as OpType::unknown; the executor reports them at load time.
// - The result passes ir::verify().

#include <cstddef>
#include <cstdint>
#include <string>

#include "tessel/ir/graph.hpp"

namespace tessel::tflite {

ir::Graph import_file(const std::string& path);
// `source_name` is used in messages and stored as Graph::source.
ir::Graph import_buffer(const uint8_t* data, size_t size, const std::string& source_name);

}  // namespace tessel::tflite
