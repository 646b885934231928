/* bib — a BibTeX reader for the article's references, and their rendering as HTML.
 *
 * Accepts @type{key, field = {braced} | "quoted" | number | name, ...} with nested braces,
 * @string abbreviations, @comment and @preamble (ignored), text between entries (ignored).
 * Field names are case-insensitive; LaTeX in values is reduced to text (braces removed, common
 * accents and escapes converted to UTF-8, -- to an en dash). */
#ifndef FV_BIB_H
#define FV_BIB_H

#include <stddef.h>

#include "util.h"

typedef struct bib_db bib_db;

/* Parses src (named path in errors). Required per entry: author (or editor), title, year.
 * Returns 0 with *out (free with bib_free), or -1 with "path:line: what (expected)" in e. */
int bib_parse(const char *src, size_t len, const char *path, bib_db **out, err *e);

/* Frees the database. */
void bib_free(bib_db *db);

/* Index of the entry with this key, or -1. */
int bib_find(const bib_db *db, const char *key);

/* Number of entries. */
int bib_count(const bib_db *db);

/* Key of entry i (borrowed). */
const char *bib_key(const bib_db *db, int i);

/* Value of a field of entry i after LaTeX clean-up (borrowed), or NULL if absent. */
const char *bib_field(const bib_db *db, int i, const char *field);

/* Appends the HTML of entry i as a reference list item body:
 * authors, title, venue, year and a link (doi or url), everything escaped. */
void bib_render_html(const bib_db *db, int i, buf *out);

/* Appends the plain-text short form used in hover previews and title attributes. */
void bib_render_text(const bib_db *db, int i, buf *out);

#endif
