#!/usr/bin/env bash
# tests/scripts/deps.sh - tools/deps.sh, which `make test` and `make run` call first:
#   - here (after make test installed what it needs) every package of `test` and `run` is found;
#   - a user who cannot install (not root) gets one line naming each missing package and the
#     apt-get command, exit status 1, or 0 with --warn; nothing is printed when nothing is missing;
#   - an unknown target is a usage error (2);
#   - the Makefile runs it before building for `make test` and `make run`, and DEPS=warn passes
#     --warn.
set -u
cd "$(dirname "$0")/../.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. tests/script_lib.sh
unset MAKEFLAGS MAKELEVEL MFLAGS # run by make test: the make -n below are top-level ones

expect 0 "deps test" -- sh tools/deps.sh test
[ ! -s "$dir/err" ] && ok || bad "deps test printed: $(cat "$dir/err")"
expect 0 "deps run" -- sh tools/deps.sh run
expect 2 "unknown target" -- sh tools/deps.sh frobnicate
grep -q "unknown target 'frobnicate'" "$dir/err" && ok || bad "unknown target: $(cat "$dir/err")"

# as an unprivileged user: nothing can be installed
cp tools/deps.sh "$dir/deps.sh"
chmod 755 "$dir"
chmod 644 "$dir/deps.sh"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH="$PATH" "$@"; }
if command -v setpriv >/dev/null 2>&1 && as_nobody true 2>/dev/null; then
    expect 1 "nobody, missing package" -- as_nobody sh "$dir/deps.sh" test quire-no-such-pkg sh
    [ "$(wc -l <"$dir/err")" -eq 1 ] &&
        grep -q "missing packages: quire-no-such-pkg - install them as root: apt-get install quire-no-such-pkg" "$dir/err" &&
        ok || bad "nobody: $(cat "$dir/err")"
    expect 0 "nobody, --warn" -- as_nobody sh "$dir/deps.sh" --warn test quire-no-such-pkg
    grep -q "quire-no-such-pkg" "$dir/err" && ok || bad "--warn names nothing"
    expect 0 "nobody, nothing missing" -- as_nobody sh "$dir/deps.sh" test sh
    [ ! -s "$dir/err" ] && ok || bad "nothing missing, yet: $(cat "$dir/err")"
else
    bad "setpriv cannot run a command as nobody here"
fi

# the Makefile's use of it
make --no-print-directory -n test 2>/dev/null | head -n 1 | grep -qx "sh tools/deps.sh  *test" && ok ||
    bad "make test does not start with tools/deps.sh test: $(make --no-print-directory -n test 2>/dev/null | head -n 1)"
make --no-print-directory -n run 2>/dev/null | head -n 1 | grep -qx "sh tools/deps.sh  *run" && ok || bad "make run: no deps"
make --no-print-directory -n test DEPS=warn 2>/dev/null | head -n 1 | grep -qx "sh tools/deps.sh --warn test" && ok ||
    bad "make test DEPS=warn: $(make --no-print-directory -n test DEPS=warn 2>/dev/null | head -n 1)"
finish
