#!/usr/bin/env bash
# tests/scripts/install.sh - `make install` lays out what a distribution expects, and programs
# built against the installed copy work:
#   - versioned shared libraries: libquire.so.X.Y.Z with soname libquire.so.X, the links
#     libquire.so.X -> libquire.so.X.Y.Z and libquire.so -> libquire.so.X; the same for
#     libquire-core; both static libraries; headers, quire.pc and quire-core.pc, the CLI, the
#     man pages (X.Y.Z: the QUIRE_VERSION_* numbers of include/quire/error.h);
#   - PREFIX, DESTDIR and LIBDIR are honoured (a DESTDIR install writes nothing outside DESTDIR
#     and the .pc files name the final paths, not the staging ones); `make uninstall` removes
#     every file it installed;
#   - a program built with `pkg-config --cflags --libs quire` runs on quire's malloc, one built
#     with quire-core on glibc's (dladdr of malloc, quire_owns of a malloc'd block, nm -D of
#     the library), shared and static;
#   - the installed `quire run` finds the installed library, with the default LIBDIR and another.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CC=${CC:-cc}
dir=$(mktemp -d /tmp/quire-install.XXXXXX)
trap 'rm -rf "$dir"' EXIT
. tests/script_lib.sh

part() { sed -n "s/^#define QUIRE_VERSION_$1 *\([0-9][0-9]*\)\$/\1/p" include/quire/error.h; }
major=$(part MAJOR)
version="$major.$(part MINOR).$(part PATCH)"
[ -n "$major" ] && [ "$version" != "$major.." ] && ok || bad "version numbers in error.h"

# ---- the default layout under PREFIX -----------------------------------------------------------
p="$dir/prefix"
expect 0 "make install PREFIX" -- make -s BUILD="$BUILD" PREFIX="$p" install
for f in include/quire/*.h; do [ -f "$p/$f" ] || bad "header $f not installed"; done
for lib in libquire libquire-core; do
    [ -f "$p/lib/$lib.so.$version" ] && [ ! -L "$p/lib/$lib.so.$version" ] && ok ||
        bad "$lib.so.$version is not a file"
    [ "$(readlink "$p/lib/$lib.so.$major")" = "$lib.so.$version" ] && ok ||
        bad "$lib.so.$major -> $(readlink "$p/lib/$lib.so.$major"), wanted $lib.so.$version"
    [ "$(readlink "$p/lib/$lib.so")" = "$lib.so.$major" ] && ok ||
        bad "$lib.so -> $(readlink "$p/lib/$lib.so"), wanted $lib.so.$major"
    soname=$(objdump -p "$p/lib/$lib.so.$version" | awk '$1 == "SONAME" {print $2}')
    [ "$soname" = "$lib.so.$major" ] && ok || bad "$lib soname '$soname', wanted $lib.so.$major"
    [ -f "$p/lib/$lib.a" ] && ok || bad "$lib.a not installed"
done
for f in lib/pkgconfig/quire.pc lib/pkgconfig/quire-core.pc bin/quire share/man/man1/quire.1; do
    [ -f "$p/$f" ] && ok || bad "$f not installed"
done
for m in man/*.3; do [ -f "$p/share/man/man3/$(basename "$m")" ] || bad "$m not installed"; done
[ "$("$p/bin/quire" version)" = "quire $version" ] && ok || bad "installed CLI: $("$p/bin/quire" version)"

export PKG_CONFIG_PATH="$p/lib/pkgconfig"
for pc in quire quire-core; do
    [ "$(pkg-config --modversion $pc)" = "$version" ] && ok || bad "pkg-config --modversion $pc"
done
[ "$(echo $(pkg-config --libs quire-core))" = "-L$p/lib -lquire-core" ] && ok ||
    bad "pkg-config --libs quire-core: $(pkg-config --libs quire-core)"

# The core library exports quire_* only: no malloc family, no C++ operators.
stray=$(nm -D --defined-only "$p/lib/libquire-core.so" | awk '$2 ~ /^[TWiVDBR]$/ {print $3}' |
    grep -Ev '^(quire_.*|_init|_fini)$')
[ -z "$stray" ] && ok || bad "libquire-core.so exports more than quire_*: $(echo $stray)"
nm -D --defined-only "$p/lib/libquire.so" | grep -qw malloc && ok || bad "libquire.so lacks malloc"

# A program that reports whose malloc it got: the library that defines malloc (dladdr) and
# whether quire's engine owns a malloc'd block; quire_malloc works either way.
cat >"$dir/whose.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <quire/alloc.h>
int main(void) {
    void *(*volatile fn)(size_t) = malloc;
    Dl_info info;
    const char *lib = dladdr((void *)fn, &info) && info.dli_fname ? info.dli_fname : "?";
    const char *slash = strrchr(lib, '/');
    void *p = malloc(100), *q = quire_malloc(100);
    printf("%s %s %s %s\n", slash ? slash + 1 : lib, quire_owns(p) ? "quire" : "other",
           quire_owns(q) ? "quire" : "other", quire_version());
    free(p);
    quire_free(q);
    return 0;
}
C
whose() { # whose NAME WANT CC-ARGS...: builds NAME, runs it, compares its line with WANT
    local name=$1 want=$2
    shift 2
    if $CC -std=c11 -Wall -Wextra -Werror "$dir/whose.c" -o "$dir/$name" "$@" 2>"$dir/cc.err"; then
        local got
        got=$(LD_LIBRARY_PATH="$p/lib" "$dir/$name")
        [ "$got" = "$want" ] && ok || bad "$name: '$got', wanted '$want'"
    else
        bad "$name does not build: $(cat "$dir/cc.err")"
    fi
}
# shellcheck disable=SC2046
whose quire "libquire.so.$major quire quire $version" $(pkg-config --cflags --libs quire)
# shellcheck disable=SC2046
whose quire-core "libc.so.6 other quire $version" $(pkg-config --cflags --libs quire-core)
LD_LIBRARY_PATH="$p/lib" ldd "$dir/quire-core" | grep -q "libquire-core.so.$major => $p/lib/" &&
    ok || bad "the quire-core program does not use the installed libquire-core.so.$major"
LD_LIBRARY_PATH="$p/lib" ldd "$dir/quire-core" | grep -q "libquire.so" &&
    bad "the quire-core program loads libquire.so" || ok
# shellcheck disable=SC2046
whose quire-static "quire-static quire quire $version" \
    $(pkg-config --cflags quire) "$p/lib/libquire.a" -pthread -ldl
# with libquire.a, malloc is the program's own: dladdr names the executable
# shellcheck disable=SC2046
whose core-static "libc.so.6 other quire $version" \
    $(pkg-config --cflags quire-core) "$p/lib/libquire-core.a" -pthread -ldl

# quire run in the installed tree: bin/../lib/libquire.so
expect 0 "installed quire run" -- env -u LD_PRELOAD "$p/bin/quire" run -- sh -c 'echo "$LD_PRELOAD"'
[ "$(cat "$dir/out")" = "$p/bin/../lib/libquire.so" ] && ok || bad "installed quire run: $(cat "$dir/out")"
unset PKG_CONFIG_PATH

# ---- DESTDIR, PREFIX and LIBDIR together -------------------------------------------------------
d="$dir/stage"
final=/opt/quire-install-test-$$
expect 0 "make install DESTDIR PREFIX LIBDIR" -- \
    make -s BUILD="$BUILD" DESTDIR="$d" PREFIX="$final" LIBDIR="$final/lib64" install
[ ! -e "$final" ] && ok || bad "a DESTDIR install wrote into $final"
for f in include/quire/pages.h lib64/libquire.so.$version lib64/libquire-core.a \
    lib64/pkgconfig/quire-core.pc bin/quire share/man/man1/quire.1; do
    [ -e "$d$final/$f" ] && ok || bad "DESTDIR: $f not under $d$final"
done
[ ! -e "$d$final/lib" ] && ok || bad "DESTDIR: LIBDIR=lib64 still wrote lib/"
grep -qx "libdir=$final/lib64" "$d$final/lib64/pkgconfig/quire-core.pc" && ok ||
    bad "quire-core.pc libdir: $(grep libdir= "$d$final/lib64/pkgconfig/quire-core.pc")"
grep -qx "includedir=$final/include" "$d$final/lib64/pkgconfig/quire.pc" && ok ||
    bad "quire.pc includedir: $(grep includedir= "$d$final/lib64/pkgconfig/quire.pc")"
# building against the staged tree the way a packager does (pkg-config's sysroot)
# shellcheck disable=SC2046
if $CC -std=c11 "$dir/whose.c" -o "$dir/staged" $(PKG_CONFIG_SYSROOT_DIR="$d" \
    PKG_CONFIG_LIBDIR="$d$final/lib64/pkgconfig" pkg-config --cflags --libs quire-core) &&
    [ "$(LD_LIBRARY_PATH="$d$final/lib64" "$dir/staged")" = "libc.so.6 other quire $version" ]; then
    ok
else bad "program built against the DESTDIR tree"; fi
# the installed CLI finds libquire.so.MAJOR in LIBDIR (lib64 here), relative to its own place
expect 0 "staged quire run" -- env -u LD_PRELOAD "$d$final/bin/quire" run -- sh -c 'echo "$LD_PRELOAD"'
[ "$(cat "$dir/out")" = "$d$final/bin/../lib64/libquire.so.$major" ] && ok ||
    bad "quire run with LIBDIR=lib64: $(cat "$dir/out")"
expect 0 "staged quire run --stats" -- "$d$final/bin/quire" run --stats -- true
grep -q 'quire: malloc statistics' "$dir/err" && ok || bad "staged quire run: no statistics"
expect 0 "make uninstall" -- \
    make -s BUILD="$BUILD" DESTDIR="$d" PREFIX="$final" LIBDIR="$final/lib64" uninstall
left=$(find "$d" -type f -o -type l)
[ -z "$left" ] && ok || bad "make uninstall left: $left"

# put the build tree's CLI back to the default LIBDIR
make -s BUILD="$BUILD" all >/dev/null 2>&1 || bad "make all after the installs"
finish
