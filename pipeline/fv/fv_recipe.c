/* fv_recipe — recipe JSON (jansson) to a checked fv_recipe and back to canonical JSON. */
#include "fv_recipe.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_names[] = {"neuron", "channel", "layer", "class", "direction",
                                   "diversity", "l1", "tv", "blur"};

const char *fv_recipe_kind_name(fv_obj_kind k) { return kind_names[k]; }

int fv_recipe_preset(const char *name, fv_op *ops, int *n_ops)
{
    if (strcmp(name, "none") == 0) {
        *n_ops = 0;
        return 0;
    }
    if (strcmp(name, "default") == 0) {
        ops[0] = (fv_op){.kind = FV_OP_PAD, .amount = 12};
        ops[1] = (fv_op){.kind = FV_OP_JITTER, .amount = 8};
        ops[2] = (fv_op){.kind = FV_OP_SCALE, .n_scales = 5, .scales = {1, 0.975, 1.025, 0.95, 1.05}};
        ops[3] = (fv_op){.kind = FV_OP_ROTATE, .deg_min = -5, .deg_max = 5};
        ops[4] = (fv_op){.kind = FV_OP_JITTER, .amount = 4};
        *n_ops = 5;
        return 0;
    }
    if (strcmp(name, "robust") == 0) {
        ops[0] = (fv_op){.kind = FV_OP_PAD, .amount = 16};
        ops[1] = (fv_op){.kind = FV_OP_JITTER, .amount = 16};
        ops[2] = (fv_op){.kind = FV_OP_SCALE, .n_scales = 11};
        for (int i = 0; i < 11; i++) ops[2].scales[i] = 1 + (i - 5) / 50.0; /* Lucid: 0.9, 0.92 .. 1.1 */
        ops[3] = (fv_op){.kind = FV_OP_ROTATE, .deg_min = -10, .deg_max = 10};
        ops[4] = (fv_op){.kind = FV_OP_JITTER, .amount = 8};
        *n_ops = 5;
        return 0;
    }
    return -1;
}

/* ---- field helpers: each returns 0, or -1 with "path: field: problem" in e ------------------- */

typedef struct ctx {
    const char *path;
    err *e;
} ctx;

static int bad(ctx *c, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(ctx *c, const char *field, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return err_set(c->e, "%s: %s: %s", c->path, field, what);
}

/* Refuses keys of o not in the NULL-terminated list (catches misspelt fields). */
static int known_keys(ctx *c, json_t *o, const char *where, const char *const *keys)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int ok = 0;
        for (int i = 0; keys[i]; i++) ok |= strcmp(k, keys[i]) == 0;
        if (!ok) {
            char f[256];
            snprintf(f, sizeof f, "%s%s%s", where, *where ? "." : "", k);
            /* Name the fields that are allowed here: a typo is then obvious. */
            char names[400];
            size_t n = 0;
            names[0] = 0;
            for (int i = 0; keys[i] && n < sizeof names; i++)
                n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "", keys[i]);
            return bad(c, f, "unknown field (expected one of: %s)", names);
        }
    }
    return 0;
}

static int get_int(ctx *c, json_t *o, const char *key, const char *field, long def, long lo, long hi, long *out)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (def == LONG_MIN) return bad(c, field, "missing (expected an integer)");
        *out = def;
        return 0;
    }
    if (!json_is_integer(v)) return bad(c, field, "not an integer");
    long x = (long)json_integer_value(v);
    if (x < lo || x > hi) return bad(c, field, "%ld out of range (expected %ld..%ld)", x, lo, hi);
    *out = x;
    return 0;
}

static int get_num(ctx *c, json_t *o, const char *key, const char *field, double def, double lo, double hi,
                   double *out)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v)) return bad(c, field, "not a number");
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi)) return bad(c, field, "%g out of range (expected %g..%g)", x, lo, hi);
    *out = x;
    return 0;
}

/* String field; *out is a new heap string or NULL when absent and optional. */
static int get_str(ctx *c, json_t *o, const char *key, const char *field, int required, char **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v) return required ? bad(c, field, "missing (expected a string)") : 0;
    if (!json_is_string(v) || json_string_length(v) == 0) return bad(c, field, "not a non-empty string");
    *out = xstrdup(json_string_value(v));
    return 0;
}

/* A model path relative to the recipe's directory (absolute paths stay as they are). */
static char *resolve(const char *recipe, const char *p)
{
    if (p[0] == '/') return xstrdup(p);
    const char *slash = strrchr(recipe, '/');
    if (!slash) return xstrdup(p);
    return xasprintf("%.*s/%s", (int)(slash - recipe), recipe, p);
}

static int parse_model(ctx *c, fv_recipe *r, json_t *m)
{
    static const char *const keys[] = {"json", "bin", "sha256", NULL};
    if (!m) return bad(c, "model", "missing (expected {\"json\": ..., \"bin\": ...})");
    if (!json_is_object(m)) return bad(c, "model", "not an object");
    if (known_keys(c, m, "model", keys) != 0) return -1;
    char *j = NULL, *b = NULL;
    if (get_str(c, m, "json", "model.json", 1, &j) != 0) return -1;
    if (get_str(c, m, "bin", "model.bin", 1, &b) != 0) {
        free(j);
        return -1;
    }
    r->model_json = resolve(c->path, j);
    r->model_bin = resolve(c->path, b);
    free(j);
    free(b);
    if (get_str(c, m, "sha256", "model.sha256", 0, &r->model_sha256) != 0) return -1;
    if (r->model_sha256) {
        size_t n = strlen(r->model_sha256);
        if (n != 64 || strspn(r->model_sha256, "0123456789abcdef") != 64)
            return bad(c, "model.sha256", "not 64 lowercase hex digits");
    }
    return 0;
}

static int parse_param(ctx *c, fv_recipe *r, json_t *p)
{
    static const char *const keys[] = {"kind", "decorrelate", "grey", "sd", "shared", NULL};
    r->param_kind = FV_PARAM_FOURIER;
    r->decorrelate = 1;
    r->grey = 0;
    r->sd = 0.01;
    if (!p) return 0;
    if (!json_is_object(p)) return bad(c, "param", "not an object");
    if (known_keys(c, p, "param", keys) != 0) return -1;
    json_t *k = json_object_get(p, "kind");
    if (k) {
        if (json_is_string(k) && strcmp(json_string_value(k), "fourier") == 0) r->param_kind = FV_PARAM_FOURIER;
        else if (json_is_string(k) && strcmp(json_string_value(k), "pixel") == 0) r->param_kind = FV_PARAM_PIXEL;
        else return bad(c, "param.kind", "unknown (expected \"fourier\" or \"pixel\")");
    }
    json_t *d = json_object_get(p, "decorrelate");
    if (d) {
        if (!json_is_boolean(d)) return bad(c, "param.decorrelate", "not true or false");
        r->decorrelate = json_is_true(d);
    }
    json_t *g = json_object_get(p, "grey");
    if (g) {
        if (!json_is_boolean(g)) return bad(c, "param.grey", "not true or false");
        r->grey = json_is_true(g);
        /* one channel has no colours to decorrelate */
        if (r->grey && d && r->decorrelate)
            return bad(c, "param.decorrelate",
                       "true with param.grey (expected false: one grey channel has no colours to decorrelate)");
        if (r->grey) r->decorrelate = 0;
    }
    if (get_num(c, p, "sd", "param.sd", 0.01, 0, 10, &r->sd) != 0) return -1;
    json_t *s = json_object_get(p, "shared");
    if (s) {
        if (!json_is_array(s) || json_array_size(s) > FV_PARAM_MAX_SHARED)
            return bad(c, "param.shared", "not a list of at most %d factors", FV_PARAM_MAX_SHARED);
        for (size_t i = 0; i < json_array_size(s); i++) {
            json_t *v = json_array_get(s, i);
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > r->size) {
                char f[64];
                snprintf(f, sizeof f, "param.shared[%zu]", i);
                return bad(c, f, "not an integer factor in 1..%d", r->size);
            }
            r->shared[r->n_shared++] = (int)json_integer_value(v);
        }
    }
    return 0;
}

static int parse_op(ctx *c, json_t *o, const char *f, fv_op *op)
{
    char g[128];
    json_t *k = json_object_get(o, "kind");
    if (!json_is_object(o)) return bad(c, f, "not an object");
    if (!json_is_string(k)) {
        snprintf(g, sizeof g, "%s.kind", f);
        return bad(c, g, "missing (expected \"pad\", \"jitter\", \"scale\" or \"rotate\")");
    }
    const char *kind = json_string_value(k);
    long amount;
    memset(op, 0, sizeof *op);
    if (strcmp(kind, "pad") == 0 || strcmp(kind, "jitter") == 0) {
        static const char *const pk[] = {"kind", "amount", "mode", NULL};
        static const char *const jk[] = {"kind", "amount", NULL};
        int pad = kind[0] == 'p';
        if (known_keys(c, o, f, pad ? pk : jk) != 0) return -1;
        snprintf(g, sizeof g, "%s.amount", f);
        if (get_int(c, o, "amount", g, LONG_MIN, 0, 1024, &amount) != 0) return -1;
        op->kind = pad ? FV_OP_PAD : FV_OP_JITTER;
        op->amount = (int)amount;
        json_t *m = json_object_get(o, "mode");
        if (m) {
            snprintf(g, sizeof g, "%s.mode", f);
            if (json_is_string(m) && strcmp(json_string_value(m), "reflect") == 0) op->reflect = 1;
            else if (!(json_is_string(m) && strcmp(json_string_value(m), "constant") == 0))
                return bad(c, g, "unknown (expected \"constant\" or \"reflect\")");
        }
        return 0;
    }
    if (strcmp(kind, "scale") == 0) {
        static const char *const sk[] = {"kind", "factors", NULL};
        if (known_keys(c, o, f, sk) != 0) return -1;
        json_t *s = json_object_get(o, "factors");
        snprintf(g, sizeof g, "%s.factors", f);
        if (!json_is_array(s) || json_array_size(s) < 1 || json_array_size(s) > FV_OP_MAX_SCALES)
            return bad(c, g, "missing or not a list of 1..%d numbers", FV_OP_MAX_SCALES);
        op->kind = FV_OP_SCALE;
        for (size_t i = 0; i < json_array_size(s); i++) {
            json_t *v = json_array_get(s, i);
            if (!json_is_number(v) || !(json_number_value(v) >= 0.2 && json_number_value(v) <= 5))
                return bad(c, g, "factor %zu is not a number in 0.2..5", i);
            op->scales[op->n_scales++] = json_number_value(v);
        }
        return 0;
    }
    if (strcmp(kind, "rotate") == 0) {
        static const char *const rk[] = {"kind", "degrees", NULL};
        if (known_keys(c, o, f, rk) != 0) return -1;
        json_t *d = json_object_get(o, "degrees");
        snprintf(g, sizeof g, "%s.degrees", f);
        if (!json_is_array(d) || json_array_size(d) != 2 || !json_is_number(json_array_get(d, 0)) ||
            !json_is_number(json_array_get(d, 1)))
            return bad(c, g, "missing or not [min, max] in degrees");
        op->kind = FV_OP_ROTATE;
        op->deg_min = json_number_value(json_array_get(d, 0));
        op->deg_max = json_number_value(json_array_get(d, 1));
        if (!(op->deg_min <= op->deg_max && op->deg_min >= -180 && op->deg_max <= 180))
            return bad(c, g, "not an interval within -180..180");
        return 0;
    }
    snprintf(g, sizeof g, "%s.kind", f);
    return bad(c, g, "unknown transform \"%s\" (expected pad, jitter, scale or rotate)", kind);
}

static int parse_transforms(ctx *c, fv_recipe *r, json_t *t)
{
    if (!t) {
        r->transforms_preset = xstrdup("default");
        fv_recipe_preset("default", r->ops, &r->n_ops);
        return 0;
    }
    if (json_is_string(t)) {
        if (fv_recipe_preset(json_string_value(t), r->ops, &r->n_ops) != 0)
            return bad(c, "transforms", "unknown preset \"%s\" (expected default, robust, none or a list)",
                       json_string_value(t));
        r->transforms_preset = xstrdup(json_string_value(t));
        return 0;
    }
    if (!json_is_array(t) || json_array_size(t) > FV_RECIPE_MAX_OPS)
        return bad(c, "transforms", "not a preset name or a list of at most %d transforms", FV_RECIPE_MAX_OPS);
    for (size_t i = 0; i < json_array_size(t); i++) {
        char f[64];
        snprintf(f, sizeof f, "transforms[%zu]", i);
        if (parse_op(c, json_array_get(t, i), f, &r->ops[r->n_ops]) != 0) return -1;
        r->n_ops++;
    }
    return 0;
}

static int parse_objective(ctx *c, fv_recipe *r, json_t *o, int idx)
{
    static const char *const keys[] = {"kind", "layer", "channel", "x", "y", "class", "vector", "seed",
                                       "weight", "batch", NULL};
    char f[64], g[96];
    snprintf(f, sizeof f, "objectives[%d]", idx);
    if (!json_is_object(o)) return bad(c, f, "not an object");
    if (known_keys(c, o, f, keys) != 0) return -1;
    fv_recipe_obj *ob = &r->objs[idx];
    ob->x = ob->y = -1;
    json_t *k = json_object_get(o, "kind");
    snprintf(g, sizeof g, "%s.kind", f);
    if (!json_is_string(k)) return bad(c, g, "missing (expected neuron, channel, layer, class, direction, diversity, l1, tv or blur)");
    int kind = -1;
    for (int i = 0; i < (int)(sizeof kind_names / sizeof *kind_names); i++)
        if (strcmp(json_string_value(k), kind_names[i]) == 0) kind = i;
    if (kind < 0)
        return bad(c, g, "unknown kind \"%s\" (expected neuron, channel, layer, class, direction, diversity, l1, tv or blur)",
                   json_string_value(k));
    ob->kind = (fv_obj_kind)kind;
    int on_image = kind == FV_KIND_L1 || kind == FV_KIND_TV || kind == FV_KIND_BLUR;
    /* which fields each kind accepts besides kind/weight/batch */
    const char *allowed = kind == FV_KIND_NEURON ? "layer channel x y" :
                          kind == FV_KIND_CHANNEL ? "layer channel" :
                          kind == FV_KIND_CLASS ? "layer class" :
                          kind == FV_KIND_DIRECTION ? "layer vector seed" :
                          kind == FV_KIND_LAYER || kind == FV_KIND_DIVERSITY ? "layer" : "";
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val) {
        if (!strcmp(key, "kind") || !strcmp(key, "weight") || !strcmp(key, "batch")) continue;
        char pat[32];
        snprintf(pat, sizeof pat, " %s ", key);
        char al[96];
        snprintf(al, sizeof al, " %s ", allowed);
        if (!strstr(al, pat)) {
            snprintf(g, sizeof g, "%s.%s", f, key);
            return bad(c, g, "not a field of a %s objective", kind_names[kind]);
        }
    }
    if (!on_image) {
        snprintf(g, sizeof g, "%s.layer", f);
        if (get_str(c, o, "layer", g, 0, &ob->layer) != 0) return -1;
        if (!ob->layer && kind == FV_KIND_CLASS) ob->layer = xstrdup(FV_CLASS_LAYER);
        if (!ob->layer && r->layer) ob->layer = xstrdup(r->layer);
        if (!ob->layer) return bad(c, g, "missing (and no top-level \"layer\")");
    }
    long v;
    if (kind == FV_KIND_NEURON || kind == FV_KIND_CHANNEL) {
        snprintf(g, sizeof g, "%s.channel", f);
        if (get_int(c, o, "channel", g, LONG_MIN, 0, 1 << 20, &v) != 0) return -1;
        ob->channel = (int)v;
    }
    if (kind == FV_KIND_NEURON) {
        snprintf(g, sizeof g, "%s.x", f);
        if (get_int(c, o, "x", g, -1, 0, 1 << 20, &v) != 0) return -1;
        ob->x = (int)v;
        snprintf(g, sizeof g, "%s.y", f);
        if (get_int(c, o, "y", g, -1, 0, 1 << 20, &v) != 0) return -1;
        ob->y = (int)v;
    }
    if (kind == FV_KIND_CLASS) {
        json_t *cl = json_object_get(o, "class");
        snprintf(g, sizeof g, "%s.class", f);
        if (!cl) return bad(c, g, "missing (expected a class index or a COCO name such as \"dog\")");
        if (json_is_integer(cl)) {
            ob->channel = (int)json_integer_value(cl);
            if (json_integer_value(cl) < 0 || json_integer_value(cl) > 1 << 20)
                return bad(c, g, "%lld out of range", (long long)json_integer_value(cl));
        } else if (json_is_string(cl) && json_string_length(cl) > 0) {
            ob->channel = -1; /* resolved by the renderer against the model's class names */
            ob->class_name = xstrdup(json_string_value(cl));
        } else {
            return bad(c, g, "not a class index or name");
        }
    }
    if (kind == FV_KIND_DIRECTION) {
        json_t *vec = json_object_get(o, "vector"), *seed = json_object_get(o, "seed");
        if (!!vec == !!seed) {
            snprintf(g, sizeof g, "%s.vector", f);
            return bad(c, g, "give exactly one of \"vector\" (numbers) and \"seed\" (random unit direction)");
        }
        if (vec) {
            snprintf(g, sizeof g, "%s.vector", f);
            if (!json_is_array(vec) || json_array_size(vec) < 1) return bad(c, g, "not a list of numbers");
            ob->n_vector = (int)json_array_size(vec);
            ob->vector = xmalloc(sizeof(float) * (size_t)ob->n_vector);
            for (int i = 0; i < ob->n_vector; i++) {
                json_t *x = json_array_get(vec, (size_t)i);
                if (!json_is_number(x)) return bad(c, g, "element %d is not a number", i);
                ob->vector[i] = (float)json_number_value(x);
            }
        } else {
            snprintf(g, sizeof g, "%s.seed", f);
            if (!json_is_integer(seed) || json_integer_value(seed) < 0) return bad(c, g, "not an integer >= 0");
            ob->vector_seed = (uint64_t)json_integer_value(seed);
        }
    }
    /* weight: a number, or one number per batch element */
    double w[FV_RECIPE_MAX_BATCH];
    json_t *wt = json_object_get(o, "weight");
    snprintf(g, sizeof g, "%s.weight", f);
    if (!wt || json_is_number(wt)) {
        double x = wt ? json_number_value(wt) : 1.0;
        if (!isfinite(x)) return bad(c, g, "not a finite number");
        for (int b = 0; b < r->batch; b++) w[b] = x;
        ob->weight = x;
    } else if (json_is_array(wt)) {
        if ((int)json_array_size(wt) != r->batch)
            return bad(c, g, "%zu weights for a batch of %d (expected one number or one per element)",
                       json_array_size(wt), r->batch);
        if (kind == FV_KIND_DIVERSITY) return bad(c, g, "diversity takes one number");
        for (int b = 0; b < r->batch; b++) {
            json_t *x = json_array_get(wt, (size_t)b);
            if (!json_is_number(x)) return bad(c, g, "element %d is not a number", b);
            w[b] = json_number_value(x);
        }
    } else {
        return bad(c, g, "not a number or a list of numbers");
    }
    /* batch: "all", an index, or a list of indices */
    int target[FV_RECIPE_MAX_BATCH] = {0};
    json_t *bt = json_object_get(o, "batch");
    snprintf(g, sizeof g, "%s.batch", f);
    if (!bt || (json_is_string(bt) && strcmp(json_string_value(bt), "all") == 0)) {
        for (int b = 0; b < r->batch; b++) target[b] = 1;
    } else if (kind == FV_KIND_DIVERSITY) {
        return bad(c, g, "diversity always spans the whole batch (expected \"all\")");
    } else if (json_is_integer(bt) || json_is_array(bt)) {
        size_t n = json_is_array(bt) ? json_array_size(bt) : 1;
        for (size_t i = 0; i < n; i++) {
            json_t *x = json_is_array(bt) ? json_array_get(bt, i) : bt;
            if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) >= r->batch)
                return bad(c, g, "%s is not an element of the batch (expected 0..%d)",
                           json_is_integer(x) ? "index" : "entry", r->batch - 1);
            target[json_integer_value(x)] = 1;
        }
    } else {
        return bad(c, g, "not \"all\", an index or a list of indices");
    }
    for (int b = 0; b < r->batch; b++) ob->wts[b] = target[b] ? (float)w[b] : 0.0f;
    if (kind == FV_KIND_DIVERSITY && r->batch < 2) return bad(c, f, "diversity needs a batch of at least 2");
    return 0;
}

int fv_recipe_parse(const char *path, const char *text, fv_recipe **out, err *e)
{
    static const char *const keys[] = {"model", "layer", "size", "steps", "batch", "seed", "lr", "betas",
                                       "param", "transforms", "objectives", "snapshots", "log_every", NULL};
    *out = NULL;
    ctx c = {path, e};
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root) return err_set(e, "%s:%d: invalid JSON: %s", path, je.line, je.text);
    fv_recipe *r = xcalloc(1, sizeof *r);
    r->path = xstrdup(path);
    long v;
    if (!json_is_object(root)) {
        bad(&c, "(top level)", "not a JSON object");
        goto fail;
    }
    if (known_keys(&c, root, "", keys) != 0) goto fail;
    if (parse_model(&c, r, json_object_get(root, "model")) != 0) goto fail;
    if (get_str(&c, root, "layer", "layer", 0, &r->layer) != 0) goto fail;
    if (get_int(&c, root, "size", "size", 128, 8, 2048, &v) != 0) goto fail;
    r->size = (int)v;
    if (get_int(&c, root, "steps", "steps", 512, 0, 1000000, &v) != 0) goto fail;
    r->steps = (int)v;
    if (get_int(&c, root, "batch", "batch", 1, 1, FV_RECIPE_MAX_BATCH, &v) != 0) goto fail;
    r->batch = (int)v;
    json_t *seed = json_object_get(root, "seed");
    r->seed = 1;
    if (seed) {
        if (!json_is_integer(seed) || json_integer_value(seed) < 0) {
            bad(&c, "seed", "not an integer >= 0");
            goto fail;
        }
        r->seed = (uint64_t)json_integer_value(seed);
    }
    if (get_num(&c, root, "lr", "lr", 0.05, 1e-6, 100, &r->lr) != 0) goto fail;
    r->beta1 = 0.9;
    r->beta2 = 0.999;
    r->eps = 1e-8;
    json_t *betas = json_object_get(root, "betas");
    if (betas) {
        if (!json_is_array(betas) || json_array_size(betas) != 2 || !json_is_number(json_array_get(betas, 0)) ||
            !json_is_number(json_array_get(betas, 1))) {
            bad(&c, "betas", "not [beta1, beta2]");
            goto fail;
        }
        r->beta1 = json_number_value(json_array_get(betas, 0));
        r->beta2 = json_number_value(json_array_get(betas, 1));
        if (!(r->beta1 >= 0 && r->beta1 < 1 && r->beta2 >= 0 && r->beta2 < 1)) {
            bad(&c, "betas", "each must be in 0..1 (exclusive)");
            goto fail;
        }
    }
    if (parse_param(&c, r, json_object_get(root, "param")) != 0) goto fail;
    if (parse_transforms(&c, r, json_object_get(root, "transforms")) != 0) goto fail;
    json_t *objs = json_object_get(root, "objectives");
    if (!json_is_array(objs) || json_array_size(objs) < 1 || json_array_size(objs) > FV_RECIPE_MAX_OBJECTIVES) {
        bad(&c, "objectives", "%s (expected a list of 1..%d objectives)",
            !objs ? "missing" : json_is_array(objs) ? "empty or too long" : "not a list",
            FV_RECIPE_MAX_OBJECTIVES);
        goto fail;
    }
    int on_layer = 0;
    for (size_t i = 0; i < json_array_size(objs); i++) {
        r->n_objs = (int)i + 1;
        if (parse_objective(&c, r, json_array_get(objs, i), (int)i) != 0) goto fail;
        on_layer |= r->objs[i].layer != NULL;
    }
    if (!on_layer) {
        bad(&c, "objectives", "none reads the network (expected at least one objective on a layer)");
        goto fail;
    }
    json_t *snaps = json_object_get(root, "snapshots");
    if (snaps) {
        if (!json_is_array(snaps) || json_array_size(snaps) > FV_RECIPE_MAX_SNAPSHOTS) {
            bad(&c, "snapshots", "not a list of at most %d steps", FV_RECIPE_MAX_SNAPSHOTS);
            goto fail;
        }
        for (size_t i = 0; i < json_array_size(snaps); i++) {
            json_t *s = json_array_get(snaps, i);
            char f[64];
            snprintf(f, sizeof f, "snapshots[%zu]", i);
            if (!json_is_integer(s) || json_integer_value(s) < 0 || json_integer_value(s) > r->steps) {
                bad(&c, f, "not a step in 0..%d", r->steps);
                goto fail;
            }
            int st = (int)json_integer_value(s), k = r->n_snapshots;
            int dup = 0;
            for (int j = 0; j < k; j++) dup |= r->snapshots[j] == st;
            if (dup) continue;
            while (k > 0 && r->snapshots[k - 1] > st) { /* insertion keeps them sorted */
                r->snapshots[k] = r->snapshots[k - 1];
                k--;
            }
            r->snapshots[k] = st;
            r->n_snapshots++;
        }
    }
    if (get_int(&c, root, "log_every", "log_every", 16, 1, 1000000, &v) != 0) goto fail;
    r->log_every = (int)v;
    json_decref(root);
    *out = r;
    return 0;
fail:
    json_decref(root);
    fv_recipe_free(r);
    return -1;
}

int fv_recipe_load(const char *path, fv_recipe **out, err *e)
{
    char *text;
    size_t len;
    *out = NULL;
    if (read_file(path, &text, &len, e) != 0) return -1;
    if (strlen(text) != len) {
        free(text);
        return err_set(e, "%s: contains a NUL byte (expected JSON text)", path);
    }
    int rc = fv_recipe_parse(path, text, out, e);
    free(text);
    return rc;
}

static json_t *op_json(const fv_op *op)
{
    switch (op->kind) {
    case FV_OP_PAD:
        return json_pack("{s:s, s:i, s:s}", "kind", "pad", "amount", op->amount, "mode",
                         op->reflect ? "reflect" : "constant");
    case FV_OP_JITTER: return json_pack("{s:s, s:i}", "kind", "jitter", "amount", op->amount);
    case FV_OP_SCALE: {
        json_t *f = json_array();
        for (int i = 0; i < op->n_scales; i++) json_array_append_new(f, json_real(op->scales[i]));
        return json_pack("{s:s, s:o}", "kind", "scale", "factors", f);
    }
    case FV_OP_ROTATE:
        return json_pack("{s:s, s:[f,f]}", "kind", "rotate", "degrees", op->deg_min, op->deg_max);
    case FV_OP_CANVAS: return json_pack("{s:s, s:[i,i]}", "kind", "canvas", "size", op->canvas_h, op->canvas_w);
    }
    return json_null();
}

char *fv_recipe_to_json(const fv_recipe *r)
{
    json_t *root = json_object();
    json_t *model = json_pack("{s:s, s:s}", "json", r->model_json, "bin", r->model_bin);
    if (r->model_sha256) json_object_set_new(model, "sha256", json_string(r->model_sha256));
    json_object_set_new(root, "model", model);
    if (r->layer) json_object_set_new(root, "layer", json_string(r->layer));
    json_object_set_new(root, "size", json_integer(r->size));
    json_object_set_new(root, "steps", json_integer(r->steps));
    json_object_set_new(root, "batch", json_integer(r->batch));
    json_object_set_new(root, "seed", json_integer((json_int_t)r->seed));
    json_object_set_new(root, "lr", json_real(r->lr));
    json_object_set_new(root, "betas", json_pack("[f,f]", r->beta1, r->beta2));
    json_t *shared = json_array();
    for (int i = 0; i < r->n_shared; i++) json_array_append_new(shared, json_integer(r->shared[i]));
    json_object_set_new(root, "param",
                        json_pack("{s:s, s:b, s:b, s:f, s:o}", "kind",
                                  r->param_kind == FV_PARAM_FOURIER ? "fourier" : "pixel", "decorrelate",
                                  r->decorrelate, "grey", r->grey, "sd", r->sd, "shared", shared));
    json_t *ops = json_array();
    for (int i = 0; i < r->n_ops; i++) json_array_append_new(ops, op_json(&r->ops[i]));
    json_object_set_new(root, "transforms", ops);
    if (r->transforms_preset) json_object_set_new(root, "transforms_preset", json_string(r->transforms_preset));
    json_t *objs = json_array();
    for (int i = 0; i < r->n_objs; i++) {
        const fv_recipe_obj *o = &r->objs[i];
        json_t *j = json_pack("{s:s}", "kind", kind_names[o->kind]);
        if (o->layer) json_object_set_new(j, "layer", json_string(o->layer));
        if (o->kind == FV_KIND_NEURON || o->kind == FV_KIND_CHANNEL)
            json_object_set_new(j, "channel", json_integer(o->channel));
        if (o->kind == FV_KIND_CLASS)
            json_object_set_new(j, "class", o->class_name ? json_string(o->class_name) : json_integer(o->channel));
        if (o->kind == FV_KIND_NEURON) {
            json_object_set_new(j, "x", json_integer(o->x));
            json_object_set_new(j, "y", json_integer(o->y));
        }
        if (o->kind == FV_KIND_DIRECTION) {
            if (o->vector) {
                json_t *v = json_array();
                for (int k = 0; k < o->n_vector; k++) json_array_append_new(v, json_real(o->vector[k]));
                json_object_set_new(j, "vector", v);
            } else {
                json_object_set_new(j, "seed", json_integer((json_int_t)o->vector_seed));
            }
        }
        json_t *w = json_array();
        for (int b = 0; b < r->batch; b++) json_array_append_new(w, json_real(o->wts[b]));
        json_object_set_new(j, "weight", o->kind == FV_KIND_DIVERSITY ? json_real(o->weight) : w);
        if (o->kind == FV_KIND_DIVERSITY) json_decref(w);
        json_array_append_new(objs, j);
    }
    json_object_set_new(root, "objectives", objs);
    json_t *snaps = json_array();
    for (int i = 0; i < r->n_snapshots; i++) json_array_append_new(snaps, json_integer(r->snapshots[i]));
    json_object_set_new(root, "snapshots", snaps);
    json_object_set_new(root, "log_every", json_integer(r->log_every));
    char *s = json_dumps(root, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(root);
    char *out = xstrdup(s);
    free(s);
    return out;
}

void fv_recipe_free(fv_recipe *r)
{
    if (!r) return;
    for (int i = 0; i < r->n_objs; i++) {
        free(r->objs[i].layer);
        free(r->objs[i].vector);
        free(r->objs[i].class_name);
    }
    free(r->path);
    free(r->model_json);
    free(r->model_bin);
    free(r->model_sha256);
    free(r->layer);
    free(r->transforms_preset);
    free(r);
}
