#include "CKernels.h"

// Dense products for the network passes, in single precision on AVX-512 or on AVX2 with FMA.
//
// Row-major products whose result is at most a few 64-float rows wide and whose other factor
// fits in L1: the layer products of the learner's networks on a cache-sized row block. Each
// keeps a tile of the result in registers across the whole inner dimension (no packing, no
// intermediate written back), and can fuse the bias row and the tanh derivative. The tiles are
// written once (dense_tiles.h) and compiled for each instruction set; on a processor with
// neither, the functions return 0 and the caller uses BLAS.

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
#include "dense_tiles.h"
#define INLINE static inline __attribute__((always_inline))

// 1 for AVX-512, 2 for AVX2 with FMA, 0 for neither.
static int isa(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 1;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
    return 0;
}

// AVX-512: 16 lanes, 32 registers; panels of 64 columns, tiles of up to 24 accumulators.
#define TARGET __attribute__((target("avx512f")))
#define NAME(x) x##_avx512
#define VEC __m512
#define MASK __mmask16
#define VLEN 16
#define PANEL 4
#define V_MASK(w) ((w) >= 16 ? (__mmask16)0xFFFF : (w) <= 0 ? (__mmask16)0 : (__mmask16)((1u << (w)) - 1))
#define V_LOAD(m, p) _mm512_maskz_loadu_ps(m, p)
#define V_STORE(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define V_SET1(x) _mm512_set1_ps(x)
#define V_ZERO() _mm512_setzero_ps()
#define V_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define V_MUL(a, b) _mm512_mul_ps(a, b)
#define V_SUB(a, b) _mm512_sub_ps(a, b)
#define V_ADD(a, b) _mm512_add_ps(a, b)
#define NN_CASES                                                                                               \
    case 4: NN_ROWS(6, 4) NN_ROWS(4, 4) NN_ROWS(2, 4) NN_ROWS(1, 4) break;                                     \
    case 3: NN_ROWS(8, 3) NN_ROWS(1, 3) break;                                                                 \
    case 2: NN_ROWS(12, 2) NN_ROWS(1, 2) break;                                                                \
    default: NN_ROWS(16, 1) NN_ROWS(1, 1) break;
#define TN_CASES                                                                                               \
    case 4: TN_ROWS(6, 4) TN_ROWS(4, 4) TN_ROWS(2, 4) TN_ROWS(1, 4) break;                                     \
    case 3: TN_ROWS(8, 3) TN_ROWS(1, 3) break;                                                                 \
    case 2: TN_ROWS(12, 2) TN_ROWS(1, 2) break;                                                                \
    default: TN_ROWS(16, 1) TN_ROWS(1, 1) break;
NN_TILE(6, 4) NN_TILE(4, 4) NN_TILE(2, 4) NN_TILE(1, 4) NN_TILE(8, 3) NN_TILE(1, 3)
NN_TILE(12, 2) NN_TILE(1, 2) NN_TILE(16, 1) NN_TILE(1, 1)
TN_TILE(6, 4) TN_TILE(4, 4) TN_TILE(2, 4) TN_TILE(1, 4) TN_TILE(8, 3) TN_TILE(1, 3)
TN_TILE(12, 2) TN_TILE(1, 2) TN_TILE(16, 1) TN_TILE(1, 1)
NN_PRODUCT
TN_PRODUCT
#undef TARGET
#undef NAME
#undef VEC
#undef MASK
#undef VLEN
#undef PANEL
#undef V_MASK
#undef V_LOAD
#undef V_STORE
#undef V_SET1
#undef V_ZERO
#undef V_FMA
#undef V_MUL
#undef V_SUB
#undef V_ADD
#undef NN_CASES
#undef TN_CASES

// AVX2 with FMA: 8 lanes, 16 registers; panels of 16 columns, tiles of up to 12 accumulators.
// Only C = start + A·B, only for widths that are multiples of 8 (one vector and up: 8 is a
// convolution's filter count, where the kernel took 0.55× sgemm's time on 400 × 8 × 256) and
// for k ≤ 512. Measured on an
// AMD EPYC (Zen kernels of OpenBLAS) beside sgemm: with AVX2's masked loads (vmaskmovps) the
// kernel ran at 60 GFLOPS against sgemm's 78 on 256 × 64 × 64, with plain loads at 97; at
// k = 2592 its B panel leaves L1 and it ran at half sgemm's speed; and its Aᵀ G was slower than
// sgemm's, so the weight gradients stay on BLAS here.
#define TARGET __attribute__((target("avx2,fma")))
#define NAME(x) x##_avx2
#define VEC __m256
#define MASK int
#define VLEN 8
#define PANEL 2
#define V_MASK(w) 0
#define V_LOAD(m, p) _mm256_loadu_ps(p)
#define V_STORE(p, m, v) _mm256_storeu_ps(p, v)
#define V_SET1(x) _mm256_set1_ps(x)
#define V_ZERO() _mm256_setzero_ps()
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_MUL(a, b) _mm256_mul_ps(a, b)
#define V_SUB(a, b) _mm256_sub_ps(a, b)
#define V_ADD(a, b) _mm256_add_ps(a, b)
#define NN_CASES                                                                                               \
    case 2: NN_ROWS(6, 2) NN_ROWS(2, 2) NN_ROWS(1, 2) break;                                                   \
    default: NN_ROWS(12, 1) NN_ROWS(4, 1) NN_ROWS(1, 1) break;
NN_TILE(6, 2) NN_TILE(2, 2) NN_TILE(1, 2) NN_TILE(12, 1) NN_TILE(4, 1) NN_TILE(1, 1)
NN_PRODUCT

int trpo_sdense_instruction_set(void) { return isa(); }

int trpo_sdense_product(long rows, long n, long k, const float *a, long lda, const float *b, long ldb, int start,
                        const float *bias, const float *h, long ldh, float *c, long ldc) {
    switch (isa()) {
    case 1:
        if (n < 16) return 0;
        nn_avx512(rows, n, k, a, lda, b, ldb, start, bias, h, ldh, c, ldc);
        return 1;
    case 2:
        if (n < 8 || n % 8 != 0 || k > 512) return 0;
        nn_avx2(rows, n, k, a, lda, b, ldb, start, bias, h, ldh, c, ldc);
        return 1;
    default: return 0;
    }
}

int trpo_sdense_transposed_product(long kdim, long n, long rows, const float *a, long lda, const float *g, long ldg,
                                   float *c, long ldc) {
    if (n < 16) return 0;
    switch (isa()) {
    case 1: tn_avx512(kdim, n, rows, a, lda, g, ldg, c, ldc); return 1;
    default: return 0;
    }
}
#else
int trpo_sdense_instruction_set(void) { return 0; }
int trpo_sdense_product(long rows, long n, long k, const float *a, long lda, const float *b, long ldb, int start,
                        const float *bias, const float *h, long ldh, float *c, long ldc) {
    return 0;
}
int trpo_sdense_transposed_product(long kdim, long n, long rows, const float *a, long lda, const float *g, long ldg,
                                   float *c, long ldc) {
    return 0;
}
#endif
