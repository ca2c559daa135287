/*
 * bench/companion/pvec_fill.c - filling 1 GiB by push: quire's paged vector against a
 * realloc-doubling vector on glibc's malloc and on jemalloc, and against the bare cost of
 * faulting in 1 GiB of fresh pages.
 *
 * Both allocators run in this one process: the program is linked with -ljemalloc, so malloc,
 * realloc and free are jemalloc's (checked with dladdr and printed), while glibc's own allocator
 * stays reachable through its exported __libc_realloc and __libc_free.
 *
 *   usage: pvec_fill [MiB [elem_bytes [repeats]]]      (defaults: 1024 8 5)
 *
 * Every variant writes the same values (element i = i) through an inlined push and the result
 * is verified. The variants run round-robin `repeats` times (so load from other processes on
 * the shared machine hits them alike) and the table gives the median, min and max of each.
 * Baselines: "fault-in" maps the same amount and writes one byte per 4 KiB page (with 4 KiB
 * pages, and with MADV_HUGEPAGE), or faults it all in with one madvise(MADV_POPULATE_WRITE);
 * the "floor" rows also write every byte (memset), which any way of producing the data must.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "quire/pages.h"
#include "quire/pvec.h"

static size_t total_bytes, elem;
static int repeats;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Writes element i (elem bytes) as the value i. */
static inline void put(void *slot, uint64_t i) {
    if (elem == 8)
        *(uint64_t *)slot = i;
    else {
        memset(slot, 0, elem);
        memcpy(slot, &i, sizeof i);
    }
}

static int verify(const unsigned char *data, size_t n) {
    for (size_t i = 0; i < n; i += 4099) {
        uint64_t v;
        memcpy(&v, data + i * elem, sizeof v);
        if (v != i) return 0;
    }
    uint64_t v;
    memcpy(&v, data + (n - 1) * elem, sizeof v);
    return v == n - 1;
}

/* ---- baselines ---------------------------------------------------------------------------- */

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* How the fault-in baselines get their pages. */
enum fault_mode {
    F_TOUCH,        /* one write per 4 KiB page: a demand fault each */
    F_POPULATE,     /* one madvise(MADV_POPULATE_WRITE) for everything */
    F_HUGE_TOUCH,   /* MADV_HUGEPAGE, then one write per 4 KiB (a fault per 2 MiB) */
    F_POPULATE_SET, /* F_POPULATE, then memset every byte: the floor for writing 4 KiB pages */
    F_HUGE_SET,     /* MADV_HUGEPAGE, then memset every byte: the floor with huge pages */
};

static double fault_in(int mode) {
    double t0 = now();
    unsigned char *p =
        mmap(NULL, total_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) abort();
    if (mode == F_HUGE_TOUCH || mode == F_HUGE_SET) madvise(p, total_bytes, MADV_HUGEPAGE);
    if (mode == F_POPULATE || mode == F_POPULATE_SET) {
        if (madvise(p, total_bytes, MADV_POPULATE_WRITE) != 0) abort();
    }
    if (mode == F_TOUCH || mode == F_HUGE_TOUCH) {
        for (size_t off = 0; off < total_bytes; off += 4096) p[off] = 1;
    } else if (mode == F_POPULATE_SET || mode == F_HUGE_SET) {
        memset(p, 1, total_bytes);
    }
    __asm__ volatile("" ::"r"(p) : "memory");
    double t = now() - t0;
    munmap(p, total_bytes);
    return t;
}

/* ---- realloc doubling -------------------------------------------------------------------- */

typedef void *(*realloc_fn)(void *, size_t);
typedef void (*free_fn)(void *);

static double realloc_fill(realloc_fn re, free_fn fr) {
    size_t n = total_bytes / elem;
    double t0 = now();
    size_t len = 0, cap = 16;
    unsigned char *data = re(NULL, cap * elem);
    for (size_t i = 0; i < n; i++) {
        if (__builtin_expect(len == cap, 0)) {
            cap *= 2;
            data = re(data, cap * elem);
            if (!data) abort();
        }
        put(data + len++ * elem, i);
    }
    double t = now() - t0;
    if (!verify(data, n)) {
        fprintf(stderr, "realloc vector: wrong contents\n");
        exit(1);
    }
    fr(data);
    return t;
}

extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static void *glibc_realloc(void *p, size_t n) {
    return __libc_realloc(p, n);
}
static void glibc_free(void *p) {
    __libc_free(p);
}
static void *je_realloc(void *p, size_t n) {
    return realloc(p, n);
}
static void je_free(void *p) {
    free(p);
}

/* ---- paged vector ------------------------------------------------------------------------ */

static double pvec_fill(unsigned flags) {
    size_t n = total_bytes / elem;
    quire_pvec v;
    double t0 = now();
    if (quire_pvec_init(&v, elem, 0, flags) != 0) abort();
    for (size_t i = 0; i < n; i++) {
        void *slot;
        if (__builtin_expect(quire_pvec_push_slot(&v, &slot) != 0, 0)) abort();
        put(slot, i);
    }
    double t = now() - t0;
    if (!verify(quire_pvec_data(&v), n) || quire_pvec_len(&v) != n) {
        fprintf(stderr, "paged vector: wrong contents\n");
        exit(1);
    }
    quire_pvec_destroy(&v);
    return t;
}

/* ---- driver ------------------------------------------------------------------------------ */

static double run_glibc(int unused) {
    (void)unused;
    return realloc_fill(glibc_realloc, glibc_free);
}
static double run_je(int unused) {
    (void)unused;
    return realloc_fill(je_realloc, je_free);
}
static double run_pvec(int flags) {
    return pvec_fill((unsigned)flags);
}

struct row {
    const char *name;
    double (*fn)(int);
    int arg;
    double t[64]; /* one time per repeat */
    double med, lo, hi;
};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum {
    R_TOUCH,
    R_POP,
    R_HUGE,
    R_POPSET,
    R_HUGESET,
    R_GLIBC,
    R_JE,
    R_PV,
    R_LAZY,
    R_PVHUGE,
    R_COUNT
};

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 1024;
    elem = argc > 2 ? strtoul(argv[2], NULL, 0) : 8;
    repeats = argc > 3 ? atoi(argv[3]) : 5;
    if (mib == 0 || elem < 8 || repeats < 1 || repeats > 64) {
        fprintf(stderr, "usage: pvec_fill [MiB [elem_bytes>=8 [repeats<=64]]]\n");
        return 2;
    }
    total_bytes = mib << 20;

    /* realloc must be jemalloc's for the jemalloc row to mean anything. */
    Dl_info info;
    int je = dladdr((void *)(uintptr_t)&realloc, &info) && info.dli_fname &&
             strstr(info.dli_fname, "jemalloc") != NULL;
    printf("realloc comes from %s; glibc's through __libc_realloc\n",
           je ? info.dli_fname : "(not jemalloc: row skipped)");

    struct row rows[R_COUNT] = {
        [R_TOUCH] = {"fault-in 4 KiB, touch each page", fault_in, F_TOUCH, {0}, 0, 0, 0},
        [R_POP] = {"fault-in 4 KiB, MADV_POPULATE_WRITE", fault_in, F_POPULATE, {0}, 0, 0, 0},
        [R_HUGE] = {"fault-in MADV_HUGEPAGE, touch", fault_in, F_HUGE_TOUCH, {0}, 0, 0, 0},
        [R_POPSET] = {"4 KiB populate + memset (floor)", fault_in, F_POPULATE_SET, {0}, 0, 0, 0},
        [R_HUGESET] = {"huge pages + memset (floor)", fault_in, F_HUGE_SET, {0}, 0, 0, 0},
        [R_GLIBC] = {"realloc doubling, glibc", run_glibc, 0, {0}, 0, 0, 0},
        [R_JE] = {"realloc doubling, jemalloc", run_je, 0, {0}, 0, 0, 0},
        [R_PV] =
            {"quire_pvec default (prefault ahead)", run_pvec, QUIRE_PVEC_DEFAULT, {0}, 0, 0, 0},
        [R_LAZY] =
            {"quire_pvec LAZY (4 KiB demand faults)", run_pvec, QUIRE_PVEC_LAZY, {0}, 0, 0, 0},
        [R_PVHUGE] = {"quire_pvec HUGE", run_pvec, QUIRE_PVEC_HUGE, {0}, 0, 0, 0},
    };
    printf("pvec_fill: %zu MiB by push of %zu-byte elements; %d rounds, each round runs every "
           "variant once (interleaved, so background load hits all alike)\n",
           mib, elem, repeats);
    fflush(stdout);
    for (int r = 0; r < repeats; r++) {
        for (int i = 0; i < R_COUNT; i++) {
            if (i == R_JE && !je) continue;
            rows[i].t[r] = rows[i].fn(rows[i].arg);
        }
    }
    for (int i = 0; i < R_COUNT; i++) {
        qsort(rows[i].t, (size_t)repeats, sizeof(double), cmp_double);
        rows[i].lo = rows[i].t[0];
        rows[i].hi = rows[i].t[repeats - 1];
        rows[i].med = repeats % 2 ? rows[i].t[repeats / 2]
                                  : (rows[i].t[repeats / 2 - 1] + rows[i].t[repeats / 2]) / 2;
    }
    double glibc = rows[R_GLIBC].med, jem = je ? rows[R_JE].med : 0;
    double gib = (double)total_bytes / (1u << 30);
    printf("%-40s %8s %8s %8s %8s %9s %9s\n", "variant", "median s", "min s", "max s", "GiB/s",
           "vs glibc", "vs jemal.");
    for (int i = 0; i < R_COUNT; i++) {
        if (rows[i].med == 0) {
            printf("%-40s %8s\n", rows[i].name, "n/a");
            continue;
        }
        printf("%-40s %8.3f %8.3f %8.3f %8.2f %8.2fx", rows[i].name, rows[i].med, rows[i].lo,
               rows[i].hi, gib / rows[i].med, glibc / rows[i].med);
        if (jem > 0)
            printf(" %8.2fx\n", jem / rows[i].med);
        else
            printf(" %9s\n", "n/a");
    }
    double pv = rows[R_PV].med, pvl = rows[R_LAZY].med;
    double pvh = rows[R_PVHUGE].med;
    printf("speed-up over a realloc-doubling vector (medians; target >= 2x):\n");
    printf("  quire_pvec default:  %5.2fx vs glibc, %5.2fx vs jemalloc\n", glibc / pv,
           je ? jem / pv : 0);
    printf("  quire_pvec HUGE:     %5.2fx vs glibc, %5.2fx vs jemalloc\n", glibc / pvh,
           je ? jem / pvh : 0);
    printf("  quire_pvec LAZY:     %5.2fx vs glibc, %5.2fx vs jemalloc\n", glibc / pvl,
           je ? jem / pvl : 0);
    printf("time relative to merely faulting in %zu MiB of fresh pages (medians; target <= 1.3):\n",
           mib);
    printf("  default / 4 KiB touch fault-in:          %5.2f\n", pv / rows[R_TOUCH].med);
    printf("  default / 4 KiB populate fault-in:       %5.2f\n", pv / rows[R_POP].med);
    printf("  default / 4 KiB populate + memset floor: %5.2f\n", pv / rows[R_POPSET].med);
    printf("  LAZY    / 4 KiB touch fault-in:          %5.2f\n", pvl / rows[R_TOUCH].med);
    printf("  HUGE    / huge-page touch fault-in:      %5.2f\n", pvh / rows[R_HUGE].med);
    printf("  HUGE    / huge pages + memset floor:     %5.2f\n", pvh / rows[R_HUGESET].med);
    return 0;
}
