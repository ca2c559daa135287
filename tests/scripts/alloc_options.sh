#!/usr/bin/env bash
# tests/scripts/alloc_options.sh - the malloc engine's options from the environment: QUIRE_OPTIONS
# and the single QUIRE_* variables, booleans in every spelling, a report of every unknown option,
# bad value or misspelt variable (naming it and what was probably meant), the verbose banner,
# the statistics as JSON (parsed by python3's json module) and in a file per process
# (stats_file with %p and %n), and malloc_info's XML (parsed by python3's xml module).
set -u
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LIB="$(cd "$ROOT/$BUILD" && pwd)/libquire.so"
EXT="$ROOT/$BUILD/tests/preload/test_alloc_ext"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$ROOT/tests/script_lib.sh"

run() { env -u QUIRE_STATS -u QUIRE_VERBOSE LD_PRELOAD="$LIB" "$@"; }
has() { grep -qF -- "$2" "$dir/$1" && ok || { bad "$3: '$2' not in $1"; cat "$dir/$1"; }; }
lacks() { ! grep -qF -- "$2" "$dir/$1" && ok || { bad "$3: '$2' in $1"; cat "$dir/$1"; }; }

# Booleans in every spelling, through QUIRE_OPTIONS and through QUIRE_STATS.
for v in 1 yes true on YES; do
    expect 0 "stats=$v" -- run env QUIRE_OPTIONS="stats=$v" ls /
    has err "quire: malloc statistics of ls" "QUIRE_OPTIONS=stats=$v"
    expect 0 "QUIRE_STATS=$v" -- run env QUIRE_STATS="$v" ls /
    has err "quire: malloc statistics of ls" "QUIRE_STATS=$v"
done
for v in 0 no false off; do
    expect 0 "stats=$v" -- run env QUIRE_OPTIONS="stats=$v" ls /
    [ ! -s "$dir/err" ] && ok || bad "stats=$v printed: $(cat "$dir/err")"
done
# The single variable overrides QUIRE_OPTIONS.
expect 0 "override" -- run env QUIRE_OPTIONS="stats=1" QUIRE_STATS=0 ls /
[ ! -s "$dir/err" ] && ok || bad "QUIRE_STATS=0 did not override stats=1"

# Nothing wrong is ignored without a word.
expect 0 "unknown option" -- run env QUIRE_OPTIONS="stat=1" true
has err 'quire: QUIRE_OPTIONS: unknown option "stat" (did you mean "stats"?): ignored' "unknown option"
expect 0 "far unknown option" -- run env QUIRE_OPTIONS="colour=blue" true
has err 'unknown option "colour": ignored' "unknown option without a near name"
expect 0 "bad value" -- run env QUIRE_PURGE=bogus true
has err 'quire: QUIRE_PURGE: bad value "bogus" for purge (dontneed or free): default kept' "bad value"
expect 0 "bad integer" -- run env QUIRE_OPTIONS="purge_delay_ms=soon" true
has err 'bad value "soon" for purge_delay_ms (an integer)' "bad integer"
expect 0 "bad size" -- run env QUIRE_OPTIONS="prof_interval=12Q" true
has err 'bad value "12Q" for prof_interval' "bad size"
expect 0 "misspelt variable" -- run env QUIRE_STAT=1 true
has err 'quire: unknown variable QUIRE_STAT (did you mean QUIRE_STATS?): ignored' "misspelt variable"
expect 0 "misspelt, case" -- run env QUIRE_Verbose=1 true
has err 'unknown variable QUIRE_Verbose (did you mean QUIRE_VERBOSE?)' "misspelt variable (case)"
expect 0 "other QUIRE_ variable" -- run env QUIRE_TEST_THING=1 true
lacks err 'unknown variable' "a far QUIRE_ variable is not the engine's"
expect 0 "reported once" -- run env QUIRE_OPTIONS="stat=1,verbose=1" "$EXT" --threads 2
[ "$(grep -c 'unknown option "stat"' "$dir/err")" = 1 ] && ok || bad "reported more than once"
expect 0 "the default stays" -- run env QUIRE_OPTIONS="purge=bogus,verbose=1" true
has err "purge=dontneed" "banner shows the default after a bad value"

# verbose=1: one banner line with the version and every option.
expect 0 "banner" -- run env QUIRE_OPTIONS="verbose=1,purge_delay_ms=50" true
has err "quire 0." "banner: version"
has err "purge_delay_ms=50" "banner: options in effect"
[ "$(grep -c '^quire [0-9.]*: options' "$dir/err")" = 1 ] && ok || bad "banner: one line"

# JSON statistics, parsed.
expect 0 "stats=json" -- run env QUIRE_OPTIONS="stats=json" ls /
python3 - "$dir/err" <<'PY' && ok || bad "stats=json: not the expected JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["program"] == "ls" and d["pid"] > 0 and d["allocs"] >= d["frees"] >= 0
assert d["live_blocks"] == d["allocs"] - d["frees"]
assert d["classes"] and all(c["size"] > 0 and c["allocs"] >= 0 for c in d["classes"])
assert sum(c["allocs"] for c in d["classes"]) + d["large_allocs"] == d["allocs"]
assert len(d["thread_heaps"]) >= 1 and d["thread_heaps"][0]["tid"] > 0
PY

# One file per process: a shell that runs two programs.
expect 0 "stats_file" -- run env QUIRE_OPTIONS="stats=json,stats_file=$dir/st.%n.%p.json" \
    sh -c 'ls / >/dev/null; cat /dev/null'
python3 - "$dir" <<'PY' && ok || bad "stats_file: not one named JSON file per process"
import glob, json, os, sys
files = glob.glob(os.path.join(sys.argv[1], "st.*.json"))
progs = {}
for f in files:
    d = json.load(open(f))
    name = os.path.basename(f)
    assert name == "st.%s.%d.json" % (d["program"], d["pid"]), name
    progs[d["program"]] = d["pid"]
assert "ls" in progs and "cat" in progs, progs
PY
expect 0 "stats_file unwritable" -- run env QUIRE_OPTIONS="stats=1,stats_file=/nonexistent/dir/x" true
has err "quire: stats_file: cannot write /nonexistent/dir/x; the report follows here" "unwritable stats_file"
has err "quire: malloc statistics of true" "report falls back to stderr"

# Per-thread lines in the report.
expect 0 "threads" -- run "$EXT" --threads 3
[ "$(grep -c '^  thread [0-9]*: allocs' "$dir/err")" -ge 4 ] && ok || bad "report: a line per thread"

# malloc_info's XML, parsed.
expect 0 "malloc_info" -- run "$EXT" --xml "$dir/info.xml"
python3 - "$dir/info.xml" <<'PY' && ok || bad "malloc_info: not the expected XML"
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
assert r.tag == "malloc" and r.get("version") == "1"
sizes = r.find("heap").find("sizes").findall("size")
assert sizes and all(int(s.get("from")) <= int(s.get("to")) and int(s.get("count")) > 0 for s in sizes)
assert {t.get("type") for t in r.findall("total")} == {"fast", "rest", "mmap"}
assert int(r.find("system").get("size")) > 0
PY
finish
