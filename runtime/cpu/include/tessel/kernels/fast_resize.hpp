#pragma once
// Fast exact RESIZE_BILINEAR and ARG_MAX / ARG_MIN for the `cpu` backend: the same bytes as
// the reference kernels in quant_reduce.hpp, vectorized with AVX-512 where the CPU has it
// (requantize_has_avx512()), with a portable scalar version of the same algorithm otherwise.
//
// RESIZE_BILINEAR, float kernel (float32 and uint8, TFLite's reference ResizeBilinear):
//   out = v00*(1-dy)*(1-dx) + v10*dy*(1-dx) + v01*(1-dy)*dx + v11*dy*dx + rounding
// evaluated left to right in float, no fused multiply-add. Every product starts with
// v*(1-dy) or v*dy, which depends only on the output row and the input pixel, so those are
// formed once per output row for the two source rows (the "row phase"):
//   A[ix, c] = v(y_lower, ix, c) * (1-dy)      B[ix, c] = v(y_upper, ix, c) * dy
// and each output element is then ((A[xl]*(1-dx) + B[xl]*(1-dx)) + A[xu]*dx) + B[xu]*dx +
// rounding: the same IEEE operations on the same operands in the same order as the
// reference, so the same result in every lane. The source taps and weights are computed
// once at plan time with the reference's own float expressions.
//
// RESIZE_BILINEAR, integer kernel (int8, TFLite's ResizeBilinearInteger): the reference
// sums four int64 products with 20 fractional bits. Integer arithmetic is exact, so the
// sum may be regrouped: V[ix, c] = v(y_lower)*wy0 + v(y_upper)*wy1 per output row, then
// wx0*V[xl] + wx1*V[xu]. Weights lie in [-512, 1536] with |w0| + |w1| <= 2048 (a negative
// weight appears only for half-pixel coordinates before the first pixel), so for int8
// |sum| <= 128 * 2048 * 2048 = 2^29 and int32 lanes hold it exactly.
//
// ARG_MAX / ARG_MIN over the last axis (inner size 1) of uint8 or int8: the first index of
// the extremum wins, as in the reference's strict comparison.
//
// Threads: `threads` > 1 splits output rows (resize) or pixels (arg) with OpenMP.

#include <cstdint>
#include <vector>

#include "tessel/kernels/quant_reduce.hpp"

namespace tessel::kernels {

enum class FastElement { f32, u8, i8 };

// One output coordinate's source taps along one axis, exactly as the reference computes
// them: the float kernel's fraction d and 1 - d, or the integer kernel's weights in
// 1/1024 units (only the fields of the plan's kernel are filled).
struct BilinearTap {
  int32_t lower = 0;
  int32_t upper = 0;
  float frac = 0.0f;    // d
  float rest = 0.0f;    // 1 - d
  int32_t frac_10 = 0;  // f, weight of the upper tap
  int32_t rest_10 = 0;  // 1024 - f, weight of the lower tap
};

// Everything a resize run needs that does not depend on the pixel values.
struct ResizeBilinearPlan {
  ResizeBilinearParams params;
  FastElement element = FastElement::u8;  // f32/u8: float kernel; i8: integer kernel
  std::vector<BilinearTap> rows;          // one per output row
  std::vector<BilinearTap> cols;          // one per output column
};

ResizeBilinearPlan plan_resize_bilinear(const ResizeBilinearParams& p, FastElement element);

// Input and output NHWC of plan.element; chooses AVX-512 when the CPU has it. A band of
// output rows (plan.params.output_row_begin/end, input_row_begin; batches == 1) reads and
// writes exactly as the reference kernels do for that band.
void resize_bilinear_fast(const ResizeBilinearPlan& plan, const void* input, void* output, int threads);
// The portable version only (the fallback, and what the vector code is tested against).
void resize_bilinear_fast_scalar(const ResizeBilinearPlan& plan, const void* input, void* output);

struct ArgLastAxisParams {
  int64_t outer = 1;      // number of results
  int64_t axis_size = 1;  // >= 1, contiguous
  bool is_max = true;
  FastElement element = FastElement::u8;  // u8 or i8
  bool index64 = true;                    // int64 output, else int32
};

void arg_min_max_last_axis(const ArgLastAxisParams& p, const void* input, void* output, int threads);
void arg_min_max_last_axis_scalar(const ArgLastAxisParams& p, const void* input, void* output);

}  // namespace tessel::kernels
