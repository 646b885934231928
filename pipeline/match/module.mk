# match — do two networks learn the same units? Correlations of one layer's units across two
# networks and their optimal one-to-one matching (fv-match), on the tsne module's LAPJV
# (tsne_grid.h) and feature reader (tsne_io.h); OpenBLAS dgemm for the correlations. The tsne
# fragment comes after this one (name order), so its objects are named by path.
MATCH_OBJS := $(call objs,pipeline/match/match.c)
MATCH_DEPS := $(MATCH_OBJS) $(call objs,pipeline/tsne/tsne_grid.c pipeline/tsne/tsne_io.c pipeline/idx/idx.c) \
              $(COMMON_OBJS)
MATCH_LIBS = $(shell pkg-config --libs openblas jansson 2>/dev/null) $(IDX_LIBS) -lm
$(OBJ)/pipeline/match/%.o $(call objs,tests/unit/check_match.c): \
  CPPFLAGS += -Ipipeline/match -Ipipeline/tsne $(shell pkg-config --cflags openblas 2>/dev/null)

TOOLS += $(BIN)/fv-match
$(BIN)/fv-match: $(call objs,pipeline/match/match_main.c) $(MATCH_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(MATCH_LIBS)

UNIT_TESTS += $(BIN)/check_match
$(BIN)/check_match: $(call objs,tests/unit/check_match.c) $(MATCH_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(MATCH_LIBS) $(CHECK_LIBS)
