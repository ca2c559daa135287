/*
 * bench/workloads/wl.h - helpers shared by the whole-program workloads.
 *
 * Every workload is a plain C program that calls the system malloc family (it is never linked
 * against quire), so the runner (bench/run) can swap allocators with LD_PRELOAD. The helpers
 * here keep the programs honest and their results checkable:
 *   - wl_rng: a deterministic PRNG (splitmix64). Each thread draws from its own stream seeded by
 *     (workload seed, thread index, generation), so what a thread does never depends on thread
 *     scheduling or on the allocator.
 *   - wl_stamp / wl_check: write a tag into a block (head, tail and middle) and check it before
 *     the block is freed; a block that an allocator handed out twice, or overlapped with another,
 *     fails the check and the program exits with status 3 ("error: ..." on stderr).
 *   - checksums are sums (mod 2^64) of wl_mix() values, so they do not depend on the order in
 *     which threads free blocks.
 *   - wl_parse: "key=value" arguments with K/M/G suffixes, all keys declared up front.
 *   - wl_verify: the one "verify: ..." line the runner compares across allocators.
 * Header-only (static inline) so each workload stays one file. It compiles as C11 and as C++17
 * (larson-sized and malloc-large are C++, as their originals are).
 */
#ifndef QUIRE_BENCH_WL_H
#define QUIRE_BENCH_WL_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keep the compiler from eliding an allocation whose result is otherwise unused
 * (gcc removes free(malloc(n)) pairs at -O2). */
#define WL_ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")

/* ---- failure -------------------------------------------------------------------------------- */

/* Print "error: ..." and exit with status 3: a workload found a broken result. */
__attribute__((noreturn, format(printf, 1, 2))) static inline void wl_fail(const char *fmt, ...) {
    va_list ap;
    fputs("error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stdout);
    exit(3);
}

/* malloc that treats NULL as a failure of the run (the workloads never ask for absurd sizes). */
static inline void *wl_xmalloc(size_t n) {
    void *p = malloc(n);
    if (!p) wl_fail("malloc(%zu) returned NULL", n);
    return p;
}

/* ---- PRNG ----------------------------------------------------------------------------------- */

typedef struct {
    uint64_t s; /* splitmix64 state */
} wl_rng;

/* A 64-bit finalizer (splitmix64's): used for seeding and for checksum terms. */
static inline uint64_t wl_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A stream for (seed, a, b): e.g. (workload seed, thread index, generation). */
static inline wl_rng wl_rng_make(uint64_t seed, uint64_t a, uint64_t b) {
    wl_rng r = {wl_mix(seed ^ wl_mix(a + 0x1234567ULL) ^ wl_mix(~b))};
    return r;
}

static inline uint64_t wl_next(wl_rng *r) {
    r->s += 0x9e3779b97f4a7c15ULL;
    return wl_mix(r->s);
}

/* Uniform in [0, n) (Lemire's multiply-shift; n > 0). */
static inline uint64_t wl_below(wl_rng *r, uint64_t n) {
    return (uint64_t)(((unsigned __int128)wl_next(r) * n) >> 64);
}

/* Uniform in [lo, hi]. */
static inline uint64_t wl_range(wl_rng *r, uint64_t lo, uint64_t hi) {
    return lo + wl_below(r, hi - lo + 1);
}

/* ---- block stamps --------------------------------------------------------------------------- */

/* Write tag into the first, middle and last 8 bytes of p[0..n); a block under 24 bytes, where
 * those would overlap, gets the tag's bytes repeated over its whole length. */
static inline void wl_stamp(void *p, size_t n, uint64_t tag) {
    unsigned char *b = (unsigned char *)p;
    if (n >= 24) {
        memcpy(b, &tag, 8);
        memcpy(b + (n - 8) / 2, &tag, 8);
        memcpy(b + n - 8, &tag, 8);
    } else {
        for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(tag >> (8 * (i & 7)));
    }
}

/* True when p[0..n) still carries the stamp wl_stamp(p, n, tag) wrote. */
static inline bool wl_check(const void *p, size_t n, uint64_t tag) {
    const unsigned char *b = (const unsigned char *)p;
    uint64_t v;
    if (n >= 24) {
        memcpy(&v, b, 8);
        if (v != tag) return false;
        memcpy(&v, b + (n - 8) / 2, 8);
        if (v != tag) return false;
        memcpy(&v, b + n - 8, 8);
        return v == tag;
    }
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(tag >> (8 * (i & 7)))) return false;
    return true;
}

/* A self-describing block of `size` >= 16 bytes: word 0 holds the size, the rest carries the
 * tag's stamp (which starts with the tag's 8 bytes). Whoever frees it needs nothing else. */
static inline uint64_t *wl_block_new(size_t size, uint64_t tag) {
    uint64_t *p = (uint64_t *)wl_xmalloc(size);
    p[0] = size;
    wl_stamp(p + 1, size - 8, tag);
    return p;
}

/* Check a wl_block_new block, free it and return its checksum term wl_mix(tag ^ size). A block
 * whose size word or stamp was overwritten ends the run through wl_fail. */
static inline uint64_t wl_block_free(uint64_t *p, size_t min, size_t max, const char *who) {
    uint64_t size = p[0], tag;
    if (size < min || size > max || size < 16)
        wl_fail("%s: block %p has a bad size word", who, (void *)p);
    memcpy(&tag, p + 1, 8);
    if (!wl_check(p + 1, size - 8, tag)) wl_fail("%s: block %p was overwritten", who, (void *)p);
    free(p);
    return wl_mix(tag ^ size);
}

/* ---- arguments ------------------------------------------------------------------------------ */

typedef struct {
    const char *key;  /* argument name, given as key=value */
    uint64_t val;     /* default on entry, parsed value on return */
    const char *help; /* one line for the usage text */
} wl_opt;

static inline void wl_usage(const char *prog, const char *about, const wl_opt *o, size_t n) {
    fprintf(stderr, "usage: %s [key=value ...]\n%s\n", prog, about);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "  %-10s %s (default %llu)\n", o[i].key, o[i].help,
                (unsigned long long)o[i].val);
}

/* Parse key=value arguments (values take K/M/G suffixes, powers of 1024). An unknown key or a
 * malformed value prints the usage and exits with status 2. */
static inline void wl_parse(int argc, char **argv, wl_opt *o, size_t n, const char *about) {
    for (int a = 1; a < argc; a++) {
        const char *eq = strchr(argv[a], '=');
        size_t i = n;
        if (eq) {
            for (i = 0; i < n; i++)
                if (strlen(o[i].key) == (size_t)(eq - argv[a]) &&
                    memcmp(o[i].key, argv[a], (size_t)(eq - argv[a])) == 0)
                    break;
        }
        if (i == n) {
            fprintf(stderr, "%s: unknown argument '%s'\n", argv[0], argv[a]);
            wl_usage(argv[0], about, o, n);
            exit(2);
        }
        char *end;
        errno = 0;
        unsigned long long v = strtoull(eq + 1, &end, 0);
        static const char units[] = "kmg"; /* K/M/G suffixes */
        const char *u = *end ? strchr(units, *end | 0x20) : NULL;
        if (u) {
            v <<= 10 * (unsigned)(u - units + 1);
            end++;
        }
        if (errno || end == eq + 1 || *end) {
            fprintf(stderr, "%s: bad value in '%s'\n", argv[0], argv[a]);
            exit(2);
        }
        o[i].val = v;
    }
}

/* ---- threads and output --------------------------------------------------------------------- */

/* Start n threads running fn(arg + i * stride) and join them all. */
static inline void wl_run_threads(size_t n, void *(*fn)(void *), void *arg, size_t stride) {
    pthread_t *t = (pthread_t *)wl_xmalloc(n * sizeof *t);
    for (size_t i = 0; i < n; i++) {
        int rc = pthread_create(&t[i], NULL, fn, (char *)arg + i * stride);
        if (rc) wl_fail("pthread_create: %s", strerror(rc));
    }
    for (size_t i = 0; i < n; i++) pthread_join(t[i], NULL);
    free(t);
}

/* Print the verification line: "verify: <name> <fields>". It must depend only on the workload's
 * parameters, never on the allocator or on thread scheduling. */
__attribute__((format(printf, 2, 3))) static inline void wl_verify(const char *name,
                                                                   const char *fmt, ...) {
    va_list ap;
    printf("verify: %s ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

#endif
