#pragma once
// A small, bounds-checked reader of FlatBuffers binary files (the encoding of .tflite
// models), written for untrusted input. It knows the wire format only, not any schema:
// the caller names each field by its id (declaration order in the .fbs file) and type.
//
// Contract:
// - Every load is checked against the file before it happens: table and vtable extents,
//   field extents inside their table, offsets (no wrap-around), vector length x element
//   size, string terminators, and nesting depth. Loads go through memcpy, so files need
//   not be aligned. Nothing is ever read outside [data, data + size).
// - A violation throws tessel::Error "<source>: <path>: truncated or corrupt file: <what>
//   at offset N ...", where <path> names the field, e.g. "Model.subgraphs[0].tensors[3].shape".
// - Absent fields read as their default (scalars), as std::nullopt (tables), or as empty
//   (vectors, strings), as the FlatBuffers format defines.
// - Everything the caller copies out of the file is charged to a budget proportional to
//   the file size, so a corrupt file whose objects share one large vector or string many
//   times over cannot make the importer allocate without bound.
// - The Reader must outlive every Table and Vector made from it. Scalars are
//   little-endian in the file; the host is required to be little-endian too.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "tessel/ir/error.hpp"

namespace tessel::tflite::fb {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the FlatBuffers reader loads little-endian scalars with memcpy");

class Table;
class Vector;

class Reader {
 public:
  // Tables nested deeper than this are rejected (the TFLite schema needs fewer than 10).
  static constexpr int kMaxDepth = 32;

  // `source` prefixes every message (normally the file name).
  Reader(const uint8_t* data, size_t size, std::string source);

  const std::string& source() const { return source_; }
  size_t size() const { return size_; }
  const uint8_t* data() const { return data_; }

  // The root table (the uoffset at byte 0), with `name` as the start of every path.
  Table root(const char* name) const;

  // The 4-byte file identifier after the root offset, or "" if the file is too short.
  std::string file_identifier() const;

  // Throws unless [pos, pos + len) lies inside the file; `what` describes the object
  // ("vtable", "vector of 12 x 4 bytes") for the message.
  void require(size_t pos, size_t len, const std::string& path, const std::string& what) const;

  // Records that the caller copies `bytes` bytes out of the file; throws when the total
  // exceeds the budget (see the contract above).
  void charge(size_t bytes, const std::string& path) const;

  [[noreturn]] void fail(const std::string& path, const std::string& msg) const;

  // Unchecked load; callers have called require() for the range.
  template <typename T>
  T load(size_t pos) const {
    T v;
    std::memcpy(&v, data_ + pos, sizeof(T));
    return v;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  std::string source_;
  size_t budget_;
  mutable size_t charged_ = 0;

  friend class Table;
  friend class Vector;
  // The table whose start is at `pos` (checked: soffset, vtable, inline size).
  Table table_at(size_t pos, std::string path, int depth) const;
  // The position of the object a uoffset at `pos` points to (checked: in the file).
  size_t follow(size_t pos, const std::string& path) const;
  Vector vector_at(size_t pos, size_t elem_size, std::string path, int depth) const;
  std::string string_at(size_t pos, const std::string& path) const;
};

class Table {
 public:
  const std::string& path() const { return path_; }
  size_t offset() const { return pos_; }

  bool has(int id) const { return field_offset(id) != 0; }

  // A scalar field (integers, bool as uint8_t, enums as their underlying type, float).
  template <typename T>
  T scalar(int id, const char* name, T def) const {
    const size_t pos = field_pos(id, sizeof(T), name);
    return pos == 0 ? def : reader_->load<T>(pos);
  }

  std::optional<Table> table(int id, const char* name) const;
  // Absent vectors are empty (Vector::present() tells them apart).
  Vector vector(int id, const char* name, size_t elem_size) const;
  // A vector of scalars copied out (charged to the budget).
  template <typename T>
  std::vector<T> scalars(int id, const char* name) const;
  // Absent strings are "".
  std::string string(int id, const char* name) const;

  // A union field takes two ids: the type (a uint8_t, 0 = NONE) at `id` and the value
  // (a table) at `id + 1`.
  uint8_t union_type(int id, const char* name) const { return scalar<uint8_t>(id, name, 0); }
  std::optional<Table> union_value(int id, const char* name) const { return table(id + 1, name); }

 private:
  friend class Reader;
  Table(const Reader* r, size_t pos, size_t vtable, size_t vtable_size, size_t table_size,
        std::string path, int depth)
      : reader_(r), pos_(pos), vtable_(vtable), vtable_size_(vtable_size),
        table_size_(table_size), path_(std::move(path)), depth_(depth) {}

  // The field's offset inside the table from the vtable, 0 when absent.
  size_t field_offset(int id) const;
  // The field's absolute position (checked to lie inside the table), 0 when absent.
  size_t field_pos(int id, size_t size, const char* name) const;
  std::string field_path(const char* name) const { return path_ + "." + name; }

  const Reader* reader_;
  size_t pos_;
  size_t vtable_;
  size_t vtable_size_;
  size_t table_size_;
  std::string path_;
  int depth_;
};

class Vector {
 public:
  bool present() const { return present_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // The raw elements (size() * element size bytes, all inside the file).
  const uint8_t* bytes() const { return reader_->data() + pos_; }

  template <typename T>
  T scalar(size_t i) const {
    check_element(i, sizeof(T));
    return reader_->load<T>(pos_ + i * sizeof(T));
  }
  // Element i of a vector of tables or of strings (elements are uoffsets).
  Table table(size_t i) const;
  std::string string(size_t i) const;

 private:
  friend class Reader;
  friend class Table;
  Vector(const Reader* r, size_t pos, size_t size, size_t elem_size, std::string path,
         int depth, bool present)
      : reader_(r), pos_(pos), size_(size), elem_size_(elem_size), path_(std::move(path)),
        depth_(depth), present_(present) {}
  void check_element(size_t i, size_t elem_size) const;
  std::string element_path(size_t i) const { return path_ + "[" + std::to_string(i) + "]"; }

  const Reader* reader_;
  size_t pos_;        // first element
  size_t size_;       // element count
  size_t elem_size_;  // bytes per element
  std::string path_;
  int depth_;
  bool present_;
};

template <typename T>
std::vector<T> Table::scalars(int id, const char* name) const {
  const Vector v = vector(id, name, sizeof(T));
  reader_->charge(v.size() * sizeof(T), v.path());
  std::vector<T> out(v.size());
  if (!out.empty()) std::memcpy(out.data(), v.bytes(), v.size() * sizeof(T));
  return out;
}

}  // namespace tessel::tflite::fb
