/*
 * bench/flush_count.h - counts a benchmark program's flushes to stable storage.
 *
 * Included by one translation unit of a benchmark (bench_pager.c, bench_pheap.c): it defines
 * fdatasync(), fsync() and msync() in the program itself, so every call - from quire, LMDB,
 * SQLite or libpmemobj alike - is counted in n_flush before it goes to the kernel (msync only
 * with MS_SYNC, the flushing form). Flushes per commit are then counted, not assumed.
 */
#ifndef QUIRE_BENCH_FLUSH_COUNT_H
#define QUIRE_BENCH_FLUSH_COUNT_H

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static long n_flush; /* flushes so far */

int fdatasync(int fd) {
    n_flush++;
    return (int)syscall(SYS_fdatasync, fd);
}

int fsync(int fd) {
    n_flush++;
    return (int)syscall(SYS_fsync, fd);
}

int msync(void *addr, size_t len, int flags) {
    n_flush += (flags & MS_SYNC) != 0;
    return (int)syscall(SYS_msync, addr, len, flags);
}

#endif /* QUIRE_BENCH_FLUSH_COUNT_H */
