#!/usr/bin/env bash
# graft against the PyTorch peer (tools/peers/torch_mlp.py), one after the
# other in this one command, on the same data, the same network and the same
# thread count, plus checkpoint I/O against `cp` (ckpt_bench).
#
#   tools/bench/compare.sh [cpu|gpu]          (default cpu)
#
# cpu: builds graft-bench and ckpt_bench if needed (Release, in $GRAFT_BUILD_DIR,
#      default build/), installs python3-torch and libopenblas0-pthread with
#      apt-get when missing, then runs
#        OPENBLAS_NUM_THREADS=1 graft-bench --device cpu --threads $THREADS
#        OPENBLAS_NUM_THREADS=1 torch_mlp.py --device cpu --threads $THREADS
#      (torch's fastest setting here: its intra-op threads, single-threaded
#      OpenBLAS calls; graft sets OpenBLAS to one thread itself and splits
#      the work with its own team). With THREADS > 1 the peer also runs on
#      one torch thread in every round (often its faster setting on a
#      small VM): each case's ratio_best is graft against the faster of the
#      two, round by round. It is also run, shorter, with
#      OPENBLAS_NUM_THREADS=$THREADS for reference (PEER_VARIANTS=0 skips
#      that run; PEER_ONE_THREAD=0 the one-thread runs).
# gpu: graft-bench --device cuda and torch_mlp.py --device cuda --graphs;
#      ratios are graft vs torch eager, the CUDA-graph numbers are shown too.
#      Installs nothing.
#
# Environment:
#   GRAFT_BENCH_BIN   a prebuilt graft-bench (e.g. .devlibs/bin/graft-bench);
#                     no build then. ckpt_bench is taken from beside it if there.
#   GRAFT_BUILD_DIR   build folder (default build)
#   GRAFT_CMAKE_ARGS  extra cmake arguments for a fresh configure (e.g.
#                     -DGRAFT_WITH_CUDA=OFF: no CUDA library to compile)
#   THREADS           CPU threads for both sides (default: nproc)
#   REPEATS           timed repeats per case, both sides (default 5)
#   DATA              Fashion-MNIST folder (default /usr/share/datasets/fashion-mnist);
#                     when it lacks the training files both sides use
#                     synthetic data of the same shape
#   PYTHON            interpreter with torch (cpu default /usr/bin/python3, the
#                     Debian package; gpu default python3)
#   ROUNDS            cpu: graft and the peer alternate this many times (default 1);
#                     with more than 1 each case's ratio is the median of the
#                     rounds' ratios, and each round's ratio is printed: a VM
#                     whose speed drifts within a minute then still compares
#                     the two sides under the same conditions
#   CKPT_REPEATS      ckpt_bench repeats (default 5; 0 skips it)
#   OUT / LOGDIR      where the raw logs go (default $GRAFT_BUILD_DIR/bench-logs)
#
# BLAS kernels (cpu): graft-bench runs with GRAFT_BLAS_CORE=auto, so it
# uses the OpenBLAS kernels best for this CPU's flags even where the
# environment sets OPENBLAS_CORETYPE (host/cpu/blas_kernels.h); the peer then
# runs with OPENBLAS_CORETYPE set to the core graft-bench reported, so both
# sides use the same kernels. BENCH_BLAS_CORE=env keeps the environment's
# OPENBLAS_CORETYPE for both instead. OPENBLAS_L2_SIZE is left as it is (it
# applies to both). Both are reported. Output ends with one line per case:
#   CASE graft=X peer=Y ratio=R limit=L peer_best=B ratio_best=RB best_torch_threads=S
#     (samples/s; R = graft/peer; L = graft / physical limit; B = the faster
#     peer setting's samples/s, RB = graft/B, both medians over the rounds,
#     S = the faster setting's torch threads in each round, a/b/c; cpu only)
#     (train_bN: the reference network; train_bn_bN: the same with batch
#     norm before each hidden ReLU and dropout 0.2 after it, BatchNorm1d and
#     Dropout on the peer's side; infer_b10000)
#   transfer_cached epoch_ms=X unfrozen_ms=Y ratio=R
#   ckpt_read graft_mbps=X cp_mbps=Y ratio=R
#   ckpt_write graft_mbps=X cp_mbps=Y ratio=R
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)

MODE=${1:-cpu}
case $MODE in
  cpu|gpu) ;;
  -h|--help) sed -n '2,50p' "$0"; exit 0 ;;
  *) echo "compare.sh: mode must be cpu or gpu, got '$MODE'" >&2; exit 2 ;;
esac

BUILD=${GRAFT_BUILD_DIR:-build}
THREADS=${THREADS:-$(nproc 2>/dev/null || echo 2)}
REPEATS=${REPEATS:-5}
ROUNDS=${ROUNDS:-1}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: ROUNDS=$ROUNDS is not a positive whole number" >&2; exit 2; }
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
CKPT_REPEATS=${CKPT_REPEATS:-5}
PEER_VARIANTS=${PEER_VARIANTS:-1}
PEER_ONE_THREAD=${PEER_ONE_THREAD:-1}
ONE_THREAD=0  # set below: cpu mode, THREADS > 1 and PEER_ONE_THREAD=1
if [[ $MODE == cpu ]]; then PYTHON=${PYTHON:-/usr/bin/python3}; else PYTHON=${PYTHON:-python3}; fi
PEER=$ROOT/tools/peers/torch_mlp.py

# ---------------------------------------------------------------- the peer's and the limit's needs (cpu only; before the build)
if [[ $MODE == cpu ]]; then
  need=()
  "$PYTHON" -c "import torch" 2>/dev/null || need+=(python3-torch)
  dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need+=(libopenblas0-pthread)
  # oneDNN's matmul for the limit (the fastest SGEMM on the machine, issue 16)
  dpkg -s libdnnl-dev >/dev/null 2>&1 || need+=(libdnnl-dev)
  if ((${#need[@]})); then
    echo "== apt-get install ${need[*]}"
    if [[ $(id -u) == 0 ]]; then SUDO=(); else SUDO=(sudo); fi
    "${SUDO[@]}" apt-get install -y --no-install-recommends "${need[@]}" >/dev/null ||
      { echo "compare.sh: could not install ${need[*]}" >&2; exit 1; }
    [[ $PYTHON == /usr/bin/python3 ]] || echo "compare.sh: note: PYTHON=$PYTHON; the Debian torch is for /usr/bin/python3" >&2
  fi
else
  "$PYTHON" -c "import torch; assert torch.cuda.is_available()" 2>/dev/null ||
    echo "compare.sh: warning: $PYTHON has no CUDA-enabled torch; the peer will fail" >&2
fi

# ---------------------------------------------------------------- binaries
if [[ -n ${GRAFT_BENCH_BIN:-} ]]; then
  BENCH_BIN=$GRAFT_BENCH_BIN
  CKPT_BIN=$(dirname "$BENCH_BIN")/ckpt_bench
else
  if [[ ! -f $BUILD/CMakeCache.txt ]]; then
    echo "== configure $BUILD (Release)"
    # shellcheck disable=SC2086
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DGRAFT_BUILD_BENCH=ON ${GRAFT_CMAKE_ARGS:-} >/dev/null || exit 1
  else
    bt=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
    [[ $bt == Release ]] || echo "compare.sh: warning: $BUILD is a '$bt' build, not Release" >&2
    cmake -S . -B "$BUILD" >/dev/null || exit 1  # finds a library installed above (oneDNN for the limit)
  fi
  echo "== build graft-bench ckpt_bench in $BUILD"
  cmake --build "$BUILD" --target graft-bench ckpt_bench -j "$THREADS" >/dev/null || {
    echo "compare.sh: build failed (cmake --build $BUILD --target graft-bench ckpt_bench)" >&2; exit 1; }
  BENCH_BIN=$BUILD/tools/bench/graft-bench
  CKPT_BIN=$BUILD/tools/bench/ckpt_bench
fi
[[ -x $BENCH_BIN ]] || { echo "compare.sh: no graft-bench at $BENCH_BIN" >&2; exit 1; }

LOGDIR=${OUT:-${LOGDIR:-$BUILD/bench-logs}}
mkdir -p "$LOGDIR"

# ---------------------------------------------------------------- data
DATA_ARGS_GRAFT=(--data "$DATA")
DATA_ARGS_PEER=(--data "$DATA")
if ! ls "$DATA"/train-images-idx3-ubyte* >/dev/null 2>&1 || ! ls "$DATA"/train-labels-idx1-ubyte* >/dev/null 2>&1; then
  echo "compare.sh: no Fashion-MNIST training files in $DATA: both sides use synthetic data"
  DATA_ARGS_GRAFT=(--synthetic)
  DATA_ARGS_PEER=(--synthetic)
fi

# ---------------------------------------------------------------- the machine
echo "== machine"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc) (threads used: $THREADS)"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE-unset} (both sides run under these)"
[[ -n ${OPENBLAS_CORETYPE:-} || -n ${OPENBLAS_L2_SIZE:-} ]] &&
  echo "compare.sh: NOTE: OpenBLAS tuning variables are set; OPENBLAS_L2_SIZE applies to both sides, OPENBLAS_CORETYPE is overridden for both unless BENCH_BLAS_CORE=env"

# Other processes' CPU use while a side runs, in cores (all CPU time on the
# machine minus this script's children): the machine may be shared, and a
# busy neighbour on a 2-core VM halves either side. Reported, not corrected.
HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
busy_s() { awk -v hz="$HZ" '/^cpu / { print ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat; }
# `times` must run in this shell (a subshell has no children of its own yet).
TIMES_FILE=$(mktemp); trap 'rm -f "$TIMES_FILE"' EXIT
children_s() { awk 'NR == 2 { n = 0; for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); n += t[1] * 60 + t[2] } print n }' "$TIMES_FILE"; }
now_s() { date +%s.%N; }
load_begin() { times >"$TIMES_FILE"; LB=$(busy_s); LC=$(children_s); LT=$(now_s); }
load_end() {  # sets LOAD to "X cores over Y s" (other processes' CPU use)
  local b1 c1 t1
  times >"$TIMES_FILE"; b1=$(busy_s); c1=$(children_s); t1=$(now_s)
  LOAD=$(awk -v b0="$LB" -v b1="$b1" -v c0="$LC" -v c1="$c1" -v t0="$LT" -v t1="$t1" 'BEGIN {
    w = t1 - t0; f = ((b1 - b0) - (c1 - c0)) / w; if (f < 0) f = 0
    printf "%.2f cores over %.0f s", f, w }')
}
declare -A BG

GLOG=$LOGDIR/graft-$MODE.log
PLOG=$LOGDIR/peer-$MODE.log
PLOG2=$LOGDIR/peer-$MODE-variant.log
CLOG=$LOGDIR/ckpt.log
: >"$PLOG2"

if [[ $MODE == cpu ]]; then
  GRAFT_ENV=(OPENBLAS_NUM_THREADS=1)
  [[ ${BENCH_BLAS_CORE:-auto} == env ]] || GRAFT_ENV+=(GRAFT_BLAS_CORE=auto)
  echo "== graft: ${GRAFT_ENV[*]} $BENCH_BIN --device cpu --threads $THREADS --repeats $REPEATS ${DATA_ARGS_GRAFT[*]}"
  load_begin
  env "${GRAFT_ENV[@]}" "$BENCH_BIN" --device cpu --threads "$THREADS" --repeats "$REPEATS" "${DATA_ARGS_GRAFT[@]}" 2>&1 | tee "$GLOG"
  [[ ${PIPESTATUS[0]} == 0 ]] || { echo "compare.sh: graft-bench failed" >&2; exit 1; }
  load_end; BG[graft]=$LOAD
  # The peer gets the kernels graft ran (its OpenBLAS is the same library).
  PEER_ENV=(OPENBLAS_NUM_THREADS=1)
  GRAFT_CORE=$(sed -n 's/^graft openblas_core=\([^ ]*\).*/\1/p' "$GLOG" | head -1)
  if [[ ${BENCH_BLAS_CORE:-auto} != env && -n $GRAFT_CORE ]]; then PEER_ENV+=(OPENBLAS_CORETYPE=$GRAFT_CORE); fi
  echo "== peer: ${PEER_ENV[*]} $PYTHON $PEER --device cpu --threads $THREADS --repeats $REPEATS ${DATA_ARGS_PEER[*]}"
  load_begin
  env "${PEER_ENV[@]}" "$PYTHON" "$PEER" --device cpu --threads "$THREADS" --repeats "$REPEATS" "${DATA_ARGS_PEER[@]}" 2>&1 | tee "$PLOG"
  [[ ${PIPESTATUS[0]} == 0 ]] || { echo "compare.sh: the peer failed" >&2; exit 1; }
  load_end; BG[peer]=$LOAD
  # The peer on one torch thread, in every round: on a small machine it is
  # often faster than on $THREADS, and the ratio_best column compares
  # graft with whichever of the two settings was faster in that round.
  ONE_THREAD=0
  ((PEER_ONE_THREAD)) && ((THREADS > 1)) && ONE_THREAD=1
  peer_one_thread() {  # LOG
    env "${PEER_ENV[@]}" "$PYTHON" "$PEER" --device cpu --threads 1 --repeats "$REPEATS" "${DATA_ARGS_PEER[@]}" >"$1" 2>&1 ||
      { echo "compare.sh: the peer failed on one torch thread (log: $1)" >&2; exit 1; }
  }
  if ((ONE_THREAD)); then
    echo "== peer, one torch thread: ${PEER_ENV[*]} $PYTHON $PEER --device cpu --threads 1 --repeats $REPEATS"
    peer_one_thread "$LOGDIR/peer1t-$MODE.log"
  fi
  # Further rounds, alternating (the cases with a peer only: no limit, no transfer).
  for ((r = 2; r <= ROUNDS; r++)); do
    echo "== round $r of $ROUNDS: graft, then the peer"
    env "${GRAFT_ENV[@]}" "$BENCH_BIN" --device cpu --threads "$THREADS" --repeats "$REPEATS" --cases train,bn,infer \
      "${DATA_ARGS_GRAFT[@]}" >"$LOGDIR/graft-$MODE.r$r.log" 2>&1 || { echo "compare.sh: graft-bench failed (round $r)" >&2; exit 1; }
    env "${PEER_ENV[@]}" "$PYTHON" "$PEER" --device cpu --threads "$THREADS" --repeats "$REPEATS" "${DATA_ARGS_PEER[@]}" \
      >"$LOGDIR/peer-$MODE.r$r.log" 2>&1 || { echo "compare.sh: the peer failed (round $r)" >&2; exit 1; }
    ((ONE_THREAD)) && peer_one_thread "$LOGDIR/peer1t-$MODE.r$r.log"
  done
  if ((PEER_VARIANTS)) && ((THREADS > 1)); then
    echo "== peer, for reference: OPENBLAS_NUM_THREADS=$THREADS (BLAS threads inside torch's threads), 2 repeats"
    env "${PEER_ENV[@]}" OPENBLAS_NUM_THREADS="$THREADS" "$PYTHON" "$PEER" --device cpu --threads "$THREADS" --repeats 2 "${DATA_ARGS_PEER[@]}" 2>&1 | tee "$PLOG2"
    if ((!ONE_THREAD)); then
      echo "== peer, for reference: OPENBLAS_NUM_THREADS=1, torch threads 1, 2 repeats"
      env "${PEER_ENV[@]}" "$PYTHON" "$PEER" --device cpu --threads 1 --repeats 2 "${DATA_ARGS_PEER[@]}" 2>&1 |
        sed 's/^peer /peer1t /' | tee -a "$PLOG2"
    fi
  fi
else
  echo "== graft: $BENCH_BIN --device cuda --repeats $REPEATS ${DATA_ARGS_GRAFT[*]}"
  "$BENCH_BIN" --device cuda --repeats "$REPEATS" "${DATA_ARGS_GRAFT[@]}" 2>&1 | tee "$GLOG"
  [[ ${PIPESTATUS[0]} == 0 ]] || { echo "compare.sh: graft-bench failed" >&2; exit 1; }
  echo "== peer: $PYTHON $PEER --device cuda --graphs --repeats $REPEATS ${DATA_ARGS_PEER[*]}"
  "$PYTHON" "$PEER" --device cuda --graphs --repeats "$REPEATS" "${DATA_ARGS_PEER[@]}" 2>&1 | tee "$PLOG"
  [[ ${PIPESTATUS[0]} == 0 ]] || echo "compare.sh: warning: the peer failed; its figures are n/a" >&2
fi

if ((CKPT_REPEATS > 0)) && [[ -x $CKPT_BIN ]]; then
  echo "== ckpt_bench --repeats $CKPT_REPEATS"
  "$CKPT_BIN" --repeats "$CKPT_REPEATS" 2>&1 | tee "$CLOG"
else
  echo "== ckpt_bench skipped (${CKPT_BIN} missing or CKPT_REPEATS=0)"
  : >"$CLOG"
fi

# ---------------------------------------------------------------- results
# field FILE TAG CASE KEY: the value of KEY=... on the line "TAG CASE ...".
field() {
  awk -v tag="$2" -v c="$3" -v k="$4" '$1 == tag && $2 == c {
      for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) { print kv[2]; exit } } }' "$1"
}
# ckpt FILE LABEL: the MiB/s figure on ckpt_bench's line starting with LABEL.
ckpt() { awk -v l="$2" 'index($0, l) == 1 { print $NF; exit }' "$1"; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.3f", a / b }'; }
or_na() { [[ -n $1 ]] && echo "$1" || echo "n/a"; }
median() { tr ' ' '\n' | grep -v '^$' | grep -v 'n/a' | sort -g | awk '{ v[NR] = $1 } END {
  if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

cases=(train_b50 train_b256 train_b4096 train_bn_b50 train_bn_b4096 infer_b10000)
echo
if [[ $MODE == cpu ]]; then echo "== summary (cpu, threads $THREADS, repeats $REPEATS; samples/s, median)"; else echo "== summary (gpu, repeats $REPEATS; samples/s, median)"; fi
echo "graft: $(grep -m1 '^graft device=' "$GLOG" | cut -d' ' -f2-)"
echo "graft: $(grep -m1 '^graft openblas_core=' "$GLOG" | cut -d' ' -f2-)"
grep -m1 '^graft blas=' "$GLOG" | cut -d' ' -f2- | sed 's/^/graft: /' || true
[[ $MODE == cpu ]] && echo "peer environment: ${PEER_ENV[*]}"
grep -m1 '^graft gpu=' "$GLOG" | sed 's/^/graft: /' || true
grep -m1 '^graft sgemm_peak' "$GLOG" | sed 's/^/graft: /' || true
grep -m1 '^peer torch=' "$PLOG" || true
grep -m1 '^peer blas=' "$PLOG" || true
grep -m1 '^peer gpu=' "$PLOG" || true
if [[ $MODE == cpu ]]; then
  echo "other processes' CPU use while graft ran: ${BG[graft]:-n/a}; while the peer ran: ${BG[peer]:-n/a}"
  echo "  (${THREADS} threads on $(nproc) cores: anything well above 0 makes that side's figures unreliable)"
fi
if [[ $MODE == cpu ]]; then
  printf '%-14s %12s %12s %8s %8s %8s   %-8s %12s %10s\n' case graft peer ratio spread_g spread_p "limit(L)" \
    "peer best" "ratio best"
else
  printf '%-14s %12s %12s %8s %8s %8s   %-8s %14s %s\n' case graft "torch eager" ratio spread_g spread_p "limit(L)" "torch graphs" "graft/graphs"
fi
declare -A G P L R ROUND_RATIOS PB P1 RB BT
# log_of KIND K: round K's log of graft, peer or peer1t (round 1: the main logs).
log_of() {
  case $1 in
    graft) if (($2 == 1)); then echo "$GLOG"; else echo "$LOGDIR/graft-$MODE.r$2.log"; fi ;;
    peer) if (($2 == 1)); then echo "$PLOG"; else echo "$LOGDIR/peer-$MODE.r$2.log"; fi ;;
    peer1t) if (($2 == 1)); then echo "$LOGDIR/peer1t-$MODE.log"; else echo "$LOGDIR/peer1t-$MODE.r$2.log"; fi ;;
  esac
}
# best_of_peer CASE: PB, P1, RB and BT of the case, round by round: the
# faster of the peer on $THREADS and on one torch thread in each round.
best_of_peer() {
  local c=$1 k gk pk p1k bs="" p1s="" rbs="" ts=""
  for ((k = 1; k <= ROUNDS; k++)); do
    gk=$(field "$(log_of graft "$k")" graft "$c" samples_per_s)
    pk=$(field "$(log_of peer "$k")" peer "$c" samples_per_s)
    p1k=$(field "$(log_of peer1t "$k")" peer "$c" samples_per_s)
    [[ -n $pk || -n $p1k ]] || continue
    p1s+=" $p1k"
    if [[ -z $pk ]] || { [[ -n $p1k ]] && awk -v a="$p1k" -v b="$pk" 'BEGIN { exit !(a + 0 > b + 0) }'; }; then
      bs+=" $p1k"; rbs+=" $(div "$gk" "$p1k")"; ts+="/1"
    else
      bs+=" $pk"; rbs+=" $(div "$gk" "$pk")"; ts+="/$THREADS"
    fi
  done
  PB[$c]=$(or_na "$(median <<<"$bs")"); P1[$c]=$(or_na "$(median <<<"$p1s")")
  RB[$c]=$(or_na "$(median <<<"$rbs")"); BT[$c]=$(or_na "${ts#/}")
}
((ROUNDS > 1)) && [[ $MODE == cpu ]] &&
  echo "(ROUNDS=$ROUNDS: graft, peer and ratio are medians over the rounds; L uses round 1's limit)"
for c in "${cases[@]}"; do
  g=$(field "$GLOG" graft "$c" samples_per_s)
  p=$(field "$PLOG" peer "$c" samples_per_s)
  lim=$(field "$GLOG" graft "$c" limit_samples_per_s)
  r=$(div "$g" "$p")
  if ((ROUNDS > 1)) && [[ $MODE == cpu ]]; then
    gs=$g ps=$p rs=$r
    for ((k = 2; k <= ROUNDS; k++)); do
      gk=$(field "$LOGDIR/graft-$MODE.r$k.log" graft "$c" samples_per_s)
      pk=$(field "$LOGDIR/peer-$MODE.r$k.log" peer "$c" samples_per_s)
      gs+=" $gk" ps+=" $pk" rs+=" $(div "$gk" "$pk")"
    done
    ROUND_RATIOS[$c]=$rs
    g=$(median <<<"$gs"); p=$(median <<<"$ps"); r=$(median <<<"$rs")
    [[ -n $r ]] || r=n/a
  fi
  G[$c]=$(or_na "$g"); P[$c]=$(or_na "$p"); L[$c]=$(div "$g" "$lim")
  R[$c]=$r
  sg=$(or_na "$(field "$GLOG" graft "$c" spread)"); sp=$(or_na "$(field "$PLOG" peer "$c" spread)")
  if [[ $MODE == cpu ]]; then
    if ((ONE_THREAD)); then best_of_peer "$c"; else PB[$c]=n/a P1[$c]=n/a RB[$c]=n/a BT[$c]=n/a; fi
    printf '%-14s %12s %12s %8s %8s %8s   %-8s %12s %10s\n' "$c" "${G[$c]}" "${P[$c]}" "$r" "$sg" "$sp" "${L[$c]}" \
      "${PB[$c]}" "${RB[$c]}"
  else
    pg=$(field "$PLOG" peer "${c}_graphs" samples_per_s)
    printf '%-14s %12s %12s %8s %8s %8s   %-8s %14s %s\n' "$c" "${G[$c]}" "${P[$c]}" "$r" "$sg" "$sp" "${L[$c]}" \
      "$(or_na "$pg")" "$(div "$g" "$pg")"
  fi
done
over=""
for c in "${cases[@]}"; do
  awk -v l="${L[$c]}" 'BEGIN { exit !(l != "n/a" && l + 0 > 1) }' && over+=" $c"
done
[[ -n $over ]] && echo "note: L above 1 for${over}: the case ran faster than the large-GEMM rate measured at the start; the limit is a measurement (4096^3, that moment), not a bound, so such an L says the machine's speed drifted or small GEMMs ran from cache faster than the large one"
if ((ROUNDS > 1)) && [[ $MODE == cpu ]]; then
  echo "ratio in each round (graft / peer, the two run one after the other):"
  for c in "${cases[@]}"; do printf '  %-14s %s\n' "$c" "${ROUND_RATIOS[$c]}"; done
fi
if [[ $MODE == cpu ]] && ((ONE_THREAD)); then
  echo "peer best: in each round the faster of $THREADS torch threads and 1 (same OPENBLAS settings); its torch threads per round:"
  for c in "${cases[@]}"; do
    printf '  %-14s %s (1 torch thread: %s samples/s, median)\n' "$c" "${BT[$c]}" "${P1[$c]}"
  done
fi
if [[ -s $PLOG2 ]]; then
  echo "peer with other settings (reference only; not used for the ratios):"
  for c in "${cases[@]}"; do
    v=$(field "$PLOG2" peer "$c" samples_per_s); v1=$(field "$PLOG2" peer1t "$c" samples_per_s)
    if ((ONE_THREAD)); then
      printf '  %-14s OPENBLAS_NUM_THREADS=%s: %s\n' "$c" "$THREADS" "$(or_na "$v")"
      # A reference setting faster than the best one is named, not hidden.
      awk -v a="$v" -v b="${PB[$c]}" 'BEGIN { exit !(a != "" && b != "n/a" && a + 0 > b + 0) }' &&
        echo "  note: $c: the peer ran faster with OPENBLAS_NUM_THREADS=$THREADS than in the rounds; ratio_best does not include it"
    else
      printf '  %-14s OPENBLAS_NUM_THREADS=%s: %s   1 torch thread: %s\n' "$c" "$THREADS" "$(or_na "$v")" "$(or_na "$v1")"
    fi
  done
fi
tline=$(grep -m1 '^graft transfer_cached ' "$GLOG" || true)
tdet=$(grep -m1 '^graft transfer_detail ' "$GLOG" || true)
[[ -n $tdet ]] && echo "transfer: $(cut -d' ' -f3- <<<"$tdet")"

cr_g=$(ckpt "$CLOG" "graft read"); cr_c=$(ckpt "$CLOG" "cp to /dev/null")
cw_g=$(ckpt "$CLOG" "graft rewrite"); cw_c=$(ckpt "$CLOG" "cp + sync")
if [[ -s $CLOG ]]; then
  echo "checkpoint I/O (MiB/s): read = graft read vs cp to /dev/null; write = graft rewrite (fsync) vs cp + sync;"
  echo "  graft write from memory $(or_na "$(ckpt "$CLOG" "graft write")"), plain cp $(or_na "$(ckpt "$CLOG" "cp  ")")"
fi

echo
for c in "${cases[@]}"; do
  if [[ $MODE == cpu ]]; then
    echo "$c graft=${G[$c]} peer=${P[$c]} ratio=${R[$c]} limit=${L[$c]} peer_best=${PB[$c]} ratio_best=${RB[$c]} best_torch_threads=${BT[$c]}"
  else
    echo "$c graft=${G[$c]} peer=${P[$c]} ratio=${R[$c]} limit=${L[$c]}"
  fi
done
t_e=$(sed -n 's/.* epoch_ms=\([^ ]*\).*/\1/p' <<<"$tline"); t_u=$(sed -n 's/.* unfrozen_ms=\([^ ]*\).*/\1/p' <<<"$tline")
t_r=$(sed -n 's/.* ratio=\([^ ]*\).*/\1/p' <<<"$tline")
echo "transfer_cached epoch_ms=$(or_na "$t_e") unfrozen_ms=$(or_na "$t_u") ratio=$(or_na "$t_r")"
echo "ckpt_read graft_mbps=$(or_na "$cr_g") cp_mbps=$(or_na "$cr_c") ratio=$(div "$cr_g" "$cr_c")"
echo "ckpt_write graft_mbps=$(or_na "$cw_g") cp_mbps=$(or_na "$cw_c") ratio=$(div "$cw_g" "$cw_c")"
