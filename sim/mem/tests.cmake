# DRAM memory-system tests (see docs/memory-system.md, "Validation"). Included from
# tests/CMakeLists.txt, where tessel_test() is defined.
if(NOT COMMAND tessel_test)
  return()
endif()


tessel_test(test_dram_timing unit ${PROJECT_SOURCE_DIR}/tests/unit/test_dram_timing.cpp
  LIBS tessel_sim_mem)
tessel_test(test_dram_system unit ${PROJECT_SOURCE_DIR}/tests/unit/test_dram_system.cpp
  LIBS tessel_sim_mem)
tessel_test(test_dram_transactions unit ${PROJECT_SOURCE_DIR}/tests/unit/test_dram_transactions.cpp
  LIBS tessel_sim_mem)
tessel_test(test_dram_exact unit ${PROJECT_SOURCE_DIR}/tests/unit/test_dram_exact.cpp
  LIBS tessel_sim_mem)
