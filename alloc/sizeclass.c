/*
 * alloc/sizeclass.c - the size classes: 16..128 in steps of 16, then four classes per power of
 * two (160, 192, 224, 256, 320, ...) up to 1 KiB, eight per power of two from 1 KiB to 8 KiB
 * (1152, 1280, ..., 2048, 2304, ...) and four again up to 256 KiB, so internal waste stays
 * under 25% (12.5% between 1 and 8 KiB). The finer steps serve the sizes programs allocate most
 * often just above a power of two - a 1 KiB or 4 KiB buffer or page plus a small header
 * (SQLite's page cache asks for 4104 and 4368 bytes, which take 4608-byte slots here, not 5120)
 * - while the slabs are one page holding many slots, so the extra classes cost little. Above 8
 * KiB slabs span several pages and more classes would mean more partly used slabs (measured:
 * 30% more resident memory in alloc-test for eight classes per power of two there).
 * q_size_class() (internal.h) maps a size to its class with a shift and a count-leading-zeros;
 * this file fills the class tables and chooses each class's slab length: one 64 KiB page for
 * slots up to 8 KiB (at least eight slots), then the smallest power-of-two run of pages holding
 * eight slots up to 32 KiB. Above that (Q_SPARSE_MIN) blocks are sparse - a program touches a
 * few places of a 200 KiB buffer, not all of it - and their slab is the shortest run of pages
 * (at most eight) that wastes no more than an eighth of itself: 40 KiB slots come three to two
 * pages, 160 KiB two to five pages, 224 KiB one to four. A freed slot is then reused by its own
 * class at the same address, so the pages its earlier blocks touched serve the next one.
 * Measured on mstress (peak RSS, with the page choice of heap.c): one slot per run of whole
 * pages, reused by any class, 118-122 MiB; these runs 114-118 MiB; runs the slots fill exactly
 * (up to seven pages) 112-116 MiB, but alloc-test then grew from 22 to 27 MiB (each class's
 * slab is large and gets touched all over), against 24 MiB with these.
 */
#include "alloc/internal.h"

uint32_t q_class_size[Q_NCLASSES];
uint8_t q_class_pages[Q_NCLASSES];

void q_classes_init(void) {
    for (unsigned c = 0; c < Q_NCLASSES; c++) {
        uint32_t size;
        if (c < 8) {
            size = 16u * (c + 1);
        } else if (c < 20) {
            unsigned g = (c - 8) / 4, r = (c - 8) % 4;
            size = (128u << g) / 4 * (5 + r);
        } else if (c < 44) {
            unsigned g = (c - 20) / 8, r = (c - 20) % 8;
            size = (1024u << g) / 8 * (9 + r);
        } else {
            unsigned g = (c - 44) / 4, r = (c - 44) % 4;
            size = (8192u << g) / 4 * (5 + r);
        }
        unsigned pages = 1;
        if (size > Q_SPARSE_MIN) {
            /* The shortest run wasting at most an eighth (the least waste if none does). */
            pages = (unsigned)((size + Q_PAGE_SIZE - 1) / Q_PAGE_SIZE);
            size_t waste = (size_t)pages * Q_PAGE_SIZE % size;
            for (unsigned n = pages + 1;
                 n <= Q_MAX_SLAB_PAGES && waste * 8 > (size_t)pages * Q_PAGE_SIZE; n++) {
                size_t w = (size_t)n * Q_PAGE_SIZE % size;
                if (w * pages < waste * n) pages = n, waste = w;
            }
        } else if (size > 8192) {
            while ((size_t)pages * Q_PAGE_SIZE < 8u * (size_t)size) pages *= 2;
        }
        /* QUIRE_SECURE: a slab loses a guard page before its slots: at least one slot must
           still fit. */
        while (q_opt.secure && pages < Q_MAX_SLAB_PAGES &&
               (size_t)pages * Q_PAGE_SIZE - q_guard_size < size)
            pages++;
        q_class_size[c] = size;
        q_class_pages[c] = (uint8_t)pages;
    }
}
