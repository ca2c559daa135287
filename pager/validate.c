/*
 * pager/validate.c - q_pager_validate(): the invariants written in pager/internal.h, checked
 * against the in-memory state. Debug builds (Q_DEBUG >= 2, base/assert.h) run it after every
 * commit and every load of a committed state (open, abort); tests call it directly. It costs a
 * pass over every materialized free-map leaf and every directory record: never in release paths.
 */
#include "pager/internal.h"

/* Dirty nodes have dirty ancestors; interior nodes have children, leaves a buffer. */
static const char *check_node(const q_pager *p, const struct q_node *n, uint32_t level,
                              int parent_dirty, uint64_t *dirty) {
    if (!n) return NULL;
    if (level > 0 ? (!n->kid || n->buf) : (!n->buf || n->kid))
        return "pager: a tree node is neither a proper interior node nor a leaf";
    int d = (n->flags & Q_N_DIRTY) != 0;
    if (d && !parent_dirty) return "pager: a dirty node under a clean parent";
    *dirty += (uint64_t)d;
    if (level > 0)
        for (uint32_t i = 0; i < p->fanout; i++) {
            const char *why = check_node(p, n->kid[i], level - 1, d, dirty);
            if (why) return why;
        }
    return NULL;
}

static const char *check_trees(const q_pager *p) {
    uint64_t dirty = 0;
    for (unsigned t = 0; t < Q_NTREES; t++) {
        const struct q_tree *tr = &p->tree[t];
        if (tr->height > Q_MAX_HEIGHT) return "pager: a tree is higher than Q_MAX_HEIGHT";
        for (uint32_t i = 0; i < Q_ROOTS; i++) {
            const char *why = check_node(p, tr->root[i], tr->height, 1, &dirty);
            if (why) return why;
        }
    }
    if (dirty && !p->meta_dirty) return "pager: dirty nodes while meta_dirty is clear";
    return NULL;
}

/* The free map against the counters: ntype, n_absent_free, every leaf's nfree, alloc_hint. */
static const char *check_freemap(const q_pager *p) {
    const struct q_tree *t = &p->tree[Q_TREE_FREEMAP];
    uint64_t count[4] = {0}, absent = 0, absent_free = 0, lowest_free = UINT64_MAX;
    uint64_t groups = (p->page_count + p->G - 1) / p->G;
    if (!q_pager_tree_leaf(p, t, 0)) return "pager: free-map group 0 is absent";
    for (uint64_t g = 0; g < groups; g++) {
        const struct q_node *leaf = q_pager_tree_leaf(p, t, g);
        uint64_t base = g * p->G;
        uint64_t in = p->page_count - base < p->G ? p->page_count - base : p->G;
        if (!leaf) {
            absent++;
            absent_free += in - 2;
            if (lowest_free == UINT64_MAX && in > 2) lowest_free = base + 2;
            continue;
        }
        uint64_t nfree = 0;
        for (uint64_t i = 0; i < p->G; i++) {
            unsigned ty = q_freemap_entry(leaf->buf, i);
            if (i >= in) {
                if (ty) return "pager: a free-map entry beyond page_count is not free";
                continue;
            }
            count[ty]++;
            if (ty == Q_FREE) {
                nfree++;
                /* a held leaf's free pages below held_below are not allocatable (barrier) */
                if (lowest_free == UINT64_MAX &&
                    (!(leaf->flags & Q_N_HELD) || base + i >= p->held_below))
                    lowest_free = base + i;
            }
        }
        if (leaf->nfree != nfree) return "pager: a free-map leaf's nfree differs from its entries";
        if (q_freemap_entry(leaf->buf, q_pager_freemap_leaf_page(p, g, 0) - base) != Q_INTERNAL ||
            q_freemap_entry(leaf->buf, q_pager_freemap_leaf_page(p, g, 1) - base) != Q_INTERNAL)
            return "pager: a free-map leaf's own pages are not internal";
        if (g == 0 && (q_freemap_entry(leaf->buf, 0) != Q_INTERNAL ||
                       q_freemap_entry(leaf->buf, 1) != Q_INTERNAL))
            return "pager: the superblock slots are not internal";
    }
    for (unsigned ty = 0; ty < 4; ty++)
        if (count[ty] != p->ntype[ty]) return "pager: ntype differs from the free map";
    if (absent_free != p->n_absent_free) return "pager: n_absent_free differs from the free map";
    if (p->page_count != count[0] + count[1] + count[2] + count[3] + absent_free + 2 * absent)
        return "pager: page_count differs from the pages the free map accounts for";
    if (lowest_free < p->alloc_hint) return "pager: a free page lies below alloc_hint";
    if (p->ntype[Q_PENDING] != p->pending.n || p->pending_gen.n != p->pending.n)
        return "pager: pending pages differ from `pending`";
    for (size_t k = 0; k < p->pending.n; k++)
        if (p->pending.v[k] >= p->page_count ||
            q_pager_freemap_type(p, p->pending.v[k]) != Q_PENDING ||
            p->pending_gen.v[k] > p->gen + 1)
            return "pager: a page in `pending` is not Q_PENDING";
    return NULL;
}

struct dir_count {
    const q_pager *p;
    uint64_t live, end, slots;
};

static int count_prot(void *arg, const struct q_node *n, int leaf, uint64_t l) {
    struct dir_count *c = arg;
    if (!leaf) return 0;
    uint64_t per = c->p->tree[Q_TREE_PROT].per_leaf;
    for (uint64_t i = 0; i < per; i++) {
        const struct q_ref *r = (const struct q_ref *)(const void *)(n->buf + i * 32);
        if (!(r->flags & Q_REF_PRESENT)) continue;
        c->live++;
        c->end = l * per + i + 1;
    }
    return 0;
}

static int count_sub(void *arg, const struct q_node *n, int leaf, uint64_t l) {
    struct dir_count *c = arg;
    if (!leaf) return 0;
    uint64_t per = c->p->tree[Q_TREE_SUB].per_leaf;
    for (uint64_t i = 0; i < per; i++) {
        const struct q_subrec *r = (const struct q_subrec *)(const void *)(n->buf + i * 64);
        if (!r->page) continue;
        c->slots += r->nused;
        c->end = l * per + i + 1;
    }
    return 0;
}

/* The directories against their counters. */
static const char *check_directories(const q_pager *p) {
    struct dir_count c = {p, 0, 0, 0};
    q_pager_tree_walk(p, &p->tree[Q_TREE_PROT], count_prot, &c);
    if (c.live != p->n_protected) return "pager: n_protected differs from the live records";
    if (c.end > p->prot_end) return "pager: a live protected record lies at or past prot_end";
    struct dir_count s = {p, 0, 0, 0};
    q_pager_tree_walk(p, &p->tree[Q_TREE_SUB], count_sub, &s);
    if (s.slots != p->n_subslots + p->sub_pending.count)
        return "pager: n_subslots (+ slots freed in the txn) differs from the records";
    if (s.end > p->sub_end) return "pager: a sub-page record lies at or past sub_end";
    return NULL;
}

/* The shadow map: homes are content pages, shadows internal pages, generations committed. */
static const char *check_shadows(const q_pager *p) {
    const struct q_base_hash *h = &p->shadows;
    for (size_t j = 0; j < h->cap; j++) {
        if (!h->tags[j]) continue;
        uint64_t x = h->tags[j] - 1;
        const struct q_shadow_val *v = (const void *)(h->vals + j * h->val_size);
        if (x >= p->page_count || v->page >= p->page_count || v->page == x)
            return "pager: a shadow lies outside the file or is its own home";
        unsigned tx = q_pager_freemap_type(p, x);
        if (tx != Q_REGULAR && tx != Q_INTERNAL && !p->in_txn)
            return "pager: a shadowed page is neither regular nor a sub-page page";
        if (q_pager_freemap_type(p, v->page) != Q_INTERNAL)
            return "pager: a shadow page is not internal";
        if (v->gen == 0 || v->gen > p->gen + (p->in_txn ? 1 : 0))
            return "pager: a shadow's generation is not a committed one";
    }
    return NULL;
}

const char *q_pager_validate_state(const q_pager *p) {
    if (p->page_count % Q_GROW_MIN) return "pager: page_count is not a multiple of Q_GROW_MIN";
    size_t len = (size_t)(p->page_count << p->pshift);
    if (p->mapping_len != len || p->shared_len != len)
        return "pager: the mappings do not cover page_count pages";
    if (!p->in_txn && p->sub_pending.count)
        return "pager: sub-page frees left pending outside a transaction";
    if (p->anchor > p->gen || p->oldest > p->anchor)
        return "pager: the anchor or the oldest protected state is newer than the last commit";
    const char *why = check_trees(p);
    if (!why) why = check_freemap(p);
    if (!why) why = check_directories(p);
    if (!why) why = check_shadows(p);
    if (!why) why = q_base_hash_validate(&p->cow);
    if (!why) why = q_base_hash_validate(&p->sub_pending);
    if (!why) why = q_base_hash_validate(&p->writers_on);
    if (!why) why = q_base_hash_validate(&p->shadows);
    return why;
}

const char *q_pager_validate(const quire_pager *h) {
    return q_pager_validate_state(Q_PAGER(h));
}
