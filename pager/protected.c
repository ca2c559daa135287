/*
 * pager/protected.c - protected pages: copy-on-write pairs of physical pages.
 *
 * A protected page is a record of tree 1, the protected directory (a struct q_ref): its two
 * copies (in different 4 KiB blocks), which one is current, and the CRC32C of the current copy
 * under the generation that wrote it. A writer copies the current contents into a private
 * buffer; committing the writer pwrite()s the buffer into the copy no protected state reads
 * (internal.h: the other copy once every protected state is at least as new as the current
 * copy; if the page was already written in this transaction, that same new copy; when an older
 * state still reads the other copy, a fresh page replaces it, and the old one is freed), then
 * flips the record. The record reaches the file with the metadata of the commit, so the new
 * contents become visible to a later open atomically with it; open verifies the copies the
 * latest commit wrote. Reads verify the CRC of the current copy every time.
 */
#include <stdlib.h>
#include <string.h>

#include "pager/internal.h"

/* Its leaves: plain records, 32 bytes each. */
const struct q_pager_leaf_ops q_pager_prot_leaves = {
    "protected directory", 256, 0, NULL, NULL, NULL, NULL};

static const struct q_tree *ptab(const q_pager *p) {
    return &p->tree[Q_TREE_PROT];
}

struct q_ref *q_pager_prot_rec(q_pager *p, uint64_t pid) {
    const struct q_tree *t = ptab(p);
    struct q_node *leaf = q_pager_tree_leaf(p, t, pid / t->per_leaf);
    if (!leaf) return NULL;
    return (struct q_ref *)(leaf->buf + (pid % t->per_leaf) * 32);
}

static int rec_live(const struct q_ref *r) {
    return r && (r->flags & Q_REF_PRESENT);
}

/* A writable record (its leaf and ancestors marked dirty). */
static int rec_dirty(q_pager *p, uint64_t pid, struct q_ref **out) {
    struct q_tree *t = &p->tree[Q_TREE_PROT];
    struct q_node *leaf;
    int rc = q_pager_tree_dirty(p, t, pid / t->per_leaf, &leaf);
    if (rc) return rc;
    *out = (struct q_ref *)(leaf->buf + (pid % t->per_leaf) * 32);
    return 0;
}

struct count_ctx {
    q_pager *p;
    uint64_t cnt, end, verify_after;
};

static int count_leaf(void *arg, const struct q_node *n, int leaf, uint64_t l) {
    struct count_ctx *c = arg;
    q_pager *p = c->p;
    const struct q_tree *t = ptab(p);
    if (!leaf) return 0;
    for (uint64_t i = 0; i < t->per_leaf; i++) {
        const struct q_ref *r = (const struct q_ref *)(n->buf + i * 32);
        if (!(r->flags & Q_REF_PRESENT)) {
            if (r->copy[0] || r->copy[1] || r->flags || r->gen || r->crc) return QUIRE_EMETA;
            continue;
        }
        if ((r->flags & ~(Q_REF_PRESENT | Q_REF_SEL)) || q_pager_is_fixed(p, r->copy[0]) ||
            q_pager_is_fixed(p, r->copy[1]) || r->copy[0] >= p->page_count ||
            r->copy[1] >= p->page_count || r->copy[0] == r->copy[1] || r->gen > p->gen)
            return QUIRE_EMETA;
        /* a copy written since the anchor: did it reach the disk? */
        if (r->gen > c->verify_after &&
            q_pager_node_crc(r->gen, p->shared + (r->copy[r->flags & Q_REF_SEL] << p->pshift),
                             p->P) != r->crc)
            return QUIRE_EMETA;
        c->cnt++;
        c->end = l * t->per_leaf + i + 1;
    }
    return 0;
}

int q_pager_prot_count(q_pager *p, uint64_t *n, uint64_t verify_after) {
    struct count_ctx c = {p, 0, 0, verify_after};
    int rc = q_pager_tree_walk(p, ptab(p), count_leaf, &c);
    if (rc) return rc;
    *n = c.cnt;
    p->n_protected = c.cnt;
    p->prot_end = c.end;
    return 0;
}

static int valid_pid(const q_pager *p, uint64_t pid) {
    return pid < p->prot_end ? 0 : QUIRE_EBOUNDS;
}

/* Verifies the current copy of a live record and returns it. */
static int verified(q_pager *p, const struct q_ref *r, const uint8_t **data) {
    uint64_t pg = r->copy[r->flags & Q_REF_SEL];
    if (pg >= p->page_count) return QUIRE_ECHECKSUM;
    const uint8_t *d = p->shared + (pg << p->pshift);
    if (q_pager_node_crc(r->gen, d, p->P) != r->crc) return QUIRE_ECHECKSUM;
    *data = d;
    return 0;
}

static int prot_alloc_one(q_pager *p, uint64_t *pid) {
    uint64_t i = p->prot_hint;
    for (;; i++) {
        struct q_ref *r = q_pager_prot_rec(p, i);
        if (!rec_live(r)) break;
    }
    uint64_t a, b;
    int rc = q_pager_freemap_alloc_pair(p, &a, &b);
    if (rc) return rc;
    uint64_t gen = p->gen + 1;
    memset(p->scratch, 0, p->P);
    struct q_ref *r;
    rc = p->io.pwrite(p->io.ctx, p->fd, p->scratch, p->P, a << p->pshift);
    if (!rc) rc = rec_dirty(p, i, &r);
    if (rc) {
        (void)q_pager_freemap_set(p, a, Q_FREE);
        (void)q_pager_freemap_set(p, b, Q_FREE);
        return rc;
    }
    r->copy[0] = a;
    r->copy[1] = b;
    r->gen = gen;
    r->crc = q_pager_node_crc(gen, p->scratch, p->P);
    r->flags = Q_REF_PRESENT;
    p->n_protected++;
    p->prot_hint = i + 1;
    if (i + 1 > p->prot_end) p->prot_end = i + 1;
    *pid = i;
    return 0;
}

int quire_pager_protected_alloc_bulk(quire_pager *h, size_t n, uint64_t *pids) {
    q_pager *p = Q_PAGER(h);
    if (!p || (!pids && n)) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc || !n) return rc;
    if (n > UINT64_MAX / 2) return QUIRE_EINVAL;
    rc = q_pager_freemap_reserve(p, 2 * (uint64_t)n);
    size_t done = 0;
    for (; done < n && !rc; done++) rc = prot_alloc_one(p, &pids[done]);
    if (rc) {
        if (!p->fatal) (void)q_pager_reload(p); /* rare (ENOMEM, EIO): abort the transaction */
        return rc;
    }
    return q_pager_autocommit(p);
}

int quire_pager_protected_alloc(quire_pager *h, uint64_t *pid) {
    return quire_pager_protected_alloc_bulk(h, 1, pid);
}

static int check_free(q_pager *p, uint64_t pid) {
    int rc = valid_pid(p, pid);
    if (rc) return rc;
    if (!rec_live(q_pager_prot_rec(p, pid))) return QUIRE_EDOUBLEFREE;
    if (q_base_hash_has(&p->writers_on, pid)) return QUIRE_EBUSY;
    return 0;
}

int quire_pager_protected_free_bulk(quire_pager *h, size_t n, const uint64_t *pids) {
    q_pager *p = Q_PAGER(h);
    if (!p || (!pids && n)) return QUIRE_EINVAL;
    int rc = q_pager_writable(p);
    if (rc || !n) return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = check_free(p, pids[i]))) return rc;
    rc = q_base_ids_repeat(pids, n, &q_base_mem_libc); /* the same id twice is a double free */
    if (rc) return rc < 0 ? rc : QUIRE_EDOUBLEFREE;
    for (size_t i = 0; i < n && !rc; i++) {
        struct q_ref *r;
        rc = rec_dirty(p, pids[i], &r);
        if (!rc) rc = q_pager_freemap_free_pending(p, r->copy[0], p->gen + 1);
        if (!rc) rc = q_pager_freemap_free_pending(p, r->copy[1], p->gen + 1);
        if (rc) break;
        memset(r, 0, sizeof *r);
        p->n_protected--;
        if (pids[i] < p->prot_hint) p->prot_hint = pids[i];
    }
    if (rc) {
        if (!p->fatal) (void)q_pager_reload(p);
        return rc;
    }
    return q_pager_autocommit(p);
}

int quire_pager_protected_free(quire_pager *h, uint64_t pid) {
    return quire_pager_protected_free_bulk(h, 1, &pid);
}

int quire_pager_protected_get(quire_pager *h, uint64_t pid, const void **data) {
    q_pager *p = Q_PAGER(h);
    if (!p || !data) return QUIRE_EINVAL;
    if (p->fatal) return QUIRE_EUNAVAIL;
    int rc = valid_pid(p, pid);
    if (rc) return rc;
    const struct q_ref *r = q_pager_prot_rec(p, pid);
    if (!rec_live(r)) return QUIRE_ENOTALLOC;
    const uint8_t *d;
    if ((rc = verified(p, r, &d))) return rc;
    *data = d;
    return 0;
}

int quire_pager_protected_write(quire_pager *h, uint64_t pid, quire_pager_writer **w) {
    q_pager *p = Q_PAGER(h);
    if (!p || !w) return QUIRE_EINVAL;
    *w = NULL;
    int rc = q_pager_writable(p);
    if (rc) return rc;
    if ((rc = valid_pid(p, pid))) return rc;
    const struct q_ref *r = q_pager_prot_rec(p, pid);
    if (!rec_live(r)) return QUIRE_ENOTALLOC;
    if (q_base_hash_has(&p->writers_on, pid)) return QUIRE_EBUSY;
    const uint8_t *d;
    if ((rc = verified(p, r, &d))) return rc;
    quire_pager_writer *x = calloc(1, sizeof *x);
    if (!x || !(x->buf = malloc(p->P))) {
        free(x);
        return QUIRE_ENOMEM;
    }
    rc = q_base_hash_put(&p->writers_on, pid, NULL);
    if (rc < 0) {
        free(x->buf);
        free(x);
        return rc;
    }
    memcpy(x->buf, d, p->P);
    x->p = p;
    x->pid = pid;
    x->next = p->writers;
    if (p->writers) p->writers->prev = x;
    p->writers = x;
    *w = x;
    return 0;
}

void *quire_pager_writer_data(quire_pager_writer *w) {
    return w ? w->buf : NULL;
}

void quire_pager_writer_drop(quire_pager_writer *w) {
    if (!w) return;
    q_pager *p = w->p;
    if (!w->stale) q_base_hash_del(&p->writers_on, w->pid);
    if (w->prev)
        w->prev->next = w->next;
    else
        p->writers = w->next;
    if (w->next) w->next->prev = w->prev;
    free(w->buf);
    free(w);
}

void q_pager_writers_drop_all(q_pager *p) {
    while (p->writers) quire_pager_writer_drop(p->writers);
}

void q_pager_writers_stale_all(q_pager *p) {
    for (quire_pager_writer *w = p->writers; w; w = w->next) {
        if (!w->stale) q_base_hash_del(&p->writers_on, w->pid);
        w->stale = 1;
    }
}

/* The copy a new version of record r goes to, for the open transaction (gen): one no protected
 * state reads. When an older protected state still reads the other copy, a fresh page (in
 * another 4 KiB block than the current copy) takes its place and the old one is freed. */
static int write_target(q_pager *p, struct q_ref *r, uint64_t gen, uint32_t *target) {
    uint32_t cur = r->flags & Q_REF_SEL;
    if (r->gen == gen || q_pager_test_fault == Q_FAULT_ANCHOR_COPY) {
        *target = cur; /* already written in this transaction: not the committed copy */
        return 0;
    }
    *target = 1u - cur;
    if (r->gen <= p->oldest) return 0; /* every protected state reads the current copy */
    uint64_t fresh;
    int rc = q_pager_freemap_alloc_apart(p, r->copy[cur], &fresh);
    if (!rc) rc = q_pager_freemap_free_pending(p, r->copy[1 - cur], gen);
    if (rc) return rc;
    r->copy[1 - cur] = fresh;
    return 0;
}

int quire_pager_writer_commit(quire_pager_writer *w) {
    if (!w) return QUIRE_EINVAL;
    q_pager *p = w->p;
    int rc = q_pager_writable(p);
    struct q_ref *r = NULL;
    if (!rc && w->stale) rc = QUIRE_ESTATE; /* taken before an abort */
    if (!rc && !rec_live(q_pager_prot_rec(p, w->pid))) rc = QUIRE_ENOTALLOC;
    if (!rc) rc = rec_dirty(p, w->pid, &r);
    uint64_t gen = p->gen + 1;
    uint32_t target = 0;
    if (!rc) rc = write_target(p, r, gen, &target);
    if (!rc) {
        rc = p->io.pwrite(p->io.ctx, p->fd, w->buf, p->P, r->copy[target] << p->pshift);
        if (rc) {
            p->fatal = rc;
        } else {
            r->gen = gen;
            r->crc = q_pager_node_crc(gen, w->buf, p->P);
            r->flags = Q_REF_PRESENT | target;
        }
    }
    quire_pager_writer_drop(w);
    if (!rc) rc = q_pager_autocommit(p);
    return rc;
}

int quire_pager_next_protected(quire_pager *h, uint64_t *cursor, uint64_t *pid) {
    q_pager *p = Q_PAGER(h);
    if (!p || !cursor || !pid) return QUIRE_EINVAL;
    if (p->fatal) return QUIRE_EUNAVAIL;
    const struct q_tree *t = ptab(p);
    for (uint64_t i = *cursor; i < p->prot_end; i++) {
        struct q_node *leaf = q_pager_tree_leaf(p, t, i / t->per_leaf);
        if (!leaf) {
            i = (i / t->per_leaf + 1) * t->per_leaf - 1;
            continue;
        }
        if (rec_live((const struct q_ref *)(leaf->buf + (i % t->per_leaf) * 32))) {
            *pid = i;
            *cursor = i + 1;
            return 1;
        }
    }
    *cursor = p->prot_end;
    return 0;
}
