/*
 * bench/workloads/glibc_simple.c - a tight malloc/free loop (glibc's bench-malloc-simple).
 *
 * Modelled on benchtests/bench-malloc-simple.c from glibc: for each block size (16, 64, 256 and
 * 1024 bytes) and each batch length (25, 100, 400 and 1600 blocks), allocate the batch,
 * then free it in allocation order, over and over; `work` is the number of blocks per
 * (size, length) pair. As in glibc's version, the whole sequence runs first on the main thread and
 * then again on a second thread (glibc's main arena versus a thread arena), one thread at a time,
 * so this is a single-threaded workload. It measures the allocator's fast paths (thread caches,
 * free lists) with almost nothing else in the loop: each block gets one 8-byte stamp that is
 * checked before it is freed. (glibc's own allocator is slow here for batches of more than
 * 128 KiB: freeing them grows the top chunk past M_TRIM_THRESHOLD, so it trims the heap and
 * faults it back in on the next batch. That is its real behaviour, not an artefact.)
 *
 * verify: blocks allocated and the sum of the stamps read back.
 */
#include "wl.h"

static const size_t k_sizes[] = {16, 64, 256, 1024};
static const size_t k_lens[] = {25, 100, 400, 1600};

typedef struct {
    uint64_t work;   /* blocks per (size, length) pair */
    uint64_t allocs; /* blocks allocated */
    uint64_t sum;    /* sum of the stamps read back */
} run;

static void *sequence(void *arg) {
    run *r = arg;
    void *a[1600];
    for (size_t s = 0; s < sizeof k_sizes / sizeof k_sizes[0]; s++) {
        for (size_t l = 0; l < sizeof k_lens / sizeof k_lens[0]; l++) {
            size_t n = k_lens[l], sz = k_sizes[s];
            for (uint64_t done = 0; done < r->work; done += n) {
                for (size_t i = 0; i < n; i++) {
                    uint64_t *p = malloc(sz);
                    if (!p) wl_fail("glibc-simple: malloc(%zu) returned NULL", sz);
                    *p = done + i;
                    a[i] = p;
                }
                for (size_t i = 0; i < n; i++) {
                    uint64_t *p = a[i];
                    if (*p != done + i) wl_fail("glibc-simple: block %p overwritten", (void *)p);
                    r->sum += *p;
                    free(p);
                }
                r->allocs += n;
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    wl_opt o[] = {{"work", 1000000, "blocks per (size, batch length) pair and thread"}};
    wl_parse(argc, argv, o, 1, "glibc bench-malloc-simple style loop");
    run r = {o[0].val, 0, 0};
    if (!r.work) wl_fail("glibc-simple: bad parameters");
    sequence(&r);
    wl_run_threads(1, sequence, &r, 0);
    wl_verify("glibc-simple", "work=%llu allocs=%llu sum=%llu", (unsigned long long)r.work,
              (unsigned long long)r.allocs, (unsigned long long)r.sum);
    return 0;
}
