#!/usr/bin/env bash
# Did a change to the DRAM model (sim/mem/) keep every simulated cycle? Records, with one
# build, everything simulated that the CLI reports -- membench on every DRAM preset and
# pattern, and the NPU on MobileNetV2 on four NPU presets -- with the host-time fields
# (requests_per_second, host_seconds, wall times, cpu ratios) removed; then compares a
# second build's figures with the recording, byte for byte.
#   scripts/check_dram_exact.sh record  DIR [TESSEL]   # before the change
#   scripts/check_dram_exact.sh compare DIR [TESSEL]   # after: exit 1 and a diff on any change
# TESSEL defaults to build/runtime/tessel. MEMBENCH_BYTES (default 16 MiB) sets the
# membench size.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:?record|compare}
dir=${2:?directory}
tessel=${3:-$root/build/runtime/tessel}
bytes=${MEMBENCH_BYTES:-16777216}
model=${MODEL:-$root/../shared/models/tflite/coral_mobilenet_v2_1.0_224_quant.tflite}

case "$mode" in
  record) out=$dir; mkdir -p "$out" ;;
  compare) out=$(mktemp -d); trap 'rm -rf "$out"' EXIT ;;
  *) echo "usage: $0 record|compare DIR [TESSEL]" >&2; exit 2 ;;
esac

# Drops every field measured on the host, recursively; sorts keys.
strip() {
  /usr/bin/python3 -c '
import json, re, sys
host = re.compile(r"(requests_per_second|host|wall|cpu|sim_vs|npu_vs)")
def clean(x):
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items() if not host.search(k)}
    if isinstance(x, list):
        return [clean(v) for v in x]
    return x
print(json.dumps(clean(json.load(open(sys.argv[1]))), indent=1, sort_keys=True))
' "$1"
}

tmp=$(mktemp)
for spec in ddr4-3200 lpddr4x-4266 lpddr5-6400 hbm2; do
  for pattern in seq-read seq-write random-read random-mixed; do
    "$tessel" membench --arch "$spec" --pattern "$pattern" --bytes "$bytes" --json "$tmp" > /dev/null
    strip "$tmp" > "$out/membench-$spec-$pattern.json"
  done
done
for arch in default cube-4096 edgetpu-64x64 ethos-u55-256; do
  "$tessel" run "$model" --arch "$arch" --repeat 1 --report "$tmp" > /dev/null
  strip "$tmp" > "$out/npu-$arch.json"
done
rm -f "$tmp"

if [ "$mode" = compare ]; then
  if diff -r "$dir" "$out"; then
    echo "identical: $(ls "$out" | wc -l) results"
  else
    echo "DIFFERENT simulated results" >&2
    exit 1
  fi
else
  echo "recorded $(ls "$out" | wc -l) results in $out"
fi
