/* memo — the bytes of the driver's hash memo (.cache/state/hashes.bin; pipeline/driver/fs.lua),
 * registered in fvsys as memo_encode and memo_decode. */
#ifndef FV_MEMO_H
#define FV_MEMO_H

#include <lua.h>

/* memo_encode(keys, memo) -> bytes: the records memo[k] for each k of the array keys, in that
 * order. A record is an array of integers ending in one string (a hash); anything else is an
 * error (the caller checks its records first). */
int fvsys_memo_encode(lua_State *L);

/* memo_decode(bytes) -> table of key -> record, or nil, "byte N: what was expected". Never
 * raises on any bytes: a damaged memo costs hashing again, never a crash. */
int fvsys_memo_decode(lua_State *L);

#endif
