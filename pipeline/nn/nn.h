/* nn — a small CPU inference + input-gradient engine for TensorFlow.js graph models.
 *
 * Two objects:
 *   nn_model  the graph (nodes, ops, attributes) and all weights as float32 in one allocation;
 *             immutable after loading, so several plans (and threads) can share one model.
 *   nn_plan   the part of the graph needed for some requested outputs, scheduled for one input
 *             size (batch N, height H, width W), with every activation buffer allocated once.
 *             A plan is reused for every forward/backward step (feature visualization runs
 *             hundreds of steps on one plan). One plan is used by one thread at a time.
 *
 * Tensors are float32 NHWC, row-major, no padding: element (n,h,w,c) is at ((n*H+h)*W+w)*C+c.
 *
 * Output names. A requested output is a node name of the graph ("tower_0/keypoints"), optionally
 * followed by the suffix ":preact", which asks for the node's value before its final activation:
 *   - a _FusedConv2D / FusedDepthwiseConv2dNative / _FusedMatMul whose fused_ops end in Relu or
 *     Relu6: the value
 *     after Conv + BiasAdd, before the fused Relu/Relu6;
 *   - a Relu, Relu6 or Sigmoid node: the value of its input;
 *   - any other node: the node's value itself (so a caller may always ask for ":preact").
 * Gradients flow through the preact value like through any other tensor.
 *
 * Dense layers: MatMul / _FusedMatMul (no transposes; a [batch, k] tensor is held as (n,1,1,k)
 * and runs as a 1x1 convolution) and Reshape to a constant int32 shape of rank 2 or 4 whose first
 * entry is -1 (the batch stays; NHWC data does not move), as fv-train's models use them.
 *
 * Threads: nn_set_threads (or env FV_THREADS, default: number of cores) sets the thread count of
 * this module's own loops. OpenBLAS always runs on one thread: our pool splits each matrix
 * product into blocks of a fixed number of rows, so that results do not depend on the thread
 * count (OpenBLAS's own split does, in the last bits, and a render's bytes would then depend on
 * what the driver ran beside it).
 *
 * Kernels: on a CPU with AVX-512 a plan runs its convolutions on kernels of its own (nn_simd.h:
 * the weights packed once, as float16 where that is exact, bias, activation and a residual Add
 * fused in), and fuses a hard swish or Relu with the depthwise convolution next to it (nn_fuse.c:
 * fuse_residuals, fuse_gates, fuse_hswish); elsewhere it takes OpenBLAS and portable loops. The
 * two give the same values to float rounding (the tests compare them), each the same bytes for
 * any thread count.
 *
 * Errors: fallible functions return 0 or -1 and fill the caller's `err` with one line naming the
 * file, field or node and what was expected.
 *
 * Files: nn_load.c reads model.json and its weights, nn_model.c answers questions about the
 * graph, nn_plan.c and nn_fuse.c make a plan, nn_exec.c runs it, nn_photo.c feeds it photos;
 * nn_graph.h and nn_steps.h are their shared internal types, nn_ops.h the kernels. */
#ifndef FV_NN_H
#define FV_NN_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* The graph and its weights (immutable after load). */
typedef struct nn_model nn_model;
/* A pruned, scheduled subgraph for one (batch, h, w), with its memory. */
typedef struct nn_plan nn_plan;

/* Loads a TF.js graph model: json_path is the model.json (modelTopology + weightsManifest),
 * bin_path the weight file (all shards of the manifest concatenated in manifest order; for a
 * one-shard model simply the .bin). If bin_path is NULL, the manifest's `paths` are read
 * relative to the JSON's directory and concatenated. Float weights stored as float16 are decoded
 * to float32, raw float32 and int32 constants are kept. Checks: the JSON is a graph model, every
 * weight's shape matches its Const node, the byte sizes add up exactly to the .bin size.
 * On success *out is a new model owned by the caller (free with nn_model_free). Returns 0 or -1
 * with e ("centernet.bin: truncated: ..." / "centernet.json: weightsManifest ...: ..."). */
int nn_model_load_tfjs(const char *json_path, const char *bin_path, nn_model **out, err *e);

/* Loads the model of a directory holding exactly one *.json graph model and its weight file(s)
 * (the form of .cache/models/mbv3-coco). *out as for nn_model_load_tfjs. Returns 0 or -1 with e. */
int nn_model_load_dir(const char *dir, nn_model **out, err *e);

/* Frees the model. Every plan made from it must be freed first. NULL is allowed. */
void nn_model_free(nn_model *m);

/* 64 hex characters: SHA-256 of the model JSON file's bytes followed by the weight bytes as read
 * (for a one-shard model: sha256(json || bin)). Owned by the model. */
const char *nn_model_sha256(const nn_model *m);

/* Number of nodes of the graph (all of them, Const included). */
int nn_model_n_nodes(const nn_model *m);

/* Index of the node called node_name (no ":preact" suffix), or -1 if there is none. */
int nn_model_find(const nn_model *m, const char *node_name);

/* Name and op of node i (0 <= i < nn_model_n_nodes); strings owned by the model. */
const char *nn_model_node_name(const nn_model *m, int i);
const char *nn_model_node_op(const nn_model *m, int i);

/* 1 if node i could be a plan output: its op and the ops of all its ancestors are implemented
 * (Const and Placeholder count as implemented), else 0. */
int nn_model_node_computable(const nn_model *m, int i);

/* Name of the model's (first) Placeholder node, or NULL if it has none. Owned by the model. */
const char *nn_model_input_name(const nn_model *m);

/* The Placeholder's static shape from the graph (e.g. 1,512,512,3 for mbv3-coco); -1 for an
 * unknown dimension. Returns 0, or -1 if the model has no placeholder with a 4-D shape. */
int nn_model_input_shape(const nn_model *m, int shape[4]);

/* Limits of a plan, checked in 64-bit arithmetic before anything is allocated, so that a model
 * whose sizes would overflow (a 100000x100000 input, a huge stride or Resize) is refused with its
 * node named instead of overflowing or exhausting memory: at most NN_MAX_TENSOR_ELEMENTS floats in
 * any one tensor (1 GiB; mbv3-coco's largest at 2048x2048 is 2^26), kernel windows (with their
 * dilation) and strides of at most NN_MAX_WINDOW, and at most NN_MAX_PLAN_BYTES for the plan's
 * activations, their gradients and the convolution scratch together (16 GiB; mbv3-coco at
 * 2048x2048 needs some 10), and at most NN_MAX_PLAN_WORK multiply-adds and pooling taps in one
 * forward pass (2^38, some 2.7e11; mbv3-coco at 2048x2048 needs 2e10), so that a
 * 100000-tap window is refused rather than run for hours. */
#define NN_MAX_TENSOR_ELEMENTS (1LL << 28)
#define NN_MAX_WINDOW (1 << 24)
#define NN_MAX_PLAN_BYTES (1LL << 34)
#define NN_MAX_PLAN_WORK (1LL << 38)

/* Builds a plan computing `outputs` (n_outputs >= 1 node names, each optionally with ":preact")
 * from the Placeholder `input_name` (NULL: the model's placeholder) for an input of shape
 * (batch, h, w, C), C taken from the graph. Only the nodes the outputs depend on are kept; an
 * op this engine does not implement among them is an error naming node and op. ResizeBilinear
 * sizes baked into the graph for its native input size are scaled with the actual input size.
 * All activation buffers are allocated here, gradient buffers at the first nn_plan_backward.
 * On success *out is owned by the caller (nn_plan_free) and borrows m, which must outlive it.
 * Returns 0 or -1 with e (unknown node, unsupported op, shapes that do not fit, sizes beyond the
 * limits above). */
int nn_plan_new(nn_model *m, const char *input_name, int batch, int h, int w,
                const char *const *outputs, int n_outputs, nn_plan **out, err *e);

/* The input buffer, (N,H,W,C) floats, owned by the plan: fill it before nn_plan_forward.
 * mbv3-coco takes RGB in 0..255. */
float *nn_plan_input(nn_plan *p);

/* Shape (N,H,W,C) of the input; returns the element count. */
size_t nn_plan_input_shape(const nn_plan *p, int shape[4]);

/* Runs the forward pass from the current input. Returns 0 (-1 with e is reserved for failures
 * that depend on values; none exist today). */
int nn_plan_forward(nn_plan *p, err *e);

/* Value of output i (0 <= i < n_outputs, in the order given to nn_plan_new) after the last
 * forward, NHWC; its shape goes to shape[4] if shape is not NULL. Owned by the plan, valid until
 * the next forward or nn_plan_free. */
const float *nn_plan_output(const nn_plan *p, int i, int shape[4]);

/* Number of elements of output i. */
size_t nn_plan_output_size(const nn_plan *p, int i);

/* Buffer for dL/d(output i), same shape as the output, owned by the plan: the caller writes it
 * before nn_plan_backward. Never modified by the engine; zeroed by nn_plan_new and by
 * nn_plan_zero_grad. Outputs the caller leaves at zero contribute nothing. */
float *nn_plan_output_grad(nn_plan *p, int i);

/* Sets every output gradient buffer to zero. */
void nn_plan_zero_grad(nn_plan *p);

/* Backpropagates the output gradients through the graph, using the activations of the last
 * nn_plan_forward (call forward first), and fills the input gradient. Internal gradients are
 * recomputed from scratch on every call (nothing accumulates across calls). Returns 0, or -1
 * with e if no forward pass has been run. */
int nn_plan_backward(nn_plan *p, err *e);

/* dL/d(input) after the last nn_plan_backward, (N,H,W,C) like nn_plan_input; owned by the plan. */
const float *nn_plan_input_grad(const nn_plan *p);

/* Multiply-adds of one forward pass of the plan (convolutions and depthwise convolutions). */
double nn_plan_macs(const nn_plan *p);

/* Which kernels the plan's convolutions run on, as the settings stand now (for a sidecar or a
 * benchmark's INFO line; a static string): "avx512-f16" (nn_simd.h's products on float16 weights
 * and its depthwise gathers), "avx512-f32" (weights not exactly float16), "avx512-f16+f32" (some
 * of each), "amx-bf16x3+avx512" or "amx-bf16x3+portable" (training's AMX products, the depthwise
 * layers on AVX-512 or the portable loops), "portable+sgemm" (no AVX-512, or switched off:
 * OpenBLAS's sgemm and the portable loops), "avx512+sgemm" (a plan made with them off, run with
 * them on: sgemm, and the depthwise layers on AVX-512); "avx512" or "portable" for a plan without
 * dense convolutions. */
const char *nn_plan_kernels(const nn_plan *p);

/* Number of steps of the plan (one per kept op), and the node name, op and output shape of
 * step i; strings owned by the model. For listing and debugging. A hard-swish chain
 * (x * relu6(x + 3) / 6, four graph nodes) runs as one step whose op is "HardSwish"; a residual
 * Add run inside the convolution before it (with the AVX-512 kernels) is listed as "Add (fused)". */
int nn_plan_n_steps(const nn_plan *p);
void nn_plan_step_info(const nn_plan *p, int i, const char **name, const char **op, int shape[4]);

/* A profile per step (fv-nn bench --steps): nn_plan_set_timing(p, 1) zeroes the totals, and from
 * then on nn_plan_forward and nn_plan_backward add each step's wall seconds to them (two clock
 * reads a step; off by default; 0 turns it off again and keeps the totals). nn_plan_step_times gives step i's
 * totals and its multiply-adds in one forward (0 for a step that is not a convolution); a
 * pointer may be NULL. A step whose work a fused neighbour does has (near) zero time. */
void nn_plan_set_timing(nn_plan *p, int on);
void nn_plan_step_times(const nn_plan *p, int i, double *fwd_s, double *bwd_s, double *macs);

/* Frees the plan and all its buffers. NULL is allowed. */
void nn_plan_free(nn_plan *p);

/* Sets the thread count of this module's loops (n >= 1); pins OpenBLAS to one thread. */
void nn_set_threads(int n);

/* The thread count from env FV_THREADS (a positive integer), else the number of online cores.
 * Returns -1 if FV_THREADS is set but not a positive integer. */
int nn_threads_from_env(void);

/* Resizes an 8-bit interleaved image (sw x sh, ch channels) to dw x dh with bilinear
 * interpolation (pixel centres aligned, edge clamped), writing floats 0..255 to dst
 * (dh*dw*ch, caller-owned). For feeding photos to a network. */
void nn_resize_u8_to_float(const uint8_t *src, int sw, int sh, int ch, float *dst, int dw, int dh);

/* Name of COCO-80 class i (0 person, 3 motorcycle, 41 cup, ...), the order of mbv3-coco's
 * tower_0/keypoints channels; NULL outside 0..79. */
const char *nn_coco80_name(int i);

#endif
