# lib_bench.sh - small helpers shared by the bench/bench_*.sh scripts.  Source, don't run.
#
# Every process a bench starts goes through b_remember and is stopped by PID from b_cleanup
# (never by name).  Every temporary directory goes through b_tmpdir and is removed there too.
# A bench adds its own clean-up steps with b_on_exit "command ...": they run after the
# processes are stopped, last registered first.

BENCH_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_ROOT=$(cd "$BENCH_HERE/.." && pwd)
BENCH_OUT=${BENCH_OUT:-/tmp/sluice-bench}
BUILD_DIR=${BUILD_DIR:-$BENCH_ROOT/build}
HZ=$(getconf CLK_TCK)

_B_PIDS=()
_B_TMPDIRS=()
_B_EXIT_CMDS=()

b_log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
b_die() { b_log "ERROR: $*"; exit 1; }

b_now() { date +%s.%N; }

# b_calc EXPR: floating-point arithmetic with awk (EXPR uses awk syntax); "%.6g"-style output
b_calc() { awk "BEGIN { x = $1; print x }"; }

# b_fmt FORMAT VALUE: printf with a dash for an empty or "n/a" value
b_fmt() {
    # shellcheck disable=SC2059  # the format is the caller's
    if [ -z "$2" ] || [ "$2" = n/a ]; then printf '%s' -; else printf "$1" "$2"; fi
}

# b_median VALUES...: the median of the numeric arguments (empty if none)
b_median() {
    [ $# -gt 0 ] || return 0
    printf '%s\n' "$@" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

b_remember() { _B_PIDS+=("$1"); }

b_forget() {
    local p keep=()
    for p in "${_B_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    _B_PIDS=("${keep[@]}")
}

# b_stop PID [TIMEOUT_S=10]: SIGTERM, wait, then SIGKILL; returns the process's exit status
# when it is our child (0 when it was already gone)
b_stop() {
    local pid=$1 t=${2:-10} i rc=0
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < t * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        b_log "pid $pid did not stop after ${t}s: SIGKILL"
        kill -9 "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || rc=$?
    b_forget "$pid"
    return "$rc"
}

# b_tmpdir VAR: create a temporary directory, removed at exit, and store its path in VAR
b_tmpdir() {
    local d
    d=$(mktemp -d /tmp/sluice-bench.XXXXXX)
    _B_TMPDIRS+=("$d")
    printf -v "$1" '%s' "$d"
}

b_on_exit() { _B_EXIT_CMDS+=("$1"); }

b_cleanup() {
    local i pid d
    for pid in "${_B_PIDS[@]}"; do b_stop "$pid" 5 || true; done
    for ((i = ${#_B_EXIT_CMDS[@]} - 1; i >= 0; i--)); do eval "${_B_EXIT_CMDS[$i]}" || true; done
    _B_EXIT_CMDS=()
    for d in "${_B_TMPDIRS[@]}"; do rm -rf "$d"; done
    _B_TMPDIRS=()
}

b_init() {
    mkdir -p "$BENCH_OUT"
    trap b_cleanup EXIT
    trap 'exit 130' INT TERM HUP
}

# b_listening HOST PORT: true when something listens on HOST:PORT
b_listening() { ss -Hltn "src $1:$2" 2>/dev/null | grep -q LISTEN; }

# b_wait_listen HOST PORT [TIMEOUT_S=10] [PID]: wait until HOST:PORT listens (and PID lives)
b_wait_listen() {
    local host=$1 port=$2 t=${3:-10} pid=${4:-} i
    for ((i = 0; i < t * 20; i++)); do
        b_listening "$host" "$port" && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        sleep 0.05
    done
    return 1
}

# b_find_bin NAME: path of a built program (build/NAME or build/bench/NAME)
b_find_bin() {
    local p
    for p in "$BUILD_DIR/$1" "$BUILD_DIR/bench/$1"; do
        [ -x "$p" ] && { echo "$p"; return 0; }
    done
    return 1
}

# b_proc_ticks PID: utime+stime of a live process in clock ticks (empty if gone)
b_proc_ticks() {
    # the command name (field 2) may contain spaces: count fields after the last ')'
    sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

# b_cpu_snap: "busy idle iowait" ticks summed over all CPUs (/proc/stat)
b_cpu_snap() {
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5, $6 }' /proc/stat
}

# b_cpu_delta "SNAP0" "SNAP1": "busy_s iowait_s idle_s" in CPU-seconds
b_cpu_delta() {
    echo "$1 $2" | awk -v hz="$HZ" '{ printf "%.2f %.2f %.2f\n", ($4 - $1) / hz, ($6 - $3) / hz, ($5 - $2) / hz }'
}

# b_disk_of DIR: the /proc/diskstats name of the whole disk holding DIR (empty if unknown)
b_disk_of() {
    local src dev parent
    src=$(findmnt -no SOURCE -T "$1" 2>/dev/null | head -1) || return 0
    [ -b "$src" ] || return 0
    dev=$(basename "$(readlink -f "$src")")
    parent=$(lsblk -no PKNAME "/dev/$dev" 2>/dev/null | head -1 | tr -d ' ')
    [ -n "$parent" ] && dev=$parent
    awk -v d="$dev" '$3 == d { found = 1 } END { exit !found }' /proc/diskstats && echo "$dev"
}

# b_disk_snap DEV: "write_ops sectors_written flushes" (flushes: empty on kernels without them)
b_disk_snap() {
    [ -n "$1" ] || { echo "n/a n/a n/a"; return; }
    awk -v d="$1" '$3 == d { print $8, $10, (NF >= 20 ? $19 : "n/a") }' /proc/diskstats
}

# b_disk_delta "SNAP0" "SNAP1": "write_ops MB_written flushes" (n/a where unknown)
b_disk_delta() {
    echo "$1 $2" | awk '{
        if ($1 == "n/a") { print "n/a n/a n/a"; exit }
        printf "%d %.1f %s\n", $4 - $1, ($5 - $2) * 512 / 1e6, ($3 == "n/a" || $6 == "n/a") ? "n/a" : $6 - $3 }'
}

# b_json_num FILE KEY: the first numeric value of "KEY": in a one-line JSON file
b_json_num() {
    grep -o "\"$2\":-\?[0-9.]*" "$1" | head -1 | cut -d: -f2
}

# ---------------------------------------------------------------- set-up shared by the benches
# that compare sluiced with Postfix (bench_inject.sh, bench_relay.sh)

# b_loopback_only [--free] HOST:PORT...: die unless every address is on loopback (127.x.x.x);
# with --free, also when something already listens on it
b_loopback_only() {
    local free=0 a
    if [ "${1:-}" = --free ]; then free=1; shift; fi
    for a in "$@"; do
        case ${a%:*} in
            127.*) ;;
            *) b_die "$a: benchmarks talk to loopback (127.x.x.x) only" ;;
        esac
        if [ "$free" = 1 ] && b_listening "${a%:*}" "${a##*:}"; then
            b_die "$a is already in use; choose another port (see the header)"
        fi
    done
}

# b_own_spool_base: create $SPOOL_BASE, this bench's alone, removed at exit; refuse to wipe a
# directory this script did not create
b_own_spool_base() {
    local mark=.sluice-bench-owned
    if [ -e "$SPOOL_BASE" ] && [ ! -e "$SPOOL_BASE/$mark" ] && [ -n "$(ls -A "$SPOOL_BASE" 2>/dev/null)" ]; then
        b_die "$SPOOL_BASE exists and was not made by this bench; set SPOOL_BASE to another directory"
    fi
    mkdir -p "$SPOOL_BASE" || b_die "cannot create $SPOOL_BASE"
    touch "$SPOOL_BASE/$mark"
    # shellcheck disable=SC2016  # expanded at exit
    b_on_exit 'rm -rf "$SPOOL_BASE"'
}

# b_snapshot_programs LABEL: copy $SLUICED, $SLUICE and $SMTPBLAST into $TMP/bin and point the
# variables there (the tree is shared, and a rebuild during the run must not mix binaries
# between runs); SLUICED_ID: the commit, whether src/ had uncommitted changes, and
# "LABEL <when sluiced was built>, sha256 <its start>"
b_snapshot_programs() {
    mkdir -p "$TMP/bin"
    cp -p "$SLUICED" "$SLUICE" "$SMTPBLAST" "$TMP/bin/"
    SLUICED_ID="$(cd "$BENCH_ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')"
    [ -z "$(cd "$BENCH_ROOT" && git status --porcelain --untracked-files=no -- src 2>/dev/null)" ] ||
        SLUICED_ID="$SLUICED_ID (src/ had uncommitted changes)"
    SLUICED_ID="$SLUICED_ID, $1 $(date -r "$SLUICED" '+%Y-%m-%d %H:%M:%S'), sha256 $(sha256sum "$SLUICED" | cut -c1-12)"
    SLUICED=$TMP/bin/sluiced SLUICE=$TMP/bin/sluice SMTPBLAST=$TMP/bin/smtpblast
}

# b_sluiced_start ARGS...: a fresh $SLUICED with ARGS on an empty queue (SL_Q=$SPOOL_BASE/q),
# listening on $SLUICE_ADDR, stderr appended to $OUT/sluiced.stderr; sets SL_PID
b_sluiced_start() {
    SL_Q=$SPOOL_BASE/q
    rm -rf "$SL_Q"
    mkdir -p "$SL_Q"
    "$SLUICED" -o queue_directory="$SL_Q" -o listen="$SLUICE_ADDR" "$@" 2>>"$OUT/sluiced.stderr" &
    SL_PID=$!
    b_remember "$SL_PID"
    b_wait_listen "${SLUICE_ADDR%:*}" "${SLUICE_ADDR##*:}" 10 "$SL_PID" ||
        b_die "sluiced did not come up on $SLUICE_ADDR (see $OUT/sluiced.stderr)"
}

# b_peer_detect: can Postfix be the peer ($PEER, recipes in $PEERS_DIR)?  Sets PEER_OK=1 and
# PF_VERSION, or PEER_OK=0 and PEER_WHY
# shellcheck disable=SC2034  # the variables are the bench's
b_peer_detect() {
    PEER_OK=0
    PEER_WHY=""
    PF_VERSION=""
    if [ "$PEER" = none ]; then
        PEER_WHY="skipped (PEER=none)"
    elif ! command -v postconf >/dev/null 2>&1 || [ ! -x /usr/sbin/postfix ]; then
        PEER_WHY="Postfix is not installed (sh scripts/deps.sh bench installs it)"
    elif [ ! -r "$PEERS_DIR/common.sh" ] || [ ! -r "$PEERS_DIR/postfix_common.sh" ]; then
        PEER_WHY="the peer recipes are not at $PEERS_DIR (set PEERS_DIR)"
    elif [ "$(id -u)" != 0 ]; then
        PEER_WHY="running Postfix as the peer needs root"
    else
        PEER_OK=1
        PF_VERSION=$(postconf -d -h mail_version 2>/dev/null || echo "?")
    fi
}

# b_pf_claim: make 127.0.0.1:25 Postfix's, for the peer: returns 1 (PEER_OK=0, PEER_WHY) when
# something else listens there; stops a Postfix that runs already (PEER_NOTE says so)
# shellcheck disable=SC2034  # the variables are the bench's
b_pf_claim() {
    if b_listening 127.0.0.1 25 && ! postfix status >/dev/null 2>&1; then
        PEER_OK=0; PEER_WHY="127.0.0.1:25 is taken by something other than Postfix"; return 1
    fi
    if postfix status >/dev/null 2>&1; then
        b_log "Postfix is already running: stopping it (the peer needs its own configuration)"
        PEER_NOTE="Postfix was running before the bench; it was stopped and is left stopped."
        postfix_stop
    fi
}

# the /etc/postfix files a peer configuration may change
_B_PF_ETC=(main.cf master.cf main.cf.peers-orig master.cf.peers-orig)

# b_pf_etc_save DIR: a copy of each in DIR (or FILE.absent when there was none)
b_pf_etc_save() {
    local f
    mkdir -p "$1"
    for f in "${_B_PF_ETC[@]}"; do
        if [ -e "/etc/postfix/$f" ]; then cp -p "/etc/postfix/$f" "$1/$f"; else touch "$1/$f.absent"; fi
    done
}

# b_pf_etc_restore DIR: put them back as b_pf_etc_save found them
b_pf_etc_restore() {
    local f
    for f in "${_B_PF_ETC[@]}"; do
        if [ -e "$1/$f" ]; then
            cp -p "$1/$f" "/etc/postfix/$f"
        elif [ -e "$1/$f.absent" ]; then
            rm -f "/etc/postfix/$f"
        fi
    done
}

# b_pf_log_done FILE: the last 200 warnings and errors of $POSTFIX_LOG into FILE; the log removed
b_pf_log_done() {
    if [ -s "$POSTFIX_LOG" ]; then
        grep -E 'warning|error|fatal|panic' "$POSTFIX_LOG" | tail -200 >"$1" || true
    fi
    rm -f "$POSTFIX_LOG"
}
