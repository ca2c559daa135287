/*
 * alloc/stats.c - statistics: global counters of mappings and purges, per-heap allocation
 * counters, and the summary QUIRE_STATS=1 prints at exit (also quire_malloc_stats()).
 *
 * The fast path only bumps the calling heap's per-class counter (a plain add, no atomic). The
 * figures of running threads are read here without stopping them: those reads are deliberately
 * racy (they may lag by a few allocations), so the reading functions are excluded from
 * ThreadSanitizer instrumentation. Live blocks are counted from the slabs' `used` fields, under
 * the segment lock so no segment disappears during the walk.
 */
#include <string.h>

#include "alloc/internal.h"

_Static_assert(Q_NCLASSES <= QUIRE_ALLOC_NCLASSES,
               "struct quire_alloc_stats has no room for every size class");

struct q_gstats q_gs;

void q_stats_note_mapped(int64_t delta) {
    uint64_t m =
        atomic_fetch_add_explicit(&q_gs.mapped, (uint64_t)delta, Q_RELAXED) + (uint64_t)delta;
    uint64_t peak = atomic_load_explicit(&q_gs.peak_mapped, Q_RELAXED);
    while (m > peak && !atomic_compare_exchange_weak_explicit(&q_gs.peak_mapped, &peak, m,
                                                              Q_RELAXED, Q_RELAXED)) {}
}

void q_stats_note_resident(void) {
    size_t peak = 0;
    if (q_os_peak_rss(&peak) != 0) return;
    uint64_t cur = atomic_load_explicit(&q_gs.peak_resident, Q_RELAXED);
    while (peak > cur && !atomic_compare_exchange_weak_explicit(&q_gs.peak_resident, &cur, peak,
                                                                Q_RELAXED, Q_RELAXED)) {}
}

__attribute__((no_sanitize("thread"))) static void sum_heap(const struct q_heap *h,
                                                            struct quire_alloc_stats *out) {
    for (unsigned c = 0; c < Q_NCLASSES; c++) out->class_allocs[c] += h->nalloc[c];
}

__attribute__((no_sanitize("thread"))) static void sum_segment(const struct q_segment *seg,
                                                               struct quire_alloc_stats *out) {
    for (unsigned i = Q_SEG_META_PAGES; i < Q_SEG_PAGES; i++) {
        const struct q_slab *s = &seg->slabs[i];
        unsigned cls = s->cls;
        if (s->npages && cls < Q_NCLASSES) {
            out->class_live[cls] += s->used;
            out->class_allocs[cls] += s->nalloc;
        }
    }
}

QUIRE_API int quire_alloc_stats_get(struct quire_alloc_stats *out) {
    if (!out) return QUIRE_EINVAL;
    memset(out, 0, sizeof *out);
    q_process_init();
    out->nclasses = Q_NCLASSES;
    for (unsigned c = 0; c < Q_NCLASSES; c++) {
        out->class_size[c] = q_class_size[c];
        out->class_allocs[c] = atomic_load_explicit(&q_gs.retired_nalloc[c], Q_RELAXED);
    }
    uint64_t held[Q_NCLASSES] = {0}; /* QUIRE_SECURE: freed, in quarantine, counted as used */
    q_lock(&q_heap_lock);
    for (struct q_heap *h = q_heap_registry; h; h = h->reg_next) {
        if (!h->live) continue;
        sum_heap(h, out);
        q_secure_held(h, held);
    }
    sum_heap(&q_shared_heap, out);
    q_lock(&q_seg_lock);
    for (struct q_segment *seg = q_seg_all; seg; seg = seg->all_next) sum_segment(seg, out);
    q_unlock(&q_seg_lock);
    q_unlock(&q_heap_lock);
    for (unsigned c = 0; c < Q_NCLASSES; c++)
        out->class_live[c] -= held[c] < out->class_live[c] ? held[c] : out->class_live[c];
    for (unsigned c = 0; c < Q_NCLASSES; c++) {
        out->allocs += out->class_allocs[c];
        out->live_blocks += out->class_live[c];
        out->bytes_allocated += out->class_allocs[c] * q_class_size[c];
        out->live_bytes += out->class_live[c] * q_class_size[c];
    }
    out->large_allocs = atomic_load_explicit(&q_gs.large_allocs, Q_RELAXED);
    out->large_blocks = atomic_load_explicit(&q_gs.large_blocks, Q_RELAXED);
    out->allocs += out->large_allocs;
    out->live_blocks += out->large_blocks;
    out->bytes_allocated += atomic_load_explicit(&q_gs.large_alloc_bytes, Q_RELAXED);
    out->live_bytes += atomic_load_explicit(&q_gs.large_bytes, Q_RELAXED);
    out->frees = out->allocs >= out->live_blocks ? out->allocs - out->live_blocks : 0;
    out->mapped_bytes = atomic_load_explicit(&q_gs.mapped, Q_RELAXED);
    out->peak_mapped_bytes = atomic_load_explicit(&q_gs.peak_mapped, Q_RELAXED);
    size_t res = 0;
    q_os_rss(&res, NULL);
    out->resident_bytes = res;
    q_stats_note_resident();
    out->peak_resident_bytes = atomic_load_explicit(&q_gs.peak_resident, Q_RELAXED);
    if (out->peak_resident_bytes < res) out->peak_resident_bytes = res;
    out->segments = atomic_load_explicit(&q_gs.segments, Q_RELAXED);
    out->mappings = atomic_load_explicit(&q_gs.mappings, Q_RELAXED);
    out->unmappings = atomic_load_explicit(&q_gs.unmappings, Q_RELAXED);
    out->purges = atomic_load_explicit(&q_gs.purges, Q_RELAXED);
    out->purged_bytes = atomic_load_explicit(&q_gs.purged_bytes, Q_RELAXED);
    out->remaps = atomic_load_explicit(&q_gs.remaps, Q_RELAXED);
    out->threads = atomic_load_explicit(&q_gs.threads, Q_RELAXED);
    out->abandoned = atomic_load_explicit(&q_gs.abandoned, Q_RELAXED);
    out->reclaimed = atomic_load_explicit(&q_gs.reclaimed, Q_RELAXED);
    return 0;
}

/* Appends "name value" pairs to a line buffer. */
static void put(char *buf, size_t *n, const char *name, uint64_t v) {
    q_write_str(buf, n, name);
    q_write_dec(buf, n, v);
}

static void put_pad(char *buf, size_t *n, uint64_t v, size_t width) {
    char tmp[32];
    size_t t = 0;
    q_write_dec(tmp, &t, v);
    while (t < width && *n < 255) {
        buf[(*n)++] = ' ';
        width--;
    }
    for (size_t i = 0; i < t && *n < 255; i++) buf[(*n)++] = tmp[i];
}

static void line(char *buf, size_t n) {
    buf[n < 255 ? n : 255] = '\n';
    q_os_write_all(q_opt.stats_fd, buf, (n < 255 ? n : 255) + 1);
}

void q_stats_print(void) {
    struct quire_alloc_stats st;
    char buf[256];
    size_t n = 0;
    quire_alloc_stats_get(&st);
    /* Which process: a build or a shell script starts many, each with its own report. */
    char name[64];
    q_write_str(buf, &n, "quire: malloc statistics of ");
    q_write_str(buf, &n, q_os_program_name(name, sizeof name) == 0 ? name : "?");
    q_write_str(buf, &n, " (pid ");
    q_write_dec(buf, &n, (uint64_t)q_os_getpid());
    q_write_str(buf, &n, ", parent ");
    q_write_dec(buf, &n, (uint64_t)q_os_getppid());
    q_write_str(buf, &n, ")");
    line(buf, n);
    n = 0;
    q_write_str(buf, &n, "  class       size        allocs      bytes allocated          live");
    line(buf, n);
    for (unsigned c = 0; c < st.nclasses; c++) {
        if (!st.class_allocs[c] && !st.class_live[c]) continue;
        n = 0;
        put_pad(buf, &n, c, 7);
        put_pad(buf, &n, st.class_size[c], 11);
        put_pad(buf, &n, st.class_allocs[c], 14);
        put_pad(buf, &n, st.class_allocs[c] * st.class_size[c], 21);
        put_pad(buf, &n, st.class_live[c], 14);
        line(buf, n);
    }
    n = 0;
    q_write_str(buf, &n, "  large          -");
    put_pad(buf, &n, st.large_allocs, 14);
    put_pad(buf, &n, atomic_load_explicit(&q_gs.large_alloc_bytes, Q_RELAXED), 21);
    put_pad(buf, &n, st.large_blocks, 14);
    line(buf, n);
    n = 0;
    put(buf, &n, "  allocs ", st.allocs);
    put(buf, &n, ", frees ", st.frees);
    put(buf, &n, ", live blocks ", st.live_blocks);
    put(buf, &n, ", live bytes ", st.live_bytes);
    put(buf, &n, ", bytes allocated ", st.bytes_allocated);
    line(buf, n);
    n = 0;
    put(buf, &n, "  mapped ", st.mapped_bytes);
    put(buf, &n, " (peak ", st.peak_mapped_bytes);
    put(buf, &n, "), resident ", st.resident_bytes);
    put(buf, &n, " (peak ", st.peak_resident_bytes);
    put(buf, &n, "), segments ", st.segments);
    put(buf, &n, ", large blocks ", st.large_blocks);
    line(buf, n);
    n = 0;
    put(buf, &n, "  mmap calls ", st.mappings);
    put(buf, &n, ", munmap calls ", st.unmappings);
    put(buf, &n, ", mremap calls ", st.remaps);
    put(buf, &n, ", purges ", st.purges);
    put(buf, &n, " (", st.purged_bytes);
    put(buf, &n, " bytes), threads ", st.threads);
    put(buf, &n, ", abandoned ", st.abandoned);
    put(buf, &n, ", reclaimed ", st.reclaimed);
    line(buf, n);
}
