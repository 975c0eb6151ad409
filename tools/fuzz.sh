#!/usr/bin/env bash
# tools/fuzz.sh SECONDS [TARGET...]
# Builds the libFuzzer targets (tools/fuzz) with clang in build-fuzz/ and runs
# each for SECONDS, one after the other, seeded from the fixtures
# (../shared/fixtures or $GRAFT_FIXTURES). Inputs found are kept in
# build-fuzz/corpus/TARGET (reused by the next run); crashing inputs go to
# build-fuzz/crashes/TARGET/. Prints each target's executions and the crash
# count; exits 1 when any target crashed.
#   TARGET: fuzz_index fuzz_entry_proto fuzz_state_file fuzz_idx fuzz_meta_graph fuzz_npy fuzz_csv
#           fuzz_npz fuzz_keras_metadata (default: all)
#   env: GRAFT_FUZZ_BUILD_DIR (build-fuzz), JOBS (2), GRAFT_FUZZ_ARGS (extra
#   libFuzzer flags). Run it under `nice -n 19` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: tools/fuzz.sh SECONDS [fuzz_index|fuzz_entry_proto|fuzz_state_file|fuzz_idx|fuzz_meta_graph|fuzz_npy|fuzz_csv|fuzz_npz|fuzz_keras_metadata ...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
seconds=$1
shift
[[ $seconds =~ ^[0-9]+$ ]] || usage
all=(fuzz_index fuzz_entry_proto fuzz_state_file fuzz_idx fuzz_meta_graph fuzz_npy fuzz_csv fuzz_npz fuzz_keras_metadata)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target $t" >&2; usage; }
done

build=${GRAFT_FUZZ_BUILD_DIR:-build-fuzz}
GRAFT_DEPS_FUZZ=1 tools/install-deps.sh
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGRAFT_BUILD_FUZZERS=ON -DGRAFT_WITH_CUDA=OFF \
  -DGRAFT_BUILD_TESTS=OFF -DGRAFT_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target "${targets[@]}" fuzz_seed_entries fuzz_seed_keras_metadata fuzz_seed_meta_graph >/dev/null

# --- seeds (rebuilt every run, never stored in the repository) ---
fixtures=${GRAFT_FIXTURES:-../shared/fixtures}
seeds=$build/seeds
rm -rf "$seeds"
mkdir -p "$seeds"/{fuzz_index,fuzz_entry_proto,fuzz_state_file,fuzz_idx,fuzz_meta_graph,fuzz_npy,fuzz_csv,fuzz_npz,fuzz_keras_metadata}
if [ -d "$fixtures" ]; then
  n=0
  for f in "$fixtures"/tf*/*/*.index; do cp "$f" "$seeds/fuzz_index/$n.index"; n=$((n + 1)); done
  "$build/fuzz/fuzz_seed_entries" "$fixtures"/tf*/*/*.index "$seeds/fuzz_entry_proto" >/dev/null
  n=0
  for f in "$fixtures"/tf*/*/checkpoint; do cp "$f" "$seeds/fuzz_state_file/$n"; n=$((n + 1)); done
  n=0
  for f in "$fixtures"/tf1/*/*.meta; do cp "$f" "$seeds/fuzz_meta_graph/$n.meta"; n=$((n + 1)); done
  # Small IDX files cut from the MNIST test set: 2 images (rank 3), 20 labels
  # (rank 1), raw and gzip'd; plus the real (4.5 KB) gzip'd label file.
  imgs=$fixtures/mnist/t10k-images-idx3-ubyte.gz
  labels=$fixtures/mnist/t10k-labels-idx1-ubyte.gz
  if [ -f "$imgs" ] && [ -f "$labels" ]; then
    { printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x1c\x00\x00\x00\x1c'
      gzip -dc "$imgs" | tail -c +17 | head -c 1568 || true; } >"$seeds/fuzz_idx/images2"
    { printf '\x00\x00\x08\x01\x00\x00\x00\x14'
      gzip -dc "$labels" | tail -c +9 | head -c 20 || true; } >"$seeds/fuzz_idx/labels20"
    gzip -c "$seeds/fuzz_idx/images2" >"$seeds/fuzz_idx/images2.gz"
    gzip -c "$seeds/fuzz_idx/labels20" >"$seeds/fuzz_idx/labels20.gz"
    cp "$labels" "$seeds/fuzz_idx/t10k-labels.gz"
  fi
else
  echo "fuzz.sh: no fixtures at $fixtures; seeding with hand-made inputs only" >&2
fi
# Hand-built graphs with the fused and tf.contrib batch norms and an input
# transform, written from their builders (tests/common/meta_graph_seeds.h;
# tests/reliability checks what they import as).
"$build/fuzz/fuzz_seed_meta_graph" "$seeds/fuzz_meta_graph" >/dev/null
printf 'model_checkpoint_path: "model.ckpt-20"\nall_model_checkpoint_paths: "model.ckpt-10"\nall_model_checkpoint_paths: "model.ckpt-20"\nall_model_checkpoint_timestamps: 1700000000.5\nall_model_checkpoint_timestamps: 1.7e9\nlast_preserved_timestamp: 1699999999.25\n' \
  >"$seeds/fuzz_state_file/full"
printf 'model_checkpoint_path: "/abs/dir/m\\303\\251\\"q\\n"\n' >"$seeds/fuzz_state_file/escapes"
# The reliability cases of the state file (docs/reliability.md): paths that
# climb out of the directory, an absolute path, a prefix listed twice, an
# empty path, a path with a NUL, a truncated line, an entry with no path.
printf 'model_checkpoint_path: "../../outside/model.ckpt"\nall_model_checkpoint_paths: "../../outside/model.ckpt"\n' \
  >"$seeds/fuzz_state_file/traversal"
printf 'model_checkpoint_path: "/tmp/m.ckpt-3"\nall_model_checkpoint_paths: "m.ckpt-3"\nall_model_checkpoint_paths: "m.ckpt-3"\n' \
  >"$seeds/fuzz_state_file/duplicate"
printf 'model_checkpoint_path: ""\n' >"$seeds/fuzz_state_file/empty_path"
printf 'model_checkpoint_path: "m\\000.ckpt"\n' >"$seeds/fuzz_state_file/nul"
printf 'model_checkpoint_path: "m.ckpt-1' >"$seeds/fuzz_state_file/truncated"
printf 'all_model_checkpoint_timestamps: 1e999\nmodel_checkpoint_path:\n' >"$seeds/fuzz_state_file/no_path"
printf '\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x03abcdef' >"$seeds/fuzz_idx/rank2"
printf '\x00\x00\x0d\x02\x00\x00\x00\x01\x00\x00\x00\x02\x3f\x80\x00\x00\xc0\x00\x00\x00' >"$seeds/fuzz_idx/float"
# .npy images (numpy's header layout), CSV files and an .npz archive.
npy() {  # DESCR SHAPE BYTES-AS-PRINTF
  local h="{'descr': '$1', 'fortran_order': False, 'shape': $2, }"
  while [ $(( (10 + ${#h} + 1) % 64 )) -ne 0 ]; do h="$h "; done
  printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(( (${#h} + 1) % 256 )))\\x$(printf %02x $(( (${#h} + 1) / 256 )))"
  printf '%s\n' "$h"; printf "$3"
}
npy '<f4' '(2, 2)' '\x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40\x00\x00\x80\x40' >"$seeds/fuzz_npy/f4"
npy '|u1' '(3,)' '\x01\x02\x03' >"$seeds/fuzz_npy/u1"
npy '>f8' '(1, 1)' '\x3f\xf0\x00\x00\x00\x00\x00\x00' >"$seeds/fuzz_npy/be"
printf 'a,b,label\n1.5,2,0\n3,-4e2,1\n' >"$seeds/fuzz_csv/numeric"
# keras_metadata.pb: a Sequential with batch norm, a functional chain, a Conv2D (refused).
"$build/fuzz/fuzz_seed_keras_metadata" "$seeds/fuzz_keras_metadata" >/dev/null
printf 'x,"species"\r\n1,"cat"\r\n2,"dog, spotted"\r\n3,"two\nlines"\r\n' >"$seeds/fuzz_csv/names"
if command -v zip >/dev/null; then
  (cd "$seeds/fuzz_npy" && cp f4 x_train.npy && cp u1 y_train.npy && zip -q -0 ../fuzz_npz/train.npz x_train.npy y_train.npy && rm x_train.npy y_train.npy)
fi
cat >"$build/state_file.dict" <<'EOF'
"model_checkpoint_path"
"all_model_checkpoint_paths"
"all_model_checkpoint_timestamps"
"last_preserved_timestamp"
":"
"\""
"{"
"}"
"inf"
"nan"
"1e308"
"#"
EOF

max_len() {
  case $1 in
    fuzz_index) echo 4096 ;;
    fuzz_entry_proto) echo 512 ;;
    fuzz_state_file) echo 1024 ;;
    fuzz_idx) echo 4096 ;;
    fuzz_meta_graph) echo 1048576 ;;  # the fixtures' graphs are 30-570 KB
    fuzz_npy|fuzz_csv) echo 2048 ;;
    fuzz_npz) echo 4096 ;;
    fuzz_keras_metadata) echo 16384 ;;
  esac
}

total_crashes=0
summary=()
for t in "${targets[@]}"; do
  corpus=$build/corpus/$t
  crashes=$build/crashes/$t
  log=$build/logs/$t.log
  mkdir -p "$corpus" "$crashes" "$build/logs"
  touch "$build/logs/$t.start"
  extra=()
  [ "$t" = fuzz_state_file ] && extra+=("-dict=$build/state_file.dict")
  echo "fuzz.sh: $t for ${seconds}s (log: $log)"
  set +e
  # shellcheck disable=SC2086
  "$build/fuzz/$t" "$corpus" "$seeds/$t" -max_total_time="$seconds" -max_len="$(max_len "$t")" \
    -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 -artifact_prefix="$crashes/" \
    "${extra[@]}" ${GRAFT_FUZZ_ARGS:-} >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 | awk '{print $2}')
  [ -n "$runs" ] || runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | awk '{print $2}' | tail -1)
  # Only this run's artifacts count (older ones stay for inspection).
  n_crash=$(find "$crashes" -maxdepth 1 -type f -newer "$build/logs/$t.start" \
    \( -name 'crash-*' -o -name 'leak-*' -o -name 'oom-*' -o -name 'timeout-*' \) | wc -l)
  total_crashes=$((total_crashes + n_crash))
  line="$t: ${runs:-?} executions in ${seconds}s, corpus $(find "$corpus" -type f | wc -l) inputs, crashes $n_crash (exit $rc)"
  [ "$rc" -ne 0 ] && line+=" -- see $log"
  summary+=("$line")
  echo "$line"
done
echo
echo "fuzz.sh summary (${seconds}s per target):"
printf '  %s\n' "${summary[@]}"
echo "  new crashing inputs (under $build/crashes): $total_crashes"
[ "$total_crashes" -eq 0 ]
