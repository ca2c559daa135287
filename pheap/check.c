/*
 * pheap/check.c - quire_pheap_check(): verifies a heap file at both levels. The pager
 * level is quire_pager_check(); the heap level walks the raw structures through a read-only
 * pager (so that one bad chunk is reported, not just the first error): the header, every chunk
 * header, the ownership of every page (each regular page belongs to exactly one chunk: nothing
 * leaked, nothing shared), then root and names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pheap/internal.h"

struct run {
    uint64_t first, n, pid;
};

static int run_cmp(const void *a, const void *b) {
    const struct run *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* The run holding page, or NULL. */
static const struct run *owner(const struct run *runs, size_t n, uint64_t page) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (runs[mid].first <= page)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo && page < runs[lo - 1].first + runs[lo - 1].n ? &runs[lo - 1] : NULL;
}

static int live(q_pheap *h, uint64_t off) {
    struct ph_block b;
    return off && q_pheap_lookup(h, off, &b) == 0;
}

static void check_names(q_pheap *h, struct quire_pheap_report *r) {
    struct ph_block b;
    if (!h->hdr.names) return;
    if (q_pheap_lookup(h, h->hdr.names, &b)) {
        Q_PROBLEM(r, "names table %llu is not a live allocation", (unsigned long long)h->hdr.names);
        return;
    }
    const struct ph_names *t = (const void *)(h->base + h->hdr.names);
    if (!t->cap || (t->cap & (t->cap - 1)) ||
        sizeof *t + t->cap * sizeof(struct ph_nent) > b.size) {
        Q_PROBLEM(r, "names table header is invalid (capacity %llu)", (unsigned long long)t->cap);
        return;
    }
    const struct ph_nent *e = (const void *)(t + 1);
    uint64_t n = 0, dead = 0;
    for (uint64_t i = 0; i < t->cap; i++) {
        dead += e[i].hash == 1;
        if (e[i].hash < 2) continue;
        n++;
        if (!live(h, e[i].key) || !live(h, e[i].val)) {
            Q_PROBLEM(r, "name entry %llu names a block that is not allocated",
                      (unsigned long long)i);
            continue;
        }
        const uint8_t *k = h->base + e[i].key;
        uint32_t kl;
        memcpy(&kl, k, 4);
        struct ph_block kb;
        size_t ksz = q_pheap_lookup(h, e[i].key, &kb) ? 0 : kb.size;
        if (kl == 0 || kl > QUIRE_PHEAP_NAME_MAX || 4 + (size_t)kl + 1 > ksz ||
            q_pheap_name_hash((const char *)k + 4, kl) != e[i].hash)
            Q_PROBLEM(r, "name entry %llu: name bytes disagree with the entry",
                      (unsigned long long)i);
    }
    if (n != t->count || dead != t->dead)
        Q_PROBLEM(r, "names table counts %llu entries and %llu deleted, holds %llu and %llu",
                  (unsigned long long)t->count, (unsigned long long)t->dead, (unsigned long long)n,
                  (unsigned long long)dead);
    r->names = n;
}

int quire_pheap_check(const char *path, struct quire_pheap_report *r) {
    if (!path || !r) return QUIRE_EINVAL;
    void (*cb)(void *, const char *) = r->on_problem;
    void *arg = r->arg;
    memset(r, 0, sizeof *r);
    r->on_problem = cb;
    r->arg = arg;
    r->pager.on_problem = cb;
    r->pager.arg = arg;
    r->pager_rc = quire_pager_check(path, &r->pager);
    if (r->pager_rc && r->pager_rc != QUIRE_ECHECKSUM) return r->pager_rc;

    quire_pager *pg;
    int rc = quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &pg);
    if (rc) return rc;
    q_pheap *h = calloc(1, sizeof *h);
    if (!h) {
        quire_pager_close(pg);
        return QUIRE_ENOMEM;
    }
    h->pg = pg;
    q_pheap_txn_init(h);
    h->rdonly = 1;
    h->P = quire_pager_page_size(pg);
    h->pshift = (uint32_t)__builtin_ctz(h->P);
    h->D = (h->P - PH_DESC_OFF) / (uint32_t)(sizeof(struct ph_desc) + h->P / 128);
    q_pheap_classes(h);
    struct run *runs = NULL;
    size_t nruns = 0;

    /* header */
    const void *img;
    rc = quire_pager_protected_get(pg, PH_HDR_PID, &img);
    if (rc == QUIRE_EBOUNDS || rc == QUIRE_ENOTALLOC || (!rc && memcmp(img, PH_MAGIC, 8))) {
        rc = QUIRE_EMAGIC;
        goto out;
    }
    r->is_heap = 1;
    if (rc) {
        Q_PROBLEM(r, "heap header: %s", quire_strerror(rc));
        goto out;
    }
    h->hdr = *(const struct ph_header *)img;
    r->generation = h->hdr.gen;
    if (h->hdr.version != PH_VERSION || h->hdr.page_size != h->P) {
        Q_PROBLEM(r, "heap header: version %u / page size %u not supported", h->hdr.version,
                  h->hdr.page_size);
        goto out;
    }
    if ((rc = q_pheap_rebase(h))) goto out;

    /* chunk headers */
    size_t cap = 16;
    runs = malloc(cap * sizeof *runs);
    if (!runs) {
        rc = QUIRE_ENOMEM;
        goto out;
    }
    uint64_t cur = 0, pid;
    while ((rc = quire_pager_next_protected(pg, &cur, &pid)) == 1) {
        if (pid == PH_HDR_PID) continue;
        rc = quire_pager_protected_get(pg, pid, &img);
        if (rc) {
            Q_PROBLEM(r, "chunk header (protected page %llu): %s", (unsigned long long)pid,
                      quire_strerror(rc));
            continue;
        }
        const char *why;
        if (q_pheap_chunk_validate(h, img, &why)) {
            Q_PROBLEM(r, "chunk header (protected page %llu): %s", (unsigned long long)pid, why);
            continue;
        }
        const struct ph_chdr *ch = img;
        if (nruns == cap) {
            struct run *a = realloc(runs, cap * 2 * sizeof *runs);
            if (!a) {
                rc = QUIRE_ENOMEM;
                goto out;
            }
            runs = a;
            cap *= 2;
        }
        runs[nruns++] = (struct run){ch->first, ch->npages, pid};
        r->chunks++;
    }
    if (rc < 0) goto out;
    rc = 0;
    qsort(runs, nruns, sizeof *runs, run_cmp);
    for (size_t i = 0; i + 1 < nruns; i++)
        if (runs[i].first + runs[i].n > runs[i + 1].first)
            Q_PROBLEM(r, "pages %llu..%llu are claimed by two chunks",
                      (unsigned long long)runs[i + 1].first,
                      (unsigned long long)(runs[i].first + runs[i].n - 1));
    /* every page of every run is allocated; every allocated page belongs to a run */
    uint64_t owned_alloc = 0, owned_total = 0;
    for (size_t i = 0; i < nruns; i++) {
        owned_total += runs[i].n;
        for (uint64_t k = 0; k < runs[i].n; k++) {
            const void *v;
            if (quire_pager_get(pg, runs[i].first + k, &v) == 0)
                owned_alloc++;
            else
                Q_PROBLEM(r, "page %llu of a chunk is not allocated in the pager",
                          (unsigned long long)(runs[i].first + k));
        }
    }
    cur = 0;
    uint64_t id;
    while (quire_pager_next_page(pg, &cur, &id) == 1)
        if (!owner(runs, nruns, id))
            Q_PROBLEM(r, "page %llu is allocated but no chunk owns it (leaked)",
                      (unsigned long long)id);
    cur = 0;
    if (quire_pager_next_subpage(pg, &cur, &id) == 1)
        Q_PROBLEM(r, "the file holds sub-page slots, which a heap never uses");
    (void)owned_alloc;
    (void)owned_total;
    if (r->problems) goto out;

    /* allocations: root and names */
    if ((rc = q_pheap_load_chunks(h))) {
        Q_PROBLEM(r, "chunks do not load: %s", quire_strerror(rc));
        rc = 0;
        goto out;
    }
    if (h->hdr.root && !live(h, h->hdr.root))
        Q_PROBLEM(r, "root %llu is not a live allocation", (unsigned long long)h->hdr.root);
    check_names(h, r);
    struct quire_pheap_stat st;
    memset(&st, 0, sizeof st);
    q_pheap_stats(h, &st);
    r->objects = st.objects;
    r->bytes_used = st.bytes_used;
out:
    free(runs);
    q_pheap_free_chunks(h);
    free(h);
    quire_pager_close(pg);
    if (rc) return rc;
    if (r->problems) return QUIRE_ECHECKSUM;
    return r->pager_rc;
}
