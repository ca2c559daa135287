# bench/pager.mk - `make bench-pager`: durable commit rates of quire's pager, LMDB and SQLite on
# one file system (PAGER_BENCH_DIR, default /tmp), and a 100,000-page bulk allocation against
# fallocate + fdatasync. The engines run interleaved PAGER_BENCH_ROUNDS times, PAGER_BENCH_SECS
# seconds each; the table shows median, min and max (the machine is shared: read the medians).
# `bench_pager --only ENGINE COUNT DIR` runs one engine for strace -c (syncs per commit).
# Installs liblmdb-dev / libsqlite3-dev with apt-get when their headers are missing.

PAGER_BENCH_DIR  ?= /tmp
PAGER_BENCH_SECS ?= 2
PAGER_BENCH_ROUNDS ?= 5

.PHONY: bench-pager

$(BUILD)/bench/pager/bench_pager: bench/pager/bench_pager.c bench/flush_count.h $(LIB_CORE)
	@test -f /usr/include/lmdb.h || apt-get install -y liblmdb-dev
	@test -f /usr/include/sqlite3.h || apt-get install -y libsqlite3-dev
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=c11 -O2 -g -Wall -Wextra -o $@ $< $(LIB_CORE) -llmdb -lsqlite3 -pthread

bench-pager: $(BUILD)/bench/pager/bench_pager
	$(BUILD)/bench/pager/bench_pager $(PAGER_BENCH_DIR) $(PAGER_BENCH_SECS) $(PAGER_BENCH_ROUNDS)
