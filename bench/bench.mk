# bench/bench.mk - benchmark targets (included by the top Makefile).
#
#   make bench            install what is missing (as root), build, run the full comparison,
#                         quiet, then loaded (as many competing busy processes as cores beside
#                         each run: bench/run --load auto); results in bench/results/ and the
#                         README's bench section; then the
#                         pager, persistent-heap and companion benchmarks (bench-pager,
#                         bench-pheap, bench-companion), their tables in bench/results/*.txt
#   make bench-quick      the same, short (a few minutes), quiet and loaded; results in
#                         $(BUILD)/bench/results
#   make bench-callgrind  instructions per malloc/free pair under valgrind, per allocator
#   make bench-build      build the workloads and the micro-benchmarks only
#   BENCH_ARGS="..."      extra options for bench/run (e.g. --only larson,frag --reps 3;
#                         --load 0: no loaded runs; --loaded-only: only them)
#
# The benchmark programs call the system malloc family and never link quire: bench/run swaps the
# allocator with LD_PRELOAD. They are built with -O2 and without sanitizers, whatever OPT and SAN
# say, so they use their own flags rather than CFLAGS.

BENCH_DIR      := $(BUILD)/bench
BENCH_CFLAGS   := -std=c11 -O2 -g -Wall -Wextra -Werror -pthread -D_GNU_SOURCE
BENCH_CXXFLAGS := -std=c++17 -O2 -g -Wall -Wextra -Werror -pthread
BENCH_WL       := larson sh6bench xmalloc_test cache_thrash cache_scratch rptest mleak \
                  glibc_simple glibc_thread alloc_test mstress frag realloc_heavy pairloop
# C++ workloads, as their originals: larson_sized is larson.c built as C++ (new[] and sized
# delete[]), malloc_large is malloc_large.cc
BENCH_WL_CXX   := larson_sized malloc_large
BENCH_WL_ONLY  := $(addprefix $(BENCH_DIR)/,$(BENCH_WL))
BENCH_WL_BIN   := $(BENCH_WL_ONLY) $(addprefix $(BENCH_DIR)/,$(BENCH_WL_CXX)) \
                  $(BENCH_DIR)/timeit $(BENCH_DIR)/busy
BENCH_MICRO    := $(BENCH_DIR)/micro
BENCH_HAVE_GB  := $(wildcard /usr/include/benchmark/benchmark.h)
BENCH_PY       := python3

.PHONY: bench bench-quick bench-callgrind bench-deps bench-build bench-workloads

bench-deps:
	@sh bench/deps.sh

bench-workloads: $(BENCH_WL_BIN)

bench-build: $(BENCH_WL_BIN) $(if $(BENCH_HAVE_GB),$(BENCH_MICRO))

$(BENCH_WL_ONLY): $(BENCH_DIR)/%: bench/workloads/%.c bench/workloads/wl.h
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $< -lm

$(BENCH_DIR)/larson_sized: bench/workloads/larson.c bench/workloads/wl.h
	@mkdir -p $(dir $@)
	$(CXX) $(BENCH_CXXFLAGS) -x c++ -o $@ $< -lm

$(BENCH_DIR)/malloc_large: bench/workloads/malloc_large.cc bench/workloads/wl.h
	@mkdir -p $(dir $@)
	$(CXX) $(BENCH_CXXFLAGS) -o $@ $< -lm

$(BENCH_DIR)/timeit: bench/timeit.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

# the competing CPU-bound process of the loaded mode (bench/run --load)
$(BENCH_DIR)/busy: bench/busy.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

$(BENCH_DIR)/obj/micro.o: bench/micro.c bench/gbench_shim.h
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_CFLAGS) -c $< -o $@

$(BENCH_DIR)/obj/gbench_shim.o: bench/gbench_shim.cc bench/gbench_shim.h
	@mkdir -p $(dir $@)
	$(CXX) $(BENCH_CXXFLAGS) -c $< -o $@

$(BENCH_MICRO): $(BENCH_DIR)/obj/micro.o $(BENCH_DIR)/obj/gbench_shim.o
	$(CXX) -o $@ $^ -lbenchmark -lpthread

# Build the benchmarks (in a sub-make, so that what bench-deps just installed is seen) and
# libquire.so; when the library does not build, run without quire rather than with a stale one.
define bench_prepare
	@$(MAKE) --no-print-directory bench-build
	@if $(MAKE) --no-print-directory $(LIB_SO); then :; else \
	    echo "bench: warning: $(LIB_SO) did not build - quire is left out" >&2; \
	    touch $(BENCH_DIR)/.no-quire; fi
endef

# The capture loop names make through this variable, not $(MAKE) itself: a recipe line that
# mentions $(MAKE) runs even under `make -n`, and this one would overwrite the results files
# with dry-run output.
BENCH_SUBMAKE = $(MAKE)

bench: bench-deps
	@rm -f $(BENCH_DIR)/.no-quire
	$(bench_prepare)
	$(BENCH_PY) bench/run --build $(BUILD) --out bench/results --readme README.md --load auto \
	    --command "make bench" $$([ -e $(BENCH_DIR)/.no-quire ] && echo --no-quire) $(BENCH_ARGS)
	@$(MAKE) --no-print-directory $(BUILD)/bench/pager/bench_pager $(BUILD)/bench/pheap/bench_pheap \
	    bench-companion-build
	@for b in pager pheap companion; do \
	    echo "== make bench-$$b (output also in bench/results/$$b.txt)"; \
	    $(BENCH_SUBMAKE) --no-print-directory bench-$$b > bench/results/$$b.txt 2>&1; rc=$$?; \
	    cat bench/results/$$b.txt; [ $$rc = 0 ] || { echo "bench-$$b failed ($$rc)"; exit 1; }; \
	done

bench-quick: bench-deps
	@rm -f $(BENCH_DIR)/.no-quire
	$(bench_prepare)
	$(BENCH_PY) bench/run --quick --build $(BUILD) --out $(BENCH_DIR)/results --load auto \
	    --command "make bench-quick" $$([ -e $(BENCH_DIR)/.no-quire ] && echo --no-quire) \
	    $(BENCH_ARGS)

bench-callgrind:
	@sh bench/deps.sh libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev valgrind
	@rm -f $(BENCH_DIR)/.no-quire
	$(bench_prepare)
	$(BENCH_PY) bench/run --callgrind --build $(BUILD) --out bench/results \
	    --command "make bench-callgrind" $$([ -e $(BENCH_DIR)/.no-quire ] && echo --no-quire) \
	    $(BENCH_ARGS)
