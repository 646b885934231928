/* page — see page.h. The flow: read and check every input, number citations, footnotes and
 * figures in reading order, render all math in one KaTeX batch, then let cmark parse the
 * rewritten Markdown and swap each placeholder for its HTML while walking the tree. */
#include "page.h"

#include <cmark.h>
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bib.h"
#include "frontmatter.h"
#include "katex.h"
#include "mdext.h"
#include "pipetable.h"
#include "template.h"
#include "url.h"

/* One Markdown source (the body, or a caption) with the HTML of each of its items. */
typedef struct source {
    const char *path;
    mdext_doc doc;
    char **item_html; /* [doc.n_items], owned */
} source;

typedef struct figure {
    char *id, *source, *kind, *klass, *html, *caption;
    int caption_line;
    int number;      /* 0 until placed */
    int placed_line; /* line of {{figure id}} */
    source cap;
    int cap_loaded;
} figure;

typedef struct heading {
    int level;
    char *id, *text;
} heading;

/* Everything a build holds; freed by page_free. */
typedef struct page {
    const page_opts *o;
    fm_doc fm;
    int fm_loaded;
    source body;
    bib_db *bib;
    int *cite_num; /* [bib_count]: 0 if not cited yet */
    int *cite_order, n_cited;
    /* [bib_count]: where a reference's back link returns to: the id on the first citation of it
     * in the text or a caption, else the footnote that cites it (fnref-N). */
    char **cite_id;
    int *cite_fn;
    figure *figs;
    int n_figs, n_placed;
    int *foot_num; /* [body.doc.n_defs] */
    int n_foot;
    char **def_html; /* [n_defs] */
    char **ids;      /* used element ids */
    int n_ids;
    heading *heads;
    int n_heads;
} page;

static void source_free(source *s)
{
    if (s->item_html)
        for (int i = 0; i < s->doc.n_items; i++) free(s->item_html[i]);
    free(s->item_html);
    mdext_free(&s->doc);
}

static void page_free(page *pg)
{
    if (pg->fm_loaded) fm_free(&pg->fm);
    if (pg->def_html) /* before the body: its count of definitions sizes this array */
        for (int i = 0; i < pg->body.doc.n_defs; i++) free(pg->def_html[i]);
    free(pg->def_html);
    source_free(&pg->body);
    free(pg->cite_num);
    free(pg->cite_order);
    if (pg->cite_id) /* before the bibliography: its count of entries sizes this array */
        for (int i = 0; i < (pg->bib ? bib_count(pg->bib) : 0); i++) free(pg->cite_id[i]);
    free(pg->cite_id);
    bib_free(pg->bib);
    free(pg->cite_fn);
    for (int i = 0; i < pg->n_figs; i++) {
        figure *f = &pg->figs[i];
        free(f->id);
        free(f->source);
        free(f->kind);
        free(f->klass);
        free(f->html);
        free(f->caption);
        if (f->cap_loaded) source_free(&f->cap);
    }
    free(pg->figs);
    free(pg->foot_num);
    for (int i = 0; i < pg->n_ids; i++) free(pg->ids[i]);
    free(pg->ids);
    for (int i = 0; i < pg->n_heads; i++) {
        free(pg->heads[i].id);
        free(pg->heads[i].text);
    }
    free(pg->heads);
}

/* ---------------------------------------------------------------- inputs */

static int load_text(const char *path, char **data, size_t *len, err *e)
{
    if (read_file(path, data, len, e) != 0) return -1;
    int line, col;
    if (utf8_check(*data, *len, &line, &col) != 0) {
        free(*data);
        *data = NULL;
        return err_set(e, "%s:%d: invalid UTF-8 at byte %d of the line (expected UTF-8 text)", path, line, col);
    }
    return 0;
}

static int json_str_field(json_t *obj, const char *key, const char *where, int required, char **out, err *e)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (!required) {
            *out = xstrdup("");
            return 0;
        }
        return err_set(e, "%s: field '%s' missing (expected a string)", where, key);
    }
    if (!json_is_string(v)) return err_set(e, "%s: field '%s' must be a string", where, key);
    *out = xstrdup(json_string_value(v));
    return 0;
}

static int load_figures(page *pg, err *e)
{
    const char *path = pg->o->figures;
    if (!path) return 0;
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return err_set(e, "%s:%d: %s", path, je.line, je.text);
    json_t *figs = json_object_get(root, "figures");
    int rc = -1;
    if (!json_is_object(figs)) {
        err_set(e, "%s: field 'figures' missing (expected an object of figures by id)", path);
        goto done;
    }
    pg->figs = xcalloc(json_object_size(figs) + 1, sizeof(figure));
    const char *id;
    json_t *f;
    json_object_foreach(figs, id, f)
    {
        figure *fig = &pg->figs[pg->n_figs++];
        fig->id = xstrdup(id);
        char *where = xasprintf("%s: figures.%s", path, id);
        int bad = !json_is_object(f) || json_str_field(f, "source", where, 1, &fig->source, e) ||
                  json_str_field(f, "kind", where, 1, &fig->kind, e) ||
                  json_str_field(f, "html", where, 1, &fig->html, e) ||
                  json_str_field(f, "caption", where, 0, &fig->caption, e) ||
                  json_str_field(f, "class", where, 0, &fig->klass, e);
        if (!json_is_object(f)) err_set(e, "%s: expected an object", where);
        free(where);
        if (bad) goto done;
        json_t *cl = json_object_get(f, "caption_line");
        fig->caption_line = json_is_integer(cl) ? (int)json_integer_value(cl) : 1;
    }
    rc = 0;
done:
    json_decref(root);
    return rc;
}

static figure *find_figure(page *pg, const char *id)
{
    for (int i = 0; i < pg->n_figs; i++)
        if (!strcmp(pg->figs[i].id, id)) return &pg->figs[i];
    return NULL;
}

static void list_figures(page *pg, buf *b)
{
    for (int i = 0; i < pg->n_figs; i++) buf_printf(b, "%s%s", i ? ", " : "", pg->figs[i].id);
    if (!pg->n_figs) buf_puts(b, "none: add figures/<id>.lua");
}

/* ---------------------------------------------------------------- ids */

static int id_used(page *pg, const char *id)
{
    for (int i = 0; i < pg->n_ids; i++)
        if (!strcmp(pg->ids[i], id)) return 1;
    return 0;
}

static char *claim_id(page *pg, const char *base)
{
    char *id = xstrdup(base);
    for (int k = 2; id_used(pg, id); k++) {
        free(id);
        id = xasprintf("%s-%d", base, k);
    }
    pg->ids = xrealloc(pg->ids, sizeof(char *) * (size_t)(pg->n_ids + 1));
    pg->ids[pg->n_ids++] = xstrdup(id);
    return id;
}

/* Stable heading ids: lowercase ASCII letters and digits, UTF-8 letters kept, runs of anything
 * else become one '-'. The same text always gives the same id, so links keep working. */
static char *slugify(const char *text)
{
    buf b = {0};
    int dash = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (isalnum(*p) || *p >= 0x80) {
            if (dash && b.len) buf_putc(&b, '-');
            dash = 0;
            buf_putc(&b, (char)tolower(*p));
        } else {
            dash = 1;
        }
    }
    if (!b.len) buf_puts(&b, "section");
    return buf_detach(&b);
}

/* ---------------------------------------------------------------- numbering and checks */

/* Refuses a Markdown link or image (inline, reference-style or autolink) whose URL url.h does
 * not allow, naming the source line: cmark's lines are those of the rewritten text, md_lines
 * leads back to the file. Run on every source before anything is rendered. */
static int check_links(const char *path, const char *md, const int *md_lines, int n_md_lines, err *e)
{
    cmark_node *doc = cmark_parse_document(md, strlen(md), CMARK_OPT_SMART | CMARK_OPT_UNSAFE);
    cmark_iter *it = cmark_iter_new(doc);
    cmark_event_type ev;
    int rc = 0;
    while (rc == 0 && (ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        cmark_node *node = cmark_iter_get_node(it);
        cmark_node_type t = cmark_node_get_type(node);
        if (ev != CMARK_EVENT_ENTER || (t != CMARK_NODE_LINK && t != CMARK_NODE_IMAGE)) continue;
        const char *url = cmark_node_get_url(node);
        const char *expected = url_problem(url ? url : "", URL_LINK);
        if (!expected) continue;
        /* An inline's own line is not kept by every cmark: its block's first line is. */
        int line = cmark_node_get_start_line(node);
        for (cmark_node *p = node; line <= 0 && p; p = cmark_node_parent(p)) line = cmark_node_get_start_line(p);
        char shown[96];
        url_shown(url, shown, sizeof shown);
        rc = err_set(e, "%s:%d: %s to '%s' (expected %s)", path, mdext_source_line(md_lines, n_md_lines, line),
                     t == CMARK_NODE_LINK ? "link" : "image", shown, expected);
    }
    cmark_iter_free(it);
    cmark_node_free(doc);
    return rc;
}

static int number_cites(page *pg, source *s, mx_item *it, err *e)
{
    char *keys = xstrdup(it->text);
    int rc = 0;
    for (char *k = strtok(keys, ";"); k; k = strtok(NULL, ";")) {
        int i = pg->bib ? bib_find(pg->bib, k) : -1;
        if (i < 0) {
            rc = err_set(e, "%s:%d: unknown citation key '%s' (expected a key of %s)", s->path, it->line, k,
                         pg->o->bib ? pg->o->bib : "a .bib file");
            break;
        }
        if (!pg->cite_num[i]) {
            pg->cite_num[i] = ++pg->n_cited;
            pg->cite_order[pg->n_cited - 1] = i;
        }
    }
    free(keys);
    return rc;
}

static int def_index(page *pg, const char *name)
{
    for (int i = 0; i < pg->body.doc.n_defs; i++)
        if (!strcmp(pg->body.doc.defs[i].name, name)) return i;
    return -1;
}

static int load_caption(page *pg, figure *f, err *e)
{
    f->cap.path = f->source;
    if (mdext_scan(f->caption, strlen(f->caption), f->source, f->caption_line, 0, &f->cap.doc, e) != 0) return -1;
    f->cap_loaded = 1;
    f->cap.item_html = xcalloc((size_t)f->cap.doc.n_items + 1, sizeof(char *));
    if (check_links(f->source, f->cap.doc.md, f->cap.doc.md_lines, f->cap.doc.n_md_lines, e) != 0) return -1;
    for (int i = 0; i < f->cap.doc.n_items; i++) {
        mx_item *it = &f->cap.doc.items[i];
        if (it->kind == MX_FOOTREF)
            return err_set(e, "%s:%d: footnotes are not allowed in captions (expected plain Markdown)", f->source,
                           it->line);
        if (it->kind == MX_CITE && number_cites(pg, &f->cap, it, e) != 0) return -1;
    }
    return 0;
}

/* Walks the body in reading order: numbers citations, footnotes and figures, and checks every
 * reference. Captions count at the place where their figure stands. */
static int number_all(page *pg, err *e)
{
    source *s = &pg->body;
    int nb = pg->bib ? bib_count(pg->bib) : 0;
    pg->cite_num = xcalloc((size_t)nb + 1, sizeof(int));
    pg->cite_order = xcalloc((size_t)nb + 1, sizeof(int));
    pg->cite_id = xcalloc((size_t)nb + 1, sizeof(char *));
    pg->cite_fn = xcalloc((size_t)nb + 1, sizeof(int));
    pg->foot_num = xcalloc((size_t)s->doc.n_defs + 1, sizeof(int));
    for (int i = 0; i < s->doc.n_items; i++) {
        mx_item *it = &s->doc.items[i];
        if (it->kind == MX_CITE && number_cites(pg, s, it, e) != 0) return -1;
        if (it->kind == MX_FOOTREF) {
            int d = def_index(pg, it->text);
            if (d < 0)
                return err_set(e, "%s:%d: footnote '%s' is not defined (expected a line '[^%s]: text')", s->path,
                               it->line, it->text, it->text);
            if (!pg->foot_num[d]) pg->foot_num[d] = ++pg->n_foot;
        }
        if (it->kind == MX_FIGURE) {
            figure *f = find_figure(pg, it->text);
            if (!f) {
                buf known = {0};
                list_figures(pg, &known);
                err_set(e, "%s:%d: unknown figure '%s' (expected one of: %s)", s->path, it->line, it->text,
                        known.data);
                buf_free(&known);
                return -1;
            }
            if (f->number)
                return err_set(e, "%s:%d: figure '%s' placed twice (first at line %d)", s->path, it->line, f->id,
                               f->placed_line);
            f->number = ++pg->n_placed;
            f->placed_line = it->line;
            if (load_caption(pg, f, e) != 0) return -1;
        }
    }
    for (int d = 0; d < s->doc.n_defs; d++)
        if (!pg->foot_num[d])
            return err_set(e, "%s:%d: footnote '%s' is defined but never referenced (expected [^%s] in the text)",
                           s->path, s->doc.defs[d].line, s->doc.defs[d].name, s->doc.defs[d].name);
    /* Figure references may point forward, so they are checked once every figure has its number. */
    source *all[64];
    int n_src = 0;
    all[n_src++] = s;
    for (int i = 0; i < pg->n_figs && n_src < 64; i++)
        if (pg->figs[i].cap_loaded) all[n_src++] = &pg->figs[i].cap;
    for (int k = 0; k < n_src; k++)
        for (int i = 0; i < all[k]->doc.n_items; i++) {
            mx_item *it = &all[k]->doc.items[i];
            if (it->kind != MX_FIGREF) continue;
            figure *f = find_figure(pg, it->text);
            if (!f || !f->number) {
                buf known = {0};
                for (int q = 0; q < pg->n_figs; q++)
                    if (pg->figs[q].number) buf_printf(&known, "%s%s", known.len ? ", " : "", pg->figs[q].id);
                err_set(e, "%s:%d: {{ref %s}}: %s (expected one of the placed figures: %s)", all[k]->path, it->line,
                        it->text, f ? "figure is never placed with {{figure ...}}" : "unknown figure",
                        known.len ? known.data : "none");
                buf_free(&known);
                return -1;
            }
        }
    return 0;
}

/* ---------------------------------------------------------------- item HTML */

/* fn: the footnote number when the citation stands in a footnote (whose HTML appears twice, in
 * its preview and in the notes, so it carries no id), else 0. */
static void cite_html(page *pg, const char *keys_joined, int fn, buf *b)
{
    char *keys = xstrdup(keys_joined);
    buf preview = {0};
    buf_puts(b, "<span class=\"cite\">[");
    int first = 1;
    for (char *k = strtok(keys, ";"); k; k = strtok(NULL, ";")) {
        int i = bib_find(pg->bib, k);
        char *idattr = xstrdup("");
        if (fn && !pg->cite_fn[i]) pg->cite_fn[i] = fn;
        if (!fn && !pg->cite_id[i]) {
            char *base = xasprintf("cite-%s", k);
            pg->cite_id[i] = claim_id(pg, base);
            free(base);
            free(idattr);
            idattr = xasprintf(" id=\"%s\"", pg->cite_id[i]);
        }
        buf_printf(b, "%s<a href=\"#ref-%s\"%s>%d</a>", first ? "" : ", ", k, idattr, pg->cite_num[i]);
        free(idattr);
        buf_printf(&preview, "<span class=\"cite-item\"><span class=\"cite-n\">[%d]</span> ", pg->cite_num[i]);
        bib_render_html(pg->bib, i, &preview);
        buf_puts(&preview, "</span>");
        first = 0;
    }
    buf_puts(b, "]<span class=\"preview\" role=\"tooltip\">");
    buf_put(b, preview.data, preview.len);
    buf_puts(b, "</span></span>");
    buf_free(&preview);
    free(keys);
}

static void figref_html(page *pg, const char *id, buf *b)
{
    figure *f = find_figure(pg, id);
    buf_printf(b, "<a class=\"figref\" href=\"#fig-%s\">Figure&nbsp;%d</a>", id, f->number);
}

static int render_math(page *pg, err *e)
{
    /* Gather every math item of the body and of the placed captions: one node run for all. */
    int n = 0;
    source *srcs[65];
    int n_src = 0;
    srcs[n_src++] = &pg->body;
    for (int i = 0; i < pg->n_figs && n_src < 65; i++)
        if (pg->figs[i].cap_loaded) srcs[n_src++] = &pg->figs[i].cap;
    for (int k = 0; k < n_src; k++)
        for (int i = 0; i < srcs[k]->doc.n_items; i++)
            n += srcs[k]->doc.items[i].kind == MX_MATH_INLINE || srcs[k]->doc.items[i].kind == MX_MATH_DISPLAY;
    if (!n) return 0;
    katex_item *ki = xcalloc((size_t)n, sizeof *ki);
    int j = 0;
    for (int k = 0; k < n_src; k++)
        for (int i = 0; i < srcs[k]->doc.n_items; i++) {
            mx_item *it = &srcs[k]->doc.items[i];
            if (it->kind != MX_MATH_INLINE && it->kind != MX_MATH_DISPLAY) continue;
            ki[j].tex = it->text;
            ki[j].display = it->kind == MX_MATH_DISPLAY;
            j++;
        }
    int rc = katex_render(pg->o->katex_script, pg->o->katex_cache, ki, n, e);
    j = 0;
    for (int k = 0; k < n_src; k++)
        for (int i = 0; i < srcs[k]->doc.n_items; i++) {
            mx_item *it = &srcs[k]->doc.items[i];
            if (it->kind != MX_MATH_INLINE && it->kind != MX_MATH_DISPLAY) continue;
            if (rc == 0 && ki[j].error) {
                rc = err_set(e, "%s:%d: math: %s (expected TeX that KaTeX accepts)", srcs[k]->path, it->line,
                             ki[j].error);
            } else if (rc == 0) {
                srcs[k]->item_html[i] = it->kind == MX_MATH_DISPLAY
                                            ? xasprintf("<div class=\"math-display\">%s</div>", ki[j].html)
                                            : xstrdup(ki[j].html);
            }
            free(ki[j].html);
            free(ki[j].error);
            j++;
        }
    free(ki);
    return rc;
}

/* Inline items (citations, figure references) of one source. */
static void inline_items(page *pg, source *s)
{
    /* The footnote each item stands in (0: none), from the placeholders in the definitions. */
    int *in_fn = xcalloc((size_t)s->doc.n_items + 1, sizeof(int));
    for (int d = 0; d < s->doc.n_defs; d++) {
        const char *md = s->doc.defs[d].md ? s->doc.defs[d].md : "";
        for (const char *p = md; *p; p++) {
            size_t used;
            int k = *p == '\x02' ? mdext_placeholder(p, strlen(p), &used) : -1;
            if (k >= 0 && k < s->doc.n_items && pg->foot_num) in_fn[k] = pg->foot_num[d];
        }
    }
    for (int i = 0; i < s->doc.n_items; i++) {
        mx_item *it = &s->doc.items[i];
        buf b = {0};
        if (it->kind == MX_CITE) cite_html(pg, it->text, in_fn[i], &b);
        else if (it->kind == MX_FIGREF) figref_html(pg, it->text, &b);
        else continue;
        s->item_html[i] = buf_detach(&b);
    }
    free(in_fn);
}

/* ---------------------------------------------------------------- Markdown rendering */

static void plain_text(cmark_node *n, buf *b)
{
    for (cmark_node *c = cmark_node_first_child(n); c; c = cmark_node_next(c)) {
        cmark_node_type t = cmark_node_get_type(c);
        if (t == CMARK_NODE_TEXT || t == CMARK_NODE_CODE) {
            const char *lit = cmark_node_get_literal(c);
            for (const char *p = lit; *p; p++) {
                size_t used;
                if (*p == '\x02' && mdext_placeholder(p, strlen(p), &used) >= 0) {
                    p += used - 1;
                    continue;
                }
                buf_putc(b, *p);
            }
        } else if (t == CMARK_NODE_SOFTBREAK || t == CMARK_NODE_LINEBREAK) {
            buf_putc(b, ' ');
        } else {
            plain_text(c, b);
        }
    }
}

/* Replaces placeholders inside one text node by raw HTML inline nodes. */
static void expand_text(source *s, cmark_node *text)
{
    const char *lit = cmark_node_get_literal(text);
    if (!strchr(lit, '\x02')) return;
    char *copy = xstrdup(lit);
    size_t n = strlen(copy), start = 0;
    for (size_t i = 0; i < n; i++) {
        size_t used;
        int idx = copy[i] == '\x02' ? mdext_placeholder(copy + i, n - i, &used) : -1;
        if (idx < 0 || idx >= s->doc.n_items || !s->item_html[idx]) continue;
        if (i > start) {
            cmark_node *t = cmark_node_new(CMARK_NODE_TEXT);
            char *part = xstrndup(copy + start, i - start);
            cmark_node_set_literal(t, part);
            free(part);
            cmark_node_insert_before(text, t);
        }
        cmark_node *h = cmark_node_new(CMARK_NODE_HTML_INLINE);
        cmark_node_set_literal(h, s->item_html[idx]);
        cmark_node_insert_before(text, h);
        i += used - 1;
        start = i + 1;
    }
    char *rest = xstrndup(copy + start, n - start);
    cmark_node_set_literal(text, rest);
    free(rest);
    free(copy);
}

/* A paragraph holding only a block placeholder becomes that block's raw HTML. */
static int expand_block(source *s, cmark_node *para)
{
    cmark_node *only = cmark_node_first_child(para);
    if (!only || cmark_node_next(only) || cmark_node_get_type(only) != CMARK_NODE_TEXT) return 0;
    const char *lit = cmark_node_get_literal(only);
    size_t used;
    int idx = mdext_placeholder(lit, strlen(lit), &used);
    if (idx < 0 || lit[used] || idx >= s->doc.n_items) return 0;
    mx_kind k = s->doc.items[idx].kind;
    if (k != MX_MATH_DISPLAY && k != MX_FIGURE && k != MX_TABLE) return 0;
    cmark_node *h = cmark_node_new(CMARK_NODE_HTML_BLOCK);
    cmark_node_set_literal(h, s->item_html[idx]);
    cmark_node_replace(para, h);
    cmark_node_free(para);
    return 1;
}

/* Turns each heading into a custom block carrying a stable id, and records it for the table of
 * contents. */
static void heading_ids(page *pg, cmark_node *h)
{
    int level = cmark_node_get_heading_level(h);
    buf text = {0};
    plain_text(h, &text);
    char *slug = slugify(text.data ? text.data : "");
    char *id = claim_id(pg, slug);
    free(slug);
    cmark_node *cb = cmark_node_new(CMARK_NODE_CUSTOM_BLOCK);
    /* The "#" link is a pointer convenience (copy a section's address); hidden from assistive
     * technology and out of the tab order, as the contents list gives the same by keyboard. */
    char *enter = xasprintf("<h%d id=\"%s\"><a class=\"anchor\" href=\"#%s\" aria-hidden=\"true\" tabindex=\"-1\"></a>", level, id, id);
    char *exit_ = xasprintf("</h%d>", level);
    cmark_node_set_on_enter(cb, enter);
    cmark_node_set_on_exit(cb, exit_);
    free(enter);
    free(exit_);
    cmark_node *c;
    while ((c = cmark_node_first_child(h))) cmark_node_append_child(cb, c);
    cmark_node_replace(h, cb);
    cmark_node_free(h);
    pg->heads = xrealloc(pg->heads, sizeof(heading) * (size_t)(pg->n_heads + 1));
    pg->heads[pg->n_heads++] = (heading){level, id, buf_detach(&text)};
}

/* A margin note (<aside> in the article) is a note on the text, not a landmark of the page: a
 * page with two unlabelled complementary landmarks has landmarks a screen reader cannot tell
 * apart (axe-core's landmark-unique). An <aside> the author gave a role keeps it. */
static void aside_note(cmark_node *html)
{
    const char *lit = cmark_node_get_literal(html);
    if (!lit || strncmp(lit, "<aside", 6) != 0 || (lit[6] != '>' && lit[6] != ' ' && lit[6] != '\n')) return;
    const char *end = strchr(lit, '>');
    if (!end || memmem(lit, (size_t)(end - lit), "role=", 5)) return;
    char *with = xasprintf("<aside role=\"note\"%s", lit + 6);
    cmark_node_set_literal(html, with);
    free(with);
}

/* Renders Markdown with placeholders to HTML. unsafe: raw HTML allowed (the article only).
 * with_headings: give headings ids (the body only). */
static char *render_md(page *pg, source *s, const char *md, int unsafe, int with_headings)
{
    /* Always render unsafe so that the HTML this module inserts survives; when the source may
     * not carry raw HTML (captions from figures/), the author's raw HTML becomes plain text. */
    int opts = CMARK_OPT_SMART | CMARK_OPT_UNSAFE;
    cmark_node *doc = cmark_parse_document(md, strlen(md), opts);
    /* Collect first, then edit: changing the tree while iterating it is not allowed. */
    cmark_iter *it = cmark_iter_new(doc);
    cmark_node **todo = NULL;
    size_t n = 0, cap = 0;
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        if (ev != CMARK_EVENT_ENTER) continue;
        cmark_node *node = cmark_iter_get_node(it);
        cmark_node_type t = cmark_node_get_type(node);
        if (unsafe && t == CMARK_NODE_HTML_BLOCK) aside_note(node);
        if (!unsafe && (t == CMARK_NODE_HTML_INLINE || t == CMARK_NODE_HTML_BLOCK)) {
            if (n == cap) todo = xrealloc(todo, sizeof *todo * (cap = cap ? 2 * cap : 64));
            todo[n++] = node;
        }
        if (t == CMARK_NODE_TEXT || t == CMARK_NODE_PARAGRAPH || (t == CMARK_NODE_HEADING && with_headings)) {
            if (n == cap) todo = xrealloc(todo, sizeof *todo * (cap = cap ? 2 * cap : 64));
            todo[n++] = node;
        }
    }
    cmark_iter_free(it);
    /* Raw HTML to text first, then paragraph-sized blocks (they replace whole nodes), then text,
     * then headings. */
    for (size_t i = 0; i < n; i++) {
        cmark_node_type t = cmark_node_get_type(todo[i]);
        if (t != CMARK_NODE_HTML_INLINE && t != CMARK_NODE_HTML_BLOCK) continue;
        cmark_node *txt = cmark_node_new(CMARK_NODE_TEXT);
        cmark_node_set_literal(txt, cmark_node_get_literal(todo[i]));
        if (t == CMARK_NODE_HTML_BLOCK) {
            cmark_node *para = cmark_node_new(CMARK_NODE_PARAGRAPH);
            cmark_node_append_child(para, txt);
            txt = para;
        }
        cmark_node_replace(todo[i], txt);
        cmark_node_free(todo[i]);
        todo[i] = NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!todo[i] || cmark_node_get_type(todo[i]) != CMARK_NODE_PARAGRAPH) continue;
        cmark_node *child = cmark_node_first_child(todo[i]);
        if (!expand_block(s, todo[i])) continue;
        /* The paragraph and its text node are freed: forget both. */
        todo[i] = NULL;
        for (size_t k = 0; k < n; k++)
            if (todo[k] == child) todo[k] = NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (todo[i] && cmark_node_get_type(todo[i]) == CMARK_NODE_TEXT && cmark_node_parent(todo[i]))
            expand_text(s, todo[i]);
    for (size_t i = 0; i < n; i++)
        if (todo[i] && cmark_node_get_type(todo[i]) == CMARK_NODE_HEADING) heading_ids(pg, todo[i]);
    free(todo);
    char *html = cmark_render_html(doc, opts);
    cmark_node_free(doc);
    return html;
}

/* Renders Markdown that should read inline (a caption, a footnote): drops one <p>...</p>. */
static char *render_inline(page *pg, source *s, const char *md, int unsafe)
{
    char *html = render_md(pg, s, md, unsafe, 0);
    size_t n = strlen(html);
    while (n && html[n - 1] == '\n') html[--n] = 0;
    if (n >= 7 && !strncmp(html, "<p>", 3) && !strcmp(html + n - 4, "</p>") && !strstr(html + 3, "<p>")) {
        memmove(html, html + 3, n - 7);
        html[n - 7] = 0;
    }
    return html;
}

/* Pipe tables of the body (pipetable.h): each becomes a block item whose cells are rendered as
 * the body's inline Markdown (citations, math, figure references work in them). The table's
 * first line gives way to the item's placeholder and its other lines are left blank, so line
 * numbers still lead back to the file. */
static int tables_html(page *pg, err *e)
{
    static const char *const align[] = {"", " style=\"text-align: left\"", " style=\"text-align: center\"",
                                        " style=\"text-align: right\""};
    source *s = &pg->body;
    pt_table *t = NULL;
    int nt = 0;
    if (pipetable_scan(s->doc.md, s->path, s->doc.md_lines, s->doc.n_md_lines, &t, &nt, e) != 0) return -1;
    if (!nt) return 0;
    s->doc.items = xrealloc(s->doc.items, sizeof *s->doc.items * (size_t)(s->doc.n_items + nt));
    s->item_html = xrealloc(s->item_html, sizeof *s->item_html * (size_t)(s->doc.n_items + nt + 1));
    buf md = {0};
    const char *p = s->doc.md;
    int line = 1;
    for (int k = 0; k < nt; k++) {
        int idx = s->doc.n_items++;
        s->doc.items[idx] = (mx_item){MX_TABLE, mdext_source_line(s->doc.md_lines, s->doc.n_md_lines, t[k].first_line),
                                      xstrdup("table")};
        buf b = {0};
        buf_puts(&b, "<div class=\"md-table\"><table>\n");
        for (int r = 0; r < t[k].rows; r++) {
            const char *tag = r == 0 ? "th" : "td";
            buf_puts(&b, r == 0 ? "<thead>\n<tr>" : "<tr>");
            for (int c = 0; c < t[k].cols; c++) {
                char *cell = render_inline(pg, s, t[k].cells[(size_t)r * t[k].cols + c], 1);
                buf_printf(&b, "<%s%s>%s</%s>", tag, align[t[k].align[c]], cell, tag);
                free(cell);
            }
            buf_puts(&b, r == 0 ? "</tr>\n</thead>\n<tbody>\n" : "</tr>\n");
        }
        buf_puts(&b, "</tbody>\n</table></div>");
        s->item_html[idx] = buf_detach(&b);
        /* copy the lines before the table, then its placeholder and blank lines */
        for (; line < t[k].first_line; line++) {
            const char *q = strchr(p, '\n');
            buf_put(&md, p, (size_t)(q - p) + 1);
            p = q + 1;
        }
        for (int i = 0; i < t[k].n_lines; i++, line++) {
            if (i == 0) buf_printf(&md, "\x02%d\x03", idx);
            buf_putc(&md, '\n');
            const char *q = strchr(p, '\n');
            p = q ? q + 1 : p + strlen(p);
        }
    }
    buf_puts(&md, p);
    free(s->doc.md);
    s->doc.md = buf_detach(&md);
    pipetable_free(t, nt);
    return 0;
}

/* ---------------------------------------------------------------- sections */

static void figures_html(page *pg)
{
    source *s = &pg->body;
    for (int i = 0; i < s->doc.n_items; i++) {
        mx_item *it = &s->doc.items[i];
        if (it->kind != MX_FIGURE) continue;
        figure *f = find_figure(pg, it->text);
        inline_items(pg, &f->cap);
        char *cap = render_inline(pg, &f->cap, f->cap.doc.md, 0);
        buf b = {0};
        buf_printf(&b, "<figure class=\"fig fig-%s%s%s\" id=\"fig-%s\">\n", f->kind, f->klass[0] ? " " : "", f->klass,
                   f->id);
        buf_puts(&b, f->html);
        buf_printf(&b, "\n<figcaption><a class=\"fig-num\" href=\"#fig-%s\">Figure %d:</a> %s</figcaption>\n</figure>",
                   f->id, f->number, cap);
        free(cap);
        s->item_html[i] = buf_detach(&b);
    }
}

static void footnotes_html(page *pg)
{
    source *s = &pg->body;
    pg->def_html = xcalloc((size_t)s->doc.n_defs + 1, sizeof(char *));
    for (int d = 0; d < s->doc.n_defs; d++)
        pg->def_html[d] = render_inline(pg, s, s->doc.defs[d].md ? s->doc.defs[d].md : "", 1);
    int *seen = xcalloc((size_t)s->doc.n_defs + 1, sizeof(int));
    for (int i = 0; i < s->doc.n_items; i++) {
        mx_item *it = &s->doc.items[i];
        if (it->kind != MX_FOOTREF) continue;
        int d = def_index(pg, it->text);
        int num = pg->foot_num[d];
        /* Only the first reference carries the id the back-link returns to. */
        char *idattr = seen[d]++ ? xstrdup("") : xasprintf(" id=\"fnref-%d\"", num);
        s->item_html[i] = xasprintf("<span class=\"fnref\"><a href=\"#fn-%d\"%s aria-describedby=\"notes-title\">"
                                    "<sup>%d</sup></a><span class=\"preview\" role=\"tooltip\">%s</span></span>",
                                    num, idattr, num, pg->def_html[d]);
        free(idattr);
    }
    free(seen);
}

static char *notes_section(page *pg)
{
    source *s = &pg->body;
    if (!pg->n_foot) return xstrdup("");
    buf b = {0};
    buf_puts(&b, "<section class=\"notes\">\n<h2 id=\"notes-title\">Notes</h2>\n<ol>\n");
    for (int num = 1; num <= pg->n_foot; num++)
        for (int d = 0; d < s->doc.n_defs; d++)
            if (pg->foot_num[d] == num)
                buf_printf(&b, "<li id=\"fn-%d\">%s <a class=\"fn-back\" href=\"#fnref-%d\" aria-label=\"Back to the text\">↩</a></li>\n",
                           num, pg->def_html[d], num);
    buf_puts(&b, "</ol>\n</section>");
    return buf_detach(&b);
}

static char *references_section(page *pg)
{
    if (!pg->n_cited) return xstrdup("");
    buf b = {0};
    buf_puts(&b, "<section class=\"references\">\n<h2 id=\"references\">References</h2>\n<ol>\n");
    for (int k = 0; k < pg->n_cited; k++) {
        int i = pg->cite_order[k];
        buf_printf(&b, "<li id=\"ref-%s\">", bib_key(pg->bib, i));
        bib_render_html(pg->bib, i, &b);
        /* A reader who followed a citation here (a tap on a phone) gets back to where it was. */
        char *back = pg->cite_id[i] ? xstrdup(pg->cite_id[i]) : xasprintf("fnref-%d", pg->cite_fn[i]);
        buf_printf(&b, " <a class=\"ref-back\" href=\"#%s\" aria-label=\"Back to the text\">↩</a>", back);
        free(back);
        buf_puts(&b, "</li>\n");
    }
    buf_puts(&b, "</ol>\n</section>");
    return buf_detach(&b);
}

static char *toc_html(page *pg)
{
    buf b = {0};
    buf_puts(&b, "<nav class=\"toc\" aria-label=\"Contents\">\n<h2 class=\"toc-title\">Contents</h2>\n<ol>\n");
    int open_sub = 0, any = 0;
    for (int i = 0; i < pg->n_heads; i++) {
        heading *h = &pg->heads[i];
        if (h->level == 2) {
            if (open_sub) buf_puts(&b, "</ol></li>\n");
            else if (any) buf_puts(&b, "</li>\n");
            open_sub = 0;
            any = 1;
            buf_printf(&b, "<li><a href=\"#%s\">", h->id);
            buf_put_html(&b, h->text, strlen(h->text));
            buf_puts(&b, "</a>");
        } else if (h->level == 3 && any) {
            if (!open_sub) buf_puts(&b, "<ol>");
            open_sub = 1;
            buf_printf(&b, "<li><a href=\"#%s\">", h->id);
            buf_put_html(&b, h->text, strlen(h->text));
            buf_puts(&b, "</a></li>");
        }
    }
    if (open_sub) buf_puts(&b, "</ol></li>\n");
    else if (any) buf_puts(&b, "</li>\n");
    if (pg->n_foot) buf_puts(&b, "<li><a href=\"#notes-title\">Notes</a></li>\n");
    if (pg->n_cited) buf_puts(&b, "<li><a href=\"#references\">References</a></li>\n");
    buf_puts(&b, "</ol>\n</nav>");
    return buf_detach(&b);
}

static char *byline_html(page *pg)
{
    buf b = {0};
    buf_puts(&b, "<ul class=\"authors\">\n");
    for (int i = 0; i < pg->fm.n_authors; i++) {
        fm_author *a = &pg->fm.authors[i];
        buf_puts(&b, "<li><span class=\"author\">");
        if (a->url) {
            buf_puts(&b, "<a href=\"");
            buf_put_html(&b, a->url, strlen(a->url));
            buf_puts(&b, "\">");
        }
        buf_put_html(&b, a->name, strlen(a->name));
        if (a->url) buf_puts(&b, "</a>");
        buf_puts(&b, "</span>");
        if (a->affiliation) {
            buf_puts(&b, "<span class=\"affiliation\">");
            if (a->affiliation_url) {
                buf_puts(&b, "<a href=\"");
                buf_put_html(&b, a->affiliation_url, strlen(a->affiliation_url));
                buf_puts(&b, "\">");
            }
            buf_put_html(&b, a->affiliation, strlen(a->affiliation));
            if (a->affiliation_url) buf_puts(&b, "</a>");
            buf_puts(&b, "</span>");
        }
        buf_puts(&b, "</li>\n");
    }
    buf_puts(&b, "</ul>");
    return buf_detach(&b);
}

static char *long_date(const char *iso)
{
    static const char *months[] = {"January", "February", "March",     "April",   "May",      "June",
                                   "July",    "August",   "September", "October", "November", "December"};
    int y = atoi(iso), m = atoi(iso + 5), d = atoi(iso + 8);
    return xasprintf("%s %d, %d", months[m - 1], d, y);
}

/* ---------------------------------------------------------------- main entry */

int page_build(const page_opts *o, char **html_out, err *e)
{
    *html_out = NULL;
    page pg = {.o = o};
    char *src = NULL, *bibsrc = NULL, *tpl = NULL;
    char *body = NULL, *toc = NULL, *notes = NULL, *refs = NULL, *byline = NULL, *date = NULL;
    size_t len, blen;
    int rc = -1;
    if (load_text(o->article, &src, &len, e) != 0) goto done;
    if (fm_parse(src, len, o->article, &pg.fm, e) != 0) goto done;
    pg.fm_loaded = 1;
    pg.body.path = o->article;
    if (mdext_scan(src + pg.fm.body_offset, len - pg.fm.body_offset, o->article, pg.fm.body_line, 1, &pg.body.doc,
                   e) != 0)
        goto done;
    pg.body.item_html = xcalloc((size_t)pg.body.doc.n_items + 1, sizeof(char *));
    if (check_links(o->article, pg.body.doc.md, pg.body.doc.md_lines, pg.body.doc.n_md_lines, e) != 0) goto done;
    for (int d = 0; d < pg.body.doc.n_defs; d++) {
        mx_footdef *def = &pg.body.doc.defs[d];
        if (check_links(o->article, def->md ? def->md : "", def->md_lines, def->n_md_lines, e) != 0) goto done;
    }
    struct stat st;
    if (o->bib && stat(o->bib, &st) == 0) {
        if (load_text(o->bib, &bibsrc, &blen, e) != 0) goto done;
        if (bib_parse(bibsrc, blen, o->bib, &pg.bib, e) != 0) goto done;
    }
    if (load_figures(&pg, e) != 0) goto done;
    if (number_all(&pg, e) != 0) goto done;
    if (render_math(&pg, e) != 0) goto done;
    inline_items(&pg, &pg.body);
    footnotes_html(&pg);
    figures_html(&pg);
    if (tables_html(&pg, e) != 0) goto done;
    /* Reserve the ids of the generated sections before headings claim theirs. */
    free(claim_id(&pg, "references"));
    free(claim_id(&pg, "notes-title"));
    free(claim_id(&pg, "contents"));
    body = render_md(&pg, &pg.body, pg.body.doc.md, 1, 1);
    toc = toc_html(&pg);
    notes = notes_section(&pg);
    refs = references_section(&pg);
    byline = byline_html(&pg);
    date = long_date(pg.fm.date);
    size_t tlen;
    if (load_text(o->template_path, &tpl, &tlen, e) != 0) goto done;
    tpl_var vars[] = {
        {"title", pg.fm.title},
        {"description", pg.fm.description ? pg.fm.description : ""},
        {"date", date},
        {"date_iso", pg.fm.date},
        {"byline", byline},
        {"toc", toc},
        {"body", body},
        {"notes", notes},
        {"references", refs},
    };
    buf out = {0};
    if (tpl_render(tpl, o->template_path, vars, (int)(sizeof vars / sizeof vars[0]), &out, e) != 0) {
        buf_free(&out);
        goto done;
    }
    *html_out = buf_detach(&out);
    rc = 0;
done:
    free(src);
    free(bibsrc);
    free(tpl);
    free(body);
    free(toc);
    free(notes);
    free(refs);
    free(byline);
    free(date);
    page_free(&pg);
    return rc;
}
