# Tests of the NPU configuration files and presets (included from tests/).
tessel_test(test_npu_config unit unit/test_npu_config.cpp
  LIBS tessel_npu_config tessel_ir)
