/* fv-tsne — embed feature vectors in 2-D with t-SNE (a thin main over tsne.h).
 *
 *   fv-tsne [options] [FEATURES...] [--idx IMAGES.gz]... -o OUT.fvf [--tsv OUT.tsv] [--json OUT.json]
 *
 * Inputs (rows appended in the order given): feature files (FVF1 or text, pipeline/tsne/FORMAT.md)
 * and IDX image files (--idx, pixels / 255 as features). Outputs, each written atomically and
 * only after the whole run succeeded: the 2-D embedding as FVF1 (-o) and/or TSV (--tsv), a JSON
 * report (--json: KL divergence, every setting, timings), the features t-SNE saw after --pca
 * (--features-out, FVF1; with --pca-only nothing else is computed).
 *
 * Exit codes: 0 ok, 1 bad input (file, values, parameters), 2 usage, 3 internal or I/O error.
 * FV_THREADS sets the thread count (default: number of cores). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx.h"
#include "tsne.h"
#include "tsne_io.h"
#include "tsne_pca.h"

#define TOOL_VERSION "fv-tsne 1"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fv-tsne [options] [FEATURES...] [--idx IMAGES.gz]... (-o OUT.fvf | --tsv OUT.tsv | --json R.json)\n"
            "Embeds feature vectors (rows of FVF1 or CSV/TSV files, or IDX images) in 2-D with t-SNE.\n"
            "  -o FILE             embedding as FVF1 (n x 2 float32)\n"
            "  --tsv FILE          embedding as text, x<TAB>y per line\n"
            "  --json FILE         report: KL divergence, every setting, timings\n"
            "  --idx FILE          IDX images (gzip or plain) as features, pixel/255; repeatable\n"
            "  --labels FILE       labels (IDX or one integer per line) to report the 10-NN label\n"
            "                      agreement of the embedding in the JSON\n"
            "  --pca K             reduce the features to K principal components first\n"
            "  --features-out FILE write the features after --pca as FVF1; --pca-only: stop there\n"
            "  --perplexity P (30)  --iters N (750)  --exag-iters N (250)  --exaggeration E (12)\n"
            "  --learning-rate R (auto: max(N/12, 200))  --method auto|exact|fft (auto: exact below 1000)\n"
            "  --init pca|random (pca)  --seed S (1)  --progress (stderr, every 50 iterations)\n"
            "  --interp-points P (2)  --interval-size S (1.0): fft grid, P nodes per interval of width S\n"
            "  --verbose           seconds per phase on stderr at the end\n"
            "Exit codes: 0 ok, 1 bad input, 2 usage, 3 internal/IO error. Env FV_THREADS.\n");
}

static int parse_double(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* Labels: an IDX label file (by its magic, gzip or not) or text, one integer per line. */
static int read_labels(const char *path, size_t n, int **out, err *e)
{
    *out = NULL;
    idx_array *a = NULL;
    /* IDX when gzip (1f 8b) or plain IDX (00 00 08 01); text otherwise, whatever the name. */
    unsigned char head[4] = {0};
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(head, 1, sizeof head, f) : 0;
    if (f) fclose(f);
    int is_idx = (got >= 2 && head[0] == 0x1f && head[1] == 0x8b) ||
                 (got == 4 && head[0] == 0 && head[1] == 0 && head[2] == 8 && head[3] == 1);
    if (is_idx) {
        if (idx_read_labels(path, 255, &a, e) != 0) return -1;
        if (idx_count(a) != n) {
            err_set(e, "%s: %zu labels (expected %zu, one per point)", path, idx_count(a), n);
            idx_free(a);
            return -1;
        }
        int *l = xmalloc(sizeof(int) * n);
        for (size_t i = 0; i < n; i++) l[i] = idx_data(a)[i];
        idx_free(a);
        *out = l;
        return 0;
    }
    tsne_mat m;
    if (tsne_io_read(path, &m, e) != 0) return -1;
    if (m.d != 1 || m.n != n) {
        err_set(e, "%s: %zu x %d values (expected %zu labels, one per line)", path, m.n, m.d, n);
        tsne_mat_free(&m);
        return -1;
    }
    int *l = xmalloc(sizeof(int) * n);
    for (size_t i = 0; i < n; i++) l[i] = (int)lrintf(m.v[i]);
    tsne_mat_free(&m);
    *out = l;
    return 0;
}

static const char *method_name(tsne_method m) { return m == TSNE_EXACT ? "exact" : m == TSNE_FFT ? "fft" : "auto"; }

int main(int argc, char **argv)
{
    tsne_params p;
    tsne_params_default(&p);
    const char *out_fvf = NULL, *out_tsv = NULL, *out_json = NULL, *labels_path = NULL, *feat_out = NULL;
    /* On the stack, so the early usage returns below leak nothing. */
    const char *inputs[argc];
    int is_idx[argc];
    memset(is_idx, 0, sizeof is_idx);
    int n_in = 0, pca_only = 0, verbose = 0;
    long pca_k = 0, v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VAL()                                                                                                    \
    do {                                                                                                              \
        if (!val) {                                                                                                   \
            fprintf(stderr, "fv-tsne: %s needs a value\n", a);                                                        \
            return 2;                                                                                                 \
        }                                                                                                             \
        i++;                                                                                                          \
    } while (0)
#define BAD_VAL(what)                                                                                                 \
    do {                                                                                                              \
        fprintf(stderr, "fv-tsne: %s '%s': expected %s\n", a, val, what);                                             \
        return 2;                                                                                                     \
    } while (0)
#define INT_VAL(lo, hi, dst)                                                                                          \
    do {                                                                                                              \
        err bad;                                                                                                      \
        if (parse_int(a, val, lo, hi, dst, &bad) != 0) {                                                              \
            fprintf(stderr, "fv-tsne: %s\n", bad.msg);                                                                \
            return 2;                                                                                                 \
        }                                                                                                             \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
            NEED_VAL();
            out_fvf = val;
        } else if (!strcmp(a, "--tsv")) {
            NEED_VAL();
            out_tsv = val;
        } else if (!strcmp(a, "--json")) {
            NEED_VAL();
            out_json = val;
        } else if (!strcmp(a, "--idx")) {
            NEED_VAL();
            is_idx[n_in] = 1;
            inputs[n_in++] = val;
        } else if (!strcmp(a, "--labels")) {
            NEED_VAL();
            labels_path = val;
        } else if (!strcmp(a, "--features-out")) {
            NEED_VAL();
            feat_out = val;
        } else if (!strcmp(a, "--pca-only")) {
            pca_only = 1;
        } else if (!strcmp(a, "--pca")) {
            NEED_VAL();
            INT_VAL(1, 100000, &pca_k);
        } else if (!strcmp(a, "--perplexity")) {
            NEED_VAL();
            if (parse_double(val, &p.perplexity) || p.perplexity <= 0) BAD_VAL("a positive number");
        } else if (!strcmp(a, "--iters")) {
            NEED_VAL();
            INT_VAL(1, 100000, &v);
            p.iters = (int)v;
        } else if (!strcmp(a, "--exag-iters")) {
            NEED_VAL();
            INT_VAL(0, 100000, &v);
            p.exag_iters = (int)v;
        } else if (!strcmp(a, "--exaggeration")) {
            NEED_VAL();
            if (parse_double(val, &p.exaggeration) || p.exaggeration < 1) BAD_VAL("a number >= 1");
        } else if (!strcmp(a, "--learning-rate")) {
            NEED_VAL();
            if (parse_double(val, &p.learning_rate) || p.learning_rate <= 0) BAD_VAL("a positive number");
        } else if (!strcmp(a, "--method")) {
            NEED_VAL();
            if (!strcmp(val, "auto")) p.method = TSNE_AUTO;
            else if (!strcmp(val, "exact")) p.method = TSNE_EXACT;
            else if (!strcmp(val, "fft")) p.method = TSNE_FFT;
            else BAD_VAL("auto, exact or fft");
        } else if (!strcmp(a, "--init")) {
            NEED_VAL();
            if (!strcmp(val, "pca")) p.init = TSNE_INIT_PCA;
            else if (!strcmp(val, "random")) p.init = TSNE_INIT_RANDOM;
            else BAD_VAL("pca or random");
        } else if (!strcmp(a, "--seed")) {
            NEED_VAL();
            INT_VAL(0, 2147483647L, &v);
            p.seed = (uint64_t)v;
        } else if (!strcmp(a, "--interp-points")) {
            NEED_VAL();
            INT_VAL(2, 8, &v);
            p.interp_points = (int)v;
        } else if (!strcmp(a, "--interval-size")) {
            NEED_VAL();
            if (parse_double(val, &p.interval_size) || p.interval_size <= 0) BAD_VAL("a positive number");
        } else if (!strcmp(a, "--progress")) {
            p.progress = 1;
        } else if (!strcmp(a, "--verbose")) {
            verbose = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "fv-tsne: unknown option %s (see --help)\n", a);
            return 2;
        } else {
            inputs[n_in++] = a;
        }
    }
    if (n_in == 0) {
        usage(stderr);
        return 2;
    }
    if (!out_fvf && !out_tsv && !out_json && !(pca_only && feat_out)) {
        fprintf(stderr, "fv-tsne: no output (give -o, --tsv or --json; or --pca-only with --features-out)\n");
        return 2;
    }
    if (p.exag_iters > p.iters) {
        fprintf(stderr, "fv-tsne: --exag-iters %d exceeds --iters %d\n", p.exag_iters, p.iters);
        return 2;
    }
    int threads = tsne_threads_from_env();
    if (threads < 0) {
        fprintf(stderr, "FV_THREADS: '%s' is not a positive integer\n", getenv("FV_THREADS"));
        return 2;
    }
    tsne_set_threads(threads);

    int rc = 1;
    err e = {{0}};
    tsne_mat x = {0}, part, emb = {0};
    int *labels = NULL;
    json_t *js = NULL;
    double t_start = now_seconds(), t_pca = 0;
    for (int k = 0; k < n_in; k++) {
        if ((is_idx[k] ? tsne_io_read_idx(inputs[k], &part, &e) : tsne_io_read(inputs[k], &part, &e)) != 0) goto done;
        if (tsne_io_append(&x, &part, inputs[k], &e) != 0) goto done;
    }
    if (labels_path && read_labels(labels_path, x.n, &labels, &e) != 0) goto done;
    double t_read = now_seconds() - t_start;
    if (pca_k > 0) {
        if ((size_t)pca_k > x.n || pca_k > x.d) {
            err_set(&e, "--pca %ld: more components than points (%zu) or features (%d)", pca_k, x.n, x.d);
            goto done;
        }
        double t0 = now_seconds();
        float *r = xmalloc(sizeof(float) * x.n * (size_t)pca_k);
        if (tsne_pca(x.v, x.n, x.d, (int)pca_k, r, &e) != 0) {
            free(r);
            rc = 3;
            goto done;
        }
        free(x.v);
        x.v = r;
        x.d = (int)pca_k;
        t_pca = now_seconds() - t0;
    }
    if (pca_only) {
        if (feat_out && tsne_io_write_fvf(feat_out, &x, &e) != 0) {
            rc = 3;
            goto done;
        }
        rc = 0;
        goto done;
    }
    if (tsne_check(&p, x.n, &e) != 0) {
        /* Name the input the parameters do not fit. */
        err e2;
        err_set(&e2, "%s%s: %s", inputs[0], n_in > 1 ? " (and the other inputs)" : "", e.msg);
        e = e2;
        goto done;
    }

    emb.n = x.n;
    emb.d = 2;
    emb.v = xmalloc(sizeof(float) * 2 * x.n);
    tsne_stats st;
    if (tsne_run(x.v, x.n, x.d, &p, NULL, emb.v, &st, &e) != 0) {
        rc = 3;
        goto done;
    }
    double total = now_seconds() - t_start;

    js = json_object();
    json_object_set_new(js, "tool", json_string(TOOL_VERSION));
    json_t *jin = json_array();
    for (int k = 0; k < n_in; k++)
        json_array_append_new(jin, json_pack("{s:s, s:s}", "path", inputs[k], "kind", is_idx[k] ? "idx" : "features"));
    json_object_set_new(js, "inputs", jin);
    json_object_set_new(js, "n", json_integer((json_int_t)x.n));
    json_object_set_new(js, "d", json_integer(x.d));
    json_object_set_new(js, "kl_divergence", json_real(st.kl));
    json_object_set_new(js, "kernels", json_string(tsne_kernels()));
    json_t *set = json_object();
    json_object_set_new(set, "method", json_string(method_name(st.method)));
    json_object_set_new(set, "perplexity", json_real(p.perplexity));
    json_object_set_new(set, "neighbours", json_integer(st.k));
    json_object_set_new(set, "iterations", json_integer(p.iters));
    json_object_set_new(set, "exaggeration_iterations", json_integer(p.exag_iters));
    json_object_set_new(set, "exaggeration", json_real(p.exaggeration));
    json_object_set_new(set, "learning_rate", json_real(st.learning_rate));
    json_object_set_new(set, "momentum", json_pack("[f, f]", p.momentum_early, p.momentum_late));
    json_object_set_new(set, "init", json_string(p.init == TSNE_INIT_PCA ? "pca" : "random"));
    json_object_set_new(set, "seed", json_integer((json_int_t)p.seed));
    json_object_set_new(set, "pca", json_integer(pca_k));
    json_object_set_new(set, "gradient", json_string("KL gradient without the factor 4 (FIt-SNE / openTSNE)"));
    if (st.method == TSNE_FFT)
        json_object_set_new(set, "fft", json_pack("{s:i, s:i, s:f}", "interpolation_points", p.interp_points,
                                                  "min_intervals", p.min_intervals, "interval_size", p.interval_size));
    json_object_set_new(set, "threads", json_integer(threads));
    json_object_set_new(js, "settings", set);
    json_object_set_new(js, "seconds",
                        json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "pca", t_pca, "knn",
                                  st.seconds_knn, "affinities", st.seconds_affinities, "calibrate",
                                  st.seconds_calibrate, "symmetrize", st.seconds_symmetrize, "optimize",
                                  st.seconds_optimize, "attractive", st.seconds_attractive, "repulsive",
                                  st.seconds_repulsive, "interpolate", st.seconds_interpolate, "fft", st.seconds_fft,
                                  "total", total));
    if (verbose)
        fprintf(stderr,
                "fv-tsne: %zu x %d, %s, %d iterations, %d threads; seconds: read+pca %.2f (pca %.2f), knn %.2f, "
                "calibrate %.2f, symmetrize %.2f, optimize %.2f (attractive %.2f, repulsive %.2f = interpolate %.2f "
                "+ fft %.2f; %d intervals at the end), total %.2f; KL %.4f\n",
                x.n, x.d, method_name(st.method), p.iters, threads, t_read + t_pca, t_pca, st.seconds_knn,
                st.seconds_calibrate, st.seconds_symmetrize, st.seconds_optimize, st.seconds_attractive,
                st.seconds_repulsive, st.seconds_interpolate, st.seconds_fft, st.fft_intervals, total, st.kl);
    if (labels) json_object_set_new(js, "knn10_label_agreement", json_real(tsne_knn_agreement(emb.v, emb.n, 2, labels, 10)));

    rc = 3;
    if (feat_out && tsne_io_write_fvf(feat_out, &x, &e) != 0) goto done;
    if (out_fvf && tsne_io_write_fvf(out_fvf, &emb, &e) != 0) goto done;
    if (out_tsv && tsne_io_write_tsv(out_tsv, &emb, &e) != 0) goto done;
    if (out_json) {
        char *s = json_dumps(js, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
        size_t len = strlen(s);
        s = xrealloc(s, len + 2);
        s[len] = '\n';
        int wr = write_file_atomic(out_json, s, len + 1, &e);
        free(s);
        if (wr != 0) goto done;
    }
    rc = 0;
done:
    if (rc != 0) fprintf(stderr, "%s\n", e.msg);
    json_decref(js);
    tsne_mat_free(&x);
    tsne_mat_free(&emb);
    free(labels);
    return rc;
}
