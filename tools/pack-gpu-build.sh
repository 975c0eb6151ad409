#!/usr/bin/env bash
# Builds the GPU test/bench binaries HERE (a machine with the Debian dev
# libraries and the CUDA toolkit, no GPU needed) and packs what a GPU machine
# without those libraries needs to run them:
#
#   .devlibs/bin/   graft_cuda_tests, graft, graft-bench, bn-bench (those that exist)
#   .devlibs/lib/   the non-system shared libraries they load (protobuf,
#                   leveldb, snappy, OpenBLAS, gfortran, ...), found with ldd
#
# Not packed: glibc/libstdc++/libgcc (the GPU machine's are newer) and every
# CUDA library (libcudart, libcublas, libcublasLt, libcudnn — cuBLASLt alone is ~500 MB):
# the GPU machine has the same CUDA 13.0 toolkit, and gpu-check.sh puts its
# lib64 on LD_LIBRARY_PATH. GoogleTest is linked statically.
#
# Usage: tools/pack-gpu-build.sh [BUILD_DIR]       (default build-gpu)
#   env JOBS (default 2), CUDA_ARCH (default 90: H100/H200)
# Then, on the GPU machine (files carried: .devlibs):
#   tools/gpu-check.sh --prebuilt .devlibs
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${1:-build-gpu}
JOBS=${JOBS:-2}
ARCH=${CUDA_ARCH:-90}
PACK=.devlibs
LIMIT_MIB=60

gen=()
if [[ ! -f $BUILD/CMakeCache.txt ]] && command -v ninja >/dev/null; then gen=(-G Ninja); fi
echo "== configure $BUILD (Release, CUDA arch $ARCH, tests on)"
cmake -S . -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DGRAFT_WITH_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DGRAFT_BUILD_TESTS=ON -DGRAFT_BENCH_WITH_ONEDNN=OFF >/dev/null

targets=(graft_cuda_tests)
available=$(cmake --build "$BUILD" --target help 2>/dev/null || true)
for t in graft_cli graft-bench graft_bench bn-bench; do
  if grep -qE "(^|[ :.])$t([: ]|$)" <<<"$available"; then targets+=("$t"); fi
done
echo "== build ${targets[*]} (-j$JOBS)"
cmake --build "$BUILD" --target "${targets[@]}" -j "$JOBS"

rm -rf "$PACK"
mkdir -p "$PACK/bin" "$PACK/lib"
bins=()
for path in tests/cuda/graft_cuda_tests tools/graft tools/bench/graft-bench tools/bench/bn-bench; do
  if [[ -x $BUILD/$path ]]; then
    cp "$BUILD/$path" "$PACK/bin/"
    strip --strip-debug "$PACK/bin/$(basename "$path")" 2>/dev/null || true
    bins+=("$BUILD/$path")
  fi
done

# Libraries every Linux system has (and must not be replaced), and CUDA's.
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libmvec|libstdc\+\+|libgcc_s|libpthread|libdl\.so|librt\.so|libutil|libresolv|libcuda|libcudart|libcublas|libcublasLt|libnvidia|libnvrtc|libnvJitLink|libcudnn)'
declare -A seen=()
for b in "${bins[@]}"; do
  while read -r name arrow path _; do
    [[ $arrow == "=>" && -n ${path:-} && $path != "not" ]] || continue
    [[ $name =~ $skip ]] && continue
    [[ -n ${seen[$name]:-} ]] && continue
    seen[$name]=1
    cp -L "$path" "$PACK/lib/$name"
  done < <(ldd "$b")
done

echo "== packed into $PACK/"
ls -la "$PACK/bin" "$PACK/lib"
bytes=$(du -sb "$PACK" | cut -f1)
mib=$(( (bytes + 1048575) / 1048576 ))
echo "payload: $mib MiB ($bytes bytes) in $PACK"
if (( mib > LIMIT_MIB )); then
  echo "warning: the payload is over $LIMIT_MIB MiB; the device's transfer limit is 64 MiB for everything" >&2
fi
cat <<EOF

On the GPU machine (run tool, carry [".devlibs"]):
  tools/gpu-check.sh --prebuilt .devlibs
EOF
