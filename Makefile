# quire - one plain Makefile.
#
#   make               build/libquire.so (malloc replaced), build/libquire-core.so (malloc kept),
#                      their static twins build/libquire.a and build/libquire-core.a, build/quire
#   make run           build, then show quire at work (README's first command)
#   make test          build and run every test; ends with "N passed, N failed"
#                      (both install the packages they need first: tools/deps.sh)
#   make test-asan     unit tests under AddressSanitizer (everything but the preload layer)
#   make test-ubsan    unit tests under UndefinedBehaviorSanitizer
#   make test-tsan     threaded unit tests (tests/unit/*_mt*.c) under ThreadSanitizer
#   make test-debug    unit tests with internal assertions and validators (Q_DEBUG=2, base/assert.h)
#   make install       headers, both libraries, quire.pc and quire-core.pc, the CLI, man pages;
#                      honours PREFIX (/usr/local), DESTDIR, and BINDIR, LIBDIR, INCLUDEDIR,
#                      MANDIR, PKGCONFIGDIR (each defaults to its place under PREFIX)
#   make format        clang-format every source file in place; make format-check checks it
#
# Variants build into their own directory (BUILD=build/asan ...), so they never mix objects.

CC       ?= cc
CXX      ?= c++
BUILD    ?= build

PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

# The version lives in include/quire/error.h only (QUIRE_VERSION_MAJOR, _MINOR, _PATCH).
version_part   = $(shell sed -n 's/^[#]define QUIRE_VERSION_$(1) *\([0-9][0-9]*\)$$/\1/p' include/quire/error.h)
VERSION_MAJOR := $(call version_part,MAJOR)
VERSION       := $(VERSION_MAJOR).$(call version_part,MINOR).$(call version_part,PATCH)
ifneq ($(words $(subst ., ,$(VERSION))),3)
$(error cannot read QUIRE_VERSION_MAJOR/MINOR/PATCH from include/quire/error.h)
endif
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

# Two libraries, each shared (libNAME.so.MAJOR.MINOR.PATCH, soname libNAME.so.MAJOR, and the
# libNAME.so link that -lNAME and LD_PRELOAD use) and static:
#   libquire       everything, malloc family included: linking it or preloading it replaces the
#                  program's malloc (the preload/ objects)
#   libquire-core  the same without preload/: pager, heap, pages, rings, JIT, pvec, rawmem, map,
#                  and the engine's own quire_malloc family; the program keeps its malloc
# The unit tests and the CLI link libquire-core.a.
LIB_SO   := $(BUILD)/libquire.so
LIB_A    := $(BUILD)/libquire.a
CORE_SO  := $(BUILD)/libquire-core.so
LIB_CORE := $(BUILD)/libquire-core.a
CLI      := $(BUILD)/quire
SHARED   := $(foreach l,$(LIB_SO) $(CORE_SO),$(l).$(VERSION) $(l).$(VERSION_MAJOR) $(l))

# Tests: tests/unit/*.c link the core statically (and run under the sanitizers);
# tests/preload/*.c{,c} link build/libquire.so, so they run on quire's malloc;
# tests/scripts/*.sh drive the CLI, real programs, compile-fail checks and the install.
UNIT_SRC      := $(sort $(wildcard tests/unit/*.c))
PRELOADT_SRC  := $(sort $(wildcard tests/preload/*.c tests/preload/*.cc))
SCRIPT_TESTS  := $(sort $(wildcard tests/scripts/*.sh))
UNIT_BIN      := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))
PRELOADT_BIN  := $(patsubst tests/preload/%,$(BUILD)/tests/preload/%,$(basename $(PRELOADT_SRC)))
TSAN_BIN      := $(foreach b,$(UNIT_BIN),$(if $(findstring _mt,$(notdir $(b))),$(b)))
# The malloc engine's suites again in its hardened mode (QUIRE_SECURE=1, alloc/secure.c): API
# conformance, bad frees, threads/fork/churn stress, C++ operators, the real programs; and the
# misuse suite with guard pages made by mprotect (the fallback for kernels before 6.13).
ALLOC_SUITES  := $(addprefix $(BUILD)/tests/preload/,test_malloc_api test_malloc_badfree \
                   test_malloc_stress test_cxx_new cxx_threads) \
                 $(addprefix $(BUILD)/tests/unit/,test_alloc_api test_alloc_stress_mt \
                   test_alloc_internal_mt)
SECURE_TESTS  := $(addprefix QUIRE_SECURE=1:,$(ALLOC_SUITES) tests/scripts/real_programs.sh) \
                 QUIRE_GUARDS=mprotect:$(BUILD)/tests/preload/test_misuse
SECURE_TSAN   := $(addprefix QUIRE_SECURE=1:,$(filter $(BUILD)/tests/unit/test_alloc%,$(TSAN_BIN)))
comma         := ,
# ... and while sampling a heap profile (an interval small enough that every thread samples
# often) or recording every block (leaks=1).
PROF_TESTS    := $(addprefix QUIRE_PROF=1$(comma)QUIRE_PROF_INTERVAL=4K$(comma)QUIRE_PROF_FILE=$(BUILD)/prof.%p.heap:,\
                   $(addprefix $(BUILD)/tests/preload/,test_malloc_stress test_cxx_new cxx_threads)) \
                 $(addprefix QUIRE_LEAKS=1:,\
                   $(addprefix $(BUILD)/tests/preload/,test_malloc_api test_malloc_stress))

.PHONY: all lib run test unit-tests test-build test-asan test-ubsan test-tsan test-debug install \
        uninstall format format-check clean FORCE

all: lib $(CLI)

lib: $(SHARED) $(LIB_A) $(LIB_CORE)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# The engine defines hidden aliases of quire_malloc & co. that lack the malloc attribute the
# public declarations carry (include/quire/error.h, QUIRE_NO_MALLOC_ATTRIBUTE).
$(BUILD)/obj/alloc/%.o: CPPFLAGS += -DQUIRE_NO_MALLOC_ATTRIBUTE

$(BUILD)/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -fno-rtti -c $< -o $@

$(LIB_SO).$(VERSION): $(CORE_OBJ) $(PRELOAD_OBJ)
$(CORE_SO).$(VERSION): $(CORE_OBJ)
$(LIB_SO).$(VERSION) $(CORE_SO).$(VERSION):
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,$(notdir $(basename $(basename $@))) -Wl,-z,now -o $@ $^ $(LDFLAGS)

# libNAME.so.MAJOR -> libNAME.so.MAJOR.MINOR.PATCH, libNAME.so -> libNAME.so.MAJOR
$(LIB_SO).$(VERSION_MAJOR) $(CORE_SO).$(VERSION_MAJOR): %.$(VERSION_MAJOR): %.$(VERSION)
	ln -sf $(notdir $<) $@
$(LIB_SO) $(CORE_SO): %: %.$(VERSION_MAJOR)
	ln -sf $(notdir $<) $@

$(LIB_A): $(CORE_OBJ) $(PRELOAD_OBJ)
$(LIB_CORE): $(CORE_OBJ)
$(LIB_A) $(LIB_CORE):
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# Where `quire run` looks for the library in an installed tree: LIBDIR as seen from BINDIR
# (written only when it changes, so that a plain `make` after `make install LIBDIR=...` does not
# rebuild the CLI for nothing).
RUN_LIBDIR := $(shell realpath -m --relative-to='$(BINDIR)' '$(LIBDIR)' 2>/dev/null || echo '$(LIBDIR)')
$(BUILD)/gen/install_paths.h: FORCE
	@mkdir -p $(dir $@)
	@printf '#define QUIRE_RUN_LIBDIR "%s"\n#define QUIRE_RUN_SONAME "%s"\n' \
	    '$(RUN_LIBDIR)' 'libquire.so.$(VERSION_MAJOR)' >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/obj/tools/cmd_run.o: $(BUILD)/gen/install_paths.h
$(BUILD)/obj/tools/%.o: CPPFLAGS += -I$(BUILD)/gen
FORCE:

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

# make run and make test first install what they need (tools/deps.sh: as root with apt-get;
# anyone else gets one line naming the missing packages, and make stops; DEPS=warn goes on).
# The build then runs in a sub-make, which sees what was just installed.
DEPS ?=
deps_check = sh tools/deps.sh $(if $(filter warn,$(DEPS)),--warn) $(1)

run:
	@$(call deps_check,run)
	@$(MAKE) --no-print-directory all
	@./tests/demo.sh $(BUILD)

test-build: all $(UNIT_BIN) $(PRELOADT_BIN)

test:
	@$(call deps_check,test)
	@$(MAKE) --no-print-directory test-build
	@BUILD=$(BUILD) CC="$(CC)" CXX="$(CXX)" ./tests/run.sh $(UNIT_BIN) $(PRELOADT_BIN) \
	    $(SCRIPT_TESTS) $(SECURE_TESTS) $(PROF_TESTS)

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
	@BUILD=$(BUILD) ./tests/run.sh $(TSAN_BIN) $(SECURE_TSAN)

# Level 2: Q_ASSERT checks and every module validator after each change of state it covers
# (pager and heap commits, opens, aborts); a module joins by calling Q_ASSERT/Q_VALIDATE.
test-debug:
	$(MAKE) BUILD=build/debug OPT="-O1 -g" QDEBUG=2 unit-tests

# ---- install -------------------------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(INCLUDEDIR)/quire $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
	           $(DESTDIR)$(BINDIR)
	install -m 644 include/quire/*.h $(DESTDIR)$(INCLUDEDIR)/quire/
	for lib in libquire libquire-core; do \
	    install -m 755 $(BUILD)/$$lib.so.$(VERSION) $(DESTDIR)$(LIBDIR)/ && \
	    ln -sf $$lib.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$$lib.so.$(VERSION_MAJOR) && \
	    ln -sf $$lib.so.$(VERSION_MAJOR) $(DESTDIR)$(LIBDIR)/$$lib.so && \
	    install -m 644 $(BUILD)/$$lib.a $(DESTDIR)$(LIBDIR)/ || exit 1; \
	done
	install -m 755 $(CLI) $(DESTDIR)$(BINDIR)/
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3
	install -m 644 man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/*.3 $(DESTDIR)$(MANDIR)/man3/
	for pc in quire quire-core; do \
	    sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	        -e 's|@VERSION@|$(VERSION)|g' tools/$$pc.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/$$pc.pc || exit 1; \
	done

uninstall:
	rm -rf $(DESTDIR)$(INCLUDEDIR)/quire
	for lib in libquire libquire-core; do \
	    rm -f $(DESTDIR)$(LIBDIR)/$$lib.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$$lib.so.$(VERSION_MAJOR) \
	          $(DESTDIR)$(LIBDIR)/$$lib.so $(DESTDIR)$(LIBDIR)/$$lib.a; \
	done
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/quire.pc $(DESTDIR)$(PKGCONFIGDIR)/quire-core.pc \
	      $(DESTDIR)$(BINDIR)/quire $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(wildcard man/*.1))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man3/,$(notdir $(wildcard man/*.3)))

# ---- housekeeping --------------------------------------------------------------------------

FORMAT_SRC = $(wildcard include/quire/*.h base/*.[ch] pages/*.[ch] alloc/*.[ch] pager/*.[ch] \
                        pheap/*.[ch] preload/*.[ch] preload/*.cc tools/*.[ch] examples/*.c \
                        tests/*.h tests/unit/*.[ch] tests/preload/*.c tests/preload/test_misuse.cc \
                        tests/cxx/*.cc)

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
