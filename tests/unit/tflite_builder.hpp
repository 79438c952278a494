#pragma once
// A tiny FlatBuffers writer for tests: enough to write minimal .tflite models (and,
// by patching the bytes it reports positions for, broken ones) without flatc or the
// FlatBuffers library, so the importer is tested against an independent writer.
//
// Objects are built as a tree and written parent first: every uoffset then points
// forward, as the format requires. Each object remembers where it was written (`pos`:
// a table's soffset, a vector's or string's length field) so tests can corrupt it.
//
//   fbt::Ref t = fbt::table();
//   fbt::set<int32_t>(t, 1, 2);            // field id 1 = int32 2
//   fbt::set(t, 3, fbt::string("name"));   // field id 3 = offset to a string
//   std::vector<uint8_t> bytes = fbt::finish(t, "TFL3");

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tessel::test::fbt {

struct Object;
using Ref = std::shared_ptr<Object>;

struct Object {
  enum class Kind { table, scalar_vector, ref_vector, string } kind = Kind::table;
  // table: field id -> inline scalar bytes, or a reference to another object
  std::map<int, std::vector<uint8_t>> scalars;
  std::map<int, Ref> refs;
  // scalar_vector / string: the element bytes; ref_vector: the elements
  size_t elem_size = 1;
  std::vector<uint8_t> bytes;
  std::vector<Ref> elems;
  // written position, and for tables the vtable's and each field's position
  size_t pos = 0;
  size_t vtable_pos = 0;
  std::map<int, size_t> field_pos;
};

inline Ref table() { return std::make_shared<Object>(); }

template <typename T>
void set(const Ref& t, int id, T v) {
  std::vector<uint8_t> b(sizeof(T));
  std::memcpy(b.data(), &v, sizeof(T));
  t->scalars[id] = b;
}
inline void set(const Ref& t, int id, const Ref& child) { t->refs[id] = child; }

template <typename T>
Ref vector(const std::vector<T>& v) {
  auto o = std::make_shared<Object>();
  o->kind = Object::Kind::scalar_vector;
  o->elem_size = sizeof(T);
  o->bytes.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(o->bytes.data(), v.data(), o->bytes.size());
  return o;
}
inline Ref vector_of(std::vector<Ref> elems) {
  auto o = std::make_shared<Object>();
  o->kind = Object::Kind::ref_vector;
  o->elem_size = 4;
  o->elems = std::move(elems);
  return o;
}
inline Ref string(const std::string& s) {
  auto o = std::make_shared<Object>();
  o->kind = Object::Kind::string;
  o->bytes.assign(s.begin(), s.end());
  return o;
}

class Writer {
 public:
  std::vector<uint8_t> out;

  template <typename T>
  void put(T v) {
    const size_t p = out.size();
    out.resize(p + sizeof(T));
    std::memcpy(out.data() + p, &v, sizeof(T));
  }
  template <typename T>
  void patch(size_t pos, T v) {
    std::memcpy(out.data() + pos, &v, sizeof(T));
  }
  void align(size_t a) {
    while (out.size() % a != 0) out.push_back(0);
  }
  // Pads so that the position after `prefix` more bytes is a multiple of `a`.
  void align_after(size_t prefix, size_t a) {
    while ((out.size() + prefix) % a != 0) out.push_back(0);
  }
  void link(size_t at, const Ref& child) {
    const size_t target = write(child);
    patch<uint32_t>(at, static_cast<uint32_t>(target - at));
  }

  size_t write(const Ref& o) {
    switch (o->kind) {
      case Object::Kind::table: return write_table(o);
      case Object::Kind::scalar_vector: {
        align_after(4, std::max<size_t>(o->elem_size, 4));
        o->pos = out.size();
        put<uint32_t>(static_cast<uint32_t>(o->bytes.size() / o->elem_size));
        out.insert(out.end(), o->bytes.begin(), o->bytes.end());
        return o->pos;
      }
      case Object::Kind::ref_vector: {
        align(4);
        o->pos = out.size();
        put<uint32_t>(static_cast<uint32_t>(o->elems.size()));
        const size_t first = out.size();
        for (size_t i = 0; i < o->elems.size(); ++i) put<uint32_t>(0);
        for (size_t i = 0; i < o->elems.size(); ++i) link(first + 4 * i, o->elems[i]);
        return o->pos;
      }
      case Object::Kind::string: {
        align(4);
        o->pos = out.size();
        put<uint32_t>(static_cast<uint32_t>(o->bytes.size()));
        out.insert(out.end(), o->bytes.begin(), o->bytes.end());
        out.push_back(0);
        return o->pos;
      }
    }
    return 0;
  }

 private:
  size_t write_table(const Ref& o) {
    int max_id = -1;
    for (const auto& f : o->scalars) max_id = std::max(max_id, f.first);
    for (const auto& f : o->refs) max_id = std::max(max_id, f.first);
    // Inline layout: soffset, then fields by id, each aligned to its size.
    std::map<int, size_t> offset;
    size_t size = 4;
    for (int id = 0; id <= max_id; ++id) {
      size_t n = 0;
      if (o->scalars.count(id)) n = o->scalars[id].size();
      else if (o->refs.count(id)) n = 4;
      if (n == 0) continue;
      size = (size + n - 1) / n * n;
      offset[id] = size;
      size += n;
    }
    align(2);
    o->vtable_pos = out.size();
    put<uint16_t>(static_cast<uint16_t>(4 + 2 * (max_id + 1)));
    put<uint16_t>(static_cast<uint16_t>(size));
    for (int id = 0; id <= max_id; ++id)
      put<uint16_t>(static_cast<uint16_t>(offset.count(id) ? offset[id] : 0));
    align(8);
    o->pos = out.size();
    put<int32_t>(static_cast<int32_t>(o->pos - o->vtable_pos));
    out.resize(o->pos + size, 0);
    for (const auto& [id, off] : offset) {
      o->field_pos[id] = o->pos + off;
      if (o->scalars.count(id))
        std::memcpy(out.data() + o->pos + off, o->scalars[id].data(), o->scalars[id].size());
    }
    for (const auto& [id, child] : o->refs) link(o->pos + offset[id], child);
    return o->pos;
  }
};

// The file: root uoffset, optional 4-byte identifier, then the objects.
inline std::vector<uint8_t> finish(const Ref& root, const char* identifier = "TFL3") {
  Writer w;
  w.put<uint32_t>(0);
  if (identifier) w.out.insert(w.out.end(), identifier, identifier + 4);
  w.patch<uint32_t>(0, static_cast<uint32_t>(w.write(root)));
  return w.out;
}

}  // namespace tessel::test::fbt
