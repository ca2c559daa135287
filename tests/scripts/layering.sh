#!/usr/bin/env bash
# tests/scripts/layering.sh - the layers include only what they may (README, Layout):
#   preload -> alloc -> pages, base;  pheap -> pager's public API, base;  pager -> pages, base;
#   base -> nothing but quire/error.h;  tools, bench, examples -> public headers (and their own).
# No source outside pager/ includes pager/internal.h (tests use pager/io.h, format.h and
# testing.h), and no heap source includes any pager/ header. One check per rule; a failure
# names the file and the include. Last, the names libquire-core.a defines carry their module's
# prefix (q_base_, q_os_/q_pages_/q_launch_, q_pager_, q_pheap_; the malloc engine's are its
# own), so the library does not export a flat namespace of short names.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
pass=0
fail=0

# The quoted includes of the sources under the given directories, as "file: header" lines.
includes() {
    find "$@" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cc' \) 2>/dev/null | sort |
        while read -r f; do
            sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" |
                while read -r h; do echo "$f: $h"; done
        done
}

# rule NAME DIRS... -- ALLOWED-REGEX: every quoted include of DIRS matches ALLOWED-REGEX.
rule() {
    local name=$1 dirs=() allowed
    shift
    while [ "$1" != -- ]; do
        dirs+=("$1")
        shift
    done
    allowed=$2
    local bad
    bad=$(includes "${dirs[@]}" | grep -Ev ": ($allowed)$")
    if [ -z "$bad" ]; then
        echo "ok   $name"
        pass=$((pass + 1))
    else
        echo "FAIL $name:"
        echo "$bad" | sed 's/^/       /'
        fail=$((fail + 1))
    fi
}

# Outside pager/, nothing includes pager/internal.h.
bad=$(includes . | grep -v '^\./pager/' | grep ': pager/internal\.h$')
if [ -z "$bad" ]; then
    echo "ok   no source outside pager/ includes pager/internal.h"
    pass=$((pass + 1))
else
    echo "FAIL pager/internal.h included outside pager/:"
    echo "$bad" | sed 's/^/       /'
    fail=$((fail + 1))
fi

rule "base/ depends on nothing (quire/error.h only)" base -- 'base/[a-z0-9_]+\.h|quire/error\.h'
rule "pages/ uses pages/, base/ and the public headers" pages -- \
    'pages/[a-z0-9_]+\.h|base/[a-z0-9_]+\.h|quire/[a-z]+\.h'
rule "alloc/ uses alloc/, pages/ and base/" alloc -- \
    'alloc/[a-z0-9_]+\.h|pages/prim\.h|base/[a-z0-9_]+\.h|quire/[a-z]+\.h'
rule "preload/ uses the malloc engine only" preload -- 'alloc/internal\.h|quire/[a-z]+\.h'
rule "pager/ uses pager/, pages/prim.h and base/" pager -- \
    'pager/[a-z0-9_]+\.h|pages/prim\.h|base/[a-z0-9_]+\.h|quire/(error|pager)\.h'
rule "pheap/ uses the pager's public header and base/ (no pager/ header)" pheap -- \
    'pheap/internal\.h|base/[a-z0-9_]+\.h|quire/(error|pager|pheap)\.h'
rule "tools/ use public headers only" tools -- 'quire/[a-z]+\.h|tools/[a-z_]+\.(h|def)|install_paths\.h'
rule "bench/ uses public headers only" bench -- 'quire/[a-z]+\.h|gbench_shim\.h|wl\.h|bench/flush_count\.h'
rule "examples/ use public headers only" examples -- 'quire/[a-z]+\.h'

lib="$BUILD/libquire-core.a"
if [ -f "$lib" ]; then
    engine=$(nm -g --defined-only "$BUILD"/obj/alloc/*.o 2>/dev/null | awk 'NF == 3 {print $3}')
    bad=$(nm -g --defined-only "$lib" 2>/dev/null | awk 'NF == 3 {print $3}' |
        grep -Ev '^(quire_|q_base_|q_os_|q_pages_|q_launch_|q_pager_|q_pheap_)' |
        grep -vxF "${engine:-no-engine-symbols}")
    if [ -z "$bad" ]; then
        echo "ok   internal names carry their module's prefix"
        pass=$((pass + 1))
    else
        echo "FAIL names without their module's prefix in $lib:"
        echo "$bad" | sed 's/^/       /'
        fail=$((fail + 1))
    fi
else
    echo "FAIL $lib is not built"
    fail=$((fail + 1))
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
