#!/usr/bin/env bash
# The per-kernel comparison of docs/performance.md: kernel_bench with each
# GEMM library found, interleaved round by round (the machine may be shared:
# every variant sees the same disturbances), then the median of the rounds.
#
#   tools/bench/kernels/compare_kernels.sh            (build dir: $GRAFT_BUILD_DIR or build)
#
# Variants: OpenBLAS under the environment as it is, with OPENBLAS_CORETYPE
# =Prescott (what OpenBLAS 0.3.21 falls back to on a CPU it does not know)
# and with the best core type for this CPU's flags; BLIS as it configures
# itself and with its best configuration; oneDNN matmul; libxsmm through
# graft's wrapper (one thread only: its kernels are single-threaded; it has
# no kernel for dX, whose cells are then "—", and its step total takes dX
# from the best OpenBLAS, as graft runs it).
# Environment: ROUNDS (3), THREADS ("1 2"), BATCHES (50,256,4096; "" for none),
# MIN_MS (40), PEAK (0; N adds the N³ GEMM), KEEP_LOG (a file for the raw lines),
# SUMMARIZE (a KEEP_LOG file of an earlier run, stopped early or not: only
# its tables are printed, from the rounds it holds).
set -uo pipefail
cd "$(dirname "$0")/../../.." || exit 1
BUILD=${GRAFT_BUILD_DIR:-build}
BIN=$BUILD/tools/bench/kernels
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-"1 2"}
BATCHES=${BATCHES:-50,256,4096}
MIN_MS=${MIN_MS:-40}
PEAK=${PEAK:-0}  # N > 0: also the N³ GEMM rate of each variant (op=peak)
if [[ -z ${SUMMARIZE:-} ]]; then
cmake --build "$BUILD" --target kernel_bench_openblas >/dev/null || exit 1
cmake --build "$BUILD" --target kernel_bench_blis >/dev/null 2>&1 || true
cmake --build "$BUILD" --target kernel_bench_onednn >/dev/null 2>&1 || true
cmake --build "$BUILD" --target kernel_bench_libxsmm >/dev/null 2>&1 || true

flags=$(grep -m1 '^flags' /proc/cpuinfo)
has() { [[ " $flags " == *" $1 "* ]]; }
amd=0; grep -qE 'AuthenticAMD|HygonGenuine' /proc/cpuinfo && amd=1
if has avx512f && has avx512bw && has avx512vl && has avx512dq; then ob_best=SkylakeX; blis_best=skx
elif has avx2 && has fma; then
  if ((amd)); then ob_best=Zen; blis_best=zen3; else ob_best=Haswell; blis_best=haswell; fi
else ob_best=Sandybridge; blis_best=sandybridge; fi

# name|environment|binary|arguments
variants=("openblas-env||kernel_bench_openblas|"
          "openblas-Prescott|OPENBLAS_CORETYPE=Prescott|kernel_bench_openblas|"
          "openblas-$ob_best|OPENBLAS_CORETYPE=$ob_best|kernel_bench_openblas|")
if [[ -x $BIN/kernel_bench_blis ]]; then
  variants+=("blis-auto||kernel_bench_blis|" "blis-$blis_best||kernel_bench_blis|--arch $blis_best")
fi
[[ -x $BIN/kernel_bench_onednn ]] && variants+=("onednn||kernel_bench_onednn|")
[[ -x $BIN/kernel_bench_libxsmm ]] && variants+=("libxsmm||kernel_bench_libxsmm|")

if [[ -n ${KEEP_LOG:-} ]]; then LOG=$KEEP_LOG; : >"$LOG"; else LOG=$(mktemp); trap 'rm -f "$LOG"' EXIT; fi
echo "== cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), flags: $(for f in avx avx2 fma avx512f avx512bw avx512vl avx512dq avx512_bf16 amx_tile; do has $f && printf '%s ' $f; done)"
echo "== environment: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-unset} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE-unset}; load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= ROUNDS; r++)); do
  for t in $THREADS; do
    for v in "${variants[@]}"; do
      IFS='|' read -r name envs bin args <<<"$v"
      peak=$PEAK
      if [[ $name == libxsmm ]]; then
        [[ $t == 1 ]] || continue
        peak=0  # no cache blocking: an N³ GEMM is not what graft hands it
      fi
      # shellcheck disable=SC2086
      env $envs "$BIN/$bin" --threads "$t" --rounds 5 --min-ms "$MIN_MS" --batches "$BATCHES" --peak "$peak" $args |
        sed "s/^kernel /kernel variant=$name round=$r /" >>"$LOG" || { echo "compare_kernels: $name failed" >&2; exit 1; }
    done
  done
  echo "== round $r done; load $(cut -d' ' -f1-3 /proc/loadavg)"
done
else
  LOG=$SUMMARIZE
  grep -q '^kernel variant=.* max_rel_err=' "$LOG" 2>/dev/null ||
    { echo "compare_kernels: SUMMARIZE=$LOG is not a kept log of this script (no complete kernel lines)" >&2; exit 2; }
  mapfile -t variants < <(grep -o 'variant=[^ ]*' "$LOG" | cut -d= -f2 | awk '!seen[$0]++')
  ob_best=$(printf '%s\n' "${variants[@]}" | grep -m1 -E '^openblas-(SkylakeX|Zen|Haswell|Sandybridge)$' | cut -d- -f2)
  echo "== summary of $LOG: $(grep -o 'round=[0-9]*' "$LOG" | sort -u | wc -l) round(s)"
fi

awk -v fill="openblas-$ob_best" -v variants="$(printf '%s\n' "${variants[@]}" | cut -d'|' -f1 | tr '\n' ' ')" '
function val(k,   i, kv) { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] } return "" }
function median(list,   a, n, i, j, t) {
  n = split(list, a, " "); for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
$1 == "kernel" && / max_rel_err=/ {  # a line cut short (a run stopped early) is left out
  v = val("variant"); t = val("threads"); key = t SUBSEP val("batch") SUBSEP val("layer") SUBSEP val("op")
  G[v, key] = G[v, key] " " val("gflops"); U[v, key] = U[v, key] " " val("us")
  if (!(key in seen)) { seen[key] = 1; S[++n] = key }  # kernel_bench order: batch, layer, op
  tb = t SUBSEP val("batch"); HAS[v, tb] = 1; if (!(tb in seen_tb)) { seen_tb[tb] = 1; T[++m] = tb }
  if (!(v in K)) { match($0, /kernels="[^"]*"/); K[v] = substr($0, RSTART + 9, RLENGTH - 10) }
}
END {
  nv = split(variants, V, " ")
  printf "\nkernels: "; for (i = 1; i <= nv; i++) printf "%s%s = %s", (i > 1 ? "; " : ""), V[i], K[V[i]]; print ""
  printf "\nGFLOP/s, median of the rounds\n| threads | batch | layer | op |"; for (i = 1; i <= nv; i++) printf " %s |", V[i]; print ""
  printf "| ---: | ---: | --- | --- |"; for (i = 1; i <= nv; i++) printf " ---: |"; print ""
  for (s = 1; s <= n; s++) { split(S[s], f, SUBSEP); printf "| %s | %s | %s | %s |", f[1], f[2], f[3], f[4]
    for (i = 1; i <= nv; i++) if (G[V[i], S[s]] == "") printf " — |"; else printf " %.1f |", median(G[V[i], S[s]])
    print ""
    # One training step of 784-300-50-50-50-50-10: forward and dW of every
    # layer (50-50 three times), dX of all but the first. A variant without
    # the case (libxsmm: dX; a threads row it did not run) takes the best
    # OpenBLAS core type time, as graft would run it, and is marked *.
    w = f[3] == "50-50" ? 3 : 1
    if (!(f[3] == "784-300" && f[4] == "dX") && f[4] != "peak") for (i = 1; i <= nv; i++) {
      k = V[i]; if (U[k, S[s]] == "") { k = fill; FILLED[V[i], f[1] SUBSEP f[2]] = 1 }
      STEP[V[i], f[1] SUBSEP f[2]] += w * median(U[k, S[s]])
    }
  }
  printf "\nGEMM time of one training step of 784-300-50-50-50-50-10 (us, medians summed; lower is better)\n"
  printf "| threads | batch |"; for (i = 1; i <= nv; i++) printf " %s |", V[i]; print ""
  printf "| ---: | ---: |"; for (i = 1; i <= nv; i++) printf " ---: |"; print ""
  for (s = 1; s <= m; s++) { split(T[s], f, SUBSEP); printf "| %s | %s |", f[1], f[2]
    for (i = 1; i <= nv; i++) if (!((V[i], T[s]) in HAS)) printf " — |"; else printf " %.0f%s |", STEP[V[i], T[s]], FILLED[V[i], T[s]] ? "*" : ""; print "" }
  print "\n* dX (or the whole row) by " fill ", as graft runs it"
}' "$LOG"
