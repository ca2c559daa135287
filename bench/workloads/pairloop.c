/*
 * bench/workloads/pairloop.c - a single-threaded malloc/free pair loop, for instruction counts.
 *
 * `make bench-callgrind` runs this under valgrind --tool=callgrind twice per allocator and
 * variant, with two values of `n`, and divides the difference in instructions by the difference
 * in n: start-up, first-touch and exit costs cancel, leaving the instructions of one malloc/free
 * pair on the allocator's fast path (plus the loop's own few instructions, the same for every
 * allocator). Variants:
 *   size=S mixed=0  n times p = malloc(S); free(p)
 *   mixed=1         a working set of 64 blocks of sizes 16-512 B; each step frees one slot's
 *                   block and allocates a new one of the next size in a fixed cycle, so free
 *                   lists of several classes are in use, as in a real program.
 * The blocks are touched (one store) so the allocation cannot be optimized away.
 *
 * verify: pairs done and the sum of the sizes.
 */
#include "wl.h"

int main(int argc, char **argv) {
    wl_opt o[] = {
        {"n", 100000, "malloc/free pairs"},
        {"size", 32, "block size (mixed=0)"},
        {"mixed", 0, "1: rotating working set of mixed sizes"},
    };
    wl_parse(argc, argv, o, sizeof o / sizeof o[0], "malloc/free pair loop (callgrind)");
    uint64_t n = o[0].val, size = o[1].val, sum = 0;
    if (!o[2].val) {
        for (uint64_t i = 0; i < n; i++) {
            char *p = malloc(size);
            WL_ESCAPE(p);
            *(volatile char *)p = 1;
            free(p);
        }
        sum = n * size;
    } else {
        static const uint16_t k_sizes[] = {16, 24, 32, 48, 64, 96, 128, 200, 256, 512, 40, 80};
        enum { SLOTS = 64, NS = sizeof k_sizes / sizeof k_sizes[0] };
        char *slot[SLOTS];
        for (int i = 0; i < SLOTS; i++) slot[i] = wl_xmalloc(k_sizes[i % NS]);
        size_t s = 0;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t j = i % SLOTS;
            free(slot[j]);
            char *p = malloc(k_sizes[s]);
            WL_ESCAPE(p);
            *(volatile char *)p = 1;
            slot[j] = p;
            sum += k_sizes[s];
            if (++s == NS) s = 0;
        }
        for (int i = 0; i < SLOTS; i++) free(slot[i]);
    }
    wl_verify("pairloop", "n=%llu sum=%llu", (unsigned long long)n, (unsigned long long)sum);
    return 0;
}
