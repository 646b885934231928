/* katex — renders TeX to HTML at build time by running KaTeX under node, once for a whole batch
 * (starting node costs ~0.1 s; one expression costs microseconds). */
#ifndef FV_KATEX_H
#define FV_KATEX_H

#include "util.h"

typedef struct katex_item {
    const char *tex; /* borrowed */
    int display;     /* 1: display (block) math */
    char *html;      /* out, owned by the caller: the rendered HTML, or NULL on error */
    char *error;     /* out, owned by the caller: KaTeX's message when it rejects the TeX */
} katex_item;

/* Renders items[0..n) with `node script` (script: pipeline/js/katex-render.js). A TeX error
 * sets that item's error and still returns 0; -1 means node could not run (message in e).
 * cache_dir (may be NULL): a directory of earlier renders, one file per expression named by the
 * sha256 of its TeX; node runs only when some expression is not there. The caller makes the
 * directory name depend on the KaTeX version, so that a new KaTeX never reads old renders. */
int katex_render(const char *script, const char *cache_dir, katex_item *items, int n, err *e);

#endif
