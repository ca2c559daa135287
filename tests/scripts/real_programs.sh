#!/usr/bin/env bash
# tests/scripts/real_programs.sh - real programs on quire's malloc: same output as on glibc's.
#
# Each workload runs twice, side by side: once plain and once with LD_PRELOAD=$BUILD/libquire.so
# (and QUIRE_STATS=1, so every run also proves that quire served it: its summary must appear on
# stderr); stdout and exit status of the two runs must be identical. Each comparison is one check.
# Workloads: python3 (an allocation-heavy script and stdlib test modules), sqlite3 (100k-row bulk
# insert, index, queries), git (init, add and commit thousands of files, log, gc, fsck), gcc
# (compile and link a C program and a large generated file: objects and program output compared),
# perl (hashes and regexes), sort (2M lines), and a threaded C++ program (tests/preload/
# cxx_threads.cc built with plain g++; also its -lquire build from the Makefile). A program that
# is missing counts as a failure: CI installs them (.ci/run; Debian's python3 test suite is the
# package libpython3.11-testsuite).
#
# Usage: BUILD=build bash tests/scripts/real_programs.sh   (prints "N passed, N failed")
set -u
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REAL="$ROOT/tests/scripts/real"
BUILD_ABS=$(cd "$ROOT" && mkdir -p "$BUILD" && cd "$BUILD" && pwd)
LIB="$BUILD_ABS/libquire.so"
TIME_LIMIT=${QUIRE_REAL_TIMEOUT:-180}
# Scratch space in memory when there is some (git and sqlite fsync; a busy disk makes that slow).
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    WORK=$(mktemp -d /dev/shm/quire-real.XXXXXX)
else
    WORK="$BUILD_ABS/real-programs.$$"
    rm -rf "$WORK"
    mkdir -p "$WORK"
fi
trap 'rm -rf "$WORK"' EXIT

passed=0
failed=0
pass() {
    passed=$((passed + 1))
    printf 'ok    %s\n' "$1"
}
fail() {
    failed=$((failed + 1))
    printf 'FAIL  %s\n' "$1"
    shift
    for line in "$@"; do printf '      %s\n' "$line"; done
}

# The first line of quire's QUIRE_STATS=1 summary (alloc/stats.c).
STATS_MARK="quire: malloc statistics"

# need PROGRAM... : 0 if every program is installed, else records a failure for NAME.
need() {
    local name=$1 missing=""
    shift
    for p in "$@"; do command -v "$p" >/dev/null 2>&1 || missing="$missing $p"; done
    if [ -n "$missing" ]; then
        fail "$name" "not installed:$missing (CI installs it in .ci/run)"
        return 1
    fi
    return 0
}

# compare NAME FUNC [ARGS...]: runs `FUNC DIR ARGS...` twice, in fresh directories, once plain
# and once on quire; stdout and exit status must match and the quire run must show quire's
# summary on stderr.
compare() {
    local name=$1 fn=$2
    shift 2
    local tag
    tag=$(echo "$name" | tr -c 'A-Za-z0-9_\n' '_')
    local d1="$WORK/$tag.plain" d2="$WORK/$tag.quire"
    mkdir -p "$d1" "$d2"
    local t0=$SECONDS
    # The shell running FUNC is not preloaded; every program it starts is (Q set).
    local body="$(declare -f "$fn")
if [ -n \"\$Q\" ]; then export LD_PRELOAD=\"\$Q\" QUIRE_STATS=1; fi
$fn \"\$@\""
    # The two runs go side by side (2 cores); each has its own directory and output files.
    (cd "$d1" && Q= timeout -k 5 "$TIME_LIMIT" bash -c "$body" _ "$d1" "$@") >"$d1.out" 2>"$d1.err" &
    local pid1=$!
    (cd "$d2" && Q="$LIB" timeout -k 5 "$TIME_LIMIT" bash -c "$body" _ "$d2" "$@") \
        >"$d2.out" 2>"$d2.err"
    local rc2=$?
    wait "$pid1"
    local rc1=$?
    local secs=$((SECONDS - t0))
    # Directory names differ between the runs; outputs must not depend on them.
    sed -i "s|$d1|DIR|g" "$d1.out"
    sed -i "s|$d2|DIR|g" "$d2.out"
    if [ "$rc1" -ne 0 ]; then
        fail "$name (${secs}s)" "plain run exited $rc1:" "$(tail -n 15 "$d1.err")"
    elif [ "$rc2" -ne 0 ]; then
        fail "$name (${secs}s)" "run on quire exited $rc2 (plain: 0):" "$(tail -n 25 "$d2.err")"
    elif ! cmp -s "$d1.out" "$d2.out"; then
        fail "$name (${secs}s)" "outputs differ (plain vs quire):" \
            "$(diff "$d1.out" "$d2.out" | head -n 20)"
    elif grep -q "ERROR: ld.so" "$d2.err"; then
        fail "$name (${secs}s)" "libquire.so was not preloaded:" "$(grep "ld.so" "$d2.err" | head -3)"
    elif ! grep -q "$STATS_MARK" "$d2.err"; then
        fail "$name (${secs}s)" "no quire statistics on stderr: quire did not serve the run" \
            "$(tail -n 5 "$d2.err")"
    else
        pass "$name: $(wc -l <"$d1.out") lines of output identical (${secs}s)"
    fi
}

echo "real programs on $LIB"
if [ ! -f "$LIB" ]; then
    fail "libquire.so" "$LIB does not exist (make BUILD=$BUILD first)"
    echo "$passed passed, $failed failed"
    exit 1
fi

# ---- python3 ------------------------------------------------------------------------------------

# The interpreter (resolved through pyenv shims, so the preload applies to the real binary) and
# one whose standard test suite is installed.
PY=""
PYTEST=""
find_python() {
    local cand
    for cand in "$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)" \
        /usr/bin/python3 /usr/local/bin/python3; do
        [ -n "$cand" ] && [ -x "$cand" ] || continue
        [ -n "$PY" ] || PY=$cand
        if [ -z "$PYTEST" ] && "$cand" -c 'import test.libregrtest, test.test_dict' 2>/dev/null; then
            PYTEST=$cand
        fi
    done
}
find_python

py_heavy() {
    PYTHONHASHSEED=0 "$PY" "$REAL/alloc_heavy.py"
}

# The stdlib tests print timings; what is compared is their verdict and counts. Some of them
# check that a child interpreter prints nothing on stderr, so only the top process keeps
# QUIRE_STATS (quire reads it at start-up; the children inherit the environment without it).
py_stdlib() {
    PYTHONHASHSEED=0 "$PYTEST" -c 'import os, runpy, sys
os.environ.pop("QUIRE_STATS", None)
sys.argv = ["test", "-j2"] + sys.argv[1:]
runpy.run_module("test", run_name="__main__", alter_sys=True)' test_dict test_list test_json \
        test_re test_set test_unicode test_bytes test_collections test_sort test_deque test_array \
        >"$1/regrtest.out" 2>"$1/regrtest.err"
    local rc=$?
    grep -E '^(Result|Total tests|Total test files):' "$1/regrtest.out" || tail -n 30 "$1/regrtest.out" >&2
    cat "$1/regrtest.err" >&2
    echo "exit $rc"
    return $rc
}

if [ -n "$PY" ]; then
    export PY PYTEST REAL
    compare "python3: allocation-heavy script" py_heavy
    if [ -n "$PYTEST" ]; then
        compare "python3: stdlib tests (dict list json re set unicode bytes ...)" py_stdlib
    else
        fail "python3: stdlib tests" "no python3 with its test suite (Debian: libpython3.11-testsuite)"
    fi
else
    fail "python3" "not installed (CI installs python3)"
fi

# ---- sqlite3 ------------------------------------------------------------------------------------

sqlite_work() {
    local db=$1/bulk.db
    awk 'BEGIN {
        s = 12345; print "BEGIN;";
        print "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v INTEGER, note TEXT);";
        for (i = 1; i <= 100000; i++) {
            s = (s * 1103515245 + 12345) % 2147483648;
            printf "INSERT INTO t(k, v, note) VALUES(\x27key%07d\x27, %d, \x27%s\x27);\n",
                   s % 1000003, s % 100000, substr("abcdefghijklmnopqrstuvwxyz0123456789", 1, 1 + s % 36);
        }
        print "COMMIT;"
    }' >"$1/insert.sql"
    sqlite3 "$db" <<'SQL'
PRAGMA cache_size = -65536;
PRAGMA journal_mode = WAL;
.read insert.sql
CREATE TABLE u AS
  WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)
  SELECT x AS id, printf('u%06d', (x * 7919) % 100003) AS name, (x * 2654435761) % 1000003 AS w,
         replace(hex(zeroblob(x % 300)), '00', 'ab') AS pad
  FROM c;
CREATE INDEX tk ON t(k);
CREATE INDEX tv ON t(v, k);
CREATE INDEX un ON u(name);
SELECT count(*), sum(v), sum(length(note)), min(k), max(k) FROM t;
SELECT count(*), sum(w), sum(length(pad)) FROM u;
SELECT k, v, note FROM t WHERE k BETWEEN 'key0500000' AND 'key0500400' ORDER BY k, id;
SELECT v % 97 AS b, count(*), sum(length(k)), group_concat(substr(note, 1, 1), '') FROM t
  WHERE v < 20000 GROUP BY b ORDER BY b;
SELECT t.id, u.name, t.v + u.w FROM t JOIN u ON u.id = t.id WHERE t.v % 1000 = 7 ORDER BY t.id;
SELECT count(DISTINCT k), count(DISTINCT note) FROM t;
UPDATE t SET note = note || note || note WHERE v % 3 = 0;
DELETE FROM t WHERE v % 5 = 1;
SELECT count(*), sum(length(note)) FROM t;
SELECT name, w FROM u ORDER BY w DESC, name LIMIT 20;
VACUUM;
PRAGMA integrity_check;
SQL
}

if need "sqlite3" sqlite3 awk; then
    compare "sqlite3: 100k-row bulk insert, indexes, queries" sqlite_work
fi

# ---- git ----------------------------------------------------------------------------------------

git_work() {
    local d=$1
    export HOME=$d/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
    export GIT_AUTHOR_NAME="Quire Test" GIT_AUTHOR_EMAIL=quire@example.invalid
    export GIT_COMMITTER_NAME="Quire Test" GIT_COMMITTER_EMAIL=quire@example.invalid
    mkdir -p "$HOME"
    git init -q -b main "$d/repo" || return 1
    cd "$d/repo" || return 1
    git config user.name "Quire Test"
    git config user.email quire@example.invalid
    git config pack.threads 1
    git config pack.window 4
    git config gc.auto 0
    build_files() {
        awk -v round="$1" 'BEGIN {
            s = 777 + round;
            for (i = 0; i < 2000; i++) {
                s = (s * 1103515245 + 12345) % 2147483648;
                if (round > 0 && s % 4 != 0) continue;
                f = sprintf("dir%02d/sub%d/file%04d.txt", i % 40, i % 3, i);
                lines = 5 + s % 60;
                for (l = 0; l < lines; l++) {
                    s = (s * 1103515245 + 12345) % 2147483648;
                    printf "line %d of file %d round %d value %d\n", l, i, round, s % 100000 > f;
                }
                close(f);
            }
        }'
    }
    for i in $(seq 0 39); do mkdir -p "dir$(printf %02d "$i")/sub0" "dir$(printf %02d "$i")/sub1" "dir$(printf %02d "$i")/sub2"; done
    local round
    for round in 0 1 2; do
        build_files "$round"
        if [ "$round" -ge 2 ]; then git rm -q -r -f "dir$(printf %02d "$round")" || return 1; fi
        git add -A || return 1
        export GIT_AUTHOR_DATE="2024-0$((round + 1))-01T12:00:00Z"
        export GIT_COMMITTER_DATE="$GIT_AUTHOR_DATE"
        git commit -q -m "round $round" || return 1
    done
    git rev-parse HEAD
    git log --format='%H %an %ad %s' --date=iso-strict --stat=100 | head -n 400
    git log --numstat --format=%H | md5sum
    git ls-tree -r HEAD | md5sum
    git diff --stat HEAD~2 HEAD | tail -n 3
    git grep -c "value 4242" HEAD | head -n 20
    git gc -q || return 1
    git count-objects -v | grep -E '^(count|packs|in-pack|garbage):'
    git fsck --full --strict
    git verify-pack -v .git/objects/pack/*.idx | awk '{print $1, $2, $3}' | sort | md5sum
    git blame -s dir05/sub2/file0005.txt | head -n 5
}

if need "git" git awk md5sum; then
    compare "git: 2000 files, 3 commits, log, gc, fsck, verify-pack" git_work
fi

# ---- gcc ----------------------------------------------------------------------------------------

# A large generated C file, made once at a fixed path (the path is recorded in the object).
mkdir -p "$WORK/gen"
awk 'BEGIN {
    print "#include <stdio.h>";
    print "#include <string.h>";
    for (i = 0; i < 1500; i++) {
        printf "static int f%d(int x, const char *s) {\n", i;
        printf "    int acc = %d;\n", i;
        printf "    for (int k = 0; k < x %% %d + 3; k++) {\n", i % 17 + 2;
        printf "        switch ((k + x) %% 5) {\n";
        for (c = 0; c < 5; c++) printf "        case %d: acc = acc * %d + (int)strlen(s) + k; break;\n", c, c + i % 7 + 2;
        printf "        }\n    }\n";
        if (i > 0) printf "    if (acc %% 3 == 0) acc ^= f%d(x / 2, s + 1);\n", i - 1 - (i % 5 == 0 && i > 10 ? 9 : 0);
        printf "    return acc;\n}\n";
    }
    print "int main(void) {";
    print "    long total = 0;";
    for (i = 0; i < 1500; i += 37) printf "    total += f%d(%d, \"quire-generated-%d\");\n", i, i % 23, i;
    print "    printf(\"generated total %ld\\n\", total);";
    print "    return 0;";
    print "}";
}' >"$WORK/gen/big.c"

gcc_work() {
    local d=$1 src=$REAL/prog.c big=$WORK/gen/big.c
    gcc -std=c11 -O2 -Wall -c "$src" -o "$d/prog.o" || return 1
    gcc -o "$d/prog" "$d/prog.o" || return 1
    gcc -std=c11 -O1 -c "$big" -o "$d/big.o" || return 1
    gcc -o "$d/big" "$d/big.o" || return 1
    gcc -std=c11 -O2 -S "$src" -o - | md5sum
    md5sum <"$d/prog.o"
    md5sum <"$d/big.o"
    md5sum <"$d/prog"
    "$d/prog" || return 1
    "$d/big" || return 1
}

if need "gcc" gcc md5sum; then
    export WORK
    compare "gcc: compile and link a C program and a 1500-function file" gcc_work
fi

# ---- perl ---------------------------------------------------------------------------------------

perl_work() {
    perl "$REAL/heavy.pl"
}

if need "perl" perl; then
    compare "perl: hashes, regexes, sorting" perl_work
fi

# ---- sort ---------------------------------------------------------------------------------------

awk 'BEGIN {
    s = 2024;
    for (i = 0; i < 2000000; i++) {
        s = (s * 1103515245 + 12345) % 2147483648;
        printf "%08x,%d,%s\n", s, s % 100000, substr("zyxwvutsrqponmlkjihgfedcba", 1 + s % 26, 1 + s % 9);
    }
}' >"$WORK/lines.txt"

sort_work() {
    local f=$WORK/lines.txt
    LC_ALL=C sort "$f" | md5sum
    LC_ALL=C sort -t, -k2,2n -k1,1 "$f" | md5sum
    LC_ALL=C sort -S 8M -T "$1" -r "$f" | md5sum
    # coreutils and mawk close stderr at exit, which leaves quire's summary nowhere to go; perl
    # does not, so its run shows that the preload took effect
    perl -F, -lane '$n{$F[2]}++; END { print "$. ", scalar(keys %n) }' "$f"
}

if need "sort" sort md5sum perl; then
    compare "sort: 2M lines, three orders (one through temporary files)" sort_work
fi

# ---- C++ with threads ---------------------------------------------------------------------------

cxx_work() {
    "$WORK/cxx_threads_plain"
}

cxx_linked() {
    "$BUILD_ABS/tests/preload/cxx_threads"
}

if need "g++" g++; then
    if g++ -std=c++17 -O2 -pthread -o "$WORK/cxx_threads_plain" "$ROOT/tests/preload/cxx_threads.cc" \
        2>"$WORK/cxx.err"; then
        compare "c++: threads with strings, maps, vectors (plain g++ build)" cxx_work
        if [ -x "$BUILD_ABS/tests/preload/cxx_threads" ]; then
            # The -lquire build runs on quire either way; its output must match the plain one.
            "$WORK/cxx_threads_plain" >"$WORK/cxx.plain" 2>&1
            "$BUILD_ABS/tests/preload/cxx_threads" >"$WORK/cxx.linked" 2>&1
            if cmp -s "$WORK/cxx.plain" "$WORK/cxx.linked"; then
                pass "c++: the -lquire build prints the same"
            else
                fail "c++: the -lquire build prints the same" "$(diff "$WORK/cxx.plain" "$WORK/cxx.linked" | head)"
            fi
        else
            fail "c++: the -lquire build" "$BUILD_ABS/tests/preload/cxx_threads missing (make test-build)"
        fi
    else
        fail "c++: build cxx_threads.cc with g++" "$(tail -n 5 "$WORK/cxx.err")"
    fi
fi

# ---- quire really serves a preloaded program ------------------------------------------------------

if [ -n "$PY" ]; then
    out=$(LD_PRELOAD="$LIB" QUIRE_STATS=1 "$PY" -c 'x = [bytes(1000) for _ in range(10000)]; print(len(x))' 2>"$WORK/stats.err")
    # The summary counts the interpreter's allocations: at least the 10000 bytes objects.
    allocs=$(sed -n 's/^ *allocs \([0-9]*\),.*/\1/p' "$WORK/stats.err" | head -n 1)
    if [ "$out" = 10000 ] && grep -q "$STATS_MARK" "$WORK/stats.err" && [ "${allocs:-0}" -ge 10000 ]; then
        pass "QUIRE_STATS=1 python3: the summary is printed at exit"
    else
        fail "QUIRE_STATS=1 python3: the summary is printed at exit" "stdout: $out" "$(head -n 5 "$WORK/stats.err")"
    fi
    out=$(LD_PRELOAD="$LIB" "$PY" -c 'print(1)' 2>"$WORK/nostats.err")
    if [ "$out" = 1 ] && [ ! -s "$WORK/nostats.err" ]; then
        pass "without QUIRE_STATS nothing is printed on stderr"
    else
        fail "without QUIRE_STATS nothing is printed on stderr" "$(head -n 5 "$WORK/nostats.err")"
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
