/*
 * pager/commit.c - transactions, and the commit chain that makes them durable (LMDB's protocol:
 * two superblock slots, the older one overwritten, with copy-on-write metadata trees).
 *
 * q_pager_commit() is the whole chain; each step is a function below it, in this order:
 *   0. prepare_metadata  apply the transaction's sub-page frees; give every new metadata node
 *                        its page pair (this may grow the file, but nothing is written yet: a
 *                        failure here aborts the transaction and the pager stays usable);
 *   1. write_cow_pages   pwrite the pages write views were taken of since the last commit (the
 *                        mapping is MAP_PRIVATE: their bytes exist only in private memory);
 *   2. write_metadata    pwrite every dirty node of the three trees to the copy the last commit
 *                        does not use, bottom-up, which yields the new roots;
 *   3. sync              fdatasync             -- all of the new state is on disk
 *   4. write_superblock  pwrite the superblock of generation g, checksummed, over slot g & 1,
 *                        the older of the two (it holds generation g - 2);
 *   5. sync              fdatasync             -- the new state is the committed one
 *   6. settle            pages freed in the transaction become free; the private copies of the
 *                        pages written in step 1 are dropped.
 * A failure in 1-5 makes the pager unavailable (sticky, like LMDB's fatal flag): the file still
 * holds the previous commit, which the next open finds. Every write and sync goes through the
 * I/O hook (pager/io.h), where the crash harness records them.
 *
 * Without quire_pager_begin() every modifying call commits on its own (q_pager_autocommit);
 * abort (q_pager_reload) drops the transaction by loading the last commit again.
 */
#include <string.h>

#include "pager/internal.h"
#include "pages/prim.h"

static int prepare_metadata(quire_pager *p);
static int write_cow_pages(quire_pager *p);
static int write_metadata(quire_pager *p, uint64_t gen, struct q_super *sb);
static int sync_file(quire_pager *p);
static int write_superblock(quire_pager *p, uint64_t gen, struct q_super *sb);
static void settle(quire_pager *p, uint64_t gen, const struct q_super *sb);
static void drop_cow(quire_pager *p);

/* ---------------------------------------------------------------------------------------------
 * The commit chain
 * ------------------------------------------------------------------------------------------- */

int q_pager_commit(quire_pager *p) {
    int rc = q_pager_writable(p);
    if (rc) return rc;
    if (!p->meta_dirty && !p->cow.count && !p->sub_pending.count) {
        p->in_txn = 0;
        return 0;
    }
    uint64_t gen = p->gen + 1;
    struct q_super sb;
    memset(&sb, 0, sizeof sb);

    rc = prepare_metadata(p); /* 0 */
    if (rc) {
        if (!p->fatal) (void)q_pager_reload(p); /* nothing was written: abort the txn */
        return rc;
    }
    rc = write_cow_pages(p);                     /* 1 */
    if (!rc) rc = write_metadata(p, gen, &sb);   /* 2 */
    if (!rc) rc = sync_file(p);                  /* 3 */
    if (!rc) rc = write_superblock(p, gen, &sb); /* 4 */
    if (!rc) rc = sync_file(p);                  /* 5 */
    if (rc) {
        p->fatal = rc;
        return rc;
    }
    settle(p, gen, &sb); /* 6 */
    return 0;
}

/* 0. Sub-page frees first (a page whose last slot went becomes pending, which dirties the free
 * map); then page pairs for new nodes until nothing changes, since allocating them can dirty
 * more nodes (free-map leaves) or grow a tree. */
static int prepare_metadata(quire_pager *p) {
    int rc = q_pager_sub_settle(p);
    for (int changed = 1; !rc && changed;) {
        changed = 0;
        for (unsigned t = 0; t < Q_NTREES && !rc; t++)
            rc = q_pager_tree_prepare(p, &p->tree[t], q_pager_freemap_alloc_internal, &changed);
    }
    return rc;
}

/* 1. The pages write views were taken of, as runs of consecutive pages (at most 256 per
 * pwrite); pages freed since are skipped. */
static int write_cow_pages(quire_pager *p) {
    struct q_base_vec v;
    q_base_vec_init(&v, &q_base_mem_libc);
    int rc = q_base_hash_sorted_keys(&p->cow, &v);
    if (rc) return rc;
    const uint64_t *ids = v.v;
    size_t n = v.n;
    for (size_t i = 0; i < n && !rc;) {
        unsigned ty = ids[i] < p->page_count ? q_pager_freemap_type(p, ids[i]) : Q_FREE;
        if (ty != Q_REGULAR && ty != Q_INTERNAL) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < n && ids[j] == ids[j - 1] + 1 && j - i < 256) {
            unsigned t2 = q_pager_freemap_type(p, ids[j]);
            if (t2 != Q_REGULAR && t2 != Q_INTERNAL) break;
            j++;
        }
        uint64_t first = ids[i], cnt = j - i;
        rc = p->io.pwrite(p->io.ctx, p->fd, p->mapping + (first << p->pshift),
                          (size_t)(cnt << p->pshift), first << p->pshift);
        i = j;
    }
    q_base_vec_free(&v);
    return rc;
}

/* 2. Every dirty node, tree by tree, to its inactive copy; the roots go into sb. */
static int write_metadata(quire_pager *p, uint64_t gen, struct q_super *sb) {
    int rc = 0;
    for (unsigned t = 0; t < Q_NTREES && !rc; t++)
        rc = q_pager_tree_write(p, &p->tree[t], gen, sb->root[t]);
    return rc;
}

/* 3 and 5. The barriers. */
static int sync_file(quire_pager *p) {
    return p->io.sync(p->io.ctx, p->fd);
}

/* 4. The superblock of generation gen (its roots are in sb already) over the older slot. */
static int write_superblock(quire_pager *p, uint64_t gen, struct q_super *sb) {
    sb->generation = gen;
    sb->page_count = p->page_count;
    sb->n_regular = p->ntype[Q_REGULAR];
    sb->n_internal = p->ntype[Q_INTERNAL];
    sb->n_protected = p->n_protected;
    sb->n_subslots = p->n_subslots;
    for (unsigned t = 0; t < Q_NTREES; t++) sb->height[t] = p->tree[t].height;
    memcpy(sb->magic, Q_MAGIC, 8);
    sb->version = Q_VERSION;
    sb->page_size = p->P;
    sb->crc = q_pager_super_crc(sb);
    return p->io.pwrite(p->io.ctx, p->fd, sb, Q_SB_SIZE, (gen & 1) << p->pshift);
}

/* 6. Committed: the new state is the last durable one. */
static void settle(quire_pager *p, uint64_t gen, const struct q_super *sb) {
    Q_ASSERT(!p->fatal && gen == p->gen + 1);
    p->sb = *sb;
    p->gen = gen;
    q_pager_freemap_settle(p);
    drop_cow(p);
    p->meta_dirty = 0;
    p->in_txn = 0;
    Q_VALIDATE(q_pager_validate(p));
}

/* The private copies of the pages in the cow set, now that the file holds their bytes (or,
 * after an abort, so that they read the file again). */
static void drop_cow(quire_pager *p) {
    struct q_base_vec v;
    q_base_vec_init(&v, &q_base_mem_libc);
    if (q_base_hash_sorted_keys(&p->cow, &v) == 0) {
        const uint64_t *ids = v.v;
        size_t n = v.n;
        for (size_t i = 0; i < n;) {
            size_t j = i + 1;
            while (j < n && ids[j] == ids[j - 1] + 1) j++;
            q_pager_drop_private(p, ids[i], ids[j - 1] - ids[i] + 1);
            i = j;
        }
        q_base_vec_free(&v);
    } else {
        q_pager_drop_private(p, 0, p->page_count); /* out of memory: drop everything */
    }
    q_base_hash_clear(&p->cow);
}

/* ---------------------------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------------------------- */

int q_pager_autocommit(quire_pager *p) {
    return p->in_txn ? 0 : q_pager_commit(p);
}

int q_pager_reload(quire_pager *p) {
    drop_cow(p);
    q_base_hash_clear(&p->sub_pending);
    p->pending.n = 0;
    p->meta_dirty = 0;
    p->in_txn = 0;
    off_t fsz = 0;
    int rc = q_os_file_size(p->fd, &fsz);
    struct q_super sb = p->sb;
    if (!rc) rc = q_pager_load_state(p, &sb, (uint64_t)fsz);
    if (rc) p->fatal = rc;
    memset(p->sub_hint, 0, sizeof p->sub_hint);
    p->prot_hint = 0;
    p->sub_free_hint = 0;
    return rc;
}

int quire_pager_begin(quire_pager *p) {
    if (!p) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    if (p->in_txn) return QUIRE_ESTATE;
    p->in_txn = 1;
    return 0;
}

int quire_pager_commit(quire_pager *p) {
    if (!p) return QUIRE_EINVAL;
    return q_pager_commit(p);
}

int quire_pager_abort(quire_pager *p) {
    if (!p) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    return q_pager_reload(p);
}
