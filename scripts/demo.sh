#!/usr/bin/env bash
# The main job: set up, build, and classify ../shared/images/grace_hopper.bmp with
# MobileNetV2 (uint8) on the simulated NPU (compiled on the fly, run through the driver
# and the runtime), printing the summary (outputs bit-exact with the reference kernels,
# NPU latency, MAC utilization, DRAM traffic, the cpu backend's time, the simulation's
# own time) and the top-5 labels.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$root/../shared" && pwd)
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh" build -DCMAKE_BUILD_TYPE=Release > "$root/build.log" 2>&1 ||
  { tail -n 50 "$root/build.log"; exit 1; }
"$root/build/runtime/tessel" run "$shared/models/tflite/coral_mobilenet_v2_1.0_224_quant.tflite" \
  --backend npu --arch default --input "$shared/images/grace_hopper.bmp" \
  --labels "$shared/images/imagenet_labels.txt" --repeat 5 "$@"
