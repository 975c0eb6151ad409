#!/usr/bin/env bash
# The GPU check: build (or take a prebuilt pack), run the GPU tests (once as
# they are, once more with GRAFT_CUDA_FUSED=1 so every backend test goes
# through the fused step), run them under compute-sanitizer (memcheck,
# racecheck), and run the GPU benchmark if it was built (the graph path
# against PyTorch eager and CUDA graphs through compare.sh gpu when python3
# has a CUDA torch, then the fused step with a few grid sizes, and bn-bench:
# batch norm's fused kernels vs cuDNN).
#
#   tools/gpu-check.sh                    configure + build build-gpu here
#                                         (Release, CUDA arch native if CMake
#                                         supports it, else 90), then
#                                         `ctest -L gpu --output-on-failure`
#   tools/gpu-check.sh --prebuilt DIR     no build: run binaries built
#                                         elsewhere. DIR is a pack made by
#                                         tools/pack-gpu-build.sh (DIR/bin,
#                                         DIR/lib, e.g. .devlibs) or a build
#                                         tree (DIR/tests/cuda/...; libraries
#                                         then from .devlibs/lib if present)
# Options:
#   --no-sanitizer      skip compute-sanitizer
#   --no-bench          skip the benchmark
#   --jobs N            build parallelism (default: nproc)
# Environment:
#   SANITIZER_FILTER    gtest filter for the sanitizer runs (default: the
#                       kernel tests and the smaller backend tests; the
#                       200-step parity test is too slow under memcheck)
#   OUT                 when set (the device tool), logs are copied there
#
# Exit status: non-zero when any test or sanitizer run fails.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

PREBUILT=""
SANITIZER=1
BENCH=1
JOBS=$(nproc 2>/dev/null || echo 4)
while (($#)); do
  case $1 in
    --prebuilt) PREBUILT=${2:?--prebuilt needs a directory}; shift 2 ;;
    --no-sanitizer) SANITIZER=0; shift ;;
    --no-bench) BENCH=0; shift ;;
    --jobs) JOBS=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument $1" >&2; exit 2 ;;
  esac
done

LOGDIR=${OUT:-$ROOT/build-gpu}
mkdir -p "$LOGDIR"
status=0
fail() { echo "gpu-check: FAILED: $*" >&2; status=1; }

# CUDA's own libraries come from the machine's toolkit (never carried).
cuda_lib=""
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda-13.0/lib64; do
  if [[ -e $d/libcublas.so.13 || -e $d/libcudart.so.13 ]]; then cuda_lib=$d; break; fi
done
if [[ -z $cuda_lib ]]; then
  # Fallback: the pip wheels next to PyTorch (nvidia-cublas, nvidia-cuda-runtime).
  cuda_lib=$(find /usr/local /opt /usr/lib -name 'libcublas.so.13' -printf '%h\n' 2>/dev/null | head -1)
fi
extra_cuda=""
if [[ -n $cuda_lib ]]; then
  for lib in libcudart.so.13 libcublasLt.so.13 libcudnn.so.9; do
    if [[ ! -e $cuda_lib/$lib ]]; then
      d=$(find /usr/local /opt /usr/lib -name "$lib" -printf '%h\n' 2>/dev/null | head -1)
      [[ -n $d ]] && extra_cuda+=":$d"
    fi
  done
fi

echo "== device"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>/dev/null || echo "(nvidia-smi unavailable)"
echo "CUDA libraries from: ${cuda_lib:-not found}${extra_cuda}"

if [[ -z $PREBUILT ]]; then
  BUILD=build-gpu
  arch=90
  cmake_ver=$(cmake --version | head -1 | awk '{print $3}')
  if [[ $(printf '%s\n' 3.24 "$cmake_ver" | sort -V | head -1) == 3.24 ]]; then arch=native; fi
  gen=()
  if [[ ! -f $BUILD/CMakeCache.txt ]] && command -v ninja >/dev/null; then gen=(-G Ninja); fi
  echo "== configure $BUILD (Release, CUDA arch $arch)"
  cmake -S . -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DGRAFT_WITH_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" -DGRAFT_BUILD_TESTS=ON || { echo "configure failed" >&2; exit 1; }
  echo "== build"
  cmake --build "$BUILD" -j "$JOBS" || { echo "build failed" >&2; exit 1; }
  TESTS=$BUILD/tests/cuda/graft_cuda_tests
  BENCH_BIN=$BUILD/tools/bench/graft-bench
  BN_BENCH_BIN=$BUILD/tools/bench/bn-bench
  echo "== ctest -L gpu"
  (cd "$BUILD" && ctest -L gpu --output-on-failure 2>&1 | tee "$LOGDIR/gpu-tests.log") || fail "ctest -L gpu"
else
  DIR=${PREBUILT%/}
  if [[ -d $DIR/bin ]]; then
    TESTS=$DIR/bin/graft_cuda_tests
    BENCH_BIN=$DIR/bin/graft-bench
    BN_BENCH_BIN=$DIR/bin/bn-bench
    LIBDIR=$DIR/lib
  else
    TESTS=$DIR/tests/cuda/graft_cuda_tests
    BENCH_BIN=$DIR/tools/bench/graft-bench
    BN_BENCH_BIN=$DIR/tools/bench/bn-bench
    LIBDIR=$ROOT/.devlibs/lib
  fi
  [[ -x $TESTS ]] || { echo "gpu-check: no test executable at $TESTS" >&2; exit 1; }
  export LD_LIBRARY_PATH="$(cd "$LIBDIR" 2>/dev/null && pwd)${cuda_lib:+:$cuda_lib}${extra_cuda}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  if ldd "$TESTS" | grep -q "not found"; then
    echo "gpu-check: missing shared libraries:" >&2
    ldd "$TESTS" | grep "not found" >&2
    exit 1
  fi
  echo "== GPU tests ($TESTS)"
  "$TESTS" --gtest_color=no 2>&1 | tee "$LOGDIR/gpu-tests.log"
  [[ ${PIPESTATUS[0]} == 0 ]] || fail "GPU tests"
fi

echo "== GPU tests again, every training step through the fused step (GRAFT_CUDA_FUSED=1)"
GRAFT_CUDA_FUSED=1 "$TESTS" --gtest_color=no 2>&1 | tee "$LOGDIR/gpu-tests-fused.log"
[[ ${PIPESTATUS[0]} == 0 ]] || fail "GPU tests with GRAFT_CUDA_FUSED=1"

if ((SANITIZER)); then
  CS=$(command -v compute-sanitizer || true)
  for c in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer; do
    [[ -z $CS && -x $c ]] && CS=$c
  done
  if [[ -z $CS ]]; then
    echo "== compute-sanitizer not found; skipped"
  else
    filter=${SANITIZER_FILTER:-"CudaKernels.*:CudaBatchNorm.*:CudaDropout.*:CudaBackend.GraphReplay*:CudaBackend.FrozenLayer*:CudaBackend.TrainTotals*:CudaBackend.AllFrozen*"}
    echo "== compute-sanitizer memcheck (CUDA graphs on) [$filter]"
    "$CS" --tool memcheck --error-exitcode 99 "$TESTS" --gtest_color=no --gtest_filter="$filter" \
      >"$LOGDIR/sanitizer-memcheck.log" 2>&1 || fail "memcheck (see $LOGDIR/sanitizer-memcheck.log)"
    tail -n 5 "$LOGDIR/sanitizer-memcheck.log"; echo "(${SECONDS}s so far)"
    echo "== compute-sanitizer memcheck (GRAFT_CUDA_GRAPHS=0)"
    GRAFT_CUDA_GRAPHS=0 "$CS" --tool memcheck --error-exitcode 99 "$TESTS" --gtest_color=no \
      --gtest_filter="CudaBackend.FrozenLayer*:CudaBackend.TrainTotals*" \
      >"$LOGDIR/sanitizer-memcheck-nographs.log" 2>&1 || fail "memcheck without graphs (see $LOGDIR/sanitizer-memcheck-nographs.log)"
    tail -n 5 "$LOGDIR/sanitizer-memcheck-nographs.log"
    echo "== compute-sanitizer memcheck and racecheck, fused step"
    "$CS" --tool memcheck --error-exitcode 99 "$TESTS" --gtest_color=no \
      --gtest_filter="FusedStep.RunsWhen*:FusedStep.FrozenLayers*:FusedStep.GridSize*" \
      >"$LOGDIR/sanitizer-memcheck-fused.log" 2>&1 || fail "memcheck, fused step (see $LOGDIR/sanitizer-memcheck-fused.log)"
    tail -n 3 "$LOGDIR/sanitizer-memcheck-fused.log"
    "$CS" --tool racecheck --error-exitcode 99 "$TESTS" --gtest_color=no \
      --gtest_filter="FusedStep.RunsWhen*:FusedStep.FrozenLayers*" \
      >"$LOGDIR/sanitizer-racecheck-fused.log" 2>&1 || fail "racecheck, fused step (see $LOGDIR/sanitizer-racecheck-fused.log)"
    tail -n 3 "$LOGDIR/sanitizer-racecheck-fused.log"
    echo "== compute-sanitizer racecheck (shared-memory hazards; the kernels that use shared memory)"
    "$CS" --tool racecheck --error-exitcode 99 "$TESTS" --gtest_color=no \
      --gtest_filter="CudaKernels.ActivationBackward*:CudaKernels.BiasGrad*:CudaKernels.SoftmaxXent*:CudaKernels.OptimizerUpdate*:CudaKernels.GlobalNorm*:CudaBatchNorm.ForwardTrain*:CudaBatchNorm.Backward*" \
      >"$LOGDIR/sanitizer-racecheck.log" 2>&1 || fail "racecheck (see $LOGDIR/sanitizer-racecheck.log)"
    tail -n 5 "$LOGDIR/sanitizer-racecheck.log"
  fi
fi

if ((BENCH)); then
  if [[ -x $BENCH_BIN ]]; then
    # Against PyTorch (tools/bench/compare.sh gpu: eager and CUDA graphs, the
    # reference network and the batch-norm + dropout one) where this
    # machine's python3 has a CUDA-enabled torch; graft alone otherwise.
    PY=${PYTHON:-python3}
    if "$PY" -c "import torch; assert torch.cuda.is_available()" >/dev/null 2>&1; then
      echo "== benchmark against PyTorch (compare.sh gpu, $BENCH_BIN)"
      GRAFT_BENCH_BIN=$BENCH_BIN CKPT_REPEATS=0 PYTHON=$PY DATA=${GRAFT_BENCH_DATA:-/usr/share/datasets/fashion-mnist} \
        OUT=$LOGDIR/compare-gpu "$ROOT/tools/bench/compare.sh" gpu 2>&1 | tee "$LOGDIR/gpu-bench.log"
      [[ ${PIPESTATUS[0]} == 0 ]] || fail "benchmark (compare.sh gpu)"
    else
      echo "== benchmark ($BENCH_BIN --device cuda; no CUDA-enabled torch for $PY, so no peer)"
      "$BENCH_BIN" --device cuda 2>&1 | tee "$LOGDIR/gpu-bench.log"
      [[ ${PIPESTATUS[0]} == 0 ]] || fail "benchmark"
    fi
    # The fused step (batches up to 256 rows; 4096 stays on cuBLAS), with the
    # default grid (one block per SM) and two smaller ones: grid barriers
    # cost less with fewer blocks, phases get less parallel.
    for blocks in "" 66 32; do
      echo "== benchmark, fused step, GRAFT_CUDA_FUSED_BLOCKS=${blocks:-default}"
      GRAFT_CUDA_FUSED=1 GRAFT_CUDA_FUSED_BLOCKS=$blocks "$BENCH_BIN" --device cuda --cases train \
        2>&1 | tee "$LOGDIR/gpu-bench-fused${blocks:+-$blocks}.log"
      [[ ${PIPESTATUS[0]} == 0 ]] || fail "benchmark, fused step"
    done
  else
    echo "== no benchmark binary at $BENCH_BIN; skipped"
  fi
  # Batch norm per kernel: graft's fused kernels vs cuDNN, and dropout
  # (docs/cuda-backend.md, "Batch norm and dropout kernels").
  if [[ -x ${BN_BENCH_BIN:-} ]]; then
    echo "== batch-norm kernel benchmark ($BN_BENCH_BIN)"
    "$BN_BENCH_BIN" 2>&1 | tee "$LOGDIR/bn-bench.log"
    [[ ${PIPESTATUS[0]} == 0 ]] || fail "batch-norm kernel benchmark"
  else
    echo "== no batch-norm benchmark binary at ${BN_BENCH_BIN:-}; skipped"
  fi
fi

echo "gpu-check: ${SECONDS}s in all"
if ((status)); then echo "gpu-check: FAILED (logs in $LOGDIR)"; else echo "gpu-check: all passed (logs in $LOGDIR)"; fi
exit $status
