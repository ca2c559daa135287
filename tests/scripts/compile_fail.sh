#!/usr/bin/env bash
# tests/scripts/compile_fail.sh - proves the typed pages API's safety at compile time.
#
# Every tests/compile_fail/fail_*.c misuses the API and must FAIL to compile, with all warnings
# disabled (-w: the misuse must be an error whatever the flags), and the compiler's message must
# match the file's "expect:" pattern, so a typo or a missing include cannot pass for a type
# error. ok_*.c files use the API correctly and must compile with -Wall -Wextra -Werror and link
# against the library. Each check runs with gcc, and with clang when it is installed.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
out="$BUILD/compile_fail"
mkdir -p "$out"
pass=0
fail=0
compilers="${CC:-cc}"
command -v clang >/dev/null 2>&1 && compilers="$compilers clang"

for cc in $compilers; do
    for f in tests/compile_fail/fail_*.c; do
        expect=$(sed -n 's|.*/\* expect: \(.*\) \*/.*|\1|p' "$f" | head -n 1)
        if [ -z "$expect" ]; then
            echo "FAIL $f: no 'expect:' pattern"
            fail=$((fail + 1))
            continue
        fi
        if msg=$($cc -std=c11 -w -Iinclude -c "$f" -o "$out/x.o" 2>&1); then
            echo "FAIL [$cc] $f compiled, but must not"
            fail=$((fail + 1))
        elif echo "$msg" | grep -Eq "$expect"; then
            echo "ok   [$cc] $f rejected: $(echo "$msg" | grep -E "$expect" | head -n 1 | cut -c1-110)"
            pass=$((pass + 1))
        else
            echo "FAIL [$cc] $f failed for another reason than /$expect/:"
            echo "$msg" | head -n 5
            fail=$((fail + 1))
        fi
    done
    for f in tests/compile_fail/ok_*.c; do
        if msg=$($cc -std=c11 -Wall -Wextra -Werror -Iinclude "$f" -o "$out/ok" "$BUILD/libquire-core.a" -pthread 2>&1); then
            echo "ok   [$cc] $f compiles"
            pass=$((pass + 1))
        else
            echo "FAIL [$cc] $f must compile:"
            echo "$msg" | head -n 10
            fail=$((fail + 1))
        fi
    done
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
