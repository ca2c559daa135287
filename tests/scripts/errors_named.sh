#!/usr/bin/env bash
# tests/scripts/errors_named.sh - every QUIRE_E* code in include/quire/error.h has its own name
# in quire_strerror(), and no two codes share a number. Generated from the header, so a code
# added later without a name fails here.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
out="$BUILD/errors_named"
mkdir -p "$out"
codes=$(sed -n 's/^ *\(QUIRE_E[A-Z0-9_]*\) *= *-\([0-9]*\),.*/\1 \2/p' include/quire/error.h)
pass=0
fail=0
dups=$(echo "$codes" | awk '{print $2}' | sort | uniq -d)
if [ -n "$dups" ]; then
    echo "FAIL duplicate error numbers: $dups"
    fail=$((fail + 1))
else
    pass=$((pass + 1))
fi
{
    echo '#include <stdio.h>'
    echo '#include <string.h>'
    echo '#include "quire/error.h"'
    echo 'int main(void) { int bad = 0, n = 0;'
    for c in $(echo "$codes" | awk '{print $1}'); do
        echo "  n++; if (!strcmp(quire_strerror($c), \"unknown quire error\")) { printf(\"FAIL $c has no name\\n\"); bad++; }"
    done
    echo '  if (strcmp(quire_strerror(0), "success") || strcmp(quire_strerror(-1), "unknown quire error")) { printf("FAIL 0 or unknown\n"); bad++; }'
    echo '  printf("%d named, %d unnamed\n", n - bad, bad); return bad != 0; }'
} >"$out/errors.c"
if ${CC:-cc} -std=c11 -Iinclude "$out/errors.c" "$BUILD/libquire-core.a" -pthread -o "$out/errors" &&
    "$out/errors"; then
    pass=$((pass + 1))
else
    fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
