#!/usr/bin/env bash
# tests/scripts/format.sh - the C sources follow .clang-format (`make format` fixes them).
set -u
cd "$(dirname "$0")/../.."
if ! command -v clang-format >/dev/null 2>&1; then
    echo "FAIL clang-format is not installed"
    echo "0 passed, 1 failed"
    exit 1
fi
files=$(make -s -f - print-format-src <<'MK'
include Makefile
print-format-src:
	@echo $(FORMAT_SRC)
MK
)
pass=0
fail=0
for f in $files; do
    if clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        pass=$((pass + 1))
    else
        echo "FAIL $f is not formatted (run: make format)"
        fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
