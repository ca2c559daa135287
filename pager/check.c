/*
 * pager/check.c - quire_pager_check(): the verifier behind `quire check`.
 *
 * Opening the file already verifies both superblock slots, the checksum of every metadata page,
 * the commit record, every page the last commit wrote (home pages, shadows, protected copies)
 * and the counters; it records whether it had to fall back to the older slot. On top of that
 * the checker builds the list of every page some structure owns (superblock slots, free-map
 * leaves, tree nodes, protected copies, sub-page pages, shadow pages, record pages), and checks
 * that no page is owned twice, that every owned page is marked internal in the free map, that
 * every page the free map marks internal is owned, that owners live in materialized groups, and
 * that every protected page's current copy and every shadow match their checksums. An invalid
 * superblock slot or a fall-back is a warning, not a problem: a power loss during a commit
 * leaves one, and so does damage; the report says which slot and which generation.
 * quire_pheap_check() (pheap/check.c) calls it first, then checks the heap's own structures.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pager/internal.h"
#include "pages/prim.h"

struct owned {
    q_pager *p;
    struct q_base_vec v;
    int rc;
};

static int own(struct owned *o, uint64_t page) {
    int rc = q_base_vec_push(&o->v, page);
    if (rc) o->rc = rc;
    return rc;
}

static int own_nodes(void *arg, const struct q_node *n, int leaf, uint64_t index) {
    (void)leaf;
    (void)index;
    struct owned *o = arg;
    if (own(o, n->ref.copy[0])) return o->rc;
    return own(o, n->ref.copy[1]);
}

/* A free-map leaf owns its group's two fixed pages, and the page a relocated copy took. */
static int own_freemap(void *arg, const struct q_node *n, int leaf, uint64_t g) {
    struct owned *o = arg;
    if (!leaf) return own_nodes(arg, n, leaf, g);
    for (int i = 0; i < 2; i++) {
        uint64_t f = q_pager_freemap_leaf_page(o->p, g, i);
        if (own(o, f)) return o->rc;
        if (n->ref.copy[i] != f && n->ref.copy[i] != q_pager_freemap_leaf_page(o->p, g, 1 - i) &&
            own(o, n->ref.copy[i]))
            return o->rc;
    }
    return 0;
}

static int deep_check(q_pager *p, struct quire_pager_report *r) {
    struct owned o = {p, {0}, 0};
    q_base_vec_init(&o.v, &q_base_mem_libc);
    own(&o, q_pager_super_page(p->P, 0));
    own(&o, q_pager_super_page(p->P, 1));
    for (unsigned t = 0; t < Q_NTREES; t++)
        q_pager_tree_walk(p, &p->tree[t], t == Q_TREE_FREEMAP ? own_freemap : own_nodes, &o);
    /* Protected copies, verifying the current one. */
    uint64_t cur = 0, pid;
    while (quire_pager_next_protected(p->handle, &cur, &pid) == 1) {
        const struct q_ref *ref = q_pager_prot_rec(p, pid);
        own(&o, ref->copy[0]);
        own(&o, ref->copy[1]);
        const void *d;
        if (quire_pager_protected_get(p->handle, pid, &d))
            Q_PROBLEM(r, "protected page %llu: current copy (page %llu) fails its checksum",
                      (unsigned long long)pid,
                      (unsigned long long)ref->copy[ref->flags & Q_REF_SEL]);
    }
    for (uint64_t i = 0; i < p->sub_end; i++) {
        const struct q_subrec *s = q_pager_sub_rec(p, i);
        if (s && s->page) own(&o, s->page);
    }
    /* Shadows (verifying their contents) and the commit record's pages. */
    const struct q_base_hash *sh = &p->shadows;
    for (size_t j = 0; j < sh->cap; j++) {
        if (!sh->tags[j]) continue;
        const struct q_shadow_val *v = (const void *)(sh->vals + j * sh->val_size);
        uint64_t home = sh->tags[j] - 1;
        own(&o, v->page);
        if (v->page < p->page_count &&
            q_pager_page_crc(home, p->shared + (v->page << p->pshift), p->P) != v->crc)
            Q_PROBLEM(r, "page %llu: its shadow (page %llu) fails its checksum",
                      (unsigned long long)home, (unsigned long long)v->page);
    }
    for (size_t i = 0; i < p->rec_pages.n; i++) own(&o, p->rec_pages.v[i]);
    if (o.rc) {
        q_base_vec_free(&o.v);
        return o.rc;
    }
    q_base_sort_u64(o.v.v, o.v.n);
    for (size_t i = 0; i < o.v.n; i++) {
        uint64_t pg = o.v.v[i];
        if (i && pg == o.v.v[i - 1]) {
            Q_PROBLEM(r, "page %llu is owned by two structures", (unsigned long long)pg);
            continue;
        }
        if (pg >= p->page_count) {
            Q_PROBLEM(r, "page %llu is owned but lies past the end", (unsigned long long)pg);
            continue;
        }
        uint64_t g = pg / p->G;
        int is_leaf_slot =
            pg == q_pager_freemap_leaf_page(p, g, 0) || pg == q_pager_freemap_leaf_page(p, g, 1);
        if (!q_pager_tree_leaf(p, &p->tree[Q_TREE_FREEMAP], g) && !is_leaf_slot)
            Q_PROBLEM(r, "page %llu is owned but its free-map group is absent (free)",
                      (unsigned long long)pg);
        else if (q_pager_freemap_type(p, pg) != Q_INTERNAL)
            Q_PROBLEM(r, "page %llu is owned but the free map does not mark it internal",
                      (unsigned long long)pg);
    }
    /* Every internal page of a materialized group must be owned. */
    uint64_t groups = (p->page_count + p->G - 1) / p->G;
    for (uint64_t g = 0; g < groups; g++) {
        const struct q_node *leaf = q_pager_tree_leaf(p, &p->tree[Q_TREE_FREEMAP], g);
        if (!leaf) continue;
        for (uint64_t i = 0; i < p->G && g * p->G + i < p->page_count; i++) {
            if (q_freemap_entry(leaf->buf, i) != Q_INTERNAL) continue;
            uint64_t pg = g * p->G + i;
            if (!q_base_sorted_has(o.v.v, o.v.n, pg))
                Q_PROBLEM(r, "page %llu is marked internal but nothing owns it (leaked)",
                          (unsigned long long)pg);
        }
    }
    q_base_vec_free(&o.v);
    /* Counters against a recount. */
    uint64_t n;
    if (q_pager_prot_count(p, &n, UINT64_MAX) || n != p->sb.n_protected)
        Q_PROBLEM(r, "protected page count does not match the superblock");
    if (q_pager_sub_count(p, &n) || n != p->sb.n_subslots)
        Q_PROBLEM(r, "sub-page slot count does not match the superblock");
    return 0;
}

/* Reads both superblock slots as they are in the file: the size and slot fields of r. */
static int scan_slots(const char *path, struct quire_pager_report *r) {
    int fd;
    int rc = q_os_open(path, O_RDONLY, 0, &fd);
    if (rc) return rc;
    off_t fsz = 0;
    (void)q_os_file_size(fd, &fsz);
    r->file_size = (uint64_t)fsz;
    struct q_super sb[2];
    int err[2];
    r->page_size = q_pager_super_scan(fd, &q_pager_default_io, 0, sb, err);
    q_os_close(fd);
    for (int i = 0; i < 2; i++) {
        r->slot_valid[i] = err[i] == 0;
        r->slot_error[i] = err[i];
        r->slot_generation[i] = err[i] == 0 ? sb[i].generation : 0;
    }
    return 0;
}

int quire_pager_check(const char *path, struct quire_pager_report *r) {
    if (!path || !r) return QUIRE_EINVAL;
    void (*cb)(void *, const char *) = r->on_problem;
    void *arg = r->arg;
    memset(r, 0, sizeof *r);
    r->on_problem = cb;
    r->arg = arg;
    r->chosen_slot = -1;

    int rc = scan_slots(path, r);
    if (rc) return rc;
    quire_pager *h;
    rc = quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &h);
    if (rc) return rc; /* the return value says why; problems counts damage found */
    q_pager *p = h->h.state;
    r->chosen_slot = p->sb_slot;
    if (p->sb_slot < 0) {
        /* A live writer: the snapshot it published is checked, as any reader reads it. The
         * slots were read while it may have been writing one: a slot that did not validate is
         * read again (a slot being written is no warning); the one holding the snapshot's
         * generation is the chosen one (else, the writer committed meanwhile, the newest). */
        r->live = 1;
        for (int tries = 0; tries < 3 && !rc && (!r->slot_valid[0] || !r->slot_valid[1]); tries++) {
            q_os_sleep_ns(20000000);
            rc = scan_slots(path, r);
        }
        if (rc) {
            quire_pager_close(h);
            return rc;
        }
        int newest = r->slot_valid[1] &&
                     (!r->slot_valid[0] || r->slot_generation[1] > r->slot_generation[0]);
        r->chosen_slot = newest;
        for (int i = 0; i < 2; i++)
            if (r->slot_valid[i] && r->slot_generation[i] == p->gen) r->chosen_slot = i;
    }
    quire_pager_stat(h, &r->stat);
    if (p->fell_back) {
        int newer = 1 - p->sb_slot;
        r->rolled_back = 1;
        r->slot_valid[newer] = 0;
        r->slot_error[newer] = p->fell_back_error;
    }
    for (int i = 0; i < 2; i++) r->warnings += !r->slot_valid[i];
    rc = deep_check(p, r);
    quire_pager_close(h);
    if (rc) return rc;
    return r->problems ? QUIRE_ECHECKSUM : 0;
}
