/* Check suite for the page module: front matter, BibTeX, Markdown extensions, templates and the
 * whole page against a golden file. Run from the project root (fixtures are found from there). */
#include <check.h>
#include "check_run.h"
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bib.h"
#include "frontmatter.h"
#include "mdext.h"
#include "page.h"
#include "pipetable.h"
#include "template.h"
#include "url.h"

/* ------------------------------------------------------------ front matter */

static int fm(const char *src, fm_doc *d, err *e) { return fm_parse(src, strlen(src), "a.md", d, e); }

START_TEST(fm_valid)
{
    fm_doc d;
    err e = {{0}};
    const char *src = "---\ntitle: \"Hello \\\"x\\\"\"\ndate: 2024-02-29\nauthors:\n  - name: A\n    url: https://a\n"
                      "  - name: B\n    affiliation: Lab\n---\nbody\n";
    ck_assert_int_eq(fm(src, &d, &e), 0);
    ck_assert_str_eq(d.title, "Hello \"x\"");
    ck_assert_int_eq(d.n_authors, 2);
    ck_assert_str_eq(d.authors[1].affiliation, "Lab");
    ck_assert_ptr_null(d.authors[1].url);
    ck_assert_int_eq(d.body_line, 10);
    ck_assert_str_eq(src + d.body_offset, "body\n");
    fm_free(&d);
}
END_TEST

START_TEST(fm_errors)
{
    static const struct {
        const char *src, *msg;
    } cases[] = {
        {"title: x\n", "a.md:1: front matter missing"},
        {"---\ntitle: x\ndate: 2023-02-29\nauthors:\n  - name: A\n---\n", "a.md:3: front matter: date '2023-02-29' is not a real day"},
        {"---\ntitle: x\ntitel: y\n", "a.md:3: front matter: unknown key 'titel'"},
        {"---\ntitle: x\ndate: 2024-01-01\nauthors:\n  - name: A\n", "front matter is not closed"},
        {"---\ndate: 2024-01-01\nauthors:\n  - name: A\n---\n", "a.md:1: front matter: missing 'title'"},
        {"---\ntitle: x\ndate: 2024-01-01\nauthors:\n  - url: https://x\n---\n", "author 1 has no name"},
        {"---\ntitle: \"x\ndate: 2024-01-01\n---\n", "a.md:2: front matter: unterminated"},
        {"---\ntitle: x\ndate: 2024-01-01\nauthors:\n  - name: A\n    emial: a@b\n---\n", "a.md:6: front matter: unknown author field 'emial'"},
        {"---\n\ttitle: x\n---\n", "a.md:2: front matter: tab character"},
        {"---\ntitle: x\ndate: 2024-01-01\nauthors:\n  - name: A\n    url: JAVASCRIPT:alert(1)\n---\n",
         "a.md:6: front matter: author field 'url': 'JAVASCRIPT:alert(1)' is not a link (expected an http(s) or mailto: URL)"},
        {"---\ntitle: x\ndate: 2024-01-01\nauthors:\n  - name: A\n    affiliation_url: //evil.example\n---\n",
         "a.md:6: front matter: author field 'affiliation_url': '//evil.example' is not a link"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fm_doc d;
        err e = {{0}};
        ck_assert_int_eq(fm(cases[i].src, &d, &e), -1);
        ck_assert_msg(strstr(e.msg, cases[i].msg), "case %zu: got '%s'", i, e.msg);
    }
}
END_TEST

/* ------------------------------------------------------------ BibTeX */

static const char bibsrc[] = "@string{j = \"J. Stuff\"}\n"
                             "@comment{ ignored {nested} }\n"
                             "@article{k1,\n  author = {M{\\\"u}ller, Hans and Jane Doe and others},\n"
                             "  title = {The {Big} Idea -- Revisited},\n  journal = j # \" Letters\",\n  year = 2001,\n"
                             "  url = {https://example.org/a--b~c}\n}\n"
                             "@inproceedings{k2, author = {Ng, A.}, title = \"Q\", booktitle = {Conf}, year = {1999}, doi = {10.1/x}}\n";

START_TEST(bib_valid)
{
    bib_db *db;
    err e = {{0}};
    ck_assert_int_eq(bib_parse(bibsrc, strlen(bibsrc), "r.bib", &db, &e), 0);
    ck_assert_int_eq(bib_count(db), 2);
    int i = bib_find(db, "k1");
    ck_assert_int_eq(i, 0);
    ck_assert_str_eq(bib_field(db, i, "title"), "The Big Idea – Revisited");
    ck_assert_str_eq(bib_field(db, i, "journal"), "J. Stuff Letters");
    buf b = {0};
    bib_render_text(db, i, &b);
    ck_assert_str_eq(b.data, "H. Müller, J. Doe, et al. The Big Idea – Revisited. J. Stuff Letters, 2001.");
    buf_free(&b);
    bib_render_html(db, i, &b);
    /* A URL is not prose: "--" and "~" stay as written. */
    ck_assert_ptr_nonnull(strstr(b.data, "href=\"https://example.org/a--b~c\""));
    buf_free(&b);
    bib_render_html(db, bib_find(db, "k2"), &b);
    ck_assert_ptr_nonnull(strstr(b.data, "href=\"https://doi.org/10.1/x\""));
    buf_free(&b);
    bib_free(db);
}
END_TEST

START_TEST(bib_errors)
{
    static const struct {
        const char *src, *msg;
    } cases[] = {
        {"@article{a, author={X}, title={T}, year=1}\n@book{a, author={Y}, title={U}, year=2}\n",
         "r.bib:2: duplicate key 'a' (first defined at line 1)"},
        {"\n@article{a, author={X}, year=1}\n", "r.bib:2: entry 'a': missing field 'title'"},
        {"@article{a, author={X},\n title={T {x, year=1}\n", "r.bib:2: unbalanced '{'"},
        {"@article{a author={X}}\n", "r.bib:1: entry 'a': expected ','"},
        {"@article{a, title={T}, year=1}\n", "missing field 'author'"},
        {"@article{a, author = undefinedmacro, title={T}, year=1}\n", "r.bib:1: unknown @string 'undefinedmacro'"},
        {"@article{a, title={T}, title={U}, author={X}, year=1}\n", "field 'title' given twice"},
        {"@{a, title={T}}\n", "r.bib:1: '@' without an entry type"},
        /* A link that would run script is refused, not dropped; so is a DOI that is not one. */
        {"@article{a, author={X}, title={T}, year=1,\n url={javascript:alert(1)}}\n",
         "r.bib:2: entry 'a': field 'url': 'javascript:alert(1)' is not a link (expected an http(s) or mailto: URL)"},
        {"@article{a, author={X}, title={T}, year=1, url={ JavaScript:alert(1)}}\n", "field 'url': ' JavaScript:"},
        {"@article{a, author={X}, title={T}, year=1, url={java\tscript:alert(1)}}\n",
         "field 'url': 'java\\x09script:alert(1)' is not a link"},
        {"@article{a, author={X}, title={T}, year=1, url={/local/path}}\n", "field 'url': '/local/path' is not a link"},
        {"@article{a, author={X}, title={T}, year=1, doi={javascript:alert(1)}}\n",
         "field 'doi': 'javascript:alert(1)' is not a DOI (expected a DOI like 10.1000/xyz"},
        {"@article{a, author={X}, title={T}, year=1, doi={https://doi.org/10.1/x}}\n", "is not a DOI"},
        {"@article{a, author={X}, title={T}, year=1, doi={10.1/x y}}\n", "is not a DOI"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bib_db *db;
        err e = {{0}};
        ck_assert_int_eq(bib_parse(cases[i].src, strlen(cases[i].src), "r.bib", &db, &e), -1);
        ck_assert_msg(strstr(e.msg, cases[i].msg), "case %zu: got '%s'", i, e.msg);
    }
}
END_TEST

/* ------------------------------------------------------------ Markdown extensions */

static int scan(const char *src, mdext_doc *d, err *e) { return mdext_scan(src, strlen(src), "a.md", 10, 1, d, e); }

START_TEST(mdext_items)
{
    mdext_doc d;
    err e = {{0}};
    const char *src = "Math $a_1*b_2$ and $5 or $10, `$x$` \\$y$ [@k1; @k2] [^n]\n"
                      "$$\nx^2\n$$\n"
                      "{{figure hero}}\n"
                      "see {{ref hero}}\n"
                      "```\n$not math$ [@nope]\n```\n"
                      "[^n]: note $z$\n";
    ck_assert_int_eq(scan(src, &d, &e), 0);
    ck_assert_int_eq(d.n_items, 7);
    ck_assert_int_eq(d.items[0].kind, MX_MATH_INLINE);
    ck_assert_str_eq(d.items[0].text, "a_1*b_2");
    ck_assert_int_eq(d.items[0].line, 10);
    ck_assert_int_eq(d.items[1].kind, MX_CITE);
    ck_assert_str_eq(d.items[1].text, "k1;k2");
    ck_assert_int_eq(d.items[2].kind, MX_FOOTREF);
    ck_assert_int_eq(d.items[3].kind, MX_MATH_DISPLAY);
    ck_assert_str_eq(d.items[3].text, "\nx^2\n");
    ck_assert_int_eq(d.items[3].line, 11);
    ck_assert_int_eq(d.items[4].kind, MX_FIGURE);
    ck_assert_str_eq(d.items[4].text, "hero");
    ck_assert_int_eq(d.items[4].line, 14);
    ck_assert_int_eq(d.items[5].kind, MX_FIGREF);
    ck_assert_int_eq(d.items[6].kind, MX_MATH_INLINE);
    ck_assert_int_eq(d.items[6].line, 19);
    ck_assert_int_eq(d.n_defs, 1);
    ck_assert_str_eq(d.defs[0].name, "n");
    /* Code and the dollar amounts stay as written. */
    ck_assert_ptr_nonnull(strstr(d.md, "$5 or $10, `$x$` \\$y$"));
    ck_assert_ptr_nonnull(strstr(d.md, "$not math$ [@nope]"));
    size_t used;
    ck_assert_int_eq(mdext_placeholder("\x02" "12\x03rest", 8, &used), 12);
    ck_assert_int_eq((int)used, 4);
    mdext_free(&d);
}
END_TEST

START_TEST(mdext_errors)
{
    static const struct {
        const char *src, *msg;
    } cases[] = {
        {"a\n[@bad key]\n", "a.md:11: malformed citation"},
        {"$$\nx\n", "a.md:10: display math is not closed"},
        {"text {{figure x}} inline\n", "a.md:10: {{figure x}} must stand alone"},
        {"{{chart x}}\n", "a.md:10: unknown directive '{{chart}}'"},
        {"[^a]: one\n\n[^a]: two\n", "a.md:12: footnote 'a' defined twice (first at line 10)"},
        /* a placeholder's bytes in the source would be taken for item 0's HTML */
        {"$x$\nok \x02" "0\x03\n", "a.md:11: control character U+0002 at byte 4 of the line"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mdext_doc d;
        err e = {{0}};
        ck_assert_int_eq(scan(cases[i].src, &d, &e), -1);
        ck_assert_msg(strstr(e.msg, cases[i].msg), "case %zu: got '%s'", i, e.msg);
    }
}
END_TEST

/* ------------------------------------------------------------ URLs */

START_TEST(url_policy)
{
    static const struct {
        const char *url;
        int link_ok, absolute_ok; /* accepted as a Markdown link; as a front matter/BibTeX link */
    } cases[] = {
        {"https://example.org/a?b#c", 1, 1},
        {"HTTP://example.org", 1, 1},
        {"mailto:a@example.org", 1, 1},
        {"figures/x.png", 1, 0},
        {"#section", 1, 0},
        {"?q=a:b", 1, 0},
        {"a/b:c", 1, 0},
        {"//example.org/x", 1, 0},
        {"", 1, 0},
        {"javascript:alert(1)", 0, 0},
        {"JaVaScRiPt:alert(1)", 0, 0},
        {" javascript:alert(1)", 0, 0},
        {"java\tscript:alert(1)", 0, 0},
        {"java\nscript:alert(1)", 0, 0},
        {"\x01javascript:alert(1)", 0, 0},
        {"java&#x73;cript:alert(1)", 0, 0},
        {"java script:alert(1)", 0, 0},
        {"vbscript:x", 0, 0},
        {"data:text/html,<script>alert(1)</script>", 0, 0},
        {"file:///etc/passwd", 0, 0},
        {"http:evil.example", 0, 0},
        {"https:///x", 0, 0},
        {"mailto:", 0, 0},
        {"https://example.org/\x7f", 0, 0},
        {"https://example.org/ ", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_msg((url_problem(cases[i].url, URL_LINK) == NULL) == cases[i].link_ok, "case %zu (link): %s", i, cases[i].url);
        ck_assert_msg((url_problem(cases[i].url, URL_ABSOLUTE) == NULL) == cases[i].absolute_ok, "case %zu (absolute): %s", i,
                      cases[i].url);
    }
    char shown[96];
    url_shown("a\tb", shown, sizeof shown);
    ck_assert_str_eq(shown, "a\\x09b");
}
END_TEST

/* Builds a page from an article body (after 6 lines of front matter) and one figure "f" whose
 * caption starts on line 5 of figures/f.lua; returns page_build's status, e the message. */
static int build_with(const char *body, const char *caption, err *e)
{
    char dir[] = "/tmp/check_page.XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *md = xasprintf("%s/a.md", dir), *fj = xasprintf("%s/f.json", dir);
    char *src = xasprintf("---\ntitle: T\ndate: 2024-01-01\nauthors:\n  - name: A\n---\n%s", body);
    json_t *root = json_pack("{s:{s:{s:s,s:s,s:s,s:s,s:i}}}", "figures", "f", "source", "figures/f.lua", "kind",
                             "images", "html", "<div></div>", "caption", caption, "caption_line", 5);
    char *fjson = json_dumps(root, 0);
    json_decref(root);
    ck_assert_int_eq(write_file_atomic(md, src, strlen(src), e), 0);
    ck_assert_int_eq(write_file_atomic(fj, fjson, strlen(fjson), e), 0);
    page_opts o = {.article = md, .figures = fj, .template_path = "tests/fixtures/site/templates/page.html",
                   .katex_script = "pipeline/js/katex-render.js"};
    char *html = NULL;
    int rc = page_build(&o, &html, e);
    free(html);
    unlink(md);
    unlink(fj);
    rmdir(dir);
    free(md);
    free(fj);
    free(src);
    free(fjson);
    return rc;
}

START_TEST(page_links)
{
    static const struct {
        const char *body, *caption, *msg; /* msg: after the file name */
    } cases[] = {
        /* Line 7 is the body's first line; the figure adds lines to the text cmark sees. */
        {"Intro.\n\n{{figure f}}\n\nSee [x](javascript:alert(1)).\n", "C.",
         ":11: link to 'javascript:alert(1)' (expected an http(s) or mailto: URL, or a relative link)"},
        {"{{figure f}}\n\n![i](JAVASCRIPT:alert(1))\n", "C.", ":9: image to 'JAVASCRIPT:alert(1)'"},
        {"{{figure f}}\n\n[x](java&#x73;cript:alert(1))\n", "C.", ":9: link to 'javascript:alert(1)'"},
        {"{{figure f}}\n\n[x](&#x6A;avascript&colon;alert(1))\n", "C.", ":9: link to 'javascript:alert(1)'"},
        {"{{figure f}}\n\n<javascript:alert(1)>\n", "C.", ":9: link to 'javascript:alert(1)'"},
        {"{{figure f}}\n\n[x][r]\n\n[r]: vbscript:msgbox\n", "C.", ":9: link to 'vbscript:msgbox'"},
        {"{{figure f}}\n\nA note[^n].\n\n[^n]: Two\n  lines [y](data:text/html,x).\n", "C.",
         ":12: link to 'data:text/html,x'"},
        /* Captions come from figures/f.lua, whose caption starts at line 5. */
        {"{{figure f}}\n", "First line,\nthen [x](javascript:alert(1)).", "figures/f.lua:6: link to 'javascript:"},
        {"{{figure f}}\n", "![i](file:///etc/passwd)", "figures/f.lua:5: image to 'file:///etc/passwd'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err e = {{0}};
        ck_assert_msg(build_with(cases[i].body, cases[i].caption, &e) == -1, "case %zu accepted", i);
        ck_assert_msg(strstr(e.msg, cases[i].msg), "case %zu: got '%s'", i, e.msg);
    }
    err e = {{0}};
    ck_assert_msg(build_with("{{figure f}}\n\n[ok](https://example.org) [rel](#fig-f) ![i](figures/x.png)\n",
                             "[ok](mailto:a@example.org)", &e) == 0, "%s", e.msg);
}
END_TEST

/* ------------------------------------------------------------ templates */

START_TEST(template_render)
{
    tpl_var v[] = {{"a", "<b>"}, {"body", "<p>x</p>"}};
    buf out = {0};
    err e = {{0}};
    ck_assert_int_eq(tpl_render("1{{a}}2{{{body}}}3{{ a }}", "t.html", v, 2, &out, &e), 0);
    ck_assert_str_eq(out.data, "1&lt;b&gt;2<p>x</p>3&lt;b&gt;");
    buf_free(&out);
    ck_assert_int_eq(tpl_render("x\n\n{{nope}}", "t.html", v, 2, &out, &e), -1);
    ck_assert_str_eq(e.msg, "t.html:3: unknown variable 'nope' (expected one of: a, body)");
    buf_free(&out);
    ck_assert_int_eq(tpl_render("{{a}", "t.html", v, 2, &out, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "t.html:1: malformed tag"));
    buf_free(&out);
}
END_TEST

/* ------------------------------------------------------------ whole page */

START_TEST(page_golden)
{
    /* The fixture's figures.json is what the driver writes; the golden file is reviewed HTML. */
    page_opts o = {.article = "tests/fixtures/site/content/article.md",
                   .bib = "tests/fixtures/site/content/references.bib",
                   .figures = "tests/fixtures/page/figures.json",
                   .template_path = "tests/fixtures/site/templates/page.html",
                   .katex_script = "pipeline/js/katex-render.js"};
    char *html, *golden;
    err e = {{0}};
    ck_assert_msg(page_build(&o, &html, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(read_file("tests/fixtures/page/golden.html", &golden, NULL, &e), 0);
    if (getenv("UPDATE_GOLDEN")) write_file_atomic("tests/fixtures/page/golden.html", html, strlen(html), &e);
    ck_assert_msg(strcmp(html, golden) == 0, "page differs from tests/fixtures/page/golden.html "
                                             "(UPDATE_GOLDEN=1 rewrites it; review the diff)");
    free(html);
    free(golden);
}
END_TEST

/* ------------------------------------------------------------ pipe tables */

START_TEST(pipetable_found)
{
    const char *md = "Para\nText | with a bar\n| --- |\n\n"   /* no blank line before: not a table */
                     "a | b\n:-- | --:\n x \\| y | `c` \n\n"   /* outer pipes optional, \\| a bar */
                     "```\n| p | q |\n| - | - |\n```\n\n"      /* fenced: code */
                     "    | i | j |\n    | - | - |\n\n"        /* indented: code */
                     "| h |\n| :-: |\n| 1 |\n| 2 |\nafter\n";  /* one column; runs to the blank line */
    int lines[40];
    for (int i = 0; i < 40; i++) lines[i] = 100 + i;
    pt_table *t = NULL;
    int n = -1;
    err e = {{0}};
    ck_assert_int_eq(pipetable_scan(md, "a.md", lines, 40, &t, &n, &e), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(t[0].first_line, 5);
    ck_assert_int_eq(t[0].n_lines, 3);
    ck_assert_int_eq(t[0].cols, 2);
    ck_assert_int_eq(t[0].rows, 2);
    ck_assert_int_eq(t[0].align[0], PT_LEFT);
    ck_assert_int_eq(t[0].align[1], PT_RIGHT);
    ck_assert_str_eq(t[0].cells[0], "a");
    ck_assert_str_eq(t[0].cells[1], "b");
    ck_assert_str_eq(t[0].cells[2], "x | y");
    ck_assert_str_eq(t[0].cells[3], "`c`");
    ck_assert_int_eq(t[1].first_line, 17);
    ck_assert_int_eq(t[1].n_lines, 5);
    ck_assert_int_eq(t[1].cols, 1);
    ck_assert_int_eq(t[1].rows, 4);
    ck_assert_int_eq(t[1].align[0], PT_CENTER);
    ck_assert_str_eq(t[1].cells[3], "after");
    pipetable_free(t, n);
    ck_assert_int_eq(pipetable_scan("plain text\n\n- a | b\n", "a.md", NULL, 0, &t, &n, &e), 0);
    ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(pipetable_errors)
{
    int lines[] = {10, 11, 12, 13};
    pt_table *t = NULL;
    int n = 0;
    err e = {{0}};
    ck_assert_int_eq(pipetable_scan("| a | b |\n| - | - |\n| 1 | 2 | 3 |\n", "a.md", lines, 4, &t, &n, &e), -1);
    ck_assert_str_eq(e.msg, "a.md:12: table row has 3 cells (expected 2, as the delimiter row below the header)");
    ck_assert_int_eq(pipetable_scan("| a | b | c |\n| - | - |\n", "a.md", NULL, 0, &t, &n, &e), -1);
    ck_assert_str_eq(e.msg, "a.md:1: table row has 3 cells (expected 2, as the delimiter row below the header)");
}
END_TEST

static Suite *page_suite(void)
{
    Suite *s = suite_create("page");
    TCase *t;
    t = tcase_create("frontmatter");
    tcase_add_test(t, fm_valid);
    tcase_add_test(t, fm_errors);
    suite_add_tcase(s, t);
    t = tcase_create("bib");
    tcase_add_test(t, bib_valid);
    tcase_add_test(t, bib_errors);
    suite_add_tcase(s, t);
    t = tcase_create("mdext");
    tcase_add_test(t, mdext_items);
    tcase_add_test(t, mdext_errors);
    suite_add_tcase(s, t);
    t = tcase_create("pipetable");
    tcase_add_test(t, pipetable_found);
    tcase_add_test(t, pipetable_errors);
    suite_add_tcase(s, t);
    t = tcase_create("url");
    tcase_add_test(t, url_policy);
    tcase_add_test(t, page_links);
    suite_add_tcase(s, t);
    t = tcase_create("template");
    tcase_add_test(t, template_render);
    suite_add_tcase(s, t);
    t = tcase_create("golden");
    tcase_set_timeout(t, 30);
    tcase_add_test(t, page_golden);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return check_run(page_suite());
}
