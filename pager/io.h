/*
 * pager/io.h - the pager's I/O hook. Every byte the pager reads from or writes to its file,
 * every sync, every size change and every move of its mapping goes through a struct
 * q_pager_io. quire_pager_create() and quire_pager_open() use q_pager_default_io (the calls of
 * pages/prim.h, pager/io.c); the crash harness (tests/unit/crash_harness.h) records writes and
 * syncs through its own to build the file images a power loss could leave, and test_pager_api
 * injects failures. Tests include this header and pager/format.h, never pager/internal.h.
 */
#ifndef QUIRE_PAGER_IO_H
#define QUIRE_PAGER_IO_H

#include <stddef.h>
#include <stdint.h>

#include "quire/pager.h"

/* Functions return 0 or a QUIRE_E* code. */
struct q_pager_io {
    /* Reads exactly n bytes at off (a short file is QUIRE_EIO). */
    int (*pread)(void *ctx, int fd, void *buf, size_t n, uint64_t off);
    /* Writes exactly n bytes at off. */
    int (*pwrite)(void *ctx, int fd, const void *buf, size_t n, uint64_t off);
    /* fdatasync: every write before it is durable. */
    int (*sync)(void *ctx, int fd);
    /* ftruncate to size bytes (the pager only grows its file). */
    int (*truncate)(void *ctx, int fd, uint64_t size);
    /* Moves/grows a mapping (mremap with MREMAP_MAYMOVE); tests inject failures here. */
    int (*remap)(void *ctx, void *old, size_t old_size, size_t new_size, void **out);
    void *ctx; /* passed to every function */
    /* Optional (NULL: nothing is done): writes len zero bytes at off, inside a range the file
       has just grown by. What a reader of the file sees does not change (a hole reads as
       zeros); the blocks become allocated, so that a later commit writing a page there and
       syncing does not also make the file system commit their allocation (pager/freemap.c,
       grow_for). The crash harness leaves it NULL. Errors are ignored by the pager. */
    int (*fill)(void *ctx, int fd, uint64_t off, uint64_t len);
};

/* The OS calls of pages/prim.h, ctx unused. */
extern const struct q_pager_io q_pager_default_io;

/* quire_pager_create() and quire_pager_open() through io (copied; NULL: the default). */
int q_pager_create_io(const char *path, uint32_t page_size, const struct q_pager_io *io,
                      quire_pager **out);
int q_pager_open_io(const char *path, unsigned flags, uint32_t page_size,
                    const struct q_pager_io *io, quire_pager **out);

#endif
