/*
 * pager/tree.c - the copy-on-write radix tree under each of the pager's three structures (the
 * free map, the protected-page directory, the sub-page directory). Generic: what a leaf holds
 * is the owner's business, registered as a struct q_pager_leaf_ops (its record size and, for
 * the free map, how a new leaf is placed and filled, where a loaded one must lie and what bytes
 * are written for it); this file never looks inside a leaf and calls no other pager module.
 *
 * A tree is Q_ROOTS refs in the superblock, `height` levels of interior nodes (F = P / 32 refs
 * each) and leaves (one page of records). Every node lives in a pair of pages; a node changed in
 * a transaction is written to the copy the last commit does not use, and its parent's ref (CRC,
 * generation, which copy) changes with it, up to the superblock. Nodes are materialized lazily:
 * an absent ref is an all-zero subtree, so a 1 TiB sparse file has a handful of nodes.
 * The whole tree is kept in memory once loaded (leaves as page buffers, interior nodes as child
 * arrays; interior pages are rebuilt from the children's refs when written).
 */
#include <stdlib.h>
#include <string.h>

#include "pager/internal.h"

void q_pager_tree_init(q_pager *p, struct q_tree *t, const struct q_pager_leaf_ops *ops) {
    memset(t, 0, sizeof *t);
    t->ops = ops;
    t->per_leaf = (uint64_t)p->P * 8 / ops->rec_bits;
}

static void node_free(struct q_node *n, uint32_t level, uint32_t fanout) {
    if (!n) return;
    if (level > 0 && n->kid)
        for (uint32_t i = 0; i < fanout; i++) node_free(n->kid[i], level - 1, fanout);
    free(n->kid);
    free(n->buf);
    free(n->base_img);
    free(n);
}

void q_pager_tree_free(q_pager *p, struct q_tree *t) {
    for (uint32_t i = 0; i < Q_ROOTS; i++) node_free(t->root[i], t->height, p->fanout);
    memset(t->root, 0, sizeof t->root);
    t->height = 0;
}

/* F^level (saturating) */
static uint64_t span(const q_pager *p, uint32_t level) {
    uint64_t s = 1;
    for (uint32_t i = 0; i < level; i++) {
        if (s > UINT64_MAX / p->fanout) return UINT64_MAX;
        s *= p->fanout;
    }
    return s;
}

/* Leaves a tree of this height can hold: Q_ROOTS * F^height (saturating). */
static uint64_t capacity(const q_pager *p, uint32_t height) {
    uint64_t s = span(p, height);
    return s > UINT64_MAX / Q_ROOTS ? UINT64_MAX : s * Q_ROOTS;
}

struct q_node *q_pager_tree_leaf(const q_pager *p, const struct q_tree *t, uint64_t leaf) {
    if (leaf >= capacity(p, t->height)) return NULL;
    uint64_t sp = span(p, t->height);
    struct q_node *n = t->root[leaf / sp];
    leaf %= sp;
    for (uint32_t lvl = t->height; n && lvl > 0; lvl--) {
        sp /= p->fanout;
        n = n->kid[leaf / sp];
        leaf %= sp;
    }
    return n;
}

static struct q_node *node_new(q_pager *p, int leaf) {
    struct q_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    if (leaf)
        n->buf = calloc(1, p->P);
    else
        n->kid = calloc(p->fanout, sizeof *n->kid);
    if (leaf ? !n->buf : !n->kid) {
        free(n);
        return NULL;
    }
    return n;
}

int q_pager_tree_dirty(q_pager *p, struct q_tree *t, uint64_t leaf, struct q_node **out) {
    while (leaf >= capacity(p, t->height)) {
        if (t->height >= Q_MAX_HEIGHT) return QUIRE_EFULL;
        int any = 0;
        for (uint32_t i = 0; i < Q_ROOTS; i++) any |= t->root[i] != NULL;
        if (any) {
            struct q_node *n = node_new(p, 0);
            if (!n) return QUIRE_ENOMEM;
            for (uint32_t i = 0; i < Q_ROOTS; i++) n->kid[i] = t->root[i];
            memset(t->root, 0, sizeof t->root);
            t->root[0] = n;
            n->flags |= Q_N_DIRTY;
        }
        t->height++;
    }
    uint64_t sp = span(p, t->height), idx = leaf;
    struct q_node **link = &t->root[idx / sp];
    idx %= sp;
    for (uint32_t lvl = t->height;; lvl--) {
        if (!*link) {
            struct q_node *n = node_new(p, lvl == 0);
            if (!n) return QUIRE_ENOMEM;
            n->flags |= Q_N_NEW;
            if (lvl == 0 && t->ops->init) t->ops->init(p, n, leaf);
            *link = n;
        } else if (lvl == 0 && t->ops->keep_committed && !((*link)->flags & Q_N_DIRTY) &&
                   !(*link)->base_img) {
            /* first change in this transaction: keep what the last commit holds */
            uint8_t *img = malloc(p->P);
            if (!img) return QUIRE_ENOMEM;
            memcpy(img, (*link)->buf, p->P);
            (*link)->base_img = img;
        }
        (*link)->flags |= Q_N_DIRTY;
        if (lvl == 0) break;
        sp /= p->fanout;
        link = &(*link)->kid[idx / sp];
        idx %= sp;
    }
    p->meta_dirty = 1;
    *out = *link;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------------------------- */

static int ref_is_zero(const struct q_ref *r) {
    return !r->copy[0] && !r->copy[1] && !r->gen && !r->crc && !r->flags;
}

/* Validates a present ref's fields and reads its current copy into buf. */
static int read_ref(q_pager *p, const struct q_ref *r, uint8_t *buf) {
    if ((r->flags & ~(Q_REF_SEL | Q_REF_PRESENT)) || !(r->flags & Q_REF_PRESENT))
        return QUIRE_EMETA;
    if (r->gen > p->gen) return QUIRE_EMETA;
    for (int i = 0; i < 2; i++)
        if (r->copy[i] >= p->page_count || r->copy[i] == 0 ||
            r->copy[i] == q_pager_super_page(p->P, 1))
            return QUIRE_EMETA;
    if (r->copy[0] == r->copy[1]) return QUIRE_EMETA;
    uint64_t pg = r->copy[r->flags & Q_REF_SEL];
    int rc = p->io.pread(p->io.ctx, p->fd, buf, p->P, pg << p->pshift);
    if (rc) return rc == QUIRE_EIO ? QUIRE_EFILESIZE : rc;
    if (q_pager_node_crc(r->gen, buf, p->P) != r->crc) return QUIRE_EMETA;
    return 0;
}

static int same_ref(const struct q_ref *a, const struct q_ref *b) {
    return a->copy[0] == b->copy[0] && a->copy[1] == b->copy[1] && a->gen == b->gen &&
           a->crc == b->crc && a->flags == b->flags;
}

/* Loads the node r names at `level`; *old (when not NULL) is the node that stood there in the
 * tree being replaced: kept, and taken out of it (*old = NULL), when its ref is unchanged. */
static int load_node(q_pager *p, struct q_tree *t, const struct q_ref *r, uint32_t level,
                     uint64_t first_leaf, struct q_node **old, struct q_node **out) {
    if (old && *old && same_ref(&(*old)->ref, r) && !((*old)->flags & Q_N_DIRTY)) {
        *out = *old; /* unchanged: its subtree too (every ref below is under this CRC) */
        *old = NULL;
        return 0;
    }
    int leaf = level == 0;
    struct q_node *n = node_new(p, leaf);
    if (!n) return QUIRE_ENOMEM;
    n->ref = *r;
    uint8_t *buf = leaf ? n->buf : p->scratch;
    int rc = read_ref(p, r, buf);
    if (rc) goto fail;
    if (leaf) {
        if (t->ops->check && (rc = t->ops->check(p, r, first_leaf))) goto fail;
        *out = n;
        return 0;
    }
    /* Interior: copy the refs out of the scratch page before recursing (it is reused). */
    struct q_ref *refs = malloc(p->P);
    if (!refs) {
        rc = QUIRE_ENOMEM;
        goto fail;
    }
    memcpy(refs, buf, p->P);
    uint64_t sp = span(p, level - 1);
    struct q_node **oldkids = old && *old && (*old)->kid ? (*old)->kid : NULL;
    for (uint32_t i = 0; i < p->fanout && !rc; i++) {
        if (!(refs[i].flags & Q_REF_PRESENT)) {
            if (!ref_is_zero(&refs[i])) rc = QUIRE_EMETA;
            continue;
        }
        rc = load_node(p, t, &refs[i], level - 1, first_leaf + i * sp, oldkids ? &oldkids[i] : NULL,
                       &n->kid[i]);
    }
    free(refs);
    if (rc) goto fail;
    *out = n;
    return 0;
fail:
    node_free(n, level, p->fanout);
    return rc;
}

int q_pager_tree_load(q_pager *p, struct q_tree *t, const struct q_ref *roots, uint32_t height,
                      int reuse) {
    struct q_tree old = *t;
    memset(t->root, 0, sizeof t->root);
    if (!reuse || old.height != height) {
        q_pager_tree_free(p, &old); /* nothing to keep */
        reuse = 0;
    }
    t->height = 0;
    int rc = 0;
    uint64_t sp = span(p, height);
    if (height > Q_MAX_HEIGHT || sp == UINT64_MAX || capacity(p, height) == UINT64_MAX)
        rc = QUIRE_EMETA;
    if (!rc) t->height = height;
    for (uint32_t i = 0; i < Q_ROOTS && !rc; i++) {
        if (!(roots[i].flags & Q_REF_PRESENT)) {
            if (!ref_is_zero(&roots[i])) rc = QUIRE_EMETA;
            continue;
        }
        rc = load_node(p, t, &roots[i], height, i * sp, reuse ? &old.root[i] : NULL, &t->root[i]);
    }
    if (reuse) q_pager_tree_free(p, &old); /* what was not kept */
    if (rc) q_pager_tree_free(p, t);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Commit: page pairs for new nodes, then writing
 * ------------------------------------------------------------------------------------------- */

/* Dirty nodes that need pages: new ones (a pair), and ones whose both copies a protected state
 * uses (a third page): pushed as (node, leaf index or UINT64_MAX for an interior node). */
static int collect(const q_pager *p, struct q_node *n, uint32_t level, uint64_t first,
                   struct q_base_vec *v) {
    if (!n || !(n->flags & Q_N_DIRTY)) return 0;
    int fresh = !n->ref.copy[0];
    int both = (n->ref.flags & Q_REF_PRESENT) && n->ref.gen > p->anchor && !(n->flags & Q_N_MOVED);
    if (fresh || both) {
        int rc = q_base_vec_push(v, (uint64_t)(uintptr_t)n);
        if (!rc) rc = q_base_vec_push(v, level ? UINT64_MAX : first);
        if (rc) return rc;
    }
    if (level > 0) {
        uint64_t sp = span(p, level - 1);
        for (uint32_t i = 0; i < p->fanout; i++) {
            int rc = collect(p, n->kid[i], level - 1, first + i * sp, v);
            if (rc) return rc;
        }
    }
    return 0;
}

/* A node the anchor reads in one copy and the latest commit in the other (QUIRE_PAGER_NOSYNC:
 * written again since the anchor): its new version goes to a third page, which takes the
 * latest's copy's place; that copy is retired (freed, pending) once this commit is protected
 * instead. A free-map leaf takes back the fixed page of its group it does not use, if any. */
static int relocate(q_pager *p, struct q_tree *t, struct q_node *n, uint64_t index,
                    const struct q_pager_tree_pages *pg) {
    uint32_t cur = n->ref.flags & Q_REF_SEL;
    uint64_t keep = n->ref.copy[1 - cur], old = n->ref.copy[cur], third = 0;
    int fixed_old = 0;
    if (t->ops->fixed && index != UINT64_MAX) {
        for (int i = 0; i < 2; i++) {
            uint64_t f = t->ops->fixed(p, index, i);
            if (f == old) fixed_old = 1;
            if (f != keep && f != old) third = f;
        }
    }
    if (!third) {
        int rc = pg->alloc_apart(p, keep, &third);
        if (rc) return rc;
    }
    if (!fixed_old) {
        int rc = pg->retire(p, old);
        if (rc) return rc;
    }
    n->ref.copy[cur] = third;
    n->flags |= Q_N_MOVED;
    return 0;
}

int q_pager_tree_prepare(q_pager *p, struct q_tree *t, const struct q_pager_tree_pages *pg,
                         int *changed) {
    struct q_base_vec v;
    q_base_vec_init(&v, &q_base_mem_libc);
    int rc = 0;
    uint64_t sp = span(p, t->height);
    for (uint32_t i = 0; i < Q_ROOTS && !rc; i++)
        rc = collect(p, t->root[i], t->height, i * sp, &v);
    /* Allocating may add nodes to this very tree (the free map's) or raise its height; the
     * collected nodes stay where they are, so it is safe to fill them in afterwards. */
    for (size_t i = 0; i + 1 < v.n && !rc; i += 2) {
        struct q_node *n = (struct q_node *)(uintptr_t)v.v[i];
        if (n->ref.copy[0]) {
            rc = relocate(p, t, n, v.v[i + 1], pg);
        } else {
            uint64_t a, b;
            rc = pg->alloc_pair(p, &a, &b);
            if (rc) break;
            n->ref.copy[0] = a;
            n->ref.copy[1] = b;
        }
        *changed = 1;
    }
    q_base_vec_free(&v);
    return rc;
}

static int write_node(q_pager *p, struct q_tree *t, struct q_node *n, uint32_t level,
                      uint64_t gen) {
    if (!n || !(n->flags & Q_N_DIRTY)) return 0;
    const uint8_t *src;
    if (level > 0) {
        for (uint32_t i = 0; i < p->fanout; i++) {
            int rc = write_node(p, t, n->kid[i], level - 1, gen);
            if (rc) return rc;
        }
        struct q_ref *refs = (struct q_ref *)p->scratch;
        memset(refs, 0, p->P);
        for (uint32_t i = 0; i < p->fanout; i++)
            if (n->kid[i]) refs[i] = n->kid[i]->ref;
        src = p->scratch;
    } else {
        src = t->ops->image ? t->ops->image(p, n) : n->buf;
    }
    Q_ASSERT(n->ref.copy[0] && n->ref.copy[1]);
    if (!n->ref.copy[0]) return QUIRE_ESTATE; /* prepare was skipped: a bug */
    uint32_t target = q_pager_write_target(p, &n->ref);
    if (q_pager_test_fault == Q_FAULT_ANCHOR_COPY && (n->ref.flags & Q_REF_PRESENT))
        target = n->ref.flags & Q_REF_SEL; /* test hook: over the copy the anchor uses */
    int rc = p->io.pwrite(p->io.ctx, p->fd, src, p->P, n->ref.copy[target] << p->pshift);
    if (rc) return rc;
    n->ref.gen = gen;
    n->ref.crc = q_pager_node_crc(gen, src, p->P);
    n->ref.flags = Q_REF_PRESENT | target;
    n->flags &= ~(uint32_t)(Q_N_DIRTY | Q_N_NEW | Q_N_MOVED);
    free(n->base_img);
    n->base_img = NULL;
    return 0;
}

int q_pager_tree_write(q_pager *p, struct q_tree *t, uint64_t gen, struct q_ref *roots) {
    for (uint32_t i = 0; i < Q_ROOTS; i++) {
        int rc = write_node(p, t, t->root[i], t->height, gen);
        if (rc) return rc;
        if (t->root[i])
            roots[i] = t->root[i]->ref;
        else
            memset(&roots[i], 0, sizeof roots[i]);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Walking
 * ------------------------------------------------------------------------------------------- */

static int walk(const q_pager *p, const struct q_node *n, uint32_t level, uint64_t first,
                int (*fn)(void *, const struct q_node *, int, uint64_t), void *arg) {
    if (!n) return 0;
    int rc = fn(arg, n, level == 0, level == 0 ? first : level);
    if (rc || level == 0) return rc;
    uint64_t sp = span(p, level - 1);
    for (uint32_t i = 0; i < p->fanout && !rc; i++)
        rc = walk(p, n->kid[i], level - 1, first + i * sp, fn, arg);
    return rc;
}

int q_pager_tree_walk(const q_pager *p, const struct q_tree *t,
                      int (*fn)(void *arg, const struct q_node *n, int leaf, uint64_t index),
                      void *arg) {
    uint64_t sp = span(p, t->height);
    for (uint32_t i = 0; i < Q_ROOTS; i++) {
        int rc = walk(p, t->root[i], t->height, i * sp, fn, arg);
        if (rc) return rc;
    }
    return 0;
}
