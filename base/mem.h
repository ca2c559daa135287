/*
 * base/mem.h - where base/'s containers (hash tables, vectors) get their memory: from an
 * allocator the caller supplies, never from malloc directly, so that a module that must not call
 * malloc (the malloc engine) can hand them memory of its own (pages from pages/prim.h).
 */
#ifndef QUIRE_BASE_MEM_H
#define QUIRE_BASE_MEM_H

#include <stddef.h>

struct q_base_mem {
    /* Returns a block of `bytes` zero-filled bytes (calloc, fresh pages), aligned for uint64_t,
     * or NULL. */
    void *(*get)(void *ctx, size_t bytes);
    /* Gives back a block `get` returned, with the size it was asked for. */
    void (*put)(void *ctx, void *block, size_t bytes);
    void *ctx; /* passed to get and put */
};

/* calloc and free (base/mem_libc.c): for the pager and the persistent heap, which run in
 * ordinary processes. */
extern const struct q_base_mem q_base_mem_libc;

#endif
