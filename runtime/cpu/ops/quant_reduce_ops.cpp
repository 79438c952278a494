// Operator bindings of the quant_reduce group: IR operator -> validated kernel call.
#include "tessel/cpu/op_registry.hpp"

namespace tessel::cpu {

void register_ref_quant_reduce_ops(OpRegistry& r) { (void)r; }

}  // namespace tessel::cpu
