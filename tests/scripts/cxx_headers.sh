#!/usr/bin/env bash
# tests/scripts/cxx_headers.sh - the public headers are usable from C++17:
#   - every include/quire/*.h compiles alone as C++17 (-Wall -Wextra -Werror -Wpedantic) and as
#     C11 (-Wpedantic too), each with g++/gcc and, when installed, clang++/clang;
#   - tests/cxx/headers_example.cc (every macro C dispatches with _Generic, and each module's
#     main calls) builds with -Wall -Wextra -Werror against libquire-core.a and runs;
#   - the type rules hold in C++ too: a wrong handle type, a write through a read-only pointer,
#     locking a const handle do not compile (with -w: errors, not warnings).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CXX=${CXX:-c++}
CC=${CC:-cc}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. tests/script_lib.sh

cxxs=$CXX
ccs=$CC
command -v clang++ >/dev/null 2>&1 && cxxs="$cxxs clang++"
command -v clang >/dev/null 2>&1 && ccs="$ccs clang"
command -v "$CXX" >/dev/null 2>&1 || {
    bad "no C++ compiler ($CXX): install g++"
    finish
    exit 1
}

for h in include/quire/*.h; do
    for cxx in $cxxs; do
        echo "#include <quire/$(basename "$h")>" >"$dir/one.cc"
        if $cxx -std=c++17 -Wall -Wextra -Werror -Wpedantic -Iinclude -fsyntax-only "$dir/one.cc" \
            2>"$dir/err"; then ok; else
            bad "[$cxx] $h does not compile as C++17:"
            head -n 5 "$dir/err"
        fi
    done
    for cc in $ccs; do
        echo "#include <quire/$(basename "$h")>" >"$dir/one.c"
        if $cc -std=c11 -Wall -Wextra -Werror -Wpedantic -Iinclude -fsyntax-only "$dir/one.c" \
            2>"$dir/err"; then ok; else
            bad "[$cc] $h does not compile alone as C11:"
            head -n 5 "$dir/err"
        fi
    done
done

for cxx in $cxxs; do
    exe="$dir/example.$(basename "$cxx")"
    if $cxx -std=c++17 -Wall -Wextra -Werror -Iinclude tests/cxx/headers_example.cc \
        "$BUILD/libquire-core.a" -pthread -o "$exe" 2>"$dir/err"; then
        ok
        if "$exe" >"$dir/out" 2>&1; then ok; else
            bad "[$cxx] the example failed:"
            cat "$dir/out"
        fi
        tail -n 1 "$dir/out" | grep -Eq '^[1-9][0-9]* passed, 0 failed$' && ok ||
            bad "[$cxx] example: $(tail -n 1 "$dir/out")"
    else
        bad "[$cxx] tests/cxx/headers_example.cc does not build:"
        head -n 10 "$dir/err"
    fi
done

# misuse CODE: must not compile as C++ (the body goes inside a function with handles in scope)
misuse() {
    local what=$1 body=$2
    cat >"$dir/bad.cc" <<CC
#include <quire/map.h>
#include <quire/pages.h>
void f(quire_pages_rw *rw, quire_pages_ro *ro, quire_pages_rx *rx, const quire_pages_rw *crw,
       quire_map_ro *mro, int *i) {
    (void)rw; (void)ro; (void)rx; (void)crw; (void)mro; (void)i;
    $body;
}
CC
    for cxx in $cxxs; do
        if $cxx -std=c++17 -w -Iinclude -fsyntax-only "$dir/bad.cc" >/dev/null 2>&1; then
            bad "[$cxx] compiles, but must not: $what ($body)"
        else ok; fi
    done
}
misuse "free of a non-handle" "quire_pages_free(i)"
misuse "size of a non-handle" "(void)quire_pages_size(i)"
misuse "map close of a pages handle" "quire_map_close(rw)"
misuse "ro where rw is expected" "quire_pages_rw_to_rx(ro, rx)"
misuse "write through a read-only pointer" "*static_cast<char *>(quire_pages_ro_ptr(*ro)) = 1"
misuse "write through a read-only map" "*static_cast<char *>(quire_map_ro_ptr(*mro)) = 1"
misuse "lock a const handle" "quire_pages_lock(crw)"
misuse "function from an rw region" "quire_pages_rx_fn(*rw, 0)"
# and the control: the same frame with a correct body compiles
cat >"$dir/good.cc" <<'CC'
#include <quire/map.h>
#include <quire/pages.h>
int f(quire_pages_rw *rw, quire_pages_rx *rx, quire_map_ro *mro) {
    return quire_pages_free(rw) + quire_pages_rw_to_rx(rw, rx) + quire_map_close(mro);
}
CC
for cxx in $cxxs; do
    $cxx -std=c++17 -Wall -Wextra -Werror -Iinclude -fsyntax-only "$dir/good.cc" && ok ||
        bad "[$cxx] the control does not compile"
done
finish
