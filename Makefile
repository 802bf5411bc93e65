# postern: top-level GNU Makefile.
#
#   make              build everything into build/ (installs missing Debian packages first)
#   make test         build, then run unit and integration tests; ends with "N passed, N failed"
#   make run          start postern in the foreground on conf/postern.conf
#   make bench        postern against Postfix, side by side (bench/results/latest.md)
#   make fuzz         run each libFuzzer target for FUZZ_SECONDS seconds (clang)
#   make soak         the long chaos and slowloris tests
#   make install      PREFIX=/usr/local DESTDIR= : binaries, configuration, systemd unit
#   make deps         install the missing Debian packages only
#   make clean
#
# SANITIZE=address,undefined builds everything with those sanitizers into build-san/.
# Layout rule: in every source folder, main.cpp or *_main.cpp is a program; every other
# .cpp goes into that folder's archive, so unit tests can link any module.

SHELL := /bin/bash
.DEFAULT_GOAL := all

# Build on every core unless told otherwise (make -jN).
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc)
endif

PREFIX ?= /usr/local
DESTDIR ?=
SANITIZE ?=
FUZZ_SECONDS ?= 60
PYTHON ?= /usr/bin/python3
MAIL_OWNER ?= postern

ifeq ($(SANITIZE),)
BUILD ?= build
else
BUILD ?= build-san
endif

# Missing packages are installed before anything is built: pkg-config needs them.
NEEDS_DEPS := $(filter-out clean deps help,$(or $(MAKECMDGOALS),all))
ifneq ($(NEEDS_DEPS),)
ifneq ($(shell scripts/deps.sh --check >/dev/null 2>&1 && echo ok),ok)
$(info postern: some Debian packages are missing; installing them)
DEPS_RESULT := $(shell scripts/deps.sh 1>&2 && echo ok)
ifneq ($(DEPS_RESULT),ok)
$(error scripts/deps.sh failed; run it by hand to see why)
endif
endif
endif

PKGS := libevent libevent_openssl libevent_pthreads openssl libconfig++ libcares
CXX ?= g++
ifeq ($(origin CXX),default)
CXX := g++
endif
CXXSTD := -std=c++20
WARN := -Wall -Wextra -Werror
OPT ?= -O2 -g
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CPPUTEST_CFLAGS := $(shell pkg-config --cflags cpputest 2>/dev/null)
CPPUTEST_LIBS := $(shell pkg-config --libs cpputest 2>/dev/null)
SAN_FLAGS := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all)
# Sanitizer instrumentation confuses g++ 12's flow analysis into false "may be used
# uninitialized" reports (e.g. a std::variant inside a Result); the plain build keeps the check.
SAN_WARN := $(if $(SANITIZE),-Wno-maybe-uninitialized)

CPPFLAGS += -I. -Ilib -D_GNU_SOURCE
CXXFLAGS += $(CXXSTD) $(WARN) $(SAN_WARN) $(OPT) $(SAN_FLAGS) $(PKG_CFLAGS) -MMD -MP
LDFLAGS += $(SAN_FLAGS)
LDLIBS += $(PKG_LIBS) -lpthread

# Source folders, in link order (a folder's archive may use lib/ only).
DAEMONS := master smtpd qmgr smtp
MODULE_DIRS := $(DAEMONS) cli lib

is_main = $(filter main.cpp %_main.cpp,$(notdir $(1)))
srcs_in = $(sort $(wildcard $(1)/*.cpp))
lib_srcs_in = $(foreach f,$(call srcs_in,$(1)),$(if $(call is_main,$(f)),,$(f)))
objs_of = $(patsubst %.cpp,$(BUILD)/obj/%.o,$(1))
archive_of = $(BUILD)/lib/lib$(1).a

LIB_ARCHIVE := $(call archive_of,postern)
LIB_OBJS := $(call objs_of,$(call lib_srcs_in,lib))

# Each daemon: its main, its folder's archive, then lib.
# A program is built once its main source exists.
DAEMON_BINS := $(foreach d,$(DAEMONS),$(if $(wildcard $(d)/main.cpp),$(BUILD)/libexec/postern/$(d)))
CLI_BINS := $(if $(wildcard cli/postern_main.cpp),$(BUILD)/sbin/postern) \
            $(patsubst cli/%_main.cpp,$(BUILD)/bin/%,$(filter-out cli/postern_main.cpp,$(wildcard cli/*_main.cpp)))
BENCH_SRCS := $(wildcard bench/*.cpp)
BENCH_BINS := $(patsubst bench/%.cpp,$(BUILD)/bench/%,$(BENCH_SRCS))
UNIT_SRCS := $(sort $(wildcard tests/unit/*.cpp))
UNIT_BIN := $(BUILD)/tests/unit_tests

ALL_ARCHIVES := $(foreach d,$(DAEMONS) cli,$(call archive_of,$(d))) $(LIB_ARCHIVE)

.PHONY: all test unit run bench fuzz soak install clean deps help check-user
# Object files made through pattern rules are kept (no relinking on every make).
.SECONDARY:
all: $(DAEMON_BINS) $(CLI_BINS) $(BENCH_BINS) check-user

check-user:
	@scripts/ensure-user.sh $(MAIL_OWNER)

# Archives: one per folder.
$(LIB_ARCHIVE): $(LIB_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	$(AR) rcs $@ $^

define folder_archive
$(call archive_of,$(1)): $(call objs_of,$(call lib_srcs_in,$(1)))
	@mkdir -p $$(@D)
	@rm -f $$@
	$$(AR) rcs $$@ $$^
endef
$(foreach d,$(DAEMONS) cli,$(eval $(call folder_archive,$(d))))

define daemon_program
$(BUILD)/libexec/postern/$(1): $(BUILD)/obj/$(1)/main.o $(call archive_of,$(1)) $(LIB_ARCHIVE)
	@mkdir -p $$(@D)
	$$(CXX) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach d,$(DAEMONS),$(eval $(call daemon_program,$(d))))

$(BUILD)/sbin/postern: $(BUILD)/obj/cli/postern_main.o $(call archive_of,cli) $(LIB_ARCHIVE)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/%: $(BUILD)/obj/cli/%_main.o $(call archive_of,cli) $(LIB_ARCHIVE)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIB_ARCHIVE)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/tests/unit/%.o: tests/unit/%.cpp
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) $(CPPUTEST_CFLAGS) -Wno-error=unused-parameter -c -o $@ $<

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c -o $@ $<

$(UNIT_BIN): $(call objs_of,$(UNIT_SRCS)) $(ALL_ARCHIVES)
	@mkdir -p $(@D)
	$(CXX) $(LDFLAGS) -o $@ $(call objs_of,$(UNIT_SRCS)) $(ALL_ARCHIVES) $(LDLIBS) $(CPPUTEST_LIBS)

unit: $(UNIT_BIN)

# make test: unit tests, then the integration tests against the real daemons and peers.
# tests/run.sh prints the one summary line "N passed, N failed" and fails on any failure.
test: all $(UNIT_BIN)
	@POSTERN_BUILD_DIR=$(abspath $(BUILD)) PYTHON=$(PYTHON) tests/run.sh

soak: all
	@POSTERN_BUILD_DIR=$(abspath $(BUILD)) PYTHON=$(PYTHON) POSTERN_SOAK=1 tests/run.sh --soak

run: all
	$(BUILD)/sbin/postern -c conf/postern.conf start --foreground

bench: all
	@POSTERN_BUILD_DIR=$(abspath $(BUILD)) PYTHON=$(PYTHON) bench/run.sh

# Fuzzing: clang with libFuzzer and ASan, in its own build folder.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.cpp)
fuzz:
	@$(MAKE) --no-print-directory BUILD=build-fuzz CXX=clang++ \
	  SAN_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  WARN="-Wall -Wextra -Werror -Wno-unused-command-line-argument" fuzzers
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh build-fuzz

.PHONY: fuzzers
fuzzers: $(patsubst tests/fuzz/%.cpp,$(BUILD)/fuzz/%,$(FUZZ_SRCS))

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(ALL_ARCHIVES)
	@mkdir -p $(@D)
	$(CXX) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

install: all
	PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) BUILD=$(BUILD) MAIL_OWNER=$(MAIL_OWNER) scripts/install.sh

deps:
	scripts/deps.sh

clean:
	rm -rf build build-san build-fuzz

help:
	@sed -n '3,14p' Makefile

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
