# idx — IDX (MNIST / Fashion-MNIST) reader over zlib. No tool of its own: fv-tsne (--idx) and the
# classifier read the dataset through it.
IDX_OBJS := $(call objs,pipeline/idx/idx.c)
IDX_LIBS := $(shell pkg-config --libs zlib 2>/dev/null)
$(OBJ)/pipeline/idx/%.o $(call objs,tests/unit/check_idx.c): CPPFLAGS += -Ipipeline/idx

UNIT_TESTS += $(BIN)/check_idx
$(BIN)/check_idx: $(call objs,tests/unit/check_idx.c) $(IDX_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(IDX_LIBS) $(CHECK_LIBS)
