# libfrozen -- build, test, install.
#   make                 lib/libfrozen.so.MAJOR.MINOR.PATCH (+ links), lib/libfrozen.a, bin/frozen
#   make check           Check test suite, the plain-C header test, the CLI test, the installed package
#                        (tests/install_test.sh: examples/c built with pkg-config), the exported symbols
#   make check-asan      the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fixtures        regenerate committed test fixtures (PyTorch reference, npm gpt-3-encoder)
#   make bench           benchmarks beside the PyTorch peer (not a test)
#   make demo            the built-in demo world end to end: OUT/report.md (demo/run.sh; OUT=demo-out SEED=1)
#   make install PREFIX=/usr/local DESTDIR=
#   make abi-check       compare the ABI with the baseline abi/libfrozen.abi (make abi-dump rewrites it)
#   make docs            HTML reference from include/frozen.h (Doxygen) in build/docs
#   make deps            install the system packages (apt, as root) or print the apt line

CC      ?= cc
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
PYTHON  ?= /usr/bin/python3

# The version lives in the header; the soname carries the ABI major.
VERSION_MAJOR := $(shell sed -n 's/^\#define FRZ_VERSION_MAJOR \([0-9]*\).*/\1/p' include/frozen.h)
VERSION_MINOR := $(shell sed -n 's/^\#define FRZ_VERSION_MINOR \([0-9]*\).*/\1/p' include/frozen.h)
VERSION_PATCH := $(shell sed -n 's/^\#define FRZ_VERSION_PATCH \([0-9]*\).*/\1/p' include/frozen.h)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)
SONAME  := libfrozen.so.$(VERSION_MAJOR)

DEPS_PC   := openblas libpcre2-8 jansson libpng16 libjpeg
DEPS_CFLAGS := $(shell pkg-config --cflags $(DEPS_PC) 2>/dev/null)
DEPS_LIBS   := $(shell pkg-config --libs $(DEPS_PC) 2>/dev/null) -lm -lpthread
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

OPT      ?= -O2
SAN      ?=
CFLAGS   ?= $(OPT) -g
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# clang at -O1 (the sanitizer build) may decline an `omp simd` hint and warns; the hint matters at -O2 only.
WARN     += $(shell $(CC) --version 2>/dev/null | grep -q clang && echo -Wno-pass-failed)
# -fno-math-errno: nothing here reads errno after a math function, and without it a sqrtf in a loop (Adam's
# step) is a call that may set errno, which keeps the loop scalar. Results are unchanged (sqrt is exact).
# -fno-trapping-math: gcc will not turn a float compare into a select while the compare may raise a floating-point
# exception flag, and without it GELU's loop stayed scalar (a fifth of a blind training step), the exps of the
# softmaxes too. Nothing here reads the exception flags; each element's result is the same IEEE arithmetic. (It also
# let three `omp simd reduction` sums of the softmaxes vectorise, which reorders their additions; they were put
# back in index order so that the LM's training makes the same bytes as before: src/math/softmax.c.)
BASE_CFLAGS := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(WARN) -fPIC -fvisibility=hidden \
               -fno-math-errno -fno-trapping-math -fopenmp -Iinclude -Isrc $(DEPS_CFLAGS) $(SAN)
LDFLAGS_ALL := -fopenmp $(SAN)

# Build directory: objects for the plain and the sanitizer builds are kept apart.
BUILD ?= build

LIB_SRC := $(sort $(shell find src -name '*.c' -not -path 'src/cli/*'))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)

TEST_SRC  := $(sort $(wildcard tests/check_*.c))
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_UTIL := $(sort $(wildcard tests/util/*.c))

LIB_SO   := lib/libfrozen.so.$(VERSION)
LIB_A    := lib/libfrozen.a
CLI_BIN  := bin/frozen

.PHONY: all clean check check-run check-asan check-asan-run install uninstall fixtures bench deps symbols-check symbols-list \
        run compile-all bench-syntax demo-lm demo-tiny demo demo-tools abi-lib abi-dump abi-check docs

all: $(LIB_SO) lib/$(SONAME) lib/libfrozen.so $(LIB_A) $(CLI_BIN) lib/frozen.pc

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# The exports are exactly the names in src/libfrozen.symbols (reviewed, committed; tests/check_exports.sh holds
# it equal to the header's FRZ_API declarations), all under the version node FROZEN_<major>; the linker
# script is made from that list.
SYMBOLS := src/libfrozen.symbols
$(BUILD)/libfrozen.map: $(SYMBOLS) include/frozen.h
	@mkdir -p $(dir $@)
	{ echo '/* Generated from $(SYMBOLS) by the Makefile. */'; echo 'FROZEN_$(VERSION_MAJOR) {'; echo '  global:'; \
	  sed 's/.*/    &;/' $(SYMBOLS); echo '  local:'; echo '    *;'; echo '};'; } > $@

LINK_SO = $(CC) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=$(BUILD)/libfrozen.map -Wl,--no-undefined \
	      $(LDFLAGS_ALL) -o $@ $(LIB_OBJ) $(DEPS_LIBS)
$(LIB_SO): $(LIB_OBJ) $(BUILD)/libfrozen.map
	@mkdir -p lib
	$(LINK_SO)

lib/$(SONAME): $(LIB_SO)
	ln -sf $(notdir $(LIB_SO)) $@
lib/libfrozen.so: lib/$(SONAME)
	ln -sf $(SONAME) $@

# The archive is built per build directory (plain and sanitizer objects never mix); lib/ gets the plain one.
ARCHIVE := $(BUILD)/libfrozen.a
$(ARCHIVE): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)
$(LIB_A): $(ARCHIVE)
	@mkdir -p lib
	cp $(ARCHIVE) $@

# The CLI links the static library, so it runs from the source tree without LD_LIBRARY_PATH.
$(CLI_BIN): $(CLI_OBJ) $(ARCHIVE)
	@mkdir -p bin
	$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJ) $(ARCHIVE) $(DEPS_LIBS)

# frozen.pc names the install folders, so `make install` writes its own from the template with the PREFIX,
# LIBDIR and INCDIR it installs to (lib/frozen.pc, made by `make`, has those of the build's command line).
# Staged installs: PKG_CONFIG_SYSROOT_DIR=$$DESTDIR PKG_CONFIG_PATH=$$DESTDIR$$LIBDIR/pkgconfig (install_test.sh).
PC_SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCDIR@|$(INCDIR)|g' \
               -e 's|@VERSION@|$(VERSION)|g' pkgconfig/frozen.pc.in
lib/frozen.pc: pkgconfig/frozen.pc.in include/frozen.h
	@mkdir -p lib
	$(PC_SUBST) > $@

# ---- demo programs (demo/): they link the static library, so they may use its internal headers ------------
# frozen-demo-world writes the demo's world (demo/world/README.md); zlib reads the gzipped Fashion-MNIST files.
ZLIB_LIBS := $(shell pkg-config --libs zlib 2>/dev/null || echo -lz)
DEMO_WORLD_SRC := $(sort $(wildcard demo/world/*.c))
DEMO_WORLD_OBJ := $(DEMO_WORLD_SRC:%.c=$(BUILD)/%.o)
DEMO_WORLD_PARTS := $(filter-out $(BUILD)/demo/world/main.o,$(DEMO_WORLD_OBJ))
DEMO_CLI_OBJ := $(BUILD)/src/cli/args.o $(BUILD)/src/cli/util.o $(BUILD)/demo/common.o
$(BUILD)/demo/frozen-demo-world: $(DEMO_WORLD_OBJ) $(DEMO_CLI_OBJ) $(ARCHIVE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $(DEMO_WORLD_OBJ) $(DEMO_CLI_OBJ) $(ARCHIVE) $(DEPS_LIBS) $(ZLIB_LIBS)
demo-tools: $(BUILD)/demo/frozen-demo-world

# ---- tests -----------------------------------------------------------------------------------------------
# Each tests/check_*.c is its own Check program (a crash in one does not hide the others). They link the
# static library so they can reach internal functions (the fault-injection hook, the safetensors reader).
# A test of a demo program links that program's parts too (TEST_EXTRA_<name>) and may run the program.
$(BUILD)/tests/check_%: tests/check_%.c $(TEST_UTIL) $(ARCHIVE)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(CHECK_CFLAGS) -Itests -o $@ $< $(TEST_UTIL) $(TEST_EXTRA_$*) $(ARCHIVE) \
	    $(DEPS_LIBS) $(CHECK_LIBS) $(LDFLAGS_ALL)
TEST_EXTRA_demo_world = $(DEMO_WORLD_PARTS) $(ZLIB_LIBS)
$(BUILD)/tests/check_demo_world: $(DEMO_WORLD_PARTS) $(BUILD)/demo/frozen-demo-world

# The header must be plain C11: compiled with -pedantic against nothing but frozen.h, linked to the .so.
$(BUILD)/tests/header_c11: tests/header_c11.c include/frozen.h lib/$(SONAME) lib/libfrozen.so
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -pedantic -Wall -Wextra -Werror $(SAN) -Iinclude -o $@ $< -Llib -lfrozen -Wl,-rpath,'$$ORIGIN/../../lib'

# tests/install_test.sh runs `make install`; named through another variable so that `make -n` does not run the
# test recipe (GNU make runs recipe lines that mention $$(MAKE) even under -n).
SUBMAKE := $(MAKE)
# `make check` and `make run` first make sure the Debian packages are there (installing them as root), then
# run make again so pkg-config sees them.
check:
	@sh tools/deps.sh build
	@$(MAKE) --no-print-directory check-run

check-run: all $(TEST_BIN) $(BUILD)/tests/header_c11 symbols-check bench-syntax
	@FRZ_TEST_BUILD=$(BUILD) MAKE='$(SUBMAKE)' sh tests/run_all.sh $(BUILD)/tests/header_c11 $(TEST_BIN) \
	    tests/cli_test.sh tests/install_test.sh tests/python_test.sh tests/cpp_test.sh tests/rust_test.sh

# Everything compiled and linked, nothing run (CI uses it with CC=clang: warnings are errors there too).
compile-all: all $(TEST_BIN) $(BUILD)/tests/header_c11 bench-syntax

# The benchmarks are built by their own scripts (bench/*.sh, `make bench`), not by `all`, and several use internal
# headers: compiling them here (types and syntax only, warnings as errors) keeps a change of an internal API from
# breaking them unseen.
BENCH_SRC := $(sort $(wildcard bench/*.c))
bench-syntax:
	@for f in $(BENCH_SRC); do \
	    $(CC) -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -fopenmp -Iinclude -Isrc \
	        $(DEPS_CFLAGS) -fsyntax-only $$f || { echo "bench-syntax: $$f does not compile" >&2; exit 1; }; \
	done

# Sanitizer build: separate objects, same tests. LeakSanitizer is part of ASan on Linux.
check-asan:
	@sh tools/deps.sh build
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" check-asan-run
check-asan-run: $(TEST_BIN)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    FRZ_TEST_BUILD=$(BUILD) sh tests/run_all.sh $(TEST_BIN)

# The shared library exports exactly the names of src/libfrozen.symbols, which are exactly the FRZ_API
# declarations of frozen.h. After adding API: `make symbols-list` rewrites the list from the header (review
# the diff), then `make symbols-check`.
symbols-check: $(LIB_SO)
	@sh tests/check_exports.sh $(LIB_SO) include/frozen.h $(SYMBOLS)
symbols-list:
	sh tools/api_symbols.sh include/frozen.h > $(SYMBOLS)

# ---- ABI (docs/abi.md) -------------------------------------------------------------------------------------
# The baseline abi/libfrozen.abi is the ABI of the library as the public header shows it (abidw). Both targets
# build their own copy of the library in build-abi/ with fixed flags (gcc, -O2 -g), so neither a clang build
# nor CFLAGS without -g in lib/ can change what is compared.
ABI_BASELINE := abi/libfrozen.abi
ABI_CC       ?= gcc
ABI_LIB      := build-abi/abi/libfrozen.so.$(VERSION)
$(BUILD)/abi/libfrozen.so.$(VERSION): $(LIB_OBJ) $(BUILD)/libfrozen.map
	@mkdir -p $(dir $@)
	$(LINK_SO)
abi-lib:
	@$(MAKE) --no-print-directory BUILD=build-abi CC=$(ABI_CC) OPT=-O2 CFLAGS="-O2 -g" SAN= $(ABI_LIB)
# Records the current ABI as the baseline: after a reviewed API addition, or with a major version bump.
abi-dump:
	@sh tools/deps.sh abi
	@$(MAKE) --no-print-directory abi-lib
	@mkdir -p $(dir $(ABI_BASELINE))
	sh tools/abi.sh dump $(ABI_LIB) include $(ABI_BASELINE)
# Fails on an incompatible change against the baseline; additions only pass (and are listed). First the
# checker's own test (tests/abi_test.sh: known compatible and incompatible changes to a small library).
abi-check:
	@sh tools/deps.sh abi
	@$(MAKE) --no-print-directory abi-lib
	@sh tests/abi_test.sh | tail -n 1 | grep -x 'abi: [0-9]* passed, 0 failed' || { sh tests/abi_test.sh; exit 1; }
	@sh tools/abi.sh check $(ABI_BASELINE) $(ABI_LIB) include

# ---- API reference (Doxygen) -------------------------------------------------------------------------------
# build/docs/html from include/frozen.h (its plain comments through tools/doxygen_filter.awk) and
# docs/guide.md as the main page. Any Doxygen warning fails; the count of API items without a comment of
# their own is reported (every item is in the reference either way).
docs:
	@sh tools/deps.sh docs
	@mkdir -p build/docs
	@awk -f tools/doxygen_filter.awk include/frozen.h > build/docs/frozen.filtered.h
	@FRZ_VERSION=$(VERSION) doxygen Doxyfile
	@if [ -s build/docs/warnings.log ]; then cat build/docs/warnings.log; echo "docs: Doxygen warnings (above)"; exit 1; fi
	@(cat Doxyfile; echo EXTRACT_ALL=NO; echo GENERATE_HTML=NO; echo WARN_LOGFILE=build/docs/undocumented.log) | \
	    FRZ_VERSION=$(VERSION) doxygen - 2>/dev/null
	@echo "docs: build/docs/html/index.html; $$(grep -c 'is not documented' build/docs/undocumented.log) API items \
	have no comment of their own (build/docs/undocumented.log)"

fixtures:
	@sh tools/deps.sh fixtures
	sh tests/reference/make_fixtures.sh

# README's first command: build, then generate with the tiny demo LM the project trained itself
# (models/demo-tiny, made by `make demo-lm`, which records the exact command).
DEMO_PROMPT ?= Question: What is a kite made of? Answer:
run:
	@sh tools/deps.sh build
	@$(MAKE) --no-print-directory all
	@bin/frozen info
	@echo '$$ bin/frozen generate --lm models/demo-tiny --prompt "$(DEMO_PROMPT)" --max-tokens 24'
	@bin/frozen generate --lm models/demo-tiny --prompt "$(DEMO_PROMPT)" --max-tokens 24; echo
	@echo '$$ bin/frozen generate --lm models/demo-tiny --prompt "A small red" --temperature 0.8 --seed 7 --max-tokens 40'
	@bin/frozen generate --lm models/demo-tiny --prompt "A small red" --temperature 0.8 --seed 7 --max-tokens 40; echo

# The demo's LM (models/demo-lm), made by libfrozen itself: world corpus, then pretrain (which learns the
# tokenizer first); the exact recipe is demo/make_lm.sh (about 9-12 minutes on 2 cores).
demo-lm:
	@sh tools/deps.sh demo
	@$(MAKE) --no-print-directory all demo-tools
	sh demo/make_lm.sh OUT=models/demo-lm BUILD=$(BUILD)

# models/demo-tiny, the small LM `make run` generates with (trained with PyTorch by tools/make_demo_lm.py).
demo-tiny:
	@sh tools/deps.sh bench
	$(PYTHON) tools/make_demo_lm.py --out models/demo-tiny --steps 600 --seed 1

bench: all
	sh bench/run.sh
	sh bench/train_step.sh

deps:
	sh tools/deps.sh

# ---- the demo (docs/demo-run.md): world, training runs, evaluation, report -------------------------------------
# Demo programs are not part of the library: they link the static archive (internal headers allowed) and the
# CLI's option parser, and build into $(BUILD)/demo/. `demo-tools` collects every one of them.
DEMO_REPORT_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard demo/report/*.c)))
DEMO_REPORT_BIN := $(BUILD)/demo/frozen-demo-textprobe $(BUILD)/demo/frozen-demo-report

$(BUILD)/demo/frozen-demo-textprobe: $(BUILD)/demo/textprobe.o $(DEMO_CLI_OBJ) $(ARCHIVE)
	$(CC) $(LDFLAGS_ALL) -o $@ $(BUILD)/demo/textprobe.o $(DEMO_CLI_OBJ) $(ARCHIVE) $(DEPS_LIBS)
$(BUILD)/demo/frozen-demo-report: $(DEMO_REPORT_OBJ) $(DEMO_CLI_OBJ) $(ARCHIVE)
	$(CC) $(LDFLAGS_ALL) -o $@ $(DEMO_REPORT_OBJ) $(DEMO_CLI_OBJ) $(ARCHIVE) $(DEPS_LIBS)

demo-tools: $(DEMO_REPORT_BIN)

# Their test runs the programs themselves.
$(BUILD)/tests/check_demo_report: $(DEMO_REPORT_BIN)

DEMO_ARGS := $(if $(OUT),OUT=$(OUT)) $(if $(SEED),SEED=$(SEED)) $(if $(QUICK),QUICK=$(QUICK)) \
             $(if $(LM),LM=$(LM)) $(if $(THREADS),THREADS=$(THREADS))
demo:
	@sh tools/deps.sh demo
	@$(MAKE) --no-print-directory all demo-tools
	@BUILD=$(BUILD) sh demo/run.sh $(DEMO_ARGS)

install: all
	install -d $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 644 include/frozen.h $(DESTDIR)$(INCDIR)/frozen.h
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(LIB_SO)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libfrozen.so
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libfrozen.a
	$(PC_SUBST) > $(DESTDIR)$(LIBDIR)/pkgconfig/frozen.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/frozen.pc
	install -m 755 $(CLI_BIN) $(DESTDIR)$(BINDIR)/frozen
	install -m 644 docs/frozen.1 $(DESTDIR)$(MANDIR)/man1/frozen.1

uninstall:
	rm -f $(DESTDIR)$(INCDIR)/frozen.h $(DESTDIR)$(LIBDIR)/libfrozen.* $(DESTDIR)$(LIBDIR)/pkgconfig/frozen.pc \
	    $(DESTDIR)$(BINDIR)/frozen $(DESTDIR)$(MANDIR)/man1/frozen.1

clean:
	rm -rf build build-asan build-abi lib/libfrozen* lib/frozen.pc bin/frozen

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(DEMO_REPORT_OBJ:.o=.d) $(BUILD)/demo/textprobe.d $(BUILD)/demo/common.d \
    $(DEMO_WORLD_OBJ:.o=.d)
