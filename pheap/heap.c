/*
 * pheap/heap.c - the persistent heap's life cycle and commit chain: open/create, commit, abort,
 * durability (the contract is in quire/pheap.h, the glossary in pheap/internal.h; allocations
 * and declared writes are in pheap/data.c).
 *
 * The commit chain (quire_pheap_commit):
 *   1. apply the transaction's frees to the in-memory chunk headers (chunks left empty and huge
 *      blocks go back to the pager);
 *   2. stage every changed chunk header and the header of generation g + 1 (protected pages);
 *   3. quire_pager_commit(): the data pages written through declared writes (in place when the
 *      pager allocated them in this transaction, else to shadow pages), the protected pages,
 *      the pager's metadata, the superblock - one fdatasync   -- the new generation is the heap
 * A crash before 3 completes leaves the pager, hence every byte the heap reads, at generation g:
 * the pager never overwrites what its last commit holds (quire/pager.h). Version 1 of the
 * format wrote an undo log and synced it before the data pages (three flushes per commit).
 *
 * Rollback (quire_pheap_abort) aborts the pager transaction, which drops every private page
 * copy, allocation and protected write, then reloads the heap's state from the last commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pheap/internal.h"

/* ---------------------------------------------------------------------------------------------
 * Handles, state
 * ------------------------------------------------------------------------------------------- */

q_pheap *q_pheap_state(const quire_pheap *h, const char *fn) {
    if (!h) return NULL;
    if (h->h.magic == PH_HANDLE_LIVE && h->h.state) return h->h.state;
    fprintf(stderr, "quire: %s: %s heap handle %p\n", fn,
            h->h.magic == PH_HANDLE_CLOSED ? "closed (used after quire_pheap_close)" : "invalid",
            (const void *)h);
    fflush(stderr);
    abort();
}

int q_pheap_rebase(q_pheap *h) {
    void *base;
    int rc = quire_pager_mapping(h->pg, &base, &h->npages_map);
    if (rc) return rc;
    h->base = base;
    return h->base ? 0 : QUIRE_EUNAVAIL;
}

static void txn_clear(q_pheap *h) {
    q_base_hash_clear(&h->fresh);
    q_base_hash_clear(&h->freed);
    h->frees.n = 0;
    h->txn = 0;
    h->changed = 0;
}

void q_pheap_txn_init(q_pheap *h) {
    q_base_hash_init(&h->fresh, 8, &q_base_mem_libc);
    q_base_hash_init(&h->freed, 8, &q_base_mem_libc);
    q_base_vec_init(&h->frees, &q_base_mem_libc);
    q_base_hash_init(&h->named, 8, &q_base_mem_libc);
    q_base_hash_init(&h->keys, 0, &q_base_mem_libc);
}

/* Reads the header (protected page 0) into h->hdr. */
static int read_header(q_pheap *h) {
    const void *img;
    int rc = quire_pager_protected_get(h->pg, PH_HDR_PID, &img);
    if (rc == QUIRE_EBOUNDS || rc == QUIRE_ENOTALLOC) return QUIRE_EMAGIC;
    if (rc) return rc;
    const struct ph_header *hd = img;
    if (memcmp(hd->magic, PH_MAGIC, 8) != 0) return QUIRE_EMAGIC;
    if (hd->version != PH_VERSION) return QUIRE_EVERSION;
    if (hd->page_size != h->P) return QUIRE_EHEAP;
    h->hdr = *hd;
    return 0;
}

/* Re-reads everything from the last commit. */
static int reload(q_pheap *h) {
    txn_clear(h);
    q_pheap_names_reset(h);
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

static int write_header(q_pheap *h, const struct ph_header *hd) {
    quire_pager_writer *w;
    int rc = quire_pager_protected_write(h->pg, PH_HDR_PID, &w);
    if (rc) return rc;
    uint8_t *d = quire_pager_writer_data(w);
    memset(d, 0, h->P);
    memcpy(d, hd, sizeof *hd);
    return quire_pager_writer_commit(w);
}

/* Makes the pager unusable for the heap after a failure inside the commit chain. */
static int fail(q_pheap *h, int rc) {
    h->fatal = rc;
    return rc;
}

int q_pheap_begin(q_pheap *h) {
    if (h->fatal) return QUIRE_EUNAVAIL;
    if (h->rdonly) return QUIRE_ERDONLY;
    if (!h->txn) {
        int rc = quire_pager_begin(h->pg);
        if (rc) return rc;
        h->txn = 1;
    }
    return 0;
}

int q_pheap_touch(q_pheap *h) {
    int rc = q_pheap_begin(h);
    if (!rc) q_pheap_changed(h);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Open, create, close
 * ------------------------------------------------------------------------------------------- */

static void heap_release(q_pheap *h) {
    q_pheap_free_chunks(h);
    q_base_hash_free(&h->fresh);
    q_base_hash_free(&h->freed);
    q_base_vec_free(&h->frees);
    q_base_hash_free(&h->named);
    q_base_hash_free(&h->keys);
    if (h->handle) q_base_handle_close(&h->handle->h, PH_HANDLE_CLOSED);
    free(h);
}

static int create_heap(q_pheap *h) {
    if (quire_pager_page_count(h->pg) == 0) return QUIRE_EHEAP;
    uint64_t cur = 0, id;
    if (quire_pager_next_protected(h->pg, &cur, &id) == 1) return QUIRE_EEXIST;
    cur = 0;
    if (quire_pager_next_page(h->pg, &cur, &id) == 1) return QUIRE_EEXIST;
    int rc = quire_pager_begin(h->pg);
    uint64_t pid = 1;
    if (!rc) rc = quire_pager_protected_alloc(h->pg, &pid);
    if (!rc && pid != PH_HDR_PID) rc = QUIRE_EHEAP;
    if (!rc) {
        memset(&h->hdr, 0, sizeof h->hdr);
        memcpy(h->hdr.magic, PH_MAGIC, 8);
        h->hdr.version = PH_VERSION;
        h->hdr.page_size = h->P;
        rc = q_pheap_rebase(h);
    }
    if (!rc) rc = write_header(h, &h->hdr);
    if (!rc) rc = quire_pager_commit(h->pg);
    if (!rc) rc = reload(h);
    return rc;
}

int q_pheap_open_pager(quire_pager *pg, int mode, quire_pheap **out) {
    q_pheap *h = calloc(1, sizeof *h);
    quire_pheap *hd = h ? (quire_pheap *)q_base_handle_new(PH_HANDLE_LIVE, h) : NULL;
    if (!hd) {
        free(h);
        quire_pager_close(pg);
        return QUIRE_ENOMEM;
    }
    h->handle = hd;
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
        if (!rc) rc = reload(h);
    }
    if (rc) {
        quire_pager_close(pg);
        heap_release(h);
        return rc;
    }
    *out = hd;
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
        rc = quire_pager_open(path, QUIRE_PAGER_RDONLY, page_size, &pg);
        if (rc) return rc;
        return q_pheap_open_pager(pg, PH_OPEN_RDONLY, out);
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

int quire_pheap_close(quire_pheap *hd) {
    q_pheap *h = Q_PHEAP(hd);
    if (!h) return 0;
    int rc = quire_pager_close(h->pg); /* an open pager transaction is aborted */
    heap_release(h);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------------------------- */

int quire_pheap_commit(quire_pheap *hd) {
    q_pheap *h = Q_PHEAP(hd);
    int rc = q_pheap_writable(h);
    if (rc) return rc;
    if (!h->changed) return 0;
    /* 1. the frees reach the chunk headers (empty chunks go back to the pager) */
    rc = q_pheap_apply_frees(h);
    if (!rc) rc = q_pheap_rebase(h);
    if (rc) return fail(h, rc);
    struct ph_header hd2 = h->hdr;
    hd2.gen++;
    /* 2-3. chunk headers and the header (protected pages), then the pager's commit */
    rc = q_pheap_write_chunks(h);
    if (!rc) rc = write_header(h, &hd2);
    if (!rc) rc = quire_pager_commit(h->pg);
    if (rc) return fail(h, rc);
    h->hdr = hd2;
    txn_clear(h);
    rc = q_pheap_rebase(h);
    if (rc) return fail(h, rc);
    Q_VALIDATE(q_pheap_validate(h));
    return 0;
}

int quire_pheap_abort(quire_pheap *hd) {
    q_pheap *h = Q_PHEAP(hd);
    int rc = q_pheap_writable(h);
    if (rc) return rc;
    rc = quire_pager_abort(h->pg);
    if (!rc) rc = reload(h);
    return rc ? fail(h, rc) : 0;
}

int quire_pheap_refresh(quire_pheap *hd) {
    q_pheap *h = Q_PHEAP(hd);
    if (!h) return QUIRE_EINVAL;
    if (h->fatal) return QUIRE_EUNAVAIL;
    if (!h->rdonly) return 0; /* a writer sees its latest state */
    int rc = quire_pager_refresh(h->pg);
    if (rc <= 0) return rc;
    rc = reload(h); /* a newer commit: its header, chunk headers, mapping */
    return rc ? fail(h, rc) : 1;
}

int quire_pheap_set_durability(quire_pheap *hd, int mode) {
    q_pheap *h = Q_PHEAP(hd);
    if (!h) return QUIRE_EINVAL;
    if (mode != QUIRE_PHEAP_DURABLE && mode != QUIRE_PHEAP_NOSYNC) return QUIRE_EINVAL;
    int rc = q_pheap_writable(h);
    if (rc) return rc;
    return quire_pager_set_durability(h->pg, mode == QUIRE_PHEAP_NOSYNC ? QUIRE_PAGER_NOSYNC
                                                                        : QUIRE_PAGER_DURABLE);
}

int quire_pheap_sync(quire_pheap *hd) {
    q_pheap *h = Q_PHEAP(hd);
    int rc = q_pheap_writable(h);
    if (rc) return rc;
    rc = quire_pager_sync(h->pg);
    return rc ? fail(h, rc) : 0;
}
