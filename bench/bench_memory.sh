#!/bin/bash
# bench_memory.sh - RAM per queued recipient with 1,000,000 queued recipients (issue 4's
# target: <= 300 bytes), one recipient per message (the worst case) and ten per message.
# Runs build/bench/bench_memory (see bench_memory.c for what it measures).
# Environment: N (default 1000000), DIR (default /var/tmp/sluice-membench).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${BENCH_MEMORY:-$HERE/../build/bench/bench_memory}
N=${N:-1000000}
DIR=${DIR:-/var/tmp/sluice-membench}
OUT=${BENCH_OUT:-/tmp/sluice-bench}
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "bench_memory: $BIN not built (make build)" >&2; exit 1; }
status=0
for per in 1 10; do
    echo "-- $N queued recipients, $per per message"
    "$BIN" "$N" "$per" "$DIR" | tee "$OUT/memory-$per.txt"
    b=$(sed -n 's/.*"heap_bytes_per_rcpt":\([0-9]*\).*/\1/p' "$OUT/memory-$per.txt")
    if [ -n "$b" ] && [ "$b" -le 300 ]; then
        echo "[PASS] $b bytes per queued recipient <= 300"
    else
        echo "[MISS] ${b:-?} bytes per queued recipient > 300"
        status=1
    fi
done
exit $status
