# fmnist — the pipeline's own Fashion-MNIST classifier: training (fv-train) and dataset examples
# (fv-examples), over the nn engine's kernels and the idx reader. The nn fragment is read before
# every other (Makefile), so NN_OBJS is defined here; the idx fragment comes after this one (name
# order), so its object is named by path. The *_LIBS are expanded when the link runs, after every
# fragment has been read.
FMNIST_OBJS := $(call objs,pipeline/fmnist/fmnist_data.c pipeline/fmnist/fmnist_net.c \
               pipeline/fmnist/fmnist_pass.c pipeline/fmnist/fmnist_train.c pipeline/fmnist/fmnist_export.c \
               pipeline/fmnist/examples.c)
FMNIST_DEPS := $(FMNIST_OBJS) $(NN_OBJS) $(call objs,pipeline/idx/idx.c) \
               $(PNG_OBJS) $(RNG_OBJS) $(COMMON_OBJS)
FMNIST_LINK = $(NN_LIBS) $(IDX_LIBS) $(PNG_LIBS) $(shell pkg-config --libs jansson 2>/dev/null) -lm
# nn's public headers only (nn.h, nn_train.h): its internal/ ones are not on this path.
$(OBJ)/pipeline/fmnist/%.o $(call objs,tests/unit/check_fmnist.c): \
  CPPFLAGS += -Ipipeline/fmnist -Ipipeline/nn -Ipipeline/idx -Ipipeline/png
# Adam's sqrtf vectorizes only without errno (nothing here reads errno after a math call).
$(call objs,pipeline/fmnist/fmnist_train.c): CFLAGS += -fno-math-errno

TOOLS += $(BIN)/fv-train $(BIN)/fv-examples
$(BIN)/fv-train: $(call objs,pipeline/fmnist/train_main.c) $(FMNIST_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(FMNIST_LINK)

$(BIN)/fv-examples: $(call objs,pipeline/fmnist/examples_main.c) $(FMNIST_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(FMNIST_LINK)

UNIT_TESTS += $(BIN)/check_fmnist
$(BIN)/check_fmnist: $(call objs,tests/unit/check_fmnist.c) $(FMNIST_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(FMNIST_LINK) $(CHECK_LIBS)

# fv-mosaic: the t-SNE grid of test images, tinted by class.
TOOLS += $(BIN)/fv-mosaic
$(BIN)/fv-mosaic: $(call objs,pipeline/fmnist/mosaic_main.c pipeline/fmnist/mosaic.c pipeline/idx/idx.c) $(PNG_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(IDX_LIBS) $(PNG_LIBS)
