/* json_encode — the fast path of pipeline/driver/json.lua's encoder, registered in fvsys. */
#ifndef FV_JSON_ENCODE_H
#define FV_JSON_ENCODE_H

#include <lua.h>

/* json_encode(value, object_mt, max_depth) -> true, text | false, nil. false: the value is not
 * one this encodes (NaN or an infinity, a function, a cycle or nesting past max_depth, an object
 * key that is not a string, a table with another metatable); the caller encodes it itself. */
int fvsys_json_encode(lua_State *L);

#endif
