/* nn_common — the part the two nn fuzz targets share: load a TF.js model from a JSON and a .bin
 * file and use every read-only accessor on it. With FUZZ_NN_PLAN=1 in the environment it also
 * builds a plan for the model's computable nodes and runs one forward pass (the engine, not the
 * loader: off by default, so that the loader's findings are not hidden behind the engine's). */
#ifndef FV_FUZZ_NN_COMMON_H
#define FV_FUZZ_NN_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

static inline void nn_fuzz_load(const char *json, const char *bin, const char *bin_base)
{
    nn_model *m = NULL;
    err e = {{0}};
    if (nn_model_load_tfjs(json, bin, &m, &e) != 0) {
        /* every message names one of the two files (bin_base NULL: the shards the fuzzed
         * manifest names, which may be anything) */
        if (m || !e.msg[0] || (bin_base && !strstr(e.msg, "m.json") && !strstr(e.msg, bin_base))) {
            fprintf(stderr, "fuzz_nn: bad failure: '%s'\n", e.msg);
            abort();
        }
        return;
    }
    if (strlen(nn_model_sha256(m)) != 64) abort();
    int n = nn_model_n_nodes(m), shape[4];
    for (int i = 0; i < n; i++) {
        if (nn_model_find(m, nn_model_node_name(m, i)) != i) abort();
        (void)strlen(nn_model_node_op(m, i));
        (void)nn_model_node_computable(m, i);
    }
    const char *in = nn_model_input_name(m);
    if (in && nn_model_input_shape(m, shape) == 0 && getenv("FUZZ_NN_PLAN")) {
        const char *outs[4] = {0};
        int k = 0;
        for (int i = n - 1; i >= 0 && k < 4; i--)
            if (nn_model_node_computable(m, i) && strcmp(nn_model_node_name(m, i), in) != 0)
                outs[k++] = nn_model_node_name(m, i);
        nn_plan *p = NULL;
        int h = shape[1] > 0 && shape[1] <= 64 ? shape[1] : 8, w = shape[2] > 0 && shape[2] <= 64 ? shape[2] : 8;
        if (k && nn_plan_new(m, in, 1, h, w, outs, k, &p, &e) == 0) {
            float *x = nn_plan_input(p);
            int s[4];
            size_t sz = nn_plan_input_shape(p, s);
            for (size_t i = 0; i < sz; i++) x[i] = (float)(i % 7) / 7.0f;
            (void)nn_plan_forward(p, &e);
            nn_plan_free(p);
        }
    }
    nn_model_free(m);
}

#endif
