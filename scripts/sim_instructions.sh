#!/usr/bin/env bash
# Instructions executed by the timing model's own code (the DRAM model, the device's DMA and
# event code, the driver) per simulated inference, counted by callgrind (`tessel run
# --repeat 1` simulates twice: its warm-up and the timed run; the figures are halved): a
# noise-free figure for comparing builds of the simulator (wall times on a shared VM vary
# by up to 1.5x between processes). Functional kernels run their scalar fallbacks under
# valgrind, so only the timing model's counts are meaningful here.
#   scripts/sim_instructions.sh MODEL.tflite|MODEL.tsl [ARCH]     (needs build/ and valgrind)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:?model}
arch=${2:-default}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" \
  "$root/build/runtime/tessel" run "$model" --arch "$arch" --repeat 1 > "$out/log" 2>&1
callgrind_annotate --threshold=100 "$out/cg.out" | /usr/bin/python3 -c '
import re, sys
sums = {"dram model": 0, "device": 0, "driver": 0}
for line in sys.stdin:
    m = re.match(r"\s*([\d,]+) \(", line)
    if not m or "PROGRAM TOTALS" in line:
        continue
    n = int(m.group(1).replace(",", ""))
    if "tessel::sim::mem::" in line:
        sums["dram model"] += n
    elif "tessel::sim::npu::Device::" in line or "tessel::sim::npu::Mmu" in line:
        sums["device"] += n
    elif "tessel::driver::" in line or "tsl_" in line:
        sums["driver"] += n
runs = 2
print("per inference:", "  ".join("%s %.1f M" % (k, v / runs / 1e6) for k, v in sums.items()),
      " total %.1f M" % (sum(sums.values()) / runs / 1e6))
'
