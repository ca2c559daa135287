/*
 * tests/unit/test_pheap_util.h - helpers shared by the persistent-heap tests: scratch paths,
 * a PRNG, and a digest of everything a heap makes visible (every live allocation with its
 * offset, usable size and contents, the root, every name with its reference). The generation is
 * left out: recovery of a crashed commit moves it on without changing the heap's contents.
 */
#ifndef QUIRE_TEST_PHEAP_UTIL_H
#define QUIRE_TEST_PHEAP_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pager/internal.h"
#include "pager/pheap_internal.h"
#include "quire/pheap.h"

static inline void th_path(char *buf, size_t n, const char *tag) {
    static unsigned seq;
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(buf, n, "%s/quire-pheap-%s-%d-%u", dir, tag, (int)getpid(), seq++);
    unlink(buf);
}

static inline uint64_t th_rand(uint64_t *s) {
    uint64_t x = (*s += UINT64_C(0x9E3779B97F4A7C15));
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

static inline void th_fill(void *buf, size_t n, uint64_t seed) {
    uint8_t *b = buf;
    uint64_t s = seed;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t r = th_rand(&s);
        memcpy(b + i, &r, n - i < 8 ? n - i : 8);
    }
}

static inline uint64_t th_mix(uint64_t h, uint64_t v) {
    h ^= v + UINT64_C(0x9E3779B97F4A7C15) + (h << 6) + (h >> 2);
    return h * UINT64_C(0xff51afd7ed558ccd);
}

/* Digest of a heap's visible state; *nobj receives the number of live allocations. */
static inline uint64_t th_digest(const quire_pheap *h, uint64_t *nobj) {
    uint64_t d = 1469598103934665603ull, cur = 0, n = 0;
    quire_pref r;
    size_t sz;
    while (quire_pheap_next(h, &cur, &r, &sz) == 1) {
        const void *p = quire_pheap_ptr(h, r);
        d = th_mix(d, r.off);
        d = th_mix(d, sz);
        d = th_mix(d, p ? q_crc32c(0, p, sz) : 0);
        n++;
    }
    quire_pheap_root(h, &r);
    d = th_mix(d, r.off | (UINT64_C(1) << 63));
    const char *name;
    uint64_t nd = 0; /* names: order-independent */
    cur = 0;
    while (quire_pheap_next_name(h, &cur, &name, &r) == 1)
        nd += th_mix(q_crc32c(0, name, strlen(name)), r.off);
    d = th_mix(d, nd);
    if (nobj) *nobj = n;
    return d;
}

#endif
