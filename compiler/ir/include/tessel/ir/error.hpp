#pragma once
// The one exception type Tessel throws for bad input (model files, options, shapes,
// unsupported operators). Its message names what is wrong and where; tools print it
// and exit non-zero. Programming errors are not reported through it.

#include <cstdint>
#include <stdexcept>
#include <string>

namespace tessel {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Throws Error(msg) when `cond` is false. For validation of untrusted input.
inline void check(bool cond, const std::string& msg) {
  if (!cond) throw Error(msg);
}

// "0x1f40": how messages print addresses, offsets and sizes.
inline std::string hex(uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  do {
    s.insert(s.begin(), digits[v & 15]);
    v >>= 4;
  } while (v != 0);
  return "0x" + s;
}

}  // namespace tessel
