#include "tessel/io/image.hpp"

#include <cstring>

#include "tessel/io/files.hpp"

namespace tessel::io {

namespace {

// Little-endian field reads, bounds-checked against the file.
struct Reader {
  const std::vector<uint8_t>& b;
  const std::string& name;
  uint32_t u32(size_t off, const char* field) const {
    need(off, 4, field);
    return uint32_t{b[off]} | uint32_t{b[off + 1]} << 8 | uint32_t{b[off + 2]} << 16 |
           uint32_t{b[off + 3]} << 24;
  }
  uint16_t u16(size_t off, const char* field) const {
    need(off, 2, field);
    return static_cast<uint16_t>(b[off] | b[off + 1] << 8);
  }
  void need(size_t off, size_t n, const char* field) const {
    if (off > b.size() || b.size() - off < n)
      throw Error(name + ": truncated BMP: " + field + " at byte " + std::to_string(off) +
                  " needs " + std::to_string(n) + " bytes, file has " + std::to_string(b.size()));
  }
};

// Byte index (0..3) of a BI_BITFIELDS channel mask that selects exactly one byte.
int mask_byte(uint32_t mask, const std::string& name, const char* channel) {
  for (int i = 0; i < 4; ++i)
    if (mask == (0xFFu << (8 * i))) return i;
  throw Error(name + ": BMP " + channel + " bit mask 0x" + std::to_string(mask) +
              " is not one whole byte (only byte-aligned 32-bit masks are supported)");
}

}  // namespace

Image decode_bmp(const std::vector<uint8_t>& bytes, const std::string& name) {
  const Reader r{bytes, name};
  r.need(0, 2, "signature");
  if (bytes[0] != 'B' || bytes[1] != 'M') throw Error(name + ": not a BMP file (no 'BM' signature)");
  const uint32_t pixel_offset = r.u32(10, "pixel data offset");
  const uint32_t header_size = r.u32(14, "info header size");
  if (header_size < 40)
    throw Error(name + ": BMP info header of " + std::to_string(header_size) +
                " bytes is not supported (need BITMAPINFOHEADER, 40 bytes, or later)");
  const auto width = static_cast<int32_t>(r.u32(18, "width"));
  const auto height_field = static_cast<int32_t>(r.u32(22, "height"));
  const uint16_t planes = r.u16(26, "planes");
  const uint16_t bpp = r.u16(28, "bits per pixel");
  const uint32_t compression = r.u32(30, "compression");
  if (planes != 1) throw Error(name + ": BMP planes is " + std::to_string(planes) + ", expected 1");
  if (width <= 0 || height_field == 0 || height_field == INT32_MIN)
    throw Error(name + ": BMP size " + std::to_string(width) + "x" + std::to_string(height_field) +
                " is invalid");
  const bool top_down = height_field < 0;
  const int32_t height = top_down ? -height_field : height_field;
  if (static_cast<int64_t>(width) * height > (int64_t{1} << 28))
    throw Error(name + ": BMP of " + std::to_string(width) + "x" + std::to_string(height) + " is too large");

  // Channel byte positions within a pixel (BGR order for BI_RGB).
  int pos_r = 2, pos_g = 1, pos_b = 0;
  if (compression == 3 && bpp == 32) {  // BI_BITFIELDS: masks follow the 40-byte header
    pos_r = mask_byte(r.u32(54, "red mask"), name, "red");
    pos_g = mask_byte(r.u32(58, "green mask"), name, "green");
    pos_b = mask_byte(r.u32(62, "blue mask"), name, "blue");
  } else if (compression != 0) {
    throw Error(name + ": BMP compression " + std::to_string(compression) +
                " is not supported (only uncompressed BI_RGB, and BI_BITFIELDS at 32 bits)");
  }
  if (bpp != 8 && bpp != 24 && bpp != 32)
    throw Error(name + ": BMP with " + std::to_string(bpp) + " bits per pixel is not supported (8, 24, 32)");

  std::vector<uint8_t> palette;  // BGRA entries for 8-bit images
  bool grey = false;
  if (bpp == 8) {
    uint32_t colours = r.u32(46, "palette size");
    if (colours == 0) colours = 256;
    if (colours > 256) throw Error(name + ": BMP palette of " + std::to_string(colours) + " colours");
    const size_t pal_off = 14 + size_t{header_size};
    r.need(pal_off, size_t{colours} * 4, "palette");
    palette.assign(bytes.begin() + static_cast<long>(pal_off),
                   bytes.begin() + static_cast<long>(pal_off + colours * 4));
    palette.resize(256 * 4, 0);
    grey = true;
    for (size_t i = 0; i < colours; ++i)
      if (palette[i * 4] != palette[i * 4 + 1] || palette[i * 4] != palette[i * 4 + 2]) grey = false;
  }

  const size_t bytes_pp = bpp / 8;
  const size_t row_bytes = (static_cast<size_t>(width) * bytes_pp + 3) / 4 * 4;  // rows pad to 4 bytes
  r.need(pixel_offset, row_bytes * static_cast<size_t>(height), "pixel data");

  Image img;
  img.width = width;
  img.height = height;
  img.channels = grey ? 1 : 3;
  img.pixels.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * img.channels);
  for (int32_t y = 0; y < height; ++y) {
    const int32_t src_row = top_down ? y : height - 1 - y;
    const uint8_t* row = bytes.data() + pixel_offset + row_bytes * static_cast<size_t>(src_row);
    uint8_t* out = img.pixels.data() + static_cast<size_t>(y) * width * img.channels;
    for (int32_t x = 0; x < width; ++x) {
      const uint8_t* px = row + static_cast<size_t>(x) * bytes_pp;
      if (bpp == 8) {
        const uint8_t* entry = &palette[size_t{px[0]} * 4];  // B, G, R, reserved
        if (grey) {
          out[x] = entry[0];
        } else {
          out[x * 3 + 0] = entry[2];
          out[x * 3 + 1] = entry[1];
          out[x * 3 + 2] = entry[0];
        }
      } else {
        out[x * 3 + 0] = px[pos_r];
        out[x * 3 + 1] = px[pos_g];
        out[x * 3 + 2] = px[pos_b];
      }
    }
  }
  return img;
}

Image read_bmp(const std::string& path) { return decode_bmp(read_file(path), path); }

Image resize_nearest(const Image& src, int dst_width, int dst_height) {
  check(dst_width > 0 && dst_height > 0, "resize target " + std::to_string(dst_width) + "x" +
                                             std::to_string(dst_height) + " is invalid");
  Image dst;
  dst.width = dst_width;
  dst.height = dst_height;
  dst.channels = src.channels;
  dst.pixels.resize(static_cast<size_t>(dst_width) * dst_height * src.channels);
  for (int y = 0; y < dst_height; ++y) {
    const int64_t sy = int64_t{y} * src.height / dst_height;
    for (int x = 0; x < dst_width; ++x) {
      const int64_t sx = int64_t{x} * src.width / dst_width;
      std::memcpy(&dst.pixels[(static_cast<size_t>(y) * dst_width + x) * src.channels],
                  &src.pixels[(static_cast<size_t>(sy) * src.width + static_cast<size_t>(sx)) * src.channels],
                  static_cast<size_t>(src.channels));
    }
  }
  return dst;
}

std::vector<uint8_t> image_to_input(const Image& image, const ir::Tensor& input) {
  const std::string what = "input '" + input.name + "'";
  if (input.rank() != 4 || input.shape[0] != 1)
    throw Error(what + " has shape of rank " + std::to_string(input.rank()) +
                "; an image input needs [1, H, W, C]");
  const int h = input.shape[1], w = input.shape[2], c = input.shape[3];
  if (c != 1 && c != 3)
    throw Error(what + " has " + std::to_string(c) + " channels; an image input needs 1 or 3");
  if (input.dtype != ir::DType::u8 && input.dtype != ir::DType::i8)
    throw Error(what + " is " + ir::dtype_name(input.dtype) +
                "; images convert only to uint8 or int8 inputs (pass a raw file instead)");
  const Image resized = resize_nearest(image, w, h);
  std::vector<uint8_t> out(static_cast<size_t>(h) * w * c);
  // int8 inputs take pixel - 128: the same byte with the top bit flipped.
  const uint8_t flip = input.dtype == ir::DType::i8 ? 0x80 : 0x00;
  for (size_t p = 0; p < static_cast<size_t>(h) * w; ++p) {
    const uint8_t* px = &resized.pixels[p * resized.channels];
    if (c == 3 && resized.channels == 3) {
      for (int k = 0; k < 3; ++k) out[p * 3 + k] = px[k] ^ flip;
    } else if (c == 3) {  // grey image into an RGB input
      for (int k = 0; k < 3; ++k) out[p * 3 + k] = px[0] ^ flip;
    } else if (resized.channels == 1) {
      out[p] = px[0] ^ flip;
    } else {
      const unsigned luma = (77u * px[0] + 150u * px[1] + 29u * px[2] + 128u) >> 8;
      out[p] = static_cast<uint8_t>(luma) ^ flip;
    }
  }
  return out;
}

}  // namespace tessel::io
