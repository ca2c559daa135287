/*
 * base/hash.h - the library's one hash table: u64 keys, each with a value of a fixed number of
 * bytes (0 bytes: a set). The pager keeps sets of page ids in it (pages with write views, freed
 * sub-page slots, protected pages with an open writer); the persistent heap maps offsets to
 * u64s (blocks allocated or freed in the open transaction, ranges already snapshotted).
 *
 * Open addressing with linear probing and backward-shift deletion (no tombstones), one block of
 * memory per table (cap keys, then cap values) from a caller-supplied struct q_base_mem, so the
 * malloc engine can use it with pages of its own. A key's home bucket is Fibonacci hashing (the
 * top bits of key * 2^64/phi), which spreads sequential page ids and aligned offsets evenly in
 * one multiply. The table doubles (from 64 buckets) when an insertion would fill it past 3/4.
 * A bucket holds its key's tag, key + 1, and 0 when empty, so a new block from the allocator
 * (zero-filled, base/mem.h) is an empty table without a pass over it; the one key that cannot be
 * stored is Q_BASE_HASH_RESERVED (UINT64_MAX). Lookups are inline (they are on the heap's
 * allocation path); changes are out of line.
 *
 * Invariants (checked by q_base_hash_validate): cap is 0 or a power of two >= 64 and
 * shift == 64 - log2(cap); count == buckets holding a key <= 3/4 cap; every key lies in the run
 * of full buckets that starts at its home bucket (no empty bucket between its home and its
 * place).
 */
#ifndef QUIRE_BASE_HASH_H
#define QUIRE_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"
#include "base/vec.h"

#define Q_BASE_HASH_RESERVED UINT64_MAX

/* A key as its bucket stores it (0: an empty bucket). */
static inline uint64_t q_base_hash_tag(uint64_t key) {
    return key + 1;
}

struct q_base_hash {
    uint64_t *tags;      /* cap buckets: q_base_hash_tag(key), or 0 (NULL while cap is 0) */
    unsigned char *vals; /* cap values of val_size bytes, after the keys */
    size_t cap;          /* buckets: 0 or a power of two */
    size_t count;        /* keys present */
    unsigned shift;      /* 64 - log2(cap): home(key) = (key * 2^64/phi) >> shift */
    size_t val_size;     /* bytes per value (0: a set); values of a multiple of 8 bytes
                          * are 8-byte aligned */
    const struct q_base_mem *mem; /* where the block comes from */
};

/* An empty table of val_size-byte values drawing on mem (nothing allocated before the first
 * insertion). */
void q_base_hash_init(struct q_base_hash *h, size_t val_size, const struct q_base_mem *mem);
/* Finds or inserts key. *val (if val is not NULL) receives its value's address, valid until the
 * next insertion; a new key's value is zeroed. Returns 1 when the key was added, 0 when it was
 * present, QUIRE_EINVAL for Q_BASE_HASH_RESERVED, QUIRE_ENOMEM (the table is unchanged). */
int q_base_hash_put(struct q_base_hash *h, uint64_t key, void **val);
/* Removes key: 1 when it was present, else 0. */
int q_base_hash_del(struct q_base_hash *h, uint64_t key);
/* Removes every key; keeps the memory. */
void q_base_hash_clear(struct q_base_hash *h);
/* Gives the memory back; the table is empty and usable again. */
void q_base_hash_free(struct q_base_hash *h);
/* Replaces the contents of out with the keys in increasing order: 0 or QUIRE_ENOMEM. */
int q_base_hash_sorted_keys(const struct q_base_hash *h, struct q_base_vec *out);
/* NULL when the invariants above hold, else a sentence naming the one that does not. */
const char *q_base_hash_validate(const struct q_base_hash *h);

/* ---- lookups (inline) ---------------------------------------------------------------------- */

/* The bucket a key is looked for first. */
static inline size_t q_base_hash_home(const struct q_base_hash *h, uint64_t key) {
    return (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> h->shift);
}

/* The bucket holding key, or SIZE_MAX. */
static inline size_t q_base_hash_find(const struct q_base_hash *h, uint64_t key) {
    if (!h->count || key == Q_BASE_HASH_RESERVED) return SIZE_MAX;
    size_t m = h->cap - 1;
    uint64_t tag = q_base_hash_tag(key);
    for (size_t j = q_base_hash_home(h, key);; j = (j + 1) & m) {
        if (h->tags[j] == tag) return j;
        if (!h->tags[j]) return SIZE_MAX;
    }
}

/* The address of key's value, or NULL when the key is absent (sets: use q_base_hash_has). */
static inline void *q_base_hash_get(const struct q_base_hash *h, uint64_t key) {
    size_t j = q_base_hash_find(h, key);
    return j == SIZE_MAX ? NULL : h->vals + j * h->val_size;
}

/* 1 when key is present, else 0. */
static inline int q_base_hash_has(const struct q_base_hash *h, uint64_t key) {
    return q_base_hash_find(h, key) != SIZE_MAX;
}

/* u64 values: sets key to v (0 or an error of q_base_hash_put). */
static inline int q_base_hash_put_u64(struct q_base_hash *h, uint64_t key, uint64_t v) {
    void *p;
    int rc = q_base_hash_put(h, key, &p);
    if (rc < 0) return rc;
    *(uint64_t *)p = v;
    return 0;
}
/* u64 values: 1 and *v set when key is present, else 0. */
static inline int q_base_hash_get_u64(const struct q_base_hash *h, uint64_t key, uint64_t *v) {
    const uint64_t *p = (const uint64_t *)q_base_hash_get(h, key);
    if (!p) return 0;
    *v = *p;
    return 1;
}

#endif
