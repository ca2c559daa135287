# bench/companion.mk - benchmarks of the companion API (paged vector fill, SPSC ring).
#
#   make bench-companion [BUILD=dir] [PVEC_FILL_ARGS="MiB elem rounds"] [RING_SPSC_ARGS="GiB ring_KiB chunk_KiB"]
#       builds bench/companion/*.c against the core library and runs both in one go, each
#       printing its table (medians over interleaved rounds; defaults "1024 8 5" and
#       "2 1024 64"). The machine is shared: compare rows of one run, not runs.
# pvec_fill links -ljemalloc so that its realloc-doubling vector can run on jemalloc and on
# glibc (through __libc_realloc) in the same process.

COMP_BENCH_SRC := $(sort $(wildcard bench/companion/*.c))
COMP_BENCH_BIN := $(patsubst bench/companion/%.c,$(BUILD)/bench/companion/%,$(COMP_BENCH_SRC))
PVEC_FILL_ARGS ?=
RING_SPSC_ARGS ?=

.PHONY: bench-companion bench-companion-build

$(BUILD)/bench/companion/pvec_fill: LDLIBS_COMP = -ljemalloc -ldl

$(BUILD)/bench/companion/%: bench/companion/%.c $(LIB_CORE)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB_CORE) $(LDFLAGS) $(LDLIBS_COMP)

bench-companion-build: $(COMP_BENCH_BIN)

bench-companion: bench-companion-build
	@echo "== $(BUILD)/bench/companion/pvec_fill $(PVEC_FILL_ARGS)"
	@$(BUILD)/bench/companion/pvec_fill $(PVEC_FILL_ARGS)
	@echo "== $(BUILD)/bench/companion/ring_spsc $(RING_SPSC_ARGS)"
	@$(BUILD)/bench/companion/ring_spsc $(RING_SPSC_ARGS)
