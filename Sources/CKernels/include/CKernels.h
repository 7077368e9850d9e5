#ifndef TRPO_CKERNELS_H
#define TRPO_CKERNELS_H

/// Elementwise kernels that the Swift compiler cannot vectorise beyond SSE2 on a baseline
/// x86-64 target. Each is compiled for several instruction sets (AVX-512, AVX2, baseline)
/// and the best one is picked when the program loads.

/// x[i] = tanh(x[i]) for i < n, double precision: |error| <= 4e-16; NaN propagates.
void trpo_tanh_f64(double *x, long n);

/// x[i] = tanh(x[i]) for i < n, single precision by a [13/6] rational approximation:
/// |error| < 1e-6; saturates beyond |x| = 9.
void trpo_tanh_f32(float *x, long n);

/// g[i] = g[i] · (1 − h[i]²) for i < n: the gradient (or tangent) g taken back (or forward)
/// through tanh, whose output is h. g and h must not overlap.
void trpo_tanh_backward_f64(double *g, const double *h, long n);

/// Single-precision ``trpo_tanh_backward_f64``.
void trpo_tanh_backward_f32(float *g, const float *h, long n);

/// Sets each of the `rows` rows of the row-major `rows × width` matrix z to `row` (a bias
/// broadcast before a product adds to it). z and row must not overlap.
void trpo_broadcast_rows_f64(double *z, const double *row, long rows, long width);

/// Single-precision ``trpo_broadcast_rows_f64``.
void trpo_broadcast_rows_f32(float *z, const float *row, long rows, long width);

/// One Adam step over n parameters: m ← β1 m + (1 − β1) g, v ← β2 v + (1 − β2) g²,
/// p ← p − lr · (m / c1) / (√(v / c2) + ε), where c1 = 1 − β1ᵗ and c2 = 1 − β2ᵗ are the bias
/// corrections of step t, evaluated as p − (lr / c1) · m / (√v · c2^(−1/2) + ε) (one square root
/// and one division per parameter, as PyTorch's Adam does).
void trpo_adam_step(double *p, double *m, double *v, const double *g, long n,
                    double lr, double beta1, double beta2, double epsilon, double c1, double c2);

/// Single-precision ``trpo_adam_step``.
void trpo_adam_step_f32(float *p, float *m, float *v, const float *g, long n,
                        float lr, float beta1, float beta2, float epsilon, float c1, float c2);

/// The OpenBLAS core type (OPENBLAS_CORETYPE) whose kernels this CPU runs best: "SkylakeX"
/// with AVX-512 (F, BW, DQ, VL), "Haswell" with AVX2 and FMA, otherwise NULL.
const char *trpo_openblas_core_for_this_cpu(void);

/// Makes a dynamic-architecture OpenBLAS choose its kernels again, now, from
/// OPENBLAS_CORETYPE (its gotoblas_dynamic_quit and gotoblas_dynamic_init, looked up at run
/// time). Returns 1 when it did, 0 when this OpenBLAS has no such functions. Only safe
/// before any BLAS call and before any other thread starts.
int trpo_openblas_reselect_kernels(void);

/// Sets the calling thread's (not the process's) nice value, as Linux schedules threads
/// (setpriority on the thread id). Returns 0, or -1 with errno set.
int trpo_set_this_thread_niceness(int niceness);

/// The calling thread's nice value.
int trpo_this_thread_niceness(void);

/// The instruction set of the layer products below on this processor: 1 AVX-512, 2 AVX2 with
/// FMA (C = start + A·B only, for n a positive multiple of 8 and k ≤ 512), 0 neither (they
/// decline).
int trpo_sdense_instruction_set(void);

/// C = start + A·B for row-major A (rows × k, row stride lda), B (k × n, ldb) and C (rows × n,
/// ldc), then C ← C ⊙ (1 − H²) elementwise when h is not NULL (H rows × n, ldh: back or
/// forward through tanh, whose output is H). start: 0 zero, 1 the existing C, 2 the row `bias`
/// (n values) in every row. Meant for the layer products of a network on a cache-sized row
/// block (n and k up to a few hundred): a tile of C stays in registers over all of k, and B is
/// read from L1. Returns 1 when done, 0 without touching C when the kernels decline: on a
/// processor with neither AVX-512 nor AVX2 and FMA, on AVX-512 for n < 16 (a product narrower
/// than one vector, where BLAS does better), and on AVX2 for n not a multiple of 8 (one vector)
/// or k > 512 (the caller then uses BLAS). C must not overlap A, B, bias or H.
int trpo_sdense_product(long rows, long n, long k, const float *a, long lda, const float *b, long ldb, int start,
                        const float *bias, const float *h, long ldh, float *c, long ldc);

/// C += Aᵀ G for row-major A (rows × kdim, lda), G (rows × n, ldg) and C (kdim × n, ldc): a
/// layer's weight gradient summed over a row block. Returns 1 when done, 0 without touching C
/// when this processor lacks AVX-512 (AVX2 declines: sgemm was faster) or n < 16. C must not overlap A or G.
int trpo_sdense_transposed_product(long kdim, long n, long rows, const float *a, long lda, const float *g, long ldg,
                                   float *c, long ldc);

#endif
