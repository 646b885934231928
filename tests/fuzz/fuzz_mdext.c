/* fuzz_mdext — the article's Markdown extensions (pipeline/page/mdext.c): math delimiters,
 * citations, footnotes, {{figure id}} and {{ref id}}, fences and code spans, on any bytes.
 * Each input is scanned twice, as the body (blocks allowed) and as a caption (no blocks); every
 * placeholder of the rewritten Markdown must name an item that exists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "mdext.h"

static void scan(const char *src, size_t len, int allow_blocks)
{
    mdext_doc d;
    err e = {{0}};
    memset(&d, 0, sizeof d);
    if (mdext_scan(src, len, "a.md", 7, allow_blocks, &d, &e) != 0) {
        if (!e.msg[0] || strncmp(e.msg, "a.md:", 5) != 0) {
            fprintf(stderr, "fuzz_mdext: error without 'a.md:line:' prefix: '%s'\n", e.msg);
            abort();
        }
        return;
    }
    size_t n = strlen(d.md);
    for (size_t i = 0; i < n; i++) {
        size_t used;
        int idx = mdext_placeholder(d.md + i, n - i, &used);
        if (idx < 0) continue;
        if (idx >= d.n_items || used == 0 || used > n - i) {
            fprintf(stderr, "fuzz_mdext: placeholder %d (of %d items) at %zu\n", idx, d.n_items, i);
            abort();
        }
        i += used - 1;
    }
    for (int i = 0; i < d.n_items; i++)
        if (d.items[i].line < 7 || !d.items[i].text) abort();
    for (int i = 0; i < d.n_defs; i++) (void)strlen(d.defs[i].name);
    mdext_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* mdext_scan reads src[0..len) and is given text the page already checked as UTF-8; a NUL
     * inside is possible in principle, so no terminator is assumed beyond len. */
    char *src = malloc(size + 1);
    memcpy(src, data, size);
    src[size] = 0;
    scan(src, size, 1);
    scan(src, size, 0);
    free(src);
    return 0;
}
