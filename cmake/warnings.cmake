# tessel_warnings: an interface target every Tessel target links to get the project's
# warning set (and -Werror when TESSEL_WERROR is on, as in CI).
add_library(tessel_warnings INTERFACE)
target_compile_options(tessel_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor> -Wcast-align -Wunused
  -Wnull-dereference -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough
  $<$<BOOL:${TESSEL_WERROR}>:-Werror>
  # GCC 12 at -O3 reports maybe-uninitialized inside std::vector copies of aggregates
  # (GCC bug 105562 and friends); the sanitizer CI job covers real uninitialised reads.
  $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
