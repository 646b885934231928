/* frontmatter — the article's YAML-style front matter, a small strict subset:
 *
 *   ---
 *   title: How a network sees
 *   description: "One sentence for link previews."
 *   date: 2026-11-25
 *   authors:
 *     - name: Ada Lovelace
 *       url: https://example.org/ada
 *       affiliation: Analytical Engines
 *       affiliation_url: https://example.org
 *   ---
 *
 * Scalars are plain or double-quoted (with \" and \\ escapes). Unknown keys are errors (a typo
 * must not vanish silently). Required: title, date (YYYY-MM-DD, a real day), at least one author
 * with a name. */
#ifndef FV_FRONTMATTER_H
#define FV_FRONTMATTER_H

#include <stddef.h>

#include "util.h"

typedef struct fm_author {
    char *name, *url, *affiliation, *affiliation_url; /* NULL when absent (name never) */
} fm_author;

typedef struct fm_doc {
    char *title, *description, *date; /* description may be NULL */
    fm_author *authors;
    int n_authors;
    int body_line; /* 1-based line of src where the Markdown body starts */
    size_t body_offset; /* byte offset of the body in src */
} fm_doc;

/* Parses the front matter at the start of src (named `path` in errors). On success fills *doc
 * (owned by the caller: free with fm_free) and returns 0; otherwise returns -1 with
 * "path:line: what is wrong (what was expected)" in e. */
int fm_parse(const char *src, size_t len, const char *path, fm_doc *doc, err *e);

/* Frees everything fm_parse allocated in doc. */
void fm_free(fm_doc *doc);

#endif
