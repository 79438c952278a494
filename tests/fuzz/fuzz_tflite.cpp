// libFuzzer entry point for the TFLite front end: any input must either import or throw
// tessel::Error; a crash, sanitizer report, leak or timeout is a bug. Seed it with the real
// models (copied to a scratch corpus directory, since libFuzzer writes new inputs there):
//   mkdir -p /tmp/corpus && cp ../shared/models/tflite/*.tflite /tmp/corpus/
//   build-fuzz/tests/fuzz_tflite -max_total_time=60 /tmp/corpus
#include <cstddef>
#include <cstdint>

#include "tessel/frontend/tflite.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    tessel::tflite::import_buffer(data, size, "fuzz.tflite");
  } catch (const tessel::Error&) {
    // Refusing a malformed file with a message is the expected outcome.
  }
  return 0;
}
