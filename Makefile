# The two commands a user needs: `make article` and `make test`. Each first runs the set-up
# (pipeline/setup.sh: Debian and npm packages), then builds the tools, then does its job.
#
# C modules live in pipeline/<module>/ with a module.mk fragment each; a fragment appends to
# TOOLS (executables in $(BIN)), UNIT_TESTS (Check suites) and declares its own link lines.
# VARIANT=asan builds everything with AddressSanitizer + UBSan into build/asan/.

VARIANT ?= release
CC ?= gcc
LUA ?= lua5.4
JOBS ?= $(shell nproc)

ifeq ($(VARIANT),asan)
  OPT = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDOPT = -fsanitize=address,undefined
else
  OPT = -O2 -g
  LDOPT =
endif

OUT := build/$(VARIANT)
OBJ := $(OUT)/obj
BIN := $(OUT)/bin

PKGS := libcmark jansson libpng lua5.4 check zlib libxml-2.0
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
WARN := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
# Include paths: pipeline/common (and tests/unit's check_run.h) for everyone; each module's
# fragment gives its own objects (and its unit tests') -Ipipeline/<itself> plus the public
# directories of what it depends on, so a module reaches only the headers it may use.
CPPFLAGS += -D_GNU_SOURCE -Ipipeline/common -Itests/unit
# No path of the checkout in the binaries (debug info names sources relative to it): the same
# sources give the same tools, and so the same cache keys, wherever they are built.
CFLAGS := $(WARN) $(OPT) $(PKG_CFLAGS) -MMD -MP -ffile-prefix-map=$(CURDIR)=.
LDFLAGS := $(LDOPT)

TOOLS :=
UNIT_TESTS :=
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

# objs(sources): the object files of a list of sources in this variant.
objs = $(patsubst %.c,$(OBJ)/%.o,$(1))

COMMON_SRCS := pipeline/common/util.c pipeline/common/sha256.c pipeline/common/pool.c
COMMON_SRCS += pipeline/common/fvf.c pipeline/common/outdir.c pipeline/common/budget.c
COMMON_OBJS := $(call objs,$(COMMON_SRCS))
# The common rng needs libm, so only the modules that draw random numbers (fv, fmnist, tsne) link it.
RNG_OBJS := $(call objs,pipeline/common/rng.c)
# png_io is shared by several modules, so it is defined here, before the fragments that use it.
PNG_OBJS := $(call objs,pipeline/png/png_io.c)
PNG_LIBS := $(shell pkg-config --libs libpng 2>/dev/null)
$(OBJ)/pipeline/png/%.o $(call objs,tests/unit/check_png_io.c): CPPFLAGS += -Ipipeline/png

# Fragments in dependency order: the engine first (the renderer and the trainer link its objects,
# and prerequisites are expanded when a fragment is read).
FRAGMENTS := pipeline/nn/module.mk $(filter-out pipeline/nn/module.mk,$(sort $(wildcard pipeline/*/module.mk)))
include $(FRAGMENTS)

UNIT_TESTS += $(BIN)/check_rng $(BIN)/check_fvf $(BIN)/check_outdir
$(BIN)/check_rng: $(call objs,tests/unit/check_rng.c) $(RNG_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) -lm
$(BIN)/check_fvf: $(call objs,tests/unit/check_fvf.c) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS)
$(BIN)/check_outdir: $(call objs,tests/unit/check_outdir.c) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS)
UNIT_TESTS += $(BIN)/check_budget
$(BIN)/check_budget: $(call objs,tests/unit/check_budget.c) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS)

UNIT_TESTS += $(BIN)/check_util
$(BIN)/check_util: $(call objs,tests/unit/check_util.c) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS)

UNIT_TESTS += $(BIN)/check_pool
$(BIN)/check_pool: $(call objs,tests/unit/check_pool.c) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) -pthread

include tests/fuzz/fuzz.mk

.PHONY: atlas setup tools article test bench asan-test serve clean lint leakcheck help fuzz fuzz-regress publish
.DEFAULT_GOAL := help

help:
	@echo "make article   set up, build the tools, render everything into build/article/"
	@echo "               (FARM=slurm: run the jobs on a Slurm cluster; ARGS=... more build.lua options)"
	@echo "make atlas     every channel of every layer into build/atlas/ (LAYERS=..., DRY_RUN=1, FARM=slurm)"
	@echo "make test      set up, build the tools, run every test"
	@echo "make bench     run the benchmarks against their peers (NAME=<name> for one)"
	@echo "make asan-test run the unit and CLI tests under AddressSanitizer + UBSan"
	@echo "make fuzz      run each libFuzzer target for FUZZ_SECONDS (default 60); fuzz-regress: replay corpus + regressions"
	@echo "make serve     serve build/article/ on 127.0.0.1:8000, rebuild and reload on edits (PORT=, HOST=)"
	@echo "make publish   build, check the site, commit it to BRANCH (gh-pages) of REMOTE (FORCE=1, CNAME=, SITE=)"

setup:
	@bash pipeline/setup.sh

tools: $(TOOLS)

# Sub-make after setup, so that pkg-config sees the packages the set-up just installed.
article: setup
	@$(MAKE) --no-print-directory tools
	@$(LUA) build.lua --jobs $(JOBS) $(if $(FARM),--farm $(FARM)) $(ARGS)

# The atlas (atlas/atlas.lua): its own output, never part of `make article`.
atlas: setup
	@$(MAKE) --no-print-directory tools
	@$(LUA) build.lua --atlas --jobs $(JOBS) $(if $(FARM),--farm $(FARM)) $(if $(LAYERS),--layers '$(LAYERS)') $(if $(DRY_RUN),--dry-run) $(ARGS)

test: setup
	@$(MAKE) --no-print-directory tools $(UNIT_TESTS)
	@bash tests/run.sh $(OUT)

asan-test: setup
	@$(MAKE) --no-print-directory VARIANT=asan tools
	@$(MAKE) --no-print-directory VARIANT=asan $(subst build/release/,build/asan/,$(UNIT_TESTS))
	@bash tests/run.sh build/asan

leakcheck: setup
	@$(MAKE) --no-print-directory tools $(UNIT_TESTS)
	@LEAKCHECK=1 bash tests/run.sh $(OUT)

bench: setup
	@$(MAKE) --no-print-directory tools
	@bash tests/bench/run.sh $(OUT) $(NAME)

serve: setup
	@$(MAKE) --no-print-directory tools
	@bash pipeline/serve.sh

# REMOTE, BRANCH, FORCE, CNAME and SITE reach the script through the environment.
publish: setup
	@$(MAKE) --no-print-directory tools
	@REMOTE='$(REMOTE)' BRANCH='$(or $(BRANCH),gh-pages)' FORCE='$(FORCE)' CNAME='$(CNAME)' SITE='$(SITE)' \
	  bash pipeline/publish.sh --jobs $(JOBS) $(if $(FARM),--farm $(FARM)) $(ARGS)

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --suppress=missingIncludeSystem -Ipipeline/common pipeline

clean:
	rm -rf build/release build/asan

# fv_opt.c's Adam loop vectorizes only with the dynamic cost model and a sqrtf that does not set
# errno (its argument is never negative); fv_transform.c's bilinear taps and fv_param.c's sigmoid
# with that cost model (the sigmoid's clamps also need no-trapping-math to become selects, and its
# rintf no-math-errno; nothing reads floating-point exception flags); fv_objective.c's passes over
# the diversity term's Gram matrices with that cost model.
$(OBJ)/pipeline/fv/fv_opt.o: CFLAGS += -fvect-cost-model=dynamic -fno-math-errno
$(OBJ)/pipeline/fv/fv_transform.o: CFLAGS += -fvect-cost-model=dynamic
$(OBJ)/pipeline/fv/fv_param.o: CFLAGS += -fvect-cost-model=dynamic -fno-trapping-math -fno-math-errno
$(OBJ)/pipeline/fv/fv_objective.o: CFLAGS += -fvect-cost-model=dynamic

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# Quiet by default (errors still show); `make V=1` prints every command.
ifneq ($(V),1)
.SILENT:
endif

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
