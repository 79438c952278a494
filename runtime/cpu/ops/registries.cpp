#include "tessel/cpu/op_registry.hpp"

namespace tessel::cpu {

// The one list of built-in operator groups.
const OpRegistry& ref_registry() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    register_ref_conv_ops(r);
    register_ref_elementwise_ops(r);
    register_ref_tensor_ops(r);
    register_ref_quant_reduce_ops(r);
    register_ref_sequence_ops(r);
    return r;
  }();
  return registry;
}

const OpRegistry& cpu_registry() {
  static const OpRegistry registry = [] {
    OpRegistry r = ref_registry();
    register_cpu_fast_ops(r);
    register_cpu_fast_resize_ops(r);
    return r;
  }();
  return registry;
}

}  // namespace tessel::cpu
