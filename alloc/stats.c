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
#include <fcntl.h>
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

/* ---------------------------------------------------------------------------------------------
 * Per-thread figures
 * ------------------------------------------------------------------------------------------- */

/* Adds the slabs of segment seg to the entry of its owner heap in out (racy, as sum_segment). */
__attribute__((no_sanitize("thread"))) static void
heap_segment(const struct q_segment *seg, const struct q_heap *const *hs,
             struct quire_alloc_thread_stats *out, size_t n) {
    const struct q_heap *owner = atomic_load_explicit(&seg->heap, Q_RELAXED);
    for (size_t k = 0; k < n; k++) {
        if (hs[k] != owner) continue;
        for (unsigned i = Q_SEG_META_PAGES; i < Q_SEG_PAGES; i++) {
            const struct q_slab *s = &seg->slabs[i];
            if (!s->npages || s->cls >= Q_NCLASSES) continue;
            out[k].allocs += s->nalloc;
            out[k].live_blocks += s->used;
            out[k].live_bytes += (uint64_t)s->used * s->slot_size;
        }
        return;
    }
}

__attribute__((no_sanitize("thread"))) static uint64_t heap_allocs(const struct q_heap *h) {
    uint64_t a = 0;
    for (unsigned c = 0; c < Q_NCLASSES; c++) a += h->nalloc[c];
    return a;
}

QUIRE_API int quire_alloc_thread_stats_get(struct quire_alloc_thread_stats *out, size_t cap,
                                           size_t *count) {
    if (!count || (cap && !out)) return QUIRE_EINVAL;
    enum { MAXH = 256 };
    const struct q_heap *hs[MAXH];
    size_t n = 0, live = 0;
    q_process_init();
    q_lock(&q_heap_lock);
    for (struct q_heap *h = q_heap_registry; h; h = h->reg_next) {
        if (!h->live) continue;
        if (n < cap && n < MAXH) {
            hs[n] = h;
            memset(&out[n], 0, sizeof out[n]);
            out[n].tid = h->ktid;
            out[n].allocs = heap_allocs(h);
            n++;
        }
        live++;
    }
    q_lock(&q_seg_lock);
    for (struct q_segment *seg = q_seg_all; seg; seg = seg->all_next) heap_segment(seg, hs, out, n);
    q_unlock(&q_seg_lock);
    q_unlock(&q_heap_lock);
    *count = live;
    return live > cap ? QUIRE_ERANGE : 0;
}

/* ---------------------------------------------------------------------------------------------
 * The report (QUIRE_STATS / stats=text|json, quire_malloc_stats), written without allocating
 * ------------------------------------------------------------------------------------------- */

/* A small buffered writer on a descriptor, or on a sink function. */
struct out {
    int fd;
    void (*sink)(void *ctx, const char *p, size_t n);
    void *ctx;
    size_t n;
    char buf[2048];
};

static void o_flush(struct out *o) {
    if (o->sink)
        o->sink(o->ctx, o->buf, o->n);
    else
        q_os_write_all(o->fd, o->buf, o->n);
    o->n = 0;
}

static void o_str(struct out *o, const char *s) {
    for (; *s; s++) {
        if (o->n == sizeof o->buf) o_flush(o);
        o->buf[o->n++] = *s;
    }
}

static void o_dec(struct out *o, uint64_t v) {
    char tmp[24];
    size_t t = 0;
    q_write_dec(tmp, &t, v);
    tmp[t] = 0;
    o_str(o, tmp);
}

/* v right-aligned in `width` columns. */
static void o_pad(struct out *o, uint64_t v, size_t width) {
    char tmp[24];
    size_t t = 0;
    q_write_dec(tmp, &t, v);
    tmp[t] = 0;
    for (; t < width; width--) o_str(o, " ");
    o_str(o, tmp);
}

/* A JSON string: the program name may hold anything. */
static void o_json_str(struct out *o, const char *s) {
    o_str(o, "\"");
    for (; *s; s++) {
        char c[7] = {*s, 0};
        if (*s == '"' || *s == '\\')
            c[0] = '\\', c[1] = *s, c[2] = 0;
        else if ((unsigned char)*s < 0x20) {
            const char *hex = "0123456789abcdef";
            c[0] = '\\', c[1] = 'u', c[2] = '0', c[3] = '0', c[4] = hex[(*s >> 4) & 15],
            c[5] = hex[*s & 15], c[6] = 0;
        }
        o_str(o, c);
    }
    o_str(o, "\"");
}

static void o_field(struct out *o, const char *name, uint64_t v, int comma) {
    o_str(o, comma ? ", \"" : "\"");
    o_str(o, name);
    o_str(o, "\": ");
    o_dec(o, v);
}

/* Expands stats_file's %p (pid), %n (program) and %% into path; 0 when it does not fit. */
static int expand_path(const char *pat, char *path, size_t cap, const char *prog) {
    size_t n = 0;
    for (const char *p = pat; *p; p++) {
        char tmp[64];
        size_t t = 0;
        if (p[0] == '%' && p[1] == 'p') {
            q_write_dec(tmp, &t, (uint64_t)q_os_getpid());
            p++;
        } else if (p[0] == '%' && p[1] == 'n') {
            q_write_str(tmp, &t, prog);
            p++;
        } else if (p[0] == '%' && p[1] == '%') {
            tmp[t++] = '%';
            p++;
        } else {
            tmp[t++] = *p;
        }
        if (n + t >= cap) return 0;
        memcpy(path + n, tmp, t);
        n += t;
    }
    path[n] = 0;
    return 1;
}

static void report_text(struct out *o, const struct quire_alloc_stats *st, const char *prog,
                        const struct quire_alloc_thread_stats *th, size_t nth) {
    /* Which process: a build or a shell script starts many, each with its own report. */
    o_str(o, "quire: malloc statistics of ");
    o_str(o, prog);
    o_str(o, " (pid ");
    o_dec(o, (uint64_t)q_os_getpid());
    o_str(o, ", parent ");
    o_dec(o, (uint64_t)q_os_getppid());
    o_str(o, ")\n  class       size        allocs      bytes allocated          live\n");
    for (unsigned c = 0; c < st->nclasses; c++) {
        if (!st->class_allocs[c] && !st->class_live[c]) continue;
        o_pad(o, c, 7);
        o_pad(o, st->class_size[c], 11);
        o_pad(o, st->class_allocs[c], 14);
        o_pad(o, st->class_allocs[c] * st->class_size[c], 21);
        o_pad(o, st->class_live[c], 14);
        o_str(o, "\n");
    }
    o_str(o, "  large          -");
    o_pad(o, st->large_allocs, 14);
    o_pad(o, atomic_load_explicit(&q_gs.large_alloc_bytes, Q_RELAXED), 21);
    o_pad(o, st->large_blocks, 14);
    o_str(o, "\n  allocs ");
    o_dec(o, st->allocs);
    o_str(o, ", frees ");
    o_dec(o, st->frees);
    o_str(o, ", live blocks ");
    o_dec(o, st->live_blocks);
    o_str(o, ", live bytes ");
    o_dec(o, st->live_bytes);
    o_str(o, ", bytes allocated ");
    o_dec(o, st->bytes_allocated);
    o_str(o, "\n  mapped ");
    o_dec(o, st->mapped_bytes);
    o_str(o, " (peak ");
    o_dec(o, st->peak_mapped_bytes);
    o_str(o, "), resident ");
    o_dec(o, st->resident_bytes);
    o_str(o, " (peak ");
    o_dec(o, st->peak_resident_bytes);
    o_str(o, "), segments ");
    o_dec(o, st->segments);
    o_str(o, ", large blocks ");
    o_dec(o, st->large_blocks);
    o_str(o, "\n  mmap calls ");
    o_dec(o, st->mappings);
    o_str(o, ", munmap calls ");
    o_dec(o, st->unmappings);
    o_str(o, ", mremap calls ");
    o_dec(o, st->remaps);
    o_str(o, ", purges ");
    o_dec(o, st->purges);
    o_str(o, " (");
    o_dec(o, st->purged_bytes);
    o_str(o, " bytes), threads ");
    o_dec(o, st->threads);
    o_str(o, ", abandoned ");
    o_dec(o, st->abandoned);
    o_str(o, ", reclaimed ");
    o_dec(o, st->reclaimed);
    o_str(o, "\n");
    for (size_t k = 0; k < nth; k++) {
        o_str(o, "  thread ");
        o_dec(o, th[k].tid);
        o_str(o, ": allocs ");
        o_dec(o, th[k].allocs);
        o_str(o, ", live blocks ");
        o_dec(o, th[k].live_blocks);
        o_str(o, " (");
        o_dec(o, th[k].live_bytes);
        o_str(o, " bytes in slabs)\n");
    }
}

static void report_json(struct out *o, const struct quire_alloc_stats *st, const char *prog,
                        const struct quire_alloc_thread_stats *th, size_t nth) {
    o_str(o, "{\"quire\": \"" QUIRE_VERSION_STRING "\", \"program\": ");
    o_json_str(o, prog);
    o_field(o, "pid", (uint64_t)q_os_getpid(), 1);
    o_field(o, "ppid", (uint64_t)q_os_getppid(), 1);
    o_field(o, "allocs", st->allocs, 1);
    o_field(o, "frees", st->frees, 1);
    o_field(o, "live_blocks", st->live_blocks, 1);
    o_field(o, "live_bytes", st->live_bytes, 1);
    o_field(o, "bytes_allocated", st->bytes_allocated, 1);
    o_field(o, "mapped_bytes", st->mapped_bytes, 1);
    o_field(o, "peak_mapped_bytes", st->peak_mapped_bytes, 1);
    o_field(o, "resident_bytes", st->resident_bytes, 1);
    o_field(o, "peak_resident_bytes", st->peak_resident_bytes, 1);
    o_field(o, "segments", st->segments, 1);
    o_field(o, "large_blocks", st->large_blocks, 1);
    o_field(o, "large_allocs", st->large_allocs, 1);
    o_field(o, "large_bytes_allocated", atomic_load_explicit(&q_gs.large_alloc_bytes, Q_RELAXED),
            1);
    o_field(o, "mappings", st->mappings, 1);
    o_field(o, "unmappings", st->unmappings, 1);
    o_field(o, "remaps", st->remaps, 1);
    o_field(o, "purges", st->purges, 1);
    o_field(o, "purged_bytes", st->purged_bytes, 1);
    o_field(o, "threads", st->threads, 1);
    o_field(o, "abandoned", st->abandoned, 1);
    o_field(o, "reclaimed", st->reclaimed, 1);
    o_str(o, ",\n \"classes\": [");
    int first = 1;
    for (unsigned c = 0; c < st->nclasses; c++) {
        if (!st->class_allocs[c] && !st->class_live[c]) continue;
        o_str(o, first ? "\n  {" : ",\n  {");
        first = 0;
        o_field(o, "class", c, 0);
        o_field(o, "size", st->class_size[c], 1);
        o_field(o, "allocs", st->class_allocs[c], 1);
        o_field(o, "bytes_allocated", st->class_allocs[c] * st->class_size[c], 1);
        o_field(o, "live", st->class_live[c], 1);
        o_str(o, "}");
    }
    o_str(o, "],\n \"thread_heaps\": [");
    for (size_t k = 0; k < nth; k++) {
        o_str(o, k ? ",\n  {" : "\n  {");
        o_field(o, "tid", th[k].tid, 0);
        o_field(o, "allocs", th[k].allocs, 1);
        o_field(o, "live_blocks", th[k].live_blocks, 1);
        o_field(o, "live_bytes", th[k].live_bytes, 1);
        o_str(o, "}");
    }
    o_str(o, "]}\n");
}

/*
 * malloc_info's XML, in glibc's shape: one <heap> (quire's figures are process-wide) whose
 * <sizes> list the live blocks of each size class (glibc lists its free chunks: quire keeps no
 * count of free slots that would mean the same), totals, and the mapped address space.
 */
void q_stats_xml(int fd, void (*sink)(void *ctx, const char *p, size_t n), void *ctx) {
    struct quire_alloc_stats st;
    quire_alloc_stats_get(&st);
    struct out o = {.fd = fd, .sink = sink, .ctx = ctx};
    o_str(&o, "<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n");
    uint32_t lo = 1;
    for (unsigned c = 0; c < st.nclasses; c++) {
        uint32_t hi = st.class_size[c];
        if (st.class_live[c]) {
            o_str(&o, "  <size from=\"");
            o_dec(&o, lo);
            o_str(&o, "\" to=\"");
            o_dec(&o, hi);
            o_str(&o, "\" total=\"");
            o_dec(&o, st.class_live[c] * hi);
            o_str(&o, "\" count=\"");
            o_dec(&o, st.class_live[c]);
            o_str(&o, "\"/>\n");
        }
        lo = hi + 1;
    }
    uint64_t large_bytes = atomic_load_explicit(&q_gs.large_bytes, Q_RELAXED);
    uint64_t small_bytes = st.live_bytes > large_bytes ? st.live_bytes - large_bytes : 0;
    uint64_t small_count = st.live_blocks - st.large_blocks;
    const char *scopes[2] = {"</sizes>\n", "</heap>\n"};
    for (int k = 0; k < 2; k++) {
        o_str(&o, scopes[k]);
        o_str(&o, "<total type=\"fast\" count=\"0\" size=\"0\"/>\n<total type=\"rest\" count=\"");
        o_dec(&o, small_count);
        o_str(&o, "\" size=\"");
        o_dec(&o, small_bytes);
        if (k == 1) {
            o_str(&o, "\"/>\n<total type=\"mmap\" count=\"");
            o_dec(&o, st.large_blocks);
            o_str(&o, "\" size=\"");
            o_dec(&o, large_bytes);
        }
        o_str(&o, "\"/>\n<system type=\"current\" size=\"");
        o_dec(&o, st.mapped_bytes);
        o_str(&o, "\"/>\n<system type=\"max\" size=\"");
        o_dec(&o, st.peak_mapped_bytes);
        o_str(&o, "\"/>\n<aspace type=\"total\" size=\"");
        o_dec(&o, st.mapped_bytes);
        o_str(&o, "\"/>\n<aspace type=\"mprotect\" size=\"");
        o_dec(&o, st.mapped_bytes);
        o_str(&o, "\"/>\n");
    }
    o_str(&o, "</malloc>\n");
    o_flush(&o);
}

void q_stats_print(void) {
    struct quire_alloc_stats st;
    struct quire_alloc_thread_stats th[16];
    size_t nth = 0;
    quire_alloc_stats_get(&st);
    quire_alloc_thread_stats_get(th, sizeof th / sizeof th[0], &nth);
    if (nth > sizeof th / sizeof th[0]) nth = sizeof th / sizeof th[0];
    char prog[64];
    if (q_os_program_name(prog, sizeof prog) != 0) memcpy(prog, "?", 2);
    struct out o = {.fd = q_opt.stats_fd};
    int opened = 0;
    if (q_opt.stats_file[0]) {
        char path[512] = "";
        int fd;
        if (!expand_path(q_opt.stats_file, path, sizeof path, prog) ||
            q_os_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644, &fd) != 0) {
            o_str(&o, "quire: stats_file: cannot write ");
            o_str(&o, path[0] ? path : q_opt.stats_file);
            o_str(&o, "; the report follows here\n");
        } else {
            o.fd = fd;
            opened = 1;
        }
    }
    if (q_opt.stats == 2)
        report_json(&o, &st, prog, th, nth);
    else
        report_text(&o, &st, prog, th, nth);
    o_flush(&o);
    if (opened) q_os_close(o.fd);
}
