/* fmnist_net — the network's architecture and parameters: one allocation for all twelve tensors,
 * He-normal initialisation from the seed (see fmnist.h). */
#include "fmnist_impl.h"

#include <math.h>
#include <stdlib.h>

#include "rng.h"

static const char *const tensor_names[N_T] = {
    "conv1/weights", "conv1/bias", "conv2/weights", "conv2/bias", "conv3/weights", "conv3/bias",
    "conv4/weights", "conv4/bias", "fc1/weights",   "fc1/bias",   "logits/weights", "logits/bias"};


fmnist_arch fmnist_arch_default(void) { return (fmnist_arch){32, 32, 64, 64, 256}; }

int fmnist_arch_parse(const char *s, fmnist_arch *a, err *e)
{
    int v[5], n = 0;
    const char *p = s;
    while (n < 5) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 1 || x > 1024) break;
        v[n++] = (int)x;
        p = end;
        if (*p != ',') break;
        p++;
    }
    if (n != 5 || *p)
        return err_set(e, "--arch '%s': expected five channel counts c1,c2,c3,c4,fc, each 1..1024 (e.g. "
                       "32,32,64,64,256)", s);
    *a = (fmnist_arch){v[0], v[1], v[2], v[3], v[4]};
    return 0;
}

/* Element counts of the twelve tensors. */
static void tensor_counts(const fmnist_arch *a, size_t c[N_T])
{
    c[T_W1] = 9 * (size_t)a->c1, c[T_B1] = a->c1;
    c[T_W2] = 9 * (size_t)a->c1 * a->c2, c[T_B2] = a->c2;
    c[T_W3] = 9 * (size_t)a->c2 * a->c3, c[T_B3] = a->c3;
    c[T_W4] = 9 * (size_t)a->c3 * a->c4, c[T_B4] = a->c4;
    c[T_WF1] = 49 * (size_t)a->c4 * a->fc, c[T_BF1] = a->fc;
    c[T_WF2] = (size_t)a->fc * FMNIST_CLASSES, c[T_BF2] = FMNIST_CLASSES;
}

fmnist_net *fmnist_net_new(const fmnist_arch *a, uint64_t seed)
{
    fmnist_net *net = xcalloc(1, sizeof *net);
    net->a = *a;
    size_t c[N_T];
    tensor_counts(a, c);
    for (int i = 0; i < N_T; i++) net->off[i + 1] = net->off[i] + c[i];
    net->params = xcalloc(net->off[N_T], sizeof(float));
    /* He-normal: std sqrt(2 / fan_in), fan_in = the rows of the (K, out) weight matrix */
    const int fan_in[N_T] = {9, 0, 9 * a->c1, 0, 9 * a->c2, 0, 9 * a->c3, 0, 49 * a->c4, 0, a->fc, 0};
    rng_state r;
    rng_seed(&r, seed);
    for (int i = 0; i < N_T; i += 2) {
        double sd = sqrt(2.0 / fan_in[i]);
        for (size_t k = net->off[i]; k < net->off[i + 1]; k++) net->params[k] = (float)(sd * rng_normal_open(&r));
    }
    return net;
}

void fmnist_net_free(fmnist_net *net)
{
    if (!net) return;
    free(net->params);
    free(net);
}

fmnist_arch fmnist_net_arch(const fmnist_net *net) { return net->a; }

float *fmnist_net_params(fmnist_net *net, size_t *n)
{
    if (n) *n = net->off[N_T];
    return net->params;
}

int fmnist_net_n_tensors(const fmnist_net *net)
{
    (void)net;
    return N_T;
}

void fmnist_net_tensor(const fmnist_net *net, int i, const char **name, size_t *off, size_t *count)
{
    if (name) *name = tensor_names[i];
    if (off) *off = net->off[i];
    if (count) *count = net->off[i + 1] - net->off[i];
}

double fmnist_net_macs(const fmnist_net *net)
{
    const fmnist_arch *a = &net->a;
    return 784.0 * 9 * (a->c1 + (double)a->c1 * a->c2) + 196.0 * 9 * ((double)a->c2 * a->c3 + (double)a->c3 * a->c4) +
           49.0 * a->c4 * a->fc + (double)a->fc * FMNIST_CLASSES;
}
