// glibc facilities the Glibc Swift module does not export.
#include <malloc.h>

/// Keeps freed memory on the heap (no fresh mmap for large blocks, no trimming), so large
/// buffers allocated and freed every iteration reuse pages instead of faulting in zeroed ones.
/// Returns 1 on success.
static inline int trpo_retain_freed_memory(void) {
    return mallopt(M_MMAP_THRESHOLD, 1 << 30) && mallopt(M_TRIM_THRESHOLD, 1 << 30);
}
