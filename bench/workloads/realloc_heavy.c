/*
 * bench/workloads/realloc_heavy.c - growing and shrinking buffers with realloc.
 *
 * Models string builders and dynamic arrays: `buffers` buffers live side by side (so a buffer
 * rarely has free space behind it), and each of `ops` operations picks one at random and either
 * appends 1 byte to 1/4 of its length plus 16 (94%), shrinks it to a random smaller length
 * (5%), or checks its whole content, frees it and starts it again at 16 bytes (1%, and always
 * once it has reached its own random limit of up to `max` bytes, log-uniformly distributed so
 * most buffers stay small). Every append calls realloc to exactly the new length,
 * like a careless program; allocators with in-place growth, size-class slack or mremap for large
 * blocks win. Appended bytes follow a pattern that depends on the buffer and the offset, and the
 * bytes around each old end are checked after every realloc. Single-threaded.
 *
 * verify: reallocs done and the sum over freed buffers of (final length, content hash).
 */
#include "wl.h"

typedef struct {
    unsigned char *p; /* the buffer */
    uint64_t len;     /* bytes in use (== size passed to the last realloc) */
    uint64_t limit;   /* length at which it is retired */
    uint64_t salt;    /* pattern seed of this incarnation */
} buf;

/* The content: byte `off` is byte (off % 8) of the word w(off / 8), so fill and check can work a
 * word at a time (the workload should spend its time in realloc, not in a byte loop). */
static inline uint64_t word(uint64_t salt, uint64_t w) {
    return (salt ^ w) * 0x9e3779b97f4a7c15ULL;
}

static inline unsigned char pat(uint64_t salt, uint64_t off) {
    return (unsigned char)(word(salt, off >> 3) >> (8 * (off & 7)));
}

static void fill(buf *b, uint64_t from, uint64_t to) {
    uint64_t o = from;
    for (; o < to && (o & 7); o++) b->p[o] = pat(b->salt, o);
    for (; o + 8 <= to; o += 8) {
        uint64_t v = word(b->salt, o >> 3);
        memcpy(b->p + o, &v, 8);
    }
    for (; o < to; o++) b->p[o] = pat(b->salt, o);
}

static void check_at(const buf *b, uint64_t off) {
    if (off < b->len && b->p[off] != pat(b->salt, off))
        wl_fail("realloc: buffer %p lost byte %llu", (void *)b->p, (unsigned long long)off);
}

/* Check the whole buffer and return a hash of it. */
static uint64_t check_all(const buf *b) {
    uint64_t h = b->len, o = 0;
    for (; o + 8 <= b->len; o += 8) {
        uint64_t v;
        memcpy(&v, b->p + o, 8);
        if (v != word(b->salt, o >> 3)) break;
        h = h * 31 + v;
    }
    for (; o < b->len; o++) {
        if (b->p[o] != pat(b->salt, o))
            wl_fail("realloc: buffer %p corrupt at %llu", (void *)b->p, (unsigned long long)o);
        h = h * 31 + b->p[o];
    }
    return h;
}

int main(int argc, char **argv) {
    wl_opt o[] = {
        {"buffers", 256, "live buffers"},
        {"ops", 2000000, "operations"},
        {"max", 8 << 20, "largest buffer length"},
        {"seed", 42, "PRNG seed"},
    };
    wl_parse(argc, argv, o, sizeof o / sizeof o[0], "realloc-heavy growing buffers");
    uint64_t nb = o[0].val, ops = o[1].val, max = o[2].val, seed = o[3].val;
    if (!nb || max < 64) wl_fail("realloc: bad parameters");
    wl_rng r = wl_rng_make(seed, 0, 0);
    uint64_t lgmax = 63 - (uint64_t)__builtin_clzll(max);
    buf *bs = wl_xmalloc(nb * sizeof *bs);
    uint64_t incarnation = 0, reallocs = 0, sum = 0;

    for (uint64_t i = 0; i < nb; i++) {
        bs[i].len = 16;
        bs[i].salt = wl_mix(incarnation++);
        bs[i].limit = (uint64_t)1 << wl_range(&r, 6, lgmax);
        bs[i].p = wl_xmalloc(16);
        fill(&bs[i], 0, 16);
    }
    for (uint64_t k = 0; k < ops + nb; k++) {
        buf *b = &bs[k < ops ? wl_below(&r, nb) : k - ops];
        uint64_t c = k < ops ? wl_below(&r, 100) : 100;
        if (c >= 99 || b->len >= b->limit) {
            /* retire: check everything, hash it, start again small */
            uint64_t h = check_all(b);
            sum += wl_mix(h ^ b->salt);
            free(b->p);
            if (k >= ops) continue;
            b->len = 16;
            b->salt = wl_mix(incarnation++);
            b->limit = (uint64_t)1 << wl_range(&r, 6, lgmax);
            b->p = wl_xmalloc(16);
            fill(b, 0, 16);
            continue;
        }
        uint64_t nlen;
        if (c < 94)
            nlen = b->len + wl_range(&r, 1, b->len / 4 + 16);
        else
            nlen = wl_range(&r, 1, b->len);
        unsigned char *np = realloc(b->p, nlen);
        if (!np) wl_fail("realloc(%llu) returned NULL", (unsigned long long)nlen);
        reallocs++;
        uint64_t old = b->len;
        b->p = np;
        b->len = nlen;
        check_at(b, 0);
        check_at(b, (old < nlen ? old : nlen) - 1);
        check_at(b, wl_below(&r, old < nlen ? old : nlen));
        if (nlen > old) fill(b, old, nlen);
    }
    free(bs);
    wl_verify("realloc", "ops=%llu reallocs=%llu sum=%016llx", (unsigned long long)ops,
              (unsigned long long)reallocs, (unsigned long long)sum);
    return 0;
}
