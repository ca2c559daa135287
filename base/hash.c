/*
 * base/hash.c - the u64 hash table (see base/hash.h for the contract and its invariants).
 */
#include <string.h>

#include "base/hash.h"
#include "base/ids.h"
#include "quire/error.h"

#define MIN_CAP 64u

/* The bucket a key is looked for first: a 64-bit finalizer (MurmurHash3's fmix step), so that
 * page ids and offsets, which differ in their low or middle bits only, spread evenly. */
static size_t home(uint64_t k, size_t cap) {
    k ^= k >> 33;
    k *= UINT64_C(0xff51afd7ed558ccd);
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

static size_t block_bytes(size_t cap, size_t val_size) {
    return cap * (sizeof(uint64_t) + val_size);
}

static unsigned char *val_at(const struct q_base_hash *h, size_t i) {
    return h->vals + i * h->val_size;
}

/* The bucket holding key, or SIZE_MAX. */
static size_t find(const struct q_base_hash *h, uint64_t key) {
    if (!h->count || key == Q_BASE_HASH_EMPTY) return SIZE_MAX;
    size_t m = h->cap - 1;
    for (size_t j = home(key, h->cap);; j = (j + 1) & m) {
        if (h->keys[j] == key) return j;
        if (h->keys[j] == Q_BASE_HASH_EMPTY) return SIZE_MAX;
    }
}

void q_base_hash_init(struct q_base_hash *h, size_t val_size, const struct q_base_mem *mem) {
    memset(h, 0, sizeof *h);
    h->val_size = val_size;
    h->mem = mem;
}

/* Moves every key and value into a new block of cap buckets. */
static int rehash(struct q_base_hash *h, size_t cap) {
    if (cap > SIZE_MAX / (sizeof(uint64_t) + h->val_size)) return QUIRE_ENOMEM;
    uint64_t *nk = h->mem->get(h->mem->ctx, block_bytes(cap, h->val_size));
    if (!nk) return QUIRE_ENOMEM;
    unsigned char *nv = (unsigned char *)(nk + cap);
    memset(nk, 0xff, cap * sizeof *nk); /* every key Q_BASE_HASH_EMPTY */
    for (size_t i = 0; i < h->cap; i++) {
        uint64_t k = h->keys[i];
        if (k == Q_BASE_HASH_EMPTY) continue;
        size_t j = home(k, cap);
        while (nk[j] != Q_BASE_HASH_EMPTY) j = (j + 1) & (cap - 1);
        nk[j] = k;
        if (h->val_size) memcpy(nv + j * h->val_size, val_at(h, i), h->val_size);
    }
    if (h->keys) h->mem->put(h->mem->ctx, h->keys, block_bytes(h->cap, h->val_size));
    h->keys = nk;
    h->vals = nv;
    h->cap = cap;
    return 0;
}

int q_base_hash_put(struct q_base_hash *h, uint64_t key, void **val) {
    if (key == Q_BASE_HASH_EMPTY) return QUIRE_EINVAL;
    size_t j = find(h, key);
    if (j != SIZE_MAX) {
        if (val) *val = val_at(h, j);
        return 0;
    }
    if ((h->count + 1) * 4 > h->cap * 3) {
        int rc = rehash(h, h->cap ? h->cap * 2 : MIN_CAP);
        if (rc) return rc;
    }
    for (j = home(key, h->cap); h->keys[j] != Q_BASE_HASH_EMPTY; j = (j + 1) & (h->cap - 1)) {}
    h->keys[j] = key;
    if (h->val_size) memset(val_at(h, j), 0, h->val_size);
    h->count++;
    if (val) *val = val_at(h, j);
    return 1;
}

void *q_base_hash_get(const struct q_base_hash *h, uint64_t key) {
    size_t j = find(h, key);
    return j == SIZE_MAX ? NULL : val_at(h, j);
}

int q_base_hash_has(const struct q_base_hash *h, uint64_t key) {
    return find(h, key) != SIZE_MAX;
}

int q_base_hash_del(struct q_base_hash *h, uint64_t key) {
    size_t j = find(h, key);
    if (j == SIZE_MAX) return 0;
    /* Backward shift: move later keys of the run into the hole when their home allows it. */
    size_t m = h->cap - 1, hole = j;
    for (size_t i = (j + 1) & m; h->keys[i] != Q_BASE_HASH_EMPTY; i = (i + 1) & m) {
        size_t hm = home(h->keys[i], h->cap);
        if (((i - hm) & m) >= ((i - hole) & m)) {
            h->keys[hole] = h->keys[i];
            if (h->val_size) memcpy(val_at(h, hole), val_at(h, i), h->val_size);
            hole = i;
        }
    }
    h->keys[hole] = Q_BASE_HASH_EMPTY;
    h->count--;
    return 1;
}

void q_base_hash_clear(struct q_base_hash *h) {
    if (h->count) memset(h->keys, 0xff, h->cap * sizeof *h->keys);
    h->count = 0;
}

void q_base_hash_free(struct q_base_hash *h) {
    if (h->keys) h->mem->put(h->mem->ctx, h->keys, block_bytes(h->cap, h->val_size));
    h->keys = NULL;
    h->vals = NULL;
    h->cap = h->count = 0;
}

int q_base_hash_sorted_keys(const struct q_base_hash *h, struct q_base_vec *out) {
    out->n = 0;
    int rc = q_base_vec_reserve(out, h->count);
    if (rc) return rc;
    for (size_t i = 0; i < h->cap; i++)
        if (h->keys[i] != Q_BASE_HASH_EMPTY) out->v[out->n++] = h->keys[i];
    q_base_sort_u64(out->v, out->n);
    return 0;
}

const char *q_base_hash_validate(const struct q_base_hash *h) {
    if (!h->cap) return h->count || h->keys ? "hash: keys without buckets" : NULL;
    if ((h->cap & (h->cap - 1)) || h->cap < MIN_CAP) return "hash: cap is not a power of two";
    if (h->count * 4 > h->cap * 3) return "hash: filled past 3/4";
    size_t n = 0, m = h->cap - 1;
    for (size_t i = 0; i < h->cap; i++) {
        uint64_t k = h->keys[i];
        if (k == Q_BASE_HASH_EMPTY) continue;
        n++;
        for (size_t j = home(k, h->cap); j != i; j = (j + 1) & m)
            if (h->keys[j] == Q_BASE_HASH_EMPTY) return "hash: a key lies past an empty bucket";
    }
    return n == h->count ? NULL : "hash: count differs from the keys present";
}
