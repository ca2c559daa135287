/*
 * pager/testing.c - the test hooks of pager/testing.h.
 */
#include "pager/internal.h"
#include "pager/testing.h"

int q_pager_test_fault = Q_FAULT_NONE;

int q_pager_protected_ref(quire_pager *h, uint64_t pid, struct q_ref *out) {
    q_pager *p = Q_PAGER(h);
    if (!p || !out) return QUIRE_EINVAL;
    if (pid >= p->prot_end) return QUIRE_EBOUNDS;
    const struct q_ref *r = q_pager_prot_rec(p, pid);
    if (!r || !(r->flags & Q_REF_PRESENT)) return QUIRE_ENOTALLOC;
    *out = *r;
    return 0;
}

int q_pager_set_type(quire_pager *h, uint64_t id, unsigned type) {
    q_pager *p = Q_PAGER(h);
    if (!p || id >= p->page_count || type > Q_PENDING) return QUIRE_EINVAL;
    return q_pager_freemap_set(p, id, type);
}
