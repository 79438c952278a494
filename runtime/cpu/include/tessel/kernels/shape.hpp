#pragma once
// A small fixed-capacity shape for kernels: kernels take raw pointers plus Shapes, so they
// depend on nothing (the simulator's functional model calls them too).

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "tessel/ir/error.hpp"

namespace tessel::kernels {

struct Shape {
  static constexpr int kMaxRank = 8;
  int rank = 0;
  int32_t dims[kMaxRank] = {};

  Shape() = default;
  Shape(std::initializer_list<int32_t> d) {
    for (int32_t v : d) dims[rank++] = v;
  }
  template <typename Int>
  static Shape of(const std::vector<Int>& d) {
    check(d.size() <= static_cast<size_t>(kMaxRank),
          "rank " + std::to_string(d.size()) + " exceeds the kernels' maximum of 8");
    Shape s;
    for (Int v : d) s.dims[s.rank++] = static_cast<int32_t>(v);
    return s;
  }

  int32_t operator[](int i) const { return dims[i]; }
  int64_t num_elements() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= dims[i];
    return n;
  }
  // Row-major flat offset of a 4-D index (shapes of rank 4 only).
  int64_t offset(int32_t n, int32_t h, int32_t w, int32_t c) const {
    return ((static_cast<int64_t>(n) * dims[1] + h) * dims[2] + w) * dims[3] + c;
  }
  bool operator==(const Shape& o) const {
    if (rank != o.rank) return false;
    for (int i = 0; i < rank; ++i)
      if (dims[i] != o.dims[i]) return false;
    return true;
  }
  bool operator!=(const Shape& o) const { return !(*this == o); }
};

}  // namespace tessel::kernels
