/*
 * base/ids.h - sorted arrays of u64 ids (page ids, protected ids, offsets): sorting, membership,
 * and the "same id twice" test of the bulk calls' all-or-nothing validation. Sorting is the C
 * library's qsort, which may allocate: not for use inside the malloc engine.
 */
#ifndef QUIRE_BASE_IDS_H
#define QUIRE_BASE_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"

/* Sorts a[0..n) in increasing order. */
void q_base_sort_u64(uint64_t *a, size_t n);
/* 1 when the sorted array a[0..n) holds x (binary search), else 0. */
int q_base_sorted_has(const uint64_t *a, size_t n, uint64_t x);
/* 1 when some id appears twice in ids[0..n), 0 when they are distinct, or QUIRE_ENOMEM (the
 * test sorts a copy, drawn from mem; ids is not changed). */
int q_base_ids_repeat(const uint64_t *ids, size_t n, const struct q_base_mem *mem);

#endif
