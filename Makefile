# tlswatch - one non-recursive Makefile, everything builds into build/.
#
#   make            build all binaries
#   make test       install missing packages, build, run every test
#   make demo       install missing packages, build, run the local demo
#   make test-netns the demo's namespace + netem mode, in a VM (tests/vm/)
#   make bench      benchmarks (printed, not asserted)
#   make bench-quick  the ingest bench only, small (about a minute; BENCHMARKS.md)
#   make bench-quick-api  the API's SLI reads, small (about 2 minutes)
#   make fuzz       libFuzzer targets (clang) into build/fuzz/
#   make fuzz-smoke each fuzz target for FUZZ_SECONDS (30) from its committed corpus
#   make soak       the kill soak, long (SOAK_SECONDS=600); make soak-load: 10 min load
#   make check      source checks: banned functions, include cycles, symbol prefixes
#   make install    binaries, systemd units, sysusers/tmpfiles, example configs
#                   (PREFIX=/usr/local, DESTDIR=; see scripts/install.sh --help)
#   make SANITIZE=1 test   the same under AddressSanitizer + UBSan
#
# Three libraries: libtwcommon.a (common/ + the generated protobuf code),
# libtwprobe.a (probe/ only), libtwcollector.a (collector/ only). Each
# daemon links its own library and common, nothing else. Include paths are
# per directory: a collector source cannot even find a probe header.

B        := build
PKGS     := openssl libevent libevent_openssl libprotobuf-c jansson yaml-0.1 libpq libcurl cairo fontconfig
TESTPKGS := criterion

CC       ?= cc
OPT      ?= -O2
CFLAGS   ?=
WARN     := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wformat=2 -Wstrict-prototypes

# pkg-config, asked once and only when a recipe needs the flags: `make deps`,
# `make clean` and the outer make of `make test` (which installs packages and
# then runs a sub-make) never ask. A package pkg-config does not know stops
# the build with its name instead of compiling with silently empty flags.
pkg_missing = $(strip $(foreach p,$(1),$(if $(shell pkg-config --exists $(p) && echo y),,$(p))))
pkg_flags = $(if $(call pkg_missing,$(2)),$(error pkg-config cannot find: $(call pkg_missing,$(2)) \
	(run `make deps`, or install its -dev package)),$(shell pkg-config $(1) $(2)))
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(call pkg_flags,--cflags,$$(PKGS)))$(PKG_CFLAGS)
LIBS       = $(eval LIBS := $$(call pkg_flags,--libs,$$(PKGS)) -lm)$(LIBS)
TESTLIBS   = $(eval TESTLIBS := $$(call pkg_flags,--libs,$$(TESTPKGS)))$(TESTLIBS)

ifeq ($(SANITIZE),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDSAN    := -fsanitize=address,undefined
B        := build/san
endif

# -MMD -MP: each object records the headers it really included (.d files,
# read back below), so touching a header rebuilds only its users.
DEPFLAGS   = -MMD -MP
ALLCFLAGS  = -std=gnu11 $(OPT) -g $(WARN) $(SANFLAGS) -I$(B)/gen $(INC) $(PKG_CFLAGS) $(CFLAGS)

# Per-directory include paths (pattern-specific variables: where several
# patterns match, the most specific one, with the shortest stem, wins).
INC_ALL := -Icommon -Iprobe -Icollector -Itests/harness
$(B)/obj/common/%.o:    INC := -Icommon
$(B)/obj/probe/%.o:     INC := -Iprobe -Icommon
$(B)/obj/collector/%.o: INC := -Icollector -Icommon
$(B)/obj/gen/%.o:       INC := -Icommon -Icollector
$(B)/obj/tests/%.o:     INC := $(INC_ALL)
$(B)/tests/%:           INC := $(INC_ALL)
$(B)/bench/%:           INC := $(INC_ALL)

PROTO_C  := $(B)/gen/tlswatch.pb-c.c
PROTO_H  := $(B)/gen/tlswatch.pb-c.h

COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(COMMON_SRC)) $(B)/obj/gen/tlswatch.pb-c.o
PROBE_SRC  := $(filter-out probe/main.c,$(wildcard probe/*.c))
PROBE_OBJ  := $(patsubst %.c,$(B)/obj/%.o,$(PROBE_SRC))
COLL_SRC   := $(filter-out collector/main.c,$(wildcard collector/*.c))
COLL_OBJ   := $(patsubst %.c,$(B)/obj/%.o,$(COLL_SRC)) $(B)/obj/gen/sql_migrations.o
COLL_OBJ   += $(B)/obj/gen/api_openapi.o
SQL_SRC    := $(sort $(wildcard sql/[0-9]*.sql))
# the dashboard's static files, embedded by scripts/embed-web.py (collector/web.h)
WEB_SRC    := $(sort $(wildcard collector/web/*))
COLL_OBJ   += $(B)/obj/gen/web_assets.o

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
INTEG_SRC  := $(wildcard tests/integration/test_*.c)
HARNESS_SRC:= $(wildcard tests/harness/*.c)
HARNESS_OBJ:= $(patsubst %.c,$(B)/obj/%.o,$(HARNESS_SRC))
UNIT_BIN   := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
INTEG_BIN  := $(patsubst tests/integration/%.c,$(B)/tests/%,$(INTEG_SRC))
BENCH_SRC  := $(wildcard bench/*.c)
BENCH_BIN  := $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRC))

PROBE_BIN  := $(B)/tlswatch-probe
COLL_BIN   := $(B)/tlswatch-collector
DEMO_RELAY := $(B)/tlswatch-demo-relay
LIB_COMMON := $(B)/libtwcommon.a
LIB_PROBE  := $(B)/libtwprobe.a
LIB_COLL   := $(B)/libtwcollector.a
# tests and benchmarks may use everything; common last, both others need it
LIBS_ALL   := $(LIB_COLL) $(LIB_PROBE) $(LIB_COMMON)

.PHONY: bench-quick
.PHONY: all deps test tests-build unit integration demo bench fuzz check check-banned check-symbols install \
	check-includes clean
.SECONDARY:

all: $(PROBE_BIN) $(COLL_BIN)

deps:
	@sh scripts/deps.sh

# One protoc-c run makes both files (a grouped target: under -j two plain
# targets would run it twice, racing on the same outputs).
$(PROTO_C) $(PROTO_H) &: proto/tlswatch.proto
	@mkdir -p $(B)/gen
	protoc-c --proto_path=proto --c_out=$(B)/gen proto/tlswatch.proto

$(B)/gen/sql_migrations.c: $(SQL_SRC) scripts/embed-sql.py
	@mkdir -p $(B)/gen
	python3 scripts/embed-sql.py $@ $(SQL_SRC)

$(B)/obj/gen/sql_migrations.o: $(B)/gen/sql_migrations.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) $(DEPFLAGS) -c -o $@ $<

# the directory too: removing a file changes only its mtime
$(B)/gen/web_assets.c: $(WEB_SRC) collector/web scripts/embed-web.py
	@mkdir -p $(B)/gen
	python3 scripts/embed-web.py $@ $(WEB_SRC)

$(B)/obj/gen/web_assets.o: $(B)/gen/web_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) $(DEPFLAGS) -c -o $@ $<

# the API's OpenAPI document, served at /api/v1/openapi.json
$(B)/gen/api_openapi.c: collector/openapi.json scripts/embed-file.py
	@mkdir -p $(B)/gen
	python3 scripts/embed-file.py $@ api_openapi_json collector/openapi.json

$(B)/obj/gen/api_openapi.o: $(B)/gen/api_openapi.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) $(DEPFLAGS) -c -o $@ $<

$(B)/obj/gen/tlswatch.pb-c.o: $(PROTO_C)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) $(DEPFLAGS) -w -c -o $@ $<

# The generated header must exist before the first compile (no .d file yet
# says who includes it); order-only, so regenerating it rebuilds only the
# objects whose .d lists it.
$(B)/obj/%.o: %.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) $(DEPFLAGS) -c -o $@ $<

$(LIB_COMMON): $(COMMON_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIB_PROBE): $(PROBE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIB_COLL): $(COLL_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(PROBE_BIN): $(B)/obj/probe/main.o $(LIB_PROBE) $(LIB_COMMON)
	$(CC) $(LDSAN) -o $@ $^ $(LIBS)

$(COLL_BIN): $(B)/obj/collector/main.o $(LIB_COLL) $(LIB_COMMON)
	$(CC) $(LDSAN) -o $@ $^ $(LIBS)

# Test and bench binaries compile and link in one step; -MF/-MT name their
# .d file and its target explicitly. The sed takes the test's own source out
# of its .d (the pattern rule already depends on it): a test that moves
# between tests/unit and tests/integration must not leave its old path behind
# as a prerequisite make cannot find.
DROP_SRC = @sed -i 's| $<||' $@.d
# Unit tests link no harness (no daemons, servers or binaries started):
# from the archives, only the objects the module under test needs.
$(B)/tests/%: tests/unit/%.c $(LIBS_ALL) | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -MMD -MP -MF $@.d -MT $@ $(LDSAN) -o $@ $< $(LIBS_ALL) \
		$(LIBS) $(TESTLIBS)
	$(DROP_SRC)

$(B)/tests/%: tests/integration/%.c $(LIBS_ALL) $(HARNESS_OBJ) | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -MMD -MP -MF $@.d -MT $@ $(LDSAN) -o $@ $< $(HARNESS_OBJ) $(LIBS_ALL) \
		$(LIBS) $(TESTLIBS)
	$(DROP_SRC)

$(B)/bench/%: bench/%.c $(LIBS_ALL) | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -MMD -MP -MF $@.d -MT $@ $(LDSAN) -o $@ $< $(LIBS_ALL) $(LIBS)
	$(DROP_SRC)

# `make test` = deps, build, run. The sub-make keeps pkg-config lookups after
# the packages are installed.
test: deps
	@sh scripts/check-banned.sh
	@python3 scripts/check-includes.py
	@$(MAKE) --no-print-directory tests-build
	@sh scripts/check-symbols.sh $(B)
	@TW_BUILD=$(B) sh tests/run.sh $(UNIT_BIN) $(INTEG_BIN)

tests-build: $(PROBE_BIN) $(COLL_BIN) $(DEMO_RELAY) $(UNIT_BIN) $(INTEG_BIN)

unit: $(UNIT_BIN)
	@TW_BUILD=$(B) sh tests/run.sh $(UNIT_BIN)

integration: $(PROBE_BIN) $(COLL_BIN) $(INTEG_BIN)
	@TW_BUILD=$(B) sh tests/run.sh $(INTEG_BIN)

# The demo: only its own packages (deploy/demo/deps.sh), a quiet build
# (errors still show), then the script; it stops everything on Ctrl-C.
$(DEMO_RELAY): INC := -Icommon
$(DEMO_RELAY): deploy/demo/relay.c deploy/demo/relay_map.c $(LIB_COMMON) | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -MMD -MP -MF $@.d -MT $@ $(LDSAN) -o $@ $(filter %.c,$^) $(LIB_COMMON) $(LIBS)

demo:
	@sh deploy/demo/deps.sh
	@echo "demo: building..."
	@$(MAKE) -s --no-print-directory all $(DEMO_RELAY)
	@# job control on a terminal: the demo runs as its own foreground process
	@# group, so a Ctrl-C reaches it (it stops everything, exits 0), not make
	@if [ -t 0 ]; then set -m; fi; TW_BUILD=$(B) sh deploy/demo/demo.sh

# The demo's namespace + netem mode, in a VM whose kernel has netem (this
# machine's has none): tests/vm/run-in-vm.sh boots Debian's kernel on this
# machine's own files. Not part of `make test` (a few minutes).
.PHONY: test-netns
test-netns: deps $(PROBE_BIN) $(COLL_BIN) $(DEMO_RELAY) $(B)/tests/test_demo
	@sh tests/vm/run-in-vm.sh --timeout 900 env TW_BUILD=$(B) sh tests/vm/test-netns.sh

bench: deps
	@$(MAKE) --no-print-directory OPT=-O2 all $(BENCH_BIN)
	@TW_BUILD=$(B) sh bench/run.sh

# ingest lines (deploy, adversarial) vs \copy and INSERT, 40,000 results each
.PHONY: bench-quick
bench-quick: deps
	@$(MAKE) --no-print-directory OPT=-O2 $(B)/tlswatch-collector $(B)/bench/bench_ingest
	@BENCH_INGEST_N=$${BENCH_INGEST_N:-40000} BENCH_INGEST_INSERT_N=$${BENCH_INGEST_INSERT_N:-5000} \
		TW_BUILD=$(B) sh bench/ingest.sh

# the API's SLI reads at small sizes (bench/api.sh, BENCH_QUICK=1; about 2 minutes)
.PHONY: bench-quick-api
bench-quick-api: deps
	@$(MAKE) --no-print-directory OPT=-O2 all $(BENCH_BIN)
	@BENCH_QUICK=1 TW_BUILD=$(B) sh bench/api.sh

check: check-banned check-includes check-symbols

# every extern symbol carries its file's prefix (reads the built objects)
check-symbols: $(PROBE_BIN) $(COLL_BIN)
	@sh scripts/check-symbols.sh $(B)

check-banned:
	@sh scripts/check-banned.sh

check-includes:
	@python3 scripts/check-includes.py

# ---- fuzzing (clang + libFuzzer) ----
# Every library object is rebuilt with coverage and sanitizers into
# build/fuzz/obj, so the fuzzer sees (and checks) all the code it reaches.
FZ        := build/fuzz
FUZZ_CC   ?= clang
FUZZ_SAN  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_CFLAGS = -std=gnu11 -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link -I$(B)/gen $(INC) $(PKG_CFLAGS)
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  := $(patsubst tests/fuzz/%.c,$(FZ)/%,$(FUZZ_SRC))
FUZZ_LIBS := $(FZ)/libtwcollector.a $(FZ)/libtwprobe.a $(FZ)/libtwcommon.a

$(FZ)/obj/common/%.o:    INC := -Icommon
$(FZ)/obj/probe/%.o:     INC := -Iprobe -Icommon
$(FZ)/obj/collector/%.o: INC := -Icollector -Icommon
$(FZ)/obj/gen/%.o:       INC := -Icommon -Icollector
$(FZ)/%:                 INC := $(INC_ALL)

fuzz: $(FUZZ_BIN)

# 5 targets x 20 s, two at a time: ~1 min plus ~2.5 min of fuzz build, run by
# .ci/run after `make test` (kept out of it so that `make test` stays near 12
# minutes on 2 cores); the fuzz build always has ASan and UBSan
FUZZ_SECONDS      ?= 30
.PHONY: fuzz-smoke soak soak-load
fuzz-smoke: $(FUZZ_BIN)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/smoke.sh $(FUZZ_BIN)

# The long runs of the proof suite (issue 12); `make test` runs short ones.
SOAK_SECONDS ?= 600
soak: $(PROBE_BIN) $(COLL_BIN) $(B)/tests/test_soak
	@TW_SOAK_SECONDS=$(SOAK_SECONDS) TW_BUILD=$(B) sh tests/run.sh $(B)/tests/test_soak
soak-load: $(COLL_BIN) $(B)/tests/test_load
	@TW_LOAD_SECONDS=$(SOAK_SECONDS) TW_BUILD=$(B) sh tests/run.sh $(B)/tests/test_load

$(FZ)/obj/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEPFLAGS) -w -c -o $@ $<

$(FZ)/obj/%.o: %.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEPFLAGS) -c -o $@ $<

$(FZ)/libtwcommon.a: $(patsubst $(B)/obj/%,$(FZ)/obj/%,$(COMMON_OBJ))
$(FZ)/libtwprobe.a: $(patsubst $(B)/obj/%,$(FZ)/obj/%,$(PROBE_OBJ))
$(FZ)/libtwcollector.a: $(patsubst $(B)/obj/%,$(FZ)/obj/%,$(COLL_OBJ))
$(FUZZ_LIBS):
	@rm -f $@
	ar rcs $@ $^

$(FZ)/%: tests/fuzz/%.c $(FUZZ_LIBS) | $(PROTO_H)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -MF $@.d -MT $@ -o $@ $< \
		$(FUZZ_LIBS) $(LIBS)

PREFIX ?= /usr/local
install: $(PROBE_BIN) $(COLL_BIN)
	@sh scripts/install.sh PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) BUILD=$(B)

clean:
	rm -rf build

# Header dependencies recorded by -MMD (absent before the first build).
-include $(shell find $(B) $(FZ) -name '*.d' 2>/dev/null)
