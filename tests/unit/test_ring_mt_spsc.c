/*
 * tests/unit/test_ring_mt_spsc.c - the ring as a lock-free single-producer/single-consumer
 * queue: one thread writes a stream of 64-bit words (chunks of varying size, through both the
 * zero-copy span and the copying write), another reads them (also both ways) and checks every
 * word and a running checksum. On a full or empty ring each side sleeps in
 * quire_ring_wait_writable/readable (futexes) until the other side moves. 1 GiB by default (128 MiB
 * under ThreadSanitizer, 256 MiB under AddressSanitizer, to stay within a few seconds); the
 * environment variable QUIRE_RING_MT_BYTES (or argv[1]) overrides the amount.
 */
#include "check.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "quire/ring.h"

#if defined(__SANITIZE_THREAD__)
#define DEFAULT_BYTES (128ull << 20)
#elif defined(__SANITIZE_ADDRESS__)
#define DEFAULT_BYTES (256ull << 20)
#else
#define DEFAULT_BYTES (1ull << 30)
#endif

/* The stream's k-th word: cheap (vectorisable), and different for every k. */
static uint64_t word(uint64_t k) {
    return (k * 0x9e3779b97f4a7c15ull) ^ (k << 7);
}

struct job {
    quire_ring ring;
    uint64_t words;    /* words to move */
    uint64_t sum_out;  /* producer's checksum */
    uint64_t sum_in;   /* consumer's checksum */
    uint64_t bad;      /* words that did not match */
    uint64_t received; /* words received */
    uint64_t wait_err; /* failed waits of the producer */
};

static void *producer(void *arg) {
    struct job *j = arg;
    uint64_t k = 0, sum = 0, round = 0;
    uint64_t tmp[512];
    while (k < j->words) {
        round++;
        if (round % 8 != 0) { /* zero-copy: write straight into the span */
            void *p;
            size_t len;
            quire_ring_write_span(&j->ring, &p, &len);
            size_t n = len / 8;
            if (n > j->words - k) n = (size_t)(j->words - k);
            if (n > 8192 + round % 4096) n = 8192 + round % 4096;
            if (n == 0) { /* full: sleep until the consumer frees a word (or a chunk) */
                size_t want = round % 2 ? 8 : 4096;
                if (quire_ring_wait_writable(&j->ring, want, UINT64_MAX) != 0) j->wait_err++;
                continue;
            }
            uint64_t *w = p;
            for (size_t i = 0; i < n; i++) {
                w[i] = word(k + i);
                sum += w[i];
            }
            quire_ring_commit(&j->ring, n * 8);
            k += n;
        } else { /* copying write of a small chunk, all or nothing */
            size_t n = 1 + round % 511;
            if (n > j->words - k) n = (size_t)(j->words - k);
            for (size_t i = 0; i < n; i++) tmp[i] = word(k + i);
            if (quire_ring_write(&j->ring, tmp, n * 8) == 0) {
                for (size_t i = 0; i < n; i++) sum += tmp[i];
                k += n;
            }
        }
    }
    j->sum_out = sum;
    return NULL;
}

static void *consumer(void *arg) {
    struct job *j = arg;
    uint64_t k = 0, sum = 0, bad = 0, round = 0;
    uint64_t tmp[1000];
    while (k < j->words) {
        round++;
        if (round % 8 != 0) {
            const void *p;
            size_t len;
            quire_ring_read_span(&j->ring, &p, &len);
            size_t n = len / 8;
            if (n == 0) { /* empty: sleep until the producer commits a word */
                if (quire_ring_wait_readable(&j->ring, 8, UINT64_MAX) != 0) bad++;
                continue;
            }
            const uint64_t *w = p;
            for (size_t i = 0; i < n; i++) {
                bad += w[i] != word(k + i);
                sum += w[i];
            }
            quire_ring_consume(&j->ring, n * 8);
            k += n;
        } else {
            size_t got;
            quire_ring_read(&j->ring, tmp, sizeof tmp, &got);
            for (size_t i = 0; i < got / 8; i++) {
                bad += tmp[i] != word(k + i);
                sum += tmp[i];
            }
            k += got / 8;
        }
    }
    j->sum_in = sum;
    j->bad = bad;
    j->received = k;
    return NULL;
}

int main(int argc, char **argv) {
    TEST("spsc");
    uint64_t bytes = DEFAULT_BYTES;
    const char *env = getenv("QUIRE_RING_MT_BYTES");
    if (argc > 1) env = argv[1];
    if (env && strtoull(env, NULL, 0) >= 8) bytes = strtoull(env, NULL, 0);
    static struct job j;
    j.words = bytes / 8;
    CHECK_OK(quire_ring_create(256 * 1024, 0, &j.ring));
    pthread_t tp, tc;
    CHECK(pthread_create(&tc, NULL, consumer, &j) == 0);
    CHECK(pthread_create(&tp, NULL, producer, &j) == 0);
    pthread_join(tp, NULL);
    pthread_join(tc, NULL);
    uint64_t expect = 0;
    for (uint64_t k = 0; k < j.words; k++) expect += word(k);
    CHECK_EQ(j.received, j.words);
    CHECK_EQ(j.bad, 0);
    CHECK_EQ(j.wait_err, 0);
    CHECK(j.sum_in == j.sum_out);
    CHECK(j.sum_in == expect);
    CHECK_EQ(quire_ring_len(&j.ring), 0);
    printf("moved %llu MiB, checksum %016llx\n", (unsigned long long)(bytes >> 20),
           (unsigned long long)j.sum_in);
    CHECK_OK(quire_ring_destroy(&j.ring));
    return check_done();
}
