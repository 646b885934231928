/* fv-page — builds the article's index.html. A thin command line over page.h.
 *
 * Exit codes: 0 written; 1 bad input (one line on stderr: file:line: what, expected what);
 * 2 usage; 3 could not write the output or run KaTeX. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page.h"

static const char usage[] =
    "usage: fv-page --article FILE.md --template page.html --out DIR\n"
    "               [--bib FILE.bib] [--figures figures.json] [--katex katex-render.js]\n"
    "               [--katex-cache DIR]\n"
    "Builds DIR/index.html from the article's Markdown (front matter, math, citations,\n"
    "footnotes, {{figure id}}), its references and the figure manifests, through the template.\n"
    "Exit codes: 0 ok, 1 bad input, 2 usage, 3 I/O or KaTeX failure.\n";

int main(int argc, char **argv)
{
    page_opts o = {.katex_script = "pipeline/js/katex-render.js"};
    const char *out_dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "fv-page: %s needs a value\n%s", a, usage);
            return 2;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--article")) o.article = v;
        else if (!strcmp(a, "--bib")) o.bib = v;
        else if (!strcmp(a, "--figures")) o.figures = v;
        else if (!strcmp(a, "--template")) o.template_path = v;
        else if (!strcmp(a, "--katex")) o.katex_script = v;
        else if (!strcmp(a, "--katex-cache")) o.katex_cache = v;
        else if (!strcmp(a, "--out")) out_dir = v;
        else {
            fprintf(stderr, "fv-page: unknown option %s\n%s", a, usage);
            return 2;
        }
    }
    if (!o.article || !o.template_path || !out_dir) {
        fputs(usage, stderr);
        return 2;
    }
    err e = {{0}};
    char *html;
    if (page_build(&o, &html, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return strncmp(e.msg, "katex:", 6) ? 1 : 3;
    }
    char *path = xasprintf("%s/index.html", out_dir);
    int rc = 0;
    if (mkdir_p(out_dir, &e) != 0 || write_file_atomic(path, html, strlen(html), &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        rc = 3;
    }
    free(path);
    free(html);
    return rc;
}
