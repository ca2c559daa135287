/*
 * tests/unit/test_prof_unwind_mt.c - the heap profile's stack capture (alloc/prof.c) against
 * glibc's backtrace(): the same return addresses from the same place, on random call chains of
 * functions with fixed and variable frames (alloca, VLAs, a frame pointer, over-aligned locals,
 * many values kept across calls), through the C library (qsort's comparator), in signal handlers
 * on the thread's stack and on an alternate one, in threads learning rules side by side, and
 * after a library was unloaded. On x86-64 the capture walks from cached rules; the checks also
 * make sure that it did (a capture repeated from the same place must not need libgcc).
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/internal.h"
#include "check.h"

#define MAXF 63

static _Atomic long n_compared, n_cached, n_mismatch;

/* Compares the capture with backtrace() from here (their first frames are two call sites in
   this function); the capture runs twice, the second time from rules the first one learned. */
__attribute__((noinline)) static int compare_here(void) {
    void *bt[MAXF + 1], *pc[MAXF];
    int cached = 0, again = 0;
    int nb = backtrace(bt, MAXF + 1);
    int n = q_prof_backtrace(pc, MAXF, &cached);
    int n2 = q_prof_backtrace(pc, MAXF, &again);
    /* pc[0] and bt[k]: return addresses in this function, a few instructions apart; k is 1
       when a sanitizer intercepts backtrace() (its interceptor's frame comes first). */
    int k = nb > 1 && (uintptr_t)pc[0] - (uintptr_t)bt[0] >= 256 &&
            (uintptr_t)pc[0] - (uintptr_t)bt[1] < 256;
    int want = nb - k < MAXF ? nb - k : MAXF;
    int ok = n == want && n2 == want && n > 1 && (uintptr_t)pc[0] - (uintptr_t)bt[k] < 256;
    for (int i = 1; ok && i < n; i++) ok = pc[i] == bt[i + k];
    atomic_fetch_add(&n_compared, 1);
    if (again) atomic_fetch_add(&n_cached, 1);
    if (!ok) {
        if (atomic_fetch_add(&n_mismatch, 1) < 3) {
            fprintf(stderr, "stack mismatch: capture %d frames (cached %d), backtrace %d\n", n2,
                    again, nb);
            for (int i = 0; i < MAXF + 1 && (i < nb || i < n2); i++)
                fprintf(stderr, "  #%d %p %p\n", i, i < n2 ? pc[i] : NULL, i < nb ? bt[i] : NULL);
        }
        return 0;
    }
    return again;
}

/* ---- call chains of functions with different frames ---- */

typedef int (*step_fn)(uint64_t seed, int depth);
static int step(uint64_t seed, int depth);
static __thread volatile int sink; /* per thread: no race between the threads' chains */

static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

__attribute__((noinline)) static int f_small(uint64_t seed, int depth) {
    int r = step(mix(seed), depth - 1);
    sink = r;
    return r;
}

__attribute__((noinline)) static int f_big(uint64_t seed, int depth) {
    volatile char buf[5000];
    buf[seed % sizeof buf] = (char)seed;
    int r = step(mix(seed), depth - 1);
    return r + buf[seed % sizeof buf] * 0;
}

__attribute__((noinline)) static int f_alloca(uint64_t seed, int depth) {
    size_t n = 16 + seed % 777;
    volatile char *p = __builtin_alloca(n);
    p[0] = 1;
    p[n - 1] = 2;
    int r = step(mix(seed), depth - 1);
    return r + p[0] - 1;
}

__attribute__((noinline)) static int f_vla(uint64_t seed, int depth) {
    size_t n = 1 + seed % 300;
    volatile uint64_t v[n];
    v[0] = seed;
    v[n - 1] = seed;
    int r = step(mix(seed), depth - 1);
    return r + (v[0] != seed);
}

__attribute__((noinline)) static int f_framep(uint64_t seed, int depth) {
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0); /* forces a frame pointer */
    int r = step(mix(seed ^ (fp & 0)), depth - 1);
    sink = (int)(fp & 1);
    return r;
}

/* Many values live across the call: the callee-saved registers, rbp among them. */
__attribute__((noinline)) static int f_regs(uint64_t seed, int depth) {
    uint64_t a = mix(seed), b = mix(a), c = mix(b), d = mix(c), e = mix(d), f = mix(e), g = mix(f);
    int r = step(g, depth - 1);
    sink = (int)(a + b + c + d + e + f + g);
    return r + (int)((a ^ b ^ c ^ d ^ e ^ f ^ g) & 0);
}

/* Over-aligned locals: the frame is realigned, its CFA given by an expression (libgcc's). */
__attribute__((noinline)) static int f_aligned(uint64_t seed, int depth) {
    _Alignas(64) volatile char buf[64];
    buf[seed % 64] = 1;
    int r = step(mix(seed), depth - 1);
    return r + buf[seed % 64] * 0;
}

struct sort_ctx {
    uint64_t seed;
    int depth, done, r;
};
static __thread struct sort_ctx *sort_cur;

static int by_value(const void *a, const void *b) {
    struct sort_ctx *c = sort_cur;
    if (!c->done) {
        c->done = 1;
        c->r = step(c->seed, c->depth);
    }
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* Through the C library: the chain goes on from qsort's comparator. */
__attribute__((noinline)) static int f_qsort(uint64_t seed, int depth) {
    int v[8] = {5, 3, 7, 1, 8, 2, 6, 4};
    struct sort_ctx c = {mix(seed), depth - 1, 0, 0}, *saved = sort_cur;
    sort_cur = &c;
    qsort(v, 8, sizeof v[0], by_value);
    sort_cur = saved;
    return c.r;
}

static const step_fn shapes[] = {f_small,  f_big,  f_alloca,  f_vla,
                                 f_framep, f_regs, f_aligned, f_qsort};
enum { NSHAPES = sizeof shapes / sizeof shapes[0] };
static int no_aligned; /* leave f_aligned out: every capture then must be cached */

__attribute__((noinline)) static int step(uint64_t seed, int depth) {
    if (depth <= 0) return compare_here();
    unsigned k = (unsigned)(seed % NSHAPES);
    if (no_aligned && shapes[k] == f_aligned) k = 0;
    return shapes[k](seed, depth);
}

/* Random chains of 1..depth frames; returns how many captures were cached. */
static int chains(uint64_t seed, int count, int depth) {
    int cached = 0;
    for (int i = 0; i < count; i++) {
        seed = mix(seed + (uint64_t)i);
        cached += step(seed, 1 + (int)(seed >> 40) % depth);
    }
    return cached;
}

static void test_chains(void) {
    TEST("capture == backtrace() on random call chains");
    atomic_store(&n_mismatch, 0);
    no_aligned = 1;
    int cached = chains(1, 3000, 40);
    CHECK_EQ(atomic_load(&n_mismatch), 0);
#if defined(__x86_64__)
    CHECK_EQ(cached, 3000); /* repeated from the same place: from the cache every time */
#else
    (void)cached;
#endif
    no_aligned = 0;
    chains(2, 3000, 40);
    CHECK_EQ(atomic_load(&n_mismatch), 0);
    /* Deep: more frames than the capture holds. */
    chains(3, 50, 120);
    CHECK_EQ(atomic_load(&n_mismatch), 0);
}

/* ---- signal handlers ---- */

static volatile sig_atomic_t handler_ok;

static void on_signal(int sig) {
    (void)sig;
    handler_ok = 0;
    long before = atomic_load(&n_mismatch);
    no_aligned = 1;
    chains(7, 20, 12);
    handler_ok = atomic_load(&n_mismatch) == before ? 1 : -1;
}

__attribute__((noinline)) static void raise_deep(int depth) {
    if (depth > 0) {
        raise_deep(depth - 1);
        sink = depth;
    } else {
        raise(SIGUSR1);
    }
}

static void test_signals(void) {
    TEST("capture == backtrace() in signal handlers");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    handler_ok = 0;
    raise_deep(5);
    CHECK_EQ(handler_ok, 1);
    /* On an alternate stack, away from the thread's. */
    stack_t ss = {.ss_size = 256 * 1024};
    ss.ss_sp = malloc(ss.ss_size);
    CHECK(ss.ss_sp != NULL);
    CHECK_EQ(sigaltstack(&ss, NULL), 0);
    sa.sa_flags = SA_ONSTACK;
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    handler_ok = 0;
    raise_deep(9);
    CHECK_EQ(handler_ok, 1);
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    free(ss.ss_sp);
    signal(SIGUSR1, SIG_DFL);
    CHECK_EQ(atomic_load(&n_mismatch), 0);
}

/* ---- threads ---- */

static void *thread_main(void *arg) {
    uint64_t seed = (uint64_t)(uintptr_t)arg;
    chains(seed, 500, 30);
    return NULL;
}

static void test_threads(void) {
    TEST("capture == backtrace() in threads learning side by side");
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, thread_main, (void *)(uintptr_t)(100 + i)), 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    CHECK_EQ(atomic_load(&n_mismatch), 0);
}

/* ---- unloads ---- */

static void test_unload(void) {
    TEST("capture == backtrace() after a library was unloaded");
    no_aligned = 1;
    chains(11, 100, 10);
    /* glibc's libutil.so.1 is a stub nothing else loads: dlclose unloads it. */
    void *h = dlopen("libutil.so.1", RTLD_NOW | RTLD_LOCAL);
    if (h) dlclose(h);
    int cached = chains(11, 100, 10);
    CHECK_EQ(cached, 100);
    CHECK_EQ(atomic_load(&n_mismatch), 0);
}

int main(void) {
#if defined(__x86_64__)
    TEST("cached unwinder set up");
    CHECK_EQ(q_prof_unwind_init(), 0);
    test_chains();
    test_signals();
    test_threads();
    test_unload();
    printf("%ld captures compared, %ld from the cache\n", atomic_load(&n_compared),
           atomic_load(&n_cached));
#else
    TEST("backtrace() capture");
    q_prof_unwind_init();
    test_chains();
#endif
    return check_done();
}
