#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/resource.h>
#include <unistd.h>
#include "CKernels.h"
#include <stdint.h>
#include <string.h>
#include <math.h>

// No fused multiply-add contraction: every instruction-set variant rounds exactly like the
// baseline one, so results do not depend on the machine's processor.
#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__) && defined(__linux__) && defined(__clang__)
#define MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MULTIVERSION
#endif

// tanh|x| = (1 - t) / (1 + t) with t = exp(-2|x|); exp by a Cody-Waite reduction
// y = n ln2 + r (|r| <= ln2/2, n rounded with the 1.5*2^52 shifter) and a degree-12 Taylor
// polynomial, scaled by 2^n built in the exponent bits; the sign is restored by bit operations.
// Branch-free so the loop vectorises.
MULTIVERSION
void trpo_tanh_f64(double *restrict x, long n) {
    for (long i = 0; i < n; i++) {
        uint64_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        uint64_t sign = bits & 0x8000000000000000ull;
        uint64_t magnitude_bits = bits & 0x7FFFFFFFFFFFFFFFull;
        double magnitude;
        memcpy(&magnitude, &magnitude_bits, sizeof magnitude);
        double a = magnitude > 20.0 ? 20.0 : magnitude;  // tanh(20) rounds to 1; NaN stays NaN
        double y = -2.0 * a;
        const double shifter = 6755399441055744.0;
        double k = y * 1.4426950408889634 + shifter;
        double m = k - shifter;
        double r = (y - m * 0.6931471803691238) - m * 1.9082149292705877e-10;
        double p = 1.0 / 479001600.0;
        p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0;
        p = p * r + 1.0 / 362880.0;
        p = p * r + 1.0 / 40320.0;
        p = p * r + 1.0 / 5040.0;
        p = p * r + 1.0 / 720.0;
        p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0;
        p = p * r + 1.0 / 6.0;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        uint64_t k_bits;
        memcpy(&k_bits, &k, sizeof k_bits);
        uint64_t scale_bits = (k_bits + 1023) << 52;
        double scale;
        memcpy(&scale, &scale_bits, sizeof scale);
        double t = p * scale;
        double v = (1.0 - t) / (1.0 + t);
        uint64_t v_bits;
        memcpy(&v_bits, &v, sizeof v_bits);
        v_bits |= sign;
        memcpy(&x[i], &v_bits, sizeof v_bits);
    }
}

MULTIVERSION
void trpo_tanh_f32(float *restrict x, long n) {
    for (long i = 0; i < n; i++) {
        float c = x[i] < -9.0f ? -9.0f : (x[i] > 9.0f ? 9.0f : x[i]);
        float x2 = c * c;
        float p = -2.76076847742355e-16f;
        p = p * x2 + 2.00018790482477e-13f;
        p = p * x2 - 8.60467152213735e-11f;
        p = p * x2 + 5.12229709037114e-08f;
        p = p * x2 + 1.48572235717979e-05f;
        p = p * x2 + 6.37261928875436e-04f;
        p = p * x2 + 4.89352455891786e-03f;
        p *= c;
        float q = 1.19825839466702e-06f;
        q = q * x2 + 1.18534705686654e-04f;
        q = q * x2 + 2.26843463243900e-03f;
        q = q * x2 + 4.89352518554385e-03f;
        x[i] = p / q;
    }
}

// sqrt without errno handling (v/c2 is never negative), so the loop vectorises.
#if __has_builtin(__builtin_elementwise_sqrt)
#define SQRT_NO_ERRNO(x) __builtin_elementwise_sqrt(x)
#else
#define SQRT_NO_ERRNO(x) sqrt(x)
#endif

MULTIVERSION
void trpo_adam_step(double *restrict p, double *restrict m, double *restrict v, const double *restrict g, long n,
                    double lr, double beta1, double beta2, double epsilon, double c1, double c2) {
    // lr·(m/c1)/(√(v/c2) + ε) as lr/c1 · m / (√v · c2^(-1/2) + ε): one square root and one
    // division per parameter instead of three divisions (PyTorch's formulation).
    double step = lr / c1, inverse_root_c2 = 1.0 / sqrt(c2);
    for (long i = 0; i < n; i++) {
        double mi = beta1 * m[i] + (1.0 - beta1) * g[i];
        double vi = beta2 * v[i] + (1.0 - beta2) * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        p[i] -= step * mi / (SQRT_NO_ERRNO(vi) * inverse_root_c2 + epsilon);
    }
}

MULTIVERSION
void trpo_adam_step_f32(float *restrict p, float *restrict m, float *restrict v, const float *restrict g, long n,
                        float lr, float beta1, float beta2, float epsilon, float c1, float c2) {
    float step = lr / c1, inverse_root_c2 = 1.0f / sqrtf(c2);
    for (long i = 0; i < n; i++) {
        float mi = beta1 * m[i] + (1.0f - beta1) * g[i];
        float vi = beta2 * v[i] + (1.0f - beta2) * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        p[i] -= step * mi / (SQRT_NO_ERRNO(vi) * inverse_root_c2 + epsilon);
    }
}

const char *trpo_openblas_core_for_this_cpu(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
        return "SkylakeX";
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        return "Haswell";
    }
    return 0;
}

int trpo_openblas_reselect_kernels(void) {
    void (*quit)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
    void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
    if (!quit || !init) return 0;
    quit();
    init();
    return 1;
}

int trpo_set_this_thread_niceness(int niceness) {
    return setpriority(PRIO_PROCESS, (id_t)gettid(), niceness);
}

int trpo_this_thread_niceness(void) {
    return getpriority(PRIO_PROCESS, (id_t)gettid());
}

// Backward through tanh, written from its output: g ← g · (1 − h²), rounded as the plain
// expression is (no contraction), so every variant gives the same bits.
MULTIVERSION
void trpo_tanh_backward_f64(double *restrict g, const double *restrict h, long n) {
    for (long i = 0; i < n; i++) g[i] = g[i] * (1.0 - h[i] * h[i]);
}

MULTIVERSION
void trpo_tanh_backward_f32(float *restrict g, const float *restrict h, long n) {
    for (long i = 0; i < n; i++) g[i] = g[i] * (1.0f - h[i] * h[i]);
}

// Every row of a rows × width row-major matrix set to `row`.
MULTIVERSION
void trpo_broadcast_rows_f64(double *restrict z, const double *restrict row, long rows, long width) {
    for (long r = 0; r < rows; r++) {
        double *restrict out = z + r * width;
        for (long j = 0; j < width; j++) out[j] = row[j];
    }
}

MULTIVERSION
void trpo_broadcast_rows_f32(float *restrict z, const float *restrict row, long rows, long width) {
    for (long r = 0; r < rows; r++) {
        float *restrict out = z + r * width;
        for (long j = 0; j < width; j++) out[j] = row[j];
    }
}
