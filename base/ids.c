/*
 * base/ids.c - sorted u64 id arrays (see base/ids.h): the one u64 comparison of the library.
 */
#include <stdlib.h>
#include <string.h>

#include "base/ids.h"
#include "quire/error.h"

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void q_base_sort_u64(uint64_t *a, size_t n) {
    if (n > 1) qsort(a, n, sizeof *a, cmp_u64);
}

int q_base_sorted_has(const uint64_t *a, size_t n, uint64_t x) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && a[lo] == x;
}

int q_base_ids_repeat(const uint64_t *ids, size_t n, const struct q_base_mem *mem) {
    if (n < 2) return 0;
    if (n > SIZE_MAX / sizeof *ids) return QUIRE_ENOMEM;
    uint64_t *s = mem->get(mem->ctx, n * sizeof *s);
    if (!s) return QUIRE_ENOMEM;
    memcpy(s, ids, n * sizeof *s);
    q_base_sort_u64(s, n);
    int rep = 0;
    for (size_t i = 1; i < n && !rep; i++) rep = s[i] == s[i - 1];
    mem->put(mem->ctx, s, n * sizeof *s);
    return rep;
}
