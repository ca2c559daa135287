# quire - one plain Makefile.
#
#   make               build/libquire.so, build/libquire.a, build/quire
#   make run           build, then show quire at work (README's first command)
#   make test          build and run every test; ends with "N passed, N failed"
#   make test-asan     unit tests under AddressSanitizer (everything but the preload layer)
#   make test-ubsan    unit tests under UndefinedBehaviorSanitizer
#   make test-tsan     threaded unit tests (tests/unit/*_mt*.c) under ThreadSanitizer
#   make test-debug    unit tests with internal assertions and validators (Q_DEBUG=2, base/assert.h)
#   make install PREFIX=/dir   headers, libraries, quire.pc and the CLI
#   make format        clang-format every source file in place; make format-check checks it
#
# Variants build into their own directory (BUILD=build/asan ...), so they never mix objects.

CC       ?= cc
CXX      ?= c++
PREFIX   ?= /usr/local
BUILD    ?= build
OPT      ?= -O2 -g
SAN      ?=
QDEBUG   ?=

CPPFLAGS += -Iinclude -I. -D_GNU_SOURCE $(if $(QDEBUG),-DQ_DEBUG=$(QDEBUG))
WARN      = -Wall -Wextra -Werror
CFLAGS   += -std=c11 $(WARN) -fPIC -fvisibility=hidden -pthread $(OPT) $(SAN) -MMD -MP
CXXFLAGS += -std=c++17 $(WARN) -fPIC -fvisibility=hidden -pthread $(OPT) $(SAN) -MMD -MP
LDFLAGS  += -pthread $(SAN)

# The library: every .c of the shared base layer, the pages layer, the malloc engine, the
# pager and the persistent heap. The preload layer (the malloc-family interposition) is added to the shipped libraries
# only, never to the sanitizer builds, which keep the system allocator the sanitizers need.
CORE_SRC    := $(sort $(wildcard base/*.c pages/*.c alloc/*.c pager/*.c pheap/*.c))
PRELOAD_SRC := $(sort $(wildcard preload/*.c preload/*.cc))
TOOL_SRC    := $(sort $(wildcard tools/*.c))

obj = $(patsubst %,$(BUILD)/obj/%.o,$(basename $(1)))

CORE_OBJ    := $(call obj,$(CORE_SRC))
PRELOAD_OBJ := $(call obj,$(PRELOAD_SRC))
TOOL_OBJ    := $(call obj,$(TOOL_SRC))

LIB_SO   := $(BUILD)/libquire.so
LIB_A    := $(BUILD)/libquire.a
LIB_CORE := $(BUILD)/libquire_core.a
CLI      := $(BUILD)/quire

# Tests: tests/unit/*.c link the core statically (and run under the sanitizers);
# tests/preload/*.c{,c} link build/libquire.so, so they run on quire's malloc;
# tests/scripts/*.sh drive the CLI, real programs, compile-fail checks and the install.
UNIT_SRC      := $(sort $(wildcard tests/unit/*.c))
PRELOADT_SRC  := $(sort $(wildcard tests/preload/*.c tests/preload/*.cc))
SCRIPT_TESTS  := $(sort $(wildcard tests/scripts/*.sh))
UNIT_BIN      := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))
PRELOADT_BIN  := $(patsubst tests/preload/%,$(BUILD)/tests/preload/%,$(basename $(PRELOADT_SRC)))
TSAN_BIN      := $(foreach b,$(UNIT_BIN),$(if $(findstring _mt,$(notdir $(b))),$(b)))

.PHONY: all lib run test unit-tests test-build test-asan test-ubsan test-tsan test-debug install \
        uninstall \
        format format-check clean

all: lib $(CLI)

lib: $(LIB_SO) $(LIB_A)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -fno-exceptions -fno-rtti -c $< -o $@

$(LIB_SO): $(CORE_OBJ) $(PRELOAD_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libquire.so -Wl,-z,now -o $@ $^ $(LDFLAGS)

$(LIB_A): $(CORE_OBJ) $(PRELOAD_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIB_CORE): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(CLI): $(TOOL_OBJ) $(LIB_CORE)
	$(CC) -o $@ $(TOOL_OBJ) $(LIB_CORE) $(LDFLAGS)

$(BUILD)/tests/unit/%: tests/unit/%.c tests/check.h $(LIB_CORE)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) -o $@ $< $(LIB_CORE) $(LDFLAGS) -lm

$(BUILD)/tests/preload/%: tests/preload/%.c tests/check.h $(LIB_SO)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) -o $@ $< -L$(BUILD) -lquire -Wl,-rpath,$(abspath $(BUILD)) $(LDFLAGS)

$(BUILD)/tests/preload/%: tests/preload/%.cc tests/check.h $(LIB_SO)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) -Itests $(CXXFLAGS) -o $@ $< -L$(BUILD) -lquire -Wl,-rpath,$(abspath $(BUILD)) $(LDFLAGS)

# ---- running -------------------------------------------------------------------------------

run: all
	@./tests/demo.sh $(BUILD)

test-build: all $(UNIT_BIN) $(PRELOADT_BIN)

test: test-build
	@BUILD=$(BUILD) CC="$(CC)" ./tests/run.sh $(UNIT_BIN) $(PRELOADT_BIN) $(SCRIPT_TESTS)

unit-tests: $(UNIT_BIN)
	@BUILD=$(BUILD) ./tests/run.sh $(UNIT_BIN)

ASAN_FLAGS  = -fsanitize=address -fno-omit-frame-pointer
UBSAN_FLAGS = -fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
TSAN_FLAGS  = -fsanitize=thread

test-asan:
	$(MAKE) BUILD=build/asan OPT="-O1 -g" SAN="$(ASAN_FLAGS)" unit-tests

test-ubsan:
	$(MAKE) BUILD=build/ubsan OPT="-O1 -g" SAN="$(UBSAN_FLAGS)" unit-tests

test-tsan:
	$(MAKE) BUILD=build/tsan OPT="-O1 -g" SAN="$(TSAN_FLAGS)" tsan-tests

tsan-tests: $(TSAN_BIN)
	@BUILD=$(BUILD) ./tests/run.sh $(TSAN_BIN)

# Level 2: Q_ASSERT checks and every module validator after each change of state it covers
# (pager and heap commits, opens, aborts); a module joins by calling Q_ASSERT/Q_VALIDATE.
test-debug:
	$(MAKE) BUILD=build/debug OPT="-O1 -g" QDEBUG=2 unit-tests

# ---- install -------------------------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(PREFIX)/include/quire $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	           $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/quire/*.h $(DESTDIR)$(PREFIX)/include/quire/
	install -m 755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(shell sed -n 's/^#define QUIRE_VERSION_STRING "\(.*\)"/\1/p' include/quire/error.h)|g' \
	    tools/quire.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/quire.pc

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/include/quire $(DESTDIR)$(PREFIX)/lib/libquire.so \
	       $(DESTDIR)$(PREFIX)/lib/libquire.a $(DESTDIR)$(PREFIX)/lib/pkgconfig/quire.pc \
	       $(DESTDIR)$(PREFIX)/bin/quire

# ---- housekeeping --------------------------------------------------------------------------

FORMAT_SRC = $(wildcard include/quire/*.h base/*.[ch] pages/*.[ch] alloc/*.[ch] pager/*.[ch] \
                        pheap/*.[ch] preload/*.[ch] tools/*.[ch] examples/*.c tests/*.h \
                        tests/unit/*.[ch] tests/preload/*.c)

format:
	clang-format -i $(FORMAT_SRC)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_SRC) && echo "format: clean"

clean:
	rm -rf build

# Module fragments (benchmarks; the pager's crash runs and fuzzing, beside their tests) add their
# own targets.
include $(wildcard bench/*.mk alloc/*.mk tests/*.mk)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
