#!/usr/bin/env bash
# Every shared model on every NPU preset through `tessel run --backend npu` (compile, run
# on the simulated NPU, check against the reference kernels, time the cpu backend); writes
# the reports under OUT (default out/bench-npu) and prints the compiler-quality table
# (scripts/npu_quality.py) that docs/performance.md records.
#   scripts/bench_npu.sh [OUT] [REPEAT]      (needs a Release build in build/)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/out/bench-npu}
repeat=${2:-3}
tool=$root/build/runtime/tessel
mkdir -p "$out"
for m in "$root"/../shared/models/tflite/*.tflite; do
  name=$(basename "$m" .tflite)
  for p in $("$tool" presets | cut -d' ' -f1); do
    "$tool" run "$m" --backend npu --arch "$p" --repeat "$repeat" --report "$out/$name.$p.json" > /dev/null
  done
done
/usr/bin/python3 "$root/scripts/npu_quality.py" "$out"/*.json
