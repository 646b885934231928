# sprite — spritesheets: MaxRects packing (pack), SSIM (ssim), encoders behind their own modules
# (quant: libimagequant, webp_enc: libwebp, jpeg_enc: libjpeg-turbo; PNG through png_io), the
# per-sheet encoding search (encode) and the frame list / sheets / atlas logic (sprite).
# One tool, fv-sprite, with subcommands pack, encode and build.
SPRITE_PKGS := imagequant libwebp libturbojpeg
CFLAGS += $(shell pkg-config --cflags $(SPRITE_PKGS) 2>/dev/null)
SPRITE_LIBS := $(shell pkg-config --libs $(SPRITE_PKGS) jansson 2>/dev/null) -lpthread -lm
$(OBJ)/pipeline/sprite/%.o $(call objs,tests/unit/check_pack.c tests/unit/check_ssim.c tests/unit/check_encode.c): \
  CPPFLAGS += -Ipipeline/sprite -Ipipeline/png

PACK_OBJS := $(call objs,pipeline/sprite/pack.c)
SSIM_OBJS := $(call objs,pipeline/sprite/ssim.c)
ENCODE_OBJS := $(call objs,pipeline/sprite/encode.c pipeline/sprite/quant.c pipeline/sprite/webp_enc.c \
  pipeline/sprite/jpeg_enc.c) $(SSIM_OBJS)
SPRITE_OBJS := $(call objs,pipeline/sprite/sprite.c) $(PACK_OBJS) $(ENCODE_OBJS)

TOOLS += $(BIN)/fv-sprite
$(BIN)/fv-sprite: $(call objs,pipeline/sprite/sprite_main.c) $(SPRITE_OBJS) $(PNG_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PNG_LIBS) $(SPRITE_LIBS)

UNIT_TESTS += $(BIN)/check_pack $(BIN)/check_ssim $(BIN)/check_encode
$(BIN)/check_pack: $(call objs,tests/unit/check_pack.c) $(PACK_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) -lm

$(BIN)/check_ssim: $(call objs,tests/unit/check_ssim.c) $(SSIM_OBJS) $(PNG_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PNG_LIBS) $(CHECK_LIBS) -lpthread -lm

$(BIN)/check_encode: $(call objs,tests/unit/check_encode.c) $(SPRITE_OBJS) $(PNG_OBJS) $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PNG_LIBS) $(SPRITE_LIBS) $(CHECK_LIBS) -lm
