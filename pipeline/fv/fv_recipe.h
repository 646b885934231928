/* fv_recipe — a render recipe (JSON, documented in RECIPE.md) parsed and checked for structure.
 *
 * Parsing checks every field's presence, type and range that do not need the network (unknown
 * fields, wrong types, negative sizes, batch targets outside the batch...). What needs the model
 * (layer names, channel counts, positions) is checked by fv_render against the plan. Errors are
 * one line "recipe.json: objectives[0].channel: what is wrong (what was expected)". */
#ifndef FV_RECIPE_H
#define FV_RECIPE_H

#include <stdint.h>

#include "fv_param.h"
#include "fv_transform.h"
#include "util.h"

/* Largest batch, number of objectives, transforms and snapshots a recipe may hold. */
#define FV_RECIPE_MAX_BATCH 64
#define FV_RECIPE_MAX_OBJECTIVES 64
#define FV_RECIPE_MAX_OPS 16
#define FV_RECIPE_MAX_SNAPSHOTS 64

typedef enum fv_obj_kind {
    FV_KIND_NEURON,
    FV_KIND_CHANNEL,
    FV_KIND_LAYER,
    FV_KIND_CLASS,
    FV_KIND_DIRECTION,
    FV_KIND_DIVERSITY,
    FV_KIND_L1,
    FV_KIND_TV,
    FV_KIND_BLUR
} fv_obj_kind;

/* Layer of the class objective when none is given: the heatmap's logits (before its sigmoid). */
#define FV_CLASS_LAYER "tower_0/Sigmoid:preact"

typedef struct fv_recipe_obj {
    fv_obj_kind kind;
    char *layer;                     /* owned; NULL for image objectives */
    int channel;                     /* neuron, channel; class: the class index (-1: by name) */
    char *class_name;                /* class: a COCO-80 name to resolve, owned, or NULL */
    int x, y;                        /* neuron; -1: centre of the layer */
    float *vector;                   /* direction: owned, n_vector floats, or NULL with vector_seed */
    int n_vector;
    uint64_t vector_seed;            /* direction: random unit vector from this seed (if !vector) */
    float wts[FV_RECIPE_MAX_BATCH];  /* per batch element weight (0 where not targeted) */
    double weight;                   /* diversity: its single weight */
} fv_recipe_obj;

typedef struct fv_recipe {
    char *path;                      /* the recipe file as given (for messages) */
    char *model_json, *model_bin;    /* resolved paths, owned */
    char *model_sha256;              /* expected sha256 (nn_model_sha256 form) or NULL */
    char *layer;                     /* default layer of objectives, or NULL */
    int size, steps, batch;
    uint64_t seed;
    double lr, beta1, beta2, eps;
    fv_param_kind param_kind;
    int decorrelate;
    int grey;                        /* one channel copied to R, G and B (networks of grey images) */
    double sd;
    int n_shared, shared[FV_PARAM_MAX_SHARED];
    char *transforms_preset;         /* "default", "robust", "none", or NULL for an explicit list */
    int n_ops;
    fv_op ops[FV_RECIPE_MAX_OPS];
    int n_objs;
    fv_recipe_obj objs[FV_RECIPE_MAX_OBJECTIVES];
    int n_snapshots, snapshots[FV_RECIPE_MAX_SNAPSHOTS]; /* sorted, distinct, each in 0..steps */
    int log_every;
} fv_recipe;

/* Reads and checks the recipe at path. On success *out is owned by the caller (fv_recipe_free).
 * Returns 0, or -1 with e (one line naming the file and the field). */
int fv_recipe_load(const char *path, fv_recipe **out, err *e);

/* Same from a JSON text; `path` names it in messages and anchors relative model paths. */
int fv_recipe_parse(const char *path, const char *text, fv_recipe **out, err *e);

/* The recipe with every default filled in, as compact JSON text with sorted keys (heap string owned
 * by the caller). The same recipe always gives the same text. */
char *fv_recipe_to_json(const fv_recipe *r);

/* Fills ops/n_ops with a named preset ("default", "robust", "none"). Returns 0, or -1 if unknown. */
int fv_recipe_preset(const char *name, fv_op *ops, int *n_ops);

/* Name of an objective kind ("neuron", ...). */
const char *fv_recipe_kind_name(fv_obj_kind k);

/* Frees r (NULL is fine). */
void fv_recipe_free(fv_recipe *r);

#endif
