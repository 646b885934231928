/* canon — the text of the driver's cache keys (pipeline/driver/cache.lua), registered in fvsys. */
#ifndef FV_CANON_H
#define FV_CANON_H

#include <lua.h>

/* portable(s, places) -> s with each place's path replaced by its token (canon.c says where). */
int fvsys_portable(lua_State *L);

/* canon(value, places) -> the stable text of a recipe value, its strings made portable. */
int fvsys_canon(lua_State *L);

#endif
