/* json_decode — the fast path of pipeline/driver/json.lua's decoder, registered in fvsys. */
#ifndef FV_JSON_DECODE_H
#define FV_JSON_DECODE_H

#include <lua.h>

/* json_decode(text, object_mt, max_depth) -> true, value | false. false: the text is not plain
 * JSON of the kind this decodes (an escape, a number tonumber refuses, deeper than max_depth, a
 * syntax error); the caller decodes it itself. Objects get object_mt as metatable. */
int fvsys_json_decode(lua_State *L);

#endif
