#!/usr/bin/env bash
# tests/scripts/install.sh - `make install PREFIX=dir` installs headers, both libraries, quire.pc
# and the CLI; a small program builds against the installed copy with
# `pkg-config --cflags --libs quire` (shared and static) and runs.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
pass=0
fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

prefix=$(mktemp -d /tmp/quire-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
if make -s BUILD="$BUILD" PREFIX="$prefix" install >"$prefix.log" 2>&1; then ok "make install"; else
    bad "make install"; cat "$prefix.log"; fi
rm -f "$prefix.log"
for f in include/quire/error.h include/quire/pages.h lib/libquire.so lib/libquire.a \
    lib/pkgconfig/quire.pc bin/quire; do
    if [ -e "$prefix/$f" ]; then ok "installed $f"; else bad "missing $f"; fi
done
for h in include/quire/*.h; do
    [ -e "$prefix/$h" ] || bad "header $h not installed"
done

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
if [ "$(pkg-config --modversion quire 2>/dev/null)" = "$(sed -n 's/^#define QUIRE_VERSION_STRING "\(.*\)"/\1/p' include/quire/error.h)" ]; then
    ok "pkg-config --modversion"
else bad "pkg-config --modversion"; fi

cat >"$prefix/hello.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <quire/pages.h>
int main(void) {
    quire_pages_rw rw;
    quire_pages_ro ro;
    if (quire_pages_alloc_rw(1, QUIRE_PAGES_GUARD, &rw)) return 1;
    strcpy(quire_pages_rw_ptr(rw), "hello from quire");
    if (quire_pages_rw_to_ro(&rw, &ro)) return 2;
    printf("%s %s\n", (const char *)quire_pages_ro_ptr(ro), quire_version());
    return quire_pages_free(&ro);
}
C
want="hello from quire $(sed -n 's/^#define QUIRE_VERSION_STRING "\(.*\)"/\1/p' include/quire/error.h)"
# shellcheck disable=SC2046
if ${CC:-cc} -std=c11 "$prefix/hello.c" -o "$prefix/hello" $(pkg-config --cflags --libs quire) &&
    [ "$(LD_LIBRARY_PATH="$prefix/lib" "$prefix/hello")" = "$want" ]; then
    ok "program built with pkg-config runs (shared)"
else bad "program built with pkg-config (shared)"; fi
if ldd "$prefix/hello" 2>/dev/null | grep -q "$prefix/lib/libquire.so" ||
    LD_LIBRARY_PATH="$prefix/lib" ldd "$prefix/hello" | grep -q "$prefix/lib/libquire.so"; then
    ok "program uses the installed libquire.so"
else bad "program does not use the installed libquire.so"; fi
# shellcheck disable=SC2046
if ${CC:-cc} -std=c11 -static-libgcc "$prefix/hello.c" -o "$prefix/hello-static" \
    $(pkg-config --cflags quire) "$prefix/lib/libquire.a" $(pkg-config --libs-only-other --static quire) -pthread &&
    [ "$("$prefix/hello-static")" = "$want" ]; then
    ok "program linked with libquire.a runs"
else bad "program linked with libquire.a"; fi
if [ "$("$prefix/bin/quire" version)" = "quire $(sed -n 's/^#define QUIRE_VERSION_STRING "\(.*\)"/\1/p' include/quire/error.h)" ]; then
    ok "installed CLI runs"
else bad "installed CLI"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
