# tsne — t-SNE (exact, and FFT-accelerated as in FIt-SNE with B-spline interpolation), PCA,
# exact kNN, grid snapping (LAPJV), feature-file I/O; tools fv-tsne and fv-gridsnap.
# OpenBLAS (sgemm/ssyrk, LAPACK dsyevr; single-threaded, called per block), FFTW (single
# precision), the common pool (pool.h) for every parallel loop. OpenMP only for its simd pragmas
# (-fopenmp-simd: no runtime, no threads).
TSNE_SRCS := pipeline/tsne/tsne.c pipeline/tsne/tsne_fft.c pipeline/tsne/tsne_knn.c pipeline/tsne/tsne_pca.c \
             pipeline/tsne/tsne_io.c pipeline/tsne/tsne_grid.c
TSNE_OBJS := $(call objs,$(TSNE_SRCS))
TSNE_GRID_OBJS := $(call objs,pipeline/tsne/tsne_grid.c)
TSNE_LIBS := $(shell pkg-config --libs fftw3f openblas jansson 2>/dev/null) -pthread -lm
$(OBJ)/pipeline/tsne/%.o $(call objs,tests/unit/check_tsne.c tests/unit/check_tsne_grid.c): \
  CPPFLAGS += -Ipipeline/tsne -Ipipeline/idx
$(TSNE_OBJS) $(call objs,pipeline/tsne/tsne_main.c tests/unit/check_tsne.c): \
  CFLAGS += -fopenmp-simd $(shell pkg-config --cflags fftw3f openblas 2>/dev/null)

TOOLS += $(BIN)/fv-tsne $(BIN)/fv-gridsnap
$(BIN)/fv-tsne: $(call objs,pipeline/tsne/tsne_main.c) $(TSNE_OBJS) $(IDX_OBJS) $(RNG_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(TSNE_LIBS) $(IDX_LIBS)

$(BIN)/fv-gridsnap: $(call objs,pipeline/tsne/gridsnap_main.c) $(TSNE_OBJS) $(IDX_OBJS) $(RNG_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(TSNE_LIBS) $(IDX_LIBS)

UNIT_TESTS += $(BIN)/check_tsne_grid
$(BIN)/check_tsne_grid: $(call objs,tests/unit/check_tsne_grid.c) $(TSNE_GRID_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lm $(CHECK_LIBS)

UNIT_TESTS += $(BIN)/check_tsne
$(BIN)/check_tsne: $(call objs,tests/unit/check_tsne.c) $(TSNE_OBJS) $(IDX_OBJS) $(RNG_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(TSNE_LIBS) $(IDX_LIBS) $(CHECK_LIBS)
