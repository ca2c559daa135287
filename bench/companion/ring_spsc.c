/*
 * bench/companion/ring_spsc.c - throughput of quire's mirrored ring used as a single-producer/
 * single-consumer queue between two threads, against memcpy bandwidth measured in the same run.
 *
 *   usage: ring_spsc [GiB [ring_KiB [chunk_KiB]]]      (defaults: 2 1024 64)
 *
 * The producer copies chunks from a source buffer into the ring's free span and commits them;
 * the consumer copies each readable span out into a destination buffer and consumes it. Every
 * byte therefore crosses memory twice (like a pipe), and once between the two cores. Two pairs
 * are measured, each SPSC figure against a one-thread memcpy of the same total between the
 * same buffers: 64 MiB source and destination (main-memory bandwidth), and buffers the size of
 * the ring (cache bandwidth). The target is SPSC >= 0.7 x memcpy. On an empty or full ring a
 * thread spins briefly, then sleeps in quire_ring_wait_readable/writable (a futex) until the
 * other has moved, so a preempted partner does not make it burn its CPU share. The rounds are
 * interleaved and medians reported; the CPUs column shows how much CPU the two threads got
 * (2.00 on an idle machine), since other load on a 2-core machine still shows.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "quire/ring.h"

/* CPU seconds the calling thread has run. */
static double thread_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static double cpu_prod, cpu_cons; /* CPU seconds of each thread in the last pass */

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t total;
static size_t chunk, wait_bytes;
static quire_ring ring;
static unsigned char *src, *dst;
static size_t buf_len;
static uint64_t consumer_sum;

static void *producer(void *arg) {
    (void)arg;
    uint64_t sent = 0;
    while (sent < total) {
        void *p;
        size_t space;
        quire_ring_write_span(&ring, &p, &space);
        if (space == 0) { /* full: sleep until the consumer has freed a chunk */
            quire_ring_wait_writable(&ring, wait_bytes, UINT64_MAX);
            continue;
        }
        /* Stream byte k comes from src[k % buf_len] (and goes to dst[k % buf_len]). */
        size_t off = (size_t)(sent % buf_len);
        size_t n = space < chunk ? space : chunk;
        if (n > total - sent) n = (size_t)(total - sent);
        if (n > buf_len - off) n = buf_len - off;
        memcpy(p, src + off, n);
        quire_ring_commit(&ring, n);
        sent += n;
    }
    cpu_prod = thread_cpu();
    return NULL;
}

static void *consumer(void *arg) {
    (void)arg;
    uint64_t got = 0, sum = 0;
    while (got < total) {
        const void *p;
        size_t avail;
        quire_ring_read_span(&ring, &p, &avail);
        if (avail == 0) { /* empty: sleep until the producer has committed */
            quire_ring_wait_readable(&ring, 1, UINT64_MAX);
            continue;
        }
        size_t off = (size_t)(got % buf_len);
        size_t n = avail < chunk ? avail : chunk;
        if (n > buf_len - off) n = buf_len - off;
        memcpy(dst + off, p, n);
        sum += dst[off];
        quire_ring_consume(&ring, n);
        got += n;
    }
    consumer_sum = sum;
    cpu_cons = thread_cpu();
    return NULL;
}

/* One memcpy pass of `total` bytes between two len-byte buffers, `step` bytes per call;
 * returns bytes/s. */
static double memcpy_once(unsigned char *a, unsigned char *b, size_t len, size_t step) {
    double t0 = now();
    uint64_t done = 0;
    size_t off = 0;
    while (done < total) {
        size_t n = step < total - done ? step : (size_t)(total - done);
        if (n > len - off) n = len - off;
        memcpy(b + off, a + off, n);
        __asm__ volatile("" ::"r"(b) : "memory");
        done += n;
        off = off + n == len ? 0 : off + n;
    }
    return (double)total / (now() - t0);
}

/* One SPSC pass of `total` bytes from src to dst (each buf_len bytes) through the ring. */
static double spsc_once(double *cpu_share) {
    pthread_t tp, tc;
    double t0 = now();
    pthread_create(&tc, NULL, consumer, NULL);
    pthread_create(&tp, NULL, producer, NULL);
    pthread_join(tp, NULL);
    pthread_join(tc, NULL);
    double wall = now() - t0;
    double r = (double)total / wall;
    *cpu_share = (cpu_prod + cpu_cons) / wall; /* 2.0: both threads ran all the time */
    if (quire_ring_len(&ring) != 0 ||
        memcmp(src, dst, total < buf_len ? (size_t)total : buf_len) != 0) {
        fprintf(stderr, "ring_spsc: data mismatch\n");
        exit(1);
    }
    return r;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define ROUNDS 7

int main(int argc, char **argv) {
    double gib = argc > 1 ? atof(argv[1]) : 2;
    size_t ring_kib = argc > 2 ? strtoul(argv[2], NULL, 0) : 1024;
    chunk = (argc > 3 ? strtoul(argv[3], NULL, 0) : 64) << 10;
    if (gib <= 0 || ring_kib == 0 || chunk == 0) {
        fprintf(stderr, "usage: ring_spsc [GiB [ring_KiB [chunk_KiB]]]\n");
        return 2;
    }
    total = (uint64_t)(gib * (double)(1ull << 30));
    if (quire_ring_create(ring_kib << 10, 0, &ring) != 0) return 1;
    wait_bytes = chunk < quire_ring_capacity(&ring) ? chunk : quire_ring_capacity(&ring);
    const size_t big = (size_t)64 << 20;
    size_t cap = quire_ring_capacity(&ring);
    unsigned char *bsrc = malloc(big), *bdst = malloc(big);
    unsigned char *csrc = malloc(cap), *cdst = malloc(cap);
    for (size_t i = 0; i < big; i++) bsrc[i] = (unsigned char)(i * 7 + 1);
    memcpy(csrc, bsrc, cap);
    memset(bdst, 0, big);
    memset(cdst, 0, cap);

    /* Rounds interleave the measurements, so background load hits them alike. */
    double mem_big[ROUNDS], mem_step[ROUNDS], mem_cache[ROUNDS], ring_big[ROUNDS];
    double ring_cache[ROUNDS], share_big[ROUNDS], share_cache[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        mem_big[r] = memcpy_once(bsrc, bdst, big, big);
        mem_step[r] = memcpy_once(bsrc, bdst, big, chunk);
        mem_cache[r] = memcpy_once(csrc, cdst, cap, cap);
        src = bsrc, dst = bdst, buf_len = big;
        ring_big[r] = spsc_once(&share_big[r]);
        src = csrc, dst = cdst, buf_len = cap;
        ring_cache[r] = spsc_once(&share_cache[r]);
    }
    double mb = median(mem_big, ROUNDS), ms = median(mem_step, ROUNDS);
    double mc = median(mem_cache, ROUNDS);
    double rb = median(ring_big, ROUNDS), rc = median(ring_cache, ROUNDS);
    double sb = median(share_big, ROUNDS), sc = median(share_cache, ROUNDS);
    printf("ring_spsc: %.2f GiB per pass through a %zu KiB ring in chunks of %zu KiB; median of "
           "%d interleaved rounds (min..max)\n",
           gib, cap >> 10, chunk >> 10, ROUNDS);
    printf("%-58s %7s %15s %6s\n", "variant", "GB/s", "range", "CPUs");
    printf("%-58s %7.2f %6.2f..%6.2f\n", "memcpy 64 MiB -> 64 MiB, one call per 64 MiB, 1 thread",
           mb / 1e9, mem_big[0] / 1e9, mem_big[ROUNDS - 1] / 1e9);
    printf("%-58s %7.2f %6.2f..%6.2f\n", "memcpy 64 MiB -> 64 MiB, one call per chunk, 1 thread",
           ms / 1e9, mem_step[0] / 1e9, mem_step[ROUNDS - 1] / 1e9);
    printf("%-58s %7.2f %6.2f..%6.2f\n", "memcpy ring-sized buffers, 1 thread", mc / 1e9,
           mem_cache[0] / 1e9, mem_cache[ROUNDS - 1] / 1e9);
    printf("%-58s %7.2f %6.2f..%6.2f %6.2f\n", "SPSC 64 MiB src -> ring -> 64 MiB dst, 2 threads",
           rb / 1e9, ring_big[0] / 1e9, ring_big[ROUNDS - 1] / 1e9, sb);
    printf("%-58s %7.2f %6.2f..%6.2f %6.2f\n", "SPSC ring-sized src -> ring -> dst, 2 threads",
           rc / 1e9, ring_cache[0] / 1e9, ring_cache[ROUNDS - 1] / 1e9, sc);
    printf(
        "(CPUs: CPU time of both SPSC threads / wall time: 2.00 if both ran all along; less when "
        "one was preempted or slept waiting for the other)\n");
    printf("SPSC / memcpy between the same buffers (medians; target >= 0.7):\n");
    printf("  64 MiB buffers vs one-call memcpy:    %.2f\n", rb / mb);
    printf("  64 MiB buffers vs chunk-wise memcpy:  %.2f\n", rb / ms);
    printf("  ring-sized buffers (cache-resident):  %.2f\n", rc / mc);
    printf("(consumer checksum %llu)\n", (unsigned long long)consumer_sum);
    quire_ring_destroy(&ring);
    free(bsrc);
    free(bdst);
    free(csrc);
    free(cdst);
    return 0;
}
