/* fv-train — trains the Fashion-MNIST classifier (fmnist.h) and writes it as a TF.js graph model
 * (FORMAT.md). A thin main: options, data, fmnist_train, export. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmnist.h"
#include "nn.h"
#include "nn_train.h"
#include "outdir.h"

static const char usage[] =
    "usage: fv-train [options] OUT_DIR\n"
    "Trains the fmnist-cnn classifier on Fashion-MNIST and writes OUT_DIR/fmnist-cnn.json and\n"
    "OUT_DIR/fmnist-cnn.bin (a TF.js graph model, see pipeline/fmnist/FORMAT.md) and\n"
    "OUT_DIR/train.jsonl (a JSON line per epoch: loss, test accuracy, seconds; then a summary\n"
    "line with the options), all at once.\n"
    "  --epochs N        passes over the training set (default 2)\n"
    "  --batch N         minibatch size (default 64)\n"
    "  --chunk N         images per unit of parallel work (default 16; the result does not\n"
    "                    depend on the thread count, but it does on the chunk size)\n"
    "  --lr X            Adam learning rate (default 0.001)\n"
    "  --seed N          seed of the initialization and the shuffling (default 1)\n"
    "  --arch LIST       channels c1,c2,c3,c4,fc (default 32,32,64,64,256)\n"
    "  --data DIR        Fashion-MNIST IDX files (default " FMNIST_DATA_DIR ")\n"
    "  --train-limit N   use the first N training images (default all 60000)\n"
    "  --test-limit N    evaluate on the first N test images (default all 10000)\n"
    "  --log-every N     progress line every N minibatches (default 50; 0: per epoch only)\n"
    "  --gemm auto|amx|bf16|sgemm  where the products run: amx on the CPU's AMX tiles, bf16 on\n"
    "                    its AVX512-BF16 vectors, both in bf16x3 (about 1e-5 relative); sgemm:\n"
    "                    OpenBLAS in float. auto (default): amx, else bf16, else sgemm, as the CPU\n"
    "                    offers. The model metadata records which ran.\n"
    "  --checkpoints L   also write the network after these steps (minibatches; 0 = before\n"
    "                    training) and, with the word epoch, after every epoch: comma-separated,\n"
    "                    e.g. 0,50,200,epoch. Each goes to OUT_DIR/checkpoints/step-N/ or epoch-N/\n"
    "                    (the same two model files), with its test accuracy in\n"
    "                    OUT_DIR/checkpoints.jsonl. The final weights do not change.\n"
    "Progress goes to stderr. Environment: FV_THREADS thread count (default: number of cores);\n"
    "FV_THREADS_FILE a file whose count (1..1024) replaces it between minibatches, read at most\n"
    "every 50 ms (the build's share of the cores; the weights do not depend on the count).\n"
    "FV_NO_AMX=1, FV_NO_BF16=1 take those paths away (valgrind knows neither).\n"
    "Exit codes: 0 ok, 1 bad input (data files), 2 usage, 3 I/O or internal failure\n";

/* parse_int with fv-train's own wording of the error (tests/cli/fmnist.sh checks it). */
static int int_opt(const char *opt, const char *s, long lo, long hi, long *out)
{
    if (parse_int(opt, s, lo, hi, out, NULL) == 0) return 0;
    fprintf(stderr, "fv-train: %s '%s': expected an integer %ld..%ld\n", opt, s, lo, hi);
    return -1;
}

/* Parses --checkpoints: ascending distinct steps 0..10^7 and at most one "epoch", at most 64
 * steps. Returns 0, or -1 after printing what is wrong. */
static int parse_checkpoints(const char *s, long *steps, int *n, int *epochs)
{
    const char *p = s;
    *n = 0, *epochs = 0;
    for (;;) {
        size_t l = strcspn(p, ",");
        char *end;
        long v = strtol(p, &end, 10);
        if (l == 5 && strncmp(p, "epoch", 5) == 0 && !*epochs) {
            *epochs = 1;
        } else if (l == 0 || end != p + l || *p == '-' || *p == '+' || v > 10000000 || *n == 64 ||
                   (*n > 0 && v <= steps[*n - 1])) {
            fprintf(stderr, "fv-train: --checkpoints '%s': expected ascending steps 0..10000000 (at most 64) "
                            "and the word epoch, comma-separated\n", s);
            return -1;
        } else {
            steps[(*n)++] = v;
        }
        if (!p[l]) return 0;
        p += l + 1;
    }
}

/* What the checkpoint writer needs: the scratch output directory, the options for the metadata,
 * and the lines of checkpoints.jsonl so far. */
typedef struct ckpt_ctx {
    const char *tmp;
    json_t *meta; /* the training options (borrowed) */
    buf lines;
} ckpt_ctx;

/* Writes dir/name/fmnist-cnn.{json,bin} and its line. */
static int write_checkpoint(ckpt_ctx *k, const fmnist_net *net, const char *name, const fmnist_checkpoint *c, err *e)
{
    json_t *m = json_deep_copy(k->meta);
    json_object_set_new(m, "checkpoint", json_string(name));
    json_object_set_new(m, "step", json_integer(c->step));
    json_object_set_new(m, "test_accuracy", json_real(c->test_accuracy));
    char *meta = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *dir = xasprintf("%s/checkpoints/%s", k->tmp, name), *jp = xasprintf("%s/fmnist-cnn.json", dir),
         *bp = xasprintf("%s/fmnist-cnn.bin", dir);
    int rc = mkdir_p(dir, e);
    if (rc == 0) rc = fmnist_net_save_tfjs(net, jp, bp, "fmnist-cnn.bin", meta, e);
    json_t *l = json_pack("{s:s,s:I,s:i,s:f}", "checkpoint", name, "step", (json_int_t)c->step, "epoch", c->epoch,
                          "test_accuracy", c->test_accuracy);
    char *t = json_dumps(l, JSON_COMPACT | JSON_PRESERVE_ORDER);
    buf_printf(&k->lines, "%s\n", t);
    free(t), free(meta), free(dir), free(jp), free(bp);
    json_decref(l);
    json_decref(m);
    return rc;
}

static int on_checkpoint(void *ctx, const fmnist_net *net, const fmnist_checkpoint *c, err *e)
{
    ckpt_ctx *k = ctx;
    char name[32];
    if (c->listed) {
        snprintf(name, sizeof name, "step-%ld", c->step);
        if (write_checkpoint(k, net, name, c, e) != 0) return -1;
    }
    if (c->epoch) {
        snprintf(name, sizeof name, "epoch-%d", c->epoch);
        if (write_checkpoint(k, net, name, c, e) != 0) return -1;
    }
    fprintf(stderr, "fv-train: checkpoint at step %ld, test accuracy %.4f\n", c->step, c->test_accuracy);
    return 0;
}

int main(int argc, char **argv)
{
    long epochs = 2, batch = 64, chunk = 16, seed = 1, train_limit = 0, test_limit = 0, log_every = 50;
    int path = -1; /* enum nn_gemm; -1: auto */
    int n_ckpt = 0, ckpt_epochs = 0;
    long ckpt_steps[64];
    double lr = 1e-3;
    const char *data = FMNIST_DATA_DIR, *out = NULL;
    fmnist_arch arch = fmnist_arch_default();
    err e = {{0}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (a[0] == '-' && a[1] && !v) {
            fprintf(stderr, "fv-train: %s needs a value\n%s", a, usage);
            return 2;
        } else if (strcmp(a, "--epochs") == 0) {
            rc = int_opt(a, v, 1, 64, &epochs), i++;
        } else if (strcmp(a, "--batch") == 0) {
            rc = int_opt(a, v, 1, 60000, &batch), i++;
        } else if (strcmp(a, "--chunk") == 0) {
            rc = int_opt(a, v, 1, 60000, &chunk), i++;
        } else if (strcmp(a, "--seed") == 0) {
            rc = int_opt(a, v, 0, 0x7fffffffL, &seed), i++;
        } else if (strcmp(a, "--train-limit") == 0) {
            rc = int_opt(a, v, 1, 60000, &train_limit), i++;
        } else if (strcmp(a, "--test-limit") == 0) {
            rc = int_opt(a, v, 1, 10000, &test_limit), i++;
        } else if (strcmp(a, "--log-every") == 0) {
            rc = int_opt(a, v, 0, 1000000, &log_every), i++;
        } else if (strcmp(a, "--lr") == 0) {
            char *end;
            lr = strtod(v, &end);
            if (!*v || *end || !(lr > 0 && lr < 1)) {
                fprintf(stderr, "fv-train: --lr '%s': expected a number in (0, 1)\n", v);
                rc = -1;
            }
            i++;
        } else if (strcmp(a, "--arch") == 0) {
            if (fmnist_arch_parse(v, &arch, &e) != 0) {
                fprintf(stderr, "fv-train: %s\n", e.msg);
                rc = -1;
            }
            i++;
        } else if (strcmp(a, "--gemm") == 0) {
            if (strcmp(v, "auto") == 0 || strcmp(v, "amx") == 0 || strcmp(v, "bf16") == 0 || strcmp(v, "sgemm") == 0) {
                path = v[0] == 'a' && v[1] == 'u' ? -1 : v[0] == 'a' ? NN_GEMM_AMX : v[0] == 'b' ? NN_GEMM_BF16 : NN_GEMM_SGEMM;
            } else {
                fprintf(stderr, "fv-train: --gemm '%s': expected auto, amx, bf16 or sgemm\n", v);
                rc = -1;
            }
            i++;
        } else if (strcmp(a, "--checkpoints") == 0) {
            rc = parse_checkpoints(v, ckpt_steps, &n_ckpt, &ckpt_epochs), i++;
        } else if (strcmp(a, "--data") == 0) {
            data = v, i++;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "fv-train: unknown option %s\n%s", a, usage);
            return 2;
        } else if (!out) {
            out = a;
        } else {
            fprintf(stderr, "fv-train: too many arguments\n%s", usage);
            return 2;
        }
        if (rc != 0) return 2;
    }
    if (!out) {
        fputs(usage, stderr);
        return 2;
    }
    if (path < 0) path = nn_ops_gemm_best();
    if (!nn_ops_gemm_available(path)) {
        fprintf(stderr, "fv-train: --gemm %s: %s\n", path == NN_GEMM_AMX ? "amx" : "bf16",
                path == NN_GEMM_AMX ? "this CPU lacks AMX (amx_tile, amx_bf16), or FV_NO_AMX is set"
                                    : "this CPU lacks AVX512_BF16 (avx512_bf16), or FV_NO_BF16 is set");
        return 2;
    }
    int threads = nn_threads_from_env();
    if (threads < 1) {
        fprintf(stderr, "FV_THREADS: '%s' is not a positive integer\n", getenv("FV_THREADS"));
        return 2;
    }
    nn_set_threads(threads);

    fmnist_set train = {0}, test = {0};
    if (fmnist_load(data, 1, (int)train_limit, &train, &e) != 0 || fmnist_load(data, 0, (int)test_limit, &test, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        fmnist_set_free(&train);
        return 1;
    }
    long last_step = epochs * ((train.n + batch - 1) / batch);
    if (n_ckpt > 0 && ckpt_steps[n_ckpt - 1] > last_step) {
        fprintf(stderr, "fv-train: --checkpoints: step %ld is past the last step (%ld: %ld epochs of %d images in "
                        "minibatches of %ld)\n", ckpt_steps[n_ckpt - 1], last_step, epochs, train.n, batch);
        fmnist_set_free(&train);
        fmnist_set_free(&test);
        return 2;
    }
    int status = 3;
    char *tmp = NULL, *meta = NULL, *jp = NULL, *bp = NULL, *tp = NULL, *report = NULL;
    fmnist_net *net = fmnist_net_new(&arch, (uint64_t)seed);
    const char *gemm = path == NN_GEMM_AMX ? "amx-bf16x3" : path == NN_GEMM_BF16 ? "avx512-bf16x3" : "openblas-sgemm";
    /* the checkpoints are written into the scratch directory as training goes */
    if (outdir_begin(out, &tmp, &e) != 0) goto done;
    ckpt_ctx ck = {tmp, json_pack("{s:i,s:i,s:i,s:f,s:i,s:s,s:i,s:i}", "seed", (int)seed, "epochs", (int)epochs,
                                  "batch", (int)batch, "lr", lr, "chunk", (int)chunk, "gemm", gemm, "train_images",
                                  train.n, "test_images", test.n), {0}};
    fmnist_train_opts o = {(int)epochs, (int)batch, (int)chunk, (float)lr, (uint64_t)seed, (int)log_every, stderr, path,
                           ckpt_steps, n_ckpt, ckpt_epochs, n_ckpt || ckpt_epochs ? on_checkpoint : NULL, &ck};
    fmnist_train_report rep;
    fprintf(stderr, "fv-train: %d training images, %d test images, %.1f M multiply-adds per image, %d threads, %s\n",
            train.n, test.n, fmnist_net_macs(net) / 1e6, threads, gemm);
    int trc = fmnist_train(net, &train, &test, &o, &rep, &e);
    json_decref(ck.meta);
    char *ck_lines = buf_detach(&ck.lines);
    if (trc == 0 && (n_ckpt || ckpt_epochs)) {
        char *cp = xasprintf("%s/checkpoints.jsonl", tmp);
        trc = write_file_atomic(cp, ck_lines ? ck_lines : "", ck_lines ? strlen(ck_lines) : 0, &e);
        free(cp);
    }
    free(ck_lines);
    if (trc != 0) {
        outdir_abort(tmp);
        goto done;
    }
    /* the model's metadata holds no times, so that the same options give the same bytes */
    json_t *m = json_pack("{s:i,s:i,s:i,s:f,s:i,s:s,s:i,s:i,s:f,s:f,s:s}", "seed", (int)seed, "epochs", (int)epochs,
                          "batch", (int)batch, "lr", lr, "chunk", (int)chunk, "gemm", gemm, "train_images", train.n,
                          "test_images", test.n, "final_loss", rep.final_loss, "test_accuracy", rep.test_accuracy,
                          "input_scaling", "pixel/255 (0..1), no standardization");
    meta = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
    /* train.jsonl: one JSON line per epoch, then the summary (not *.json: the model directory
     * must hold exactly one JSON file for nn_model_load_dir) */
    buf rb = {0};
    for (int i = 0; i < epochs && i < 64; i++) {
        json_t *l = json_pack("{s:i,s:f,s:f,s:f}", "epoch", i + 1, "loss", rep.epoch_loss[i], "test_accuracy",
                              rep.epoch_accuracy[i], "seconds", rep.epoch_seconds[i]);
        char *t = json_dumps(l, JSON_COMPACT | JSON_PRESERVE_ORDER);
        buf_printf(&rb, "%s\n", t);
        free(t);
        json_decref(l);
    }
    json_object_set_new(m, "seconds", json_real(rep.seconds));
    json_object_set_new(m, "threads", json_integer(threads));
    json_object_set_new(m, "macs_per_image", json_real(fmnist_net_macs(net)));
    json_object_set_new(m, "tool", json_string("fv-train"));
    char *t = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
    buf_printf(&rb, "%s\n", t);
    free(t);
    report = buf_detach(&rb);
    json_decref(m);
    jp = xasprintf("%s/fmnist-cnn.json", tmp);
    bp = xasprintf("%s/fmnist-cnn.bin", tmp);
    tp = xasprintf("%s/train.jsonl", tmp);
    if (fmnist_net_save_tfjs(net, jp, bp, "fmnist-cnn.bin", meta, &e) != 0 ||
        write_file_atomic(tp, report, strlen(report), &e) != 0 || outdir_publish(tmp, out, &e) != 0) {
        outdir_abort(tmp);
        goto done;
    }
    fprintf(stderr, "fv-train: test accuracy %.4f after %ld epochs (%.1fs training); wrote %s\n", rep.test_accuracy,
            epochs, rep.seconds, out);
    status = 0;
done:
    if (status != 0) fprintf(stderr, "%s\n", e.msg);
    free(tmp), free(meta), free(jp), free(bp), free(tp), free(report);
    fmnist_net_free(net);
    fmnist_set_free(&train);
    fmnist_set_free(&test);
    return status;
}
