#!/usr/bin/env bash
# Installs every build and test dependency of Tessel from Debian 12 packages.
# Safe to run any number of times (apt-get install is idempotent). Needs root.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev          # libFuzzer and the sanitizer runtimes
  libsystemc-dev verilator          # the simulator (later issues)
  libboost-dev libfmt-dev catch2
  libflatbuffers-dev                # FlatBuffers runtime (TFLite files are FlatBuffers)
  libdnnl-dev                       # oneDNN: the fast CPU path
  nlohmann-json3-dev libcli11-dev libyaml-cpp-dev
  python3-yaml                      # scripts/gen_isa.py: the hardware contract generator
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages (${missing[*]}); run as root" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
