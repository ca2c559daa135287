/*
 * pager/subpage.c - the sub-page allocator: slots of one power-of-two size carved out of pages.
 *
 * Each page given to the allocator has a record in tree 2, the sub-page directory (struct
 * q_subrec: the page, the slot
 * size, a bitmap of up to 256 slots), so the allocation state is committed and survives reopen
 * like the rest of the metadata (the seed kept it in memory only). Handles are
 * ((record + 1) << 8) | slot, never 0. A slot freed in a transaction keeps its bit until the
 * transaction commits (q_pager_sub_settle), so it is not reused before the free is durable; a page
 * whose last slot is freed goes back to the free pages at that point.
 */
#include <stdlib.h>
#include <string.h>

#include "pager/internal.h"

/* Its leaves: plain records, 64 bytes each. */
const struct q_pager_leaf_ops q_pager_sub_leaves = {
    "sub-page directory", 512, 0, NULL, NULL, NULL, NULL};

int q_pager_sub_is_page(q_pager *p, uint64_t id) {
    for (uint64_t i = 0; i < p->sub_end; i++) {
        const struct q_subrec *r = q_pager_sub_rec(p, i);
        if (r && r->page == id) return 1;
    }
    return 0;
}

static struct q_tree *stab(q_pager *p) {
    return &p->tree[Q_TREE_SUB];
}

struct q_subrec *q_pager_sub_rec(q_pager *p, uint64_t rec) {
    struct q_tree *t = stab(p);
    struct q_node *leaf = q_pager_tree_leaf(p, t, rec / t->per_leaf);
    if (!leaf) return NULL;
    return (struct q_subrec *)(leaf->buf + (rec % t->per_leaf) * 64);
}

static int rec_dirty(q_pager *p, uint64_t rec, struct q_subrec **out) {
    struct q_tree *t = stab(p);
    struct q_node *leaf;
    int rc = q_pager_tree_dirty(p, t, rec / t->per_leaf, &leaf);
    if (rc) return rc;
    *out = (struct q_subrec *)(leaf->buf + (rec % t->per_leaf) * 64);
    return 0;
}

static uint32_t min_shift(const q_pager *p) {
    return p->pshift - 8 > 4 ? p->pshift - 8 : 4;
}
static uint32_t nslots(const q_pager *p, const struct q_subrec *r) {
    return 1u << (p->pshift - r->shift);
}

struct sub_count {
    q_pager *p;
    uint64_t slots, end;
};

static int count_leaf(void *arg, const struct q_node *n, int leaf, uint64_t l) {
    struct sub_count *c = arg;
    q_pager *p = c->p;
    uint64_t per = stab(p)->per_leaf;
    if (!leaf) return 0;
    for (uint64_t i = 0; i < per; i++) {
        const struct q_subrec *r = (const struct q_subrec *)(n->buf + i * 64);
        if (!r->page) {
            static const struct q_subrec zero;
            if (memcmp(r, &zero, sizeof zero)) return QUIRE_EMETA;
            continue;
        }
        if (r->page >= p->page_count || q_pager_is_fixed(p, r->page) || r->shift < min_shift(p) ||
            r->shift >= p->pshift || r->reserved[0] || r->reserved[1])
            return QUIRE_EMETA;
        uint32_t ns = nslots(p, r), used = 0;
        for (uint32_t w = 0; w < 4; w++) {
            uint64_t b = r->bits[w];
            if (w * 64 >= ns)
                if (b) return QUIRE_EMETA;
            if (ns < 64 && w == 0 && (b >> ns)) return QUIRE_EMETA;
            used += (uint32_t)__builtin_popcountll(b);
        }
        if (used != r->nused || used == 0) return QUIRE_EMETA;
        c->slots += used;
        c->end = l * per + i + 1;
    }
    return 0;
}

int q_pager_sub_count(q_pager *p, uint64_t *n) {
    struct sub_count c = {p, 0, 0};
    int rc = q_pager_tree_walk(p, stab(p), count_leaf, &c);
    if (rc) return rc;
    *n = c.slots;
    p->n_subslots = c.slots;
    p->sub_end = c.end;
    return 0;
}

/* Decodes a handle into a live slot: 0, QUIRE_EBOUNDS or QUIRE_ENOTALLOC. */
static int decode(q_pager *p, uint64_t h, uint64_t *rec, uint32_t *slot, struct q_subrec **r) {
    if (h < 256) return QUIRE_EBOUNDS;
    *rec = (h >> 8) - 1;
    *slot = (uint32_t)(h & 255);
    if (*rec >= p->sub_end) return QUIRE_ENOTALLOC;
    *r = q_pager_sub_rec(p, *rec);
    if (!*r || !(*r)->page) return QUIRE_ENOTALLOC;
    if (*slot >= nslots(p, *r)) return QUIRE_EBOUNDS;
    if (!((*r)->bits[*slot >> 6] >> (*slot & 63) & 1)) return QUIRE_ENOTALLOC;
    return 0;
}

int quire_pager_subpage_alloc(quire_pager *h, size_t size, uint64_t *handle) {
    q_pager *p = Q_PAGER(h);
    if (!p || !handle || size == 0 || size > p->P / 2) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    uint32_t sh = min_shift(p);
    while (((size_t)1 << sh) < size) sh++;
    /* A record of this size with a free slot, from the size's hint. */
    uint64_t rec = UINT64_MAX;
    for (uint64_t i = p->sub_hint[sh - 4]; i < p->sub_end; i++) {
        const struct q_subrec *r = q_pager_sub_rec(p, i);
        if (r && r->page && r->shift == sh && r->nused < nslots(p, r)) {
            rec = i;
            break;
        }
    }
    struct q_subrec *r;
    if (rec == UINT64_MAX) {
        /* A new page and record. */
        uint64_t i = p->sub_free_hint;
        for (;; i++) {
            const struct q_subrec *x = q_pager_sub_rec(p, i);
            if (!x || !x->page) break;
        }
        uint64_t page;
        if ((rc = q_pager_freemap_alloc(p, Q_INTERNAL, 0, &page))) return rc;
        if ((rc = rec_dirty(p, i, &r))) {
            (void)q_pager_freemap_set(p, page, Q_FREE);
            return rc;
        }
        memset(r, 0, sizeof *r);
        r->page = page;
        r->shift = sh;
        rec = i;
        p->sub_free_hint = i + 1;
        if (i + 1 > p->sub_end) p->sub_end = i + 1;
    } else if ((rc = rec_dirty(p, rec, &r))) {
        return rc;
    }
    uint32_t ns = nslots(p, r), s = 0;
    while (s < ns && (r->bits[s >> 6] >> (s & 63) & 1)) s++;
    r->bits[s >> 6] |= UINT64_C(1) << (s & 63);
    r->nused++;
    p->n_subslots++;
    p->sub_hint[sh - 4] = rec;
    *handle = ((rec + 1) << 8) | s;
    return q_pager_autocommit(p);
}

int quire_pager_subpage_free(quire_pager *hd, uint64_t h) {
    q_pager *p = Q_PAGER(hd);
    if (!p) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    uint64_t rec;
    uint32_t slot;
    struct q_subrec *r;
    rc = decode(p, h, &rec, &slot, &r);
    if (rc == QUIRE_ENOTALLOC || (!rc && q_base_hash_has(&p->sub_pending, h)))
        return QUIRE_EDOUBLEFREE;
    if (rc) return rc;
    rc = q_base_hash_put(&p->sub_pending, h, NULL);
    if (rc < 0) return rc;
    p->n_subslots--;
    p->meta_dirty = 1;
    return q_pager_autocommit(p);
}

int q_pager_sub_settle(q_pager *p) {
    struct q_base_vec v;
    q_base_vec_init(&v, &q_base_mem_libc);
    int rc = q_base_hash_sorted_keys(&p->sub_pending, &v);
    if (rc) return rc;
    const uint64_t *hs = v.v;
    size_t n = v.n;
    for (size_t k = 0; k < n && !rc; k++) {
        uint64_t rec = (hs[k] >> 8) - 1;
        uint32_t slot = (uint32_t)(hs[k] & 255);
        struct q_subrec *r;
        if ((rc = rec_dirty(p, rec, &r))) break;
        r->bits[slot >> 6] &= ~(UINT64_C(1) << (slot & 63));
        r->nused--;
        if (r->nused == 0) {
            rc = q_pager_freemap_free_pending(p, r->page, p->gen + 1);
            memset(r, 0, sizeof *r);
            if (rec < p->sub_free_hint) p->sub_free_hint = rec;
        } else if (rec < p->sub_hint[r->shift - 4]) {
            p->sub_hint[r->shift - 4] = rec;
        }
    }
    q_base_vec_free(&v);
    q_base_hash_clear(&p->sub_pending);
    return rc;
}

static int get(q_pager *p, uint64_t h, uint8_t **data, size_t *size, int write) {
    if (!p || !data) return QUIRE_EINVAL;
    int rc = write ? q_pager_writable(p) : (p->fatal ? QUIRE_EUNAVAIL : 0);
    if (rc) return rc;
    uint64_t rec;
    uint32_t slot;
    struct q_subrec *r;
    if ((rc = decode(p, h, &rec, &slot, &r))) return rc;
    if (q_base_hash_has(&p->sub_pending, h)) return QUIRE_ENOTALLOC;
    if (write && (rc = q_base_hash_put(&p->cow, r->page, NULL)) < 0) return rc;
    *data = p->mapping + (r->page << p->pshift) + ((uint64_t)slot << r->shift);
    if (size) *size = (size_t)1 << r->shift;
    return 0;
}

int quire_pager_subpage_get(quire_pager *hd, uint64_t h, const void **data, size_t *size) {
    q_pager *p = Q_PAGER(hd);
    uint8_t *d;
    int rc = get(p, h, &d, size, 0);
    if (!rc) *data = d;
    return rc;
}

int quire_pager_subpage_get_write(quire_pager *hd, uint64_t h, void **data, size_t *size) {
    q_pager *p = Q_PAGER(hd);
    uint8_t *d;
    int rc = get(p, h, &d, size, 1);
    if (!rc) *data = d;
    return rc;
}

int quire_pager_next_subpage(quire_pager *h, uint64_t *cursor, uint64_t *handle) {
    q_pager *p = Q_PAGER(h);
    if (!p || !cursor || !handle) return QUIRE_EINVAL;
    if (p->fatal) return QUIRE_EUNAVAIL;
    /* cursor = record * 256 + slot of the next candidate */
    for (uint64_t c = *cursor; (c >> 8) < p->sub_end; c++) {
        uint64_t rec = c >> 8;
        uint32_t slot = (uint32_t)(c & 255);
        const struct q_subrec *r = q_pager_sub_rec(p, rec);
        if (!r || !r->page || slot >= nslots(p, r)) {
            c = (rec << 8) | 255;
            continue;
        }
        if (r->bits[slot >> 6] >> (slot & 63) & 1) {
            uint64_t h = ((rec + 1) << 8) | slot;
            if (q_base_hash_has(&p->sub_pending, h)) continue;
            *handle = h;
            *cursor = c + 1;
            return 1;
        }
    }
    *cursor = p->sub_end << 8;
    return 0;
}
