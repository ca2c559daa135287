/*
 * bench/workloads/rptest.c - rpmalloc's benchmark (rptestN).
 *
 * Source: Mattias Jansson's rpmalloc-benchmark, as mimalloc-bench runs it (with the allocated
 * memory touched): `rptest N 0 1 2 500 1000 100 8 16000` - N = nproc threads, random sizes
 * (mode 0) with a linear drop-off (size mode 1: small sizes most frequent), a cross-thread hand-
 * over every 2nd loop, 500 loops per pass, 1000 live slots per thread, 100 operations per loop,
 * sizes 8-16000 bytes. Written from the benchmark's documented parameters and behaviour; no code
 * or tables of the original (its fixed tables of random numbers are drawn here from a PRNG).
 *
 * Each thread owns `allocs` slots. One loop: free about 0.8 x ops x (31-99%) slots, stepping
 * through the slots with a prime stride; free every batch other threads handed to it; allocate
 * about ops x (31-99%) blocks into slots stepped with another prime stride (freeing what was
 * there), writing the first word, one byte per 4 KiB page and the last byte of each (so the
 * pages are really committed); and every `cross`-th loop allocate one more such batch of blocks
 * and hand it - through a lock-free inbox - to another thread (round robin), which frees them.
 * At the end of a pass all threads meet, drain their inboxes and free everything. The original
 * makes 2 passes of 500 loops, sleeps between phases and reports operations per second of busy
 * time; here `passes` scales the work to about a second and nothing sleeps (the runner measures
 * wall time). Unlike the original, threads hand over batches until the end of each pass (it
 * stops as soon as one thread finishes: a timing-dependent amount of work).
 *
 * Every block is stamped and checked before it is freed. verify: blocks allocated and the sum
 * of their tags.
 */
#include "wl.h"
#include <stdatomic.h>

typedef struct xbatch {
    struct xbatch *next; /* inbox link */
    uint64_t n;          /* blocks */
    char **p;            /* the blocks (a separate allocation, as in the original) */
    uint32_t *size;      /* their sizes */
    uint64_t *tag;       /* their stamps */
} xbatch;

typedef struct {
    _Atomic(xbatch *) inbox; /* batches handed to this thread */
    uint64_t idx;            /* thread index */
    uint64_t sum;            /* sum of wl_mix(tag ^ size) over blocks this thread freed */
    uint64_t allocated;      /* blocks this thread allocated */
    char pad[64];            /* keep threads apart */
} thr;

static uint64_t g_threads, g_passes, g_cross, g_loops, g_allocs, g_ops, g_min, g_max, g_seed;
static uint64_t g_alloc_step, g_free_step;
static thr *g_thr;
static pthread_barrier_t g_barrier;

/* Linear drop-off: min + range x u x |1 - u1 - u2| (u, u1, u2 uniform in [0, 1)). */
static uint32_t rand_size(wl_rng *r) {
    double u = (double)(wl_next(r) >> 11) * 0x1p-53, u1 = (double)(wl_next(r) >> 11) * 0x1p-53,
           u2 = (double)(wl_next(r) >> 11) * 0x1p-53, d = 1.0 - u1 - u2;
    return (uint32_t)(g_min + (uint64_t)((double)(g_max - g_min) * u * (d < 0 ? -d : d)));
}

static char *make(uint32_t size, uint64_t tag) {
    char *p = (char *)wl_xmalloc(size);
    for (uint64_t off = 4096; off + 1 < size; off += 4096) p[off] = 1; /* commit each page */
    p[size - 1] = 1;
    wl_stamp(p, size, tag);
    return p;
}

static uint64_t release(char *p, uint32_t size, uint64_t tag) {
    if (!wl_check(p, size, tag)) wl_fail("rptest: block %p (size %u) was overwritten", p, size);
    free(p);
    return wl_mix(tag ^ size);
}

static void drain(thr *me) {
    xbatch *b = atomic_exchange(&me->inbox, NULL);
    while (b) {
        xbatch *next = b->next;
        for (uint64_t i = 0; i < b->n; i++) me->sum += release(b->p[i], b->size[i], b->tag[i]);
        free(b->p);
        free(b->size);
        free(b->tag);
        free(b);
        b = next;
    }
}

static void *worker(void *arg) {
    thr *me = (thr *)arg;
    char **p = (char **)calloc(g_allocs, sizeof *p);
    uint32_t *size = (uint32_t *)wl_xmalloc(g_allocs * sizeof *size);
    uint64_t *tag = (uint64_t *)wl_xmalloc(g_allocs * sizeof *tag);
    if (!p) wl_fail("rptest: calloc failed");
    uint64_t seq = 0, target = me->idx;
    for (uint64_t pass = 0; pass < g_passes; pass++) {
        wl_rng r = wl_rng_make(g_seed, me->idx, pass);
        uint64_t ai = wl_below(&r, g_allocs), fi = wl_below(&r, g_allocs);
        for (uint64_t loop = 0; loop < g_loops; loop++) {
            uint64_t nfree = (uint64_t)(0.8 * (double)g_ops * (double)wl_range(&r, 31, 99) / 100);
            uint64_t nalloc = g_ops * wl_range(&r, 31, 99) / 100;
            for (uint64_t k = 0; k < nfree; k++) {
                if (p[fi]) me->sum += release(p[fi], size[fi], tag[fi]), p[fi] = NULL;
                fi = (fi + g_free_step) % g_allocs;
            }
            drain(me);
            for (uint64_t k = 0; k < nalloc; k++) {
                if (p[ai]) me->sum += release(p[ai], size[ai], tag[ai]);
                size[ai] = rand_size(&r);
                tag[ai] = wl_mix(me->idx << 44 ^ seq++);
                p[ai] = make(size[ai], tag[ai]);
                ai = (ai + g_alloc_step) % g_allocs;
            }
            if (g_cross && g_threads > 1 && loop % g_cross == 0) {
                xbatch *b = (xbatch *)wl_xmalloc(sizeof *b);
                b->n = nalloc;
                b->p = (char **)wl_xmalloc((nalloc + 1) * sizeof *b->p);
                b->size = (uint32_t *)wl_xmalloc((nalloc + 1) * sizeof *b->size);
                b->tag = (uint64_t *)wl_xmalloc((nalloc + 1) * sizeof *b->tag);
                for (uint64_t k = 0; k < nalloc; k++) {
                    b->size[k] = rand_size(&r);
                    b->tag[k] = wl_mix(me->idx << 44 ^ seq++);
                    b->p[k] = make(b->size[k], b->tag[k]);
                }
                target = (target + 1) % g_threads;
                if (target == me->idx) target = (target + 1) % g_threads;
                thr *to = &g_thr[target];
                b->next = atomic_load(&to->inbox);
                while (!atomic_compare_exchange_weak(&to->inbox, &b->next, b)) {}
            }
        }
        pthread_barrier_wait(&g_barrier); /* nobody hands over any more in this pass */
        drain(me);
        for (uint64_t i = 0; i < g_allocs; i++)
            if (p[i]) me->sum += release(p[i], size[i], tag[i]), p[i] = NULL;
        pthread_barrier_wait(&g_barrier);
    }
    free(p);
    free(size);
    free(tag);
    me->allocated = seq;
    return NULL;
}

static uint64_t coprime_step(uint64_t n, uint64_t from) {
    static const uint64_t primes[] = {7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47};
    for (size_t i = 0; i < sizeof primes / sizeof primes[0]; i++)
        if (primes[i] >= from && n % primes[i]) return primes[i];
    return 1;
}

int main(int argc, char **argv) {
    wl_opt o[] = {
        {"threads", 2, "threads (mimalloc-bench: nproc)"},
        {"passes", 2, "passes of `loops` loops (the original: 2)"},
        {"cross", 2, "hand a batch to another thread every n-th loop (0: never)"},
        {"loops", 500, "loops per pass"},
        {"allocs", 1000, "live slots per thread"},
        {"ops", 100, "operations per loop"},
        {"min", 8, "smallest block"},
        {"max", 16000, "largest block"},
        {"seed", 42, "PRNG seed"},
    };
    wl_parse(argc, argv, o, sizeof o / sizeof o[0], "rpmalloc's benchmark (rptest)");
    g_threads = o[0].val, g_passes = o[1].val, g_cross = o[2].val, g_loops = o[3].val;
    g_allocs = o[4].val, g_ops = o[5].val, g_min = o[6].val, g_max = o[7].val, g_seed = o[8].val;
    if (!g_threads || g_threads > 1024 || !g_allocs || g_min < 8 || g_max < g_min ||
        g_max > (1u << 30))
        wl_fail("rptest: bad parameters");
    g_alloc_step = coprime_step(g_allocs, 7);
    g_free_step = coprime_step(g_allocs, g_alloc_step + 1);
    g_thr = (thr *)wl_xmalloc(g_threads * sizeof *g_thr);
    for (uint64_t t = 0; t < g_threads; t++) {
        atomic_init(&g_thr[t].inbox, NULL);
        g_thr[t].idx = t, g_thr[t].sum = 0, g_thr[t].allocated = 0;
    }
    pthread_barrier_init(&g_barrier, NULL, (unsigned)g_threads);
    wl_run_threads(g_threads, worker, g_thr, sizeof *g_thr);
    pthread_barrier_destroy(&g_barrier);
    uint64_t sum = 0, count = 0;
    for (uint64_t t = 0; t < g_threads; t++) sum += g_thr[t].sum, count += g_thr[t].allocated;
    free(g_thr);
    wl_verify("rptest", "threads=%llu blocks=%llu sum=%016llx", (unsigned long long)g_threads,
              (unsigned long long)count, (unsigned long long)sum);
    return 0;
}
