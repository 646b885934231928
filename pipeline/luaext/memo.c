/* memo — the driver's hash memo as bytes: what fs.lua remembers of each file it hashed (its
 * size, mtime, inode ... and the sha256), read at the start of every build and written at the
 * end of one that hashed anything.
 *
 * Why not a Lua literal (what it was): parsing 944 records, 200 KB, took 1.7 ms of a 20 ms
 * no-op build; building the same table from these bytes takes 0.45 ms.
 *
 * Format (little-endian), written and read only here:
 *   "fvmemo1\n"
 *   records, until the end:
 *     u16 key length, the key's bytes (1..65535)
 *     u8  n: the record's integers (1..MAX_INTS), then n x i64
 *     u8  hash length (1..255), the hash's bytes
 * The decoder checks every length against what is left, so that any bytes decode to a table or
 * to nil and the offset where they stopped making sense. */
#include "memo.h"

#include <lauxlib.h>
#include <stdint.h>
#include <string.h>

static const char MAGIC[8] = {'f', 'v', 'm', 'e', 'm', 'o', '1', '\n'};
#define MAX_INTS 8

/* Record i of the keys (the key at stack index 1, the memo at 2): checked, its size added to
 * *size, and when out is not NULL its bytes written at out + *size. Raw access only: no
 * metamethod runs between the two passes of fvsys_memo_encode, so both see the same values.
 * Raises a Lua error naming the record when it is not one. */
static void record(lua_State *L, lua_Integer i, unsigned char *out, size_t *size)
{
    lua_rawgeti(L, 1, i);
    size_t klen;
    const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &klen) : NULL;
    if (!k || klen == 0 || klen > 0xffff) luaL_error(L, "memo_encode: key %d is not a string of 1 to 65535 bytes", (int)i);
    lua_pushvalue(L, -1);
    lua_rawget(L, 2);
    if (!lua_istable(L, -1)) luaL_error(L, "memo_encode: key %d has no record", (int)i);
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    if (n < 2 || n > MAX_INTS + 1) luaL_error(L, "memo_encode: record %d has %d fields (expected 2 to %d)", (int)i, (int)n, MAX_INTS + 1);
    lua_rawgeti(L, -1, n);
    size_t hlen;
    const char *h = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &hlen) : NULL;
    if (!h || hlen == 0 || hlen > 255) luaL_error(L, "memo_encode: record %d does not end in a hash of 1 to 255 bytes", (int)i);
    unsigned char *w = out ? out + *size : NULL;
    if (w) {
        w[0] = (unsigned char)(klen & 0xff);
        w[1] = (unsigned char)(klen >> 8);
        memcpy(w + 2, k, klen);
        w += 2 + klen;
        *w++ = (unsigned char)(n - 1);
    }
    for (lua_Integer f = 1; f < n; f++) {
        lua_rawgeti(L, -2, f);
        int isint = lua_isinteger(L, -1);
        lua_Integer v = lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (!isint) luaL_error(L, "memo_encode: record %d field %d is not an integer", (int)i, (int)f);
        if (w) {
            uint64_t u = (uint64_t)v;
            for (int b = 0; b < 8; b++) *w++ = (unsigned char)((u >> (8 * b)) & 0xff);
        }
    }
    if (w) {
        *w++ = (unsigned char)hlen;
        memcpy(w, h, hlen);
    }
    *size += 2 + klen + 1 + 8 * (size_t)(n - 1) + 1 + hlen;
    lua_pop(L, 3); /* the hash, the record, the key */
}

int fvsys_memo_encode(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_Integer nkeys = (lua_Integer)lua_rawlen(L, 1);
    size_t size = sizeof MAGIC;
    for (lua_Integer i = 1; i <= nkeys; i++) record(L, i, NULL, &size);
    unsigned char *out = lua_newuserdatauv(L, size, 0); /* collected with the state: no leak on an error */
    memcpy(out, MAGIC, sizeof MAGIC);
    size_t at = sizeof MAGIC;
    for (lua_Integer i = 1; i <= nkeys; i++) record(L, i, out, &at);
    lua_pushlstring(L, (const char *)out, size);
    return 1;
}

static int fail(lua_State *L, size_t at, const char *what)
{
    lua_pushnil(L);
    lua_pushfstring(L, "byte %d: %s", (int)at, what);
    return 2;
}

int fvsys_memo_decode(lua_State *L)
{
    size_t len;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
    if (len < sizeof MAGIC || memcmp(s, MAGIC, sizeof MAGIC) != 0) return fail(L, 0, "expected \"fvmemo1\" (not a hash memo)");
    lua_newtable(L);
    size_t p = sizeof MAGIC;
    while (p < len) {
        size_t at = p;
        if (len - p < 2) return fail(L, at, "expected a key's length");
        size_t klen = (size_t)s[p] | (size_t)s[p + 1] << 8;
        p += 2;
        if (klen == 0) return fail(L, at, "expected a key of at least one byte");
        if (len - p < klen + 1) return fail(L, at, "expected a key and its record (the memo is cut short)");
        const char *k = (const char *)s + p;
        p += klen;
        unsigned n = s[p++];
        if (n == 0 || n > MAX_INTS) return fail(L, p - 1, "expected 1 to 8 integers");
        if (len - p < (size_t)n * 8 + 1) return fail(L, p, "expected the record's integers and hash (the memo is cut short)");
        lua_pushlstring(L, k, klen);
        lua_createtable(L, (int)n + 1, 0);
        for (unsigned f = 0; f < n; f++) {
            uint64_t u = 0;
            for (int i = 0; i < 8; i++) u |= (uint64_t)s[p + i] << (8 * i);
            p += 8;
            lua_pushinteger(L, (lua_Integer)u);
            lua_rawseti(L, -2, (lua_Integer)f + 1);
        }
        size_t hlen = s[p++];
        if (hlen == 0 || len - p < hlen) {
            lua_pop(L, 2);
            return fail(L, p - 1, "expected a hash of 1 to 255 bytes (the memo is cut short)");
        }
        lua_pushlstring(L, (const char *)s + p, hlen);
        lua_rawseti(L, -2, (lua_Integer)n + 1);
        p += hlen;
        lua_rawset(L, -3);
    }
    return 1;
}
