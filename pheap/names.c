/*
 * pheap/names.c - named objects: an open-addressing hash table that lives in the heap
 * itself (an allocation named by the header's `names`), so that every change to it is part of
 * the transaction like any other write (new tables and name strings are fresh allocations;
 * entries of an older table are changed through quire_pheap_write).
 *
 * Entry hash 0 is empty, 1 deleted; real hashes are >= 2. A name is its own allocation:
 * uint32_t length, the bytes, a NUL. The table keeps its live (count) and deleted (dead) entries
 * counted, and is rebuilt, at twice the live count or more, when count + dead would exceed 3/4
 * of it: an insertion costs O(1) amortized, whatever the table's size.
 *
 * Freeing a block must remove the names registered for it, and refuse the heap's own blocks
 * (the table, name strings): an in-memory reverse index (named: object -> number of names; keys:
 * the name strings), built from the table on first need and kept up to date, answers both in
 * O(1); only a block that has names costs a pass over the table.
 */
#include <string.h>

#include "pheap/internal.h"

uint64_t q_pheap_name_hash(const char *name, size_t len) {
    uint64_t x = UINT64_C(1469598103934665603);
    for (size_t i = 0; i < len; i++) x = (x ^ (uint8_t)name[i]) * UINT64_C(1099511628211);
    return x < 2 ? x + 2 : x;
}

/* The table, or NULL when there is none or it does not fit its allocation (a corrupt file: the
 * table is unchecksummed heap data; quire_pheap_check reports it). */
static const struct ph_names *table(const q_pheap *h) {
    struct ph_block b;
    if (!h->hdr.names || q_pheap_lookup(h, h->hdr.names, &b)) return NULL;
    const struct ph_names *t = (const void *)(h->base + h->hdr.names);
    if (b.size < sizeof *t || !t->cap || (t->cap & (t->cap - 1)) ||
        t->cap > (b.size - sizeof *t) / sizeof(struct ph_nent))
        return NULL;
    return t;
}

static const struct ph_nent *entries(const struct ph_names *t) {
    return (const struct ph_nent *)(const void *)(t + 1);
}

static int check_name(const char *name, size_t *len) {
    if (!name) return QUIRE_EINVAL;
    *len = strlen(name);
    if (!*len) return QUIRE_EINVAL;
    if (*len > QUIRE_PHEAP_NAME_MAX) return QUIRE_ENAMETOOLONG;
    return 0;
}

/* The bytes of a name object, or NULL when the key is not a well-formed name (corrupt file). */
static const uint8_t *name_bytes(const q_pheap *h, uint64_t key, uint32_t *len) {
    struct ph_block b;
    if (q_pheap_lookup(h, key, &b) || b.size < 5) return NULL;
    const uint8_t *k = h->base + key;
    memcpy(len, k, 4);
    if (*len > b.size - 5 || k[4 + *len] != 0) return NULL;
    return k;
}

static int name_eq(const q_pheap *h, uint64_t key, const char *name, size_t len) {
    uint32_t kl;
    const uint8_t *k = name_bytes(h, key, &kl);
    return k && kl == len && memcmp(k + 4, name, len) == 0;
}

/* Index of the entry for name, or -1. */
static int64_t lookup(const q_pheap *h, const char *name, size_t len, uint64_t hash) {
    const struct ph_names *t = table(h);
    if (!t || !t->cap) return -1;
    const struct ph_nent *e = entries(t);
    uint64_t mask = t->cap - 1;
    for (uint64_t i = hash & mask, n = 0; n < t->cap; i = (i + 1) & mask, n++) {
        if (e[i].hash == 0) return -1;
        if (e[i].hash == hash && name_eq(h, e[i].key, name, len)) return (int64_t)i;
    }
    return -1;
}

int quire_pheap_find(const quire_pheap *hd, const char *name, quire_pref *ref) {
    const q_pheap *h = Q_PHEAP(hd);
    size_t len;
    if (!h || !ref) return QUIRE_EINVAL;
    int rc = check_name(name, &len);
    if (rc) return rc;
    int64_t i = lookup(h, name, len, q_pheap_name_hash(name, len));
    if (i < 0) return QUIRE_ENOTFOUND;
    ref->off = entries(table(h))[i].val;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The reverse index
 * ------------------------------------------------------------------------------------------- */

void q_pheap_names_reset(q_pheap *h) {
    q_base_hash_clear(&h->named);
    q_base_hash_clear(&h->keys);
    h->names_indexed = 0;
}

/* Adds delta names for object val. */
static int index_add(q_pheap *h, uint64_t val, int64_t delta) {
    uint64_t n = 0;
    (void)q_base_hash_get_u64(&h->named, val, &n);
    n = (uint64_t)((int64_t)n + delta);
    if (!n) {
        q_base_hash_del(&h->named, val);
        return 0;
    }
    return q_base_hash_put_u64(&h->named, val, n);
}

/* Builds the index from the table when it is not built yet. */
static int index_ready(q_pheap *h) {
    if (h->names_indexed) return 0;
    q_pheap_names_reset(h);
    const struct ph_names *t = table(h);
    int rc = 0;
    if (t) {
        const struct ph_nent *e = entries(t);
        for (uint64_t i = 0; i < t->cap && !rc; i++) {
            if (e[i].hash < 2) continue;
            rc = index_add(h, e[i].val, 1);
            if (!rc) rc = q_base_hash_put(&h->keys, e[i].key, NULL) < 0 ? QUIRE_ENOMEM : 0;
        }
    }
    if (rc) {
        q_pheap_names_reset(h);
        return rc;
    }
    h->names_indexed = 1;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Changes
 * ------------------------------------------------------------------------------------------- */

/* Writes one 8-byte field of the table. */
static int set_u64(q_pheap *h, uint64_t tab, uint64_t field_off, uint64_t v) {
    return quire_pheap_set(h->handle, (quire_pref){tab}, (size_t)field_off, &v, 8);
}

static uint64_t ent_off(uint64_t i, unsigned field) {
    return sizeof(struct ph_names) + i * sizeof(struct ph_nent) + field * 8u;
}

/* Makes room for one more entry: a new, larger table (deleted entries dropped) when live and
 * deleted entries would pass 3/4 of it. */
static int reserve(q_pheap *h) {
    const struct ph_names *t = table(h);
    uint64_t cap = t ? t->cap : 0, count = t ? t->count : 0, used = t ? t->count + t->dead : 0;
    if (t && (used + 1) * 4 <= cap * 3) return 0;
    uint64_t ncap = 16;
    while ((count + 1) * 2 > ncap) ncap *= 2;
    size_t size = sizeof(struct ph_names) + ncap * sizeof(struct ph_nent);
    quire_pref nt;
    int rc = quire_pheap_zalloc(h->handle, size, &nt);
    if (rc) return rc;
    void *w;
    if ((rc = quire_pheap_write(h->handle, nt, 0, size, &w))) return rc;
    struct ph_names *n = w;
    struct ph_nent *ne = (struct ph_nent *)(void *)(n + 1);
    n->cap = ncap;
    t = table(h); /* the allocation may have moved the mapping */
    if (t) {
        const struct ph_nent *e = entries(t);
        for (uint64_t i = 0; i < t->cap; i++) {
            if (e[i].hash < 2) continue;
            uint64_t j = e[i].hash & (ncap - 1);
            while (ne[j].hash) j = (j + 1) & (ncap - 1);
            ne[j] = e[i];
            n->count++;
        }
        if ((rc = q_pheap_free_internal(h, h->hdr.names))) return rc;
    }
    if ((rc = q_pheap_touch(h))) return rc;
    h->hdr.names = nt.off;
    return 0;
}

static int insert(q_pheap *h, const char *name, size_t len, uint64_t hash, uint64_t val) {
    int rc = index_ready(h);
    if (!rc) rc = reserve(h);
    if (rc) return rc;
    quire_pref key;
    if ((rc = quire_pheap_alloc(h->handle, 4 + len + 1, &key))) return rc;
    void *w;
    if ((rc = quire_pheap_write(h->handle, key, 0, 4 + len + 1, &w))) return rc;
    uint32_t l32 = (uint32_t)len;
    memcpy(w, &l32, 4);
    memcpy((uint8_t *)w + 4, name, len);
    ((uint8_t *)w)[4 + len] = 0;
    const struct ph_names *t = table(h);
    const struct ph_nent *e = entries(t);
    uint64_t mask = t->cap - 1, i = hash & mask;
    while (e[i].hash >= 2) i = (i + 1) & mask;
    uint64_t tab = h->hdr.names, count = t->count + 1, dead = t->dead - (e[i].hash == 1);
    struct ph_nent ne = {hash, key.off, val};
    struct ph_names nh = {t->cap, count, dead, 0};
    if ((rc = quire_pheap_set(h->handle, (quire_pref){tab}, (size_t)ent_off(i, 0), &ne, sizeof ne)))
        return rc;
    if ((rc = quire_pheap_set(h->handle, (quire_pref){tab}, 0, &nh, sizeof nh))) return rc;
    rc = index_add(h, val, 1);
    if (!rc && q_base_hash_put(&h->keys, key.off, NULL) < 0) rc = QUIRE_ENOMEM;
    if (rc) q_pheap_names_reset(h); /* rebuilt from the table when next needed */
    return rc;
}

/* Deletes entry i (its name object is freed). */
static int erase(q_pheap *h, uint64_t i) {
    const struct ph_names *t = table(h);
    const struct ph_nent *e = entries(t);
    uint64_t tab = h->hdr.names, key = e[i].key, val = e[i].val;
    struct ph_names nh = {t->cap, t->count - 1, t->dead + 1, 0};
    int rc = set_u64(h, tab, ent_off(i, 0), 1);
    if (!rc) rc = quire_pheap_set(h->handle, (quire_pref){tab}, 0, &nh, sizeof nh);
    if (!rc) rc = q_pheap_free_internal(h, key);
    if (rc) return rc;
    if (h->names_indexed) {
        q_base_hash_del(&h->keys, key);
        if (index_add(h, val, -1)) q_pheap_names_reset(h);
    }
    return 0;
}

int quire_pheap_named(quire_pheap *hd, const char *name, size_t size, quire_pref *ref,
                      int *created) {
    q_pheap *h = Q_PHEAP(hd);
    size_t len;
    if (!h || !ref || !size) return QUIRE_EINVAL;
    int rc = check_name(name, &len);
    if (rc) return rc;
    uint64_t hash = q_pheap_name_hash(name, len);
    int64_t i = lookup(h, name, len, hash);
    if (i >= 0) {
        ref->off = entries(table(h))[i].val;
        if (created) *created = 0;
        return 0;
    }
    quire_pref obj;
    if ((rc = quire_pheap_zalloc(hd, size, &obj))) return rc;
    if ((rc = insert(h, name, len, hash, obj.off))) return rc;
    *ref = obj;
    if (created) *created = 1;
    return 0;
}

int quire_pheap_name_set(quire_pheap *hd, const char *name, quire_pref ref) {
    q_pheap *h = Q_PHEAP(hd);
    size_t len;
    if (!h) return QUIRE_EINVAL;
    int rc = check_name(name, &len);
    if (rc) return rc;
    if (ref.off) {
        size_t sz;
        if ((rc = quire_pheap_usable_size(hd, ref, &sz))) return rc;
    }
    uint64_t hash = q_pheap_name_hash(name, len);
    int64_t i = lookup(h, name, len, hash);
    if (i < 0) return ref.off ? insert(h, name, len, hash, ref.off) : QUIRE_ENOTFOUND;
    if (!ref.off) return erase(h, (uint64_t)i);
    uint64_t old = entries(table(h))[i].val;
    if ((rc = set_u64(h, h->hdr.names, ent_off((uint64_t)i, 2), ref.off))) return rc;
    if (h->names_indexed && (index_add(h, old, -1) || index_add(h, ref.off, 1)))
        q_pheap_names_reset(h);
    return 0;
}

int quire_pheap_next_name(const quire_pheap *hd, uint64_t *cursor, const char **name,
                          quire_pref *ref) {
    const q_pheap *h = Q_PHEAP(hd);
    if (!h || !cursor || !name || !ref) return QUIRE_EINVAL;
    const struct ph_names *t = table(h);
    if (!t) return 0;
    const struct ph_nent *e = entries(t);
    for (uint64_t i = *cursor; i < t->cap; i++) {
        if (e[i].hash < 2) continue;
        uint32_t kl;
        const uint8_t *k = name_bytes(h, e[i].key, &kl);
        if (!k) continue;
        *name = (const char *)k + 4;
        ref->off = e[i].val;
        *cursor = i + 1;
        return 1;
    }
    *cursor = t->cap;
    return 0;
}

int q_pheap_names_forget(q_pheap *h, uint64_t val, uint64_t newval) {
    const struct ph_names *t = table(h);
    if (!t) return 0;
    if (val == h->hdr.names) return QUIRE_EBADREF; /* the heap's own table */
    int rc = index_ready(h);
    if (rc) return rc;
    if (q_base_hash_has(&h->keys, val)) return QUIRE_EBADREF; /* a name's bytes */
    uint64_t n = 0;
    if (!q_base_hash_get_u64(&h->named, val, &n) || !n) return 0; /* no name: O(1) */
    for (uint64_t i = 0; i < t->cap && n; i++) {
        const struct ph_nent *e = entries(t);
        if (e[i].hash < 2 || e[i].val != val) continue;
        n--;
        if (newval) {
            if ((rc = set_u64(h, h->hdr.names, ent_off(i, 2), newval))) return rc;
            if (index_add(h, val, -1) || index_add(h, newval, 1)) q_pheap_names_reset(h);
        } else if ((rc = erase(h, i))) {
            return rc;
        }
        t = table(h);
        if (!h->names_indexed && (rc = index_ready(h))) return rc;
    }
    return 0;
}
