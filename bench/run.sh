#!/bin/bash
# run.sh - run every benchmark bench/bench_*.sh, in name order, and print their output.
# `make bench` calls it after building and installing the bench packages (scripts/deps.sh bench).
#
# Usage: bash bench/run.sh [NAME...]   NAME: e.g. inject for bench_inject.sh (default: all)
# Environment: BENCH_OUT (default /tmp/sluice-bench) receives each bench's results and a
# copy of its output in BENCH_OUT/<bench>.log; every other variable is passed through to the
# benches (e.g. N=2000 REPS=1).
# Exit status: 0 when every bench succeeded, 1 when any failed (the others still run).
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
export BENCH_OUT=${BENCH_OUT:-/tmp/sluice-bench}
mkdir -p "$BENCH_OUT"

benches=()
if [ $# -gt 0 ]; then
    for name in "$@"; do
        f=$HERE/bench_${name#bench_}
        f=${f%.sh}.sh
        [ -f "$f" ] || { echo "run.sh: no such bench: $f" >&2; exit 2; }
        benches+=("$f")
    done
else
    for f in "$HERE"/bench_*.sh; do [ -f "$f" ] && benches+=("$f"); done
fi
[ ${#benches[@]} -gt 0 ] || { echo "run.sh: no bench/bench_*.sh found" >&2; exit 2; }

# ^C: the running bench gets it too and cleans up after itself; tee -i keeps showing its
# output meanwhile, and no further bench is started.
interrupted=0
trap 'interrupted=1' INT TERM

failed=()
for f in "${benches[@]}"; do
    name=$(basename "$f" .sh)
    echo "=================== $name  ($(date '+%Y-%m-%d %H:%M:%S'), $(nproc) CPUs, $(uname -r))"
    start=$(date +%s)
    bash "$f" 2>&1 | tee -i "$BENCH_OUT/$name.log"
    rc=${PIPESTATUS[0]}
    echo "=================== $name: exit $rc after $(($(date +%s) - start)) s (output: $BENCH_OUT/$name.log)"
    echo
    [ "$rc" = 0 ] || failed+=("$name")
    if [ "$interrupted" = 1 ]; then
        echo "run.sh: interrupted"
        exit 130
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "run.sh: failed: ${failed[*]}"
    exit 1
fi
echo "run.sh: all ${#benches[@]} bench(es) finished"
