# driver — the Lua build driver's modules (pipeline/**/*.lua), compiled by luac5.4 into
# $(OUT)/luac/ for build.lua to load without parsing them (pipeline/driver/bytecode.lua says
# when a copy is used). Each copy gets its source's mtime (touch -r): the copy is current while
# the two are equal, which is also make's "up to date".
LUA_MODULES := $(shell find pipeline -name '*.lua')
LUAC_OUT := $(patsubst %.lua,$(OUT)/luac/%.luac,$(LUA_MODULES))
TOOLS += $(LUAC_OUT)
$(OUT)/luac/%.luac: %.lua
	@mkdir -p $(dir $@)
	@luac5.4 -o $@.tmp $< && touch -r $< $@.tmp && mv $@.tmp $@
