# sluice: make | make test | make demo | make proof | make bench | make install PREFIX=...
# SANITIZER=address,undefined builds everything with those sanitizers.
# CC=clang works as well as gcc; WERROR=1 (the default) turns warnings into errors.

PREFIX   ?= /usr/local
# The one version number, from include/sluice.h.
VERSION  := $(shell sed -n 's/^\#define SLUICE_VERSION "\(.*\)"$$/\1/p' include/sluice.h)
CC       ?= cc
BUILD    := build
WERROR   ?= 1
SANITIZER ?=

PKGS     := hiredis jansson
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_POSIX_C_SOURCE=200809L -fPIC -fvisibility=hidden -Iinclude -I$(BUILD)/gen \
            -Wall -Wextra -Wformat=2 -Wstrict-prototypes -Wshadow -Wno-missing-field-initializers \
            $(if $(filter 1,$(WERROR)),-Werror) -MMD -MP
ifneq ($(SANITIZER),)
CFLAGS   += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZER)
endif
DEP_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DEP_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm

LUA_SRC  := $(wildcard queue/lua/*.lua)
LIB_SRC  := $(wildcard queue/*.c queue/governor/*.c)
# The simulator is a library of its own, for sluicectl and the tests only.
SIM_SRC  := $(wildcard queue/sim/*.c)
SIM_LIB  := $(BUILD)/lib/libsluice-sim.a
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/functions.o
LIBA     := $(BUILD)/lib/libsluice.a
LIBSO    := $(BUILD)/lib/libsluice.so
PC       := $(BUILD)/lib/pkgconfig/sluice.pc $(BUILD)/lib/pkgconfig/sluice-worker.pc

# The worker runtime (libev) is its own library: libsluice stays loop-free.
WORKER_SRC := $(wildcard worker/runtime/*.c)
PROGRAM_SRC := $(wildcard worker/sluice-worker/*.c)
WORKER_LIB := $(BUILD)/lib/libsluice-worker.a
CTL_SRC  := $(wildcard queue/ctl/*.c)
BINS     := $(BUILD)/bin/sluicectl $(BUILD)/bin/sluice-worker
# The worker runtime: libev, and a thread for the hosted governor.
EV_LIBS  := -lev -pthread
# sluice-worker serves /metrics with libmicrohttpd (the tests link it too).
MHD_LIBS  = $(shell pkg-config --libs libmicrohttpd 2>/dev/null)

TEST_HARNESS := $(BUILD)/obj/tests/harness.o
TEST_SRC := $(filter-out tests/harness.c,$(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all test check deps clean bench
all: $(LIBA) $(LIBSO) $(PC) $(WORKER_LIB) $(SIM_LIB) $(BINS)

# Installs missing Debian packages (needs root or sudo); a no-op when present.
deps:
	@./scripts/bootstrap.sh

# The Functions library: the tables the Lua shares with C, generated from the
# headers, then queue/lua/*.lua in the order their "-- needs:" lines give.
$(BUILD)/gen/lua-tables: queue/lua/tables.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/gen/tables.lua: $(BUILD)/gen/lua-tables
	$< > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/functions.c: $(BUILD)/gen/tables.lua $(LUA_SRC) scripts/lua-library.sh
	./scripts/lua-library.sh $@ $(BUILD)/gen/tables.lua $(LUA_SRC)

$(BUILD)/obj/gen/functions.o: $(BUILD)/gen/functions.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(DEP_CFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(LIBSO): $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,libsluice.so.0 $(LDFLAGS) -o $@ $^ $(DEP_LIBS)

$(WORKER_LIB): $(WORKER_SRC:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(SIM_LIB): $(SIM_SRC:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# sluicectl console (queue/console/): the files of its page are embedded in
# the binary at build time (scripts/embed-assets.sh); libmicrohttpd serves them.
CONSOLE_ASSETS := $(sort $(wildcard queue/console/assets/*))
CONSOLE_OBJ    := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard queue/console/*.c)) $(BUILD)/obj/gen/console_assets.o
$(BUILD)/gen/console_assets.c: $(CONSOLE_ASSETS) scripts/embed-assets.sh
	@mkdir -p $(@D)
	./scripts/embed-assets.sh $@ $(CONSOLE_ASSETS)
$(BUILD)/obj/gen/console_assets.o: $(BUILD)/gen/console_assets.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Iqueue/console -c $< -o $@

$(BUILD)/bin/sluicectl: $(CTL_SRC:%.c=$(BUILD)/obj/%.o) $(CONSOLE_OBJ) $(SIM_LIB) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEP_LIBS) $(MHD_LIBS)

$(BUILD)/bin/sluice-worker: $(PROGRAM_SRC:%.c=$(BUILD)/obj/%.o) $(WORKER_LIB) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEP_LIBS) $(EV_LIBS) $(MHD_LIBS)

# ------------------------------- tests --------------------------------
$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_HARNESS) $(WORKER_LIB) $(SIM_LIB) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEP_LIBS) $(EV_LIBS) $(MHD_LIBS) -lcmocka -lpthread

# The disk sampler's parser is sluice-worker's own.
$(BUILD)/tests/test_diskstats: $(BUILD)/obj/worker/sluice-worker/diskstats.o
$(BUILD)/tests/test_diskstats: private DEP_LIBS := $(LIBA) $(DEP_LIBS)

# Integration tests find the programs under build/bin (run from the top).
# Script tests: the console in a browser (make test-browser's); every C file is as clang-format lays it out; libsluice.so
# exports only sluice_ symbols; the README's C examples compile and run;
# docs/reliability.md's guarantees name real tests and mutants, and
# docs/architecture.md's walks real files and functions; Ctrl-C during
# the demo (after 0.3, 5 and 20 s) and the proof (0.3, 3 and 9 s) leaves no
# process or temp file behind; proof.sh --help works; make install into a
# temporary DESTDIR and PREFIX, and uninstall (scripts/check-install.sh); a rolling
# upgrade from the previous release, built from git, side by side (tests/upgrade.sh).
test: deps
	$(MAKE) --no-print-directory all $(TEST_BIN) $(BUILD)/bin/sluice-demo $(BUILD)/bin/sluice-proof $(CONSOLE_NODE)
	BUILD=$(BUILD) ./scripts/fuzz.sh 5
	BUILD=$(BUILD) CC=$(CC) SANITIZER=$(SANITIZER) LDFLAGS_EXTRA="$(LDFLAGS)" ./scripts/run-tests.sh $(TEST_BIN) \
	    scripts/check-format.sh ";" scripts/check-abi.sh ";" scripts/check-readme.sh ";" scripts/check-guarantees.sh ";" scripts/check-architecture.sh ";" \
	    scripts/browser-test.sh ";" \
	    tests/interrupt.sh demo 0.3 5 20 ";" tests/interrupt.sh proof 0.3 3 9 ";" scripts/check-install.sh ";" \
	    tests/upgrade.sh ";"

check: test

$(BUILD)/bin/sluice-bench: $(BUILD)/obj/tests/bench/sluice-bench.o $(WORKER_LIB) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEP_LIBS) $(EV_LIBS)

bench: deps
	$(MAKE) --no-print-directory all $(BUILD)/bin/sluice-bench
	BUILD=$(BUILD) ./scripts/bench.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- fuzzing ----
# libFuzzer targets (tests/fuzz/fuzz_*.c) built with clang, ASan, UBSan and
# LeakSanitizer into $(BUILD)/fuzz, each run FUZZ_SECONDS on its seed corpus
# (tests/fuzz/corpus/<target>/); fails on any crash, leak or sanitizer report.
# `make fuzz` is the short run (5 s each); `make fuzz FUZZ_SECONDS=600` the long one.
FUZZ_SECONDS ?= 5
.PHONY: fuzz fuzz-build
fuzz:
	BUILD=$(BUILD) ./scripts/fuzz.sh $(FUZZ_SECONDS)
fuzz-build:
	BUILD=$(BUILD) ./scripts/fuzz.sh 0

# ---- chaos ----
# The fault battery (docs/reliability.md). Short versions of every scenario
# run inside `make test` (tests/test_chaos_*.c, linked with the battery's
# machinery in tests/chaos/); `make chaos` runs the long versions
# (SLUICE_CHAOS=long), valgrind on a 10,000-job embedded-runtime run, and,
# when scripts/fuzz.sh exists, every fuzzer for 10 minutes.
CHAOS_OBJ  := $(BUILD)/obj/tests/chaos/chaos.o
CHAOS_TEST := $(filter $(BUILD)/tests/test_chaos%,$(TEST_BIN))
CHAOS_VG   := $(BUILD)/chaos/vg-embedded
MODEL_TEST := $(BUILD)/tests/test_model

# chaos.o comes last in $^ (after the archives), so the archives go again
# after it, ahead of hiredis and jansson.
$(CHAOS_TEST): $(CHAOS_OBJ)
$(CHAOS_TEST): private DEP_LIBS := $(WORKER_LIB) $(SIM_LIB) $(LIBA) $(DEP_LIBS)
$(CHAOS_TEST): | $(CHAOS_VG)

$(CHAOS_VG): $(BUILD)/obj/tests/chaos/vg_embedded.o $(WORKER_LIB) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEP_LIBS) $(EV_LIBS)

.PHONY: chaos
chaos: deps
	$(MAKE) --no-print-directory all $(CHAOS_TEST) $(CHAOS_VG) $(MODEL_TEST)
	SLUICE_CHAOS=long ./scripts/chaos.sh $(CHAOS_TEST) $(MODEL_TEST)
	@if [ -x scripts/fuzz.sh ]; then BUILD=$(BUILD) ./scripts/fuzz.sh 600; else echo "chaos: scripts/fuzz.sh not present, no fuzzing"; fi

# ---- mutants ----
# make mutants: each deliberate bug in tests/mutants/ (scripts/mutants.sh)
# applied to a copy of the tree and run against the tests that guard it; the
# table says which were killed. Not part of make test.
.PHONY: mutants
mutants: deps
	BUILD=$(BUILD) CC=$(CC) ./scripts/mutants.sh

# ---- demo ----
# make demo: the incident replayed in real time on an embedded redis-server
# (scripts/demo.sh); sluice-demo is its database stand-in, traffic, live view
# and summary; sluicectl console serves it in a browser (the address is
# printed). gnuplot-nox (installed by deps) draws the plot.
DEMO_T0 := $(if $(filter demo,$(MAKECMDGOALS)),$(shell date +%s))

$(BUILD)/bin/sluice-demo: $(BUILD)/obj/tests/demo/sluice-demo.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEP_LIBS)

.PHONY: demo
demo: deps
	$(MAKE) --no-print-directory all $(BUILD)/bin/sluice-demo
	BUILD=$(BUILD) DEMO_T0=$(DEMO_T0) ./scripts/demo.sh

# ---- proof ----
# make proof: the incident on a real PostgreSQL (scripts/proof.sh): pgbench
# as interactive traffic, a backlog of heavy jobs run not at all, flat out
# and under the governor; summary, acceptance lines and build/proof/proof.png.
# About 20 minutes; scripts/proof.sh --quick is the short run.
$(BUILD)/bin/sluice-proof: $(BUILD)/obj/tests/proof/sluice-proof.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEP_LIBS)

.PHONY: proof
proof: deps
	$(MAKE) --no-print-directory all $(BUILD)/bin/sluice-proof
	BUILD=$(BUILD) ./scripts/proof.sh $(PROOF_ARGS)

# ---- the console in a browser ----
# make test-browser (and make test): sluicectl console in headless Chromium
# (scripts/browser-test.sh; Debian's chromium, installed if missing, the test
# skipped saying why only when it cannot be), driven by playwright-core,
# pinned by tests/console/package-lock.json into its node_modules (not
# committed). UPDATE_SCREENSHOT=1 also writes docs/console.png.
CONSOLE_NODE := tests/console/node_modules/.package-lock.json
$(CONSOLE_NODE): tests/console/package.json tests/console/package-lock.json
	cd tests/console && npm ci --no-audit --no-fund --loglevel=error
.PHONY: test-browser
test-browser: deps
	$(MAKE) --no-print-directory all $(CONSOLE_NODE)
	BUILD=$(BUILD) SANITIZER=$(SANITIZER) ./scripts/browser-test.sh

# ---- producers in other languages (queue/clients/) ----
# tests/test_clients runs the Python, Ruby and Node producers' tests, and
# tests/test_clients_ha the producers on a Redis Cluster and a Sentinel set (their
# interpreters and Redis libraries come from scripts/bootstrap.sh); the Node
# producer's packages, pinned by its package-lock.json, go to its
# node_modules (not committed).
NODE_CLIENT := queue/clients/node
$(NODE_CLIENT)/node_modules/.package-lock.json: $(NODE_CLIENT)/package.json $(NODE_CLIENT)/package-lock.json
	cd $(NODE_CLIENT) && npm ci --no-audit --no-fund --loglevel=error
$(BUILD)/tests/test_clients $(BUILD)/tests/test_clients_ha: | $(NODE_CLIENT)/node_modules/.package-lock.json

# ---- install ----
# make install [DESTDIR=...] [PREFIX=/usr/local] [BINDIR= LIBDIR= INCLUDEDIR=
# DATADIR= SYSTEMD_DIR=]: the programs, libsluice (static and shared),
# libsluice-worker (static), their pkg-config files, the public headers (the
# ones sluice.h and sluice/worker.h name), the systemd unit, and under
# DATADIR/sluice the Grafana dashboard, the alert rules, the ACL file, the
# samplers and the Python, Ruby and Node producers. make uninstall removes exactly that (scripts/install.sh holds the
# one list). The .pc files and the unit are written for these directories,
# and written again whenever one changes.
BINDIR      ?= $(PREFIX)/bin
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
DATADIR     ?= $(PREFIX)/share
SYSTEMD_DIR ?= $(PREFIX)/lib/systemd/system
PUBLIC_HEADERS := $(patsubst %,include/%,$(shell sed -n 's|^\#include "\(sluice/[a-z_]*\.h\)"|\1|p' include/sluice.h)) \
                  include/sluice/worker.h
UNIT        := $(BUILD)/systemd/sluice-worker@.service
INSTALL_DIRS := $(PREFIX) $(BINDIR) $(LIBDIR) $(INCLUDEDIR)

.PHONY: install uninstall FORCE
$(BUILD)/install-dirs: FORCE
	@mkdir -p $(@D)
	@echo '$(INSTALL_DIRS)' | cmp -s - $@ || echo '$(INSTALL_DIRS)' > $@

$(BUILD)/lib/pkgconfig/%.pc: scripts/pkgconfig/%.pc.in $(BUILD)/install-dirs include/sluice.h
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' -e 's|@VERSION@|$(VERSION)|' $< > $@

$(UNIT): scripts/systemd/sluice-worker@.service $(BUILD)/install-dirs
	@mkdir -p $(@D)
	sed 's|/usr/local/bin/|$(BINDIR)/|g' $< > $@

INSTALL_ENV = DESTDIR='$(DESTDIR)' BINDIR='$(BINDIR)' LIBDIR='$(LIBDIR)' INCLUDEDIR='$(INCLUDEDIR)' \
              DATADIR='$(DATADIR)' SYSTEMD_DIR='$(SYSTEMD_DIR)' BUILD='$(BUILD)' VERSION='$(VERSION)' \
              HEADERS='$(filter include/sluice/%,$(PUBLIC_HEADERS))'
install: all $(UNIT)
	$(INSTALL_ENV) ./scripts/install.sh install
uninstall:
	$(INSTALL_ENV) ./scripts/install.sh uninstall
