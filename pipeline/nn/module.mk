# nn — the neural-network engine (TF.js graph models, forward + input gradient) and fv-nn.
# OpenBLAS for sgemm, or for training AMX tiles (nn_amx) or AVX512-BF16 vectors (nn_bf16) where
# the CPU has them; the common pool (pool.h) for the engine's loops. The kernels (nn_ops.h) are
# one file per kind of op.
NN_KERN_SRCS := pipeline/nn/nn_conv.c pipeline/nn/nn_dwconv.c pipeline/nn/nn_eltwise.c pipeline/nn/nn_pool2d.c \
                pipeline/nn/nn_loss.c
# The engine: model.json + weights (nn_load), graph queries (nn_model), the planner (nn_plan,
# nn_fuse), where each tensor lives (nn_layout), forward and backward (nn_exec), photo input and
# COCO names (nn_photo).
NN_SRCS := pipeline/nn/nn_load.c pipeline/nn/nn_model.c pipeline/nn/nn_plan.c pipeline/nn/nn_fuse.c pipeline/nn/nn_layout.c \
           pipeline/nn/nn_exec.c pipeline/nn/nn_photo.c $(NN_KERN_SRCS) pipeline/nn/nn_amx.c pipeline/nn/nn_bf16.c \
           pipeline/nn/nn_simd.c
NN_OBJS := $(call objs,$(NN_SRCS))
NN_LIBS := $(shell pkg-config --libs jansson openblas 2>/dev/null) -pthread -lm
# internal/: the kernels' headers (nn_ops.h and what they share), for nn's own objects and tests.
$(OBJ)/pipeline/nn/%.o $(call objs,tests/unit/check_nn.c tests/unit/check_nn_amx.c tests/unit/check_nn_simd.c): \
  CPPFLAGS += -Ipipeline/nn -Ipipeline/nn/internal -Ipipeline/png
$(NN_OBJS) $(call objs,tests/unit/check_nn.c tests/unit/check_nn_simd.c pipeline/nn/nn_main.c): \
  CFLAGS += -pthread $(shell pkg-config --cflags openblas 2>/dev/null)

TOOLS += $(BIN)/fv-nn
$(BIN)/fv-nn: $(call objs,pipeline/nn/nn_main.c) $(NN_OBJS) $(PNG_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PNG_LIBS) $(NN_LIBS)

UNIT_TESTS += $(BIN)/check_nn
$(BIN)/check_nn: $(call objs,tests/unit/check_nn.c) $(NN_OBJS) $(PNG_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PNG_LIBS) $(NN_LIBS) $(CHECK_LIBS)

UNIT_TESTS += $(BIN)/check_nn_amx
$(BIN)/check_nn_amx: $(call objs,tests/unit/check_nn_amx.c) $(NN_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(NN_LIBS) $(CHECK_LIBS)

UNIT_TESTS += $(BIN)/check_nn_simd
$(BIN)/check_nn_simd: $(call objs,tests/unit/check_nn_simd.c) $(NN_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(NN_LIBS) $(CHECK_LIBS)
