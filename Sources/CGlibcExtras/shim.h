// glibc facilities the Glibc Swift module does not export.
#include <malloc.h>

/// Keeps freed memory on the heap (no fresh mmap for large blocks, no trimming), so large
/// buffers allocated and freed every iteration reuse pages instead of faulting in zeroed ones.
/// Returns 1 on success.
static inline int trpo_retain_freed_memory(void) {
    return mallopt(M_MMAP_THRESHOLD, 1 << 30) && mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

#include <sys/prctl.h>
#include <signal.h>

/// Asks the kernel to send `signal` to this process when the thread that started it exits
/// (`prctl(PR_SET_PDEATHSIG)`, which the Glibc module cannot call: it is variadic).
/// Returns 0 on success.
static inline int trpo_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0UL, 0UL, 0UL);
}
