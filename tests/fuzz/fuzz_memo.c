/* fuzz_memo — the hash memo's decoder (pipeline/luaext/memo.c, fvsys.memo_decode) on any bytes,
 * in an embedded Lua 5.4 with memo.c linked in.
 *
 * The contract checked: decode returns a table of key -> record, or nil and a "byte N: ..."
 * message, and never raises. A decoded table encodes again (its keys sorted) to bytes that
 * decode to the same records, and those bytes are the input itself when the input had its keys
 * sorted and none twice (a memo written by fs.lua): a difference is a finding. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "memo.h"

static lua_State *L;

/* Decodes, re-encodes with sorted keys and decodes again, in Lua (the driver's own use). */
static const char *CHECK =
    "local decode, encode, bytes = ...\n"
    "local t, msg = decode(bytes)\n"
    "if t == nil then\n"
    "  assert(type(msg) == 'string' and msg:match('^byte %d+: '), 'a failure without its byte: ' .. tostring(msg))\n"
    "  return\n"
    "end\n"
    "assert(type(t) == 'table' and msg == nil)\n"
    "local keys = {}\n"
    "for k, r in pairs(t) do\n"
    "  assert(type(k) == 'string' and #k >= 1 and type(r) == 'table' and #r >= 2)\n"
    "  for i = 1, #r - 1 do assert(math.type(r[i]) == 'integer') end\n"
    "  assert(type(r[#r]) == 'string' and #r[#r] >= 1)\n"
    "  keys[#keys + 1] = k\n"
    "end\n"
    "table.sort(keys)\n"
    "local again = encode(keys, t)\n"
    "local t2 = assert(decode(again))\n"
    "for _, k in ipairs(keys) do\n"
    "  local a, b = t[k], t2[k]\n"
    "  assert(#a == #b, 'a record changed length')\n"
    "  for i = 1, #a do assert(a[i] == b[i], 'a record changed') end\n"
    "end\n"
    "return again\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    L = luaL_newstate();
    luaL_openlibs(L);
    if (luaL_loadstring(L, CHECK) != LUA_OK) {
        fprintf(stderr, "fuzz_memo: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_setglobal(L, "check");
    return 0;
}

/* Whether the input is as fs.lua writes a memo: records whose keys are sorted, none twice
 * (then the re-encoding must give back these very bytes). Read off the decoded keys' order. */
static int written_by_driver(const uint8_t *data, size_t size)
{
    size_t p = 8;
    const char *prev = NULL;
    size_t prev_len = 0;
    while (p < size) {
        size_t klen = (size_t)data[p] | (size_t)data[p + 1] << 8;
        const char *k = (const char *)data + p + 2;
        if (prev) {
            size_t n = prev_len < klen ? prev_len : klen;
            int c = memcmp(prev, k, n);
            if (c > 0 || (c == 0 && prev_len >= klen)) return 0;
        }
        prev = k;
        prev_len = klen;
        p += 2 + klen;
        unsigned n = data[p++];
        p += 8 * (size_t)n;
        p += 1 + data[p];
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int top = lua_gettop(L);
    lua_getglobal(L, "check");
    lua_pushcfunction(L, fvsys_memo_decode);
    lua_pushcfunction(L, fvsys_memo_encode);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
        fprintf(stderr, "fuzz_memo: %s\n", lua_tostring(L, -1));
        abort();
    }
    if (lua_isstring(L, -1) && written_by_driver(data, size)) {
        size_t n;
        const char *again = lua_tolstring(L, -1, &n);
        if (n != size || memcmp(again, data, size) != 0) {
            fprintf(stderr, "fuzz_memo: a memo with sorted keys did not encode to its own bytes\n");
            abort();
        }
    }
    lua_settop(L, top);
    lua_gc(L, LUA_GCCOLLECT);
    return 0;
}
