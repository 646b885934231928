/* mdext — the article's extensions to CommonMark, found in a pass over the source before cmark
 * sees it (so that `_` and `*` inside math are never taken for emphasis):
 *
 *   $x^2$           inline math            $$ ... $$        display math (starts a line)
 *   [@key]          citation               [@a; @b]         several citations
 *   [^name]         footnote reference     [^name]: text    footnote definition (to a blank line)
 *   {{figure id}}   a figure, on its own line                {{ref id}}  "Figure N" link
 *
 * Fenced code blocks (``` or ~~~) and code spans are left alone; `\$` is a literal dollar.
 * Each construct is replaced by a placeholder "\x02<index>\x03" (block constructs become their
 * own paragraph), and recorded with its source line, so errors can name the line. */
#ifndef FV_MDEXT_H
#define FV_MDEXT_H

#include <stddef.h>

#include "util.h"

/* MX_TABLE items are added by the page for pipe tables (pipetable.h), after the scan. */
typedef enum mx_kind { MX_MATH_INLINE, MX_MATH_DISPLAY, MX_CITE, MX_FOOTREF, MX_FIGURE, MX_FIGREF, MX_TABLE } mx_kind;

typedef struct mx_item {
    mx_kind kind;
    int line;   /* 1-based line in the original file */
    char *text; /* TeX source; citation keys joined by ';'; footnote name; figure id */
} mx_item;

typedef struct mx_footdef {
    char *name;
    char *md; /* the definition's Markdown, with placeholders */
    int line;
    int *md_lines; /* source line of each line of md (n_md_lines of them) */
    int n_md_lines;
} mx_footdef;

typedef struct mdext_doc {
    char *md; /* the rewritten Markdown */
    int *md_lines; /* source line of each line of md: cmark's line numbers lead back to the file */
    int n_md_lines;
    mx_item *items;
    int n_items;
    mx_footdef *defs;
    int n_defs;
} mdext_doc;

/* Scans src (named path; its first line is line first_line of that file). allow_blocks: whether
 * display math, figures and footnote definitions may appear (not in captions). Returns 0 with
 * *out (free with mdext_free), or -1 with "path:line: what (expected)" in e. */
int mdext_scan(const char *src, size_t len, const char *path, int first_line, int allow_blocks,
               mdext_doc *out, err *e);

/* Frees everything in doc. */
void mdext_free(mdext_doc *doc);

/* The source line of line md_line (1-based) of a rewritten Markdown text, given its map. */
int mdext_source_line(const int *md_lines, int n_md_lines, int md_line);

/* If s[0..n) starts with a placeholder, returns its item index and sets *used to its length;
 * else returns -1. */
int mdext_placeholder(const char *s, size_t n, size_t *used);

#endif
