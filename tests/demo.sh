#!/usr/bin/env bash
# tests/demo.sh - what `make run` shows a newcomer: quire's malloc running a real program
# (python3 building and discarding large structures) with statistics at exit, then the same
# program on glibc for comparison of time and peak memory.
set -eu
BUILD=${1:-build}
cd "$(dirname "$0")/.."
echo "== quire $("$BUILD/quire" version | cut -d' ' -f2): $BUILD/libquire.so"
if ! nm -D --defined-only "$BUILD/libquire.so" | grep -qw malloc || ! "$BUILD/quire" help run >/dev/null 2>&1; then
    echo "The malloc engine is not built yet: libquire.so does not export malloc."
    "$BUILD/quire" --help
    exit 0
fi
py=$(command -v python3)
script='
import json, random
random.seed(7)
total = 0
for round in range(6):
    d = {("key%d" % i): [i, str(i) * 3, {"v": i}] for i in range(200000)}
    s = json.dumps(d)
    back = json.loads(s)
    total += len(back) + len(s)
    del d, s, back
    words = sorted("".join(random.choice("abcdefgh") for _ in range(12)) for _ in range(100000))
    total += len(set(words))
print("checksum", total)
'
run() {
    /usr/bin/time -f "   wall %es  user %Us  sys %Ss  peak RSS %M KiB" "$@"
}
echo "== python3 under quire (quire run --stats):"
run "$BUILD/quire" run --stats -- "$py" -c "$script"
echo "== the same program on glibc malloc:"
run "$py" -c "$script"
