#!/usr/bin/env bash
# tests/run.sh - runs test programs and scripts, sums their closing lines, prints the total.
#
# Each test prints "N passed, N failed" as its last such line. A test that exits non-zero, dies
# of a signal, times out or prints no closing line counts one extra failure. Output of a failing
# test is shown; output of a passing one is kept in $BUILD/test-logs/.
# A test written VAR=value[,VAR=value...]:path runs with those variables in its environment
# (e.g. QUIRE_SECURE=1:build/tests/preload/test_malloc_stress).
set -u
BUILD=${BUILD:-build}
TIMEOUT=${QUIRE_TEST_TIMEOUT:-900}
logs="$BUILD/test-logs"
mkdir -p "$logs"
total_pass=0
total_fail=0
for t in "$@"; do
    envs=()
    case "$t" in
    [A-Z]*=*:*)
        IFS=, read -r -a envs <<<"${t%%:*}"
        t=${t#*:}
        ;;
    esac
    name=$(basename "$t")
    log="$logs/$name.log"
    if [ ${#envs[@]} -gt 0 ]; then
        name="$name [${envs[*]}]"
        log="$logs/$(basename "$t").$(echo "${envs[*]}" | tr -c 'A-Za-z0-9=\n' _).log"
    fi
    start=$(date +%s)
    case "$t" in
    *.sh) env ${envs[@]+"${envs[@]}"} BUILD="$BUILD" timeout -k 10 "$TIMEOUT" bash "$t" >"$log" 2>&1 ;;
    *) env ${envs[@]+"${envs[@]}"} timeout -k 10 "$TIMEOUT" "$t" >"$log" 2>&1 ;;
    esac
    rc=$?
    secs=$(($(date +%s) - start))
    line=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    p=0
    f=0
    if [ -n "$line" ]; then
        p=$(echo "$line" | sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed.*/\2/')
        f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    fi
    if [ -z "$line" ] || [ "$rc" -ne 0 ]; then
        if [ "$f" -eq 0 ]; then f=1; fi
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    if [ "$f" -eq 0 ]; then
        printf '  ok    %-46s %5d passed  (%ds)\n' "$name" "$p" "$secs"
    else
        printf '  FAIL  %-46s %5d passed, %d failed, exit %d  (%ds)\n' "$name" "$p" "$f" "$rc" "$secs"
        sed 's/^/        | /' "$log" | tail -n 60
    fi
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
