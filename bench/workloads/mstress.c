/*
 * bench/workloads/mstress.c - an mstress-style growing and shrinking heap.
 *
 * Modelled on mimalloc's test-stress (mstressN in mimalloc-bench): `threads` workers run for
 * `rounds` rounds; every round starts fresh threads. In a round each worker performs `ops`
 * operations on its live set - allocate, free a random live block, or swap a live block into a
 * shared transfer array (taking out whatever block another thread left there, and freeing it) -
 * steering its live set toward a target that rises from a quarter of `live` to `live` and falls
 * back, so the heap grows and shrinks all the time. Sizes: 90% 16-256 B, 9% 257 B-8 KiB, 1%
 * 8-256 KiB. What a worker holds at the end of a round is taken over by the next round's thread,
 * so allocators must cope with blocks of exited threads and with frees from other threads.
 * The runner uses threads = 2 * nproc (test-stress also runs more threads than cores).
 *
 * Determinism: a worker's choices depend only on its own PRNG stream and its own live set (a
 * block taken from the transfer array is freed at once, never kept), so the allocations are the
 * same in every run. verify: number of allocations and the sum of their tags; every block is
 * checked when it is freed, and the sum over frees must equal the sum over allocations.
 */
#include "wl.h"
#include <stdatomic.h>

#define MIN_SIZE 16
#define MAX_SIZE (256 * 1024)

typedef struct {
    uint64_t **blk; /* live blocks (self-describing, see wl_block_new) */
    uint64_t n;     /* live count */
    uint64_t idx;   /* worker index */
    uint64_t round; /* current round */
    uint64_t seq;   /* allocations so far (part of each tag) */
    uint64_t asum;  /* sum of tags allocated */
    uint64_t fsum;  /* sum of tags freed by this worker */
    char pad[64];   /* keep workers apart */
} worker_state;

static uint64_t g_ops, g_live, g_seed, g_ntransfer;
static _Atomic(uint64_t *) *g_transfer;

static size_t pick_size(wl_rng *r) {
    uint64_t c = wl_below(r, 100);
    if (c < 90) return wl_range(r, 16, 256);
    if (c < 99) return wl_range(r, 257, 8192);
    return wl_range(r, 8193, MAX_SIZE);
}

static void *worker(void *arg) {
    worker_state *w = arg;
    wl_rng r = wl_rng_make(g_seed, w->idx, w->round);
    for (uint64_t k = 0; k < g_ops; k++) {
        /* target: live/4 at the start and end of the round, `live` in the middle */
        uint64_t half = g_ops / 2 ? g_ops / 2 : 1;
        uint64_t tri = k < half ? k : (g_ops - k);
        uint64_t target = g_live / 4 + (3 * g_live / 4) * (tri > half ? half : tri) / half;
        uint64_t c = wl_below(&r, 100);
        if (c < 10 && w->n) {
            uint64_t i = wl_below(&r, w->n);
            uint64_t *mine = w->blk[i];
            w->blk[i] = w->blk[--w->n];
            uint64_t *got = atomic_exchange(&g_transfer[wl_below(&r, g_ntransfer)], mine);
            if (got) w->fsum += wl_block_free(got, MIN_SIZE, MAX_SIZE, "mstress");
        } else if ((w->n < target ? c < 80 : c < 30) || !w->n) {
            if (w->n == g_live) continue;
            size_t sz = pick_size(&r);
            uint64_t tag = wl_mix(w->idx << 48 ^ w->seq++);
            w->blk[w->n++] = wl_block_new(sz, tag);
            w->asum += wl_mix(tag ^ sz);
        } else {
            uint64_t i = wl_below(&r, w->n);
            w->fsum += wl_block_free(w->blk[i], MIN_SIZE, MAX_SIZE, "mstress");
            w->blk[i] = w->blk[--w->n];
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    wl_opt o[] = {
        {"threads", 4, "worker threads per round"},
        {"rounds", 10, "rounds (fresh threads each round)"},
        {"ops", 200000, "operations per worker and round"},
        {"live", 20000, "largest live set per worker (blocks)"},
        {"transfer", 1024, "slots of the shared transfer array"},
        {"seed", 42, "PRNG seed"},
    };
    wl_parse(argc, argv, o, sizeof o / sizeof o[0], "mstress-style growing and shrinking heap");
    uint64_t threads = o[0].val, rounds = o[1].val;
    g_ops = o[2].val, g_live = o[3].val, g_ntransfer = o[4].val, g_seed = o[5].val;
    if (!threads || !g_live || !g_ntransfer) wl_fail("mstress: bad parameters");

    g_transfer = wl_xmalloc(g_ntransfer * sizeof *g_transfer);
    for (uint64_t i = 0; i < g_ntransfer; i++) atomic_init(&g_transfer[i], NULL);
    worker_state *ws = wl_xmalloc(threads * sizeof *ws);
    memset(ws, 0, threads * sizeof *ws);
    for (uint64_t t = 0; t < threads; t++) {
        ws[t].idx = t;
        ws[t].blk = wl_xmalloc(g_live * sizeof *ws[t].blk);
    }
    for (uint64_t round = 0; round < rounds; round++) {
        for (uint64_t t = 0; t < threads; t++) ws[t].round = round;
        wl_run_threads(threads, worker, ws, sizeof *ws);
    }
    uint64_t asum = 0, fsum = 0, allocs = 0;
    for (uint64_t t = 0; t < threads; t++) {
        for (uint64_t i = 0; i < ws[t].n; i++)
            fsum += wl_block_free(ws[t].blk[i], MIN_SIZE, MAX_SIZE, "mstress");
        free(ws[t].blk);
        asum += ws[t].asum;
        fsum += ws[t].fsum;
        allocs += ws[t].seq;
    }
    for (uint64_t i = 0; i < g_ntransfer; i++) {
        uint64_t *p = atomic_load(&g_transfer[i]);
        if (p) fsum += wl_block_free(p, MIN_SIZE, MAX_SIZE, "mstress");
    }
    free(ws);
    free((void *)g_transfer);
    if (asum != fsum) wl_fail("mstress: freed blocks do not add up to the allocated ones");
    wl_verify("mstress", "threads=%llu allocs=%llu sum=%016llx", (unsigned long long)threads,
              (unsigned long long)allocs, (unsigned long long)asum);
    return 0;
}
