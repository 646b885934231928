# fv — feature-visualization renderer: parameterizations (FFTW), transforms, objectives, the
# optimization loop, recipes, and the fv-render tool over the network engine (pipeline/nn).
FV_SRCS := pipeline/fv/fv_param.c pipeline/fv/fv_transform.c \
           pipeline/fv/fv_objective.c pipeline/fv/fv_opt.c pipeline/fv/fv_recipe.c
FV_OBJS := $(call objs,$(FV_SRCS)) $(RNG_OBJS)
FV_LIBS := $(shell pkg-config --libs fftw3f openblas jansson 2>/dev/null) -lpthread -lm
CFLAGS += $(shell pkg-config --cflags fftw3f openblas 2>/dev/null)
# nn's public headers only (nn.h): its internal/ ones are not on this path.
$(OBJ)/pipeline/fv/%.o $(call objs,tests/unit/check_fv.c tests/unit/check_fv_render.c): \
  CPPFLAGS += -Ipipeline/fv -Ipipeline/nn -Ipipeline/png

UNIT_TESTS += $(BIN)/check_fv
$(BIN)/check_fv: $(call objs,tests/unit/check_fv.c) $(FV_OBJS) $(NN_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(FV_LIBS) $(CHECK_LIBS)

# fv-render and its tests need the network engine (pipeline/nn, whose fragment comes first).
FV_RENDER_OBJS := $(call objs,pipeline/fv/fv_render.c) $(FV_OBJS) $(NN_OBJS) $(PNG_OBJS) $(COMMON_OBJS)

TOOLS += $(BIN)/fv-render
$(BIN)/fv-render: $(call objs,pipeline/fv/fv_render_main.c) $(FV_RENDER_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(NN_LIBS) $(FV_LIBS) $(PNG_LIBS)

UNIT_TESTS += $(BIN)/check_fv_render
$(BIN)/check_fv_render: $(call objs,tests/unit/check_fv_render.c) $(FV_RENDER_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(NN_LIBS) $(FV_LIBS) $(PNG_LIBS) $(CHECK_LIBS)
