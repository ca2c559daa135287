/*
 * base/mem_libc.c - q_base_mem_libc: the C library's calloc and free behind struct q_base_mem.
 * Kept apart from the containers, which never call malloc themselves.
 */
#include <stdlib.h>

#include "base/mem.h"

static void *libc_get(void *ctx, size_t bytes) {
    (void)ctx;
    return calloc(1, bytes ? bytes : 1);
}

static void libc_put(void *ctx, void *block, size_t bytes) {
    (void)ctx;
    (void)bytes;
    free(block);
}

const struct q_base_mem q_base_mem_libc = {libc_get, libc_put, NULL};
