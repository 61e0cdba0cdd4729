#!/bin/bash
# demo.sh - what `make demo` runs: sluice delivering through a receiver that pushes back.
#
# In ./demo/: `sluice sink` plays a strict receiver (greylisting, 2 connections and 40
# messages per 10 s per client, 5% of connections refused at random), sluiced relays all
# its mail to it with its shipped defaults, and a batch of 200 messages is submitted over
# SMTP.  A progress line refreshes every second (from `sluice status --json` and the sink's
# record); the report at the end says what was delivered, which 421s sluice met, what it
# learned about the receiver, and how long it took against the theoretical minimum.
# Uses only what sluice builds, bash and coreutils (make demo installs nothing else).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${DEMO_BUILD:-build}                # the built programs (make demo builds build/)
DEMO=$PWD/demo
PORT=${DEMO_PORT:-2525}              # sluiced's submission port
SINK_PORT=${DEMO_SINK_PORT:-2526}    # the receiver
COUNT=${DEMO_COUNT:-200}             # messages: 4 domains x COUNT/4 recipients, one message each
GREY=20 CONNS=2 RATE_N=40 RATE_W=10 OVERLOAD=0.05 SEED=42
LIMIT_S=${DEMO_TIMEOUT:-240}         # give up (and say so) after this long

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }
SINK_PID="" SLUICED_PID=""
cleanup() {
    local p
    for p in $SLUICED_PID $SINK_PID; do kill "$p" 2>/dev/null || true; done
    for p in $SLUICED_PID $SINK_PID; do wait "$p" 2>/dev/null || true; done
    SLUICED_PID="" SINK_PID=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM
now_ms() { local t; t=$(date +%s%N); echo $((t / 1000000)); }
# dec1 / dec2 VALUE_x1000: "12.3" / "12.34" (integer arithmetic only)
dec1() { printf '%d.%01d' $(($1 / 1000)) $(($1 % 1000 / 100)); }
dec2() { printf '%d.%02d' $(($1 / 1000)) $(($1 % 1000 / 10)); }

rm -rf "$DEMO"
mkdir -p "$DEMO"
cat >"$DEMO/sluice.conf" <<CONF
# The demo's configuration: Postfix's parameter names, libconfig syntax.  Everything else,
# shaping included, is sluiced's default.
queue_directory = "$DEMO/queue";
listen = ["127.0.0.1:$PORT"];
myhostname = "mta.demo.test";
mynetworks = ["127.0.0.0/8", "[::1]/128"];
relayhost = "[127.0.0.1]:$SINK_PORT";   # all mail goes to the demo's receiver
dns_servers = ["127.0.0.1@1"];          # and nothing is looked up beyond loopback
log_level = "info";
CONF

# ---------------------------------------------------------------- the receiver and sluiced
say "the receiver: sluice sink, a strict provider (log: demo/sink.log, record: demo/sink.jsonl)"
SINK_ARGS=(--greylist "$GREY" --max-conn-per-ip "$CONNS" --rate "$RATE_N/$RATE_W" --overload "$OVERLOAD"
           --seed "$SEED" --record "$DEMO/sink.jsonl" --listen "127.0.0.1:$SINK_PORT")
echo "sluice sink ${SINK_ARGS[*]}"
echo "  greylists every new (client, sender, recipient) for ${GREY} s; 421 beyond $CONNS connections per client,"
echo "  beyond $RATE_N messages in any $RATE_W s, and for 5% of connections at random (overload)"
"$B/sluice" sink "${SINK_ARGS[@]}" >"$DEMO/sink.summary" 2>"$DEMO/sink.log" &
SINK_PID=$!
for _ in $(seq 100); do [[ $(<"$DEMO/sink.log") == *"listening on"* ]] && break; sleep 0.05; done
[[ $(<"$DEMO/sink.log") == *"listening on"* ]] || die "the sink did not start; see demo/sink.log"

say "sluiced in front of it (config: demo/sluice.conf, log: demo/sluiced.log)"
"$B/sluiced" -n -c "$DEMO/sluice.conf"
"$B/sluiced" -c "$DEMO/sluice.conf" 2>"$DEMO/sluiced.log" &
SLUICED_PID=$!
for _ in $(seq 100); do [ -S "$DEMO/queue/control.sock" ] && break; sleep 0.05; done
[ -S "$DEMO/queue/control.sock" ] || die "sluiced did not start; see demo/sluiced.log"
echo "sluiced running, pid $SLUICED_PID, listening on 127.0.0.1:$PORT"

# ---------------------------------------------------------------- the batch
PER=$((COUNT / 4))
COUNT=$((PER * 4))
say "submitting $COUNT messages: $((COUNT - 1)) over SMTP (smtpblast: ${PER} recipients at each of d1.test .. d4.test), one with sluice send"
T0=$(now_ms)
for d in 1 2 3 4; do
    n=$PER
    [ "$d" = 1 ] && n=$((PER - 1))   # the last one for d1.test goes through sluice send
    "$B/bench/smtpblast" -d -s 1 -m "$n" -l 2048 -f shop@demo.test -t "customer%d@d$d.test" \
        "127.0.0.1:$PORT" >"$DEMO/smtpblast-d$d.txt" || die "submission failed; see demo/smtpblast-d$d.txt"
done
echo "sluice send -f shop@demo.test welcome@d1.test  (the sendmail interface; exit 0 = the message is durable)"
printf 'From: Shop <shop@demo.test>\nTo: <welcome@d1.test>\nSubject: Welcome\n\nHello from sluice send.\n' |
    "$B/sluice" -c "$DEMO/sluice.conf" send -f shop@demo.test welcome@d1.test || die "sluice send failed"
echo "queued $COUNT messages in $(dec2 $(($(now_ms) - T0))) s"
SENT_ID=$("$B/sluice" -c "$DEMO/sluice.conf" queue list --json 2>/dev/null | grep 'welcome@d1.test' |
    sed -n 's/.*"queue_id": *"\([^"]*\)".*/\1/p' | head -1)

# T_min = G + ceil((M - N) / N) * W: nothing passes the greylist before G, then N messages
# per window W at best (see docs/gauntlet.md)
BATCHES=$(((COUNT - RATE_N + RATE_N - 1) / RATE_N))
((BATCHES < 0)) && BATCHES=0
TMIN=$((GREY + BATCHES * RATE_W))

# ---------------------------------------------------------------- live progress
# The sink's record grows as it works; read only the new lines each second.
declare -A R421=()
ACCEPTED=0 GREYLISTED=0 PARTIAL=""
for _ in $(seq 100); do [ -e "$DEMO/sink.jsonl" ] && break; sleep 0.05; done
exec 3<"$DEMO/sink.jsonl"
read_record() {
    local line re='"policy":"([a-z_]+)"' tre='"time":([0-9]+)\.([0-9]{3})'
    while IFS= read -r line <&3 || { PARTIAL+=$line; false; }; do
        line=$PARTIAL$line PARTIAL=""
        if [[ $line == *'"event":"accept"'* ]]; then
            ACCEPTED=$((ACCEPTED + 1))
            # the moment the batch was complete: the sink's time of its last acceptance
            [[ $ACCEPTED == "$COUNT" && $line =~ $tre ]] && T_DONE=$((BASH_REMATCH[1] * 1000 + 10#${BASH_REMATCH[2]} - T0))
        elif [[ $line == *'"code":421'* && $line =~ $re ]]; then
            R421[${BASH_REMATCH[1]}]=$((${R421[${BASH_REMATCH[1]}]:-0} + 1))
        elif [[ $line == *'"policy":"greylist"'* ]]; then
            GREYLISTED=$((GREYLISTED + 1))
        fi
    done
    return 0
}
# status: the first destination's figures from `sluice status --json` into ST_* variables
status() {
    local st
    st=$("$B/sluice" -c "$DEMO/sluice.conf" status --json 2>/dev/null) || return 0
    ST_JSON=$st
    [[ $st =~ \"state\":\ \"([a-z]+)\" ]] && ST_STATE=${BASH_REMATCH[1]}
    [[ $st =~ \"concurrency_limit\":\ ([0-9]+) ]] && ST_CONC=${BASH_REMATCH[1]}
    [[ $st =~ \"concurrency_learned\":\ ([0-9]+) ]] && ST_CONC_LEARNED=${BASH_REMATCH[1]}
    [[ $st =~ \"sessions\":\ ([0-9]+) ]] && ST_SESS=${BASH_REMATCH[1]}
    ST_RATE=none
    [[ $st =~ \"rate_limit\":\ \{[^}]*\"messages\":\ ([0-9]+)[^}]*\"per_seconds\":\ ([0-9.]+) ]] &&
        ST_RATE="${BASH_REMATCH[1]} per ${BASH_REMATCH[2]%.0}s"
    ST_GREY="?"
    [[ $st =~ \"greylist_window_s\":\ ([0-9]+) ]] && ST_GREY=${BASH_REMATCH[1]}s
    [[ $st =~ \"queue\":\ \{[^}]*\"messages\":\ ([0-9]+) ]] && ST_QUEUED=${BASH_REMATCH[1]}
    return 0
}
ST_JSON="" ST_STATE=- ST_CONC=- ST_CONC_LEARNED=0 ST_SESS=0 ST_RATE=none ST_GREY="?" ST_QUEUED=$COUNT
sum421() { local k n=0; for k in "${!R421[@]}"; do n=$((n + R421[$k])); done; echo "$n"; }

say "delivering: live progress (the theoretical minimum is ${TMIN} s; see the report)"
T_DONE="" TICK=0 PEEKED=""
# peek: once, while everything waits for the greylist, what the queue commands say
peek() {
    [ -t 1 ] && printf '\n'
    say "a look at the queue at $(dec1 "$el") s: sluice queue list (the first lines)"
    "$B/sluice" -c "$DEMO/sluice.conf" queue list 2>&1 | head -6 || true
    if [ -n "$SENT_ID" ]; then
        say "sluice queue show $SENT_ID (the message from sluice send): why it waits, and until when"
        "$B/sluice" -c "$DEMO/sluice.conf" queue show "$SENT_ID" 2>&1 | head -20 || true
    fi
    say "delivering, continued"
}
while :; do
    read_record
    status
    el=$(($(now_ms) - T0))
    if [ -z "$PEEKED" ] && [ "$el" -ge 8000 ] && [ "$ACCEPTED" = 0 ]; then PEEKED=1; peek; fi
    if [ "$ACCEPTED" -ge "$COUNT" ] && [ -z "$T_DONE" ]; then T_DONE=$el; fi   # (no time in the record?)
    line=$(printf '%5ss  delivered %3d/%d  queued %3s  %-9s sessions %s/%-2s  rate limit %-12s greylist %-5s 421s %-3s 451s %-4s' \
        "$(dec1 "$el")" "$ACCEPTED" "$COUNT" "$ST_QUEUED" "$ST_STATE" "$ST_SESS" "$ST_CONC" \
        "$ST_RATE" "$ST_GREY" "$(sum421)" "$GREYLISTED")
    if [ -t 1 ]; then
        printf '\r%s' "$line"            # a terminal: one line, refreshed every second
    elif [ $((TICK % 5)) = 0 ]; then
        printf '%s\n' "$line"           # a log: a line every 5 seconds
    fi
    TICK=$((TICK + 1))
    if [ -n "$T_DONE" ] && [ "$ST_QUEUED" = 0 ]; then break; fi
    if [ "$el" -ge $((LIMIT_S * 1000)) ]; then
        [ -t 1 ] && printf '\n'
        echo "demo: stopping after ${LIMIT_S} s with $ACCEPTED of $COUNT delivered (see demo/sluiced.log)"
        break
    fi
    sleep 1
done
if [ -t 1 ]; then printf '\n'; else printf '%s\n' "$line"; fi
sleep 0.3
read_record

# ---------------------------------------------------------------- the report
say "report"
kill "$SINK_PID" 2>/dev/null || true
wait "$SINK_PID" 2>/dev/null || true
SINK_PID=""
dups=$(s=$(<"$DEMO/sink.summary"); [[ $s =~ duplicates\ ([0-9]+) ]] && echo "${BASH_REMATCH[1]}" || echo "?")
printf 'delivered      %d of %d (the sink counted %s duplicates)\n' "$ACCEPTED" "$COUNT" "$dups"
if [ -n "$T_DONE" ]; then
    printf 'time           %s s from the first submission to the last acceptance; the theoretical minimum\n' "$(dec1 "$T_DONE")"
    printf '               is %d s = G + ceil((M - N) / N) * W = %d + ceil((%d - %d) / %d) * %d: %s x the minimum\n' \
        "$TMIN" "$GREY" "$COUNT" "$RATE_N" "$RATE_N" "$RATE_W" "$(dec2 $((T_DONE / TMIN)))"
fi
printf '421s met       %d: too many connections %d, rate limit %d, random overload %d,\n' "$(sum421)" \
    "${R421[max_conn_per_ip]:-0}" "${R421[rate]:-0}" "${R421[overload]:-0}"
printf '               "too many errors" %d (the receiver counts refusals as errors and closes at 20: ten\n' \
    "${R421[protocol]:-0}"
printf '               greylisted transactions, 451 to RCPT and 503 to the pipelined DATA), other %d\n' \
    $(($(sum421) - ${R421[max_conn_per_ip]:-0} - ${R421[rate]:-0} - ${R421[overload]:-0} - ${R421[protocol]:-0}))
printf '               and %d greylisting 451s (by design: the first tries to every recipient are greylisted)\n' "$GREYLISTED"
status
[ "$ST_CONC_LEARNED" = 0 ] && ST_CONC_LEARNED="none"
printf 'sluice learned concurrency %s (the receiver allows %d), rate %s (allows %d per %ds),\n' \
    "$ST_CONC_LEARNED" "$CONNS" "$ST_RATE" "$RATE_N" "$RATE_W"
printf '               greylist window %s (the receiver greylists for %ds; sluice finds it by retrying\n' "$ST_GREY" "$GREY"
echo "               after longer and longer waits from greylist_min_retry_time, 15 s, up)"
echo "sluice's recent decisions (sluice status --json; every one is in demo/sluiced.log as 'shaping:'):"
re='"decision": "([^"]*)"'
rest=$ST_JSON
while [[ $rest =~ $re ]]; do
    echo "  - ${BASH_REMATCH[1]}"
    rest=${rest#*"${BASH_REMATCH[0]}"}
done
echo
echo "The receiver's own summary (demo/sink.summary):"
while IFS= read -r l; do echo "  $l"; done <"$DEMO/sink.summary"
