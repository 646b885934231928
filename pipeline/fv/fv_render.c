/* fv_render — recipe -> network plan -> optimization loop -> PNGs + sidecar, published atomically.
 * fv_render is the sequence of named steps at the end of this file, each taking the render's state. */
#include "fv_render.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "budget.h"
#include "fv_objective.h"
#include "fv_opt.h"
#include "nn.h"
#include "outdir.h"
#include "png_io.h"
#include "pool.h"

/* An activation objective bound to a plan output. */
typedef struct bound_obj {
    const fv_recipe_obj *ro;
    int out;      /* plan output index */
    int channel, x, y;
    float *dir;   /* direction (C floats), owned */
} bound_obj;

/* The network of a render. A batch is cut into parts, one plan each (images first[k] ..
 * first[k] + count[k] - 1 of plan k), as many as the threads when the render starts: each thread
 * then runs whole passes over its own images, one step after another, instead of every step's
 * loop being split between the threads (a batch of 8 at 128 px made some 280 loops a pass,
 * each a hand-over and a wait, on tensors spread across both cores' caches). An image's values do
 * not depend on the others of its plan (no operation of the network mixes the images), so the
 * bytes are those of one plan. The objectives see the whole batch (a diversity term compares the
 * images): with several parts, each output is gathered into act[o] and its gradient grad[o] is
 * handed back to the parts; with one, act and grad are the plan's own buffers. */
#define NET_MAX_PARTS 8
typedef struct net_ctx {
    nn_plan *plan[NET_MAX_PARTS];
    int parts, first[NET_MAX_PARTS], count[NET_MAX_PARTS];
    int n_outputs;
    float **act, **grad;  /* per output, (batch, h, w, c); owned when parts > 1 */
    int (*shape)[4];      /* per output, shape[0] the whole batch */
    bound_obj *objs;
    int n_objs;
    int batch;
    double *vals;  /* (n_objs, batch) values of the last evaluation */
    err part_err[NET_MAX_PARTS];
    int part_rc[NET_MAX_PARTS];
    int backward;  /* net_parts_run: 0 forward, 1 backward */
} net_ctx;

/* Plan k's forward or backward (c->backward), on the thread the pool gives part k. */
static void net_parts_run(void *vc, int k0, int k1)
{
    net_ctx *c = vc;
    for (int k = k0; k < k1; k++)
        c->part_rc[k] = (c->backward ? nn_plan_backward : nn_plan_forward)(c->plan[k], &c->part_err[k]);
}

/* Runs every part forward (backward) at once; the first part's error, if any. */
static int net_parts(net_ctx *c, int backward, err *e)
{
    c->backward = backward;
    if (c->parts == 1)
        net_parts_run(c, 0, 1);
    else
        pool_for(c->parts, (size_t)1 << 30, net_parts_run, c); /* whole passes: always worth a thread */
    for (int k = 0; k < c->parts; k++)
        if (c->part_rc[k] != 0) return err_set(e, "%s", c->part_err[k].msg);
    return 0;
}

/* Floats of one image of output o. */
static size_t out_image(const net_ctx *c, int o)
{
    return (size_t)c->shape[o][1] * c->shape[o][2] * c->shape[o][3];
}

/* The network forward on x (the whole batch, (batch, h, w, 3) in the plan's units), its outputs
 * into act. */
static int net_forward(net_ctx *c, const float *x, int h, int w, err *e)
{
    size_t img = (size_t)h * w * 3;
    for (int k = 0; k < c->parts; k++)
        memcpy(nn_plan_input(c->plan[k]), x + c->first[k] * img, sizeof(float) * c->count[k] * img);
    if (net_parts(c, 0, e) != 0) return -1;
    for (int o = 0; c->parts > 1 && o < c->n_outputs; o++)
        for (int k = 0; k < c->parts; k++)
            memcpy(c->act[o] + c->first[k] * out_image(c, o), nn_plan_output(c->plan[k], o, NULL),
                   sizeof(float) * c->count[k] * out_image(c, o));
    return 0;
}

/* Evaluates every activation objective on the network's outputs and accumulates their gradients;
 * returns the weighted sum. With measure_all, values are computed for every batch element (also
 * those an objective does not target) and the gradients are meaningless. */
static double eval_objectives(net_ctx *c, int measure_all)
{
    double total = 0;
    float ones[FV_RECIPE_MAX_BATCH];
    for (int n = 0; n < FV_RECIPE_MAX_BATCH; n++) ones[n] = 1.0f;
    for (int o = 0; o < c->n_outputs; o++) memset(c->grad[o], 0, sizeof(float) * c->batch * out_image(c, o));
    for (int k = 0; k < c->n_objs; k++) {
        bound_obj *b = &c->objs[k];
        const int *s = c->shape[b->out];
        const float *act = c->act[b->out];
        float *g = c->grad[b->out];
        double *v = c->vals + (size_t)k * c->batch;
        const float *w = measure_all ? ones : b->ro->wts;
        switch (b->ro->kind) {
        case FV_KIND_NEURON: fv_obj_neuron(act, s[0], s[1], s[2], s[3], b->y, b->x, b->channel, w, v, g); break;
        case FV_KIND_CHANNEL:
        case FV_KIND_CLASS: fv_obj_channel(act, s[0], s[1], s[2], s[3], b->channel, w, v, g); break;
        case FV_KIND_LAYER: fv_obj_layer(act, s[0], s[1], s[2], s[3], w, v, g); break;
        case FV_KIND_DIRECTION: fv_obj_direction(act, s[0], s[1], s[2], s[3], b->dir, w, v, g); break;
        case FV_KIND_DIVERSITY:
            v[0] = fv_obj_diversity(act, s[0], s[1], s[2], s[3], b->ro->weight, g);
            total += b->ro->weight * v[0];
            continue;
        default: continue;
        }
        for (int n = 0; n < c->batch; n++) total += b->ro->wts[n] * v[n];
    }
    return total;
}

/* fv_net_fn over the network's parts. */
static int net_eval(void *vctx, const float *x, int n, int h, int w, float *dx, double *value, err *e)
{
    net_ctx *c = vctx;
    (void)n;
    size_t img = (size_t)h * w * 3;
    if (net_forward(c, x, h, w, e) != 0) return -1;
    *value = eval_objectives(c, 0);
    for (int o = 0; c->parts > 1 && o < c->n_outputs; o++)
        for (int k = 0; k < c->parts; k++)
            memcpy(nn_plan_output_grad(c->plan[k], o), c->grad[o] + c->first[k] * out_image(c, o),
                   sizeof(float) * c->count[k] * out_image(c, o));
    if (net_parts(c, 1, e) != 0) return -1;
    for (int k = 0; k < c->parts; k++)
        memcpy(dx + c->first[k] * img, nn_plan_input_grad(c->plan[k]), sizeof(float) * c->count[k] * img);
    return 0;
}

/* Points act, grad and shape at the outputs: plan 0's own buffers for one part, else buffers of
 * the whole batch. Called once the plans exist (make_plan cuts the batch, make_parts). */
static void net_bind(net_ctx *c)
{
    c->act = xcalloc((size_t)c->n_outputs, sizeof *c->act);
    c->grad = xcalloc((size_t)c->n_outputs, sizeof *c->grad);
    c->shape = xcalloc((size_t)c->n_outputs, sizeof *c->shape);
    for (int o = 0; o < c->n_outputs; o++) {
        nn_plan_output(c->plan[0], o, c->shape[o]);
        c->shape[o][0] = c->batch;
        if (c->parts == 1) {
            c->act[o] = (float *)nn_plan_output(c->plan[0], o, NULL);
            c->grad[o] = nn_plan_output_grad(c->plan[0], o);
        } else {
            c->act[o] = xmalloc(sizeof(float) * c->batch * out_image(c, o));
            c->grad[o] = xmalloc(sizeof(float) * c->batch * out_image(c, o));
        }
    }
}

static void net_free(net_ctx *c)
{
    for (int o = 0; c->act && o < c->n_outputs; o++)
        if (c->parts > 1) free(c->act[o]), free(c->grad[o]);
    free(c->act), free(c->grad), free(c->shape);
    for (int k = 0; k < c->parts; k++) nn_plan_free(c->plan[k]);
}

/* Image (N,H,W,3, 0..1) element b -> PNG in dir/name. */
static int write_png(const char *dir, const char *name, const float *img, int b, int h, int w, err *e)
{
    png_io_image im = {w, h, 3, xmalloc((size_t)h * w * 3)};
    const float *src = img + (size_t)b * h * w * 3;
    for (size_t i = 0; i < (size_t)h * w * 3; i++) {
        float v = src[i] * 255.0f + 0.5f;
        im.pixels[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    char *path = xasprintf("%s/%s", dir, name);
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = png_io_encode(&im, 6, &data, &len, e);
    if (rc == 0) rc = write_file_atomic(path, data, len, e);
    free(data);
    free(path);
    free(im.pixels);
    return rc;
}

/* Strips a ":preact" suffix into a fresh node name. */
static char *node_of(const char *layer)
{
    const char *colon = strrchr(layer, ':');
    return colon ? xstrndup(layer, (size_t)(colon - layer)) : xstrdup(layer);
}

/* Everything one render holds, built up by the steps below and freed by render_free whichever
 * step failed. */
typedef struct render {
    const fv_recipe *r;
    const char *rp; /* the recipe's path, for messages */
    double t0;
    nn_model *model;
    fv_opt *opt;
    net_ctx nc;
    const char **outputs; /* distinct layer strings, one plan output each (nc.n_outputs) */
    int *out_of;          /* recipe objective k (with a layer) -> its bound objective in nc.objs */
    fv_img_obj img_objs[FV_RECIPE_MAX_OBJECTIVES];
    int n_img, img_idx[FV_RECIPE_MAX_OBJECTIVES]; /* image objectives and their recipe index */
    int th, tw;                                   /* the network's input size */
    char *tmp_dir;                                /* "<out>.tmp.<pid>", once created */
    float *img;                                   /* (batch, size, size, 3) in 0..1 */
    double *img_vals;                             /* (n_img, batch) image objective values */
    json_t *curve, *snaps, *images;               /* for the sidecar */
} render;

static void render_init(render *rd, const fv_recipe *r)
{
    memset(rd, 0, sizeof *rd);
    rd->r = r;
    rd->rp = r->path;
    rd->t0 = now_seconds();
    rd->outputs = xcalloc((size_t)r->n_objs, sizeof *rd->outputs);
    rd->out_of = xcalloc((size_t)r->n_objs, sizeof *rd->out_of);
    rd->nc.objs = xcalloc((size_t)r->n_objs, sizeof *rd->nc.objs);
    rd->nc.batch = r->batch;
    rd->nc.vals = xcalloc((size_t)r->n_objs * r->batch, sizeof(double));
    rd->curve = json_array();
    rd->snaps = json_object();
    rd->images = json_array();
}

static void render_free(render *rd)
{
    free(rd->tmp_dir);
    json_decref(rd->curve);
    json_decref(rd->snaps);
    json_decref(rd->images);
    free(rd->img);
    free(rd->img_vals);
    for (int k = 0; k < rd->nc.n_objs; k++) free(rd->nc.objs[k].dir);
    free(rd->nc.objs);
    free(rd->nc.vals);
    free(rd->outputs);
    free(rd->out_of);
    fv_opt_free(rd->opt);
    net_free(&rd->nc);
    nn_model_free(rd->model);
}

/* Loads the recipe's model and checks its hash when the recipe gives one. */
static int load_model(render *rd, err *e)
{
    const fv_recipe *r = rd->r;
    err ne = {{0}};
    if (nn_model_load_tfjs(r->model_json, r->model_bin, &rd->model, &ne) != 0)
        return err_set(e, "%s: model: %s", rd->rp, ne.msg);
    if (r->model_sha256 && strcmp(r->model_sha256, nn_model_sha256(rd->model)) != 0)
        return err_set(e, "%s: model.sha256: the model files hash to %s (expected %s)", rd->rp,
                       nn_model_sha256(rd->model), r->model_sha256);
    return 0;
}

/* Sorts the objectives into image objectives and activation objectives bound to a plan output
 * (one per distinct layer string, of a node the model has); resolves class names. */
static int bind_objectives(render *rd, err *e)
{
    const fv_recipe *r = rd->r;
    net_ctx *nc = &rd->nc;
    for (int k = 0; k < r->n_objs; k++) {
        const fv_recipe_obj *ro = &r->objs[k];
        if (!ro->layer) {
            rd->img_objs[rd->n_img].kind = ro->kind == FV_KIND_L1 ? FV_IMG_L1 : ro->kind == FV_KIND_TV ? FV_IMG_TV : FV_IMG_BLUR;
            rd->img_objs[rd->n_img].wts = ro->wts;
            rd->img_idx[rd->n_img++] = k;
            continue;
        }
        char *node = node_of(ro->layer);
        int found = nn_model_find(rd->model, node) >= 0;
        free(node);
        if (!found) return err_set(e, "%s: objectives[%d].layer: no node \"%s\" in the model", rd->rp, k, ro->layer);
        const char *suffix = strrchr(ro->layer, ':');
        if (suffix && strcmp(suffix, ":preact") != 0)
            return err_set(e, "%s: objectives[%d].layer: unknown suffix \"%s\" (expected \":preact\")", rd->rp, k, suffix);
        int j;
        for (j = 0; j < nc->n_outputs; j++)
            if (strcmp(rd->outputs[j], ro->layer) == 0) break;
        if (j == nc->n_outputs) rd->outputs[nc->n_outputs++] = ro->layer;
        bound_obj *b = &nc->objs[nc->n_objs++];
        b->ro = ro;
        b->out = j;
        b->channel = ro->channel;
        rd->out_of[k] = nc->n_objs - 1;
        if (ro->class_name) {
            b->channel = -1;
            for (int i = 0; nn_coco80_name(i); i++)
                if (strcmp(nn_coco80_name(i), ro->class_name) == 0) b->channel = i;
            if (b->channel < 0)
                return err_set(e, "%s: objectives[%d].class: \"%s\" is not a COCO-80 class name", rd->rp, k,
                               ro->class_name);
        }
    }
    return 0;
}

/* Plans 1 .. parts-1, like plan 0 (which make_plan made); then the outputs bound (net_bind). */
static int make_parts(render *rd, err *e)
{
    net_ctx *nc = &rd->nc;
    err ne = {{0}};
    for (int k = 1; k < nc->parts; k++)
        if (nn_plan_new(rd->model, NULL, nc->count[k], rd->th, rd->tw, rd->outputs, nc->n_outputs, &nc->plan[k], &ne) != 0)
            return err_set(e, "%s: objectives: %s", rd->rp, ne.msg);
    net_bind(nc);
    return 0;
}

/* The optimization loop's state and the network's plans for the size its transforms produce: the
 * batch in as many parts as there are threads (net_ctx). */
static int make_plan(render *rd, err *e)
{
    const fv_recipe *r = rd->r;
    net_ctx *nc = &rd->nc;
    err ne = {{0}};
    /* as many parts as threads, the first ones an image larger when they do not divide */
    int parts = pool_threads() < r->batch ? pool_threads() : r->batch;
    nc->parts = parts < NET_MAX_PARTS ? parts : NET_MAX_PARTS;
    for (int k = 0, at = 0; k < nc->parts; k++) {
        nc->first[k] = at;
        nc->count[k] = r->batch / nc->parts + (k < r->batch % nc->parts);
        at += nc->count[k];
    }
    fv_opt_config oc = {
        .param = {r->param_kind, r->decorrelate, r->batch, r->size, r->size, r->n_shared, {0}, r->sd, r->grey},
        .ops = r->ops, .n_ops = r->n_ops, .img_objs = rd->img_objs, .n_img_objs = rd->n_img,
        .lr = r->lr, .beta1 = r->beta1, .beta2 = r->beta2, .eps = r->eps, .seed = r->seed};
    memcpy(oc.param.shared, r->shared, sizeof r->shared);
    if (fv_opt_new(&oc, &rd->opt, &ne) != 0) return err_set(e, "%s: %s", rd->rp, ne.msg);
    fv_opt_net_size(rd->opt, &rd->th, &rd->tw);
    if (nn_plan_new(rd->model, NULL, nc->count[0], rd->th, rd->tw, rd->outputs, nc->n_outputs, &nc->plan[0], &ne) == 0)
        return make_parts(rd, e);
    /* Parts of the graph (the detector head's upsample + concat) need an input size that is a
     * multiple of 32: centre the transformed image on a grey canvas of that size and retry. */
    err first = ne;
    fv_op ops[FV_RECIPE_MAX_OPS + 1];
    memcpy(ops, r->ops, sizeof(fv_op) * (size_t)r->n_ops);
    ops[r->n_ops] = (fv_op){.kind = FV_OP_CANVAS, .canvas_h = (rd->th + 31) / 32 * 32, .canvas_w = (rd->tw + 31) / 32 * 32};
    oc.ops = ops;
    oc.n_ops = r->n_ops + 1;
    fv_opt_free(rd->opt);
    rd->opt = NULL;
    if ((rd->th % 32 == 0 && rd->tw % 32 == 0) || fv_opt_new(&oc, &rd->opt, &ne) != 0 ||
        (fv_opt_net_size(rd->opt, &rd->th, &rd->tw),
         nn_plan_new(rd->model, NULL, nc->count[0], rd->th, rd->tw, rd->outputs, nc->n_outputs, &nc->plan[0], &ne) != 0))
        return err_set(e, "%s: objectives: %s", rd->rp, first.msg);
    return make_parts(rd, e);
}

/* The checks that need the layer shapes (channel, x, y, vector length), and the directions. */
static int check_shapes(render *rd, err *e)
{
    const fv_recipe *r = rd->r;
    for (int k = 0; k < r->n_objs; k++) {
        if (!r->objs[k].layer) continue;
        bound_obj *b = &rd->nc.objs[rd->out_of[k]];
        const fv_recipe_obj *ro = b->ro;
        const int *s = rd->nc.shape[b->out];
        if ((ro->kind == FV_KIND_NEURON || ro->kind == FV_KIND_CHANNEL || ro->kind == FV_KIND_CLASS) && b->channel >= s[3])
            return err_set(e, "%s: objectives[%d].%s: %d out of range (layer has %d channels)", rd->rp, k,
                           ro->kind == FV_KIND_CLASS ? "class" : "channel", b->channel, s[3]);
        if (ro->kind == FV_KIND_NEURON) {
            b->x = ro->x < 0 ? s[2] / 2 : ro->x;
            b->y = ro->y < 0 ? s[1] / 2 : ro->y;
            if (b->x >= s[2] || b->y >= s[1])
                return err_set(e, "%s: objectives[%d].%s: %d out of range (layer is %dx%d at this input size)", rd->rp, k,
                               b->x >= s[2] ? "x" : "y", b->x >= s[2] ? b->x : b->y, s[2], s[1]);
        }
        if (ro->kind != FV_KIND_DIRECTION) continue;
        b->dir = xmalloc(sizeof(float) * (size_t)s[3]);
        if (ro->vector) {
            if (ro->n_vector != s[3])
                return err_set(e, "%s: objectives[%d].vector: %d values (layer has %d channels)", rd->rp, k, ro->n_vector,
                               s[3]);
            memcpy(b->dir, ro->vector, sizeof(float) * (size_t)s[3]);
        } else {
            rng_state dr;
            rng_seed(&dr, ro->vector_seed);
            double norm = 0;
            for (int i = 0; i < s[3]; i++) {
                b->dir[i] = (float)rng_normal(&dr);
                norm += (double)b->dir[i] * b->dir[i];
            }
            for (int i = 0; i < s[3]; i++) b->dir[i] = (float)(b->dir[i] / sqrt(norm));
        }
    }
    return 0;
}

/* Writes the images after `step` steps as step<SSSS>_<b>.png and lists them in the sidecar. */
static int write_snapshot(render *rd, int step, err *e)
{
    const fv_recipe *r = rd->r;
    fv_opt_image(rd->opt, rd->img);
    json_t *names = json_array();
    for (int b = 0; b < r->batch; b++) {
        char name[64];
        snprintf(name, sizeof name, "step%04d_%d.png", step, b);
        if (write_png(rd->tmp_dir, name, rd->img, b, r->size, r->size, e) != 0) {
            json_decref(names);
            return -1;
        }
        json_array_append_new(names, json_string(name));
    }
    char key[32];
    snprintf(key, sizeof key, "%d", step);
    json_object_set_new(rd->snaps, key, names);
    return 0;
}

/* The optimization loop: r->steps steps, the snapshots the recipe asks for, the objective curve
 * every log_every steps (and progress lines when asked). */
static int optimize(render *rd, int progress, err *e)
{
    const fv_recipe *r = rd->r;
    err ne = {{0}};
    rd->img = xmalloc(sizeof(float) * (size_t)r->batch * r->size * r->size * 3);
    rd->img_vals = xcalloc((size_t)(rd->n_img > 0 ? rd->n_img : 1) * r->batch, sizeof(double));
    int snap = 0;
    double value = 0, t_loop = now_seconds();
    for (int step = 0; step <= r->steps; step++) {
        if (snap < r->n_snapshots && r->snapshots[snap] == step) {
            if (write_snapshot(rd, step, e) != 0) return -1;
            snap++;
        }
        if (step == r->steps) break;
        /* the cores the build gives this render now (budget.h); the bytes do not depend on them */
        int t = budget_poll(pool_threads());
        if (t > 0) {
            nn_set_threads(t);
            if (progress) fprintf(stderr, "fv-render: %d threads (FV_THREADS_FILE)\n", t);
        }
        if (fv_opt_step(rd->opt, net_eval, &rd->nc, &value, rd->img_vals, &ne) != 0)
            return err_set(e, "%s: step %d: %s", rd->rp, step, ne.msg);
        if (step % r->log_every == 0 || step == r->steps - 1) {
            json_array_append_new(rd->curve, json_pack("[i,f]", step, value));
            if (progress) {
                double el = now_seconds() - t_loop, left = el / (step + 1) * (r->steps - step - 1);
                fprintf(stderr, "fv-render: step %d/%d  objective %.5g  %.0fs left\n", step + 1, r->steps, value, left);
            }
        }
    }
    return 0;
}

/* Final measurement, without random transforms: the final image centred on a grey canvas of the
 * network's input size (the mean placement of the jittered image), every objective's values into
 * *finals (new reference) and their weighted sum into *total. */
static int measure_final(render *rd, json_t **finals, double *total, err *e)
{
    const fv_recipe *r = rd->r;
    int th = rd->th, tw = rd->tw;
    const float *img = rd->img;
    err ne = {{0}};
    fv_opt_image(rd->opt, rd->img);
    float *big = xmalloc(sizeof(float) * (size_t)r->batch * th * tw * 3);
    int oy = (th - r->size) / 2, ox = (tw - r->size) / 2;
    for (size_t i = 0; i < (size_t)r->batch * th * tw * 3; i++) big[i] = 127.5f;
    for (int b = 0; b < r->batch; b++)
        for (int y = 0; y < r->size; y++)
            for (int x = 0; x < r->size; x++)
                for (int ch = 0; ch < 3; ch++) {
                    int yy = y + oy, xx = x + ox;
                    if (yy < 0 || yy >= th || xx < 0 || xx >= tw) continue;
                    big[(((size_t)b * th + yy) * tw + xx) * 3 + ch] =
                        255.0f * img[(((size_t)b * r->size + y) * r->size + x) * 3 + ch];
                }
    int rc = net_forward(&rd->nc, big, th, tw, &ne);
    free(big);
    if (rc != 0) return err_set(e, "%s: final forward: %s", rd->rp, ne.msg);
    *total = eval_objectives(&rd->nc, 1);
    /* image objectives on the final image (values only; the gradient buffer is scratch) */
    float *scratch = xcalloc((size_t)r->batch * r->size * r->size * 3, sizeof(float));
    double *v = xmalloc(sizeof(double) * r->batch);
    float ones[FV_RECIPE_MAX_BATCH];
    for (int b = 0; b < FV_RECIPE_MAX_BATCH; b++) ones[b] = 1.0f;
    for (int i = 0; i < rd->n_img; i++) {
        const fv_recipe_obj *ro = &r->objs[rd->img_idx[i]];
        if (ro->kind == FV_KIND_L1) fv_obj_l1(img, r->batch, r->size, r->size, ones, v, scratch);
        else if (ro->kind == FV_KIND_TV) fv_obj_tv(img, r->batch, r->size, r->size, ones, v, scratch);
        else fv_obj_blur(img, r->batch, r->size, r->size, ones, v, scratch);
        for (int b = 0; b < r->batch; b++) {
            rd->img_vals[(size_t)i * r->batch + b] = v[b];
            *total += ro->wts[b] * v[b];
        }
    }
    free(scratch);
    free(v);
    *finals = json_array();
    int ii = 0;
    for (int k = 0; k < r->n_objs; k++) {
        const fv_recipe_obj *ro = &r->objs[k];
        json_t *vals = json_array();
        const double *src = ro->layer ? rd->nc.vals + (size_t)rd->out_of[k] * r->batch
                                      : rd->img_vals + (size_t)(ii++) * r->batch;
        int nv = ro->kind == FV_KIND_DIVERSITY ? 1 : r->batch;
        for (int b = 0; b < nv; b++) json_array_append_new(vals, json_real(src[b]));
        json_array_append_new(*finals, json_pack("{s:i, s:s, s:o}", "index", k, "kind", fv_recipe_kind_name(ro->kind),
                                                 "values", vals));
    }
    return 0;
}

/* The final images, image_<b>.png. */
static int write_images(render *rd, err *e)
{
    const fv_recipe *r = rd->r;
    for (int b = 0; b < r->batch; b++) {
        char name[64];
        snprintf(name, sizeof name, "image_%d.png", b);
        if (write_png(rd->tmp_dir, name, rd->img, b, r->size, r->size, e) != 0) return -1;
        json_array_append_new(rd->images, json_string(name));
    }
    return 0;
}

/* render.json: the recipe with its defaults, what it ran on, the curve, the files and finals. */
static int write_sidecar(render *rd, json_t *finals, double total, int threads, err *e)
{
    char *rj = fv_recipe_to_json(rd->r);
    json_t *recipe = json_loads(rj, 0, NULL);
    free(rj);
    double macs = 0;
    for (int k = 0; k < rd->nc.parts; k++) macs += nn_plan_macs(rd->nc.plan[k]);
    json_t *side = json_pack("{s:s, s:o, s:s, s:s, s:[i,i], s:f, s:O, s:O, s:O, s:{s:f, s:O}, s:f, s:i}",
                             "tool", "fv-render 1", "recipe", recipe, "model_sha256", nn_model_sha256(rd->model),
                             "kernels", nn_plan_kernels(rd->nc.plan[0]),
                             "net_input", rd->th, rd->tw, "macs_per_forward", macs, "curve", rd->curve,
                             "images", rd->images, "snapshots", rd->snaps, "final", "objective", total, "objectives",
                             finals, "wall_seconds", now_seconds() - rd->t0, "threads", threads);
    char *text = json_dumps(side, JSON_SORT_KEYS | JSON_INDENT(1) | JSON_REAL_PRECISION(9));
    json_decref(side);
    char *sp = xasprintf("%s/render.json", rd->tmp_dir);
    int rc = write_file_atomic(sp, text, strlen(text), e);
    free(sp);
    free(text);
    return rc;
}

fv_render_status fv_render(const fv_recipe *r, const char *out_dir, const fv_render_opts *o, err *e)
{
    render rd;
    render_init(&rd, r);
    fv_render_status st = FV_RENDER_BAD_INPUT;
    nn_set_threads(o->threads > 0 ? o->threads : 1);
    if (load_model(&rd, e) == 0 && bind_objectives(&rd, e) == 0 && make_plan(&rd, e) == 0 && check_shapes(&rd, e) == 0) {
        /* from here on, failures are I/O or internal */
        st = FV_RENDER_FAILED;
        json_t *finals = NULL;
        double total = 0;
        if (outdir_begin(out_dir, &rd.tmp_dir, e) == 0 && optimize(&rd, o->progress, e) == 0 &&
            measure_final(&rd, &finals, &total, e) == 0 && write_images(&rd, e) == 0 &&
            write_sidecar(&rd, finals, total, o->threads, e) == 0 && outdir_publish(rd.tmp_dir, out_dir, e) == 0)
            st = FV_RENDER_OK;
        json_decref(finals);
        if (st != FV_RENDER_OK) outdir_abort(rd.tmp_dir);
    }
    render_free(&rd);
    return st;
}
