/*
 * tests/unit/test_map.c - mapped file ranges: whole files and unaligned offset/length ranges,
 * read-only / shared writable / private copy-on-write (writes reach the file or not, checked
 * with pread), create/create_new/truncate/resize, sync and async flush of a range, conversions
 * ro <-> rw (and the refusal for a file opened read-only), a write through a read-only map
 * faulting in a forked child, advice, locking, granularity helpers, and the error codes.
 */
#include "check.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "quire/map.h"
#include "quire/pages.h"

static char dir[64], path[128];

static unsigned char pat(size_t i) {
    return (unsigned char)(i * 31 + (i >> 9));
}

static void make_file(size_t n) {
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
    unsigned char buf[4096];
    for (size_t off = 0; off < n; off += sizeof buf) {
        size_t c = n - off < sizeof buf ? n - off : sizeof buf;
        for (size_t i = 0; i < c; i++) buf[i] = pat(off + i);
        if (write(fd, buf, c) != (ssize_t)c) abort();
    }
    close(fd);
}

static int file_byte(size_t off) {
    int fd = open(path, O_RDONLY);
    unsigned char b;
    ssize_t r = pread(fd, &b, 1, (off_t)off);
    close(fd);
    return r == 1 ? b : -1;
}

static void test_helpers(void) {
    TEST("granularity");
    size_t ps = quire_page_size();
    CHECK_EQ(quire_map_page_size(), ps);
    CHECK_EQ(quire_map_granularity(), ps);
    CHECK_EQ(quire_map_align_down(ps + 5), ps);
    CHECK_EQ(quire_map_align_up(ps + 5), 2 * ps);
    CHECK_EQ(quire_map_align_up(2 * ps), 2 * ps);
    CHECK_EQ(quire_map_align_up(UINT64_MAX), 0);
}

static void test_ro(void) {
    TEST("read-only");
    size_t n = 3 * quire_page_size() + 123;
    make_file(n);
    quire_map_ro m;
    CHECK_OK(quire_map_open_ro(path, NULL, &m));
    CHECK_EQ(quire_map_len(&m), n);
    const unsigned char *p = quire_map_ro_ptr(m);
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad += p[i] != pat(i);
    CHECK_EQ(bad, 0);
    CHECK_OK(quire_map_advise(&m, 0, 0, QUIRE_ADVICE_SEQUENTIAL));
    CHECK_OK(quire_map_advise(&m, 100, 10, QUIRE_ADVICE_WILLNEED));
    CHECK_EQ(quire_map_advise(&m, n + 1, 1, QUIRE_ADVICE_NORMAL), QUIRE_ERANGE);
    CHECK_EQ(quire_map_advise(&m, 0, 0, 77), QUIRE_EINVAL);
    CHECK_OK(quire_map_lock(&m, 10, 5000));
    CHECK_OK(quire_map_unlock(&m, 10, 5000));
    /* writing through the read-only map faults */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(SIGSEGV, &sa, NULL);
        *(volatile unsigned char *)(uintptr_t)p = 1;
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
    /* a shared read-only map of a file opened read-only cannot become writable */
    quire_map_rw w;
    CHECK_EQ(quire_map_ro_to_rw(&m, &w), QUIRE_EACCES);
    CHECK(quire_map_ro_ptr(m) == p); /* unchanged on failure */
    CHECK_OK(quire_map_close(&m));
    CHECK_EQ(quire_map_close(&m), QUIRE_ECONSUMED);
    CHECK(quire_map_ro_ptr(m) == NULL);
    CHECK_EQ(quire_map_len(&m), 0);
}

static void test_offsets(void) {
    TEST("unaligned ranges");
    size_t ps = quire_page_size();
    size_t n = 5 * ps;
    make_file(n);
    size_t offs[] = {0, 1, ps - 1, ps, ps + 1, 3 * ps + 77, n - 1};
    int bad = 0;
    for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
        size_t lens[] = {1, 100, ps, n - offs[k]};
        for (size_t l = 0; l < 4; l++) {
            if (lens[l] > n - offs[k]) continue;
            struct quire_map_options o = {.offset = offs[k], .length = lens[l]};
            quire_map_ro m;
            if (quire_map_open_ro(path, &o, &m) != 0) {
                bad++;
                continue;
            }
            const unsigned char *p = quire_map_ro_ptr(m);
            for (size_t i = 0; i < lens[l]; i++) bad += p[i] != pat(offs[k] + i);
            bad += quire_map_len(&m) != lens[l];
            quire_map_close(&m);
        }
    }
    CHECK_EQ(bad, 0);
    /* offset alone: to the end of the file */
    struct quire_map_options o = {.offset = 2 * ps + 5};
    quire_map_ro m;
    CHECK_OK(quire_map_open_ro(path, &o, &m));
    CHECK_EQ(quire_map_len(&m), n - 2 * ps - 5);
    CHECK_EQ(((const unsigned char *)quire_map_ro_ptr(m))[0], pat(2 * ps + 5));
    CHECK_OK(quire_map_close(&m));
    /* errors */
    o.offset = n;
    CHECK_EQ(quire_map_open_ro(path, &o, &m), QUIRE_ERANGE);
    o.offset = 10;
    o.length = n;
    CHECK_EQ(quire_map_open_ro(path, &o, &m), QUIRE_ERANGE);
    o.offset = UINT64_MAX - 2;
    o.length = 10;
    CHECK_EQ(quire_map_open_ro(path, &o, &m), QUIRE_EOVERFLOW);
    o.offset = 0;
    o.length = 0;
    o.flags = 0x1000;
    CHECK_EQ(quire_map_open_ro(path, &o, &m), QUIRE_EINVAL);
}

static void test_rw_and_cow(void) {
    TEST("shared writable");
    size_t ps = quire_page_size();
    make_file(4 * ps);
    struct quire_map_options o = {.offset = ps + 10, .length = 2 * ps};
    quire_map_rw w;
    CHECK_OK(quire_map_open_rw(path, &o, &w));
    CHECK_EQ(quire_map_is_cow(&w), 0);
    unsigned char *p = quire_map_rw_ptr(w);
    CHECK_EQ(p[0], pat(ps + 10));
    p[0] = 0xaa;
    p[2 * ps - 1] = 0xbb;
    CHECK_OK(quire_map_flush(&w, 0, 1));
    CHECK_OK(quire_map_flush_async(&w, 2 * ps - 1, 1));
    CHECK_OK(quire_map_flush(&w, 0, 0));
    CHECK_EQ(quire_map_flush(&w, 2 * ps, 1), QUIRE_ERANGE);
    CHECK_EQ(quire_map_flush(&w, 10, 2 * ps), QUIRE_ERANGE);
    CHECK_EQ(file_byte(ps + 10), 0xaa);
    CHECK_EQ(file_byte(3 * ps + 9), 0xbb);
    /* rw -> ro -> rw */
    quire_map_ro r;
    CHECK_OK(quire_map_rw_to_ro(&w, &r));
    CHECK(quire_map_rw_ptr(w) == NULL);
    CHECK_EQ(quire_map_flush(&w, 0, 0), QUIRE_ECONSUMED);
    CHECK(quire_map_ro_ptr(r) == p);
    CHECK_OK(quire_map_ro_to_rw(&r, &w));
    p = quire_map_rw_ptr(w);
    p[1] = 0xcc;
    CHECK_OK(quire_map_flush(&w, 1, 1));
    CHECK_EQ(file_byte(ps + 11), 0xcc);
    CHECK_OK(quire_map_close(&w));

    TEST("read-only opened writable converts");
    o.flags = QUIRE_MAP_WRITABLE;
    CHECK_OK(quire_map_open_ro(path, &o, &r));
    CHECK_OK(quire_map_ro_to_rw(&r, &w));
    ((unsigned char *)quire_map_rw_ptr(w))[2] = 0xdd;
    CHECK_OK(quire_map_flush(&w, 0, 0));
    CHECK_EQ(file_byte(ps + 12), 0xdd);
    CHECK_OK(quire_map_close(&w));

    TEST("private copy-on-write");
    o.flags = 0;
    CHECK_OK(quire_map_open_cow(path, &o, &w));
    CHECK_EQ(quire_map_is_cow(&w), 1);
    p = quire_map_rw_ptr(w);
    CHECK_EQ(p[0], 0xaa);
    p[0] = 0x11;
    CHECK_OK(quire_map_flush(&w, 0, 0)); /* nothing to write back */
    CHECK_EQ(p[0], 0x11);
    CHECK_EQ(file_byte(ps + 10), 0xaa); /* the file never sees it */
    /* cow -> read-only -> writable again: still private, the earlier write still there */
    CHECK_OK(quire_map_rw_to_ro(&w, &r));
    CHECK_EQ(((const unsigned char *)quire_map_ro_ptr(r))[0], 0x11);
    CHECK_OK(quire_map_ro_to_rw(&r, &w));
    CHECK_EQ(quire_map_is_cow(&w), 1);
    p = quire_map_rw_ptr(w);
    p[1] = 0x22;
    CHECK_OK(quire_map_flush_async(&w, 0, 0));
    CHECK_EQ(p[0], 0x11);
    CHECK_EQ(file_byte(ps + 11), 0xcc); /* still the file's own byte */
    /* and another map of the file does not either */
    quire_map_ro r2;
    CHECK_OK(quire_map_open_ro(path, &o, &r2));
    CHECK_EQ(((const unsigned char *)quire_map_ro_ptr(r2))[0], 0xaa);
    CHECK_OK(quire_map_close(&r2));
    CHECK_OK(quire_map_close(&w));
    /* a copy-on-write map only needs read access: it works on a 0444 file */
    chmod(path, 0444);
    CHECK_OK(quire_map_open_cow(path, NULL, &w));
    CHECK_OK(quire_map_close(&w));
    chmod(path, 0644);
}

static void test_create(void) {
    TEST("create, truncate, resize");
    char p2[160];
    snprintf(p2, sizeof p2, "%s/new.bin", dir);
    quire_map_rw w;
    CHECK_EQ(quire_map_open_rw(p2, NULL, &w), QUIRE_ENOENT);
    /* creating an empty file leaves nothing to map */
    struct quire_map_options o = {.flags = QUIRE_MAP_CREATE};
    CHECK_EQ(quire_map_open_rw(p2, &o, &w), QUIRE_EINVAL);
    o.flags = QUIRE_MAP_CREATE_NEW | QUIRE_MAP_RESIZE;
    o.resize_to = 10000;
    CHECK_EQ(quire_map_open_rw(p2, &o, &w), QUIRE_EEXIST); /* created by the call above */
    o.flags = QUIRE_MAP_CREATE | QUIRE_MAP_RESIZE | QUIRE_MAP_POPULATE;
    CHECK_OK(quire_map_open_rw(p2, &o, &w));
    CHECK_EQ(quire_map_len(&w), 10000);
    unsigned char *p = quire_map_rw_ptr(w);
    CHECK_EQ(p[9999], 0);
    memset(p, 0x5a, 10000);
    CHECK_OK(quire_map_flush(&w, 0, 0));
    CHECK_OK(quire_map_close(&w));
    struct stat st;
    CHECK(stat(p2, &st) == 0 && st.st_size == 10000);
    /* reopen: contents are there */
    quire_map_ro r;
    CHECK_OK(quire_map_open_ro(p2, NULL, &r));
    CHECK_EQ(((const unsigned char *)quire_map_ro_ptr(r))[4321], 0x5a);
    CHECK_OK(quire_map_close(&r));
    /* truncate then resize: zeroes */
    o.flags = QUIRE_MAP_TRUNCATE | QUIRE_MAP_RESIZE;
    o.resize_to = 300;
    CHECK_OK(quire_map_open_rw(p2, &o, &w));
    CHECK_EQ(quire_map_len(&w), 300);
    CHECK_EQ(((unsigned char *)quire_map_rw_ptr(w))[0], 0);
    CHECK_OK(quire_map_close(&w));
    o.flags = QUIRE_MAP_RESIZE;
    o.resize_to = (uint64_t)INT64_MAX + 1;
    CHECK_EQ(quire_map_open_rw(p2, &o, &w), QUIRE_EOVERFLOW);
    unlink(p2);
}

static void test_errors(void) {
    TEST("errors");
    quire_map_ro r;
    quire_map_rw w;
    CHECK_EQ(quire_map_open_ro(NULL, NULL, &r), QUIRE_EINVAL);
    CHECK_EQ(quire_map_open_ro(path, NULL, NULL), QUIRE_EINVAL);
    CHECK_EQ(quire_map_open_ro("/nonexistent/file", NULL, &r), QUIRE_ENOENT);
    CHECK_EQ(quire_map_fd(-1, 0, 0, 0, &r, NULL), QUIRE_EINVAL);
    CHECK_EQ(quire_map_fd(0, 0, 0, 3, &r, &w), QUIRE_EINVAL);
    CHECK_EQ(quire_map_flush(NULL, 0, 0), QUIRE_EINVAL);
    /* a descriptor opened read-only cannot back a shared writable map */
    make_file(5000);
    int fd = open(path, O_RDONLY);
    CHECK_EQ(quire_map_fd(fd, 0, 0, 1, NULL, &w), QUIRE_EACCES);
    CHECK_OK(quire_map_fd(fd, 4096, 904, 2, NULL, &w)); /* copy-on-write is fine */
    CHECK_EQ(((unsigned char *)quire_map_rw_ptr(w))[0], pat(4096));
    CHECK_OK(quire_map_close(&w));
    CHECK_OK(quire_map_fd(fd, 1, 0, 0, &r, NULL));
    CHECK_EQ(quire_map_len(&r), 4999);
    CHECK_OK(quire_map_close(&r));
    close(fd);
    /* permission denied: a mode-000 file, as an unprivileged user */
    chmod(path, 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(100);
        quire_map_ro rr;
        _exit(quire_map_open_ro(path, NULL, &rr) == QUIRE_EACCES ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    chmod(path, 0644);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/quire-map-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    chmod(dir, 0755); /* the unprivileged child must reach the file to be refused by its mode */
    snprintf(path, sizeof path, "%s/data.bin", dir);
    test_helpers();
    test_ro();
    test_offsets();
    test_rw_and_cow();
    test_create();
    test_errors();
    unlink(path);
    rmdir(dir);
    return check_done();
}
