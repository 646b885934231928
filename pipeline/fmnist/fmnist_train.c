/* fmnist_train — minibatch training with Adam and evaluation, spread over the nn engine's thread
 * pool in fixed chunks so that the numbers do not depend on the thread count (see fmnist.h). */
#include "fmnist_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "nn.h"
#include "rng.h"

/* --- parallel jobs ---------------------------------------------------------------------------
 * Work is spread over "slots" (one per thread): slot k of S takes chunks [nch*k/S, nch*(k+1)/S).
 * Which thread runs a slot does not change any number. A training step runs the convolutions
 * chunk by chunk, each chunk in its own workspace (kept until its backward), and the dense
 * layers once on the whole minibatch (their products split across the pool by nn_ops): per
 * chunk, the dense layers would be products of 16 rows that pack their 800 K weights each. */

typedef struct job {
    fmnist_net *net;
    const fmnist_set *set;
    fmnist_ws **slots;      /* per slot: prediction */
    fmnist_ws **cws, *head; /* training: per chunk (its p2, dp2, labels in head), and the minibatch's */
    int n_slots, chunk;
    /* training step */
    const int *idx; /* the minibatch's image indices */
    int n;          /* minibatch size */
    float **cgrad;  /* per-chunk gradients of the convolutions; the dense layers' in cgrad[0] */
    size_t n_conv;  /* parameters [0, n_conv) are the convolutions' */
    /* prediction */
    int *pred, correct_slot[64];
    /* reduction / Adam over parameter ranges */
    float *g, *m, *v;
    size_t n_par;
    int n_ch;
    float lr_t, b1, b2, eps_t;
} job;

static fmnist_ws *slot_ws(job *j, int k)
{
    if (!j->slots[k]) j->slots[k] = fmnist_ws_new(&j->net->a, j->chunk);
    return j->slots[k];
}

static fmnist_ws *chunk_ws(job *j, int c)
{
    if (!j->cws[c]) j->cws[c] = fmnist_ws_chunk(&j->net->a, j->chunk, j->head, c * j->chunk);
    return j->cws[c];
}

/* The convolutions of the minibatch's chunks, forward (backward 0) or backward (1). */
static void conv_slots(job *j, int lo, int hi, int backward)
{
    int nch = (j->n + j->chunk - 1) / j->chunk;
    for (int k = lo; k < hi; k++)
        for (int c = nch * k / j->n_slots; c < nch * (k + 1) / j->n_slots; c++) {
            int a = c * j->chunk, m = j->n - a < j->chunk ? j->n - a : j->chunk;
            fmnist_ws *w = chunk_ws(j, c);
            if (backward) {
                fmnist_bwd_convs(j->net, w, m, j->cgrad[c]);
            } else {
                fmnist_ws_load(w, j->set, j->idx + a, m);
                fmnist_fwd_convs(j->net, w, m);
            }
        }
}

static void conv_fwd_slots(void *ctx, int lo, int hi) { conv_slots(ctx, lo, hi, 0); }
static void conv_bwd_slots(void *ctx, int lo, int hi) { conv_slots(ctx, lo, hi, 1); }

/* One minibatch's gradient (into cgrad) and summed loss. */
static double train_step(job *j)
{
    pool_for_chunks(j->n_slots, POOL_JOBS, conv_fwd_slots, j);
    fmnist_fwd_head(j->net, j->head, j->n);
    double loss = fmnist_bwd_head(j->net, j->head, j->n, 1.0f / (float)j->n, j->cgrad[0]);
    pool_for_chunks(j->n_slots, POOL_JOBS, conv_bwd_slots, j);
    return loss;
}

/* Sum of the chunk gradients in chunk order (into chunk 0's, which the next step overwrites),
 * then Adam, over parameter parts [lo, hi) of 256. Loop by loop so that gcc vectorizes them
 * (element by element, no reassociation: the same numbers; sqrtf needs -fno-math-errno, in
 * module.mk). */
__attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic"))) static void adam_parts(void *ctx, int lo,
                                                                                             int hi)
{
    job *j = ctx;
    size_t a = (size_t)lo * j->n_par / 256, b = (size_t)hi * j->n_par / 256;
    float *restrict P = j->net->params, *restrict g = j->cgrad[0], *restrict M = j->m, *restrict V = j->v;
    size_t bc = b < j->n_conv ? b : j->n_conv; /* chunk sums: the convolutions' parameters */
    for (int c = 1; c < j->n_ch; c++) {
        const float *restrict gc = j->cgrad[c];
        for (size_t i = a; i < bc; i++) g[i] += gc[i];
    }
    const float b1 = j->b1, b2 = j->b2, lr = j->lr_t, eps = j->eps_t;
    for (size_t i = a; i < b; i++) {
        float m = M[i] = b1 * M[i] + (1.0f - b1) * g[i];
        float v = V[i] = b2 * V[i] + (1.0f - b2) * g[i] * g[i];
        P[i] -= lr * m / (sqrtf(v) + eps);
    }
}

static void predict_slots(void *ctx, int lo, int hi)
{
    job *j = ctx;
    int nch = (j->set->n + j->chunk - 1) / j->chunk;
    int *idx = xmalloc(sizeof(int) * (size_t)j->chunk);
    for (int k = lo; k < hi; k++) {
        fmnist_ws *w = slot_ws(j, k);
        int correct = 0;
        for (int c = nch * k / j->n_slots; c < nch * (k + 1) / j->n_slots; c++) {
            int a = c * j->chunk, m = j->set->n - a < j->chunk ? j->set->n - a : j->chunk;
            for (int i = 0; i < m; i++) idx[i] = a + i;
            fmnist_ws_load(w, j->set, idx, m);
            fmnist_fwd(j->net, w, m);
            for (int i = 0; i < m; i++) {
                const float *z = w->z + (size_t)i * FMNIST_CLASSES;
                int best = 0;
                for (int q = 1; q < FMNIST_CLASSES; q++)
                    if (z[q] > z[best]) best = q;
                if (j->pred) j->pred[a + i] = best;
                correct += best == w->lab[i];
            }
        }
        j->correct_slot[k] = correct;
    }
    free(idx);
}

static int slots_for_threads(void)
{
    int t = pool_threads();
    return t < 1 ? 1 : t > 64 ? 64 : t;
}

static int predict_with(fmnist_net *net, const fmnist_set *s, int *pred, fmnist_ws **slots, int n_slots, int chunk)
{
    job j = {.net = net, .set = s, .slots = slots, .n_slots = n_slots, .chunk = chunk, .pred = pred};
    pool_for_chunks(n_slots, POOL_JOBS, predict_slots, &j);
    int correct = 0;
    for (int k = 0; k < n_slots; k++) correct += j.correct_slot[k];
    return correct;
}

int fmnist_net_predict(fmnist_net *net, const fmnist_set *s, int *pred)
{
    int n_slots = slots_for_threads(), chunk = 50;
    fmnist_ws **slots = xcalloc((size_t)n_slots, sizeof *slots);
    nn_ops_set_blas_threads(1);
    int correct = predict_with(net, s, pred, slots, n_slots, chunk);
    nn_ops_set_blas_threads(pool_threads());
    for (int k = 0; k < n_slots; k++) fmnist_ws_free(slots[k]);
    free(slots);
    return correct;
}

/* Between minibatches: the thread count the build gives this run now (budget.h), and the slots
 * with it (which thread runs a chunk changes no number, so neither does the count). */
static void follow_budget(job *j, FILE *log)
{
    int t = budget_poll(pool_threads());
    if (t < 1) return;
    nn_set_threads(t);
    nn_ops_set_blas_threads(1);
    j->n_slots = slots_for_threads();
    if (log) fprintf(log, "fv-train: %d threads (FV_THREADS_FILE)\n", t);
}

/* Calls o->checkpoint if step is listed or (epoch > 0) an epoch ended there; evaluates on test
 * first (acc >= 0: already evaluated, at an epoch's end). Returns 0 or -1 with e. */
static int checkpoint_at(job *j, const fmnist_set *test, const fmnist_train_opts *o, long step, int epoch, double acc,
                         err *e)
{
    if (!o->checkpoint) return 0;
    int listed = 0;
    for (int i = 0; i < o->n_checkpoint_steps; i++) listed |= o->checkpoint_steps[i] == step;
    if (!o->checkpoint_epochs) epoch = 0;
    if (!listed && !epoch) return 0;
    if (acc < 0 && test && test->n > 0)
        acc = (double)predict_with(j->net, test, NULL, j->slots, j->n_slots, j->chunk) / test->n;
    fmnist_checkpoint c = {step, listed, epoch, acc};
    return o->checkpoint(o->checkpoint_ctx, j->net, &c, e);
}

int fmnist_train(fmnist_net *net, const fmnist_set *train, const fmnist_set *test, const fmnist_train_opts *o,
                 fmnist_train_report *rep, err *e)
{
    if (o->epochs < 1 || o->batch < 1 || o->chunk < 1 || !(o->lr > 0) || train->n < 1)
        return err_set(e, "fmnist_train: epochs %d, batch %d, chunk %d, lr %g, %d images (expected positive values)",
                       o->epochs, o->batch, o->chunk, (double)o->lr, train->n);
    memset(rep, 0, sizeof *rep);
    rep->test_accuracy = -1;
    int n = train->n, batch = o->batch < n ? o->batch : n;
    int chunk = o->chunk < batch ? o->chunk : batch, max_ch = (batch + chunk - 1) / chunk;
    int n_slots = slots_for_threads();
    size_t np;
    float *P = fmnist_net_params(net, &np);
    (void)P;
    job j = {.net = net, .set = train, .n_slots = n_slots, .chunk = chunk, .n_par = np,
             .n_conv = net->off[T_WF1], .b1 = 0.9f, .b2 = 0.999f};
    j.slots = xcalloc(64, sizeof *j.slots); /* slots_for_threads' most: the count may change */
    j.cws = xcalloc((size_t)max_ch, sizeof *j.cws);
    j.head = fmnist_ws_head(&net->a, batch);
    j.cgrad = xcalloc((size_t)max_ch, sizeof *j.cgrad);
    for (int c = 0; c < max_ch; c++) j.cgrad[c] = fmnist_fbuf(c ? j.n_conv : np);
    j.m = xcalloc(np, sizeof(float));
    j.v = xcalloc(np, sizeof(float));
    int *perm = xmalloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) perm[i] = i;
    rng_state r;
    rng_seed(&r, o->seed ^ 0x5eed5eed5eedull);
    /* the chunks of a minibatch run one per thread, each with single-threaded sgemm */
    nn_ops_set_blas_threads(1);
    nn_ops_set_gemm(o->gemm);
    int steps_per_epoch = (n + batch - 1) / batch;
    long step = 0;
    double t_train = 0;
    int status = checkpoint_at(&j, test, o, 0, 0, -1, e);
    for (int ep = 0; ep < o->epochs && status == 0; ep++) {
        double t0 = now_seconds(), loss_sum = 0;
        for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
            int k = (int)rng_below32(&r, (uint32_t)i + 1), t = perm[i];
            perm[i] = perm[k], perm[k] = t;
        }
        for (int b = 0; b < steps_per_epoch && status == 0; b++) {
            j.idx = perm + (size_t)b * batch;
            j.n = n - b * batch < batch ? n - b * batch : batch;
            j.n_ch = (j.n + chunk - 1) / chunk;
            follow_budget(&j, o->log);
            loss_sum += train_step(&j);
            step++;
            /* PyTorch's Adam: p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps) */
            double bc1 = 1.0 - pow(0.9, (double)step), bc2 = 1.0 - pow(0.999, (double)step);
            j.lr_t = (float)(o->lr / bc1 * sqrt(bc2));
            j.eps_t = (float)(1e-8 * sqrt(bc2));
            pool_for_chunks(256, POOL_JOBS, adam_parts, &j);
            if (b + 1 < steps_per_epoch) status = checkpoint_at(&j, test, o, step, 0, -1, e);
            if (o->log && o->log_every > 0 && (b + 1) % o->log_every == 0 && b + 1 < steps_per_epoch) {
                double el = now_seconds() - t0, left = el / (b + 1) * (steps_per_epoch - b - 1) +
                                                (t_train + el) / (ep + (b + 1.0) / steps_per_epoch) *
                                                    (o->epochs - ep - 1);
                fprintf(o->log, "fv-train: epoch %d/%d  batch %d/%d  loss %.4f  %.0fs left\n", ep + 1, o->epochs,
                        b + 1, steps_per_epoch, loss_sum / ((double)(b + 1) * batch > n ? n : (b + 1.0) * batch),
                        left);
                fflush(o->log);
            }
        }
        double secs = now_seconds() - t0;
        t_train += secs;
        double loss = loss_sum / n, acc = -1;
        if (test && test->n > 0) acc = (double)predict_with(net, test, NULL, j.slots, j.n_slots, chunk) / test->n;
        if (ep < 64) {
            rep->epoch_seconds[ep] = secs;
            rep->epoch_loss[ep] = loss;
            rep->epoch_accuracy[ep] = acc;
        }
        rep->final_loss = loss;
        rep->test_accuracy = acc;
        if (o->log) {
            if (acc >= 0)
                fprintf(o->log, "fv-train: epoch %d/%d  loss %.4f  test accuracy %.4f  %.1fs\n", ep + 1, o->epochs,
                        loss, acc, secs);
            else
                fprintf(o->log, "fv-train: epoch %d/%d  loss %.4f  %.1fs\n", ep + 1, o->epochs, loss, secs);
            fflush(o->log);
        }
        if (status == 0) status = checkpoint_at(&j, test, o, step, ep + 1, acc, e);
    }
    rep->seconds = t_train;
    nn_ops_set_gemm(NN_GEMM_SGEMM);
    nn_ops_set_blas_threads(pool_threads());
    for (int k = 0; k < 64; k++) fmnist_ws_free(j.slots[k]);
    free(j.slots);
    for (int c = 0; c < max_ch; c++) fmnist_ws_free(j.cws[c]);
    free(j.cws);
    fmnist_ws_free(j.head);
    for (int c = 0; c < max_ch; c++) free(j.cgrad[c]);
    free(j.cgrad);
    free(j.m);
    free(j.v);
    free(perm);
    return status;
}
