/* fv-nn — inspect a TF.js graph model and run it on a photo (a thin main over nn.h).
 *
 *   fv-nn info MODEL_DIR [--size N]
 *       the model's sha256, its input, and every node: op, and the activation shape at an
 *       N x N input (default: the model's native size) or why it cannot be computed.
 *   fv-nn run MODEL_DIR IMAGE.png [--size N] [--output NODE[:preact]]...
 *       resizes the photo to N x N (default 512), feeds RGB 0..255, runs the network and prints
 *       per output its shape, min/mean/max and the 5 channels with the largest maximum (with
 *       COCO-80 names for an 80-channel output) and where that maximum is.
 *   fv-nn bench MODEL_DIR [--size N] [--batch B] [--iters K] [--steps] [--output NODE[:preact]]...
 *       times K forward and K forward+backward passes on a random input (default 128 px, batch 1,
 *       20 iterations, output tower_0/extern1/BatchNorm/FusedBatchNorm) and an sgemm of a
 *       comparable shape, and prints ms per pass and GFLOP/s (2 flops per multiply-add). With
 *       --steps, K more forward+backward passes are timed step by step (nn_plan_set_timing) and
 *       each step that took time is listed: its op, output shape, ms per pass forward and
 *       backward, GFLOP/s for a convolution, and node name; then the steps' sum and the rest.
 *   fv-nn profile MODEL_DIR --output NODE[:preact] -o OUT.fvf [--size N] [--self FIRST] IMAGE.png...
 *       the activation profile of every channel of NODE over a set of images: row c of OUT
 *       (FVF1, pipeline/tsne/FORMAT.md; rows of n_images values) holds channel c's spatial
 *       mean on each image (at N x N, default the first image's size), standardised to mean 0
 *       and standard deviation 1 across the images (a channel that never varies gets zeros).
 *       Channels that respond alike to the same images end up close: the t-SNE map of a
 *       layer's channels embeds these rows. With --self FIRST, image i is taken to be the
 *       visualization of channel FIRST+i and is left out of that channel's profile (it excites
 *       its own channel by construction, which says nothing about how channels relate): the
 *       entry is excluded from the mean and deviation and written as 0; and only the rows of
 *       those channels, FIRST .. FIRST+n_images-1, are written (n_images rows).
 *
 * Exit codes: 0 ok, 1 bad input (model, image, node name), 2 usage, 3 internal or I/O error.
 * FV_THREADS sets the thread count (default: number of cores). */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fvf.h"
#include "nn.h"
#include "png_io.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: fv-nn info MODEL_DIR [--size N]\n"
               "       fv-nn run MODEL_DIR IMAGE.png [--size N] [--output NODE[:preact]]...\n"
               "       fv-nn bench MODEL_DIR [--size N] [--batch B] [--iters K] [--steps] [--output NODE[:preact]]...\n"
               "       fv-nn profile MODEL_DIR --output NODE[:preact] -o OUT.fvf [--size N] [--self FIRST] IMAGE.png...\n"
               "Runs a TF.js graph model (directory with one model.json and its weights).\n"
               "Exit codes: 0 ok, 1 bad input, 2 usage, 3 internal/IO error. Env FV_THREADS.\n");
}

static int cmd_info(nn_model *m, int size)
{
    int ns[4] = {1, 512, 512, 3};
    nn_model_input_shape(m, ns);
    if (size <= 0) size = ns[1] > 0 ? ns[1] : 512;
    printf("sha256 %s\n", nn_model_sha256(m));
    printf("input %s [%d,%d,%d,%d]\n", nn_model_input_name(m) ? nn_model_input_name(m) : "(none)", ns[0], ns[1],
           ns[2], ns[3]);
    int n = nn_model_n_nodes(m), n_out = 0;
    const char **outs = calloc((size_t)n + 1, sizeof *outs);
    if (!outs) return 3;
    for (int i = 0; i < n; i++) {
        const char *op = nn_model_node_op(m, i);
        if (strcmp(op, "Const") != 0 && strcmp(op, "Placeholder") != 0 && nn_model_node_computable(m, i))
            outs[n_out++] = nn_model_node_name(m, i);
    }
    nn_plan *p = NULL;
    err e = {{0}};
    if (n_out && nn_plan_new(m, NULL, 1, size, size, outs, n_out, &p, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        free(outs);
        return 1;
    }
    printf("nodes %d, computable %d, at %dx%d: %.1f M multiply-adds\n", n, n_out, size, size,
           p ? nn_plan_macs(p) / 1e6 : 0.0);
    int k = 0;
    for (int i = 0; i < n; i++) {
        const char *op = nn_model_node_op(m, i), *name = nn_model_node_name(m, i);
        if (strcmp(op, "Const") == 0) continue;
        if (k < n_out && outs[k] == name) {
            int sh[4];
            nn_plan_output(p, k++, sh);
            printf("%-28s %-60s [%d,%d,%d,%d]\n", op, name, sh[0], sh[1], sh[2], sh[3]);
        } else {
            printf("%-28s %-60s %s\n", op, name, strcmp(op, "Placeholder") == 0 ? "input" : "(not supported)");
        }
    }
    nn_plan_free(p);
    free(outs);
    return 0;
}

static void summarize(const char *name, const float *y, const int sh[4], int in_size)
{
    size_t n = (size_t)sh[0] * sh[1] * sh[2] * sh[3];
    double sum = 0;
    float mn = y[0], mx = y[0];
    for (size_t i = 0; i < n; i++) {
        sum += y[i];
        mn = y[i] < mn ? y[i] : mn;
        mx = y[i] > mx ? y[i] : mx;
    }
    printf("%s [%d,%d,%d,%d] min %.6g mean %.6g max %.6g\n", name, sh[0], sh[1], sh[2], sh[3], mn, sum / n, mx);
    int C = sh[3];
    float *cmax = malloc(sizeof(float) * C);
    int *arg = malloc(sizeof(int) * C);
    if (!cmax || !arg) {
        free(cmax);
        free(arg);
        return;
    }
    for (int c = 0; c < C; c++) cmax[c] = -1e30f, arg[c] = 0;
    size_t hw = (size_t)sh[1] * sh[2]; /* first image of the batch */
    for (size_t i = 0; i < hw; i++)
        for (int c = 0; c < C; c++)
            if (y[i * C + c] > cmax[c]) cmax[c] = y[i * C + c], arg[c] = (int)i;
    for (int r = 0; r < 5 && r < C; r++) {
        int best = 0;
        for (int c = 1; c < C; c++)
            if (cmax[c] > cmax[best]) best = c;
        int py = arg[best] / sh[2], px = arg[best] % sh[2];
        const char *cls = C == 80 ? nn_coco80_name(best) : NULL;
        printf("  channel %d%s%s%s max %.6f at y=%d x=%d (input pixel y=%d x=%d)\n", best, cls ? " (" : "",
               cls ? cls : "", cls ? ")" : "", cmax[best], py, px, (int)((py + 0.5) * in_size / sh[1]),
               (int)((px + 0.5) * in_size / sh[2]));
        cmax[best] = -1e31f;
    }
    free(cmax);
    free(arg);
}

/* GFLOP/s of sgemm (M x K) . (K x N): the rate the engine's convolutions could reach. */
static double sgemm_rate(int M, int N, int K, int iters)
{
    float *a = calloc((size_t)M * K, sizeof(float)), *b = calloc((size_t)K * N, sizeof(float)),
          *c = calloc((size_t)M * N, sizeof(float));
    double r = 0;
    if (a && b && c) {
        for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.1f;
        for (size_t i = 0; i < (size_t)K * N; i++) b[i] = (float)(i % 5) * 0.1f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, a, K, b, N, 0, c, N);
        double t0 = now_seconds();
        for (int i = 0; i < iters; i++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, a, K, b, N, 0, c, N);
        r = 2.0 * M * N * K * iters / (now_seconds() - t0) / 1e9;
    }
    free(a), free(b), free(c);
    return r;
}

/* The profile per step of iters forward+backward passes (fv-nn bench --steps); steps that took
 * under a microsecond a pass (done by a fused neighbour) are left out. */
static int bench_steps(nn_plan *p, int iters, err *e)
{
    nn_plan_set_timing(p, 1);
    double t0 = now_seconds();
    for (int i = 0; i < iters; i++)
        if (nn_plan_forward(p, e) != 0 || nn_plan_backward(p, e) != 0) return -1;
    double total = (now_seconds() - t0) / iters, sum = 0;
    nn_plan_set_timing(p, 0);
    printf("step  op                    output shape          fwd ms   bwd ms  GFLOP/s  node\n");
    for (int k = 0; k < nn_plan_n_steps(p); k++) {
        const char *name, *op;
        int sh[4];
        double tf, tb, macs;
        nn_plan_step_info(p, k, &name, &op, sh);
        nn_plan_step_times(p, k, &tf, &tb, &macs);
        tf /= iters, tb /= iters, sum += tf + tb;
        if (tf + tb < 1e-6) continue;
        char shape[48], rate[16] = "";
        snprintf(shape, sizeof shape, "[%d,%d,%d,%d]", sh[0], sh[1], sh[2], sh[3]);
        if (macs > 0) snprintf(rate, sizeof rate, "%7.1f", 4 * macs / (tf + tb) / 1e9);
        printf("%4d  %-20.20s  %-20s %7.3f  %7.3f  %7s  %s\n", k, op, shape, tf * 1e3, tb * 1e3, rate, name);
    }
    printf("steps %.2f ms a pass, the rest (outputs' gradients, zeroing) %.2f ms\n", sum * 1e3, (total - sum) * 1e3);
    return 0;
}

static int cmd_bench(nn_model *m, int size, int batch, int iters, int steps, const char **outs, int n_out)
{
    nn_plan *p = NULL;
    err e = {{0}};
    if (nn_plan_new(m, NULL, batch, size, size, outs, n_out, &p, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    int ish[4];
    size_t nx = nn_plan_input_shape(p, ish);
    float *x = nn_plan_input(p);
    for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 2654435761u) % 256);
    for (int k = 0; k < n_out; k++) {
        float *g = nn_plan_output_grad(p, k);
        for (size_t i = 0; i < nn_plan_output_size(p, k); i++) g[i] = (i % 3) ? 0.01f : -0.02f;
    }
    int rc = 3;
    if (nn_plan_forward(p, &e) != 0 || nn_plan_backward(p, &e) != 0) goto done; /* warm-up */
    double t0 = now_seconds();
    for (int i = 0; i < iters; i++)
        if (nn_plan_forward(p, &e) != 0) goto done;
    double tf = (now_seconds() - t0) / iters;
    t0 = now_seconds();
    for (int i = 0; i < iters; i++)
        if (nn_plan_forward(p, &e) != 0 || nn_plan_backward(p, &e) != 0) goto done;
    double tfb = (now_seconds() - t0) / iters;
    double macs = nn_plan_macs(p);
    /* a 1x1 conv of the middle of the network: (batch*16*16 pixels at 128 px) x 120 -> 480 */
    int M = batch * (size / 8) * (size / 8);
    double gemm = sgemm_rate(M, 480, 120, 200);
    printf("size %d batch %d outputs %d: %.1f M multiply-adds forward\n", size, batch, n_out, macs / 1e6);
    printf("forward          %8.2f ms  %6.2f GFLOP/s\n", tf * 1e3, 2 * macs / tf / 1e9);
    printf("forward+backward %8.2f ms  %6.2f GFLOP/s (backward counted as forward)\n", tfb * 1e3,
           4 * macs / tfb / 1e9);
    printf("sgemm %dx120x480 %6.2f GFLOP/s\n", M, gemm);
    if (steps && bench_steps(p, iters, &e) != 0) goto done;
    rc = 0;
done:
    if (rc) fprintf(stderr, "%s\n", e.msg);
    nn_plan_free(p);
    return rc;
}

static int cmd_run(nn_model *m, const char *image, int size, const char **outs, int n_out)
{
    png_io_image img = {0};
    nn_plan *p = NULL;
    err e = {{0}};
    int rc = 1;
    if (png_io_read(image, 3, &img, &e) != 0) goto done;
    if (nn_plan_new(m, NULL, 1, size, size, outs, n_out, &p, &e) != 0) goto done;
    int ish[4];
    nn_plan_input_shape(p, ish);
    if (ish[3] != 3) {
        err_set(&e, "%s: the model's input has %d channels (expected 3 for an RGB photo)", image, ish[3]);
        goto done;
    }
    nn_resize_u8_to_float(img.pixels, img.width, img.height, 3, nn_plan_input(p), size, size);
    if (nn_plan_forward(p, &e) != 0) {
        rc = 3;
        goto done;
    }
    for (int i = 0; i < n_out; i++) {
        int sh[4];
        const float *y = nn_plan_output(p, i, sh);
        summarize(outs[i], y, sh, size);
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "%s\n", e.msg);
    nn_plan_free(p);
    png_io_image_free(&img);
    return rc;
}

static int cmd_profile(nn_model *m, const char *node, const char *out, int size, int self, char **images, int n_img)
{
    png_io_image img = {0};
    nn_plan *p = NULL;
    err e = {{0}};
    float *a = NULL, *rows = NULL; /* a: n_img x C spatial means; rows: C x n_img standardised */
    int rc = 1, C = 0;
    for (int i = 0; i < n_img; i++) {
        if (png_io_read(images[i], 3, &img, &e) != 0) goto done;
        if (!p) {
            if (size <= 0) size = img.width;
            if (nn_plan_new(m, NULL, 1, size, size, &node, 1, &p, &e) != 0) goto done;
            int sh[4];
            nn_plan_output(p, 0, sh);
            C = sh[3];
            a = xcalloc((size_t)n_img * C, sizeof *a);
        }
        nn_resize_u8_to_float(img.pixels, img.width, img.height, 3, nn_plan_input(p), size, size);
        png_io_image_free(&img);
        if (nn_plan_forward(p, &e) != 0) {
            rc = 3;
            goto done;
        }
        int sh[4];
        const float *y = nn_plan_output(p, 0, sh);
        size_t hw = (size_t)sh[1] * sh[2];
        for (int c = 0; c < C; c++) {
            double s = 0;
            for (size_t k = 0; k < hw; k++) s += y[k * C + c];
            a[(size_t)i * C + c] = (float)(s / (double)hw);
        }
    }
    /* With --self, the rows of the channels the images show; otherwise every channel's. */
    int c0 = self >= 0 ? self : 0, c1 = self >= 0 ? self + n_img : C;
    if (c1 > C) {
        err_set(&e, "--self %d: %d images would show channels %d..%d, but %s has %d (expected at most %d images)",
                self, n_img, self, c1 - 1, node, C, C - self);
        goto done;
    }
    rows = xcalloc((size_t)n_img * C, sizeof *rows);
    for (int c = c0; c < c1; c++) {
        int own = self >= 0 ? c - self : -1, n = 0; /* own: the image of channel c, left out */
        double mean = 0, var = 0;
        for (int i = 0; i < n_img; i++)
            if (i != own) mean += a[(size_t)i * C + c], n++;
        mean /= n;
        for (int i = 0; i < n_img; i++) {
            double d = a[(size_t)i * C + c] - mean;
            if (i != own) var += d * d;
        }
        double sd = sqrt(var / n);
        for (int i = 0; i < n_img; i++)
            rows[(size_t)(c - c0) * n_img + i] =
                sd > 1e-12 && i != own ? (float)((a[(size_t)i * C + c] - mean) / sd) : 0.0f;
    }
    if (fvf_write(out, rows, (size_t)(c1 - c0), (size_t)n_img, &e) != 0) {
        rc = 3;
        goto done;
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "%s\n", e.msg);
    png_io_image_free(&img);
    nn_plan_free(p);
    free(a);
    free(rows);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc < 3 || (strcmp(argv[1], "info") != 0 && strcmp(argv[1], "run") != 0 && strcmp(argv[1], "bench") != 0 &&
                     strcmp(argv[1], "profile") != 0)) {
        usage(stderr);
        return 2;
    }
    int run = strcmp(argv[1], "run") == 0, bench = strcmp(argv[1], "bench") == 0,
        profile = strcmp(argv[1], "profile") == 0, n_img = 0, self = -1;
    const char *dir = argv[2], *image = NULL, *out = NULL;
    char **images = xcalloc((size_t)argc, sizeof *images);
    int size = run ? 512 : bench ? 128 : 0, n_out = 0, batch = 1, iters = 20, steps = 0;
    const char **outs = xcalloc((size_t)argc, sizeof *outs);
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            long v;
            if (parse_int("--size", argv[++i], 1, 8192, &v, NULL) != 0) {
                fprintf(stderr, "fv-nn: --size %s: expected an integer 1..8192\n", argv[i]);
                free(outs);
                free(images);
                return 2;
            }
            size = (int)v;
        } else if (bench && strcmp(argv[i], "--steps") == 0) {
            steps = 1;
        } else if (bench && (strcmp(argv[i], "--batch") == 0 || strcmp(argv[i], "--iters") == 0) && i + 1 < argc) {
            int *dst = strcmp(argv[i], "--batch") == 0 ? &batch : &iters;
            long v;
            if (parse_int(argv[i], argv[i + 1], 1, 8192, &v, NULL) != 0) {
                fprintf(stderr, "fv-nn: %s %s: expected an integer 1..8192\n", argv[i], argv[i + 1]);
                free(outs);
                free(images);
                return 2;
            }
            *dst = (int)v;
            i++;
        } else if ((run || bench || profile) && strcmp(argv[i], "--output") == 0 && i + 1 < argc) {
            outs[n_out++] = argv[++i];
        } else if (profile && strcmp(argv[i], "--self") == 0 && i + 1 < argc) {
            long v;
            if (parse_int("--self", argv[++i], 0, INT_MAX, &v, NULL) != 0) {
                fprintf(stderr, "fv-nn: --self %s: expected a channel number\n", argv[i]);
                free(outs);
                free(images);
                return 2;
            }
            self = (int)v;
        } else if (profile && strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (profile && argv[i][0] != '-') {
            images[n_img++] = argv[i];
        } else if (run && !image && argv[i][0] != '-') {
            image = argv[i];
        } else {
            fprintf(stderr, "fv-nn: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            free(outs);
            free(images);
            return 2;
        }
    }
    if ((run && !image) || (profile && (!out || n_img == 0 || n_out != 1))) {
        usage(stderr);
        free(outs);
        free(images);
        return 2;
    }
    if (n_out == 0) outs[n_out++] = bench ? "tower_0/extern1/BatchNorm/FusedBatchNorm" : "tower_0/keypoints";
    int nt = nn_threads_from_env();
    if (nt < 0) {
        fprintf(stderr, "FV_THREADS: '%s' is not a positive integer\n", getenv("FV_THREADS"));
        free(outs);
        free(images);
        return 2;
    }
    nn_set_threads(nt);
    nn_model *m = NULL;
    err e = {{0}};
    if (nn_model_load_dir(dir, &m, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        free(outs);
        free(images);
        return 1;
    }
    int rc = run       ? cmd_run(m, image, size, outs, n_out)
           : bench   ? cmd_bench(m, size, batch, iters, steps, outs, n_out)
           : profile ? cmd_profile(m, outs[0], out, size, self, images, n_img)
                     : cmd_info(m, size);
    nn_model_free(m);
    free(outs);
    free(images);
    return rc;
}
