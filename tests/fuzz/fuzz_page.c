/* fuzz_page — the whole page render path from Markdown text (pipeline/page/page.h): front
 * matter, the Markdown extensions, citations against a fixed .bib (tests/fuzz/page-references.bib),
 * figures and their captions (math, citations, references, raw HTML) from tests/fuzz/page-figures.json,
 * cmark and the placeholder expansion, footnotes, headings and the
 * table of contents, the template.
 *
 * Input: the article. When it does not start with "---", a fixed valid front matter is put
 * before it, so that most inputs reach the Markdown stages (inputs that do start with "---"
 * fuzz the front matter itself). KaTeX is replaced by the stub below (the real one runs node):
 * it returns escaped TeX as HTML, and rejects TeX containing "\error" like KaTeX would. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "katex.h"
#include "page.h"

int katex_render(const char *script, const char *cache_dir, katex_item *items, int n, err *e)
{
    (void)script;
    (void)cache_dir;
    (void)e;
    for (int i = 0; i < n; i++) {
        if (strstr(items[i].tex, "\\error")) {
            items[i].error = xstrdup("KaTeX parse error: undefined control sequence \\error");
            continue;
        }
        buf b = {0};
        buf_puts(&b, items[i].display ? "<span class=\"katex-display\">" : "<span class=\"katex\">");
        buf_put_html(&b, items[i].tex, strlen(items[i].tex));
        buf_puts(&b, "</span>");
        items[i].html = buf_detach(&b);
    }
    return 0;
}

static const char front[] = "---\ntitle: \"Fuzz\"\ndate: 2024-02-29\nauthors:\n  - name: A\n---\n";
static char article[1024];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* The fixtures are named relative to the project root. */
    if (chdir(FUZZ_ROOT) != 0) {
        perror(FUZZ_ROOT);
        abort();
    }
    snprintf(article, sizeof article, "%s", fuzz_path("article.md"));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    buf src = {0};
    if (size < 3 || memcmp(data, "---", 3) != 0) buf_puts(&src, front);
    buf_put(&src, (const char *)data, size);
    fuzz_write(article, src.data, src.len);
    buf_free(&src);
    page_opts o = {.article = article,
                   .bib = "tests/fuzz/page-references.bib",
                   .figures = "tests/fuzz/page-figures.json",
                   .template_path = "tests/fixtures/site/templates/page.html",
                   .katex_script = "pipeline/js/katex-render.js"};
    char *html = NULL;
    err e = {{0}};
    int rc = page_build(&o, &html, &e);
    if (getenv("FUZZ_VERBOSE")) fprintf(stderr, "page: %s\n", rc == 0 ? "ok" : e.msg);
    if (rc == 0) {
        if (!html) abort();
        free(html);
    } else if (!e.msg[0]) {
        fprintf(stderr, "fuzz_page: failure without a message\n");
        abort();
    }
    return 0;
}
