/*
 * pheap/data.c - what a transaction does with the heap's data: allocations, frees and
 * reallocations (the allocator itself is pheap/alloc.c), declared writes and the undo records
 * they take, reading through references, the root, statistics and iteration (the contract is in
 * quire/pheap.h).
 *
 * A write to bytes of a block that existed at the last commit is declared first
 * (quire_pheap_write): its old bytes go to the undo buffer (once per range and block), which the
 * commit writes to the log before any data page (pheap/heap.c). Blocks allocated in the open
 * transaction (`fresh`) held no committed data: writes to them need no undo. Frees are only
 * recorded (`freed`, `frees`) and applied at commit, so a freed block is never reused before its
 * free is durable.
 */
#include <stdlib.h>
#include <string.h>

#include "pheap/internal.h"

/* ---------------------------------------------------------------------------------------------
 * Allocation and data
 * ------------------------------------------------------------------------------------------- */

#define PH_MAX_ALLOC (((size_t)1 << 46) - 1)

int quire_pheap_alloc(quire_pheap *h, size_t size, quire_pref *ref) {
    int rc = q_pheap_writable(h);
    if (rc) return rc;
    if (!ref || !size) return QUIRE_EINVAL;
    if (size > PH_MAX_ALLOC) return QUIRE_EOVERFLOW;
    if ((rc = q_pheap_touch(h))) return rc;
    uint64_t off;
    rc = q_pheap_alloc_block(h, size, &off);
    if (!rc) rc = q_base_hash_put_u64(&h->fresh, off, 1);
    if (rc) return rc;
    ref->off = off;
    return 0;
}

/* Takes write views of the pages holding [off, off + len). */
static int write_pages(quire_pheap *h, uint64_t off, uint64_t len) {
    uint64_t p0 = off >> h->pshift, p1 = (off + len - 1) >> h->pshift;
    for (uint64_t p = p0; p <= p1; p++) {
        void *v;
        int rc = quire_pager_get_write(h->pg, p, &v);
        if (rc) return rc;
    }
    return 0;
}

int quire_pheap_zalloc(quire_pheap *h, size_t size, quire_pref *ref) {
    quire_pref r;
    int rc = quire_pheap_alloc(h, size, &r);
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
static int live_block(const quire_pheap *h, quire_pref ref, struct ph_block *b) {
    int rc = q_pheap_lookup(h, ref.off, b);
    if (rc) return rc;
    uint64_t v;
    if (q_base_hash_get_u64(&h->freed, ref.off, &v)) return QUIRE_EBADREF;
    return 0;
}

int quire_pheap_free(quire_pheap *h, quire_pref ref) {
    int rc = q_pheap_writable(h);
    if (rc) return rc;
    uint64_t v;
    if (ref.off && q_base_hash_get_u64(&h->freed, ref.off, &v)) return QUIRE_EDOUBLEFREE;
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

int q_pheap_free_internal(quire_pheap *h, uint64_t off) {
    int rc;
    struct ph_block b;
    uint64_t v;
    quire_pref ref = {off};
    if (q_base_hash_get_u64(&h->freed, ref.off, &v)) return QUIRE_EDOUBLEFREE;
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

int quire_pheap_usable_size(quire_pheap *h, quire_pref ref, size_t *size) {
    if (!h || !size) return QUIRE_EINVAL;
    struct ph_block b;
    int rc = live_block(h, ref, &b);
    if (rc) return rc;
    *size = b.size;
    return 0;
}

/* Records the old bytes of [off, off + len) (absolute) in the undo buffer. */
static int snapshot(quire_pheap *h, uint64_t off, uint64_t len) {
    size_t need = sizeof(struct ph_rec) + (size_t)((len + 7) & ~UINT64_C(7));
    if (h->undo_n + need > q_pheap_log_capacity(h)) {
        if (h->undo_n + need > h->log_want) h->log_want = h->undo_n + need;
        return QUIRE_ETXN;
    }
    if (h->undo_n + need > h->undo_cap) {
        size_t nc = h->undo_cap ? h->undo_cap * 2 : 4096;
        while (nc < h->undo_n + need) nc *= 2;
        uint8_t *a = realloc(h->undo, nc);
        if (!a) return QUIRE_ENOMEM;
        h->undo = a;
        h->undo_cap = nc;
    }
    struct ph_rec r = {off, len};
    memcpy(h->undo + h->undo_n, &r, sizeof r);
    memcpy(h->undo + h->undo_n + sizeof r, h->base + off, (size_t)len);
    memset(h->undo + h->undo_n + sizeof r + len, 0, need - sizeof r - (size_t)len);
    h->undo_n += need;
    h->undo_nrec++;
    return 0;
}

int quire_pheap_write(quire_pheap *h, quire_pref ref, size_t off, size_t len, void **p) {
    int rc = q_pheap_writable(h);
    if (rc) return rc;
    if (!p) return QUIRE_EINVAL;
    struct ph_block b;
    if ((rc = live_block(h, ref, &b))) return rc;
    if (off > b.size || len > b.size - off) return QUIRE_ERANGE;
    if ((rc = q_pheap_touch(h))) return rc;
    if (len) {
        uint64_t v;
        if (!(q_base_hash_get_u64(&h->fresh, ref.off, &v) && v)) {
            /* an older block: snapshot the bytes not yet covered in this transaction */
            uint64_t lo = off, hi = off + len, have = 0;
            int known = q_base_hash_get_u64(&h->snap, ref.off, &have);
            uint64_t slo = have >> 32, shi = have & 0xffffffffu;
            if (!(known && lo >= slo && hi <= shi)) {
                rc = snapshot(h, ref.off + off, len);
                if (rc) return rc;
                if (hi <= 0xffffffffu) {
                    if (known && hi >= slo && lo <= shi) {
                        lo = lo < slo ? lo : slo;
                        hi = hi > shi ? hi : shi;
                    }
                    if (!known || (hi >= slo && lo <= shi))
                        if ((rc = q_base_hash_put_u64(&h->snap, ref.off, lo << 32 | hi))) return rc;
                }
            }
        }
        if ((rc = write_pages(h, ref.off + off, len))) return rc;
    }
    *p = h->base + ref.off + off;
    return 0;
}

int quire_pheap_set(quire_pheap *h, quire_pref ref, size_t off, const void *src, size_t len) {
    void *p;
    if (len && !src) return QUIRE_EINVAL;
    int rc = quire_pheap_write(h, ref, off, len, &p);
    if (!rc && len) memcpy(p, src, len);
    return rc;
}

int quire_pheap_realloc(quire_pheap *h, quire_pref *ref, size_t size) {
    int rc = q_pheap_writable(h);
    if (rc) return rc;
    if (!ref || !size) return QUIRE_EINVAL;
    if (!ref->off) return quire_pheap_alloc(h, size, ref);
    struct ph_block b;
    if ((rc = live_block(h, *ref, &b))) return rc;
    int same_class = size <= h->P
                         ? b.c->kind == PH_SMALL && b.size <= h->P &&
                               q_pheap_class_of(h, size) == q_pheap_class_of(h, b.size)
                         : b.size == (((uint64_t)size + h->P - 1) >> h->pshift << h->pshift);
    if (same_class) return 0;
    quire_pref n;
    if ((rc = quire_pheap_alloc(h, size, &n))) return rc;
    size_t keep = b.size < size ? b.size : size;
    void *dst;
    if ((rc = quire_pheap_write(h, n, 0, keep, &dst))) return rc;
    memcpy(dst, h->base + ref->off, keep);
    /* the root and names follow the block */
    if ((rc = q_pheap_names_forget(h, ref->off, n.off))) return rc;
    if (h->hdr.root == ref->off) h->hdr.root = n.off;
    if ((rc = q_pheap_free_internal(h, ref->off))) return rc;
    *ref = n;
    return 0;
}

const void *quire_pheap_ptr(const quire_pheap *h, quire_pref ref) {
    if (!h || !ref.off || ref.off >= h->npages_map << h->pshift) return NULL;
    return h->base + ref.off;
}

/* ---------------------------------------------------------------------------------------------
 * Root, statistics, iteration
 * ------------------------------------------------------------------------------------------- */

int quire_pheap_root(const quire_pheap *h, quire_pref *root) {
    if (!h || !root) return QUIRE_EINVAL;
    root->off = h->hdr.root;
    return 0;
}

int quire_pheap_set_root(quire_pheap *h, quire_pref root) {
    int rc = q_pheap_writable(h);
    if (rc) return rc;
    struct ph_block b;
    if (root.off && (rc = live_block(h, root, &b))) return rc;
    if ((rc = q_pheap_touch(h))) return rc;
    h->hdr.root = root.off;
    return 0;
}

int quire_pheap_stat(const quire_pheap *h, struct quire_pheap_stat *st) {
    if (!h || !st) return QUIRE_EINVAL;
    memset(st, 0, sizeof *st);
    st->page_size = h->P;
    st->generation = h->hdr.gen;
    st->file_bytes = quire_pager_page_count(h->pg) << h->pshift;
    st->log_capacity = q_pheap_log_capacity(h);
    st->txn_undo_bytes = h->undo_n;
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

int quire_pheap_next(const quire_pheap *h, uint64_t *cursor, quire_pref *ref, size_t *size) {
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
