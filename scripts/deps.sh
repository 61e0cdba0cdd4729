#!/bin/sh
# deps.sh - install the Debian 12 packages sluice needs, and only the missing ones.
# Usage: scripts/deps.sh [build|test|bench]...   (default: build test)
# The one place that knows package names; `make demo`, `make check` and `make bench` call it.
set -eu

build_pkgs="build-essential cmake pkg-config libevent-dev libssl-dev libunbound-dev
  libconfig-dev libjansson-dev libpcre2-dev openssl zlib1g-dev"
test_pkgs="libcmocka-dev clang libclang-rt-14-dev python3 python3-dkim swaks iproute2 procps knot"
bench_pkgs="postfix bc sysstat"

want=""
[ $# -eq 0 ] && set -- build test
for set in "$@"; do
    case $set in
        build) want="$want $build_pkgs" ;;
        test) want="$want $test_pkgs" ;;
        bench) want="$want $bench_pkgs" ;;
        *) echo "deps.sh: unknown package set '$set' (build, test, bench)" >&2; exit 64 ;;
    esac
done

missing=""
for p in $want; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case $st in *"ok installed") ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing Debian packages:$missing" >&2
    echo "deps.sh: run as root (or: sudo apt-get install$missing)" >&2
    exit 69
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Postfix must not ask questions nor take port 25 for good: preseed "No configuration".
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
