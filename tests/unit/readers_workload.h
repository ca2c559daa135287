/*
 * tests/unit/readers_workload.h - a heap whose every commit keeps invariants a reader can
 * verify, shared by the reader tests (test_pheap_readers.c: processes, SIGKILL;
 * test_pheap_readers_mt.c: threads, also under ThreadSanitizer).
 *
 * The root object holds a commit number, 48 cells (each an allocation of 16..3000 bytes whose
 * bytes derive from its value and whose last 4 bytes are their CRC32C), the sum of the cells'
 * values, and a linked list of up to 40 nodes (each naming the commit that pushed it, with a
 * checksum), and its own CRC. Each writer transaction frees and reallocates some cells, rewrites
 * others in place, pushes a node and pops some: a reader that sees a half-applied commit, a torn
 * or reused page, breaks a sum, a CRC, a list length or the order of commit numbers.
 */
#ifndef QUIRE_TEST_READERS_WORKLOAD_H
#define QUIRE_TEST_READERS_WORKLOAD_H

#include "base/crc32c.h"
#include "crash_harness.h"
#include "quire/pheap.h"

#define RW_CELLS 48
#define RW_LIST  40

struct rw_root {
    uint64_t seq; /* commits made by the workload */
    uint64_t sum; /* of the cells' values */
    quire_pref cell[RW_CELLS];
    uint64_t head, len; /* the list: node offsets, newest first */
    uint32_t crc;       /* of everything above */
    uint32_t pad;
};

struct rw_node {
    uint64_t next, seq, check; /* check: a mix of seq and next */
};

static inline uint32_t rw_root_crc(const struct rw_root *r) {
    return q_base_crc32c(0, r, offsetof(struct rw_root, crc));
}

/* A cell's bytes: value (8 bytes), size (8 bytes), bytes from the value, CRC32C of the rest. */
static inline void rw_fill_cell(uint8_t *c, size_t size, uint64_t value) {
    memcpy(c, &value, 8);
    uint64_t sz = size;
    memcpy(c + 8, &sz, 8);
    ch_fill(c + 16, size - 20, value);
    uint32_t crc = q_base_crc32c(0, c, size - 4);
    memcpy(c + size - 4, &crc, 4);
}

/* Creates the root (one commit). */
static inline int rw_setup(quire_pheap *h) {
    quire_pref root;
    int rc = quire_pheap_zalloc(h, sizeof(struct rw_root), &root);
    if (!rc) rc = quire_pheap_set_root(h, root);
    struct rw_root r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < RW_CELLS && !rc; i++) {
        size_t size = 24 + (size_t)i * 37;
        void *p;
        rc = quire_pheap_alloc(h, size, &r.cell[i]);
        if (!rc) rc = quire_pheap_write(h, r.cell[i], 0, size, &p);
        if (!rc) rw_fill_cell(p, size, (uint64_t)i);
        r.sum += (uint64_t)i;
    }
    r.crc = rw_root_crc(&r);
    if (!rc) rc = quire_pheap_set(h, root, 0, &r, sizeof r);
    if (!rc) rc = quire_pheap_commit(h);
    return rc;
}

/* One writer transaction (committed). */
static inline int rw_txn(quire_pheap *h, uint64_t *s) {
    quire_pref root;
    int rc = quire_pheap_root(h, &root);
    if (rc) return rc;
    struct rw_root r;
    memcpy(&r, quire_pheap_ptr(h, root), sizeof r);
    r.seq++;
    int ops = 1 + (int)(ch_rand(s) % 6);
    for (int o = 0; o < ops && !rc; o++) {
        int i = (int)(ch_rand(s) % RW_CELLS);
        size_t us;
        rc = quire_pheap_usable_size(h, r.cell[i], &us);
        if (rc) break;
        const uint8_t *old = quire_pheap_ptr(h, r.cell[i]);
        uint64_t oldv, oldsz;
        memcpy(&oldv, old, 8);
        memcpy(&oldsz, old + 8, 8);
        uint64_t v = ch_rand(s) >> 20;
        void *p;
        if (ch_rand(s) % 2) { /* a new block: the old one is freed */
            size_t size = 24 + (size_t)(ch_rand(s) % 3000);
            quire_pref n;
            rc = quire_pheap_alloc(h, size, &n);
            if (!rc) rc = quire_pheap_write(h, n, 0, size, &p);
            if (!rc) rw_fill_cell(p, size, v);
            if (!rc) rc = quire_pheap_free(h, r.cell[i]);
            if (!rc) r.cell[i] = n;
        } else { /* in place */
            rc = quire_pheap_write(h, r.cell[i], 0, (size_t)oldsz, &p);
            if (!rc) rw_fill_cell(p, (size_t)oldsz, v);
        }
        r.sum = r.sum - oldv + v;
    }
    /* the list: push one node, pop some from the tail's side when too long */
    struct rw_node nd = {r.head, r.seq, 0};
    nd.check = ch_mix(nd.seq, nd.next);
    quire_pref n;
    if (!rc) rc = quire_pheap_alloc(h, sizeof nd, &n);
    if (!rc) rc = quire_pheap_set(h, n, 0, &nd, sizeof nd);
    if (!rc) {
        r.head = n.off;
        r.len++;
    }
    while (!rc && r.len > RW_LIST) { /* drop the oldest: walk to the one before it */
        uint64_t at = r.head, prev = 0;
        for (uint64_t k = 1; k < r.len; k++) {
            prev = at;
            at = ((const struct rw_node *)quire_pheap_ptr(h, (quire_pref){at}))->next;
        }
        rc = quire_pheap_free(h, (quire_pref){at});
        struct rw_node pn;
        memcpy(&pn, quire_pheap_ptr(h, (quire_pref){prev}), sizeof pn);
        pn.next = 0;
        pn.check = ch_mix(pn.seq, pn.next);
        if (!rc) rc = quire_pheap_set(h, (quire_pref){prev}, 0, &pn, sizeof pn);
        r.len--;
    }
    r.crc = rw_root_crc(&r);
    if (!rc) rc = quire_pheap_set(h, root, 0, &r, sizeof r);
    if (!rc) rc = quire_pheap_commit(h);
    return rc;
}

/* Verifies a reader's snapshot: 0 when every invariant holds, else a short reason. *seq
 * receives the snapshot's commit number. */
static inline const char *rw_verify(const quire_pheap *h, uint64_t *seq) {
    quire_pref root;
    if (quire_pheap_root(h, &root) || !root.off) return "no root";
    const struct rw_root *r = quire_pheap_ptr(h, root);
    if (!r) return "root outside the file";
    struct rw_root c;
    memcpy(&c, r, sizeof c);
    if (rw_root_crc(&c) != c.crc) return "root checksum";
    *seq = c.seq;
    uint64_t sum = 0;
    for (int i = 0; i < RW_CELLS; i++) {
        size_t us;
        if (quire_pheap_usable_size((quire_pheap *)(uintptr_t)h, c.cell[i], &us))
            return "a cell is not a live block";
        const uint8_t *p = quire_pheap_ptr(h, c.cell[i]);
        uint64_t v, sz;
        memcpy(&v, p, 8);
        memcpy(&sz, p + 8, 8);
        if (sz < 24 || sz > us) return "a cell's size";
        uint32_t crc;
        memcpy(&crc, p + sz - 4, 4);
        if (q_base_crc32c(0, p, (size_t)sz - 4) != crc) return "a cell's checksum";
        sum += v;
    }
    if (sum != c.sum) return "the sum of the cells";
    uint64_t at = c.head, n = 0, prevseq = UINT64_MAX;
    while (at) {
        if (++n > c.len) return "the list is longer than its count";
        const struct rw_node *nd = quire_pheap_ptr(h, (quire_pref){at});
        if (!nd) return "a list node outside the file";
        if (nd->check != ch_mix(nd->seq, nd->next)) return "a list node's checksum";
        if (nd->seq >= prevseq || nd->seq > c.seq) return "the list's commit numbers";
        prevseq = nd->seq;
        at = nd->next;
    }
    if (n != c.len) return "the list's length";
    return NULL;
}

#endif
