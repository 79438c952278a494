#pragma once
// Image input for models: BMP decoding, the nearest-neighbour resize that
// ../shared/goldens/README.md defines, and conversion into an input tensor's bytes.

#include <cstdint>
#include <string>
#include <vector>

#include "tessel/ir/graph.hpp"

namespace tessel::io {

// Top-down rows, interleaved channels (RGB for colour images, one channel for grey).
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;  // height * width * channels
};

// Decodes an uncompressed BMP (BITMAPINFOHEADER or later: 24- and 32-bit BI_RGB, 32-bit
// BI_BITFIELDS with byte-aligned masks, 8-bit palettised), bottom-up or top-down.
// Throws tessel::Error naming `name` and the header field at fault.
Image decode_bmp(const std::vector<uint8_t>& bytes, const std::string& name);
Image read_bmp(const std::string& path);

// Nearest-neighbour resize: src_y = floor(y * src_h / dst_h), src_x likewise, in integer
// arithmetic (no crop, aspect ratio not kept).
Image resize_nearest(const Image& src, int dst_width, int dst_height);

// Converts an image into the bytes of `input` (shape [1, H, W, C], NHWC): resized to H x W,
// uint8 inputs keep the pixel value, int8 inputs get pixel - 128. A one-channel input
// takes a grey image as is and converts colour with the integer BT.601 luma
// (77 R + 150 G + 29 B + 128) >> 8. Throws tessel::Error for any other layout or dtype.
std::vector<uint8_t> image_to_input(const Image& image, const ir::Tensor& input);

}  // namespace tessel::io
