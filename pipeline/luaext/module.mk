# luaext — fvsys.so, the C module the Lua build driver loads (the only place Lua's C API is used).
# Built position-independent straight from its sources (sha256 included) into $(OUT)/lib.
FVSYS := $(OUT)/lib/fvsys.so
TOOLS += $(FVSYS)
$(FVSYS): pipeline/luaext/fvsys.c pipeline/common/sha256.c pipeline/common/sha256.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) $(OPT) $(PKG_CFLAGS) -fPIC -shared -o $@ pipeline/luaext/fvsys.c pipeline/common/sha256.c $(LDFLAGS)
