#pragma once
// The bilinear kernels' parameters of the RESIZE and RESIZE_ROWS commands, shared by the
// functional unit (which runs them) and the compiler (which tiles RESIZE_ROWS bands and
// must load exactly the input rows the kernels will read). Header-only: the compiler
// does not link the functional unit.

#include "tessel/kernels/quant_reduce.hpp"
#include "tessel_isa_commands.hpp"

namespace tessel::sim::npu {

// The whole tensor's parameters (isa::Resize or isa::ResizeRows).
template <class C>
kernels::ResizeBilinearParams bilinear_params(const C& c) {
  kernels::ResizeBilinearParams p;
  p.input_height = c.in_h;
  p.input_width = c.in_w;
  p.depth = c.channels;
  p.output_height = c.out_h;
  p.output_width = c.out_w;
  p.align_corners = c.align_corners != 0;
  p.half_pixel_centers = c.half_pixel_centers != 0;
  return p;
}

// ... restricted to a RESIZE_ROWS band: output rows [out_row, out_row + out_rows) from
// input rows starting at in_row.
inline kernels::ResizeBilinearParams band_params(const isa::ResizeRows& c) {
  kernels::ResizeBilinearParams p = bilinear_params(c);
  p.output_row_begin = c.out_row;
  p.output_row_end = c.out_row + c.out_rows;
  p.input_row_begin = c.in_row;
  return p;
}

// The input rows a RESIZE_ROWS band reads (its in_row/in_rows do not matter).
inline kernels::RowRange band_input_rows(const isa::ResizeRows& c) {
  return kernels::resize_bilinear_input_rows(band_params(c), c.is_signed != 0);
}

}  // namespace tessel::sim::npu
