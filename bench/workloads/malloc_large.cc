/*
 * bench/workloads/malloc_large.cc - mimalloc-bench's malloc-large: big buffers, 5-25 MiB.
 *
 * Source: mimalloc-bench's malloc-large (contributed by Leonid Stolyarov in mimalloc issue 447,
 * modified by Daan Leijen): "allocation of large blocks between 5 and 25 MiB with up to 20 live
 * at any time", 2000 iterations, seed 42. Written from that description; no code of the
 * original. C++, as the original: each buffer is a std::unique_ptr<char[]> made with
 * value-initialisation (new char[n](), so zero-filled).
 *
 * A table of 20 buffers; each iteration picks a random slot and a random size in [5, 25] MiB
 * and assigns a fresh zero-filled buffer to the slot - the new one is allocated before the old
 * one is released, so up to 21 are live. It measures how an allocator handles blocks far above
 * every size class: mapping and unmapping them (and faulting their pages in) each time, or
 * keeping and reusing them. `iters` scales the original's 2000 to about a second.
 *
 * Each buffer is checked to be zero-filled where it will be stamped, stamped, and checked before
 * it is released. verify: buffers and the sum of their tags.
 */
#include "wl.h"

#include <memory>

int main(int argc, char **argv) {
    wl_opt o[] = {
        {"iters", 2000, "buffers allocated"},
        {"slots", 20, "buffers kept"},
        {"min", 5 << 20, "smallest buffer"},
        {"max", 25 << 20, "largest buffer"},
        {"seed", 42, "PRNG seed"},
    };
    wl_parse(argc, argv, o, sizeof o / sizeof o[0], "mimalloc-bench's malloc-large");
    uint64_t iters = o[0].val, slots = o[1].val, lo = o[2].val, hi = o[3].val;
    if (!slots || slots > 1024 || lo < 64 || hi < lo || hi > (1ULL << 32))
        wl_fail("malloc-large: bad parameters");
    wl_rng r = wl_rng_make(o[4].val, 0, 0);
    std::unique_ptr<std::unique_ptr<char[]>[]> buf(new std::unique_ptr<char[]>[slots]);
    std::unique_ptr<uint64_t[]> size(new uint64_t[slots]()), tag(new uint64_t[slots]());
    uint64_t sum = 0;
    auto check = [&](uint64_t i) {
        if (!buf[i]) return;
        if (!wl_check(buf[i].get(), size[i], tag[i]))
            wl_fail("malloc-large: buffer %p (size %llu) was overwritten", (void *)buf[i].get(),
                    (unsigned long long)size[i]);
        sum += wl_mix(tag[i] ^ size[i]);
    };
    for (uint64_t n = 0; n < iters; n++) {
        uint64_t i = wl_below(&r, slots), sz = wl_range(&r, lo, hi);
        std::unique_ptr<char[]> fresh(new char[sz]());
        const char *c = fresh.get();
        if (c[0] || c[sz / 2] || c[sz - 1]) wl_fail("malloc-large: new char[n]() is not zeroed");
        uint64_t t = wl_mix(n) | 1;
        wl_stamp(fresh.get(), sz, t);
        check(i);
        buf[i] = std::move(fresh); /* the old buffer is released here */
        size[i] = sz, tag[i] = t;
    }
    for (uint64_t i = 0; i < slots; i++) check(i);
    wl_verify("malloc-large", "buffers=%llu sum=%016llx", (unsigned long long)iters,
              (unsigned long long)sum);
    return 0;
}
