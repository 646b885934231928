# png — libpng behind png_io.h. PNG_OBJS and PNG_LIBS are defined in the top Makefile,
# because other modules' fragments (included in name order) need them first.

UNIT_TESTS += $(BIN)/check_png_io
$(BIN)/check_png_io: $(call objs,tests/unit/check_png_io.c) $(PNG_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PNG_LIBS) $(shell pkg-config --libs zlib 2>/dev/null) $(CHECK_LIBS)
