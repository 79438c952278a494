#!/usr/bin/env bash
# Benchmarks every shared model on the ref and cpu backends (1 and 2 threads) and the fast
# convolution against oneDNN's own int8 convolution; writes JSON under OUT (default
# out/bench) and prints the Markdown tables that docs/performance.md records.
#   scripts/bench.sh [OUT]       (needs a Release build in build/)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/out/bench}
tool=$root/build/runtime/tessel
models=$root/../shared/models/tflite
mkdir -p "$out"
for m in "$models"/*.tflite; do
  name=$(basename "$m" .tflite)
  "$tool" bench "$m" --backend ref --threads 1 --repeat 5 --json "$out/$name.ref.t1.json"
  "$tool" bench "$m" --backend cpu --threads 1 --repeat 30 --json "$out/$name.cpu.t1.json"
  "$tool" bench "$m" --backend cpu --threads 2 --repeat 30 --json "$out/$name.cpu.t2.json"
done
for t in 1 2; do
  "$tool" bench-conv "$models/coral_mobilenet_v2_1.0_224_quant.tflite" \
    "$models/coral_tf2_mobilenet_v2_1.0_224_ptq.tflite" \
    "$models/coral_deeplabv3_mnv2_dm05_pascal_quant.tflite" \
    --top 6 --threads "$t" --repeat 30 --json "$out/conv.t$t.json"
done
/usr/bin/python3 "$root/scripts/perf_tables.py" "$out"
