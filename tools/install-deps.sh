#!/usr/bin/env bash
# Installs the Debian 12 packages graft needs to build, test and run the demo.
# Only missing packages are installed; uses sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake make pkg-config
  libprotobuf-dev protobuf-compiler   # BundleEntryProto & friends
  libleveldb-dev libsnappy-dev        # the SSTable in .index files (leveldb's CMake config links snappy)
  libcli11-dev nlohmann-json3-dev libfmt-dev
  libopenblas-dev zlib1g-dev          # CPU GEMMs, gzip'd IDX files
  libzip-dev libcsv-dev               # .npz archives, CSV data files (docs/data.md)
  python3-numpy python3-onnx          # tests: files written by numpy, exported ONNX checked (skipped without)
  libgtest-dev libgmock-dev libbenchmark-dev
  dataset-fashion-mnist               # the demo's data set
  libcairo2-dev                       # the demo's pictures (PNG, SVG)
  python3 python3-pil                 # tests: decode the demo's PNG with another library
)
# libxsmm: JIT kernels for the CPU's cache-sized GEMMs (optional; Debian
# builds it for amd64 only).
if [ "$(dpkg --print-architecture 2>/dev/null)" = "amd64" ]; then
  packages+=(libxsmm-dev)
fi
# tools/fuzz.sh sets GRAFT_DEPS_FUZZ=1: clang and its runtimes (libFuzzer,
# ASan, UBSan). Not needed for `make test`.
if [ "${GRAFT_DEPS_FUZZ:-}" = "1" ]; then
  packages+=(clang libclang-rt-14-dev)
fi
if [ "${GRAFT_DEPS_EXTRA:-}" != "" ]; then
  # shellcheck disable=SC2206
  packages+=(${GRAFT_DEPS_EXTRA})
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "install-deps: not root and no sudo; install these packages: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
