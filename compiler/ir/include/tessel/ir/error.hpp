#pragma once
// The one exception type Tessel throws for bad input (model files, options, shapes,
// unsupported operators). Its message names what is wrong and where; tools print it
// and exit non-zero. Programming errors are not reported through it.

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

}  // namespace tessel
