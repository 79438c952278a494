# tessel_npu_timing: the engines' documented latency formulas (also the compiler's cost
# model). Included from sim/npu/CMakeLists.txt.
add_library(tessel_npu_timing src/timing.cpp)
target_include_directories(tessel_npu_timing PUBLIC include)
target_link_libraries(tessel_npu_timing PUBLIC tessel_npu_config tessel_isa PRIVATE tessel_warnings)

# tessel_sim_npu: the device model (plain C++; a worker thread applies functional effects).
find_package(Threads REQUIRED)
add_library(tessel_sim_npu
  src/device.cpp
  src/functional_pipe.cpp
  src/memory.cpp
  src/mmu.cpp
  src/chrome_trace.cpp
  src/simple_host.cpp)
target_include_directories(tessel_sim_npu PUBLIC include)
target_link_libraries(tessel_sim_npu
  PUBLIC tessel_npu_config tessel_npu_timing tessel_npu_functional tessel_isa tessel_sim_mem
         nlohmann_json::nlohmann_json Threads::Threads
  PRIVATE tessel_isa_c tessel_warnings)

# The SystemC/TLM-2.0 adapter (Debian's libsystemc-dev: pkg-config only, built C++17).
pkg_check_modules(SYSTEMC REQUIRED IMPORTED_TARGET systemc)
add_library(tessel_sim_npu_sc src/systemc.cpp)
target_link_libraries(tessel_sim_npu_sc
  PUBLIC tessel_sim_npu PkgConfig::SYSTEMC
  PRIVATE tessel_warnings)
