#!/bin/sh
# bench/deps.sh [package ...] - install what the benchmarks need, when it is missing.
#
# Default list (tools/deps.sh bench): the allocators to compare (jemalloc, mimalloc, tcmalloc),
# Google Benchmark, gnuplot for the chart, and the three real programs the runner drives (sqlite3,
# python3, lua5.4); packages named on the command line replace it. Only root can install; anyone else
# gets the list of what is missing, and the runner skips what is absent (hence --warn).
exec sh "$(dirname "$0")/../tools/deps.sh" --warn bench "$@"
