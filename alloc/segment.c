/*
 * alloc/segment.c - segments: 4 MiB mappings aligned to their size, cut into 64 KiB pages that
 * slabs are made of.
 *
 * This file maps and unmaps segments (keeping the global segment bitmap q_segmap, which free()
 * consults before touching any memory), hands out runs of free pages of the kind a slab asks
 * for (dense-dirty, sparse-dirty, clean: see internal.h), purges free
 * pages after a delay (MADV_DONTNEED, or MADV_FREE on request), keeps a small cache of empty
 * segments so that a heap that empties and refills does not remap, and holds the list of
 * segments abandoned by exited threads until another thread reclaims them.
 *
 * Locking: q_seg_lock protects the segment registry, the cache and the abandoned list (slow
 * paths only). A segment's page masks belong to its owner heap (or to whoever holds the lock
 * while it is cached).
 */
#include <string.h>

#include "alloc/internal.h"

#define Q_SEG_COOKIE 0x71756972655f7367ull /* "quire_sg" */

_Static_assert(Q_SEG_HDR + sizeof(struct q_segment) + Q_SEG_GUARD_MAX <=
                   Q_SEG_META_PAGES * Q_PAGE_SIZE,
               "struct q_segment and its guards fit in the metadata pages");
#define Q_CACHE_MAX 16 /* empty segments kept mapped (purged) */
#define Q_META_MASK (((uint64_t)1 << Q_SEG_META_PAGES) - 1)
#define Q_ALL_PAGES (~(uint64_t)0)

/* One byte per 4 MiB of the 2^47-byte user address space: 2^25 bytes of zero pages, of which
   only those covering mapped segments are ever written (a byte, not a bit: free() tests it
   with a single compare). */
_Atomic uint8_t q_segmap[(size_t)1 << (Q_ADDR_BITS - Q_SEG_SHIFT)];

q_lock_t q_seg_lock;
struct q_segment *q_seg_all;        /* every mapped segment (stats walk) */
static struct q_segment *seg_cache; /* empty segments, most recent first */
static unsigned seg_cache_n;
static struct q_segment *seg_abandoned; /* segments of exited threads */
static _Atomic unsigned seg_abandoned_n;
static _Atomic uint64_t cache_purge_ns; /* earliest purge deadline in the cache, 0 none */
static _Atomic uintptr_t seg_hint;      /* where the next segment will probably fit */

/* ---------------------------------------------------------------------------------------------
 * Guard pages: inaccessible ranges inside quire's mappings (segment metadata in every mode,
 * slabs and large blocks under QUIRE_SECURE). MADV_GUARD_INSTALL (Linux 6.13) makes a range
 * fault without creating a mapping, so vm.max_map_count is not consumed; where the kernel
 * lacks it (or QUIRE_GUARDS=mprotect, for tests) mprotect(PROT_NONE) does, at the cost of
 * split mappings. Either way a guarded range's contents are discarded and read back as zero
 * once the guard is removed.
 * ------------------------------------------------------------------------------------------- */

static _Atomic int guard_mode; /* 0 untried, 1 madvise guards, 2 mprotect */

void q_guard_init(void) {
    if (q_opt.guards == 1) atomic_store(&guard_mode, 2); /* guards=mprotect */
}

int q_guard(void *addr, size_t len, int on) {
    int m = atomic_load_explicit(&guard_mode, Q_RELAXED);
    if (m != 2) {
        int rc = q_os_advise(addr, len, on ? Q_ADV_GUARD_INSTALL : Q_ADV_GUARD_REMOVE);
        if (rc == 0) {
            if (m == 0) atomic_store_explicit(&guard_mode, 1, Q_RELAXED);
            return 0;
        }
        if (m == 1) return rc; /* guards work here: a real failure */
        atomic_store_explicit(&guard_mode, 2, Q_RELAXED);
        q_verbose("MADV_GUARD_INSTALL unavailable: guard pages with mprotect", addr, len);
    }
    if (!on) return q_os_protect(addr, len, Q_PROT_READ | Q_PROT_WRITE);
    int rc = q_os_protect(addr, len, Q_PROT_NONE);
    q_os_advise(addr, len, Q_ADV_DONTNEED); /* as MADV_GUARD_INSTALL: contents discarded */
    return rc;
}

static void segmap_set(uintptr_t seg, int on) {
    atomic_store_explicit(&q_segmap[seg >> Q_SEG_SHIFT], (uint8_t)(on != 0), memory_order_release);
}

/* Maps a fresh, zeroed, aligned segment below 2^47. */
static struct q_segment *seg_map(void) {
    void *p = (void *)atomic_load_explicit(&seg_hint, Q_RELAXED);
    int rc = q_os_map(&p, Q_SEG_SIZE, Q_PROT_READ | Q_PROT_WRITE, 0, -1, 0);
    if (rc == 0 && ((uintptr_t)p & Q_SEG_MASK) != 0) {
        q_os_unmap(p, Q_SEG_SIZE);
        rc = q_os_map_aligned(&p, Q_SEG_SIZE, Q_SEG_SIZE, 0);
        if (rc == 0) atomic_fetch_add_explicit(&q_gs.unmappings, 1, Q_RELAXED);
    }
    if (rc != 0) {
        q_verbose("mmap of a segment failed", NULL, Q_SEG_SIZE);
        return NULL;
    }
    atomic_fetch_add_explicit(&q_gs.mappings, 1, Q_RELAXED);
    if ((uintptr_t)p + Q_SEG_SIZE > ((uintptr_t)1 << Q_ADDR_BITS)) {
        q_os_unmap(p, Q_SEG_SIZE); /* beyond the segment map: refuse (5-level paging hints) */
        q_verbose("segment mapped above 2^47, refused", p, 0);
        return NULL;
    }
    atomic_store_explicit(&seg_hint, (uintptr_t)p >= Q_SEG_SIZE ? (uintptr_t)p - Q_SEG_SIZE : 0,
                          Q_RELAXED);
    /* Guards around the metadata: the segment's first Q_SEG_HDR bytes and the last OS page
       of the metadata pages (no memory, and with MADV_GUARD_INSTALL no extra mapping). */
    size_t g = q_os_page_size();
    if (g <= Q_SEG_GUARD_MAX &&
        (q_guard(p, Q_SEG_HDR, 1) != 0 ||
         q_guard((char *)p + Q_SEG_META_PAGES * Q_PAGE_SIZE - g, g, 1) != 0))
        q_verbose("guard pages of a segment failed", p, 0);
    return (struct q_segment *)((char *)p + Q_SEG_HDR);
}

static void seg_unmap(struct q_segment *seg) {
    segmap_set((uintptr_t)q_seg_base(seg), 0);
    q_os_unmap(q_seg_base(seg), Q_SEG_SIZE);
    atomic_fetch_add_explicit(&q_gs.unmappings, 1, Q_RELAXED);
    atomic_fetch_sub_explicit(&q_gs.segments, 1, Q_RELAXED);
    q_stats_note_mapped(-(int64_t)Q_SEG_SIZE);
}

struct q_segment *q_segment_alloc(struct q_heap *h) {
    struct q_segment *seg = NULL;
    q_lock(&q_seg_lock);
    if (seg_cache) {
        seg = seg_cache;
        seg_cache = seg->next;
        seg_cache_n--;
    }
    q_unlock(&q_seg_lock);
    if (!seg) {
        seg = seg_map();
        if (!seg) return NULL;
        /* Fresh memory is zero: only the non-zero fields need writing. */
        seg->cookie = Q_SEG_COOKIE ^ (uintptr_t)seg;
        seg->free_mask = Q_ALL_PAGES & ~Q_META_MASK;
        for (unsigned i = 0; i < Q_SEG_PAGES; i++) seg->slabs[i].page = (uint8_t)i;
        q_lock(&q_seg_lock);
        seg->all_next = q_seg_all;
        if (q_seg_all) q_seg_all->all_prev = seg;
        q_seg_all = seg;
        q_unlock(&q_seg_lock);
        atomic_fetch_add_explicit(&q_gs.segments, 1, Q_RELAXED);
        q_stats_note_mapped((int64_t)Q_SEG_SIZE);
        segmap_set((uintptr_t)q_seg_base(seg), 1);
    }
    seg->next = seg->prev = NULL;
    atomic_store_explicit(&seg->heap, h, memory_order_release);
    return seg;
}

void q_segment_release(struct q_segment *seg) {
    atomic_store_explicit(&seg->heap, NULL, memory_order_release);
    struct q_segment *victim = NULL;
    q_lock(&q_seg_lock);
    if (seg_cache_n >= Q_CACHE_MAX) {
        /* Evict the oldest cached segment (the list's tail) to keep mappings bounded. */
        struct q_segment *t = seg_cache, *prev = NULL;
        while (t->next) prev = t, t = t->next;
        if (prev)
            prev->next = NULL;
        else
            seg_cache = NULL;
        seg_cache_n--;
        victim = t;
        if (victim->all_prev)
            victim->all_prev->all_next = victim->all_next;
        else
            q_seg_all = victim->all_next;
        if (victim->all_next) victim->all_next->all_prev = victim->all_prev;
    }
    seg->next = seg_cache;
    seg_cache = seg;
    seg_cache_n++;
    uint64_t due = seg->purge_ns;
    if (seg->dirty_mask && due) {
        uint64_t cur = atomic_load_explicit(&cache_purge_ns, Q_RELAXED);
        if (cur == 0 || due < cur) atomic_store_explicit(&cache_purge_ns, due, Q_RELAXED);
    }
    q_unlock(&q_seg_lock);
    if (victim) seg_unmap(victim);
}

/* Bit i of the result: pages i .. i+n-1 all have their bit set in m. */
static uint64_t runs_of(uint64_t m, unsigned n) {
    for (unsigned k = 1; k < n && m; k++) m &= m >> 1;
    return m;
}

int q_segment_pages_alloc(struct q_segment *seg, unsigned n, enum q_run_kind kind) {
    uint64_t f = seg->free_mask, d = seg->dirty_mask, m;
    switch (kind) {
    case Q_RUN_DENSE:
        m = runs_of(f & d & seg->dense_mask, n);
        break;
    case Q_RUN_SPARSE:
        m = runs_of(f & d & ~seg->dense_mask, n);
        break;
    case Q_RUN_CLEAN:
        m = runs_of(f & ~d, n);
        break;
    default:
        /* Prefer pages still holding memory (dirty): reusing them costs fewer page faults. */
        m = runs_of(f & d, n);
        if (!m) m = runs_of(f, n);
        break;
    }
    if (!m) return -1;
    unsigned i = (unsigned)__builtin_ctzll(m);
    uint64_t run = (n == 64 ? Q_ALL_PAGES : (((uint64_t)1 << n) - 1)) << i;
    seg->free_mask &= ~run;
    seg->dirty_mask &= ~run; /* reused as is: no purge needed any more */
    seg->dense_mask &= ~run;
    if (!seg->dirty_mask) seg->purge_ns = 0;
    return (int)i;
}

int q_segment_pages_alloc_class(struct q_segment *seg, unsigned n, unsigned cls) {
    for (uint64_t m = runs_of(seg->free_mask & seg->dirty_mask & ~seg->dense_mask, n); m;
         m &= m - 1) {
        unsigned i = (unsigned)__builtin_ctzll(m);
        if (seg->slabs[i].cls != cls) continue;
        uint64_t run = (n == 64 ? Q_ALL_PAGES : (((uint64_t)1 << n) - 1)) << i;
        seg->free_mask &= ~run;
        seg->dirty_mask &= ~run;
        seg->dense_mask &= ~run;
        if (!seg->dirty_mask) seg->purge_ns = 0;
        return (int)i;
    }
    return -1;
}

/* Purges the dirty free pages of seg whose delay expired (all when force). Returns bytes. */
static size_t seg_purge(struct q_segment *seg, uint64_t now, int force) {
    uint64_t d = 0;
    uint64_t next = 0;
    for (uint64_t m = seg->dirty_mask; m; m &= m - 1) {
        unsigned i = (unsigned)__builtin_ctzll(m);
        if (force || seg->page_due[i] <= now)
            d |= (uint64_t)1 << i;
        else if (next == 0 || seg->page_due[i] < next)
            next = seg->page_due[i];
    }
    size_t total = 0;
    uint64_t todo = d;
    while (todo) {
        unsigned i = (unsigned)__builtin_ctzll(todo);
        unsigned j = i;
        while (j < Q_SEG_PAGES && (todo >> j) & 1) j++;
        size_t len = (size_t)(j - i) * Q_PAGE_SIZE;
        q_os_advise(q_seg_base(seg) + (size_t)i * Q_PAGE_SIZE, len,
                    q_opt.purge_free ? Q_ADV_FREE : Q_ADV_DONTNEED);
        atomic_fetch_add_explicit(&q_gs.purges, 1, Q_RELAXED);
        total += len;
        todo &= (j >= 64) ? 0 : ~((((uint64_t)1 << j) - 1));
    }
    seg->dirty_mask &= ~d;
    seg->dense_mask &= ~d;
    seg->purge_ns = next;
    if (total) {
        atomic_fetch_add_explicit(&q_gs.purged_bytes, total, Q_RELAXED);
        q_verbose("purged free pages of segment", seg, total);
    }
    return total;
}

void q_segment_pages_free(struct q_segment *seg, unsigned first, unsigned n, uint64_t now,
                          int dense) {
    uint64_t run = (n == 64 ? Q_ALL_PAGES : (((uint64_t)1 << n) - 1)) << first;
    seg->free_mask |= run;
    seg->dirty_mask |= run;
    if (dense)
        seg->dense_mask |= run;
    else
        seg->dense_mask &= ~run;
    if (q_opt.purge_delay_ns == 0) {
        seg_purge(seg, now, 1);
    } else if (q_opt.purge_delay_ns > 0) {
        uint64_t due = now + (uint64_t)q_opt.purge_delay_ns;
        for (unsigned i = first; i < first + n; i++) seg->page_due[i] = due;
        if (seg->purge_ns == 0) seg->purge_ns = due;
    } else {
        for (unsigned i = first; i < first + n; i++) seg->page_due[i] = UINT64_MAX;
    }
}

size_t q_segment_purge(struct q_segment *seg, uint64_t now, int force) {
    if (!seg->dirty_mask) return 0;
    if (!force && (q_opt.purge_delay_ns < 0 || seg->purge_ns == 0 || now < seg->purge_ns)) return 0;
    return seg_purge(seg, now, force);
}

size_t q_segment_cache_purge(uint64_t now, int force) {
    uint64_t due = atomic_load_explicit(&cache_purge_ns, Q_RELAXED);
    if (!force && (due == 0 || now < due)) return 0;
    size_t total = 0;
    uint64_t next = 0;
    q_lock(&q_seg_lock);
    for (struct q_segment *s = seg_cache; s; s = s->next) {
        total += q_segment_purge(s, now, force);
        if (s->dirty_mask && s->purge_ns && (next == 0 || s->purge_ns < next)) next = s->purge_ns;
    }
    if (force) {
        /* Trim: give the cached segments back entirely. */
        while (seg_cache) {
            struct q_segment *s = seg_cache;
            seg_cache = s->next;
            seg_cache_n--;
            if (s->all_prev)
                s->all_prev->all_next = s->all_next;
            else
                q_seg_all = s->all_next;
            if (s->all_next) s->all_next->all_prev = s->all_prev;
            q_unlock(&q_seg_lock);
            seg_unmap(s);
            total += Q_SEG_SIZE;
            q_lock(&q_seg_lock);
        }
        next = 0;
    }
    atomic_store_explicit(&cache_purge_ns, next, Q_RELAXED);
    q_unlock(&q_seg_lock);
    return total;
}

uint64_t q_segment_cache_due(void) {
    return atomic_load_explicit(&cache_purge_ns, Q_RELAXED);
}

void q_segment_abandon(struct q_segment *seg) {
    q_lock(&q_seg_lock);
    seg->prev = NULL;
    seg->next = seg_abandoned;
    seg_abandoned = seg;
    atomic_fetch_add_explicit(&seg_abandoned_n, 1, Q_RELAXED);
    q_unlock(&q_seg_lock);
}

struct q_segment *q_segment_take_abandoned(void) {
    if (atomic_load_explicit(&seg_abandoned_n, Q_RELAXED) == 0) return NULL;
    q_lock(&q_seg_lock);
    struct q_segment *seg = seg_abandoned;
    if (seg) {
        seg_abandoned = seg->next;
        atomic_fetch_sub_explicit(&seg_abandoned_n, 1, Q_RELAXED);
    }
    q_unlock(&q_seg_lock);
    if (seg) seg->next = seg->prev = NULL;
    return seg;
}
