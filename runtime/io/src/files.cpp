#include "tessel/io/files.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "tessel/ir/error.hpp"

namespace tessel::io {

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open: " + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) throw Error(path + ": read error");
  return bytes;
}

void write_file(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw Error(path + ": cannot create: " + std::strerror(errno));
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!f) throw Error(path + ": write error");
}

std::vector<std::string> read_labels(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(path + ": cannot open: " + std::strerror(errno));
  std::vector<std::string> labels;
  std::string line;
  while (std::getline(f, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    labels.push_back(line);
  }
  return labels;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<uint8_t> xorshift_bytes(uint32_t seed, size_t elements, size_t element_size) {
  std::vector<uint8_t> out;
  out.reserve(elements * element_size);
  uint32_t x = seed;
  for (size_t i = 0; i < elements; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    for (size_t b = 0; b < element_size; ++b) out.push_back(static_cast<uint8_t>(x >> (8 * b)));
  }
  return out;
}

}  // namespace tessel::io
