#!/bin/sh
# tools/deps.sh [--warn] TARGET - makes sure the Debian packages a make target needs are there.
#
#   TARGET  test (make test), run (make run), bench (make bench: bench/deps.sh calls this)
#   --warn  when something is missing and cannot be installed, say so and succeed anyway
#           (make bench runs without what is missing; make test DEPS=warn goes on and lets the
#           tests that need it fail)
#
# Each package comes with a probe (a command, or a shell test) that says whether what the tests
# use is present, so a machine that has the tools from elsewhere (another distribution, a
# Python of its own) is not asked for Debian packages. What is missing is installed with
# apt-get when we are root and apt-get exists (apt-get update first when a package has no
# install candidate, as on a fresh machine); otherwise one line names the packages and the
# command that installs them, and the exit status is 1 (0 with --warn).
warn=0
if [ "${1:-}" = --warn ]; then
    warn=1
    shift
fi
target=${1:?usage: tools/deps.sh [--warn] test|run|bench [package ...]}
shift

# "package|probe" pairs; the probe runs with sh -c and succeeds when the package is not needed.
case "$target" in
test)
    pkgs='g++|command -v "${CXX:-c++}" && command -v g++
clang|command -v clang
clang-format|command -v clang-format
pkg-config|command -v pkg-config
binutils|command -v nm && command -v objdump
python3|command -v python3
libpython3.11-testsuite|python3 -c "import test.libregrtest, test.test_dict"
sqlite3|command -v sqlite3
git|command -v git
perl|perl -MDigest::MD5 -e 1
time|test -x /usr/bin/time
procps|command -v ps
groff-base|command -v groff
google-perftools|command -v google-pprof' ;;
run)
    pkgs='python3|command -v python3
time|test -x /usr/bin/time' ;;
bench)
    # the allocators to compare (scudo is in LLVM's runtime libraries), Google Benchmark,
    # gnuplot for the chart, the real programs (sqlite3, python3, lua5.4)
    pkgs='libjemalloc-dev|dpkg-query -W -f="\${Status}" libjemalloc-dev | grep -q "ok installed"
libmimalloc-dev|dpkg-query -W -f="\${Status}" libmimalloc-dev | grep -q "ok installed"
libgoogle-perftools-dev|dpkg-query -W -f="\${Status}" libgoogle-perftools-dev | grep -q "ok installed"
libclang-rt-14-dev|ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.scudo_standalone-x86_64.so
libbenchmark-dev|test -f /usr/include/benchmark/benchmark.h
gnuplot-nox|command -v gnuplot
sqlite3|command -v sqlite3
python3|command -v python3
lua5.4|command -v lua5.4' ;;
*)
    echo "tools/deps.sh: unknown target '$target' (test, run or bench)" >&2
    exit 2 ;;
esac
# Packages named on the command line replace the list (probe: dpkg, or a command of that name).
if [ $# -gt 0 ]; then
    pkgs=
    for p in "$@"; do
        pkgs="$pkgs$p|command -v $p || dpkg-query -W -f=\"\\\${Status}\" $p | grep -q \"ok installed\"
"
    done
fi

missing() {
    echo "$pkgs" | while IFS='|' read -r pkg probe; do
        [ -n "$pkg" ] || continue
        sh -c "$probe" >/dev/null 2>&1 || printf ' %s' "$pkg"
    done
}

need=$(missing)
[ -z "$need" ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    for p in $need; do
        if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]'; then
            echo "make $target: apt-get update (no install candidate for $p)" >&2
            apt-get update -q >/dev/null 2>&1 || true
            break
        fi
    done
    echo "make $target: installing$need" >&2
    apt-get install -y -q --no-install-recommends $need >/dev/null 2>&1 || true
    need=$(missing)
    [ -z "$need" ] && exit 0
    echo "make $target: could not install:$need (apt-get install$need failed)" >&2
else
    echo "make $target: missing packages:$need - install them as root: apt-get install$need" >&2
fi
[ "$warn" -eq 1 ] && exit 0
exit 1
