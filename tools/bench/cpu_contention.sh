#!/bin/bash
# Batch-50 CPU training with one core busy, as a fraction of the quiet run
# (issue 15: the thread team must degrade gracefully; goal >= 0.45).
#   tools/bench/cpu_contention.sh [GRAFT] [DATA_DIR] [THREADS]
# Prints the median examples/s of epochs 2..8, quiet, then with a busy loop
# (started here) on one core, and their ratio.
set -euo pipefail
G=${1:-build/tools/graft}
DATA=${2:-/usr/share/datasets/fashion-mnist}
THREADS=${3:-2}
metrics=$(mktemp --suffix=.jsonl)
trap 'rm -f "$metrics"; [ -n "${busy:-}" ] && kill "$busy" 2>/dev/null || true' EXIT
run() {
  "$G" train --data "$DATA" --device cpu --epochs 8 --threads "$THREADS" --batch-size 50 --validation 1000 \
    --metrics "$metrics" >/dev/null
  python3 -c "
import json, statistics, sys
r = [json.loads(l)['examples_per_second'] for l in open(sys.argv[1])][1:]
print(round(statistics.median(r)))" "$metrics"
}
quiet=$(run)
(while :; do :; done) &
busy=$!
loaded=$(run)
kill "$busy"; busy=
echo "examples/s quiet $quiet, one core busy $loaded, fraction $(python3 -c "print(round($loaded / $quiet, 2))")"
