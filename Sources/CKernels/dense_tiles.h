// The tiles of dense.c's products, written once over a vector ISA (macros only: each expands
// under the ISA definitions in force where it is used). Before using them the includer defines:
//   ISA            the target attribute and name suffix (avx512 or avx2)
//   VEC, MASK      the float vector and its lane-mask types; VLEN lanes
//   V_MASK(w)      the mask of the first w lanes (w may be ≤ 0 or ≥ VLEN)
//   V_LOAD(m, p), V_STORE(p, m, v)   masked load (zero elsewhere) and store
//   V_SET1(x), V_ZERO(), V_FMA(a, b, c) = a·b + c, V_MUL, V_SUB, V_ADD
//   TARGET, NAME(x)  the functions' target attribute and ISA-suffixed name
//   PANEL, NN_CASES, TN_CASES  vectors per column panel and the tiles of each panel width

// The step both tiles repeat over the inner dimension: acc[t] += SCALAR · (NV vectors at
// OTHER) for each tile row t, SCALAR an expression of t.
#define RANK1(R, NV, OTHER, SCALAR)                                                                            \
    {                                                                                                          \
        VEC ov[NV];                                                                                            \
        for (int j = 0; j < NV; j++) ov[j] = V_LOAD(mask[j], (OTHER) + VLEN * j);                              \
        for (int t = 0; t < R; t++) {                                                                          \
            VEC av = V_SET1(SCALAR);                                                                           \
            for (int j = 0; j < NV; j++) acc[t][j] = V_FMA(av, ov[j], acc[t][j]);                              \
        }                                                                                                      \
    }

// A tile of R rows × NV vectors of C = start + A·B, then ⊙ (1 − H²) when h is given.
// start: 0 zero, 1 the existing C, 2 the row `bias`.
#define NN_TILE(R, NV)                                                                                         \
    INLINE TARGET void NAME(nn_tile_##R##_##NV)(long k, const float *a, long lda, const float *b, long ldb,   \
                                                int start, const float *bias, const float *h, long ldh,        \
                                                float *c, long ldc, const MASK *mask) {                        \
        VEC acc[R][NV];                                                                                        \
        for (int r = 0; r < R; r++)                                                                            \
            for (int j = 0; j < NV; j++)                                                                       \
                acc[r][j] = start == 1 ? V_LOAD(mask[j], c + r * ldc + VLEN * j)                               \
                          : start == 2 ? V_LOAD(mask[j], bias + VLEN * j)                                      \
                                       : V_ZERO();                                                             \
        for (long p = 0; p < k; p++) RANK1(R, NV, b + p * ldb, a[t * lda + p])                                 \
        if (h) {                                                                                               \
            const VEC one = V_SET1(1.0f);                                                                      \
            for (int r = 0; r < R; r++)                                                                        \
                for (int j = 0; j < NV; j++) {                                                                 \
                    VEC hv = V_LOAD(mask[j], h + r * ldh + VLEN * j);                                          \
                    acc[r][j] = V_MUL(acc[r][j], V_SUB(one, V_MUL(hv, hv)));                                   \
                }                                                                                              \
        }                                                                                                      \
        for (int r = 0; r < R; r++)                                                                            \
            for (int j = 0; j < NV; j++) V_STORE(c + r * ldc + VLEN * j, mask[j], acc[r][j]);                  \
    }

// A tile of R rows × NV vectors of C += Aᵀ G: rows `i ..< i + R` of C are the columns of A.
#define TN_TILE(R, NV)                                                                                         \
    INLINE TARGET void NAME(tn_tile_##R##_##NV)(long rows, const float *a, long lda, const float *g, long ldg, \
                                                float *c, long ldc, const MASK *mask) {                        \
        VEC acc[R][NV];                                                                                        \
        for (int i = 0; i < R; i++)                                                                            \
            for (int j = 0; j < NV; j++) acc[i][j] = V_ZERO();                                                 \
        for (long r = 0; r < rows; r++) RANK1(R, NV, g + r * ldg, a[r * lda + t])                              \
        for (int i = 0; i < R; i++)                                                                            \
            for (int j = 0; j < NV; j++) {                                                                     \
                float *out = c + i * ldc + VLEN * j;                                                           \
                V_STORE(out, mask[j], V_ADD(V_LOAD(mask[j], out), acc[i][j]));                                 \
            }                                                                                                  \
    }

// Tiles of R rows (of A for nn, of C for tn) while at least R are left.
#define NN_ROWS(R, NV)                                                                                         \
    for (; row + R <= rows; row += R)                                                                          \
        NAME(nn_tile_##R##_##NV)(k, a + row * lda, lda, b, ldb, start, bias, h ? h + row * ldh : 0, ldh,       \
                                 c + row * ldc, ldc, mask);
#define TN_ROWS(R, NV)                                                                                         \
    for (; i + R <= kdim; i += R) NAME(tn_tile_##R##_##NV)(rows, a + i, lda, g, ldg, c + i * ldc, ldc, mask);

// The column panels of PANEL vectors, each split into tiles by TILES(NV) for its NV vectors.
#define PANELS(body, advance)                                                                                  \
    for (long column = 0; column < n; column += PANEL * VLEN) {                                                \
        long width = n - column < PANEL * VLEN ? n - column : PANEL * VLEN;                                    \
        MASK mask[PANEL];                                                                                      \
        for (int j = 0; j < PANEL; j++) mask[j] = V_MASK(width - VLEN * j);                                    \
        body;                                                                                                  \
        advance;                                                                                               \
    }

// The two products for the current ISA, by panels of PANEL vectors; the includer's NN_CASES and
// TN_CASES pick the tiles of a panel of `(width + VLEN − 1) / VLEN` vectors.
#define NN_PRODUCT                                                                                             \
    TARGET static void NAME(nn)(long rows, long n, long k, const float *a, long lda, const float *b, long ldb, \
                                int start, const float *bias, const float *h, long ldh, float *c, long ldc) {  \
        PANELS({ long row = 0; switch ((width + VLEN - 1) / VLEN) { NN_CASES } },                              \
               { b += PANEL * VLEN; c += PANEL * VLEN; if (bias) bias += PANEL * VLEN;                         \
                 if (h) h += PANEL * VLEN; })                                                                  \
    }
#define TN_PRODUCT                                                                                             \
    TARGET static void NAME(tn)(long kdim, long n, long rows, const float *a, long lda, const float *g,        \
                                long ldg, float *c, long ldc) {                                                \
        PANELS({ long i = 0; switch ((width + VLEN - 1) / VLEN) { TN_CASES } },                                \
               { g += PANEL * VLEN; c += PANEL * VLEN; })                                                      \
    }
