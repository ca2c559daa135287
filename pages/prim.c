/*
 * pages/prim.c - the operating-system primitives of quire (see prim.h for the contract).
 *
 * This is the one file that makes system calls (the two exceptions, pages/launch.c and
 * base/assert.c, are named in prim.h). Nothing here calls malloc, directly or through a libc
 * function that may allocate, so the malloc engine can call any of it before main, in fork
 * handlers and at exit.
 */
#include "pages/prim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* Kernel constants newer than Debian 12's headers. */
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif
#ifndef SYS_mseal
#define SYS_mseal 462
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1U
#endif

extern char **environ;

/* ---------------------------------------------------------------------------------------------
 * Errors and sizes
 * ------------------------------------------------------------------------------------------- */

int q_os_error(int e) {
    switch (e) {
    case 0:
        return QUIRE_EOS;
    case EINVAL:
        return QUIRE_EINVAL;
    case ENOMEM:
        return QUIRE_ENOMEM;
    case EOVERFLOW:
        return QUIRE_EOVERFLOW;
    case ENOSYS:
    case EOPNOTSUPP:
        return QUIRE_ENOTSUP;
    case EPERM:
        return QUIRE_EPERM;
    case EACCES:
        return QUIRE_EACCES;
    case ENOENT:
        return QUIRE_ENOENT;
    case EEXIST:
        return QUIRE_EEXIST;
    case EIO:
        return QUIRE_EIO;
    case ENOSPC:
    case EDQUOT:
        return QUIRE_ENOSPC;
    case EWOULDBLOCK:
        return QUIRE_EAGAIN;
    case EBUSY:
        return QUIRE_EBUSY;
    case EMFILE:
    case ENFILE:
        return QUIRE_EMFILE;
    case EFBIG:
        return QUIRE_EFBIG;
    case EROFS:
        return QUIRE_EPERM;
    default:
        return QUIRE_EOS;
    }
}

static _Atomic size_t page_size_cache;

size_t q_os_page_size(void) {
    size_t ps = atomic_load_explicit(&page_size_cache, memory_order_relaxed);
    if (ps == 0) {
        long v = sysconf(_SC_PAGESIZE);
        ps = v > 0 ? (size_t)v : 4096;
        atomic_store_explicit(&page_size_cache, ps, memory_order_relaxed);
    }
    return ps;
}

size_t q_os_page_round(size_t n) {
    size_t ps = q_os_page_size();
    if (n > SIZE_MAX - (ps - 1)) return 0;
    return (n + ps - 1) & ~(ps - 1);
}

/* Reads a small text file into buf (NUL-terminated); returns the length or -1. */
static ssize_t read_small_file(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = 0;
    return (ssize_t)len;
}

static unsigned long long parse_ull(const char *s, const char **end) {
    unsigned long long v = 0;
    while (*s == ' ' || *s == '\t') s++;
    while (*s >= '0' && *s <= '9') v = v * 10 + (unsigned)(*s++ - '0');
    if (end) *end = s;
    return v;
}

static _Atomic size_t huge_size_cache = 1; /* 1 = not yet read */

size_t q_os_huge_page_size(void) {
    size_t hs = atomic_load_explicit(&huge_size_cache, memory_order_relaxed);
    if (hs != 1) return hs;
    char buf[4096];
    hs = 0;
    if (read_small_file("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", buf, sizeof buf) >
        0) {
        hs = (size_t)parse_ull(buf, NULL);
    } else if (read_small_file("/proc/meminfo", buf, sizeof buf) > 0) {
        const char *p = strstr(buf, "Hugepagesize:");
        if (p) {
            const char *e;
            hs = (size_t)parse_ull(p + 13, &e) * 1024;
        }
    }
    atomic_store_explicit(&huge_size_cache, hs, memory_order_relaxed);
    return hs;
}

static _Atomic int kernel_version_cache = -1; /* major*1000 + minor */

int q_os_kernel_at_least(int major, int minor) {
    int v = atomic_load_explicit(&kernel_version_cache, memory_order_relaxed);
    if (v < 0) {
        struct utsname u;
        v = 0;
        if (uname(&u) == 0) {
            const char *e;
            unsigned long long ma = parse_ull(u.release, &e);
            unsigned long long mi = (*e == '.') ? parse_ull(e + 1, NULL) : 0;
            v = (int)(ma * 1000 + mi);
        }
        atomic_store_explicit(&kernel_version_cache, v, memory_order_relaxed);
    }
    return v >= major * 1000 + minor;
}

/* ---------------------------------------------------------------------------------------------
 * Virtual memory
 * ------------------------------------------------------------------------------------------- */

static int to_prot(int p) {
    int r = PROT_NONE;
    if (p & Q_PROT_READ) r |= PROT_READ;
    if (p & Q_PROT_WRITE) r |= PROT_WRITE;
    if (p & Q_PROT_EXEC) r |= PROT_EXEC;
    return r;
}

int q_os_map(void **addr, size_t size, int prot, int flags, int fd, off_t offset) {
    if (!addr || size == 0) return QUIRE_EINVAL;
    int f = (flags & Q_MAP_SHARED) ? MAP_SHARED : MAP_PRIVATE;
    if (fd < 0) f |= MAP_ANONYMOUS;
    if (flags & Q_MAP_NORESERVE) f |= MAP_NORESERVE;
    if (flags & Q_MAP_POPULATE) f |= MAP_POPULATE;
    if (flags & Q_MAP_FIXED) f |= MAP_FIXED;
    if (flags & Q_MAP_FIXED_NOREPLACE) f |= MAP_FIXED_NOREPLACE;
    void *p = mmap(*addr, size, to_prot(prot), f, fd, fd < 0 ? 0 : offset);
    if (p == MAP_FAILED) return q_os_error(errno);
    if ((flags & Q_MAP_FIXED_NOREPLACE) && *addr && p != *addr) {
        /* Kernels before 4.17 treat the flag as a hint. */
        munmap(p, size);
        return QUIRE_EEXIST;
    }
    *addr = p;
    return 0;
}

int q_os_map_aligned(void **out, size_t size, size_t align, int flags) {
    size_t ps = q_os_page_size();
    if (!out || size == 0 || (align & (align - 1)) != 0) return QUIRE_EINVAL;
    if (align <= ps) {
        *out = NULL;
        return q_os_map(out, size, Q_PROT_READ | Q_PROT_WRITE, flags, -1, 0);
    }
    /* Try the cheap way first: a hint just past a previous aligned mapping often lands aligned. */
    if (size > SIZE_MAX - align) return QUIRE_EOVERFLOW;
    void *p = NULL;
    int rc = q_os_map(&p, size, Q_PROT_READ | Q_PROT_WRITE, flags, -1, 0);
    if (rc) return rc;
    if (((uintptr_t)p & (align - 1)) == 0) {
        *out = p;
        return 0;
    }
    munmap(p, size);
    /* Over-map and trim both ends. */
    size_t over = size + align - ps;
    p = NULL;
    rc = q_os_map(&p, over, Q_PROT_READ | Q_PROT_WRITE, flags, -1, 0);
    if (rc) return rc;
    uintptr_t start = ((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1);
    size_t pre = start - (uintptr_t)p;
    size_t post = over - pre - size;
    if (pre) munmap(p, pre);
    if (post) munmap((char *)start + size, post);
    *out = (void *)start;
    return 0;
}

int q_os_reserve(void **out, size_t size) {
    if (!out) return QUIRE_EINVAL;
    *out = NULL;
    return q_os_map(out, size, Q_PROT_NONE, Q_MAP_NORESERVE, -1, 0);
}

int q_os_unmap(void *addr, size_t size) {
    if (size == 0) return QUIRE_EINVAL;
    if (munmap(addr, size) != 0) return q_os_error(errno);
    return 0;
}

int q_os_protect(void *addr, size_t size, int prot) {
    if (mprotect(addr, size, to_prot(prot)) != 0) return q_os_error(errno);
    return 0;
}

static int to_madv(enum q_advice a) {
    switch (a) {
    case Q_ADV_NORMAL:
        return MADV_NORMAL;
    case Q_ADV_SEQUENTIAL:
        return MADV_SEQUENTIAL;
    case Q_ADV_RANDOM:
        return MADV_RANDOM;
    case Q_ADV_WILLNEED:
        return MADV_WILLNEED;
    case Q_ADV_DONTNEED:
        return MADV_DONTNEED;
    case Q_ADV_FREE:
        return MADV_FREE;
    case Q_ADV_HUGEPAGE:
        return MADV_HUGEPAGE;
    case Q_ADV_NOHUGEPAGE:
        return MADV_NOHUGEPAGE;
    case Q_ADV_DONTDUMP:
        return MADV_DONTDUMP;
    case Q_ADV_DODUMP:
        return MADV_DODUMP;
    case Q_ADV_DONTFORK:
        return MADV_DONTFORK;
    case Q_ADV_DOFORK:
        return MADV_DOFORK;
    case Q_ADV_POPULATE_READ:
        return MADV_POPULATE_READ;
    case Q_ADV_POPULATE_WRITE:
        return MADV_POPULATE_WRITE;
    case Q_ADV_GUARD_INSTALL:
        return MADV_GUARD_INSTALL;
    case Q_ADV_GUARD_REMOVE:
        return MADV_GUARD_REMOVE;
    }
    return -1;
}

int q_os_advise(void *addr, size_t size, enum q_advice advice) {
    int m = to_madv(advice);
    if (m < 0) return QUIRE_EINVAL;
    if (madvise(addr, size, m) == 0) return 0;
    int e = errno;
    if (advice == Q_ADV_FREE && e == EINVAL) {
        /* MADV_FREE needs Linux 4.5 and private anonymous memory. */
        if (madvise(addr, size, MADV_DONTNEED) == 0) return 0;
        e = errno;
    }
    if (e == EINVAL &&
        (advice == Q_ADV_POPULATE_READ || advice == Q_ADV_POPULATE_WRITE ||
         advice == Q_ADV_GUARD_INSTALL || advice == Q_ADV_GUARD_REMOVE) &&
        !q_os_kernel_at_least(advice >= Q_ADV_GUARD_INSTALL ? 6 : 5,
                              advice >= Q_ADV_GUARD_INSTALL ? 13 : 14))
        return QUIRE_ENOTSUP;
    return q_os_error(e);
}

int q_os_remap(void *old_addr, size_t old_size, size_t new_size, int flags, void **out) {
    if (!out || new_size == 0) return QUIRE_EINVAL;
    int f = 0;
    if (flags & (Q_REMAP_MAYMOVE | Q_REMAP_FIXED)) f |= MREMAP_MAYMOVE;
    if (flags & Q_REMAP_FIXED) f |= MREMAP_FIXED;
    if (flags & Q_REMAP_DONTUNMAP) f |= MREMAP_DONTUNMAP;
    void *p;
    if (flags & Q_REMAP_FIXED)
        p = mremap(old_addr, old_size, new_size, f, *out);
    else
        p = mremap(old_addr, old_size, new_size, f);
    if (p == MAP_FAILED) return q_os_error(errno);
    *out = p;
    return 0;
}

int q_os_lock(void *addr, size_t size) {
    if (mlock(addr, size) != 0) return errno == EAGAIN ? QUIRE_ENOMEM : q_os_error(errno);
    return 0;
}

int q_os_unlock(void *addr, size_t size) {
    if (munlock(addr, size) != 0) return q_os_error(errno);
    return 0;
}

int q_os_seal(void *addr, size_t size) {
    long r = syscall(SYS_mseal, addr, size, 0UL);
    if (r == 0) return 0;
    if (errno == ENOSYS) return QUIRE_ENOTSUP;
    if (errno == EPERM) return QUIRE_ESEALED;
    return q_os_error(errno);
}

int q_os_msync(void *addr, size_t size, int async) {
    if (msync(addr, size, async ? MS_ASYNC : MS_SYNC) != 0)
        return errno == EIO ? QUIRE_EIO : q_os_error(errno);
    return 0;
}

void q_os_icache_flush(void *addr, size_t size) {
    /* x86 keeps the instruction cache coherent; other architectures need the builtin. */
    __builtin___clear_cache((char *)addr, (char *)addr + size);
}

int q_os_mincore(void *addr, size_t len, unsigned char *vec) {
    if (!vec) return QUIRE_EINVAL;
    if (mincore(addr, len, vec) != 0) return q_os_error(errno);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Files and descriptors
 * ------------------------------------------------------------------------------------------- */

int q_os_open(const char *path, int oflags, int mode, int *fd) {
    if (!path || !fd) return QUIRE_EINVAL;
    int f;
    do f = open(path, oflags | O_CLOEXEC, mode);
    while (f < 0 && errno == EINTR);
    if (f < 0) return q_os_error(errno);
    *fd = f;
    return 0;
}

int q_os_open_tmpfile(const char *dir, int *fd) {
    if (!fd) return QUIRE_EINVAL;
    if (!dir) dir = "/tmp";
    int f = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (f >= 0) {
        *fd = f;
        return 0;
    }
    char tmpl[PATH_MAX];
    size_t dl = strlen(dir);
    static const char suffix[] = "/quire-XXXXXX";
    if (dl + sizeof suffix > sizeof tmpl) return QUIRE_EINVAL;
    memcpy(tmpl, dir, dl);
    memcpy(tmpl + dl, suffix, sizeof suffix);
    f = mkostemp(tmpl, O_CLOEXEC);
    if (f < 0) return q_os_error(errno);
    unlink(tmpl);
    *fd = f;
    return 0;
}

int q_os_close(int fd) {
    /* Linux closes the descriptor even when close reports EINTR: never retry. */
    if (close(fd) != 0 && errno != EINTR) return q_os_error(errno);
    return 0;
}

int q_os_memfd(const char *name, unsigned flags, int *fd) {
    if (!name || !fd) return QUIRE_EINVAL;
    long f = syscall(SYS_memfd_create, name, flags | MFD_CLOEXEC);
    if (f < 0) return q_os_error(errno);
    *fd = (int)f;
    return 0;
}

int q_os_pread_full(int fd, void *buf, size_t n, off_t off) {
    char *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, off);
        if (r < 0) {
            if (errno == EINTR) continue;
            return q_os_error(errno);
        }
        if (r == 0) return QUIRE_EIO;
        p += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

int q_os_pwrite_full(int fd, const void *buf, size_t n, off_t off) {
    const char *p = buf;
    while (n > 0) {
        ssize_t r = pwrite(fd, p, n, off);
        if (r < 0) {
            if (errno == EINTR) continue;
            return q_os_error(errno);
        }
        if (r == 0) return QUIRE_EIO;
        p += r;
        n -= (size_t)r;
        off += r;
    }
    return 0;
}

int q_os_read(int fd, void *buf, size_t n, size_t *got) {
    if (!got || (!buf && n)) return QUIRE_EINVAL;
    ssize_t r;
    do r = read(fd, buf, n);
    while (r < 0 && errno == EINTR);
    if (r < 0) return q_os_error(errno);
    *got = (size_t)r;
    return 0;
}

int q_os_write(int fd, const void *buf, size_t n, size_t *put) {
    if (!put || (!buf && n)) return QUIRE_EINVAL;
    ssize_t r;
    do r = write(fd, buf, n);
    while (r < 0 && errno == EINTR);
    if (r < 0) return q_os_error(errno);
    *put = (size_t)r;
    return 0;
}

int q_os_dup(int fd, int *out) {
    if (!out) return QUIRE_EINVAL;
    int f = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (f < 0) return q_os_error(errno);
    *out = f;
    return 0;
}

int q_os_fsync(int fd) {
    if (fsync(fd) != 0) return q_os_error(errno);
    return 0;
}

int q_os_fdatasync(int fd) {
    if (fdatasync(fd) != 0) return q_os_error(errno);
    return 0;
}

int q_os_ftruncate(int fd, off_t size) {
    int r;
    do r = ftruncate(fd, size);
    while (r != 0 && errno == EINTR);
    if (r != 0) return q_os_error(errno);
    return 0;
}

int q_os_file_size(int fd, off_t *size) {
    struct stat st;
    if (!size) return QUIRE_EINVAL;
    if (fstat(fd, &st) != 0) return q_os_error(errno);
    *size = st.st_size;
    return 0;
}

int q_os_flock(int fd, int exclusive) {
    int r;
    do r = flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB);
    while (r != 0 && errno == EINTR);
    if (r != 0) return errno == EWOULDBLOCK ? QUIRE_EBUSY : q_os_error(errno);
    return 0;
}

int q_os_unlink(const char *path) {
    if (unlink(path) != 0) return q_os_error(errno);
    return 0;
}

int q_os_link_new(int fd, const char *tmp, const char *path) {
    if (!path) return QUIRE_EINVAL;
    int r;
    if (tmp) {
        r = link(tmp, path);
        int e = errno;
        (void)unlink(tmp);
        return r == 0 ? 0 : q_os_error(e);
    }
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    r = linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW);
    return r == 0 ? 0 : q_os_error(errno);
}

int q_os_fsync_parent(const char *path) {
    if (!path) return QUIRE_EINVAL;
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir) return QUIRE_EINVAL;
        memcpy(dir, path, n);
        dir[n] = 0;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return q_os_error(errno);
    int r;
    do r = fsync(fd);
    while (r != 0 && errno == EINTR);
    int e = errno;
    close(fd);
    /* some file systems cannot sync a directory: nothing more can be done there */
    if (r != 0 && (e == EINVAL || e == EBADF)) return 0;
    return r == 0 ? 0 : q_os_error(e);
}

static int ofd(int fd, int cmd, short type, uint64_t off, uint64_t len, struct flock *out) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = (off_t)off;
    fl.l_len = (off_t)len;
    int r;
    do r = fcntl(fd, cmd, &fl);
    while (r != 0 && errno == EINTR);
    if (out) *out = fl;
    return r;
}

int q_os_ofd_lock(int fd, uint64_t off, uint64_t len, int exclusive) {
    if (ofd(fd, F_OFD_SETLK, exclusive ? F_WRLCK : F_RDLCK, off, len, NULL) == 0) return 0;
    return errno == EAGAIN || errno == EACCES ? QUIRE_EBUSY : q_os_error(errno);
}

int q_os_ofd_unlock(int fd, uint64_t off, uint64_t len) {
    return ofd(fd, F_OFD_SETLK, F_UNLCK, off, len, NULL) == 0 ? 0 : q_os_error(errno);
}

int q_os_ofd_locked(int fd, uint64_t off, uint64_t len) {
    struct flock fl;
    if (ofd(fd, F_OFD_GETLK, F_WRLCK, off, len, &fl) != 0) return q_os_error(errno);
    return fl.l_type != F_UNLCK;
}

int q_os_exists(const char *path) {
    struct stat st;
    if (!path) return QUIRE_EINVAL;
    return stat(path, &st) == 0 ? 0 : q_os_error(errno);
}

/* ---------------------------------------------------------------------------------------------
 * Futexes on shared memory
 * ------------------------------------------------------------------------------------------- */

int q_os_futex_wait(const uint32_t *addr, uint32_t expected, uint64_t timeout_ns) {
    struct timespec ts, *tp = NULL;
    if (timeout_ns != UINT64_MAX) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000u);
        ts.tv_nsec = (long)(timeout_ns % 1000000000u);
        tp = &ts;
    }
    long r = syscall(SYS_futex, addr, 0 /* FUTEX_WAIT */, expected, tp, NULL, 0);
    if (r == 0 || errno == EAGAIN || errno == EINTR) return 0;
    return errno == ETIMEDOUT ? QUIRE_EAGAIN : q_os_error(errno);
}

void q_os_futex_wake(const uint32_t *addr, int n) {
    (void)syscall(SYS_futex, addr, 1 /* FUTEX_WAKE */, n, NULL, NULL, 0);
}

/* ---------------------------------------------------------------------------------------------
 * Process, threads, time, output
 * ------------------------------------------------------------------------------------------- */

void q_os_write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return;
        p += r;
        n -= (size_t)r;
    }
}

void q_os_abort(void) {
    /* Unblock and raise SIGABRT with the default action so the process dies of it. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGABRT);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    signal(SIGABRT, SIG_DFL);
    raise(SIGABRT);
    _exit(134);
}

int q_os_signal(int sig, void (*handler)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    return sigaction(sig, &sa, NULL) == 0 ? 0 : q_os_error(errno);
}

long q_os_thread_id(void) {
    return syscall(SYS_gettid);
}

pid_t q_os_getpid(void) {
    return getpid();
}

uint64_t q_os_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t q_os_coarse_ns(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0) return q_os_now_ns();
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void q_os_yield(void) {
    sched_yield();
}

void q_os_sleep_ns(uint64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/*
 * getenv() does not allocate, but very early (a malloc call from the dynamic loader before libc
 * has set `environ`) there is no environment yet; then /proc/self/environ is read once into a
 * static buffer.
 */
static char early_env[32768];
static _Atomic int early_env_state; /* 0 unread, 1 reading, 2 ready */

const char *q_os_getenv(const char *name) {
    if (!name) return NULL;
    size_t nl = strlen(name);
    if (environ) {
        for (char **e = environ; *e; e++)
            if (strncmp(*e, name, nl) == 0 && (*e)[nl] == '=') return *e + nl + 1;
        return NULL;
    }
    int st = atomic_load_explicit(&early_env_state, memory_order_acquire);
    if (st == 0) {
        int expect = 0;
        if (atomic_compare_exchange_strong(&early_env_state, &expect, 1)) {
            int fd = open("/proc/self/environ", O_RDONLY | O_CLOEXEC);
            size_t len = 0;
            if (fd >= 0) {
                while (len + 2 < sizeof early_env) {
                    ssize_t r = read(fd, early_env + len, sizeof early_env - 2 - len);
                    if (r < 0 && errno == EINTR) continue;
                    if (r <= 0) break;
                    len += (size_t)r;
                }
                close(fd);
            }
            early_env[len] = 0;
            early_env[len + 1] = 0;
            atomic_store_explicit(&early_env_state, 2, memory_order_release);
        }
    }
    while (atomic_load_explicit(&early_env_state, memory_order_acquire) != 2) sched_yield();
    for (const char *e = early_env; *e; e += strlen(e) + 1)
        if (strncmp(e, name, nl) == 0 && e[nl] == '=') return e + nl + 1;
    return NULL;
}

int q_os_rss(size_t *resident, size_t *mapped) {
    char buf[256];
    if (read_small_file("/proc/self/statm", buf, sizeof buf) <= 0) return QUIRE_EIO;
    const char *e;
    unsigned long long size = parse_ull(buf, &e);
    unsigned long long res = parse_ull(e, NULL);
    size_t ps = q_os_page_size();
    if (resident) *resident = (size_t)res * ps;
    if (mapped) *mapped = (size_t)size * ps;
    return 0;
}

int q_os_peak_rss(size_t *peak) {
    struct rusage ru;
    if (!peak) return QUIRE_EINVAL;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return q_os_error(errno);
    *peak = (size_t)ru.ru_maxrss * 1024;
    return 0;
}
pid_t q_os_getppid(void) {
    return getppid();
}

int q_os_program_name(char *buf, size_t cap) {
    if (!buf || cap < 2) return QUIRE_EINVAL;
    int saved = errno;
    ssize_t n = read_small_file("/proc/self/comm", buf, cap);
    int rc = n < 0 ? q_os_error(errno) : 0;
    errno = saved;
    if (rc) return rc;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == 0)) n--;
    buf[n] = 0;
    return 0;
}

void q_os_futex_wait_private(const uint32_t *addr, uint32_t expected) {
    int saved = errno;
    (void)syscall(SYS_futex, addr, 0 | 128 /* FUTEX_WAIT | FUTEX_PRIVATE_FLAG */, expected, NULL,
                  NULL, 0);
    errno = saved;
}

void q_os_futex_wake_private(const uint32_t *addr, int n) {
    int saved = errno;
    (void)syscall(SYS_futex, addr, 1 | 128 /* FUTEX_WAKE | FUTEX_PRIVATE_FLAG */, n, NULL, NULL, 0);
    errno = saved;
}

/* A 64-bit mix (the finaliser of splitmix64). */
static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void q_os_random(void *buf, size_t n) {
    int saved = errno;
    unsigned char *p = buf;
    size_t got = 0;
    while (got < n) {
        long r = syscall(SYS_getrandom, p + got, n - got, 1 /* GRND_NONBLOCK */);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        break;
    }
    errno = saved;
    if (got == n) return;
    /* Fallback: not secret against a local attacker who can read /proc, but unpredictable
       from inside another process. */
    uint64_t s = mix64(q_os_now_ns() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)buf);
    const unsigned char *aux = (const unsigned char *)getauxval(AT_RANDOM);
    if (aux) {
        uint64_t a, b;
        memcpy(&a, aux, 8);
        memcpy(&b, aux + 8, 8);
        s ^= mix64(a ^ mix64(b)); /* mixed: the raw bytes also seed glibc's stack guard */
    }
    for (size_t i = got; i < n; i++) {
        if ((i - got) % 8 == 0) s = mix64(s + 0x9e3779b97f4a7c15ull);
        p[i] = (unsigned char)(s >> (8 * ((i - got) % 8)));
    }
}
