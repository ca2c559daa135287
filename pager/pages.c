/*
 * pager/pages.c - regular pages: allocation (one, near a hint, in bulk, a contiguous run), frees
 * (pending until the freeing transaction commits), growth, views, flushes and iteration; and
 * the pager's counters (the contract is in quire/pager.h).
 *
 * The free map (pager/freemap.c) does the bookkeeping; a modifying call commits on its own
 * unless a transaction is open (q_pager_autocommit, pager/commit.c). A write view adds its page
 * to the cow set, which the next commit writes (the mapping is MAP_PRIVATE: pager/mapping.c).
 */
#include <string.h>

#include "pager/internal.h"

/* ---------------------------------------------------------------------------------------------
 * Counters
 * ------------------------------------------------------------------------------------------- */

uint32_t quire_pager_page_size(const quire_pager *h) {
    q_pager *p = Q_PAGER(h);
    return p ? p->P : 0;
}
uint64_t quire_pager_page_count(const quire_pager *h) {
    q_pager *p = Q_PAGER(h);
    return p ? p->page_count : 0;
}
uint64_t quire_pager_free_page_count(const quire_pager *h) {
    q_pager *p = Q_PAGER(h);
    return p ? p->ntype[Q_FREE] + p->n_absent_free : 0;
}

int quire_pager_mapping(const quire_pager *h, void **base, uint64_t *page_count) {
    q_pager *p = Q_PAGER(h);
    if (!p || !base) return QUIRE_EINVAL;
    *base = p->mapping;
    if (page_count) *page_count = p->page_count;
    return 0;
}

int quire_pager_stat(const quire_pager *h, struct quire_pager_stat *st) {
    q_pager *p = Q_PAGER(h);
    if (!p || !st) return QUIRE_EINVAL;
    st->page_size = p->P;
    st->page_count = p->page_count;
    st->free_pages = p->ntype[Q_FREE] + p->n_absent_free;
    st->regular_pages = p->ntype[Q_REGULAR];
    st->protected_pages = p->n_protected;
    st->internal_pages = p->ntype[Q_INTERNAL] + (p->page_count - p->ntype[0] - p->ntype[1] -
                                                 p->ntype[2] - p->ntype[3] - p->n_absent_free);
    st->pending_pages = p->ntype[Q_PENDING];
    st->subpage_slots = p->n_subslots;
    st->generation = p->gen;
    st->durable_generation = p->rdonly ? p->gen : p->anchor;
    st->shadow_pages = p->shadows.count;
    /* readers: what the writer counts (its last publication) and the slots in use */
    st->readers = 0;
    st->oldest_snapshot = p->gen;
    st->held_pages = p->ntype[Q_PENDING] + p->shadows.count;
    if (p->lk) {
        const struct q_lock_slot *sl = (const void *)((const uint8_t *)p->lk + Q_LOCK_HDR);
        for (uint32_t i = 0; i < Q_LOCK_SLOTS; i++) {
            if (!atomic_load_explicit(&sl[i].owner, memory_order_relaxed)) continue;
            uint64_t g = atomic_load_explicit(&sl[i].gen, memory_order_relaxed);
            st->readers++;
            if (g && g < st->oldest_snapshot) st->oldest_snapshot = g;
        }
        if (p->rdonly && q_pager_writer_alive(p)) {
            st->held_pages = atomic_load_explicit(&p->lk->held_pages, memory_order_relaxed);
            st->durable_generation = atomic_load_explicit(&p->lk->durable, memory_order_relaxed);
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Regular pages
 * ------------------------------------------------------------------------------------------- */

/* Validates a regular page id: 0 when allocated, else the error for `op` (free or access). */
static int check_regular(const q_pager *p, uint64_t id, int for_free) {
    if (id >= p->page_count) return QUIRE_EBOUNDS;
    unsigned t = q_pager_freemap_type(p, id);
    if (t == Q_INTERNAL) return QUIRE_ERESERVED;
    if (t == Q_REGULAR) return 0;
    return for_free ? QUIRE_EDOUBLEFREE : QUIRE_ENOTALLOC;
}

int quire_pager_alloc_near(quire_pager *h, uint64_t hint, uint64_t *id) {
    q_pager *p = Q_PAGER(h);
    if (!p || !id) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    rc = q_pager_freemap_alloc(p, Q_REGULAR, hint, id);
    if (!rc) rc = q_pager_autocommit(p);
    return rc;
}

int quire_pager_alloc(quire_pager *h, uint64_t *id) {
    return quire_pager_alloc_near(h, 0, id);
}

int quire_pager_alloc_bulk(quire_pager *h, size_t n, uint64_t *ids) {
    q_pager *p = Q_PAGER(h);
    if (!p || (!ids && n)) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc || !n) return rc;
    rc = q_pager_freemap_reserve(p, n);
    size_t done = 0;
    if (!rc) rc = q_pager_freemap_alloc_many(p, Q_REGULAR, n, ids, &done);
    if (rc) {
        /* All or nothing: give back what this call took (only ENOMEM can get here). */
        for (size_t k = 0; k < done; k++) (void)q_pager_freemap_set(p, ids[k], Q_FREE);
        return rc;
    }
    return q_pager_autocommit(p);
}

int quire_pager_alloc_run(quire_pager *h, uint64_t n, uint64_t *first) {
    q_pager *p = Q_PAGER(h);
    if (!p || !first || !n) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    rc = q_pager_freemap_alloc_run(p, n, first);
    if (!rc) rc = q_pager_autocommit(p);
    return rc;
}

int quire_pager_free(quire_pager *h, uint64_t id) {
    return quire_pager_free_bulk(h, 1, &id);
}

int quire_pager_free_bulk(quire_pager *h, size_t n, const uint64_t *ids) {
    q_pager *p = Q_PAGER(h);
    if (!p || (!ids && n)) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc || !n) return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = check_regular(p, ids[i], 1))) return rc;
    rc = q_base_ids_repeat(ids, n, &q_base_mem_libc); /* the same id twice is a double free */
    if (rc) return rc < 0 ? rc : QUIRE_EDOUBLEFREE;
    /* Reserve the bookkeeping first so that the loop below cannot fail half way. */
    if ((rc = q_base_vec_reserve(&p->pending, n))) return rc;
    for (size_t i = 0; i < n; i++) {
        rc = q_pager_freemap_free_pending(p, ids[i], p->gen + 1);
        if (rc) { /* leaves exist for allocated pages: cannot happen */
            p->fatal = rc;
            return rc;
        }
    }
    return q_pager_autocommit(p);
}

int quire_pager_grow(quire_pager *h, uint64_t count) {
    q_pager *p = Q_PAGER(h);
    if (!p) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    rc = q_pager_freemap_grow(p, count);
    if (!rc) rc = q_pager_autocommit(p);
    return rc;
}

int quire_pager_get(quire_pager *h, uint64_t id, const void **data) {
    q_pager *p = Q_PAGER(h);
    if (!p || !data) return QUIRE_EINVAL;
    if (p->fatal) return QUIRE_EUNAVAIL;
    int rc = check_regular(p, id, 0);
    if (rc) return rc;
    *data = p->mapping + (id << p->pshift);
    return 0;
}

int quire_pager_get_write(quire_pager *h, uint64_t id, void **data) {
    q_pager *p = Q_PAGER(h);
    if (!p || !data) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    if ((rc = check_regular(p, id, 0))) return rc;
    rc = q_base_hash_put(&p->cow, id, NULL);
    if (rc < 0) return rc;
    *data = p->mapping + (id << p->pshift);
    return 0;
}

/* A page flush may write: one allocated since the last commit (no state holds it) and written
 * through a view. */
static int flushable(const q_pager *p, uint64_t id) {
    unsigned t = q_pager_freemap_type(p, id);
    if (t != Q_REGULAR && t != Q_INTERNAL) return 0;
    if (!q_base_hash_has(&p->cow, id)) return 0;
    unsigned was = q_pager_freemap_committed_type(p, id);
    return was == Q_FREE || was == Q_PENDING;
}

int quire_pager_flush_range(quire_pager *h, uint64_t first, uint64_t n) {
    q_pager *p = Q_PAGER(h);
    if (!p) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    if (first >= p->page_count || n > p->page_count - first) return QUIRE_EBOUNDS;
    int wrote = 0;
    for (uint64_t i = first; i < first + n && !rc;) {
        if (!flushable(p, i)) {
            i++;
            continue;
        }
        uint64_t j = i + 1;
        while (j < first + n && flushable(p, j) && j - i < 256) j++;
        rc = p->io.pwrite(p->io.ctx, p->fd, p->mapping + (i << p->pshift),
                          (size_t)((j - i) << p->pshift), i << p->pshift);
        wrote = 1;
        i = j;
    }
    if (!rc && wrote) rc = p->io.sync(p->io.ctx, p->fd);
    if (rc) p->fatal = rc;
    return rc;
}

int quire_pager_flush(quire_pager *h, uint64_t id) {
    q_pager *p = Q_PAGER(h);
    if (!p) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    if ((rc = check_regular(p, id, 0))) return rc;
    return quire_pager_flush_range(h, id, 1);
}

int quire_pager_next_page(quire_pager *h, uint64_t *cursor, uint64_t *id) {
    q_pager *p = Q_PAGER(h);
    if (!p || !cursor || !id) return QUIRE_EINVAL;
    if (p->fatal) return QUIRE_EUNAVAIL;
    uint64_t i = *cursor;
    while (i < p->page_count) {
        uint64_t g = i / p->G, base = g * p->G;
        struct q_node *leaf = q_pager_tree_leaf(p, &p->tree[Q_TREE_FREEMAP], g);
        uint64_t end = base + p->G < p->page_count ? base + p->G : p->page_count;
        if (leaf) {
            for (; i < end; i++) {
                if ((i & 31) == 0 && i + 32 <= end) {
                    uint64_t w;
                    memcpy(&w, leaf->buf + ((i - base) >> 2), 8);
                    /* no entry equal to 01 in this word: skip it */
                    if (!((w & ~(w >> 1)) & UINT64_C(0x5555555555555555))) {
                        i += 31;
                        continue;
                    }
                }
                if (q_freemap_entry(leaf->buf, i - base) == Q_REGULAR) {
                    *id = i;
                    *cursor = i + 1;
                    return 1;
                }
            }
        }
        i = end;
    }
    *cursor = i;
    return 0;
}
