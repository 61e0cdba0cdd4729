#!/bin/bash
# check.sh - what `make check` runs: every test in three builds, then one summary line.
#   build/       optimised (RelWithDebInfo): unit, end-to-end and crash tests
#   build-asan/  the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   build-fuzz/  clang + libFuzzer: each fuzz target runs FUZZ_SECONDS (default 15)
# The last line is "N passed, N failed" over all three runs, for CI to read.
set -u
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
passed=0
failed=0
status=0

# tally LOGFILE - add ctest's "N tests failed out of M" to the totals
tally() {
    local line f t
    line=$(grep -E '[0-9]+ tests failed out of [0-9]+' "$1" | tail -n 1)
    if [ -z "$line" ]; then
        echo "check.sh: no ctest summary in $1" >&2
        failed=$((failed + 1)); status=1; return
    fi
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/')
    t=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/')
    passed=$((passed + t - f)); failed=$((failed + f))
    [ "$f" = 0 ] || status=1
}

# run_suite NAME BUILD_DIR CMAKE_ARGS CTEST_ARGS BUILD_TARGET
run_suite() {
    local name=$1 dir=$2 cargs=$3 targs=$4 target=$5 log
    log=$dir/ctest.log
    echo "== $name: configure and build ($dir)"
    # shellcheck disable=SC2086
    if ! cmake -S . -B "$dir" $cargs >"$dir.cmake.log" 2>&1 || \
       ! cmake --build "$dir" -j "$JOBS" $target >"$dir.build.log" 2>&1; then
        cat "$dir.cmake.log" "$dir.build.log" 2>/dev/null | tail -n 40
        echo "== $name: BUILD FAILED"
        failed=$((failed + 1)); status=1; return
    fi
    echo "== $name: test"
    # shellcheck disable=SC2086
    (cd "$dir" && ctest --output-on-failure $targs) 2>&1 | tee "$log" | grep -E '^ *[0-9]+/[0-9]+ Test|tests passed|tests failed|Output|Error|FAIL' | sed 's/^/   /'
    tally "$log"
}

mkdir -p build build-asan build-fuzz
run_suite "optimised" build "-DCMAKE_BUILD_TYPE=RelWithDebInfo" "-j 2 -LE fuzz" ""
run_suite "ASan+UBSan" build-asan "-DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON" "-j 2 -LE fuzz" ""
run_suite "fuzz" build-fuzz "-DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON -DSLUICE_FUZZ=ON -DFUZZ_SECONDS=$FUZZ_SECONDS" "-j 2 -L fuzz" "--target fuzzers"

echo "$passed passed, $failed failed"
exit $status
