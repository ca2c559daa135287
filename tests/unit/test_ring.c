/*
 * tests/unit/test_ring.c - mirrored rings: argument errors, page rounding, the mirror itself,
 * wrap-around at every offset with the full and empty edges, the overwriting ring, formatted
 * writes and line reads across the wrap, fd fill/drain, and a ring shared with a forked child
 * (through the inherited mapping and through quire_ring_attach on the descriptor).
 */
#include "check.h"

#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "quire/pages.h"
#include "quire/ring.h"

static unsigned char pat(size_t i) {
    return (unsigned char)(i * 131u + (i >> 7) + 7u);
}

static void test_errors(void) {
    TEST("errors");
    quire_ring r;
    CHECK_EQ(quire_ring_create(0, 0, &r), QUIRE_EINVAL);
    CHECK_EQ(quire_ring_create(4096, 0, NULL), QUIRE_EINVAL);
    CHECK_EQ(quire_ring_create(4096, 0x80, &r), QUIRE_EINVAL);
    CHECK_EQ(quire_ring_create(SIZE_MAX, 0, &r), QUIRE_EOVERFLOW);
    CHECK_EQ(quire_ring_create(SIZE_MAX / 2, 0, &r), QUIRE_EOVERFLOW);
    CHECK_EQ(quire_ring_attach(-1, &r), QUIRE_EINVAL);
    /* An fd that is not a ring (a pipe: size 0) is refused. */
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK_EQ(quire_ring_attach(p[0], &r), QUIRE_EINVAL);
    close(p[0]);
    close(p[1]);
    CHECK_EQ(quire_ring_destroy(NULL), QUIRE_EINVAL);
    CHECK_EQ(quire_ring_capacity(NULL), 0);
    CHECK_EQ(quire_ring_fd(NULL), -1);

    CHECK_OK(quire_ring_create(1, 0, &r));
    size_t ps = quire_page_size();
    CHECK_EQ(quire_ring_capacity(&r), ps);
    CHECK_EQ(quire_ring_len(&r), 0);
    CHECK_EQ(quire_ring_space(&r), ps);
    CHECK_EQ(quire_ring_write(&r, NULL, 1), QUIRE_EINVAL);
    CHECK_EQ(quire_ring_consume(&r, 1), QUIRE_ERANGE);
    CHECK_EQ(quire_ring_commit(&r, ps + 1), QUIRE_ERANGE);
    size_t got = 99;
    char buf[8];
    CHECK_OK(quire_ring_read(&r, buf, sizeof buf, &got));
    CHECK_EQ(got, 0);
    CHECK_OK(quire_ring_destroy(&r));
    CHECK_EQ(quire_ring_destroy(&r), QUIRE_EINVAL);
    CHECK_EQ(quire_ring_len(&r), 0);

    CHECK_OK(quire_ring_create(ps + 1, 0, &r));
    CHECK_EQ(quire_ring_capacity(&r), 2 * ps);
    CHECK_OK(quire_ring_destroy(&r));
}

static void test_mirror(void) {
    TEST("mirror");
    quire_ring r;
    CHECK_OK(quire_ring_create(3 * quire_page_size(), 0, &r));
    size_t cap = quire_ring_capacity(&r);
    void *w;
    size_t n;
    CHECK_OK(quire_ring_write_span(&r, &w, &n));
    CHECK_EQ(n, cap);
    unsigned char *b = w;
    b[0] = 0xab;
    b[cap - 1] = 0xcd;
    /* The byte after the last one is the first one again, and vice versa. */
    CHECK_EQ(b[cap], 0xab);
    b[2 * cap - 1] = 0xef;
    CHECK_EQ(b[cap - 1], 0xef);
    CHECK_OK(quire_ring_destroy(&r));
}

/* For every starting offset: fill the ring completely across the wrap, check the full edge,
 * read everything back as one span, check the empty edge, then advance the offset by one. */
static void test_every_offset(void) {
    TEST("every offset");
    quire_ring r;
    CHECK_OK(quire_ring_create(1, 0, &r));
    size_t cap = quire_ring_capacity(&r);
    unsigned char *src = malloc(cap), *dst = malloc(cap);
    int bad_full = 0, bad_data = 0, bad_empty = 0, bad_span = 0;
    size_t stream = 0; /* bytes written so far */
    for (size_t off = 0; off < cap; off++) {
        for (size_t i = 0; i < cap; i++) src[i] = pat(stream + i);
        /* Half through the zero-copy span, half through the copying write. */
        void *w;
        size_t space;
        quire_ring_write_span(&r, &w, &space);
        if (space != cap) bad_span++;
        size_t half = (off * 7) % cap;
        memcpy(w, src, half);
        if (quire_ring_commit(&r, half) != 0) bad_span++;
        if (quire_ring_write(&r, src + half, cap - half) != 0) bad_full++;
        stream += cap;
        if (quire_ring_len(&r) != cap || quire_ring_space(&r) != 0) bad_full++;
        unsigned char one = 1;
        if (quire_ring_write(&r, &one, 1) != QUIRE_EAGAIN) bad_full++;
        quire_ring_write_span(&r, &w, &space);
        if (space != 0) bad_full++;
        const void *rp;
        size_t avail;
        quire_ring_read_span(&r, &rp, &avail);
        if (avail != cap || memcmp(rp, src, cap) != 0) bad_data++;
        /* Consume in two parts through the copying read. */
        size_t got1, got2;
        quire_ring_read(&r, dst, off, &got1);
        quire_ring_read(&r, dst + got1, cap, &got2);
        if (got1 != off || got1 + got2 != cap || memcmp(dst, src, cap) != 0) bad_data++;
        if (quire_ring_len(&r) != 0 || quire_ring_space(&r) != cap) bad_empty++;
        if (quire_ring_consume(&r, 1) != QUIRE_ERANGE) bad_empty++;
        /* Advance the offset by one byte for the next round. */
        unsigned char x = pat(stream);
        quire_ring_write(&r, &x, 1);
        quire_ring_read(&r, &one, 1, &got1);
        if (got1 != 1 || one != x) bad_data++;
        stream += 1;
    }
    CHECK_EQ(bad_full, 0);
    CHECK_EQ(bad_data, 0);
    CHECK_EQ(bad_empty, 0);
    CHECK_EQ(bad_span, 0);
    free(src);
    free(dst);
    CHECK_OK(quire_ring_destroy(&r));
}

/* Records of odd sizes stream through a small ring, crossing the end at many offsets. */
static void test_records(void) {
    TEST("records");
    quire_ring r;
    CHECK_OK(quire_ring_create(1, 0, &r));
    size_t cap = quire_ring_capacity(&r);
    unsigned char buf[1000];
    size_t wpos = 0, rpos = 0;
    int bad = 0;
    for (int round = 0; round < 20000; round++) {
        size_t len = 1 + (size_t)(round * 37) % 999;
        for (size_t i = 0; i < len; i++) buf[i] = pat(wpos + i);
        int rc = quire_ring_write(&r, buf, len);
        if (rc == 0) {
            wpos += len;
        } else if (rc != QUIRE_EAGAIN || quire_ring_space(&r) >= len) {
            bad++;
        }
        size_t want = (size_t)(round * 53) % 1000, got;
        quire_ring_read(&r, buf, want, &got);
        for (size_t i = 0; i < got; i++)
            if (buf[i] != pat(rpos + i)) bad++;
        rpos += got;
        if (wpos - rpos != quire_ring_len(&r) || quire_ring_len(&r) > cap) bad++;
    }
    CHECK_EQ(bad, 0);
    CHECK(rpos > 10 * cap);
    CHECK_OK(quire_ring_destroy(&r));
}

static void test_overwrite(void) {
    TEST("overwrite");
    quire_ring r;
    CHECK_OK(quire_ring_create(1, QUIRE_RING_OVERWRITE, &r));
    size_t cap = quire_ring_capacity(&r);
    unsigned char *src = malloc(3 * cap + 5), *dst = malloc(cap);
    for (size_t i = 0; i < 3 * cap + 5; i++) src[i] = pat(i);
    /* Small writes past the capacity: the newest cap bytes stay. */
    size_t written = 0;
    for (size_t len = 1; written < 2 * cap + 3; len = len * 3 % 97 + 1) {
        CHECK_OK(quire_ring_write(&r, src + written, len));
        written += len;
        CHECK(quire_ring_len(&r) <= cap);
    }
    CHECK_EQ(quire_ring_len(&r), cap);
    size_t got;
    CHECK_OK(quire_ring_peek(&r, dst, cap, &got));
    CHECK_EQ(got, cap);
    CHECK(memcmp(dst, src + written - cap, cap) == 0);
    /* One write longer than the capacity keeps its last cap bytes. */
    CHECK_OK(quire_ring_write(&r, src, 3 * cap + 5));
    CHECK_EQ(quire_ring_len(&r), cap);
    CHECK_OK(quire_ring_read(&r, dst, cap, &got));
    CHECK_EQ(got, cap);
    CHECK(memcmp(dst, src + 2 * cap + 5, cap) == 0);
    CHECK_EQ(quire_ring_len(&r), 0);
    /* Partly full: a write that fits drops nothing. */
    CHECK_OK(quire_ring_write(&r, src, 10));
    CHECK_OK(quire_ring_write(&r, src + 10, 10));
    CHECK_OK(quire_ring_read(&r, dst, cap, &got));
    CHECK_EQ(got, 20);
    CHECK(memcmp(dst, src, 20) == 0);
    /* printf on an overwriting ring drops old bytes too; too long a text is refused. */
    for (int i = 0; i < 1000; i++) CHECK_OK(quire_ring_printf(&r, NULL, "line %04d\n", i));
    CHECK_EQ(quire_ring_len(&r), cap); /* exactly the text's bytes were dropped */
    const char *line;
    size_t len;
    /* The oldest bytes may be a partial line; skip it, then lines are whole and in order. */
    CHECK_OK(quire_ring_peek_line(&r, &line, &len));
    CHECK_OK(quire_ring_consume(&r, len));
    char lb[32];
    CHECK_OK(quire_ring_getline(&r, lb, sizeof lb, &len));
    int first = atoi(lb + 5);
    CHECK(first > 0 && first < 1000);
    int order_ok = 1;
    for (int k = first + 1; k < 1000; k++) {
        if (quire_ring_getline(&r, lb, sizeof lb, &len) != 0 || atoi(lb + 5) != k) order_ok = 0;
    }
    CHECK(order_ok);
    char *big = malloc(cap + 1);
    memset(big, 'x', cap);
    big[cap] = 0;
    CHECK_EQ(quire_ring_printf(&r, NULL, "%s", big), QUIRE_ERANGE);
    /* The NUL vsnprintf writes after the text must not clobber the oldest byte kept: fill the
     * ring with a known pattern, then print texts that end just before its oldest byte. */
    for (size_t k = 1; k < 40; k += 7) {
        quire_ring_read(&r, dst, cap, &got); /* empty it */
        for (size_t i = 0; i < cap; i++) src[i] = pat(i + k);
        CHECK_OK(quire_ring_write(&r, src, cap)); /* full */
        big[k] = 0;                               /* a text of k bytes */
        size_t w = 0;
        CHECK_OK(quire_ring_printf(&r, &w, "%s", big));
        big[k] = 'x';
        CHECK_EQ(w, k);
        CHECK_EQ(quire_ring_len(&r), cap);
        CHECK_OK(quire_ring_peek(&r, dst, cap, &got));
        CHECK(got == cap && memcmp(dst, src + k, cap - k) == 0); /* oldest kept: intact */
        CHECK(memcmp(dst + cap - k, big, k) == 0);
    }
    /* A text of capacity - 1 bytes is the longest accepted. */
    big[cap - 1] = 0;
    CHECK_OK(quire_ring_printf(&r, NULL, "%s", big));
    CHECK_EQ(quire_ring_len(&r), cap);
    CHECK_OK(quire_ring_peek(&r, dst, cap, &got));
    CHECK(memcmp(dst + 1, big, cap - 1) == 0);
    free(big);
    free(src);
    free(dst);
    CHECK_OK(quire_ring_destroy(&r));
}

static void test_text(void) {
    TEST("printf and lines");
    quire_ring r;
    CHECK_OK(quire_ring_create(1, 0, &r));
    size_t cap = quire_ring_capacity(&r);
    /* Move the positions near the end so that lines cross the wrap. */
    char *fill = malloc(cap);
    memset(fill, '.', cap);
    size_t got;
    CHECK_OK(quire_ring_write(&r, fill, cap - 5));
    CHECK_OK(quire_ring_read(&r, fill, cap - 5, &got));
    size_t w;
    CHECK_OK(quire_ring_printf(&r, &w, "hello %d %s\n", 42, "world"));
    CHECK_EQ(w, 15);
    CHECK_OK(quire_ring_printf(&r, &w, "partial"));
    const char *line;
    size_t len;
    CHECK_OK(quire_ring_peek_line(&r, &line, &len));
    CHECK_EQ(len, 15);
    CHECK(memcmp(line, "hello 42 world\n", 15) == 0); /* contiguous across the wrap */
    char small[8];
    CHECK_EQ(quire_ring_getline(&r, small, sizeof small, &len), QUIRE_ERANGE);
    char lb[64];
    CHECK_OK(quire_ring_getline(&r, lb, sizeof lb, &len));
    CHECK(strcmp(lb, "hello 42 world\n") == 0);
    CHECK_EQ(quire_ring_getline(&r, lb, sizeof lb, &len), QUIRE_EAGAIN);
    CHECK_OK(quire_ring_printf(&r, NULL, " line\n"));
    CHECK_OK(quire_ring_getline(&r, lb, sizeof lb, &len));
    CHECK(strcmp(lb, "partial line\n") == 0);
    CHECK_EQ(len, 13);
    CHECK_EQ(quire_ring_printf(&r, &w, "%s", ""), 0);
    CHECK_EQ(w, 0);
    /* The NUL of vsnprintf needs a byte: a text of exactly the free space does not fit. */
    CHECK_OK(quire_ring_write(&r, fill, cap - 10));
    CHECK_EQ(quire_ring_printf(&r, &w, "%s", "0123456789"), QUIRE_EAGAIN);
    CHECK_EQ(quire_ring_len(&r), cap - 10);
    CHECK_OK(quire_ring_printf(&r, &w, "%s", "012345678"));
    CHECK_EQ(quire_ring_len(&r), cap - 1);
    CHECK_EQ(quire_ring_printf(&r, &w, NULL), QUIRE_EINVAL);
    free(fill);
    CHECK_OK(quire_ring_destroy(&r));
}

static void test_fd(void) {
    TEST("fd fill and drain");
    quire_ring r;
    CHECK_OK(quire_ring_create(1, 0, &r));
    int in[2], out[2];
    CHECK(pipe(in) == 0 && pipe(out) == 0);
    CHECK(write(in[1], "alpha\nbeta\n", 11) == 11);
    close(in[1]);
    size_t got;
    CHECK_OK(quire_ring_fill_from_fd(&r, in[0], &got));
    CHECK_EQ(got, 11);
    char lb[16];
    CHECK_OK(quire_ring_getline(&r, lb, sizeof lb, NULL));
    CHECK(strcmp(lb, "alpha\n") == 0);
    CHECK_OK(quire_ring_fill_from_fd(&r, in[0], &got));
    CHECK_EQ(got, 0); /* end of file */
    size_t put;
    CHECK_OK(quire_ring_drain_to_fd(&r, out[1], &put));
    CHECK_EQ(put, 5);
    CHECK_EQ(quire_ring_len(&r), 0);
    CHECK(read(out[0], lb, sizeof lb) == 5 && memcmp(lb, "beta\n", 5) == 0);
    CHECK_OK(quire_ring_drain_to_fd(&r, out[1], &put));
    CHECK_EQ(put, 0);
    CHECK_EQ(quire_ring_fill_from_fd(&r, -1, &got), QUIRE_EOS);
    close(in[0]);
    close(out[0]);
    close(out[1]);
    CHECK_OK(quire_ring_destroy(&r));
}

/* Child writes `n` bytes of pat() through ring `r` (running concurrently with the parent). */
static void child_write(quire_ring *r, size_t n) {
    unsigned char buf[777];
    size_t pos = 0;
    while (pos < n) {
        size_t len = n - pos < sizeof buf ? n - pos : sizeof buf;
        for (size_t i = 0; i < len; i++) buf[i] = pat(pos + i);
        if (quire_ring_write(r, buf, len) == 0)
            pos += len;
        else
            usleep(50);
    }
}

/* Parent reads n bytes and checks them; returns the number of mismatches (or -1 if stuck). */
static long parent_read(quire_ring *r, size_t n) {
    unsigned char buf[1000];
    size_t pos = 0;
    long bad = 0;
    int idle = 0;
    while (pos < n && idle < 200000) {
        size_t got;
        quire_ring_read(r, buf, sizeof buf, &got);
        if (got == 0) {
            idle++;
            usleep(20);
            continue;
        }
        idle = 0;
        for (size_t i = 0; i < got; i++)
            if (buf[i] != pat(pos + i)) bad++;
        pos += got;
    }
    return pos == n ? bad : -1;
}

static void test_fork(void) {
    TEST("shared with a child");
    quire_ring r;
    CHECK_OK(quire_ring_create(1, 0, &r));
    size_t total = 40 * quire_ring_capacity(&r) + 123;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) { /* the inherited mapping is the same memfd */
        child_write(&r, total);
        _exit(0);
    }
    CHECK_EQ(parent_read(&r, total), 0);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    /* A child that maps the ring afresh from its descriptor. */
    pid = fork();
    if (pid == 0) {
        quire_ring r2;
        if (quire_ring_attach(quire_ring_fd(&r), &r2) != 0) _exit(3);
        if (quire_ring_capacity(&r2) != quire_ring_capacity(&r)) _exit(4);
        child_write(&r2, total);
        quire_ring_destroy(&r2);
        _exit(0);
    }
    CHECK_EQ(parent_read(&r, total), 0);
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    /* Attach in-process: a second mapping sees the first one's data and counters. */
    quire_ring r3;
    CHECK_OK(quire_ring_attach(quire_ring_fd(&r), &r3));
    CHECK_OK(quire_ring_write(&r, "xyz", 3));
    CHECK_EQ(quire_ring_len(&r3), 3);
    char b[4] = {0};
    size_t got;
    CHECK_OK(quire_ring_read(&r3, b, 3, &got));
    CHECK(strcmp(b, "xyz") == 0);
    CHECK_EQ(quire_ring_len(&r), 0);
    CHECK_OK(quire_ring_destroy(&r3));
    CHECK_OK(quire_ring_destroy(&r));
}

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Blocking waits: timeouts, edges, and a reader and a writer in two processes that sleep on the
 * ring's futexes until the other side moves. */
static void test_wait(void) {
    TEST("waiting");
    quire_ring r;
    CHECK_OK(quire_ring_create(1, 0, &r));
    size_t cap = quire_ring_capacity(&r);
    CHECK_EQ(quire_ring_wait_readable(NULL, 1, 0), QUIRE_EINVAL);
    CHECK_OK(quire_ring_wait_readable(&r, 0, 0));
    CHECK_EQ(quire_ring_wait_readable(&r, 1, 0), QUIRE_EAGAIN);
    CHECK_EQ(quire_ring_wait_readable(&r, cap + 1, 0), QUIRE_ERANGE);
    CHECK_EQ(quire_ring_wait_writable(&r, cap + 1, 0), QUIRE_ERANGE);
    uint64_t t0 = mono_ns();
    CHECK_EQ(quire_ring_wait_readable(&r, 1, 3000000), QUIRE_EAGAIN); /* 3 ms */
    CHECK(mono_ns() - t0 >= 3000000);
    CHECK_OK(quire_ring_wait_writable(&r, cap, 0));
    CHECK_OK(quire_ring_write(&r, "0123456789", 10));
    CHECK_OK(quire_ring_wait_readable(&r, 10, 0));
    CHECK_EQ(quire_ring_wait_readable(&r, 11, 1000000), QUIRE_EAGAIN);
    CHECK_EQ(quire_ring_wait_writable(&r, cap - 9, 1000000), QUIRE_EAGAIN);
    CHECK_OK(quire_ring_wait_writable(&r, cap - 10, UINT64_MAX));

    /* Two processes, two rings (r: parent -> child, r2: child -> parent). The child sleeps on
     * r until the parent writes; then it fills r2 and sleeps on the full r2 until the parent
     * has read some of it. */
    size_t got;
    char buf[16];
    CHECK_OK(quire_ring_read(&r, buf, sizeof buf, &got));
    quire_ring r2;
    CHECK_OK(quire_ring_create(1, 0, &r2));
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        char b[8] = {0};
        size_t g;
        if (quire_ring_wait_readable(&r, 5, 10000000000ull) != 0) _exit(2);
        quire_ring_read(&r, b, 5, &g);
        if (g != 5 || memcmp(b, "hello", 5) != 0) _exit(3);
        unsigned char *fill = malloc(cap);
        memset(fill, 'f', cap);
        if (quire_ring_write(&r2, fill, cap) != 0) _exit(4);
        if (quire_ring_wait_writable(&r2, 100, 10000000000ull) != 0) _exit(5);
        if (quire_ring_write(&r2, "done", 4) != 0) _exit(6);
        _exit(0);
    }
    usleep(30000); /* let the child fall asleep first */
    CHECK_OK(quire_ring_write(&r, "hello", 5));
    CHECK_OK(quire_ring_wait_readable(&r2, cap, 10000000000ull)); /* the child filled it */
    usleep(30000); /* the child is asleep on the full ring */
    unsigned char *tmp = malloc(cap);
    CHECK_OK(quire_ring_read(&r2, tmp, 100, &got));
    CHECK_EQ(got, 100);
    CHECK_OK(quire_ring_wait_readable(&r2, cap - 100 + 4, 10000000000ull));
    CHECK_OK(quire_ring_read(&r2, tmp, cap, &got));
    CHECK(got == cap - 100 + 4 && memcmp(tmp + got - 4, "done", 4) == 0);
    free(tmp);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ(quire_ring_len(&r), 0);
    CHECK_OK(quire_ring_destroy(&r2));
    CHECK_OK(quire_ring_destroy(&r));

    /* An overwriting ring never waits to write. */
    CHECK_OK(quire_ring_create(1, QUIRE_RING_OVERWRITE, &r));
    char *fill = malloc(cap);
    memset(fill, 'x', cap);
    CHECK_OK(quire_ring_write(&r, fill, cap));
    CHECK_OK(quire_ring_wait_writable(&r, cap, 0));
    free(fill);
    CHECK_OK(quire_ring_destroy(&r));
}

int main(void) {
    test_errors();
    test_mirror();
    test_every_offset();
    test_records();
    test_overwrite();
    test_text();
    test_fd();
    test_fork();
    test_wait();
    return check_done();
}
