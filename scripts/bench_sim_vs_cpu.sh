#!/usr/bin/env bash
# Issue 5's headline: simulation / cpu wall time for MobileNetV2 and DeepLabV3 on the default
# preset, five processes per setting: --threads 1 with the functional worker on (the
# default) and off (TESSEL_SIM_ASYNC=0), and --threads 2. Prints one line per setting
# (medians and ranges; outputs must match and cycles must agree across settings).
#   scripts/bench_sim_vs_cpu.sh OUT      (needs a Release build in build/)
set -euo pipefail
out=${1:?out}; mkdir -p "$out"; out=$(cd "$out" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd); cd "$root"
for m in coral_mobilenet_v2_1.0_224_quant coral_deeplabv3_mnv2_dm05_pascal_quant; do
  for i in 1 2 3 4 5; do
    for cfg in "1 1" "1 0" "2 1"; do
      set -- $cfg
      TESSEL_SIM_ASYNC=$2 build/runtime/tessel run ../shared/models/tflite/$m.tflite --threads $1 --repeat 15 --report $out/$m.t$1.a$2.$i.json > /dev/null
    done
  done
done
/usr/bin/python3 - "$out" <<'PY'
import json,glob,sys,statistics as st
out=sys.argv[1]
for m in ["coral_mobilenet_v2_1.0_224_quant","coral_deeplabv3_mnv2_dm05_pascal_quant"]:
  for t,a in [(1,1),(1,0),(2,1)]:
    rs=[json.load(open(f)) for f in sorted(glob.glob(f"{out}/{m}.t{t}.a{a}.*.json"))]
    ratios=[r['sim_wall_ms']/r['cpu_wall_ms'] for r in rs]
    print(m, f"threads={t} async={a}", "cpu %.1f-%.1f"%(min(r['cpu_wall_ms'] for r in rs),max(r['cpu_wall_ms'] for r in rs)),
      "sim %.1f-%.1f"%(min(r['sim_wall_ms'] for r in rs),max(r['sim_wall_ms'] for r in rs)),
      "ratio median %.2f (%.2f-%.2f)"%(st.median(ratios),min(ratios),max(ratios)),
      "Mcyc/s %.1f"%st.median([r['npu_cycles']/r['sim_wall_ms']/1e3 for r in rs]),
      "match", all(r['outputs_match_reference'] for r in rs), "cycles", sorted(set(r['npu_cycles'] for r in rs)))
PY
