/*
 * tests/preload/test_malloc_stress.c - the multi-threaded stress of
 * tests/alloc_stress_cases.h through the standard names, linked against
 * libquire.so (so pthread, stdio and fork's own allocations are quire's too).
 * Larger than the unit version: 12 threads on 2 cores, 400 short-lived threads,
 * 24 forks whose children also start a thread.
 */
#include <malloc.h>
#include <stdlib.h>

#define QS_FN(name) name
#include "alloc_stress_cases.h"

int main(void) {
    static const struct qs_config cfg = {
        .mixed_threads = 12,
        .mixed_ops = 100000,
        .max_size = 4u << 20,
        .churn_threads = 400,
        .churn_parallel = 8,
        .churn_blocks = 96,
        .forks = 10,
        .child_ops = 3000,
        .child_thread = 1,
        .fork_workers = 3,
        .fork_worker_ops = -1,
    };
    qs_run_all(&cfg);
    return check_done();
}
