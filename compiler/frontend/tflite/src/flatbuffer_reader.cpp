#include "flatbuffer_reader.hpp"

#include <utility>

// Wire format, as read here (all little-endian):
//   byte 0: uoffset (uint32) to the root table; bytes 4..7: optional file identifier.
//   table at T: soffset (int32) s; its vtable is at T - s.
//   vtable at V: uint16 vtable size in bytes, uint16 table inline size in bytes, then one
//   uint16 per field id: the field's offset from T, 0 when the field is absent.
//   uoffset field at F: the object is at F + value (always forward).
//   vector / string at P: uint32 element count, then the elements (strings add a NUL).
//   vector of tables / strings: each element is a uoffset relative to its own position.

namespace tessel::tflite::fb {

namespace {
std::string num(size_t v) { return std::to_string(v); }

// Copying out more than this, relative to the file, means the file reuses objects in a way
// no converter does; a generous constant covers small files that share a few buffers.
constexpr size_t kBudgetFactor = 8;
constexpr size_t kBudgetSlack = size_t{64} << 20;
// Each table visited is charged this much, so a long vector whose elements all point at
// one table also runs out of budget rather than time.
constexpr size_t kTableCharge = 64;
}  // namespace

Reader::Reader(const uint8_t* data, size_t size, std::string source)
    : data_(data), size_(size), source_(std::move(source)),
      budget_(size * kBudgetFactor + kBudgetSlack) {}

void Reader::fail(const std::string& path, const std::string& msg) const {
  throw Error(source_ + ": " + (path.empty() ? "" : path + ": ") + msg);
}

void Reader::require(size_t pos, size_t len, const std::string& path,
                     const std::string& what) const {
  if (pos > size_ || len > size_ - pos)
    fail(path, "truncated or corrupt file: " + what + " at offset " + num(pos) + " (" + num(len) +
                   " bytes) extends past the end of the file (size " + num(size_) + ")");
}

void Reader::charge(size_t bytes, const std::string& path) const {
  charged_ += bytes;
  if (charged_ > budget_)
    fail(path, "corrupt file: the objects it references add up to more than " + num(budget_) +
                   " bytes for a file of " + num(size_) + " bytes (one object reused many times?)");
}

std::string Reader::file_identifier() const {
  if (size_ < 8) return "";
  return std::string(reinterpret_cast<const char*>(data_ + 4), 4);
}

Table Reader::root(const char* name) const {
  if (size_ == 0) fail("", "the file is empty");
  require(0, 4, name, "root table offset");
  return table_at(follow(0, name), name, 0);
}

size_t Reader::follow(size_t pos, const std::string& path) const {
  const size_t target = pos + load<uint32_t>(pos);  // cannot wrap: pos < size_, value < 2^32
  if (target >= size_)
    fail(path, "truncated or corrupt file: offset at " + num(pos) + " points to " + num(target) +
                   ", past the end of the file (size " + num(size_) + ")");
  return target;
}

Table Reader::table_at(size_t pos, std::string path, int depth) const {
  if (depth > kMaxDepth)
    fail(path, "corrupt file: tables nested more than " + num(kMaxDepth) + " deep");
  charge(kTableCharge, path);
  require(pos, 4, path, "table");
  const int64_t vtable = static_cast<int64_t>(pos) - load<int32_t>(pos);
  if (vtable < 0 || static_cast<uint64_t>(vtable) >= size_)
    fail(path, "truncated or corrupt file: table at offset " + num(pos) + " has its vtable at " +
                   std::to_string(vtable) + ", outside the file (size " + num(size_) + ")");
  const size_t vt = static_cast<size_t>(vtable);
  require(vt, 4, path, "vtable");
  const size_t vtable_size = load<uint16_t>(vt);
  const size_t table_size = load<uint16_t>(vt + 2);
  if (vtable_size < 4 || vtable_size % 2 != 0)
    fail(path, "corrupt file: vtable at offset " + num(vt) + " has invalid size " + num(vtable_size));
  require(vt, vtable_size, path, "vtable");
  if (table_size < 4)
    fail(path, "corrupt file: table at offset " + num(pos) + " has invalid inline size " +
                   num(table_size));
  require(pos, table_size, path, "table");
  return Table(this, pos, vt, vtable_size, table_size, std::move(path), depth);
}

Vector Reader::vector_at(size_t pos, size_t elem_size, std::string path, int depth) const {
  require(pos, 4, path, "vector length");
  const size_t n = load<uint32_t>(pos);
  const size_t avail = size_ - pos - 4;
  if (n > avail / elem_size)
    fail(path, "truncated or corrupt file: vector at offset " + num(pos) + " of " + num(n) +
                   " elements x " + num(elem_size) + " bytes extends past the end of the file (size " +
                   num(size_) + ")");
  return Vector(this, pos + 4, n, elem_size, std::move(path), depth, true);
}

std::string Reader::string_at(size_t pos, const std::string& path) const {
  require(pos, 4, path, "string length");
  const size_t n = load<uint32_t>(pos);
  // n characters and the NUL terminator the format requires.
  if (n >= size_ - pos - 4)
    fail(path, "truncated or corrupt file: string at offset " + num(pos) + " of " + num(n) +
                   " bytes extends past the end of the file (size " + num(size_) + ")");
  if (data_[pos + 4 + n] != 0)
    fail(path, "corrupt file: string at offset " + num(pos) + " is not NUL-terminated");
  charge(n, path);
  return std::string(reinterpret_cast<const char*>(data_ + pos + 4), n);
}

size_t Table::field_offset(int id) const {
  const size_t entry = 4 + 2 * static_cast<size_t>(id);
  if (id < 0 || entry + 2 > vtable_size_) return 0;
  return reader_->load<uint16_t>(vtable_ + entry);
}

size_t Table::field_pos(int id, size_t size, const char* name) const {
  const size_t off = field_offset(id);
  if (off == 0) return 0;
  // The first 4 inline bytes are the soffset to the vtable; fields come after it.
  if (off < 4 || off + size > table_size_)
    reader_->fail(field_path(name), "corrupt file: field at offset " + num(pos_ + off) + " (" +
                                        num(size) + " bytes) lies outside its table (at offset " +
                                        num(pos_) + ", " + num(table_size_) + " bytes)");
  return pos_ + off;
}

std::optional<Table> Table::table(int id, const char* name) const {
  const size_t pos = field_pos(id, 4, name);
  if (pos == 0) return std::nullopt;
  std::string path = field_path(name);
  const size_t target = reader_->follow(pos, path);
  return reader_->table_at(target, std::move(path), depth_ + 1);
}

Vector Table::vector(int id, const char* name, size_t elem_size) const {
  const size_t pos = field_pos(id, 4, name);
  std::string path = field_path(name);
  if (pos == 0) return Vector(reader_, 0, 0, elem_size, std::move(path), depth_ + 1, false);
  const size_t target = reader_->follow(pos, path);
  return reader_->vector_at(target, elem_size, std::move(path), depth_ + 1);
}

std::string Table::string(int id, const char* name) const {
  const size_t pos = field_pos(id, 4, name);
  if (pos == 0) return "";
  const std::string path = field_path(name);
  return reader_->string_at(reader_->follow(pos, path), path);
}

void Vector::check_element(size_t i, size_t elem_size) const {
  // Both are the caller's mistakes rather than the file's, but cost nothing to catch.
  if (i >= size_) reader_->fail(path_, "element " + num(i) + " of " + num(size_) + " requested");
  if (elem_size != elem_size_)
    reader_->fail(path_, "read as " + num(elem_size) + "-byte elements, declared " +
                             num(elem_size_) + "-byte");
}

Table Vector::table(size_t i) const {
  check_element(i, 4);
  std::string path = element_path(i);
  const size_t target = reader_->follow(pos_ + 4 * i, path);
  return reader_->table_at(target, std::move(path), depth_ + 1);
}

std::string Vector::string(size_t i) const {
  check_element(i, 4);
  const std::string path = element_path(i);
  return reader_->string_at(reader_->follow(pos_ + 4 * i, path), path);
}

}  // namespace tessel::tflite::fb
