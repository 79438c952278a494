#pragma once
// Reference kernels of the tensor group: operators that move elements without computing
// with them (reshape family, transpose, pad, mirror pad, slices, concatenation, split,
// pack, unpack, gather, tile, space/depth rearrangements, nearest-neighbour resize). The
// one exception is uint8 concatenation, which requantizes inputs whose scale or zero
// point differ from the output's, as TFLite's ConcatenationWithScaling does.
//
// Contract:
// - Pure data movement is written once on element size (1, 2, 4 or 8 bytes), not once per
//   dtype: the bytes of an element are copied unchanged.
// - Index arithmetic follows TFLite's reference kernels exactly, including its float
//   arithmetic where it has any (nearest-neighbour source index, concatenation rescale).
// - Most operators are described by an AxisCopy plan, built once (at prepare time) from
//   the input shape and the operator's parameters, and executed by axis_copy() on every
//   run. Plan builders document their preconditions; builders that compute shapes from
//   user-facing index specifications (strided slice) validate them and throw
//   tessel::Error.
// - gather() and gather_nd() read indices at run time and throw tessel::Error naming the
//   first index that is out of range, before writing anything for it.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tessel/kernels/shape.hpp"

namespace tessel::kernels {

// ---------------------------------------------------------------------------------------
// AxisCopy: output[o_0, ..., o_{r-1}] (row-major) = input[base + sum_d offsets[d][o_d]],
// or the fill value when any offsets[d][o_d] is kFill.
//
// Every operator below that maps each output axis to input positions independently of
// the other axes is one of these: transpose, slice, strided slice, pad, mirror pad, tile,
// space-to-depth, depth-to-space, nearest-neighbour resize. The output's rank is
// offsets.size() (0 for a scalar: one element, input[base]) and its dims are the
// tables' sizes. Offsets are in elements.
struct AxisCopy {
  static constexpr int64_t kFill = -1;
  int64_t base = 0;
  std::vector<std::vector<int64_t>> offsets;

  std::vector<int32_t> output_dims() const;
};

// Runs a plan. `fill` points to one element used where the plan says kFill (it may be
// null when the plan has no kFill entries). element_size is 1, 2, 4 or 8.
void axis_copy(const AxisCopy& plan, const void* input, void* output, size_t element_size,
               const void* fill = nullptr);

// TRANSPOSE: output dim d is input dim perm[d]. Requires perm to be a permutation of
// [0, input.rank).
AxisCopy transpose_plan(const Shape& input, const std::vector<int32_t>& perm);

// SLICE: begin[d] >= 0 and, with size -1 meaning "to the end", begin[d] + size[d] <=
// input[d] (the caller checks; TFLite's Prepare does the same).
struct SliceParams {
  std::vector<int32_t> begin;
  std::vector<int32_t> size;
};
AxisCopy slice_plan(const Shape& input, const SliceParams& p);

// STRIDED_SLICE with TFLite's full mask semantics. begin/end/strides have one entry per
// slice-spec position; bit i of a mask refers to position i. ellipsis_mask and
// new_axis_mask are expanded as TFLite's kernel does (an ellipsis covers at least one
// axis, dims not covered by the spec are taken whole), start/stop follow
// StridedSliceStartForAxis / StridedSliceEndForAxis (negative indices wrap once, then
// clamp; masks override; `offset` makes end relative to begin), and shrink axes are
// dropped from the output. Throws tessel::Error for a zero stride, more than one
// ellipsis, begin/end/strides of different lengths, a spec longer than the input's
// rank allows, more than Shape::kMaxRank axes after new axes are added, or a shrink
// axis that selects no element.
struct StridedSliceParams {
  std::vector<int32_t> begin;
  std::vector<int32_t> end;
  std::vector<int32_t> strides;
  int32_t begin_mask = 0;
  int32_t end_mask = 0;
  int32_t ellipsis_mask = 0;
  int32_t new_axis_mask = 0;
  int32_t shrink_axis_mask = 0;
  bool offset = false;
};
AxisCopy strided_slice_plan(const Shape& input, const StridedSliceParams& p);

// PAD / PADV2: left[d], right[d] >= 0 elements of fill before and after axis d.
struct PadParams {
  std::vector<int32_t> left;
  std::vector<int32_t> right;
};
AxisCopy pad_plan(const Shape& input, const PadParams& p);

// MIRROR_PAD. REFLECT mirrors around the edge element (excluded), SYMMETRIC around the
// edge itself (included). Requires left[d], right[d] >= 0 and, per axis, at most
// input[d] - 1 (REFLECT) or input[d] (SYMMETRIC), as TensorFlow requires.
enum class MirrorPadMode { reflect = 0, symmetric = 1 };
struct MirrorPadParams {
  std::vector<int32_t> left;
  std::vector<int32_t> right;
  MirrorPadMode mode = MirrorPadMode::reflect;
};
AxisCopy mirror_pad_plan(const Shape& input, const MirrorPadParams& p);

// TILE: output dim d = input[d] * multiples[d] (multiples >= 0).
AxisCopy tile_plan(const Shape& input, const std::vector<int32_t>& multiples);

// SPACE_TO_DEPTH on NHWC: [N, H, W, C] -> [N, H/b, W/b, C*b*b], the b x b block's
// (row, column) becoming the slowest-varying part of the new depth. Requires rank 4,
// b > 0, H and W divisible by b.
AxisCopy space_to_depth_plan(const Shape& input, int32_t block_size);

// DEPTH_TO_SPACE on NHWC (TensorFlow's DCR order): [N, H, W, C] -> [N, H*b, W*b, C/(b*b)].
// Requires rank 4, b > 0, C divisible by b*b.
AxisCopy depth_to_space_plan(const Shape& input, int32_t block_size);

// RESIZE_NEAREST_NEIGHBOR on NHWC: [N, H, W, C] -> [N, output_height, output_width, C].
struct ResizeNearestNeighborParams {
  int32_t output_height = 0;
  int32_t output_width = 0;
  bool align_corners = false;
  bool half_pixel_centers = false;
};
// TFLite's GetNearestNeighbor: the source index of output index `out` along one axis,
// computed in float exactly as TFLite does (scale = in/out, or (in-1)/(out-1) with
// align_corners; +0.5 with half_pixel_centers; round with align_corners, else floor;
// clamped to [0, in_size - 1]).
int32_t resize_nearest_neighbor_source(int32_t out, int32_t in_size, int32_t out_size,
                                       bool align_corners, bool half_pixel_centers);
AxisCopy resize_nearest_neighbor_plan(const Shape& input, const ResizeNearestNeighborParams& p);

// ---------------------------------------------------------------------------------------
// Concatenation and split along one axis. Seen from the axis, a tensor is `outer_size`
// repetitions of one contiguous chunk per concatenated part: part i's chunk holds
// chunk_elements[i] = (its dim along the axis) * (product of the dims after the axis).
// PACK and UNPACK are the same with every part's axis dim being 1.
struct ChunkLayout {
  int64_t outer_size = 1;
  std::vector<int64_t> chunk_elements;
};

// Writes the parts (inputs[i], one per chunk_elements entry) into output.
void concatenation(const ChunkLayout& layout, const void* const* inputs, void* output,
                   size_t element_size);

// TFLite's uint8 ConcatenationWithScaling: parts whose scale and zero point equal the
// output's are copied; others are requantized in float:
//   q_out = clamp(int32(round(q * s + b)) + zp_out, 0, 255),
//   s = float(s_in * float(1 / s_out)), b = float(-zp_in) * s,
// every operation in single precision, round half away from zero.
struct ConcatenationScaling {
  std::vector<float> input_scale;
  std::vector<int32_t> input_zero_point;
  float output_scale = 0.0f;
  int32_t output_zero_point = 0;
};
void concatenation_with_scaling(const ChunkLayout& layout, const ConcatenationScaling& q,
                                const uint8_t* const* inputs, uint8_t* output);

// The inverse of concatenation: writes chunk i of every outer repetition to outputs[i].
void split(const ChunkLayout& layout, const void* input, void* const* outputs, size_t element_size);

// ---------------------------------------------------------------------------------------
// Gathers with run-time indices.
enum class IndexType { i32, i64 };

// GATHER with batch_dims: input viewed as [batch, outer, axis_size, inner], indices as
// [batch, coords]; output[batch, outer, i, :] = input[batch, outer, indices[batch, i], :].
struct GatherParams {
  int64_t batch_size = 1;
  int64_t outer_size = 1;
  int64_t axis_size = 0;
  int64_t inner_size = 1;
  int64_t coord_size = 0;  // indices per batch
};
// Throws tessel::Error when an index is outside [0, axis_size).
void gather(const GatherParams& p, const void* input, const void* indices, IndexType index_type,
            void* output, size_t element_size);

// GATHER_ND: indices viewed as [num_slices, index_depth]; each row addresses the first
// index_depth dims of params and selects a contiguous slice of slice_size elements.
struct GatherNdParams {
  int64_t num_slices = 0;
  int index_depth = 0;
  int64_t slice_size = 1;
  std::vector<int32_t> indexed_dims;     // params dims 0 .. index_depth-1
  std::vector<int64_t> indexed_strides;  // elements per step along each of them
};
// Throws tessel::Error when a coordinate is outside [0, indexed_dims[j]).
void gather_nd(const GatherNdParams& p, const void* params, const void* indices,
               IndexType index_type, void* output, size_t element_size);

}  // namespace tessel::kernels
