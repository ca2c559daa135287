# tests/script_lib.sh - shared by the shell tests in tests/scripts/ (sourced, not a test itself:
# the runner runs tests/scripts/*.sh). The sourcing script sets $dir (a scratch directory) first.
#   ok / bad MESSAGE      count a check that held / failed (bad prints "FAIL: MESSAGE")
#   expect STATUS WHAT -- COMMAND...
#                         runs COMMAND, counts whether it exited with STATUS; its stdout goes to
#                         $dir/out and its stderr to $dir/err, or both to $dir/out when
#                         EXPECT_MERGE=1; on a failure both are printed
#   finish                prints the closing "N passed, N failed" line; fails if any check did
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}
expect() {
    local want=$1 what=$2 got
    shift 3
    if [ "${EXPECT_MERGE:-0}" = 1 ]; then
        "$@" >"$dir/out" 2>&1
        got=$?
    else
        "$@" >"$dir/out" 2>"$dir/err"
        got=$?
    fi
    if [ "$got" -eq "$want" ]; then
        ok
    else
        bad "$what: exit $got, wanted $want"
        cat "$dir/out"
        [ "${EXPECT_MERGE:-0}" = 1 ] || cat "$dir/err"
    fi
}
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
