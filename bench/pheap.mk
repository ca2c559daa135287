# bench/pheap.mk - `make bench-pheap`: the persistent heap's alloc/free throughput inside one
# transaction against quire's malloc, and durable small transactions per second against
# libpmemobj on a regular file of one file system (PHEAP_BENCH_DIR, default /tmp); then
# snapshot readers beside a writer against LMDB (bench/pheap/bench_readers.c: lookups per second
# from 1 and 2 reader processes while a writer commits, and the writer's rate with and without
# readers). Installs libpmemobj-dev and liblmdb-dev with apt-get when a header is missing.

PHEAP_BENCH_DIR    ?= /tmp
PHEAP_BENCH_SECS   ?= 2
PHEAP_BENCH_ROUNDS ?= 3

.PHONY: bench-pheap

$(BUILD)/bench/pheap/bench_pheap: bench/pheap/bench_pheap.c bench/flush_count.h $(LIB_CORE)
	@test -f /usr/include/libpmemobj.h || apt-get install -y libpmemobj-dev
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=c11 -O2 -g -Wall -Wextra -o $@ $< $(LIB_CORE) -lpmemobj -pthread

$(BUILD)/bench/pheap/bench_readers: bench/pheap/bench_readers.c $(LIB_CORE)
	@test -f /usr/include/lmdb.h || apt-get install -y liblmdb-dev
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=c11 -O2 -g -Wall -Wextra -o $@ $< $(LIB_CORE) -llmdb -pthread

bench-pheap: $(BUILD)/bench/pheap/bench_pheap $(BUILD)/bench/pheap/bench_readers
	$(BUILD)/bench/pheap/bench_pheap $(PHEAP_BENCH_DIR) $(PHEAP_BENCH_SECS) $(PHEAP_BENCH_ROUNDS)
	$(BUILD)/bench/pheap/bench_readers $(PHEAP_BENCH_DIR) $(PHEAP_BENCH_SECS)
