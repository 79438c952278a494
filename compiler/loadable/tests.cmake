# Tests of the `.tsl` loadable (included from tests/CMakeLists.txt, where tessel_test() is
# defined). The round trip imports part of a shared model, hence tessel_tflite.
if(NOT COMMAND tessel_test)
  return()
endif()

tessel_test(test_loadable unit unit/test_loadable.cpp LIBS tessel_loadable tessel_tflite)
