# Makefile - builds qund, qun and forkcp, runs every test, installs; plain GNU make.

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=

CC      ?= cc
CFLAGS  ?= -O2 -g
PYTHON  ?= /usr/bin/python3
# Where objects and binaries go; `make check` also builds a sanitizer tree.
B       ?= build
ASAN_B  := build/asan
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

WARN = -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 \
       -Wundef -Wvla -Wnull-dereference -Wimplicit-fallthrough -Wdouble-promotion \
       -Wold-style-definition -Wmissing-declarations -Wredundant-decls
QUN_CFLAGS   = -std=gnu11 $(WARN) $(WERROR) $(CFLAGS)
QUN_CPPFLAGS = -Isrc -D_GNU_SOURCE $(CPPFLAGS)
LIBS_SODIUM  = -lsodium

CORE    = log text addr i18n wire1 wire2 rel cookie room bucket
CORE_O  = $(CORE:%=$(B)/%.o)
QUND_O  = $(B)/qund.o $(B)/server.o $(B)/proto1.o $(B)/proto2.o $(B)/console.o $(B)/net.o $(CORE_O)
QUN_O   = $(B)/qun.o $(B)/netproc2.o $(B)/client2.o $(B)/net.o $(B)/log.o $(B)/text.o $(B)/addr.o $(B)/i18n.o $(B)/wire1.o $(B)/wire2.o $(B)/rel.o
FORKCP_O = $(B)/forkcp.o $(B)/log.o
UNIT    = test_text test_addr test_wire1 test_room test_rel
PROGS   = $(B)/qund $(B)/qun $(B)/forkcp

.PHONY: all run deps deps-check check check-unit check-blackbox check-asan \
        check-long soak bench bench-qund format format-check install uninstall clean

all: $(PROGS)

$(B)/%.o: src/%.c src/*.h | $(B)
	$(CC) $(QUN_CPPFLAGS) $(QUN_CFLAGS) -c -o $@ $<

$(B)/test_%.o: tests/unit/test_%.c src/*.h | $(B)
	$(CC) $(QUN_CPPFLAGS) $(QUN_CFLAGS) -Wno-missing-prototypes -Wno-missing-declarations -c -o $@ $<

$(B):
	mkdir -p $@

$(B)/qund: $(QUND_O)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(QUND_O) $(LIBS_SODIUM)

$(B)/qun: $(QUN_O)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(QUN_O) $(LIBS_SODIUM)

$(B)/forkcp: $(FORKCP_O)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(FORKCP_O)

$(B)/test_%: $(B)/test_%.o $(CORE_O)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcmocka $(LIBS_SODIUM)

deps:
	@scripts/deps.sh build

deps-check:
	@scripts/deps.sh check

# Build and start the server in the foreground on the lesson's port 8888.
run: deps
	$(MAKE) all
	./$(B)/qund

# Everything CI runs: warnings as errors, unit and black-box tests, then
# the same tests again under AddressSanitizer and UndefinedBehaviorSanitizer.
check: deps-check
	$(MAKE) WERROR=-Werror all $(UNIT:%=$(B)/%)
	$(MAKE) check-unit check-blackbox
	$(MAKE) check-asan
	$(MAKE) format-check
	@echo "make check: all passed"

check-unit: $(UNIT:%=$(B)/%)
	@set -e; for t in $(UNIT); do echo "== $$t"; ./$(B)/$$t; done

check-blackbox: $(PROGS)
	QUN_BUILD=$(abspath $(B)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/blackbox

check-asan:
	$(MAKE) B=$(ASAN_B) WERROR=-Werror CFLAGS="-O1 -g $(SAN)" LDFLAGS="$(SAN)" \
		all $(UNIT:%=$(ASAN_B)/%)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		$(MAKE) B=$(ASAN_B) check-unit check-blackbox

FORMAT_FILES = $(wildcard src/*.c src/*.h tests/unit/*.c bench/*.c)
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@if command -v clang-format >/dev/null; then \
		clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format: clean"; \
	else echo "format-check skipped: clang-format is not installed"; fi

bench: deps
	$(MAKE) all
	sh bench/forkcp.sh $(B)/forkcp
	$(MAKE) bench-qund

# qund under load beside the kernel's ceiling and a Python baseline (docs/PERFORMANCE.md).
# 25 minutes on a shared 2-vCPU VM (docs/PERFORMANCE.md); BENCH_QUICK=1: about 2.5 minutes.
BENCH_PROGS = $(B)/loadgen $(B)/kernel_ceiling $(B)/dropsend.so
bench-qund: all $(BENCH_PROGS)
	$(PYTHON) bench/bench.py --build $(B) $(if $(filter 1,$(BENCH_QUICK)),--quick)

$(B)/loadgen $(B)/kernel_ceiling: $(B)/%: bench/%.c | $(B)
	$(CC) $(QUN_CPPFLAGS) $(QUN_CFLAGS) $(LDFLAGS) -o $@ $< -lm

$(B)/dropsend.so: bench/dropsend.c | $(B)
	$(CC) $(QUN_CPPFLAGS) $(QUN_CFLAGS) -fPIC -shared $(LDFLAGS) -o $@ $< -ldl

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(B)/qun $(B)/forkcp $(DESTDIR)$(BINDIR)/
	install -m 755 $(B)/qund $(DESTDIR)$(SBINDIR)/
	install -m 644 man/qun.1 man/forkcp.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/qund.8 $(DESTDIR)$(MANDIR)/man8/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/qun $(DESTDIR)$(BINDIR)/forkcp $(DESTDIR)$(SBINDIR)/qund \
		$(DESTDIR)$(MANDIR)/man1/qun.1 $(DESTDIR)$(MANDIR)/man1/forkcp.1 \
		$(DESTDIR)$(MANDIR)/man8/qund.8

clean:
	rm -rf build
