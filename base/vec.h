/*
 * base/vec.h - a growable array of u64 (page ids, offsets, node addresses), its memory from a
 * struct q_base_mem.
 */
#ifndef QUIRE_BASE_VEC_H
#define QUIRE_BASE_VEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"

struct q_base_vec {
    uint64_t *v;                  /* n elements, room for cap */
    size_t n, cap;                /* n <= cap */
    const struct q_base_mem *mem; /* where v comes from */
};

/* An empty vector drawing on mem (nothing is allocated before the first push). */
void q_base_vec_init(struct q_base_vec *v, const struct q_base_mem *mem);
/* Appends x: 0, or QUIRE_ENOMEM (the vector is unchanged). */
int q_base_vec_push(struct q_base_vec *v, uint64_t x);
/* Makes room for `extra` more elements, so that that many pushes cannot fail: 0 or
 * QUIRE_ENOMEM. */
int q_base_vec_reserve(struct q_base_vec *v, size_t extra);
/* Gives the memory back; the vector is empty and usable again. */
void q_base_vec_free(struct q_base_vec *v);

#endif
