/*
 * pheap/data.c - what a transaction does with the heap's data: allocations, frees and
 * reallocations (the allocator itself is pheap/alloc.c), declared writes, reading through
 * references, the root, statistics and iteration (the contract is in quire/pheap.h).
 *
 * A write is declared first (quire_pheap_write): the pages it touches get write views, so the
 * pager's commit carries their new bytes atomically with everything else (pheap/heap.c). Frees of
 * blocks the last commit holds are only recorded (`freed`, `frees`) and applied at commit, so a
 * freed block is never reused before its free is committed; a block allocated and freed in the
 * same transaction (`fresh`) is freed at once. A change that fails leaves the transaction as it
 * was: it is marked changed only after the change succeeded.
 */
#include <stdlib.h>
#include <string.h>

#include "pheap/internal.h"

/* ---------------------------------------------------------------------------------------------
 * Allocation and data
 * ------------------------------------------------------------------------------------------- */

#define PH_MAX_ALLOC (((size_t)1 << 46) - 1)

static int alloc_impl(q_pheap *h, size_t size, quire_pref *ref) {
    int rc = q_pheap_writable(h);
    if (rc) return rc;
    if (!ref || !size) return QUIRE_EINVAL;
    if (size > PH_MAX_ALLOC) return QUIRE_EOVERFLOW;
    if ((rc = q_pheap_begin(h))) return rc;
    uint64_t off;
    rc = q_pheap_alloc_block(h, size, &off);
    if (!rc) rc = q_base_hash_put_u64(&h->fresh, off, 1);
    if (rc) return rc; /* not marked changed: a failed allocation leaves nothing to commit */
    q_pheap_changed(h);
    ref->off = off;
    return 0;
}

int quire_pheap_alloc(quire_pheap *hd, size_t size, quire_pref *ref) {
    return alloc_impl(Q_PHEAP(hd), size, ref);
}

/* Takes write views of the pages holding [off, off + len). */
static int write_pages(q_pheap *h, uint64_t off, uint64_t len) {
    uint64_t p0 = off >> h->pshift, p1 = (off + len - 1) >> h->pshift;
    for (uint64_t p = p0; p <= p1; p++) {
        void *v;
        int rc = quire_pager_get_write(h->pg, p, &v);
        if (rc) return rc;
    }
    return 0;
}

int quire_pheap_zalloc(quire_pheap *hd, size_t size, quire_pref *ref) {
    q_pheap *h = Q_PHEAP(hd);
    quire_pref r;
    int rc = alloc_impl(h, size, &r);
    if (rc) return rc;
    struct ph_block b;
    rc = q_pheap_lookup(h, r.off, &b);
    if (!rc) rc = write_pages(h, r.off, b.size);
    if (rc) return rc;
    memset(h->base + r.off, 0, b.size);
    *ref = r;
    return 0;
}

/* Validates a reference for use in this transaction. */
static int live_block(const q_pheap *h, quire_pref ref, struct ph_block *b) {
    int rc = q_pheap_lookup(h, ref.off, b);
    if (rc) return rc;
    uint64_t v;
    if (q_base_hash_get_u64(&h->freed, ref.off, &v)) return QUIRE_EBADREF;
    return 0;
}

/* Freed already in this transaction: a block the last commit holds (freed, applied at commit),
 * or one allocated in this transaction and freed at once (fresh 0, its slot not reused since). */
static int freed_in_txn(const q_pheap *h, uint64_t off) {
    uint64_t v;
    if (q_base_hash_get_u64(&h->freed, off, &v)) return 1;
    struct ph_block b;
    return q_base_hash_get_u64(&h->fresh, off, &v) && !v && q_pheap_lookup(h, off, &b) != 0;
}

int quire_pheap_free(quire_pheap *hd, quire_pref ref) {
    q_pheap *h = Q_PHEAP(hd);
    int rc = q_pheap_writable(h);
    if (rc) return rc;
    if (ref.off && freed_in_txn(h, ref.off)) return QUIRE_EDOUBLEFREE;
    if (!h->hdr.names && h->hdr.root != ref.off) return q_pheap_free_internal(h, ref.off);
    struct ph_block b;
    if ((rc = q_pheap_lookup(h, ref.off, &b))) return rc;
    if ((rc = q_pheap_touch(h))) return rc;
    /* a freed block is no longer the root nor named (no dangling reference in the heap); the
     * names table and name bytes are the heap's own (QUIRE_EBADREF) */
    if ((rc = q_pheap_names_forget(h, ref.off, 0))) return rc;
    if (h->hdr.root == ref.off) h->hdr.root = 0;
    return q_pheap_free_internal(h, ref.off);
}

int q_pheap_free_internal(q_pheap *h, uint64_t off) {
    int rc;
    struct ph_block b;
    uint64_t v;
    quire_pref ref = {off};
    if (off && freed_in_txn(h, off)) return QUIRE_EDOUBLEFREE;
    if ((rc = q_pheap_lookup(h, ref.off, &b))) return rc;
    if ((rc = q_pheap_touch(h))) return rc;
    if (q_base_hash_get_u64(&h->fresh, ref.off, &v) && v) {
        /* allocated in this transaction: its bytes were free at the last commit */
        int huge = b.c->kind == PH_HUGE; /* its chunk goes back to the pager: [remaps] */
        rc = q_base_hash_put_u64(&h->fresh, ref.off, 0);
        if (!rc) rc = q_pheap_free_found(h, &b);
        if (!rc && huge) rc = q_pheap_rebase(h);
        return rc;
    }
    if ((rc = q_base_vec_reserve(&h->frees, 1))) return rc;
    rc = q_base_hash_put_u64(&h->freed, ref.off, 1);
    if (rc) return rc;
    (void)q_base_vec_push(&h->frees, ref.off); /* reserved: cannot fail */
    return 0;
}

int quire_pheap_usable_size(quire_pheap *hd, quire_pref ref, size_t *size) {
    q_pheap *h = Q_PHEAP(hd);
    if (!h || !size) return QUIRE_EINVAL;
    struct ph_block b;
    int rc = live_block(h, ref, &b);
    if (rc) return rc;
    *size = b.size;
    return 0;
}

int quire_pheap_write(quire_pheap *hd, quire_pref ref, size_t off, size_t len, void **p) {
    q_pheap *h = Q_PHEAP(hd);
    int rc = q_pheap_writable(h);
    if (rc) return rc;
    if (!p) return QUIRE_EINVAL;
    struct ph_block b;
    if ((rc = live_block(h, ref, &b))) return rc;
    if (off > b.size || len > b.size - off) return QUIRE_ERANGE;
    if ((rc = q_pheap_begin(h))) return rc;
    if (len && (rc = write_pages(h, ref.off + off, len))) return rc;
    q_pheap_changed(h);
    *p = h->base + ref.off + off;
    return 0;
}

int quire_pheap_set(quire_pheap *hd, quire_pref ref, size_t off, const void *src, size_t len) {
    void *p;
    if (len && !src) return QUIRE_EINVAL;
    int rc = quire_pheap_write(hd, ref, off, len, &p);
    if (!rc && len) memcpy(p, src, len);
    return rc;
}

int quire_pheap_realloc(quire_pheap *hd, quire_pref *ref, size_t size) {
    q_pheap *h = Q_PHEAP(hd);
    int rc = q_pheap_writable(h);
    if (rc) return rc;
    if (!ref || !size) return QUIRE_EINVAL;
    if (!ref->off) return alloc_impl(h, size, ref);
    struct ph_block b;
    if ((rc = live_block(h, *ref, &b))) return rc;
    int same_class = size <= h->P
                         ? b.c->kind == PH_SMALL && b.size <= h->P &&
                               q_pheap_class_of(h, size) == q_pheap_class_of(h, b.size)
                         : b.size == (((uint64_t)size + h->P - 1) >> h->pshift << h->pshift);
    if (same_class) return 0;
    quire_pref n;
    if ((rc = alloc_impl(h, size, &n))) return rc;
    size_t keep = b.size < size ? b.size : size;
    void *dst;
    if ((rc = quire_pheap_write(hd, n, 0, keep, &dst))) return rc;
    memcpy(dst, h->base + ref->off, keep);
    /* the root and names follow the block */
    if ((rc = q_pheap_names_forget(h, ref->off, n.off))) return rc;
    if (h->hdr.root == ref->off) h->hdr.root = n.off;
    if ((rc = q_pheap_free_internal(h, ref->off))) return rc;
    *ref = n;
    return 0;
}

const void *quire_pheap_ptr(const quire_pheap *hd, quire_pref ref) {
    const q_pheap *h = Q_PHEAP(hd);
    if (!h || !ref.off || ref.off >= h->npages_map << h->pshift) return NULL;
    return h->base + ref.off;
}

/* ---------------------------------------------------------------------------------------------
 * Root, statistics, iteration
 * ------------------------------------------------------------------------------------------- */

int quire_pheap_root(const quire_pheap *hd, quire_pref *root) {
    const q_pheap *h = Q_PHEAP(hd);
    if (!h || !root) return QUIRE_EINVAL;
    root->off = h->hdr.root;
    return 0;
}

int quire_pheap_set_root(quire_pheap *hd, quire_pref root) {
    q_pheap *h = Q_PHEAP(hd);
    int rc = q_pheap_writable(h);
    if (rc) return rc;
    struct ph_block b;
    if (root.off && (rc = live_block(h, root, &b))) return rc;
    if ((rc = q_pheap_touch(h))) return rc;
    h->hdr.root = root.off;
    return 0;
}

int quire_pheap_stat(const quire_pheap *hd, struct quire_pheap_stat *st) {
    const q_pheap *h = Q_PHEAP(hd);
    if (!h || !st) return QUIRE_EINVAL;
    memset(st, 0, sizeof *st);
    st->page_size = h->P;
    st->generation = h->hdr.gen;
    st->file_bytes = quire_pager_page_count(h->pg) << h->pshift;
    struct quire_pager_stat ps;
    if (!quire_pager_stat(h->pg, &ps)) {
        st->readers = ps.readers;
        st->oldest_snapshot = ps.oldest_snapshot;
        st->held_pages = ps.held_pages;
    }
    q_pheap_stats(h, st);
    for (size_t i = 0; i < h->frees.n; i++) { /* freed in the open transaction: dead already */
        struct ph_block b;
        if (q_pheap_lookup(h, h->frees.v[i], &b)) continue;
        st->objects--;
        st->bytes_used -= b.size;
        st->bytes_free += b.size;
    }
    return 0;
}

int quire_pheap_next(const quire_pheap *hd, uint64_t *cursor, quire_pref *ref, size_t *size) {
    const q_pheap *h = Q_PHEAP(hd);
    if (!h || !cursor || !ref) return QUIRE_EINVAL;
    size_t sz;
    uint64_t v;
    int rc;
    /* blocks freed in the open transaction are dead already */
    while ((rc = q_pheap_next_block(h, cursor, &ref->off, &sz)) == 1 &&
           q_base_hash_get_u64(&h->freed, ref->off, &v))
        ;
    if (rc == 1 && size) *size = sz;
    return rc;
}
