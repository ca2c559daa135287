/*
 * pager/commit.c - transactions, and the commit chain that makes them durable with one flush.
 *
 * LMDB's protocol syncs twice: the new pages, then the superblock (meta page) that makes them the
 * committed state. quire writes everything in one batch and syncs once: the superblock carries
 * the checksum of everything the commit wrote, so that open can tell a commit whose writes all
 * reached the disk from one cut short, and falls back to the previous commit in the other slot,
 * which nothing of this commit overwrote (pager/open.c). What makes that hold is where each
 * write goes: never over anything the anchor (the last durable commit) or the latest commit
 * references (internal.h, glossary).
 *
 * q_pager_commit() is the whole chain; each step is a function below it, in this order:
 *   0. prepare           apply the transaction's sub-page frees; decide where every content page
 *                        with a write view goes: home when it is fresh (allocated since the last
 *                        commit: no state holds it), else to a new shadow page; copy back home
 *                        the shadows no protected state needs any more; give the commit record
 *                        its pages when it does not fit in the superblock, and every new
 *                        metadata node its page pair. This may grow the file, but nothing is
 *                        written yet: a failure aborts the transaction and the pager stays usable.
 *   1. write_pages       pwrite the content pages (home and shadow), each with its CRC32C
 *   2. write_metadata    pwrite every dirty node of the three trees to the copy the anchor does
 *                        not use, bottom-up, which yields the new roots
 *   3. write_record      the commit record: pages written home with their CRCs, the shadow map
 *   4. write_superblock  the superblock of generation g, checksummed (roots, counters, record),
 *                        over the slot that does not hold the anchor
 *   5. sync              fdatasync: the one flush (skipped with QUIRE_PAGER_NOSYNC)
 *   6. settle            g is the latest commit (and the anchor when synced); pages freed
 *                        before the oldest protected state become free; the private copies of
 *                        the pages written are dropped (shadowed ones keep their contents).
 * Steps 1-4 may reach the disk in any order and any part: until step 5 completes, open finds
 * the previous commit. A failure in 1-5 makes the pager unavailable (sticky, like LMDB's fatal
 * flag): the file still holds the previous commit. Every write and sync goes through the I/O
 * hook (pager/io.h), where the crash harness records them.
 *
 * Without quire_pager_begin() every modifying call commits on its own (q_pager_autocommit);
 * abort (q_pager_reload) drops the transaction by loading the last commit again.
 */
#include <stdlib.h>
#include <string.h>

#include "pager/internal.h"
#include "pages/prim.h"

/* What a commit writes besides metadata nodes, decided in step 0. */
struct plan {
    struct q_base_vec home;       /* content pages written in place (sorted) */
    struct q_base_vec home_crc;   /* their CRCs (step 1) */
    struct q_base_vec shadowed;   /* content pages written to a new shadow (sorted) */
    struct q_base_vec unshadowed; /* freed pages whose shadow went: their private copies go */
    struct q_base_vec rec;        /* the commit record's pages (none when it is inline) */
    size_t rec_bytes;             /* the record's size */
};

static int prepare(q_pager *p, uint64_t gen, struct plan *pl);
static int write_pages(q_pager *p, struct plan *pl);
static int write_metadata(q_pager *p, uint64_t gen, struct q_super *sb);
static int write_record(q_pager *p, const struct plan *pl, struct q_super *sb);
static int write_superblock(q_pager *p, uint64_t gen, struct q_super *sb, int *slot);
static int sync_file(q_pager *p);
static void settle(q_pager *p, uint64_t gen, const struct q_super *sb, int slot, struct plan *pl);

static void plan_init(struct plan *pl) {
    memset(pl, 0, sizeof *pl);
    q_base_vec_init(&pl->home, &q_base_mem_libc);
    q_base_vec_init(&pl->home_crc, &q_base_mem_libc);
    q_base_vec_init(&pl->shadowed, &q_base_mem_libc);
    q_base_vec_init(&pl->unshadowed, &q_base_mem_libc);
    q_base_vec_init(&pl->rec, &q_base_mem_libc);
}

static void plan_free(struct plan *pl) {
    q_base_vec_free(&pl->home);
    q_base_vec_free(&pl->home_crc);
    q_base_vec_free(&pl->shadowed);
    q_base_vec_free(&pl->unshadowed);
    q_base_vec_free(&pl->rec);
}

/* ---------------------------------------------------------------------------------------------
 * The commit chain
 * ------------------------------------------------------------------------------------------- */

int q_pager_commit(q_pager *p) {
    int rc = q_pager_writable(p);
    if (rc) return rc;
    if (!p->meta_dirty && !p->cow.count && !p->sub_pending.count) {
        p->in_txn = 0;
        return 0;
    }
    /* NOSYNC: the record repeats every home write since the anchor; past Q_NOSYNC_HOME_MAX of
     * them a sync first keeps it small. */
    if (p->nosync && p->unsynced.n > Q_NOSYNC_HOME_MAX && (rc = q_pager_sync(p))) return rc;
    uint64_t gen = p->gen + 1;
    struct q_super sb;
    memset(&sb, 0, sizeof sb);
    struct plan pl;
    plan_init(&pl);
    int slot = 0;

    rc = prepare(p, gen, &pl); /* 0 */
    if (rc) {
        plan_free(&pl);
        if (!p->fatal) (void)q_pager_reload(p); /* nothing was written: abort the txn */
        return rc;
    }
    rc = write_pages(p, &pl);                           /* 1 */
    if (!rc) rc = write_metadata(p, gen, &sb);          /* 2 */
    if (!rc) rc = write_record(p, &pl, &sb);            /* 3 */
    if (!rc) rc = write_superblock(p, gen, &sb, &slot); /* 4 */
    if (!rc && !p->nosync) rc = sync_file(p);           /* 5 */
    if (rc) {
        p->fatal = rc;
        plan_free(&pl);
        return rc;
    }
    settle(p, gen, &sb, slot, &pl); /* 6 */
    plan_free(&pl);
    return 0;
}

/* ---- 0. prepare ---------------------------------------------------------------------------- */

/* A content page: regular, or an internal page cut into sub-page slots. */
static int is_content(q_pager *p, uint64_t id) {
    if (id >= p->page_count) return 0;
    unsigned t = q_pager_freemap_type(p, id);
    return t == Q_REGULAR || (t == Q_INTERNAL && q_pager_sub_is_page(p, id));
}

/* Where each page with a write view goes: home when fresh, else a new shadow. */
static int version_pages(q_pager *p, uint64_t gen, struct plan *pl) {
    struct q_base_vec v;
    q_base_vec_init(&v, &q_base_mem_libc);
    int rc = q_base_hash_sorted_keys(&p->cow, &v);
    for (size_t i = 0; i < v.n && !rc; i++) {
        uint64_t x = v.v[i];
        if (!is_content(p, x)) continue; /* freed since the write view was taken */
        unsigned was = q_pager_freemap_committed_type(p, x);
        if (was == Q_FREE || was == Q_PENDING || q_pager_test_fault == Q_FAULT_IN_PLACE) {
            rc = q_base_vec_push(&pl->home, x); /* fresh: no state holds this page */
            continue;
        }
        /* The last commit holds x at home (or in a shadow): the new bytes go elsewhere. */
        uint64_t s;
        if ((rc = q_pager_freemap_alloc_internal(p, &s))) break;
        struct q_shadow_val *old = q_base_hash_get(&p->shadows, x);
        if (old && (rc = q_pager_freemap_free_pending(p, old->page, gen))) break;
        void *val;
        if ((rc = q_base_hash_put(&p->shadows, x, &val)) < 0) break;
        struct q_shadow_val sv = {s, gen, 0, 0};
        memcpy(val, &sv, sizeof sv);
        rc = q_base_vec_push(&pl->shadowed, x);
    }
    q_base_vec_free(&v);
    return rc < 0 ? rc : 0;
}

/* Shadows of pages freed since, and shadows no protected state needs any more (every one is at
 * least as new as the shadow: none reads the home copy), which go back home. */
static int copy_back(q_pager *p, uint64_t gen, struct plan *pl) {
    struct q_base_vec v;
    q_base_vec_init(&v, &q_base_mem_libc);
    int rc = q_base_hash_sorted_keys(&p->shadows, &v);
    for (size_t i = 0; i < v.n && !rc; i++) {
        uint64_t x = v.v[i];
        struct q_shadow_val *sv = q_base_hash_get(&p->shadows, x);
        if (sv->gen == gen) continue; /* written by this commit */
        int live = is_content(p, x);
        if (live && sv->gen > p->oldest) continue; /* an older state still reads x at home */
        if ((rc = q_base_vec_push(live ? &pl->home : &pl->unshadowed, x))) break;
        if ((rc = q_pager_freemap_free_pending(p, sv->page, gen))) break;
        q_base_hash_del(&p->shadows, x);
    }
    q_base_vec_free(&v);
    if (!rc) q_base_sort_u64(pl->home.v, pl->home.n);
    return rc;
}

/* The record's pages: none when it fits in the superblock. The last commit's go (pending).
 * Home writes of earlier commits since the anchor stay in the record, but for pages freed or
 * shadowed since (their home bytes no longer matter). */
static int record_pages(q_pager *p, uint64_t gen, struct plan *pl) {
    int rc = 0;
    size_t keep = 0;
    for (size_t i = 0; i < p->unsynced.n; i++) {
        uint64_t x = p->unsynced.v[i];
        if (!is_content(p, x) || q_base_hash_has(&p->shadows, x)) continue;
        p->unsynced.v[keep] = x;
        p->unsynced_crc.v[keep++] = p->unsynced_crc.v[i];
    }
    p->unsynced.n = p->unsynced_crc.n = keep;
    for (size_t i = 0; i < p->rec_pages.n && !rc; i++)
        rc = q_pager_freemap_free_pending(p, p->rec_pages.v[i], gen);
    if (rc) return rc;
    pl->rec_bytes = (p->unsynced.n + pl->home.n) * sizeof(struct q_home) +
                    p->shadows.count * sizeof(struct q_shadow);
    if (pl->rec_bytes <= Q_SB_INLINE) return 0;
    size_t room = p->P - sizeof(struct q_rec_page);
    size_t n = (pl->rec_bytes + room - 1) / room;
    for (size_t i = 0; i < n && !rc; i++) {
        uint64_t id;
        rc = q_pager_freemap_alloc_internal(p, &id);
        if (!rc) rc = q_base_vec_push(&pl->rec, id);
    }
    return rc;
}

static int retire_node_page(q_pager *p, uint64_t id) {
    return q_pager_freemap_free_pending(p, id, p->gen + 1);
}

static const struct q_pager_tree_pages node_pages = {q_pager_freemap_alloc_pair,
                                                     q_pager_freemap_alloc_apart, retire_node_page};

/* Sub-page frees first (a page whose last slot went is freed, which changes the content pages);
 * then the content pages, the record, and page pairs for new nodes until nothing changes, since
 * allocating them can dirty more nodes (free-map leaves) or grow a tree. */
static int prepare(q_pager *p, uint64_t gen, struct plan *pl) {
    int rc = q_pager_sub_settle(p);
    if (!rc) rc = version_pages(p, gen, pl);
    if (!rc) rc = copy_back(p, gen, pl);
    if (!rc) rc = record_pages(p, gen, pl);
    for (int changed = 1; !rc && changed;) {
        changed = 0;
        for (unsigned t = 0; t < Q_NTREES && !rc; t++)
            rc = q_pager_tree_prepare(p, &p->tree[t], &node_pages, &changed);
    }
    return rc;
}

/* ---- 1. the content pages ------------------------------------------------------------------ */

static int write_pages(q_pager *p, struct plan *pl) {
    int rc = q_base_vec_reserve(&pl->home_crc, pl->home.n);
    /* Home: runs of consecutive pages, at most 256 per pwrite. */
    const uint64_t *ids = pl->home.v;
    for (size_t i = 0; i < pl->home.n && !rc;) {
        size_t j = i + 1;
        while (j < pl->home.n && ids[j] == ids[j - 1] + 1 && j - i < 256) j++;
        for (size_t k = i; k < j; k++)
            pl->home_crc.v[pl->home_crc.n++] =
                q_pager_page_crc(ids[k], p->mapping + (ids[k] << p->pshift), p->P);
        rc = p->io.pwrite(p->io.ctx, p->fd, p->mapping + (ids[i] << p->pshift),
                          (size_t)((j - i) << p->pshift), ids[i] << p->pshift);
        i = j;
    }
    /* Shadows: each page's bytes to its new shadow page. */
    for (size_t i = 0; i < pl->shadowed.n && !rc; i++) {
        uint64_t x = pl->shadowed.v[i];
        struct q_shadow_val *sv = q_base_hash_get(&p->shadows, x);
        const uint8_t *src = p->mapping + (x << p->pshift);
        sv->crc = q_pager_page_crc(x, src, p->P);
        rc = p->io.pwrite(p->io.ctx, p->fd, src, p->P, sv->page << p->pshift);
    }
    return rc;
}

/* ---- 2. metadata --------------------------------------------------------------------------- */

/* Every dirty node, tree by tree, to the copy the anchor does not use; the roots go into sb. */
static int write_metadata(q_pager *p, uint64_t gen, struct q_super *sb) {
    int rc = 0;
    for (unsigned t = 0; t < Q_NTREES && !rc; t++)
        rc = q_pager_tree_write(p, &p->tree[t], gen, sb->root[t]);
    return rc;
}

/* ---- 3. the commit record ------------------------------------------------------------------ */

/* The record's bytes: the home entries (the earlier commits' since the anchor, then this
 * one's), then the shadow map in page order. */
static int record_bytes(q_pager *p, const struct plan *pl, uint8_t *b) {
    for (size_t i = 0; i < p->unsynced.n; i++) {
        struct q_home e = {p->unsynced.v[i], (uint32_t)p->unsynced_crc.v[i], 0};
        memcpy(b, &e, sizeof e);
        b += sizeof e;
    }
    for (size_t i = 0; i < pl->home.n; i++) {
        struct q_home e = {pl->home.v[i], (uint32_t)pl->home_crc.v[i], 0};
        memcpy(b, &e, sizeof e);
        b += sizeof e;
    }
    struct q_base_vec v;
    q_base_vec_init(&v, &q_base_mem_libc);
    int rc = q_base_hash_sorted_keys(&p->shadows, &v);
    for (size_t i = 0; i < v.n && !rc; i++) {
        const struct q_shadow_val *sv = q_base_hash_get(&p->shadows, v.v[i]);
        struct q_shadow e = {v.v[i], sv->page, sv->gen, sv->crc, 0};
        memcpy(b, &e, sizeof e);
        b += sizeof e;
    }
    q_base_vec_free(&v);
    return rc;
}

static int write_record(q_pager *p, const struct plan *pl, struct q_super *sb) {
    sb->n_home = p->unsynced.n + pl->home.n;
    sb->anchor = p->anchor;
    sb->n_shadow = p->shadows.count;
    uint8_t *b = malloc(pl->rec_bytes ? pl->rec_bytes : 1);
    if (!b) return QUIRE_ENOMEM;
    int rc = record_bytes(p, pl, b);
    sb->rec_crc = q_base_crc32c(0, b, pl->rec_bytes);
    if (!rc && !pl->rec.n) {
        memcpy(sb->inline_rec, b, pl->rec_bytes);
    } else if (!rc) {
        /* a chain of record pages, each: its header, then its share of the bytes */
        size_t room = p->P - sizeof(struct q_rec_page), at = 0;
        sb->rec_page = pl->rec.v[0];
        sb->rec_pages = pl->rec.n;
        for (size_t i = 0; i < pl->rec.n && !rc; i++) {
            struct q_rec_page h = {i + 1 < pl->rec.n ? pl->rec.v[i + 1] : 0,
                                   pl->rec_bytes - at < room ? pl->rec_bytes - at : room};
            memset(p->scratch, 0, p->P);
            memcpy(p->scratch, &h, sizeof h);
            memcpy(p->scratch + sizeof h, b + at, (size_t)h.nbytes);
            at += (size_t)h.nbytes;
            rc = p->io.pwrite(p->io.ctx, p->fd, p->scratch, p->P, pl->rec.v[i] << p->pshift);
        }
    }
    free(b);
    return rc;
}

/* ---- 4. the superblock --------------------------------------------------------------------- */

/* The superblock of generation gen (its roots and record are in sb already) over the slot that
 * does not hold the anchor. */
static int write_superblock(q_pager *p, uint64_t gen, struct q_super *sb, int *slot) {
    sb->generation = gen;
    sb->page_count = p->page_count;
    sb->n_regular = p->ntype[Q_REGULAR];
    sb->n_internal = p->ntype[Q_INTERNAL]; /* pending pages are written as free */
    sb->n_protected = p->n_protected;
    sb->n_subslots = p->n_subslots;
    for (unsigned t = 0; t < Q_NTREES; t++) sb->height[t] = p->tree[t].height;
    memcpy(sb->magic, Q_MAGIC, 8);
    sb->version = Q_VERSION;
    sb->page_size = p->P;
    sb->crc = q_pager_super_crc(sb);
    *slot = q_pager_test_fault == Q_FAULT_SAME_SLOT ? p->anchor_slot : 1 - p->anchor_slot;
    return p->io.pwrite(p->io.ctx, p->fd, sb, Q_SB_SIZE,
                        q_pager_super_page(p->P, *slot) << p->pshift);
}

/* ---- 5. the flush -------------------------------------------------------------------------- */

static int sync_file(q_pager *p) {
    return p->io.sync(p->io.ctx, p->fd);
}

/* ---- 6. settle ----------------------------------------------------------------------------- */

/* Committed: the new state is the latest one (and the anchor, when synced). */
static void settle(q_pager *p, uint64_t gen, const struct q_super *sb, int slot, struct plan *pl) {
    Q_ASSERT(!p->fatal && gen == p->gen + 1);
    p->sb = *sb;
    p->gen = gen;
    p->sb_slot = slot;
    if (!p->nosync) {
        p->anchor = gen;
        p->anchor_slot = slot;
        p->unsynced.n = p->unsynced_crc.n = 0;
    } else if (q_base_vec_reserve(&p->unsynced, pl->home.n) ||
               q_base_vec_reserve(&p->unsynced_crc, pl->home.n)) {
        (void)q_pager_sync(p); /* out of memory for the list: make it unnecessary */
    } else {
        for (size_t i = 0; i < pl->home.n; i++) {
            p->unsynced.v[p->unsynced.n++] = pl->home.v[i];
            p->unsynced_crc.v[p->unsynced_crc.n++] = pl->home_crc.v[i];
        }
    }
    /* the record's pages are this commit's now */
    q_base_vec_free(&p->rec_pages);
    p->rec_pages = pl->rec;
    q_base_vec_init(&pl->rec, &q_base_mem_libc);
    /* drop the private copies of every page written (shadowed ones get their bytes back) */
    struct q_base_vec v;
    q_base_vec_init(&v, &q_base_mem_libc);
    int rc = q_base_hash_sorted_keys(&p->cow, &v);
    for (size_t i = 0; i < pl->home.n && !rc; i++) rc = q_base_vec_push(&v, pl->home.v[i]);
    for (size_t i = 0; i < pl->unshadowed.n && !rc; i++)
        rc = q_base_vec_push(&v, pl->unshadowed.v[i]);
    if (!rc) {
        q_base_sort_u64(v.v, v.n);
        q_pager_drop_pages(p, v.v, v.n);
    } else {
        q_pager_drop_all(p);
    }
    q_base_vec_free(&v);
    q_base_hash_clear(&p->cow);
    p->meta_dirty = 0;
    p->in_txn = 0;
    /* Readers may take it now. Published before the reader table is scanned: a reader that
     * registers an older snapshot after the scan then sees this one and retries (readers.c). */
    q_pager_publish(p);
    q_pager_protect_update(p);
    Q_VALIDATE(q_pager_validate_state(p));
}

/* ---------------------------------------------------------------------------------------------
 * Protected states, sync
 * ------------------------------------------------------------------------------------------- */

void q_pager_protect_update(q_pager *p) {
    uint64_t o = p->anchor < p->gen ? p->anchor : p->gen;
    if (!p->rdonly) {
        uint64_t r = q_pager_readers_oldest(p);
        if (r < o) o = r;
    }
    p->oldest = o;
    if (p->barrier && o >= p->barrier) { /* the readers older than our open have moved on */
        p->barrier = 0;
        q_pager_freemap_hold(p, 0);
    }
    q_pager_freemap_settle(p);
    q_pager_publish_stats(p);
}

int q_pager_sync(q_pager *p) {
    if (p->anchor == p->gen) return 0;
    int rc = sync_file(p);
    if (rc) {
        p->fatal = rc;
        return rc;
    }
    p->anchor = p->gen;
    p->anchor_slot = p->sb_slot;
    p->unsynced.n = p->unsynced_crc.n = 0;
    q_pager_publish(p);
    q_pager_protect_update(p);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------------------------- */

int q_pager_autocommit(q_pager *p) {
    return p->in_txn ? 0 : q_pager_commit(p);
}

int q_pager_reload(q_pager *p) {
    q_pager_writers_stale_all(p);
    /* forget the transaction's writes through views */
    struct q_base_vec v;
    q_base_vec_init(&v, &q_base_mem_libc);
    if (q_base_hash_sorted_keys(&p->cow, &v) == 0)
        q_pager_drop_pages(p, v.v, v.n);
    else
        q_pager_drop_all(p);
    q_base_hash_clear(&p->cow);
    q_base_hash_clear(&p->sub_pending);
    /* the pages earlier commits freed stay pending: the file says free, memory knows better */
    q_pager_freemap_forget_txn(p);
    struct q_base_vec keep = p->pending, keep_gen = p->pending_gen;
    q_base_vec_init(&p->pending, &q_base_mem_libc);
    q_base_vec_init(&p->pending_gen, &q_base_mem_libc);
    p->meta_dirty = 0;
    p->in_txn = 0;
    off_t fsz = 0;
    int rc = q_os_file_size(p->fd, &fsz);
    struct q_super sb = p->sb;
    if (!rc) rc = q_pager_load_state(p, &sb, (uint64_t)fsz);
    for (size_t k = 0; k < keep.n && !rc; k++)
        rc = q_pager_freemap_repend(p, keep.v[k], keep_gen.v[k]);
    /* The reload built new free-map leaves, without Q_N_HELD: while the barrier stands
     * (readers.c), hold them again (pages below p->held_below; leaves this writer's own
     * commits materialized since are held too, which only withholds pages no old reader
     * reads). */
    if (!rc && p->barrier) q_pager_freemap_hold(p, 1);
    q_base_vec_free(&keep);
    q_base_vec_free(&keep_gen);
    q_base_vec_free(&v);
    if (rc) p->fatal = rc;
    memset(p->sub_hint, 0, sizeof p->sub_hint);
    p->prot_hint = 0;
    p->sub_free_hint = 0;
    return rc;
}

int quire_pager_begin(quire_pager *h) {
    q_pager *p = Q_PAGER(h);
    if (!p) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    if (p->in_txn) return QUIRE_ESTATE;
    p->in_txn = 1;
    return 0;
}

int quire_pager_commit(quire_pager *h) {
    q_pager *p = Q_PAGER(h);
    if (!p) return QUIRE_EINVAL;
    return q_pager_commit(p);
}

int quire_pager_abort(quire_pager *h) {
    q_pager *p = Q_PAGER(h);
    if (!p) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    return q_pager_reload(p);
}

int quire_pager_sync(quire_pager *h) {
    q_pager *p = Q_PAGER(h);
    if (!p) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    return q_pager_sync(p);
}

int quire_pager_refresh(quire_pager *h) {
    q_pager *p = Q_PAGER(h);
    if (!p) return QUIRE_EINVAL;
    if (p->fatal) return QUIRE_EUNAVAIL;
    if (!p->rdonly) return 0; /* a writer's state is the latest */
    return q_pager_reader_refresh(p);
}

int quire_pager_set_durability(quire_pager *h, int mode) {
    q_pager *p = Q_PAGER(h);
    if (!p || (mode != QUIRE_PAGER_DURABLE && mode != QUIRE_PAGER_NOSYNC)) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    p->nosync = mode == QUIRE_PAGER_NOSYNC;
    return 0;
}
