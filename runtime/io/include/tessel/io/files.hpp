#pragma once
// Whole-file reads and writes with errors that name the path.

#include <cstdint>
#include <string>
#include <vector>

namespace tessel::io {

std::vector<uint8_t> read_file(const std::string& path);
void write_file(const std::string& path, const uint8_t* data, size_t size);
// One label per line (trailing '\r' stripped); line i is the label of class i.
std::vector<std::string> read_labels(const std::string& path);
bool ends_with(const std::string& s, const std::string& suffix);

// The goldens' random inputs: 32-bit xorshift (13, 17, 5), state = seed, updated before
// each use; one byte per element (x & 0xFF) for 1-byte types, two (little-endian) for
// 2-byte types, four for 4-byte types.
std::vector<uint8_t> xorshift_bytes(uint32_t seed, size_t elements, size_t element_size);

}  // namespace tessel::io
