/*
 * pheap/heap.c - the persistent heap's life cycle and commit chain: open/create, recovery,
 * the undo log, commit, abort (the contract is in quire/pheap.h, the glossary in
 * pheap/internal.h; allocations and declared writes are in pheap/data.c).
 *
 * The commit chain (quire_pheap_commit):
 *   1. apply the transaction's frees to the in-memory chunk headers (chunks left empty and huge
 *      blocks go back to the pager);
 *   2. if the transaction changed bytes of blocks that existed at the last commit: write their
 *      undo records (old bytes) into the log pages, stamped with generation g + 1 and a CRC, and
 *      quire_pager_flush_range() them                   -- sync: the old bytes are durable
 *   3. stage every changed chunk header and the header of generation g + 1 (protected pages);
 *   4. quire_pager_commit(): data pages, metadata, sync, superblock, sync
 *                                                        -- the new generation is the heap
 * A crash before 4 completes leaves the pager (so the header and chunk headers) at generation g;
 * data pages may hold some new bytes, but only in blocks free at g (no undo needed) or in ranges
 * whose old bytes a valid log of generation g + 1 holds: open copies them back (recover()).
 * Recovery is idempotent, and it ends by committing header generation g + 1, which makes the log
 * stale (a log is replayed only when its generation is header + 1).
 *
 * Rollback (quire_pheap_abort) aborts the pager transaction, which drops every private page
 * copy, allocation and protected write, then reloads the heap's state from the last commit.
 */
#include <stdlib.h>
#include <string.h>

#include "pheap/internal.h"

/* ---------------------------------------------------------------------------------------------
 * State
 * ------------------------------------------------------------------------------------------- */

int q_pheap_rebase(quire_pheap *h) {
    void *base;
    int rc = quire_pager_mapping(h->pg, &base, &h->npages_map);
    if (rc) return rc;
    h->base = base;
    return h->base ? 0 : QUIRE_EUNAVAIL;
}

static void txn_clear(quire_pheap *h) {
    q_base_hash_clear(&h->fresh);
    q_base_hash_clear(&h->freed);
    q_base_hash_clear(&h->snap);
    h->frees.n = 0;
    h->undo_n = 0;
    h->undo_nrec = 0;
    h->txn = 0;
    h->changed = 0;
}

void q_pheap_txn_init(quire_pheap *h) {
    q_base_hash_init(&h->fresh, 8, &q_base_mem_libc);
    q_base_hash_init(&h->freed, 8, &q_base_mem_libc);
    q_base_hash_init(&h->snap, 8, &q_base_mem_libc);
    q_base_vec_init(&h->frees, &q_base_mem_libc);
}

/* Reads the header (protected page 0) into h->hdr. */
static int read_header(quire_pheap *h) {
    const void *img;
    int rc = quire_pager_protected_get(h->pg, PH_HDR_PID, &img);
    if (rc == QUIRE_EBOUNDS || rc == QUIRE_ENOTALLOC) return QUIRE_EMAGIC;
    if (rc) return rc;
    const struct ph_header *hd = img;
    if (memcmp(hd->magic, PH_MAGIC, 8) != 0) return QUIRE_EMAGIC;
    if (hd->version != PH_VERSION) return QUIRE_EVERSION;
    if (hd->page_size != h->P) return QUIRE_EHEAP;
    uint64_t pc = quire_pager_page_count(h->pg);
    if (hd->log_npages < 1 || hd->log_first < 2 || hd->log_first >= pc ||
        hd->log_npages > pc - hd->log_first)
        return QUIRE_EHEAP;
    h->hdr = *hd;
    return 0;
}

/* Re-reads everything from the last commit. */
static int reload(quire_pheap *h) {
    txn_clear(h);
    int rc = read_header(h);
    if (!rc) rc = q_pheap_rebase(h);
    if (!rc) rc = q_pheap_load_chunks(h);
    if (!rc && h->hdr.root) {
        struct ph_block b;
        if (q_pheap_lookup(h, h->hdr.root, &b)) rc = QUIRE_EHEAP;
    }
    if (!rc && h->hdr.names) {
        struct ph_block b;
        if (q_pheap_lookup(h, h->hdr.names, &b) || b.size < sizeof(struct ph_names))
            rc = QUIRE_EHEAP;
    }
    if (!rc) Q_VALIDATE(q_pheap_validate(h));
    return rc;
}

static int write_header(quire_pheap *h, const struct ph_header *hd) {
    quire_pager_writer *w;
    int rc = quire_pager_protected_write(h->pg, PH_HDR_PID, &w);
    if (rc) return rc;
    uint8_t *d = quire_pager_writer_data(w);
    memset(d, 0, h->P);
    memcpy(d, hd, sizeof *hd);
    return quire_pager_writer_commit(w);
}

/* Makes the pager unusable for the heap after a failure inside the commit chain. */
static int fail(quire_pheap *h, int rc) {
    h->fatal = rc;
    return rc;
}

int q_pheap_log_pending(quire_pheap *h, uint64_t gen) {
    const struct ph_loghdr *lh = (const void *)(h->base + (h->hdr.log_first << h->pshift));
    if (lh->magic != PH_LOG_MAGIC || lh->gen != gen || lh->nbytes > q_pheap_log_capacity(h))
        return 0;
    uint32_t crc = q_base_crc32c(0, &lh->gen, 24);
    crc = q_base_crc32c(crc, lh + 1, lh->nbytes);
    return crc == lh->crc;
}

/* Replays the undo log of an interrupted commit (old bytes back, last record first), then
 * commits header generation + 1 so that the log is stale. */
static int recover(quire_pheap *h) {
    const struct ph_loghdr *lh = (const void *)(h->base + (h->hdr.log_first << h->pshift));
    uint64_t nrec = lh->nrec, nbytes = lh->nbytes, gen = lh->gen;
    uint64_t *at = malloc((nrec ? nrec : 1) * sizeof *at);
    if (!at) return QUIRE_ENOMEM;
    /* copy the log: get_write calls below may not move the mapping, but stay safe */
    uint8_t *log = malloc(nbytes ? nbytes : 1);
    if (!log) {
        free(at);
        return QUIRE_ENOMEM;
    }
    memcpy(log, lh + 1, nbytes);
    uint64_t pos = 0, n = 0;
    while (n < nrec && pos + sizeof(struct ph_rec) <= nbytes) {
        struct ph_rec r;
        memcpy(&r, log + pos, sizeof r);
        uint64_t padded = (r.len + 7) & ~UINT64_C(7);
        if (r.len > nbytes || padded > nbytes - pos - sizeof r) break;
        at[n++] = pos;
        pos += sizeof r + padded;
    }
    int rc = n == nrec ? quire_pager_begin(h->pg) : QUIRE_EHEAP;
    uint64_t limit = quire_pager_page_count(h->pg) << h->pshift;
    for (uint64_t i = n; i-- > 0 && !rc;) {
        struct ph_rec r;
        memcpy(&r, log + at[i], sizeof r);
        if (!r.len || r.off >= limit || r.len > limit - r.off) continue;
        uint64_t p0 = r.off >> h->pshift, p1 = (r.off + r.len - 1) >> h->pshift;
        int ok = 1;
        for (uint64_t pg = p0; pg <= p1 && ok; pg++) {
            void *v;
            int e = quire_pager_get_write(h->pg, pg, &v);
            if (e == QUIRE_ENOTALLOC || e == QUIRE_ERESERVED || e == QUIRE_EBOUNDS)
                ok = 0;
            else if (e)
                rc = e, ok = 0;
        }
        if (ok) memcpy(h->base + r.off, log + at[i] + sizeof r, r.len);
    }
    free(at);
    free(log);
    if (rc) return rc;
    struct ph_header hd = h->hdr;
    hd.gen = gen;
    rc = write_header(h, &hd);
    if (!rc) rc = quire_pager_commit(h->pg);
    if (rc) return rc;
    return reload(h);
}

static int log_zero_first(quire_pheap *h) {
    void *v;
    int rc = quire_pager_get_write(h->pg, h->hdr.log_first, &v);
    if (!rc) memset(v, 0, h->P);
    return rc;
}

/* Grows the undo log to hold `bytes` of records: a new page run, committed on its own. */
static int grow_log(quire_pheap *h, uint64_t bytes) {
    uint64_t need = (bytes + sizeof(struct ph_loghdr) + h->P - 1) >> h->pshift;
    if (need <= h->hdr.log_npages) return 0;
    int rc = quire_pager_begin(h->pg);
    if (rc) return rc;
    uint64_t first, old = h->hdr.log_first, oldn = h->hdr.log_npages;
    rc = q_pheap_alloc_run(h, need, &first);
    for (uint64_t k = 0; k < oldn && !rc; k++) rc = quire_pager_free(h->pg, old + k);
    if (!rc) {
        struct ph_header hd = h->hdr;
        hd.log_first = first;
        hd.log_npages = need;
        h->hdr = hd;
        rc = log_zero_first(h);
        if (!rc) rc = write_header(h, &hd);
        if (!rc) rc = quire_pager_commit(h->pg);
        if (rc && !h->fatal) {
            (void)quire_pager_abort(h->pg);
            int r2 = reload(h);
            if (r2) h->fatal = r2;
            return rc;
        }
    } else {
        (void)quire_pager_abort(h->pg);
        h->hdr.log_first = old;
        h->hdr.log_npages = oldn;
        int r2 = reload(h);
        if (r2) h->fatal = r2;
        return rc;
    }
    h->log_want = 0;
    return q_pheap_rebase(h);
}

int q_pheap_touch(quire_pheap *h) {
    if (h->fatal) return QUIRE_EUNAVAIL;
    if (h->rdonly) return QUIRE_ERDONLY;
    if (!h->txn) {
        if (h->log_want > q_pheap_log_capacity(h)) {
            int rc = grow_log(h, h->log_want);
            if (rc) return rc;
        }
        int rc = quire_pager_begin(h->pg);
        if (rc) return rc;
        h->txn = 1;
    }
    h->changed = 1;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Open, create, close
 * ------------------------------------------------------------------------------------------- */

static void heap_release(quire_pheap *h) {
    q_pheap_free_chunks(h);
    q_base_hash_free(&h->fresh);
    q_base_hash_free(&h->freed);
    q_base_hash_free(&h->snap);
    q_base_vec_free(&h->frees);
    free(h->undo);
    free(h);
}

static int create_heap(quire_pheap *h) {
    if (quire_pager_page_count(h->pg) == 0) return QUIRE_EHEAP;
    uint64_t cur = 0, id;
    if (quire_pager_next_protected(h->pg, &cur, &id) == 1) return QUIRE_EEXIST;
    cur = 0;
    if (quire_pager_next_page(h->pg, &cur, &id) == 1) return QUIRE_EEXIST;
    int rc = quire_pager_begin(h->pg);
    uint64_t pid = 1, first = 0;
    if (!rc) rc = quire_pager_protected_alloc(h->pg, &pid);
    if (!rc && pid != PH_HDR_PID) rc = QUIRE_EHEAP;
    uint64_t n = (QUIRE_PHEAP_LOG_DEFAULT + sizeof(struct ph_loghdr) + h->P - 1) >> h->pshift;
    if (!rc) rc = q_pheap_alloc_run(h, n, &first);
    if (!rc) {
        memset(&h->hdr, 0, sizeof h->hdr);
        memcpy(h->hdr.magic, PH_MAGIC, 8);
        h->hdr.version = PH_VERSION;
        h->hdr.page_size = h->P;
        h->hdr.log_first = first;
        h->hdr.log_npages = n;
        rc = q_pheap_rebase(h);
    }
    if (!rc) rc = log_zero_first(h);
    if (!rc) rc = write_header(h, &h->hdr);
    if (!rc) rc = quire_pager_commit(h->pg);
    if (!rc) rc = reload(h);
    return rc;
}

int q_pheap_open_pager(quire_pager *pg, int mode, quire_pheap **out) {
    quire_pheap *h = calloc(1, sizeof *h);
    if (!h) {
        quire_pager_close(pg);
        return QUIRE_ENOMEM;
    }
    h->pg = pg;
    q_pheap_txn_init(h);
    h->P = quire_pager_page_size(pg);
    h->pshift = (uint32_t)__builtin_ctz(h->P);
    h->D = (h->P - PH_DESC_OFF) / (uint32_t)(sizeof(struct ph_desc) + h->P / 128);
    h->rdonly = (mode & (PH_OPEN_RDONLY | PH_OPEN_CHECK)) != 0;
    q_pheap_classes(h);
    int rc;
    if (mode & PH_OPEN_CREATE) {
        rc = create_heap(h);
    } else {
        rc = read_header(h);
        if (!rc) rc = q_pheap_rebase(h);
        if (!rc && q_pheap_log_pending(h, h->hdr.gen + 1)) {
            if (mode & PH_OPEN_CHECK)
                h->recovery_pending = 1;
            else if (h->rdonly)
                rc = QUIRE_ESTATE;
            else
                rc = recover(h);
        }
        /* in check mode a pending log may name blocks whose bytes are torn: load the
         * (protected, hence consistent) metadata anyway */
        if (!rc) rc = reload(h);
    }
    if (rc) {
        quire_pager_close(pg);
        heap_release(h);
        return rc;
    }
    *out = h;
    return 0;
}

/* Is this pager file pristine (created, never given a heap)? */
static int pristine(quire_pager *pg) {
    uint64_t cur = 0, id;
    if (quire_pager_next_protected(pg, &cur, &id) != 0) return 0;
    cur = 0;
    return quire_pager_next_page(pg, &cur, &id) == 0;
}

int quire_pheap_open(const char *path, unsigned flags, uint32_t page_size, quire_pheap **out) {
    if (!path || !out || (flags & ~7u) ||
        ((flags & QUIRE_PHEAP_CREATE) && (flags & QUIRE_PHEAP_RDONLY)) ||
        ((flags & QUIRE_PHEAP_EXCL) && !(flags & QUIRE_PHEAP_CREATE)))
        return QUIRE_EINVAL;
    quire_pager *pg;
    int rc;
    if (flags & QUIRE_PHEAP_RDONLY) {
        for (int attempt = 0;; attempt++) {
            rc = quire_pager_open(path, QUIRE_PAGER_RDONLY, page_size, &pg);
            if (rc) return rc;
            rc = q_pheap_open_pager(pg, PH_OPEN_RDONLY, out);
            if (rc != QUIRE_ESTATE || attempt) return rc;
            /* a crashed commit: recover through a short writable open */
            quire_pheap *w;
            int r2 = quire_pheap_open(path, 0, page_size, &w);
            if (r2) return QUIRE_ESTATE;
            r2 = quire_pheap_close(w);
            if (r2) return r2;
        }
    }
    if (flags & QUIRE_PHEAP_CREATE) {
        rc = quire_pager_create(path, page_size, &pg);
        if (!rc) return q_pheap_open_pager(pg, PH_OPEN_CREATE, out);
        if (rc != QUIRE_EEXIST || (flags & QUIRE_PHEAP_EXCL)) return rc;
    }
    rc = quire_pager_open(path, 0, page_size, &pg);
    if (rc) return rc;
    if ((flags & QUIRE_PHEAP_CREATE) && pristine(pg))
        return q_pheap_open_pager(pg, PH_OPEN_CREATE, out); /* a create that crashed early */
    return q_pheap_open_pager(pg, 0, out);
}

int quire_pheap_close(quire_pheap *h) {
    if (!h) return 0;
    int rc = quire_pager_close(h->pg); /* an open pager transaction is aborted */
    heap_release(h);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------------------------- */

/* Step 2 of the chain: the undo records, stamped with the new generation and a CRC, into the log
 * pages, flushed (synced) before any data page is written. */
static int write_undo_log(quire_pheap *h, uint64_t gen) {
    uint64_t bytes = sizeof(struct ph_loghdr) + h->undo_n;
    uint64_t npg = (bytes + h->P - 1) >> h->pshift;
    int rc = 0;
    for (uint64_t k = 0; k < npg && !rc; k++) {
        void *v;
        rc = quire_pager_get_write(h->pg, h->hdr.log_first + k, &v);
    }
    if (rc) return rc;
    struct ph_loghdr *lh = (void *)(h->base + (h->hdr.log_first << h->pshift));
    memset(lh, 0, sizeof *lh);
    memcpy(lh + 1, h->undo, h->undo_n);
    lh->magic = PH_LOG_MAGIC;
    lh->gen = gen;
    lh->nbytes = h->undo_n;
    lh->nrec = h->undo_nrec;
    lh->crc = q_base_crc32c(q_base_crc32c(0, &lh->gen, 24), lh + 1, h->undo_n);
    return quire_pager_flush_range(h->pg, h->hdr.log_first, npg);
}

int quire_pheap_commit(quire_pheap *h) {
    int rc = q_pheap_writable(h);
    if (rc) return rc;
    if (!h->changed) return 0;
    /* 1. the frees reach the chunk headers (empty chunks go back to the pager) */
    rc = q_pheap_apply_frees(h);
    if (!rc) rc = q_pheap_rebase(h);
    if (rc) return fail(h, rc);
    struct ph_header hd = h->hdr;
    hd.gen++;
    /* 2. the undo log, durable before any data page is written */
    if (h->undo_n && (rc = write_undo_log(h, hd.gen))) return fail(h, rc);
    /* 3-4. chunk headers and the header (protected pages), then the pager's commit */
    rc = q_pheap_write_chunks(h);
    if (!rc) rc = write_header(h, &hd);
    if (!rc) rc = quire_pager_commit(h->pg);
    if (rc) return fail(h, rc);
    h->hdr = hd;
    txn_clear(h);
    rc = q_pheap_rebase(h);
    if (rc) return fail(h, rc);
    Q_VALIDATE(q_pheap_validate(h));
    return 0;
}

int quire_pheap_abort(quire_pheap *h) {
    int rc = q_pheap_writable(h);
    if (rc) return rc;
    rc = quire_pager_abort(h->pg);
    if (!rc) rc = reload(h);
    return rc ? fail(h, rc) : 0;
}

int quire_pheap_reserve_log(quire_pheap *h, size_t bytes) {
    int rc = q_pheap_writable(h);
    if (rc) return rc;
    if (h->changed) return QUIRE_ESTATE;
    if (bytes <= q_pheap_log_capacity(h)) return 0;
    return grow_log(h, bytes);
}
