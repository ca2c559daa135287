#!/usr/bin/env bash
# tests/scripts/pager_cli.sh - `quire pager create|info` and `quire check` on good and bad files:
# exit statuses, the fields info prints, a corrupted protected page found by check.
set -u
BUILD=${BUILD:-build}
Q="$BUILD/quire"
dir=$(mktemp -d /dev/shm/quire-pager-cli.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$dir"' EXIT
EXPECT_MERGE=1 # the greps below look at what the CLI printed on either stream
. tests/script_lib.sh

expect 0 "create" -- "$Q" pager create "$dir/a" --page-size 2048
expect 1 "create existing" -- "$Q" pager create "$dir/a"
expect 1 "bad page size" -- "$Q" pager create "$dir/b" --page-size 3000
[ ! -e "$dir/b" ] && ok || bad "a failed create leaves no file"
ls -a "$dir" | grep -q 'quire-new' && bad "a create leaves a temporary file" || ok
expect 2 "usage" -- "$Q" pager
expect 0 "info" -- "$Q" pager info "$dir/a"
grep -q 'page size: *2048' "$dir/out" && ok || bad "info page size"
grep -q 'superblock 0: *valid' "$dir/out" && ok || bad "info slot 0"
grep -q 'superblock 1: *valid' "$dir/out" && ok || bad "info slot 1"
grep -q 'generation: *2' "$dir/out" && ok || bad "info generation"
expect 0 "check sound" -- "$Q" check "$dir/a"
grep -q 'sound' "$dir/out" && ok || bad "check says sound"
expect 0 "default page size" -- "$Q" pager create "$dir/c"
"$Q" pager info "$dir/c" | grep -q 'page size: *4096' && ok || bad "default page size 4096"
# every outcome of check: its own message and exit status (listed in --help)
"$Q" check --help | grep -q '^  6  not a quire file' && ok || bad "check --help lists the statuses"
printf 'not a pager file at all' >"$dir/junk"
expect 6 "check junk" -- "$Q" check "$dir/junk"
grep -q 'not a quire file' "$dir/out" && ok || bad "junk: not a quire file"
grep -q 'NOT sound' "$dir/out" && bad "junk: reported as damage" || ok
expect 4 "check missing" -- "$Q" check "$dir/nothing"
grep -qx "$dir/nothing: no such file" "$dir/out" && ok || bad "missing: one line, no such file"
expect 1 "info missing" -- "$Q" pager info "$dir/nothing"
[ "$(wc -l <"$dir/out")" -eq 1 ] && grep -q 'No such file\|no such file' "$dir/out" && ok ||
    bad "info on a missing file prints the error alone"
if command -v flock >/dev/null; then
    # a foreign flock is no quire writer (a writer holds a byte of FILE-lock too): check reads
    # the file as a reader, beside the lock (checks beside a live writer: pheap_example.sh)
    flock -x "$dir/c" sleep 3 &
    holder=$!
    sleep 0.3
    expect 0 "check beside a flock" -- "$Q" check "$dir/c"
    grep -q 'in use by a writer' "$dir/out" && bad "flock: taken for a writer" || ok
    kill "$holder" 2>/dev/null
    wait "$holder" 2>/dev/null
fi
[ -e "$dir/c-lock" ] && ok || bad "a reader leaves the lock file FILE-lock beside FILE"
grep -q '^readers: *1 ' <("$Q" pager info "$dir/c") && ok || bad "info: readers (itself)"
expect 2 "check usage" -- "$Q" check
# a torn superblock slot: sound, with a warning (exit 3); info shows it invalid
cp "$dir/a" "$dir/torn"
printf 'XXXXXXXXXXXXXXXX' | dd of="$dir/torn" bs=1 seek=600 conv=notrunc status=none
expect 3 "torn slot: a warning" -- "$Q" check "$dir/torn"
grep -q 'warning: superblock slot 0 does not validate' "$dir/out" && ok || bad "torn slot named"
"$Q" pager info "$dir/torn" | grep -q 'superblock 0: *INVALID' && ok || bad "info shows torn slot"
# both slots destroyed (slot 1 starts the second 4 KiB block)
printf 'XXXXXXXXXXXXXXXX' | dd of="$dir/torn" bs=1 seek=4696 conv=notrunc status=none
expect 1 "both slots bad" -- "$Q" check "$dir/torn"
# the newest commit's metadata damaged (free-map leaf 0's second copy, page 3 with 2 KiB
# pages): open rolls back to the commit before, and check says so (exit 3), not sound silently
cp "$dir/a" "$dir/rolled"
printf 'XXXXXXXXXXXXXXXX' | dd of="$dir/rolled" bs=1 seek=$((3 * 2048 + 100)) conv=notrunc status=none
expect 3 "rolled back: a warning" -- "$Q" check "$dir/rolled"
grep -q 'warning: the newest commit (superblock slot 1, generation 2) does not validate' \
    "$dir/out" && grep -q 'rolled back to generation 1' "$dir/out" && ok ||
    bad "rollback reported"
"$Q" pager info "$dir/rolled" | grep -q 'superblock 1: *ROLLED BACK' && ok || bad "info: rolled back"
# truncated file
head -c 3000 "$dir/a" >"$dir/short"
expect 1 "truncated" -- "$Q" check "$dir/short"
finish
