/*
 * pager/format.h - the pager's file format: what lies where in a pager file, and the
 * checksums that guard it. Shared by the pager and by the tests that build, damage or repair
 * files on purpose (tests/unit/test_pager_corrupt.c, tests/fuzz/fuzz_pager.c), which use this
 * header, pager/io.h and pager/testing.h, never pager/internal.h. pager/internal.h's glossary
 * explains the words.
 *
 * A file is an array of pages of P bytes (P recorded in the superblock, a power of two from
 * 1 KiB to 64 KiB). Pages 0 and 1 are the two superblock slots (generation g lives in slot
 * g & 1, in the first Q_SB_SIZE bytes of the page). Every other structure is a node of one of
 * three copy-on-write trees whose roots the superblock holds: the free map (tree 0), the
 * protected-page directory (tree 1) and the sub-page directory (tree 2). A node lives in a pair
 * of pages (its two copies) and is named by a struct q_ref in its parent. Integers are in the
 * host's byte order (little-endian on every supported target).
 */
#ifndef QUIRE_PAGER_FORMAT_H
#define QUIRE_PAGER_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "base/crc32c.h"
#include "quire/pager.h"

#define Q_MAGIC      "QUIREPGR" /* 8 bytes, no terminator stored */
#define Q_VERSION    1u
#define Q_SB_SIZE    1024u /* bytes of a superblock slot that are written and checksummed */
#define Q_ROOTS      8u    /* root refs per tree in the superblock */
#define Q_NTREES     3u
#define Q_MAX_HEIGHT 8u
#define Q_GROW_MIN   16u /* page_count is a multiple of this */
#define Q_MAX_PAGES  (UINT64_C(1) << 46)

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

/* A superblock slot: the first Q_SB_SIZE bytes of page 0 or 1. */
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
    uint64_t reserved[6];
    struct q_ref root[Q_NTREES][Q_ROOTS];
    uint8_t pad[Q_SB_SIZE - 128 - Q_NTREES * Q_ROOTS * 32 - 4];
    uint32_t crc; /* q_pager_super_crc(): the Q_SB_SIZE - 4 bytes before it */
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

/* CRC32C of a superblock slot: every byte before its crc field. */
static inline uint32_t q_pager_super_crc(const struct q_super *sb) {
    return q_base_crc32c(0, sb, offsetof(struct q_super, crc));
}

#endif
