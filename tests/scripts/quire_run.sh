#!/usr/bin/env bash
# tests/scripts/quire_run.sh - `quire run`: the program runs with libquire.so first in LD_PRELOAD
# (before what was there), --stats and --verbose set their variables, the exit status and a
# killing signal are the program's own, a program that cannot be run gives 127 and a message,
# and a quire binary with no libquire.so beside it says so.
set -u
BUILD=${BUILD:-build}
Q="$BUILD/quire"
LIB=$(cd "$BUILD" && pwd)/libquire.so
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. tests/script_lib.sh

expect 0 "runs" -- env -u LD_PRELOAD "$Q" run -- sh -c 'echo "$LD_PRELOAD"'
[ "$(cat "$dir/out")" = "$LIB" ] && ok || bad "LD_PRELOAD is libquire.so: $(cat "$dir/out")"
expect 0 "keeps LD_PRELOAD" -- env LD_PRELOAD=/nonexistent/x.so "$Q" run -- sh -c 'echo "$LD_PRELOAD"'
[ "$(cat "$dir/out")" = "$LIB:/nonexistent/x.so" ] && ok || bad "LD_PRELOAD order: $(cat "$dir/out")"
expect 7 "exit status" -- "$Q" run -- sh -c 'exit 7'
expect 143 "killed by SIGTERM" -- sh -c "\"$Q\" run -- sh -c 'kill -TERM \$\$'; exit \$?"
expect 0 "--stats" -- "$Q" run --stats -- sh -c 'echo "$QUIRE_STATS"'
[ "$(cat "$dir/out")" = 1 ] && ok || bad "--stats sets QUIRE_STATS=1"
expect 0 "--stats ls" -- "$Q" run --stats -- ls /
grep -q 'quire: malloc statistics' "$dir/err" && ok || bad "--stats: statistics on stderr"
# a program that starts others: one report each, naming its program and pid
expect 0 "--stats sh -c 'ls; cat'" -- "$Q" run --stats -- sh -c 'ls / >/dev/null; echo x | cat >/dev/null'
grep -Eq '^quire: malloc statistics of ls \(pid [0-9]+, parent [0-9]+\)$' "$dir/err" && ok ||
    bad "--stats: a report names ls and its pid"
grep -Eq '^quire: malloc statistics of cat \(pid [0-9]+, parent [0-9]+\)$' "$dir/err" && ok ||
    bad "--stats: a report names cat and its pid"
[ "$(grep -o 'pid [0-9]*' "$dir/err" | sort -u | wc -l)" -ge 2 ] && ok || bad "--stats: one pid per report"
# a program that never allocates and closes stderr at exit (coreutils true) still gets its report
expect 0 "--stats true" -- "$Q" run --stats -- true
grep -q 'allocs 0, frees 0' "$dir/err" && ok || bad "--stats true: statistics on stderr"
expect 0 "--verbose" -- env -u QUIRE_VERBOSE "$Q" run --verbose -- sh -c 'echo "${QUIRE_VERBOSE-unset}"'
[ "$(cat "$dir/out")" = 1 ] && ok || bad "--verbose sets QUIRE_VERBOSE=1"
expect 0 "no flags" -- env -u QUIRE_STATS "$Q" run true
[ ! -s "$dir/err" ] && ok || bad "no statistics without --stats"
expect 127 "no such program" -- "$Q" run -- /nonexistent/program
grep -q 'quire run: /nonexistent/program: ' "$dir/err" && ok || bad "no such program: message"
expect 127 "not executable" -- "$Q" run -- "$dir/out"
expect 2 "usage" -- "$Q" run
expect 2 "unknown option" -- "$Q" run --bogus true
expect 0 "help" -- "$Q" run --help
# a copy of the binary with no libquire.so beside it
cp "$Q" "$dir/quire"
expect 127 "no library" -- "$dir/quire" run true
grep -q 'libquire.so not found' "$dir/err" && ok || bad "no library: message"
# the installed layout: bin/quire finds lib/libquire.so
mkdir -p "$dir/p/bin" "$dir/p/lib"
cp "$Q" "$dir/p/bin/quire"
cp "$LIB" "$dir/p/lib/libquire.so"
expect 0 "installed layout" -- env -u LD_PRELOAD "$dir/p/bin/quire" run -- sh -c 'echo "$LD_PRELOAD"'
grep -q "/p/bin/../lib/libquire.so$" "$dir/out" && ok || bad "installed layout: $(cat "$dir/out")"

finish
