#!/usr/bin/python3
"""Compiler quality from `tessel run --backend npu --report` JSON files: per model and
preset, every convolution layer with >= 10 M MACs against its roofline bound (target <=
1.25x), the whole model against the sum of its layers' roofline bounds (target <= 1.4x), and
the cost model's per-layer estimate against the simulated cycles (target within 15 %).
Prints Markdown tables; writes nothing.
    scripts/npu_quality.py REPORT.json...
"""
import json
import sys


def main(paths):
    print("| model | preset | NPU cycles | roofline sum | ratio | conv >= 10M MACs: worst ratio (layers over 1.25x) | cost model: median / worst error (layers > 15 %) |")
    print("|---|---|---|---|---|---|---|")
    for p in paths:
        r = json.load(open(p))
        model = r["model"].split("/")[-1].replace(".tflite", "")
        npu = [l for l in r["layers"] if l.get("target") == "npu" and l["cycles"] > 0]
        convs = [l for l in npu if l["op"] in ("CONV_2D", "DEPTHWISE_CONV_2D") and l["macs"] >= 10_000_000]
        ratios = [l["cycles"] / l["roofline_cycles"] for l in convs]
        over = sum(1 for x in ratios if x > 1.25)
        errs = sorted(abs(l["estimated_cycles"] - l["cycles"]) / l["cycles"] for l in npu)
        bad = sum(1 for e in errs if e > 0.15)
        med = errs[len(errs) // 2] if errs else 0
        conv_txt = f"{max(ratios):.2f} ({over} of {len(ratios)})" if ratios else "none"
        print(f"| {model} | {r['arch']} | {r['npu_cycles']} | {r['roofline_cycles']:.0f} | "
              f"{r['npu_cycles'] / max(r['roofline_cycles'], 1):.2f} | {conv_txt} | "
              f"{100 * med:.1f} % / {100 * (errs[-1] if errs else 0):.1f} % ({bad} of {len(errs)}) |")


def speed(paths):
    print()
    print("| model | preset | NPU ms (simulated) | outputs = ref | cpu backend ms | simulation ms | simulation / cpu | M simulated cycles per host s |")
    print("|---|---|---|---|---|---|---|---|")
    for p in paths:
        r = json.load(open(p))
        model = r["model"].split("/")[-1].replace(".tflite", "")
        print(f"| {model} | {r['arch']} | {r['npu_ms']:.3f} | {'yes' if r['outputs_match_reference'] else 'NO'} | "
              f"{r['cpu_wall_ms']:.3f} | {r['sim_wall_ms']:.1f} | {r['sim_wall_ms'] / max(r['cpu_wall_ms'], 1e-9):.1f} | "
              f"{r['npu_cycles'] / (r['sim_wall_ms'] / 1e3) / 1e6:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
    speed(sys.argv[1:])
