# asset — fv-asset: checks and publishes an author's own image (PNG via png_io, JPEG via
# libjpeg-turbo, SVG via libxml2 in svg.c).
ASSET_SRCS := pipeline/asset/asset.c pipeline/asset/svg.c
ASSET_OBJS := $(call objs,$(ASSET_SRCS))
ASSET_LIBS := $(shell pkg-config --libs libturbojpeg libxml-2.0 2>/dev/null)
$(OBJ)/pipeline/asset/%.o $(call objs,tests/unit/check_asset.c): CPPFLAGS += -Ipipeline/asset -Ipipeline/png

TOOLS += $(BIN)/fv-asset
$(BIN)/fv-asset: $(call objs,pipeline/asset/asset_main.c) $(ASSET_OBJS) $(PNG_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PNG_LIBS) $(ASSET_LIBS)

UNIT_TESTS += $(BIN)/check_asset
$(BIN)/check_asset: $(call objs,tests/unit/check_asset.c) $(ASSET_OBJS) $(PNG_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PNG_LIBS) $(ASSET_LIBS) $(CHECK_LIBS)
