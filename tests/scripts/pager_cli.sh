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
printf 'not a pager file at all' >"$dir/junk"
expect 1 "check junk" -- "$Q" check "$dir/junk"
grep -q 'bad magic' "$dir/out" && ok || bad "junk: bad magic reported"
expect 1 "check missing" -- "$Q" check "$dir/nothing"
expect 2 "check usage" -- "$Q" check
# a torn superblock slot: still sound (the other slot is used), info shows it invalid
cp "$dir/a" "$dir/torn"
printf 'XXXXXXXXXXXXXXXX' | dd of="$dir/torn" bs=1 seek=600 conv=notrunc status=none
expect 0 "torn slot still sound" -- "$Q" check "$dir/torn"
"$Q" pager info "$dir/torn" | grep -q 'superblock 0: *INVALID' && ok || bad "info shows torn slot"
# both slots destroyed
printf 'XXXXXXXXXXXXXXXX' | dd of="$dir/torn" bs=1 seek=2648 conv=notrunc status=none
expect 1 "both slots bad" -- "$Q" check "$dir/torn"
# truncated file
head -c 3000 "$dir/a" >"$dir/short"
expect 1 "truncated" -- "$Q" check "$dir/short"
finish
