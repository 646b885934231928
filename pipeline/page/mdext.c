/* mdext — see mdext.h. Line-oriented: the constructs it knows never span paragraphs, and
 * knowing the line of every item is what makes its errors useful. */
#include "mdext.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct scan {
    mdext_doc *doc;
    const char *path;
    int allow_blocks;
    err *e;
} scan;

/* Source lines of the lines of one rewritten text: each line is owed to the source line being
 * read when its newline was written. */
typedef struct linemap {
    int *v;
    int n;
    size_t seen; /* bytes of the text already looked at */
} linemap;

static void map_lines(linemap *m, const buf *b, int line)
{
    for (; m->seen < b->len; m->seen++)
        if (b->data[m->seen] == '\n') {
            m->v = xrealloc(m->v, sizeof(int) * (size_t)(m->n + 1));
            m->v[m->n++] = line;
        }
}

/* Maps the text's last line too, when it has no newline; then hands the map over. */
static void map_close(linemap *m, const buf *b, int line, int **v, int *n)
{
    map_lines(m, b, line);
    if (b->len && b->data[b->len - 1] != '\n') {
        m->v = xrealloc(m->v, sizeof(int) * (size_t)(m->n + 1));
        m->v[m->n++] = line;
    }
    *v = m->v;
    *n = m->n;
    memset(m, 0, sizeof *m);
}

static int add_item(scan *sc, mx_kind kind, int line, const char *text, size_t n, buf *out)
{
    mdext_doc *d = sc->doc;
    d->items = xrealloc(d->items, sizeof(mx_item) * (size_t)(d->n_items + 1));
    d->items[d->n_items] = (mx_item){kind, line, xstrndup(text, n)};
    buf_printf(out, "\x02%d\x03", d->n_items);
    d->n_items++;
    return 0;
}

static int key_char(int c) { return c > 0 && (isalnum(c) || c == '_' || c == '-' || c == ':' || c == '.'); }

static int id_char(int c) { return c > 0 && (isalnum(c) || c == '_' || c == '-'); }

/* Length of a fence opener (``` or ~~~ after up to 3 spaces), or 0. */
static size_t fence_len(const char *s, size_t n, char *ch)
{
    size_t i = 0;
    while (i < n && i < 3 && s[i] == ' ') i++;
    if (i >= n || (s[i] != '`' && s[i] != '~')) return 0;
    char c = s[i];
    size_t k = 0;
    while (i + k < n && s[i + k] == c) k++;
    if (k < 3) return 0;
    *ch = c;
    return k;
}

/* Parses "{{word id}}" at s; returns its length, sets word/id spans; 0 if not that shape. */
static size_t directive(const char *s, size_t n, const char **w, size_t *wn, const char **id, size_t *idn)
{
    if (n < 4 || s[0] != '{' || s[1] != '{') return 0;
    size_t i = 2;
    while (i < n && s[i] == ' ') i++;
    *w = s + i;
    while (i < n && isalpha((unsigned char)s[i])) i++;
    *wn = (size_t)(s + i - *w);
    while (i < n && s[i] == ' ') i++;
    *id = s + i;
    while (i < n && id_char((unsigned char)s[i])) i++;
    *idn = (size_t)(s + i - *id);
    while (i < n && s[i] == ' ') i++;
    if (i + 1 >= n || s[i] != '}' || s[i + 1] != '}') return 0;
    return i + 2;
}

/* Rewrites one line (or a part of one) of inline text into out. */
static int inline_text(scan *sc, const char *s, size_t n, int line, buf *out)
{
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            buf_put(out, s + i, 2);
            i += 2;
            continue;
        }
        if (c == '`') {
            size_t k = 0;
            while (i + k < n && s[i + k] == '`') k++;
            /* find a closing run of exactly k backticks */
            size_t j = i + k, close = 0;
            while (j < n) {
                if (s[j] == '`') {
                    size_t m = 0;
                    while (j + m < n && s[j + m] == '`') m++;
                    if (m == k) {
                        close = j + m;
                        break;
                    }
                    j += m;
                } else {
                    j++;
                }
            }
            size_t end = close ? close : i + k;
            buf_put(out, s + i, end - i);
            i = end;
            continue;
        }
        if (c == '$') {
            /* Pandoc's rule: no space after the opening $, none before the closing $, and no
             * digit right after the closing one ("costs $5 and $10" stays text). */
            if (i + 1 < n && s[i + 1] != ' ' && s[i + 1] != '$') {
                size_t j = i + 1;
                size_t close = 0;
                while (j < n && s[j] != '`') { /* math never crosses into a code span */
                    if (s[j] == '\\' && j + 1 < n) {
                        j += 2;
                        continue;
                    }
                    if (s[j] == '$' && s[j - 1] != ' ' && !(j + 1 < n && isdigit((unsigned char)s[j + 1]))) {
                        close = j;
                        break;
                    }
                    j++;
                }
                if (close) {
                    add_item(sc, MX_MATH_INLINE, line, s + i + 1, close - i - 1, out);
                    i = close + 1;
                    continue;
                }
            }
            buf_putc(out, c);
            i++;
            continue;
        }
        if (c == '[' && i + 1 < n && s[i + 1] == '@') {
            buf keys = {0};
            size_t j = i + 1;
            for (;;) {
                if (j >= n || s[j] != '@') break;
                size_t k0 = ++j;
                while (j < n && key_char((unsigned char)s[j])) j++;
                if (j == k0) break;
                if (keys.len) buf_putc(&keys, ';');
                buf_put(&keys, s + k0, j - k0);
                while (j < n && s[j] == ' ') j++;
                if (j < n && s[j] == ';') {
                    j++;
                    while (j < n && s[j] == ' ') j++;
                    continue;
                }
                break;
            }
            if (j >= n || s[j] != ']' || keys.len == 0) {
                buf_free(&keys);
                return err_set(sc->e, "%s:%d: malformed citation (expected [@key] or [@key1; @key2])", sc->path,
                               line);
            }
            add_item(sc, MX_CITE, line, keys.data, keys.len, out);
            buf_free(&keys);
            i = j + 1;
            continue;
        }
        if (c == '[' && i + 1 < n && s[i + 1] == '^') {
            size_t j = i + 2;
            while (j < n && id_char((unsigned char)s[j])) j++;
            if (j < n && s[j] == ']' && j > i + 2) {
                add_item(sc, MX_FOOTREF, line, s + i + 2, j - i - 2, out);
                i = j + 1;
                continue;
            }
        }
        if (c == '{' && i + 1 < n && s[i + 1] == '{') {
            const char *w, *id;
            size_t wn, idn;
            size_t len = directive(s + i, n - i, &w, &wn, &id, &idn);
            if (len && wn == 3 && !memcmp(w, "ref", 3) && idn) {
                add_item(sc, MX_FIGREF, line, id, idn, out);
                i += len;
                continue;
            }
            if (len && wn == 6 && !memcmp(w, "figure", 6))
                return err_set(sc->e, "%s:%d: {{figure %.*s}} must stand alone on its own line", sc->path, line,
                               (int)idn, id);
            if (len)
                return err_set(sc->e, "%s:%d: unknown directive '{{%.*s}}' (expected {{figure id}} or {{ref id}})",
                               sc->path, line, (int)wn, w);
        }
        buf_putc(out, c);
        i++;
    }
    return 0;
}

int mdext_scan(const char *src, size_t len, const char *path, int first_line, int allow_blocks,
               mdext_doc *doc, err *e)
{
    memset(doc, 0, sizeof *doc);
    scan sc = {doc, path, allow_blocks, e};
    buf main_md = {0};
    buf *out = &main_md; /* where lines go: the body, or the current footnote definition */
    buf def = {0};
    linemap main_map = {0}, def_map = {0};
    int in_def = 0;
    char fence_ch = 0;
    size_t fence_n = 0;
    size_t pos = 0;
    int line = first_line - 1;
    while (pos < len) {
        const char *s = src + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl ? 1 : 0);
        map_lines(&main_map, &main_md, line);
        map_lines(&def_map, &def, line);
        line++;
        /* The placeholders are \x02<index>\x03: the same bytes in the source would be taken for
         * another item's HTML (tests/fuzz/regressions/mdext). NUL would cut the text short. */
        for (size_t k = 0; k < n; k++)
            if (s[k] == '\x02' || s[k] == '\x03' || s[k] == 0) {
                err_set(e, "%s:%d: control character U+%04X at byte %zu of the line (expected text)", path, line,
                        (unsigned)s[k], k + 1);
                goto fail;
            }
        size_t ind = 0;
        while (ind < n && s[ind] == ' ') ind++;
        int is_blank = ind == n || (n - ind == 1 && s[ind] == '\r');

        if (in_def && is_blank) {
            mx_footdef *d = &doc->defs[doc->n_defs - 1];
            map_close(&def_map, &def, line - 1, &d->md_lines, &d->n_md_lines);
            d->md = buf_detach(&def);
            in_def = 0;
            out = &main_md;
        }
        if (fence_n) {
            buf_put(out, s, n);
            buf_putc(out, '\n');
            char ch;
            size_t k = fence_len(s, n, &ch);
            if (k >= fence_n && ch == fence_ch) fence_n = 0;
            continue;
        }
        char ch;
        size_t k = fence_len(s, n, &ch);
        if (k) {
            fence_ch = ch;
            fence_n = k;
            buf_put(out, s, n);
            buf_putc(out, '\n');
            continue;
        }
        if (ind <= 3 && n - ind >= 2 && s[ind] == '$' && s[ind + 1] == '$') {
            if (!allow_blocks) {
                err_set(e, "%s:%d: display math ($$) is not allowed here", path, line);
                goto fail;
            }
            int start = line;
            buf tex = {0};
            const char *t = s + ind + 2;
            size_t tn = n - ind - 2;
            for (;;) {
                const char *close = NULL;
                for (size_t q = 0; q + 1 < tn; q++)
                    if (t[q] == '$' && t[q + 1] == '$') {
                        close = t + q;
                        break;
                    }
                if (close) {
                    buf_put(&tex, t, (size_t)(close - t));
                    break;
                }
                buf_put(&tex, t, tn);
                buf_putc(&tex, '\n');
                if (pos >= len) {
                    buf_free(&tex);
                    err_set(e, "%s:%d: display math is not closed (expected a closing $$)", path, start);
                    goto fail;
                }
                t = src + pos;
                nl = memchr(t, '\n', len - pos);
                tn = nl ? (size_t)(nl - t) : len - pos;
                pos += tn + (nl ? 1 : 0);
                line++;
            }
            buf_putc(out, '\n');
            add_item(&sc, MX_MATH_DISPLAY, start, tex.data ? tex.data : "", tex.len, out);
            buf_puts(out, "\n\n");
            buf_free(&tex);
            continue;
        }
        const char *w, *id;
        size_t wn, idn;
        size_t dl = directive(s + ind, n - ind, &w, &wn, &id, &idn);
        if (dl && wn == 6 && !memcmp(w, "figure", 6)) {
            size_t rest = ind + dl;
            while (rest < n && (s[rest] == ' ' || s[rest] == '\r')) rest++;
            if (rest == n) {
                if (!allow_blocks || in_def) {
                    err_set(e, "%s:%d: a figure cannot be placed here", path, line);
                    goto fail;
                }
                if (idn == 0) {
                    err_set(e, "%s:%d: {{figure}} without an id (expected {{figure id}})", path, line);
                    goto fail;
                }
                buf_putc(out, '\n');
                add_item(&sc, MX_FIGURE, line, id, idn, out);
                buf_puts(out, "\n\n");
                continue;
            }
        }
        if (ind == 0 && n > 4 && s[0] == '[' && s[1] == '^') {
            size_t j = 2;
            while (j < n && id_char((unsigned char)s[j])) j++;
            if (j + 1 < n && s[j] == ']' && s[j + 1] == ':') {
                if (!allow_blocks) {
                    err_set(e, "%s:%d: footnote definitions are not allowed here", path, line);
                    goto fail;
                }
                for (int q = 0; q < doc->n_defs; q++)
                    if (strlen(doc->defs[q].name) == j - 2 && !memcmp(doc->defs[q].name, s + 2, j - 2)) {
                        int first = doc->defs[q].line;
                        err_set(e, "%s:%d: footnote '%.*s' defined twice (first at line %d)", path, line,
                                (int)(j - 2), s + 2, first);
                        goto fail;
                    }
                if (in_def) {
                    mx_footdef *d = &doc->defs[doc->n_defs - 1];
                    map_close(&def_map, &def, line - 1, &d->md_lines, &d->n_md_lines);
                    d->md = buf_detach(&def);
                }
                doc->defs = xrealloc(doc->defs, sizeof(mx_footdef) * (size_t)(doc->n_defs + 1));
                doc->defs[doc->n_defs++] = (mx_footdef){xstrndup(s + 2, j - 2), NULL, line, NULL, 0};
                in_def = 1;
                out = &def;
                size_t t0 = j + 2;
                while (t0 < n && s[t0] == ' ') t0++;
                if (inline_text(&sc, s + t0, n - t0, line, out) != 0) goto fail;
                buf_putc(out, '\n');
                continue;
            }
        }
        if (inline_text(&sc, s, n, line, out) != 0) goto fail;
        if (nl || pos < len) buf_putc(out, '\n');
    }
    if (in_def) {
        mx_footdef *d = &doc->defs[doc->n_defs - 1];
        map_close(&def_map, &def, line, &d->md_lines, &d->n_md_lines);
        d->md = buf_detach(&def);
    }
    if (fence_n) {
        /* CommonMark closes an unclosed fence at the end; accept it like cmark does. */
    }
    map_close(&main_map, &main_md, line, &doc->md_lines, &doc->n_md_lines);
    doc->md = buf_detach(&main_md);
    buf_free(&def);
    free(def_map.v);
    return 0;
fail:
    mdext_free(doc);
    buf_free(&main_md);
    buf_free(&def);
    free(main_map.v);
    free(def_map.v);
    return -1;
}

void mdext_free(mdext_doc *doc)
{
    free(doc->md);
    free(doc->md_lines);
    for (int i = 0; i < doc->n_items; i++) free(doc->items[i].text);
    free(doc->items);
    for (int i = 0; i < doc->n_defs; i++) {
        free(doc->defs[i].name);
        free(doc->defs[i].md);
        free(doc->defs[i].md_lines);
    }
    free(doc->defs);
    memset(doc, 0, sizeof *doc);
}

int mdext_source_line(const int *md_lines, int n_md_lines, int md_line)
{
    if (n_md_lines == 0) return 0;
    if (md_line < 1) return md_lines[0];
    return md_lines[md_line > n_md_lines ? n_md_lines - 1 : md_line - 1];
}

int mdext_placeholder(const char *s, size_t n, size_t *used)
{
    if (n < 3 || s[0] != '\x02') return -1;
    size_t i = 1;
    int v = 0;
    while (i < n && isdigit((unsigned char)s[i]) && i < 10) v = v * 10 + (s[i++] - '0');
    if (i == 1 || i >= n || s[i] != '\x03') return -1;
    *used = i + 1;
    return v;
}
