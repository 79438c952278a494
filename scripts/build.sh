#!/usr/bin/env bash
# Configures and builds one Tessel build tree.
#   scripts/build.sh DIR [cmake options...]
# Example: scripts/build.sh build-asan -DTESSEL_SANITIZE=ON
set -euo pipefail
dir=${1:?usage: scripts/build.sh DIR [cmake options...]}
shift
root=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$root" -B "$root/$dir" -G Ninja "$@"
cmake --build "$root/$dir" -j "$(nproc)"
