#!/usr/bin/env bash
# tests/scripts/pheap_example.sh - the README's persistent-heap example (examples/pheap_kv.c):
# builds it, runs a fill of one commit per key, kill -9s it at random instants, restarts it, and
# after every kill checks that the map is exactly a prefix k0..k<count-1> (no lost commit, no
# half-written entry) and that `quire check` finds the heap sound; checks a heap while the
# example fills it (as a reader). Ends with "N passed, N failed".
set -u
BUILD=${BUILD:-build}
CC=${CC:-cc}
Q="$BUILD/quire"
dir=$(mktemp -d /dev/shm/quire-pheap-ex.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$dir"' EXIT
. tests/script_lib.sh

kv="$dir/pheap_kv"
if $CC -std=c11 -O2 -Iinclude -o "$kv" examples/pheap_kv.c "$BUILD/libquire-core.a" -pthread; then
    ok
else
    bad "the example does not build"
    finish
    exit 1
fi
f="$dir/kv.heap"
"$kv" "$f" put hello world && ok || bad "put"
[ "$("$kv" "$f" get hello)" = world ] && ok || bad "get after restart"
"$kv" "$f" put hello again && ok || bad "put again"
[ "$("$kv" "$f" get hello)" = again ] && ok || bad "replaced value"
"$kv" "$f" get nothing >/dev/null && bad "missing key found" || ok

g="$dir/fill.heap" # k0.. k<count-1>: the count is the map's number of keys
kills=0
last=0
for round in $(seq 1 12); do
    "$kv" "$g" fill 200000 &
    pid=$!
    sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
    kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
    wait "$pid" 2>/dev/null
    out=$("$kv" "$g" verify)
    st=$?
    [ "$st" -eq 0 ] && ok || bad "round $round: $out"
    n=$(printf '%s\n' "$out" | tail -n 1)
    n=${n%% *}
    [ "$n" -ge "$last" ] && ok || bad "round $round: count went back from $last to $n"
    last=$n
    "$Q" check "$g" >"$dir/check" 2>&1 && ok || { bad "round $round: quire check"; cat "$dir/check"; }
    grep -q "sound heap" "$dir/check" && ok || bad "round $round: check did not see a heap"
done
[ "$last" -gt 0 ] && ok || bad "no key was ever committed"

# quire check and quire pager info on a heap a writer is filling: checked as a reader (the
# snapshot of its latest commit), sound, while the writer goes on committing
l="$dir/live.heap"
"$kv" "$l" put first key && ok || bad "live: put"
"$kv" "$l" fill 2000000 &
pid=$!
sleep 0.3
for round in 1 2 3; do
    "$Q" check "$l" >"$dir/check" 2>&1 && ok || { bad "live round $round: quire check"; cat "$dir/check"; }
    grep -q "sound heap" "$dir/check" && ok || bad "live round $round: not a sound heap"
    grep -q "in use by a writer" "$dir/check" && ok || bad "live round $round: writer not seen"
    "$Q" pager info "$l" >"$dir/info" 2>&1 && ok || { bad "live round $round: pager info"; cat "$dir/info"; }
    grep -q "^writer: *open" "$dir/info" && ok || bad "live round $round: info: writer not seen"
    grep -q "^readers: *[1-9]" "$dir/info" && ok || bad "live round $round: info: readers"
    grep -q "^held pages: *[0-9]" "$dir/info" && ok || bad "live round $round: info: held pages"
    sleep 0.1
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
"$Q" check "$l" >"$dir/check" 2>&1 && ok || bad "live: check after the writer's end"
grep -q "in use by a writer" "$dir/check" && bad "live: a killed writer still seen" || ok
[ "$("$kv" "$f" get hello)" = again ] && ok || bad "first key survived the kills"
echo "pheap example: kills: $kills, keys committed: $last"
finish
