#!/bin/bash
# bench_sink.sh - issue 3, "the sink must never be the bottleneck".
#
# In one run on this machine, smtpblast sends N messages of SIZE bytes to:
#  1. `sluice sink` with no policy (and no --record), and
#  2. Postfix's smtp-sink (/usr/sbin/smtp-sink, Debian package postfix; it runs standalone,
#     no Postfix daemon needed), when it is installed,
# at 1, 10 and 50 concurrent sessions, with a new connection per message ("conn") and with
# connections reused ("reuse", smtpblast -d).  Each run gets a fresh receiver, so its CPU
# time (/proc/PID/stat) is that run's; sluice sink and smtp-sink runs alternate (same point,
# same rep) so both see the same noise.  For sluice sink, the summary's accepted count must
# equal smtpblast's.  The summary reports the median rate over REPS of each receiver and the
# ratio sluice sink / smtp-sink as the median of the REPS paired ratios (each rep's two runs
# are back to back, so a burst of load on the machine hits one pair, not one side; target:
# >= 1 at every point).
#
# Environment (all optional):
#   N=20000 REPS=3 SIZE=4096 CLIENTS="1 10 50" MODES="conn reuse"
#   SINK_ADDR=127.0.0.1:2641 PEER_ADDR=127.0.0.1:2642   loopback only
#   PEER=smtp-sink|none   RUN_TIMEOUT=300 (seconds per smtpblast run)
#   BENCH_OUT=/tmp/sluice-bench   results go to $BENCH_OUT/sink/
# Exit status: 0 when every run completed with every message accepted (a missed target is
# reported, not an error), 1 otherwise.
# shellcheck disable=SC2016  # awk programs are meant to stay unexpanded
set -euo pipefail
source "$(dirname "$0")/lib_bench.sh"

N=${N:-20000}
REPS=${REPS:-3}
SIZE=${SIZE:-4096}
CLIENTS=${CLIENTS:-"1 10 50"}
MODES=${MODES:-"conn reuse"}
SINK_ADDR=${SINK_ADDR:-127.0.0.1:2641}
PEER_ADDR=${PEER_ADDR:-127.0.0.1:2642}
PEER=${PEER:-smtp-sink}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
SMTP_SINK=/usr/sbin/smtp-sink
OUT=$BENCH_OUT/sink
TSV=$OUT/runs.tsv

b_init
mkdir -p "$OUT"
SLUICE=$(b_find_bin sluice) || b_die "build/sluice not found (make build)"
BLAST=$(b_find_bin smtpblast) || b_die "smtpblast not found (make build)"
if [ "$PEER" = smtp-sink ] && [ ! -x "$SMTP_SINK" ]; then
    b_log "no $SMTP_SINK (sh scripts/deps.sh bench installs postfix): sluice sink alone"
    PEER=none
fi
b_tmpdir WORK

# start_receiver WHO: start sluice sink or smtp-sink; sets RPID
start_receiver() {
    local host port
    if [ "$1" = sluice ]; then
        host=${SINK_ADDR%:*} port=${SINK_ADDR##*:}
        "$SLUICE" sink --json --listen "$SINK_ADDR" >"$WORK/sink.out" 2>"$WORK/sink.err" &
    else
        host=${PEER_ADDR%:*} port=${PEER_ADDR##*:}
        # -m: more sessions than the benchmark opens; 1024: the listen backlog
        "$SMTP_SINK" -u nobody -m 512 "$PEER_ADDR" 1024 >"$WORK/peer.out" 2>&1 &
    fi
    RPID=$!
    b_remember "$RPID"
    b_wait_listen "$host" "$port" 10 "$RPID" || b_die "$1 did not listen on $host:$port"
}

# one_run WHO MODE SESSIONS REP: one smtpblast run into a fresh receiver; appends to $TSV
one_run() {
    local who=$1 mode=$2 s=$3 rep=$4 addr flags=() json ticks rate acc lost summ=n/a
    addr=$SINK_ADDR
    [ "$who" = smtp-sink ] && addr=$PEER_ADDR
    [ "$mode" = reuse ] && flags=(-d)
    start_receiver "$who"
    json=$WORK/blast.json
    if ! timeout "$RUN_TIMEOUT" "$BLAST" -s "$s" -m "$N" -l "$SIZE" "${flags[@]}" -j "$addr" >"$json"; then
        b_log "$who $mode s=$s rep=$rep: smtpblast failed: $(head -c 300 "$json")"
        FAILED=1
    fi
    ticks=$(b_proc_ticks "$RPID")
    b_stop "$RPID" 10 || true
    rate=$(b_json_num "$json" msgs_per_s)
    acc=$(b_json_num "$json" accepted)
    lost=$(b_json_num "$json" lost)
    if [ "$who" = sluice ]; then
        summ=$(b_json_num "$WORK/sink.out" accepted)
        [ "$summ" = "$acc" ] || { b_log "sluice sink counted $summ, smtpblast $acc"; FAILED=1; }
    fi
    [ "$acc" = "$N" ] || { b_log "$who $mode s=$s rep=$rep: $acc of $N accepted, $lost lost"; FAILED=1; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$who" "$mode" "$s" "$rep" "$rate" "$acc" \
        "${ticks:-0}" "$summ" >>"$TSV"
    b_log "$who $mode sessions=$s rep=$rep: $rate msg/s, $acc accepted, receiver CPU ${ticks:-?} ticks"
}

# median_of WHO MODE SESSIONS COLUMN: the median of a column of $TSV over the reps
median_of() {
    # shellcheck disable=SC2046
    b_median $(awk -F'\t' -v w="$1" -v m="$2" -v s="$3" -v c="$4" \
        '$1 == w && $2 == m && $3 == s { print $c }' "$TSV")
}

# paired_ratio MODE SESSIONS: the median over the reps of sluice rate / smtp-sink rate
paired_ratio() {
    # shellcheck disable=SC2046
    b_median $(awk -F'\t' -v m="$1" -v s="$2" '
        $2 == m && $3 == s && $1 == "sluice" { a[$4] = $5 }
        $2 == m && $3 == s && $1 == "smtp-sink" { b[$4] = $5 }
        END { for (r in a) if ((r in b) && b[r] > 0) print a[r] / b[r] }' "$TSV")
}

# report - the table: medians, ratio, CPU microseconds per message
report() {
    local mode s a b ta tb ratio cpu_a cpu_b worst=""
    echo
    echo "sluice sink vs Postfix smtp-sink: $N messages of $SIZE bytes, median of $REPS, $(nproc) CPUs"
    printf '%-6s %8s %16s %16s %7s %14s %14s\n' mode sessions "sluice msg/s" "smtp-sink msg/s" \
        ratio "sluice us/msg" "smtp-sink us/msg"
    for mode in $MODES; do
        for s in $CLIENTS; do
            a=$(median_of sluice "$mode" "$s" 5)
            ta=$(median_of sluice "$mode" "$s" 7)
            cpu_a=$(b_calc "$ta * 1000000 / $HZ / $N")
            b=n/a tb=n/a ratio=n/a cpu_b=n/a
            if [ "$PEER" != none ]; then
                b=$(median_of smtp-sink "$mode" "$s" 5)
                tb=$(median_of smtp-sink "$mode" "$s" 7)
                cpu_b=$(b_calc "$tb * 1000000 / $HZ / $N")
                ratio=$(paired_ratio "$mode" "$s")
                if [ -z "$worst" ] || awk "BEGIN { exit !($ratio < $worst) }"; then worst=$ratio; fi
            fi
            printf '%-6s %8s %16s %16s %7s %14s %14s\n' "$mode" "$s" "$(b_fmt '%.0f' "$a")" \
                "$(b_fmt '%.0f' "$b")" "$(b_fmt '%.2f' "$ratio")" "$(b_fmt '%.1f' "$cpu_a")" \
                "$(b_fmt '%.1f' "$cpu_b")"
        done
    done
    echo "(ratio: median of the $REPS back-to-back pairs; us/msg: the receiver's own CPU time"
    echo " per message, user + system, median)"
    if [ -n "$worst" ]; then
        if awk "BEGIN { exit !($worst >= 1) }"; then
            echo "target met: sluice sink >= smtp-sink at every point (lowest ratio $(b_fmt '%.2f' "$worst"))"
        else
            echo "TARGET MISSED: lowest ratio sluice sink / smtp-sink = $(b_fmt '%.2f' "$worst")"
        fi
    fi
}

FAILED=0
: >"$TSV"
b_log "warm-up"
N_SAVE=$N N=2000
one_run sluice reuse 10 0
if [ "$PEER" != none ]; then one_run smtp-sink reuse 10 0; fi
N=$N_SAVE
: >"$TSV"
for rep in $(seq 1 "$REPS"); do
    for mode in $MODES; do
        for s in $CLIENTS; do
            one_run sluice "$mode" "$s" "$rep"
            if [ "$PEER" != none ]; then one_run smtp-sink "$mode" "$s" "$rep"; fi
        done
    done
done
report | tee "$OUT/summary.txt"
exit "$FAILED"
