#!/bin/bash
# bench_inject.sh - issue 2, "durable injection rate".
#
# In one run on this machine:
#  1. sluiced: smtpblast sends N messages of SIZE bytes over 1, 10 and 50 concurrent clients,
#     with a new connection per message ("conn") and with connections reused ("reuse", -d).
#     A 250 after DATA means the message is fsync'd, so this is the durable injection rate;
#     delivery is kept out of it (relayhost = a loopback black hole, see SL_HOLD below, so
#     nothing leaves loopback either).  Each run gets a fresh daemon and an empty queue under
#     /var/spool (the file system Postfix uses).  After each run the queue must hold exactly
#     the messages smtpblast counted as accepted (`sluice queue list --json | wc -l`).
#     Recorded too: sluiced's CPU time (/proc/PID/stat), smtpblast's, the box's, and the
#     disk's write and flush requests (/proc/diskstats).
#  2. The peer, Debian's Postfix (smtpd + cleanup), with the same smtpblast load, durably,
#     delivery switched off: every message is put on hold
#     (smtpd_end_of_data_restrictions = check_client_access static:HOLD), the approach of the
#     injection-only phase of /work/shared/peers/postfix_relay.sh.  Default settings plus
#     in_flow_delay=0.  The held files must match smtpblast's accepted count; they are
#     deleted after each run.  Postfix is stopped at the end and its configuration files put
#     back as they were.
#  3. The disk's serial fsync ceiling on /var/spool: fdatasync'd 4 KB appends per second
#     (/work/shared/peers/fsync_bench.sh), measured before and after the runs.
# sluice and Postfix runs alternate (same point, same rep) so that both see the same noise;
# the summary reports medians over the reps and the ratio sluice/Postfix.
#
# Environment (all optional):
#   N=10000 REPS=3 SIZE=4096 CLIENTS="1 10 50" MODES="conn reuse"
#   SLUICE_ADDR=127.0.0.1:2600   loopback only; Postfix always listens on 127.0.0.1:25
#   RELAY_HOLE=127.0.0.1:2626    sluiced's relayhost during the runs (see SL_HOLD)
#   SPOOL_BASE=/var/spool/sluice-bench   created and removed by this script
#   PEER=postfix|none   PEERS_DIR=/work/shared/peers   FSYNC_COUNT=2000 FSYNC_REPS=3
#   WARMUP=500 (messages, once per system)   RUN_TIMEOUT=600 (seconds per smtpblast run)
#   BENCH_OUT=/tmp/sluice-bench   results go to $BENCH_OUT/inject/
# Exit status: 0 when every run completed and every queue check passed (a missed target
# is reported, not an error), 1 otherwise.
# shellcheck disable=SC2016  # awk programs and column expressions are meant to stay unexpanded
# shellcheck disable=SC1091  # the peer recipes live outside the tree (PEERS_DIR)
set -euo pipefail
source "$(dirname "$0")/lib_bench.sh"

N=${N:-10000}
REPS=${REPS:-3}
SIZE=${SIZE:-4096}
CLIENTS=${CLIENTS:-"1 10 50"}
MODES=${MODES:-"conn reuse"}
SLUICE_ADDR=${SLUICE_ADDR:-127.0.0.1:2600}
RELAY_HOLE=${RELAY_HOLE:-127.0.0.1:2626}
SPOOL_BASE=${SPOOL_BASE:-/var/spool/sluice-bench}
PEER=${PEER:-postfix}
PEERS_DIR=${PEERS_DIR:-/work/shared/peers}
FSYNC_COUNT=${FSYNC_COUNT:-2000}
FSYNC_REPS=${FSYNC_REPS:-3}
WARMUP=${WARMUP:-500}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
OUT=$BENCH_OUT/inject
TSV=$OUT/runs.tsv
PF_ADDR=127.0.0.1:25
PF_HOLD='smtpd_end_of_data_restrictions=check_client_access static:HOLD'
PF_SETTINGS=(in_flow_delay=0)
TARGET_CLIENTS=50          # the targets are judged at this concurrency, new connection per message
TARGET_RATIO=3

b_init
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.err   # per-run files of an earlier run
failures=0
fail() { b_log "FAIL: $*"; failures=$((failures + 1)); }

# ---------------------------------------------------------------- checks and set-up
b_loopback_only "$SLUICE_ADDR" "$RELAY_HOLE"
SLUICED=$(b_find_bin sluiced) || b_die "no sluiced under $BUILD_DIR: run 'make build' first"
SLUICE=$(b_find_bin sluice) || b_die "no sluice under $BUILD_DIR: run 'make build' first"
SMTPBLAST=$(b_find_bin smtpblast) || b_die "no smtpblast under $BUILD_DIR: run 'make build' first"
for p in $CLIENTS; do [[ $p =~ ^[1-9][0-9]*$ ]] || b_die "CLIENTS: bad value $p"; done
for m in $MODES; do [[ $m == conn || $m == reuse ]] || b_die "MODES: conn and/or reuse, not $m"; done
[[ $N =~ ^[1-9][0-9]*$ && $REPS =~ ^[1-9][0-9]*$ ]] || b_die "N and REPS must be positive integers"

b_own_spool_base
b_tmpdir TMP
b_snapshot_programs "sluiced built"

# sluiced delivers what it accepts.  To measure injection alone (as Postfix's mail is held),
# and to stay on loopback, its relayhost is a loopback smtp-sink that accepts connections and
# never answers: the delivery agent's connections wait for a banner, nothing is delivered or
# deferred during a run, and every accepted message is still queued when the run ends.
# Without smtp-sink (Postfix not installed), the relayhost is a closed loopback port:
# deliveries are then deferred during the runs, which costs sluiced some work.
SMTP_SINK_BIN=${SMTP_SINK_BIN:-/usr/sbin/smtp-sink}
SL_OPTS=(-o "relayhost=[${RELAY_HOLE%:*}]:${RELAY_HOLE##*:}")
if [ -x "$SMTP_SINK_BIN" ] && [ "$(id -u)" = 0 ]; then
    SL_HOLD=blackhole
    SL_HOLD_HOW="relayhost=[${RELAY_HOLE%:*}]:${RELAY_HOLE##*:}, a loopback smtp-sink that never answers (-W connect:3600): nothing delivered or deferred during the runs"
else
    SL_HOLD=refused
    SL_HOLD_HOW="relayhost=[${RELAY_HOLE%:*}]:${RELAY_HOLE##*:}, a closed loopback port (no smtp-sink): deliveries are deferred during the runs, which costs sluiced some work"
fi
# and no DNS beyond loopback, should anything be looked up
if "$SLUICED" -n -o dns_servers=127.0.0.1 >/dev/null 2>&1; then
    SL_OPTS+=(-o dns_servers=127.0.0.1)
    SL_HOLD_HOW="$SL_HOLD_HOW; dns_servers=127.0.0.1"
fi
"$SLUICED" -n "${SL_OPTS[@]}" >/dev/null 2>&1 || b_die "sluiced rejects ${SL_OPTS[*]}: $("$SLUICED" -n "${SL_OPTS[@]}" 2>&1 | tail -1)"

if b_listening "${SLUICE_ADDR%:*}" "${SLUICE_ADDR##*:}"; then
    b_die "$SLUICE_ADDR is already in use; set SLUICE_ADDR=127.0.0.1:PORT"
fi
DISK=$(b_disk_of "$SPOOL_BASE" || true)
TIMECMD=()
[ -x /usr/bin/time ] && TIMECMD=(/usr/bin/time -f "%U %S" -o "$TMP/time.txt")

# ---------------------------------------------------------------- the peer
b_peer_detect
if [ "$PEER_OK" = 1 ]; then
    export PEERS_OUT=$OUT/peers PEERS_BUILD=$TMP/peers-build
    export POSTFIX_LOG=/var/log/postfix-sluice-bench.log
    source "$PEERS_DIR/common.sh"
    source "$PEERS_DIR/postfix_common.sh"
    mkdir -p "$PEERS_OUT" "$PEERS_BUILD"
fi

PF_TOUCHED=0
# peer_restore: held mail deleted, Postfix stopped, /etc/postfix/*.cf as they were before
peer_restore() {
    [ "$PF_TOUCHED" = 1 ] || return 0
    PF_TOUCHED=0
    postsuper -d ALL hold >/dev/null 2>&1 || true
    postfix_stop
    b_pf_etc_restore "$TMP/etc-orig"
    b_pf_log_done "$OUT/postfix-warnings.txt"
    b_log "Postfix stopped, held mail deleted, /etc/postfix/*.cf as they were before the bench"
}

pf_held() { find /var/spool/postfix/hold -type f 2>/dev/null | wc -l; }
pf_other() {
    find /var/spool/postfix/incoming /var/spool/postfix/active /var/spool/postfix/deferred \
        /var/spool/postfix/maildrop -type f 2>/dev/null | wc -l
}

peer_setup() {
    b_pf_claim || return 0
    b_pf_etc_save "$TMP/etc-orig"
    PF_TOUCHED=1
    # relayhost: a loopback port nobody should listen on; nothing is delivered anyway (HOLD)
    postfix_configure "[127.0.0.1]:9" "${PF_SETTINGS[@]}" "$PF_HOLD" >"$OUT/postfix-configure.txt" 2>&1 ||
        { PEER_OK=0; PEER_WHY="postfix_configure failed (see $OUT/postfix-configure.txt)"; return; }
    postconf -n >"$OUT/postfix-main.cf.txt"
    postconf -x in_flow_delay default_process_limit smtpd_client_connection_count_limit \
        smtpd_client_event_limit_exceptions smtpd_peername_lookup queue_directory \
        smtpd_end_of_data_restrictions >"$OUT/postfix-settings.txt"
    postsuper -d ALL >/dev/null 2>&1 || true
    : >"$POSTFIX_LOG"
    postfix_start || { PEER_OK=0; PEER_WHY="Postfix did not start (see $POSTFIX_LOG)"; return; }
}

# ---------------------------------------------------------------- one measured run
# blast ADDR MODE CLIENTS COUNT JSON: run smtpblast, bounded by RUN_TIMEOUT; returns its status
blast() {
    local addr=$1 mode=$2 s=$3 count=$4 json=$5 extra=()
    [ "$mode" = reuse ] && extra=(-d)
    rm -f "$TMP/time.txt"
    timeout --foreground "$RUN_TIMEOUT" "${TIMECMD[@]}" "$SMTPBLAST" "${extra[@]}" -s "$s" -m "$count" -l "$SIZE" \
        -j "$addr" >"$json" 2>"${json%.json}.err"
}

# measure SYSTEM MODE CLIENTS REP ADDR CPUFN: one timed smtpblast run; sets the R_* globals
measure() {
    local sys=$1 mode=$2 s=$3 rep=$4 addr=$5 cpufn=$6
    local json=$OUT/$sys-$mode-s$s-r$rep.json c0 c1 d0 d1 p0 p1 rc=0
    local w0 w1
    c0=$(b_cpu_snap); d0=$(b_disk_snap "$DISK"); p0=$($cpufn); w0=$(b_now)
    blast "$addr" "$mode" "$s" "$N" "$json" || rc=$?
    w1=$(b_now); p1=$($cpufn); d1=$(b_disk_snap "$DISK"); c1=$(b_cpu_snap)
    R_WALL=$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.3f", b - a }')
    R_RC=$rc
    R_ACC=$(b_json_num "$json" accepted); R_ACC=${R_ACC:-0}
    R_REF=$(b_json_num "$json" refused); R_REF=${R_REF:-n/a}
    R_LOST=$(b_json_num "$json" lost); R_LOST=${R_LOST:-n/a}
    R_SECS=$(b_json_num "$json" elapsed_s); R_SECS=${R_SECS:-0}
    R_P50=$(b_json_num "$json" p50); R_P50=${R_P50:-n/a}
    R_P99=$(b_json_num "$json" p99); R_P99=${R_P99:-n/a}
    R_RATE=$(awk -v a="$R_ACC" -v t="$R_SECS" 'BEGIN { r = 0; if (t > 0) r = a / t; printf "%.0f", r }')
    if [ -n "$p0" ] && [ -n "$p1" ]; then
        R_SRVCPU=$(awk -v a="$p0" -v b="$p1" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')
    else
        R_SRVCPU=n/a
    fi
    R_BLASTCPU=n/a
    [ ! -s "$TMP/time.txt" ] || R_BLASTCPU=$(awk 'NF == 2 { printf "%.2f", $1 + $2 }' "$TMP/time.txt" | tail -1)
    read -r R_BUSY R_IOWAIT _ <<<"$(b_cpu_delta "$c0" "$c1")"
    read -r R_WOPS R_WMB R_FLUSH <<<"$(b_disk_delta "$d0" "$d1")"
}

# record SYSTEM MODE CLIENTS REP QUEUED CHECK: append the run to the TSV and show it
record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$1" "$2" "$3" "$4" "$N" "$R_ACC" "$R_REF" "$R_LOST" "$R_SECS" "$R_RATE" "$R_P50" "$R_P99" \
        "$R_SRVCPU" "$R_BLASTCPU" "$R_BUSY" "$R_IOWAIT" "$R_WOPS" "$R_WMB" "$R_FLUSH" "$5" "$6" "$R_RC" "$R_WALL" >>"$TSV"
    printf '%-7s %-5s %3s clients rep %s: %6s msgs/s  accepted %s refused %s lost %s  server CPU %ss  flushes %s  check: %s\n' \
        "$1" "$2" "$3" "$4" "$R_RATE" "$R_ACC" "$R_REF" "$R_LOST" "$R_SRVCPU" "$R_FLUSH" "$6"
}

SL_PID=""
sl_cpu() { b_proc_ticks "$SL_PID"; }

# sluice_start: a fresh sluiced on an empty queue; sets SL_PID and SL_Q
HOLE_PID=""
sluice_start() {
    if [ "$SL_HOLD" = blackhole ]; then
        b_listening "${RELAY_HOLE%:*}" "${RELAY_HOLE##*:}" && b_die "$RELAY_HOLE is already in use; set RELAY_HOLE"
        "$SMTP_SINK_BIN" -u nobody -W connect:3600 "$RELAY_HOLE" 256 >>"$OUT/relay-hole.log" 2>&1 &
        HOLE_PID=$!
        b_remember "$HOLE_PID"
        b_wait_listen "${RELAY_HOLE%:*}" "${RELAY_HOLE##*:}" 10 "$HOLE_PID" ||
            b_die "the smtp-sink black hole did not come up on $RELAY_HOLE (see $OUT/relay-hole.log)"
    fi
    b_sluiced_start -o log_level=warning "${SL_OPTS[@]}"
}

sluice_stop() {
    local rc=0
    b_stop "$SL_PID" 20 || rc=$?
    [ "$rc" = 0 ] || fail "sluiced exited with status $rc (see $OUT/sluiced.stderr)"
    SL_PID=""
    if [ -n "$HOLE_PID" ]; then
        b_stop "$HOLE_PID" 5 || true
        HOLE_PID=""
    fi
    rm -rf "$SL_Q"
}

sl_queued() { "$SLUICE" -o queue_directory="$SL_Q" queue list --json 2>>"$OUT/sluice-cli.stderr" | wc -l; }

run_sluice() {
    local mode=$1 s=$2 rep=$3 queued check
    sluice_start
    sync; sleep 0.5
    measure sluice "$mode" "$s" "$rep" "$SLUICE_ADDR" sl_cpu
    queued=$(sl_queued)
    if [ "$R_RC" -gt 1 ]; then
        check="FAIL (smtpblast exit $R_RC)"; fail "sluice $mode s=$s rep=$rep: smtpblast exit $R_RC"
    elif [ "$queued" = "$R_ACC" ]; then
        check="OK (queue $queued = accepted $R_ACC)"
    else
        check="FAIL (queue $queued != accepted $R_ACC)"; fail "sluice $mode s=$s rep=$rep: queue $queued, accepted $R_ACC"
    fi
    sluice_stop
    record sluice "$mode" "$s" "$rep" "$queued" "$check"
}

run_postfix() {
    local mode=$1 s=$2 rep=$3 held other check i
    sync; sleep 0.5
    measure postfix "$mode" "$s" "$rep" "$PF_ADDR" postfix_cpu_ticks
    for ((i = 0; i < 100; i++)); do
        held=$(pf_held)
        [ "$held" -ge "$R_ACC" ] && break
        sleep 0.1
    done
    other=$(pf_other)
    if [ "$R_RC" -gt 1 ]; then
        check="FAIL (smtpblast exit $R_RC)"; fail "postfix $mode s=$s rep=$rep: smtpblast exit $R_RC"
    elif [ "$held" = "$R_ACC" ] && [ "$other" = 0 ]; then
        check="OK (held $held = accepted $R_ACC)"
    else
        check="FAIL (held $held, elsewhere $other, accepted $R_ACC)"
        fail "postfix $mode s=$s rep=$rep: held $held, other queues $other, accepted $R_ACC"
    fi
    record postfix "$mode" "$s" "$rep" "$held" "$check"
    postsuper -d ALL hold >/dev/null 2>&1 || true
    [ "$(pf_held)" = 0 ] || b_log "warning: $(pf_held) files still on hold after postsuper -d ALL hold"
}

# ---------------------------------------------------------------- 3. the serial fsync ceiling
# measure_fsync: one batch of FSYNC_REPS measurements, appended to fsync.txt (fdatasync lines:
# "rep=... mode=fdatasync ... ops_per_s=X").  Called before and after the injection runs, so
# that the ceiling brackets them; fsync_ceiling gives the median of every measurement.
FSYNC_HOW=""
FSYNC_BATCHES=0
measure_fsync() {
    local dir=$SPOOL_BASE/fsync before after
    FSYNC_BATCHES=$((FSYNC_BATCHES + 1))
    before=$(grep -c 'mode=fdatasync' "$OUT/fsync.txt" 2>/dev/null || true)
    if [ -r "$PEERS_DIR/fsync_bench.sh" ] && [ -r "$PEERS_DIR/fsync_bench.c" ] && command -v gcc >/dev/null; then
        PEERS_OUT=$OUT/peers PEERS_BUILD=$TMP/peers-build \
            bash "$PEERS_DIR/fsync_bench.sh" "$FSYNC_COUNT" "$dir" "$FSYNC_REPS" >>"$OUT/fsync.txt" 2>&1 ||
            b_log "fsync_bench.sh failed (see $OUT/fsync.txt)"
        FSYNC_HOW="fsync_bench.sh fdatasync, 4 KB appends"
    fi
    after=$(grep -c 'mode=fdatasync' "$OUT/fsync.txt" 2>/dev/null || true)
    if [ "${after:-0}" = "${before:-0}" ]; then
        # fallback without the peer recipes: dd, every 4 KB write opened O_DSYNC
        local r t0 t1
        mkdir -p "$dir"
        for ((r = 1; r <= FSYNC_REPS; r++)); do
            t0=$(b_now)
            timeout 120 dd if=/dev/zero of="$dir/dd.dat" bs=4k count="$FSYNC_COUNT" oflag=dsync status=none
            t1=$(b_now)
            echo "batch=$FSYNC_BATCHES rep=$r mode=fdatasync(dd_oflag_dsync) ops=$FSYNC_COUNT ops_per_s=$(b_calc "$FSYNC_COUNT / ($t1 - $t0)")" >>"$OUT/fsync.txt"
        done
        rm -rf "$dir"
        FSYNC_HOW="dd bs=4k oflag=dsync (the peer recipes are missing)"
    fi
}

# fsync_ceiling: median fdatasync ops/s over every measurement so far
fsync_ceiling() {
    # shellcheck disable=SC2046  # one value per word
    b_median $(sed -n 's/.*mode=fdatasync.* ops_per_s=\([0-9.]*\).*/\1/p' "$OUT/fsync.txt") |
        awk '{ printf "%.0f", $1 }'
}

# ---------------------------------------------------------------- the run
b_log "bench_inject: N=$N SIZE=$SIZE REPS=$REPS CLIENTS='$CLIENTS' MODES='$MODES' sluiced on $SLUICE_ADDR, spool $SPOOL_BASE (disk ${DISK:-?})"
echo -e "system\tmode\tclients\trep\tN\taccepted\trefused\tlost\telapsed_s\tmsgs_per_s\tp50_ms\tp99_ms\tserver_cpu_s\tsmtpblast_cpu_s\tbox_busy_s\tbox_iowait_s\tdisk_write_ops\tdisk_MB\tdisk_flushes\tqueued\tcheck\tsmtpblast_rc\twall_s" >"$TSV"

PEER_NOTE=""
if [ "$PEER_OK" = 1 ]; then
    b_on_exit peer_restore
    peer_setup
fi

b_log "serial fsync ceiling of $SPOOL_BASE"
: >"$OUT/fsync.txt"
measure_fsync
echo "serial fsync ceiling on $SPOOL_BASE before the runs: $(fsync_ceiling) fdatasync/s"

b_log "warm-up: $WARMUP messages to each system"
sluice_start
blast "$SLUICE_ADDR" conn 10 "$WARMUP" "$OUT/warmup-sluice.json" || b_log "sluice warm-up: smtpblast exit $?"
sluice_stop
if [ "$PEER_OK" = 1 ]; then
    blast "$PF_ADDR" conn 10 "$WARMUP" "$OUT/warmup-postfix.json" || b_log "Postfix warm-up: smtpblast exit $?"
    postsuper -d ALL hold >/dev/null 2>&1 || true
fi

for mode in $MODES; do
    for s in $CLIENTS; do
        for ((rep = 1; rep <= REPS; rep++)); do
            run_sluice "$mode" "$s" "$rep"
            if [ "$PEER_OK" = 1 ]; then run_postfix "$mode" "$s" "$rep"; fi
        done
    done
done

peer_restore

b_log "serial fsync ceiling of $SPOOL_BASE, again"
measure_fsync
FSYNC_OPS=$(fsync_ceiling)
FSYNC_HOW="$FSYNC_HOW, median of $((FSYNC_BATCHES * FSYNC_REPS)) x $FSYNC_COUNT writes, half before and half after the runs"

# ---------------------------------------------------------------- summary
# med SYSTEM MODE CLIENTS AWK-EXPR: median over the reps of an expression of the TSV columns
med() {
    # shellcheck disable=SC2046  # one value per word
    b_median $(awk -F'\t' -v sy="$1" -v m="$2" -v s="$3" \
        'NR > 1 && $1 == sy && $2 == m && $3 == s { v = '"$4"'; if (v != "") print v }' "$TSV")
}
# columns: 6 accepted 9 elapsed 10 msgs/s 11 p50 12 p99 13 server cpu 14 smtpblast cpu
#          15 box busy 19 flushes 21 check 23 wall time around smtpblast (box busy is over it)
E_CPUMS='($13 == "n/a" || $6 == 0) ? "" : $13 * 1000 / $6'
E_BLASTMS='($14 == "n/a" || $6 == 0) ? "" : $14 * 1000 / $6'
E_FLUSH='($19 == "n/a" || $6 == 0) ? "" : $19 / $6'
E_BUSY='$23 > 0 ? $15 * 100 / ($23 * '"$(nproc)"') : ""'

checks() {  # checks SYSTEM MODE CLIENTS -> "3/3 OK"
    awk -F'\t' -v sy="$1" -v m="$2" -v s="$3" \
        'NR > 1 && $1 == sy && $2 == m && $3 == s { n++; if ($21 ~ /^OK/) ok++ }
         END { printf "%d/%d OK", ok, n }' "$TSV"
}
range() {  # range SYSTEM MODE CLIENTS -> "min-max"
    awk -F'\t' -v sy="$1" -v m="$2" -v s="$3" \
        'NR > 1 && $1 == sy && $2 == m && $3 == s { if (n++ == 0 || $10 < lo) lo = $10; if ($10 > hi) hi = $10 }
         END { if (n) printf "%d-%d", lo, hi }' "$TSV"
}
ratio() {  # ratio A B -> A/B with 2 decimals, empty when either is missing
    [ -n "$1" ] && [ -n "$2" ] || return 0
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b }'
}

SUMMARY=$OUT/summary.txt
{
    echo
    echo "Durable injection: $N messages of $SIZE bytes per run, median of $REPS reps ($(nproc) CPUs, $(date '+%Y-%m-%d %H:%M'))"
    echo "sluiced: $SLUICED_ID"
    echo "  on $SLUICE_ADDR, fresh daemon and empty queue per run in $SPOOL_BASE, log_level=warning;"
    echo "  $SL_HOLD_HOW"
    if [ "$PEER_OK" = 1 ]; then
        echo "Postfix $PF_VERSION on $PF_ADDR: Debian defaults (peers' postfix_configure), chroot off, plus ${PF_SETTINGS[*]};"
        echo "  ${PF_HOLD/=/ = } (mail held, not delivered); held files counted and deleted after each run"
        echo "  (all settings: $OUT/postfix-main.cf.txt)"
    else
        echo "Postfix: peer missing - $PEER_WHY; sluice figures only"
    fi
    [ -n "$PEER_NOTE" ] && echo "Note: $PEER_NOTE"
    echo "serial fsync ceiling of ${DISK:-the disk} under $SPOOL_BASE: $FSYNC_OPS fdatasync/s ($FSYNC_HOW; $OUT/fsync.txt)"
    for mode in $MODES; do
        echo
        if [ "$mode" = conn ]; then echo "New connection per message (smtpblast default):"; else echo "Connections reused (smtpblast -d):"; fi
        printf '%-8s %10s %11s %15s %15s %13s %14s\n' clients "sluice/s" "Postfix/s" "sluice/Postfix" "sluice/fsync" "sluice CPU-ms" "Postfix CPU-ms"
        for s in $CLIENTS; do
            sr=$(med sluice "$mode" "$s" '$10'); pr=$(med postfix "$mode" "$s" '$10')
            printf '%-8s %10s %11s %15s %15s %13s %14s\n' "$s" "$(b_fmt %.0f "$sr")" "$(b_fmt %.0f "$pr")" \
                "$(b_fmt %sx "$(ratio "$sr" "$pr")")" "$(b_fmt %sx "$(ratio "$sr" "$FSYNC_OPS")")" \
                "$(b_fmt %.3f "$(med sluice "$mode" "$s" "$E_CPUMS")")" "$(b_fmt %.3f "$(med postfix "$mode" "$s" "$E_CPUMS")")"
        done
    done
    echo
    echo "Details (medians; msgs/s range over the reps; CPU-ms per accepted message; box busy = all CPUs):"
    printf '%-7s %-5s %7s %8s %12s %8s %8s %9s %10s %9s %8s %9s %s\n' system mode clients "msgs/s" range \
        "p50 ms" "p99 ms" "srv CPUms" "blast CPUms" "box busy" "flush/msg" "refused" "queue check"
    for mode in $MODES; do
        for s in $CLIENTS; do
            for sy in sluice postfix; do
                [ "$sy" = postfix ] && [ "$PEER_OK" != 1 ] && continue
                printf '%-7s %-5s %7s %8s %12s %8s %8s %9s %10s %9s %8s %9s %s\n' "$sy" "$mode" "$s" \
                    "$(b_fmt %.0f "$(med "$sy" "$mode" "$s" '$10')")" "$(range "$sy" "$mode" "$s")" \
                    "$(b_fmt %.2f "$(med "$sy" "$mode" "$s" '$11')")" "$(b_fmt %.2f "$(med "$sy" "$mode" "$s" '$12')")" \
                    "$(b_fmt %.3f "$(med "$sy" "$mode" "$s" "$E_CPUMS")")" "$(b_fmt %.3f "$(med "$sy" "$mode" "$s" "$E_BLASTMS")")" \
                    "$(b_fmt %.0f%% "$(med "$sy" "$mode" "$s" "$E_BUSY")")" "$(b_fmt %.3f "$(med "$sy" "$mode" "$s" "$E_FLUSH")")" \
                    "$(awk -F'\t' -v sy="$sy" -v m="$mode" -v s="$s" 'NR > 1 && $1 == sy && $2 == m && $3 == s { r += $7 } END { print r + 0 }' "$TSV")" \
                    "$(checks "$sy" "$mode" "$s")"
            done
        done
    done
    echo
    echo "Targets ($TARGET_CLIENTS clients, new connection per message):"
    if [[ " $CLIENTS " == *" $TARGET_CLIENTS "* && " $MODES " == *" conn "* ]]; then
        sr=$(med sluice conn "$TARGET_CLIENTS" '$10'); pr=$(med postfix conn "$TARGET_CLIENTS" '$10')
        if [ "$PEER_OK" = 1 ] && [ -n "$pr" ]; then
            r=$(ratio "$sr" "$pr")
            v=$(awk -v r="$r" -v t="$TARGET_RATIO" 'BEGIN { v = "MISS"; if (r != "" && r + 0 >= t) v = "PASS"; print v }')
            echo "  [$v] sluice >= ${TARGET_RATIO}x Postfix: ${r}x ($(printf %.0f "$sr") vs $(printf %.0f "$pr") msgs/s)"
        else
            echo "  [n/a ] sluice >= ${TARGET_RATIO}x Postfix: peer missing ($PEER_WHY)"
        fi
        r=$(ratio "$sr" "$FSYNC_OPS")
        v=$(awk -v a="$sr" -v b="$FSYNC_OPS" 'BEGIN { v = "MISS"; if (a + 0 > b + 0) v = "PASS"; print v }')
        echo "  [$v] sluice above the serial fsync ceiling: ${r}x ($(printf %.0f "$sr") vs $FSYNC_OPS ops/s)"
    else
        echo "  [n/a ] not measured (CLIENTS must include $TARGET_CLIENTS and MODES include conn)"
    fi
    [ "$failures" = 0 ] || echo "  $failures FAILURE(S): see the lines marked FAIL above and $TSV"
    echo
    echo "Per-run figures: $TSV; smtpblast JSON: $OUT/*.json"
} | tee "$SUMMARY"

[ "$failures" = 0 ]
