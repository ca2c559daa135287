/*
 * pager/mapping.c - the pager's two mappings of its file, page id i at i * P in both:
 *
 *   mapping  MAP_PRIVATE, writable (read-only for a read-only pager): what views point into.
 *            Write views write private memory, which reaches the file only through the I/O
 *            hook (a commit's pwrite, quire_pager_flush), so the crash harness sees every byte;
 *            once written, the private copies are dropped (q_pager_drop_private) and the pages
 *            read the file again.
 *   shared   MAP_SHARED, read-only: protected pages are read here, so that a private copy made
 *            by a write view of a neighbouring page (when P is smaller than the OS page) can
 *            never hide what pwrite() put in the file.
 *
 * Both cover page_count pages; growing the file remaps both (they may move), which is why
 * views are invalidated by the calls marked [remaps] in quire/pager.h.
 */
#include "pager/internal.h"
#include "pages/prim.h"

int q_pager_remap(quire_pager *p, size_t want) {
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

int q_pager_map_file(quire_pager *p) {
    size_t want = (size_t)(p->page_count << p->pshift);
    if (p->mapping) return q_pager_remap(p, want);
    void *m = NULL, *r = NULL;
    int prot = Q_PROT_READ | (p->rdonly ? 0 : Q_PROT_WRITE);
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

void q_pager_unmap_file(quire_pager *p) {
    if (p->mapping) q_os_unmap(p->mapping, p->mapping_len);
    if (p->shared) q_os_unmap(p->shared, p->shared_len);
    p->mapping = p->shared = NULL;
    p->mapping_len = p->shared_len = 0;
}

void q_pager_drop_private(quire_pager *p, uint64_t first, uint64_t n) {
    if (!n || first >= p->page_count) return;
    if (first + n > p->page_count) n = p->page_count - first;
    size_t os = q_os_page_size(); /* an OS page, not a pager page */
    uint64_t a = (first << p->pshift) & ~(uint64_t)(os - 1);
    uint64_t b = ((first + n) << p->pshift);
    b = (b + os - 1) & ~(uint64_t)(os - 1);
    if (b > p->mapping_len) b = p->mapping_len;
    if (b > a) (void)q_os_advise(p->mapping + a, (size_t)(b - a), Q_ADV_DONTNEED);
}
