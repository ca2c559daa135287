/*
 * bench/workloads/mleak.c - mimalloc-bench's mleak: short-lived threads that leave one block
 * behind each (mleak10 / mleak100).
 *
 * Source: mimalloc-bench's mleak test (Daan Leijen, 2019; "threads that allocate a small long-
 * lived object and then terminate, N times - some allocators leak a lot of memory doing this"),
 * run there as `mleak 5` (mleak10) and `mleak 50` (mleak100). Written from that description;
 * no code of the original.
 *
 * Rounds of 10 threads are started and joined, 100 x `iter` rounds in all. Each thread
 * allocates one zeroed block of 16 pointers (calloc), swaps it into a random slot of a shared
 * table of 10 x 100 slots (atomic exchange) and frees what it found there - usually a block
 * that a thread of an earlier round allocated - then exits. The program frees almost everything
 * it allocates and holds at most 1000 blocks (128 KB), yet every block outlives the thread that
 * allocated it: an allocator that keeps a dead thread's partly used memory (or its caches) to
 * itself grows without bound. The figure to watch is peak RSS, compared with glibc's.
 *
 * Every block is stamped (after checking calloc zeroed it) and checked before it is freed; the
 * slot each thread picks comes from its own PRNG stream. verify: blocks and the sum of their
 * tags.
 */
#include "wl.h"
#include <stdatomic.h>

#define THREADS  10  /* threads per round, as in the original */
#define BASEITER 100 /* rounds per unit of iter */
#define WORDS    16  /* block size in pointers */

static _Atomic(uint64_t *) g_slot[THREADS * BASEITER];
static uint64_t g_seed;
static _Atomic uint64_t g_sum; /* sum of wl_mix(tag) over freed blocks */

typedef struct {
    uint64_t round, idx; /* which thread of which round */
} job;

static uint64_t release(uint64_t *p) {
    uint64_t tag = p[0];
    if (!wl_check(p, WORDS * sizeof *p, tag)) wl_fail("mleak: block %p was overwritten", p);
    free(p);
    return wl_mix(tag);
}

static void *leak(void *arg) {
    job *j = (job *)arg;
    wl_rng r = wl_rng_make(g_seed, j->round, j->idx);
    uint64_t *p = (uint64_t *)calloc(WORDS, sizeof *p);
    if (!p) wl_fail("mleak: calloc failed");
    for (int i = 0; i < WORDS; i++)
        if (p[i]) wl_fail("mleak: calloc returned a block that is not zeroed");
    uint64_t tag = wl_mix(j->round << 8 ^ j->idx) | 1;
    wl_stamp(p, WORDS * sizeof *p, tag);
    uint64_t *old = atomic_exchange(&g_slot[wl_below(&r, THREADS * BASEITER)], p);
    if (old) atomic_fetch_add(&g_sum, release(old));
    return NULL;
}

int main(int argc, char **argv) {
    wl_opt o[] = {
        {"iter", 5, "100 x iter rounds of 10 threads (mleak10: 5, mleak100: 50)"},
        {"seed", 0x1ce4e5b9, "PRNG seed"},
    };
    wl_parse(argc, argv, o, sizeof o / sizeof o[0], "mimalloc-bench's mleak");
    uint64_t rounds = o[0].val * BASEITER;
    g_seed = o[1].val;
    job jobs[THREADS];
    pthread_t t[THREADS];
    for (uint64_t n = 0; n < rounds; n++) {
        for (uint64_t i = 0; i < THREADS; i++) {
            jobs[i].round = n, jobs[i].idx = i;
            int rc = pthread_create(&t[i], NULL, leak, &jobs[i]);
            if (rc) wl_fail("pthread_create: %s", strerror(rc));
        }
        for (uint64_t i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    }
    uint64_t sum = atomic_load(&g_sum);
    for (uint64_t i = 0; i < THREADS * BASEITER; i++) {
        uint64_t *p = atomic_exchange(&g_slot[i], NULL);
        if (p) sum += release(p);
    }
    wl_verify("mleak", "blocks=%llu sum=%016llx", (unsigned long long)(rounds * THREADS),
              (unsigned long long)sum);
    return 0;
}
