/*
 * tests/unit/test_pager_util.h - helpers shared by the pager tests: scratch file names, a
 * deterministic PRNG, page stamps, and digests of a pager's visible state (regular pages, protected
 * pages and sub-page slots with their contents; and the page count) used to compare a recovered
 * file with the state a workload committed.
 */
#ifndef QUIRE_TEST_PAGER_UTIL_H
#define QUIRE_TEST_PAGER_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pager/internal.h"
#include "quire/pager.h"

/* A fresh scratch path on tmpfs (durability is modelled by the harness, not the disk). */
static inline void tp_path(char *buf, size_t n, const char *tag) {
    static unsigned seq;
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(buf, n, "%s/quire-pager-%s-%d-%u", dir, tag, (int)getpid(), seq++);
    unlink(buf);
}

static inline uint64_t tp_rand(uint64_t *s) {
    uint64_t x = (*s += UINT64_C(0x9E3779B97F4A7C15));
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

/* Fills n bytes with a pattern determined by seed. */
static inline void tp_fill(void *buf, size_t n, uint64_t seed) {
    uint8_t *b = buf;
    uint64_t s = seed;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t r = tp_rand(&s);
        memcpy(b + i, &r, n - i < 8 ? n - i : 8);
    }
}

static inline uint64_t tp_mix(uint64_t h, uint64_t v) {
    h ^= v + UINT64_C(0x9E3779B97F4A7C15) + (h << 6) + (h >> 2);
    return h * UINT64_C(0xff51afd7ed558ccd);
}

/* Digest of the contents a committed state makes visible: the regular pages, protected pages and
 * sub-page slots with their bytes (not the page count, which a commit itself may raise when its
 * metadata needs pages and none is free). *err receives the first read error (a protected page
 * failing its checksum, ...). */
static inline uint64_t tp_content_digest(quire_pager *p, int *err) {
    uint64_t h = 1469598103934665603ull, cur = 0, id;
    uint32_t ps = quire_pager_page_size(p);
    *err = 0;
    while (quire_pager_next_page(p, &cur, &id) == 1) {
        const void *d;
        int rc = quire_pager_get(p, id, &d);
        if (rc && !*err) *err = rc;
        h = tp_mix(h, id);
        h = tp_mix(h, rc ? 0 : q_crc32c(0, d, ps));
    }
    cur = 0;
    while (quire_pager_next_protected(p, &cur, &id) == 1) {
        const void *d;
        int rc = quire_pager_protected_get(p, id, &d);
        if (rc && !*err) *err = rc;
        h = tp_mix(h, id | (UINT64_C(1) << 62));
        h = tp_mix(h, rc ? 0 : q_crc32c(0, d, ps));
    }
    cur = 0;
    while (quire_pager_next_subpage(p, &cur, &id) == 1) {
        const void *d;
        size_t sz = 0;
        int rc = quire_pager_subpage_get(p, id, &d, &sz);
        if (rc && !*err) *err = rc;
        h = tp_mix(h, id | (UINT64_C(1) << 63));
        h = tp_mix(h, rc ? 0 : q_crc32c(0, d, sz));
    }
    return h;
}

/* Digest of a whole committed state: its contents and its page count. */
static inline uint64_t tp_digest(quire_pager *p, int *err) {
    return tp_mix(tp_content_digest(p, err), quire_pager_page_count(p));
}

#endif
