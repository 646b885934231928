/* nn_model — what nn.h answers about a loaded model: node lookup by name, node names and ops,
 * the input, which nodes the engine can compute, and freeing it. */
#include <stdlib.h>
#include <string.h>

#include "nn_graph.h"

int nn_name_ix_cmp(const void *a, const void *b)
{
    return strcmp(((const name_ix *)a)->name, ((const name_ix *)b)->name);
}

int nn_model_find(const nn_model *m, const char *node_name)
{
    name_ix key = {node_name, 0};
    const name_ix *r = bsearch(&key, m->index, (size_t)m->n, sizeof *m->index, nn_name_ix_cmp);
    return r ? r->idx : -1;
}

int nn_model_n_nodes(const nn_model *m) { return m->n; }
const char *nn_model_node_name(const nn_model *m, int i) { return m->nodes[i].name; }
const char *nn_model_node_op(const nn_model *m, int i) { return m->nodes[i].op; }
const char *nn_model_sha256(const nn_model *m) { return m->sha; }

const char *nn_model_input_name(const nn_model *m)
{
    return m->placeholder >= 0 ? m->nodes[m->placeholder].name : NULL;
}

int nn_model_input_shape(const nn_model *m, int shape[4])
{
    if (m->placeholder < 0 || m->nodes[m->placeholder].ph_rank != 4) return -1;
    memcpy(shape, m->nodes[m->placeholder].ph_shape, sizeof(int) * 4);
    return 0;
}

/* A Reshape this engine runs: to a constant int32 shape of rank 2 or 4 that keeps the batch
 * dimension (-1 first), so that it moves no data. Others (the detector head's gathers) are
 * reported as unsupported instead of failing at plan time. */
int nn_reshape_supported(const nn_model *m, const node *nd)
{
    if (nd->n_in < 2) return 0;
    const node *c = &m->nodes[nd->in[1]];
    if (c->kind != K_CONST || c->dtype != DT_INT32 || (c->count != 2 && c->count != 4) || c->i32[0] != -1) return 0;
    int unknown = 0;
    for (size_t k = 1; k < c->count; k++) {
        if (c->i32[k] == -1) unknown++;
        else if (c->i32[k] < 1) return 0;
    }
    return unknown <= 1;
}

/* Whether node i and all its ancestors can run, memoized in node.computable. The walk keeps its
 * own stack (a chain of 400000 nodes overflowed the C stack when it recursed). A node being
 * walked counts as not computable, which is what a node on a cycle must get. */
static int computable(nn_model *m, int root)
{
    if (m->nodes[root].computable >= 0) return m->nodes[root].computable;
    int *stk = NULL, *next = NULL, top = 0, cap = 0;
    for (int i = root; i >= 0;) {
        if (top == cap) {
            cap = cap ? 2 * cap : 64;
            stk = xrealloc(stk, sizeof(int) * (size_t)cap);
            next = xrealloc(next, sizeof(int) * (size_t)cap);
        }
        m->nodes[i].computable = 0;
        stk[top] = i, next[top] = 0, top++;
        /* walk until a node of unknown value is met (pushed next round) or all is known */
        for (i = -1; top > 0 && i < 0;) {
            node *nd = &m->nodes[stk[top - 1]];
            int k = next[top - 1];
            if (k == 0 && (nd->kind == K_OTHER || nd->bad || (nd->kind == K_RESHAPE && !nn_reshape_supported(m, nd)))) {
                top--; /* stays 0 */
            } else if (k == nd->n_in) {
                nd->computable = 1;
                top--;
            } else if (nd->in_port[k] != 0 || m->nodes[nd->in[k]].computable == 0) {
                top--;
            } else if (m->nodes[nd->in[k]].computable == 1) {
                next[top - 1]++;
            } else {
                i = nd->in[k]; /* looked at again once it is known */
            }
        }
    }
    free(stk);
    free(next);
    return m->nodes[root].computable;
}

int nn_model_node_computable(const nn_model *m, int i)
{
    return computable((nn_model *)m, i);
}

void nn_model_free(nn_model *m)
{
    if (!m) return;
    for (int i = 0; i < m->n; i++) {
        free(m->nodes[i].name);
        free(m->nodes[i].op);
        free(m->nodes[i].in);
        free(m->nodes[i].in_port);
        free(m->nodes[i].bad);
    }
    free(m->nodes);
    free(m->index);
    free(m->fdata);
    free(m->idata);
    free(m->json_path);
    free(m);
}

