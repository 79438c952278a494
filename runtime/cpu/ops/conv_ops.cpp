// Operator bindings of the conv group: IR operator -> validated kernel call.
#include "tessel/cpu/op_registry.hpp"

namespace tessel::cpu {

void register_ref_conv_ops(OpRegistry& r) { (void)r; }

}  // namespace tessel::cpu
