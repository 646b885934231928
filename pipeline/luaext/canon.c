/* canon — fvsys.portable and fvsys.canon, the text a job's cache key is made of
 * (pipeline/driver/cache.lua). Every build computes every job's key, a no-op build included,
 * and in Lua these two took a third of such a build's interpreted instructions (hundreds of
 * recipes, thousands of strings, each searched for seven places).
 *
 * portable(s, places): s with each place's absolute path replaced by its token where the path
 *   is a whole component (followed by '/', the end, white space or a quote). places: the list
 *   cache.set_places made, { {prefix, token}, ... } in the order they are tried (longest first);
 *   each place is applied to the text the previous ones left.
 * canon(v, places): stable text of a recipe value: a table is '{' k=canon(v), ... '}' with its
 *   keys in the order of their tostring (bytes compared as unsigned, as Lua's < compares
 *   strings in the C locale the driver runs in), a string 's:' .. portable(s), anything else the
 *   first letter of its type, ':' and its tostring ("n:1", "n:0.5", "b:true"). Two keys of
 *   one text (1 and "1") come in no defined order, as they did in Lua's table.sort.
 *
 * These bytes are the keys of every cache entry: changing them orphans every entry (bump
 * VERSION in cache.lua if they must change). tests/lua/test_cache.lua holds the Lua they were
 * written from and compares the two. */
#include "canon.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PLACES 32
#define MAX_DEPTH 200

typedef struct {
    const char *prefix, *token;
    size_t plen, tlen;
} Place;

typedef struct {
    Place p[MAX_PLACES];
    int n;
} Places;

/* The places at stack index idx (anchored there while they are used). */
static void read_places(lua_State *L, int idx, Places *pl)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    pl->n = 0;
    lua_Integer n = luaL_len(L, idx);
    if (n > MAX_PLACES) luaL_error(L, "portable: more than %d places", MAX_PLACES);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        if (lua_type(L, -1) != LUA_TTABLE) luaL_error(L, "portable: place %d is not a table", (int)i);
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        Place *p = &pl->p[pl->n];
        p->prefix = lua_tolstring(L, -2, &p->plen);
        p->token = lua_tolstring(L, -1, &p->tlen);
        if (!p->prefix || !p->token) luaL_error(L, "portable: place %d needs a path and a token", (int)i);
        lua_pop(L, 3); /* the strings stay alive in the places table */
        if (p->plen > 0) pl->n++; /* an empty prefix would match everywhere: no place */
    }
}

static int whole_after(const char *s, size_t n, size_t at)
{
    if (at >= n) return 1;
    switch (s[at]) {
    case '/': case ' ': case '\t': case '\n': case '\v': case '\f': case '\r': case '"': case '\'':
        return 1;
    default:
        return 0;
    }
}

/* Pushes portable(s). */
static void push_portable(lua_State *L, const char *s, size_t n, const Places *pl)
{
    if (!memchr(s, '/', n)) {
        lua_pushlstring(L, s, n);
        return;
    }
    int pushed = 0; /* a rewritten text of ours on the stack (s points into it) */
    for (int k = 0; k < pl->n; k++) {
        const Place *p = &pl->p[k];
        const char *a = memmem(s, n, p->prefix, p->plen);
        if (!a) continue;
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        size_t i = 0;
        while (a) {
            size_t at = (size_t)(a - s), end = at + p->plen;
            luaL_addlstring(&b, s + i, at - i);
            if (whole_after(s, n, end)) luaL_addlstring(&b, p->token, p->tlen);
            else luaL_addlstring(&b, p->prefix, p->plen);
            i = end;
            a = i < n ? memmem(s + i, n - i, p->prefix, p->plen) : NULL;
        }
        luaL_addlstring(&b, s + i, n - i);
        luaL_pushresult(&b);
        if (pushed) lua_remove(L, -2);
        s = lua_tolstring(L, -1, &n);
        pushed = 1;
    }
    if (!pushed) lua_pushlstring(L, s, n);
}

typedef struct {
    const char *s;
    size_t n;
    int slot; /* stack index of the key's text; the value is just below it */
} Key;

static int key_cmp(const void *x, const void *y)
{
    const Key *a = x, *b = y;
    size_t m = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->s, b->s, m);
    if (c) return c;
    return a->n < b->n ? -1 : a->n > b->n;
}

/* Pushes canon(value at idx). */
static void push_canon(lua_State *L, int idx, const Places *pl, int depth)
{
    idx = lua_absindex(L, idx);
    int t = lua_type(L, idx);
    if (t == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        lua_pushliteral(L, "s:");
        push_portable(L, s, n, pl);
        lua_concat(L, 2);
        return;
    }
    if (t != LUA_TTABLE) {
        lua_pushlstring(L, lua_typename(L, t), 1);
        lua_pushliteral(L, ":");
        luaL_tolstring(L, idx, NULL);
        lua_concat(L, 3);
        return;
    }
    if (depth >= MAX_DEPTH) luaL_error(L, "canon: tables nested more than %d deep", MAX_DEPTH);
    /* Each (value, tostring(key)) pair is left on the stack, below the key lua_next goes on from. */
    int base = lua_gettop(L), n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        luaL_checkstack(L, 4, "canon: too many keys");
        luaL_tolstring(L, -2, NULL); /* key value keytext */
        lua_rotate(L, -3, -1);       /* value keytext key */
        n++;
    }
    Key *keys = lua_newuserdatauv(L, (size_t)(n ? n : 1) * sizeof(Key), 0); /* freed by the GC */
    for (int i = 0; i < n; i++) {
        keys[i].slot = base + 2 * i + 2;
        keys[i].s = lua_tolstring(L, keys[i].slot, &keys[i].n);
    }
    qsort(keys, (size_t)n, sizeof(Key), key_cmp);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '{');
    for (int i = 0; i < n; i++) {
        if (i) luaL_addchar(&b, ',');
        luaL_addlstring(&b, keys[i].s, keys[i].n);
        luaL_addchar(&b, '=');
        push_canon(L, keys[i].slot - 1, pl, depth + 1);
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, '}');
    luaL_pushresult(&b);
    lua_replace(L, base + 1); /* the result where the first pair began */
    lua_settop(L, base + 1);
}

int fvsys_portable(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    Places pl;
    read_places(L, 2, &pl);
    push_portable(L, s, n, &pl);
    return 1;
}

int fvsys_canon(lua_State *L)
{
    luaL_checkany(L, 1);
    Places pl;
    read_places(L, 2, &pl);
    push_canon(L, 1, &pl, 0);
    return 1;
}
