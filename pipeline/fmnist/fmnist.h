/* fmnist — the pipeline's own Fashion-MNIST classifier: the data set (fmnist_data.c), the
 * network's parameters (fmnist_net.c) and passes (fmnist_pass.c), training and evaluation
 * (fmnist_train.c), export as a TF.js graph model that the nn engine (and so fv-render) loads
 * (fmnist_export.c; FORMAT.md describes the files). This is the module's one public header;
 * fmnist_impl.h is shared by its files.
 *
 * The network (channel counts from fmnist_arch; the default is the article's):
 *   input (n,28,28,1) pixel/255
 *   conv1 3x3 SAME c1 + ReLU -> conv2 3x3 SAME c2 + ReLU -> maxpool 2x2
 *   conv3 3x3 SAME c3 + ReLU -> conv4 3x3 SAME c4 + ReLU -> maxpool 2x2
 *   flatten (n, 7*7*c4) -> fc1 dense fc + ReLU -> logits dense 10
 * About 19 M multiply-adds per image with 32-32-64-64-256.
 *
 * Training: Adam on shuffled minibatches. A minibatch is cut into fixed chunks of images; each
 * chunk's convolutions (forward, then backward) run on one thread in a workspace of their own,
 * while the dense layers run once on the whole minibatch, their products cut into parts by the
 * sizes alone (pool_for_chunks). The convolutions' products are single-threaded OpenBLAS sgemm
 * on im2col matrices, or bf16x3 products (about 1e-5 relative; fmnist_train_opts.gemm) on AMX
 * tiles that read the input in place or on AVX512-BF16 vectors from im2col matrices.
 *
 * Determinism: every random number comes from the common rng module (xoshiro256**) seeded with
 * the seed; the chunk gradients are summed in chunk order and Adam runs element by element. So the
 * same seed, options and product path (sgemm, AMX or BF16) give the same weights, bit for bit, for any
 * FV_THREADS on the same machine (same OpenBLAS kernel).
 *
 * Errors: fallible functions return 0 or -1 and fill the caller's `err` with one line. */
#ifndef FV_FMNIST_H
#define FV_FMNIST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

#define FMNIST_SIDE 28
#define FMNIST_PIXELS (FMNIST_SIDE * FMNIST_SIDE)
#define FMNIST_CLASSES 10

/* Where Debian's dataset-fashion-mnist puts the IDX files. */
#define FMNIST_DATA_DIR "/usr/share/datasets/fashion-mnist"

/* Name of class i (0 "T-shirt/top" .. 9 "Ankle boot"), NULL outside 0..9. */
const char *fmnist_class_name(int i);

/* A set of images and labels, owned (free with fmnist_set_free). */
typedef struct fmnist_set {
    int n;
    uint8_t *images; /* n * 28*28 grey bytes, row-major, 0 = black background */
    uint8_t *labels; /* n labels 0..9 */
} fmnist_set;

/* Reads the training set (train=1: train-*-ubyte.gz) or the test set (t10k-*) from dir through
 * the idx module, keeping the first `limit` images (0: all). Checks 28x28 images, labels 0..9 and
 * equal counts. Returns 0, or -1 with e naming the file. */
int fmnist_load(const char *dir, int train, int limit, fmnist_set *out, err *e);

/* Frees the arrays and zeroes s. */
void fmnist_set_free(fmnist_set *s);

/* Channel counts: conv1..conv4 and the hidden dense layer. */
typedef struct fmnist_arch {
    int c1, c2, c3, c4, fc;
} fmnist_arch;

/* The article's network: 32, 32, 64, 64, 256. */
fmnist_arch fmnist_arch_default(void);

/* Parses "c1,c2,c3,c4,fc" (each 1..1024) into *a. Returns 0 or -1 with e. */
int fmnist_arch_parse(const char *s, fmnist_arch *a, err *e);

/* A network: architecture and all parameters in one allocation. */
typedef struct fmnist_net fmnist_net;

/* A new network with He-normal weights (std sqrt(2/fan_in)) drawn from seed and zero biases.
 * Owned by the caller (fmnist_net_free). Sizes must be positive (checked by fmnist_arch_parse). */
fmnist_net *fmnist_net_new(const fmnist_arch *a, uint64_t seed);
void fmnist_net_free(fmnist_net *net);

/* The architecture of net. */
fmnist_arch fmnist_net_arch(const fmnist_net *net);

/* All parameters as one float array (owned by net; the caller may modify it), count in *n.
 * Order: conv1 W (3,3,1,c1) HWIO, conv1 b, conv2 W, b, conv3 W, b, conv4 W, b, fc1 W (7*7*c4, fc)
 * (rows in NHWC flatten order), fc1 b, logits W (fc, 10), logits b. */
float *fmnist_net_params(fmnist_net *net, size_t *n);

/* Number of parameter tensors (12), and tensor i's name ("conv1/weights"), offset and count in
 * the flat array. */
int fmnist_net_n_tensors(const fmnist_net *net);
void fmnist_net_tensor(const fmnist_net *net, int i, const char **name, size_t *off, size_t *count);

/* Multiply-adds of one forward pass for one image. */
double fmnist_net_macs(const fmnist_net *net);

/* Mean softmax cross-entropy of n images x (n*784 floats, the pixel/255 inputs) with labels y,
 * on the calling thread. If grad is not NULL (same layout as fmnist_net_params), it receives
 * d(mean loss)/d(params). Returns the mean loss. For tests and small uses; training uses
 * fmnist_train. */
double fmnist_net_loss(fmnist_net *net, const float *x, const int *y, int n, float *grad);

/* Logits (n*10, caller-owned) of n images x (n*784 floats, pixel/255), on the calling thread. */
void fmnist_net_forward(fmnist_net *net, const float *x, int n, float *logits);

/* Predicted class of each of the n images of set s from index 0 (pred: n ints, caller-owned);
 * runs on pool_threads() threads. Returns the number of correct predictions. */
int fmnist_net_predict(fmnist_net *net, const fmnist_set *s, int *pred);

/* A checkpoint during training (fmnist_train_opts.checkpoint): after `step` minibatches (0:
 * before the first), `listed` when step is one of checkpoint_steps, `epoch` the epoch just ended
 * when this is an epoch's end and checkpoint_epochs is set (else 0), and the test accuracy of the
 * network at this point (-1 without a test set). */
typedef struct fmnist_checkpoint {
    long step;
    int listed, epoch;
    double test_accuracy;
} fmnist_checkpoint;

/* Called with the network at a checkpoint; returns 0, or -1 with e to stop training. The network
 * must not be modified. */
typedef int (*fmnist_checkpoint_fn)(void *ctx, const fmnist_net *net, const fmnist_checkpoint *c, err *e);

/* Training options. */
typedef struct fmnist_train_opts {
    int epochs;          /* >= 1 */
    int batch;           /* minibatch size, >= 1 */
    int chunk;           /* images per chunk (the unit of parallel work), >= 1 */
    float lr;            /* Adam learning rate; betas 0.9, 0.999, eps 1e-8 (as PyTorch) */
    uint64_t seed;       /* shuffling (init has its own seed in fmnist_net_new) */
    int log_every;       /* progress line every this many minibatches (0: only per epoch) */
    FILE *log;           /* progress lines "fv-train: ..." (NULL: silent) */
    int gemm;            /* where the products run: enum nn_gemm (nn_ops_set_gemm; one the CPU offers) */
    /* checkpoints (all zero/NULL: none): after these steps (ascending, 0 = before training) and,
     * with checkpoint_epochs, after every epoch, checkpoint(checkpoint_ctx, ...) is called once
     * per point (a listed step that ends an epoch is one call with both marks) */
    const long *checkpoint_steps;
    int n_checkpoint_steps, checkpoint_epochs;
    fmnist_checkpoint_fn checkpoint;
    void *checkpoint_ctx;
} fmnist_train_opts;

/* What training measured (times are wall seconds). */
typedef struct fmnist_train_report {
    double final_loss;    /* mean training loss of the last epoch */
    double test_accuracy; /* after the last epoch, when a test set was given; else -1 */
    double seconds;       /* all epochs, without the test evaluations */
    double epoch_seconds[64], epoch_loss[64], epoch_accuracy[64]; /* the first 64 epochs */
} fmnist_train_report;

/* Trains net on `train` for o->epochs epochs (a fresh shuffle of the training set per epoch;
 * the last minibatch of an epoch may be smaller), evaluating on `test` (may be NULL) after each
 * epoch and at each checkpoint (which changes no weight: the same weights with or without). Threads: pool_threads() (set nn_set_threads first); OpenBLAS is set to 1 thread while
 * training. Fills *rep. Returns 0, or -1 with e for bad options or when a checkpoint call failed. */
int fmnist_train(fmnist_net *net, const fmnist_set *train, const fmnist_set *test, const fmnist_train_opts *o,
                 fmnist_train_report *rep, err *e);

/* Writes net as a TF.js graph model: json_path (topology, weightsManifest naming bin_file, the
 * .bin's file name relative to the JSON) and bin_path (float32 little-endian weights, int32 for
 * the Reshape shape), both atomically. The exported graph takes RGB 0..255 (n,28,28,3) like
 * mbv3-coco: conv1's weights are spread over three input channels and divided by 3*255, so a grey
 * image given as equal R, G, B values computes what training computed. meta (may be NULL) is
 * stored as userDefinedMetadata.fmnist (it must not hold times if the bytes should be
 * reproducible). Returns 0 or -1 with e. */
int fmnist_net_save_tfjs(const fmnist_net *net, const char *json_path, const char *bin_path, const char *bin_file,
                         const char *meta_json, err *e);

#endif
