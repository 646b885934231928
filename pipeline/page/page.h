/* page — builds the article's index.html from its Markdown, references, figure manifests and
 * template. The only module that uses cmark.
 *
 * Inputs (page_opts):
 *   article   content/article.md: front matter (see frontmatter.h) + Markdown with the
 *             extensions of mdext.h (math, citations, footnotes, figures) and pipe tables
 *             (pipetable.h), whose cells may use them inline.
 *   bib       content/references.bib (may be absent when nothing is cited).
 *   figures   a JSON file written by the build driver from figures/<id>.lua:
 *             {"figures": {"<id>": {"source": "figures/<id>.lua", "kind": "images",
 *              "caption": "Markdown", "caption_line": 3, "html": "<div>..</div>",
 *              "class": "wide"|"" , "alt": ".."}}}
 *             `html` is the figure's body, built by the figure kind's Lua module; the page adds
 *             <figure>, the number and the caption.
 *   template  templates/page.html (variables: see page.c, `tpl_var vars[]`).
 *   katex     pipeline/js/katex-render.js (run with node when the article has math), with an
 *             optional cache directory of earlier renders (katex_cache).
 * Raw HTML is passed through from the article (an author's own file) but not from captions. */
#ifndef FV_PAGE_H
#define FV_PAGE_H

#include "util.h"

typedef struct page_opts {
    const char *article, *bib, *figures, *template_path, *katex_script;
    const char *katex_cache; /* may be NULL: see katex.h */
} page_opts;

/* Builds the page. Returns 0 with *html (a heap string owned by the caller), or -1 with one line
 * "file:line: what is wrong (what was expected)" in e. */
int page_build(const page_opts *o, char **html, err *e);

#endif
