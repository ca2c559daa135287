/*
 * bench/companion/ring_spsc.c - throughput of quire's mirrored ring used as a single-producer/
 * single-consumer queue between two threads, against memcpy bandwidth measured in the same run.
 *
 *   usage: ring_spsc [GiB [ring_KiB [chunk_KiB]]]      (defaults: 4 1024 64)
 *
 * The producer copies chunks from a source buffer into the ring's free span and commits them;
 * the consumer copies each readable span out into a destination buffer and consumes it. Every
 * byte therefore crosses memory twice (like a pipe), and once between the two cores. The two
 * memcpy baselines copy the same total on one thread: between two large buffers (64 MiB each,
 * main-memory bandwidth) and between two buffers the size of the ring (cache bandwidth). The
 * figure of merit is ring bytes/s divided by memcpy bytes/s; the target is at least 0.7 of
 * the main-memory memcpy. Both threads spin on an empty or full ring and yield the CPU every 64
 * polls, so the figure stays meaningful on a busy 2-core machine; it is still sensitive to
 * other load (run it on a quiet machine).
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quire/ring.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t total;
static size_t chunk;
static quire_ring ring;
static unsigned char *src, *dst;
static size_t buf_len;
static uint64_t consumer_sum;

static void *producer(void *arg) {
    (void)arg;
    uint64_t sent = 0, idle = 0;
    size_t off = 0;
    while (sent < total) {
        void *p;
        size_t space;
        quire_ring_write_span(&ring, &p, &space);
        if (space == 0) {
            if (++idle % 64 == 0) sched_yield(); /* the machine may have other work */
            continue;
        }
        size_t n = space < chunk ? space : chunk;
        if (n > total - sent) n = (size_t)(total - sent);
        if (off + n > buf_len) off = 0;
        memcpy(p, src + off, n);
        quire_ring_commit(&ring, n);
        off += n;
        sent += n;
    }
    return NULL;
}

static void *consumer(void *arg) {
    (void)arg;
    uint64_t got = 0, sum = 0, idle = 0;
    size_t off = 0;
    while (got < total) {
        const void *p;
        size_t avail;
        quire_ring_read_span(&ring, &p, &avail);
        if (avail == 0) {
            if (++idle % 64 == 0) sched_yield();
            continue;
        }
        size_t n = avail < chunk ? avail : chunk;
        if (off + n > buf_len) off = 0;
        memcpy(dst + off, p, n);
        sum += dst[off];
        quire_ring_consume(&ring, n);
        off += n;
        got += n;
    }
    consumer_sum = sum;
    return NULL;
}

static double memcpy_rate(size_t len) {
    unsigned char *a = malloc(len), *b = malloc(len);
    memset(a, 1, len);
    memset(b, 2, len);
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = now();
        uint64_t done = 0;
        while (done < total) {
            size_t n = len < total - done ? len : (size_t)(total - done);
            memcpy(b, a, n);
            __asm__ volatile("" ::"r"(b) : "memory");
            done += n;
        }
        double r = (double)total / (now() - t0);
        if (r > best) best = r;
    }
    free(a);
    free(b);
    return best;
}

int main(int argc, char **argv) {
    double gib = argc > 1 ? atof(argv[1]) : 4;
    size_t ring_kib = argc > 2 ? strtoul(argv[2], NULL, 0) : 1024;
    chunk = (argc > 3 ? strtoul(argv[3], NULL, 0) : 64) << 10;
    if (gib <= 0 || ring_kib == 0 || chunk == 0) {
        fprintf(stderr, "usage: ring_spsc [GiB [ring_KiB [chunk_KiB]]]\n");
        return 2;
    }
    total = (uint64_t)(gib * (double)(1ull << 30));
    if (quire_ring_create(ring_kib << 10, 0, &ring) != 0) return 1;
    buf_len = quire_ring_capacity(&ring);
    src = malloc(buf_len);
    dst = malloc(buf_len);
    for (size_t i = 0; i < buf_len; i++) src[i] = (unsigned char)(i * 7 + 1);
    memset(dst, 0, buf_len);

    double mem_big = memcpy_rate(64u << 20);
    double mem_ring = memcpy_rate(buf_len);

    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        pthread_t tp, tc;
        double t0 = now();
        pthread_create(&tc, NULL, consumer, NULL);
        pthread_create(&tp, NULL, producer, NULL);
        pthread_join(tp, NULL);
        pthread_join(tc, NULL);
        double r = (double)total / (now() - t0);
        if (r > best) best = r;
        if (quire_ring_len(&ring) != 0 || memcmp(src, dst, buf_len) != 0) {
            fprintf(stderr, "ring_spsc: data mismatch\n");
            return 1;
        }
    }
    printf("ring_spsc: %.2f GiB through a %zu KiB ring in chunks of %zu KiB, best of 3\n", gib,
           quire_ring_capacity(&ring) >> 10, chunk >> 10);
    printf("%-44s %10s %10s\n", "variant", "GB/s", "ring/this");
    printf("%-44s %10.2f %10.2f\n", "memcpy 64 MiB buffers, one thread", mem_big / 1e9,
           best / mem_big);
    printf("%-44s %10.2f %10.2f\n", "memcpy ring-sized buffers, one thread", mem_ring / 1e9,
           best / mem_ring);
    printf("%-44s %10.2f\n", "quire_ring SPSC, two threads", best / 1e9);
    printf("SPSC / memcpy (main memory): %.2f (target >= 0.7); SPSC / memcpy (cache): %.2f\n",
           best / mem_big, best / mem_ring);
    printf("(checksum %llu)\n", (unsigned long long)consumer_sum);
    quire_ring_destroy(&ring);
    free(src);
    free(dst);
    return 0;
}
