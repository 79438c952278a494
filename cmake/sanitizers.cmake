# With TESSEL_SANITIZE=ON every target is built with ASan+UBSan; UBSan findings abort so
# that a test cannot pass over undefined behaviour.
if(TESSEL_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# With TESSEL_TSAN=ON every target is built with ThreadSanitizer (the driver's device
# thread, interrupt path and submitters race-checked; scripts/test.sh runs the driver
# tests this way). TSan cannot be combined with ASan, hence the separate option and tree.
option(TESSEL_TSAN "Build with ThreadSanitizer (exclusive with TESSEL_SANITIZE)" OFF)
if(TESSEL_TSAN)
  if(TESSEL_SANITIZE)
    message(FATAL_ERROR "TESSEL_TSAN and TESSEL_SANITIZE are exclusive: use separate build trees")
  endif()
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

# Fuzz builds instrument every library for coverage; the fuzz targets add the driver.
if(TESSEL_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "TESSEL_FUZZ needs clang (CC=clang CXX=clang++)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
