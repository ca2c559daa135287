/*
 * alloc/invariants.c - validators of the engine's invariants (internal.h's glossary), for
 * `make test-debug` (Q_DEBUG=2 runs them after the slow paths that change what they cover,
 * through Q_VALIDATE) and for tests, which call them in any build.
 *
 * Each returns NULL when its invariants hold, else a static sentence naming the first one that
 * does not. They read only what the calling thread owns - its heap, its slabs' owner fields, the
 * in-use bits it alone writes - and never walk a thread_free list, which other threads push to
 * while they run. They never allocate.
 */
#include "alloc/internal.h"

/* Walks one of s's lists: every link a threaded slot of s with its in-use bit clear. Adds the
   length to *n; a sentence when the list is bad. */
static const char *walk_list(const struct q_slab *s, const struct q_block *b, uint64_t *n) {
    uint64_t len = 0;
    for (; b; b = q_link_dec(b)) {
        uintptr_t off = (uintptr_t)b - (uintptr_t)s->start;
        if (off >= (uintptr_t)s->capacity * s->slot_size || off % s->slot_size != 0)
            return "a free list links outside its slab's threaded slots";
        if (atomic_load_explicit(q_bits_word((uintptr_t)b), Q_RELAXED) & q_bit((uintptr_t)b))
            return "a block on a free list is marked in use";
        if (++len > s->capacity) return "a free list is longer than the slab (a cycle)";
    }
    *n += len;
    return NULL;
}

/* The number of in-use bits over s's threaded slots. */
static uint64_t count_in_use(const struct q_slab *s) {
    uintptr_t lo = (uintptr_t)s->start, hi = lo + (uintptr_t)s->capacity * s->slot_size;
    uint64_t n = 0;
    for (uintptr_t a = lo & ~(uintptr_t)1023; a < hi; a += 1024) {
        uint64_t w = atomic_load_explicit(q_bits_word(a), Q_RELAXED);
        for (unsigned i = 0; i < 64; i++) {
            uintptr_t g = a + (uintptr_t)i * Q_GRANULE;
            if (g >= lo && g < hi && ((w >> i) & 1)) n++;
        }
    }
    return n;
}

const char *q_slab_validate(const struct q_slab *s) {
    const struct q_segment *seg = q_seg_of(s);
    if (s->npages == 0 || s->npages > Q_MAX_SLAB_PAGES) return "a live slab has no page run";
    if (s != &seg->slabs[s->page] || s->page < Q_SEG_META_PAGES ||
        s->page + s->npages > Q_SEG_PAGES)
        return "a slab's descriptor does not sit at its first page";
    for (unsigned i = 0; i < s->npages; i++)
        if (seg->pagemap[s->page + i] != s) return "the page map does not point at the slab";
    if ((seg->free_mask >> s->page) & 1) return "a slab's page is marked free";
    if (s->cls >= Q_NCLASSES || s->slot_size != q_class_size[s->cls])
        return "a slab's slot size is not its class's";
    if ((uint64_t)s->reserved * s->slot_size > (uint64_t)s->npages * Q_PAGE_SIZE)
        return "a slab reserves more slots than its pages hold";
    if (s->capacity > s->reserved) return "a slab threaded more slots than it reserves";
    if (s->used > s->capacity) return "a slab has more blocks in use than threaded";
    uint64_t listed = 0;
    const char *why = walk_list(s, s->free, &listed);
    if (!why) why = walk_list(s, s->local_free, &listed);
    uint64_t rest = 0;
    if (!why) why = walk_list(s, s->prof_rest, &rest);
    if (why) return why;
    if (s->prof_rest && rest != s->prof_rest_n) return "prof_rest_n is not prof_rest's length";
    if (listed + rest + s->used != s->capacity)
        return "capacity != used + |free| + |local_free| (+ prof_rest)";
    if (count_in_use(s) != s->used) return "a slab's in-use bits do not count its used blocks";
    uintptr_t fast = atomic_load_explicit(&s->heap_fast, Q_RELAXED);
    if (fast && (s->in_full || atomic_load_explicit(&s->sampled, Q_RELAXED) || q_opt.secure))
        return "heap_fast is set on a full, sampled or QUIRE_SECURE slab";
    return NULL;
}

/* A class list of h: links both ways, every slab of class c, in_full as the list says. */
static const char *check_list(const struct q_heap *h, const struct q_slabq *q, unsigned c,
                              int full) {
    const struct q_slab *prev = NULL;
    for (const struct q_slab *s = q->first; s; prev = s, s = s->next) {
        if (s->prev != prev) return "a slab list's back link is wrong";
        if (s->cls != c) return "a slab is on another class's list";
        if (s->in_full != full) return "in_full does not match the list the slab is on";
        if (atomic_load_explicit(&q_seg_of(s)->heap, Q_RELAXED) != h)
            return "a heap lists a slab of a segment it does not own";
        uintptr_t fast = atomic_load_explicit(&s->heap_fast, Q_RELAXED);
        if (fast && fast != h->tid) return "heap_fast names another thread";
        const char *why = q_slab_validate(s);
        if (why) return why;
    }
    if (q->last != prev) return "a slab list's last pointer is wrong";
    return NULL;
}

const char *q_heap_validate(const struct q_heap *h) {
    if (h == &q_heap_empty || h == &q_heap_dead) return NULL;
    for (unsigned c = 0; c < Q_NCLASSES; c++) {
        const char *why = check_list(h, &h->queue[c], c, 0);
        if (!why) why = check_list(h, &h->full[c], c, 1);
        if (why) return why;
        const struct q_slab *cur = h->queue[c].first ? h->queue[c].first : &q_slab_empty;
        if (h->cur[c] != cur) return "cur[] is not the class queue's first slab";
    }
    if (!q_opt.secure)
        for (unsigned i = 0; i < Q_DIRECT_N; i++)
            if (h->direct[i] != h->cur[q_size_class((size_t)i * Q_GRANULE)])
                return "direct[] does not point at its class's current slab";
    for (const struct q_segment *seg = h->segs; seg; seg = seg->next) {
        if (atomic_load_explicit(&seg->heap, Q_RELAXED) != h)
            return "a heap lists a segment owned by another";
        if (seg->free_mask & (((uint64_t)1 << Q_SEG_META_PAGES) - 1))
            return "a segment's metadata pages are marked free";
        uint32_t slabs = 0;
        for (unsigned i = Q_SEG_META_PAGES; i < Q_SEG_PAGES; i++) {
            int is_free = (int)((seg->free_mask >> i) & 1);
            if (is_free == (seg->pagemap[i] != NULL))
                return "a page is both free and in a slab (or neither)";
            if (seg->slabs[i].npages) slabs++;
        }
        if (slabs != seg->live_slabs) return "live_slabs does not count the segment's slabs";
        if (seg->dirty_mask & ~seg->free_mask) return "a page in use is marked dirty-free";
    }
    return NULL;
}
