/*
 * alloc/heap.c - thread heaps: the slow paths of malloc and free, slabs, abandon and reclaim.
 *
 * The fast paths (internal.h) pop from and push to the current slab of the calling thread's
 * heap. Everything else happens here: refilling the current slab (swap in local_free, collect
 * the thread_free list other threads pushed to, extend the slab's threaded capacity, move full
 * slabs aside, make a new slab from one of the heap's segments, reclaim an abandoned segment or
 * get a new one), frees of other threads' blocks (one CAS on the slab's thread_free), releasing
 * empty slabs, delayed purge, and the hand-over of a heap's segments when its thread exits.
 *
 * Only the owner thread touches a heap and the slab fields marked "owner" in internal.h; other
 * threads touch only thread_free, the pending bits, heap_fast (read) and remote_hint.
 */
#include <errno.h>
#include <string.h>

#include "alloc/internal.h"
#include "base/assert.h"

/* ---------------------------------------------------------------------------------------------
 * Slab lists
 * ------------------------------------------------------------------------------------------- */

static void sq_remove(struct q_slabq *q, struct q_slab *s) {
    if (s->prev)
        s->prev->next = s->next;
    else
        q->first = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        q->last = s->prev;
    s->next = s->prev = NULL;
}

static void sq_push_front(struct q_slabq *q, struct q_slab *s) {
    s->prev = NULL;
    s->next = q->first;
    if (q->first)
        q->first->prev = s;
    else
        q->last = s;
    q->first = s;
}

static void sq_push_back(struct q_slabq *q, struct q_slab *s) {
    s->next = NULL;
    s->prev = q->last;
    if (q->last)
        q->last->next = s;
    else
        q->first = s;
    q->last = s;
}

/* The value of heap_fast for slabs of h: the shared heap never frees on the fast path, nor
   does QUIRE_SECURE (its frees check and quarantine every block). */
static inline uintptr_t fast_of(struct q_heap *h) {
    return h == &q_shared_heap || q_opt.secure ? 0 : h->tid;
}

/* ... nor a slab holding sampled blocks (prof, leaks) its frees must look up (prof.c). */
static inline uintptr_t slab_fast(struct q_heap *h, struct q_slab *s) {
    return atomic_load_explicit(&s->sampled, Q_RELAXED) && !q_prof_lazy(s) ? 0 : fast_of(h);
}

/* Puts back the part of s's free list that q_prof_arm set aside (s stops being current). */
static void slab_unarm(struct q_slab *s) {
    struct q_block *rest = s->prof_rest;
    if (!rest) return;
    s->prof_rest = NULL;
    s->prof_rest_n = 0;
    if (!s->free) {
        s->free = rest;
        return;
    }
    struct q_block *t = s->free, *n;
    while ((n = q_link_dec(t)) != NULL) t = n;
    t->link = q_link_enc(t, rest);
}

/* Points cur[cls] and the direct[] entries of cls at the class queue's first slab. */
static void heap_set_cur(struct q_heap *h, unsigned cls) {
    struct q_slab *s = h->queue[cls].first ? h->queue[cls].first : &q_slab_empty;
    if (h->cur[cls] == s) return; /* direct[] already points there */
    if (h->cur[cls]->prof_rest) slab_unarm(h->cur[cls]);
    h->cur[cls] = s;
    uint32_t size = q_class_size[cls];
    if (size <= Q_SMALL_MAX && !q_opt.secure) {
        unsigned lo = cls == 0 ? 0 : q_class_size[cls - 1] / Q_GRANULE + 1;
        for (unsigned i = lo; i <= size / Q_GRANULE; i++) h->direct[i] = s;
    }
}

void q_heap_init(struct q_heap *h) {
    struct q_heap *reg = h->reg_next;
    /* A late free by another thread may still set remote_hint: leave it to atomics. */
    memset(h, 0, offsetof(struct q_heap, remote_hint));
    atomic_store_explicit(&h->remote_hint, 0, Q_RELAXED);
    h->reg_next = reg;
    for (unsigned i = 0; i < Q_DIRECT_N; i++) h->direct[i] = &q_slab_empty;
    for (unsigned c = 0; c < Q_NCLASSES; c++) h->cur[c] = &q_slab_empty;
    h->prof_left = -1;
}

/* ---------------------------------------------------------------------------------------------
 * Slabs
 * ------------------------------------------------------------------------------------------- */

static struct q_slab *slab_init(struct q_heap *h, struct q_segment *seg, unsigned page,
                                unsigned cls) {
    struct q_slab *s = &seg->slabs[page];
    unsigned n = q_class_pages[cls];
    uint32_t size = q_class_size[cls];
    s->free = s->local_free = NULL;
    atomic_store_explicit(&s->thread_free, 0, Q_RELAXED);
    s->used = 0;
    s->nalloc = 0;
    s->capacity = 0;
    s->start = (uint8_t *)q_seg_base(seg) + (size_t)page * Q_PAGE_SIZE;
    size_t bytes = (size_t)n * Q_PAGE_SIZE;
    if (q_opt.secure) {
        bytes = q_secure_slab_bytes(n); /* a guard page before the slots */
        s->start += q_guard_size;
    }
    s->reserved = (uint32_t)(bytes / size);
    s->slot_size = size;
    s->size_lo = cls == 0 ? 0 : q_class_size[cls - 1] + 1;
    s->size_span = size - s->size_lo;
    s->prof_rest = NULL;
    s->prof_rest_n = 0;
    atomic_store_explicit(&s->prof_one, 0, Q_RELAXED);
    atomic_store_explicit(&s->sampled, 0, Q_RELAXED);
    s->cls = (uint8_t)cls;
    s->in_full = 0;
    s->npages = (uint8_t)n;
    s->page = (uint8_t)page;
    s->kept = 0;
    s->bits = (uintptr_t)seg + offsetof(struct q_segment, bits);
    s->next = s->prev = NULL;
    for (unsigned i = 0; i < n; i++) seg->pagemap[page + i] = s;
    seg->live_slabs++;
    atomic_store_explicit(&s->heap_fast, slab_fast(h, s), Q_RELAXED);
    if (q_opt.secure) q_secure_slab_guard(seg, page, n);
    return s;
}

/* Threads the next run of never-used slots (about 8 KiB worth) onto the empty free list. */
static void slab_extend(struct q_slab *s) {
    uint32_t size = s->slot_size;
    uint32_t k = size >= 8192 ? 1 : 8192 / size;
    if (k > s->reserved - s->capacity) k = s->reserved - s->capacity;
    if (q_opt.secure) {
        q_secure_extend(s, k); /* random order, with trailers */
        return;
    }
    uint8_t *p = s->start + (size_t)s->capacity * size;
    for (uint32_t i = 0; i + 1 < k; i++) {
        struct q_block *b = (struct q_block *)(p + (size_t)i * size);
        b->link = q_link_enc(b, p + (size_t)(i + 1) * size);
    }
    struct q_block *last = (struct q_block *)(p + (size_t)(k - 1) * size);
    last->link = q_link_enc(last, s->free);
    s->free = (struct q_block *)p;
    s->capacity += k;
}

/* Whether n lies among the threaded slots of slab s (any granule of them). */
static inline int slab_in_range(const struct q_slab *s, const void *n) {
    return (uintptr_t)n - (uintptr_t)s->start < (uintptr_t)s->capacity * s->slot_size;
}

/* Whether n may follow a block on a free list of slab s: the start of a threaded slot. */
static inline int slab_holds(const struct q_slab *s, const void *n) {
    return slab_in_range(s, n) &&
           (uint32_t)((uintptr_t)n - (uintptr_t)s->start) % s->slot_size == 0;
}

void *q_slab_pop_last(struct q_slab *s, struct q_block *b, uintptr_t t) {
    struct q_block *n = (struct q_block *)(t ^ (uintptr_t)b);
    if (n != NULL && !slab_holds(s, n)) q_report_corrupt("free list", s->slot_size, s->start, n);
    return q_slab_take(s, b, n);
}

/* Owner: moves other threads' frees to local_free (clearing their bits), then refills free.
   Each link of the thread_free list is checked before it is followed: a block of this slab
   whose pending bit is set (set by the free that pushed it, cleared only here). */
static void slab_collect(struct q_slab *s) {
    if (atomic_load_explicit(&s->thread_free, Q_RELAXED) != 0) {
        uintptr_t l = atomic_exchange_explicit(&s->thread_free, 0, memory_order_acquire);
        struct q_block *lf = s->local_free;
        uint32_t n = 0;
        /* Blocks freed in a row often share a bitmap word: clear their bits with one atomic
           and per run of the same word rather than one per block. */
        _Atomic uint64_t *cw = NULL;
        uint64_t mask = 0;
        while (l) {
            struct q_block *b = (struct q_block *)l;
            /* In range with its pending bit set: a block start a free validated and pushed. */
            if (!slab_in_range(s, b) ||
                !(atomic_load_explicit(q_bits_word(l) + 1, Q_RELAXED) & q_bit(l)) ||
                (mask & q_bit(l) && q_bits_word(l) == cw))
                q_report_corrupt("thread free list", s->slot_size, s->start, b);
            l = (uintptr_t)q_link_dec(b);
            _Atomic uint64_t *w = q_bits_word((uintptr_t)b);
            if (w != cw) {
                if (cw) {
                    atomic_store_explicit(cw, atomic_load_explicit(cw, Q_RELAXED) & ~mask,
                                          Q_RELAXED);
                    atomic_fetch_and_explicit(cw + 1, ~mask, Q_RELAXED);
                }
                cw = w;
                mask = 0;
            }
            mask |= q_bit((uintptr_t)b);
            b->link = q_link_enc(b, lf);
            lf = b;
            n++;
        }
        if (cw) {
            atomic_store_explicit(cw, atomic_load_explicit(cw, Q_RELAXED) & ~mask, Q_RELAXED);
            atomic_fetch_and_explicit(cw + 1, ~mask, Q_RELAXED);
        }
        s->local_free = lf;
        s->used -= n;
    }
    if (!s->free && s->local_free && !s->prof_rest) {
        s->free = s->local_free;
        s->local_free = NULL;
    }
}

/* Returns an empty slab's pages to its segment (not touching any list). */
static void slab_free_pages(struct q_heap *h, struct q_slab *s) {
    if (Q_UNLIKELY(q_opt.secure)) q_secure_slab_check(s); /* writes after free it still holds */
    struct q_segment *seg = q_seg_of(s);
    unsigned n = s->npages;
    /* Dense: small slots threaded over at least half of the run (written, so resident). */
    int dense = s->slot_size <= Q_SPARSE_MIN &&
                2 * (size_t)s->capacity * s->slot_size >= (size_t)n * Q_PAGE_SIZE;
    if (Q_UNLIKELY(atomic_load_explicit(&s->sampled, Q_RELAXED))) q_prof_collect(s);
    for (unsigned i = 0; i < n; i++) seg->pagemap[s->page + i] = NULL;
    atomic_store_explicit(&s->heap_fast, 0, Q_RELAXED);
    h->nalloc[s->cls] += s->nalloc;
    s->nalloc = 0;
    s->free = s->local_free = s->prof_rest = NULL;
    s->npages = 0;
    s->capacity = 0;
    s->used = 0;
    s->in_full = 0;
    s->kept = 0;
    s->next = s->prev = NULL;
    seg->live_slabs--;
    uint64_t now = q_opt.purge_delay_ns > 0 ? q_os_coarse_ns() : 0;
    q_segment_pages_free(seg, s->page, n, now, dense);
    if (seg->purge_ns && (h->purge_ns == 0 || seg->purge_ns < h->purge_ns))
        h->purge_ns = seg->purge_ns;
}

static void heap_unlink_seg(struct q_heap *h, struct q_segment *seg) {
    if (seg->prev)
        seg->prev->next = seg->next;
    else
        h->segs = seg->next;
    if (seg->next) seg->next->prev = seg->prev;
    seg->next = seg->prev = NULL;
}

/* Owner: an empty slab leaves its list and gives its pages back (maybe its segment too). */
static void slab_release(struct q_heap *h, struct q_slab *s) {
    Q_VALIDATE(q_slab_validate(s));
    unsigned cls = s->cls;
    struct q_slabq *q = s->in_full ? &h->full[cls] : &h->queue[cls];
    int was_first = !s->in_full && q->first == s;
    sq_remove(q, s);
    if (was_first) heap_set_cur(h, cls);
    struct q_segment *seg = q_seg_of(s);
    slab_free_pages(h, s);
    if (seg->live_slabs == 0 && !(h->segs == seg && seg->next == NULL)) {
        heap_unlink_seg(h, seg);
        q_segment_release(seg);
    }
}

void q_slab_emptied(struct q_heap *h, struct q_slab *s) {
    if (s->kept) return;
    int saved = errno; /* a free that releases pages keeps errno whatever madvise says */
    unsigned cls = s->cls;
    struct q_slabq *q = &h->queue[cls];
    if (s->in_full) {
        sq_remove(&h->full[cls], s);
        s->in_full = 0;
        sq_push_front(q, s);
        heap_set_cur(h, cls);
        atomic_store_explicit(&s->heap_fast, slab_fast(h, s), Q_RELAXED);
    }
    if (q->first == s && s->next == NULL) {
        /* The class's only slab: keep it (a malloc/free ping-pong must not churn slabs) until
           the next purge. */
        s->kept = 1;
        if (q_opt.purge_delay_ns >= 0 && h->purge_ns == 0)
            h->purge_ns = q_os_coarse_ns() + (uint64_t)q_opt.purge_delay_ns;
        errno = saved;
        return;
    }
    slab_release(h, s);
    errno = saved;
}

/* ---------------------------------------------------------------------------------------------
 * Segments of a heap: new slabs, reclaim
 * ------------------------------------------------------------------------------------------- */

static void heap_link_seg(struct q_heap *h, struct q_segment *seg) {
    seg->prev = NULL;
    seg->next = h->segs;
    if (h->segs) h->segs->prev = seg;
    h->segs = seg;
}

/* Takes over a segment abandoned by an exited thread. */
static void heap_reclaim(struct q_heap *h, struct q_segment *seg) {
    atomic_store_explicit(&seg->heap, h, memory_order_release);
    heap_link_seg(h, seg);
    for (unsigned i = Q_SEG_META_PAGES; i < Q_SEG_PAGES; i++) {
        struct q_slab *s = &seg->slabs[i];
        if (!s->npages) continue;
        s->in_full = 0;
        s->kept = 0;
        s->next = s->prev = NULL;
        slab_collect(s);
        if (Q_UNLIKELY(q_prof_on)) q_prof_collect(s); /* s may become current */
        if (s->used == 0) {
            slab_free_pages(h, s);
            continue;
        }
        unsigned cls = s->cls;
        sq_push_back(&h->queue[cls], s);
        if (h->queue[cls].first == s) heap_set_cur(h, cls);
        atomic_store_explicit(&s->heap_fast, slab_fast(h, s), Q_RELAXED);
    }
    atomic_fetch_add_explicit(&q_gs.reclaimed, 1, Q_RELAXED);
    q_verbose("reclaimed an abandoned segment", seg, seg->live_slabs);
    Q_VALIDATE(q_heap_validate(h));
}

/* A run of n free pages of the given kind in one of h's segments; its first page or -1. */
static int heap_find_run(struct q_heap *h, unsigned n, enum q_run_kind kind,
                         struct q_segment **out) {
    for (struct q_segment *seg = h->segs; seg; seg = seg->next) {
        if ((unsigned)__builtin_popcountll(seg->free_mask) < n) continue;
        int i = q_segment_pages_alloc(seg, n, kind);
        if (i >= 0) {
            *out = seg;
            return i;
        }
    }
    return -1;
}

/*
 * A new slab of class cls. Where its pages come from decides how much memory the process
 * touches: small slots will be written all over their pages, so they take pages that are
 * resident already (dense-dirty) first, then the free pages of segments abandoned by exited
 * threads, and only then other free pages of the heap's segments (dirty ones first) or a new
 * segment: each clean page faults in when written. Sparse slots
 * (> Q_SPARSE_MIN) touch a few of their pages: they take pages other sparse slots left, then
 * clean pages (a few faults), and resident dense pages only when neither is left, so that the
 * dense pages stay for the slabs that need them. First of all, a sparse slab takes a run where
 * a slab of its own class stood (its blocks touched the same offsets: the pages already resident
 * serve it again; mstress peak RSS 134 -> 116 MiB). A reclaimed segment that brings slabs of the
 * class returns &q_slab_empty instead: the caller scans its queue again. Measured on mstress (4
 * threads, 6 rounds): 30-32k page faults instead of 37k and peak RSS 118-122 MiB instead of 145-148
 * (the first free run of any segment, dirty first within it); with the sparse slabs of sizeclass.c,
 * 30k and 114-118 MiB.
 */
static struct q_slab *slab_new(struct q_heap *h, unsigned cls) {
    static const enum q_run_kind dense_order[] = {Q_RUN_DENSE};
    static const enum q_run_kind sparse_order[] = {Q_RUN_SPARSE, Q_RUN_CLEAN, Q_RUN_DENSE};
    unsigned n = q_class_pages[cls];
    int sparse = q_class_size[cls] > Q_SPARSE_MIN;
    const enum q_run_kind *order = sparse ? sparse_order : dense_order;
    unsigned norder = sparse ? 3 : 1;
    struct q_segment *seg;
    if (sparse)
        for (seg = h->segs; seg; seg = seg->next) {
            int i = q_segment_pages_alloc_class(seg, n, cls);
            if (i >= 0) return slab_init(h, seg, (unsigned)i, cls);
        }
    for (unsigned k = 0; k < norder; k++) {
        int i = heap_find_run(h, n, order[k], &seg);
        if (i >= 0) return slab_init(h, seg, (unsigned)i, cls);
    }
    while ((seg = q_segment_take_abandoned()) != NULL) {
        heap_reclaim(h, seg);
        /* Slabs of this class the dead thread left (with its live blocks in them) come
           first: a program whose threads come and go fills them instead of new ones. */
        if (h->queue[cls].first) return &q_slab_empty;
        int i = q_segment_pages_alloc(seg, n, sparse ? Q_RUN_SPARSE : Q_RUN_DENSE);
        if (i < 0) i = q_segment_pages_alloc(seg, n, Q_RUN_ANY);
        if (i >= 0) return slab_init(h, seg, (unsigned)i, cls);
    }
    int i = heap_find_run(h, n, Q_RUN_ANY, &seg);
    if (i >= 0) return slab_init(h, seg, (unsigned)i, cls);
    seg = q_segment_alloc(h);
    if (!seg) return NULL;
    heap_link_seg(h, seg);
    i = q_segment_pages_alloc(seg, n, Q_RUN_ANY);
    return slab_init(h, seg, (unsigned)i, cls);
}

/* ---------------------------------------------------------------------------------------------
 * Malloc slow path
 * ------------------------------------------------------------------------------------------- */

/* Other threads freed into our full slabs: give those with room back to their queues. */
static void heap_collect_full(struct q_heap *h) {
    atomic_store_explicit(&h->remote_hint, 0, Q_RELAXED);
    for (unsigned c = 0; c < Q_NCLASSES; c++) {
        struct q_slab *s = h->full[c].first;
        while (s) {
            struct q_slab *next = s->next;
            if (atomic_load_explicit(&s->thread_free, Q_RELAXED) != 0) {
                slab_collect(s);
                if (Q_UNLIKELY(q_prof_on)) q_prof_collect(s); /* s may become current */
                if (s->free) {
                    sq_remove(&h->full[c], s);
                    s->in_full = 0;
                    sq_push_back(&h->queue[c], s);
                    atomic_store_explicit(&s->heap_fast, slab_fast(h, s), Q_RELAXED);
                    if (s->used == 0 && h->queue[c].first != s)
                        slab_release(h, s);
                    else if (h->queue[c].first == s)
                        heap_set_cur(h, c);
                }
            }
            s = next;
        }
    }
}

/* Purges what is due. The deadlines are compared here, so that a refill before any of them
   (most, with a 100 ms delay) reads the clock once and goes no further: rptest made 10k such
   calls per 200k allocations, each through q_heap_purge, the segment cache and the large-block
   cache. */
static void heap_maintain(struct q_heap *h) {
    uint64_t hp = h->purge_ns, cd = q_segment_cache_due(), ld = q_large_due();
    if (hp == 0 && cd == 0 && ld == 0) return;
    uint64_t now = q_os_coarse_ns();
    if ((hp && now >= hp) || (cd && now >= cd) || (ld && now >= ld)) q_heap_purge(h, now, 0);
}

/* Hands out the head of s's free list, which becomes the current one; with prof or leaks on,
   the list is first armed: cut before the next sampled block, which is then taken here or when
   the fast path runs dry at the cut (prof.c). */
static inline void *slab_hand_out(struct q_heap *h, struct q_slab *s) {
    Q_VALIDATE(q_slab_validate(s));
    if (Q_UNLIKELY(q_prof_on)) {
        q_prof_arm(h, s);
        if (!s->free) return q_prof_take(h, s);
    }
    return q_slab_pop(s);
}

/*
 * The common refill, which makes no system call without prof or leaks (q_malloc_slow keeps
 * errno only around the rest): the current slab's own frees (local_free), other threads' frees, or
 * its next never-used slots refill it. Purge deadlines are then checked only every 64th time
 * (reading the clock costs more than the refill). Slabs of slots of 8 KiB and more thread one slot
 * at a time, so before the next slots were threaded here (not only after a full scan) every malloc
 * of a fresh slot read the clock and walked the purge paths: on rptest (8-16000 B) 4% of the run
 * went to the clock, the purge checks and errno.
 */
static inline void *heap_refill_cur(struct q_heap *h, unsigned cls) {
    struct q_slab *cur = h->queue[cls].first;
    if (!cur) return NULL;
    if (Q_UNLIKELY(cur->prof_rest != NULL)) return q_prof_take(h, cur); /* sampled */
    slab_collect(cur);
    if (!cur->free && cur->capacity < cur->reserved) slab_extend(cur);
    if (cur->free && (++h->maint_tick & 63) != 0) return slab_hand_out(h, cur);
    return NULL;
}

/* The rest of a refill (heap_refill_cur found nothing, or it is the 64th time): purge if due,
   scan the class's other slabs, reclaim or map a new slab. */
static void *heap_refill_rest(struct q_heap *h, unsigned cls) {
    heap_maintain(h);
again:
    for (int round = 0; round < 2; round++) {
        struct q_slabq *q = &h->queue[cls];
        struct q_slab *s = q->first;
        while (s) {
            struct q_slab *next = s->next;
            slab_collect(s);
            if (!s->free && s->capacity < s->reserved) slab_extend(s);
            if (s->free) {
                if (q->first != s) {
                    sq_remove(q, s);
                    sq_push_front(q, s);
                }
                heap_set_cur(h, cls);
                return slab_hand_out(h, s);
            }
            sq_remove(q, s);
            sq_push_back(&h->full[cls], s);
            s->in_full = 1;
            s->kept = 0;
            atomic_store_explicit(&s->heap_fast, 0, Q_RELAXED);
            s = next;
        }
        heap_set_cur(h, cls);
        if (round == 0 && atomic_load_explicit(&h->remote_hint, Q_RELAXED)) {
            heap_collect_full(h);
            continue;
        }
        break;
    }
    struct q_slab *s = slab_new(h, cls);
    if (!s) return NULL;
    if (s == &q_slab_empty) goto again; /* reclaimed slabs of cls: scan them */
    sq_push_front(&h->queue[cls], s);
    heap_set_cur(h, cls);
    slab_extend(s);
    return slab_hand_out(h, s);
}

static void *heap_refill(struct q_heap *h, unsigned cls) {
    void *p = heap_refill_cur(h, cls);
    return p ? p : heap_refill_rest(h, cls);
}

void *q_heap_alloc_cls(struct q_heap *h, unsigned cls) {
    struct q_slab *s = h->cur[cls];
    if (Q_LIKELY(s->free != NULL)) return q_slab_pop(s);
    return heap_refill(h, cls);
}

/* Allocation in heap h (a thread heap or the locked shared heap); align 0 = none. */
static void *heap_alloc(struct q_heap *h, size_t size, size_t align, int zero, unsigned kind) {
    if (align <= Q_GRANULE) {
        if (size > Q_MEDIUM_MAX) return q_large_alloc(size, 0, zero, kind);
        void *p = q_heap_alloc_cls(h, q_size_class(size));
        if (p && zero) memset(p, 0, size);
        return p;
    }
    size_t need = size > align ? size : align;
    if (align <= Q_PAGE_SIZE && need <= Q_MEDIUM_MAX) {
        /* A class whose slot size is a multiple of align: every slot is aligned (slabs start on
           64 KiB boundaries). The power-of-two class >= need always qualifies. */
        for (unsigned c = q_size_class(need); c < Q_NCLASSES; c++)
            if ((q_class_size[c] & (align - 1)) == 0) return q_heap_alloc_cls(h, c);
    }
    return q_large_alloc(size, align, zero, kind);
}

static int shared_ready; /* q_shared_heap initialized (under q_shared_lock) */

static void shared_heap_lock(void) {
    q_lock(&q_shared_lock);
    if (!shared_ready) {
        q_heap_init(&q_shared_heap);
        shared_ready = 1;
    }
}

/* Threads whose heap is gone (after their exit destructor) allocate from the shared heap. */
static void *alloc_dead(size_t size, size_t align, int zero, unsigned kind) {
    shared_heap_lock();
    void *p = heap_alloc(&q_shared_heap, size, align, zero, kind);
    q_unlock(&q_shared_lock);
    return p;
}

void *q_alloc_generic(size_t size, size_t align, int zero, unsigned kind) {
    int saved = errno;
    void *p;
    struct q_heap *h = q_tls_heap;
    if (Q_UNLIKELY(size > PTRDIFF_MAX)) {
        errno = ENOMEM;
        return NULL;
    }
    if (Q_UNLIKELY(h == &q_heap_empty)) h = q_thread_heap_create(); /* reads the options */
    if (Q_UNLIKELY(q_opt.secure))
        p = q_secure_alloc(size, align, zero, kind);
    else if (Q_UNLIKELY(h == NULL || h == &q_heap_dead))
        p = alloc_dead(size, align, zero, kind);
    else
        p = heap_alloc(h, size, align, zero, kind);
    errno = p ? saved : ENOMEM;
    return p;
}

/* A slot of class cls from the calling thread's heap (QUIRE_SECURE's allocations). */
void *q_heap_slot(unsigned cls) {
    struct q_heap *h = q_tls_heap;
    if (Q_UNLIKELY(h == &q_heap_empty)) h = q_thread_heap_create();
    if (Q_UNLIKELY(h == NULL || h == &q_heap_dead)) {
        shared_heap_lock();
        void *p = q_heap_alloc_cls(&q_shared_heap, cls);
        q_unlock(&q_shared_lock);
        return p;
    }
    return q_heap_alloc_cls(h, cls);
}

void *q_malloc_slow(struct q_heap *h, size_t size, unsigned kind) {
    /* A thread with a heap has seen the process initialized (options read); one without
       goes through q_alloc_generic, which waits for that. */
    if (Q_UNLIKELY(h == &q_heap_empty)) return q_alloc_generic(size, 0, 0, kind);
    if (Q_UNLIKELY(q_opt.secure)) return q_secure_malloc(h, size, kind);
    if (Q_LIKELY(size <= Q_MEDIUM_MAX && h != &q_heap_dead)) {
        unsigned cls = q_size_class(size);
        struct q_slab *s = h->cur[cls];
        if (Q_LIKELY(s->free != NULL)) return q_slab_pop(s);
        /* The common refill makes no system call; with prof or leaks on, handing a block out
           may capture a stack, which keeps errno here too. */
        void *p;
        if (Q_LIKELY(!q_prof_on) && (p = heap_refill_cur(h, cls)) != NULL) return p;
        int saved = errno;
        p = q_prof_on ? heap_refill(h, cls) : heap_refill_rest(h, cls);
        errno = p ? saved : ENOMEM;
        return p;
    }
    return q_alloc_generic(size, 0, 0, kind);
}

/* ---------------------------------------------------------------------------------------------
 * Free slow path
 * ------------------------------------------------------------------------------------------- */

/* Explains why the small-block pointer p failed validation, then aborts. */
__attribute__((noreturn)) static void report_small(const char *fn, const void *p, uint64_t pend) {
    uintptr_t a = (uintptr_t)p;
    if (a & (Q_GRANULE - 1)) q_report_invalid(fn, p, "misaligned pointer (not a block start)");
    if (pend & q_bit(a)) q_report_invalid(fn, p, "double free (already freed by another thread)");
    struct q_segment *seg = q_seg_of(p);
    size_t page = (a & Q_SEG_MASK) >> Q_PAGE_SHIFT;
    if (page < Q_SEG_META_PAGES) q_report_invalid(fn, p, "pointer into allocator metadata");
    struct q_slab *s = seg->pagemap[page];
    if (!s || !s->npages) q_report_invalid(fn, p, "pointer into unused memory (stale or bogus)");
    size_t off = (size_t)(a - (uintptr_t)s->start);
    if (off % s->slot_size != 0) q_report_invalid(fn, p, "interior pointer (not a block start)");
    if (off / s->slot_size >= s->capacity)
        q_report_invalid(fn, p, "pointer into never-allocated memory");
    q_report_invalid(fn, p, "double free");
}

/* Validates a small-block pointer; aborts with a report when it is not a live block. */
struct q_slab *q_small_check(const char *fn, const void *p) {
    uintptr_t a = (uintptr_t)p;
    if (a & (Q_GRANULE - 1)) report_small(fn, p, 0);
    _Atomic uint64_t *w = q_bits_word(a);
    uint64_t in = atomic_load_explicit(w, Q_RELAXED), pend = atomic_load_explicit(w + 1, Q_RELAXED);
    if (!(in & ~pend & q_bit(a))) report_small(fn, p, pend);
    return q_seg_of(p)->pagemap[(a & Q_SEG_MASK) >> Q_PAGE_SHIFT];
}

/* Frees a small block (the caller made sure p is in a quire segment). */
void q_small_free(void *p) {
    q_small_check("free", p);
    q_small_release(p);
}

/*
 * The free fast path's other way out: p is a live block of slab s - the fast path checked its
 * in-use and pending bits - that the calling thread cannot push on the fast path: another
 * thread's block (one CAS on the slab's thread_free), one of its own full slabs, or any block
 * under QUIRE_SECURE. No second validation, and no errno to save: nothing here makes a system
 * call but q_slab_emptied, which keeps errno itself.
 */
void q_free_other(void *p, struct q_slab *s, unsigned kind) {
    if (Q_UNLIKELY(q_opt.secure)) {
        q_secure_free_block(p, s, kind); /* keeps errno */
        return;
    }
    q_small_release(p);
}

/* Frees a small block validated by q_small_check. */
void q_small_release(void *p) {
    uintptr_t a = (uintptr_t)p;
    struct q_segment *seg = q_seg_of(p);
    struct q_slab *s = seg->pagemap[(a & Q_SEG_MASK) >> Q_PAGE_SHIFT];
    struct q_heap *h = q_tls_heap;
    int unsampled = 0;
    uint32_t ns = atomic_load_explicit(&s->sampled, Q_RELAXED);
    if (Q_UNLIKELY(ns != 0)) {
        /* One sampled block that is not p: nothing to forget (prof.c). */
        uintptr_t one = ns == 1 ? atomic_load_explicit(&s->prof_one, Q_RELAXED) : 0;
        if ((one == 0 || one == a) && q_prof_forget(p)) {
            uint32_t was = atomic_fetch_sub_explicit(&s->sampled, 1, Q_RELAXED);
            if (was > 1) atomic_store_explicit(&s->prof_one, 0, Q_RELAXED); /* which: unknown */
            unsampled = was == 1;
        }
    }
    _Atomic uint64_t *w = q_bits_word(a);
    uint64_t bit = q_bit(a);
    if (atomic_load_explicit(&seg->heap, memory_order_acquire) == h) {
        /* Our own block (a full slab, or the slab empties). */
        atomic_store_explicit(w, atomic_load_explicit(w, Q_RELAXED) & ~bit, Q_RELAXED);
        struct q_block *b = p;
        b->link = q_link_enc(b, s->local_free);
        s->local_free = b;
        s->used--;
        if (s->in_full) {
            unsigned cls = s->cls;
            sq_remove(&h->full[cls], s);
            s->in_full = 0;
            sq_push_back(&h->queue[cls], s);
            if (h->queue[cls].first == s) heap_set_cur(h, cls);
            atomic_store_explicit(&s->heap_fast, slab_fast(h, s), Q_RELAXED);
        } else if (unsampled || atomic_load_explicit(&s->heap_fast, Q_RELAXED) == 0)
            atomic_store_explicit(&s->heap_fast, slab_fast(h, s), Q_RELAXED); /* sampled no more */
        if (s->used == 0) q_slab_emptied(h, s);
        return;
    }
    /* Another thread's (or an abandoned) block: mark it pending, push it with one CAS. */
    uint64_t old = atomic_fetch_or_explicit(w + 1, bit, Q_RELAXED);
    if (old & bit) q_report_invalid("free", p, "double free (already freed by another thread)");
    struct q_block *b = p;
    uintptr_t tf = atomic_load_explicit(&s->thread_free, Q_RELAXED);
    do {
        b->link = q_link_enc(b, (void *)tf);
    } while (!atomic_compare_exchange_weak_explicit(&s->thread_free, &tf, a, memory_order_release,
                                                    Q_RELAXED));
    struct q_heap *owner = atomic_load_explicit(&seg->heap, Q_RELAXED);
    if (owner && !atomic_load_explicit(&owner->remote_hint, Q_RELAXED))
        atomic_store_explicit(&owner->remote_hint, 1, Q_RELAXED);
}

static const char *free_name(unsigned kind) {
    return kind == Q_KIND_MALLOC ? "free"
           : kind == Q_KIND_NEW  ? "operator delete"
                                 : "operator delete[]";
}

/* free keeps errno, whatever the munmap or madvise it makes says (POSIX.1-2024). */
void q_free_slow(void *p, unsigned kind) {
    uintptr_t a = (uintptr_t)p;
    if (!p) return;
    int saved = errno;
    if (Q_UNLIKELY(q_opt.secure))
        q_secure_free(free_name(kind), p, kind, 0, 0, Q_UNSIZED);
    else if ((a >> Q_ADDR_BITS) == 0 && q_segmap_has(a))
        q_small_free(p);
    else if (!q_large_free(free_name(kind), p, kind, 0, 0, Q_UNSIZED))
        q_report_invalid(free_name(kind), p, "pointer not allocated by quire");
    errno = saved;
}

/* The slot class an aligned request of `size` bytes gets (heap_alloc's choice), or
   Q_NCLASSES when it goes to the large-block path. */
static unsigned aligned_class(size_t size, size_t align) {
    size_t need = size > align ? size : align;
    if (align <= Q_GRANULE) return need <= Q_MEDIUM_MAX ? q_size_class(need) : Q_NCLASSES;
    if (align > Q_PAGE_SIZE || need > Q_MEDIUM_MAX) return Q_NCLASSES;
    if (align <= Q_SMALL_MAX && need <= Q_SMALL_MAX) /* alloc_aligned's rounding (api.c) */
        need = (need + align - 1) & ~(align - 1);
    for (unsigned c = q_size_class(need); c < Q_NCLASSES; c++)
        if ((q_class_size[c] & (align - 1)) == 0) return c;
    return Q_NCLASSES;
}

/*
 * Sized frees (C23 free_sized and free_aligned_sized, C++ sized delete): the size must be one
 * the block could have been allocated with. A small block: operator delete needs a size of
 * the block's class (operator new allocated it by that size); free_sized also accepts the
 * sizes realloc shrinks a block to in place (api.c fits_in_place: at least half the slot);
 * free_aligned_sized needs the class aligned_alloc chose. A large block records its request
 * and needs exactly it. Default mode; QUIRE_SECURE checks the exact size of every block.
 */
void q_free_sized_slow(const char *fn, void *p, unsigned kind, size_t size, size_t align,
                       unsigned how) {
    uintptr_t a = (uintptr_t)p;
    if (!p) return;
    if (how == Q_SIZED_ALIGNED && (align == 0 || (align & (align - 1)) != 0 || (a & (align - 1))))
        q_report_invalid(fn, p, "pointer not aligned as stated");
    if (Q_UNLIKELY(q_opt.secure)) {
        q_secure_free(fn, p, kind, size, align, how); /* keeps errno */
        return;
    }
    int saved = errno;
    if ((a >> Q_ADDR_BITS) == 0 && q_segmap_has(a)) {
        struct q_slab *s = q_small_check(fn, p);
        uint32_t slot = s->slot_size;
        int ok;
        if (how == Q_SIZED_ALIGNED)
            ok = aligned_class(size, align) == s->cls;
        else if (kind == Q_KIND_MALLOC)
            ok = size <= slot && (slot <= 128 || 2 * size >= slot);
        else
            ok = size - s->size_lo <= s->size_span;
        if (!ok) q_report_invalid(fn, p, "size does not match the block");
        q_small_free(p);
    } else if (!q_large_free(fn, p, kind, size, align, how)) {
        q_report_invalid(fn, p, "pointer not allocated by quire");
    }
    errno = saved;
}

size_t q_block_usable(const char *fn, const void *p) {
    uintptr_t a = (uintptr_t)p;
    if (Q_UNLIKELY(q_opt.secure)) return q_secure_usable(fn, p);
    if ((a >> Q_ADDR_BITS) == 0 && q_segmap_has(a)) return q_small_check(fn, p)->slot_size;
    size_t n = q_large_usable(p);
    if (!n) q_report_invalid(fn, p, "pointer not allocated by quire");
    return n;
}

int q_block_owned(const void *p) {
    uintptr_t a = (uintptr_t)p;
    if (!p) return 0;
    if (Q_UNLIKELY(q_opt.secure)) return q_secure_owns(p);
    if ((a >> Q_ADDR_BITS) == 0 && q_segmap_has(a)) {
        if (a & (Q_GRANULE - 1)) return 0;
        _Atomic uint64_t *w = q_bits_word(a);
        uint64_t in = atomic_load_explicit(w, Q_RELAXED);
        uint64_t pend = atomic_load_explicit(w + 1, Q_RELAXED);
        return (in & ~pend & q_bit(a)) != 0;
    }
    return q_large_usable(p) != 0;
}

/* ---------------------------------------------------------------------------------------------
 * Purge, collect, abandon
 * ------------------------------------------------------------------------------------------- */

int q_heap_purge(struct q_heap *h, uint64_t now, int force) {
    size_t total = 0;
    if (h != &q_heap_empty && h != &q_heap_dead) {
        if (force || (h->purge_ns && now >= h->purge_ns)) {
            /* Kept empty slabs had their grace period. */
            for (unsigned c = 0; c < Q_NCLASSES; c++) {
                struct q_slab *s = h->queue[c].first;
                if (s && s->kept) {
                    if (s->used == 0)
                        slab_release(h, s);
                    else
                        s->kept = 0;
                }
            }
            uint64_t next = 0;
            for (struct q_segment *seg = h->segs; seg; seg = seg->next) {
                total += q_segment_purge(seg, now, force);
                if (seg->purge_ns && (next == 0 || seg->purge_ns < next)) next = seg->purge_ns;
            }
            h->purge_ns = next;
        }
    }
    total += q_segment_cache_purge(now, force);
    total += q_large_trim(now, force);
    if (total) q_stats_note_resident();
    return total != 0;
}

void q_heap_collect(struct q_heap *h, int force) {
    (void)force;
    for (unsigned c = 0; c < Q_NCLASSES; c++) {
        struct q_slabq *lists[2] = {&h->queue[c], &h->full[c]};
        for (int l = 0; l < 2; l++) {
            struct q_slab *s = lists[l]->first;
            while (s) {
                struct q_slab *next = s->next;
                slab_collect(s);
                if (Q_UNLIKELY(q_prof_on)) q_prof_collect(s); /* (the others: q_prof_arm) */
                if (s->used == 0) slab_release(h, s);
                s = next;
            }
        }
    }
    Q_VALIDATE(q_heap_validate(h));
}

void q_heap_abandon(struct q_heap *h) {
    if (h->quar) q_secure_flush(h); /* its blocks become reusable before the heap goes */
    for (unsigned c = 0; c < Q_NCLASSES; c++)
        if (h->cur[c]->prof_rest) slab_unarm(h->cur[c]); /* whole free lists for the next owner */
    q_heap_collect(h, 1);
    struct q_segment *seg = h->segs;
    while (seg) {
        struct q_segment *next = seg->next;
        seg->next = seg->prev = NULL;
        if (seg->live_slabs == 0) {
            q_segment_release(seg);
        } else {
            for (unsigned i = Q_SEG_META_PAGES; i < Q_SEG_PAGES; i++) {
                struct q_slab *s = &seg->slabs[i];
                if (!s->npages) continue;
                atomic_store_explicit(&s->heap_fast, 0, Q_RELAXED);
                s->in_full = 0;
                s->kept = 0;
                s->next = s->prev = NULL;
            }
            /* Once abandoned, another thread may reclaim the segment at once: read what the
             * report needs before handing it over. */
            uint32_t live = seg->live_slabs;
            atomic_store_explicit(&seg->heap, NULL, memory_order_release);
            q_segment_abandon(seg);
            atomic_fetch_add_explicit(&q_gs.abandoned, 1, Q_RELAXED);
            q_verbose("abandoned a segment at thread exit", seg, live);
        }
        seg = next;
    }
    h->segs = NULL;
    /* The slabs belong to whoever reclaims their segments now: point at the empty slab
       without reading them (heap_set_cur would look at the old current slab). */
    for (unsigned c = 0; c < Q_NCLASSES; c++) {
        h->queue[c].first = h->queue[c].last = NULL;
        h->full[c].first = h->full[c].last = NULL;
        h->cur[c] = &q_slab_empty;
    }
    for (unsigned i = 0; i < Q_DIRECT_N; i++) h->direct[i] = &q_slab_empty;
}
