/*
 * bench/workloads/alloc_test.c - an alloc-test style random mix.
 *
 * Modelled on alloc-test (node-dot-cpp/alloc-test, run by mimalloc-bench as alloc-testN): each
 * thread keeps a working set of `slots` pointers and performs `ops` operations; an operation
 * picks a random slot and frees the block there if there is one, otherwise allocates a new block.
 * The working set therefore hovers around half full. Sizes follow a skewed distribution like a
 * real program's: 90% 8-128 B, 9% 129 B-4 KiB, 0.9% 4-64 KiB, 0.1% 64-512 KiB. Threads are
 * independent (no cross-thread frees); the figure is how well the allocator scales.
 *
 * verify: number of allocations and the sum of the freed blocks' tags (per-thread PRNG streams).
 */
#include "wl.h"

typedef struct {
    uint64_t idx;    /* thread index */
    uint64_t allocs; /* blocks allocated */
    uint64_t sum;    /* sum of wl_mix(tag ^ size) over freed blocks */
    char pad[64];    /* keep threads' results apart */
} work;

static uint64_t g_ops, g_slots, g_seed;

static size_t pick_size(wl_rng *r) {
    uint64_t c = wl_below(r, 1000);
    if (c < 900) return wl_range(r, 8, 128);
    if (c < 990) return wl_range(r, 129, 4096);
    if (c < 999) return wl_range(r, 4097, 65536);
    return wl_range(r, 65537, 524288);
}

static void *worker(void *arg) {
    work *w = arg;
    wl_rng r = wl_rng_make(g_seed, w->idx, 0);
    void **blk = wl_xmalloc(g_slots * sizeof *blk);
    uint32_t *size = wl_xmalloc(g_slots * sizeof *size);
    uint64_t *tag = wl_xmalloc(g_slots * sizeof *tag);
    memset(blk, 0, g_slots * sizeof *blk);
    for (uint64_t k = 0; k < g_ops + g_slots; k++) {
        /* The last `slots` operations sweep the working set, freeing what is left. */
        uint64_t i = k < g_ops ? wl_below(&r, g_slots) : k - g_ops;
        if (blk[i]) {
            if (!wl_check(blk[i], size[i], tag[i]))
                wl_fail("alloc-test: block %p (size %u) overwritten", blk[i], size[i]);
            w->sum += wl_mix(tag[i] ^ size[i]);
            free(blk[i]);
            blk[i] = NULL;
        } else if (k < g_ops) {
            size_t n = pick_size(&r);
            uint64_t t = wl_mix(w->idx << 48 ^ k);
            void *p = wl_xmalloc(n);
            wl_stamp(p, n, t);
            blk[i] = p;
            size[i] = (uint32_t)n;
            tag[i] = t;
            w->allocs++;
        }
    }
    free(blk);
    free(size);
    free(tag);
    return NULL;
}

int main(int argc, char **argv) {
    wl_opt o[] = {
        {"threads", 2, "worker threads"},
        {"ops", 2000000, "operations per thread"},
        {"slots", 8192, "working-set slots per thread"},
        {"seed", 42, "PRNG seed"},
    };
    wl_parse(argc, argv, o, sizeof o / sizeof o[0], "alloc-test style random mix");
    uint64_t threads = o[0].val;
    g_ops = o[1].val, g_slots = o[2].val, g_seed = o[3].val;
    if (!threads || !g_slots) wl_fail("alloc-test: bad parameters");
    work *ws = wl_xmalloc(threads * sizeof *ws);
    memset(ws, 0, threads * sizeof *ws);
    for (uint64_t t = 0; t < threads; t++) ws[t].idx = t;
    wl_run_threads(threads, worker, ws, sizeof *ws);
    uint64_t sum = 0, allocs = 0;
    for (uint64_t t = 0; t < threads; t++) sum += ws[t].sum, allocs += ws[t].allocs;
    free(ws);
    wl_verify("alloc-test", "threads=%llu allocs=%llu sum=%016llx", (unsigned long long)threads,
              (unsigned long long)allocs, (unsigned long long)sum);
    return 0;
}
