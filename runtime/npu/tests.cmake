# Tests of the NPU runtime (included from tests/CMakeLists.txt).
tessel_test(test_sim_runner unit unit/test_sim_runner.cpp
  LIBS tessel_npu_runner tessel_ops_conv tessel_isa_c nlohmann_json::nlohmann_json)
tessel_test(test_runtime unit unit/test_runtime.cpp
  LIBS tessel_npu_runner tessel_compiler tessel_tflite tessel_io)
