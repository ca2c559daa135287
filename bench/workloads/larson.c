/*
 * bench/workloads/larson.c - a larson-style server simulation.
 *
 * Modelled on Larson & Krishnan's benchmark ("Memory allocation for long-running server
 * applications", ISMM 1998): each of `threads` workers owns an array of `slots` blocks; it
 * repeatedly picks a random slot, frees the block there and allocates a new one of a random size
 * in [min, max]. After `rounds` operations a worker starts its successor thread, hands it the
 * array and exits - like a server that serves each connection on a fresh thread - so most blocks
 * are freed by a different thread than the one that allocated them, and every allocator has to
 * deal with the heaps of exited threads. The initial blocks are allocated by the main thread.
 *
 * Unlike the original (which runs for a fixed time and reports throughput), the amount of work
 * is fixed, so the runner measures time. Each (thread index, generation) draws from its own PRNG
 * stream, so the whole run is deterministic; every block is stamped and checked before it is
 * freed. verify: total operations and the sum of the freed blocks' tags.
 */
#include "wl.h"

typedef struct {
    void **blk;     /* the slots: blocks owned by this chain of threads */
    uint32_t *size; /* requested size of each block */
    uint64_t *tag;  /* stamp of each block */
    uint64_t idx;   /* chain index */
    uint64_t gen;   /* generation of the thread now running the chain */
    uint64_t sum;   /* sum of wl_mix(tag) over freed blocks */
    uint64_t ops;   /* operations done */
    uint64_t seq;   /* allocation counter (part of each tag) */
    char pad[64];   /* keep chains' hot fields on separate cache lines */
} chain;

static uint64_t g_slots, g_rounds, g_gens, g_min, g_max, g_seed;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_done_cv = PTHREAD_COND_INITIALIZER;
static uint64_t g_done; /* chains finished */

static void put(chain *c, uint64_t i, wl_rng *r) {
    uint32_t n = (uint32_t)wl_range(r, g_min, g_max);
    uint64_t tag = wl_mix(c->idx << 40 ^ c->seq++) | 1;
    void *p = wl_xmalloc(n);
    wl_stamp(p, n, tag);
    c->blk[i] = p;
    c->size[i] = n;
    c->tag[i] = tag;
}

static void drop(chain *c, uint64_t i) {
    if (!wl_check(c->blk[i], c->size[i], c->tag[i]))
        wl_fail("larson: block %p (size %u) was overwritten", c->blk[i], c->size[i]);
    c->sum += wl_mix(c->tag[i] ^ c->size[i]);
    free(c->blk[i]);
}

static void *worker(void *arg) {
    chain *c = arg;
    wl_rng r = wl_rng_make(g_seed, c->idx, c->gen + 1);
    for (uint64_t k = 0; k < g_rounds; k++) {
        uint64_t v = wl_below(&r, g_slots);
        drop(c, v);
        put(c, v, &r);
    }
    c->ops += g_rounds;
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
        {"threads", 2, "worker threads (chains)"},
        {"slots", 1000, "blocks owned by each chain"},
        {"rounds", 10000, "operations per thread before it hands over to a new thread"},
        {"gens", 50, "threads per chain (generations)"},
        {"min", 8, "smallest block"},
        {"max", 1000, "largest block"},
        {"seed", 42, "PRNG seed"},
    };
    wl_parse(argc, argv, o, sizeof o / sizeof o[0], "larson-style server simulation");
    uint64_t threads = o[0].val;
    g_slots = o[1].val, g_rounds = o[2].val, g_gens = o[3].val;
    g_min = o[4].val, g_max = o[5].val, g_seed = o[6].val;
    if (!threads || !g_slots || !g_gens || !g_min || g_max < g_min || g_max > UINT32_MAX)
        wl_fail("larson: bad parameters");

    chain *cs = wl_xmalloc(threads * sizeof *cs);
    for (uint64_t t = 0; t < threads; t++) {
        chain *c = &cs[t];
        memset(c, 0, sizeof *c);
        c->idx = t;
        c->blk = wl_xmalloc(g_slots * sizeof *c->blk);
        c->size = wl_xmalloc(g_slots * sizeof *c->size);
        c->tag = wl_xmalloc(g_slots * sizeof *c->tag);
        wl_rng r = wl_rng_make(g_seed, t, 0);
        for (uint64_t i = 0; i < g_slots; i++) put(c, i, &r);
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

    uint64_t sum = 0, ops = 0;
    for (uint64_t t = 0; t < threads; t++) {
        chain *c = &cs[t];
        for (uint64_t i = 0; i < g_slots; i++) drop(c, i);
        sum += c->sum;
        ops += c->ops;
        free(c->blk);
        free(c->size);
        free(c->tag);
    }
    free(cs);
    wl_verify("larson", "threads=%llu ops=%llu sum=%016llx", (unsigned long long)threads,
              (unsigned long long)ops, (unsigned long long)sum);
    return 0;
}
