/*
 * tests/unit/test_pheap_util.h - a digest of everything a persistent heap makes visible (every
 * live allocation with its offset, usable size and contents, the root, every name with its
 * reference). The generation is left out: recovery of a crashed commit moves it on without
 * changing the heap's contents. Scratch paths, the PRNG and the crash harnesses come from
 * crash_harness.h.
 */
#ifndef QUIRE_TEST_PHEAP_UTIL_H
#define QUIRE_TEST_PHEAP_UTIL_H

#include "base/crc32c.h"
#include "crash_harness.h"
#include "pheap/internal.h"
#include "quire/pheap.h"

/* Digest of a heap's visible state; *nobj receives the number of live allocations. */
static inline uint64_t th_digest(const quire_pheap *h, uint64_t *nobj) {
    uint64_t d = 1469598103934665603ull, cur = 0, n = 0;
    quire_pref r;
    size_t sz;
    while (quire_pheap_next(h, &cur, &r, &sz) == 1) {
        const void *p = quire_pheap_ptr(h, r);
        d = ch_mix(d, r.off);
        d = ch_mix(d, sz);
        d = ch_mix(d, p ? q_base_crc32c(0, p, sz) : 0);
        n++;
    }
    quire_pheap_root(h, &r);
    d = ch_mix(d, r.off | (UINT64_C(1) << 63));
    const char *name;
    uint64_t nd = 0; /* names: order-independent */
    cur = 0;
    while (quire_pheap_next_name(h, &cur, &name, &r) == 1)
        nd += ch_mix(q_base_crc32c(0, name, strlen(name)), r.off);
    d = ch_mix(d, nd);
    if (nobj) *nobj = n;
    return d;
}

#endif
