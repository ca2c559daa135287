/*
 * pager/mapping.c - the pager's two mappings of its file, page id i at i * P in both:
 *
 *   mapping  MAP_PRIVATE, writable: what views point into (read-only pagers hand out read
 *            views only; the pager itself writes shadowed contents there). Write views write
 *            private memory, which reaches the file only through the I/O hook (a commit's
 *            pwrite, quire_pager_flush), so the crash harness sees every byte; once written
 *            home, the private copies are dropped (q_pager_drop_private) and the pages read the
 *            file again. A shadowed page (internal.h) keeps a private copy of its shadow's bytes:
 *            its home in the file still holds what an older state needs.
 *   shared   MAP_SHARED, read-only: protected pages are read here, and what open verifies, so
 *            that a private copy made by a write view of a neighbouring page (when P is smaller
 *            than the OS page) can never hide what pwrite() put in the file.
 *
 * Both cover page_count pages; growing the file remaps both (they may move), which is why
 * views are invalidated by the calls marked [remaps] in quire/pager.h.
 */
#include <string.h>

#include "pager/internal.h"
#include "pages/prim.h"

int q_pager_remap(q_pager *p, size_t want) {
    void *nm = NULL;
    int rc = 0;
    if (p->mapping_len != want) {
        rc = p->io.remap(p->io.ctx, p->mapping, p->mapping_len, want, &nm);
        if (rc) return rc;
        p->mapping = nm;
        p->mapping_len = want;
    }
    if (p->shared_len != want) {
        rc = p->io.remap(p->io.ctx, p->shared, p->shared_len, want, &nm);
        if (rc) return rc;
        p->shared = nm;
        p->shared_len = want;
    }
    return 0;
}

int q_pager_map_file(q_pager *p) {
    size_t want = (size_t)(p->page_count << p->pshift);
    if (p->mapping) return q_pager_remap(p, want);
    void *m = NULL, *r = NULL;
    int prot = Q_PROT_READ | Q_PROT_WRITE;
    int rc = q_os_map(&m, want, prot, Q_MAP_NORESERVE, p->fd, 0);
    if (rc) return rc;
    p->mapping = m;
    p->mapping_len = want;
    rc = q_os_map(&r, want, Q_PROT_READ, Q_MAP_SHARED, p->fd, 0);
    if (rc) return rc;
    p->shared = r;
    p->shared_len = want;
    return 0;
}

void q_pager_unmap_file(q_pager *p) {
    if (p->mapping) q_os_unmap(p->mapping, p->mapping_len);
    if (p->shared) q_os_unmap(p->shared, p->shared_len);
    p->mapping = p->shared = NULL;
    p->mapping_len = p->shared_len = 0;
}

/* Copies shadow page s's contents over home page x in the mapping (a private copy). */
static void fill_one(q_pager *p, uint64_t x, uint64_t s) {
    if (x >= p->page_count || s >= p->page_count) return;
    memcpy(p->mapping + (x << p->pshift), p->shared + (s << p->pshift), p->P);
}

void q_pager_fill_shadows(q_pager *p) {
    const struct q_base_hash *h = &p->shadows;
    for (size_t j = 0; j < h->cap; j++) {
        if (!h->tags[j]) continue;
        const struct q_shadow_val *v = (const void *)(h->vals + j * h->val_size);
        fill_one(p, h->tags[j] - 1, v->page);
    }
}

/* Drops the private copies of pages [first, first + n) (whole OS pages). */
static void drop_range(q_pager *p, uint64_t first, uint64_t n) {
    if (!n || first >= p->page_count) return;
    if (first + n > p->page_count) n = p->page_count - first;
    size_t os = q_os_page_size(); /* an OS page, not a pager page */
    uint64_t a = (first << p->pshift) & ~(uint64_t)(os - 1);
    uint64_t b = ((first + n) << p->pshift);
    b = (b + os - 1) & ~(uint64_t)(os - 1);
    if (b > p->mapping_len) b = p->mapping_len;
    if (b > a) (void)q_os_advise(p->mapping + a, (size_t)(b - a), Q_ADV_DONTNEED);
}

void q_pager_drop_pages(q_pager *p, const uint64_t *ids, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && ids[j] == ids[j - 1] + 1) j++;
        drop_range(p, ids[i], ids[j - 1] - ids[i] + 1);
        i = j;
    }
    if (!p->shadows.count || !n) return;
    /* Shadowed pages in a dropped OS page lost their private copies: copy them back. */
    size_t os = q_os_page_size();
    unsigned k = ((size_t)1 << p->pshift) < os ? (unsigned)__builtin_ctzl(os) - p->pshift : 0;
    const struct q_base_hash *h = &p->shadows;
    for (size_t j = 0; j < h->cap; j++) {
        if (!h->tags[j]) continue;
        uint64_t x = h->tags[j] - 1, lo = x >> k << k, hi = lo + ((uint64_t)1 << k);
        size_t a = 0, b = n; /* first id >= lo */
        while (a < b) {
            size_t m = (a + b) / 2;
            if (ids[m] < lo)
                a = m + 1;
            else
                b = m;
        }
        if (a < n && ids[a] < hi) {
            const struct q_shadow_val *v = (const void *)(h->vals + j * h->val_size);
            fill_one(p, x, v->page);
        }
    }
}

void q_pager_drop_all(q_pager *p) {
    drop_range(p, 0, p->page_count);
    q_pager_fill_shadows(p);
}
