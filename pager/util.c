/*
 * pager/util.c - the default I/O layer, which forwards to the OS primitives of pages/prim.h, and
 * the checksum of a metadata node copy.
 */
#include "pager/internal.h"
#include "pages/prim.h"

uint32_t q_node_crc(uint64_t gen, const void *buf, size_t n) {
    uint32_t c = q_base_crc32c(0, &gen, sizeof gen);
    return q_base_crc32c(c, buf, n);
}

/* ---------------------------------------------------------------------------------------------
 * The default I/O layer
 * ------------------------------------------------------------------------------------------- */

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
static int io_remap(void *ctx, void *old, size_t old_size, size_t new_size, void **out) {
    (void)ctx;
    return q_os_remap(old, old_size, new_size, Q_REMAP_MAYMOVE, out);
}

const struct q_pager_io q_pager_default_io = {io_pread,    io_pwrite, io_sync,
                                              io_truncate, io_remap,  NULL};
