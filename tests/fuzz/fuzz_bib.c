/* fuzz_bib — the BibTeX reader (pipeline/page/bib.c): entries, nested braces, quoted values,
 * @string abbreviations and '#' concatenation, LaTeX accents; then every accessor and both
 * renderers on each entry it accepts; an accepted url or doi makes a link that url.h allows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bib.h"
#include "fuzz_util.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *src = malloc(size + 1);
    memcpy(src, data, size);
    src[size] = 0;
    bib_db *db = NULL;
    err e = {{0}};
    if (bib_parse(src, size, "r.bib", &db, &e) != 0) {
        if (strncmp(e.msg, "r.bib", 5) != 0) {
            fprintf(stderr, "fuzz_bib: error not naming the file: '%s'\n", e.msg);
            abort();
        }
        free(src);
        return 0;
    }
    static const char *fields[] = {"author", "editor", "title", "year", "journal", "booktitle", "doi", "url"};
    for (int i = 0; i < bib_count(db); i++) {
        const char *key = bib_key(db, i);
        if (bib_find(db, key) < 0) abort();
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            const char *v = bib_field(db, i, fields[f]);
            if (v) (void)strlen(v);
        }
        const char *doi = bib_field(db, i, "doi"), *url = bib_field(db, i, "url");
        char *link = doi ? xasprintf("https://doi.org/%s", doi) : url ? xstrdup(url) : NULL;
        if (link && url_problem(link, URL_ABSOLUTE)) {
            fprintf(stderr, "fuzz_bib: accepted an entry whose link '%s' url.h refuses\n", link);
            abort();
        }
        free(link);
        buf b = {0};
        bib_render_html(db, i, &b);
        bib_render_text(db, i, &b);
        buf_free(&b);
    }
    bib_free(db);
    free(src);
    return 0;
}
