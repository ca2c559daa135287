/*
 * pager/format.h - the pager's file format: what lies where in a pager file, and the
 * checksums that guard it. Shared by the pager and by the tests that build, damage or repair
 * files on purpose (tests/unit/test_pager_corrupt.c, tests/fuzz/fuzz_pager.c), which use this
 * header, pager/io.h and pager/testing.h, never pager/internal.h. pager/internal.h's glossary
 * explains the words.
 *
 * A file is an array of pages of P bytes (P recorded in the superblock, a power of two from
 * 1 KiB to 64 KiB). Two superblock slots hold the last two commits (the first Q_SB_SIZE bytes of
 * their pages): slot 0 is page 0, slot 1 the first page of the second 4 KiB block (page 1 when
 * P >= 4 KiB), so that one damaged device block never takes both. Every other structure is
 * either a node of one of three copy-on-write trees whose roots the superblock holds - the free
 * map (tree 0), the protected-page directory (tree 1) and the sub-page directory (tree 2) - or
 * named by the commit record: the pages the commit wrote in place ("home" writes, with their
 * checksums) and the shadow map (pages whose committed contents live in another page until they
 * are copied back). A node lives in a pair of pages (its two copies, in different 4 KiB blocks)
 * and is named by a struct q_ref in its parent. Integers are in the host's byte order
 * (little-endian on every supported target).
 *
 * Version 2 (this one) replaced version 1's two-flush commit (pages, sync, superblock, sync) by
 * a one-flush commit whose superblock carries the checksums of everything the commit wrote.
 */
#ifndef QUIRE_PAGER_FORMAT_H
#define QUIRE_PAGER_FORMAT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/crc32c.h"
#include "quire/pager.h"

#define Q_MAGIC         "QUIREPGR" /* 8 bytes, no terminator stored */
#define Q_VERSION       2u
#define Q_SB_SIZE       1024u /* bytes of a superblock slot that are written and checksummed */
#define Q_ROOTS         4u    /* root refs per tree in the superblock */
#define Q_NTREES        3u
#define Q_MAX_HEIGHT    8u
#define Q_GROW_MIN      16u                 /* page_count is a multiple of this */
#define Q_GROW_FILL_MAX ((uint64_t)8 << 20) /* bytes of a growth written as zeros (grow_for) */
#define Q_MAX_PAGES     (UINT64_C(1) << 46)
#define Q_BLOCK         4096u /* the device block redundant copies never share */
/* Bytes of the commit record a superblock holds itself (the rest goes to record pages). */
#define Q_SB_INLINE (Q_SB_SIZE - 128u - Q_NTREES * Q_ROOTS * 32u - 4u)

/* The trees, by their index in the superblock. */
enum { Q_TREE_FREEMAP = 0, Q_TREE_PROT = 1, Q_TREE_SUB = 2 };
/* Page types in the free map, 2 bits per page (Q_PENDING is never written: see internal.h). */
enum { Q_FREE = 0, Q_REGULAR = 1, Q_INTERNAL = 2, Q_PENDING = 3 };
/* struct q_ref flags. */
enum { Q_REF_SEL = 1u, Q_REF_PRESENT = 2u };

/* A node's (or a protected page's) pair of copies: 32 bytes, in its parent node, in the
 * superblock (roots) or in a protected-directory leaf (protected pages). */
struct q_ref {
    uint64_t copy[2]; /* the page ids of the two copies (0 = not yet allocated) */
    uint64_t gen;     /* generation that wrote the current copy */
    uint32_t crc;     /* q_pager_node_crc(gen, current copy) */
    uint32_t flags;   /* Q_REF_SEL: copy[1] is current; Q_REF_PRESENT: written at least once */
};

/* A superblock slot: the first Q_SB_SIZE bytes of its page. */
struct q_super {
    char magic[8];
    uint32_t version;
    uint32_t page_size;
    uint64_t generation;
    uint64_t page_count;
    uint64_t n_regular;   /* pages of type Q_REGULAR */
    uint64_t n_internal;  /* pages of type Q_INTERNAL in materialized free-map leaves */
    uint64_t n_protected; /* live protected records */
    uint64_t n_subslots;  /* allocated sub-page slots */
    uint32_t height[Q_NTREES];
    uint32_t reserved0;
    /* The commit record: n_home struct q_home, then n_shadow struct q_shadow, rec_bytes in all,
     * in `inline_rec` when they fit, else in a chain of rec_pages record pages from rec_page. */
    uint64_t n_home;    /* pages this commit wrote in place */
    uint64_t n_shadow;  /* entries of the shadow map */
    uint64_t rec_page;  /* first record page (0: the record is inline) */
    uint64_t rec_pages; /* record pages in the chain */
    uint32_t rec_crc;   /* CRC32C of the record's bytes */
    uint32_t reserved1;
    uint64_t anchor; /* the last durable commit when this one was written: the home entries and
                      * protected copies of every commit after it are verified at open */
    struct q_ref root[Q_NTREES][Q_ROOTS];
    uint8_t inline_rec[Q_SB_INLINE];
    uint32_t crc; /* q_pager_super_crc(): the Q_SB_SIZE - 4 bytes before it */
};

/* A page written in place by this commit, or by an earlier one since the anchor (the commits
 * of QUIRE_PAGER_NOSYNC mode, whose writes may not have reached the disk either): a fresh page
 * (free in every state a reader or a recovery can fall back to) or a shadowed page copied back
 * home. */
struct q_home {
    uint64_t page;
    uint32_t crc; /* q_pager_page_crc(page, contents) */
    uint32_t reserved;
};

/* A shadow-map entry: regular (or sub-page) page `home` holds its committed contents in page
 * `page`, written by commit `gen`, because an earlier state still needed the home copy. */
struct q_shadow {
    uint64_t home;
    uint64_t page;
    uint64_t gen;
    uint32_t crc; /* q_pager_page_crc(home, contents) */
    uint32_t reserved;
};

/* A record page: the next one (0 at the end), then its bytes of the record. */
struct q_rec_page {
    uint64_t next;
    uint64_t nbytes; /* record bytes in this page, after this header */
};

/* A sub-page record (a leaf record of tree 2): one page divided into sub-page slots of
 * 1 << shift bytes. */
struct q_subrec {
    uint64_t page;    /* the page holding the slots (0: record unused) */
    uint32_t shift;   /* log2 of the slot size */
    uint32_t nused;   /* allocated slots */
    uint64_t bits[4]; /* allocated slots (at most 256 per page) */
    uint64_t reserved[2];
};

/* CRC32C of one copy of a node or protected page: its generation (8 bytes), then its page. */
static inline uint32_t q_pager_node_crc(uint64_t gen, const void *page, size_t page_size) {
    return q_base_crc32c(q_base_crc32c(0, &gen, sizeof gen), page, page_size);
}

/* CRC32C of the contents of page id (home or shadow entries): the id (8 bytes), then the page. */
static inline uint32_t q_pager_page_crc(uint64_t id, const void *page, size_t page_size) {
    return q_base_crc32c(q_base_crc32c(0, &id, sizeof id), page, page_size);
}

/* CRC32C of a superblock slot: every byte before its crc field. */
static inline uint32_t q_pager_super_crc(const struct q_super *sb) {
    return q_base_crc32c(0, sb, offsetof(struct q_super, crc));
}

/* ---- where things lie ------------------------------------------------------------------------ */

/* Pages per 4 KiB device block (1 when pages are 4 KiB or larger): redundant copies lie this
 * many pages apart. */
static inline uint64_t q_pager_block_pages(uint32_t page_size) {
    return page_size < Q_BLOCK ? Q_BLOCK / page_size : 1;
}

/* The page of superblock slot i (0 or 1). */
static inline uint64_t q_pager_super_page(uint32_t page_size, int i) {
    return i ? q_pager_block_pages(page_size) : 0;
}

/* Copy i (0 or 1) of free-map group g's leaf: the group's first page and the first page of its
 * second 4 KiB block; in group 0, which starts with the superblock slots, the page after each
 * slot (pages 2 and 3 when P >= 4 KiB). */
static inline uint64_t q_pager_leaf_page(uint32_t page_size, uint64_t g, int i) {
    uint64_t b = q_pager_block_pages(page_size);
    if (g == 0) return (b == 1 ? 2 : 1) + (uint64_t)i * b;
    return g * 4 * (uint64_t)page_size + (uint64_t)i * b;
}

/* ---- the lock file ---------------------------------------------------------------------------
 *
 * "FILE-lock", beside the data file, mapped shared by the writer and every reader (LMDB's lock
 * file): the writer publishes each commit's superblock there (under a sequence count), and each
 * reader holds a slot with the generation of its snapshot, so that the writer never overwrites
 * what a snapshot can still read. Liveness is fcntl open-file-description locks on single
 * bytes (no data): a live writer holds byte Q_LOCK_WRITER_BYTE, a live reader its slot's byte;
 * a process that dies loses its locks, so its slot is found stale and cleared by the next writer
 * or reader. */
#define Q_LOCK_MAGIC        "QUIRELCK"
#define Q_LOCK_VERSION      1u
#define Q_LOCK_SLOTS        1024u /* readers at once, across processes */
#define Q_LOCK_HDR          4096u /* bytes of the header area; the slots follow it */
#define Q_LOCK_WRITER_BYTE  0u
#define Q_LOCK_INIT_BYTE    1u
#define Q_LOCK_SLOT_BYTE(i) (64u + (uint64_t)(i))

struct q_lock_hdr {
    char magic[8];
    uint32_t version;
    uint32_t nslots;
    _Atomic uint64_t seq;               /* odd while the writer changes what follows */
    _Atomic uint64_t gen;               /* the published generation (0: none yet) */
    _Atomic uint64_t writer_pid;        /* the writer that published it */
    _Atomic uint64_t held_pages;        /* pages the writer cannot reuse yet (pending, shadows) */
    _Atomic uint64_t shadow_pages;      /* of which shadows */
    _Atomic uint64_t oldest;            /* the writer's oldest protected generation */
    _Atomic uint64_t durable;           /* the writer's last durable generation */
    _Atomic uint64_t sb[Q_SB_SIZE / 8]; /* the published superblock (struct q_super) */
};

struct q_lock_slot {
    _Atomic uint64_t owner; /* (pid << 24) | handle number; 0: free */
    _Atomic uint64_t gen;   /* the snapshot's generation (0: none yet) */
    uint64_t reserved[2];
};

#define Q_LOCK_SIZE (Q_LOCK_HDR + Q_LOCK_SLOTS * sizeof(struct q_lock_slot))

#endif
