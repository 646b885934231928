/* fv-match — matches the units of one layer of two networks by the correlation of their
 * activations on the same images (match.h), and writes the pairs as JSON, plus, from a render
 * recipe template, one recipe per shown unit. A thin main: options, files, match_*, JSON. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"
#include "outdir.h"
#include "tsne_io.h"

static const char usage[] =
    "usage: fv-match [--show K] [--recipe TEMPLATE.json] A.fvf B.fvf OUT_DIR\n"
    "A.fvf, B.fvf: one layer's activations of two networks on the same images (FVF1 or text,\n"
    "images x units, e.g. fv-examples --features-only). Correlates every unit of A with every\n"
    "unit of B across the images, matches them one to one maximizing the summed correlation\n"
    "(exact, LAPJV) and writes OUT_DIR/match.json, all at once (pipeline/match/FORMAT.md):\n"
    "every pair with its correlation, best first, and the pairs shown: the K best, the K around\n"
    "the median and the K worst.\n"
    "  --show K              pairs per group, 1..16 (default 3); 3K must not exceed A's units\n"
    "  --recipe TEMPLATE     a fv-render recipe whose objectives[0] is a channel objective: for\n"
    "                        each shown pair, OUT_DIR/recipe-<group>-<i>-a.json and -b.json, the\n"
    "                        template with objectives[0].channel set to the pair's unit in A or B\n"
    "Exit codes: 0 ok, 1 bad input (files, unit counts, template), 2 usage, 3 I/O or internal\n";

static const char *const groups[3] = {"best", "middle", "worst"};

/* The template's objectives[0].channel, checked. Returns 0, or -1 with e naming the field. */
static int check_template(const char *path, json_t *t, err *e)
{
    json_t *objs = json_is_object(t) ? json_object_get(t, "objectives") : NULL;
    json_t *o = json_is_array(objs) ? json_array_get(objs, 0) : NULL;
    if (!json_is_object(t)) return err_set(e, "%s: not a JSON object (expected a fv-render recipe)", path);
    if (!json_is_object(o) || !json_is_integer(json_object_get(o, "channel")))
        return err_set(e, "%s: objectives[0].channel: missing (expected the unit's channel objective first)", path);
    return 0;
}

/* Writes dir/recipe-<group>-<i>-<side>.json: the template with objectives[0].channel = unit. */
static int write_recipe(const char *dir, json_t *t, const char *group, int i, char side, int unit, char **name, err *e)
{
    json_t *r = json_deep_copy(t);
    json_object_set_new(json_array_get(json_object_get(r, "objectives"), 0), "channel", json_integer(unit));
    char *text = json_dumps(r, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    *name = xasprintf("recipe-%s-%d-%c.json", group, i, side);
    char *p = xasprintf("%s/%s", dir, *name);
    int rc = write_file_atomic(p, text, strlen(text), e);
    free(text), free(p);
    json_decref(r);
    return rc;
}

int main(int argc, char **argv)
{
    long show = 3;
    const char *paths[3], *tpl_path = NULL;
    int np = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (a[0] == '-' && a[1] && !v) {
            fprintf(stderr, "fv-match: %s needs a value\n%s", a, usage);
            return 2;
        } else if (strcmp(a, "--show") == 0) {
            err e;
            if (parse_int(a, v, 1, 16, &show, &e) != 0) {
                fprintf(stderr, "fv-match: %s\n", e.msg);
                return 2;
            }
            i++;
        } else if (strcmp(a, "--recipe") == 0) {
            tpl_path = v, i++;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "fv-match: unknown option %s\n%s", a, usage);
            return 2;
        } else if (np < 3) {
            paths[np++] = a;
        } else {
            fprintf(stderr, "fv-match: too many arguments\n%s", usage);
            return 2;
        }
    }
    if (np != 3) {
        fputs(usage, stderr);
        return 2;
    }
    err e = {{0}};
    int status = 1, ca = 0, cb = 0;
    tsne_mat A = {0}, B = {0};
    json_t *tpl = NULL, *root = NULL;
    double *corr = NULL, total = 0;
    int *assign = NULL, *order = NULL;
    char *tmp = NULL;
    if (tpl_path) {
        json_error_t je;
        tpl = json_load_file(tpl_path, 0, &je);
        if (!tpl) {
            err_set(&e, "%s:%d: %s (expected a fv-render recipe)", tpl_path, je.line, je.text);
            goto done;
        }
        if (check_template(tpl_path, tpl, &e) != 0) goto done;
    }
    if (tsne_io_read(paths[0], &A, &e) != 0 || tsne_io_read(paths[1], &B, &e) != 0) goto done;
    if (A.n != B.n) {
        err_set(&e, "%s: %zu images (expected %zu, as %s: the same images)", paths[1], B.n, A.n, paths[0]);
        goto done;
    }
    if (A.d > B.d) {
        err_set(&e, "%s: %d units (expected at least %d, as %s)", paths[1], B.d, A.d, paths[0]);
        goto done;
    }
    if (3 * show > A.d) {
        err_set(&e, "--show %ld: %ld pairs shown (expected at most %s's %d units)", show, 3 * show, paths[0], A.d);
        goto done;
    }
    corr = xmalloc(sizeof(double) * (size_t)A.d * (size_t)B.d);
    assign = xmalloc(sizeof(int) * (size_t)A.d);
    order = xmalloc(sizeof(int) * (size_t)A.d);
    if (match_correlate(A.v, B.v, A.n, A.d, B.d, corr, &ca, &cb, &e) != 0 ||
        match_assign(corr, A.d, B.d, assign, &total, &e) != 0)
        goto done;
    match_order(corr, A.d, B.d, assign, order);

    status = 3;
    if (outdir_begin(paths[2], &tmp, &e) != 0) goto done;
    json_t *pairs = json_array(), *shown = json_array();
    for (int k = 0; k < A.d; k++) {
        int i = order[k], best = 0;
        const double *row = corr + (size_t)i * B.d;
        for (int j = 1; j < B.d; j++)
            if (row[j] > row[best]) best = j;
        json_array_append_new(pairs, json_pack("{s:i,s:i,s:f,s:i,s:f}", "a", i, "b", assign[i], "r", row[assign[i]],
                                               "best_b", best, "best_r", row[best]));
    }
    /* the groups: ranks 0..K-1, K around the median, the last K */
    int first[3] = {0, (A.d - (int)show) / 2, A.d - (int)show};
    for (int g = 0; g < 3; g++)
        for (int q = 0; q < show; q++) {
            int rank = first[g] + q, i = order[rank];
            json_t *s = json_pack("{s:s,s:i,s:i,s:i,s:f}", "group", groups[g], "rank", rank + 1, "a", i, "b",
                                  assign[i], "r", corr[(size_t)i * B.d + assign[i]]);
            json_array_append_new(shown, s);
            if (tpl) {
                char *na = NULL, *nb = NULL;
                int rc = write_recipe(tmp, tpl, groups[g], q + 1, 'a', i, &na, &e);
                if (rc == 0) rc = write_recipe(tmp, tpl, groups[g], q + 1, 'b', assign[i], &nb, &e);
                if (rc == 0) {
                    json_object_set_new(s, "recipe_a", json_string(na));
                    json_object_set_new(s, "recipe_b", json_string(nb));
                }
                free(na), free(nb);
                if (rc != 0) {
                    json_decref(pairs), json_decref(shown);
                    goto done;
                }
            }
        }
    double median = corr[(size_t)order[A.d / 2] * B.d + assign[order[A.d / 2]]];
    if (A.d % 2 == 0) median = (median + corr[(size_t)order[A.d / 2 - 1] * B.d + assign[order[A.d / 2 - 1]]]) / 2;
    root = json_pack("{s:s,s:s,s:s,s:I,s:i,s:i,s:i,s:i,s:f,s:f,s:f,s:s,s:o,s:o}", "tool", "fv-match", "a", paths[0],
                     "b", paths[1], "images", (json_int_t)A.n, "units_a", A.d, "units_b", B.d, "constant_a", ca,
                     "constant_b", cb, "total", total, "mean", total / A.d, "median", median, "rule",
                     "r: Pearson correlation over the images; pairs: the one-to-one assignment maximizing the sum "
                     "of r (LAPJV), best first; a constant unit correlates 0 with every other",
                     "pairs", pairs, "shown", shown);
    char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    char *jp = xasprintf("%s/match.json", tmp);
    int rc = write_file_atomic(jp, text, strlen(text), &e);
    free(text), free(jp);
    if (rc != 0 || outdir_publish(tmp, paths[2], &e) != 0) goto done;
    fprintf(stderr, "fv-match: %d units, mean matched correlation %.3f (median %.3f); wrote %s\n", A.d, total / A.d,
            median, paths[2]);
    status = 0;
done:
    if (status != 0) {
        fprintf(stderr, "%s\n", e.msg);
        if (tmp) outdir_abort(tmp);
    }
    json_decref(root), json_decref(tpl);
    tsne_mat_free(&A), tsne_mat_free(&B);
    free(corr), free(assign), free(order), free(tmp);
    return status;
}
