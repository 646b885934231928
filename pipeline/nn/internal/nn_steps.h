/* nn_steps — a plan as the planner (nn_plan.c) builds it and the executor (nn_exec.c) runs it,
 * internal to pipeline/nn: tensors in two arenas (values, gradients; nn_layout.c places them) and
 * a list of steps, one kernel call each (nn_ops.h), some fused with their neighbours (nn_fuse.c). */
#ifndef FV_NN_STEPS_H
#define FV_NN_STEPS_H

#include <stddef.h>
#include <stdint.h>

#include "nn_graph.h"
#include "nn_ops.h"

typedef struct tensor {
    int shape[4];
    size_t size;
    float *val;  /* activation arena, or the model's weights for a constant */
    float *grad; /* gradient arena (NULL until the first backward, or when no gradient flows) */
    int is_const, needs_grad;
    int zero_step; /* backward zeroes grad just before this step (its last consumer); -1: at start */
    uint16_t *mask; /* a Relu conv's output that gates a depthwise backward: its signs, which the
                     * conv writes (nn_hswish_out's mask) and the gate reads instead of val; owned */
} tensor;

typedef struct step {
    int kind, node;
    const char *opname; /* for listing: the node's op, or "Relu"/"Relu6" for a split activation */
    int out, n_in;
    int *in; /* tensor indices */
    int act;
    nn_geom g;
    const float *w, *b;
    nn_conv_pack *pk; /* K_CONV: the weights prepared for the AVX-512 products, or NULL */
    int res;          /* K_CONV with pk: in[1], a residual added to the output (fuse_residuals), or -1 */
    /* fuse_gates: a K_DWCONV whose backward applies its input's activation derivative (gate, one of
     * nn_simd.h's NN_GATE_*, at the values of tensor gate_t, into the gradient of gate_t); the
     * producer of that activation then skips it (act_done) or its whole backward (bwd_skip) */
    int gate, gate_t, act_done, bwd_skip;
    float ga, gc; /* NN_GATE_HSWISH: the hard swish's constants */
    /* fuse_hswish: a conv or depthwise conv that also writes the hard swish of its output into tensor
     * hs_t (constants ha, hc), whose own K_HSWISH step then skips its forward (fwd_skip) */
    int hs_t, fwd_skip;
    int oh, ow;     /* ResizeBilinear */
    /* K_CONCAT: the channels of each input, and room for the pointers to their values and
     * gradients the kernels take (as many as the node has inputs) */
    int *cs;
    const float **xs;
    float **dxs;
    float ha, hc;   /* hard swish (c*x) * relu6(x + a) */
    double macs;    /* K_CONV, K_DWCONV: multiply-adds of one forward */
    double t_fwd, t_bwd; /* wall seconds summed while the plan's timing is on (nn_plan_set_timing) */
} step;

struct nn_plan {
    nn_model *m;
    int n_t, n_s;
    tensor *t;
    step *s;
    int in_t;
    int n_out;
    int *out_t;
    float **out_grad;
    float *arena, *garena;
    size_t arena_n; /* floats of a slot for every value: the bound the memory limit checks */
    float *col;
    int forwarded;
    int timing; /* nn_plan_set_timing */
    double macs;
};

/* The plan's memory limit, NN_MAX_PLAN_BYTES; lowered by the fuzz target (tests/fuzz/fuzz_nn_graph.c)
 * so that the plans it makes fit its own memory limit. */
extern size_t nn_plan_max_bytes;
/* The same for NN_MAX_PLAN_WORK. */
extern double nn_plan_max_work;

/* The fusions nn_plan_new applies to a finished plan, in this order (see nn_fuse.c). */
void nn_fuse_residuals(nn_plan *p);
void nn_fuse_gates(nn_plan *p);
void nn_fuse_hswish(nn_plan *p);

/* n floats, zeroed, on a 64-byte boundary: the tensors' offsets are multiples of 16 floats, so
 * each starts a cache line, and a pixel of 16k channels is whole lines (a 512-bit load that
 * straddles two lines costs two). Aborts when out of memory, as xmalloc does. */
float *nn_arena_alloc(size_t n);

/* Each tensor's offset in the value arena (nn_val_layout, once the plan is fused) or the gradient
 * arena (nn_grad_layout), into off[0 .. p->n_t): tensors that are never needed at the same time
 * share memory (nn_layout.c). Each returns its arena's length in floats. */
size_t nn_val_layout(const nn_plan *p, size_t *off);
size_t nn_grad_layout(const nn_plan *p, size_t *goff);
/* 1 (the default): tensors share memory; 0: a slot each (the tests' reference). */
extern int nn_share_memory;

/* First use without nn_set_threads: takes the thread count from the environment. */
int nn_set_threads_default(void);

#endif
