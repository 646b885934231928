/* util — memory, errors and files shared by every C module of the pipeline.
 *
 * Ownership: functions returning char* or void* hand the caller a heap block to free().
 * Errors: a fallible function returns 0 on success and -1 on failure, and then fills the
 * caller's `err` with one line saying what failed and where (file, line or field). */
#ifndef FV_UTIL_H
#define FV_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* One line of error text, filled by the function that failed. */
typedef struct err {
    char msg[1024];
} err;

/* Formats the error message into e (printf-style; control characters escaped, so it stays one
 * line whatever the arguments hold); always returns -1 so callers can
 * `return err_set(e, ...)`. e may be NULL. */
int err_set(err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Allocation that never returns NULL: on exhaustion prints one line and aborts
 * (a CLI cannot do better; cmark's xcalloc, llm.c's mallocCheck). */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new heap string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer; data is always NUL-terminated. Free with buf_free. */
typedef struct buf {
    char *data;
    size_t len, cap;
} buf;
void buf_put(buf *b, const char *s, size_t n);
void buf_puts(buf *b, const char *s);
void buf_putc(buf *b, char c);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with HTML escaping of & < > " ' (safe in text and in quoted attributes). */
void buf_put_html(buf *b, const char *s, size_t n);
/* Takes ownership of the buffer's memory and resets b. */
char *buf_detach(buf *b);
void buf_free(buf *b);

/* Reads a whole file into a NUL-terminated heap block (*data, owned by the caller).
 * Returns 0, or -1 with "path: reason" in e. */
int read_file(const char *path, char **data, size_t *len, err *e);

/* Writes len bytes to path through path.tmp.<pid> + fsync + rename, so no reader ever sees a
 * half-written file. Returns 0, or -1 with "path: reason" in e (the temporary is removed). */
int write_file_atomic(const char *path, const void *data, size_t len, err *e);

/* Checks that s[0..len) is valid UTF-8 (no overlongs, no surrogates). Returns 0, or -1 and
 * sets *bad_line (1-based) and *bad_col (1-based byte column) of the first bad byte. */
int utf8_check(const char *s, size_t len, int *bad_line, int *bad_col);

/* Thread count for our tools: FV_THREADS when set (1..1024; -1 when it is not such a number),
 * otherwise the number of online cores. */
int threads_from_env(void);

/* Creates a directory and its parents (like mkdir -p). Returns 0 or -1 with e. */
int mkdir_p(const char *path, err *e);

/* Seconds on the monotonic clock, for measuring durations (not a time of day). */
double now_seconds(void);

/* Parses s, the value of command-line option opt, as a whole decimal integer from lo to hi into
 * *out. Rejects an empty string, leading blanks, trailing text and overflow. Returns 0, or -1 with
 * "OPT: expected an integer from LO to HI, got 'S'" in e (*out untouched). */
int parse_int(const char *opt, const char *s, long lo, long hi, long *out, err *e);

#endif
