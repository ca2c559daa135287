#!/bin/sh
# bench/deps.sh [package ...] - install what the benchmarks need, when it is missing.
#
# Default list: the allocators to compare (jemalloc, mimalloc, tcmalloc, and scudo from LLVM's
# runtime libraries), Google Benchmark, gnuplot
# for the chart, and the two real programs the runner drives (sqlite3, python3). Only root can
# install; anyone else gets the list of what is missing, and the runner skips what is absent.
# apt-get update runs first only when a package has no install candidate in the current lists.
pkgs=${*:-"libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev libclang-rt-14-dev libbenchmark-dev gnuplot-nox sqlite3 python3"}

have() {
    case "$1" in
    python3 | sqlite3 | valgrind) command -v "$1" >/dev/null 2>&1 && return 0 ;;
    esac
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=
for p in $pkgs; do have "$p" || missing="$missing $p"; done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "bench: missing:$missing - install them as root (apt-get install$missing);" \
        "the runner skips what is not there" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
for p in $missing; do
    if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]'; then
        echo "bench: $p not in the package lists - apt-get update" >&2
        apt-get update -q || true
        break
    fi
done
echo "bench: installing$missing" >&2
apt-get install -y -q --no-install-recommends $missing ||
    echo "bench: warning: could not install all of$missing; the runner skips what is missing" >&2
exit 0
