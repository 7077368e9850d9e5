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

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

// GNU extensions the Glibc module leaves out (it is built without _GNU_SOURCE).
extern int accept4(int listener, struct sockaddr *address, socklen_t *length, int flags);
extern int pipe2(int fds[2], int flags);

/// accept(2) for a connection whose descriptor is non-blocking and closed on exec from the
/// start (accept4), so a process started meanwhile by another thread does not inherit it.
/// Returns the descriptor, or -1 with errno set.
static inline int trpo_accept_nonblocking(int listener) {
    return accept4(listener, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

/// A pipe whose two ends are non-blocking and closed on exec (pipe2). Returns 0 on success,
/// -1 with errno set.
static inline int trpo_pipe_nonblocking(int fds[2]) {
    return pipe2(fds, O_NONBLOCK | O_CLOEXEC);
}
