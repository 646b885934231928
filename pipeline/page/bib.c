/* bib — see bib.h. A hand-written recursive reader: BibTeX's grammar is tiny, and a precise
 * line number on every error matters more than generality. */
#include "bib.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "url.h"

typedef struct field {
    char *name, *value;
} field;

typedef struct entry {
    char *type, *key;
    int line;
    field *fields;
    int n_fields;
} entry;

struct bib_db {
    entry *entries;
    int n, cap;
    field *strings; /* @string abbreviations */
    int n_strings;
};

/* Reader state: position, line, and where errors are reported. */
typedef struct rd {
    const char *s;
    size_t len, pos;
    int line;
    const char *path;
    err *e;
} rd;

static int peek(rd *r) { return r->pos < r->len ? (unsigned char)r->s[r->pos] : -1; }

static int get(rd *r)
{
    if (r->pos >= r->len) return -1;
    int c = (unsigned char)r->s[r->pos++];
    if (c == '\n') r->line++;
    return c;
}

static void skip_ws(rd *r)
{
    while (peek(r) == ' ' || peek(r) == '\t' || peek(r) == '\n' || peek(r) == '\r') get(r);
}

static int is_name_char(int c)
{
    return c > 0 && (isalnum(c) || strchr("_-:./+'", c) != NULL);
}

static char *read_name(rd *r)
{
    size_t start = r->pos;
    while (is_name_char(peek(r))) get(r);
    if (r->pos == start) return NULL;
    return xstrndup(r->s + start, r->pos - start);
}

static void field_free(field *f)
{
    free(f->name);
    free(f->value);
}

static void entry_free(entry *en)
{
    free(en->type);
    free(en->key);
    for (int i = 0; i < en->n_fields; i++) field_free(&en->fields[i]);
    free(en->fields);
}

/* Reads a braced value starting after '{', keeping inner braces; appends to b. */
static int read_braced(rd *r, buf *b, int open_line)
{
    int depth = 1;
    for (;;) {
        int c = get(r);
        if (c < 0)
            return err_set(r->e, "%s:%d: unbalanced '{' (expected a matching '}' before the end of the file)",
                           r->path, open_line);
        if (c == '{') depth++;
        if (c == '}' && --depth == 0) return 0;
        buf_putc(b, (char)c);
    }
}

static int read_quoted(rd *r, buf *b, int open_line)
{
    int depth = 0;
    for (;;) {
        int c = get(r);
        if (c < 0) return err_set(r->e, "%s:%d: unterminated '\"' value (expected a closing '\"')", r->path, open_line);
        if (c == '{') depth++;
        if (c == '}') depth--;
        if (c == '"' && depth == 0) return 0;
        buf_putc(b, (char)c);
    }
}

static const char *lookup_string(const bib_db *db, const char *name)
{
    for (int i = 0; i < db->n_strings; i++)
        if (!strcasecmp(db->strings[i].name, name)) return db->strings[i].value;
    return NULL;
}

/* value := part ('#' part)* ; part := {..} | ".." | number | @string name */
static int read_value(rd *r, bib_db *db, buf *b)
{
    for (;;) {
        skip_ws(r);
        int c = peek(r);
        int line = r->line;
        if (c == '{') {
            get(r);
            if (read_braced(r, b, line) != 0) return -1;
        } else if (c == '"') {
            get(r);
            if (read_quoted(r, b, line) != 0) return -1;
        } else if (c > 0 && isdigit(c)) {
            while (peek(r) > 0 && isdigit(peek(r))) buf_putc(b, (char)get(r));
        } else if (is_name_char(c)) {
            char *name = read_name(r);
            const char *v = lookup_string(db, name);
            if (!v) {
                err_set(r->e, "%s:%d: unknown @string '%s' (expected a {braced} or \"quoted\" value)", r->path,
                        line, name);
                free(name);
                return -1;
            }
            buf_puts(b, v);
            free(name);
        } else {
            return err_set(r->e, "%s:%d: expected a field value ({...}, \"...\" or a number)", r->path, line);
        }
        skip_ws(r);
        if (peek(r) != '#') return 0;
        get(r);
    }
}

/* Converts LaTeX-ish text to plain UTF-8: accents, escapes, braces, dashes, ~. */
static char *delatex(const char *s)
{
    static const struct {
        char accent, letter;
        const char *utf8;
    } acc[] = {
        {'"', 'a', "ä"}, {'"', 'o', "ö"}, {'"', 'u', "ü"}, {'"', 'A', "Ä"}, {'"', 'O', "Ö"},
        {'"', 'U', "Ü"}, {'"', 'e', "ë"}, {'"', 'i', "ï"}, {'\'', 'a', "á"}, {'\'', 'e', "é"},
        {'\'', 'i', "í"}, {'\'', 'o', "ó"}, {'\'', 'u', "ú"}, {'\'', 'E', "É"}, {'\'', 'c', "ć"},
        {'\'', 'n', "ń"}, {'\'', 's', "ś"}, {'\'', 'z', "ź"}, {'`', 'a', "à"}, {'`', 'e', "è"},
        {'`', 'o', "ò"}, {'^', 'e', "ê"}, {'^', 'o', "ô"}, {'^', 'a', "â"}, {'~', 'n', "ñ"},
        {'~', 'a', "ã"}, {'~', 'o', "õ"}, {'c', 'c', "ç"}, {'v', 's', "š"}, {'v', 'c', "č"},
        {'v', 'z', "ž"}, {'v', 'r', "ř"}, {'v', 'e', "ě"}, {'v', 'S', "Š"}, {'v', 'C', "Č"},
    };
    buf b = {0};
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '{' || c == '}') continue;
        if (c == '~') {
            buf_puts(&b, "\xc2\xa0");
            continue;
        }
        if (c == '-' && s[i + 1] == '-') {
            if (s[i + 2] == '-') {
                buf_puts(&b, "—");
                i += 2;
            } else {
                buf_puts(&b, "–");
                i += 1;
            }
            continue;
        }
        if (c == '\n' || c == '\r' || c == '\t') {
            if (b.len && b.data[b.len - 1] != ' ') buf_putc(&b, ' ');
            continue;
        }
        if (c == ' ' && b.len && b.data[b.len - 1] == ' ') continue;
        if (c == '\\' && i + 1 < n) {
            char a = s[i + 1];
            if (strchr("&%$#_{}", a)) {
                buf_putc(&b, a);
                i++;
                continue;
            }
            /* \"o, \"{o}, {\"o}: skip braces around the letter. */
            size_t j = i + 2;
            if (a == 'c' || a == 'v') {
                while (j < n && s[j] == ' ') j++;
            }
            while (j < n && s[j] == '{') j++;
            int done = 0;
            for (size_t k = 0; k < sizeof acc / sizeof acc[0] && j < n; k++) {
                if (acc[k].accent == a && acc[k].letter == s[j]) {
                    buf_puts(&b, acc[k].utf8);
                    i = j;
                    done = 1;
                    break;
                }
            }
            if (done) continue;
            if (!strncmp(s + i, "\\ss", 3)) {
                buf_puts(&b, "ß");
                i += 2;
                continue;
            }
            /* An unknown command: drop the backslash and its name, keep what follows. */
            size_t k = i + 1;
            while (k < n && isalpha((unsigned char)s[k])) k++;
            if (k == i + 1) k++;
            i = k - 1;
            continue;
        }
        buf_putc(&b, c);
    }
    while (b.len && b.data[b.len - 1] == ' ') b.data[--b.len] = 0;
    char *out = buf_detach(&b);
    char *start = out;
    while (*start == ' ') start++;
    if (start != out) memmove(out, start, strlen(start) + 1);
    return out;
}

/* What a doi field should be, or NULL when it is one: "10.<registrant>/<suffix>", which the
 * page links as https://doi.org/<doi> (and that link must pass url.h too). */
static const char *doi_problem(const char *doi)
{
    static const char expected[] = "a DOI like 10.1000/xyz, without https://doi.org/";
    const char *p = doi;
    if (strncmp(p, "10.", 3) != 0) return expected;
    p += 3;
    if (!isdigit((unsigned char)*p)) return expected;
    while (isdigit((unsigned char)*p) || *p == '.') p++;
    if (*p != '/' || !p[1]) return expected;
    for (; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) return expected;
    char *link = xasprintf("https://doi.org/%s", doi);
    const char *bad = url_problem(link, URL_ABSOLUTE);
    free(link);
    return bad ? expected : NULL;
}

static int parse_entry(rd *r, bib_db *db, char *type, int line)
{
    skip_ws(r);
    int open = get(r);
    if (open != '{' && open != '(') {
        err_set(r->e, "%s:%d: expected '{' after @%s", r->path, r->line, type);
        free(type);
        return -1;
    }
    int close = open == '{' ? '}' : ')';
    if (!strcasecmp(type, "comment") || !strcasecmp(type, "preamble")) {
        buf skip = {0};
        int rc = open == '{' ? read_braced(r, &skip, line) : 0;
        if (open == '(')
            while (peek(r) >= 0 && get(r) != ')') {}
        buf_free(&skip);
        free(type);
        return rc;
    }
    if (!strcasecmp(type, "string")) {
        skip_ws(r);
        char *name = read_name(r);
        skip_ws(r);
        if (!name || get(r) != '=') {
            free(name);
            free(type);
            return err_set(r->e, "%s:%d: @string: expected 'name = value'", r->path, r->line);
        }
        buf v = {0};
        if (read_value(r, db, &v) != 0) {
            free(name);
            free(type);
            buf_free(&v);
            return -1;
        }
        skip_ws(r);
        if (get(r) != close) {
            free(name);
            free(type);
            buf_free(&v);
            return err_set(r->e, "%s:%d: @string: expected '%c'", r->path, r->line, close);
        }
        db->strings = xrealloc(db->strings, sizeof(field) * (size_t)(db->n_strings + 1));
        db->strings[db->n_strings].name = name;
        db->strings[db->n_strings].value = buf_detach(&v);
        db->n_strings++;
        free(type);
        return 0;
    }
    entry en = {.type = type, .line = line};
    for (char *p = en.type; *p; p++) *p = (char)tolower((unsigned char)*p);
    skip_ws(r);
    en.key = read_name(r);
    if (!en.key) {
        err_set(r->e, "%s:%d: @%s entry without a key (expected @%s{key, ...})", r->path, r->line, en.type, en.type);
        entry_free(&en);
        return -1;
    }
    if (bib_find(db, en.key) >= 0) {
        int first = db->entries[bib_find(db, en.key)].line;
        err_set(r->e, "%s:%d: duplicate key '%s' (first defined at line %d)", r->path, line, en.key, first);
        entry_free(&en);
        return -1;
    }
    for (;;) {
        skip_ws(r);
        int c = get(r);
        if (c == close) break;
        if (c != ',') {
            err_set(r->e, "%s:%d: entry '%s': expected ',' or '%c' (%s)", r->path, r->line, en.key, close,
                    c < 0 ? "end of file" : "missing comma?");
            entry_free(&en);
            return -1;
        }
        skip_ws(r);
        if (peek(r) == close) {
            get(r);
            break;
        }
        int fline = r->line;
        char *name = read_name(r);
        skip_ws(r);
        if (!name || get(r) != '=') {
            err_set(r->e, "%s:%d: entry '%s': expected 'field = value'", r->path, fline, en.key);
            free(name);
            entry_free(&en);
            return -1;
        }
        for (char *p = name; *p; p++) *p = (char)tolower((unsigned char)*p);
        for (int i = 0; i < en.n_fields; i++)
            if (!strcmp(en.fields[i].name, name)) {
                err_set(r->e, "%s:%d: entry '%s': field '%s' given twice", r->path, fline, en.key, name);
                free(name);
                entry_free(&en);
                return -1;
            }
        buf v = {0};
        if (read_value(r, db, &v) != 0) {
            free(name);
            buf_free(&v);
            entry_free(&en);
            return -1;
        }
        /* url and doi are kept as written (they are not prose: "--" or "~" in them are not
         * dashes or spaces) and checked, since each becomes a link of the page. */
        int is_url = !strcmp(name, "url"), is_doi = !strcmp(name, "doi");
        char *value = is_url || is_doi ? xstrdup(v.data ? v.data : "") : delatex(v.data ? v.data : "");
        buf_free(&v);
        const char *expected = is_url ? url_problem(value, URL_ABSOLUTE) : is_doi ? doi_problem(value) : NULL;
        if (expected) {
            char shown[96];
            url_shown(value, shown, sizeof shown);
            err_set(r->e, "%s:%d: entry '%s': field '%s': '%s' is not a %s (expected %s)", r->path, fline, en.key,
                    name, shown, is_doi ? "DOI" : "link", expected);
            free(name);
            free(value);
            entry_free(&en);
            return -1;
        }
        en.fields = xrealloc(en.fields, sizeof(field) * (size_t)(en.n_fields + 1));
        en.fields[en.n_fields].name = name;
        en.fields[en.n_fields].value = value;
        en.n_fields++;
    }
    const char *required[] = {"title", "year"};
    for (size_t i = 0; i < 2; i++) {
        int found = 0;
        for (int k = 0; k < en.n_fields; k++) found |= !strcmp(en.fields[k].name, required[i]);
        if (!found) {
            err_set(r->e, "%s:%d: entry '%s': missing field '%s'", r->path, line, en.key, required[i]);
            entry_free(&en);
            return -1;
        }
    }
    int has_author = 0;
    for (int k = 0; k < en.n_fields; k++)
        has_author |= !strcmp(en.fields[k].name, "author") || !strcmp(en.fields[k].name, "editor");
    if (!has_author) {
        err_set(r->e, "%s:%d: entry '%s': missing field 'author' (or 'editor')", r->path, line, en.key);
        entry_free(&en);
        return -1;
    }
    if (db->n == db->cap) {
        db->cap = db->cap ? db->cap * 2 : 16;
        db->entries = xrealloc(db->entries, sizeof(entry) * (size_t)db->cap);
    }
    db->entries[db->n++] = en;
    return 0;
}

int bib_parse(const char *src, size_t len, const char *path, bib_db **out, err *e)
{
    *out = NULL;
    bib_db *db = xcalloc(1, sizeof *db);
    rd r = {src, len, 0, 1, path, e};
    for (;;) {
        while (peek(&r) >= 0 && peek(&r) != '@') get(&r);
        if (peek(&r) < 0) break;
        get(&r);
        int line = r.line;
        char *type = read_name(&r);
        if (!type) {
            bib_free(db);
            return err_set(e, "%s:%d: '@' without an entry type (expected e.g. @article{...})", path, line);
        }
        if (parse_entry(&r, db, type, line) != 0) {
            bib_free(db);
            return -1;
        }
    }
    *out = db;
    return 0;
}

void bib_free(bib_db *db)
{
    if (!db) return;
    for (int i = 0; i < db->n; i++) entry_free(&db->entries[i]);
    free(db->entries);
    for (int i = 0; i < db->n_strings; i++) field_free(&db->strings[i]);
    free(db->strings);
    free(db);
}

int bib_find(const bib_db *db, const char *key)
{
    for (int i = 0; i < db->n; i++)
        if (!strcmp(db->entries[i].key, key)) return i;
    return -1;
}

int bib_count(const bib_db *db) { return db->n; }

const char *bib_key(const bib_db *db, int i) { return db->entries[i].key; }

const char *bib_field(const bib_db *db, int i, const char *name)
{
    const entry *en = &db->entries[i];
    for (int k = 0; k < en->n_fields; k++)
        if (!strcmp(en->fields[k].name, name)) return en->fields[k].value;
    return NULL;
}

/* "Last, First Middle" or "First Middle Last" -> "F. M. Last". */
static void short_author(const char *a, size_t n, buf *out)
{
    while (n && *a == ' ') a++, n--;
    while (n && a[n - 1] == ' ') n--;
    if (n == 6 && !memcmp(a, "others", 6)) {
        buf_puts(out, "et al.");
        return;
    }
    const char *comma = memchr(a, ',', n);
    const char *last, *first;
    size_t ln, fn;
    if (comma) {
        last = a;
        ln = (size_t)(comma - a);
        first = comma + 1;
        fn = n - ln - 1;
    } else {
        const char *sp = NULL;
        for (size_t i = 0; i < n; i++)
            if (a[i] == ' ') sp = a + i;
        if (!sp) {
            buf_put(out, a, n);
            return;
        }
        first = a;
        fn = (size_t)(sp - a);
        last = sp + 1;
        ln = n - fn - 1;
    }
    size_t i = 0;
    while (i < fn) {
        while (i < fn && (first[i] == ' ' || first[i] == '.')) i++;
        if (i >= fn) break;
        /* Initial: the whole first UTF-8 character, then '.' */
        size_t k = i + 1;
        while (k < fn && ((unsigned char)first[k] & 0xC0) == 0x80) k++;
        buf_put(out, first + i, k - i);
        buf_puts(out, ". ");
        while (i < fn && first[i] != ' ' && first[i] != '-') i++;
        if (i < fn && first[i] == '-') i++;
    }
    while (ln && *last == ' ') last++, ln--;
    buf_put(out, last, ln);
}

/* Splits the author field on " and " and formats a comma list. */
static void authors_text(const char *s, buf *out)
{
    const char *p = s;
    int count = 0;
    for (;;) {
        const char *and = strstr(p, " and ");
        size_t n = and ? (size_t)(and - p) : strlen(p);
        if (count++) buf_puts(out, ", ");
        short_author(p, n, out);
        if (!and) break;
        p = and + 5;
    }
}

static const char *venue_of(const bib_db *db, int i)
{
    const char *keys[] = {"journal", "booktitle", "publisher", "institution", "school", "howpublished"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const char *v = bib_field(db, i, keys[k]);
        if (v) return v;
    }
    return NULL;
}

void bib_render_text(const bib_db *db, int i, buf *out)
{
    const char *a = bib_field(db, i, "author");
    if (!a) a = bib_field(db, i, "editor");
    authors_text(a, out);
    buf_printf(out, "%s %s. ", out->len && out->data[out->len - 1] == '.' ? "" : ".", bib_field(db, i, "title"));
    const char *v = venue_of(db, i);
    if (v) buf_printf(out, "%s, ", v);
    buf_puts(out, bib_field(db, i, "year"));
    buf_putc(out, '.');
}

void bib_render_html(const bib_db *db, int i, buf *out)
{
    buf t = {0};
    const char *a = bib_field(db, i, "author");
    if (!a) a = bib_field(db, i, "editor");
    authors_text(a, &t);
    buf_puts(out, "<span class=\"ref-authors\">");
    buf_put_html(out, t.data, t.len);
    buf_puts(out, t.len && t.data[t.len - 1] == '.' ? "</span> <span class=\"ref-title\">" : "</span>. <span class=\"ref-title\">");
    const char *title = bib_field(db, i, "title");
    buf_put_html(out, title, strlen(title));
    buf_puts(out, "</span>. ");
    const char *v = venue_of(db, i);
    if (v) {
        buf_puts(out, "<span class=\"ref-venue\">");
        buf_put_html(out, v, strlen(v));
        buf_puts(out, "</span>, ");
    }
    const char *y = bib_field(db, i, "year");
    buf_put_html(out, y, strlen(y));
    buf_putc(out, '.');
    const char *doi = bib_field(db, i, "doi");
    const char *url = bib_field(db, i, "url");
    /* Both were checked by bib_parse (url.h): a javascript: URL never reaches this point. */
    buf link = {0};
    if (doi) buf_printf(&link, "https://doi.org/%s", doi);
    else if (url) buf_puts(&link, url);
    if (link.len) {
        buf_puts(out, " <a class=\"ref-link\" href=\"");
        buf_put_html(out, link.data, link.len);
        buf_puts(out, "\">");
        buf_put_html(out, doi ? "doi" : "link", doi ? 3 : 4);
        buf_puts(out, "</a>");
    }
    buf_free(&link);
    buf_free(&t);
}
