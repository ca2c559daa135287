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
 * eight slots, capped at 16 pages (1 MiB: four slots of the largest class).
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
        if (size > Q_SINGLE_MIN) {
            /* One slot per slab, as many pages as it needs: freeing it frees the pages for
               any class, and the untouched tail of the last page costs no memory. */
            pages = (unsigned)((size + Q_PAGE_SIZE - 1) / Q_PAGE_SIZE);
        } else if (size > 8192) {
            while ((size_t)pages * Q_PAGE_SIZE < 8u * (size_t)size) pages *= 2;
        }
        q_class_size[c] = size;
        q_class_pages[c] = (uint8_t)pages;
    }
}
