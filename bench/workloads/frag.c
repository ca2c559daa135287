/*
 * bench/workloads/frag.c - fragmentation: peak RSS against live bytes.
 *
 * A program whose live data stays bounded but whose sizes drift makes an allocator either reuse
 * freed memory across size classes or keep growing. Each of `phases` phases picks a size band
 * (the bands cycle through 16-32 B, 40-80 B, ... up to 24-48 KiB), allocates `live` bytes of
 * blocks from that band, then frees a random 90% of them, keeping every block with probability
 * 1/`keep`. The survivors stay for `hold` phases and are then freed: this is the pattern of a
 * long-running program (caches, sessions) that leaves scattered long-lived blocks on pages that
 * are otherwise empty. Live bytes peak at about live * (1 + hold / keep); an allocator that
 * cannot reuse or return the emptied pages shows a peak RSS several times higher. The runner
 * reports peak RSS (and the ratio of peak RSS to this program's own peak of live bytes); time is
 * a secondary figure here. Single-threaded.
 *
 * verify: blocks allocated, the sum of their tags, and the peak of live bytes.
 */
#include "wl.h"

static const uint32_t k_bands[] = {16, 40, 100, 250, 600, 1500, 3800, 9000, 24000};
#define NBANDS (sizeof k_bands / sizeof k_bands[0])

typedef struct {
    uint64_t **blk; /* blocks (self-describing, see wl_block_new) */
    uint64_t n;     /* count */
} set;

int main(int argc, char **argv) {
    wl_opt o[] = {
        {"live", 64 << 20, "bytes allocated per phase"},
        {"phases", 18, "phases (size bands cycle every 9)"},
        {"keep", 10, "a block survives its phase with probability 1/keep"},
        {"hold", 3, "phases a survivor lives on"},
        {"seed", 42, "PRNG seed"},
    };
    wl_parse(argc, argv, o, sizeof o / sizeof o[0], "fragmentation: peak RSS against live bytes");
    uint64_t live = o[0].val, phases = o[1].val, keep = o[2].val, hold = o[3].val;
    uint64_t seed = o[4].val;
    if (!live || !keep || !phases) wl_fail("frag: bad parameters");

    set *kept = wl_xmalloc((hold + 1) * sizeof *kept); /* survivors, by phase modulo hold+1 */
    memset(kept, 0, (hold + 1) * sizeof *kept);
    uint64_t cap = live / 16 + 1; /* most blocks a phase can allocate */
    uint64_t **cur = wl_xmalloc(cap * sizeof *cur);
    uint64_t allocs = 0, asum = 0, fsum = 0, now = 0, peak = 0;
    wl_rng r = wl_rng_make(seed, 0, 0);

    for (uint64_t ph = 0; ph < phases; ph++) {
        /* retire the survivors of phase ph - hold - 1 (their slot is reused now) */
        set *old = &kept[ph % (hold + 1)];
        for (uint64_t i = 0; i < old->n; i++) {
            now -= old->blk[i][0];
            fsum += wl_block_free(old->blk[i], 16, 48000, "frag");
        }
        free(old->blk);
        old->blk = NULL;
        old->n = 0;

        uint32_t lo = k_bands[ph % NBANDS];
        uint64_t n = 0, bytes = 0;
        while (bytes < live && n < cap) {
            size_t sz = wl_range(&r, lo, 2 * lo);
            uint64_t tag = wl_mix(allocs++);
            cur[n++] = wl_block_new(sz, tag);
            asum += wl_mix(tag ^ sz);
            bytes += sz;
        }
        now += bytes;
        if (now > peak) peak = now;

        /* free 1 - 1/keep of them, in random order; the survivors move to `old` */
        for (uint64_t i = n; i > 1; i--) { /* Fisher-Yates */
            uint64_t j = wl_below(&r, i);
            uint64_t *t = cur[i - 1];
            cur[i - 1] = cur[j];
            cur[j] = t;
        }
        old->blk = wl_xmalloc((n / keep + 1) * sizeof *old->blk);
        for (uint64_t i = 0; i < n; i++) {
            if (wl_below(&r, keep) == 0 && old->n < n / keep + 1) {
                old->blk[old->n++] = cur[i];
            } else {
                now -= cur[i][0];
                fsum += wl_block_free(cur[i], 16, 48000, "frag");
            }
        }
    }
    for (uint64_t s = 0; s <= hold; s++) {
        for (uint64_t i = 0; i < kept[s].n; i++)
            fsum += wl_block_free(kept[s].blk[i], 16, 48000, "frag");
        free(kept[s].blk);
    }
    free(kept);
    free(cur);
    if (asum != fsum) wl_fail("frag: freed blocks do not add up to the allocated ones");
    printf("metric: live_peak_bytes=%llu\n", (unsigned long long)peak);
    wl_verify("frag", "allocs=%llu sum=%016llx live_peak=%llu", (unsigned long long)allocs,
              (unsigned long long)asum, (unsigned long long)peak);
    return 0;
}
