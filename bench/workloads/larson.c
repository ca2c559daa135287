/*
 * bench/workloads/larson.c - Larson & Krishnan's server simulation (larsonN, larsonN-sized).
 *
 * Source: P.-A. Larson and M. Krishnan, "Memory allocation for long-running server
 * applications", ISMM 1998, and the parameters mimalloc-bench runs it with
 * (`larson 5 8 1000 5000 100 4141 N`: 5 s, sizes 8-1000, 5000 chunks per thread, 100 rounds,
 * seed 4141, N = nproc threads). Written from that description; no code of the original.
 *
 * The algorithm, as published:
 *   1. Warm-up, on the main thread: allocate threads x chunks blocks of random size
 *      min + r % (max - min) (so 8-999 bytes), shuffle them (a random permutation) and do
 *      4 x threads x chunks random replacements (free a random block, allocate a new one). The
 *      blocks a worker starts with were therefore allocated by the main thread, in random order.
 *   2. Each worker owns a slice of `chunks` blocks and does rounds x chunks operations: pick a
 *      random victim in its slice, free it, allocate a new block of random size there and write
 *      to it. Then it starts a successor thread that takes over the same slice and exits - a
 *      server serving each connection on a fresh thread - so blocks are freed by threads other
 *      than the one that allocated them, and every allocator has to reclaim dead threads' heaps.
 * The original runs for a fixed time and reports throughput; here the amount of work is fixed
 * (`gens` threads per slice, one after the other), so the runner measures wall time, and the
 * run ends whatever the machine's load.
 *
 * Compiled as C it uses malloc/free (larsonN). Compiled as C++ (bench.mk builds larson_sized
 * from this file with -x c++) it uses new[] and C++14 sized delete[] (larsonN-sized, mimalloc-
 * bench's SIZED build), so an allocator's sized-free path is measured.
 *
 * Every block is stamped and checked before it is freed. Each slice draws from its own PRNG
 * stream per generation, so the run is deterministic. verify: operations and the sum of the
 * freed blocks' tags.
 */
#include "wl.h"
#ifdef __cplusplus
#include <new>
#define L_NAME       "larson-sized"
#define L_ALLOC(n)   static_cast<char *>(::operator new[](n))
#define L_FREE(p, n) ::operator delete[](p, n)
#else
#define L_NAME       "larson"
#define L_ALLOC(n)   ((char *)malloc(n))
#define L_FREE(p, n) free(p)
#endif

typedef struct {
    char **blk;     /* this slice of the block array */
    uint32_t *size; /* requested size of each block */
    uint64_t *tag;  /* stamp of each block */
    uint64_t idx;   /* slice index */
    uint64_t gen;   /* generation of the thread now running the slice */
    uint64_t sum;   /* sum of wl_mix(tag ^ size) over freed blocks */
    uint64_t ops;   /* operations done */
    uint64_t seq;   /* allocation counter (part of each tag) */
    char pad[64];   /* keep slices' hot fields on separate cache lines */
} slice;

static uint64_t g_chunks, g_rounds, g_gens, g_min, g_max, g_seed;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_done_cv = PTHREAD_COND_INITIALIZER;
static uint64_t g_done; /* slices finished */

static uint32_t rand_size(wl_rng *r) {
    return (uint32_t)(g_max == g_min ? g_min : g_min + wl_below(r, g_max - g_min));
}

static void put(char **blk, uint32_t *size, uint64_t *tag, uint64_t i, uint32_t n, uint64_t t) {
    char *p = L_ALLOC(n);
    if (!p) wl_fail(L_NAME ": allocation of %u bytes failed", n);
    wl_stamp(p, n, t);
    blk[i] = p;
    size[i] = n;
    tag[i] = t;
}

static uint64_t drop(char **blk, uint32_t *size, uint64_t *tag, uint64_t i) {
    if (!wl_check(blk[i], size[i], tag[i]))
        wl_fail(L_NAME ": block %p (size %u) was overwritten", (void *)blk[i], size[i]);
    uint64_t term = wl_mix(tag[i] ^ size[i]);
    L_FREE(blk[i], size[i]);
    return term;
}

static void *worker(void *arg) {
    slice *c = (slice *)arg;
    wl_rng r = wl_rng_make(g_seed, c->idx, c->gen + 1);
    uint64_t n = g_rounds * g_chunks;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t v = wl_below(&r, g_chunks);
        c->sum += drop(c->blk, c->size, c->tag, v);
        put(c->blk, c->size, c->tag, v, rand_size(&r), wl_mix(c->idx << 40 ^ c->seq++) | 1);
    }
    c->ops += n;
    if (++c->gen < g_gens) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &at, worker, c);
        if (rc) wl_fail("pthread_create: %s", strerror(rc));
        pthread_attr_destroy(&at);
    } else {
        pthread_mutex_lock(&g_lock);
        g_done++;
        pthread_cond_signal(&g_done_cv);
        pthread_mutex_unlock(&g_lock);
    }
    return NULL;
}

int main(int argc, char **argv) {
    wl_opt o[] = {
        {"threads", 2, "worker threads (slices); mimalloc-bench: nproc"},
        {"chunks", 5000, "blocks per thread"},
        {"rounds", 100, "a thread does rounds x chunks operations, then hands over"},
        {"gens", 4, "threads per slice, one after the other (fixed work; the original: 5 s)"},
        {"min", 8, "smallest block"},
        {"max", 1000, "largest block + 1"},
        {"seed", 4141, "PRNG seed"},
    };
    wl_parse(argc, argv, o, sizeof o / sizeof o[0], "Larson & Krishnan's server simulation");
    uint64_t threads = o[0].val;
    g_chunks = o[1].val, g_rounds = o[2].val, g_gens = o[3].val;
    g_min = o[4].val, g_max = o[5].val, g_seed = o[6].val;
    if (!threads || threads > 1024 || !g_chunks || !g_gens || !g_min || g_max < g_min ||
        g_max > UINT32_MAX)
        wl_fail(L_NAME ": bad parameters");

    /* 1. warm-up on the main thread: allocate, shuffle, replace 4 x all at random */
    uint64_t all = threads * g_chunks, seq = 0;
    char **blk = (char **)wl_xmalloc(all * sizeof *blk);
    uint32_t *size = (uint32_t *)wl_xmalloc(all * sizeof *size);
    uint64_t *tag = (uint64_t *)wl_xmalloc(all * sizeof *tag);
    uint64_t sum = 0;
    wl_rng r = wl_rng_make(g_seed, 1u << 20, 0);
    for (uint64_t i = 0; i < all; i++)
        put(blk, size, tag, i, rand_size(&r), wl_mix(0xffffULL << 40 ^ seq++) | 1);
    for (uint64_t i = all; i > 1; i--) {
        uint64_t j = wl_below(&r, i);
        char *p = blk[j];
        uint32_t s = size[j];
        uint64_t t = tag[j];
        blk[j] = blk[i - 1], size[j] = size[i - 1], tag[j] = tag[i - 1];
        blk[i - 1] = p, size[i - 1] = s, tag[i - 1] = t;
    }
    for (uint64_t k = 0; k < 4 * all; k++) {
        uint64_t v = wl_below(&r, all);
        sum += drop(blk, size, tag, v);
        put(blk, size, tag, v, rand_size(&r), wl_mix(0xffffULL << 40 ^ seq++) | 1);
    }

    /* 2. one chain of threads per slice */
    slice *cs = (slice *)wl_xmalloc(threads * sizeof *cs);
    for (uint64_t t = 0; t < threads; t++) {
        memset(&cs[t], 0, sizeof cs[t]);
        cs[t].idx = t;
        cs[t].blk = blk + t * g_chunks;
        cs[t].size = size + t * g_chunks;
        cs[t].tag = tag + t * g_chunks;
    }
    for (uint64_t t = 0; t < threads; t++) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&th, &at, worker, &cs[t]);
        if (rc) wl_fail("pthread_create: %s", strerror(rc));
        pthread_attr_destroy(&at);
    }
    pthread_mutex_lock(&g_lock);
    while (g_done < threads) pthread_cond_wait(&g_done_cv, &g_lock);
    pthread_mutex_unlock(&g_lock);

    uint64_t ops = 0;
    for (uint64_t t = 0; t < threads; t++) sum += cs[t].sum, ops += cs[t].ops;
    for (uint64_t i = 0; i < all; i++) sum += drop(blk, size, tag, i);
    free(cs);
    free(blk);
    free(size);
    free(tag);
    wl_verify(L_NAME, "threads=%llu ops=%llu sum=%016llx", (unsigned long long)threads,
              (unsigned long long)ops, (unsigned long long)sum);
    return 0;
}
