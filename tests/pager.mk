# tests/pager.mk - the pager's long crash runs and its fuzzer (included by the Makefile), beside
# the tests they build (tests/unit/test_pager_{kill,powerloss}.c, tests/fuzz/).
#
#   make crash-long   10,000 SIGKILLs of a running workload, and a long power-loss run
#   make fuzz         libFuzzer + ASan/UBSan on open + read + check (FUZZ_TIME seconds, default 60)
#
# `make test` already runs 200 kills, >10,000 power-loss images and the fuzz corpus (through
# tests/unit/test_pager_{kill,powerloss,corrupt}.c, with gcc and no libFuzzer).

.PHONY: crash-long fuzz

crash-long: $(BUILD)/tests/unit/test_pager_kill $(BUILD)/tests/unit/test_pager_powerloss
	QUIRE_PAGER_KILLS=10000 $(BUILD)/tests/unit/test_pager_kill | tail -n 2
	$(BUILD)/tests/unit/test_pager_powerloss 600 | tail -n 2

FUZZ_TIME ?= 60
FUZZ_CC   ?= clang
FUZZ_SRC  := tests/fuzz/fuzz_pager.c $(wildcard base/*.c pager/*.c) pages/prim.c

$(BUILD)/fuzz/fuzz_pager: $(FUZZ_SRC) $(wildcard base/*.h pager/*.h include/quire/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined $(CPPFLAGS) -o $@ $(FUZZ_SRC)

fuzz: $(BUILD)/fuzz/fuzz_pager
	@mkdir -p $(BUILD)/fuzz/corpus
	cp -n tests/fuzz/corpus/* $(BUILD)/fuzz/corpus/ || true
	$(BUILD)/fuzz/fuzz_pager -max_total_time=$(FUZZ_TIME) -max_len=262144 -rss_limit_mb=4096 \
	    $(BUILD)/fuzz/corpus
