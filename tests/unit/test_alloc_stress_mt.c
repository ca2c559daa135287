/*
 * tests/unit/test_alloc_stress_mt.c - the multi-threaded stress of
 * tests/alloc_stress_cases.h through the quire_* names (the engine linked
 * statically, the process's own malloc untouched). Sized so that it also
 * finishes quickly under ThreadSanitizer (make test-tsan): 8 threads on 2
 * cores, 160 short-lived threads, 8 forks. Forked children start no thread here
 * (TSan does not support threads after a multi-threaded fork); the preload
 * version does that.
 */
#include <stdlib.h>

#define QS_FN(name)   quire_##name
#define QS_USABLE_ARG const void *
#include "alloc_stress_cases.h"

int main(void) {
    static const struct qs_config cfg = {
        .mixed_threads = 8,
        .mixed_ops = 20000,
        .max_size = 1u << 20,
        .churn_threads = 160,
        .churn_parallel = 8,
        .churn_blocks = 48,
        .forks = 8,
        .child_ops = 4000,
        .child_thread = 0,
        .fork_workers = 3,
        .fork_worker_ops = -1,
    };
    qs_run_all(&cfg);
    return check_done();
}
