/* fuzz_manifest — the figure-manifest reader, which is Lua: pipeline/driver/manifest.lua
 * (sandboxed load, common fields, the error line finder) and the validate() of every kind in
 * pipeline/kinds/, run in an embedded Lua 5.4 with the driver's own fvsys C module linked in.
 *
 * Each input is a manifest source (figures/<id>.lua) given to manifest.load. The contract
 * checked: load returns the validated table, or nil and one string. A Lua error escaping load
 * (a kind's validate() indexing a nil, a bad pattern, ...) is a finding, and so is any crash or
 * sanitizer report on the C side. A manifest may run any Lua, so each input has an instruction
 * budget and a memory limit: hitting those ends the input, not the fuzzer.
 *
 * The driver modules are loaded once into one Lua state (manifest.load's sandbox keeps one
 * input from changing what the next one sees). Debian's liblua has no coverage instrumentation,
 * so a line hook feeds libFuzzer the (previous line, line) pairs executed in the driver's own
 * .lua files through libFuzzer's extra counters: that is what guides it through validate(). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"

int luaopen_fvsys(lua_State *L);

#define MEM_LIMIT ((size_t)64 << 20) /* per input, above what the loaded driver holds */
#define HOOK_EVERY 1000
#define HOOK_BUDGET 20000 /* x HOOK_EVERY instructions per input */
#define BUDGET_MSG "fuzz: instruction budget exceeded"
#define COV_SIZE (1 << 14)

/* libFuzzer reads this section as extra coverage counters. */
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t lua_cov[COV_SIZE];

static char path[1024];
static size_t mem_used, mem_limit = (size_t)-1;
static long hook_calls;
static lua_State *L;

/* Lua's allocator with a ceiling: past it Lua raises "not enough memory", cleanly. */
static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    (void)ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        mem_used -= old;
        return NULL;
    }
    if (nsize > old && mem_used + (nsize - old) > mem_limit) return NULL;
    void *p = realloc(ptr, nsize);
    if (p) mem_used = mem_used - old + nsize;
    return p;
}

static void hook(lua_State *l, lua_Debug *ar)
{
    static const void *prev_src;
    static int prev_line;
    if (ar->event == LUA_HOOKCOUNT) {
        if (++hook_calls > HOOK_BUDGET) luaL_error(l, BUDGET_MSG);
        return;
    }
    if (!lua_getinfo(l, "S", ar) || ar->source[0] != '@') return; /* the driver's files only */
    /* The source strings of loaded modules live as long as the state: their addresses name them. */
    uintptr_t h = (uintptr_t)ar->source * 31u + (uintptr_t)ar->currentline * 2654435761u;
    h ^= ((uintptr_t)prev_src * 17u + (uintptr_t)prev_line * 40503u) >> 1;
    lua_cov[(h ^ (h >> 15)) % COV_SIZE]++;
    prev_src = ar->source;
    prev_line = ar->currentline;
}

/* Loads the manifest module and every kind (as build.lua does); returns a function of the file
 * that calls manifest.load(file, id) and checks what it returns. */
static const char setup[] =
    "local root = ...\n"
    "local sys = require 'fvsys'\n"
    "local fs = require 'pipeline.driver.fs'\n"
    "fs.root = root\n"
    "local manifest = require 'pipeline.driver.manifest'\n"
    /* Here, not in a child process: the child's coverage and memory would not reach us. */
    "manifest.isolate = manifest.in_process\n"
    "for _, n in ipairs(sys.listdir(root .. '/pipeline/kinds') or {}) do\n"
    "  local kind = n:match('^(.-)%.lua$')\n"
    "  if kind then manifest.kinds[kind] = require('pipeline.kinds.' .. kind) end\n"
    "end\n"
    "assert(next(manifest.kinds), 'no kinds found')\n"
    "local verbose = os.getenv('FUZZ_VERBOSE')\n"
    "return function(file)\n"
    "  local m, err = manifest.load(file, 'fz')\n"
    "  if verbose then io.stderr:write('manifest: ', m and 'ok' or tostring(err), '\\n') end\n"
    "  if m == nil then\n"
    "    if type(err) ~= 'string' then error('load returned nil and a ' .. type(err)) end\n"
    "  elseif type(m) ~= 'table' or m.kindmod == nil then\n"
    "    error('load returned a ' .. type(m) .. ' without its kind')\n"
    "  end\n"
    "end\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (chdir(FUZZ_ROOT) != 0) {
        perror(FUZZ_ROOT);
        abort();
    }
    snprintf(path, sizeof path, "%s", fuzz_path("fz.lua"));
    L = lua_newstate(limited_alloc, NULL);
    if (!L) abort();
    luaL_openlibs(L);
    /* fvsys comes from this binary, not from build/<variant>/lib/fvsys.so. */
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_fvsys);
    lua_setfield(L, -2, "fvsys");
    lua_pop(L, 1);
    lua_getglobal(L, "package");
    lua_pushstring(L, FUZZ_ROOT "/?.lua");
    lua_setfield(L, -2, "path");
    lua_pushstring(L, "");
    lua_setfield(L, -2, "cpath");
    lua_pop(L, 1);
    if (luaL_loadbuffer(L, setup, sizeof setup - 1, "=fuzz_manifest") != LUA_OK) goto fail;
    lua_pushstring(L, FUZZ_ROOT);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) goto fail;
    lua_setfield(L, LUA_REGISTRYINDEX, "fuzz_run");
    return 0;
fail:
    fprintf(stderr, "fuzz_manifest: set-up: %s\n", lua_tostring(L, -1));
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write(path, data, size);
    lua_gc(L, LUA_GCCOLLECT);
    mem_limit = mem_used + MEM_LIMIT;
    hook_calls = 0;
    lua_getfield(L, LUA_REGISTRYINDEX, "fuzz_run");
    lua_pushstring(L, path);
    lua_sethook(L, hook, LUA_MASKCOUNT | LUA_MASKLINE, HOOK_EVERY);
    int rc = lua_pcall(L, 1, 0, 0);
    lua_sethook(L, NULL, 0, 0);
    if (rc != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        int resource = rc == LUA_ERRMEM ||
                       (msg && (strstr(msg, BUDGET_MSG) || strstr(msg, "not enough memory") || strstr(msg, "stack overflow")));
        if (!resource) {
            fprintf(stderr, "fuzz_manifest: a Lua error escaped manifest.load: %s\n", msg ? msg : luaL_typename(L, -1));
            abort();
        }
    }
    lua_settop(L, 0);
    mem_limit = (size_t)-1;
    return 0;
}
