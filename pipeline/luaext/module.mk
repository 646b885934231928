# luaext — fvsys.so, the C module the Lua build driver loads (the only place Lua's C API is used).
# Built position-independent straight from its sources (sha256 included) into $(OUT)/lib, and
# never with sanitizers: it is loaded into Debian's lua5.4, which has no ASan runtime.
FVSYS := $(OUT)/lib/fvsys.so
TOOLS += $(FVSYS)
$(FVSYS): pipeline/luaext/fvsys.c pipeline/luaext/canon.c pipeline/luaext/canon.h pipeline/luaext/json_decode.c pipeline/luaext/json_decode.h pipeline/luaext/json_encode.c pipeline/luaext/json_encode.h pipeline/luaext/memo.c pipeline/luaext/memo.h pipeline/common/sha256.c pipeline/common/sha256.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(WARN) -O2 -g $(PKG_CFLAGS) -fPIC -shared -o $@ pipeline/luaext/fvsys.c pipeline/luaext/canon.c pipeline/luaext/json_decode.c pipeline/luaext/json_encode.c pipeline/luaext/memo.c pipeline/common/sha256.c
