/* examples — dataset examples and features of a layer (see examples.h). */
#include "examples.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fvf.h"
#include "nn.h"
#include "outdir.h"
#include "png_io.h"

/* --- selection --------------------------------------------------------------------------------- */

typedef struct by_value {
    const float *v;
    int desc;
} by_value;

static int cmp_idx(const void *a, const void *b, void *ctx)
{
    const by_value *c = ctx;
    int i = *(const int *)a, j = *(const int *)b;
    float x = c->v[i], y = c->v[j];
    if (x != y) return (x < y) == c->desc ? 1 : -1;
    return (i > j) - (i < j);
}

/* Indices 0..n-1 sorted by value (ascending or descending), ties by index. */
static int *sorted_indices(const float *v, int n, int desc)
{
    int *ix = xmalloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    for (int i = 0; i < n; i++) ix[i] = i;
    by_value c = {v, desc};
    qsort_r(ix, (size_t)n, sizeof(int), cmp_idx, &c);
    return ix;
}

void examples_top_k(const float *v, int n, int k, int *out)
{
    int *ix = sorted_indices(v, n, 1);
    memcpy(out, ix, sizeof(int) * (size_t)k);
    free(ix);
}

static const char *const names_signed[EXAMPLES_SPECTRUM] = {"min", "negative", "zero", "positive", "max"};
static const char *const names_range[EXAMPLES_SPECTRUM] = {"min", "low", "mid", "high", "max"};

void examples_spectrum(const float *v, int n, int spread, int *out, float targets[EXAMPLES_SPECTRUM],
                       const char *names[EXAMPLES_SPECTRUM])
{
    int *asc = sorted_indices(v, n, 0);
    float lo = v[asc[0]], hi = v[asc[n - 1]];
    for (int p = 0; p < EXAMPLES_SPECTRUM; p++) {
        if (lo < 0 && hi > 0) {
            const float t[EXAMPLES_SPECTRUM] = {lo, lo / 2, 0, hi / 2, hi};
            targets[p] = t[p];
            names[p] = names_signed[p];
        } else {
            targets[p] = p == EXAMPLES_SPECTRUM - 1 ? hi : lo + (hi - lo) * (float)p / (EXAMPLES_SPECTRUM - 1);
            names[p] = names_range[p];
        }
    }
    char *used = xcalloc((size_t)n, 1);
    /* the extremes choose first, so that they always show the true minimum and maximum */
    static const int order[EXAMPLES_SPECTRUM] = {0, 4, 2, 1, 3};
    for (int oi = 0; oi < EXAMPLES_SPECTRUM; oi++) {
        int p = order[oi];
        float t = targets[p];
        /* first position in ascending order with value >= t; then grow a window both ways,
         * taking the nearer side each time (the left one on equal distance) */
        int a = 0, b = n;
        while (a < b) {
            int mid = (a + b) / 2;
            if (v[asc[mid]] < t) a = mid + 1;
            else b = mid;
        }
        int left = a - 1, right = a;
        for (int s = 0; s < spread; s++) {
            while (left >= 0 && used[asc[left]]) left--;
            while (right < n && used[asc[right]]) right++;
            int pick;
            if (left < 0 && right >= n) pick = -1;
            else if (left < 0) pick = right++;
            else if (right >= n) pick = left--;
            else if (t - v[asc[left]] <= v[asc[right]] - t) pick = left--;
            else pick = right++;
            out[p * spread + s] = pick < 0 ? -1 : asc[pick];
            if (pick >= 0) used[asc[pick]] = 1;
        }
    }
    free(used);
    free(asc);
}

/* --- output ------------------------------------------------------------------------------------ */

/* Image idx of s as a grey RGB PNG tile, 28*scale square, into dir/img_<idx>.png. */
static int write_tile(const char *dir, const fmnist_set *s, int idx, int scale, err *e)
{
    int side = FMNIST_SIDE * scale;
    png_io_image im = {side, side, 3, xmalloc((size_t)side * side * 3)};
    const uint8_t *src = s->images + (size_t)idx * FMNIST_PIXELS;
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            uint8_t g = src[(y / scale) * FMNIST_SIDE + x / scale];
            uint8_t *p = im.pixels + ((size_t)y * side + x) * 3;
            p[0] = p[1] = p[2] = g;
        }
    char *path = xasprintf("%s/img_%05d.png", dir, idx);
    int rc = png_io_write(path, &im, 9, e);
    free(path);
    free(im.pixels);
    return rc;
}

static json_t *image_entry(const fmnist_set *s, int idx, float value)
{
    char file[32];
    snprintf(file, sizeof file, "img_%05d.png", idx);
    return json_pack("{s:i,s:i,s:s,s:f,s:s}", "index", idx, "label", s->labels[idx], "class",
                     fmnist_class_name(s->labels[idx]), "value", (double)value, "file", file);
}

/* Loads a model from a directory or a .json path. */
static int load_model(const char *path, nn_model **m, err *e)
{
    size_t l = strlen(path);
    if (l > 5 && strcmp(path + l - 5, ".json") == 0) return nn_model_load_tfjs(path, NULL, m, e);
    return nn_model_load_dir(path, m, e);
}

examples_status examples_run(const char *model_path, const fmnist_set *s, const char *out_dir,
                             const examples_opts *o, FILE *log, err *e)
{
    examples_status st = EXAMPLES_BAD_INPUT;
    nn_model *m = NULL;
    nn_plan *p = NULL;
    float *acts = NULL;
    char *tmp = NULL, *used = NULL;
    int *top = NULL, *spec = NULL, *chans = NULL;
    json_t *root = NULL;
    int n = s->n, batch = o->batch < n ? o->batch : n;
    if (n < 1) {
        err_set(e, "examples: no images");
        goto done;
    }
    if (o->k < 1 || o->k > n) {
        err_set(e, "--k %d: out of range (expected 1..%d, the number of images)", o->k, n);
        goto done;
    }
    if (o->spread < 1 || o->spread > 100 || o->scale < 1 || o->scale > 16 || batch < 1) {
        err_set(e, "examples: spread %d, scale %d, batch %d out of range (expected 1..100, 1..16, >= 1)", o->spread,
                o->scale, batch);
        goto done;
    }
    if (load_model(model_path, &m, e) != 0) goto done;
    int ish[4];
    if (nn_model_input_shape(m, ish) != 0 || ish[3] != 3) {
        err_set(e, "%s: the model's input is not (n,h,w,3) RGB (expected a model written by fv-train)", model_path);
        goto done;
    }
    const char *outs[1] = {o->layer};
    if (nn_plan_new(m, NULL, batch, FMNIST_SIDE, FMNIST_SIDE, outs, 1, &p, e) != 0) goto done;
    int sh[4];
    nn_plan_output(p, 0, sh);
    int C = sh[3], hw = sh[1] * sh[2];
    int nc = o->channels ? o->n_channels : C;
    chans = xmalloc(sizeof(int) * (size_t)(nc > 0 ? nc : 1));
    for (int i = 0; i < nc; i++) {
        chans[i] = o->channels ? o->channels[i] : i;
        if (chans[i] < 0 || chans[i] >= C) {
            err_set(e, "--channels: %d out of range (layer %s has %d channels)", chans[i], o->layer, C);
            goto done;
        }
    }

    /* activations: acts[image * C + channel] */
    st = EXAMPLES_FAILED;
    acts = xmalloc(sizeof(float) * (size_t)n * C);
    float *in = nn_plan_input(p);
    for (int a = 0; a < n; a += batch) {
        int cnt = n - a < batch ? n - a : batch;
        for (int i = 0; i < batch; i++) {
            /* a short last batch repeats image a (its values are not used) */
            const uint8_t *src = s->images + (size_t)(a + (i < cnt ? i : 0)) * FMNIST_PIXELS;
            float *dst = in + (size_t)i * FMNIST_PIXELS * 3;
            for (int k = 0; k < FMNIST_PIXELS; k++) dst[3 * k] = dst[3 * k + 1] = dst[3 * k + 2] = (float)src[k];
        }
        if (nn_plan_forward(p, e) != 0) goto done;
        const float *y = nn_plan_output(p, 0, NULL);
        for (int i = 0; i < cnt; i++) {
            float *row = acts + (size_t)(a + i) * C;
            for (int c = 0; c < C; c++) {
                double sum = 0;
                for (int q = 0; q < hw; q++) sum += y[((size_t)i * hw + q) * C + c];
                row[c] = (float)(sum / hw);
            }
        }
        if (log && (a / batch) % 20 == 19) {
            fprintf(log, "fv-examples: %d/%d images\n", a + cnt, n);
            fflush(log);
        }
    }

    if (outdir_begin(out_dir, &tmp, e) != 0) goto done;
    if (o->features) {
        char *fp = xasprintf("%s/features.fvf", tmp), *lp = xasprintf("%s/labels.txt", tmp);
        buf lb = {0};
        for (int i = 0; i < n; i++) buf_printf(&lb, "%d\n", s->labels[i]);
        int rc = fvf_write(fp, acts, (size_t)n, (size_t)C, e);
        if (rc == 0) rc = write_file_atomic(lp, lb.data, lb.len, e);
        free(fp), free(lp);
        buf_free(&lb);
        if (rc != 0) goto done;
    }
    if (o->examples) {
        int k = o->k, sp = o->spread;
        top = xmalloc(sizeof(int) * (size_t)k);
        spec = xmalloc(sizeof(int) * (size_t)EXAMPLES_SPECTRUM * sp);
        used = xcalloc((size_t)n, 1);
        float *v = xmalloc(sizeof(float) * (size_t)n);
        json_t *channels = json_array();
        for (int ci = 0; ci < nc; ci++) {
            int c = chans[ci];
            double mean = 0;
            for (int i = 0; i < n; i++) mean += v[i] = acts[(size_t)i * C + c];
            examples_top_k(v, n, k, top);
            float targets[EXAMPLES_SPECTRUM];
            const char *names[EXAMPLES_SPECTRUM];
            examples_spectrum(v, n, sp, spec, targets, names);
            json_t *tj = json_array(), *sj = json_array();
            for (int i = 0; i < k; i++) {
                json_array_append_new(tj, image_entry(s, top[i], v[top[i]]));
                used[top[i]] = 1;
            }
            for (int q = 0; q < EXAMPLES_SPECTRUM; q++) {
                json_t *imgs = json_array();
                for (int i = 0; i < sp; i++) {
                    int ix = spec[q * sp + i];
                    if (ix < 0) continue;
                    json_array_append_new(imgs, image_entry(s, ix, v[ix]));
                    used[ix] = 1;
                }
                json_array_append_new(sj, json_pack("{s:s,s:f,s:o}", "point", names[q], "target", (double)targets[q],
                                                    "images", imgs));
            }
            json_array_append_new(channels, json_pack("{s:i,s:f,s:f,s:f,s:o,s:o}", "channel", c, "min",
                                                      (double)v[spec[0]], "max", (double)v[top[0]], "mean", mean / n,
                                                      "top", tj, "spectrum", sj));
        }
        free(v);
        int ntiles = 0;
        for (int i = 0; i < n; i++) {
            if (!used[i]) continue;
            if (write_tile(tmp, s, i, o->scale, e) != 0) {
                json_decref(channels);
                goto done;
            }
            ntiles++;
        }
        int side = FMNIST_SIDE * o->scale;
        root = json_pack("{s:s,s:s,s:s,s:[i,i,i],s:s,s:i,s:i,s:i,s:{s:i,s:i,s:i,s:s},s:s,s:i,s:o}", "tool",
                         "fv-examples", "model_sha256", nn_model_sha256(m), "layer", o->layer, "layer_shape", sh[1],
                         sh[2], sh[3], "value",
                         hw > 1 ? "mean of the channel over the layer's positions" : "the unit's value", "images", n,
                         "k", k, "spread", sp, "tile", "width", side, "height", side, "scale", o->scale, "format",
                         "PNG, RGB with R=G=B: the data set's grey image (light garment on black), nearest-neighbour "
                         "upscaled by scale",
                         "spectrum_rule",
                         "if min < 0 < max: targets min, min/2, 0, max/2, max; else 5 evenly spaced values from min to "
                         "max; each point takes the `spread` images nearest its target, each image once per channel",
                         "tiles", ntiles, "channels", channels);
        char *text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        char *jp = xasprintf("%s/examples.json", tmp);
        int rc = write_file_atomic(jp, text, strlen(text), e);
        free(text);
        free(jp);
        if (rc != 0) goto done;
    }
    if (outdir_publish(tmp, out_dir, e) != 0) goto done;
    st = EXAMPLES_OK;
done:
    if (st != EXAMPLES_OK && tmp) outdir_abort(tmp);
    json_decref(root);
    free(tmp), free(used), free(top), free(spec), free(chans), free(acts);
    nn_plan_free(p);
    nn_model_free(m);
    return st;
}
