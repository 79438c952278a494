#!/usr/bin/env bash
# Simulator speed: `tessel simbench` (NPU model, DRAM model on, exact results) on every NPU
# preset and `tessel membench` (memory system alone) on every DRAM spec; writes JSON under
# OUT (default out/bench-sim) and prints the Markdown tables that docs/performance.md records.
#   scripts/bench_sim.sh [OUT]       (needs a Release build in build/)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/out/bench-sim}
tool=$root/build/runtime/tessel
mkdir -p "$out"
presets=$("$tool" presets | cut -d' ' -f1)
for p in $presets; do
  layer=()
  # The microcontroller-class preset's 256 KiB SRAM cannot hold 128x128 3x3 weights.
  [ "$p" = ethos-u55-256 ] && layer=(--channels 64 --filters 64)
  "$tool" simbench --arch "$p" "${layer[@]}" --repeat 7 --json "$out/simbench.$p.json"
done
for d in ddr4-3200 lpddr4x-4266 lpddr5-6400 hbm2; do
  for pat in seq-read random-mixed; do
    "$tool" membench --arch "$d" --pattern "$pat" --bytes 67108864 --json "$out/membench.$d.$pat.json"
  done
done
/usr/bin/python3 - "$out" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
print("| preset | layer | tiles | simulated cycles | MAC utilization | host s (median) | M simulated cycles/s | G simulated MACs/s | output = reference |")
print("|---|---|---|---|---|---|---|---|---|")
for f in sorted(glob.glob(os.path.join(out, "simbench.*.json"))):
    j = json.load(open(f))
    l = j["layer"]
    print(f"| {j['config']} | {l['h']}x{l['w']}x{l['in_c']} -> {l['out_c']} 3x3 | {l['tiles']} | "
          f"{j['simulated_cycles']} | {100*j['mac_utilization']:.1f} % | {j['host_seconds']['median']:.4f} | "
          f"{j['cycles_per_second']/1e6:.1f} | {j['macs_per_second']/1e9:.1f} | {'yes' if j['outputs_match_reference'] else 'NO'} |")
print()
print("| DRAM | pattern | achieved GB/s | efficiency | M requests/s (host) |")
print("|---|---|---|---|---|")
for f in sorted(glob.glob(os.path.join(out, "membench.*.json"))):
    j = json.load(open(f))
    print(f"| {j['config']} | {j['pattern']} | {j['achieved_gbps']:.2f} | {100*j['efficiency']:.1f} % | "
          f"{j['requests_per_second']/1e6:.2f} |")
PY
