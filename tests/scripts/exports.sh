#!/usr/bin/env bash
# tests/scripts/exports.sh - libquire.so is built with -fvisibility=hidden: it exports only
# quire_* functions, the malloc family and the C++ operators new/delete; and the CLI answers
# --help and version.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
pass=0
fail=0
syms=$(nm -D --defined-only "$BUILD/libquire.so" | awk '$2 ~ /^[TWiVDBR]$/ {print $3}')
allowed='^(quire_.*|malloc|free|calloc|realloc|reallocarray|posix_memalign|aligned_alloc|memalign|valloc|pvalloc|malloc_usable_size|free_sized|free_aligned_sized|malloc_trim|mallinfo2?|malloc_stats|cfree|_Zn[wa].*|_Zd[la].*|__libc_.*|_init|_fini)$'
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
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
