/*
 * base/vec.c - growable u64 arrays (see base/vec.h). Doubles from 64 elements; a block is
 * replaced by a larger one (get, copy, put), since struct q_base_mem has no realloc.
 */
#include <string.h>

#include "base/vec.h"
#include "quire/error.h"

void q_base_vec_init(struct q_base_vec *v, const struct q_base_mem *mem) {
    v->v = NULL;
    v->n = v->cap = 0;
    v->mem = mem;
}

/* Moves the elements to a block of cap elements (cap >= n). */
static int resize(struct q_base_vec *v, size_t cap) {
    if (cap > SIZE_MAX / sizeof *v->v) return QUIRE_ENOMEM;
    uint64_t *nv = v->mem->get(v->mem->ctx, cap * sizeof *nv);
    if (!nv) return QUIRE_ENOMEM;
    if (v->n) memcpy(nv, v->v, v->n * sizeof *nv);
    if (v->v) v->mem->put(v->mem->ctx, v->v, v->cap * sizeof *v->v);
    v->v = nv;
    v->cap = cap;
    return 0;
}

int q_base_vec_push(struct q_base_vec *v, uint64_t x) {
    if (v->n == v->cap) {
        int rc = resize(v, v->cap ? v->cap * 2 : 64);
        if (rc) return rc;
    }
    v->v[v->n++] = x;
    return 0;
}

int q_base_vec_reserve(struct q_base_vec *v, size_t extra) {
    if (v->cap - v->n >= extra) return 0;
    if (extra > SIZE_MAX - v->n) return QUIRE_ENOMEM;
    return resize(v, v->n + extra);
}

void q_base_vec_free(struct q_base_vec *v) {
    if (v->v) v->mem->put(v->mem->ctx, v->v, v->cap * sizeof *v->v);
    v->v = NULL;
    v->n = v->cap = 0;
}
