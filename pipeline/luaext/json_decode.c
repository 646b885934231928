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

/* The numbers of the records (a render.json's curve is mostly floats of 9 digits) without
 * strtod, where that is exact: an integer of at most 18 digits; a float whose digits make an
 * integer below 2^53 and whose power of ten is at most 22 (both exact doubles, so the one
 * multiplication or division rounds correctly, as strtod does: Clinger's fast path). Pushes the
 * value lua_stringtonumber plus math.tointeger would give, or returns 0 (the caller parses it). */
static int fast_number(lua_State *L, const char *s, size_t n)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = 0;
    int neg = 0, digits = 0, frac = 0, dot = 0;
    unsigned long long mant = 0;
    if (s[i] == '-') neg = 1, i++;
    for (; i < n && (is_digit((unsigned char)s[i]) || (s[i] == '.' && !dot)); i++) {
        if (s[i] == '.') {
            dot = 1;
            continue;
        }
        if (mant == 0 && s[i] == '0') { /* leading zeros are no digits */
            if (dot) frac++;
            continue;
        }
        if (++digits > 18) return 0;
        mant = mant * 10 + (unsigned)(s[i] - '0');
        if (dot) frac++;
    }
    int e10 = 0;
    if (i < n) { /* an exponent: e, an optional sign, 1 to 3 digits */
        if (s[i] != 'e' && s[i] != 'E') return 0;
        i++;
        int eneg = 0, ed = 0;
        if (i < n && (s[i] == '-' || s[i] == '+')) eneg = s[i] == '-', i++;
        for (; i < n && is_digit((unsigned char)s[i]) && ed < 4; i++, ed++) e10 = e10 * 10 + (s[i] - '0');
        if (ed == 0 || ed > 3 || i < n) return 0;
        if (eneg) e10 = -e10;
    } else if (!dot) {
        lua_pushinteger(L, neg ? -(lua_Integer)mant : (lua_Integer)mant);
        return 1;
    }
    e10 -= frac;
    if (mant > (1ULL << 53) || e10 < -22 || e10 > 22) return 0;
    double d = (double)mant;
    d = e10 < 0 ? d / pow10[-e10] : d * pow10[e10];
    if (neg) d = -d;
    /* math.tointeger: an exactly integral float becomes an integer (all of these fit) */
    if (d > -9.2e18 && d < 9.2e18 && d == (double)(lua_Integer)d)
        lua_pushinteger(L, (lua_Integer)d);
    else
        lua_pushnumber(L, d);
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
    if (fast_number(L, r->s + start, p - start)) {
        r->pos = p;
        return 1;
    }
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
        /* room for a few fields or items up front: most records are small, and each doubling
         * of a growing table rehashes it */
        lua_createtable(L, c == '[' ? 4 : 0, c == '{' ? 8 : 0);
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
