/*
 * pheap/alloc.c - the persistent heap's allocator: size classes, chunks of contiguous
 * pager pages with their protected headers, slabs, page runs and huge blocks; lookup of a
 * reference, deferred frees, iteration and statistics (see pheap/internal.h).
 *
 * Size classes: 16..128 by 16, then four per power of two (what the malloc engine used when the
 * file format was fixed). They are the heap's own, not shared with the engine: a slab header in
 * the file records its class, so the mapping from class to size is part of the format and must
 * not follow the engine's tuning. The heap's slabs are pager pages of 1..64 KiB chosen per file:
 * the heap sizes its slabs for its page size.
 *
 * Allocation never reuses a block freed in the open transaction (frees are applied at commit),
 * so a block handed out in a transaction held no committed data.
 */
#include <stdlib.h>
#include <string.h>

#include "pheap/internal.h"

/* ---------------------------------------------------------------------------------------------
 * Size classes
 * ------------------------------------------------------------------------------------------- */

void q_pheap_classes(q_pheap *h) {
    unsigned c = 0;
    for (;; c++) {
        uint32_t size;
        if (c < 8) {
            size = 16u * (c + 1);
        } else {
            unsigned g = (c - 8) / 4, r = (c - 8) % 4;
            size = (128u << g) / 4 * (5 + r);
        }
        if (size > h->P || c >= 64) break;
        uint32_t n = 1;
        while (n < PH_MAX_SLAB && (uint64_t)n * h->P < 8u * (uint64_t)size) n++;
        h->cls_size[c] = size;
        h->cls_pages[c] = (uint8_t)n;
        h->cls_slots[c] = n * h->P / size;
    }
    h->ncls = c;
}

unsigned q_pheap_class_of(const q_pheap *h, size_t size) {
    (void)h;
    if (size <= 128) return size ? (unsigned)((size - 1) >> 4) : 0;
    size_t s = size - 1;
    unsigned b = 63u - (unsigned)__builtin_clzl(s);
    return 8u + (b - 7u) * 4u + (unsigned)((s >> (b - 2)) & 3u);
}

/* ---------------------------------------------------------------------------------------------
 * Chunks
 * ------------------------------------------------------------------------------------------- */

static void chunk_stats(const q_pheap *h, struct ph_chunk *c) {
    uint32_t fp = 0, run = 0, best = 0;
    if (c->kind == PH_SMALL) {
        for (uint32_t i = 0; i < h->D; i++) {
            if (ph_desc(c, i)->type == PH_FREE) {
                fp++;
                if (++run > best) best = run;
            } else {
                run = 0;
            }
        }
    }
    c->free_pages = fp;
    c->max_run = best;
}

/* The chunk holding page, or NULL (binary search, with a one-entry cache). */
static struct ph_chunk *chunk_of(const q_pheap *h, uint64_t page) {
    struct ph_chunk *hot = h->hot;
    if (hot && page - hot->first < hot->npages) return hot;
    size_t lo = 0, hi = h->nch;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (h->ch[mid]->first <= page)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!lo) return NULL;
    struct ph_chunk *c = h->ch[lo - 1];
    if (page >= c->first + c->npages) return NULL;
    ((q_pheap *)(uintptr_t)h)->hot = c; /* a cache, not state: const-correct to callers */
    return c;
}

static void scan_reset_all(q_pheap *h) {
    memset(h->scan_ci, 0, sizeof h->scan_ci);
    memset(h->scan_di, 0, sizeof h->scan_di);
}

static int chunk_insert(q_pheap *h, struct ph_chunk *c) {
    if (h->nch == h->capch) {
        size_t nc = h->capch ? h->capch * 2 : 16;
        struct ph_chunk **a = realloc(h->ch, nc * sizeof *a);
        if (!a) return QUIRE_ENOMEM;
        h->ch = a;
        h->capch = nc;
    }
    size_t i = h->nch;
    while (i && h->ch[i - 1]->first > c->first) {
        h->ch[i] = h->ch[i - 1];
        i--;
    }
    h->ch[i] = c;
    h->nch++;
    h->hot = NULL;
    scan_reset_all(h);
    return 0;
}

static void chunk_destroy(struct ph_chunk *c) {
    if (!c) return;
    free(c->hdr);
    free(c);
}

void q_pheap_free_chunks(q_pheap *h) {
    for (size_t i = 0; i < h->nch; i++) chunk_destroy(h->ch[i]);
    free(h->ch);
    h->ch = NULL;
    h->nch = h->capch = 0;
    memset(h->cur, 0, sizeof h->cur);
    h->chunk_hint = 0;
    h->hot = NULL;
    scan_reset_all(h);
}

static int popcount_range(const uint64_t *bits, uint32_t nbits) {
    int n = 0;
    for (uint32_t w = 0; w < nbits / 64; w++) n += __builtin_popcountll(bits[w]);
    if (nbits % 64)
        n += __builtin_popcountll(bits[nbits / 64] & ((UINT64_C(1) << (nbits % 64)) - 1));
    return n;
}

int q_pheap_chunk_validate(const q_pheap *h, const uint8_t *img, const char **why) {
    const struct ph_chdr *ch = (const void *)img;
    uint64_t pc = quire_pager_page_count(h->pg);
    *why = NULL;
    if (ch->magic != PH_CH_MAGIC) return *why = "chunk header magic is wrong", QUIRE_EHEAP;
    if (ch->kind != PH_SMALL && ch->kind != PH_HUGE)
        return *why = "chunk kind is unknown", QUIRE_EHEAP;
    if (ch->first < 2 || ch->npages == 0 || ch->first >= pc || ch->npages > pc - ch->first)
        return *why = "chunk page run lies outside the file", QUIRE_EHEAP;
    if (ch->kind == PH_HUGE) {
        if (ch->size == 0 || ch->size > (uint64_t)ch->npages * h->P || ch->npages <= h->D)
            return *why = "huge block size disagrees with its pages", QUIRE_EHEAP;
        return 0;
    }
    if (ch->npages != h->D || ch->ndesc != h->D)
        return *why = "small chunk has the wrong page count", QUIRE_EHEAP;
    struct ph_chunk tmp = {.hdr = (uint8_t *)(uintptr_t)img};
    uint32_t bits_per_page = h->P / 16;
    for (uint32_t i = 0; i < h->D;) {
        const struct ph_desc *d = ph_desc(&tmp, i);
        if (d->type == PH_FREE) {
            i++;
            continue;
        }
        if (d->type == PH_CONT) return *why = "page continues no slab or run", QUIRE_EHEAP;
        if (d->type != PH_SLAB && d->type != PH_RUN)
            return *why = "page descriptor type is unknown", QUIRE_EHEAP;
        if (d->n == 0 || d->n > h->D - i)
            return *why = "slab or run overruns its chunk", QUIRE_EHEAP;
        if (d->type == PH_SLAB) {
            if (d->cls >= h->ncls || d->n != h->cls_pages[d->cls])
                return *why = "slab class or length is invalid", QUIRE_EHEAP;
            uint32_t slots = h->cls_slots[d->cls];
            const uint64_t *bits = ph_bits(h, &tmp, i);
            uint32_t cap = d->n * bits_per_page;
            if (popcount_range(bits, slots) != d->nused)
                return *why = "slab used count disagrees with its bitmap", QUIRE_EHEAP;
            if (popcount_range(bits, cap) != d->nused)
                return *why = "slab bitmap marks slots past its end", QUIRE_EHEAP;
            if (d->nused == 0) return *why = "empty slab was not released", QUIRE_EHEAP;
        }
        for (uint32_t k = 1; k < d->n; k++) {
            const struct ph_desc *e = ph_desc(&tmp, i + k);
            if (e->type != PH_CONT || e->n != k)
                return *why = "slab or run page is claimed twice or marked free", QUIRE_EHEAP;
        }
        i += d->n;
    }
    return 0;
}

int q_pheap_load_chunks(q_pheap *h) {
    q_pheap_free_chunks(h);
    uint64_t cur = 0, pid;
    int rc;
    while ((rc = quire_pager_next_protected(h->pg, &cur, &pid)) == 1) {
        if (pid == PH_HDR_PID) continue;
        const void *img;
        rc = quire_pager_protected_get(h->pg, pid, &img);
        if (rc) return rc;
        const char *why;
        rc = q_pheap_chunk_validate(h, img, &why);
        if (rc) return rc;
        struct ph_chunk *c = calloc(1, sizeof *c);
        if (!c) return QUIRE_ENOMEM;
        c->hdr = malloc(h->P);
        if (!c->hdr) {
            free(c);
            return QUIRE_ENOMEM;
        }
        memcpy(c->hdr, img, h->P);
        c->pid = pid;
        c->first = ph_chdr(c)->first;
        c->npages = ph_chdr(c)->npages;
        c->kind = ph_chdr(c)->kind;
        chunk_stats(h, c);
        rc = chunk_insert(h, c);
        if (rc) {
            chunk_destroy(c);
            return rc;
        }
    }
    if (rc < 0) return rc;
    /* no two chunks overlap */
    for (size_t i = 0; i + 1 < h->nch; i++) {
        struct ph_chunk *c = h->ch[i];
        if (c->first + c->npages > h->ch[i + 1]->first) return QUIRE_EHEAP;
    }
    return 0;
}

/* Allocates n contiguous regular pages from the pager (inside the open pager transaction). */
int q_pheap_alloc_run(q_pheap *h, uint64_t n, uint64_t *first) {
    int rc = quire_pager_alloc_run(h->pg, n, first);
    return rc ? rc : q_pheap_rebase(h);
}

/* A new chunk of the given kind with npages data pages. */
static int chunk_new(q_pheap *h, uint32_t kind, uint64_t npages, uint64_t size,
                     struct ph_chunk **out) {
    struct ph_chunk *c = calloc(1, sizeof *c);
    if (!c) return QUIRE_ENOMEM;
    c->hdr = calloc(1, h->P);
    if (!c->hdr) {
        free(c);
        return QUIRE_ENOMEM;
    }
    uint64_t first, pid;
    int rc = q_pheap_alloc_run(h, npages, &first);
    if (rc) {
        chunk_destroy(c);
        return rc;
    }
    rc = quire_pager_protected_alloc(h->pg, &pid);
    if (!rc) rc = q_pheap_rebase(h);
    if (rc) {
        for (uint64_t k = 0; k < npages; k++) (void)quire_pager_free(h->pg, first + k);
        chunk_destroy(c);
        return rc;
    }
    struct ph_chdr *ch = ph_chdr(c);
    ch->magic = PH_CH_MAGIC;
    ch->kind = kind;
    ch->first = first;
    ch->npages = (uint32_t)npages;
    ch->ndesc = kind == PH_SMALL ? h->D : 0;
    ch->size = size;
    c->pid = pid;
    c->first = first;
    c->npages = (uint32_t)npages;
    c->kind = kind;
    c->dirty = 1;
    chunk_stats(h, c);
    rc = chunk_insert(h, c);
    if (rc) {
        chunk_destroy(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* Releases a chunk's pages and header to the pager and forgets it. */
static int chunk_release(q_pheap *h, struct ph_chunk *c) {
    int rc = 0;
    for (uint64_t k = 0; k < c->npages && !rc; k++) rc = quire_pager_free(h->pg, c->first + k);
    if (!rc) rc = quire_pager_protected_free(h->pg, c->pid);
    if (rc) return rc;
    size_t i = 0;
    while (i < h->nch && h->ch[i] != c) i++;
    memmove(h->ch + i, h->ch + i + 1, (h->nch - i - 1) * sizeof *h->ch);
    h->nch--;
    for (unsigned k = 0; k < h->ncls; k++)
        if (h->cur[k] == c) h->cur[k] = NULL;
    h->chunk_hint = 0;
    h->hot = NULL;
    scan_reset_all(h);
    chunk_destroy(c);
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Pages inside SMALL chunks
 * ------------------------------------------------------------------------------------------- */

/* Finds n free contiguous descriptors in some chunk (a new chunk if none). */
static int take_pages(q_pheap *h, uint32_t n, struct ph_chunk **out, uint32_t *head) {
    for (size_t k = 0; k < h->nch; k++) {
        size_t ci = (h->chunk_hint + k) % h->nch;
        struct ph_chunk *c = h->ch[ci];
        if (c->kind != PH_SMALL || c->max_run < n) continue;
        uint32_t run = 0;
        for (uint32_t i = 0; i < h->D; i++) {
            run = ph_desc(c, i)->type == PH_FREE ? run + 1 : 0;
            if (run == n) {
                h->chunk_hint = (uint32_t)ci;
                *out = c;
                *head = i + 1 - n;
                return 0;
            }
        }
    }
    struct ph_chunk *c;
    int rc = chunk_new(h, PH_SMALL, h->D, 0, &c);
    if (rc) return rc;
    *out = c;
    *head = 0;
    return 0;
}

static void mark_pages(q_pheap *h, struct ph_chunk *c, uint32_t head, uint32_t n, int type,
                       unsigned cls) {
    struct ph_desc *d = ph_desc(c, head);
    d->type = (uint8_t)type;
    d->cls = (uint8_t)cls;
    d->nused = 0;
    d->n = n;
    for (uint32_t k = 1; k < n; k++) {
        struct ph_desc *e = ph_desc(c, head + k);
        e->type = PH_CONT;
        e->cls = 0;
        e->nused = 0;
        e->n = k;
    }
    memset(ph_bits(h, c, head), 0, (size_t)n * (h->P / 128));
    c->dirty = 1;
    chunk_stats(h, c);
}

static void free_pages(q_pheap *h, struct ph_chunk *c, uint32_t head) {
    uint32_t n = ph_desc(c, head)->n;
    for (uint32_t k = 0; k < n; k++) memset(ph_desc(c, head + k), 0, sizeof(struct ph_desc));
    memset(ph_bits(h, c, head), 0, (size_t)n * (h->P / 128));
    c->dirty = 1;
    chunk_stats(h, c);
}

static int slab_usable(const q_pheap *h, const struct ph_chunk *c, uint32_t head, unsigned cls) {
    const struct ph_desc *d = ph_desc(c, head);
    return d->type == PH_SLAB && d->cls == cls && d->nused < h->cls_slots[cls];
}

static int alloc_small(q_pheap *h, unsigned cls, uint64_t *off) {
    struct ph_chunk *c = h->cur[cls];
    uint32_t head = h->cur_head[cls];
    if (!c || !slab_usable(h, c, head, cls)) {
        c = NULL;
        /* a partly used slab of this class anywhere (resuming where the last search ended) */
        for (size_t k = h->scan_ci[cls]; k < h->nch && !c; k++) {
            struct ph_chunk *x = h->ch[k];
            uint32_t i = k == h->scan_ci[cls] ? h->scan_di[cls] : 0;
            h->scan_ci[cls] = (uint32_t)k;
            h->scan_di[cls] = 0;
            if (x->kind != PH_SMALL) continue;
            for (; i < h->D; i++) {
                if (slab_usable(h, x, i, cls)) {
                    c = x;
                    head = i;
                    h->scan_di[cls] = i + 1;
                    break;
                }
            }
        }
        if (!c) h->scan_ci[cls] = (uint32_t)h->nch;
        if (!c) {
            int rc = take_pages(h, h->cls_pages[cls], &c, &head);
            if (rc) return rc;
            mark_pages(h, c, head, h->cls_pages[cls], PH_SLAB, cls);
        }
        h->cur[cls] = c;
        h->cur_head[cls] = head;
    }
    struct ph_desc *d = ph_desc(c, head);
    uint64_t *bits = ph_bits(h, c, head);
    uint32_t slots = h->cls_slots[cls];
    for (uint32_t w = 0; w * 64 < slots; w++) {
        uint64_t free_bits = ~bits[w];
        if (!free_bits) continue;
        uint32_t b = (uint32_t)__builtin_ctzll(free_bits);
        uint32_t slot = w * 64 + b;
        if (slot >= slots) break;
        bits[w] |= UINT64_C(1) << b;
        d->nused++;
        c->dirty = 1;
        *off = ((c->first + head) << h->pshift) + (uint64_t)slot * h->cls_size[cls];
        return 0;
    }
    Q_ASSERT(!"a slab's nused said it had a free slot");
    return QUIRE_EHEAP;
}

int q_pheap_alloc_block(q_pheap *h, size_t size, uint64_t *off) {
    if (size <= h->P) return alloc_small(h, q_pheap_class_of(h, size), off);
    uint64_t n = ((uint64_t)size + h->P - 1) >> h->pshift;
    if (n <= h->D) {
        struct ph_chunk *c;
        uint32_t head;
        int rc = take_pages(h, (uint32_t)n, &c, &head);
        if (rc) return rc;
        mark_pages(h, c, head, (uint32_t)n, PH_RUN, 0);
        *off = (c->first + head) << h->pshift;
        return 0;
    }
    struct ph_chunk *c;
    int rc = chunk_new(h, PH_HUGE, n, size, &c);
    if (rc) return rc;
    *off = c->first << h->pshift;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Lookup, frees
 * ------------------------------------------------------------------------------------------- */

int q_pheap_lookup(const q_pheap *h, uint64_t off, struct ph_block *b) {
    if (!off) return QUIRE_EBADREF;
    uint64_t page = off >> h->pshift;
    struct ph_chunk *c = chunk_of(h, page);
    if (!c) return QUIRE_EBADREF;
    b->c = c;
    if (c->kind == PH_HUGE) {
        if (off != c->first << h->pshift) return QUIRE_EBADREF;
        b->head = 0;
        b->slot = 0;
        b->size = (size_t)c->npages << h->pshift;
        return 0;
    }
    uint32_t i = (uint32_t)(page - c->first);
    struct ph_desc *d = ph_desc(c, i);
    if (d->type == PH_CONT) {
        i -= d->n;
        d = ph_desc(c, i);
    }
    uint64_t base = (c->first + i) << h->pshift;
    b->head = i;
    if (d->type == PH_RUN) {
        if (off != base) return QUIRE_EBADREF;
        b->slot = 0;
        b->size = (size_t)d->n << h->pshift;
        return 0;
    }
    if (d->type != PH_SLAB) return QUIRE_EBADREF;
    uint32_t s = h->cls_size[d->cls];
    uint64_t delta = off - base;
    if (delta % s) return QUIRE_EBADREF;
    uint64_t slot = delta / s;
    if (slot >= h->cls_slots[d->cls]) return QUIRE_EBADREF;
    if (!(ph_bits(h, c, i)[slot / 64] >> (slot % 64) & 1)) return QUIRE_EBADREF;
    b->slot = (uint32_t)slot;
    b->size = s;
    return 0;
}

/* Frees one block now (its bytes were free at the last commit, or the commit is applying it).
 * A huge block's chunk is released; a slab left empty gives its pages back to its chunk (a
 * chunk left empty is released by q_pheap_apply_frees). */
static int free_now(q_pheap *h, const struct ph_block *b) {
    struct ph_chunk *c = b->c;
    if (c->kind == PH_HUGE) return chunk_release(h, c);
    struct ph_desc *d = ph_desc(c, b->head);
    if (d->type == PH_RUN) {
        free_pages(h, c, b->head);
        return 0;
    }
    uint64_t *bits = ph_bits(h, c, b->head);
    bits[b->slot / 64] &= ~(UINT64_C(1) << (b->slot % 64));
    Q_ASSERT(d->type == PH_SLAB && d->nused > 0);
    d->nused--;
    h->scan_ci[d->cls] = h->scan_di[d->cls] = 0;
    c->dirty = 1;
    if (d->nused == 0) {
        if (h->cur[d->cls] == c && h->cur_head[d->cls] == b->head) h->cur[d->cls] = NULL;
        free_pages(h, c, b->head);
    }
    return 0;
}

int q_pheap_free_found(q_pheap *h, const struct ph_block *b) {
    return free_now(h, b);
}

int q_pheap_apply_frees(q_pheap *h) {
    for (size_t i = 0; i < h->frees.n; i++) {
        struct ph_block b;
        int rc = q_pheap_lookup(h, h->frees.v[i], &b);
        if (!rc) rc = free_now(h, &b);
        if (rc) return rc;
    }
    /* give empty SMALL chunks back to the pager, keeping one */
    int kept = 0;
    for (size_t i = 0; i < h->nch;) {
        struct ph_chunk *c = h->ch[i];
        if (c->kind == PH_SMALL && c->free_pages == h->D) {
            if (!kept) {
                kept = 1;
            } else {
                int rc = chunk_release(h, c);
                if (rc) return rc;
                continue;
            }
        }
        i++;
    }
    return 0;
}

int q_pheap_write_chunks(q_pheap *h) {
    for (size_t i = 0; i < h->nch; i++) {
        struct ph_chunk *c = h->ch[i];
        if (!c->dirty) continue;
        quire_pager_writer *w;
        int rc = quire_pager_protected_write(h->pg, c->pid, &w);
        if (rc) return rc;
        memcpy(quire_pager_writer_data(w), c->hdr, h->P);
        rc = quire_pager_writer_commit(w);
        if (rc) return rc;
        c->dirty = 0;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Iteration, statistics
 * ------------------------------------------------------------------------------------------- */

int q_pheap_next_block(const q_pheap *h, uint64_t *cursor, uint64_t *off, size_t *size) {
    uint64_t from = *cursor;
    size_t lo = 0, hi = h->nch;
    while (lo < hi) { /* first chunk ending after from */
        size_t mid = (lo + hi) / 2;
        const struct ph_chunk *c = h->ch[mid];
        if (((c->first + c->npages) << h->pshift) <= from)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t k = lo; k < h->nch; k++) {
        const struct ph_chunk *c = h->ch[k];
        uint64_t cbase = c->first << h->pshift;
        if (c->kind == PH_HUGE) {
            if (cbase < from) continue;
            *off = cbase;
            *size = (size_t)c->npages << h->pshift;
            *cursor = cbase + 1;
            return 1;
        }
        for (uint32_t i = 0; i < h->D;) {
            const struct ph_desc *d = ph_desc(c, i);
            uint64_t base = cbase + ((uint64_t)i << h->pshift);
            if (d->type == PH_RUN && base >= from) {
                *off = base;
                *size = (size_t)d->n << h->pshift;
                *cursor = base + 1;
                return 1;
            }
            if (d->type == PH_SLAB && base + ((uint64_t)d->n << h->pshift) > from) {
                uint32_t s = h->cls_size[d->cls];
                const uint64_t *bits = ph_bits(h, c, i);
                uint64_t first = from > base ? (from - base + s - 1) / s : 0;
                for (uint64_t slot = first; slot < h->cls_slots[d->cls]; slot++) {
                    if (bits[slot / 64] >> (slot % 64) & 1) {
                        *off = base + slot * s;
                        *size = s;
                        *cursor = *off + 1;
                        return 1;
                    }
                }
            }
            i += d->type == PH_FREE ? 1 : d->n;
        }
    }
    return 0;
}

void q_pheap_stats(const q_pheap *h, struct quire_pheap_stat *st) {
    for (size_t k = 0; k < h->nch; k++) {
        const struct ph_chunk *c = h->ch[k];
        st->chunks++;
        if (c->kind == PH_HUGE) {
            st->objects++;
            st->bytes_used += (uint64_t)c->npages << h->pshift;
            continue;
        }
        if ((uint64_t)c->max_run << h->pshift > st->largest_free)
            st->largest_free = (uint64_t)c->max_run << h->pshift;
        for (uint32_t i = 0; i < h->D;) {
            const struct ph_desc *d = ph_desc(c, i);
            if (d->type == PH_FREE) {
                st->bytes_free += h->P;
                i++;
                continue;
            }
            if (d->type == PH_RUN) {
                st->objects++;
                st->bytes_used += (uint64_t)d->n << h->pshift;
            } else {
                uint32_t s = h->cls_size[d->cls];
                st->objects += d->nused;
                st->bytes_used += (uint64_t)d->nused * s;
                st->bytes_free += (uint64_t)(h->cls_slots[d->cls] - d->nused) * s;
            }
            i += d->n;
        }
    }
}
