# sluice: make | make test | make demo | make bench | make install PREFIX=...
# SANITIZER=address,undefined builds everything with those sanitizers.
# CC=clang works as well as gcc; WERROR=1 (the default) turns warnings into errors.

PREFIX   ?= /usr/local
CC       ?= cc
BUILD    := build
WERROR   ?= 1
SANITIZER ?=

PKGS     := hiredis jansson
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_POSIX_C_SOURCE=200809L -fPIC -Iinclude -I$(BUILD)/gen \
            -Wall -Wextra -Wformat=2 -Wstrict-prototypes -Wshadow -Wno-missing-field-initializers \
            $(if $(filter 1,$(WERROR)),-Werror) -MMD -MP
ifneq ($(SANITIZER),)
CFLAGS   += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZER)
endif
DEP_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DEP_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm

LUA      := common enqueue claim lease job dead class gate signal governor
LUA_SRC  := $(LUA:%=queue/lua/%.lua)
LIB_SRC  := $(wildcard queue/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/functions.o
LIBA     := $(BUILD)/lib/libsluice.a
LIBSO    := $(BUILD)/lib/libsluice.so
PC       := $(BUILD)/lib/pkgconfig/sluice.pc

TEST_HARNESS := $(BUILD)/obj/tests/harness.o
TEST_SRC := $(filter-out tests/harness.c,$(wildcard tests/test_*.c))
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: all test check deps install clean bench
all: $(LIBA) $(LIBSO) $(PC)

# Installs missing Debian packages (needs root or sudo); a no-op when present.
deps:
	@./scripts/bootstrap.sh

$(BUILD)/gen/functions.c: $(LUA_SRC) scripts/embed-lua.sh
	@mkdir -p $(@D)
	./scripts/embed-lua.sh $@ $(LUA_SRC)

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

$(PC): Makefile
	@mkdir -p $(@D)
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: sluice\nDescription: Redis-backed job queue with pressure-aware admission control\nVersion: 0.1.0\nRequires.private: hiredis jansson\nCflags: -I$${includedir}\nLibs: -L$${libdir} -lsluice\nLibs.private: -lm\n' '$(PREFIX)' > $@

# ------------------------------- tests --------------------------------
$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_HARNESS) $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(DEP_LIBS) -lcmocka

test: deps
	$(MAKE) --no-print-directory $(TEST_BIN)
	./scripts/run-tests.sh $(TEST_BIN)

check: test

bench: deps all
	./scripts/bench.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/sluice
	install -m 644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIBSO) $(DESTDIR)$(PREFIX)/lib/libsluice.so.0
	ln -sf libsluice.so.0 $(DESTDIR)$(PREFIX)/lib/libsluice.so
	install -m 644 $(PC) $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	install -m 644 include/sluice.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 include/sluice/*.h $(DESTDIR)$(PREFIX)/include/sluice/

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
