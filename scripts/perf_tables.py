"""Prints the Markdown tables of docs/performance.md from scripts/bench.sh's JSON files."""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])


def load(name):
    return json.loads((out / name).read_text())


print("| model | ref 1T (ms) | cpu 1T (ms) | cpu 2T (ms) | ref/cpu 1T | ref/cpu 2T |")
print("|---|---:|---:|---:|---:|---:|")
for ref_file in sorted(out.glob("*.ref.t1.json")):
    name = ref_file.name[: -len(".ref.t1.json")]
    ref = load(ref_file.name)["median_ms"]
    c1 = load(f"{name}.cpu.t1.json")["median_ms"]
    c2 = load(f"{name}.cpu.t2.json")["median_ms"]
    print(f"| {name} | {ref:.2f} | {c1:.3f} | {c2:.3f} | {ref / c1:.1f} | {ref / c2:.1f} |")

for t in (1, 2):
    conv = load(f"conv.t{t}.json")
    print()
    print(f"Convolution throughput, {t} thread(s): Tessel cpu path (oneDNN int32 + exact requantization)"
          " vs oneDNN's own int8 convolution (int8 output, float scales), same shapes, interleaved runs")
    print()
    print("| model | layer | kind | input | out ch | k | s | MMACs | Tessel GOPS | oneDNN GOPS | ratio |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    total_ours = total_theirs = 0.0
    for s in conv["shapes"]:
        total_ours += s["tessel_ms"]
        total_theirs += s["onednn_int8_ms"]
        i = s["input"]
        print(f"| {pathlib.Path(s['model']).stem} | {s['layer'].split(';')[0]} | {s['kind']} | "
              f"{i[1]}x{i[2]}x{i[3]} | {s['output'][3]} | {s['kernel'][0]} | {s['stride'][0]} | "
              f"{s['macs'] / 1e6:.1f} | {s['tessel_gops']:.0f} | {s['onednn_int8_gops']:.0f} | {s['ratio']:.2f} |")
    print(f"\nAll shapes together: Tessel {total_ours:.3f} ms, oneDNN {total_theirs:.3f} ms, "
          f"ratio (throughput) {total_theirs / total_ours:.2f}; shapes at >= 0.70: "
          f"{sum(1 for s in conv['shapes'] if s['ratio'] >= 0.7)} of {len(conv['shapes'])}")
