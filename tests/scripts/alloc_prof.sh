#!/usr/bin/env bash
# tests/scripts/alloc_prof.sh - the sampled heap profile (prof=1) and the leak report (leaks=1).
#
# tests/scripts/real/prof_sites.c has known allocation sites: heavy_site() allocates ten times
# what light_site() does. Its profile, read by google-pprof (Debian's google-perftools, the
# tool pprof's legacy heap format was made for), must put heavy_site first, with its share of
# the bytes within sampling error of 10/11. The leak report must list the sites still holding
# memory at exit, largest first, with their exact byte and block counts, and nothing for the
# site that freed everything. A profile is also written on a signal (prof_signal) and on
# quire_alloc_prof_dump(); quire run --prof and --leaks set the variables.
set -u
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LIB="$(cd "$ROOT/$BUILD" && pwd)/libquire.so"
Q="$ROOT/$BUILD/quire"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$ROOT/tests/script_lib.sh"
cd "$dir" || exit 1

if ${CC:-cc} -O1 -g -rdynamic -o sites "$ROOT/tests/scripts/real/prof_sites.c"; then ok; else
    bad "prof_sites.c does not build"
    finish
    exit 1
fi
command -v google-pprof >/dev/null && ok || bad "google-pprof not installed (google-perftools)"

run() { env -u QUIRE_STATS LD_PRELOAD="$LIB" "$@"; }

# The profile at exit, read by google-pprof.
expect 0 "prof=1" -- run env QUIRE_OPTIONS="prof=1,prof_file=$dir/p.%p.heap" ./sites
prof=$(ls "$dir"/p.*.heap 2>/dev/null | head -n 1)
[ -n "$prof" ] && head -n 1 "$prof" | grep -q '^heap profile: .* @ heap_v2/524288$' && ok ||
    bad "no heap_v2 profile written at exit"
google-pprof --text ./sites "$prof" >"$dir/text" 2>"$dir/text.err"
first=$(grep -E '^ +[0-9.]+ +[0-9.]+%' "$dir/text" | head -n 1 | awk '{print $NF}')
[ "$first" = heavy_site ] && ok || { bad "the heaviest site first: got '$first'"; cat "$dir/text"; }
python3 - "$dir/text" <<'PY' && ok || bad "heavy_site's share is not 10/11 within sampling error"
import re, sys
mb = {}
for line in open(sys.argv[1]):
    m = re.match(r"\s*([\d.]+)\s+[\d.]+%\s+[\d.]+%\s+[\d.]+\s+[\d.]+%\s+(\S+)", line)
    if m: mb[m.group(2)] = float(m.group(1))
h, l = mb.get("heavy_site", 0), mb.get("light_site", 0)
share = h / (h + l) if h + l else 0
print("heavy_site %.1f MB, light_site %.1f MB, share %.3f (10/11 = 0.909)" % (h, l, share))
assert 0.80 <= share <= 0.98 and 60 <= h <= 105   # ~170 samples: 3 sigma ~ 0.07
PY

# On a signal, mid-run, and on a call.
expect 0 "prof_signal" -- run env QUIRE_OPTIONS="prof=1,prof_signal=12,prof_file=$dir/s.heap" \
    ./sites signal "$dir/s.heap"
grep -q 'profile after the signal: yes' "$dir/out" && ok || bad "no profile written on SIGUSR2"
expect 0 "prof dump" -- run env QUIRE_OPTIONS="prof=1,prof_file=$dir/end.heap" ./sites dump "$dir/d.heap"
grep -q 'dump: 0' "$dir/out" && head -n 1 "$dir/d.heap" | grep -q '^heap profile:' && ok ||
    bad "quire_alloc_prof_dump did not write the profile"
expect 0 "no prof: dump refused" -- run ./sites dump "$dir/none.heap"
grep -q 'dump: -1011' "$dir/out" && [ ! -e "$dir/none.heap" ] && ok || bad "dump without prof: $(cat "$dir/out")"

# The leak report.
expect 0 "leaks=1" -- run env QUIRE_LEAKS=1 ./sites
grep -q '^quire: leaks: ' "$dir/err" && ok || bad "no leak report"
python3 - "$dir/err" <<'PY' && ok || { bad "leak report: sites, sizes or order wrong"; cat "$dir/err"; }
import re, sys
text = open(sys.argv[1]).read()
sites = re.findall(r"^  (\d+) bytes in (\d+) blocks? allocated at\n    #0 0x[0-9a-f]+ (\w+)\+", text, re.M)
found = {name: (int(b), int(n)) for b, n, name in sites}
order = [name for _, _, name in sites]
assert found["heavy_site"] == (40000 * 2048, 40000), found
assert found["light_site"] == (4000 * 2048, 4000), found
assert found["leak_big"] == (10 * 10240, 10), found     # slot sizes
assert found["leak_small"] == (100 * 32, 100), found
assert "no_leak" not in found
assert order.index("heavy_site") < order.index("light_site") < order.index("leak_big") < order.index("leak_small")
PY

# quire run --prof, --leaks.
expect 0 "quire run --leaks" -- env -u QUIRE_STATS "$Q" run --leaks -- ./sites
grep -q '^quire: leaks: ' "$dir/err" && ok || bad "quire run --leaks: no report"
rm -f "$dir"/quire.*.heap
expect 0 "quire run --prof" -- env -u QUIRE_STATS "$Q" run --prof -- ./sites
ls "$dir"/quire.*.heap >/dev/null 2>&1 && ok || bad "quire run --prof: no quire.PID.heap"
finish
