#!/usr/bin/env bash
# tests/scripts/alloc_attrs.sh - the quire_malloc family's declarations in include/quire/alloc.h
# carry the attributes a compiler uses (QUIRE_ATTR_* of include/quire/error.h), checked by what
# the compiler does with them, with gcc and (when installed) clang at -O2:
#   malloc             two quire_malloc blocks do not alias: a load folds, so a call to an
#                      undefined function disappears and the program links;
#   alloc_align        quire_aligned_alloc(64, ...) & 63 and quire_memalign(128, ...) & 127 fold
#                      to 0 (the same undefined-function technique);
#   alloc_size         __builtin_object_size of each allocating call is the size asked for;
#   warn_unused_result ignoring quire_malloc's or quire_realloc's result is a warning.
# Each program is also built with the attribute removed (QUIRE_NO_MALLOC_ATTRIBUTE, or
# -Dattr-less declarations) where that is possible, to prove the check can fail.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CC=${CC:-cc}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. tests/script_lib.sh

ccs=$CC
command -v clang >/dev/null 2>&1 && ccs="$ccs clang"

cat >"$dir/noalias.c" <<'C'
#include <quire/alloc.h>
void not_folded(void);
int main(void) {
    int *p = quire_malloc(sizeof *p), *q = quire_malloc(sizeof *q);
    *p = 1;
    *q = 2;
    if (*p != 1) not_folded();
    quire_free(p);
    quire_free(q);
    return 0;
}
C
cat >"$dir/align.c" <<'C'
#include <stdint.h>
#include <quire/alloc.h>
void not_folded(void);
int main(void) {
    char *p = quire_aligned_alloc(64, 100), *q = quire_memalign(128, 100);
    if (((uintptr_t)p & 63) != 0 || ((uintptr_t)q & 127) != 0) not_folded();
    quire_free(p);
    quire_free(q);
    return 0;
}
C
cat >"$dir/size.c" <<'C'
#include <stdio.h>
#include <quire/alloc.h>
#define BOS(e) ({ void *p_ = (e); size_t n_ = __builtin_object_size(p_, 0); quire_free(p_); n_; })
int main(void) {
    printf("%zu %zu %zu %zu %zu %zu %zu\n", BOS(quire_malloc(10)), BOS(quire_calloc(3, 5)),
           BOS(quire_realloc(NULL, 7)), BOS(quire_reallocarray(NULL, 2, 9)),
           BOS(quire_aligned_alloc(64, 40)), BOS(quire_memalign(32, 24)), BOS(quire_valloc(33)));
    return 0;
}
C
cat >"$dir/unused.c" <<'C'
#include <quire/alloc.h>
void f(void *p) {
    quire_malloc(10);
    quire_realloc(p, 20);
}
C
build() { # build CC NAME EXTRA...: compiles and links $dir/NAME.c at -O2
    local cc=$1 name=$2
    shift 2
    $cc -std=gnu11 -O2 -Wall -Wextra -Iinclude "$@" "$dir/$name.c" "$BUILD/libquire-core.a" \
        -pthread -o "$dir/$name" >"$dir/err" 2>&1
}
for cc in $ccs; do
    build "$cc" noalias && ok || bad "[$cc] malloc attribute: two blocks may alias"
    build "$cc" noalias -DQUIRE_NO_MALLOC_ATTRIBUTE && bad "[$cc] noalias check cannot fail" || ok
    build "$cc" align && ok || bad "[$cc] alloc_align: alignment not known to the compiler"
    if build "$cc" size && [ "$("$dir/size")" = "10 15 7 18 40 24 33" ]; then ok; else
        bad "[$cc] alloc_size: __builtin_object_size gives '$("$dir/size" 2>&1)', wanted '10 15 7 18 40 24 33'"
    fi
    $cc -std=c11 -Wall -Iinclude -c "$dir/unused.c" -o "$dir/unused.o" 2>"$dir/err"
    [ "$(grep -c 'unused-result\|unused result\|warn_unused_result' "$dir/err")" -ge 2 ] && ok ||
        bad "[$cc] warn_unused_result: ignoring quire_malloc/quire_realloc is not reported"
done
# the header still parses where __has_attribute is unknown: every QUIRE_ATTR_* then expands to
# nothing (simulated by checking that the fallback branch of each definition is empty)
for m in MALLOC 'ALLOC_SIZE(n)' 'ALLOC_SIZE2(n, m)' 'ALLOC_ALIGN(n)' NODISCARD 'PRINTF(f, a)'; do
    grep -qx "#define QUIRE_ATTR_$m" include/quire/error.h && ok ||
        bad "error.h: no empty fallback '#define QUIRE_ATTR_$m'"
done
finish
