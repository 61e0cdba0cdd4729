#!/bin/bash
# bench_gauntlet.sh - issue 5, "Acceptance (bench/ scenario)": delivering through a receiver
# that greylists, limits connections and rates, and is randomly overloaded.
#
# The scenario: MESSAGES=500 messages, one recipient each, to 50 recipients at 5 domains
# (/work/shared/peers/inject.py's defaults: user01..user10 at d1.test..d5.test, each recipient
# 10 messages, unique Message-IDs), submitted over SMTP to the sender under test, which
# relays everything to one `sluice sink` on SINK_ADDR:
#     sluice sink --greylist 20 --max-conn-per-ip 2 --rate 60/10 --overload 0.05 --seed 1
# (a fresh sink per run, same seed, --record for the analysis, -v for every connection).
# Senders, in one run, back to back:
#  1. sluiced (fresh daemon, empty queue, its defaults: shaping as shipped) on SLUICE_ADDR;
#  2. Postfix, through the peers' postfix_relay_to.sh, in each of PEER_PROFILES
#     ("default": Postfix's defaults; "tuned": smtp_destination_concurrency_limit=2 and
#     smtp_destination_rate_delay=1s, as the guide says; both with the peers' shortened
#     minimal_backoff_time=5s, maximal_backoff_time=60s, queue_run_delay=5s).
#
# Measured per run (from the sink's record, its -v log and inject.py's --out list):
#  * delivered: injected Message-IDs the sink accepted; lost: injected and never accepted;
#    duplicates: acceptances of a (Message-ID, recipient) already accepted (the sink's own
#    summary count is printed beside it); extra: acceptances of messages that were not
#    injected (bounces, delay notices);
#  * time: from t0, the first submission (inject.py's first --out line: when the MTA
#    answered 250 to message 1), to the sink's acceptance that completed the injected set
#    (the 500th acceptance when nothing was duplicated); ratio to the theoretical minimum:
#        T_min = G + ceil((M - N) / N) * W
#    with G the greylist delay, N messages per sliding window of W seconds, M messages, all
#    recipients first tried at t0.  Assumptions: nothing is accepted before G (every
#    recipient's triplet is new), every triplet passes at exactly G and stays whitelisted,
#    N messages go at once at G, G+W, G+2W, ... (the window counts acceptances, so the k-th
#    batch of N can be accepted W after the previous one), delivery itself takes no time
#    (unlimited speed over the 2 connections allowed), and the random overload is ignored.
#    Here: 20 + ceil(440 / 60) * 10 = 100 s.  docs/gauntlet.md explains it.
#  * 421s drawn, by the sink's policy (max_conn_per_ip, rate, overload, protocol = the
#    engine's "too many errors", shutdown = the sink stopping) and greylisting 451s;
#  * connections: every "connect from" line of the sink's -v log (the sink numbers sessions
#    in that order, which is how the record's "session" field maps to a connection and its
#    start time).  "After the first minute" (t0 + 60 s on): the connections in use then,
#    i.e. opened then or with a recorded transaction or refusal then (a connection opened
#    early and reused counts too), and how many of them drew a 421 then.  The overload
#    policy refuses a random 5% of all new connections at the greeting whatever the sender
#    does, so the fraction is printed with and without the overload 421s; the target (at
#    most 5%) is judged on both, and only the first says whether the sender learned.
#    421s with policy "shutdown" (connections still open when the sink is stopped) are
#    counted apart and not in the fractions; the bench waits GRACE seconds after the queue
#    empties, so normally there are none.
# Targets (printed PASS/MISS): sluice within 1.25x T_min (project goal 1.15x); after the
# first minute at most 5% of sluice's connections draw a 421; all delivered, none twice,
# none lost.  Postfix is the reference, measured in the same run; its figures are printed
# side by side with the ratio of its time to sluice's.
#
# Environment (all optional):
#   MESSAGES=500 DOMAINS=5 USERS=10 (per domain)   REPS=1
#   GREYLIST=20 MAX_CONN=2 RATE=60/10 OVERLOAD=0.05 SEED=1   (the sink's settings)
#   PEER_PROFILES="default tuned"   SKIP_POSTFIX=1 to measure sluice alone
#     (Postfix's default profile needs about 14 minutes, tuned about 9, sluice about 2)
#   SLUICE_ADDR=127.0.0.1:2680 SINK_ADDR=127.0.0.1:2681 (loopback only; Postfix uses :25)
#   SLUICED_OPTS="name=value ..."  extra -o settings for sluiced (experiments; printed)
#   SLUICE_TIMEOUT=600 PF_TIMEOUT=1500 (seconds per run)   PF_WAIT=1800 (seconds to wait
#     for another bench that is using Postfix, which is one per machine, to finish with it)   GRACE=3 (seconds after the queue
#     empties before the sink is stopped: late duplicates and cached connections)
#   SPOOL_BASE=/var/spool/sluice-bench-gauntlet  created and removed by this script
#   PEERS_DIR=/work/shared/peers   BENCH_OUT=/tmp/sluice-bench (results in $BENCH_OUT/gauntlet/)
# Exit status: 0 when every run finished and its checks could be made (a MISS is reported,
# not an error), 1 otherwise.
# shellcheck disable=SC2016  # awk programs, column expressions and b_on_exit commands stay unexpanded
# shellcheck disable=SC1091  # the peer recipes live outside the tree (PEERS_DIR)
set -euo pipefail
source "$(dirname "$0")/lib_bench.sh"

MESSAGES=${MESSAGES:-500}
DOMAINS=${DOMAINS:-5}
USERS=${USERS:-10}
REPS=${REPS:-1}
GREYLIST=${GREYLIST:-20}
MAX_CONN=${MAX_CONN:-2}
RATE=${RATE:-60/10}
OVERLOAD=${OVERLOAD:-0.05}
SEED=${SEED:-1}
PEER_PROFILES=${PEER_PROFILES:-"default tuned"}
SKIP_POSTFIX=${SKIP_POSTFIX:-0}
SLUICE_ADDR=${SLUICE_ADDR:-127.0.0.1:2680}
SINK_ADDR=${SINK_ADDR:-127.0.0.1:2681}
SLUICED_OPTS=${SLUICED_OPTS:-}
SLUICE_TIMEOUT=${SLUICE_TIMEOUT:-600}
PF_TIMEOUT=${PF_TIMEOUT:-1500}
GRACE=${GRACE:-3}
PF_WAIT=${PF_WAIT:-1800}
SPOOL_BASE=${SPOOL_BASE:-/var/spool/sluice-bench-gauntlet}
PEERS_DIR=${PEERS_DIR:-/work/shared/peers}
OUT=$BENCH_OUT/gauntlet
TSV=$OUT/runs.tsv
AFTER_S=60           # "after the first minute"
TARGET_RATIO=1.25
GOAL_RATIO=1.15
TARGET_421_PCT=5

b_init
mkdir -p "$OUT"
rm -rf "${OUT:?}"/rep* "$OUT"/*.tsv "$OUT"/summary.txt
failures=0
fail() { b_log "FAIL: $*"; failures=$((failures + 1)); }

# ---------------------------------------------------------------- checks and set-up
for a in "$SLUICE_ADDR" "$SINK_ADDR"; do
    case ${a%:*} in
        127.*) ;;
        *) b_die "$a: benchmarks talk to loopback (127.x.x.x) only" ;;
    esac
    b_listening "${a%:*}" "${a##*:}" && b_die "$a is already in use; choose another port (see the header)"
done
for v in MESSAGES DOMAINS USERS REPS MAX_CONN SLUICE_TIMEOUT PF_TIMEOUT; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || b_die "$v must be a positive integer"
done
[[ $SEED =~ ^[0-9]+$ ]] || b_die "SEED must be a number"
[[ $GRACE =~ ^[0-9]+(\.[0-9]+)?$ ]] || b_die "GRACE must be seconds"
[[ $RATE =~ ^([1-9][0-9]*)/([0-9]+(\.[0-9]+)?)$ ]] || b_die "RATE must be N/SECONDS, e.g. 60/10"
RATE_N=${BASH_REMATCH[1]} RATE_W=${BASH_REMATCH[2]}
[[ $GREYLIST =~ ^[0-9]+(\.[0-9]+)?$ ]] || b_die "GREYLIST must be seconds"
[[ $OVERLOAD =~ ^0(\.[0-9]+)?$ ]] || b_die "OVERLOAD must be a probability below 1"
for p in $PEER_PROFILES; do [[ $p == default || $p == tuned || $p == conc2 ]] || b_die "PEER_PROFILES: default, tuned, conc2; not $p"; done
command -v python3 >/dev/null || b_die "python3 is needed (inject.py and the analysis)"
[ -r "$PEERS_DIR/inject.py" ] || b_die "no $PEERS_DIR/inject.py (set PEERS_DIR)"
SLUICED=$(b_find_bin sluiced) || b_die "no sluiced under $BUILD_DIR: build first (see README)"
SLUICE=$(b_find_bin sluice) || b_die "no sluice under $BUILD_DIR: build first"

MARK=.sluice-bench-owned
if [ -e "$SPOOL_BASE" ] && [ ! -e "$SPOOL_BASE/$MARK" ] && [ -n "$(ls -A "$SPOOL_BASE" 2>/dev/null)" ]; then
    b_die "$SPOOL_BASE exists and was not made by this bench; set SPOOL_BASE to another directory"
fi
mkdir -p "$SPOOL_BASE" || b_die "cannot create $SPOOL_BASE"
touch "$SPOOL_BASE/$MARK"
b_on_exit 'rm -rf "$SPOOL_BASE"'
b_tmpdir TMP

# Snapshot the programs: the tree is shared, and a rebuild during the run must not mix binaries.
mkdir -p "$TMP/bin"
cp -p "$SLUICED" "$SLUICE" "$TMP/bin/"
SLUICED_ID="(tree at $(cd "$BENCH_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?') when the bench started)"
[ -z "$(cd "$BENCH_ROOT" && git status --porcelain --untracked-files=no -- src 2>/dev/null)" ] ||
    SLUICED_ID="$SLUICED_ID (src/ had uncommitted changes)"
SLUICED_ID="$SLUICED, built $(date -r "$SLUICED" '+%Y-%m-%d %H:%M:%S'), sha256 $(sha256sum "$SLUICED" | cut -c1-12); $BENCH_ROOT $SLUICED_ID"
SLUICED=$TMP/bin/sluiced SLUICE=$TMP/bin/sluice

# sluiced: its own defaults; relayhost = the sink; DNS kept on loopback; info logs (the
# shaping decisions and one line per delivery attempt)
SL_OPTS=(-o "relayhost=[${SINK_ADDR%:*}]:${SINK_ADDR##*:}" -o dns_servers=127.0.0.1@1 -o log_level=info)
for kv in $SLUICED_OPTS; do SL_OPTS+=(-o "$kv"); done
"$SLUICED" -n "${SL_OPTS[@]}" >/dev/null 2>&1 ||
    b_die "sluiced rejects ${SL_OPTS[*]}: $("$SLUICED" -n "${SL_OPTS[@]}" 2>&1 | tail -1)"

SINK_ARGS=(--greylist "$GREYLIST" --max-conn-per-ip "$MAX_CONN" --rate "$RATE" --overload "$OVERLOAD" --seed "$SEED")
# the theoretical minimum (see the header and docs/gauntlet.md)
T_MIN=$(awk -v g="$GREYLIST" -v m="$MESSAGES" -v n="$RATE_N" -v w="$RATE_W" 'BEGIN {
    b = (m - n) / n; c = int(b); if (c < b) c++; if (c < 0) c = 0; printf "%.3f", g + c * w }')
T_MIN_TXT="$GREYLIST + ceil(($MESSAGES - $RATE_N) / $RATE_N) * $RATE_W = $(printf '%.0f' "$T_MIN") s"

# ---------------------------------------------------------------- the analysis
# analyse.py RECORD SINKLOG INJECTED TMIN AFTER_S -> one JSON line (see the header for what
# each figure means)
cat >"$TMP/analyse.py" <<'PY'
import json, sys, math
from datetime import datetime, timezone
record, sinklog, injected, tmin, after = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
inj = [json.loads(l) for l in open(injected) if l.strip()]
want = {(r["message_id"], r["rcpt"].lower()) for r in inj}
t0 = inj[0]["t"] if inj else None
events = []
with open(record, errors="replace") as f:
    for l in f:
        try:
            events.append(json.loads(l))
        except ValueError:
            pass
seen, dups, extra, foreign, t_done = set(), 0, 0, 0, None
senders = {r.get("sender", "sender@source.test") for r in inj} or {"sender@source.test"}
for e in events:
    if e.get("event") != "accept":
        continue
    if (e.get("mail_from") or "") not in senders | {""}:
        foreign += 1   # not from this run's injection nor a bounce: another user of the MTA
        continue
    for r in e.get("rcpts") or []:
        k = (e.get("message_id"), r.lower())
        if k in seen:
            dups += 1
        elif k in want:
            seen.add(k)
            if len(seen) == len(want):
                t_done = e["time"]
        else:
            extra += 1
conn_t = []
with open(sinklog, errors="replace") as f:
    for l in f:
        if ": connect from " in l:
            ts = l.split(" ", 1)[0]
            conn_t.append(datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp())
by_policy, greylist = {}, 0
s421 = {}        # session -> [(time, policy)] of its 421s ("shutdown" excluded: the sink stopping)
last_t = {}      # session -> time of its last recorded event
for e in events:
    s = e.get("session")
    last_t[s] = max(last_t.get(s, 0), e.get("time", 0))
    if e.get("event") != "refusal":
        continue
    if e.get("policy") == "greylist":
        greylist += 1
    if e.get("code") == 421:
        p = e.get("policy") or "?"
        by_policy[p] = by_policy.get(p, 0) + 1
        if p != "shutdown":
            s421.setdefault(s, []).append((e["time"], p))
def window(lo, hi):
    """Connections in use within [lo, hi): opened then, or with a recorded event then; and
    which of them drew a 421 within it."""
    ids = [i + 1 for i, t in enumerate(conn_t) if lo <= t < hi or lo <= last_t.get(i + 1, 0) < hi]
    pol = [{p for (t, p) in s421.get(i, []) if lo <= t < hi} for i in ids]
    return {"connections": len(ids),
            "opened": sum(1 for t in conn_t if lo <= t < hi),
            "with_421": sum(1 for p in pol if p),
            "with_overload_421": sum(1 for p in pol if "overload" in p),
            "with_other_421": sum(1 for p in pol if p - {"overload"}),
            "r421": sum(1 for i in ids for (t, p) in s421.get(i, []) if lo <= t < hi),
            "other_by_policy": {k: sum(1 for p in pol if k in p)
                                for k in sorted(set().union(*pol) - {"overload"})} if pol else {}}
big = float("inf")
late = window(t0 + after, big) if t0 is not None else window(big, big)
early = window(-big, t0 + after) if t0 is not None else window(-big, big)
done_s = t_done - t0 if t_done is not None and t0 is not None else None
print(json.dumps({
    "injected": len(inj), "delivered": len(seen), "lost": len(want) - len(seen), "duplicates": dups,
    "extra": extra, "foreign": foreign, "t0": t0, "t_done": t_done, "seconds": done_s,
    "ratio": done_s / tmin if done_s is not None and tmin > 0 else None,
    "connections": len(conn_t), "sessions_in_record": len({e.get("session") for e in events}),
    "r421": sum(by_policy.values()), "r421_by_policy": by_policy, "greylist_451": greylist,
    "first_minute": early, "after": late}))
PY

# jget FILE EXPR: a value from the analysis JSON (python expression over the dict "j")
jget() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print("" if v is None else v)' "$1" "$2"; }

# ---------------------------------------------------------------- the sink
SINK_PID=""
# sink_start PREFIX: a fresh sink on SINK_ADDR, files PREFIX-sink.{record.jsonl,log,json}
sink_start() {
    local p=$1 i
    rm -f "$p-sink.record.jsonl"
    "$SLUICE" sink -v --json "${SINK_ARGS[@]}" --record "$p-sink.record.jsonl" --listen "$SINK_ADDR" \
        >"$p-sink.json" 2>"$p-sink.log" &
    SINK_PID=$!
    b_remember "$SINK_PID"
    # wait for the sink's own "listening on" line (a probe would count as a client)
    for ((i = 0; i < 200; i++)); do
        grep -q 'listening on' "$p-sink.log" 2>/dev/null && return 0
        kill -0 "$SINK_PID" 2>/dev/null || break
        sleep 0.05
    done
    b_die "sluice sink did not listen on $SINK_ADDR (see $p-sink.log)"
}
sink_stop() {
    [ -n "$SINK_PID" ] || return 0
    b_stop "$SINK_PID" 10 || fail "sluice sink exited with an error (see its log)"
    SINK_PID=""
}
# accepted_now PREFIX: acceptances in the sink's record so far
accepted_now() { grep -c '"event":"accept"' "$1-sink.record.jsonl" 2>/dev/null || true; }

# ---------------------------------------------------------------- the peer (Postfix)
PEER_OK=0
PEER_WHY=""
PEER_NOTE=""
PF_VERSION=""
if [ "$SKIP_POSTFIX" = 1 ]; then
    PEER_WHY="skipped (SKIP_POSTFIX=1)"
elif [ -z "${PEER_PROFILES// /}" ]; then
    PEER_WHY="skipped (PEER_PROFILES is empty)"
elif ! command -v postconf >/dev/null 2>&1 || [ ! -x /usr/sbin/postfix ]; then
    PEER_WHY="Postfix is not installed (sh scripts/deps.sh bench installs it)"
elif [ ! -r "$PEERS_DIR/postfix_relay_to.sh" ] || [ ! -r "$PEERS_DIR/postfix_common.sh" ]; then
    PEER_WHY="the peer recipes are not at $PEERS_DIR (set PEERS_DIR)"
elif [ "$(id -u)" != 0 ]; then
    PEER_WHY="running Postfix as the peer needs root"
elif ! command -v bc >/dev/null 2>&1; then
    PEER_WHY="the peer recipes need bc (sh scripts/deps.sh bench)"
else
    PEER_OK=1
    PF_VERSION=$(postconf -d -h mail_version 2>/dev/null || echo "?")
    export PEERS_OUT=$OUT/peers PEERS_BUILD=$TMP/peers-build
    export POSTFIX_LOG=/var/log/postfix-sluice-bench-gauntlet.log
    source "$PEERS_DIR/common.sh"
    source "$PEERS_DIR/postfix_common.sh"
    # common.sh's peers_init is not called: lib_bench.sh's traps stay in charge
fi

PF_TOUCHED=0
# peer_restore: Postfix stopped, its queue emptied, /etc/postfix/*.cf as they were before
peer_restore() {
    [ "$PF_TOUCHED" = 1 ] || return 0
    PF_TOUCHED=0
    postsuper -d ALL >/dev/null 2>&1 || true
    postfix_stop
    b_pf_etc_restore "$TMP/etc-orig"
    rm -f "$POSTFIX_LOG"
    b_log "Postfix stopped, its queue emptied, /etc/postfix/*.cf as they were before the bench"
}
peer_setup() {
    if b_listening 127.0.0.1 25 && ! postfix status >/dev/null 2>&1; then
        PEER_OK=0; PEER_WHY="127.0.0.1:25 is taken by something other than Postfix"; return
    fi
    pf_wait_free || { PEER_OK=0; PEER_WHY="another bench kept Postfix busy for ${PF_WAIT}s"; return; }
    mkdir -p "$PEERS_OUT"
    b_pf_etc_save "$TMP/etc-orig"
    PF_TOUCHED=1
    b_on_exit peer_restore
}

# ---------------------------------------------------------------- one run
SL_PID=""
# row SYSTEM PROFILE REP PREFIX STATUS: analyse, print one line, append to $TSV
row() {
    local sys=$1 prof=$2 rep=$3 p=$4 status=$5 a sacc sdup
    a=$p-analysis.json
    python3 "$TMP/analyse.py" "$p-sink.record.jsonl" "$p-sink.log" "$p-injected.jsonl" "$T_MIN" "$AFTER_S" >"$a" ||
        { fail "$sys $prof rep $rep: analysis failed"; return 0; }
    sacc=$(b_json_num "$p-sink.json" accepted); sdup=$(b_json_num "$p-sink.json" duplicates)
    local foreign
    foreign=$(jget "$a" 'j["foreign"]')
    if [ "$foreign" != 0 ]; then
        fail "$sys $prof rep $rep: the sink accepted $foreign messages from another sender: someone else used the MTA during the run"
        status="FAIL:foreign_mail($foreign)"
    fi
    local conns late l421 lov loth del lost dup secs ratio
    del=$(jget "$a" 'j["delivered"]') lost=$(jget "$a" 'j["lost"]') dup=$(jget "$a" 'j["duplicates"]')
    secs=$(jget "$a" 'j["seconds"]') ratio=$(jget "$a" 'j["ratio"]')
    conns=$(jget "$a" 'j["connections"]') late=$(jget "$a" 'j["after"]["connections"]')
    l421=$(jget "$a" 'j["after"]["with_421"]') lov=$(jget "$a" 'j["after"]["with_overload_421"]')
    loth=$(jget "$a" 'j["after"]["with_other_421"]')
    [ "$conns" = "$(b_json_num "$p-sink.json" connections)" ] ||
        b_log "note: $conns 'connect from' lines, the sink's summary says $(b_json_num "$p-sink.json" connections) connections"
    printf '%s\t' "$sys" "$prof" "$rep" "$del" "$lost" "$dup" "$sdup" "$(jget "$a" 'j["extra"]')" "$secs" "$ratio" \
        "$conns" "$(jget "$a" 'j["r421"]')" "$(jget "$a" 'j["r421_by_policy"].get("overload", 0)')" \
        "$(jget "$a" 'j["r421"] - j["r421_by_policy"].get("overload", 0) - j["r421_by_policy"].get("shutdown", 0)')" \
        "$(jget "$a" 'j["r421_by_policy"].get("shutdown", 0)')" "$(jget "$a" 'j["greylist_451"]')" \
        "$late" "$l421" "$lov" "$loth" >>"$TSV"
    printf '%s\n' "$status" >>"$TSV"
    printf '%-7s %-7s rep %s: %s/%s delivered, %s lost, %s dup (sink: %s accepted, %s dup)  %ss = %sx T_min  %s conns, %s 421s %s  %s\n' \
        "$sys" "$prof" "$rep" "$del" "$MESSAGES" "$lost" "$dup" "$sacc" "$sdup" "$(b_fmt %.1f "$secs")" \
        "$(b_fmt %.2f "$ratio")" "$conns" "$(jget "$a" 'j["r421"]')" "$(jget "$a" 'j["r421_by_policy"]')" "$status"
}

sluice_run() {
    local rep=$1 p q t_start deadline left status=OK
    p=$OUT/rep$rep-sluice
    q=$SPOOL_BASE/q
    rm -rf "$q"; mkdir -p "$q"
    sink_start "$p"
    "$SLUICED" -o queue_directory="$q" -o listen="$SLUICE_ADDR" "${SL_OPTS[@]}" 2>"$p-sluiced.log" &
    SL_PID=$!
    b_remember "$SL_PID"
    b_wait_listen "${SLUICE_ADDR%:*}" "${SLUICE_ADDR##*:}" 10 "$SL_PID" ||
        b_die "sluiced did not come up on $SLUICE_ADDR (see $p-sluiced.log)"
    b_log "sluice rep $rep: submitting $MESSAGES messages to sluiced on $SLUICE_ADDR"
    t_start=$(b_now)
    timeout 300 python3 "$PEERS_DIR/inject.py" --port "${SLUICE_ADDR##*:}" --count "$MESSAGES" \
        --domains "$DOMAINS" --users "$USERS" --out "$p-injected.jsonl" --run-id "sluice-r$rep-$(date +%s)" \
        2>"$p-inject.err" || { fail "sluice rep $rep: inject.py failed ($(tail -1 "$p-inject.err"))"; status="FAIL:inject"; }
    deadline=$(awk -v n="$t_start" -v t="$SLUICE_TIMEOUT" 'BEGIN { printf "%.3f", n + t }')
    local n next_log=$((SECONDS + 10))
    while :; do
        left=$("$SLUICE" -o queue_directory="$q" queue list --json 2>/dev/null | wc -l) || left="?"
        [ "$left" = 0 ] && break
        if awk -v n="$(b_now)" -v d="$deadline" 'BEGIN { exit !(n > d) }'; then
            fail "sluice rep $rep: $left messages still queued after ${SLUICE_TIMEOUT}s"
            status="FAIL:timeout"
            break
        fi
        if [ "$SECONDS" -ge "$next_log" ]; then
            n=$(accepted_now "$p")
            b_log "sluice rep $rep: ${n:-0} accepted by the sink, $left messages queued"
            next_log=$((SECONDS + 10))
        fi
        sleep 0.5
    done
    sleep "$GRACE"
    "$SLUICE" -o queue_directory="$q" status --json >"$p-status.json" 2>/dev/null || true
    b_stop "$SL_PID" 20 || { fail "sluiced exited with an error (see $p-sluiced.log)"; status="FAIL:sluiced"; }
    SL_PID=""
    sink_stop
    rm -rf "$q"
    row sluice - "$rep" "$p" "$status"
    sluice_learned "$p"
}

# sluice_learned PREFIX: what sluiced's status and log say it learned
sluice_learned() {
    python3 - "$1-status.json" "$1-sluiced.log" <<'PY' | tee "$1-learned.txt"
import json, re, sys
try:
    st = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    st = {}
lines = [l for l in open(sys.argv[2], errors="replace") if "shaping: " in l]
kinds = {}
for l in lines:
    m = re.search(r"shaping: \S+: (\w+)", l)
    k = m.group(1) if m else "?"
    kinds[k] = kinds.get(k, 0) + 1
for d in st.get("destinations", []):
    r = d.get("rate_limit")
    print("  sluiced learned (sluice status --json, %s): concurrency %s (learned %s, max %s), rate %s, greylist window %s, state %s"
          % (d.get("destination"), d.get("concurrency_limit"), d.get("concurrency_learned"), d.get("concurrency_max"),
             "%d per %gs" % (r["messages"], r["per_seconds"]) if r else "none",
             "%gs" % d["greylist_window_s"] if "greylist_window_s" in d else "none", d.get("state")))
    print("  replies by class: %s" % json.dumps(d.get("counts_by_class", {}), sort_keys=True))
print("  shaping decision lines in the log: %d %s" % (len(lines), json.dumps(kinds, sort_keys=True)))
if not lines:
    print("  NOTE: no shaping decision logged: sluiced ran without a classifier (a Postfix-like schedule)")
PY
}

# pf_wait_free: Postfix is one per machine.  While another bench that drives it runs
# (bench_relay.sh, bench_inject.sh, the peers' scripts), wait for it to finish (PF_WAIT s): two
# benches reconfiguring and flushing one Postfix spoil both.  A Postfix running with no such
# bench is stopped (as bench_relay.sh does).
pf_others() { pgrep -f 'bench_(relay|inject)\.sh|postfix_relay(_to)?\.sh|nqlimit\.sh' >/dev/null; }
pf_wait_free() {
    local waited=0
    while pf_others; do
        if [ "$waited" = 0 ]; then b_log "another bench is using Postfix: waiting up to ${PF_WAIT}s for it to finish"; fi
        if [ "$waited" -ge "$PF_WAIT" ]; then return 1; fi
        sleep 5
        waited=$((waited + 5))
    done
    [ "$waited" = 0 ] || b_log "Postfix is free again after ${waited}s"
    if postfix status >/dev/null 2>&1; then
        b_log "Postfix is running with no bench using it: stopping it (the peer needs its own configuration)"
        PEER_NOTE="Postfix was running before the bench; it was stopped and is left stopped."
        postfix_stop
    fi
}

pf_run() {
    local prof=$1 rep=$2 p pid rc=0 status=OK
    p=$OUT/rep$rep-postfix-$prof
    pf_wait_free || { fail "postfix $prof rep $rep: Postfix stayed in use by someone else for ${PF_WAIT}s; run skipped"; return 0; }
    sink_start "$p"
    b_log "postfix $prof rep $rep: postfix_relay_to.sh $SINK_ADDR $MESSAGES (up to ${PF_TIMEOUT}s)"
    bash "$PEERS_DIR/postfix_relay_to.sh" "$SINK_ADDR" "$MESSAGES" "$PF_TIMEOUT" "$prof" >"$p-relay_to.json" 2>"$p-relay_to.log" &
    pid=$!
    b_remember "$pid"
    wait "$pid" || rc=$?
    b_forget "$pid"
    [ "$rc" = 0 ] || { fail "postfix $prof rep $rep: postfix_relay_to.sh exited $rc (see $p-relay_to.log)"; status="FAIL:relay_to"; }
    grep -q TIMEOUT "$p-relay_to.log" && status="FAIL:timeout" && fail "postfix $prof rep $rep: timed out"
    cp "$PEERS_OUT/relay-to-$prof/injected.jsonl" "$p-injected.jsonl" 2>/dev/null ||
        { fail "postfix $prof rep $rep: no injected list"; : >"$p-injected.jsonl"; }
    cp "$PEERS_OUT/relay-to-$prof/postfix.log" "$p-postfix.log" 2>/dev/null || true
    sleep "$GRACE"
    sink_stop
    row postfix "$prof" "$rep" "$p" "$status"
}

# ---------------------------------------------------------------- the runs
b_log "bench_gauntlet: $MESSAGES messages to $((DOMAINS * USERS)) recipients at $DOMAINS domains; sink ${SINK_ARGS[*]}"
printf '%s\t' system profile rep delivered lost duplicates sink_duplicates extra seconds ratio_tmin connections \
    r421 r421_overload r421_other r421_shutdown greylist_451 conns_after r421_conns_after \
    overload_conns_after other_conns_after >"$TSV"
echo check >>"$TSV"
for ((rep = 1; rep <= REPS; rep++)); do
    sluice_run "$rep"
    # the peer's set-up comes after sluice's first run: it may have to wait for another bench
    [ "$PEER_OK" = 1 ] && [ "$PF_TOUCHED" = 0 ] && peer_setup
    if [ "$PEER_OK" = 1 ]; then
        for prof in $PEER_PROFILES; do pf_run "$prof" "$rep"; done
    fi
done
peer_restore

# ---------------------------------------------------------------- summary
# med SYSTEM PROFILE COLUMN: median over the reps
med() {
    # shellcheck disable=SC2046
    b_median $(awk -F'\t' -v s="$1" -v p="$2" -v c="$3" 'NR > 1 && $1 == s && $2 == p && $c != "" { print $c }' "$TSV")
}
# medx SYSTEM PROFILE AWK-EXPR: median of an expression of the columns
medx() {
    # shellcheck disable=SC2046
    b_median $(awk -F'\t' -v s="$1" -v p="$2" 'NR > 1 && $1 == s && $2 == p { v = '"$3"'; if (v != "") print v }' "$TSV")
}
PCT_ALL='$17 > 0 ? 100 * $18 / $17 : ""'
PCT_OTHER='$17 > 0 ? 100 * $20 / $17 : ""'
PCT_OV='$17 > 0 ? 100 * $19 / $17 : ""'
verdict_le() {  # verdict_le VALUE LIMIT -> PASS|MISS|n/a
    [ -n "$1" ] || { echo "n/a "; return; }
    awk -v v="$1" -v t="$2" 'BEGIN { print (v + 0 <= t + 0) ? "PASS" : "MISS" }'
}
SUMMARY=$OUT/summary.txt
{
    echo
    echo "Gauntlet (issue 5): $MESSAGES messages, one recipient each, to $((DOMAINS * USERS)) recipients at $DOMAINS domains"
    echo "($(nproc) CPUs, $(uname -r), $(date '+%Y-%m-%d %H:%M'), REPS=$REPS; medians over the reps; a failed run is marked below its row)"
    echo "receiver: sluice sink ${SINK_ARGS[*]} on $SINK_ADDR, a fresh one per run"
    echo "sluiced $SLUICED_ID"
    echo "  $(printf '%s ' "${SL_OPTS[@]}" | sed 's/-o //g')(fresh queue in $SPOOL_BASE; otherwise its defaults)"
    if [ "$PEER_OK" = 1 ]; then
        echo "Postfix $PF_VERSION through $PEERS_DIR/postfix_relay_to.sh, profiles: $PEER_PROFILES"
        echo "  (all: minimal_backoff_time=5s maximal_backoff_time=60s queue_run_delay=5s; tuned: smtp_destination_concurrency_limit=2"
        echo "   smtp_destination_rate_delay=1s)"
    else
        echo "Postfix: not measured - $PEER_WHY"
    fi
    [ -n "$PEER_NOTE" ] && echo "Note: $PEER_NOTE"
    echo "theoretical minimum T_min = G + ceil((M - N) / N) * W = $T_MIN_TXT"
    echo
    printf '%-16s %8s %8s %9s %5s %4s %6s %6s %13s %6s | %6s %12s %12s %9s\n' sender "time s" "x T_min" delivered lost dup extra \
        conns "421s ovl/oth" "451s" "conns" "with 421" "excl. ovl" "vs sluice"
    printf '%-16s %8s %8s %9s %5s %4s %6s %6s %13s %6s | %6s %12s %12s %9s\n' "" "" "" "" "" "" "" "" "" "" \
        ">60s" ">60s" ">60s" "time"
    sl_t=$(med sluice - 9)
    for sp in "sluice -" $(for pr in $PEER_PROFILES; do [ "$PEER_OK" = 1 ] && echo "postfix:$pr"; done); do
        if [ "$sp" = "sluice -" ]; then sy=sluice pr=-; label=sluice; else sy=postfix pr=${sp#postfix:}; label="postfix $pr"; fi
        n=$(awk -F'\t' -v s="$sy" -v p="$pr" 'NR > 1 && $1 == s && $2 == p' "$TSV" | wc -l)
        [ "$n" -gt 0 ] || continue
        t=$(med "$sy" "$pr" 9)
        vs=""
        [ -n "$t" ] && [ -n "$sl_t" ] && vs=$(b_calc "$t / $sl_t")
        printf '%-16s %8s %8s %9s %5s %4s %6s %6s %13s %6s | %6s %12s %12s %9s\n' "$label" \
            "$(b_fmt %.1f "$t")" "$(b_fmt %.2fx "$(med "$sy" "$pr" 10)")" \
            "$(b_fmt %.0f "$(med "$sy" "$pr" 4)")/$MESSAGES" "$(b_fmt %.0f "$(med "$sy" "$pr" 5)")" \
            "$(b_fmt %.0f "$(med "$sy" "$pr" 6)")" "$(b_fmt %.0f "$(med "$sy" "$pr" 8)")" \
            "$(b_fmt %.0f "$(med "$sy" "$pr" 11)")" \
            "$(b_fmt %.0f "$(med "$sy" "$pr" 13)")/$(b_fmt %.0f "$(med "$sy" "$pr" 14)")" \
            "$(b_fmt %.0f "$(med "$sy" "$pr" 16)")" "$(b_fmt %.0f "$(med "$sy" "$pr" 17)")" \
            "$(b_fmt %.0f "$(med "$sy" "$pr" 18)") $(b_fmt '(%.1f%%)' "$(medx "$sy" "$pr" "$PCT_ALL")")" \
            "$(b_fmt %.0f "$(med "$sy" "$pr" 20)") $(b_fmt '(%.1f%%)' "$(medx "$sy" "$pr" "$PCT_OTHER")")" \
            "$(b_fmt %.2fx "$vs")"
        awk -F'\t' -v s="$sy" -v p="$pr" 'NR > 1 && $1 == s && $2 == p && $21 != "OK" { print "    rep " $3 ": " $21 }' "$TSV"
    done
    echo "(time: first submission -> the sink's acceptance completing the injected set; 421s ovl/oth: the"
    echo " random overload's and all others, policy \"shutdown\" excluded; 451s: greylisting; >60s: connections"
    echo " in use a minute or more after the first submission (opened then, or with a transaction then),"
    echo " how many drew a 421 then, and how many one other than the overload's; vs sluice: the sender's"
    echo " time / sluice's time in the same run)"
    echo
    echo "421s by the sink's policy, per run:"
    for f in "$OUT"/rep*-analysis.json; do
        [ -e "$f" ] || continue
        printf '  %-28s %s\n' "$(basename "$f" -analysis.json)" \
            "$(jget "$f" 'json.dumps(j["r421_by_policy"], sort_keys=True) + "; after 60 s: %d connections in use (%d opened then), %d 421s, non-overload ones by policy %s" % (j["after"]["connections"], j["after"]["opened"], j["after"]["r421"], json.dumps(j["after"]["other_by_policy"], sort_keys=True))')"
    done
    echo
    for f in "$OUT"/rep*-sluice-learned.txt; do
        [ -e "$f" ] || continue
        echo "$(basename "$f" -learned.txt):"
        cat "$f"
    done
    echo
    echo "Targets (sluice):"
    r=$(med sluice - 10)
    printf '  [%s] all %s delivered, none twice, none lost: %s delivered, %s lost, %s duplicates (sink summary: %s)\n' \
        "$(awk -F'\t' -v m="$MESSAGES" 'NR > 1 && $1 == "sluice" { n++; if ($4 == m && $5 == 0 && $6 == 0 && $7 == 0 && $21 == "OK") ok++ }
            END { print (n > 0 && ok == n) ? "PASS" : "MISS" }' "$TSV")" "$MESSAGES" \
        "$(b_fmt %.0f "$(med sluice - 4)")" "$(b_fmt %.0f "$(med sluice - 5)")" "$(b_fmt %.0f "$(med sluice - 6)")" \
        "$(b_fmt %.0f "$(med sluice - 7)")"
    printf '  [%s] completion within %sx T_min (%s s): %s s = %sx\n' "$(verdict_le "$r" "$TARGET_RATIO")" "$TARGET_RATIO" \
        "$(printf '%.0f' "$T_MIN")" "$(b_fmt %.1f "$(med sluice - 9)")" "$(b_fmt %.2f "$r")"
    printf '  [%s] project goal %sx T_min: %sx\n' "$(verdict_le "$r" "$GOAL_RATIO")" "$GOAL_RATIO" "$(b_fmt %.2f "$r")"
    po=$(medx sluice - "$PCT_OTHER"); pa=$(medx sluice - "$PCT_ALL"); pv=$(medx sluice - "$PCT_OV")
    printf '  [%s] after the first minute <= %s%% of connections draw a 421 (not counting the random overload): %s (%s of %s)\n' \
        "$(verdict_le "$po" "$TARGET_421_PCT")" "$TARGET_421_PCT" "$(b_fmt %.1f%% "$po")" \
        "$(b_fmt %.0f "$(med sluice - 20)")" "$(b_fmt %.0f "$(med sluice - 17)")"
    printf '  [%s] the same counting every 421, the overload'"'"'s included: %s (overload alone: %s; the sink refuses ~%s%% of\n' \
        "$(verdict_le "$pa" "$TARGET_421_PCT")" "$(b_fmt %.1f%% "$pa")" "$(b_fmt %.1f%% "$pv")" \
        "$(awk -v o="$OVERLOAD" 'BEGIN { printf "%g", 100 * o }')"
    echo "         new connections at random whatever the sender does, so this one is a coin toss around the target)"
    [ "$failures" = 0 ] || echo "  $failures FAILURE(S): see the lines marked FAIL above and $TSV"
    echo
    echo "Per-run figures: $TSV; records, sink logs, injected lists, sluiced logs and status: $OUT/"
} | tee "$SUMMARY"

[ "$failures" = 0 ]
