/*
 * pager/io.c - the default I/O hook (see pager/io.h): the pager's file calls, forwarded to the
 * OS primitives of pages/prim.h.
 */
#include "pager/io.h"
#include "pages/prim.h"

static int io_pread(void *ctx, int fd, void *buf, size_t n, uint64_t off) {
    (void)ctx;
    return q_os_pread_full(fd, buf, n, (off_t)off);
}
static int io_pwrite(void *ctx, int fd, const void *buf, size_t n, uint64_t off) {
    (void)ctx;
    return q_os_pwrite_full(fd, buf, n, (off_t)off);
}
static int io_sync(void *ctx, int fd) {
    (void)ctx;
    return q_os_fdatasync(fd);
}
static int io_truncate(void *ctx, int fd, uint64_t size) {
    (void)ctx;
    return q_os_ftruncate(fd, (off_t)size);
}
static int io_fill(void *ctx, int fd, uint64_t off, uint64_t len) {
    (void)ctx;
    static const unsigned char zeros[64 << 10];
    while (len) {
        size_t n = len < sizeof zeros ? (size_t)len : sizeof zeros;
        int rc = q_os_pwrite_full(fd, zeros, n, (off_t)off);
        if (rc) return rc;
        off += n;
        len -= n;
    }
    return 0;
}
static int io_remap(void *ctx, void *old, size_t old_size, size_t new_size, void **out) {
    (void)ctx;
    return q_os_remap(old, old_size, new_size, Q_REMAP_MAYMOVE, out);
}

const struct q_pager_io q_pager_default_io = {io_pread, io_pwrite, io_sync, io_truncate,
                                              io_remap, NULL,      io_fill};
