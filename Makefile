# tlswatch - one non-recursive Makefile, everything builds into build/.
#
#   make            build all binaries
#   make test       install missing packages, build, run every test
#   make demo       install missing packages, build, run the local demo
#   make bench      benchmarks (printed, not asserted)
#   make SANITIZE=1 test   the same under AddressSanitizer + UBSan

B        := build
PKGS     := openssl libevent libevent_openssl libprotobuf-c jansson yaml-0.1 libpq libcurl
TESTPKGS := criterion

CC       ?= cc
OPT      ?= -O2
CFLAGS   ?=
WARN     := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wformat=2 -Wstrict-prototypes
BASECFLAGS = -std=gnu11 $(OPT) -g $(WARN) -I$(B)/gen -Icommon -Iprobe -Icollector \
             $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS      = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
TESTLIBS  = $(shell pkg-config --libs $(TESTPKGS) 2>/dev/null)

ifeq ($(SANITIZE),1)
BASECFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDSAN      := -fsanitize=address,undefined
B          := build/san
endif

ALLCFLAGS = $(BASECFLAGS) $(CFLAGS)

PROTO_C  := $(B)/gen/tlswatch.pb-c.c
PROTO_H  := $(B)/gen/tlswatch.pb-c.h

COMMON_SRC := $(wildcard common/*.c)
PROBE_SRC  := $(filter-out probe/main.c,$(wildcard probe/*.c))
LIB_OBJ    := $(patsubst %.c,$(B)/obj/%.o,$(COMMON_SRC) $(PROBE_SRC)) $(B)/obj/gen/tlswatch.pb-c.o
# collector objects use their own prefixes (col_, db_, srv_...) so that test
# binaries can link both libraries.
COLL_SRC   := $(filter-out collector/main.c,$(wildcard collector/*.c))
COLL_OBJ   := $(patsubst %.c,$(B)/obj/%.o,$(COLL_SRC)) $(B)/obj/gen/sql_migrations.o
SQL_SRC    := $(sort $(wildcard sql/[0-9]*.sql))

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
LIBS_ALL    = $(B)/libtwcollector.a $(B)/libtwprobe.a

.PHONY: all deps test unit integration demo bench clean check-banned
.SECONDARY:

all: $(PROBE_BIN) $(COLL_BIN)

deps:
	@sh scripts/deps.sh

$(PROTO_C) $(PROTO_H): proto/tlswatch.proto
	@mkdir -p $(B)/gen
	protoc-c --proto_path=proto --c_out=$(B)/gen proto/tlswatch.proto

$(B)/gen/sql_migrations.c: $(SQL_SRC) scripts/embed-sql.py
	@mkdir -p $(B)/gen
	python3 scripts/embed-sql.py $@ $(SQL_SRC)

$(B)/obj/gen/sql_migrations.o: $(B)/gen/sql_migrations.c collector/sql_migrations.h
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -c -o $@ $<

$(B)/obj/gen/tlswatch.pb-c.o: $(PROTO_C)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -w -c -o $@ $<

$(B)/obj/%.o: %.c $(PROTO_H) $(wildcard common/*.h probe/*.h collector/*.h tests/harness/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -c -o $@ $<

$(B)/libtwprobe.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/libtwcollector.a: $(COLL_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(PROBE_BIN): $(B)/obj/probe/main.o $(B)/libtwprobe.a
	$(CC) $(LDSAN) -o $@ $^ $(LIBS)

$(COLL_BIN): $(B)/obj/collector/main.o $(LIBS_ALL)
	$(CC) $(LDSAN) -o $@ $^ $(LIBS)

$(B)/tests/%: tests/unit/%.c $(LIBS_ALL) $(HARNESS_OBJ) $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -Itests/harness $(LDSAN) -o $@ $< $(HARNESS_OBJ) $(LIBS_ALL) $(LIBS) $(TESTLIBS)

$(B)/tests/%: tests/integration/%.c $(LIBS_ALL) $(HARNESS_OBJ) $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -Itests/harness $(LDSAN) -o $@ $< $(HARNESS_OBJ) $(LIBS_ALL) $(LIBS) $(TESTLIBS)

$(B)/bench/%: bench/%.c $(LIBS_ALL) $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) $(LDSAN) -o $@ $< $(LIBS_ALL) $(LIBS)

# `make test` = deps, build, run. The sub-make keeps pkg-config lookups after
# the packages are installed.
test: deps
	@sh scripts/check-banned.sh
	@$(MAKE) --no-print-directory tests-build
	@TW_BUILD=$(B) sh tests/run.sh $(UNIT_BIN) $(INTEG_BIN)

tests-build: $(PROBE_BIN) $(COLL_BIN) $(UNIT_BIN) $(INTEG_BIN)

unit: $(UNIT_BIN)
	@TW_BUILD=$(B) sh tests/run.sh $(UNIT_BIN)

integration: $(PROBE_BIN) $(COLL_BIN) $(INTEG_BIN)
	@TW_BUILD=$(B) sh tests/run.sh $(INTEG_BIN)

demo: deps
	@$(MAKE) --no-print-directory all
	@TW_BUILD=$(B) sh deploy/demo/demo.sh

bench: deps
	@$(MAKE) --no-print-directory OPT=-O2 all $(BENCH_BIN)
	@TW_BUILD=$(B) sh bench/run.sh

check-banned:
	@sh scripts/check-banned.sh

clean:
	rm -rf build
