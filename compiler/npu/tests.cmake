# Unit tests of the compiler's passes (included from tests/CMakeLists.txt, where
# tessel_test() is defined). The test reaches into the pass interfaces (plan.hpp,
# tiles.hpp), which are internal to compiler/npu, hence the private include directory.
if(NOT COMMAND tessel_test)
  return()
endif()

tessel_test(test_compiler_passes unit unit/test_compiler_passes.cpp
  LIBS tessel_compiler tessel_tflite tessel_cpu tessel_npu_config tessel_isa tessel_npu_runner)
target_include_directories(test_compiler_passes PRIVATE ${PROJECT_SOURCE_DIR}/compiler/npu/src)
