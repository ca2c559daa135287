/*
 * base/hash.c - the u64 hash table's changes: insertion, growth, deletion (see base/hash.h for
 * the contract, its invariants and the inline lookups).
 */
#include <string.h>

#include "base/hash.h"
#include "base/ids.h"
#include "quire/error.h"

#define MIN_CAP 64u

static size_t block_bytes(size_t cap, size_t val_size) {
    return cap * (sizeof(uint64_t) + val_size);
}

static unsigned char *val_at(const struct q_base_hash *h, size_t i) {
    return h->vals + i * h->val_size;
}

/* Copies one value (u64 values, the common case, without a memcpy call). */
static void val_copy(size_t val_size, unsigned char *dst, const unsigned char *src) {
    if (val_size == sizeof(uint64_t))
        *(uint64_t *)(void *)dst = *(const uint64_t *)(const void *)src;
    else if (val_size)
        memcpy(dst, src, val_size);
}

void q_base_hash_init(struct q_base_hash *h, size_t val_size, const struct q_base_mem *mem) {
    memset(h, 0, sizeof *h);
    h->val_size = val_size;
    h->mem = mem;
}

/* Moves every key and value into a new block of cap buckets (a power of two >= MIN_CAP). */
static int rehash(struct q_base_hash *h, size_t cap) {
    if (cap > SIZE_MAX / (sizeof(uint64_t) + h->val_size)) return QUIRE_ENOMEM;
    uint64_t *nk = h->mem->get(h->mem->ctx, block_bytes(cap, h->val_size));
    if (!nk) return QUIRE_ENOMEM;
    struct q_base_hash n = *h;
    n.vals = (unsigned char *)(nk + cap);
    n.cap = cap;
    n.shift = 64u - (unsigned)__builtin_ctzll((unsigned long long)cap);
    n.tags = nk; /* zero-filled: every bucket empty */
    for (size_t i = 0; i < h->cap; i++) {
        uint64_t t = h->tags[i];
        if (!t) continue;
        size_t j = q_base_hash_home(&n, t - 1);
        while (nk[j]) j = (j + 1) & (cap - 1);
        nk[j] = t;
        val_copy(h->val_size, val_at(&n, j), val_at(h, i));
    }
    if (h->tags) h->mem->put(h->mem->ctx, h->tags, block_bytes(h->cap, h->val_size));
    *h = n;
    return 0;
}

int q_base_hash_put(struct q_base_hash *h, uint64_t key, void **val) {
    if (key == Q_BASE_HASH_RESERVED) return QUIRE_EINVAL;
    if ((h->count + 1) * 4 > h->cap * 3 && !q_base_hash_has(h, key)) {
        int rc = rehash(h, h->cap ? h->cap * 2 : MIN_CAP);
        if (rc) return rc;
    }
    /* One probe: the key's bucket, or the empty one where it goes. */
    size_t m = h->cap - 1, j = q_base_hash_home(h, key);
    uint64_t tag = q_base_hash_tag(key);
    while (h->tags[j] != tag && h->tags[j]) j = (j + 1) & m;
    int added = !h->tags[j];
    if (added) {
        h->tags[j] = tag;
        if (h->val_size == sizeof(uint64_t))
            *(uint64_t *)(void *)val_at(h, j) = 0;
        else if (h->val_size)
            memset(val_at(h, j), 0, h->val_size);
        h->count++;
    }
    if (val) *val = val_at(h, j);
    return added;
}

int q_base_hash_del(struct q_base_hash *h, uint64_t key) {
    size_t j = q_base_hash_find(h, key);
    if (j == SIZE_MAX) return 0;
    /* Backward shift: move later keys of the run into the hole when their home allows it. */
    size_t m = h->cap - 1, hole = j;
    for (size_t i = (j + 1) & m; h->tags[i]; i = (i + 1) & m) {
        size_t hm = q_base_hash_home(h, h->tags[i] - 1);
        if (((i - hm) & m) >= ((i - hole) & m)) {
            h->tags[hole] = h->tags[i];
            val_copy(h->val_size, val_at(h, hole), val_at(h, i));
            hole = i;
        }
    }
    h->tags[hole] = 0;
    h->count--;
    return 1;
}

void q_base_hash_clear(struct q_base_hash *h) {
    if (h->count) memset(h->tags, 0, h->cap * sizeof *h->tags);
    h->count = 0;
}

void q_base_hash_free(struct q_base_hash *h) {
    if (h->tags) h->mem->put(h->mem->ctx, h->tags, block_bytes(h->cap, h->val_size));
    h->tags = NULL;
    h->vals = NULL;
    h->cap = h->count = 0;
    h->shift = 0;
}

int q_base_hash_sorted_keys(const struct q_base_hash *h, struct q_base_vec *out) {
    out->n = 0;
    int rc = q_base_vec_reserve(out, h->count);
    if (rc) return rc;
    for (size_t i = 0; i < h->cap; i++)
        if (h->tags[i]) out->v[out->n++] = h->tags[i] - 1;
    q_base_sort_u64(out->v, out->n);
    return 0;
}

const char *q_base_hash_validate(const struct q_base_hash *h) {
    if (!h->cap) return h->count || h->tags ? "hash: keys without buckets" : NULL;
    if ((h->cap & (h->cap - 1)) || h->cap < MIN_CAP) return "hash: cap is not a power of two";
    if (h->shift != 64u - (unsigned)__builtin_ctzll((unsigned long long)h->cap))
        return "hash: shift does not match cap";
    if (h->count * 4 > h->cap * 3) return "hash: filled past 3/4";
    size_t n = 0, m = h->cap - 1;
    for (size_t i = 0; i < h->cap; i++) {
        uint64_t t = h->tags[i];
        if (!t) continue;
        n++;
        for (size_t j = q_base_hash_home(h, t - 1); j != i; j = (j + 1) & m)
            if (!h->tags[j]) return "hash: a key lies past an empty bucket";
    }
    return n == h->count ? NULL : "hash: count differs from the keys present";
}
