/*
 * pager/freemap.c - the free map: the type of every page (2 bits: free, regular, internal,
 * pending), one leaf per group of G = 4 * P pages; page allocation and file growth. The free map
 * is tree 0 of pager/tree.c, whose generic leaves it specializes through its struct
 * q_pager_leaf_ops: a leaf's page pair is fixed (q_pager_leaf_page: two reserved pages of its
 * group, in different 4 KiB blocks), a new leaf starts with every page of its group free but
 * those, pending pages are written as free, and a leaf dirtied in a transaction keeps its
 * committed image (the commit asks it which pages the last commit holds).
 *
 * Frees are pending until every protected state (internal.h) is at least as new as the commit
 * that freed the page: p->oldest >= the page's pending generation (q_pager_freemap_settle).
 *
 * Allocation takes the lowest free page at or after a hint: groups whose leaf is absent are
 * wholly free (but for their two leaf pages), groups with nfree == 0 are skipped, and inside a
 * leaf 32 entries are tested per 64-bit word. alloc_hint is a lower bound of the lowest free
 * page, so a run of allocations is linear overall. When no page is free the file grows by an
 * eighth (at least 32 pages): ftruncate (sparse) and mremap, then the first Q_GROW_FILL_MAX
 * bytes of the growth are written as zeros (grow_for) unless the request was a bulk one. A failed
 * ftruncate changes nothing; a failed mremap after a successful ftruncate leaves the pager
 * unavailable (QUIRE_EUNAVAIL) and the file at its last commit (the superblock still records the
 * old page count).
 */
#include <string.h>

#include "pager/internal.h"

static uint64_t ngroups(const q_pager *p, uint64_t count) {
    return (count + p->G - 1) / p->G;
}

/* Pages of group g below count. */
static uint64_t group_pages(const q_pager *p, uint64_t g, uint64_t count) {
    uint64_t first = g * p->G;
    if (first >= count) return 0;
    return count - first < p->G ? count - first : p->G;
}

/* ---------------------------------------------------------------------------------------------
 * The free map's leaves (registered with the tree)
 * ------------------------------------------------------------------------------------------- */

/* A group's leaf, materialized: its own two pages (and, in group 0, the superblock slots) are
 * internal, every other page of the group is free. */
static void leaf_init(q_pager *p, struct q_node *leaf, uint64_t g) {
    uint64_t in = group_pages(p, g, p->page_count);
    leaf->ref.copy[0] = q_pager_freemap_leaf_page(p, g, 0);
    leaf->ref.copy[1] = q_pager_freemap_leaf_page(p, g, 1);
    uint64_t reserved = 2;
    q_freemap_set_entry(leaf->buf, leaf->ref.copy[0] - g * p->G, Q_INTERNAL);
    q_freemap_set_entry(leaf->buf, leaf->ref.copy[1] - g * p->G, Q_INTERNAL);
    if (g == 0) { /* the superblock slots */
        q_freemap_set_entry(leaf->buf, q_pager_super_page(p->P, 0), Q_INTERNAL);
        q_freemap_set_entry(leaf->buf, q_pager_super_page(p->P, 1), Q_INTERNAL);
        reserved = 4;
    }
    leaf->nfree = (uint32_t)(in - reserved);
    /* Before: an absent group (pages - 2 free, 2 reserved). After: a leaf. */
    if (g != 0) p->n_absent_free -= in - 2;
    p->ntype[Q_FREE] += in - reserved;
    p->ntype[Q_INTERNAL] += reserved;
}

/* A leaf read from the file lies in a group inside the file, each copy in one of its group's
 * fixed pages or, relocated (tree.c), in a page no format rule fixes. */
static int leaf_check(const q_pager *p, const struct q_ref *ref, uint64_t g) {
    if (g >= ngroups(p, p->page_count)) return QUIRE_EMETA;
    for (int i = 0; i < 2; i++)
        if (ref->copy[i] != q_pager_freemap_leaf_page(p, g, 0) &&
            ref->copy[i] != q_pager_freemap_leaf_page(p, g, 1) &&
            (ref->copy[i] >= p->page_count || q_pager_is_fixed(p, ref->copy[i])))
            return QUIRE_EMETA;
    return 0;
}

static uint64_t leaf_fixed(const q_pager *p, uint64_t g, int i) {
    return q_pager_freemap_leaf_page(p, g, i);
}

/* The bytes written for a leaf: pages freed in this transaction (pending) are written as free. */
static const uint8_t *leaf_image(q_pager *p, const struct q_node *leaf) {
    uint8_t *o = p->scratch;
    for (uint32_t i = 0; i < p->P; i++) {
        uint8_t b = leaf->buf[i], hi = b & 0xAA, lo = b & 0x55;
        uint8_t pend = (uint8_t)((hi >> 1) & lo); /* low bit of each pair that is 3 */
        o[i] = (uint8_t)(b & ~(pend | (uint8_t)(pend << 1)));
    }
    return o;
}

const struct q_pager_leaf_ops q_pager_freemap_leaves = {
    "free map", 2, 1, leaf_init, leaf_check, leaf_image, leaf_fixed};

/* ---------------------------------------------------------------------------------------------
 * Page types
 * ------------------------------------------------------------------------------------------- */

unsigned q_pager_freemap_type(const q_pager *p, uint64_t id) {
    uint64_t g = id / p->G;
    struct q_node *leaf = q_pager_tree_leaf(p, &p->tree[Q_TREE_FREEMAP], g);
    if (leaf) return q_freemap_entry(leaf->buf, id - g * p->G);
    return (id == q_pager_freemap_leaf_page(p, g, 0) || id == q_pager_freemap_leaf_page(p, g, 1))
               ? Q_INTERNAL
               : Q_FREE;
}

unsigned q_pager_freemap_committed_type(const q_pager *p, uint64_t id) {
    if (id >= p->sb.page_count) return Q_FREE; /* added by the transaction's growth */
    uint64_t g = id / p->G;
    struct q_node *leaf = q_pager_tree_leaf(p, &p->tree[Q_TREE_FREEMAP], g);
    if (!leaf || (leaf->flags & Q_N_NEW))
        return (id == q_pager_freemap_leaf_page(p, g, 0) ||
                id == q_pager_freemap_leaf_page(p, g, 1))
                   ? Q_INTERNAL
                   : Q_FREE;
    return q_freemap_entry(leaf->base_img ? leaf->base_img : leaf->buf, id - g * p->G);
}

int q_pager_freemap_set(q_pager *p, uint64_t id, unsigned type) {
    Q_ASSERT(id < p->page_count && type <= Q_PENDING);
    uint64_t g = id / p->G;
    struct q_node *leaf;
    int rc = q_pager_tree_dirty(p, &p->tree[Q_TREE_FREEMAP], g, &leaf);
    if (rc) return rc;
    uint64_t i = id - g * p->G;
    unsigned old = q_freemap_entry(leaf->buf, i);
    q_freemap_set_entry(leaf->buf, i, type);
    p->ntype[old]--;
    p->ntype[type]++;
    if (old == Q_FREE) leaf->nfree--;
    if (type == Q_FREE) {
        leaf->nfree++;
        if (id < p->alloc_hint) p->alloc_hint = id;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Searching and growing
 * ------------------------------------------------------------------------------------------- */

/* First free page in [from, to), or UINT64_MAX. */
static uint64_t find_range(const q_pager *p, uint64_t from, uint64_t to) {
    const struct q_tree *t = &p->tree[Q_TREE_FREEMAP];
    while (from < to) {
        uint64_t g = from / p->G, base = g * p->G;
        uint64_t end = base + p->G < to ? base + p->G : to;
        struct q_node *leaf = q_pager_tree_leaf(p, t, g);
        if (!leaf) { /* all free but its two leaf pages, base and base + B (never group 0) */
            for (uint64_t c = from; c < end; c++)
                if (c != base && c != base + p->B) return c;
        } else if (leaf->nfree && (!(leaf->flags & Q_N_HELD) || p->held_below < end)) {
            /* held: only the pages the file grew by since the barrier was set */
            uint64_t lo = (leaf->flags & Q_N_HELD) && p->held_below > from ? p->held_below : from;
            uint64_t i = lo - base, e = end - base;
            while (i < e) {
                uint64_t w;
                memcpy(&w, leaf->buf + (i >> 5) * 8, 8);
                uint64_t m = ~(w | (w >> 1)) & UINT64_C(0x5555555555555555);
                m &= ~UINT64_C(0) << ((i & 31) * 2);
                if (m) {
                    uint64_t j = (i & ~UINT64_C(31)) + (uint64_t)(__builtin_ctzll(m) / 2);
                    if (j < e) return base + j;
                    break;
                }
                i = (i | 31) + 1;
            }
        }
        from = end;
    }
    return UINT64_MAX;
}

/* First page of [from, to) that is not free, or `to`. */
static uint64_t find_used(const q_pager *p, uint64_t from, uint64_t to) {
    const struct q_tree *t = &p->tree[Q_TREE_FREEMAP];
    while (from < to) {
        uint64_t g = from / p->G, base = g * p->G;
        uint64_t end = base + p->G < to ? base + p->G : to;
        struct q_node *leaf = q_pager_tree_leaf(p, t, g);
        if (!leaf) { /* an absent group: all free but its two leaf pages, base and base + B */
            if (from == base) return from;
            if (from <= base + p->B && base + p->B < end) return base + p->B;
        } else {
            uint64_t i = from - base, e = end - base;
            while (i < e) {
                uint64_t w;
                memcpy(&w, leaf->buf + (i >> 5) * 8, 8);
                uint64_t m = (w | (w >> 1)) & UINT64_C(0x5555555555555555);
                m &= ~UINT64_C(0) << ((i & 31) * 2);
                if (m) {
                    uint64_t j = (i & ~UINT64_C(31)) + (uint64_t)(__builtin_ctzll(m) / 2);
                    if (j < e) return base + j;
                    break;
                }
                i = (i | 31) + 1;
            }
        }
        from = end;
    }
    return to;
}

/* First run of n free pages in [from, page_count), or UINT64_MAX. */
static uint64_t find_run(const q_pager *p, uint64_t from, uint64_t n) {
    for (uint64_t at = find_range(p, from, p->page_count); at != UINT64_MAX;) {
        if (n > p->page_count - at) return UINT64_MAX;
        uint64_t used = find_used(p, at, at + n);
        if (used == at + n) return at;
        at = find_range(p, used, p->page_count);
    }
    return UINT64_MAX;
}

struct held_count {
    const q_pager *p;
    uint64_t held;
};

/* Free pages of a held leaf below p->held_below (group index g). */
static int count_held(void *arg, const struct q_node *n, int leaf, uint64_t g) {
    struct held_count *c = arg;
    if (!leaf || !(n->flags & Q_N_HELD)) return 0;
    uint64_t base = g * c->p->G;
    if (base + c->p->G <= c->p->held_below) {
        c->held += n->nfree;
        return 0;
    }
    for (uint64_t i = 0; base + i < c->p->held_below; i++)
        c->held += q_freemap_entry(n->buf, i) == Q_FREE;
    return 0;
}

/* Free pages an allocation may take (not the held ones below held_below: the barrier). */
static uint64_t free_count(const q_pager *p) {
    struct held_count c = {p, 0};
    if (p->barrier) q_pager_tree_walk(p, &p->tree[Q_TREE_FREEMAP], count_held, &c);
    return p->ntype[Q_FREE] + p->n_absent_free - c.held;
}

int q_pager_freemap_grow(q_pager *p, uint64_t new_count) {
    if (new_count <= p->page_count) return 0;
    /* Checked before rounding: UINT64_MAX must not wrap around to a small count. */
    if (new_count > Q_MAX_PAGES || new_count > (uint64_t)SIZE_MAX >> p->pshift) return QUIRE_EFULL;
    new_count = (new_count + Q_GROW_MIN - 1) / Q_GROW_MIN * Q_GROW_MIN;
    uint64_t old = p->page_count;
    int rc = p->io.truncate(p->io.ctx, p->fd, new_count << p->pshift);
    if (rc) return rc;
    if (q_pager_remap(p, (size_t)(new_count << p->pshift))) {
        p->fatal = QUIRE_EUNAVAIL;
        return QUIRE_EUNAVAIL;
    }
    /* Count the new pages: a materialized last group gains free pages; new groups are absent. */
    for (uint64_t g = old / p->G; g < ngroups(p, new_count); g++) {
        uint64_t before = group_pages(p, g, old), after = group_pages(p, g, new_count);
        struct q_node *leaf = q_pager_tree_leaf(p, &p->tree[Q_TREE_FREEMAP], g);
        if (leaf) {
            leaf->nfree += (uint32_t)(after - before);
            p->ntype[Q_FREE] += after - before;
        } else {
            p->n_absent_free += before ? after - before : after - 2;
        }
    }
    p->page_count = new_count;
    p->meta_dirty = 1;
    return 0;
}

static int grow_for(q_pager *p, uint64_t need) {
    if (need > Q_MAX_PAGES) return QUIRE_EFULL; /* before any arithmetic on it */
    uint64_t extra = p->page_count / 8;
    if (extra < 32) extra = 32;
    /* Absent groups keep two reserved pages each: ask for a little more than needed. */
    uint64_t want = need + need / (p->G / 2) + 4;
    if (extra < want) extra = want;
    if (extra > Q_MAX_PAGES - p->page_count) return QUIRE_EFULL; /* no wrap-around */
    uint64_t old = p->page_count;
    int rc = q_pager_freemap_grow(p, p->page_count + extra);
    if (rc || !p->io.fill || need > extra / 2) return rc;
    /* Grown ahead of a few pages' need: the pages a commit will write next lie in a hole of the
       sparse file, and a sync that follows a write into a hole also commits the file system's
       allocation of its block (on ext4, a journal commit: about half the rate of an overwrite).
       Writing the first Q_GROW_FILL_MAX bytes of the growth as zeros allocates them now, once;
       a bulk request (need above half the growth) is left sparse: its pages may never be
       written. A failed fill changes nothing the pager relies on. */
    uint64_t len = (p->page_count - old) << p->pshift;
    (void)p->io.fill(p->io.ctx, p->fd, old << p->pshift,
                     len < Q_GROW_FILL_MAX ? len : Q_GROW_FILL_MAX);
    return 0;
}

int q_pager_freemap_reserve(q_pager *p, uint64_t n) {
    if (n > Q_MAX_PAGES) return QUIRE_EFULL;
    for (int tries = 0; free_count(p) < n; tries++) {
        if (tries > 64) return QUIRE_EFULL;
        int rc = grow_for(p, n - free_count(p));
        if (rc) return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Allocation
 * ------------------------------------------------------------------------------------------- */

int q_pager_freemap_alloc(q_pager *p, unsigned type, uint64_t hint, uint64_t *id) {
    for (int tries = 0;; tries++) {
        uint64_t lo = p->alloc_hint, id0 = UINT64_MAX;
        if (hint > lo && hint < p->page_count) id0 = find_range(p, hint, p->page_count);
        if (id0 == UINT64_MAX) id0 = find_range(p, lo, p->page_count);
        if (id0 != UINT64_MAX) {
            int rc = q_pager_freemap_set(p, id0, type);
            if (rc) return rc;
            if (id0 >= lo && (hint <= lo || hint >= p->page_count)) p->alloc_hint = id0 + 1;
            *id = id0;
            return 0;
        }
        /* Nothing free at or above alloc_hint: remember it, then grow. */
        p->alloc_hint = p->page_count;
        if (tries > 64) return QUIRE_EFULL;
        int rc = grow_for(p, 1);
        if (rc) return rc;
    }
}

int q_pager_freemap_alloc_internal(q_pager *p, uint64_t *id) {
    return q_pager_freemap_alloc(p, Q_INTERNAL, 0, id);
}

int q_pager_freemap_alloc_apart(q_pager *p, uint64_t other, uint64_t *id) {
    if (p->B == 1) return q_pager_freemap_alloc(p, Q_INTERNAL, 0, id);
    uint64_t blk = other / p->B;
    for (int tries = 0;; tries++) {
        /* the lowest free page, unless it shares other's block: then the first one after it */
        uint64_t c = find_range(p, p->alloc_hint, p->page_count);
        if (c != UINT64_MAX && c / p->B == blk) c = find_range(p, (blk + 1) * p->B, p->page_count);
        if (c != UINT64_MAX) {
            int rc = q_pager_freemap_set(p, c, Q_INTERNAL);
            if (rc) return rc;
            if (c == p->alloc_hint) p->alloc_hint = c + 1;
            *id = c;
            return 0;
        }
        if (tries > 64) return QUIRE_EFULL;
        int rc = grow_for(p, 1);
        if (rc) return rc;
    }
}

int q_pager_freemap_alloc_pair(q_pager *p, uint64_t *a, uint64_t *b) {
    int rc = q_pager_freemap_alloc_internal(p, a);
    if (rc) return rc;
    rc = q_pager_freemap_alloc_apart(p, *a, b);
    if (rc) (void)q_pager_freemap_set(p, *a, Q_FREE);
    return rc;
}

int q_pager_freemap_alloc_run(q_pager *p, uint64_t n, uint64_t *first) {
    if (n > q_pager_run_max(p)) return QUIRE_EOVERFLOW; /* more than a group holds */
    uint64_t at;
    while ((at = find_run(p, p->alloc_hint, n)) == UINT64_MAX) {
        int rc = grow_for(p, 1); /* the steps q_pager_freemap_alloc() grows by */
        if (rc) return rc;
    }
    /* The run lies in one group: its leaf pages bound it on both sides. */
    uint64_t g = at / p->G, i = at - g * p->G;
    struct q_node *leaf;
    int rc = q_pager_tree_dirty(p, &p->tree[Q_TREE_FREEMAP], g, &leaf);
    if (rc) return rc;
    for (uint64_t k = 0; k < n; k++) q_freemap_set_entry(leaf->buf, i + k, Q_REGULAR);
    leaf->nfree -= (uint32_t)n;
    p->ntype[Q_FREE] -= n;
    p->ntype[Q_REGULAR] += n;
    if (find_range(p, p->alloc_hint, at) == UINT64_MAX) p->alloc_hint = at + n;
    *first = at;
    return 0;
}

int q_pager_freemap_alloc_many(q_pager *p, unsigned type, size_t n, uint64_t *ids, size_t *done) {
    /* The lowest n free pages, one leaf at a time: each leaf is dirtied once and scanned a word
     * (32 entries) at a time, instead of a tree walk per page. */
    *done = 0;
    uint64_t from = p->alloc_hint;
    while (*done < n) {
        uint64_t id0 = find_range(p, from, p->page_count);
        if (id0 == UINT64_MAX) return QUIRE_EFULL; /* the caller reserved n pages: cannot happen */
        uint64_t g = id0 / p->G, base = g * p->G;
        uint64_t end = base + p->G < p->page_count ? p->G : p->page_count - base;
        struct q_node *leaf;
        int rc = q_pager_tree_dirty(p, &p->tree[Q_TREE_FREEMAP], g, &leaf);
        if (rc) return rc;
        uint64_t i = id0 - base;
        while (i < end && *done < n) {
            uint64_t w;
            memcpy(&w, leaf->buf + (i >> 5) * 8, 8);
            uint64_t m = ~(w | (w >> 1)) & UINT64_C(0x5555555555555555);
            m &= ~UINT64_C(0) << ((i & 31) * 2);
            while (m && *done < n) {
                uint64_t j = (i & ~UINT64_C(31)) + (uint64_t)(__builtin_ctzll(m) / 2);
                if (j >= end) break;
                m &= m - 1;
                w |= (uint64_t)type << ((j & 31) * 2);
                ids[(*done)++] = base + j;
                leaf->nfree--;
                p->ntype[Q_FREE]--;
                p->ntype[type]++;
            }
            memcpy(leaf->buf + (i >> 5) * 8, &w, 8);
            i = (i | 31) + 1;
        }
        from = base + end;
    }
    p->alloc_hint = ids[n - 1] + 1;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Freeing: pending until the commit is durable
 * ------------------------------------------------------------------------------------------- */

int q_pager_freemap_free_pending(q_pager *p, uint64_t id, uint64_t gen) {
    int rc = q_base_vec_reserve(&p->pending, 1);
    if (!rc) rc = q_base_vec_reserve(&p->pending_gen, 1);
    if (!rc) rc = q_pager_freemap_set(p, id, Q_PENDING);
    if (rc) return rc;
    p->pending.v[p->pending.n++] = id;
    p->pending_gen.v[p->pending_gen.n++] = gen;
    return 0;
}

/* Pending page k becomes free (it was written as free already: no dirtying). */
static void settle_one(q_pager *p, uint64_t id) {
    uint64_t g = id / p->G;
    struct q_node *leaf = q_pager_tree_leaf(p, &p->tree[Q_TREE_FREEMAP], g);
    if (!leaf) return;
    uint64_t i = id - g * p->G;
    if (q_freemap_entry(leaf->buf, i) != Q_PENDING) return;
    q_freemap_set_entry(leaf->buf, i, Q_FREE);
    if (leaf->base_img && q_freemap_entry(leaf->base_img, i) == Q_PENDING)
        q_freemap_set_entry(leaf->base_img, i, Q_FREE);
    p->ntype[Q_PENDING]--;
    p->ntype[Q_FREE]++;
    leaf->nfree++;
    if (id < p->alloc_hint) p->alloc_hint = id;
}

void q_pager_freemap_settle(q_pager *p) {
    size_t keep = 0;
    for (size_t k = 0; k < p->pending.n; k++) {
        uint64_t id = p->pending.v[k], f = p->pending_gen.v[k];
        if (f <= p->oldest) {
            settle_one(p, id);
            continue;
        }
        p->pending.v[keep] = id;
        p->pending_gen.v[keep++] = f;
    }
    p->pending.n = p->pending_gen.n = keep;
}

int q_pager_freemap_repend(q_pager *p, uint64_t id, uint64_t gen) {
    uint64_t g = id / p->G;
    struct q_node *leaf = q_pager_tree_leaf(p, &p->tree[Q_TREE_FREEMAP], g);
    if (!leaf || id >= p->page_count) return 0; /* an absent group: nothing to hold back */
    uint64_t i = id - g * p->G;
    if (q_freemap_entry(leaf->buf, i) != Q_FREE) return 0;
    int rc = q_base_vec_reserve(&p->pending, 1);
    if (!rc) rc = q_base_vec_reserve(&p->pending_gen, 1);
    if (rc) return rc;
    q_freemap_set_entry(leaf->buf, i, Q_PENDING); /* in memory only: no dirtying */
    p->ntype[Q_FREE]--;
    p->ntype[Q_PENDING]++;
    leaf->nfree--;
    p->pending.v[p->pending.n++] = id;
    p->pending_gen.v[p->pending_gen.n++] = gen;
    return 0;
}

void q_pager_freemap_forget_txn(q_pager *p) {
    size_t keep = 0;
    for (size_t k = 0; k < p->pending.n; k++) {
        if (p->pending_gen.v[k] > p->gen) continue; /* freed in the open transaction */
        p->pending.v[keep] = p->pending.v[k];
        p->pending_gen.v[keep++] = p->pending_gen.v[k];
    }
    p->pending.n = p->pending_gen.n = keep;
}

/* ---------------------------------------------------------------------------------------------
 * Counting (open, abort)
 * ------------------------------------------------------------------------------------------- */

int q_pager_freemap_count(q_pager *p) {
    memset(p->ntype, 0, sizeof p->ntype);
    p->n_absent_free = 0;
    uint64_t ng = ngroups(p, p->page_count);
    const struct q_tree *t = &p->tree[Q_TREE_FREEMAP];
    if (!q_pager_tree_leaf(p, t, 0)) return QUIRE_EMETA;
    for (uint64_t g = 0; g < ng; g++) {
        struct q_node *leaf = q_pager_tree_leaf(p, t, g);
        uint64_t in = group_pages(p, g, p->page_count);
        if (!leaf) {
            p->n_absent_free += in - 2;
            continue;
        }
        uint64_t nfree = 0;
        for (uint64_t i = 0; i < p->G; i++) {
            unsigned ty = q_freemap_entry(leaf->buf, i);
            if (i >= in) {
                if (ty) return QUIRE_EMETA; /* beyond the end of the file */
                continue;
            }
            if (ty == Q_PENDING) return QUIRE_EMETA; /* never on disk */
            p->ntype[ty]++;
            nfree += ty == Q_FREE;
        }
        /* The leaf's fixed pages (and the superblock slots) must be internal. */
        if (q_freemap_entry(leaf->buf, q_pager_freemap_leaf_page(p, g, 0) - g * p->G) !=
                Q_INTERNAL ||
            q_freemap_entry(leaf->buf, q_pager_freemap_leaf_page(p, g, 1) - g * p->G) != Q_INTERNAL)
            return QUIRE_EMETA;
        if (g == 0 && (q_freemap_entry(leaf->buf, q_pager_super_page(p->P, 0)) != Q_INTERNAL ||
                       q_freemap_entry(leaf->buf, q_pager_super_page(p->P, 1)) != Q_INTERNAL))
            return QUIRE_EMETA;
        leaf->nfree = (uint32_t)nfree;
    }
    p->alloc_hint = 0;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * The barrier (readers.c): leaves whose free pages are held back
 * ------------------------------------------------------------------------------------------- */

static int hold_leaf(void *arg, const struct q_node *n, int leaf, uint64_t index) {
    (void)index;
    int hold = *(int *)arg;
    struct q_node *m = (struct q_node *)(uintptr_t)n; /* the walk is const; the flag is ours */
    if (leaf) m->flags = hold ? m->flags | Q_N_HELD : m->flags & ~(uint32_t)Q_N_HELD;
    return 0;
}

void q_pager_freemap_hold(q_pager *p, int hold) {
    q_pager_tree_walk(p, &p->tree[Q_TREE_FREEMAP], hold_leaf, &hold);
    p->alloc_hint = 0; /* free pages of released leaves may lie below it */
}
