# Tests of the NPU's functional compute model (included from tests/). The expectations
# come from the reference kernels called directly, so the kernel libraries are linked too.
tessel_test(test_npu_functional unit unit/test_npu_functional.cpp
  LIBS tessel_npu_functional tessel_ops_conv tessel_ops_elementwise tessel_ops_quant_reduce
       tessel_ops_tensor tessel_kernels_fast)
