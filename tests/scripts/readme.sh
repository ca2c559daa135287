#!/usr/bin/env bash
# tests/scripts/readme.sh - every example in README.md runs as written.
#
# The README's fenced blocks are of three kinds, and any other (a fence without a language
# included) fails this test, so that a new example cannot slip by unchecked:
#   ```c     a complete program: built in this tree (cc -std=c11 -Wall -Wextra -Werror -Iinclude
#            FILE build/libquire-core.a -pthread) and run in a directory of its own; it must
#            exit 0. `<!-- readme: file NAME -->` on the line before the fence also writes it
#            as NAME into the shell examples' directory, for them to compile.
#   ```sh    shell commands, run in document order by bash -e in one scratch directory that
#            holds a link to every top-level entry of this tree (build/, include/, tests/, the
#            Makefile...) and a HOME of its own (so `make install PREFIX=$HOME/.local` stays in
#            it); every command must succeed. `make test` is this test's own command: it is
#            checked with `make -n test` instead of being run again.
#   ```text  output and listings: not run.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build}
CC=${CC:-cc}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. tests/script_lib.sh
unset MAKEFLAGS MAKELEVEL MFLAGS # the README's make commands are top-level ones

# ---- split the README into blocks: $dir/blocks/N.{c,sh,text} and their file names -----------
mkdir -p "$dir/blocks" "$dir/sandbox/home"
awk -v out="$dir/blocks" '
    /^<!-- readme: file [^ ]+ -->$/ { name = $4; next }
    !inblock && /^```/ {
        lang = substr($0, 4); n++
        if (lang != "c" && lang != "sh" && lang != "text") { print "BADLANG " n " " (lang == "" ? "(none)" : lang) " line " NR }
        file = out "/" n "." lang; inblock = 1
        if (name != "") { print name > (out "/" n ".name"); close(out "/" n ".name") }
        printf "" > file; name = ""; next
    }
    inblock && /^```$/ { inblock = 0; close(file); next }
    inblock { print > file; next }
    { if ($0 !~ /^[ \t]*$/) name = "" }
    END { if (inblock) print "UNCLOSED " n }
' README.md >"$dir/split.log"
if [ -s "$dir/split.log" ]; then
    bad "README.md fences: $(cat "$dir/split.log") (examples are \`\`\`c or \`\`\`sh, output \`\`\`text)"
fi
nc=$(find "$dir/blocks" -name '*.c' | wc -l)
nsh=$(find "$dir/blocks" -name '*.sh' | wc -l)
[ "$nc" -ge 4 ] && [ "$nsh" -ge 5 ] && ok || bad "only $nc C and $nsh shell examples found"

# ---- the sandbox: the tree's top-level entries as links, scratch files its own --------------
for e in "$ROOT"/* "$ROOT"/.clang-format; do
    [ -e "$e" ] || continue
    ln -s "$e" "$dir/sandbox/$(basename "$e")"
done
if [ "$BUILD" != build ]; then
    rm -f "$dir/sandbox/build"
    ln -s "$(cd "$BUILD" && pwd)" "$dir/sandbox/build"
fi
for n in "$dir"/blocks/*.name; do
    [ -e "$n" ] || continue
    cp "${n%.name}.c" "$dir/sandbox/$(cat "$n")"
done

# ---- C examples --------------------------------------------------------------------------
total=$(find "$dir/blocks" -name '*.c' -o -name '*.sh' -o -name '*.text' | wc -l)
for n in $(seq 1 "$total"); do
    f="$dir/blocks/$n.c"
    [ -f "$f" ] || continue
    mkdir -p "$dir/c$n"
    if $CC -std=c11 -Wall -Wextra -Werror -Iinclude "$f" "$BUILD/libquire-core.a" -pthread \
        -o "$dir/c$n/example" 2>"$dir/err"; then
        if (cd "$dir/c$n" && ./example) >"$dir/out" 2>&1; then ok; else
            bad "README C example #$n exits $?: $(head -n 5 "$dir/out")"
        fi
    else
        bad "README C example #$n does not build: $(head -n 5 "$dir/err")"
    fi
done

# ---- shell examples, in order, in the sandbox -------------------------------------------
for n in $(seq 1 "$total"); do
    f="$dir/blocks/$n.sh"
    [ -f "$f" ] || continue
    {
        echo 'make() { if [ "$*" = test ]; then command make -n test >/dev/null; else command make "$@"; fi; }'
        echo 'set -e'
        cat "$f"
    } >"$dir/run.sh"
    if (cd "$dir/sandbox" && HOME="$dir/sandbox/home" timeout 600 bash "$dir/run.sh") \
        >"$dir/out" 2>&1; then
        ok
    else
        bad "README shell example #$n failed ($(head -n 1 "$f")...):"
        tail -n 15 "$dir/out"
    fi
done
finish
