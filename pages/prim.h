/*
 * pages/prim.h - quire's one file of operating-system primitives (internal).
 *
 * Every Linux system call quire makes goes through here: mmap, munmap, mremap, mprotect,
 * madvise, mlock, mseal, memfd_create, msync and the file calls (open, pread, pwrite, fsync,
 * ftruncate, fallocate, flock, ...). No other file calls the kernel but pages/launch.c (exec
 * and setenv for quire_alloc_exec, which may allocate and so cannot keep this contract) and
 * base/assert.c (the assertion handler's write and abort: base/ depends on nothing). This
 * keeps the syscall surface auditable in one place and lets the pager's crash harness and the
 * malloc engine rely on one contract. Functions are grouped by concern.
 *
 * The contract, stated once:
 *   - Sizes and addresses passed to the mapping calls are multiples of q_os_page_size() unless a
 *     function says otherwise.
 *   - Results come back through out-parameters; the return value is 0 or a negative QUIRE_E*
 *     code translated from errno by q_os_error().
 *   - Nothing here allocates with malloc, so the malloc engine can use every function, before
 *     main and inside fork handlers.
 *   - errno is left as the failing call set it (callers that must keep errno save it themselves).
 */
#ifndef QUIRE_PAGES_PRIM_H
#define QUIRE_PAGES_PRIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "quire/error.h"

/* Protection bits, independent of <sys/mman.h> so callers need not include it. */
enum {
    Q_PROT_NONE = 0,
    Q_PROT_READ = 1,
    Q_PROT_WRITE = 2,
    Q_PROT_EXEC = 4,
};

/* Advice values for q_os_advise(). */
enum q_advice {
    Q_ADV_NORMAL,
    Q_ADV_SEQUENTIAL,
    Q_ADV_RANDOM,
    Q_ADV_WILLNEED,
    Q_ADV_DONTNEED, /* drop the pages now; anonymous private pages read back as zero */
    Q_ADV_FREE,     /* lazily reclaimable (MADV_FREE); falls back to DONTNEED */
    Q_ADV_HUGEPAGE,
    Q_ADV_NOHUGEPAGE,
    Q_ADV_DONTDUMP,
    Q_ADV_DODUMP,
    Q_ADV_DONTFORK,
    Q_ADV_DOFORK,
    Q_ADV_POPULATE_READ,  /* prefault readable (kernel >= 5.14) */
    Q_ADV_POPULATE_WRITE, /* prefault writable (kernel >= 5.14) */
    Q_ADV_GUARD_INSTALL,  /* MADV_GUARD_INSTALL (kernel >= 6.13) */
    Q_ADV_GUARD_REMOVE,
};

/* Flags for q_os_map(). */
enum {
    Q_MAP_PRIVATE = 0,          /* anonymous private memory (the default) */
    Q_MAP_NORESERVE = 1,        /* do not reserve swap (MAP_NORESERVE) */
    Q_MAP_POPULATE = 2,         /* prefault (MAP_POPULATE) */
    Q_MAP_SHARED = 4,           /* shared mapping (with a file descriptor: MAP_SHARED) */
    Q_MAP_FIXED = 8,            /* replace whatever is at *addr (MAP_FIXED) */
    Q_MAP_FIXED_NOREPLACE = 16, /* place at *addr, fail if occupied */
};

/* Flags for q_os_remap(). */
enum {
    Q_REMAP_MAYMOVE = 1,
    Q_REMAP_FIXED = 2, /* move to *out (implies MAYMOVE) */
    Q_REMAP_DONTUNMAP = 4,
};

/* ---------------------------------------------------------------------------------------------
 * Errors and sizes
 * ------------------------------------------------------------------------------------------- */

/** Translates an errno value into a QUIRE_E* code (never 0 for a non-zero errno). */
int q_os_error(int errnum);

/** The runtime page size (sysconf, cached after the first call; never hard-coded). */
size_t q_os_page_size(void);

/** The PMD huge-page size (transparent huge pages), or 0 when the system does not say. */
size_t q_os_huge_page_size(void);

/** Rounds n up to a multiple of the page size; returns 0 on overflow. */
size_t q_os_page_round(size_t n);

/** Whether the running kernel is at least major.minor (uname, cached). */
int q_os_kernel_at_least(int major, int minor);

/* ---------------------------------------------------------------------------------------------
 * Virtual memory
 * ------------------------------------------------------------------------------------------- */

/**
 * Maps `size` bytes. fd < 0 maps anonymous memory; otherwise maps the file at `offset`.
 * `*addr` is a hint on input (NULL: anywhere), the mapping's address on output.
 */
int q_os_map(void **addr, size_t size, int prot, int flags, int fd, off_t offset);

/** Maps `size` bytes of anonymous read-write memory aligned to `align` (a power of two). */
int q_os_map_aligned(void **out, size_t size, size_t align, int flags);

/** Reserves address space: PROT_NONE, MAP_NORESERVE, no commit charge. */
int q_os_reserve(void **out, size_t size);

int q_os_unmap(void *addr, size_t size);

int q_os_protect(void *addr, size_t size, int prot);

int q_os_advise(void *addr, size_t size, enum q_advice advice);

/**
 * mremap. flags from Q_REMAP_*. With Q_REMAP_FIXED, *out holds the destination on input.
 * *out receives the new address.
 */
int q_os_remap(void *old_addr, size_t old_size, size_t new_size, int flags, void **out);

int q_os_lock(void *addr, size_t size);

int q_os_unlock(void *addr, size_t size);

/** mseal(2); QUIRE_ENOTSUP where the kernel lacks it. */
int q_os_seal(void *addr, size_t size);

/** msync(2); async != 0 uses MS_ASYNC, otherwise MS_SYNC. `addr` page-aligned. */
int q_os_msync(void *addr, size_t size, int async);

/** Flushes the instruction cache for [addr, addr+size) where the architecture needs it. */
void q_os_icache_flush(void *addr, size_t size);

/** mincore(2): vec[i] bit 0 tells whether page i of [addr, addr + len) is resident; vec holds
 *  one byte per page. addr must be page-aligned. Errors: QUIRE_EINVAL, QUIRE_ENOMEM (a page
 *  of the range is not mapped). */
int q_os_mincore(void *addr, size_t len, unsigned char *vec);

/* ---------------------------------------------------------------------------------------------
 * Files and descriptors
 * ------------------------------------------------------------------------------------------- */

/** open(2) with O_CLOEXEC added. */
int q_os_open(const char *path, int oflags, int mode, int *fd);

/** openat-style O_TMPFILE in `dir`, falling back to mkstemp + unlink. */
int q_os_open_tmpfile(const char *dir, int *fd);

int q_os_close(int fd);

/** memfd_create(2) with MFD_CLOEXEC added. */
int q_os_memfd(const char *name, unsigned flags, int *fd);

/** Reads exactly n bytes at off (retries short reads and EINTR); short file -> QUIRE_EIO. */
int q_os_pread_full(int fd, void *buf, size_t n, off_t off);

/** Writes exactly n bytes at off (retries short writes and EINTR). */
int q_os_pwrite_full(int fd, const void *buf, size_t n, off_t off);

/** One read(2) of at most n bytes (EINTR retried); *got receives the count (0 at end of file). */
int q_os_read(int fd, void *buf, size_t n, size_t *got);

/** One write(2) of at most n bytes (EINTR retried); *put receives the count written. */
int q_os_write(int fd, const void *buf, size_t n, size_t *put);

/** dup(2) with FD_CLOEXEC set on the copy. */
int q_os_dup(int fd, int *out);

int q_os_fsync(int fd);

int q_os_fdatasync(int fd);

int q_os_ftruncate(int fd, off_t size);

int q_os_file_size(int fd, off_t *size);

/** flock(2): exclusive != 0 for LOCK_EX, else LOCK_SH; never blocks; held -> QUIRE_EBUSY. */
int q_os_flock(int fd, int exclusive);

int q_os_unlink(const char *path);

/** Gives the unnamed file fd (opened with O_TMPFILE, or named `tmp`, which is then removed) the
 *  name `path`, atomically; QUIRE_EEXIST when path exists (never replaced). tmp: NULL for an
 *  O_TMPFILE file (linked through /proc/self/fd). */
int q_os_link_new(int fd, const char *tmp, const char *path);

/** fsync(2) of the directory holding path, so that a name just created in it is durable. */
int q_os_fsync_parent(const char *path);

/** 0 when path exists (stat(2) succeeds), else the error (QUIRE_ENOENT, ...). */
int q_os_exists(const char *path);

/** An open-file-description lock (fcntl F_OFD_SETLK) on bytes [off, off + len) of fd:
 *  exclusive != 0 for a write lock, else a read lock; held by this descriptor until unlocked or
 *  closed (a process that dies loses it). Never blocks: held by another -> QUIRE_EBUSY. */
int q_os_ofd_lock(int fd, uint64_t off, uint64_t len, int exclusive);

/** Releases a q_os_ofd_lock() range. */
int q_os_ofd_unlock(int fd, uint64_t off, uint64_t len);

/** 1 when another open file description holds a lock on [off, off + len) of fd (F_OFD_GETLK),
 *  0 when none does, or a negative error. */
int q_os_ofd_locked(int fd, uint64_t off, uint64_t len);

/* ---------------------------------------------------------------------------------------------
 * Futexes on shared memory (FUTEX_WAIT/FUTEX_WAKE without FUTEX_PRIVATE_FLAG, so they work
 * across processes that map the same file)
 * ------------------------------------------------------------------------------------------- */

/** Sleeps while *addr == expected, at most timeout_ns (UINT64_MAX: no limit). Returns 0 when
 *  woken, when *addr differed already, or on a signal (callers re-check their condition);
 *  QUIRE_EAGAIN when the timeout passed. */
int q_os_futex_wait(const uint32_t *addr, uint32_t expected, uint64_t timeout_ns);

/** Wakes up to n waiters on addr. */
void q_os_futex_wake(const uint32_t *addr, int n);

/** Process-private futex (FUTEX_PRIVATE_FLAG): sleeps while *addr == expected; returns on a
 *  wake, a signal or a changed value (the caller re-checks). errno is left as it was. The
 *  malloc engine's locks sleep on it. */
void q_os_futex_wait_private(const uint32_t *addr, uint32_t expected);

/** Wakes up to n waiters of a process-private futex. errno is left as it was. */
void q_os_futex_wake_private(const uint32_t *addr, int n);

/* ---------------------------------------------------------------------------------------------
 * Process, threads, time, output (all async-signal-safe and malloc-free)
 * ------------------------------------------------------------------------------------------- */

/** write(2) all of buf to fd, ignoring errors (diagnostics). */
void q_os_write_all(int fd, const void *buf, size_t n);

/** Raises SIGABRT and never returns, without running atexit handlers or flushing stdio. */
__attribute__((noreturn)) void q_os_abort(void);

pid_t q_os_getpid(void);

/** Monotonic clock in nanoseconds. */
uint64_t q_os_now_ns(void);

/** CLOCK_MONOTONIC_COARSE in nanoseconds: a few times cheaper than q_os_now_ns() (no clock
 *  source read), with the scheduler tick's resolution (1-10 ms). */
uint64_t q_os_coarse_ns(void);

/** sched_yield(2). */
void q_os_yield(void);

/** Installs handler for signal sig (sigaction, SA_RESTART). Errors: QUIRE_EINVAL. */
int q_os_signal(int sig, void (*handler)(int));

/** Sleeps ns nanoseconds (nanosleep(2), resumed after a signal). */
void q_os_sleep_ns(uint64_t ns);

/** The calling thread's kernel id (gettid). */
long q_os_thread_id(void);

/** getppid(2). */
pid_t q_os_getppid(void);

/** The program's name as the kernel knows it (/proc/self/comm, at most 15 characters),
 *  NUL-terminated in buf. Never allocates. Errors: QUIRE_EINVAL, or the read's error. */
int q_os_program_name(char *buf, size_t cap);

/** Fills buf with n random bytes from the kernel (getrandom(2), non-blocking); when the kernel
 *  cannot supply them yet (early boot) or refuses, with bytes mixed from the auxiliary vector's
 *  AT_RANDOM, the clock, the process id and addresses. Never fails, never allocates. */
void q_os_random(void *buf, size_t n);

/** Reads an environment variable without allocating (NULL when absent). */
const char *q_os_getenv(const char *name);

/** Resident and mapped bytes of this process from /proc/self/statm (0 on error). */
int q_os_rss(size_t *resident, size_t *mapped);

/** The process's peak resident set in bytes (getrusage ru_maxrss, kept by the kernel). */
int q_os_peak_rss(size_t *peak);

#endif /* QUIRE_PAGES_PRIM_H */
