// Tile generation and the analytical cost model.
#include "tiles.hpp"

#include <algorithm>

#include "tessel/ir/error.hpp"
#include "tessel/sim/npu/resize_params.hpp"
#include "tessel/sim/npu/timing.hpp"

namespace tessel::compiler {

namespace {

int ceil_div(int64_t a, int64_t b) { return static_cast<int>((a + b - 1) / b); }
uint32_t u32(uint64_t v) { return static_cast<uint32_t>(v); }

// A contiguous transfer.
Xfer flat(uint64_t dram, uint32_t sram, uint64_t bytes) {
  Xfer x;
  x.dram = u32(dram);
  x.sram = sram;
  x.len0 = u32(bytes);
  return x;
}

// `rows` x `planes` rows of `len` bytes; DRAM rows `d1` apart (planes `d2`), SRAM rows
// dense (`len` apart, planes len * rows). Collapses to one contiguous row when the DRAM
// side is dense too.
Xfer strided(uint64_t dram, uint32_t sram, uint32_t len, uint32_t rows, uint32_t d1,
             uint32_t planes = 1, uint32_t d2 = 0) {
  if (d1 == len && (planes == 1 || d2 == len * rows)) return flat(dram, sram, uint64_t{len} * rows * planes);
  Xfer x;
  x.dram = u32(dram);
  x.sram = sram;
  x.len0 = len;
  x.n1 = rows;
  x.dram_s1 = d1;
  x.sram_s1 = len;
  x.n2 = planes;
  x.dram_s2 = d2;
  x.sram_s2 = len * rows;
  return x;
}

// The (block, chunk) order of a two-level tiling: `bands` input blocks x `groups` weight
// chunks, channel groups outside (weights loaded once, inputs re-read per group) or inside.
struct Step2 {
  int band, group;
};
std::vector<Step2> order(int bands, int groups, bool channels_outer) {
  std::vector<Step2> s;
  if (channels_outer) {
    for (int g = 0; g < groups; ++g)
      for (int b = 0; b < bands; ++b) s.push_back({b, g});
  } else {
    for (int b = 0; b < bands; ++b)
      for (int g = 0; g < groups; ++g) s.push_back({b, g});
  }
  return s;
}

// Marks new/last uses of input blocks (identified by `in_key`) and weight chunks (`w_key`,
// -1 = no weights) along the tile sequence.
void mark_uses(std::vector<Tile>& tiles, const std::vector<int64_t>& in_key,
               const std::vector<int64_t>& w_key) {
  int in_count = 0, w_count = 0;
  for (size_t i = 0; i < tiles.size(); ++i) {
    Tile& t = tiles[i];
    t.new_in = i == 0 || in_key[i] != in_key[i - 1];
    t.last_in_use = i + 1 == tiles.size() || in_key[i + 1] != in_key[i];
    if (t.new_in) ++in_count;
    t.in_index = in_count - 1;
    if (w_key[i] >= 0) {
      t.new_w = i == 0 || w_key[i] != w_key[i - 1];
      t.last_w_use = i + 1 == tiles.size() || w_key[i + 1] != w_key[i];
      if (t.new_w) ++w_count;
      t.w_index = w_count - 1;
    }
    if (!t.new_in) t.in_loads.clear();
    if (!t.new_w) t.w_loads.clear();
  }
}

// Input rows [y0, y1) that output rows [r0, r0 + rows) read, and the tile's top padding.
struct RowSpan {
  int y0, y1, pad_top;
};
RowSpan input_rows(const Window& w, int r0, int rows) {
  const int first = r0 * w.stride_h - w.pad_top;
  const int last = (r0 + rows - 1) * w.stride_h - w.pad_top + (w.kernel_h - 1) * w.dilation_h;
  RowSpan s;
  s.y0 = std::max(0, first);
  s.y1 = std::min(w.in_h, last + 1);
  s.pad_top = s.y0 - first;
  return s;
}

std::vector<Tile> windowed_tiles(const NpuOp& op, const TileShape& t, const Bases& b) {
  const Window& w = op.win;
  const int bands = ceil_div(w.out_h, t.rows), groups = ceil_div(w.out_c, t.chans);
  const auto steps = order(bands, groups, t.channels_outer);
  std::vector<Tile> tiles;
  tiles.reserve(steps.size());
  std::vector<int64_t> in_key, w_key;
  const bool conv = op.kind == NpuKind::conv, dw = op.kind == NpuKind::dwconv;
  const int dm = dw ? w.depth_multiplier : 1;
  int n = 0;
  for (const Step2& s : steps) {
    Tile tile;
    const int r0 = s.band * t.rows, rows = std::min(t.rows, w.out_h - r0);
    const int c0 = s.group * t.chans, cg = std::min(t.chans, w.out_c - c0);
    const RowSpan span = input_rows(w, r0, rows);
    const int in_rows = span.y1 - span.y0;
    // Input channels this tile reads.
    const int ic0 = conv ? 0 : c0 / dm, icg = conv ? w.in_c : cg / dm;
    const uint64_t in_off = (uint64_t{uint32_t(span.y0)} * w.in_w) * w.in_c + ic0;
    if (op.res_in[0] < 0)
      tile.in_loads.push_back(strided(uint64_t{b.in[0]} + in_off, 0, u32(icg), u32(w.in_w), u32(w.in_c),
                                      u32(in_rows), u32(uint64_t{uint32_t(w.in_w)} * w.in_c)));
    uint32_t wbytes = 0;
    if (conv || dw) {
      const uint64_t taps = uint64_t{uint32_t(w.kernel_h)} * w.kernel_w;
      if (conv) {
        wbytes = u32(uint64_t{uint32_t(cg)} * taps * w.in_c);
        tile.w_loads.push_back(flat(uint64_t{b.constants} + op.weights_off + uint64_t{uint32_t(c0)} * taps * w.in_c, 0, wbytes));
      } else {
        wbytes = u32(uint64_t{uint32_t(cg)} * taps);
        tile.w_loads.push_back(strided(uint64_t{b.constants} + op.weights_off + c0, 0, u32(cg), u32(taps), u32(w.out_c)));
      }
      tile.w_loads.push_back(flat(uint64_t{b.constants} + op.qp_off + uint64_t{uint32_t(c0)} * 12,
                                  align_up(wbytes, kSramAlign), uint64_t{uint32_t(cg)} * 12));
    }
    const uint64_t out_off = (uint64_t{uint32_t(r0)} * w.out_w) * w.out_c + c0;
    if (op.res_out < 0)
      tile.stores.push_back(strided(uint64_t{b.out} + out_off, 0, u32(cg), u32(w.out_w), u32(w.out_c), u32(rows),
                                    u32(uint64_t{uint32_t(w.out_w)} * w.out_c)));
    tile.in_fixed[0] = op.res_in[0] >= 0;
    tile.out_fixed = op.res_out >= 0;
    const uint32_t in_abs = tile.in_fixed[0] ? u32(uint64_t(op.res_in[0]) + in_off) : 0;
    const uint32_t out_abs = tile.out_fixed ? u32(uint64_t(op.res_out) + out_off) : 0;
    if (op.kind == NpuKind::pool) {
      isa::Pool c = std::get<isa::Pool>(op.proto);
      c.in_h = static_cast<uint16_t>(in_rows);
      c.in_w = static_cast<uint16_t>(w.in_w);
      c.channels = static_cast<uint16_t>(cg);
      c.out_h = static_cast<uint16_t>(rows);
      c.out_w = static_cast<uint16_t>(w.out_w);
      c.pad_top = static_cast<uint8_t>(span.pad_top);
      c.pad_left = static_cast<uint8_t>(w.pad_left);
      c.in_addr = in_abs;    // (pool: a resident tensor is read whole-channel, see valid())
      c.out_addr = out_abs;
      tile.compute = c;
    } else {
      isa::Conv c = conv ? std::get<isa::Conv>(op.proto) : isa::Conv{};
      if (dw) {
        const isa::Dwconv& d = std::get<isa::Dwconv>(op.proto);
        // Dwconv and Conv share their fields (one field list in the spec).
        c.in_signed = d.in_signed; c.w_signed = d.w_signed; c.out_signed = d.out_signed;
        c.depth_multiplier = d.depth_multiplier;
        c.kernel_h = d.kernel_h; c.kernel_w = d.kernel_w; c.stride_h = d.stride_h;
        c.stride_w = d.stride_w; c.dilation_h = d.dilation_h; c.dilation_w = d.dilation_w;
        c.in_zp = d.in_zp; c.w_zp = d.w_zp; c.out_zp = d.out_zp;
        c.act_min = d.act_min; c.act_max = d.act_max;
      }
      c.in_h = static_cast<uint16_t>(in_rows);
      c.in_w = static_cast<uint16_t>(w.in_w);
      c.in_c = static_cast<uint16_t>(icg);
      c.in_pixel_stride = static_cast<uint16_t>(tile.in_fixed[0] ? w.in_c : icg);
      c.in_addr = in_abs;
      c.out_addr = out_abs;
      c.out_h = static_cast<uint16_t>(rows);
      c.out_w = static_cast<uint16_t>(w.out_w);
      c.out_c = static_cast<uint16_t>(cg);
      c.out_pixel_stride = static_cast<uint16_t>(tile.out_fixed ? w.out_c : cg);
      c.pad_top = static_cast<uint8_t>(span.pad_top);
      c.pad_left = static_cast<uint8_t>(w.pad_left);
      c.qp_addr = align_up(wbytes, kSramAlign);  // relative to the weight slot
      if (dw) {
        isa::Dwconv d;
        d.in_signed = c.in_signed; d.w_signed = c.w_signed; d.out_signed = c.out_signed;
        d.depth_multiplier = c.depth_multiplier; d.in_h = c.in_h; d.in_w = c.in_w;
        d.in_c = c.in_c; d.in_pixel_stride = c.in_pixel_stride; d.out_h = c.out_h;
        d.out_w = c.out_w; d.out_c = c.out_c; d.out_pixel_stride = c.out_pixel_stride;
        d.kernel_h = c.kernel_h; d.kernel_w = c.kernel_w; d.stride_h = c.stride_h;
        d.stride_w = c.stride_w; d.dilation_h = c.dilation_h; d.dilation_w = c.dilation_w;
        d.pad_top = c.pad_top; d.pad_left = c.pad_left; d.qp_addr = c.qp_addr;
        d.in_addr = c.in_addr; d.out_addr = c.out_addr;
        d.in_zp = c.in_zp; d.w_zp = c.w_zp; d.out_zp = c.out_zp;
        d.act_min = c.act_min; d.act_max = c.act_max;
        tile.compute = d;
      } else {
        tile.compute = c;
      }
    }
    // An input block is identified by its rows and channels; a weight chunk by its group.
    in_key.push_back(conv ? s.band : int64_t{s.band} * 65536 + s.group);
    w_key.push_back(conv || dw ? s.group : -1);
    tiles.push_back(std::move(tile));
    ++n;
  }
  mark_uses(tiles, in_key, w_key);
  return tiles;
}

std::vector<Tile> matmul_tiles(const NpuOp& op, const TileShape& t, const Bases& b) {
  const int bands = ceil_div(op.m, t.rows), groups = ceil_div(op.n, t.chans);
  std::vector<Tile> tiles;
  std::vector<int64_t> in_key, w_key;
  for (const Step2& s : order(bands, groups, t.channels_outer)) {
    Tile tile;
    const int64_t m0 = int64_t{s.band} * t.rows, mr = std::min<int64_t>(t.rows, op.m - m0);
    const int64_t n0 = int64_t{s.group} * t.chans, ng = std::min<int64_t>(t.chans, op.n - n0);
    if (op.res_in[0] < 0) tile.in_loads.push_back(flat(uint64_t{b.in[0]} + uint64_t(m0 * op.k), 0, uint64_t(mr * op.k)));
    const uint32_t wbytes = u32(uint64_t(ng * op.k));
    tile.w_loads.push_back(flat(uint64_t{b.constants} + op.weights_off + uint64_t(n0 * op.k), 0, wbytes));
    tile.w_loads.push_back(flat(uint64_t{b.constants} + op.qp_off + uint64_t(n0) * 12,
                                align_up(wbytes, kSramAlign), uint64_t(ng) * 12));
    if (op.res_out < 0)
      tile.stores.push_back(strided(uint64_t{b.out} + uint64_t(m0 * op.n + n0), 0, u32(uint64_t(ng)),
                                    u32(uint64_t(mr)), u32(uint64_t(op.n))));
    isa::Matmul c = std::get<isa::Matmul>(op.proto);
    tile.in_fixed[0] = op.res_in[0] >= 0;
    tile.out_fixed = op.res_out >= 0;
    if (tile.in_fixed[0]) c.in_addr = u32(uint64_t(op.res_in[0] + m0 * op.k));
    if (tile.out_fixed) c.out_addr = u32(uint64_t(op.res_out + m0 * op.n + n0));
    c.m = static_cast<uint16_t>(mr);
    c.k = static_cast<uint16_t>(op.k);
    c.n = static_cast<uint16_t>(ng);
    c.qp_addr = align_up(wbytes, kSramAlign);
    tile.compute = c;
    in_key.push_back(s.band);
    w_key.push_back(s.group);
    tiles.push_back(std::move(tile));
  }
  mark_uses(tiles, in_key, w_key);
  return tiles;
}

// ELTWISE and LUT: flat element ranges.
std::vector<Tile> flat_tiles(const NpuOp& op, const TileShape& t, const Bases& b) {
  std::vector<Tile> tiles;
  std::vector<int64_t> in_key, w_key;
  const int64_t per = t.rows;
  tiles.reserve(static_cast<size_t>((op.count + per - 1) / per));
  for (int64_t e0 = 0, i = 0; e0 < op.count; e0 += per, ++i) {
    Tile tile;
    const int64_t e = std::min<int64_t>(per, op.count - e0);
    tile.in_fixed[0] = op.res_in[0] >= 0;
    tile.in_fixed[1] = op.res_in[1] >= 0;
    tile.out_fixed = op.res_out >= 0;
    if (!tile.in_fixed[0]) tile.in_loads.push_back(flat(uint64_t{b.in[0]} + uint64_t(e0), 0, uint64_t(e)));
    const uint32_t a_abs = tile.in_fixed[0] ? u32(uint64_t(op.res_in[0] + e0)) : 0;
    const uint32_t out_abs = tile.out_fixed ? u32(uint64_t(op.res_out + e0)) : 0;
    if (op.kind == NpuKind::eltwise) {
      if (!tile.in_fixed[1])
        tile.in_loads.push_back(flat(uint64_t{b.in[1]} + uint64_t(e0), align_up(uint64_t(e), kSramAlign), uint64_t(e)));
      isa::Eltwise c = std::get<isa::Eltwise>(op.proto);
      c.count = u32(uint64_t(e));
      c.a_addr = a_abs;
      c.b_addr = tile.in_fixed[1] ? u32(uint64_t(op.res_in[1] + e0)) : align_up(uint64_t(e), kSramAlign);
      c.out_addr = out_abs;
      tile.compute = c;
      w_key.push_back(-1);
    } else {
      tile.w_loads.push_back(flat(uint64_t{b.constants} + op.table_off, 0, 256));
      isa::Lut c = std::get<isa::Lut>(op.proto);
      c.count = u32(uint64_t(e));
      c.in_addr = a_abs;
      c.out_addr = out_abs;
      tile.compute = c;
      w_key.push_back(0);
    }
    if (!tile.out_fixed) tile.stores.push_back(flat(uint64_t{b.out} + uint64_t(e0), 0, uint64_t(e)));
    in_key.push_back(i);
    tiles.push_back(std::move(tile));
  }
  mark_uses(tiles, in_key, w_key);
  return tiles;
}

std::vector<Tile> mean_tiles(const NpuOp& op, const TileShape& t, const Bases& b) {
  const Window& w = op.win;
  std::vector<Tile> tiles;
  std::vector<int64_t> in_key, w_key;
  for (int c0 = 0, i = 0; c0 < w.in_c; c0 += t.chans, ++i) {
    const int cg = std::min(t.chans, w.in_c - c0);
    Tile tile;
    if (op.res_in[0] < 0)
      tile.in_loads.push_back(strided(uint64_t{b.in[0]} + uint32_t(c0), 0, u32(uint64_t(uint32_t(cg))),
                                      u32(uint64_t(uint32_t(w.in_w))), u32(uint64_t(uint32_t(w.in_c))),
                                      u32(uint64_t(uint32_t(w.in_h))), u32(uint64_t(uint32_t(w.in_w)) * uint32_t(w.in_c))));
    if (op.res_out < 0) tile.stores.push_back(flat(uint64_t{b.out} + uint32_t(c0), 0, uint64_t(uint32_t(cg))));
    isa::Mean c = std::get<isa::Mean>(op.proto);
    tile.in_fixed[0] = op.res_in[0] >= 0;
    tile.out_fixed = op.res_out >= 0;
    if (tile.in_fixed[0]) c.in_addr = u32(uint64_t(op.res_in[0]));  // whole channels (valid())
    if (tile.out_fixed) c.out_addr = u32(uint64_t(op.res_out) + uint32_t(c0));
    c.in_h = static_cast<uint16_t>(w.in_h);
    c.in_w = static_cast<uint16_t>(w.in_w);
    c.channels = static_cast<uint16_t>(cg);
    tile.compute = c;
    in_key.push_back(i);
    w_key.push_back(-1);
    tiles.push_back(std::move(tile));
  }
  mark_uses(tiles, in_key, w_key);
  return tiles;
}

// SOFTMAX: bands of t.rows rows of the last dimension, each loaded, computed and stored.
std::vector<Tile> softmax_tiles(const NpuOp& op, const TileShape& t, const Bases& b) {
  std::vector<Tile> tiles;
  std::vector<int64_t> in_key, w_key;
  const uint64_t depth = uint64_t(op.k);
  for (int64_t r0 = 0; r0 < op.m; r0 += t.rows) {
    const int64_t rows = std::min<int64_t>(t.rows, op.m - r0);
    const uint64_t off = uint64_t(r0) * depth, bytes = uint64_t(rows) * depth;
    Tile tile;
    tile.in_fixed[0] = op.res_in[0] >= 0;
    tile.out_fixed = op.res_out >= 0;
    if (!tile.in_fixed[0]) tile.in_loads.push_back(flat(uint64_t{b.in[0]} + off, 0, bytes));
    if (!tile.out_fixed) tile.stores.push_back(flat(uint64_t{b.out} + off, 0, bytes));
    isa::Softmax c = std::get<isa::Softmax>(op.proto);
    c.rows = u32(uint64_t(rows));
    c.in_addr = tile.in_fixed[0] ? u32(uint64_t(op.res_in[0]) + off) : 0;
    c.out_addr = tile.out_fixed ? u32(uint64_t(op.res_out) + off) : 0;
    tile.compute = c;
    in_key.push_back(r0);
    w_key.push_back(-1);
    tiles.push_back(std::move(tile));
  }
  mark_uses(tiles, in_key, w_key);
  return tiles;
}

// RESIZE_BILINEAR. One tile (RESIZE) when the whole output fits (t.rows == out_h), else
// bands of t.rows output rows (RESIZE_ROWS), each loading the input rows its band reads
// (as the kernels compute them: resize_bilinear_input_rows) and storing its rows.
std::vector<Tile> resize_tiles(const NpuOp& op, const TileShape& t, const Bases& b) {
  const Window& w = op.win;
  const uint64_t in_row_bytes = uint64_t(uint32_t(w.in_w)) * uint32_t(w.in_c);
  const uint64_t out_row_bytes = uint64_t(uint32_t(w.out_w)) * uint32_t(w.out_c);
  const isa::Resize whole = std::get<isa::Resize>(op.proto);
  std::vector<Tile> tiles;
  std::vector<int64_t> in_key, w_key;
  for (int r0 = 0; r0 < w.out_h; r0 += t.rows) {
    const int rows = std::min(t.rows, w.out_h - r0);
    Tile tile;
    tile.in_fixed[0] = op.res_in[0] >= 0;
    tile.out_fixed = op.res_out >= 0;
    if (rows == w.out_h) {  // the whole tensor in one command
      if (!tile.in_fixed[0]) tile.in_loads.push_back(flat(b.in[0], 0, in_row_bytes * uint32_t(w.in_h)));
      if (!tile.out_fixed) tile.stores.push_back(flat(b.out, 0, out_row_bytes * uint32_t(w.out_h)));
      isa::Resize c = whole;
      if (tile.in_fixed[0]) c.in_addr = u32(uint64_t(op.res_in[0]));
      if (tile.out_fixed) c.out_addr = u32(uint64_t(op.res_out));
      tile.compute = c;
    } else {
      isa::ResizeRows c;
      c.is_signed = whole.is_signed;
      c.align_corners = whole.align_corners;
      c.half_pixel_centers = whole.half_pixel_centers;
      c.in_h = whole.in_h;
      c.in_w = whole.in_w;
      c.channels = whole.channels;
      c.out_h = whole.out_h;
      c.out_w = whole.out_w;
      c.out_row = static_cast<uint16_t>(r0);
      c.out_rows = static_cast<uint16_t>(rows);
      // The rows the kernels will read, by their own coordinate rule (uint8 and int8
      // differ), so that the band loads exactly what RESIZE_ROWS checks for.
      const kernels::RowRange need = sim::npu::band_input_rows(c);
      // A resident input is whole in SRAM; a loaded one holds just the rows the band reads.
      c.in_row = static_cast<uint16_t>(tile.in_fixed[0] ? 0 : need.first);
      c.in_rows = static_cast<uint16_t>(tile.in_fixed[0] ? w.in_h : need.end - need.first);
      if (tile.in_fixed[0]) {
        c.in_addr = u32(uint64_t(op.res_in[0]));
      } else {
        tile.in_loads.push_back(flat(b.in[0] + in_row_bytes * uint32_t(need.first), 0,
                                     in_row_bytes * uint32_t(need.end - need.first)));
      }
      if (tile.out_fixed) {
        c.out_addr = u32(uint64_t(op.res_out) + out_row_bytes * uint32_t(r0));
      } else {
        tile.stores.push_back(flat(b.out + out_row_bytes * uint32_t(r0), 0, out_row_bytes * uint32_t(rows)));
      }
      tile.compute = c;
    }
    in_key.push_back(r0);
    w_key.push_back(-1);
    tiles.push_back(std::move(tile));
  }
  mark_uses(tiles, in_key, w_key);
  return tiles;
}

// CONCATENATION: for each input, blocks of `rows` outer indices copied through SRAM into
// their place in the output.
std::vector<Tile> copy_tiles(const NpuOp& op, const TileShape& t, const Bases& b) {
  std::vector<Tile> tiles;
  std::vector<int64_t> in_key, w_key;
  uint64_t offset = 0;
  int64_t key = 0;
  for (size_t i = 0; i < op.copy_inner.size(); ++i) {
    const uint64_t inner = op.copy_inner[i];
    for (uint64_t o0 = 0; o0 < op.outer; o0 += uint64_t(t.rows)) {
      const uint64_t rows = std::min<uint64_t>(uint64_t(t.rows), op.outer - o0);
      Tile tile;
      tile.has_compute = false;
      tile.in_loads.push_back(flat(uint64_t{b.in[i]} + o0 * inner, 0, rows * inner));
      tile.stores.push_back(strided(uint64_t{b.out} + o0 * op.copy_total_inner + offset, 0, u32(inner),
                                    u32(rows), u32(op.copy_total_inner)));
      in_key.push_back(key++);
      w_key.push_back(-1);
      tiles.push_back(std::move(tile));
    }
    offset += inner;
  }
  mark_uses(tiles, in_key, w_key);
  return tiles;
}

bool valid(const NpuOp& op, const TileShape& t) {
  // Commands without a pixel or row stride read/write a resident tensor only whole.
  if (op.kind == NpuKind::pool && (op.res_in[0] >= 0 || op.res_out >= 0) && t.chans != op.win.out_c) return false;
  if (op.kind == NpuKind::mean && op.res_in[0] >= 0 && t.chans != op.win.in_c) return false;
  if (op.kind == NpuKind::matmul && op.res_out >= 0 && t.chans != op.n && t.rows != 1) return false;
  if (op.kind == NpuKind::copy && (op.res_in[0] >= 0 || op.res_out >= 0)) return false;
  switch (op.kind) {
    case NpuKind::conv:
    case NpuKind::pool:
      return t.rows >= 1 && t.rows <= op.win.out_h && t.chans >= 1 && t.chans <= op.win.out_c;
    case NpuKind::dwconv:
      return t.rows >= 1 && t.rows <= op.win.out_h && t.chans >= 1 && t.chans <= op.win.out_c &&
             t.chans % op.win.depth_multiplier == 0;
    case NpuKind::matmul:
      return t.rows >= 1 && t.rows <= op.m && t.chans >= 1 && t.chans <= op.n;
    case NpuKind::eltwise:
    case NpuKind::lut:
      return t.rows >= 1 && t.rows <= op.count;
    case NpuKind::mean:
      return t.chans >= 1 && t.chans <= op.win.in_c;
    case NpuKind::resize:
      return t.rows >= 1 && t.rows <= op.win.out_h;
    case NpuKind::softmax:
      return t.rows >= 1 && t.rows <= op.m;
    case NpuKind::copy:
      return t.rows >= 1 && uint64_t(t.rows) <= op.outer && t.rows <= 65535;
    case NpuKind::alias:
      return false;
  }
  return false;
}

// The SRAM addresses of slot-relative fields: inputs at the tile's input slot, weights at
// its weight slot, output at its output slot.
void place(Tile& t, const NpuOp& op, size_t index) {
  const uint32_t in = op.in_slot[t.in_index % 2], out = op.out_slot[index % 2];
  const uint32_t w = t.w_index >= 0 ? op.w_slot[t.w_index % 2] : 0;
  for (Xfer& x : t.in_loads) x.sram += in;
  for (Xfer& x : t.w_loads) x.sram += w;
  for (Xfer& x : t.stores) x.sram += t.has_compute ? out : in;
  if (!t.has_compute) return;
  std::visit(
      [&](auto& c) {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, isa::Conv> || std::is_same_v<T, isa::Dwconv> ||
                      std::is_same_v<T, isa::Matmul>) {
          if (!t.in_fixed[0]) c.in_addr = in;
          c.w_addr = w;
          c.qp_addr += w;
          if (!t.out_fixed) c.out_addr = out;
        } else if constexpr (std::is_same_v<T, isa::Eltwise>) {
          if (!t.in_fixed[0]) c.a_addr = in;
          if (!t.in_fixed[1]) c.b_addr += in;
          if (!t.out_fixed) c.out_addr = out;
        } else if constexpr (std::is_same_v<T, isa::Lut>) {
          if (!t.in_fixed[0]) c.in_addr = in;
          c.table_addr = w;
          if (!t.out_fixed) c.out_addr = out;
        } else if constexpr (std::is_same_v<T, isa::Pool> || std::is_same_v<T, isa::Mean> ||
                             std::is_same_v<T, isa::Resize> || std::is_same_v<T, isa::ResizeRows> ||
                             std::is_same_v<T, isa::Softmax>) {
          if (!t.in_fixed[0]) c.in_addr = in;
          if (!t.out_fixed) c.out_addr = out;
        }
      },
      t.compute);
}

std::vector<Tile> make_tiles(const NpuOp& op, const TileShape& t, const Bases& b) {
  switch (op.kind) {
    case NpuKind::conv:
    case NpuKind::dwconv:
    case NpuKind::pool: return windowed_tiles(op, t, b);
    case NpuKind::matmul: return matmul_tiles(op, t, b);
    case NpuKind::eltwise:
    case NpuKind::lut: return flat_tiles(op, t, b);
    case NpuKind::mean: return mean_tiles(op, t, b);
    case NpuKind::resize: return resize_tiles(op, t, b);
    case NpuKind::softmax: return softmax_tiles(op, t, b);
    case NpuKind::copy: return copy_tiles(op, t, b);
    case NpuKind::alias: break;
  }
  return {};
}

uint64_t bytes_of(const std::vector<Xfer>& xs) {
  uint64_t n = 0;
  for (const Xfer& x : xs) n += x.bytes();
  return n;
}

uint32_t extent(const std::vector<Xfer>& xs) {
  uint64_t end = 0;
  for (const Xfer& x : xs) {
    const uint64_t rows = uint64_t{x.n1} * x.n2;
    end = std::max<uint64_t>(end, x.sram + (rows == 0 ? 0 : x.sram_s2 * (x.n2 - 1) + x.sram_s1 * (x.n1 - 1)) + x.len0);
  }
  return u32(end);
}

}  // namespace

bool for_each_tile(const NpuOp& op, const TileShape& t, const Bases& bases,
                   const std::function<void(const Tile&)>& visit) {
  if (!valid(op, t)) return false;
  Bases b = bases;
  b.in.resize(std::max<size_t>(b.in.size(), op.inputs.size()), 0);
  std::vector<Tile> tiles = make_tiles(op, t, b);
  for (size_t i = 0; i < tiles.size(); ++i) {
    place(tiles[i], op, i);
    visit(tiles[i]);
  }
  return true;
}

SlotNeeds slot_needs(const NpuOp& op, const TileShape& t) {
  SlotNeeds s;
  if (!valid(op, t)) return s;
  Bases b;
  b.in.assign(op.inputs.size(), 0);
  NpuOp probe = op;  // slots at 0: extents are sizes
  for (auto& v : probe.w_slot) v = 0;
  for (auto& v : probe.in_slot) v = 0;
  for (auto& v : probe.out_slot) v = 0;
  int w_chunks = 0, in_blocks = 0;
  for (Tile& tile : make_tiles(probe, t, b)) {
    s.w = std::max(s.w, extent(tile.w_loads));
    s.in = std::max(s.in, extent(tile.in_loads));
    s.out = std::max(s.out, tile.has_compute ? extent(tile.stores) : 0u);
    w_chunks += tile.new_w;
    in_blocks += tile.new_in;
    ++s.tiles;
  }
  s.w = align_up(s.w, kSramAlign);
  s.in = align_up(s.in, kSramAlign);
  s.out = align_up(s.out, kSramAlign);
  s.w_slots = std::min(w_chunks, 2);
  s.in_slots = std::min(in_blocks, 2);
  s.out_slots = op.kind == NpuKind::copy ? 0 : std::min(s.tiles, 2);
  return s;
}

namespace {

constexpr double kDramEfficiency = 0.90;
constexpr double kRowOverheadBytes = 64;

// DMA engine cycles of one transfer: descriptor setup plus whole bursts at the effective
// bandwidth (the shared bus or ~92 % of the DRAM's peak, whichever is lower).
// Fraction of the DRAM channels a strided transfer spreads over. With the channel in the
// lowest address bits above the burst (mappings ending in "Ch"), burst b lives in channel
// b % channels, so rows of one burst at a stride of two bursts use half the channels.
double channel_fraction(const Xfer& x, const sim::npu::NpuConfig& hw) {
  const uint32_t channels = hw.dram.org.channels;
  const std::string& map = hw.dram.controller.address_mapping;
  if (channels <= 1 || x.n1 * x.n2 <= 1 || map.size() < 2 || map.compare(map.size() - 2, 2, "Ch") != 0) return 1.0;
  const uint64_t burst = hw.dram.org.burst_bytes();
  std::vector<bool> used(channels, false);
  uint32_t count = 0;
  for (uint32_t r = 0; r < std::min<uint32_t>(x.n1, 64) && count < channels; ++r)
    for (uint64_t b = (x.dram + uint64_t{r} * x.dram_s1) / burst; b <= (x.dram + uint64_t{r} * x.dram_s1 + x.len0 - 1) / burst; ++b) {
      const uint32_t c = static_cast<uint32_t>(b % channels);
      if (!used[c]) {
        used[c] = true;
        ++count;
      }
      if (count == channels) break;
    }
  return double(count) / channels;
}

// The NPU bus's effective bytes per core cycle. When the bus (not the DRAM) is the
// bottleneck, the DMA engines keep at most dma.max_outstanding bursts in flight; if those
// cannot cover an all-bank refresh (tRFC), every refresh stops the stream and the bus
// idles for it, so the bus loses the refresh's share of time (tRFC / tREFI: 7 % on
// LPDDR4X). When the DRAM is the bottleneck, kDramEfficiency already counts refresh.
double bus_bytes_per_cycle(const sim::npu::NpuConfig& hw) {
  const double bus = hw.dma.bus_bytes_per_cycle;
  const auto& t = hw.dram.timing;
  if (hw.dram.controller.refresh == "none" || t.tREFI == 0) return bus;
  const double trfc_cycles = double(t.tRFC) * t.tCK_ps / 1e6 * hw.clock_mhz;
  const double window = double(hw.dma.max_outstanding) * hw.dram.org.burst_bytes();
  if (window >= bus * trfc_cycles) return bus;
  return bus * (1.0 - std::min(1.0, double(t.tRFC) / double(t.tREFI)));
}

// The preset's two rates, computed once per estimate() (not per transfer).
struct DmaRates {
  double bus;   // bus_bytes_per_cycle()
  double dram;  // ~90 % of the DRAM's peak: refresh, and read/write turnarounds when loads
                // and stores of neighbouring tiles interleave (measured on the simulator,
                // docs/compiler.md)
  explicit DmaRates(const sim::npu::NpuConfig& hw)
      : bus(bus_bytes_per_cycle(hw)),
        dram(hw.dram.peak_bandwidth_gbps() * kDramEfficiency * 1e3 / hw.clock_mhz) {}
};

double dma_cycles(const Xfer& x, const sim::npu::NpuConfig& hw, const DmaRates& rates) {
  const double burst = hw.dram.org.burst_bytes();
  const double bw = std::min<double>(rates.bus, rates.dram * channel_fraction(x, hw));
  const double rows = double(x.n1) * x.n2;
  const double bursts_per_row = std::ceil(double(x.len0) / burst) + (x.len0 % uint32_t(burst) ? 1 : 0);
  // Each row of a strided transfer also costs about one extra burst-pair of time (a new
  // DRAM column command stream per row, partial bursts, write drains between short rows;
  // calibrated on the simulator: 64-byte rows move at half the streaming rate).
  const double moved = rows > 1 ? rows * (bursts_per_row * burst + kRowOverheadBytes)
                                : std::ceil(double(x.len0) / burst) * burst;
  return hw.dma.setup_cycles + moved / bw;
}

double dma_cycles(const std::vector<Xfer>& xs, const sim::npu::NpuConfig& hw, const DmaRates& rates) {
  double c = 0;
  for (const Xfer& x : xs) c += dma_cycles(x, hw, rates);
  return c;
}

// Unloaded DRAM access latency in core cycles (activate + read latency + one burst):
// a transfer's last bytes arrive this long after its last burst is issued.
double dram_latency_cycles(const sim::npu::NpuConfig& hw) {
  const auto& t = hw.dram.timing;
  const double ns = double(t.tRCD + t.tCL + t.tBL) * t.tCK_ps / 1000.0;
  return ns * hw.clock_mhz / 1000.0;
}

}  // namespace

Cost estimate(const NpuOp& op, const TileShape& t, const sim::npu::NpuConfig& hw) {
  Cost c;
  const SlotNeeds s = slot_needs(op, t);
  if (s.tiles == 0) return c;
  const uint64_t sram = uint64_t{s.w} * s.w_slots + uint64_t{s.in} * s.in_slots + uint64_t{s.out} * s.out_slots;
  c.fits = sram <= (op.sram_limit ? op.sram_limit : hw.sram_bytes());
  c.w_bytes = s.w;
  c.in_bytes = s.in;
  c.out_bytes = s.out;
  c.tiles = s.tiles;
  if (!c.fits) return c;  // not a candidate: skip the walk
  // Walk the schedule the emitter produces: DMA_IN loads in order, each into a free slot;
  // the compute engine waits for its data and a free output slot; DMA_OUT stores in order.
  NpuOp probe = op;
  for (int i = 0; i < 2; ++i) probe.w_slot[i] = probe.in_slot[i] = probe.out_slot[i] = 0;
  Bases b;
  b.in.assign(op.inputs.size(), 0);
  double din = 0, eng = 0, dout = 0, dma_total = 0;
  double w_full[2] = {0, 0}, w_free[2] = {0, 0}, in_full[2] = {0, 0}, in_free[2] = {0, 0};
  double out_free[2] = {0, 0};
  double compute_total = 0;
  const double latency = dram_latency_cycles(hw);
  const DmaRates rates(hw);
  size_t index = 0;
  for_each_tile(probe, t, b, [&](const Tile& tile) {
    const int ws = tile.w_index >= 0 ? tile.w_index % 2 : 0, is = tile.in_index % 2;
    const int os = static_cast<int>(index % 2);
    // A DMA engine runs one command at a time and a command ends when its last burst is
    // back, so each command holds its engine for its transfer plus the DRAM latency; the
    // shared bus is busy for the transfer only (dma_total).
    if (tile.new_w) {
      const double d = dma_cycles(tile.w_loads, hw, rates);
      din = std::max(din, w_free[ws]) + d + latency * double(tile.w_loads.size());
      w_full[ws] = din;
      dma_total += d;
      c.dram_bytes += bytes_of(tile.w_loads);
    }
    if (tile.new_in) {
      const double d = dma_cycles(tile.in_loads, hw, rates);
      din = std::max(din, in_free[is]) + d + latency * double(tile.in_loads.size());
      in_full[is] = din;
      dma_total += d;
      c.dram_bytes += bytes_of(tile.in_loads);
    }
    double ready = std::max(in_full[is], tile.w_index >= 0 ? w_full[ws] : 0.0);
    double done = ready;
    if (tile.has_compute) {
      const double cc = double(sim::npu::compute_timing(tile.compute, hw).cycles);
      compute_total += cc;
      eng = std::max({eng, ready, out_free[os]}) + cc;
      done = eng;
    }
    if (tile.last_in_use && tile.has_compute) in_free[is] = done;
    if (tile.last_w_use) w_free[ws] = done;
    const double d = dma_cycles(tile.stores, hw, rates);
    dout = std::max(dout, done) + d + latency * double(tile.stores.size());
    if (!tile.has_compute && tile.last_in_use) in_free[is] = dout;
    out_free[os] = dout;
    dma_total += d;
    c.dram_bytes += bytes_of(tile.stores);
    ++index;
  });
  // Both DMA engines share one bus: the layer takes at least all its transfers back to back.
  c.compute = static_cast<uint64_t>(compute_total);
  c.dma = static_cast<uint64_t>(dma_total);
  c.cycles = static_cast<uint64_t>(std::max(dout, dma_total));
  return c;
}

}  // namespace tessel::compiler
