/* fvsys — the small system library the Lua build driver needs and Lua 5.4 lacks: spawning and
 * reaping processes, SHA-256, file status and times, directories, atomic renames, a monotonic clock,
 * terminal facts, signal flags, and running a function in a child process under limits (for the
 * figure manifests, which are code written by authors). (Debian's lua-posix is built for Lua 5.1–5.3 only.)
 *
 * Conventions (as Lua's own liolib): expected failures return nil plus a message naming the
 * path; misuse (wrong argument types) raises a Lua error through luaL_check*. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sha256.h"
#include "canon.h"
#include "json_decode.h"
#include "json_encode.h"
#include "memo.h"

extern char **environ;

static int fail(lua_State *L, const char *what, const char *path)
{
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s (%s)", path, what, strerror(errno));
    return 2;
}

/* spawn(argv, opts) -> pid | nil, msg.  argv: {prog, args...} looked up in PATH;
 * opts.stdout / opts.stderr: file paths to redirect to (truncated); opts.stdin: path;
 * opts.env: table of extra NAME=value pairs added to the environment. */
static int l_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = (int)luaL_len(L, 1);
    if (n < 1) return luaL_error(L, "spawn: empty argv");
    const char **argv = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
    int argv_idx = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        lua_geti(L, 1, i);
        argv[i - 1] = luaL_checkstring(L, -1);
        lua_pop(L, 1); /* the string stays alive: it is referenced by the argv table */
    }
    argv[n] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const char *redir[3] = {NULL, NULL, NULL};
    if (lua_istable(L, 2)) {
        static const char *keys[3] = {"stdin", "stdout", "stderr"};
        for (int k = 0; k < 3; k++) {
            lua_getfield(L, 2, keys[k]);
            if (lua_isstring(L, -1)) redir[k] = lua_tostring(L, -1);
            lua_pop(L, 1); /* opts table keeps the string alive */
        }
    }
    if (redir[0]) posix_spawn_file_actions_addopen(&fa, 0, redir[0], O_RDONLY, 0);
    else posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (redir[1]) posix_spawn_file_actions_addopen(&fa, 1, redir[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (redir[2]) posix_spawn_file_actions_addopen(&fa, 2, redir[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);

    /* Environment: opts.env, then ours less the names opts.env sets: one entry per name, since of
     * two, getenv reads the first and sh the last. */
    int nenv = 0;
    while (environ[nenv]) nenv++;
    int nextra = 0;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "env");
        if (lua_istable(L, -1)) {
            lua_pushnil(L);
            while (lua_next(L, -2)) {
                nextra++;
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }
    const char **envp = lua_newuserdatauv(L, sizeof(char *) * (size_t)(nenv + nextra + 1), 0);
    int k = 0, envt = 0;
    if (nextra) {
        lua_newtable(L); /* anchor: keeps the NAME=value strings alive until we return */
        int anchor = lua_gettop(L);
        lua_getfield(L, 2, "env");
        envt = lua_gettop(L); /* stays on the stack for the loop over ours */
        lua_pushnil(L);
        while (lua_next(L, envt)) {
            const char *name = luaL_checkstring(L, -2);
            const char *val = luaL_checkstring(L, -1);
            lua_pushfstring(L, "%s=%s", name, val);
            envp[k++] = lua_tostring(L, -1);
            lua_rawseti(L, anchor, k);
            lua_pop(L, 1);
        }
    }
    for (int i = 0; i < nenv; i++) {
        const char *eq = strchr(environ[i], '=');
        if (envt && eq) {
            lua_pushlstring(L, environ[i], (size_t)(eq - environ[i]));
            int replaced = lua_rawget(L, envt) != LUA_TNIL;
            lua_pop(L, 1);
            if (replaced) continue;
        }
        envp[k++] = environ[i];
    }
    if (envt) lua_pop(L, 1);
    envp[k] = NULL;

    /* Children start with default signal dispositions and an empty mask, so that the driver's
     * own handlers do not leak into them. */
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t def, empty;
    sigemptyset(&def);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGPIPE);
    sigemptyset(&empty);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setsigmask(&at, &empty);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &at, (char *const *)argv, (char *const *)envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    (void)argv_idx;
    if (rc != 0) {
        errno = rc;
        return fail(L, "cannot start", argv[0]);
    }
    lua_pushinteger(L, pid);
    return 1;
}

/* wait(block [, pid]) -> pid, code, cpu | nil.  code: exit status, or -signal when killed by a
 * signal; cpu: the child's CPU seconds, user + system (its own waited-for children included),
 * which the build records as a job's cost. Waits for any child, or for that one. With block
 * false, returns nil at once when no child has finished. An interrupted wait (a signal arrived)
 * returns nil, "interrupted". */
static int l_wait(lua_State *L)
{
    int block = lua_toboolean(L, 1);
    pid_t which = (pid_t)luaL_optinteger(L, 2, -1);
    int status;
    struct rusage ru;
    pid_t pid = wait4(which, &status, block ? 0 : WNOHANG, &ru);
    if (pid <= 0) {
        lua_pushnil(L);
        lua_pushstring(L, pid < 0 && errno == EINTR ? "interrupted" : "none");
        return 2;
    }
    lua_pushinteger(L, pid);
    if (WIFEXITED(status)) lua_pushinteger(L, WEXITSTATUS(status));
    else if (WIFSIGNALED(status)) lua_pushinteger(L, -WTERMSIG(status));
    else lua_pushinteger(L, -1);
    lua_pushnumber(L, (lua_Number)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                          (lua_Number)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6);
    return 3;
}

static int l_kill(lua_State *L)
{
    pid_t pid = (pid_t)luaL_checkinteger(L, 1);
    int sig = (int)luaL_optinteger(L, 2, SIGTERM);
    lua_pushboolean(L, kill(pid, sig) == 0);
    return 1;
}

/* touch(path) -> true | nil, msg: sets an existing file's times to now (a heartbeat). */
static int l_touch(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (utimensat(AT_FDCWD, path, NULL, 0) != 0) return fail(L, "cannot touch", path);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_sha256(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    char hex[65];
    sha256_hex(s, n, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int l_sha256_file(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char hex[65];
    if (sha256_file_hex(path, hex) != 0) return fail(L, "cannot read", path);
    lua_pushstring(L, hex);
    return 1;
}

static int push_stat(lua_State *L, const struct stat *st)
{
    lua_createtable(L, 0, 8);
    const char *type = S_ISREG(st->st_mode) ? "file"
                       : S_ISDIR(st->st_mode) ? "dir"
                       : S_ISLNK(st->st_mode) ? "link"
                                              : "other";
    lua_pushstring(L, type);
    lua_setfield(L, -2, "type");
    lua_pushinteger(L, (lua_Integer)st->st_size);
    lua_setfield(L, -2, "size");
    lua_pushinteger(L, (lua_Integer)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec);
    lua_setfield(L, -2, "mtime_ns");
    lua_pushinteger(L, (lua_Integer)st->st_ino);
    lua_setfield(L, -2, "ino");
    /* ctime and dev: what a hash memo must also compare (see fs.lua): no user-space call sets
     * ctime, so any write, even one that restores mtime, changes it. */
    lua_pushinteger(L, (lua_Integer)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec);
    lua_setfield(L, -2, "ctime_ns");
    lua_pushinteger(L, (lua_Integer)st->st_dev);
    lua_setfield(L, -2, "dev");
    lua_pushinteger(L, (lua_Integer)st->st_mode & 07777);
    lua_setfield(L, -2, "mode");
    return 1;
}

/* stat(path [, fresh]) / lstat(path) -> {type, size, mtime_ns, ctime_ns, ino, dev, mode} | nil, msg
 * fresh: open the file and fstat it, for a file other machines may write: on NFS, stat may answer
 * from the attribute cache for up to a minute, while open revalidates (close-to-open). */
static int l_stat(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (lua_toboolean(L, 2)) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) return fail(L, "cannot stat", path);
        int rc = fstat(fd, &st);
        close(fd);
        if (rc != 0) return fail(L, "cannot stat", path);
    } else if (stat(path, &st) != 0) {
        return fail(L, "cannot stat", path);
    }
    return push_stat(L, &st);
}

static int l_lstat(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    struct stat st;
    if (lstat(path, &st) != 0) return fail(L, "cannot stat", path);
    return push_stat(L, &st);
}

static int l_mkdir_p(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    /* already there (the driver asks again for every job's folder): one stat, not a mkdir for
     * every component */
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        lua_pushboolean(L, 1);
        return 1;
    }
    char *p = strdup(path);
    if (!p) return luaL_error(L, "out of memory");
    for (char *q = p + 1; *q; q++) {
        if (*q != '/') continue;
        *q = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            free(p);
            return fail(L, "cannot create directory", path);
        }
        *q = '/';
    }
    int bad = mkdir(p, 0755) != 0 && errno != EEXIST;
    free(p);
    if (bad) return fail(L, "cannot create directory", path);
    lua_pushboolean(L, 1);
    return 1;
}

/* link(src, dst): a hard link dst to src's file (link(2)); true | nil, msg. The site reuses the
 * files of its published version that did not change instead of copying them again. */
static int l_link(lua_State *L)
{
    const char *src = luaL_checkstring(L, 1), *dst = luaL_checkstring(L, 2);
    if (link(src, dst) != 0) return fail(L, "cannot link to", dst);
    lua_pushboolean(L, 1);
    return 1;
}

/* exchange(a, b): atomically swaps two paths (renameat2 RENAME_EXCHANGE), so a published
 * directory is replaced by its new version in one step; readers see the old or the new. */
static int l_exchange(lua_State *L)
{
    const char *a = luaL_checkstring(L, 1), *b = luaL_checkstring(L, 2);
    if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0) return fail(L, "cannot exchange", b);
    lua_pushboolean(L, 1);
    return 1;
}

static int rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return -1;
        struct dirent *de;
        int rc = 0;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            size_t n = strlen(path) + strlen(de->d_name) + 2;
            char *child = malloc(n);
            if (!child) { rc = -1; break; }
            snprintf(child, n, "%s/%s", path, de->d_name);
            if (rm_rf(child) != 0) rc = -1;
            free(child);
        }
        closedir(d);
        if (rc != 0) return rc;
        return rmdir(path);
    }
    return unlink(path);
}

static int l_rm_rf(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    if (rm_rf(path) != 0) return fail(L, "cannot remove", path);
    lua_pushboolean(L, 1);
    return 1;
}

/* listdir(path) -> sorted array of names (without . and ..) | nil, msg */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int l_listdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    DIR *d = opendir(path);
    if (!d) return fail(L, "cannot list", path);
    size_t n = 0, cap = 16;
    char **names = malloc(cap * sizeof *names);
    if (!names) {
        closedir(d);
        return luaL_error(L, "out of memory");
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (n == cap) {
            char **more = realloc(names, (cap *= 2) * sizeof *names);
            if (!more) break;
            names = more;
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, names[i] ? names[i] : "");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
        free(names[i]);
    }
    free(names);
    return 1;
}

static int l_realpath(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    char *r = realpath(path, NULL);
    if (!r) return fail(L, "cannot resolve", path);
    lua_pushstring(L, r);
    free(r);
    return 1;
}

/* copy(src, dst): copies a regular file's bytes to dst (created or truncated, mode 0644).
 * Cache entries are copied, not hard-linked, so that editing the site never alters the cache. */
static int l_copy(lua_State *L)
{
    const char *src = luaL_checkstring(L, 1), *dst = luaL_checkstring(L, 2);
    int in = open(src, O_RDONLY);
    if (in < 0) return fail(L, "cannot open", src);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) {
        close(in);
        return fail(L, "cannot create", dst);
    }
    char chunk[1 << 16];
    ssize_t r;
    int bad = 0;
    while ((r = read(in, chunk, sizeof chunk)) > 0) {
        char *p = chunk;
        while (r > 0) {
            ssize_t w = write(out, p, (size_t)r);
            if (w < 0) {
                if (errno == EINTR) continue;
                bad = 1;
                break;
            }
            p += w;
            r -= w;
        }
        if (bad) break;
    }
    if (r < 0) bad = 1;
    close(in);
    if (close(out) != 0) bad = 1;
    if (bad) return fail(L, "cannot copy to", dst);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_clock(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + ts.tv_nsec * 1e-9);
    return 1;
}

static int l_sleep(lua_State *L)
{
    double s = luaL_checknumber(L, 1);
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
    return 0;
}

static int l_isatty(lua_State *L)
{
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

static int l_term_width(lua_State *L)
{
    struct winsize ws;
    if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) lua_pushinteger(L, ws.ws_col);
    else lua_pushinteger(L, 80);
    return 1;
}

static int l_ncpu(lua_State *L)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    lua_pushinteger(L, n > 0 ? n : 1);
    return 1;
}

static int l_getpid(lua_State *L)
{
    lua_pushinteger(L, getpid());
    return 1;
}

/* Signals: the driver catches SIGINT/SIGTERM so that it can stop its children and remove its
 * temporary files; `interrupted()` tells whether one arrived. */
static volatile sig_atomic_t got_signal;

static void on_signal(int sig) { got_signal = sig; }
/* Nothing to do: its arrival alone ends a sleep (nanosleep is never restarted), so the driver's
 * poll loop sees a finished job at once rather than at its next tick. */
static void on_child(int sig) { (void)sig; }

static int l_catch_signals(lua_State *L)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocking wait returns so the driver can react */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    /* SA_RESTART: reads, writes and waits go on as if nothing came; sleeps and polls end. */
    sa.sa_handler = on_child;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);
    (void)L;
    return 0;
}

static int l_interrupted(lua_State *L)
{
    lua_pushinteger(L, got_signal);
    return 1;
}

/* isolate(fn, seconds, bytes): runs fn() in a forked child whose Lua allocations are capped at
 * `bytes` more than the state holds now, and which is killed after `seconds` of wall-clock time
 * or when this process gets SIGINT/SIGTERM/SIGHUP (catch_signals). fn returns a string, which
 * is all that comes back. Returns one of:
 *   "ok", string | "error", message | "memory" | "timeout" | "interrupted" | "crashed", message
 *
 * Why a child: the code may spend hours inside one C call (a backtracking string.find), where no
 * Lua hook ever runs, and only a process can be stopped there at any moment and leave nothing
 * behind. Why a capped allocator and not RLIMIT_AS: every allocation the sandbox can make goes
 * through Lua's allocator, so the cap is exact and ends in a catchable "not enough memory";
 * an address-space limit would also count the mappings of sanitizer builds (the fuzzers) and kill
 * them at start. An alarm in the child is the backstop that ends it if this process is killed
 * before it can. */
struct cap {
    lua_Alloc f;
    void *ud;
    size_t used, limit;
    int hit;
};

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct cap *c = ud;
    size_t old = ptr ? osize : 0;
    if (nsize > old && c->used + (nsize - old) > c->limit) {
        c->hit = 1;
        return NULL;
    }
    void *p = c->f(c->ud, ptr, osize, nsize);
    if (p || nsize == 0) c->used = c->used - old + nsize;
    return p;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The child: runs fn (at stack index 1) and writes one status byte ('R' result, 'E' error,
 * 'M' memory) and the text. Never returns. */
static void isolate_child(lua_State *L, int fd, unsigned seconds, size_t bytes)
{
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    alarm(seconds + 1);
    static struct cap c;
    c.f = lua_getallocf(L, &c.ud);
    c.used = (size_t)lua_gc(L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB);
    c.limit = c.used + bytes;
    lua_setallocf(L, capped_alloc, &c);
    lua_pushvalue(L, 1);
    int rc = lua_pcall(L, 0, 1, 0);
    char tag = rc == LUA_OK ? 'R' : 'E';
    size_t n = 0;
    const char *s = lua_tolstring(L, -1, &n);
    if (!s) {
        s = rc == LUA_OK ? "isolate: the function returned no string" : "(an error that is not a string)";
        n = strlen(s);
        tag = 'E';
    }
    if (rc == LUA_ERRMEM || c.hit) tag = 'M';
    int bad = write_all(fd, &tag, 1) != 0 || (tag != 'M' && write_all(fd, s, n) != 0);
    _exit(bad ? 1 : 0);
}

static int l_isolate(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_Number secs = luaL_checknumber(L, 2);
    lua_Integer bytes = luaL_checkinteger(L, 3);
    luaL_argcheck(L, secs > 0 && secs < 86400, 2, "expected seconds in (0, 86400)");
    luaL_argcheck(L, bytes > 0, 3, "expected a positive number of bytes");
    lua_settop(L, 1);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return fail(L, "cannot make a pipe", "isolate");
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return fail(L, "cannot fork", "isolate");
    }
    if (pid == 0) {
        close(fds[0]);
        isolate_child(L, fds[1], (unsigned)secs, (size_t)bytes);
    }
    close(fds[1]);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    const char *why = NULL;
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        double spent = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) * 1e-9;
        if (got_signal) why = "interrupted";
        else if (spent >= secs) why = "timeout";
        if (why) break;
        /* A short wait, so that a signal is seen within a tenth of a second even if it came
         * between the check above and the poll. */
        struct pollfd p = {fds[0], POLLIN, 0};
        int r = poll(&p, 1, 100);
        if (r <= 0) continue; /* timeout or EINTR: check again */
        if (len == cap) {
            /* The child's output is bounded by its own cap; more means it is not ours. */
            if (cap > (size_t)bytes + 1) { why = "memory"; break; }
            char *more = realloc(buf, cap = cap ? cap * 2 : 4096);
            if (!more) { why = "memory"; break; }
            buf = more;
        }
        ssize_t got = read(fds[0], buf + len, cap - len);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;
        len += (size_t)got;
    }
    close(fds[0]);
    if (why) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!why && WIFSIGNALED(status)) why = WTERMSIG(status) == SIGALRM ? "timeout" : NULL;
    /* Ctrl-C reaches the whole process group: the child may have died of it before we saw it. */
    if (!why && len == 0 && got_signal) why = "interrupted";
    if (why) {
        free(buf);
        lua_pushstring(L, why);
        return 1;
    }
    if (len == 0 || (buf[0] != 'R' && buf[0] != 'E' && buf[0] != 'M')) {
        free(buf);
        lua_pushstring(L, "crashed");
        if (WIFSIGNALED(status)) lua_pushfstring(L, "killed by signal %d", WTERMSIG(status));
        else lua_pushfstring(L, "exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return 2;
    }
    int n = buf[0] == 'M' ? 1 : 2;
    lua_pushstring(L, buf[0] == 'R' ? "ok" : buf[0] == 'E' ? "error" : "memory");
    if (n == 2) lua_pushlstring(L, buf + 1, len - 1);
    free(buf);
    return n;
}

/* lock(path) -> true | nil, msg: takes an exclusive lock on path (created if needed) for the
 * rest of this process's life, without waiting. The descriptor is close-on-exec, so children do
 * not inherit the lock and a killed driver's lock dies with it. */
static int l_lock(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return fail(L, "cannot open lock", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        lua_pushnil(L);
        lua_pushfstring(L, "%s: another build holds this lock", path);
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg fvsys_lib[] = {
    {"lock", l_lock},
    {"spawn", l_spawn},         {"wait", l_wait},
    {"kill", l_kill},           {"sha256", l_sha256},
    {"touch", l_touch},
    {"sha256_file", l_sha256_file}, {"stat", l_stat},
    {"lstat", l_lstat},         {"mkdir_p", l_mkdir_p},
    {"exchange", l_exchange},   {"rm_rf", l_rm_rf},
    {"listdir", l_listdir},     {"realpath", l_realpath},
    {"copy", l_copy},           {"link", l_link},
    {"clock", l_clock},
    {"sleep", l_sleep},         {"isatty", l_isatty},
    {"term_width", l_term_width}, {"ncpu", l_ncpu},
    {"getpid", l_getpid},       {"catch_signals", l_catch_signals},
    {"interrupted", l_interrupted}, {"isolate", l_isolate},
    {"json_decode", fvsys_json_decode},
    {"portable", fvsys_portable},     {"canon", fvsys_canon},
    {"json_encode", fvsys_json_encode},
    {"memo_encode", fvsys_memo_encode}, {"memo_decode", fvsys_memo_decode},
    {NULL, NULL}};

int luaopen_fvsys(lua_State *L);

int luaopen_fvsys(lua_State *L)
{
    luaL_newlib(L, fvsys_lib);
    return 1;
}
