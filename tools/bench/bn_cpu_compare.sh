#!/usr/bin/env bash
# Batch norm's and dropout's CPU kernels against PyTorch's CPU ops, per call,
# in this one command: bn-cpu-bench (tools/bench/bn_cpu_bench.cc) and its
# peer tools/bench/bn_cpu_torch.py, alternately, RUNS times; each case's
# figure is the median of the runs' medians. docs/performance.md ("Batch
# norm and dropout kernels (CPU)") has the figures.
#
#   tools/bench/bn_cpu_compare.sh
#
# Environment:
#   GRAFT_BUILD_DIR  build folder (default build); bn-cpu-bench is built there
#   BN_BENCH_BIN     a prebuilt bn-cpu-bench (no build then), e.g. one built
#                    from older kernels for a before/after comparison
#   RUNS             alternating runs of both sides (default 3)
#   ROUNDS           rounds per case and run (default 21)
#   TORCH_THREADS    torch.set_num_threads (default 2); graft's kernels are
#                    single-threaded calls
#   SHAPES           default 50x300,50x100,4096x300,4096x100
#   PYTHON           interpreter with torch (default /usr/bin/python3)
#
# Output ends with one line per case (times in microseconds per call;
# speedup = torch / graft, above 1 when graft is faster):
#   OP batch=B features=F graft_us=G torch_us=T speedup=S
# Cases only graft has (fwd_train_relu, bwd_relu_inplace) print torch_us=-.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

BUILD=${GRAFT_BUILD_DIR:-build}
RUNS=${RUNS:-3}
ROUNDS=${ROUNDS:-21}
TORCH_THREADS=${TORCH_THREADS:-2}
SHAPES=${SHAPES:-50x300,50x100,4096x300,4096x100}
PYTHON=${PYTHON:-/usr/bin/python3}

if [ -n "${BN_BENCH_BIN:-}" ]; then
  BIN=$BN_BENCH_BIN
else
  cmake --build "$BUILD" --target bn-cpu-bench -j 2 >/dev/null || {
    echo "bn_cpu_compare.sh: build failed (cmake --build $BUILD --target bn-cpu-bench)" >&2; exit 1; }
  BIN=$BUILD/tools/bench/bn-cpu-bench
fi
"$PYTHON" -c "import torch" 2>/dev/null || { echo "bn_cpu_compare.sh: $PYTHON has no torch" >&2; exit 1; }

LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
echo "== load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== graft: $BIN --rounds $ROUNDS --shapes $SHAPES"
echo "== torch: $PYTHON tools/bench/bn_cpu_torch.py --threads $TORCH_THREADS --rounds $ROUNDS --shapes $SHAPES"
echo "== torch $("$PYTHON" -c 'import torch; print(torch.__version__)')"
for run in $(seq 1 "$RUNS"); do
  "$BIN" --rounds "$ROUNDS" --shapes "$SHAPES" | sed "s/^/run=$run /" >>"$LOG" || exit 1
  OMP_NUM_THREADS=$TORCH_THREADS "$PYTHON" tools/bench/bn_cpu_torch.py --threads "$TORCH_THREADS" \
    --rounds "$ROUNDS" --shapes "$SHAPES" | sed "s/^/run=$run /" >>"$LOG" || exit 1
done
echo "== load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PYTHON" - "$LOG" <<'EOF'
import statistics, sys
times = {}
order = []
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    side = "graft" if " bn_cpu " in line else "torch"
    key = (f["op"], int(f["batch"]), int(f["features"]))
    if key not in order:
        order.append(key)
    times.setdefault((side, key), []).append(float(f["us"]))
for key in order:
    g = statistics.median(times[("graft", key)]) if ("graft", key) in times else None
    t = statistics.median(times[("torch", key)]) if ("torch", key) in times else None
    gs = "%.2f" % g if g is not None else "-"
    ts = "%.2f" % t if t is not None else "-"
    sp = "%.2f" % (t / g) if g and t else "-"
    print("%s batch=%d features=%d graft_us=%s torch_us=%s speedup=%s" % (key[0], key[1], key[2], gs, ts, sp))
EOF
