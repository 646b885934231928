/* fv-examples — dataset examples (top-k and activation spectrum per channel) and features of a
 * layer of a Fashion-MNIST classifier over the test set. A thin main over examples_run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples.h"
#include "fmnist.h"
#include "nn.h"

static const char usage[] =
    "usage: fv-examples [options] MODEL OUT_DIR\n"
    "Runs the Fashion-MNIST test set through MODEL (a directory holding one TF.js model JSON,\n"
    "e.g. fv-train's output, or the JSON itself) and writes into OUT_DIR, all at once:\n"
    "  examples.json   per channel of the layer: top-k images and the activation spectrum\n"
    "                  (image index, label, class, value, tile file); see pipeline/fmnist/FORMAT.md\n"
    "  img_NNNNN.png   one tile per image listed (test image NNNNN, grey as RGB, 28*scale px)\n"
    "  features.fvf    with --features: the layer's value per image and channel (FVF1 float32\n"
    "  labels.txt      matrix, images x channels) and the labels, one per line\n"
    "Options:\n"
    "  --layer NAME    node of the model, ':preact' for before its ReLU (default fc1)\n"
    "  --k K           top images per channel, 1..images (default 9)\n"
    "  --spread S      images per spectrum point, 1..100 (default 1)\n"
    "  --channels L    comma-separated channels to list (default: all)\n"
    "  --scale S       tile upscaling, nearest neighbour, 1..16 (default 1: 28x28)\n"
    "  --features      also write features.fvf and labels.txt\n"
    "  --features-only write only features.fvf and labels.txt\n"
    "  --data DIR      Fashion-MNIST IDX files (default " FMNIST_DATA_DIR ")\n"
    "  --limit N       use the first N test images (default all 10000)\n"
    "Environment: FV_THREADS thread count (default: number of cores).\n"
    "Exit codes: 0 ok, 1 bad input (model, layer, k, channel, data), 2 usage, 3 I/O or internal\n";

/* parse_int, its message printed. */
static int int_opt(const char *opt, const char *s, long lo, long hi, long *out)
{
    err e;
    if (parse_int(opt, s, lo, hi, out, &e) == 0) return 0;
    fprintf(stderr, "fv-examples: %s\n", e.msg);
    return -1;
}

int main(int argc, char **argv)
{
    long k = 9, spread = 1, scale = 1, limit = 0;
    const char *data = FMNIST_DATA_DIR, *paths[2], *chan_list = NULL;
    int np = 0, features = 0, examples = 1;
    examples_opts o = {.layer = "fc1", .batch = 100};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--features") == 0) {
            features = 1;
        } else if (strcmp(a, "--features-only") == 0) {
            features = 1, examples = 0;
        } else if (a[0] == '-' && a[1] && !v) {
            fprintf(stderr, "fv-examples: %s needs a value\n%s", a, usage);
            return 2;
        } else if (strcmp(a, "--layer") == 0) {
            o.layer = v, i++;
        } else if (strcmp(a, "--k") == 0) {
            /* the upper bound (the number of images) is checked with the data: exit 1 */
            rc = int_opt(a, v, -1000000, 1000000, &k), i++;
        } else if (strcmp(a, "--spread") == 0) {
            rc = int_opt(a, v, 1, 100, &spread), i++;
        } else if (strcmp(a, "--scale") == 0) {
            rc = int_opt(a, v, 1, 16, &scale), i++;
        } else if (strcmp(a, "--limit") == 0) {
            rc = int_opt(a, v, 1, 10000, &limit), i++;
        } else if (strcmp(a, "--channels") == 0) {
            chan_list = v, i++;
        } else if (strcmp(a, "--data") == 0) {
            data = v, i++;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "fv-examples: unknown option %s\n%s", a, usage);
            return 2;
        } else if (np < 2) {
            paths[np++] = a;
        } else {
            fprintf(stderr, "fv-examples: too many arguments\n%s", usage);
            return 2;
        }
        if (rc != 0) return 2;
    }
    if (np != 2) {
        fputs(usage, stderr);
        return 2;
    }
    int *chans = NULL, nch = 0;
    if (chan_list) {
        const char *p = chan_list;
        chans = xmalloc(sizeof(int) * (strlen(chan_list) + 1));
        for (;;) {
            char *end;
            long c = strtol(p, &end, 10);
            if (end == p || c < -1000000 || c > 1000000 || (*end && *end != ',')) {
                fprintf(stderr, "fv-examples: --channels '%s': expected comma-separated channel numbers\n", chan_list);
                free(chans);
                return 2;
            }
            chans[nch++] = (int)c;
            if (!*end) break;
            p = end + 1;
        }
    }
    int threads = nn_threads_from_env();
    if (threads < 1) {
        fprintf(stderr, "FV_THREADS: '%s' is not a positive integer\n", getenv("FV_THREADS"));
        free(chans);
        return 2;
    }
    nn_set_threads(threads);
    err e = {{0}};
    fmnist_set test = {0};
    if (fmnist_load(data, 0, (int)limit, &test, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        free(chans);
        return 1;
    }
    o.k = (int)k, o.spread = (int)spread, o.scale = (int)scale, o.channels = chans, o.n_channels = nch;
    o.examples = examples, o.features = features;
    examples_status st = examples_run(paths[0], &test, paths[1], &o, stderr, &e);
    if (st != EXAMPLES_OK) fprintf(stderr, "%s\n", e.msg);
    fmnist_set_free(&test);
    free(chans);
    return (int)st;
}
