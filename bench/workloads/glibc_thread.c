/*
 * bench/workloads/glibc_thread.c - glibc's bench-malloc-thread (glibc-thread).
 *
 * Source: glibc's benchtests/bench-malloc-thread.c (Free Software Foundation), as mimalloc-
 * bench runs it: `glibc-thread N` with N = nproc threads, the allocated memory touched. Written
 * from its documented behaviour; no code of the original.
 *
 * Each thread keeps a working set of 1024 blocks and repeatedly frees the block at a random
 * index and allocates a new one of a random size there, writing every byte of it. Sizes follow
 * an inverse-square distribution between 4 and 32768 bytes (mostly tiny blocks, a long tail of
 * big ones); sizes and indices come from two shared tables of precomputed random values (8000
 * sizes, 4096 indices), which every thread walks from the start, as in the original. The
 * original runs for a fixed time (2 s in the suite) and reports iterations; here each thread
 * does a fixed number of iterations, so the runner measures wall time.
 *
 * Blocks are stamped (over the written bytes) and checked before they are freed.
 * verify: iterations and the sum of the freed blocks' tags.
 */
#include "wl.h"
#include <math.h>

#define SET      1024 /* working-set size per thread */
#define NSIZES   8000 /* precomputed sizes */
#define NOFFSETS 4096 /* precomputed indices */
#define MINSIZE  4.0f /* distribution bounds */
#define MAXSIZE  32768.0f

static uint32_t g_sizes[NSIZES], g_offsets[NOFFSETS];
static uint64_t g_iters;

typedef struct {
    uint64_t idx; /* thread index */
    uint64_t sum; /* sum of wl_mix(tag ^ size) over freed blocks */
    char pad[64]; /* keep threads' results apart */
} work;

/* Inverse-square distribution on [MINSIZE, MAXSIZE] by inverting its CDF at u in [0, 1]. */
static uint32_t inv_square(double u) {
    float lo = 1.0f / MINSIZE, hi = 1.0f / MAXSIZE; /* x^-1 at the bounds */
    return (uint32_t)(1.0f / ((hi - lo) * (float)u + lo));
}

static void *worker(void *arg) {
    work *w = (work *)arg;
    char *p[SET] = {0};
    uint32_t size[SET];
    uint64_t tag[SET];
    uint64_t si = 0, oi = 0;
    for (uint64_t n = 0; n < g_iters; n++) {
        uint32_t i = g_offsets[oi], sz = g_sizes[si];
        oi = oi + 1 == NOFFSETS ? 0 : oi + 1;
        si = si + 1 == NSIZES ? 0 : si + 1;
        if (p[i]) {
            if (!wl_check(p[i], size[i], tag[i]))
                wl_fail("glibc-thread: block %p (size %u) was overwritten", p[i], size[i]);
            w->sum += wl_mix(tag[i] ^ size[i]);
        }
        free(p[i]);
        char *q = (char *)wl_xmalloc(sz);
        for (uint32_t k = 0; k < sz; k++) q[k] = (char)k; /* touch, as the suite does */
        tag[i] = wl_mix(w->idx << 44 ^ n);
        wl_stamp(q, sz, tag[i]);
        p[i] = q, size[i] = sz;
    }
    for (int i = 0; i < SET; i++)
        if (p[i]) {
            if (!wl_check(p[i], size[i], tag[i]))
                wl_fail("glibc-thread: block %p (size %u) was overwritten", p[i], size[i]);
            w->sum += wl_mix(tag[i] ^ size[i]);
            free(p[i]);
        }
    return NULL;
}

int main(int argc, char **argv) {
    wl_opt o[] = {
        {"threads", 1, "threads (mimalloc-bench: nproc)"},
        {"iters", 1000000, "iterations per thread (the original: 2 s)"},
        {"seed", 88, "PRNG seed for the tables"},
    };
    wl_parse(argc, argv, o, sizeof o / sizeof o[0], "glibc's bench-malloc-thread");
    uint64_t threads = o[0].val;
    g_iters = o[1].val;
    if (!threads || threads > 1024) wl_fail("glibc-thread: bad parameters");
    wl_rng r = wl_rng_make(o[2].val, 0, 0);
    for (int i = 0; i < NSIZES; i++) g_sizes[i] = inv_square((double)(wl_next(&r) >> 11) * 0x1p-53);
    for (int i = 0; i < NOFFSETS; i++) g_offsets[i] = (uint32_t)wl_below(&r, SET);
    work *ws = (work *)wl_xmalloc(threads * sizeof *ws);
    memset(ws, 0, threads * sizeof *ws);
    for (uint64_t t = 0; t < threads; t++) ws[t].idx = t;
    wl_run_threads(threads, worker, ws, sizeof *ws);
    uint64_t sum = 0;
    for (uint64_t t = 0; t < threads; t++) sum += ws[t].sum;
    free(ws);
    wl_verify("glibc-thread", "threads=%llu iters=%llu sum=%016llx", (unsigned long long)threads,
              (unsigned long long)(threads * g_iters), (unsigned long long)sum);
    return 0;
}
