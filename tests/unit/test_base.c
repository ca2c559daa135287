/*
 * tests/unit/test_base.c - base/, the dependency-free layer: CRC32C (known vectors, the hardware
 * path against the portable one), the u64 hash table as a set and as a map (against a plain
 * array as the reference, through random insertions and deletions, with its invariants
 * validated; memory only from the caller's allocator, and a refusal leaves it unchanged), the
 * growable vector, the sorted-id helpers, the checkers' problem reporter and the assertion
 * handler (file:line on stderr, then SIGABRT; levels by Q_DEBUG).
 */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/crc32c.h"
#include "base/handle.h"
#include "base/hash.h"
#include "base/ids.h"
#include "base/problem.h"
#include "base/vec.h"
#include "check.h"
#include "quire/error.h"

static uint64_t rnd(uint64_t *s) {
    uint64_t x = (*s += UINT64_C(0x9E3779B97F4A7C15));
    x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
    return x ^ (x >> 31);
}

static void fill(uint8_t *b, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)rnd(&seed);
}

/* An allocator that counts its blocks and bytes, and refuses when told to. */
struct counting {
    long blocks;
    size_t bytes;
    int refuse;
};

static void *c_get(void *ctx, size_t bytes) {
    struct counting *c = ctx;
    if (c->refuse) return NULL;
    c->blocks++;
    c->bytes += bytes;
    return calloc(1, bytes);
}

static void c_put(void *ctx, void *block, size_t bytes) {
    struct counting *c = ctx;
    c->blocks--;
    c->bytes -= bytes;
    free(block);
}

static void test_crc(void) {
    TEST("crc32c");
    CHECK_EQ(q_base_crc32c(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ(q_base_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    uint8_t zeros[32] = {0};
    CHECK_EQ(q_base_crc32c(0, zeros, 32), 0x8A9136AAu); /* RFC 3720 B.4 */
    uint8_t buf[4096];
    uint64_t s = 7;
    for (int k = 0; k < 200; k++) {
        size_t n = rnd(&s) % sizeof buf, off = rnd(&s) % 8;
        if (off > n) off = n;
        fill(buf, sizeof buf, rnd(&s));
        uint32_t a = q_base_crc32c(0, buf + off, n - off);
        uint32_t b = q_base_crc32c_sw(0, buf + off, n - off);
        CHECK_EQ(a, b);
        /* incremental == whole */
        size_t cut = (n - off) / 3;
        CHECK_EQ(q_base_crc32c(q_base_crc32c(0, buf + off, cut), buf + off + cut, n - off - cut),
                 a);
    }
}

/* The set against a reference array: random insertions and deletions of keys from a small
 * range (so that both hit present and absent keys), clustered keys (page ids) and spread ones. */
static void test_hash_set(void) {
    TEST("hash set");
    struct counting c = {0};
    struct q_base_mem mem = {c_get, c_put, &c};
    struct q_base_hash h;
    q_base_hash_init(&h, 0, &mem);
    CHECK(!q_base_hash_has(&h, 5));
    CHECK_EQ(q_base_hash_del(&h, 5), 0);
    CHECK_EQ(c.blocks, 0); /* nothing allocated before the first insertion */
    CHECK_EQ(q_base_hash_put(&h, Q_BASE_HASH_RESERVED, NULL), QUIRE_EINVAL);
    enum { RANGE = 5000 };
    static uint8_t in[RANGE];
    uint64_t s = 11, mism = 0, bad = 0;
    for (int round = 0; round < 60000; round++) {
        uint64_t k = rnd(&s) % RANGE;
        uint64_t key = round & 1 ? k : (k + 1) << 16; /* dense and spread keys */
        if (round % 2000 == 1999) bad += q_base_hash_validate(&h) != NULL;
        if (rnd(&s) % 3) {
            int rc = q_base_hash_put(&h, key, NULL);
            mism += rc != (in[k] & (1u << (round & 1)) ? 0 : 1);
            in[k] |= (uint8_t)(1u << (round & 1));
        } else {
            int rc = q_base_hash_del(&h, key);
            mism += rc != ((in[k] >> (round & 1)) & 1);
            in[k] &= (uint8_t) ~(1u << (round & 1));
        }
    }
    CHECK_EQ(mism, 0);
    CHECK_EQ(bad, 0);
    CHECK(q_base_hash_validate(&h) == NULL);
    size_t n = 0;
    for (uint64_t k = 0; k < RANGE; k++) {
        n += (in[k] & 1) + (in[k] >> 1);
        mism += q_base_hash_has(&h, (k + 1) << 16) != (in[k] & 1);
        mism += q_base_hash_has(&h, k) != (in[k] >> 1);
    }
    CHECK_EQ(mism, 0);
    CHECK_EQ(h.count, n);
    /* sorted keys: increasing, each present */
    struct q_base_vec v;
    q_base_vec_init(&v, &mem);
    CHECK_OK(q_base_hash_sorted_keys(&h, &v));
    CHECK_EQ(v.n, n);
    for (size_t i = 1; i < v.n; i++) mism += v.v[i - 1] >= v.v[i];
    for (size_t i = 0; i < v.n; i++) mism += !q_base_hash_has(&h, v.v[i]);
    CHECK_EQ(mism, 0);
    q_base_vec_free(&v);
    /* clear keeps the memory, free gives it back */
    long blocks = c.blocks;
    q_base_hash_clear(&h);
    CHECK_EQ(h.count, 0);
    CHECK(!q_base_hash_has(&h, v.n ? 1 : 0));
    CHECK_EQ(c.blocks, blocks);
    q_base_hash_free(&h);
    CHECK_EQ(c.blocks, 0);
    CHECK_EQ(c.bytes, 0);
    CHECK_EQ(q_base_hash_put(&h, 9, NULL), 1); /* usable again */
    q_base_hash_free(&h);
}

/* The map: values follow their keys through growth and backward-shift deletion; a refused
 * growth leaves the table as it was; the validator notices a broken table. */
static void test_hash_map(void) {
    TEST("hash map");
    struct counting c = {0};
    struct q_base_mem mem = {c_get, c_put, &c};
    struct q_base_hash h;
    q_base_hash_init(&h, 24, &mem); /* a record, as the malloc engine's large blocks would use */
    uint64_t mism = 0;
    for (uint64_t k = 1; k <= 3000; k++) {
        void *v;
        CHECK_EQ(q_base_hash_put(&h, k * 16, &v), 1);
        static const uint8_t zero[24];
        mism += memcmp(v, zero, 24) != 0; /* a new key's value is zeroed */
        uint64_t rec[3] = {k, k * 2, k * 3};
        memcpy(v, rec, sizeof rec);
        mism += ((uintptr_t)v & 7) != 0;
    }
    CHECK_EQ(mism, 0);
    for (uint64_t k = 1; k <= 3000; k += 2) CHECK_EQ(q_base_hash_del(&h, k * 16), 1);
    for (uint64_t k = 1; k <= 3000; k++) {
        const uint64_t *r = q_base_hash_get(&h, k * 16);
        if (k & 1)
            mism += r != NULL;
        else
            mism += !r || r[0] != k || r[1] != k * 2 || r[2] != k * 3;
    }
    CHECK_EQ(mism, 0);
    CHECK(q_base_hash_validate(&h) == NULL);
    void *v;
    CHECK_EQ(q_base_hash_put(&h, 32, &v), 0); /* present: the same value */
    CHECK_EQ(((const uint64_t *)v)[0], 2);
    /* fill to the growth point, then refuse the growth */
    size_t cap = h.cap, count = h.count;
    uint64_t k = 100000;
    while ((h.count + 1) * 4 <= h.cap * 3) CHECK_EQ(q_base_hash_put(&h, k++, NULL), 1);
    cap = h.cap;
    count = h.count;
    c.refuse = 1;
    CHECK_EQ(q_base_hash_put(&h, k, NULL), QUIRE_ENOMEM);
    c.refuse = 0;
    CHECK_EQ(h.cap, cap);
    CHECK_EQ(h.count, count);
    CHECK(!q_base_hash_has(&h, k));
    CHECK(q_base_hash_validate(&h) == NULL);
    /* u64 helpers */
    struct q_base_hash u;
    q_base_hash_init(&u, 8, &mem);
    uint64_t x = 0;
    CHECK_EQ(q_base_hash_get_u64(&u, 7, &x), 0);
    CHECK_OK(q_base_hash_put_u64(&u, 7, 42));
    CHECK_OK(q_base_hash_put_u64(&u, 7, 43));
    CHECK_EQ(q_base_hash_get_u64(&u, 7, &x), 1);
    CHECK_EQ(x, 43);
    CHECK_EQ(u.count, 1);
    /* the validator sees a key placed where a lookup cannot find it, and a wrong count */
    size_t i = 0;
    while (u.tags[i] != q_base_hash_tag(7)) i++;
    u.tags[i] = 0;
    u.tags[(i + u.cap / 2) & (u.cap - 1)] = q_base_hash_tag(7);
    CHECK(q_base_hash_validate(&u) != NULL);
    u.tags[(i + u.cap / 2) & (u.cap - 1)] = 0;
    u.tags[i] = q_base_hash_tag(7);
    CHECK(q_base_hash_validate(&u) == NULL);
    u.count = 2;
    CHECK(q_base_hash_validate(&u) != NULL);
    u.count = 1;
    q_base_hash_free(&u);
    q_base_hash_free(&h);
    CHECK_EQ(c.blocks, 0);
}

static void test_vec(void) {
    TEST("vector");
    struct counting c = {0};
    struct q_base_mem mem = {c_get, c_put, &c};
    struct q_base_vec v;
    q_base_vec_init(&v, &mem);
    CHECK_EQ(c.blocks, 0);
    uint64_t mism = 0;
    for (uint64_t i = 0; i < 1000; i++) CHECK_OK(q_base_vec_push(&v, i * i));
    for (uint64_t i = 0; i < 1000; i++) mism += v.v[i] != i * i;
    CHECK_EQ(mism, 0);
    CHECK_EQ(v.n, 1000);
    CHECK_EQ(c.blocks, 1);
    CHECK_OK(q_base_vec_reserve(&v, 5000));
    CHECK(v.cap >= 6000);
    c.refuse = 1; /* reserved: these pushes need no memory */
    for (int i = 0; i < 5000; i++) CHECK_OK(q_base_vec_push(&v, 7));
    CHECK_EQ(q_base_vec_reserve(&v, v.cap), QUIRE_ENOMEM);
    size_t n = v.n, cap = v.cap;
    while (v.n < v.cap) CHECK_OK(q_base_vec_push(&v, 1));
    CHECK_EQ(q_base_vec_push(&v, 1), QUIRE_ENOMEM);
    CHECK_EQ(v.n, cap);
    CHECK(n <= cap);
    c.refuse = 0;
    CHECK_EQ(v.v[999], 999 * 999);
    q_base_vec_free(&v);
    CHECK_EQ(c.blocks, 0);
    CHECK_EQ(c.bytes, 0);
    CHECK_EQ(v.n, 0);
}

static void test_ids(void) {
    TEST("sorted ids");
    uint64_t a[200], s = 3;
    for (int i = 0; i < 200; i++) a[i] = rnd(&s) % 1000 * 2; /* even numbers */
    q_base_sort_u64(a, 200);
    uint64_t mism = 0;
    for (int i = 1; i < 200; i++) mism += a[i - 1] > a[i];
    for (int i = 0; i < 200; i++) mism += !q_base_sorted_has(a, 200, a[i]);
    for (int i = 0; i < 200; i++) mism += q_base_sorted_has(a, 200, a[i] + 1); /* odd: absent */
    CHECK_EQ(mism, 0);
    CHECK(!q_base_sorted_has(a, 0, a[0]));
    CHECK(!q_base_sorted_has(a, 200, 1u << 20));
    struct counting c = {0};
    struct q_base_mem mem = {c_get, c_put, &c};
    uint64_t d[] = {9, 4, 7, 1};
    CHECK_EQ(q_base_ids_repeat(d, 4, &mem), 0);
    CHECK_EQ(d[0], 9); /* not changed */
    uint64_t r[] = {9, 4, 7, 4};
    CHECK_EQ(q_base_ids_repeat(r, 4, &mem), 1);
    CHECK_EQ(q_base_ids_repeat(r, 1, &mem), 0);
    c.refuse = 1;
    CHECK_EQ(q_base_ids_repeat(r, 4, &mem), QUIRE_ENOMEM);
    CHECK_EQ(q_base_ids_repeat(r, 1, &mem), 0); /* nothing to compare: no memory needed */
    CHECK_EQ(c.blocks, 0);
}

struct report {
    void (*on_problem)(void *arg, const char *message);
    void *arg;
    uint64_t problems;
};

static void collect(void *arg, const char *msg) {
    char *out = arg;
    strncat(out, msg, 1023 - strlen(out));
    strncat(out, "|", 1023 - strlen(out));
}

static void test_problem(void) {
    TEST("problem reporter");
    char seen[1024] = "";
    struct report r = {collect, seen, 0};
    Q_PROBLEM(&r, "page %d is %s", 7, "leaked");
    Q_PROBLEM(&r, "second");
    CHECK_EQ(r.problems, 2);
    CHECK(strcmp(seen, "page 7 is leaked|second|") == 0);
    char longer[600];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = 0;
    seen[0] = 0;
    Q_PROBLEM(&r, "%s", longer);
    CHECK_EQ(strlen(seen), 255 + 1); /* one line of at most 255 bytes, then our '|' */
    struct report quiet = {NULL, NULL, 0};
    Q_PROBLEM(&quiet, "counted without a callback");
    CHECK_EQ(quiet.problems, 1);
}

/* Runs fn in a child with stderr on a pipe; returns its wait status, its output in out. */
static int in_child(void (*fn)(void), char *out, size_t cap) {
    int fds[2];
    if (pipe(fds)) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        fn();
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fds[0], out + n, cap - 1 - n)) > 0) n += (size_t)r;
    out[n] = 0;
    close(fds[0]);
    int status = -1;
    if (pid > 0) waitpid(pid, &status, 0);
    return status;
}

enum { INVARIANT_LINE = __LINE__ + 2 }; /* the line of the Q_INVARIANT below */
static void broken_invariant(void) {
    Q_INVARIANT(2 + 2 == 5);
}
static void broken_validation(void) {
    Q_VALIDATE("base: a validator's sentence");
}
static void broken_assert(void) {
    Q_ASSERT(1 > 2);
}

static void test_assert(void) {
    TEST("assertion handler");
    char out[1024], want[256];
    int st = in_child(broken_invariant, out, sizeof out);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    snprintf(want, sizeof want, "quire: assertion failed: %s:%d: 2 + 2 == 5\n", __FILE__,
             (int)INVARIANT_LINE);
    CHECK(strcmp(out, want) == 0);
    /* levels: Q_VALIDATE at 2, Q_ASSERT from 1, neither in a release build */
    st = in_child(broken_validation, out, sizeof out);
    CHECK_EQ(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, Q_DEBUG >= 2);
    CHECK_EQ(strstr(out, ": base: a validator's sentence\n") != NULL, Q_DEBUG >= 2);
    st = in_child(broken_assert, out, sizeof out);
    CHECK_EQ(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT, Q_DEBUG >= 1);
    CHECK_EQ(strstr(out, ": 1 > 2\n") != NULL, Q_DEBUG >= 1);
}

/* Handle slots: a closed slot keeps its closed magic until Q_BASE_HANDLE_QUARANTINE more slots
 * were closed; only then can a new handle take it. */
static void test_handles(void) {
    TEST("handle slots");
    int x;
    struct q_base_handle *first = q_base_handle_new(1, &x);
    CHECK(first && first->magic == 1 && first->state == &x);
    q_base_handle_close(first, 2);
    CHECK(first->magic == 2 && first->state == NULL);
    int reused_early = 0;
    for (uint32_t i = 0; i < Q_BASE_HANDLE_QUARANTINE - 1; i++) {
        struct q_base_handle *h = q_base_handle_new(3, &x);
        reused_early += h == first;
        q_base_handle_close(h, 2);
    }
    CHECK_EQ(reused_early, 0);
    CHECK_EQ(first->magic, 2); /* still a tombstone after 65,535 more closes */
    struct q_base_handle *h = q_base_handle_new(3, &x);
    q_base_handle_close(h, 2); /* the 65,536th: the first slot leaves the quarantine */
    int reused = 0;
    for (int i = 0; i < 4 && !reused; i++) {
        h = q_base_handle_new(4, &x);
        reused = h == first;
    }
    CHECK(reused);
}

int main(void) {
    test_crc();
    test_handles();
    test_hash_set();
    test_hash_map();
    test_vec();
    test_ids();
    test_problem();
    test_assert();
    return check_done();
}
