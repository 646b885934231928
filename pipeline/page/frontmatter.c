/* frontmatter — see frontmatter.h. A line-based parser: the subset is small enough that a
 * general YAML parser would only add ways to be surprised. */
#include "frontmatter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

/* A cursor over the lines of the front matter. */
typedef struct lines {
    const char *src;
    size_t len, pos;
    int line; /* number of the line that the next call returns */
} lines;

/* Returns the next line (without its newline) in *s and *n, or 0 at the end of input. */
static int next_line(lines *ls, const char **s, size_t *n)
{
    if (ls->pos >= ls->len) return 0;
    const char *start = ls->src + ls->pos;
    const char *nl = memchr(start, '\n', ls->len - ls->pos);
    size_t n0 = nl ? (size_t)(nl - start) : ls->len - ls->pos;
    ls->pos += n0 + (nl ? 1 : 0);
    if (n0 > 0 && start[n0 - 1] == '\r') n0--;
    *s = start;
    *n = n0;
    ls->line++;
    return 1;
}

static size_t indent_of(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] == ' ') i++;
    return i;
}

static int blank(const char *s, size_t n) { return indent_of(s, n) == n; }

/* Parses a scalar value (plain, or double-quoted with escapes) into a new string. */
static int scalar(const char *s, size_t n, const char *path, int line, char **out, err *e)
{
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    while (n > 0 && *s == ' ') s++, n--;
    if (n == 0) return err_set(e, "%s:%d: front matter: empty value (expected text after ':')", path, line);
    if (*s == '"') {
        buf b = {0};
        size_t i = 1;
        for (; i < n && s[i] != '"'; i++) {
            if (s[i] == '\\' && i + 1 < n) {
                i++;
                char c = s[i] == 'n' ? '\n' : s[i];
                if (c != '"' && c != '\\' && c != '\n') {
                    buf_free(&b);
                    return err_set(e, "%s:%d: front matter: unknown escape '\\%c' (expected \\\" or \\\\)",
                                   path, line, s[i]);
                }
                buf_putc(&b, c);
            } else {
                buf_putc(&b, s[i]);
            }
        }
        if (i >= n || i != n - 1) {
            buf_free(&b);
            return err_set(e, "%s:%d: front matter: unterminated or trailing text after quoted value (expected \"...\")",
                           path, line);
        }
        *out = buf_detach(&b);
        return 0;
    }
    if (*s == '\'' || *s == '[' || *s == '{' || *s == '|' || *s == '>' || *s == '&' || *s == '*')
        return err_set(e, "%s:%d: front matter: unsupported value syntax '%c' (expected plain text or \"double-quoted\")",
                       path, line, *s);
    *out = xstrndup(s, n);
    return 0;
}

/* Splits "key: value" into key (s[0..klen)) and value start; returns -1 if there is no ':'. */
static int split_key(const char *s, size_t n, size_t *klen, const char **v, size_t *vn)
{
    const char *colon = memchr(s, ':', n);
    if (!colon) return -1;
    *klen = (size_t)(colon - s);
    for (size_t i = 0; i < *klen; i++)
        if (!(s[i] == '_' || s[i] == '-' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9')))
            return -1;
    if (*klen == 0) return -1;
    *v = colon + 1;
    *vn = n - *klen - 1;
    if (*vn > 0 && **v != ' ') return -1;
    return 0;
}

static int key_is(const char *s, size_t n, const char *k) { return strlen(k) == n && !memcmp(s, k, n); }

static int valid_date(const char *d)
{
    int y, m, day;
    char tail;
    if (strlen(d) != 10 || sscanf(d, "%4d-%2d-%2d%c", &y, &m, &day, &tail) != 3) return 0;
    if (d[4] != '-' || d[7] != '-') return 0;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || day < 1) return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return day <= mdays[m - 1] + (m == 2 && leap);
}

static int author_field(fm_author *a, const char *k, size_t kn, const char *v, size_t vn, const char *path,
                        int line, err *e)
{
    char **slot = key_is(k, kn, "name")              ? &a->name
                  : key_is(k, kn, "url")             ? &a->url
                  : key_is(k, kn, "affiliation")     ? &a->affiliation
                  : key_is(k, kn, "affiliation_url") ? &a->affiliation_url
                                                     : NULL;
    if (!slot)
        return err_set(e, "%s:%d: front matter: unknown author field '%.*s' (expected name, url, affiliation or affiliation_url)",
                       path, line, (int)kn, k);
    if (*slot) return err_set(e, "%s:%d: front matter: author field '%.*s' given twice", path, line, (int)kn, k);
    if (scalar(v, vn, path, line, slot, e) != 0) return -1;
    /* Links must be http(s) or mailto: a javascript: URL would run on click. */
    const char *expected = slot == &a->url || slot == &a->affiliation_url ? url_problem(*slot, URL_ABSOLUTE) : NULL;
    if (expected) {
        char shown[96];
        url_shown(*slot, shown, sizeof shown);
        return err_set(e, "%s:%d: front matter: author field '%.*s': '%s' is not a link (expected %s)", path, line,
                       (int)kn, k, shown, expected);
    }
    return 0;
}

int fm_parse(const char *src, size_t len, const char *path, fm_doc *doc, err *e)
{
    memset(doc, 0, sizeof *doc);
    lines ls = {src, len, 0, 1};
    const char *s;
    size_t n;
    int cap = 0;
    int authors_line = 0;
    if (!next_line(&ls, &s, &n) || !(n == 3 && !memcmp(s, "---", 3))) {
        err_set(e, "%s:1: front matter missing (expected the file to start with a line '---')", path);
        goto fail;
    }
    int closed = 0, in_authors = 0;
    while (next_line(&ls, &s, &n)) {
        int line = ls.line - 1;
        if (n == 3 && !memcmp(s, "---", 3)) {
            closed = 1;
            break;
        }
        if (blank(s, n) || s[indent_of(s, n)] == '#') continue;
        if (memchr(s, '\t', n)) {
            err_set(e, "%s:%d: front matter: tab character (expected spaces for indentation)", path, line);
            goto fail;
        }
        size_t ind = indent_of(s, n);
        const char *t = s + ind;
        size_t tn = n - ind;
        size_t kn;
        const char *v;
        size_t vn;
        if (ind == 0) {
            in_authors = 0;
            if (split_key(t, tn, &kn, &v, &vn) != 0) {
                err_set(e, "%s:%d: front matter: cannot read '%.*s' (expected 'key: value')", path, line,
                        (int)(tn > 40 ? 40 : tn), t);
                goto fail;
            }
            char **slot = key_is(t, kn, "title")         ? &doc->title
                          : key_is(t, kn, "description") ? &doc->description
                          : key_is(t, kn, "date")        ? &doc->date
                                                         : NULL;
            if (key_is(t, kn, "authors")) {
                if (!blank(v, vn) || doc->authors) {
                    err_set(e, "%s:%d: front matter: 'authors' must be followed by a list of '- name: ...' lines",
                            path, line);
                    goto fail;
                }
                in_authors = 1;
                authors_line = line;
                continue;
            }
            if (!slot) {
                err_set(e, "%s:%d: front matter: unknown key '%.*s' (expected title, description, date or authors)",
                        path, line, (int)kn, t);
                goto fail;
            }
            if (*slot) {
                err_set(e, "%s:%d: front matter: '%.*s' given twice", path, line, (int)kn, t);
                goto fail;
            }
            if (scalar(v, vn, path, line, slot, e) != 0) goto fail;
            if (slot == &doc->date && !valid_date(doc->date)) {
                err_set(e, "%s:%d: front matter: date '%s' is not a real day (expected YYYY-MM-DD)", path, line,
                        doc->date);
                goto fail;
            }
            continue;
        }
        if (!in_authors) {
            err_set(e, "%s:%d: front matter: unexpected indentation (expected 'key: value' at the start of the line)",
                    path, line);
            goto fail;
        }
        if (tn >= 2 && t[0] == '-' && t[1] == ' ') {
            if (doc->n_authors == cap) {
                cap = cap ? cap * 2 : 4;
                doc->authors = xrealloc(doc->authors, sizeof(fm_author) * (size_t)cap);
            }
            memset(&doc->authors[doc->n_authors++], 0, sizeof(fm_author));
            t += 2;
            tn -= 2;
            while (tn && *t == ' ') t++, tn--;
        } else if (doc->n_authors == 0) {
            err_set(e, "%s:%d: front matter: expected an author entry starting with '- name:'", path, line);
            goto fail;
        }
        if (split_key(t, tn, &kn, &v, &vn) != 0) {
            err_set(e, "%s:%d: front matter: cannot read author line (expected 'field: value')", path, line);
            goto fail;
        }
        if (author_field(&doc->authors[doc->n_authors - 1], t, kn, v, vn, path, line, e) != 0) goto fail;
    }
    if (!closed) {
        err_set(e, "%s:%d: front matter is not closed (expected a line '---' after it)", path, ls.line - 1);
        goto fail;
    }
    if (!doc->title) {
        err_set(e, "%s:1: front matter: missing 'title' (expected 'title: ...')", path);
        goto fail;
    }
    if (!doc->date) {
        err_set(e, "%s:1: front matter: missing 'date' (expected 'date: YYYY-MM-DD')", path);
        goto fail;
    }
    if (doc->n_authors == 0) {
        err_set(e, "%s:%d: front matter: no authors (expected 'authors:' with '- name: ...' entries)", path,
                authors_line ? authors_line : 1);
        goto fail;
    }
    for (int i = 0; i < doc->n_authors; i++)
        if (!doc->authors[i].name) {
            err_set(e, "%s:%d: front matter: author %d has no name (expected '- name: ...')", path,
                    authors_line, i + 1);
            goto fail;
        }
    doc->body_offset = ls.pos;
    doc->body_line = ls.line;
    return 0;
fail:
    fm_free(doc);
    return -1;
}

void fm_free(fm_doc *doc)
{
    free(doc->title);
    free(doc->description);
    free(doc->date);
    for (int i = 0; i < doc->n_authors; i++) {
        free(doc->authors[i].name);
        free(doc->authors[i].url);
        free(doc->authors[i].affiliation);
        free(doc->authors[i].affiliation_url);
    }
    free(doc->authors);
    memset(doc, 0, sizeof *doc);
}
