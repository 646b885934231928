/* json_decode — fvsys.json_decode, the fast path of the driver's JSON decoder
 * (pipeline/driver/json.lua), which reads every figure's records at every build, a no-op build
 * included (about 440 KB; the Lua decoder took a fifth of such a build).
 *
 * It builds exactly the value json.lua's decoder builds (objects get the metatable given,
 * a null in an array is skipped and one in an object leaves the key out, numbers go through
 * Lua's own tonumber and become integers when exactly integral), but only for plain input:
 * anything else — an escape in a string, a number tonumber refuses, nesting past max_depth, any
 * syntax error — returns false, and json.lua decodes the text itself, with its messages. */
#include "json_decode.h"

#include <lauxlib.h>
#include <string.h>

typedef struct {
    const char *s;
    size_t n, pos;
    int depth, max_depth;
} Reader;

static void ws(Reader *r)
{
    while (r->pos < r->n) {
        char c = r->s[r->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        r->pos++;
    }
}

static int peek(const Reader *r) { return r->pos < r->n ? (unsigned char)r->s[r->pos] : -1; }

static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* A string without escapes (at the opening quote): pushed; 0 when not plain. */
static int string(lua_State *L, Reader *r)
{
    size_t start = ++r->pos;
    while (r->pos < r->n && r->s[r->pos] != '"') {
        if (r->s[r->pos] == '\\') return 0;
        r->pos++;
    }
    if (r->pos >= r->n) return 0;
    lua_pushlstring(L, r->s + start, r->pos - start);
    r->pos++;
    return 1;
}

/* What json.lua's pattern '^-?%d+%.?%d*[eE]?[-+]?%d*' takes, through lua_stringtonumber. */
static int number(lua_State *L, Reader *r)
{
    size_t p = r->pos, start = p;
    if (p < r->n && r->s[p] == '-') p++;
    if (p >= r->n || !is_digit((unsigned char)r->s[p])) return 0;
    while (p < r->n && is_digit((unsigned char)r->s[p])) p++;
    if (p < r->n && r->s[p] == '.') p++;
    while (p < r->n && is_digit((unsigned char)r->s[p])) p++;
    if (p < r->n && (r->s[p] == 'e' || r->s[p] == 'E')) p++;
    if (p < r->n && (r->s[p] == '-' || r->s[p] == '+')) p++;
    while (p < r->n && is_digit((unsigned char)r->s[p])) p++;
    char buf[64];
    if (p - start >= sizeof buf) return 0;
    memcpy(buf, r->s + start, p - start);
    buf[p - start] = '\0';
    if (lua_stringtonumber(L, buf) == 0) return 0;
    if (!lua_isinteger(L, -1)) { /* math.tointeger: exactly integral floats only */
        int exact = 0;
        lua_Integer i = lua_tointegerx(L, -1, &exact);
        if (exact) {
            lua_pop(L, 1);
            lua_pushinteger(L, i);
        }
    }
    r->pos = p;
    return 1;
}

static int literal(Reader *r, const char *word)
{
    size_t k = strlen(word);
    if (r->n - r->pos < k || memcmp(r->s + r->pos, word, k) != 0) return 0;
    r->pos += k;
    return 1;
}

/* Pushes the value at r->pos (nil for null). Returns 1, or 0 when the input is not plain. */
static int value(lua_State *L, Reader *r)
{
    luaL_checkstack(L, 4, "json_decode");
    ws(r);
    int c = peek(r);
    if (c == '{' || c == '[') {
        if (++r->depth > r->max_depth) return 0;
        r->pos++;
        lua_newtable(L);
        if (c == '{') {
            lua_pushvalue(L, 2);
            lua_setmetatable(L, -2);
        }
        lua_Integer n = 0;
        ws(r);
        if (peek(r) == (c == '{' ? '}' : ']')) {
            r->pos++;
            r->depth--;
            return 1;
        }
        for (;;) {
            if (c == '{') {
                ws(r);
                if (peek(r) != '"' || !string(L, r)) return 0;
                ws(r);
                if (peek(r) != ':') return 0;
                r->pos++;
                if (!value(L, r)) return 0;
                lua_rawset(L, -3); /* a null removes the key, as t[k] = nil does */
            } else {
                if (!value(L, r)) return 0;
                if (lua_isnil(L, -1)) lua_pop(L, 1); /* t[#t + 1] = nil: nothing */
                else lua_rawseti(L, -2, ++n);
            }
            ws(r);
            int d = peek(r);
            r->pos++;
            if (d == (c == '{' ? '}' : ']')) break;
            if (d != ',') return 0;
        }
        r->depth--;
        return 1;
    }
    if (c == '"') return string(L, r);
    if (literal(r, "true")) { lua_pushboolean(L, 1); return 1; }
    if (literal(r, "false")) { lua_pushboolean(L, 0); return 1; }
    if (literal(r, "null")) { lua_pushnil(L); return 1; }
    return number(L, r);
}

int fvsys_json_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_checktype(L, 2, LUA_TTABLE);
    Reader r = {s, n, 0, 0, (int)luaL_checkinteger(L, 3)};
    lua_settop(L, 3);
    if (value(L, &r)) {
        ws(&r);
        if (r.pos >= r.n) {
            lua_pushboolean(L, 1);
            lua_insert(L, -2);
            return 2;
        }
    }
    lua_settop(L, 3);
    lua_pushboolean(L, 0);
    return 1;
}
