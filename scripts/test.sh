#!/usr/bin/env bash
# Sets everything up and runs all tests:
#   1. Release build with warnings as errors, the whole ctest suite;
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. the driver tests under ThreadSanitizer;
#   4. the TFLite importer fuzzer (clang, libFuzzer) for a bounded time.
# `scripts/test.sh --quick` runs only step 1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
quick=0
[ "${1:-}" = "--quick" ] && quick=1
fuzz_seconds=${TESSEL_FUZZ_SECONDS:-120}

bash "$root/scripts/setup.sh"

# Number of tests ctest knows in a build tree.
count_tests() { ctest --test-dir "$1" -N | sed -n 's/^Total Tests: //p'; }

echo "=== Release build (-Werror) and tests"
bash "$root/scripts/build.sh" build -DCMAKE_BUILD_TYPE=Release -DTESSEL_WERROR=ON
ctest --test-dir "$root/build" --output-on-failure -j 2
passed=$(count_tests "$root/build")   # set -e: reaching here means every test passed

if [ $quick = 1 ]; then
  echo "tests: $passed passed, 0 failed"
  exit 0
fi

echo "=== ASan+UBSan build and tests"
bash "$root/scripts/build.sh" build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTESSEL_WERROR=ON \
  -DTESSEL_SANITIZE=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir "$root/build-asan" --output-on-failure -j 2
passed=$((passed + $(count_tests "$root/build-asan")))

echo "=== ThreadSanitizer build and driver tests"
# Only the multi-threaded code: the driver tests (submitters, the simulator's device
# thread calling the interrupt handler and watchdog, the device's functional worker) and
# the functional worker's own test (label "threads"). Everything they link, the simulator
# included, is instrumented.
cmake -S "$root" -B "$root/build-tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTESSEL_WERROR=ON -DTESSEL_TSAN=ON
cmake --build "$root/build-tsan" -j "$(nproc)" --target test_driver_smoke test_driver_ioctl \
  test_driver_recovery test_driver_stress test_functional_pipe
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir "$root/build-tsan" -L 'driver|threads' --output-on-failure
passed=$((passed + $(ctest --test-dir "$root/build-tsan" -N -L 'driver|threads' | sed -n 's/^Total Tests: //p')))

echo "=== Importer fuzzing (${fuzz_seconds}s)"
CC=clang CXX=clang++ cmake -S "$root" -B "$root/build-fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTESSEL_FUZZ=ON -DTESSEL_SANITIZE=ON
cmake --build "$root/build-fuzz" --target fuzz_tflite
corpus=$(mktemp -d)
cp "$root"/../shared/models/tflite/*.tflite "$corpus/"
"$root/build-fuzz/tests/fuzz_tflite" -max_total_time="$fuzz_seconds" -rss_limit_mb=4096 \
  -print_final_stats=1 "$corpus" 2>&1 | tail -n 15
rm -rf "$corpus"
echo "fuzz: no crash in ${fuzz_seconds}s"
echo "tests: $passed passed, 0 failed"
