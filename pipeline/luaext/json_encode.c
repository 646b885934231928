/* json_encode — fvsys.json_encode, the fast path of the driver's JSON encoder
 * (pipeline/driver/json.lua), which writes every render job's recipe text at every build, a
 * no-op build included (the Lua encoder took a third of such a build).
 *
 * It writes exactly the bytes json.lua's encoder writes (keys sorted as Lua compares strings,
 * integers as tostring, floats as %.17g, the same escapes, an empty table as [] unless it has the
 * object metatable, a table whose keys are 1..#t as an array), but only for plain values:
 * anything else — NaN or an infinity, a function, a cycle, nesting past max_depth, a key that is
 * not a string in an object, a table with another metatable — returns false, and json.lua
 * encodes the value itself, with its messages. */
#include "json_encode.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *p;
    size_t n, cap;
    int ok;
} Buf;

static void put(Buf *b, const char *s, size_t n)
{
    if (!b->ok) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->ok = 0;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void put_string(Buf *b, const char *s, size_t n)
{
    put(b, "\"", 1);
    size_t run = 0; /* bytes since the last escape, copied in one piece */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            /* Lua's %c in the C locale: iscntrl, 0..31 and 127 */
            if (c < 32 || c == 127) snprintf(u, sizeof u, "\\u%04x", c), esc = u;
        }
        if (!esc) {
            run++;
            continue;
        }
        put(b, s + i - run, run);
        run = 0;
        put(b, esc, strlen(esc));
    }
    put(b, s + n - run, run);
    put(b, "\"", 1);
}

typedef struct {
    const char *s;
    size_t n;
} Key;

/* Lua's l_strcmp in the C locale (lua5.4 never calls setlocale): strcoll is strcmp there. Keys
 * hold no zero byte (encode declines them), so strcmp sees each whole. */
static int key_cmp(const void *va, const void *vb)
{
    const Key *a = va, *b = vb;
    return strcmp(a->s, b->s);
}

/* Encodes the value at the top of the stack (left there). depth: the tables open around it.
 * Ownership: b's memory and an object's key array are malloc'ed here and freed by the caller
 * and by this function on every return; a Lua error raised inside (out of memory) would leak
 * them, and the driver stops on one anyway. */
static int encode(lua_State *L, Buf *b, int depth, int max_depth, int object_mt)
{
    char num[64];
    switch (lua_type(L, -1)) {
    case LUA_TNIL: put(b, "null", 4); return 1;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, -1))
            put(b, "true", 4);
        else
            put(b, "false", 5);
        return 1;
    case LUA_TNUMBER:
        if (lua_isinteger(L, -1)) {
            put(b, num, (size_t)snprintf(num, sizeof num, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, -1)));
        } else {
            double v = (double)lua_tonumber(L, -1);
            if (!isfinite(v)) return 0;
            put(b, num, (size_t)snprintf(num, sizeof num, "%.17g", v));
        }
        return 1;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        put_string(b, s, n);
        return 1;
    }
    case LUA_TTABLE: break;
    default: return 0;
    }
    /* a table: depth past max_depth (and so any cycle) is the Lua encoder's to report */
    if (depth >= max_depth) return 0;
    if (!lua_checkstack(L, 4)) return 0;
    int t = lua_gettop(L), is_obj = 0;
    if (lua_getmetatable(L, t)) {
        is_obj = lua_rawequal(L, -1, object_mt);
        lua_pop(L, 1);
        if (!is_obj) return 0;
    }
    lua_Integer len = (lua_Integer)lua_rawlen(L, t);
    size_t count = 0;
    int array = !is_obj;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        count++;
        if (array && (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > len)) array = 0;
    }
    if (count == 0 && !is_obj) {
        put(b, "[]", 2);
        return 1;
    }
    if (array) {
        put(b, "[", 1);
        for (lua_Integer i = 1; i <= len; i++) {
            if (i > 1) put(b, ",", 1);
            lua_rawgeti(L, t, i);
            int ok = encode(L, b, depth + 1, max_depth, object_mt);
            lua_pop(L, 1);
            if (!ok) return 0;
        }
        put(b, "]", 1);
        return 1;
    }
    Key *keys = malloc(sizeof(Key) * (count ? count : 1));
    if (!keys) return 0;
    size_t k = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        /* keys are anchored by the table, so their bytes outlive the stack slot */
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            free(keys);
            return 0;
        }
        keys[k].s = lua_tolstring(L, -1, &keys[k].n);
        if (strlen(keys[k].s) != keys[k].n) {
            lua_pop(L, 1);
            free(keys);
            return 0;
        }
        k++;
    }
    qsort(keys, count, sizeof(Key), key_cmp);
    put(b, "{", 1);
    int ok = 1;
    for (size_t i = 0; i < count && ok; i++) {
        if (i > 0) put(b, ",", 1);
        put_string(b, keys[i].s, keys[i].n);
        put(b, ":", 1);
        lua_pushlstring(L, keys[i].s, keys[i].n);
        lua_rawget(L, t);
        ok = encode(L, b, depth + 1, max_depth, object_mt);
        lua_pop(L, 1);
    }
    free(keys);
    if (ok) put(b, "}", 1);
    return ok;
}

int fvsys_json_encode(lua_State *L)
{
    lua_settop(L, 3);
    int max_depth = (int)luaL_checkinteger(L, 3);
    lua_pushvalue(L, 1);
    Buf b = {NULL, 0, 0, 1};
    int ok = encode(L, &b, 0, max_depth, 2) && b.ok;
    if (ok) {
        lua_pushboolean(L, 1);
        lua_pushlstring(L, b.p ? b.p : "", b.n);
    } else {
        lua_pushboolean(L, 0);
        lua_pushnil(L);
    }
    free(b.p);
    return 2;
}
