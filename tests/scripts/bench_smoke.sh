#!/usr/bin/env bash
# tests/scripts/bench_smoke.sh - the benchmark suite still works.
#
# Builds the workloads (make bench-workloads), runs every one of them twice in bench/run's tiny
# "smoke" mode under glibc only, and checks that each run ended well and printed the same
# verification line both times (the lines must not depend on thread scheduling). Then runs two
# workloads under a deliberately broken allocator - an LD_PRELOAD shim that sometimes hands out
# a block that is still in use - and checks that the runner reports FAIL cells and exits
# non-zero, so a broken allocator cannot look fast, and one workload under a shim that changes
# the printed result, which must be reported as a verify mismatch. Last, the loaded mode: two
# workloads with busy processes beside them, which must get loaded rows and leave no busy
# process behind. No timing is asserted.
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/../.." || exit 1
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}

if ! command -v python3 >/dev/null; then
    echo "bench_smoke: python3 missing"
    echo "0 passed, 1 failed"
    exit 1
fi
if make --no-print-directory -s BUILD="$BUILD" bench-workloads >/dev/null; then ok; else
    bad "make bench-workloads"
    echo "$pass passed, $fail failed"
    exit 1
fi
out="$BUILD/bench/smoke"
rm -rf "$out"
mkdir -p "$out"

# 1. every workload, twice, under glibc
have_sqlite=1
command -v sqlite3 >/dev/null || have_sqlite=0
only=larson,larson-sized,sh6bench,xmalloc-test,cache-thrash1,cache-thrashN,cache-scratch1
only=$only,cache-scratchN,rptest,mleak,glibc-simple,glibc-thread,malloc-large,alloc-test,mstress
only=$only,frag,realloc,python
[ $have_sqlite = 1 ] && only="$only,sqlite"
command -v lua5.4 >/dev/null && only="$only,lua"
python3 bench/run --smoke --alloc glibc --no-micro --no-chart --only "$only" --build "$BUILD" \
    --out "$out" >"$out/log" 2>&1
rc=$?
if [ $rc -eq 0 ]; then ok; else
    bad "bench/run --smoke exited $rc"
    tail -n 30 "$out/log"
fi
for w in ${only//,/ }; do
    line=$(grep "^$w,.*,glibc," "$out/bench.csv" 2>/dev/null)
    status=$(echo "$line" | cut -d, -f5)
    verify=$(grep -c ",$w,[01],glibc,ok,.*,verify: " "$out/runs.csv" 2>/dev/null)
    if [ "$status" = ok ] && [ "$verify" = 2 ]; then ok; else
        bad "$w: status '${status:-none}', $verify good runs with a verify line (want 2)"
    fi
done
# the verification lines of the C workloads name the workload
for w in larson larson-sized sh6bench xmalloc-test cache-thrash cache-scratch rptest mleak \
    glibc-simple glibc-thread malloc-large alloc-test mstress frag; do
    if grep -q "verify: $w " "$out/runs.csv"; then ok; else bad "$w: no 'verify: $w' line"; fi
done

# 2. a broken allocator must show up as FAIL and make the runner exit non-zero
cat >"$out/evil.c" <<'EOF'
/* Hands out every 200th small block twice: the workloads' stamps must catch it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
static void *(*real_malloc)(size_t);
static void *last;
static unsigned long calls;
void *malloc(size_t n) {
    if (!real_malloc) real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    if (n >= 16 && n <= 64 && last && ++calls % 200 == 0) return last;
    void *p = real_malloc(n);
    if (n >= 16 && n <= 64) last = p;
    return p;
}
EOF
if ${CC:-cc} -shared -fPIC -O1 -o "$out/libevil.so" "$out/evil.c" -ldl; then
    python3 bench/run --smoke --alloc glibc --with "evil=$out/libevil.so" --no-micro --no-chart \
        --only larson,xmalloc-test --reps 1 --build "$BUILD" --out "$out/evil" >"$out/evil.log" 2>&1
    rc=$?
    if [ $rc -eq 1 ]; then ok; else bad "runner exited $rc under a broken allocator (want 1)"; fi
    n=$(grep -c '^[a-z0-9-]*,[0-9]*,[01],evil,[^o]' "$out/evil/bench.csv")
    if [ "$n" = 2 ] && grep -q '^| xmalloc-test .*FAIL (' "$out/evil.log"; then ok; else
        bad "broken allocator: $n workloads failed (want 2), or no FAIL cell in the table"
        tail -n 40 "$out/evil.log"
    fi
    if grep -q '^| larson | [0-9]* | [0-9.]* |' "$out/evil.log"; then ok; else
        bad "glibc's cell should stay a number next to the broken allocator's FAIL"
    fi
else
    bad "could not build the broken allocator"
fi

# 3. a run whose verification line differs from glibc's is a failure too ("verify mismatch")
cat >"$out/liar.c" <<'EOF'
/* Changes what the workloads print after "verify: <name> ", as a wrong result would (gcc
 * turns the vprintf in wl_verify into vfprintf on stdout). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
int vfprintf(FILE *f, const char *fmt, va_list ap) {
    int (*real)(FILE *, const char *, va_list) =
        (int (*)(FILE *, const char *, va_list))dlsym(RTLD_NEXT, "vfprintf");
    int n = real(f, fmt, ap);
    if (f == stdout) n += fputs(" (changed)", f) >= 0 ? 10 : 0;
    return n;
}
EOF
if ${CC:-cc} -shared -fPIC -O1 -o "$out/libliar.so" "$out/liar.c" -ldl; then
    python3 bench/run --smoke --alloc glibc --with "liar=$out/libliar.so" --no-micro --no-chart \
        --only alloc-test --reps 1 --build "$BUILD" --out "$out/liar" >"$out/liar.log" 2>&1
    rc=$?
    if [ $rc -eq 1 ] && grep -q '^alloc-test,.*,liar,verify mismatch,' "$out/liar/bench.csv"; then
        ok
    else
        bad "a changed verify line was not reported as a mismatch (exit $rc)"
        tail -n 20 "$out/liar.log"
    fi
else
    bad "could not build the lying allocator"
fi

# 4. the loaded mode: busy processes beside each run, loaded rows, none left behind
python3 bench/run --smoke --alloc glibc --no-micro --no-chart --loaded-only --load 2 \
    --only cache-thrashN,xmalloc-test --reps 1 --build "$BUILD" --out "$out/loaded" \
    >"$out/loaded.log" 2>&1
rc=$?
n=$(grep -c ',glibc,ok,.*,loaded 2' "$out/loaded/bench.csv" 2>/dev/null)
if [ $rc -eq 0 ] && [ "$n" = 2 ] && grep -q '^#### Wall time (s), loaded' "$out/loaded.log"; then
    ok
else
    bad "loaded mode: exit $rc, $n loaded rows (want 2)"
    tail -n 20 "$out/loaded.log"
fi
busy=$(cd "$BUILD/bench" && pwd)/busy
if ps -C busy -o args= | grep -qF -- "$busy"; then bad "busy processes left running"; else ok; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
