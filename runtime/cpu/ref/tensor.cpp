// Reference kernels of the tensor group (see tessel/kernels/tensor.hpp).
#include "tessel/kernels/tensor.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "tessel/ir/error.hpp"

namespace tessel::kernels {

namespace {

// Row-major strides (in elements) of a shape.
std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(static_cast<size_t>(s.rank), 1);
  for (int d = s.rank - 2; d >= 0; --d) st[d] = st[d + 1] * s.dims[d + 1];
  return st;
}

std::vector<int64_t> arithmetic_table(int64_t count, int64_t first, int64_t step) {
  std::vector<int64_t> t(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) t[static_cast<size_t>(i)] = first + i * step;
  return t;
}

// The element is moved as an unsigned integer of its size: no value is interpreted, so
// float NaN payloads and bool bytes survive unchanged.
template <typename Word>
void axis_copy_words(const AxisCopy& plan, const Word* in, Word* out, Word fill) {
  const size_t rank = plan.offsets.size();
  if (rank == 0) {
    *out = in[plan.base];
    return;
  }
  for (const auto& table : plan.offsets)
    if (table.empty()) return;  // zero-element output
  const std::vector<int64_t>& inner = plan.offsets[rank - 1];
  std::vector<size_t> index(rank - 1, 0);  // odometer over the outer axes
  for (;;) {
    int64_t row = plan.base;
    bool fill_row = false;
    for (size_t d = 0; d + 1 < rank; ++d) {
      const int64_t o = plan.offsets[d][index[d]];
      if (o == AxisCopy::kFill) fill_row = true;
      row += o;
    }
    if (fill_row) {
      for (size_t i = 0; i < inner.size(); ++i) *out++ = fill;
    } else {
      for (int64_t o : inner) *out++ = o == AxisCopy::kFill ? fill : in[row + o];
    }
    int d = static_cast<int>(rank) - 2;
    while (d >= 0 &&
           ++index[static_cast<size_t>(d)] == plan.offsets[static_cast<size_t>(d)].size()) {
      index[static_cast<size_t>(d)] = 0;
      --d;
    }
    if (d < 0) return;
  }
}

template <typename Word>
void axis_copy_typed(const AxisCopy& plan, const void* input, void* output, const void* fill) {
  Word f = 0;
  if (fill) std::memcpy(&f, fill, sizeof(Word));
  axis_copy_words(plan, static_cast<const Word*>(input), static_cast<Word*>(output), f);
}

// TFLite's strided-slice start: wrap a negative index once, clamp to the range a loop in
// the stride's direction may start from, then let begin_mask override.
int64_t strided_slice_start(int64_t axis_size, int64_t begin, int64_t stride, bool begin_masked) {
  int64_t start = begin;
  if (start < 0) start += axis_size;
  start = stride > 0 ? std::clamp<int64_t>(start, 0, axis_size)
                     : std::clamp<int64_t>(start, -1, axis_size - 1);
  if (begin_masked) start = stride > 0 ? 0 : axis_size - 1;
  return start;
}

// TFLite's strided-slice stop (one past the last visited index in the stride's
// direction). A shrink axis always stops one after start (no element if start is past
// the end); with `offset`, end counts from start.
int64_t strided_slice_stop(int64_t axis_size, int64_t end, int64_t stride, bool end_masked,
                           bool shrink, bool offset, int64_t start) {
  if (shrink) return start >= axis_size ? start : start + 1;
  int64_t stop = offset ? end + start : end;
  if (stop < 0) stop += axis_size;
  stop = stride > 0 ? std::clamp<int64_t>(stop, 0, axis_size)
                    : std::clamp<int64_t>(stop, -1, axis_size - 1);
  if (end_masked) stop = stride > 0 ? axis_size : -1;
  return stop;
}

// How many indices `for (i = start; stride > 0 ? i < stop : i > stop; i += stride)`
// visits: TFLite's ceil((stop - start) / stride), clamped at 0.
int64_t strided_count(int64_t start, int64_t stop, int64_t stride) {
  if (stride > 0) return stop > start ? (stop - start + stride - 1) / stride : 0;
  return start > stop ? (start - stop - stride - 1) / -stride : 0;
}

// memcpy with a possibly empty range: a zero-element tensor's buffer may be null, which
// memcpy must not be given even for zero bytes.
void copy_bytes(void* dst, const void* src, size_t bytes) {
  if (bytes) std::memcpy(dst, src, bytes);
}

bool bit(int32_t mask, int i) { return (mask >> i) & 1; }

// TFLite's mirror-pad GetInputDimension: `offset` is 1 for REFLECT (the edge element is
// not repeated) and 0 for SYMMETRIC.
int64_t mirror_source(int64_t padded, int64_t left, int64_t size, int64_t offset) {
  if (padded < left) {
    const int64_t original = left + offset - 1;
    return original - std::min(padded, original - offset);
  }
  padded -= left;
  if (padded >= size) {
    padded -= size;
    const int64_t original = size - (1 + offset);
    return original - std::min(padded, original);
  }
  return padded;
}

template <typename Index>
void gather_typed(const GatherParams& p, const uint8_t* in, const Index* indices, uint8_t* out,
                  size_t element_size) {
  const size_t row_bytes = static_cast<size_t>(p.inner_size) * element_size;
  for (int64_t b = 0; b < p.batch_size; ++b) {
    for (int64_t o = 0; o < p.outer_size; ++o) {
      for (int64_t i = 0; i < p.coord_size; ++i) {
        const int64_t c = static_cast<int64_t>(indices[b * p.coord_size + i]);
        if (c < 0 || c >= p.axis_size) {
          throw Error("gather index " + std::to_string(c) + " (position " +
                      std::to_string(b * p.coord_size + i) + " of the indices) is outside [0, " +
                      std::to_string(p.axis_size) + ")");
        }
        const int64_t src = ((b * p.outer_size + o) * p.axis_size + c) * p.inner_size;
        const int64_t dst = ((b * p.outer_size + o) * p.coord_size + i) * p.inner_size;
        copy_bytes(out + static_cast<size_t>(dst) * element_size,
                   in + static_cast<size_t>(src) * element_size, row_bytes);
      }
    }
  }
}

template <typename Index>
void gather_nd_typed(const GatherNdParams& p, const uint8_t* params, const Index* indices,
                     uint8_t* out, size_t element_size) {
  const size_t slice_bytes = static_cast<size_t>(p.slice_size) * element_size;
  for (int64_t s = 0; s < p.num_slices; ++s) {
    int64_t from = 0;
    for (int j = 0; j < p.index_depth; ++j) {
      const int64_t c = static_cast<int64_t>(indices[s * p.index_depth + j]);
      const int32_t dim = p.indexed_dims[static_cast<size_t>(j)];
      if (c < 0 || c >= dim) {
        throw Error("gather_nd index " + std::to_string(c) + " (row " + std::to_string(s) +
                    ", column " + std::to_string(j) + " of the indices) is outside [0, " +
                    std::to_string(dim) + ")");
      }
      from += c * p.indexed_strides[static_cast<size_t>(j)];
    }
    copy_bytes(out + static_cast<size_t>(s) * slice_bytes,
               params + static_cast<size_t>(from) * element_size, slice_bytes);
  }
}

}  // namespace

std::vector<int32_t> AxisCopy::output_dims() const {
  std::vector<int32_t> dims;
  for (const auto& t : offsets) dims.push_back(static_cast<int32_t>(t.size()));
  return dims;
}

void axis_copy(const AxisCopy& plan, const void* input, void* output, size_t element_size,
               const void* fill) {
  switch (element_size) {
    case 1:
      axis_copy_typed<uint8_t>(plan, input, output, fill);
      return;
    case 2:
      axis_copy_typed<uint16_t>(plan, input, output, fill);
      return;
    case 4:
      axis_copy_typed<uint32_t>(plan, input, output, fill);
      return;
    case 8:
      axis_copy_typed<uint64_t>(plan, input, output, fill);
      return;
    default:
      throw Error("axis_copy: unsupported element size " + std::to_string(element_size));
  }
}

AxisCopy transpose_plan(const Shape& input, const std::vector<int32_t>& perm) {
  const std::vector<int64_t> st = strides_of(input);
  AxisCopy plan;
  for (int32_t p : perm) plan.offsets.push_back(arithmetic_table(input[p], 0, st[p]));
  return plan;
}

AxisCopy slice_plan(const Shape& input, const SliceParams& p) {
  const std::vector<int64_t> st = strides_of(input);
  AxisCopy plan;
  for (int d = 0; d < input.rank; ++d) {
    const int32_t begin = p.begin[d];
    const int32_t size = p.size[d] == -1 ? input[d] - begin : p.size[d];
    plan.offsets.push_back(arithmetic_table(size, begin * st[d], st[d]));
  }
  return plan;
}

AxisCopy strided_slice_plan(const Shape& input, const StridedSliceParams& p) {
  const int begin_count = static_cast<int>(p.begin.size());
  check(p.end.size() == p.begin.size() && p.strides.size() == p.begin.size(),
        "begin, end and strides must have the same length (" + std::to_string(p.begin.size()) +
            ", " + std::to_string(p.end.size()) + ", " + std::to_string(p.strides.size()) + ")");
  check(begin_count <= 31, "a slice spec of more than 31 entries is not supported");
  int ellipses = 0;
  for (int i = 0; i < begin_count; ++i) ellipses += bit(p.ellipsis_mask, i);
  check(ellipses <= 1, "ellipsis_mask may mark at most one position");
  for (int i = 0; i < begin_count; ++i)
    check(p.strides[static_cast<size_t>(i)] != 0, "strides[" + std::to_string(i) + "] is zero");

  // Expand the spec onto the "effective" input: the input with the new axes inserted.
  // The ellipsis covers the axes that the spec does not name (at least one), exactly as
  // TFLite's BuildStridedSliceParams computes it.
  const int input_dims = input.rank;
  int num_add_axis = 0;
  for (int i = 0; i < begin_count; ++i)
    if (!bit(p.ellipsis_mask, i) && bit(p.new_axis_mask, i)) ++num_add_axis;
  const int effective_dims = input_dims + num_add_axis;
  check(effective_dims <= Shape::kMaxRank, "the slice has " + std::to_string(effective_dims) +
                                               " axes after adding new axes (at most " +
                                               std::to_string(Shape::kMaxRank) + ")");
  check(begin_count - ellipses <= effective_dims,
        "the slice spec names " + std::to_string(begin_count - ellipses) +
            " axes but the input (with new axes) has " + std::to_string(effective_dims));

  int32_t eff_ellipsis = 0;
  int32_t eff_new_axis = 0;
  int ellipsis_start = effective_dims;
  int expanded_ellipsis = 0;
  for (int i = 0; i < effective_dims;) {
    if (bit(p.ellipsis_mask, i)) {
      ellipsis_start = i;
      const int ellipsis_end = std::max(
          i + 1, std::min(i + 1 + num_add_axis + input_dims - begin_count, effective_dims));
      expanded_ellipsis = ellipsis_end - ellipsis_start - 1;
      for (; i < ellipsis_end; ++i) eff_ellipsis |= 1 << i;
      continue;
    }
    if (bit(p.new_axis_mask, i - expanded_ellipsis)) eff_new_axis |= 1 << i;
    ++i;
  }

  struct Axis {
    int64_t size, begin, end, stride;
    bool begin_masked, end_masked, shrink;
  };
  std::vector<Axis> axes(static_cast<size_t>(effective_dims));
  int added_ellipsis = 0;
  int added_axes = 0;
  for (int i = 0; i < effective_dims; ++i) {
    Axis& a = axes[static_cast<size_t>(i)];
    a = Axis{1, 0, 0, 1, false, false, false};
    if (bit(eff_new_axis, i) && !bit(eff_ellipsis, i)) {
      // A new axis of size 1, taken whole (begin 0, end 1).
      a.end = 1;
      ++added_axes;
      continue;
    }
    const int in_axis = i - added_axes;
    check(in_axis < input_dims,
          "new_axis_mask and ellipsis_mask are inconsistent with the input rank");
    a.size = input[in_axis];
    if (bit(eff_ellipsis, i)) {
      added_ellipsis = std::max(0, i - ellipsis_start);
      a.begin_masked = a.end_masked = true;
    } else if (i >= begin_count + expanded_ellipsis) {
      a.begin_masked = a.end_masked = true;
    } else {
      const int orig = i - added_ellipsis;
      a.begin = p.begin[static_cast<size_t>(orig)];
      a.end = p.end[static_cast<size_t>(orig)];
      a.stride = p.strides[static_cast<size_t>(orig)];
      a.begin_masked = bit(p.begin_mask, orig);
      a.end_masked = bit(p.end_mask, orig);
      a.shrink = bit(p.shrink_axis_mask, orig);
    }
  }

  // The effective input has the input's layout (new axes have size 1), so its strides
  // address the input directly.
  Shape effective;
  for (const Axis& a : axes) effective.dims[effective.rank++] = static_cast<int32_t>(a.size);
  const std::vector<int64_t> st = strides_of(effective);

  AxisCopy plan;
  for (int i = 0; i < effective_dims; ++i) {
    const Axis& a = axes[static_cast<size_t>(i)];
    const int64_t start = strided_slice_start(a.size, a.begin, a.stride, a.begin_masked);
    const int64_t stop =
        strided_slice_stop(a.size, a.end, a.stride, a.end_masked, a.shrink, p.offset, start);
    const int64_t count = strided_count(start, stop, a.stride);
    if (a.shrink) {
      check(count == 1, "shrink_axis_mask axis " + std::to_string(i) + " (begin " +
                            std::to_string(a.begin) + ", stride " + std::to_string(a.stride) +
                            ", size " + std::to_string(a.size) + ") selects no element");
      plan.base += start * st[static_cast<size_t>(i)];
      continue;
    }
    plan.offsets.push_back(arithmetic_table(count, start * st[static_cast<size_t>(i)],
                                            a.stride * st[static_cast<size_t>(i)]));
  }
  return plan;
}

AxisCopy pad_plan(const Shape& input, const PadParams& p) {
  const std::vector<int64_t> st = strides_of(input);
  AxisCopy plan;
  for (int d = 0; d < input.rank; ++d) {
    const int64_t left = p.left[d];
    const int64_t size = input[d];
    std::vector<int64_t> t(static_cast<size_t>(left + size + p.right[d]), AxisCopy::kFill);
    for (int64_t i = 0; i < size; ++i) t[static_cast<size_t>(left + i)] = i * st[d];
    plan.offsets.push_back(std::move(t));
  }
  return plan;
}

AxisCopy mirror_pad_plan(const Shape& input, const MirrorPadParams& p) {
  const std::vector<int64_t> st = strides_of(input);
  const int64_t offset = p.mode == MirrorPadMode::reflect ? 1 : 0;
  AxisCopy plan;
  for (int d = 0; d < input.rank; ++d) {
    const int64_t left = p.left[d];
    const int64_t size = input[d];
    std::vector<int64_t> t(static_cast<size_t>(left + size + p.right[d]));
    for (size_t o = 0; o < t.size(); ++o)
      t[o] = mirror_source(static_cast<int64_t>(o), left, size, offset) * st[d];
    plan.offsets.push_back(std::move(t));
  }
  return plan;
}

AxisCopy tile_plan(const Shape& input, const std::vector<int32_t>& multiples) {
  const std::vector<int64_t> st = strides_of(input);
  AxisCopy plan;
  for (int d = 0; d < input.rank; ++d) {
    const int64_t size = input[d];
    std::vector<int64_t> t(static_cast<size_t>(size * multiples[static_cast<size_t>(d)]));
    for (size_t o = 0; o < t.size(); ++o) t[o] = (static_cast<int64_t>(o) % size) * st[d];
    plan.offsets.push_back(std::move(t));
  }
  return plan;
}

// Both block rearrangements split one output axis's index into parts that move along
// different input axes; since the input offset is a sum over input axes, each output
// axis still contributes independently.
AxisCopy space_to_depth_plan(const Shape& input, int32_t block_size) {
  const int64_t b = block_size;
  const int64_t h = input[1], w = input[2], c = input[3];
  AxisCopy plan;
  plan.offsets.push_back(arithmetic_table(input[0], 0, h * w * c));
  plan.offsets.push_back(arithmetic_table(h / b, 0, b * w * c));
  plan.offsets.push_back(arithmetic_table(w / b, 0, b * c));
  // Output depth od = ((in_h % b) * b + in_w % b) * c + in_c (TFLite's SpaceToDepth).
  std::vector<int64_t> depth(static_cast<size_t>(c * b * b));
  for (int64_t od = 0; od < c * b * b; ++od) {
    const int64_t block = od / c;
    depth[static_cast<size_t>(od)] = (block / b) * w * c + (block % b) * c + od % c;
  }
  plan.offsets.push_back(std::move(depth));
  return plan;
}

AxisCopy depth_to_space_plan(const Shape& input, int32_t block_size) {
  const int64_t b = block_size;
  const int64_t h = input[1], w = input[2], c = input[3];
  const int64_t oc = c / (b * b);
  AxisCopy plan;
  plan.offsets.push_back(arithmetic_table(input[0], 0, h * w * c));
  // Input depth = oc_index + ((out_h % b) * b + out_w % b) * oc (TFLite's DepthToSpace).
  std::vector<int64_t> rows(static_cast<size_t>(h * b));
  for (int64_t y = 0; y < h * b; ++y)
    rows[static_cast<size_t>(y)] = (y / b) * w * c + (y % b) * b * oc;
  std::vector<int64_t> cols(static_cast<size_t>(w * b));
  for (int64_t x = 0; x < w * b; ++x) cols[static_cast<size_t>(x)] = (x / b) * c + (x % b) * oc;
  plan.offsets.push_back(std::move(rows));
  plan.offsets.push_back(std::move(cols));
  plan.offsets.push_back(arithmetic_table(oc, 0, 1));
  return plan;
}

int32_t resize_nearest_neighbor_source(int32_t out, int32_t in_size, int32_t out_size,
                                       bool align_corners, bool half_pixel_centers) {
  // Single-precision throughout, as TFLite: the scale is a float quotient and the
  // position a float product, so large sizes round exactly as TFLite's do.
  const float scale = (align_corners && out_size > 1)
                          ? static_cast<float>(in_size - 1) / static_cast<float>(out_size - 1)
                          : static_cast<float>(in_size) / static_cast<float>(out_size);
  const float offset = half_pixel_centers ? 0.5f : 0.0f;
  const float position = (static_cast<float>(out) + offset) * scale;
  // round() is half away from zero, TFLite's TfLiteRound.
  const int32_t source = align_corners ? static_cast<int32_t>(std::round(position))
                                       : static_cast<int32_t>(std::floor(position));
  int32_t clamped = std::min(source, in_size - 1);
  if (half_pixel_centers) clamped = std::max(int32_t{0}, clamped);
  return clamped;
}

AxisCopy resize_nearest_neighbor_plan(const Shape& input, const ResizeNearestNeighborParams& p) {
  const int64_t h = input[1], w = input[2], c = input[3];
  AxisCopy plan;
  plan.offsets.push_back(arithmetic_table(input[0], 0, h * w * c));
  auto source = [&](int32_t out, int32_t in_size, int32_t out_size) -> int64_t {
    return resize_nearest_neighbor_source(out, in_size, out_size, p.align_corners,
                                          p.half_pixel_centers);
  };
  std::vector<int64_t> rows(static_cast<size_t>(p.output_height));
  for (int32_t y = 0; y < p.output_height; ++y)
    rows[static_cast<size_t>(y)] = source(y, input[1], p.output_height) * w * c;
  std::vector<int64_t> cols(static_cast<size_t>(p.output_width));
  for (int32_t x = 0; x < p.output_width; ++x)
    cols[static_cast<size_t>(x)] = source(x, input[2], p.output_width) * c;
  plan.offsets.push_back(std::move(rows));
  plan.offsets.push_back(std::move(cols));
  plan.offsets.push_back(arithmetic_table(c, 0, 1));
  return plan;
}

void concatenation(const ChunkLayout& layout, const void* const* inputs, void* output,
                   size_t element_size) {
  uint8_t* out = static_cast<uint8_t*>(output);
  for (int64_t k = 0; k < layout.outer_size; ++k) {
    for (size_t i = 0; i < layout.chunk_elements.size(); ++i) {
      const size_t bytes = static_cast<size_t>(layout.chunk_elements[i]) * element_size;
      copy_bytes(out, static_cast<const uint8_t*>(inputs[i]) + static_cast<size_t>(k) * bytes,
                 bytes);
      out += bytes;
    }
  }
}

void concatenation_with_scaling(const ChunkLayout& layout, const ConcatenationScaling& q,
                                const uint8_t* const* inputs, uint8_t* output) {
  const float inverse_output_scale = 1.0f / q.output_scale;
  uint8_t* out = output;
  for (int64_t k = 0; k < layout.outer_size; ++k) {
    for (size_t i = 0; i < layout.chunk_elements.size(); ++i) {
      const int64_t n = layout.chunk_elements[i];
      const uint8_t* in = inputs[i] + k * n;
      if (q.input_zero_point[i] == q.output_zero_point && q.input_scale[i] == q.output_scale) {
        copy_bytes(out, in, static_cast<size_t>(n));
      } else {
        const float scale = q.input_scale[i] * inverse_output_scale;
        const float bias = static_cast<float>(-q.input_zero_point[i]) * scale;
        for (int64_t j = 0; j < n; ++j) {
          // |q * scale + bias| is at most 255 * (s_in / s_out) + |bias|; the int32
          // conversion is exact for any sane scale ratio, and the clamp saturates.
          const int32_t value =
              static_cast<int32_t>(std::round(static_cast<float>(in[j]) * scale + bias)) +
              q.output_zero_point;
          out[j] = static_cast<uint8_t>(std::clamp<int32_t>(value, 0, 255));
        }
      }
      out += n;
    }
  }
}

void split(const ChunkLayout& layout, const void* input, void* const* outputs,
           size_t element_size) {
  const uint8_t* in = static_cast<const uint8_t*>(input);
  for (int64_t k = 0; k < layout.outer_size; ++k) {
    for (size_t i = 0; i < layout.chunk_elements.size(); ++i) {
      const size_t bytes = static_cast<size_t>(layout.chunk_elements[i]) * element_size;
      copy_bytes(static_cast<uint8_t*>(outputs[i]) + static_cast<size_t>(k) * bytes, in, bytes);
      in += bytes;
    }
  }
}

void gather(const GatherParams& p, const void* input, const void* indices, IndexType index_type,
            void* output, size_t element_size) {
  const uint8_t* in = static_cast<const uint8_t*>(input);
  uint8_t* out = static_cast<uint8_t*>(output);
  if (index_type == IndexType::i32)
    gather_typed(p, in, static_cast<const int32_t*>(indices), out, element_size);
  else
    gather_typed(p, in, static_cast<const int64_t*>(indices), out, element_size);
}

void gather_nd(const GatherNdParams& p, const void* params, const void* indices,
               IndexType index_type, void* output, size_t element_size) {
  const uint8_t* in = static_cast<const uint8_t*>(params);
  uint8_t* out = static_cast<uint8_t*>(output);
  if (index_type == IndexType::i32)
    gather_nd_typed(p, in, static_cast<const int32_t*>(indices), out, element_size);
  else
    gather_nd_typed(p, in, static_cast<const int64_t*>(indices), out, element_size);
}

}  // namespace tessel::kernels
