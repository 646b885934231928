/* url — the one check every URL the page publishes goes through: author and affiliation links
 * of the front matter, BibTeX url and doi fields, and Markdown links and images of the body,
 * footnotes and captions. A URL that a browser could take for javascript:, data:, file: or any
 * scheme but http, https and mailto is refused, however it is spelled (case, controls or spaces
 * inside the scheme, entities decoded by the reader before the check). */
#ifndef FV_URL_H
#define FV_URL_H

#include <stddef.h>

typedef enum url_kind {
    URL_ABSOLUTE, /* http://, https:// or mailto: only (front matter, references) */
    URL_LINK      /* also a relative reference: path, #anchor, ?query, //host (Markdown) */
} url_kind;

/* Returns NULL when url may be published as a link of this kind, else what was expected
 * (a static string to end a message with, e.g. "an http(s) or mailto: URL"). */
const char *url_problem(const char *url, url_kind kind);

/* Writes url into out[0..n) for a one-line message: controls as \xNN, cut with "..." after
 * 60 bytes. */
void url_shown(const char *url, char *out, size_t n);

#endif
