# oneDNN (Debian libdnnl-dev). Debian's dnnl-config.cmake insists on OpenCL because the
# package is built with the GPU runtime; Tessel only uses the CPU engine, so import the
# library directly rather than pull in OpenCL.
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp REQUIRED)
find_library(DNNL_LIBRARY dnnl REQUIRED)
add_library(DNNL::dnnl UNKNOWN IMPORTED)
set_target_properties(DNNL::dnnl PROPERTIES
  IMPORTED_LOCATION "${DNNL_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${DNNL_INCLUDE_DIR}")
message(STATUS "tessel: oneDNN ${DNNL_LIBRARY}")
