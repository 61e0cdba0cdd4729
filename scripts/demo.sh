#!/bin/bash
# demo.sh - what `make demo` runs: sluiced on an embedded default configuration in ./demo/,
# a few messages submitted with `sluice send` and over SMTP, the queue shown, a restart to
# show that the queue is durable.  (Delivery comes with a later issue: mail stays queued.)
set -euo pipefail
cd "$(dirname "$0")/.."
B=build
DEMO=$PWD/demo
PORT=${DEMO_PORT:-2525}
rm -rf "$DEMO"
mkdir -p "$DEMO"
cat >"$DEMO/sluice.conf" <<CONF
# The demo's configuration: Postfix's parameter names, libconfig syntax.
queue_directory = "$DEMO/queue";
listen = ["127.0.0.1:$PORT"];
myhostname = "mta.demo.test";
mynetworks = ["127.0.0.0/8", "[::1]/128"];
message_size_limit = "10m";
smtpd_timeout = "300s";
CONF
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
PID=
stop() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; PID=; }
trap stop EXIT
start() {
    "$B/sluiced" -c "$DEMO/sluice.conf" 2>>"$DEMO/sluiced.log" &
    PID=$!
    for _ in $(seq 50); do [ -S "$DEMO/queue/control.sock" ] && return; sleep 0.1; done
    echo "sluiced did not start; see $DEMO/sluiced.log" >&2; exit 1
}

say "configuration check: sluiced -n -c demo/sluice.conf"
"$B/sluiced" -n -c "$DEMO/sluice.conf"
say "starting sluiced (log: demo/sluiced.log)"
start
echo "sluiced running, pid $PID, listening on 127.0.0.1:$PORT"

say "three messages with 'sluice send' (the sendmail interface)"
for i in 1 2 3; do
    printf 'To: user%d@example.org\nSubject: demo %d via sluice send\n\nHello number %d.\n' "$i" "$i" "$i" |
        "$B/sluice" -c "$DEMO/sluice.conf" send -t -v -f app@demo.test
done

say "three messages over SMTP (smtpblast, pipelined)"
"$B/bench/smtpblast" -s 1 -m 3 -l 2048 -f shop@demo.test -t 'customer%d@example.net' -M client.demo.test \
    "127.0.0.1:$PORT" | head -n 4

say "sluice queue list"
"$B/sluice" -c "$DEMO/sluice.conf" queue list
ID=$("$B/sluice" -c "$DEMO/sluice.conf" queue list --json | head -n 1 | sed 's/.*"queue_id":"\([^"]*\)".*/\1/')
say "sluice queue show $ID"
"$B/sluice" -c "$DEMO/sluice.conf" queue show "$ID"

say "restart (SIGTERM, start again): the spool is recovered from disk"
stop
start
"$B/sluice" -c "$DEMO/sluice.conf" queue list | tail -n 1
say "the daemon's log"
tail -n 12 "$DEMO/sluiced.log"
