/*
 * base/hash.h - the library's one hash table: u64 keys, each with a value of a fixed number of
 * bytes (0 bytes: a set). The pager keeps sets of page ids in it (pages with write views, freed
 * sub-page slots, protected pages with an open writer); the persistent heap maps offsets to
 * u64s (blocks allocated or freed in the open transaction, ranges already snapshotted).
 *
 * Open addressing with linear probing and backward-shift deletion (no tombstones), one block of
 * memory per table (cap keys, then cap values) from a caller-supplied struct q_base_mem, so the
 * malloc engine can use it with pages of its own. The table doubles (from 64 buckets) when an
 * insertion would fill it past 3/4. Key Q_BASE_HASH_EMPTY marks an empty bucket and cannot be
 * stored.
 *
 * Invariants (checked by q_base_hash_validate): cap is 0 or a power of two >= 64;
 * count == buckets holding a key <= 3/4 cap; every key lies in the run of full buckets that
 * starts at its home bucket (no empty bucket between its home and its place).
 */
#ifndef QUIRE_BASE_HASH_H
#define QUIRE_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"
#include "base/vec.h"

#define Q_BASE_HASH_EMPTY UINT64_MAX

struct q_base_hash {
    uint64_t *keys;               /* cap buckets (NULL while cap is 0) */
    unsigned char *vals;          /* cap values of val_size bytes, after the keys */
    size_t cap;                   /* buckets: 0 or a power of two */
    size_t count;                 /* keys present */
    size_t val_size;              /* bytes per value (0: a set); values of a multiple of 8 bytes
                                   * are 8-byte aligned */
    const struct q_base_mem *mem; /* where the block comes from */
};

/* An empty table of val_size-byte values drawing on mem (nothing allocated before the first
 * insertion). */
void q_base_hash_init(struct q_base_hash *h, size_t val_size, const struct q_base_mem *mem);
/* Finds or inserts key. *val (if val is not NULL) receives its value's address, valid until the
 * next insertion; a new key's value is zeroed. Returns 1 when the key was added, 0 when it was
 * present, QUIRE_EINVAL for Q_BASE_HASH_EMPTY, QUIRE_ENOMEM (the table is unchanged). */
int q_base_hash_put(struct q_base_hash *h, uint64_t key, void **val);
/* The address of key's value, or NULL when the key is absent (sets: use q_base_hash_has). */
void *q_base_hash_get(const struct q_base_hash *h, uint64_t key);
/* 1 when key is present, else 0. */
int q_base_hash_has(const struct q_base_hash *h, uint64_t key);
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
