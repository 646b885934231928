/* peak_dpbf16 — one core's throughput of VDPBF16PS zmm (AVX512-BF16: 32 bf16 products summed
 * into 16 float lanes) and of VFMADD231PS zmm (16 float multiply-adds), the two instructions the
 * bf16x3 (nn_bf16) and float (OpenBLAS sgemm) products run on; the numbers behind the README's
 * benchmark note. Each loop has 24 independent accumulators (more than latency x issue width), and
 * the time is the thread's CPU time, so that a shared machine's time slicing does not count.
 *   cc -O2 -mavx512f -mavx512bf16 -o /tmp/peak tests/bench/peak_dpbf16.c && /tmp/peak
 * Not part of `make bench` (which measures whole tools against their peers). */
#include <stdio.h>
#include <time.h>

static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define R(I, n) I " %%zmm30, %%zmm31, %%zmm" #n "\n"
#define BODY(I)                                                                                     \
    R(I, 0) R(I, 1) R(I, 2) R(I, 3) R(I, 4) R(I, 5) R(I, 6) R(I, 7) R(I, 8) R(I, 9) R(I, 10) R(I, 11) \
    R(I, 12) R(I, 13) R(I, 14) R(I, 15) R(I, 16) R(I, 17) R(I, 18) R(I, 19) R(I, 20) R(I, 21)      \
    R(I, 22) R(I, 23)
#define CLOBBER                                                                                         \
    "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", \
        "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",  \
        "xmm23", "xmm30", "xmm31"

/* Seconds of CPU time for it iterations of 24 instructions. */
static double run(int dp, long it)
{
    double t = cpu_now();
    if (dp)
        __asm__ volatile("vpxord %%zmm30, %%zmm30, %%zmm30\n vpxord %%zmm31, %%zmm31, %%zmm31\n1:\n" BODY("vdpbf16ps")
                         "dec %0\n jnz 1b"
                         : "+r"(it)::CLOBBER);
    else
        __asm__ volatile("vpxord %%zmm30, %%zmm30, %%zmm30\n vpxord %%zmm31, %%zmm31, %%zmm31\n1:\n" BODY("vfmadd231ps")
                         "dec %0\n jnz 1b"
                         : "+r"(it)::CLOBBER);
    return cpu_now() - t;
}

int main(void)
{
    const long it = 50000000;
    double bd = 1e9, bf = 1e9;
    for (int r = 0; r < 7; r++) { /* interleaved; the minimum of each */
        double d = run(1, it), f = run(0, it);
        bd = d < bd ? d : bd, bf = f < bf ? f : bf;
    }
    double n = (double)it * 24;
    printf("vdpbf16ps zmm   %.2f G/s: %.1f G bf16 products/s, %.1f G float products/s in bf16x3 (3 each)\n",
           n / bd * 1e-9, n / bd * 32e-9, n / bd * 32e-9 / 3);
    printf("vfmadd231ps zmm %.2f G/s: %.1f G float multiply-adds/s\n", n / bf * 1e-9, n / bf * 16e-9);
    return 0;
}
