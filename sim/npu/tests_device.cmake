# Tests of the hardware contract and the NPU device model (included from tests/).
add_library(tessel_isa_header_c11 OBJECT ${PROJECT_SOURCE_DIR}/tests/unit/isa_header_c11.c)
target_link_libraries(tessel_isa_header_c11 PRIVATE tessel_isa_c)
target_compile_options(tessel_isa_header_c11 PRIVATE -std=c11 -Wall -Wextra -Wpedantic
  $<$<BOOL:${TESSEL_WERROR}>:-Werror>)
tessel_test(test_isa unit unit/test_isa.cpp $<TARGET_OBJECTS:tessel_isa_header_c11>
  LIBS tessel_isa tessel_isa_c)
# docs/isa.md must be what the spec generates.
add_test(NAME isa_doc_current
  COMMAND ${TESSEL_PYTHON} ${PROJECT_SOURCE_DIR}/scripts/gen_isa.py
          --spec ${PROJECT_SOURCE_DIR}/sim/isa/tessel_isa.yaml
          --check-doc ${PROJECT_SOURCE_DIR}/docs/isa.md)
set_tests_properties(isa_doc_current PROPERTIES LABELS unit)

tessel_test(test_npu_device unit unit/test_npu_device.cpp
  LIBS tessel_sim_npu tessel_ops_conv tessel_isa_c nlohmann_json::nlohmann_json)
# Speed work must not change results: slicing run_until, and the bank counter's shortcut.
tessel_test(test_sim_perf_lookahead unit unit/test_sim_perf_lookahead.cpp
  LIBS tessel_sim_npu tessel_isa_c nlohmann_json::nlohmann_json)
tessel_test(test_sim_perf_banks unit unit/test_sim_perf_banks.cpp
  LIBS tessel_sim_npu tessel_isa_c)
tessel_test(test_npu_systemc unit unit/test_npu_systemc.cpp
  LIBS tessel_sim_npu_sc tessel_ops_conv tessel_isa_c)
# SystemC runs its processes on user-level coroutine stacks without telling the sanitizers
# about the switches, so at exit LeakSanitizer takes a released coroutine stack for the main
# thread's and its tracer faults on the guard page (LSan "Tracer caught signal 11", in most
# runs on Debian 12). Leak checking stays on for this test; only thread stacks are not
# scanned as roots (heap, globals and thread-local data still are).
set_tests_properties(test_npu_systemc PROPERTIES ENVIRONMENT "LSAN_OPTIONS=use_stacks=0")
# The functional worker thread: effects in posting order, failures (FunctionalPipe is
# private to the device, so the test includes sim/npu/src).
tessel_test(test_functional_pipe unit unit/test_functional_pipe.cpp
  LIBS tessel_sim_npu tessel_isa_c)
target_include_directories(test_functional_pipe PRIVATE ${PROJECT_SOURCE_DIR}/sim/npu/src)
set_tests_properties(test_functional_pipe PROPERTIES LABELS "unit;threads")  # also under TSan
