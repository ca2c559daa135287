/*
 * bench/workloads/cache_thrash.c - Hoard's cache-thrash: active false sharing
 * (cache-thrash1, cache-thrashN).
 *
 * Source: E. Berger, K. McKinley, R. Blumofe, P. Wilson, "Hoard: A Scalable Memory Allocator
 * for Multithreaded Applications", ASPLOS 2000, section 5 (cache-thrash), run as mimalloc-bench
 * does: `cache-thrash T 1000 1 2000000 N` with T = 1 and T = nproc (threads, iterations, object
 * size, repetitions, concurrency). Written from the paper's description; no code of the
 * original (which is C++: new[]/delete[]; here malloc/free, the same allocator underneath).
 *
 * T threads run at once; each, `iters` times, allocates a `size`-byte object, writes and reads
 * back every byte of it reps/T times, and frees it. The total work is the same whatever T, so
 * the ideal is a T-fold speed-up. An allocator that serves concurrently running threads from
 * the same cache line (small objects carved consecutively for whoever asks) makes their writes
 * ping-pong the line between cores: active false sharing, which the allocator itself causes.
 * `reps` scales the original's 2,000,000 down to a run of about a second.
 *
 * Each thread writes its own byte pattern, checks it before the free (an object handed to two
 * threads at once shows up as the other's bytes), and adds what it read to its sum.
 * verify: threads and the sum of the bytes read back.
 */
#include "wl.h"

typedef struct {
    uint64_t idx; /* thread index */
    uint64_t sum; /* sum of the bytes read back */
    char pad[64]; /* keep threads' results apart */
} work;

static uint64_t g_iters, g_size, g_reps;

static void *worker(void *arg) {
    work *w = (work *)arg;
    for (uint64_t i = 0; i < g_iters; i++) {
        volatile unsigned char *obj = (volatile unsigned char *)wl_xmalloc(g_size);
        unsigned char salt = (unsigned char)(w->idx * 37 + i + 1);
        for (uint64_t j = 0; j < g_reps; j++)
            for (uint64_t k = 0; k < g_size; k++) {
                obj[k] = (unsigned char)(k + salt);
                unsigned char ch = obj[k];
                (void)ch;
            }
        for (uint64_t k = 0; k < g_size; k++) {
            if (g_reps && obj[k] != (unsigned char)(k + salt))
                wl_fail("cache-thrash: object %p was written by another thread", (void *)obj);
            w->sum += obj[k];
        }
        free((void *)obj);
    }
    return NULL;
}

int main(int argc, char **argv) {
    wl_opt o[] = {
        {"threads", 1, "threads (mimalloc-bench: 1 and nproc)"},
        {"iters", 1000, "objects each thread allocates in turn"},
        {"size", 1, "object size in bytes"},
        {"reps", 2000000, "writes of each byte per object, divided among the threads"},
    };
    wl_parse(argc, argv, o, sizeof o / sizeof o[0], "Hoard's cache-thrash: active false sharing");
    uint64_t threads = o[0].val;
    g_iters = o[1].val, g_size = o[2].val;
    if (!threads || threads > 1024 || !g_size) wl_fail("cache-thrash: bad parameters");
    g_reps = o[3].val / threads;
    work *ws = (work *)wl_xmalloc(threads * sizeof *ws);
    memset(ws, 0, threads * sizeof *ws);
    for (uint64_t t = 0; t < threads; t++) ws[t].idx = t;
    wl_run_threads(threads, worker, ws, sizeof *ws);
    uint64_t sum = 0;
    for (uint64_t t = 0; t < threads; t++) sum += ws[t].sum;
    free(ws);
    wl_verify("cache-thrash", "threads=%llu iters=%llu sum=%llu", (unsigned long long)threads,
              (unsigned long long)g_iters, (unsigned long long)sum);
    return 0;
}
