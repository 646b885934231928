# fuzz — libFuzzer targets for every reader of outside input (see tests/fuzz/README.md).
#
# Each target is built with clang into build/fuzz/, together with the module sources it needs,
# compiled again with clang's coverage instrumentation and ASan + UBSan (never the gcc objects:
# libFuzzer needs its own instrumentation in the code under test).
#
#   make fuzz          runs each target for FUZZ_SECONDS (default 60) on a copy of its corpus
#                      (build/fuzz/corpus/<name>), so the committed corpus stays as it is
#   make fuzz-regress  runs each target once over its committed corpus and regressions
#                      (tests/cli/fuzz.sh does this inside `make test`)
#   make fuzz-build    only builds the targets

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_OUT := build/fuzz
FUZZ_OBJ := $(FUZZ_OUT)/obj
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# clang does not know gcc's "#pragma GCC optimize" (nn_kern.h): not a warning here.
FUZZ_CFLAGS := $(WARN) -Wno-unknown-pragmas -g -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) \
               $(shell pkg-config --cflags openblas 2>/dev/null) -pthread
# the harness reaches into the modules it fuzzes (nn's internal headers too, for its sources)
FUZZ_CPPFLAGS := $(CPPFLAGS) -Ipipeline/luaext -Ipipeline/page -Ipipeline/fv -Ipipeline/png -Ipipeline/asset -Ipipeline/nn \
                 -Ipipeline/nn/internal -Ipipeline/idx -Ipipeline/tsne -DFUZZ_ROOT='"$(CURDIR)"'
FUZZ_LDFLAGS := $(FUZZ_SAN) -fsanitize=fuzzer

# The nn kernels are linked for their symbols only (the targets fuzz the loader, not the kernels);
# their warnings are the gcc build's business, and clang's differ (-Wpsabi on their vector code).
$(patsubst %.c,$(FUZZ_OBJ)/%.o,$(NN_KERN_SRCS)): FUZZ_CFLAGS += -w

fuzz_objs = $(patsubst %.c,$(FUZZ_OBJ)/%.o,$(1))
FUZZ_COMMON := $(call fuzz_objs,$(COMMON_SRCS))

FUZZ_TARGETS := mdext page bib recipe manifest memo png nn_json nn_bin nn_graph idx tsne_io svg
FUZZ_BINS := $(patsubst %,$(FUZZ_OUT)/fuzz_%,$(FUZZ_TARGETS))

# The module sources of each target (katex.c is left out of page: the target has a stub, so
# fuzzing never starts node).
FUZZ_SRCS_mdext := pipeline/page/mdext.c
FUZZ_SRCS_page := pipeline/page/page.c pipeline/page/pipetable.c pipeline/page/frontmatter.c pipeline/page/bib.c \
                  pipeline/page/mdext.c pipeline/page/template.c pipeline/page/url.c
FUZZ_SRCS_bib := pipeline/page/bib.c pipeline/page/url.c
FUZZ_SRCS_recipe := pipeline/fv/fv_recipe.c
FUZZ_SRCS_manifest := pipeline/luaext/fvsys.c pipeline/luaext/canon.c pipeline/luaext/json_decode.c pipeline/luaext/json_encode.c pipeline/luaext/memo.c
FUZZ_SRCS_memo := pipeline/luaext/memo.c
FUZZ_SRCS_png := pipeline/png/png_io.c
FUZZ_SRCS_nn_json := $(NN_SRCS)
FUZZ_SRCS_nn_bin := $(NN_SRCS)
FUZZ_SRCS_nn_graph := $(NN_SRCS)
FUZZ_SRCS_idx := pipeline/idx/idx.c
FUZZ_SRCS_tsne_io := pipeline/tsne/tsne_io.c pipeline/idx/idx.c
FUZZ_SRCS_svg := pipeline/asset/svg.c

FUZZ_LIBS_mdext :=
FUZZ_LIBS_page := $(shell pkg-config --libs libcmark jansson 2>/dev/null)
FUZZ_LIBS_bib :=
FUZZ_LIBS_recipe := $(shell pkg-config --libs jansson 2>/dev/null) -lm
FUZZ_LIBS_manifest := $(shell pkg-config --libs lua5.4 2>/dev/null) -lm
FUZZ_LIBS_memo := $(shell pkg-config --libs lua5.4 2>/dev/null) -lm
FUZZ_LIBS_png := $(shell pkg-config --libs libpng 2>/dev/null)
FUZZ_LIBS_nn_json := $(shell pkg-config --libs jansson openblas 2>/dev/null) -lm
FUZZ_LIBS_nn_bin := $(FUZZ_LIBS_nn_json)
FUZZ_LIBS_nn_graph := $(FUZZ_LIBS_nn_json)
FUZZ_LIBS_idx := $(shell pkg-config --libs zlib 2>/dev/null)
FUZZ_LIBS_tsne_io := $(shell pkg-config --libs zlib 2>/dev/null) -lm
FUZZ_LIBS_svg := $(shell pkg-config --libs libxml-2.0 2>/dev/null) -lm

.SECONDEXPANSION:
$(FUZZ_OUT)/fuzz_%: $(FUZZ_OBJ)/tests/fuzz/fuzz_%.o $$(call fuzz_objs,$$(FUZZ_SRCS_$$*)) $(FUZZ_COMMON)
	@mkdir -p $(dir $@)
	@echo "  FUZZLD  $@"
	$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^ $(FUZZ_LIBS_$*) -pthread

$(FUZZ_OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

.PHONY: fuzz-build
fuzz-build: $(FUZZ_BINS)

# One target at a time (the machine is shared); -jobs is left at 1 for the same reason.
fuzz: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_OUT)/corpus/$$t $(FUZZ_OUT)/crashes/$$t; \
	  cp -n tests/fuzz/corpus/$$t/* $(FUZZ_OUT)/corpus/$$t/ 2>/dev/null; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_OUT)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -artifact_prefix=$(FUZZ_OUT)/crashes/$$t/ -print_final_stats=1 \
	    $(FUZZ_OUT)/corpus/$$t tests/fuzz/corpus/$$t 2>&1 | grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' ; \
	  if [ -n "$$(ls $(FUZZ_OUT)/crashes/$$t)" ]; then echo "fuzz: $$t: findings in $(FUZZ_OUT)/crashes/$$t"; exit 1; fi; \
	done

fuzz-regress: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	  dirs="tests/fuzz/corpus/$$t"; [ -d tests/fuzz/regressions/$$t ] && dirs="$$dirs tests/fuzz/regressions/$$t"; \
	  $(FUZZ_OUT)/fuzz_$$t -runs=0 -artifact_prefix=$(FUZZ_OUT)/ $$dirs >$(FUZZ_OUT)/regress-$$t.log 2>&1 \
	    && echo "fuzz-regress: $$t ok" \
	    || { echo "fuzz-regress: $$t FAILED (see $(FUZZ_OUT)/regress-$$t.log)"; tail -30 $(FUZZ_OUT)/regress-$$t.log; exit 1; }; \
	done

-include $(shell find $(FUZZ_OBJ) -name '*.d' 2>/dev/null)
