#!/usr/bin/env bash
# tests/scripts/exports.sh - libquire.so is built with -fvisibility=hidden: it exports only
# quire_* functions, the malloc family and the C++ operators new/delete; libquire-core.so (the
# library that keeps the program's malloc) exports quire_* only, the engine's quire_malloc family
# included; both carry the soname libNAME.so.MAJOR and build/libNAME.so leads to them; and the
# CLI answers --help and version.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
pass=0
fail=0
syms=$(nm -D --defined-only "$BUILD/libquire.so" | awk '$2 ~ /^[TWiVDBR]$/ {print $3}')
allowed='^(quire_.*|malloc|free|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|malloc_usable_size|free_sized|free_aligned_sized|malloc_trim|mallinfo2?|malloc_stats|malloc_info|mallopt|cfree|_Zn[wa].*|_Zd[la].*|__libc_.*|_init|_fini)$'
stray=$(echo "$syms" | grep -Ev "$allowed" | grep -v '^$')
if [ -z "$stray" ]; then echo "ok   only quire_* and the malloc family are exported ($(echo "$syms" | wc -l) symbols)"; pass=$((pass + 1)); else
    echo "FAIL unexpected exports:"; echo "$stray"; fail=$((fail + 1)); fi
if echo "$syms" | grep -qx quire_strerror && echo "$syms" | grep -qx quire_pages_alloc_rw_; then
    echo "ok   public API exported"; pass=$((pass + 1)); else echo "FAIL public API missing"; fail=$((fail + 1)); fi
if nm -D --defined-only "$BUILD/libquire.so" | grep -q ' q_os_'; then
    echo "FAIL internal q_os_* symbols leak"; fail=$((fail + 1)); else echo "ok   internals hidden"; pass=$((pass + 1)); fi
if "$BUILD/quire" --help | grep -q "usage: quire" && [ "$("$BUILD/quire" version)" = "$("$BUILD/quire" --version)" ]; then
    echo "ok   quire --help, quire version"; pass=$((pass + 1)); else echo "FAIL quire --help/version"; fail=$((fail + 1)); fi
if "$BUILD/quire" no-such-command 2>/dev/null; then echo "FAIL unknown command accepted"; fail=$((fail + 1)); else
    echo "ok   unknown command rejected"; pass=$((pass + 1)); fi
core=$(nm -D --defined-only "$BUILD/libquire-core.so" | awk '$2 ~ /^[TWiVDBR]$/ {print $3}')
stray=$(echo "$core" | grep -Ev '^(quire_.*|_init|_fini)$' | grep -v '^$')
if [ -z "$stray" ]; then echo "ok   libquire-core.so exports only quire_* ($(echo "$core" | wc -l) symbols)"; pass=$((pass + 1)); else
    echo "FAIL libquire-core.so exports:"; echo "$stray"; fail=$((fail + 1)); fi
missing=""
for s in quire_malloc quire_free quire_pager_open quire_pheap_open quire_ring_create quire_strerror; do
    echo "$core" | grep -qx "$s" || missing="$missing $s"
done
if [ -z "$missing" ]; then echo "ok   libquire-core.so has the public API and quire_malloc"; pass=$((pass + 1)); else
    echo "FAIL libquire-core.so lacks:$missing"; fail=$((fail + 1)); fi
major=$(sed -n 's/^#define QUIRE_VERSION_MAJOR *\([0-9][0-9]*\)$/\1/p' include/quire/error.h)
for lib in libquire libquire-core; do
    soname=$(objdump -p "$BUILD/$lib.so" | awk '$1 == "SONAME" {print $2}')
    if [ "$soname" = "$lib.so.$major" ] && [ -L "$BUILD/$lib.so" ] && [ -L "$BUILD/$lib.so.$major" ]; then
        echo "ok   $BUILD/$lib.so -> $(readlink "$BUILD/$lib.so") -> $(readlink "$BUILD/$lib.so.$major"), soname $soname"; pass=$((pass + 1))
    else echo "FAIL $lib: soname '$soname', links $(readlink "$BUILD/$lib.so") $(readlink "$BUILD/$lib.so.$major")"; fail=$((fail + 1)); fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
