/*
 * tests/unit/test_pager_util.h - digests of a pager's visible state (regular pages, protected
 * pages and sub-page slots with their contents; and the page count) used to compare a recovered
 * file with the state a workload committed. Scratch paths, the PRNG and the crash harnesses
 * come from crash_harness.h.
 */
#ifndef QUIRE_TEST_PAGER_UTIL_H
#define QUIRE_TEST_PAGER_UTIL_H

#include "base/crc32c.h"
#include "crash_harness.h"
#include "quire/pager.h"

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
        h = ch_mix(h, id);
        h = ch_mix(h, rc ? 0 : q_base_crc32c(0, d, ps));
    }
    cur = 0;
    while (quire_pager_next_protected(p, &cur, &id) == 1) {
        const void *d;
        int rc = quire_pager_protected_get(p, id, &d);
        if (rc && !*err) *err = rc;
        h = ch_mix(h, id | (UINT64_C(1) << 62));
        h = ch_mix(h, rc ? 0 : q_base_crc32c(0, d, ps));
    }
    cur = 0;
    while (quire_pager_next_subpage(p, &cur, &id) == 1) {
        const void *d;
        size_t sz = 0;
        int rc = quire_pager_subpage_get(p, id, &d, &sz);
        if (rc && !*err) *err = rc;
        h = ch_mix(h, id | (UINT64_C(1) << 63));
        h = ch_mix(h, rc ? 0 : q_base_crc32c(0, d, sz));
    }
    return h;
}

/* The generation of the pager's last commit. */
static inline uint64_t tp_generation(const quire_pager *p) {
    struct quire_pager_stat st;
    return quire_pager_stat(p, &st) == 0 ? st.generation : UINT64_MAX;
}

/* Digest of a whole committed state: its contents and its page count. */
static inline uint64_t tp_digest(quire_pager *p, int *err) {
    return ch_mix(tp_content_digest(p, err), quire_pager_page_count(p));
}

#endif
