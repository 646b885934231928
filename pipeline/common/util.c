/* util — see util.h. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int err_set(err *e, const char *fmt, ...)
{
    if (e) {
        char raw[sizeof e->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        /* A message echoes paths, keys and values from the input: a new line or a terminal escape
         * in them would forge lines or repaint the user's terminal, so control characters are
         * written as \n, \t or \xNN (the message stays one line). */
        size_t o = 0;
        for (const unsigned char *p = (const unsigned char *)raw; *p && o + 5 < sizeof e->msg; p++) {
            if (*p >= 0x20 && *p != 0x7f) e->msg[o++] = (char)*p;
            else if (*p == '\n') o += (size_t)snprintf(e->msg + o, 3, "\\n");
            else if (*p == '\t') o += (size_t)snprintf(e->msg + o, 3, "\\t");
            else o += (size_t)snprintf(e->msg + o, 5, "\\x%02x", *p);
        }
        e->msg[o] = 0;
    }
    return -1;
}

static void out_of_memory(size_t n)
{
    fprintf(stderr, "fatal: out of memory (asked for %zu bytes)\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) out_of_memory(n);
    return p;
}

void *xcalloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p) out_of_memory(count * n);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) out_of_memory(n);
    return q;
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

static void buf_grow(buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void buf_put(buf *b, const char *s, size_t n)
{
    buf_grow(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

void buf_puts(buf *b, const char *s) { buf_put(b, s, strlen(s)); }

void buf_putc(buf *b, char c) { buf_put(b, &c, 1); }

void buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    buf_grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_put_html(buf *b, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (rep) {
            buf_put(b, s + start, i - start);
            buf_puts(b, rep);
            start = i + 1;
        }
    }
    buf_put(b, s + start, n - start);
}

char *buf_detach(buf *b)
{
    char *p = b->data;
    if (!p) p = xstrdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int read_file(const char *path, char **data, size_t *len, err *e)
{
    *data = NULL;
    if (len) *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open (%s)", path, strerror(errno));
    buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_put(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        buf_free(&b);
        return err_set(e, "%s: read error", path);
    }
    if (len) *len = b.len;
    *data = buf_detach(&b);
    return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, err *e)
{
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        err_set(e, "%s: cannot create (%s)", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            err_set(e, "%s: write failed (%s)", path, strerror(errno));
            goto fail;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 && errno != EINVAL) {
        err_set(e, "%s: fsync failed (%s)", path, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        err_set(e, "%s: close failed (%s)", path, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        err_set(e, "%s: rename failed (%s)", path, strerror(errno));
        goto fail;
    }
    free(tmp);
    return 0;
fail:
    if (fd >= 0) close(fd);
    unlink(tmp);
    free(tmp);
    return -1;
}

int utf8_check(const char *s, size_t len, int *bad_line, int *bad_col)
{
    const unsigned char *u = (const unsigned char *)s;
    int line = 1;
    size_t line_start = 0;
    size_t i = 0;
    while (i < len) {
        unsigned c = u[i];
        size_t need = 0;
        unsigned min = 0, cp = 0;
        if (c < 0x80) {
            if (c == '\n') {
                line++;
                line_start = i + 1;
            }
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            need = 1; cp = c & 0x1F; min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2; cp = c & 0x0F; min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3; cp = c & 0x07; min = 0x10000;
        } else {
            goto bad;
        }
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= len || (u[i + k] & 0xC0) != 0x80) goto bad;
            cp = (cp << 6) | (u[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) goto bad;
        i += need + 1;
    }
    return 0;
bad:
    if (bad_line) *bad_line = line;
    if (bad_col) *bad_col = (int)(i - line_start) + 1;
    return -1;
}

int mkdir_p(const char *path, err *e)
{
    char *p = xstrdup(path);
    for (char *q = p + 1; *q; q++) {
        if (*q != '/') continue;
        *q = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            err_set(e, "%s: cannot create directory (%s)", p, strerror(errno));
            free(p);
            return -1;
        }
        *q = '/';
    }
    int rc = 0;
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        rc = err_set(e, "%s: cannot create directory (%s)", p, strerror(errno));
    free(p);
    return rc;
}

int threads_from_env(void)
{
    const char *s = getenv("FV_THREADS");
    if (s && *s) {
        long v;
        return parse_int("FV_THREADS", s, 1, 1024, &v, NULL) == 0 ? (int)v : -1;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int parse_int(const char *opt, const char *s, long lo, long hi, long *out, err *e)
{
    if (!s) s = "";
    char *end;
    errno = 0;
    /* strtol alone would take " 7" and an empty string, and clamp "99999999999999999999" */
    long v = *s && !isspace((unsigned char)*s) ? strtol(s, &end, 10) : 0;
    if (!*s || isspace((unsigned char)*s) || *end || errno == ERANGE || v < lo || v > hi)
        return err_set(e, "%s: expected an integer from %ld to %ld, got '%s'", opt, lo, hi, s);
    *out = v;
    return 0;
}
