#!/bin/bash
# bench_relay.sh - issue 4, "end-to-end relay on loopback".
#
# In one run on this machine, per rep and per session count (SESSIONS, default 10 and 50):
#  1. sluice: a fresh `sluice sink --exit-after-messages N` on SINK_ADDR is the receiver; a
#     fresh sluiced (empty queue under SPOOL_BASE, on /var/spool like Postfix's queue) relays
#     to it (relayhost = [SINK_ADDR]); smtpblast submits N messages of SIZE bytes to sluiced
#     over SMTP from S sessions, a new connection per message.  Timed from the first
#     submission until the sink has accepted its N-th message.  Checked: smtpblast N accepted,
#     the sink's summary accepted = N and duplicates = 0, sluiced's queue empty afterwards
#     (`sluice queue list --json`).
#  2. Postfix (when installed, as root): the same load into 127.0.0.1:25, relayed to a fresh
#     `sluice sink --exit-after-messages N` on the same SINK_ADDR; configured with the peers'
#     postfix_configure (/work/shared/peers) in the "default" profile and, if PF_PROFILES
#     has it, the peers' "tuned" profile (in_flow_delay=0, default_process_limit=200,
#     smtp_destination_concurrency_limit=50, initial_destination_concurrency=50) at the
#     session counts in PF_TUNED_SESSIONS.  Same checks; Postfix's queue must be empty.
#  3. The no-queue limit: smtpblast straight into `sluice sink`, a new connection per message
#     ("conn") and with connections reused ("reuse", -d); and, when /usr/sbin/smtp-sink
#     exists, straight into Postfix's smtp-sink too, for reference.
#  4. The issue's own measurement, with the peers' tools (when smtp-source and smtp-sink are
#     installed; RECIPE=0 skips it): at TARGET_SESSIONS, smtp-source straight into smtp-sink
#     (the peers' nqlimit.sh: where the issue's "about 9,400 messages/s" comes from) and the
#     same smtp-source submitting to sluiced, which relays to a fresh sluice sink.  smtp-source
#     does not pipeline: every command waits for its reply, as many applications' clients do.
# All runs of one rep and one session count are back to back, so ratios are taken per rep
# (paired) and the summary reports their median.
#
# When the sink "has them all": sluice sink logs "sink stopping: --exit-after-messages
# reached" (with -v, a timestamped line) at the moment it accepts its N-th message; that is
# the end of the end-to-end time.  The sink then waits up to 1 s for its clients to hang up
# (both MTAs keep cached connections open for a while), so the time until it exits is also
# recorded (exit_s), but not used for the rates.
#
# Recorded per relay run: sluiced's CPU (utime+stime, /proc/PID/stat, from the first
# submission until its queue is empty; its event-loop thread apart) or Postfix's
# (postfix_cpu_ticks: master + children, reaped ones included), smtpblast's and the sink's
# (/usr/bin/time), the box's CPU split (/proc/stat: user, system, softirq, iowait) and its
# busy share in an idle second just before the run (load from elsewhere: the box is shared),
# the disk's write and flush requests (/proc/diskstats, the disk under SPOOL_BASE), the
# sink's connection count (= the MTA's outbound connections) and peak concurrency.  The
# no-queue runs record the box's CPU too, so that the CPU a relayed message costs the box
# can be set beside what one hop costs.
#
# The box is shared with other work: Postfix is checked before each of its runs and
# configured again (and the summary warns) if something else stopped or reconfigured it.
#
# Environment (all optional):
#   N=20000 REPS=3 SIZE=4096 SESSIONS="10 50" TARGET_SESSIONS=10 (where targets are judged)
#   PF_PROFILES="default tuned"  PF_TUNED_SESSIONS=10   NQ_MODES="conn reuse"
#   SLUICE_ADDR=127.0.0.1:2660 SINK_ADDR=127.0.0.1:2661 SMTPSINK_ADDR=127.0.0.1:2662
#     (loopback only; Postfix always listens on 127.0.0.1:25)
#   SLUICED_OPTS="name=value ..."  extra -o settings for sluiced (experiments; printed)
#   SPOOL_BASE=/var/spool/sluice-bench-relay   created and removed by this script
#   PEER=postfix|none   PEERS_DIR=/work/shared/peers   WARMUP=500   RUN_TIMEOUT=300
#   BENCH_OUT=/tmp/sluice-bench   results go to $BENCH_OUT/relay/
# Exit status: 0 when every run completed and every check passed (a missed target is
# reported, not an error), 1 otherwise.
# shellcheck disable=SC2016  # awk programs and column expressions are meant to stay unexpanded
# shellcheck disable=SC1091  # the peer recipes live outside the tree (PEERS_DIR)
set -euo pipefail
source "$(dirname "$0")/lib_bench.sh"

N=${N:-20000}
REPS=${REPS:-3}
SIZE=${SIZE:-4096}
SESSIONS=${SESSIONS:-"10 50"}
TARGET_SESSIONS=${TARGET_SESSIONS:-10}
PF_PROFILES=${PF_PROFILES:-"default tuned"}
PF_TUNED_SESSIONS=${PF_TUNED_SESSIONS:-10}
NQ_MODES=${NQ_MODES:-"conn reuse"}
SLUICE_ADDR=${SLUICE_ADDR:-127.0.0.1:2660}
SINK_ADDR=${SINK_ADDR:-127.0.0.1:2661}
SMTPSINK_ADDR=${SMTPSINK_ADDR:-127.0.0.1:2662}
SLUICED_OPTS=${SLUICED_OPTS:-}
SPOOL_BASE=${SPOOL_BASE:-/var/spool/sluice-bench-relay}
PEER=${PEER:-postfix}
PEERS_DIR=${PEERS_DIR:-/work/shared/peers}
WARMUP=${WARMUP:-500}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
SMTP_SINK_BIN=${SMTP_SINK_BIN:-/usr/sbin/smtp-sink}
SMTP_SOURCE_BIN=${SMTP_SOURCE_BIN:-/usr/sbin/smtp-source}
RECIPE=${RECIPE:-1}
OUT=$BENCH_OUT/relay
TSV=$OUT/runs.tsv
NQTSV=$OUT/noqueue.tsv
RTSV=$OUT/recipe.tsv
PF_ADDR=127.0.0.1:25
PF_TUNED=(in_flow_delay=0 default_process_limit=200 smtp_destination_concurrency_limit=50
    initial_destination_concurrency=50)
TARGET_RATIO=3
GOAL_RATIO=10
TARGET_NQ_PCT=60

b_init
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.err "$OUT"/*.log "$OUT"/*.time
failures=0
fail() { b_log "FAIL: $*"; failures=$((failures + 1)); }

# ---------------------------------------------------------------- checks and set-up
b_loopback_only --free "$SLUICE_ADDR" "$SINK_ADDR" "$SMTPSINK_ADDR"
[[ $N =~ ^[1-9][0-9]*$ && $REPS =~ ^[1-9][0-9]*$ && $SIZE =~ ^[1-9][0-9]*$ ]] ||
    b_die "N, REPS and SIZE must be positive integers"
for s in $SESSIONS $PF_TUNED_SESSIONS $TARGET_SESSIONS; do [[ $s =~ ^[1-9][0-9]*$ ]] || b_die "bad session count $s"; done
for p in $PF_PROFILES; do [[ $p == default || $p == tuned ]] || b_die "PF_PROFILES: default and/or tuned, not $p"; done
for m in $NQ_MODES; do [[ $m == conn || $m == reuse ]] || b_die "NQ_MODES: conn and/or reuse, not $m"; done
[ -x /usr/bin/time ] || b_die "/usr/bin/time is needed (Debian package time)"
SLUICED=$(b_find_bin sluiced) || b_die "no sluiced under $BUILD_DIR: build first (see README)"
SLUICE=$(b_find_bin sluice) || b_die "no sluice under $BUILD_DIR: build first"
SMTPBLAST=$(b_find_bin smtpblast) || b_die "no smtpblast under $BUILD_DIR: build first"

b_own_spool_base
b_tmpdir TMP
b_snapshot_programs built

SL_OPTS=(-o "relayhost=[${SINK_ADDR%:*}]:${SINK_ADDR##*:}" -o log_level=warning)
# no DNS beyond loopback, should anything be looked up
"$SLUICED" -n -o dns_servers=127.0.0.1 >/dev/null 2>&1 && SL_OPTS+=(-o dns_servers=127.0.0.1)
for kv in $SLUICED_OPTS; do SL_OPTS+=(-o "$kv"); done
"$SLUICED" -n "${SL_OPTS[@]}" >/dev/null 2>&1 ||
    b_die "sluiced rejects ${SL_OPTS[*]}: $("$SLUICED" -n "${SL_OPTS[@]}" 2>&1 | tail -1)"
DISK=$(b_disk_of "$SPOOL_BASE" || true)

# ---------------------------------------------------------------- the peer
b_peer_detect
if [ "$PEER_OK" = 1 ]; then
    export PEERS_OUT=$OUT/peers PEERS_BUILD=$TMP/peers-build
    export POSTFIX_LOG=/var/log/postfix-sluice-bench-relay.log
    source "$PEERS_DIR/common.sh"
    source "$PEERS_DIR/postfix_common.sh"
    mkdir -p "$PEERS_OUT" "$PEERS_BUILD"
fi
NQ_PEER=0
[ -x "$SMTP_SINK_BIN" ] && [ "$(id -u)" = 0 ] && NQ_PEER=1
RECIPE_OK=0
[ "$RECIPE" = 1 ] && [ "$NQ_PEER" = 1 ] && [ -x "$SMTP_SOURCE_BIN" ] && RECIPE_OK=1

PF_TOUCHED=0
PF_PROFILE_NOW=""
PF_LOST=0
# peer_restore: queue emptied, Postfix stopped, /etc/postfix/*.cf as they were before
peer_restore() {
    [ "$PF_TOUCHED" = 1 ] || return 0
    PF_TOUCHED=0
    postsuper -d ALL >/dev/null 2>&1 || true
    postfix_stop
    b_pf_etc_restore "$TMP/etc-orig"
    b_pf_log_done "$OUT/postfix-warnings.txt"
    b_log "Postfix stopped, its queue emptied, /etc/postfix/*.cf as they were before the bench"
}

# pf_profile NAME: (re)configure Postfix for the profile and (re)start it; 0 or 1
pf_profile() {
    local name=$1 settings=()
    [ "$PF_PROFILE_NOW" = "$name" ] && return 0
    [ "$name" = tuned ] && settings=("${PF_TUNED[@]}")
    postfix_configure "[${SINK_ADDR%:*}]:${SINK_ADDR##*:}" "${settings[@]}" >>"$OUT/postfix-configure.txt" 2>&1 ||
        { b_log "postfix_configure failed (see $OUT/postfix-configure.txt)"; return 1; }
    {
        echo "# profile $name: postconf -n"
        postconf -n
        echo "# the settings that shape the relay"
        postconf -x default_process_limit smtpd_client_connection_count_limit in_flow_delay \
            qmgr_message_active_limit default_destination_concurrency_limit \
            smtp_destination_concurrency_limit initial_destination_concurrency \
            default_destination_recipient_limit smtp_connection_cache_on_demand \
            smtp_connection_cache_time_limit max_use max_idle smtpd_peername_lookup queue_directory
    } >"$OUT/postfix-$name-settings.txt"
    postconf -x in_flow_delay default_process_limit smtp_destination_concurrency_limit \
        initial_destination_concurrency smtp_connection_cache_time_limit | paste -sd';' | sed 's/;/; /g' \
        >"$OUT/postfix-$name-key.txt"
    postfix_start >/dev/null 2>&1 || { b_log "Postfix did not start (see $POSTFIX_LOG)"; return 1; }
    PF_PROFILE_NOW=$name
    sleep 1   # let the reloaded master settle
}

peer_setup() {
    b_pf_claim || return 0
    b_pf_etc_save "$TMP/etc-orig"
    PF_TOUCHED=1
    : >"$OUT/postfix-configure.txt"
    : >"$POSTFIX_LOG"
    postsuper -d ALL >/dev/null 2>&1 || true
    pf_profile default || { PEER_OK=0; PEER_WHY="Postfix could not be configured or started"; }
}

# pf_ours: Postfix runs with this bench's configuration (the box is shared: another bench may
# have stopped or reconfigured it)
pf_ours() {
    postfix status >/dev/null 2>&1 &&
        [ "$(postconf -h relayhost 2>/dev/null)" = "[${SINK_ADDR%:*}]:${SINK_ADDR##*:}" ]
}

pf_queued() {
    find /var/spool/postfix/incoming /var/spool/postfix/active /var/spool/postfix/deferred \
        /var/spool/postfix/hold /var/spool/postfix/maildrop -type f 2>/dev/null | wc -l
}

# ---------------------------------------------------------------- small helpers
# cpu_split_snap: "user system idle iowait softirq busy" ticks over all CPUs (/proc/stat)
cpu_split_snap() {
    awk '/^cpu / { print $2 + $3, $4 + $7, $5, $6, $8, $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}
# cpu_split_delta "SNAP0" "SNAP1": "busy_s user_s sys_s softirq_s iowait_s" (CPU-seconds; sys
# includes hardirq, softirq is shown apart: on loopback it is most of the TCP work)
cpu_split_delta() {
    echo "$1 $2" | awk -v hz="$HZ" '{ printf "%.2f %.2f %.2f %.2f %.2f\n",
        ($12 - $6) / hz, ($7 - $1) / hz, ($8 - $2) / hz, ($11 - $5) / hz, ($10 - $4) / hz }'
}
# time_cpu FILE: user+system seconds from a /usr/bin/time -f "%U %S" file (n/a if none)
time_cpu() {
    if [ -r "$1" ]; then
        awk 'NF == 2 && $1 ~ /^[0-9.]+$/ { v = sprintf("%.2f", $1 + $2) } END { print (v == "" ? "n/a" : v) }' "$1"
    else
        echo n/a
    fi
}

# blast ADDR SESSIONS COUNT JSON [-d]: smtpblast bounded by RUN_TIMEOUT (CPU in JSON.time)
blast() {
    local addr=$1 s=$2 count=$3 json=$4; shift 4
    timeout --foreground "$RUN_TIMEOUT" /usr/bin/time -f "%U %S" -o "${json%.json}.time" \
        "$SMTPBLAST" "$@" -s "$s" -m "$count" -l "$SIZE" -j "$addr" >"$json" 2>"${json%.json}.err"
}

# sink_start COUNT TAG: a fresh `sluice sink --exit-after-messages COUNT -v --json` on
# SINK_ADDR under /usr/bin/time; sets SINK_WPID (time's PID), SINK_PID and SINK_F (file prefix)
sink_start() {
    local i
    SINK_F=$OUT/$2-sink
    /usr/bin/time -f "%U %S" -o "$SINK_F.time" "$SLUICE" sink -v --json --exit-after-messages "$1" \
        --listen "$SINK_ADDR" >"$SINK_F.json" 2>"$SINK_F.log" &
    SINK_WPID=$!
    b_remember "$SINK_WPID"
    SINK_PID=""
    for ((i = 0; i < 100; i++)); do
        SINK_PID=$(pgrep -P "$SINK_WPID" | head -1 || true)
        [ -n "$SINK_PID" ] && break
        sleep 0.02
    done
    [ -n "$SINK_PID" ] && b_remember "$SINK_PID"
    b_wait_listen "${SINK_ADDR%:*}" "${SINK_ADDR##*:}" 10 "$SINK_WPID" || b_die "sluice sink did not listen on $SINK_ADDR (see $SINK_F.log)"
}

# sink_wait TIMEOUT_S: wait for the sink to exit by itself; 0, or 1 after stopping it
sink_wait() {
    local deadline=$((SECONDS + $1))
    # polled with builtins (and sleep): the poll must not load the box it measures
    while kill -0 "$SINK_WPID" 2>/dev/null; do
        if ((SECONDS > deadline)); then
            b_stop "$SINK_WPID" 5 || true
            [ -n "$SINK_PID" ] && { b_stop "$SINK_PID" 5 || true; }
            return 1
        fi
        sleep 0.05
    done
    wait "$SINK_WPID" 2>/dev/null || true
    b_forget "$SINK_WPID"
    [ -n "$SINK_PID" ] && b_forget "$SINK_PID"
    return 0
}

# sink_done_at: epoch seconds of the sink's "--exit-after-messages reached" (empty if absent)
sink_done_at() {
    local ts
    ts=$(grep -m1 'sink stopping: --exit-after-messages reached' "$SINK_F.log" | cut -d' ' -f1 || true)
    if [ -n "$ts" ]; then date -u -d "$ts" +%s.%N; fi
}

SL_PID=""
sl_cpu() { b_proc_ticks "$SL_PID"; }
# sl_loop_cpu: ticks of sluiced's main thread, the event loop (the rest is the spool writer)
sl_loop_cpu() { sed 's/.*) //' "/proc/$SL_PID/task/$SL_PID/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
sl_queued() { "$SLUICE" -o queue_directory="$SL_Q" queue list --json 2>>"$OUT/sluice-cli.stderr" | wc -l; }

# sluice_start: a fresh sluiced on an empty queue; sets SL_PID and SL_Q
sluice_start() {
    b_sluiced_start "${SL_OPTS[@]}"
}

sluice_stop() {
    local rc=0
    b_stop "$SL_PID" 20 || rc=$?
    [ "$rc" = 0 ] || fail "sluiced exited with status $rc (see $OUT/sluiced.stderr)"
    SL_PID=""
    rm -rf "$SL_Q"
}

# ---------------------------------------------------------------- one relay run
# relay_run SYSTEM PROFILE SESSIONS REP: SYSTEM sluice|postfix; appends one row to $TSV
relay_run() {
    local sys=$1 prof=$2 s=$3 rep=$4 tag addr cpufn json c0 c1 d0 d1 p0 p1 t0 t2 tdone i
    local left check="OK" why=() count=$N
    [ "$rep" = 0 ] && count=$WARMUP
    tag=$sys-$prof-s$s-r$rep
    json=$OUT/$tag-blast.json
    if [ "$sys" = sluice ]; then
        addr=$SLUICE_ADDR cpufn=sl_cpu
        sluice_start
    else
        addr=$PF_ADDR cpufn=postfix_cpu_ticks
        if [ -n "$PF_PROFILE_NOW" ] && ! pf_ours; then
            b_log "$tag: Postfix was stopped or reconfigured by something else during the bench: configuring it again"
            PF_LOST=$((PF_LOST + 1))
            PF_PROFILE_NOW=""
        fi
        pf_profile "$prof" || { fail "$tag: Postfix profile $prof"; return 0; }
        left=$(pf_queued)
        [ "$left" = 0 ] || { b_log "$tag: $left files in Postfix's queue before the run: deleted"; postsuper -d ALL >/dev/null 2>&1 || true; }
    fi
    sink_start "$count" "$tag"
    sync
    # the box's load from others: its busy share during a 1 s pause with everything idle
    local q0 q1 bg
    q0=$(b_cpu_snap); sleep 1; q1=$(b_cpu_snap)
    bg=$(b_cpu_delta "$q0" "$q1" | awk '{ t = $1 + $2 + $3; printf "%.0f", (t > 0 ? 100 * $1 / t : 0) }')
    c0=$(cpu_split_snap); d0=$(b_disk_snap "$DISK"); p0=$($cpufn)
    local l0="" l1=""
    [ "$sys" = sluice ] && l0=$(sl_loop_cpu)
    t0=$(b_now)
    local brc=0
    blast "$addr" "$s" "$count" "$json" || brc=$?
    # a failed injection never completes the sink's count: do not wait the full timeout then
    local src=0 acc0 wait_s=$RUN_TIMEOUT
    acc0=$(b_json_num "$json" accepted)
    [ "${acc0:-0}" = "$count" ] || { wait_s=15; b_log "$tag: smtpblast accepted ${acc0:-0} of $count (exit $brc)"; }
    sink_wait "$wait_s" || src=$?
    t2=$(b_now)
    # the queue must empty: the MTA records the deliveries after the sink's 250s
    for ((i = 0; i < 200; i++)); do
        if [ "$sys" = sluice ]; then left=$(sl_queued); else left=$(pf_queued); fi
        [ "$left" = 0 ] && break
        sleep 0.05
    done
    p1=$($cpufn); d1=$(b_disk_snap "$DISK"); c1=$(cpu_split_snap)
    [ "$sys" = sluice ] && l1=$(sl_loop_cpu)
    local win loopcpu=n/a
    win=$(awk -v a="$t0" -v b="$(b_now)" 'BEGIN { printf "%.3f", b - a }')
    [ "$sys" = sluice ] && sluice_stop
    [ "$rep" = 0 ] && { b_log "warm-up $sys: $count messages, sink finished: $([ "$src" = 0 ] && echo yes || echo NO), queue left $left"; return 0; }

    tdone=$(sink_done_at)
    local acc sacc dups refs conns peak e2e exit_s inj_s srv blastcpu sinkcpu
    acc=$(b_json_num "$json" accepted); acc=${acc:-0}
    inj_s=$(b_json_num "$json" elapsed_s); inj_s=${inj_s:-0}
    sacc=$(b_json_num "$SINK_F.json" accepted); sacc=${sacc:-n/a}
    dups=$(b_json_num "$SINK_F.json" duplicates); dups=${dups:-n/a}
    refs=$(b_json_num "$SINK_F.json" refusals); refs=${refs:-n/a}
    conns=$(b_json_num "$SINK_F.json" connections); conns=${conns:-n/a}
    peak=$(b_json_num "$SINK_F.json" peak_connections); peak=${peak:-n/a}
    exit_s=$(b_calc "$t2 - $t0")
    if [ -n "$tdone" ]; then e2e=$(b_calc "$tdone - $t0"); else e2e=n/a; fi
    srv=n/a
    [ -n "$p0" ] && [ -n "$p1" ] && srv=$(b_calc "($p1 - $p0) / $HZ")
    blastcpu=$(time_cpu "${json%.json}.time")
    [ -n "$l0" ] && [ -n "$l1" ] && loopcpu=$(b_calc "($l1 - $l0) / $HZ")
    sinkcpu=$(time_cpu "$SINK_F.time")
    [ "$brc" = 0 ] || why+=("smtpblast exit $brc")
    [ "$acc" = "$count" ] || why+=("smtpblast accepted $acc of $count")
    [ "$src" = 0 ] || why+=("the sink did not finish within ${RUN_TIMEOUT}s")
    [ "$sacc" = "$count" ] || why+=("sink accepted $sacc")
    [ "$dups" = 0 ] || why+=("sink duplicates $dups")
    [ "$left" = 0 ] || why+=("$left still queued")
    [ "$e2e" != n/a ] || why+=("no 'sink stopping' line")
    if [ ${#why[@]} -gt 0 ]; then
        check="FAIL: $(IFS=,; echo "${why[*]}")"
        fail "$tag: ${why[*]}"
    fi
    local rate=0 irate=0
    [ "$e2e" != n/a ] && rate=$(b_calc "$count / $e2e")
    awk -v t="$inj_s" 'BEGIN { exit !(t > 0) }' && irate=$(b_calc "$acc / $inj_s")
    read -r busy usr sys_s sirq iow <<<"$(cpu_split_delta "$c0" "$c1")"
    read -r wops wmb flushes <<<"$(b_disk_delta "$d0" "$d1")"
    printf '%s\t' "$sys" "$prof" "$s" "$rep" "$count" "$acc" "$inj_s" "$irate" "$e2e" "$rate" "$exit_s" \
        "$sacc" "$dups" "$refs" "$conns" "$peak" "$srv" "$blastcpu" "$sinkcpu" "$busy" "$usr" "$sys_s" \
        "$sirq" "$iow" "$wops" "$wmb" "$flushes" "$left" "$win" "$bg" "$loopcpu" >>"$TSV"
    printf '%s\n' "$check" >>"$TSV"
    printf '%-7s %-7s s=%-3s rep %s: e2e %6.0f msgs/s (%ss)  inject %6.0f/s  sink: %s accepted, %s dup, %s conns  CPU %ss  flushes %s  queue %s  %s\n' \
        "$sys" "$prof" "$s" "$rep" "$rate" "$e2e" "$irate" "$sacc" "$dups" "$conns" "$srv" "$flushes" "$left" "$check"
}

# ---------------------------------------------------------------- one no-queue run
# nq_run RECEIVER MODE SESSIONS REP: RECEIVER sluice-sink|smtp-sink; appends to $NQTSV
nq_run() {
    local who=$1 mode=$2 s=$3 rep=$4 tag addr json rpid acc rate lost summ=n/a dups=n/a
    local extra=() check=OK why=() brc=0 ticks rcpu
    tag=nq-$who-$mode-s$s-r$rep
    json=$OUT/$tag-blast.json
    [ "$mode" = reuse ] && extra=(-d)
    if [ "$who" = sluice-sink ]; then
        addr=$SINK_ADDR
        "$SLUICE" sink --json --listen "$SINK_ADDR" >"$OUT/$tag-sink.json" 2>"$OUT/$tag-sink.log" &
    else
        addr=$SMTPSINK_ADDR
        # -m: more sessions than the benchmark opens; 1024: the listen backlog
        "$SMTP_SINK_BIN" -u nobody -m 512 "$SMTPSINK_ADDR" 1024 >"$OUT/$tag-sink.log" 2>&1 &
    fi
    rpid=$!
    b_remember "$rpid"
    b_wait_listen "${addr%:*}" "${addr##*:}" 10 "$rpid" || b_die "$who did not listen on $addr"
    sleep 0.3
    local c0 c1 busy
    c0=$(b_cpu_snap)
    blast "$addr" "$s" "$N" "$json" "${extra[@]}" || brc=$?
    c1=$(b_cpu_snap)
    ticks=$(b_proc_ticks "$rpid")
    b_stop "$rpid" 10 || true
    busy=$(b_cpu_delta "$c0" "$c1" | awk '{ print $1 }')
    rcpu=n/a
    [ -n "$ticks" ] && rcpu=$(b_calc "$ticks / $HZ")
    acc=$(b_json_num "$json" accepted); acc=${acc:-0}
    lost=$(b_json_num "$json" lost); lost=${lost:-n/a}
    rate=$(b_json_num "$json" msgs_per_s); rate=${rate:-0}
    if [ "$who" = sluice-sink ]; then
        summ=$(b_json_num "$OUT/$tag-sink.json" accepted); summ=${summ:-n/a}
        dups=$(b_json_num "$OUT/$tag-sink.json" duplicates); dups=${dups:-n/a}
        [ "$summ" = "$N" ] || why+=("sink accepted $summ")
        [ "$dups" = 0 ] || why+=("sink duplicates $dups")
    fi
    [ "$brc" = 0 ] || why+=("smtpblast exit $brc")
    [ "$acc" = "$N" ] || why+=("smtpblast accepted $acc of $N, lost $lost")
    if [ ${#why[@]} -gt 0 ]; then
        check="FAIL: $(IFS=,; echo "${why[*]}")"
        fail "$tag: ${why[*]}"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$who" "$mode" "$s" "$rep" "$N" "$acc" "$rate" \
        "$rcpu" "$(time_cpu "${json%.json}.time")" "$summ" "$busy" "$check" >>"$NQTSV"
    printf 'no-queue %-11s %-5s s=%-3s rep %s: %6.0f msgs/s  accepted %s  receiver CPU %ss  %s\n' \
        "$who" "$mode" "$s" "$rep" "$rate" "$acc" "$rcpu" "$check"
}

# ---------------------------------------------------------------- the issue's recipe
# source_run ADDR SESSIONS: smtp-source as the peers' nqlimit.sh runs it (a new connection per
# message, SIZE-byte payload); seconds taken, or empty on failure
source_run() {
    local t0 t1
    t0=$(b_now)
    timeout --foreground "$RUN_TIMEOUT" "$SMTP_SOURCE_BIN" -s "$2" -m "$N" -l "$SIZE" \
        -f sender@source.test -t rcpt@sink.test -M source.test "$1" >>"$OUT/smtp-source.err" 2>&1 || return 0
    t1=$(b_now)
    b_calc "$t1 - $t0"
}

# recipe_run REP: at TARGET_SESSIONS, smtp-source into smtp-sink, then smtp-source into
# sluiced relaying to sluice sink; appends two rows to $RTSV
recipe_run() {
    local rep=$1 s=$TARGET_SESSIONS secs rpid tdone t0 left i check=OK why=()
    "$SMTP_SINK_BIN" -u nobody -m 512 "$SMTPSINK_ADDR" 1024 >"$OUT/recipe-smtp-sink.log" 2>&1 &
    rpid=$!
    b_remember "$rpid"
    b_wait_listen "${SMTPSINK_ADDR%:*}" "${SMTPSINK_ADDR##*:}" 10 "$rpid" || b_die "smtp-sink did not listen on $SMTPSINK_ADDR"
    sleep 0.3
    secs=$(source_run "$SMTPSINK_ADDR" "$s")
    b_stop "$rpid" 10 || true
    [ -n "$secs" ] || { check="FAIL: smtp-source into smtp-sink failed"; fail "recipe nq rep $rep: smtp-source failed"; }
    printf 'nq\t%s\t%s\t%s\n' "$rep" "$([ -n "$secs" ] && b_calc "$N / $secs" || echo 0)" "$check" >>"$RTSV"
    printf 'recipe  no-queue smtp-source -> smtp-sink  s=%-3s rep %s: %6.0f msgs/s  %s\n' "$s" "$rep" \
        "$([ -n "$secs" ] && b_calc "$N / $secs" || echo 0)" "$check"

    check=OK
    sluice_start
    sink_start "$N" "recipe-r$rep"
    sync
    t0=$(b_now)
    secs=$(source_run "$SLUICE_ADDR" "$s")
    [ -n "$secs" ] || why+=("smtp-source into sluiced failed")
    sink_wait "$RUN_TIMEOUT" || why+=("the sink did not finish")
    for ((i = 0; i < 200; i++)); do
        left=$(sl_queued)
        [ "$left" = 0 ] && break
        sleep 0.05
    done
    sluice_stop
    tdone=$(sink_done_at)
    local sacc dups rate=0
    sacc=$(b_json_num "$SINK_F.json" accepted); sacc=${sacc:-n/a}
    dups=$(b_json_num "$SINK_F.json" duplicates); dups=${dups:-n/a}
    [ "$sacc" = "$N" ] || why+=("sink accepted $sacc")
    [ "$dups" = 0 ] || why+=("sink duplicates $dups")
    [ "$left" = 0 ] || why+=("$left still queued")
    [ -n "$tdone" ] || why+=("no 'sink stopping' line")
    if [ ${#why[@]} -gt 0 ]; then
        check="FAIL: $(IFS=,; echo "${why[*]}")"
        fail "recipe relay rep $rep: ${why[*]}"
    else
        rate=$(b_calc "$N / ($tdone - $t0)")
    fi
    printf 'relay\t%s\t%s\t%s\n' "$rep" "$rate" "$check" >>"$RTSV"
    printf 'recipe  relay smtp-source -> sluiced -> sluice sink  s=%-3s rep %s: %6.0f msgs/s  %s\n' "$s" "$rep" "$rate" "$check"
}

# ---------------------------------------------------------------- the run
b_log "bench_relay: N=$N SIZE=$SIZE REPS=$REPS SESSIONS='$SESSIONS' sluiced on $SLUICE_ADDR, sink on $SINK_ADDR, spool $SPOOL_BASE (disk ${DISK:-?})"
printf '%s\t' system profile sessions rep N blast_accepted inject_s inject_msgs_per_s e2e_s e2e_msgs_per_s \
    exit_s sink_accepted sink_duplicates sink_refusals sink_connections sink_peak_connections server_cpu_s \
    smtpblast_cpu_s sink_cpu_s box_busy_s box_user_s box_sys_s box_softirq_s box_iowait_s disk_write_ops \
    disk_MB disk_flushes queue_left cpu_window_s background_busy_pct sluiced_loop_cpu_s >"$TSV"
echo check >>"$TSV"
echo -e "receiver\tmode\tsessions\trep\tN\taccepted\tmsgs_per_s\treceiver_cpu_s\tsmtpblast_cpu_s\tsink_summary_accepted\tbox_busy_s\tcheck" >"$NQTSV"
echo -e "kind\trep\tmsgs_per_s\tcheck" >"$RTSV"

PEER_NOTE=""
if [ "$PEER_OK" = 1 ]; then
    b_on_exit peer_restore
    peer_setup
fi
PF_RUN_PROFILES=""
[ "$PEER_OK" = 1 ] && PF_RUN_PROFILES=$PF_PROFILES

b_log "warm-up: $WARMUP messages through each relay"
relay_run sluice - 10 0
[ "$PEER_OK" = 1 ] && relay_run postfix default 10 0

for ((rep = 1; rep <= REPS; rep++)); do
    for s in $SESSIONS; do
        for m in $NQ_MODES; do
            nq_run sluice-sink "$m" "$s" "$rep"
            [ "$NQ_PEER" = 1 ] && nq_run smtp-sink "$m" "$s" "$rep"
        done
        relay_run sluice - "$s" "$rep"
        [[ " $PF_RUN_PROFILES " == *" default "* ]] && relay_run postfix default "$s" "$rep"
    done
    [ "$RECIPE_OK" = 1 ] && recipe_run "$rep"
    if [[ " $PF_RUN_PROFILES " == *" tuned "* ]]; then
        for s in $PF_TUNED_SESSIONS; do relay_run postfix tuned "$s" "$rep"; done
        pf_profile default || true
    fi
done

peer_restore

# ---------------------------------------------------------------- summary
# med SYSTEM PROFILE SESSIONS AWK-EXPR: median over the reps of an expression of $TSV's columns
med() {
    # shellcheck disable=SC2046  # one value per word
    b_median $(awk -F'\t' -v sy="$1" -v p="$2" -v s="$3" \
        'NR > 1 && $1 == sy && $2 == p && $3 == s && $NF == "OK" { v = '"$4"'; if (v != "" && v != "n/a") print v }' "$TSV")
}
# nqmed RECEIVER MODE SESSIONS [AWK-EXPR]: median no-queue rate (or expression of $NQTSV's columns)
nqmed() {
    # shellcheck disable=SC2046
    b_median $(awk -F'\t' -v w="$1" -v m="$2" -v s="$3" \
        'NR > 1 && $1 == w && $2 == m && $3 == s && $NF == "OK" { v = '"${4:-\$7}"'; if (v != "" && v != "n/a") print v }' "$NQTSV")
}
# paired SYSTEM PROFILE SESSIONS OTHER: median over the reps of rate(SYSTEM)/rate(OTHER) of the
# same rep; OTHER is "postfix:PROFILE" or "nq:RECEIVER:MODE"
paired() {
    # shellcheck disable=SC2046
    b_median $(awk -F'\t' -v sy="$1" -v p="$2" -v s="$3" -v o="$4" '
        BEGIN { split(o, w, ":") }
        FILENAME == ARGV[1] && FNR > 1 && $1 == sy && $2 == p && $3 == s && $NF == "OK" { a[$4] = $10 }
        FILENAME == ARGV[1] && FNR > 1 && w[1] == "postfix" && $1 == "postfix" && $2 == w[2] && $3 == s && $NF == "OK" { b[$4] = $10 }
        FILENAME == ARGV[2] && FNR > 1 && w[1] == "nq" && $1 == w[2] && $2 == w[3] && $3 == s && $NF == "OK" { b[$4] = $7 }
        END { for (r in a) if ((r in b) && b[r] > 0) print a[r] / b[r] }' "$TSV" "$NQTSV")
}
# pct_of ARGS...: 100 x paired ARGS (empty when there is no pair)
pct_of() {
    local r
    r=$(paired "$@")
    if [ -n "$r" ]; then b_calc "100 * $r"; fi
}
verdict() {  # verdict VALUE TARGET -> PASS|MISS|n/a
    [ -n "$1" ] || { echo "n/a "; return; }
    awk -v v="$1" -v t="$2" 'BEGIN { print ((v + 0 >= t + 0) ? "PASS" : "MISS") }'
}
count_ok() {  # count_ok SYSTEM PROFILE SESSIONS -> "3/3"
    awk -F'\t' -v sy="$1" -v p="$2" -v s="$3" 'NR > 1 && $1 == sy && $2 == p && $3 == s { n++; if ($NF == "OK") ok++ }
        END { printf "%d/%d", ok, n }' "$TSV"
}

E_CPUMS='($17 == "n/a" || $5 == 0) ? "" : $17 * 1000 / $5'
E_BOXMS='$5 == 0 ? "" : $20 * 1000 / $5'
E_FLUSH='($27 == "n/a" || $5 == 0) ? "" : $27 / $5'
E_MPC='($15 == "n/a" || $15 == 0) ? "" : $12 / $15'

SUMMARY=$OUT/summary.txt
{
    echo
    echo "End-to-end relay on loopback: $N messages of $SIZE bytes, 1 recipient, new connection per"
    echo "submission; median of $REPS reps ($(nproc) CPUs, $(uname -r), $(date '+%Y-%m-%d %H:%M'))"
    echo "sluiced $SLUICED_ID"
    echo "  fresh daemon + empty queue per run in $SPOOL_BASE (disk ${DISK:-?}); $(printf '%s ' "${SL_OPTS[@]}" | sed 's/-o //g')"
    echo "receiver: a fresh 'sluice sink --exit-after-messages N' on $SINK_ADDR per run; end = its N-th 250"
    if [ "$PEER_OK" = 1 ]; then
        echo "Postfix $PF_VERSION on $PF_ADDR, relayhost=[${SINK_ADDR%:*}]:${SINK_ADDR##*:}, queue /var/spool/postfix, peers' postfix_configure:"
        echo "  default (Debian defaults): $(cat "$OUT/postfix-default-key.txt" 2>/dev/null)"
        if [[ " $PF_PROFILES " == *" tuned "* ]]; then
            echo "  tuned (at $PF_TUNED_SESSIONS sessions; peers' tuned profile): $(cat "$OUT/postfix-tuned-key.txt" 2>/dev/null)"
        fi
        echo "  (all settings: $OUT/postfix-*-settings.txt)"
    else
        echo "Postfix: peer missing - $PEER_WHY; sluice figures only"
    fi
    [ -n "$PEER_NOTE" ] && echo "Note: $PEER_NOTE"
    [ "$PF_LOST" = 0 ] || echo "WARNING: Postfix was stopped or reconfigured by something else $PF_LOST time(s) during the bench"
    echo
    printf '%-8s %9s %9s %8s %9s %8s %10s %10s %8s %8s %9s %9s\n' sessions "sluice/s" "Postfix/s" ratio \
        "tuned/s" "ratio" "no-queue/s" "nq reuse/s" "%nq" "%nq re" "sl CPUms" "pf CPUms"
    for s in $SESSIONS; do
        sr=$(med sluice - "$s" '$10'); pr=$(med postfix default "$s" '$10'); tr=$(med postfix tuned "$s" '$10')
        printf '%-8s %9s %9s %8s %9s %8s %10s %10s %8s %8s %9s %9s\n' "$s" \
            "$(b_fmt %.0f "$sr")" "$(b_fmt %.0f "$pr")" "$(b_fmt %.2fx "$(paired sluice - "$s" postfix:default)")" \
            "$(b_fmt %.0f "$tr")" "$(b_fmt %.2fx "$(paired sluice - "$s" postfix:tuned)")" \
            "$(b_fmt %.0f "$(nqmed sluice-sink conn "$s")")" "$(b_fmt %.0f "$(nqmed sluice-sink reuse "$s")")" \
            "$(b_fmt %.0f%% "$(pct_of sluice - "$s" nq:sluice-sink:conn)")" \
            "$(b_fmt %.0f%% "$(pct_of sluice - "$s" nq:sluice-sink:reuse)")" \
            "$(b_fmt %.3f "$(med sluice - "$s" "$E_CPUMS")")" "$(b_fmt %.3f "$(med postfix default "$s" "$E_CPUMS")")"
    done
    echo "(msgs/s: N / (sink's N-th 250 - first submission); ratio and %nq: median of the per-rep"
    echo " pairs; no-queue: smtpblast straight into sluice sink, conn = new connection per message"
    echo " like the relay runs' submissions, reuse = -d; CPU-ms: the MTA's own CPU per message)"
    echo
    echo "No-queue limit: smtpblast straight into the receiver (msgs/s, median; box CPU-ms per message,"
    echo "both CPUs, client + receiver + kernel, to set beside the relays' box CPU-ms below):"
    printf '%-8s %14s %10s %14s %14s %10s %14s\n' sessions "sluice sink" "box CPU-ms" "sluice sink -d" "smtp-sink" "box CPU-ms" "smtp-sink -d"
    for s in $SESSIONS; do
        printf '%-8s %14s %10s %14s %14s %10s %14s\n' "$s" \
            "$(b_fmt %.0f "$(nqmed sluice-sink conn "$s")")" "$(b_fmt %.3f "$(nqmed sluice-sink conn "$s" '$11 * 1000 / $5')")" \
            "$(b_fmt %.0f "$(nqmed sluice-sink reuse "$s")")" \
            "$(b_fmt %.0f "$(nqmed smtp-sink conn "$s")")" "$(b_fmt %.3f "$(nqmed smtp-sink conn "$s" '$11 * 1000 / $5')")" \
            "$(b_fmt %.0f "$(nqmed smtp-sink reuse "$s")")"
    done
    echo
    echo "Details (medians of the runs that passed their checks):"
    printf '%-7s %-7s %4s %6s %8s %8s %7s %9s %9s %9s %10s %9s %9s %6s\n' system profile sess checks "e2e/s" \
        "inject/s" "exit s" "out conns" "msgs/conn" "CPU-ms" "box CPU-ms" "flush/msg" "peak conc" "refus"
    for s in $SESSIONS; do
        for sp in "sluice -" "postfix default" "postfix tuned"; do
            read -r sy p <<<"$sp"
            [ "$(count_ok "$sy" "$p" "$s")" = 0/0 ] && continue
            printf '%-7s %-7s %4s %6s %8s %8s %7s %9s %9s %9s %10s %9s %9s %6s\n' "$sy" "$p" "$s" "$(count_ok "$sy" "$p" "$s")" \
                "$(b_fmt %.0f "$(med "$sy" "$p" "$s" '$10')")" "$(b_fmt %.0f "$(med "$sy" "$p" "$s" '$8')")" \
                "$(b_fmt %.2f "$(med "$sy" "$p" "$s" '$11')")" "$(b_fmt %.0f "$(med "$sy" "$p" "$s" '$15')")" \
                "$(b_fmt %.0f "$(med "$sy" "$p" "$s" "$E_MPC")")" "$(b_fmt %.3f "$(med "$sy" "$p" "$s" "$E_CPUMS")")" \
                "$(b_fmt %.3f "$(med "$sy" "$p" "$s" "$E_BOXMS")")" "$(b_fmt %.3f "$(med "$sy" "$p" "$s" "$E_FLUSH")")" \
                "$(b_fmt %.0f "$(med "$sy" "$p" "$s" '$16')")" "$(b_fmt %.0f "$(med "$sy" "$p" "$s" '$14')")"
        done
    done
    echo
    echo "CPU split per run (CPU-seconds, medians; box = both CPUs, from the first submission until"
    echo "the MTA's queue was empty (window s); other = box - MTA - smtpblast - sink, which includes"
    echo "whatever else runs on the box; bg = the box's busy share in an idle 1 s pause just before;"
    echo "(loop) = sluiced's event-loop thread, the rest of sluiced's CPU is its spool writer thread)"
    printf '%-7s %-7s %4s %7s %6s %9s %7s %7s %7s | %7s %7s %7s %7s %8s %6s %5s\n' system profile sess "MTA" "(loop)" \
        smtpblast sink other "box" user sys softirq iowait "window s" "box %" "bg %"
    for s in $SESSIONS; do
        for sp in "sluice -" "postfix default" "postfix tuned"; do
            read -r sy p <<<"$sp"
            [ "$(count_ok "$sy" "$p" "$s")" = 0/0 ] && continue
            printf '%-7s %-7s %4s %7s %6s %9s %7s %7s %7s | %7s %7s %7s %7s %8s %6s %5s\n' "$sy" "$p" "$s" \
                "$(b_fmt %.2f "$(med "$sy" "$p" "$s" '$17')")" "$(b_fmt %.2f "$(med "$sy" "$p" "$s" '$31')")" \
                "$(b_fmt %.2f "$(med "$sy" "$p" "$s" '$18')")" \
                "$(b_fmt %.2f "$(med "$sy" "$p" "$s" '$19')")" \
                "$(b_fmt %.2f "$(med "$sy" "$p" "$s" '($17 == "n/a" || $18 == "n/a" || $19 == "n/a") ? "" : $20 - $17 - $18 - $19')")" \
                "$(b_fmt %.2f "$(med "$sy" "$p" "$s" '$20')")" "$(b_fmt %.2f "$(med "$sy" "$p" "$s" '$21')")" \
                "$(b_fmt %.2f "$(med "$sy" "$p" "$s" '$22')")" "$(b_fmt %.2f "$(med "$sy" "$p" "$s" '$23')")" \
                "$(b_fmt %.2f "$(med "$sy" "$p" "$s" '$24')")" "$(b_fmt %.2f "$(med "$sy" "$p" "$s" '$29')")" \
                "$(b_fmt %.0f%% "$(med "$sy" "$p" "$s" '$29 > 0 ? $20 * 100 / ($29 * '"$(nproc)"') : ""')")" \
                "$(b_fmt %.0f%% "$(med "$sy" "$p" "$s" '$30')")"
        done
    done
    echo
    ts=$TARGET_SESSIONS
    echo "Targets ($ts sessions):"
    if [[ " $SESSIONS " == *" $ts "* ]]; then
        sr=$(med sluice - "$ts" '$10')
        if [ "$PEER_OK" = 1 ]; then
            r=$(paired sluice - "$ts" postfix:default)
            printf '  [%s] sluice >= %sx Postfix end to end: %sx (%s vs %s msgs/s)\n' "$(verdict "$r" "$TARGET_RATIO")" \
                "$TARGET_RATIO" "$(b_fmt %.2f "$r")" "$(b_fmt %.0f "$sr")" "$(b_fmt %.0f "$(med postfix default "$ts" '$10')")"
            printf '  [%s] project goal %sx Postfix: %sx\n' "$(verdict "$r" "$GOAL_RATIO")" "$GOAL_RATIO" "$(b_fmt %.2f "$r")"
            if [[ " $PF_PROFILES " == *" tuned "* && " $PF_TUNED_SESSIONS " == *" $ts "* ]]; then
                r=$(paired sluice - "$ts" postfix:tuned)
                printf '  [%s] (against the tuned Postfix) >= %sx: %sx (%s msgs/s)\n' "$(verdict "$r" "$TARGET_RATIO")" \
                    "$TARGET_RATIO" "$(b_fmt %.2f "$r")" "$(b_fmt %.0f "$(med postfix tuned "$ts" '$10')")"
            fi
        else
            echo "  [n/a ] sluice >= ${TARGET_RATIO}x Postfix: peer missing ($PEER_WHY)"
        fi
        for m in $NQ_MODES; do
            pct=$(pct_of sluice - "$ts" "nq:sluice-sink:$m")
            if [ "$m" = conn ]; then what="no-queue limit (new connection per message, as the submissions)"
            else what="no-queue limit with connections reused (stricter)"; fi
            printf '  [%s] sluice >= %s%% of the %s: %s (%s vs %s msgs/s)\n' "$(verdict "$pct" "$TARGET_NQ_PCT")" \
                "$TARGET_NQ_PCT" "$what" "$(b_fmt %.0f%% "$pct")" "$(b_fmt %.0f "$sr")" "$(b_fmt %.0f "$(nqmed sluice-sink "$m" "$ts")")"
        done
        if [ "$NQ_PEER" = 1 ] && [[ " $NQ_MODES " == *" conn "* ]]; then
            pct=$(pct_of sluice - "$ts" nq:smtp-sink:conn)
            printf '  [%s] (reference: the issue measured the limit with smtp-sink) >= %s%% of smtp-sink, new connection per message: %s (%s msgs/s)\n' \
                "$(verdict "$pct" "$TARGET_NQ_PCT")" "$TARGET_NQ_PCT" "$(b_fmt %.0f%% "$pct")" "$(b_fmt %.0f "$(nqmed smtp-sink conn "$ts")")"
        fi
    else
        echo "  [n/a ] not measured (SESSIONS must include $ts)"
    fi
    if [ "$RECIPE_OK" = 1 ]; then
        # paired per rep, like the others
        # shellcheck disable=SC2046
        rpct=$(b_median $(awk -F'\t' 'NR > 1 && $4 == "OK" { v[$1, $2] = $3; r[$2] = 1 }
            END { for (k in r) if (("nq", k) in v && ("relay", k) in v && v["nq", k] > 0)
                      print 100 * v["relay", k] / v["nq", k] }' "$RTSV"))
        # shellcheck disable=SC2046
        rnq=$(b_median $(awk -F'\t' 'NR > 1 && $1 == "nq" && $4 == "OK" { print $3 }' "$RTSV"))
        # shellcheck disable=SC2046
        rrel=$(b_median $(awk -F'\t' 'NR > 1 && $1 == "relay" && $4 == "OK" { print $3 }' "$RTSV"))
        printf '  [%s] the issue'"'"'s recipe (peers'"'"' smtp-source, %s sessions, a new connection per message): relay\n' \
            "$(verdict "$rpct" "$TARGET_NQ_PCT")" "$ts"
        printf '         >= %s%% of smtp-source straight into smtp-sink: %s (%s vs %s msgs/s)\n' "$TARGET_NQ_PCT" \
            "$(b_fmt %.0f%% "$rpct")" "$(b_fmt %.0f "$rrel")" "$(b_fmt %.0f "$rnq")"
    fi
    [ "$failures" = 0 ] || echo "  $failures FAILURE(S): see the lines marked FAIL above and $TSV"
    echo
    echo "Per-run figures: $TSV and $NQTSV; sink logs and summaries, smtpblast JSON: $OUT/"
} | tee "$SUMMARY"

[ "$failures" = 0 ]
