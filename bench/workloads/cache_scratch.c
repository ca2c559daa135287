/*
 * bench/workloads/cache_scratch.c - Hoard's cache-scratch: passive false sharing
 * (cache-scratch1, cache-scratchN).
 *
 * Source: E. Berger, K. McKinley, R. Blumofe, P. Wilson, "Hoard: A Scalable Memory Allocator
 * for Multithreaded Applications", ASPLOS 2000, section 5 (cache-scratch), run as mimalloc-bench
 * does: `cache-scratch T 1000 1 2000000 N` with T = 1 and T = nproc (threads, iterations,
 * object size, repetitions, concurrency). Written from the paper's description; no code of the
 * original (which is C++: new[]/delete[]; here malloc/free, the same allocator underneath).
 *
 * The main thread allocates T small objects - neighbours, very likely on one cache line - and
 * hands one to each of T threads. Each thread frees the object it was given, then `iters` times
 * allocates an object of the same size, writes and reads back every byte reps/T times, and frees
 * it. An allocator that gives a thread back the block another thread freed (or any block on a
 * line another thread is writing) makes the threads' writes contend for one cache line: passive
 * false sharing, inherited from the program's earlier allocation. The total work is the same
 * whatever T, so the ideal is a T-fold speed-up. `reps` scales the original's 2,000,000 down to
 * a run of about a second.
 *
 * Each thread writes its own byte pattern and checks it before the free.
 * verify: threads and the sum of the bytes read back.
 */
#include "wl.h"

typedef struct {
    char *given;  /* the object the main thread allocated for this thread */
    uint64_t idx; /* thread index */
    uint64_t sum; /* sum of the bytes read back */
    char pad[64]; /* keep threads' results apart */
} work;

static uint64_t g_iters, g_size, g_reps;

static void *worker(void *arg) {
    work *w = (work *)arg;
    free(w->given);
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
                wl_fail("cache-scratch: object %p was written by another thread", (void *)obj);
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
    wl_parse(argc, argv, o, sizeof o / sizeof o[0], "Hoard's cache-scratch: passive false sharing");
    uint64_t threads = o[0].val;
    g_iters = o[1].val, g_size = o[2].val;
    if (!threads || threads > 1024 || !g_size) wl_fail("cache-scratch: bad parameters");
    g_reps = o[3].val / threads;
    work *ws = (work *)wl_xmalloc(threads * sizeof *ws);
    memset(ws, 0, threads * sizeof *ws);
    for (uint64_t t = 0; t < threads; t++) {
        ws[t].given = (char *)wl_xmalloc(g_size);
        memset(ws[t].given, 0, g_size);
        ws[t].idx = t;
    }
    wl_run_threads(threads, worker, ws, sizeof *ws);
    uint64_t sum = 0;
    for (uint64_t t = 0; t < threads; t++) sum += ws[t].sum;
    free(ws);
    wl_verify("cache-scratch", "threads=%llu iters=%llu sum=%llu", (unsigned long long)threads,
              (unsigned long long)g_iters, (unsigned long long)sum);
    return 0;
}
