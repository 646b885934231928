/* pipetable — pipe tables found in Markdown text, line by line (see pipetable.h). */
#include "pipetable.h"

#include <stdlib.h>
#include <string.h>

/* One line of the text: [s, s + len), without its newline. */
typedef struct line {
    const char *s;
    size_t len;
} line;

static int blank(line l)
{
    for (size_t i = 0; i < l.len; i++)
        if (l.s[i] != ' ' && l.s[i] != '\t' && l.s[i] != '\r') return 0;
    return 1;
}

/* Leading spaces (a tab counts 4). */
static int indent(line l)
{
    int n = 0;
    for (size_t i = 0; i < l.len && (l.s[i] == ' ' || l.s[i] == '\t'); i++) n += l.s[i] == '\t' ? 4 : 1;
    return n;
}

/* A fence line (``` or ~~~, up to 3 spaces in): its character, else 0. */
static char fence(line l)
{
    size_t i = 0;
    while (i < l.len && i < 3 && l.s[i] == ' ') i++;
    if (i + 3 > l.len || (l.s[i] != '`' && l.s[i] != '~')) return 0;
    char c = l.s[i];
    return l.s[i + 1] == c && l.s[i + 2] == c ? c : 0;
}

/* Splits a row into trimmed cells at every `|` not escaped by a backslash, dropping an empty
 * first or last cell (the optional outer pipes). `\|` becomes `|`. Returns the count, cells in
 * *out (owned by the caller). */
static int split_row(line l, char ***out)
{
    char **cells = NULL;
    int n = 0;
    buf cur = {0};
    size_t i = 0, end = l.len;
    while (i < end && (l.s[i] == ' ' || l.s[i] == '\t')) i++;
    while (end > i && (l.s[end - 1] == ' ' || l.s[end - 1] == '\t' || l.s[end - 1] == '\r')) end--;
    int lead = i < end && l.s[i] == '|';
    int trail = end > i + lead && l.s[end - 1] == '|' && !(end >= 2 && l.s[end - 2] == '\\');
    if (lead) i++;
    if (trail) end--;
    for (;; i++) {
        if (i == end || l.s[i] == '|') {
            /* trim the cell */
            size_t a = 0, b = cur.len;
            while (a < b && (cur.data[a] == ' ' || cur.data[a] == '\t')) a++;
            while (b > a && (cur.data[b - 1] == ' ' || cur.data[b - 1] == '\t')) b--;
            cells = xrealloc(cells, sizeof *cells * (size_t)(n + 1));
            cells[n++] = xstrndup(cur.data ? cur.data + a : "", b - a);
            buf_free(&cur);
            cur = (buf){0};
            if (i == end) break;
            continue;
        }
        if (l.s[i] == '\\' && i + 1 < end && l.s[i + 1] == '|') i++;
        buf_putc(&cur, l.s[i]);
    }
    *out = cells;
    return n;
}

static void free_cells(char **cells, int n)
{
    for (int i = 0; i < n; i++) free(cells[i]);
    free(cells);
}

/* A delimiter row's cell, `:?-+:?`: its alignment, or -1. */
static int delimiter(const char *c)
{
    size_t n = strlen(c), a = 0, b = n;
    if (n == 0) return -1;
    int left = c[0] == ':', right = c[n - 1] == ':';
    a += left;
    b -= right && b > a;
    if (a >= b) return -1;
    for (size_t i = a; i < b; i++)
        if (c[i] != '-') return -1;
    return left && right ? PT_CENTER : right ? PT_RIGHT : left ? PT_LEFT : PT_NONE;
}

/* Whether l is a delimiter row (at least one cell, each `:?-+:?`, and a `|` or a lone column). */
static int delimiter_row(line l, int *count, pt_align **align)
{
    if (indent(l) >= 4 || blank(l)) return 0;
    char **cells;
    int n = split_row(l, &cells), ok = n > 0 && (memchr(l.s, '|', l.len) != NULL);
    pt_align *al = ok ? xcalloc((size_t)n, sizeof *al) : NULL;
    for (int i = 0; ok && i < n; i++) {
        int d = delimiter(cells[i]);
        if (d < 0) ok = 0;
        else al[i] = (pt_align)d;
    }
    free_cells(cells, n);
    if (!ok) {
        free(al);
        return 0;
    }
    *count = n;
    *align = al;
    return 1;
}

void pipetable_free(pt_table *t, int n)
{
    for (int i = 0; i < n; i++) {
        free_cells(t[i].cells, t[i].rows * t[i].cols);
        free(t[i].align);
    }
    free(t);
}

int pipetable_scan(const char *md, const char *path, const int *lines, int n_lines, pt_table **out, int *n, err *e)
{
    line *ls = NULL;
    int nl = 0;
    for (const char *p = md;;) {
        const char *q = strchr(p, '\n');
        ls = xrealloc(ls, sizeof *ls * (size_t)(nl + 1));
        ls[nl++] = (line){p, q ? (size_t)(q - p) : strlen(p)};
        if (!q) break;
        p = q + 1;
    }
    pt_table *tabs = NULL;
    int nt = 0, rc = 0;
    char in_fence = 0;
    for (int i = 0; i < nl && rc == 0; i++) {
        char f = fence(ls[i]);
        if (in_fence) {
            if (f == in_fence) in_fence = 0;
            continue;
        }
        if (f) {
            in_fence = f;
            continue;
        }
        int starts_block = i == 0 || blank(ls[i - 1]);
        int cols;
        pt_align *align;
        if (!starts_block || i + 1 >= nl || indent(ls[i]) >= 4 || !memchr(ls[i].s, '|', ls[i].len) ||
            !delimiter_row(ls[i + 1], &cols, &align))
            continue;
        pt_table t = {.first_line = i + 1, .cols = cols, .align = align};
        int k;
        for (k = i; k < nl && !blank(ls[k]); k++) {
            if (k == i + 1) continue; /* the delimiter row */
            char **cells;
            int got = split_row(ls[k], &cells);
            if (got != cols) {
                int at = lines && k < n_lines ? lines[k] : k + 1;
                rc = err_set(e, "%s:%d: table row has %d cell%s (expected %d, as the delimiter row below the header)",
                             path, at, got, got == 1 ? "" : "s", cols);
                free_cells(cells, got);
                break;
            }
            t.cells = xrealloc(t.cells, sizeof *t.cells * (size_t)(t.rows + 1) * cols);
            memcpy(t.cells + (size_t)t.rows * cols, cells, sizeof *cells * cols);
            free(cells);
            t.rows++;
        }
        t.n_lines = k - i;
        tabs = xrealloc(tabs, sizeof *tabs * (size_t)(nt + 1));
        tabs[nt++] = t;
        i = k - 1;
    }
    free(ls);
    if (rc != 0) {
        pipetable_free(tabs, nt);
        return -1;
    }
    *out = tabs;
    *n = nt;
    return 0;
}
