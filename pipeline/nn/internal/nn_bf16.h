/* nn_bf16 — single-precision matrix products on AVX512-BF16 vectors (VDPBF16PS: AMD Zen 4 and
 * later, Intel Cooper Lake and Sapphire Rapids), by the same bf16x3 splitting as nn_amx (nn_amx.h:
 * a.b = hi.hi + hi.lo + lo.hi summed in float, about 1e-5 of the sum of |a||b|). Internal to
 * pipeline/nn: nn_ops routes training's products here on a CPU without AMX when asked
 * (nn_ops_set_gemm(NN_GEMM_BF16)). Convolutions reach it through their im2col matrix (nn_conv.c);
 * a convolution of one input channel takes nn_amx_conv1_* (plain AVX-512F, no tiles).
 *
 * Results depend only on the sizes (blocking is fixed), never on the thread count or on timing.
 * Each call runs on its calling thread; nn_ops splits a product across its pool. */
#ifndef FV_NN_BF16_H
#define FV_NN_BF16_H

/* 1 if products may run here: the CPU has AVX-512 F, BW, VL and AVX512_BF16 (CPUID leaf 7
 * subleaf 1, EAX bit 5), the OS saves the AVX-512 state (XCR0 bits 1, 2, 5-7), and the
 * environment does not set FV_NO_BF16 to a value other than "" or "0" (valgrind, for one, does not
 * know VDPBF16PS; `make leakcheck` sets it). Decided once per process; thread-safe. */
int nn_bf16_available(void);

/* 1 if the CPU and the OS offer what nn_bf16_available() needs, whatever FV_NO_BF16 says (nn_amx
 * needs it too). */
int nn_bf16_cpu(void);

/* Row-major C (m, n) = op(A) (m, k) . op(B) (k, n) + beta * C, as cblas_sgemm with alpha 1 and
 * beta 0 or 1: ta = 0: A is (m, k) with row stride lda; ta = 1: A is stored transposed, (k, m);
 * likewise tb for B, (k, n) or (n, k). Only after nn_bf16_available() returned 1. The scratch it
 * packs the operands into is per thread, kept for the thread's next call (under 1 MB for
 * n <= 512). */
void nn_bf16_gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                  float beta, float *c, int ldc);

#endif
