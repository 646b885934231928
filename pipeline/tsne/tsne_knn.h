/* tsne_knn — exact k nearest neighbours under squared Euclidean distance, by blocks of
 * sgemm (|q|^2 + |x|^2 - 2 q.x), each pair of blocks once (the distances are symmetric), and a
 * candidate buffer per query, cut back to its k best by quickselect.
 *
 * Why brute force and not a vantage-point tree: for the feature sizes t-SNE sees (50..784 dims)
 * tree searches degrade towards a full scan anyway, while sgemm runs the full scan near peak
 * speed; on 70,000 x 50 it takes seconds on two cores, and the result is exact. */
#ifndef FV_TSNE_KNN_H
#define FV_TSNE_KNN_H

#include <stddef.h>
#include <stdint.h>

/* For each of the n points of x (n x d, row-major), finds its k nearest other points (itself
 * excluded; 1 <= k <= n-1). Outputs, caller-allocated, n x k row-major: idx the neighbours'
 * indices, dist2 their squared distances, both in increasing distance (ties by lower index).
 * Uses the common pool's threads (pool.h); OpenBLAS is called single-threaded per block. */
void tsne_knn(const float *x, size_t n, int d, int k, int32_t *idx, float *dist2);

/* on: the scan takes its portable (AVX2 or plain) loop even where the AVX-512 one runs, so that
 * tests cover both (same results); off (the default): the fastest loop the CPU has. */
void tsne_knn_set_portable(int on);

/* For tests: 1 the symmetric search (each block pair once, its rows and columns scanned), 2 query
 * blocks against all references, 0 (the default) the symmetric one unless its buffers (n (2k + 16)
 * keys of 8 bytes) would pass 256 MB. Both give the same output. */
void tsne_knn_set_method(int method);

#endif
