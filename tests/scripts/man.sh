#!/usr/bin/env bash
# tests/scripts/man.sh - the man pages: quire(1) and one section-3 page per public header
# (include/quire/NAME.h -> man/quire_NAME.3) exist, render with groff without a single warning
# (-ww), and name what they document: every public function of the header (QUIRE_API
# functions, function-like macros and static inline functions whose names do not end in _)
# appears in its page, every QUIRE_E* code in quire_error(3), every command of `quire --help`
# in quire(1).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. tests/script_lib.sh

if ! command -v groff >/dev/null 2>&1; then
    bad "groff is not installed (Debian: groff-base)"
    finish
    exit 1
fi
render() { # render PAGE: no output on stderr, some text on stdout
    groff -man -ww -Tutf8 "$1" >"$dir/out" 2>"$dir/err"
    [ ! -s "$dir/err" ] && [ -s "$dir/out" ] && ok || bad "$1 renders with warnings: $(head -n 3 "$dir/err")"
}
public_names() { # the public names of a header
    {
        grep -oE 'QUIRE_(UNSAFE_)?API[^(]*\b(quire_[a-z0-9_]+)\(' "$1" | grep -oE 'quire_[a-z0-9_]+\($'
        grep -oE '^#define (quire_[a-z0-9_]+)\(' "$1" | grep -oE 'quire_[a-z0-9_]+\('
        grep -oE 'static inline [^(]*\b(quire_[a-z0-9_]+)\(' "$1" | grep -oE 'quire_[a-z0-9_]+\($'
    } | tr -d '(' | grep -v '_$' | sort -u
}

[ -f man/quire.1 ] && render man/quire.1 || bad "man/quire.1 missing"
for h in include/quire/*.h; do
    page="man/quire_$(basename "$h" .h).3"
    if [ ! -f "$page" ]; then
        bad "$h has no man page $page"
        continue
    fi
    render "$page"
    head -n 1 "$page" | grep -q "^\.TH QUIRE_$(basename "$h" .h | tr a-z A-Z) 3 " && ok ||
        bad "$page: .TH does not name it in section 3"
    grep -q "^\.B #include <quire/$(basename "$h")>" "$page" && ok || bad "$page: no #include line"
    sed 's/\\f[BIRP]//g' "$page" >"$dir/plain" # font changes glue words together
    n=0
    for name in $(public_names "$h"); do
        n=$((n + 1))
        grep -qw "$name" "$dir/plain" && ok || bad "$page does not mention $name ($h)"
    done
    [ "$n" -gt 0 ] && ok || bad "$h: no public names found (the test's patterns are broken)"
done
for f in man/*.3; do
    [ -f "include/quire/$(basename "$f" .3 | sed 's/^quire_//').h" ] || bad "$f documents no header"
done
for code in $(sed -n 's/^ *\(QUIRE_E[A-Z0-9_]*\) *= *-[0-9]*,.*/\1/p' include/quire/error.h); do
    grep -qw "$code" man/quire_error.3 && ok || bad "quire_error(3) does not list $code"
done
for c in $("$BUILD/quire" --help | sed -n '/^commands:/,/^$/p' | awk 'NF > 1 {print $1}'); do
    grep -q "^\.SS quire $c" man/quire.1 && ok || bad "quire(1) has no section for quire $c"
done
# man itself finds the pages by name once installed (MANPATH at a make install tree)
if command -v man >/dev/null 2>&1; then
    make -s BUILD="$BUILD" PREFIX="$dir/p" install >/dev/null 2>&1 || bad "make install for man"
    for page in quire quire_pager quire_alloc; do
        MANPATH="$dir/p/share/man" MANWIDTH=80 man "$page" 2>"$dir/err" | grep -q "^NAME" && ok ||
            bad "man $page does not find the installed page: $(cat "$dir/err")"
    done
fi
finish
