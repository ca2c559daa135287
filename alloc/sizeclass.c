/*
 * alloc/sizeclass.c - the size classes: 16..128 in steps of 16, then four classes per power of
 * two (160, 192, 224, 256, 320, ...) up to 256 KiB, so internal waste stays under 25% for the
 * first step of each power and under 12.5% on average. q_size_class() (internal.h) maps a size
 * to its class with a shift and a count-leading-zeros; this file fills the class tables and
 * chooses each class's slab length: one 64 KiB page for slots up to 8 KiB (at least eight
 * slots), then the smallest power-of-two run of pages holding eight slots, capped at 16 pages
 * (1 MiB: four slots of the largest class).
 */
#include "alloc/internal.h"

uint32_t q_class_size[Q_NCLASSES];
uint8_t q_class_pages[Q_NCLASSES];

void q_classes_init(void) {
    for (unsigned c = 0; c < Q_NCLASSES; c++) {
        uint32_t size;
        if (c < 8) {
            size = 16u * (c + 1);
        } else {
            unsigned g = (c - 8) / 4, r = (c - 8) % 4;
            size = (128u << g) / 4 * (5 + r);
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
