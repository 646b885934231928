/* nn_graph — the model as the loader leaves it, internal to pipeline/nn: the nodes of the
 * TF.js graph with the attributes of the ops the engine runs, and their weights. nn_load.c
 * fills it, nn_model.c answers nn.h's questions about it, the planner (nn_plan.c) reads it. */
#ifndef FV_NN_GRAPH_H
#define FV_NN_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "nn.h"

enum kind {
    K_OTHER, K_CONST, K_PLACEHOLDER, K_CONV, K_DWCONV, K_ADD, K_MUL, K_RELU, K_RELU6, K_MEAN,
    K_SIGMOID, K_CONCAT, K_RESIZE, K_MAXPOOL, K_IDENTITY, K_MATMUL, K_RESHAPE,
    K_HSWISH, /* a plan step only: four graph nodes fused (see find_hswish) */
    K_FUSED   /* a plan step only: an Add run by the convolution before it (fuse_residuals) */
};

enum dtype { DT_NONE = 0, DT_FLOAT, DT_INT32 };

typedef struct node {
    char *name, *op;
    int kind;
    int n_in;
    int *in;      /* node index of each data input ("^ctrl" inputs dropped) */
    int *in_port; /* k of "name:k" (0 when absent) */
    char *bad;    /* why this node cannot run (unsupported attribute), or NULL */
    /* attributes of the ops we run */
    int stride[2], dil[2], ksize[2], same, act, has_bias, keep_dims, align_corners, half_pixel;
    int ph_shape[4], ph_rank;
    /* Const value (from the weight file) */
    int dtype, rank, shape[8];
    size_t count;
    const float *f;
    const int32_t *i32;
    int computable; /* -1 unknown, 0, 1 */
} node;

typedef struct name_ix {
    const char *name;
    int idx;
} name_ix;

struct nn_model {
    char *json_path;
    const char *json_base; /* file name part of json_path, for messages */
    int n;
    node *nodes;
    name_ix *index; /* sorted by name */
    float *fdata;
    int32_t *idata;
    char sha[65];
    int placeholder;
};

/* qsort/bsearch order of name_ix (by name). */
int nn_name_ix_cmp(const void *a, const void *b);

/* 1 if Reshape node nd is one the engine runs (see nn_model.c). */
int nn_reshape_supported(const nn_model *m, const node *nd);

#endif
