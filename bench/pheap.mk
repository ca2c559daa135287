# bench/pheap.mk - `make bench-pheap`: the persistent heap's alloc/free throughput inside one
# transaction against quire's malloc, and durable small transactions per second against
# libpmemobj on a regular file of one file system (PHEAP_BENCH_DIR, default /tmp).
# Installs libpmemobj-dev with apt-get when its header is missing.

PHEAP_BENCH_DIR    ?= /tmp
PHEAP_BENCH_SECS   ?= 2
PHEAP_BENCH_ROUNDS ?= 3

.PHONY: bench-pheap

$(BUILD)/bench/pheap/bench_pheap: bench/pheap/bench_pheap.c $(LIB_CORE)
	@test -f /usr/include/libpmemobj.h || apt-get install -y libpmemobj-dev
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=c11 -O2 -g -Wall -Wextra -o $@ $< $(LIB_CORE) -lpmemobj -pthread

bench-pheap: $(BUILD)/bench/pheap/bench_pheap
	$(BUILD)/bench/pheap/bench_pheap $(PHEAP_BENCH_DIR) $(PHEAP_BENCH_SECS) $(PHEAP_BENCH_ROUNDS)
