#!/usr/bin/env bash
# tests/scripts/cli_help.sh - the CLI's help and usage errors, for every command `quire --help`
# lists: `quire help CMD`, `quire CMD --help` and `quire CMD -h` print the same usage on stdout
# with status 0; an unknown command, subcommand or option, a missing or an extra operand gives
# status 2 and one line on stderr naming the offending word; man/quire.1 describes every command.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
Q="$BUILD/quire"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. tests/script_lib.sh

expect 0 "quire --help" -- "$Q" --help
cmds=$(sed -n '/^commands:/,/^$/p' "$dir/out" | awk 'NF > 1 {print $1}')
[ "$(echo "$cmds" | wc -w)" -ge 5 ] && ok || bad "quire --help lists commands: $cmds"
for c in check help pager run version; do
    echo "$cmds" | grep -qx "$c" && ok || bad "quire --help does not list $c"
done
expect 0 "quire help" -- "$Q" help
cmp -s "$dir/out" <("$Q" --help) && ok || bad "quire help differs from quire --help"
expect 2 "quire alone" -- "$Q"
grep -q '^usage: quire COMMAND' "$dir/err" && ok || bad "quire alone: usage on stderr"

for c in $cmds; do
    expect 0 "quire help $c" -- "$Q" help "$c"
    cp "$dir/out" "$dir/help.$c"
    grep -q "^usage: quire $c" "$dir/help.$c" && ok || bad "quire help $c: no 'usage: quire $c'"
    [ ! -s "$dir/err" ] && ok || bad "quire help $c wrote on stderr"
    expect 0 "quire $c --help" -- "$Q" "$c" --help
    cmp -s "$dir/out" "$dir/help.$c" && ok || bad "quire $c --help differs from quire help $c"
    expect 0 "quire $c -h" -- "$Q" "$c" -h
    cmp -s "$dir/out" "$dir/help.$c" && ok || bad "quire $c -h differs from quire help $c"
    # an unknown option, named in one line on stderr
    expect 2 "quire $c --no-such-option" -- "$Q" "$c" --no-such-option
    [ "$(wc -l <"$dir/err")" -eq 1 ] && grep -q -- "unknown option '--no-such-option'" "$dir/err" &&
        ok || bad "quire $c --no-such-option: $(cat "$dir/err")"
    [ ! -s "$dir/out" ] && ok || bad "quire $c --no-such-option wrote on stdout"
    grep -Eq "^\.SS \"?quire $c( |\"|\$)" man/quire.1 && ok || bad "man/quire.1: no .SS quire $c"
done

# unknown commands, subcommands, operands
usage_error() { # usage_error WORD ARGS...: status 2, one stderr line naming WORD
    local word=$1
    shift
    expect 2 "quire $*" -- "$Q" "$@"
    [ "$(wc -l <"$dir/err")" -eq 1 ] && grep -qF -- "$word" "$dir/err" && ok ||
        bad "quire $*: stderr does not name '$word': $(cat "$dir/err")"
}
usage_error "unknown command 'frobnicate'" frobnicate
usage_error "unknown option '--frobnicate'" --frobnicate
usage_error "unknown command 'frobnicate'" help frobnicate
usage_error "unexpected argument 'extra'" help run extra
usage_error "unknown subcommand 'frobnicate'" pager frobnicate
usage_error "missing subcommand" pager
usage_error "unknown option '--bogus'" pager create "$dir/x" --bogus
usage_error "missing value of '--page-size'" pager create "$dir/x" --page-size
usage_error "missing FILE" pager create
usage_error "unexpected argument 'two'" pager create one two
usage_error "unknown option '--bogus'" pager info --bogus
usage_error "missing FILE" pager info
usage_error "missing FILE" check
usage_error "unexpected argument 'b'" check a b
usage_error "unknown option '-x'" check -x file
usage_error "missing PROGRAM" run
usage_error "missing PROGRAM" run --stats --
usage_error "unexpected argument 'extra'" version extra
[ ! -e "$dir/x" ] && ok || bad "a usage error created a file"
# `--` ends the options: a file named like an option
expect 4 "check -- -file" -- "$Q" check -- -no-such-file # 4: no such file
grep -q -- "-no-such-file" "$dir/out" "$dir/err" && ok || bad "check -- -file: file not named"
# the help of a subcommand's subcommand is the subcommand's
expect 0 "quire pager create --help" -- "$Q" pager create --help
cmp -s "$dir/out" "$dir/help.pager" && ok || bad "quire pager create --help"
finish
