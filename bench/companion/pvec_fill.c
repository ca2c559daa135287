/*
 * bench/companion/pvec_fill.c - filling 1 GiB by push: quire's paged vector against a
 * realloc-doubling vector on glibc's malloc and on jemalloc, and against the bare cost of
 * faulting in 1 GiB of fresh pages.
 *
 * Both allocators run in this one process: the program is linked with -ljemalloc, so malloc,
 * realloc and free are jemalloc's (checked with dladdr and printed), while glibc's own allocator
 * stays reachable through its exported __libc_realloc and __libc_free.
 *
 *   usage: pvec_fill [MiB [elem_bytes [repeats]]]      (defaults: 1024 8 3)
 *
 * Every variant writes the same values (element i = i) through an inlined push and the result
 * is verified; each figure is the best of `repeats` runs (the machine has 2 cores and other
 * work may be running). Baselines: "fault-in" maps the same amount and writes one byte per
 * page (with 4 KiB pages, and with MADV_HUGEPAGE), or faults it all in with one
 * madvise(MADV_POPULATE_WRITE).
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

/* mode 0: touch 4 KiB pages; 1: touch with MADV_HUGEPAGE; 2: one MADV_POPULATE_WRITE;
 * 3: one MADV_POPULATE_WRITE, then write every byte (memset): the floor for producing the
 * data in fresh 4 KiB pages. */
static double fault_in(int mode) {
    double t0 = now();
    unsigned char *p =
        mmap(NULL, total_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) abort();
    if (mode == 1) madvise(p, total_bytes, MADV_HUGEPAGE);
    if (mode >= 2) {
        if (madvise(p, total_bytes, MADV_POPULATE_WRITE) != 0) abort();
        if (mode == 3) memset(p, 1, total_bytes);
    } else {
        for (size_t off = 0; off < total_bytes; off += 4096) p[off] = 1;
    }
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

typedef double (*bench_fn)(void *);

struct row {
    const char *name;
    double best;
};

static double best_of(double (*f)(int), int arg) {
    fflush(stdout);
    double b = 1e30;
    for (int r = 0; r < repeats; r++) {
        double t = f(arg);
        if (t < b) b = t;
    }
    return b;
}

static double run_fault(int huge) {
    return fault_in(huge);
}
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

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 1024;
    elem = argc > 2 ? strtoul(argv[2], NULL, 0) : 8;
    repeats = argc > 3 ? atoi(argv[3]) : 3;
    if (mib == 0 || elem < 8 || repeats < 1) {
        fprintf(stderr, "usage: pvec_fill [MiB [elem_bytes>=8 [repeats]]]\n");
        return 2;
    }
    total_bytes = mib << 20;

    /* realloc must be jemalloc's for the jemalloc row to mean anything. */
    Dl_info info;
    int je = dladdr((void *)(uintptr_t)&realloc, &info) && info.dli_fname &&
             strstr(info.dli_fname, "jemalloc") != NULL;
    printf("realloc comes from %s\n", je ? info.dli_fname : "(not jemalloc: row skipped)");

    printf("pvec_fill: %zu MiB by push of %zu-byte elements, best of %d\n", mib, elem, repeats);
    double fault4k = best_of(run_fault, 0);
    double faulthp = best_of(run_fault, 1);
    double faultpop = best_of(run_fault, 2);
    double faultset = best_of(run_fault, 3);
    double glibc = best_of(run_glibc, 0);
    double jem = je ? best_of(run_je, 0) : 0;
    double pv = best_of(run_pvec, QUIRE_PVEC_DEFAULT);
    double pvl = best_of(run_pvec, QUIRE_PVEC_LAZY);
    double pvh = best_of(run_pvec, QUIRE_PVEC_HUGE);

    printf("%-40s %9s %12s %12s %12s\n", "variant", "seconds", "GiB/s", "vs glibc", "vs jemalloc");
    struct row rows[] = {
        {"fault-in 4 KiB pages (baseline)", fault4k},
        {"fault-in MADV_HUGEPAGE (baseline)", faulthp},
        {"fault-in MADV_POPULATE_WRITE (baseline)", faultpop},
        {"populate + memset all bytes (floor)", faultset},
        {"realloc doubling, glibc", glibc},
        {"realloc doubling, jemalloc", jem},
        {"quire_pvec (default: prefault ahead)", pv},
        {"quire_pvec LAZY (demand faults)", pvl},
        {"quire_pvec HUGE", pvh},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        if (rows[i].best == 0) {
            printf("%-40s %9s\n", rows[i].name, "n/a");
            continue;
        }
        double gib = (double)total_bytes / (1u << 30);
        printf("%-40s %9.3f %12.2f %11.2fx", rows[i].name, rows[i].best, gib / rows[i].best,
               glibc / rows[i].best);
        if (jem > 0)
            printf(" %11.2fx\n", jem / rows[i].best);
        else
            printf(" %12s\n", "n/a");
    }
    double fault_best = fault4k < faultpop ? fault4k : faultpop;
    printf("speed-up of quire_pvec over realloc doubling (x faster; target >= 2):\n");
    printf("  default:  %.2f vs glibc, %.2f vs jemalloc\n", glibc / pv, je ? jem / pv : 0);
    printf("  LAZY:     %.2f vs glibc, %.2f vs jemalloc\n", glibc / pvl, je ? jem / pvl : 0);
    printf("  HUGE:     %.2f vs glibc, %.2f vs jemalloc\n", glibc / pvh, je ? jem / pvh : 0);
    printf("time of quire_pvec relative to faulting in the same pages (target <= 1.3):\n");
    printf("  default / fastest 4 KiB fault-in (touch or populate): %.2f\n", pv / fault_best);
    printf("  default / populate + memset floor:                    %.2f\n", pv / faultset);
    printf("  LAZY / touch fault-in:                                %.2f\n", pvl / fault4k);
    printf("  HUGE / huge-page fault-in:                            %.2f\n", pvh / faulthp);
    return 0;
}
