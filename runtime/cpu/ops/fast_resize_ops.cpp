// The `cpu` backend's overrides for RESIZE_BILINEAR (float32, uint8, int8) and ARG_MAX /
// ARG_MIN over the last axis (uint8, int8 -> int32, int64): the fast exact kernels of
// tessel/kernels/fast_resize.hpp.
//
// As in fast_ops.cpp, each override first runs the reference prepare, so the operator is
// validated by the same code (same errors for the same bad models) and the reference
// RunFn serves every case the fast kernels do not cover (int16 resize, other arg min/max
// dtypes, a reduced axis with trailing elements, empty tensors).
#include <memory>

#include "tessel/cpu/op_registry.hpp"
#include "tessel/kernels/fast_resize.hpp"

namespace tessel::cpu {

namespace {

namespace k = kernels;

bool fast_element(ir::DType t, k::FastElement* out) {
  switch (t) {
    case ir::DType::f32: *out = k::FastElement::f32; return true;
    case ir::DType::u8: *out = k::FastElement::u8; return true;
    case ir::DType::i8: *out = k::FastElement::i8; return true;
    default: return false;
  }
}

RunFn prepare_fast_resize_bilinear(const PrepareContext& pc) {
  RunFn reference = ref_registry().find(pc.op().type)(pc);
  const ir::Tensor& in = pc.input(0);
  const ir::Tensor& out = pc.output(0);
  k::FastElement element{};
  if (!fast_element(in.dtype, &element) || in.num_elements() == 0 || out.num_elements() == 0)
    return reference;
  // The reference prepare has checked the rank, the constant int32 size [2] and the flags.
  const int32_t* size = pc.input(1).data_as<int32_t>();
  k::ResizeBilinearParams p;
  p.batches = in.shape[0];
  p.input_height = in.shape[1];
  p.input_width = in.shape[2];
  p.depth = in.shape[3];
  p.output_height = size[0];
  p.output_width = size[1];
  p.align_corners = pc.attrs().get_int("align_corners", 0) != 0;
  p.half_pixel_centers = pc.attrs().get_int("half_pixel_centers", 0) != 0;
  auto plan = std::make_shared<const k::ResizeBilinearPlan>(k::plan_resize_bilinear(p, element));
  return [plan](ExecContext& ec) {
    k::resize_bilinear_fast(*plan, ec.input<void>(0), ec.output<void>(0), ec.threads());
  };
}

RunFn prepare_fast_arg_min_max(const PrepareContext& pc, bool is_max) {
  RunFn reference = ref_registry().find(pc.op().type)(pc);
  const ir::Tensor& in = pc.input(0);
  const ir::Tensor& axis = pc.input(1);
  k::ArgLastAxisParams p;
  p.is_max = is_max;
  p.index64 = pc.output(0).dtype == ir::DType::i64;  // else int32, checked by the reference
  if (!fast_element(in.dtype, &p.element) || p.element == k::FastElement::f32 || in.num_elements() == 0)
    return reference;
  // The reference prepare has checked that the axis is one constant in range.
  const int rank = in.rank();
  const int64_t a = axis.dtype == ir::DType::i32 ? axis.data_as<int32_t>()[0] : axis.data_as<int64_t>()[0];
  const int64_t resolved = a < 0 ? a + rank : a;
  int64_t inner = 1;
  for (int d = static_cast<int>(resolved) + 1; d < rank; ++d) inner *= in.shape[static_cast<size_t>(d)];
  if (inner != 1) return reference;
  p.axis_size = in.shape[static_cast<size_t>(resolved)];
  p.outer = in.num_elements() / p.axis_size;
  return [p](ExecContext& ec) {
    k::arg_min_max_last_axis(p, ec.input<void>(0), ec.output<void>(0), ec.threads());
  };
}

RunFn prepare_fast_arg_max(const PrepareContext& pc) { return prepare_fast_arg_min_max(pc, true); }
RunFn prepare_fast_arg_min(const PrepareContext& pc) { return prepare_fast_arg_min_max(pc, false); }

}  // namespace

void register_cpu_fast_resize_ops(OpRegistry& r) {
  r.add(ir::OpType::RESIZE_BILINEAR, prepare_fast_resize_bilinear);
  r.add(ir::OpType::ARG_MAX, prepare_fast_arg_max);
  r.add(ir::OpType::ARG_MIN, prepare_fast_arg_min);
}

}  // namespace tessel::cpu
