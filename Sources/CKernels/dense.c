#include "CKernels.h"

// Dense products for the network passes, in single precision on AVX-512.
//
// Row-major products whose result is at most a few 64-float rows wide and whose other factor
// fits in L1: the layer products of the learner's networks on a cache-sized row block. Each
// keeps a tile of the result in registers across the whole inner dimension (no packing, no
// intermediate written back), and can fuse the bias row and the tanh derivative. Compiled for
// AVX-512 only; on other processors the functions return 0 and the caller uses BLAS.

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))
#define INLINE static inline __attribute__((always_inline))

static int avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

INLINE AVX512 __mmask16 lane_mask(long width) {
    return width >= 16 ? (__mmask16)0xFFFF : width <= 0 ? (__mmask16)0 : (__mmask16)((1u << width) - 1);
}

// A tile of R rows × NV vectors of C = start + A·B, then ⊙ (1 − H²) when h is given.
// start: 0 zero, 1 the existing C, 2 the row `bias`.
#define NN_TILE(R, NV)                                                                                         \
    INLINE AVX512 void nn_tile_##R##_##NV(long k, const float *a, long lda, const float *b, long ldb,         \
                                          int start, const float *bias, const float *h, long ldh, float *c,    \
                                          long ldc, const __mmask16 *mask) {                                   \
        __m512 acc[R][NV];                                                                                     \
        for (int r = 0; r < R; r++)                                                                            \
            for (int j = 0; j < NV; j++)                                                                       \
                acc[r][j] = start == 1 ? _mm512_maskz_loadu_ps(mask[j], c + r * ldc + 16 * j)                  \
                          : start == 2 ? _mm512_maskz_loadu_ps(mask[j], bias + 16 * j)                         \
                                       : _mm512_setzero_ps();                                                  \
        for (long p = 0; p < k; p++) {                                                                         \
            __m512 bv[NV];                                                                                     \
            for (int j = 0; j < NV; j++) bv[j] = _mm512_maskz_loadu_ps(mask[j], b + p * ldb + 16 * j);         \
            for (int r = 0; r < R; r++) {                                                                      \
                __m512 av = _mm512_set1_ps(a[r * lda + p]);                                                    \
                for (int j = 0; j < NV; j++) acc[r][j] = _mm512_fmadd_ps(av, bv[j], acc[r][j]);                \
            }                                                                                                  \
        }                                                                                                      \
        if (h) {                                                                                               \
            const __m512 one = _mm512_set1_ps(1.0f);                                                           \
            for (int r = 0; r < R; r++)                                                                        \
                for (int j = 0; j < NV; j++) {                                                                 \
                    __m512 hv = _mm512_maskz_loadu_ps(mask[j], h + r * ldh + 16 * j);                          \
                    acc[r][j] = _mm512_mul_ps(acc[r][j], _mm512_sub_ps(one, _mm512_mul_ps(hv, hv)));           \
                }                                                                                              \
        }                                                                                                      \
        for (int r = 0; r < R; r++)                                                                            \
            for (int j = 0; j < NV; j++) _mm512_mask_storeu_ps(c + r * ldc + 16 * j, mask[j], acc[r][j]);      \
    }

NN_TILE(6, 4)
NN_TILE(4, 4)
NN_TILE(2, 4)
NN_TILE(1, 4)
NN_TILE(8, 3)
NN_TILE(1, 3)
NN_TILE(12, 2)
NN_TILE(1, 2)
NN_TILE(16, 1)
NN_TILE(1, 1)

// Tiles of R rows while at least R rows are left.
#define NN_ROWS(R, NV)                                                                                         \
    for (; row + R <= rows; row += R)                                                                          \
        nn_tile_##R##_##NV(k, a + row * lda, lda, b, ldb, start, bias, h ? h + row * ldh : 0, ldh,             \
                           c + row * ldc, ldc, mask);

AVX512 static void nn(long rows, long n, long k, const float *a, long lda, const float *b, long ldb, int start,
                      const float *bias, const float *h, long ldh, float *c, long ldc) {
    for (long column = 0; column < n; column += 64) {
        long width = n - column < 64 ? n - column : 64;
        __mmask16 mask[4];
        for (int j = 0; j < 4; j++) mask[j] = lane_mask(width - 16 * j);
        long row = 0;
        switch ((width + 15) / 16) {
        case 4: NN_ROWS(6, 4) NN_ROWS(4, 4) NN_ROWS(2, 4) NN_ROWS(1, 4) break;
        case 3: NN_ROWS(8, 3) NN_ROWS(1, 3) break;
        case 2: NN_ROWS(12, 2) NN_ROWS(1, 2) break;
        default: NN_ROWS(16, 1) NN_ROWS(1, 1) break;
        }
        b += 64;
        c += 64;
        if (bias) bias += 64;
        if (h) h += 64;
    }
}

// A tile of R rows × NV vectors of C += Aᵀ G: rows `i ..< i + R` of C are the columns of A.
#define TN_TILE(R, NV)                                                                                         \
    INLINE AVX512 void tn_tile_##R##_##NV(long rows, const float *a, long lda, const float *g, long ldg,      \
                                          float *c, long ldc, const __mmask16 *mask) {                         \
        __m512 acc[R][NV];                                                                                     \
        for (int i = 0; i < R; i++)                                                                            \
            for (int j = 0; j < NV; j++) acc[i][j] = _mm512_setzero_ps();                                      \
        for (long r = 0; r < rows; r++) {                                                                      \
            __m512 gv[NV];                                                                                     \
            for (int j = 0; j < NV; j++) gv[j] = _mm512_maskz_loadu_ps(mask[j], g + r * ldg + 16 * j);         \
            for (int i = 0; i < R; i++) {                                                                      \
                __m512 av = _mm512_set1_ps(a[r * lda + i]);                                                    \
                for (int j = 0; j < NV; j++) acc[i][j] = _mm512_fmadd_ps(av, gv[j], acc[i][j]);                \
            }                                                                                                  \
        }                                                                                                      \
        for (int i = 0; i < R; i++)                                                                            \
            for (int j = 0; j < NV; j++) {                                                                     \
                float *out = c + i * ldc + 16 * j;                                                             \
                _mm512_mask_storeu_ps(out, mask[j], _mm512_add_ps(_mm512_maskz_loadu_ps(mask[j], out), acc[i][j])); \
            }                                                                                                  \
    }

TN_TILE(6, 4)
TN_TILE(4, 4)
TN_TILE(2, 4)
TN_TILE(1, 4)
TN_TILE(8, 3)
TN_TILE(1, 3)
TN_TILE(12, 2)
TN_TILE(1, 2)
TN_TILE(16, 1)
TN_TILE(1, 1)

// Tiles of R rows of C while at least R are left.
#define TN_ROWS(R, NV)                                                                                         \
    for (; i + R <= kdim; i += R) tn_tile_##R##_##NV(rows, a + i, lda, g, ldg, c + i * ldc, ldc, mask);

AVX512 static void tn(long kdim, long n, long rows, const float *a, long lda, const float *g, long ldg, float *c,
                      long ldc) {
    for (long column = 0; column < n; column += 64) {
        long width = n - column < 64 ? n - column : 64;
        __mmask16 mask[4];
        for (int j = 0; j < 4; j++) mask[j] = lane_mask(width - 16 * j);
        long i = 0;
        switch ((width + 15) / 16) {
        case 4: TN_ROWS(6, 4) TN_ROWS(4, 4) TN_ROWS(2, 4) TN_ROWS(1, 4) break;
        case 3: TN_ROWS(8, 3) TN_ROWS(1, 3) break;
        case 2: TN_ROWS(12, 2) TN_ROWS(1, 2) break;
        default: TN_ROWS(16, 1) TN_ROWS(1, 1) break;
        }
        g += 64;
        c += 64;
    }
}

int trpo_sdense_available(void) { return avx512(); }

int trpo_sdense_product(long rows, long n, long k, const float *a, long lda, const float *b, long ldb, int start,
                        const float *bias, const float *h, long ldh, float *c, long ldc) {
    if (n < 16 || !avx512()) return 0;
    nn(rows, n, k, a, lda, b, ldb, start, bias, h, ldh, c, ldc);
    return 1;
}

int trpo_sdense_transposed_product(long kdim, long n, long rows, const float *a, long lda, const float *g, long ldg,
                                   float *c, long ldc) {
    if (n < 16 || !avx512()) return 0;
    tn(kdim, n, rows, a, lda, g, ldg, c, ldc);
    return 1;
}
#else
int trpo_sdense_available(void) { return 0; }
int trpo_sdense_product(long rows, long n, long k, const float *a, long lda, const float *b, long ldb, int start,
                        const float *bias, const float *h, long ldh, float *c, long ldc) {
    return 0;
}
int trpo_sdense_transposed_product(long kdim, long n, long rows, const float *a, long lda, const float *g, long ldg,
                                   float *c, long ldc) {
    return 0;
}
#endif
