# bench/companion.mk - benchmarks of the companion API (paged vector fill, SPSC ring).
#
#   make bench-companion [BUILD=dir]   builds bench/companion/*.c against the core library and
#                                      runs each one, printing its table.
# pvec_fill links -ljemalloc so that its realloc-doubling vector can run on jemalloc and on
# glibc (through __libc_realloc) in the same process.

COMP_BENCH_SRC := $(sort $(wildcard bench/companion/*.c))
COMP_BENCH_BIN := $(patsubst bench/companion/%.c,$(BUILD)/bench/companion/%,$(COMP_BENCH_SRC))

.PHONY: bench-companion bench-companion-build

$(BUILD)/bench/companion/pvec_fill: LDLIBS_COMP = -ljemalloc -ldl

$(BUILD)/bench/companion/%: bench/companion/%.c $(LIB_CORE)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB_CORE) $(LDFLAGS) $(LDLIBS_COMP)

bench-companion-build: $(COMP_BENCH_BIN)

bench-companion: bench-companion-build
	@for b in $(COMP_BENCH_BIN); do echo "== $$b"; $$b || exit 1; done
