// Operator bindings of the tensor group: IR operator -> validated kernel call.
//
// Every operator here has a static output shape: inputs that carry shapes or indices
// (shape, perm, paddings, begin/end/strides, size, axis, multiples, size_splits) must be
// constant tensors, and the shape each operator computes from them is checked against
// the declared output tensor. Everything but the data itself is resolved in prepare.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "tessel/cpu/op_registry.hpp"
#include "tessel/kernels/tensor.hpp"

namespace tessel::cpu {

namespace {

using ir::DType;
using kernels::AxisCopy;

template <typename Int>
std::string dims_str(const std::vector<Int>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

// The element types these operators move. They never look at values, so one code path
// per element size serves them all.
size_t element_size(const PrepareContext& pc, const ir::Tensor& t) {
  switch (t.dtype) {
    case DType::i8:
    case DType::u8:
    case DType::bool8:
      return 1;
    case DType::i16:
      return 2;
    case DType::i32:
    case DType::f32:
      return 4;
    case DType::i64:
      return 8;
    default:
      pc.fail("dtype " + std::string(ir::dtype_name(t.dtype)) + " of '" + t.name +
              "' is not supported (int8, uint8, int16, int32, int64, float32 or bool)");
  }
}

void require_same_dtype(const PrepareContext& pc, const ir::Tensor& in, const ir::Tensor& out) {
  pc.require(in.dtype == out.dtype, "'" + out.name + "' is " + ir::dtype_name(out.dtype) +
                                        " but '" + in.name + "' is " + ir::dtype_name(in.dtype) +
                                        "; the types must match");
}

kernels::Shape shape_of(const PrepareContext& pc, const ir::Tensor& t) {
  pc.require(t.rank() <= kernels::Shape::kMaxRank,
             "'" + t.name + "' has rank " + std::to_string(t.rank()) + " (at most " +
                 std::to_string(kernels::Shape::kMaxRank) + " supported)");
  return kernels::Shape::of(t.shape);
}

// The values of a constant int32/int64 input that gives a shape, indices or an axis.
std::vector<int64_t> const_ints(const PrepareContext& pc, size_t i, const std::string& what) {
  const ir::Tensor& t = pc.input(i);
  pc.require(t.is_constant, what + " (input " + std::to_string(i) +
                                ") must be a constant tensor: shapes computed at run time are "
                                "not supported");
  const size_t n = static_cast<size_t>(t.num_elements());
  if (t.dtype == DType::i32)
    return std::vector<int64_t>(t.data_as<int32_t>(), t.data_as<int32_t>() + n);
  if (t.dtype == DType::i64)
    return std::vector<int64_t>(t.data_as<int64_t>(), t.data_as<int64_t>() + n);
  pc.fail(what + " must be int32 or int64, is " + ir::dtype_name(t.dtype));
}

int32_t to_i32(const PrepareContext& pc, int64_t v, const std::string& what) {
  pc.require(v >= INT32_MIN && v <= INT32_MAX,
             what + " " + std::to_string(v) + " does not fit in int32");
  return static_cast<int32_t>(v);
}

std::vector<int32_t> to_i32(const PrepareContext& pc, const std::vector<int64_t>& v,
                            const std::string& what) {
  std::vector<int32_t> r;
  for (int64_t x : v) r.push_back(to_i32(pc, x, what));
  return r;
}

// A negative axis counts from the end; the result is in [0, rank).
int normalize_axis(const PrepareContext& pc, int64_t axis, int rank, const std::string& what) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  pc.require(a >= 0 && a < rank, what + " " + std::to_string(axis) + " is out of range for rank " +
                                     std::to_string(rank));
  return static_cast<int>(a);
}

void require_output_shape(const PrepareContext& pc, size_t i,
                          const std::vector<int32_t>& computed) {
  const ir::Tensor& out = pc.output(i);
  pc.require(out.shape == computed, "output '" + out.name + "' is declared " + dims_str(out.shape) +
                                        " but the operator produces " + dims_str(computed));
}

int64_t product(const std::vector<int32_t>& d, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= d[i];
  return p;
}

// Per-tensor quantization as TFLite's tensor params see it: scale 0, zero point 0 when
// the tensor has none.
struct ScaleZp {
  float scale = 0.0f;
  int64_t zero_point = 0;
  bool operator==(const ScaleZp& o) const { return scale == o.scale && zero_point == o.zero_point; }
  std::string str() const {
    // Nine significant digits tell any two distinct floats apart.
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(scale));
    return "scale " + std::string(buf) + " zero point " + std::to_string(zero_point);
  }
};

ScaleZp per_tensor(const PrepareContext& pc, const ir::Tensor& t) {
  pc.require(!t.quant.per_channel(),
             "'" + t.name + "' has per-axis quantization, which this operator does not support");
  if (!t.quant.present()) return {};
  return {t.quant.scale[0], t.quant.zero_point[0]};
}

void require_same_quant(const PrepareContext& pc, const ir::Tensor& in, const ir::Tensor& out,
                        const std::string& why) {
  const ScaleZp a = per_tensor(pc, in), b = per_tensor(pc, out);
  pc.require(a == b, "'" + in.name + "' (" + a.str() + ") and '" + out.name + "' (" + b.str() +
                         ") must have the same quantization: " + why);
}

bool is_quantizable_int(DType t) { return t == DType::i8 || t == DType::u8 || t == DType::i16; }

// How run-time errors name the operator (as PrepareContext::fail does at prepare time).
std::string op_where(const PrepareContext& pc) {
  const std::string& src = pc.graph().source;
  return (src.empty() ? "" : src + ": ") + pc.graph().describe_op(pc.op_index());
}

RunFn run_byte_copy(size_t bytes) {
  return [bytes](ExecContext& ec) {
    if (bytes) std::memcpy(ec.output<void>(0), ec.input<void>(0), bytes);
  };
}

RunFn run_axis_copy(AxisCopy plan, size_t es) {
  return [plan = std::move(plan), es](ExecContext& ec) {
    kernels::axis_copy(plan, ec.input<void>(0), ec.output<void>(0), es);
  };
}

// Builds a plan from a builder that validates its parameters, reporting its message as
// this operator's failure.
template <typename Build>
AxisCopy checked_plan(const PrepareContext& pc, Build build) {
  try {
    return build();
  } catch (const Error& e) {
    pc.fail(e.what());
  }
}

// ---------------------------------------------------------------------------------------
// Reshape family: the bytes do not move, only the declared shape changes.

RunFn prepare_reshape(const PrepareContext& pc) {
  pc.require_arity(1, 2, 1);
  const ir::Tensor& in = pc.input(0);
  const ir::Tensor& out = pc.output(0);
  element_size(pc, in);  // rejects dtypes the tensor group does not handle
  require_same_dtype(pc, in, out);

  // TFLite reads the shape input when it is a vector and falls back to the new_shape
  // option otherwise.
  std::vector<int64_t> shape;
  if (pc.has_input(1) && pc.input(1).rank() == 1) {
    shape = const_ints(pc, 1, "shape");
  } else if (pc.attrs().has("new_shape")) {
    shape = pc.attrs().get_ints("new_shape");
    // Old converters wrote new_shape [0] for a scalar output; TFLite still reads it so.
    if (shape.size() == 1 && shape[0] == 0) shape.clear();
  } else {
    pc.fail("needs a constant 1-D shape input or the new_shape attribute");
  }

  const int64_t n = in.num_elements();
  int stretch = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      pc.require(stretch < 0, "new shape " + dims_str(shape) + " has more than one -1");
      stretch = static_cast<int>(i);
      continue;
    }
    to_i32(pc, shape[i], "new shape dimension");
    pc.require(shape[i] >= 0, "new shape " + dims_str(shape) + " has a negative dimension");
    pc.require(shape[i] == 0 || known <= INT64_MAX / shape[i],
               "new shape " + dims_str(shape) + " has too many elements");
    known *= shape[i];
  }
  if (stretch >= 0) {
    pc.require(known != 0 && n % known == 0, "cannot infer the -1 in new shape " + dims_str(shape) +
                                                 " for " + std::to_string(n) + " elements");
    shape[static_cast<size_t>(stretch)] = n / known;
    known = n;
  }
  pc.require(known == n, "new shape " + dims_str(shape) + " has " + std::to_string(known) +
                             " elements but the input " + dims_str(in.shape) + " has " +
                             std::to_string(n));
  require_output_shape(pc, 0, to_i32(pc, shape, "new shape dimension"));
  return run_byte_copy(in.num_bytes());
}

RunFn prepare_squeeze(const PrepareContext& pc) {
  pc.require_arity(1, 1, 1);
  const ir::Tensor& in = pc.input(0);
  element_size(pc, in);  // rejects dtypes the tensor group does not handle
  require_same_dtype(pc, in, pc.output(0));
  const int rank = in.rank();
  std::vector<bool> drop(static_cast<size_t>(rank), false);
  const std::vector<int64_t> dims = pc.attrs().get_ints("squeeze_dims");
  if (dims.empty()) {
    for (int d = 0; d < rank; ++d)
      drop[static_cast<size_t>(d)] = in.shape[static_cast<size_t>(d)] == 1;
  }
  for (int64_t v : dims) {
    const int d = normalize_axis(pc, v, rank, "squeeze_dims entry");
    pc.require(in.shape[static_cast<size_t>(d)] == 1,
               "cannot squeeze axis " + std::to_string(d) + " of size " +
                   std::to_string(in.shape[static_cast<size_t>(d)]));
    drop[static_cast<size_t>(d)] = true;
  }
  std::vector<int32_t> shape;
  for (int d = 0; d < rank; ++d)
    if (!drop[static_cast<size_t>(d)]) shape.push_back(in.shape[static_cast<size_t>(d)]);
  require_output_shape(pc, 0, shape);
  return run_byte_copy(in.num_bytes());
}

RunFn prepare_expand_dims(const PrepareContext& pc) {
  pc.require_arity(2, 2, 1);
  const ir::Tensor& in = pc.input(0);
  element_size(pc, in);  // rejects dtypes the tensor group does not handle
  require_same_dtype(pc, in, pc.output(0));
  const std::vector<int64_t> axis = const_ints(pc, 1, "axis");
  pc.require(axis.size() == 1, "axis must hold one value, holds " + std::to_string(axis.size()));
  // The new axis may go anywhere in [0, rank], so a negative axis counts from rank + 1.
  const int axis_at = normalize_axis(pc, axis[0], in.rank() + 1, "axis");
  std::vector<int32_t> shape = in.shape;
  shape.insert(shape.begin() + axis_at, 1);
  require_output_shape(pc, 0, shape);
  return run_byte_copy(in.num_bytes());
}

// ---------------------------------------------------------------------------------------

RunFn prepare_transpose(const PrepareContext& pc) {
  pc.require_arity(2, 2, 1);
  const ir::Tensor& in = pc.input(0);
  const size_t es = element_size(pc, in);
  require_same_dtype(pc, in, pc.output(0));
  const int rank = in.rank();
  pc.require(rank <= 6,
             "input has rank " + std::to_string(rank) + "; TRANSPOSE supports up to 6-D");
  const std::vector<int64_t> perm = const_ints(pc, 1, "perm");
  pc.require(perm.size() == static_cast<size_t>(rank),
             "perm " + dims_str(perm) + " has " + std::to_string(perm.size()) +
                 " entries for a rank-" + std::to_string(rank) + " input");
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int64_t p : perm) {
    pc.require(
        p >= 0 && p < rank && !seen[static_cast<size_t>(p)],
        "perm " + dims_str(perm) + " is not a permutation of 0.." + std::to_string(rank - 1));
    seen[static_cast<size_t>(p)] = true;
  }
  AxisCopy plan = kernels::transpose_plan(shape_of(pc, in), to_i32(pc, perm, "perm entry"));
  require_output_shape(pc, 0, plan.output_dims());
  return run_axis_copy(std::move(plan), es);
}

// The [rank, 2] paddings input of PAD, PADV2 and MIRROR_PAD, as (left, right) per axis.
std::pair<std::vector<int32_t>, std::vector<int32_t>> read_paddings(const PrepareContext& pc,
                                                                    const ir::Tensor& in) {
  const ir::Tensor& pt = pc.input(1);
  pc.require(
      pt.rank() == 2 && pt.shape[0] == in.rank() && pt.shape[1] == 2,
      "paddings must have shape [" + std::to_string(in.rank()) + ", 2], has " + dims_str(pt.shape));
  const std::vector<int64_t> v = const_ints(pc, 1, "paddings");
  std::vector<int32_t> left, right;
  for (int d = 0; d < in.rank(); ++d) {
    const int64_t l = v[static_cast<size_t>(2 * d)], r = v[static_cast<size_t>(2 * d + 1)];
    pc.require(l >= 0 && r >= 0, "paddings must be non-negative; axis " + std::to_string(d) +
                                     " has [" + std::to_string(l) + ", " + std::to_string(r) + "]");
    left.push_back(to_i32(pc, l, "padding"));
    right.push_back(to_i32(pc, r, "padding"));
  }
  return {left, right};
}

// PAD and PADV2 (TFLite runs both with one kernel; PADV2 passes the constant value input).
RunFn prepare_pad(const PrepareContext& pc) {
  pc.require_arity(2, 3, 1);
  const ir::Tensor& in = pc.input(0);
  const ir::Tensor& out = pc.output(0);
  const size_t es = element_size(pc, in);
  require_same_dtype(pc, in, out);
  auto [left, right] = read_paddings(pc, in);
  AxisCopy plan = kernels::pad_plan(shape_of(pc, in), {left, right});
  require_output_shape(pc, 0, plan.output_dims());

  // The copied elements keep their bytes, so they must mean the same on both sides.
  const bool quantized_type = is_quantizable_int(in.dtype);
  if (quantized_type) require_same_quant(pc, in, out, "PAD does not requantize");
  // TFLite pads uint8 always, and int8/int16 when quantized, in the quantized domain.
  const bool quantized = in.dtype == DType::u8 || (quantized_type && in.quant.present());

  if (pc.has_input(2)) {
    const ir::Tensor& cv = pc.input(2);
    pc.require(cv.dtype == in.dtype, "constant value '" + cv.name + "' is " +
                                         ir::dtype_name(cv.dtype) + " but the input is " +
                                         ir::dtype_name(in.dtype));
    pc.require(cv.num_elements() == 1,
               "constant value must hold one element, holds " + std::to_string(cv.num_elements()));
    if (quantized) require_same_quant(pc, cv, out, "the pad value is written unchanged");
    return [plan = std::move(plan), es](ExecContext& ec) {
      kernels::axis_copy(plan, ec.input<void>(0), ec.output<void>(0), es, ec.input<void>(2));
    };
  }

  // Without a constant value, quantized tensors pad with the output's zero point (real
  // 0) and everything else with zero bytes.
  std::array<uint8_t, 8> fill{};
  if (quantized && out.quant.present()) {
    const int64_t zp = out.quant.zero_point[0];
    if (in.dtype == DType::u8) {
      pc.require(zp >= 0 && zp <= 255,
                 "output zero point " + std::to_string(zp) + " is outside uint8");
      fill[0] = static_cast<uint8_t>(zp);
    } else if (in.dtype == DType::i8) {
      pc.require(zp >= -128 && zp <= 127,
                 "output zero point " + std::to_string(zp) + " is outside int8");
      const int8_t v = static_cast<int8_t>(zp);
      std::memcpy(fill.data(), &v, 1);
    } else {
      pc.require(zp >= INT16_MIN && zp <= INT16_MAX,
                 "output zero point " + std::to_string(zp) + " is outside int16");
      const int16_t v = static_cast<int16_t>(zp);
      std::memcpy(fill.data(), &v, 2);
    }
  }
  return [plan = std::move(plan), es, fill](ExecContext& ec) {
    kernels::axis_copy(plan, ec.input<void>(0), ec.output<void>(0), es, fill.data());
  };
}

RunFn prepare_mirror_pad(const PrepareContext& pc) {
  pc.require_arity(2, 2, 1);
  const ir::Tensor& in = pc.input(0);
  const size_t es = element_size(pc, in);
  require_same_dtype(pc, in, pc.output(0));
  const int64_t mode = pc.attrs().get_int("mode", 0);
  pc.require(mode == static_cast<int>(ir::MirrorPadMode::reflect) ||
                 mode == static_cast<int>(ir::MirrorPadMode::symmetric),
             "mode " + std::to_string(mode) + " is neither REFLECT (0) nor SYMMETRIC (1)");
  const bool reflect = mode == static_cast<int>(ir::MirrorPadMode::reflect);
  auto [left, right] = read_paddings(pc, in);
  // Mirroring reads only inside the input: REFLECT (edge excluded) allows at most
  // size - 1 per side, SYMMETRIC (edge included) at most size.
  for (size_t d = 0; d < left.size(); ++d) {
    const int64_t size = in.shape[d];
    const int64_t limit = size - (reflect ? 1 : 0);
    pc.require(left[d] <= limit && right[d] <= limit,
               std::string(reflect ? "REFLECT" : "SYMMETRIC") + " paddings of axis " +
                   std::to_string(d) + " ([" + std::to_string(left[d]) + ", " +
                   std::to_string(right[d]) + "]) exceed " + std::to_string(limit) +
                   " for a dimension of " + std::to_string(size));
  }
  kernels::MirrorPadParams p{
      left, right, reflect ? kernels::MirrorPadMode::reflect : kernels::MirrorPadMode::symmetric};
  AxisCopy plan = kernels::mirror_pad_plan(shape_of(pc, in), p);
  require_output_shape(pc, 0, plan.output_dims());
  return run_axis_copy(std::move(plan), es);
}

// ---------------------------------------------------------------------------------------

RunFn prepare_concatenation(const PrepareContext& pc) {
  pc.require(pc.num_inputs() >= 1, "needs at least one input");
  pc.require_arity(1, pc.num_inputs(), 1);
  const ir::Tensor& out = pc.output(0);
  const ir::Tensor& in0 = pc.input(0);
  const size_t es = element_size(pc, in0);
  const int rank = in0.rank();
  const int axis = normalize_axis(pc, pc.attrs().get_int("axis", 0), rank, "axis");
  const int64_t act = pc.attrs().get_int("fused_activation_function", 0);
  pc.require(act == static_cast<int>(ir::Activation::none),
             "fused activation " + std::to_string(act) +
                 " is not supported (TFLite's CONCATENATION supports NONE only)");

  const size_t n = pc.num_inputs();
  const size_t ax = static_cast<size_t>(axis);
  std::vector<int32_t> shape = in0.shape;
  shape[ax] = 0;
  kernels::ChunkLayout layout;
  layout.outer_size = product(in0.shape, 0, ax);
  const int64_t inner = product(in0.shape, ax + 1, in0.shape.size());
  for (size_t i = 0; i < n; ++i) {
    const ir::Tensor& t = pc.input(i);
    require_same_dtype(pc, t, out);
    pc.require(t.rank() == rank, "input '" + t.name + "' has rank " + std::to_string(t.rank()) +
                                     ", input 0 has rank " + std::to_string(rank));
    for (size_t d = 0; d < static_cast<size_t>(rank); ++d)
      pc.require(d == ax || t.shape[d] == in0.shape[d],
                 "input '" + t.name + "' " + dims_str(t.shape) + " differs from input 0 " +
                     dims_str(in0.shape) + " outside the concatenation axis " +
                     std::to_string(axis));
    shape[ax] += t.shape[ax];
    layout.chunk_elements.push_back(t.shape[ax] * inner);
  }
  require_output_shape(pc, 0, shape);

  if (out.dtype == DType::i8) {
    for (size_t i = 0; i < n; ++i)
      require_same_quant(pc, pc.input(i), out, "TFLite does not rescale int8 concatenation");
  } else if (out.dtype == DType::i16) {
    for (size_t i = 0; i < n; ++i)
      pc.require(per_tensor(pc, pc.input(i)).zero_point == 0,
                 "int16 input '" + pc.input(i).name + "' must have zero point 0");
    pc.require(per_tensor(pc, out).zero_point == 0, "int16 output must have zero point 0");
  } else if (out.dtype == DType::u8) {
    const ScaleZp oq = per_tensor(pc, out);
    kernels::ConcatenationScaling q;
    q.output_scale = oq.scale;
    q.output_zero_point = static_cast<int32_t>(oq.zero_point);
    bool rescale = false;
    for (size_t i = 0; i < n; ++i) {
      const ScaleZp iq = per_tensor(pc, pc.input(i));
      q.input_scale.push_back(iq.scale);
      q.input_zero_point.push_back(static_cast<int32_t>(iq.zero_point));
      rescale = rescale || !(iq == oq);
    }
    if (rescale) {
      pc.require(oq.scale > 0.0f, "output needs a positive scale to rescale inputs");
      return [layout, q, n](ExecContext& ec) {
        std::vector<const uint8_t*> ins(n);
        for (size_t i = 0; i < n; ++i) ins[i] = ec.input<uint8_t>(i);
        kernels::concatenation_with_scaling(layout, q, ins.data(), ec.output<uint8_t>(0));
      };
    }
  }
  return [layout, n, es](ExecContext& ec) {
    std::vector<const void*> ins(n);
    for (size_t i = 0; i < n; ++i) ins[i] = ec.input<void>(i);
    kernels::concatenation(layout, ins.data(), ec.output<void>(0), es);
  };
}

RunFn run_split(kernels::ChunkLayout layout, size_t es, size_t input) {
  return [layout = std::move(layout), es, input](ExecContext& ec) {
    std::vector<void*> outs(layout.chunk_elements.size());
    for (size_t i = 0; i < outs.size(); ++i) outs[i] = ec.output<void>(i);
    kernels::split(layout, ec.input<void>(input), outs.data(), es);
  };
}

// Checks each output of a split-like operator and returns the chunk layout for cutting
// `in` along `axis` into parts of the given sizes.
kernels::ChunkLayout split_layout(const PrepareContext& pc, const ir::Tensor& in, int axis,
                                  const std::vector<int64_t>& sizes) {
  const size_t ax = static_cast<size_t>(axis);
  kernels::ChunkLayout layout;
  layout.outer_size = product(in.shape, 0, ax);
  const int64_t inner = product(in.shape, ax + 1, in.shape.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    require_same_dtype(pc, in, pc.output(i));
    std::vector<int32_t> shape = in.shape;
    shape[ax] = static_cast<int32_t>(sizes[i]);
    require_output_shape(pc, i, shape);
    layout.chunk_elements.push_back(sizes[i] * inner);
  }
  return layout;
}

RunFn prepare_split(const PrepareContext& pc) {
  const int64_t num_splits =
      pc.attrs().get_int("num_splits", static_cast<int64_t>(pc.num_outputs()));
  pc.require(num_splits >= 1, "num_splits must be at least 1, is " + std::to_string(num_splits));
  pc.require_arity(2, 2, static_cast<size_t>(num_splits));
  const ir::Tensor& in = pc.input(1);
  const size_t es = element_size(pc, in);
  const std::vector<int64_t> axis_v = const_ints(pc, 0, "axis");
  pc.require(axis_v.size() == 1,
             "axis must hold one value, holds " + std::to_string(axis_v.size()));
  const int axis = normalize_axis(pc, axis_v[0], in.rank(), "axis");
  const int32_t dim = in.shape[static_cast<size_t>(axis)];
  pc.require(dim % num_splits == 0, "dimension " + std::to_string(dim) + " of axis " +
                                        std::to_string(axis) + " is not divisible by num_splits " +
                                        std::to_string(num_splits));
  const std::vector<int64_t> sizes(static_cast<size_t>(num_splits), dim / num_splits);
  return run_split(split_layout(pc, in, axis, sizes), es, 1);
}

RunFn prepare_split_v(const PrepareContext& pc) {
  const int64_t num_splits =
      pc.attrs().get_int("num_splits", static_cast<int64_t>(pc.num_outputs()));
  pc.require(num_splits >= 1, "num_splits must be at least 1, is " + std::to_string(num_splits));
  pc.require_arity(3, 3, static_cast<size_t>(num_splits));
  const ir::Tensor& in = pc.input(0);
  const size_t es = element_size(pc, in);
  std::vector<int64_t> sizes = const_ints(pc, 1, "size_splits");
  pc.require(pc.input(1).rank() == 1 && sizes.size() == static_cast<size_t>(num_splits),
             "size_splits " + dims_str(sizes) +
                 " must be a vector of num_splits = " + std::to_string(num_splits) + " values");
  const std::vector<int64_t> axis_v = const_ints(pc, 2, "axis");
  pc.require(axis_v.size() == 1,
             "axis must hold one value, holds " + std::to_string(axis_v.size()));
  const int axis = normalize_axis(pc, axis_v[0], in.rank(), "axis");
  const int64_t dim = in.shape[static_cast<size_t>(axis)];

  // One size may be -1: it takes whatever the others leave.
  int unknown = -1;
  int64_t sum = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == -1) {
      pc.require(unknown < 0, "size_splits " + dims_str(sizes) + " has more than one -1");
      unknown = static_cast<int>(i);
      continue;
    }
    pc.require(sizes[i] >= 0, "size_splits " + dims_str(sizes) + " has a negative size");
    sum += sizes[i];
  }
  if (unknown >= 0) {
    pc.require(sum <= dim, "size_splits " + dims_str(sizes) + " exceed the dimension " +
                               std::to_string(dim) + " of axis " + std::to_string(axis));
    sizes[static_cast<size_t>(unknown)] = dim - sum;
  } else {
    pc.require(sum == dim, "size_splits " + dims_str(sizes) + " sum to " + std::to_string(sum) +
                               ", not the dimension " + std::to_string(dim) + " of axis " +
                               std::to_string(axis));
  }
  return run_split(split_layout(pc, in, axis, sizes), es, 0);
}

RunFn prepare_pack(const PrepareContext& pc) {
  const size_t n = pc.num_inputs();
  pc.require(n >= 1, "needs at least one input");
  const int64_t values_count = pc.attrs().get_int("values_count", static_cast<int64_t>(n));
  pc.require(values_count == static_cast<int64_t>(n),
             "values_count " + std::to_string(values_count) + " does not match the " +
                 std::to_string(n) + " inputs");
  pc.require_arity(n, n, 1);
  const ir::Tensor& in0 = pc.input(0);
  const ir::Tensor& out = pc.output(0);
  const size_t es = element_size(pc, in0);
  const int axis = normalize_axis(pc, pc.attrs().get_int("axis", 0), in0.rank() + 1, "axis");
  for (size_t i = 0; i < n; ++i) {
    const ir::Tensor& t = pc.input(i);
    require_same_dtype(pc, t, out);
    pc.require(t.shape == in0.shape, "input '" + t.name + "' " + dims_str(t.shape) +
                                         " differs from input 0 " + dims_str(in0.shape));
    require_same_quant(pc, t, out, "PACK does not requantize");
  }
  std::vector<int32_t> shape = in0.shape;
  shape.insert(shape.begin() + axis, static_cast<int32_t>(n));
  require_output_shape(pc, 0, shape);
  // Packing is concatenating inputs that have a size-1 axis inserted at `axis`.
  kernels::ChunkLayout layout;
  layout.outer_size = product(in0.shape, 0, static_cast<size_t>(axis));
  layout.chunk_elements.assign(n, product(in0.shape, static_cast<size_t>(axis), in0.shape.size()));
  return [layout, n, es](ExecContext& ec) {
    std::vector<const void*> ins(n);
    for (size_t i = 0; i < n; ++i) ins[i] = ec.input<void>(i);
    kernels::concatenation(layout, ins.data(), ec.output<void>(0), es);
  };
}

RunFn prepare_unpack(const PrepareContext& pc) {
  const ir::Tensor& in = pc.input(0);
  const size_t es = element_size(pc, in);
  const int axis = normalize_axis(pc, pc.attrs().get_int("axis", 0), in.rank(), "axis");
  const int32_t dim = in.shape[static_cast<size_t>(axis)];
  const int64_t num = pc.attrs().get_int("num", dim);
  pc.require(num == dim, "num " + std::to_string(num) + " differs from the dimension " +
                             std::to_string(dim) + " of axis " + std::to_string(axis));
  pc.require_arity(1, 1, static_cast<size_t>(num));
  std::vector<int32_t> shape = in.shape;
  shape.erase(shape.begin() + axis);
  for (size_t i = 0; i < static_cast<size_t>(num); ++i) {
    require_same_dtype(pc, in, pc.output(i));
    require_same_quant(pc, in, pc.output(i), "UNPACK does not requantize");
    require_output_shape(pc, i, shape);
  }
  kernels::ChunkLayout layout;
  layout.outer_size = product(in.shape, 0, static_cast<size_t>(axis));
  layout.chunk_elements.assign(static_cast<size_t>(num),
                               product(in.shape, static_cast<size_t>(axis) + 1, in.shape.size()));
  return run_split(std::move(layout), es, 0);
}

// ---------------------------------------------------------------------------------------

RunFn prepare_strided_slice(const PrepareContext& pc) {
  pc.require_arity(4, 4, 1);
  const ir::Tensor& in = pc.input(0);
  const size_t es = element_size(pc, in);
  require_same_dtype(pc, in, pc.output(0));
  kernels::StridedSliceParams p;
  const char* names[] = {"begin", "end", "strides"};
  std::vector<int32_t>* fields[] = {&p.begin, &p.end, &p.strides};
  for (size_t i = 0; i < 3; ++i) {
    pc.require(pc.input(i + 1).rank() == 1, std::string(names[i]) + " must be 1-D, has shape " +
                                                dims_str(pc.input(i + 1).shape));
    *fields[i] = to_i32(pc, const_ints(pc, i + 1, names[i]), names[i]);
  }
  const ir::Attrs& a = pc.attrs();
  p.begin_mask = to_i32(pc, a.get_int("begin_mask", 0), "begin_mask");
  p.end_mask = to_i32(pc, a.get_int("end_mask", 0), "end_mask");
  p.ellipsis_mask = to_i32(pc, a.get_int("ellipsis_mask", 0), "ellipsis_mask");
  p.new_axis_mask = to_i32(pc, a.get_int("new_axis_mask", 0), "new_axis_mask");
  p.shrink_axis_mask = to_i32(pc, a.get_int("shrink_axis_mask", 0), "shrink_axis_mask");
  p.offset = a.get_int("offset", 0) != 0;
  const kernels::Shape shape = shape_of(pc, in);
  AxisCopy plan = checked_plan(pc, [&] { return kernels::strided_slice_plan(shape, p); });
  require_output_shape(pc, 0, plan.output_dims());
  return run_axis_copy(std::move(plan), es);
}

RunFn prepare_slice(const PrepareContext& pc) {
  pc.require_arity(3, 3, 1);
  const ir::Tensor& in = pc.input(0);
  const size_t es = element_size(pc, in);
  require_same_dtype(pc, in, pc.output(0));
  const std::vector<int64_t> begin = const_ints(pc, 1, "begin");
  const std::vector<int64_t> size = const_ints(pc, 2, "size");
  const size_t rank = static_cast<size_t>(in.rank());
  pc.require(begin.size() == rank && size.size() == rank,
             "begin " + dims_str(begin) + " and size " + dims_str(size) + " must have " +
                 std::to_string(rank) + " entries, one per input axis");
  for (size_t d = 0; d < rank; ++d) {
    const int64_t dim = in.shape[d];
    const int64_t extent = size[d] == -1 ? dim - begin[d] : size[d];
    pc.require(begin[d] >= 0 && size[d] >= -1 && begin[d] <= dim && extent >= 0 &&
                   begin[d] + extent <= dim,
               "axis " + std::to_string(d) + ": begin " + std::to_string(begin[d]) + " size " +
                   std::to_string(size[d]) + " do not fit a dimension of " + std::to_string(dim));
  }
  kernels::SliceParams p{to_i32(pc, begin, "begin"), to_i32(pc, size, "size")};
  AxisCopy plan = kernels::slice_plan(shape_of(pc, in), p);
  require_output_shape(pc, 0, plan.output_dims());
  return run_axis_copy(std::move(plan), es);
}

RunFn prepare_tile(const PrepareContext& pc) {
  pc.require_arity(2, 2, 1);
  const ir::Tensor& in = pc.input(0);
  const size_t es = element_size(pc, in);
  require_same_dtype(pc, in, pc.output(0));
  const std::vector<int64_t> m = const_ints(pc, 1, "multiples");
  pc.require(m.size() == static_cast<size_t>(in.rank()),
             "multiples " + dims_str(m) + " must have one entry per input axis (" +
                 std::to_string(in.rank()) + ")");
  for (size_t d = 0; d < m.size(); ++d)
    pc.require(
        m[d] >= 0 && in.shape[d] * m[d] <= INT32_MAX,
        "multiple " + std::to_string(m[d]) + " of axis " + std::to_string(d) + " is invalid");
  AxisCopy plan = kernels::tile_plan(shape_of(pc, in), to_i32(pc, m, "multiple"));
  require_output_shape(pc, 0, plan.output_dims());
  return run_axis_copy(std::move(plan), es);
}

int32_t block_size(const PrepareContext& pc, const ir::Tensor& in) {
  pc.require(in.rank() == 4, "input must be 4-D (NHWC), has shape " + dims_str(in.shape));
  const int64_t b = pc.attrs().get_int("block_size", 0);
  pc.require(b > 0 && b <= INT32_MAX / 2, "block_size must be positive, is " + std::to_string(b));
  return static_cast<int32_t>(b);
}

RunFn prepare_space_to_depth(const PrepareContext& pc) {
  pc.require_arity(1, 1, 1);
  const ir::Tensor& in = pc.input(0);
  const size_t es = element_size(pc, in);
  require_same_dtype(pc, in, pc.output(0));
  const int32_t b = block_size(pc, in);
  pc.require(in.shape[1] % b == 0 && in.shape[2] % b == 0,
             "height and width of " + dims_str(in.shape) + " must be multiples of block_size " +
                 std::to_string(b));
  AxisCopy plan = kernels::space_to_depth_plan(shape_of(pc, in), b);
  require_output_shape(pc, 0, plan.output_dims());
  return run_axis_copy(std::move(plan), es);
}

RunFn prepare_depth_to_space(const PrepareContext& pc) {
  pc.require_arity(1, 1, 1);
  const ir::Tensor& in = pc.input(0);
  const size_t es = element_size(pc, in);
  require_same_dtype(pc, in, pc.output(0));
  const int32_t b = block_size(pc, in);
  pc.require(in.shape[3] % (static_cast<int64_t>(b) * b) == 0,
             "depth of " + dims_str(in.shape) + " must be a multiple of block_size^2 = " +
                 std::to_string(static_cast<int64_t>(b) * b));
  AxisCopy plan = kernels::depth_to_space_plan(shape_of(pc, in), b);
  require_output_shape(pc, 0, plan.output_dims());
  return run_axis_copy(std::move(plan), es);
}

RunFn prepare_resize_nearest_neighbor(const PrepareContext& pc) {
  pc.require_arity(2, 2, 1);
  const ir::Tensor& in = pc.input(0);
  const size_t es = element_size(pc, in);
  pc.require(in.dtype == DType::i8 || in.dtype == DType::u8 || in.dtype == DType::i16 ||
                 in.dtype == DType::f32,
             std::string("input dtype ") + ir::dtype_name(in.dtype) +
                 " is not supported (int8, uint8, int16 or float32)");
  require_same_dtype(pc, in, pc.output(0));
  pc.require(in.rank() == 4, "input must be 4-D (NHWC), has shape " + dims_str(in.shape));
  pc.require(pc.input(1).dtype == DType::i32 && pc.input(1).rank() == 1,
             "size must be a 1-D int32 tensor");
  const std::vector<int64_t> size = const_ints(pc, 1, "size");
  pc.require(size.size() == 2 && size[0] > 0 && size[1] > 0,
             "size must hold two positive values (height, width), holds " + dims_str(size));
  kernels::ResizeNearestNeighborParams p;
  p.output_height = static_cast<int32_t>(size[0]);
  p.output_width = static_cast<int32_t>(size[1]);
  p.align_corners = pc.attrs().get_int("align_corners", 0) != 0;
  p.half_pixel_centers = pc.attrs().get_int("half_pixel_centers", 0) != 0;
  AxisCopy plan = kernels::resize_nearest_neighbor_plan(shape_of(pc, in), p);
  require_output_shape(pc, 0, plan.output_dims());
  return run_axis_copy(std::move(plan), es);
}

// ---------------------------------------------------------------------------------------
// Gathers: indices may be computed at run time. Constant indices are checked here;
// run-time ones by the kernel, whose error is reported with this operator's name.

kernels::IndexType index_type(const PrepareContext& pc, const ir::Tensor& indices) {
  if (indices.dtype == DType::i32) return kernels::IndexType::i32;
  if (indices.dtype == DType::i64) return kernels::IndexType::i64;
  pc.fail("indices '" + indices.name + "' must be int32 or int64, are " +
          ir::dtype_name(indices.dtype));
}

template <typename Kernel>
RunFn run_gather(const PrepareContext& pc, Kernel kernel) {
  return [kernel, where = op_where(pc)](ExecContext& ec) {
    try {
      kernel(ec);
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
  };
}

RunFn prepare_gather(const PrepareContext& pc) {
  pc.require_arity(2, 2, 1);
  const ir::Tensor& in = pc.input(0);
  const ir::Tensor& idx = pc.input(1);
  const size_t es = element_size(pc, in);
  require_same_dtype(pc, in, pc.output(0));
  const kernels::IndexType it = index_type(pc, idx);
  const int axis = normalize_axis(pc, pc.attrs().get_int("axis", 0), in.rank(), "axis");
  int64_t batch_dims = pc.attrs().get_int("batch_dims", 0);
  if (batch_dims < 0) batch_dims += idx.rank();
  pc.require(batch_dims >= 0 && batch_dims <= axis && batch_dims <= idx.rank(),
             "batch_dims " + std::to_string(pc.attrs().get_int("batch_dims", 0)) +
                 " must be in [0, min(axis " + std::to_string(axis) + ", indices rank " +
                 std::to_string(idx.rank()) + ")]");
  const size_t bd = static_cast<size_t>(batch_dims);
  for (size_t d = 0; d < bd; ++d)
    pc.require(in.shape[d] == idx.shape[d], "batch dimension " + std::to_string(d) +
                                                " differs between the input " + dims_str(in.shape) +
                                                " and the indices " + dims_str(idx.shape));
  const size_t ax = static_cast<size_t>(axis);
  std::vector<int32_t> shape(in.shape.begin(), in.shape.begin() + axis);
  shape.insert(shape.end(), idx.shape.begin() + batch_dims, idx.shape.end());
  shape.insert(shape.end(), in.shape.begin() + axis + 1, in.shape.end());
  require_output_shape(pc, 0, shape);

  kernels::GatherParams p;
  p.batch_size = product(in.shape, 0, bd);
  p.outer_size = product(in.shape, bd, ax);
  p.axis_size = in.shape[ax];
  p.inner_size = product(in.shape, ax + 1, in.shape.size());
  p.coord_size = product(idx.shape, bd, idx.shape.size());
  if (idx.is_constant) {
    for (int64_t v : const_ints(pc, 1, "indices"))
      pc.require(v >= 0 && v < p.axis_size, "index " + std::to_string(v) + " is outside [0, " +
                                                std::to_string(p.axis_size) + ")");
  }
  return run_gather(pc, [p, it, es](ExecContext& ec) {
    kernels::gather(p, ec.input<void>(0), ec.input<void>(1), it, ec.output<void>(0), es);
  });
}

RunFn prepare_gather_nd(const PrepareContext& pc) {
  pc.require_arity(2, 2, 1);
  const ir::Tensor& params = pc.input(0);
  const ir::Tensor& idx = pc.input(1);
  const size_t es = element_size(pc, params);
  require_same_dtype(pc, params, pc.output(0));
  const kernels::IndexType it = index_type(pc, idx);
  pc.require(params.rank() >= 1, "params must be at least a vector");
  pc.require(idx.rank() >= 1, "indices must be at least a vector");
  const int depth = idx.shape.back();
  pc.require(depth <= params.rank(), "indices rows have " + std::to_string(depth) +
                                         " coordinates but params has rank " +
                                         std::to_string(params.rank()));
  std::vector<int32_t> shape(idx.shape.begin(), idx.shape.end() - 1);
  shape.insert(shape.end(), params.shape.begin() + depth, params.shape.end());
  require_output_shape(pc, 0, shape);

  kernels::GatherNdParams p;
  p.num_slices = product(idx.shape, 0, idx.shape.size() - 1);
  p.index_depth = depth;
  p.slice_size = product(params.shape, static_cast<size_t>(depth), params.shape.size());
  for (size_t j = 0; j < static_cast<size_t>(depth); ++j) {
    p.indexed_dims.push_back(params.shape[j]);
    p.indexed_strides.push_back(product(params.shape, j + 1, params.shape.size()));
  }
  if (idx.is_constant) {
    const std::vector<int64_t> v = const_ints(pc, 1, "indices");
    for (size_t k = 0; k < v.size(); ++k) {
      const int32_t dim = p.indexed_dims[k % static_cast<size_t>(depth)];
      pc.require(v[k] >= 0 && v[k] < dim, "index " + std::to_string(v[k]) + " (row " +
                                              std::to_string(k / static_cast<size_t>(depth)) +
                                              ") is outside [0, " + std::to_string(dim) + ")");
    }
  }
  return run_gather(pc, [p, it, es](ExecContext& ec) {
    kernels::gather_nd(p, ec.input<void>(0), ec.input<void>(1), it, ec.output<void>(0), es);
  });
}

}  // namespace

void register_ref_tensor_ops(OpRegistry& r) {
  r.add(ir::OpType::RESHAPE, prepare_reshape);
  r.add(ir::OpType::SQUEEZE, prepare_squeeze);
  r.add(ir::OpType::EXPAND_DIMS, prepare_expand_dims);
  r.add(ir::OpType::TRANSPOSE, prepare_transpose);
  r.add(ir::OpType::PAD, prepare_pad);
  r.add(ir::OpType::PADV2, prepare_pad);
  r.add(ir::OpType::MIRROR_PAD, prepare_mirror_pad);
  r.add(ir::OpType::CONCATENATION, prepare_concatenation);
  r.add(ir::OpType::STRIDED_SLICE, prepare_strided_slice);
  r.add(ir::OpType::SLICE, prepare_slice);
  r.add(ir::OpType::SPLIT, prepare_split);
  r.add(ir::OpType::SPLIT_V, prepare_split_v);
  r.add(ir::OpType::PACK, prepare_pack);
  r.add(ir::OpType::UNPACK, prepare_unpack);
  r.add(ir::OpType::GATHER, prepare_gather);
  r.add(ir::OpType::GATHER_ND, prepare_gather_nd);
  r.add(ir::OpType::TILE, prepare_tile);
  r.add(ir::OpType::SPACE_TO_DEPTH, prepare_space_to_depth);
  r.add(ir::OpType::DEPTH_TO_SPACE, prepare_depth_to_space);
  r.add(ir::OpType::RESIZE_NEAREST_NEIGHBOR, prepare_resize_nearest_neighbor);
}

}  // namespace tessel::cpu
