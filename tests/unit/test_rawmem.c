/*
 * tests/unit/test_rawmem.c - raw memory: the same generic code run on every backend (heap,
 * anonymous, file, temporary file) through the vtable; grow filled/bytes/zeroed/from/with
 * (including a failing callback that undoes the growth), shrink, slice, capacity; the file
 * backend keeps its contents on reopen (platform-mem's bug), reports a size that is not a
 * multiple of the element size, and refuses missing files and forbidden access; temporary files
 * leave nothing behind.
 */
#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "quire/rawmem.h"

struct rec {
    uint32_t a;
    uint16_t b;
    unsigned char c[6]; /* 12-byte elements */
};

static int init_recs(void *ctx, void *elems, size_t first, size_t count) {
    int *calls = ctx;
    (*calls)++;
    struct rec *r = elems;
    for (size_t i = 0; i < count; i++) {
        memset(&r[i], 0, sizeof r[i]);
        r[i].a = (uint32_t)(first + i);
        r[i].b = 0xbeef;
    }
    return 0;
}

static int init_fail(void *ctx, void *elems, size_t first, size_t count) {
    (void)ctx;
    (void)first;
    memset(elems, 0xee, count * sizeof(struct rec)); /* scribbles, then fails */
    return QUIRE_ENOSPC;
}

/* The generic part: the same code for every backend. */
static void exercise(quire_rawmem *m) {
    CHECK_EQ(quire_rawmem_elem_size(m), sizeof(struct rec));
    CHECK_EQ(quire_rawmem_len(m), 0);
    void *d;
    size_t n;
    CHECK_OK(quire_rawmem_slice(m, &d, &n));
    CHECK(d == NULL && n == 0);
    CHECK_OK(quire_rawmem_grow_zeroed(m, 0)); /* no-op */

    struct rec pat = {7, 8, {1, 2, 3, 4, 5, 6}};
    CHECK_OK(quire_rawmem_grow_filled(m, 1000, &pat));
    CHECK_OK(quire_rawmem_grow_bytes(m, 10, 0xab));
    CHECK_OK(quire_rawmem_grow_zeroed(m, 5));
    struct rec src[3] = {{100, 1, {0}}, {101, 2, {0}}, {102, 3, {0}}};
    CHECK_OK(quire_rawmem_grow_from(m, src, 3));
    int calls = 0;
    CHECK_OK(quire_rawmem_grow_with(m, 500, init_recs, &calls));
    CHECK_EQ(calls, 1);
    CHECK_EQ(quire_rawmem_len(m), 1518);
    CHECK(quire_rawmem_capacity(m) >= 1518);
    CHECK_EQ(quire_rawmem_grow_with(m, 50, init_fail, NULL), QUIRE_ENOSPC);
    CHECK_EQ(quire_rawmem_len(m), 1518); /* undone */

    CHECK_OK(quire_rawmem_slice(m, &d, &n));
    CHECK_EQ(n, 1518);
    struct rec *r = d;
    int bad = 0;
    for (int i = 0; i < 1000; i++) bad += memcmp(&r[i], &pat, sizeof pat) != 0;
    for (int i = 1000; i < 1010; i++) bad += r[i].a != 0xabababab || r[i].c[5] != 0xab;
    for (int i = 1010; i < 1015; i++) bad += r[i].a != 0 || r[i].b != 0 || r[i].c[0] != 0;
    for (int i = 0; i < 3; i++) bad += r[1015 + i].a != (uint32_t)(100 + i);
    for (int i = 0; i < 500; i++)
        bad += r[1018 + i].a != (uint32_t)(1018 + i) || r[1018 + i].b != 0xbeef;
    CHECK_EQ(bad, 0);

    CHECK_EQ(quire_rawmem_shrink(m, 1519), QUIRE_ERANGE);
    CHECK_OK(quire_rawmem_shrink(m, 518));
    CHECK_EQ(quire_rawmem_len(m), 1000);
    CHECK_OK(quire_rawmem_slice(m, &d, &n));
    CHECK_EQ(n, 1000);
    CHECK(memcmp((struct rec *)d + 999, &pat, sizeof pat) == 0);
    /* regrow zeroed over memory that held data */
    CHECK_OK(quire_rawmem_grow_zeroed(m, 600));
    CHECK_OK(quire_rawmem_slice(m, &d, &n));
    r = d;
    for (int i = 1000; i < 1600; i++) bad += r[i].a != 0 || r[i].b != 0;
    CHECK_EQ(bad, 0);
    /* a large growth (several MiB) */
    CHECK_OK(quire_rawmem_grow_filled(m, 400000, &pat));
    CHECK_OK(quire_rawmem_slice(m, &d, &n));
    CHECK_EQ(n, 401600);
    CHECK(memcmp((struct rec *)d + 401599, &pat, sizeof pat) == 0);
    CHECK(memcmp((struct rec *)d + 999, &pat, sizeof pat) == 0);
    CHECK_OK(quire_rawmem_shrink(m, 401600));
    CHECK_EQ(quire_rawmem_len(m), 0);
    CHECK_OK(quire_rawmem_grow_from(m, src, 3));
    CHECK_OK(quire_rawmem_sync(m));
    /* errors */
    CHECK_EQ(quire_rawmem_grow_zeroed(m, SIZE_MAX), QUIRE_EOVERFLOW);
    CHECK_EQ(quire_rawmem_grow_zeroed(m, SIZE_MAX / 8), QUIRE_EOVERFLOW);
    CHECK_EQ(quire_rawmem_grow_from(m, NULL, 1), QUIRE_EINVAL);
    CHECK_EQ(quire_rawmem_grow_filled(m, 1, NULL), QUIRE_EINVAL);
    CHECK_EQ(quire_rawmem_grow_with(m, 1, NULL, NULL), QUIRE_EINVAL);
    CHECK_EQ(quire_rawmem_len(m), 3);
}

/* A backend of the test's own, plugged in through the vtable: exact-size realloc storage that
 * counts its calls. The generic code above runs on it unchanged. */
static int custom_calls;
static int custom_resize(quire_rawmem *m, size_t bytes) {
    custom_calls++;
    if (bytes == 0) {
        free(m->data_);
        m->data_ = NULL;
        m->cap_ = 0;
        return 0;
    }
    void *p = realloc(m->data_, bytes);
    if (!p) return QUIRE_ENOMEM;
    m->data_ = p;
    m->cap_ = bytes;
    return 0;
}
static int custom_close(quire_rawmem *m) {
    free(m->data_);
    return 0;
}
static const quire_rawmem_vtable custom_vt = {"custom", custom_resize, NULL, custom_close};

static char dir[64];

static int entries(const char *path) {
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void test_backends(void) {
    quire_rawmem m;
    TEST("heap");
    CHECK_OK(quire_rawmem_open_heap(&m, sizeof(struct rec)));
    CHECK(strcmp(quire_rawmem_backend(&m), "heap") == 0);
    exercise(&m);
    CHECK_OK(quire_rawmem_close(&m));
    CHECK_EQ(quire_rawmem_close(&m), QUIRE_EINVAL);

    TEST("anon");
    CHECK_OK(quire_rawmem_open_anon(&m, sizeof(struct rec)));
    CHECK(strcmp(quire_rawmem_backend(&m), "anon") == 0);
    exercise(&m);
    CHECK_OK(quire_rawmem_close(&m));

    TEST("custom backend through the vtable");
    memset(&m, 0, sizeof m);
    m.vt = &custom_vt;
    m.elem_ = sizeof(struct rec);
    m.fd_ = -1;
    CHECK(strcmp(quire_rawmem_backend(&m), "custom") == 0);
    exercise(&m);
    CHECK(custom_calls > 5);
    CHECK_EQ(quire_rawmem_capacity(&m), 3); /* exact-size storage */
    CHECK_OK(quire_rawmem_close(&m));
    CHECK(quire_rawmem_backend(&m) == NULL);

    TEST("file");
    char path[128];
    snprintf(path, sizeof path, "%s/array.bin", dir);
    CHECK_OK(quire_rawmem_open_file(&m, path, sizeof(struct rec), QUIRE_RAWMEM_CREATE));
    CHECK(strcmp(quire_rawmem_backend(&m), "file") == 0);
    exercise(&m);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 3 * (off_t)sizeof(struct rec));
    CHECK_OK(quire_rawmem_close(&m));

    TEST("temp");
    CHECK_OK(quire_rawmem_open_temp(&m, dir, sizeof(struct rec)));
    CHECK(strcmp(quire_rawmem_backend(&m), "temp") == 0);
    CHECK_EQ(entries(dir), 1); /* only array.bin: the temporary file has no name */
    exercise(&m);
    CHECK_OK(quire_rawmem_close(&m));
    CHECK_EQ(entries(dir), 1);
}

static void test_file_reopen(void) {
    TEST("file keeps its contents");
    char path[128];
    snprintf(path, sizeof path, "%s/keep.bin", dir);
    quire_rawmem m;
    CHECK_EQ(quire_rawmem_open_file(&m, path, 8, 0), QUIRE_ENOENT);
    CHECK_OK(quire_rawmem_open_file(&m, path, 8, QUIRE_RAWMEM_CREATE | QUIRE_RAWMEM_EXCL));
    uint64_t vals[5000];
    for (int i = 0; i < 5000; i++) vals[i] = (uint64_t)i * 0x9e3779b97f4a7c15ull;
    CHECK_OK(quire_rawmem_grow_from(&m, vals, 5000));
    CHECK_OK(quire_rawmem_sync(&m));
    CHECK_OK(quire_rawmem_close(&m));
    CHECK_EQ(quire_rawmem_open_file(&m, path, 8, QUIRE_RAWMEM_CREATE | QUIRE_RAWMEM_EXCL),
             QUIRE_EEXIST);
    /* Reopen: the data is still there (platform-mem zeroed it). */
    CHECK_OK(quire_rawmem_open_file(&m, path, 8, QUIRE_RAWMEM_CREATE));
    CHECK_EQ(quire_rawmem_len(&m), 5000);
    void *d;
    size_t n;
    CHECK_OK(quire_rawmem_slice(&m, &d, &n));
    CHECK(n == 5000 && memcmp(d, vals, sizeof vals) == 0);
    /* Appending after reopen keeps the old part. */
    CHECK_OK(quire_rawmem_grow_from(&m, vals, 10));
    CHECK_OK(quire_rawmem_close(&m));
    CHECK_OK(quire_rawmem_open_file(&m, path, 8, 0));
    CHECK_OK(quire_rawmem_slice(&m, &d, &n));
    CHECK(n == 5010 && memcmp(d, vals, sizeof vals) == 0 &&
          memcmp((uint64_t *)d + 5000, vals, 80) == 0);
    CHECK_OK(quire_rawmem_close(&m));
    /* Another element size that does not divide the file: refused, file untouched. */
    CHECK_EQ(quire_rawmem_open_file(&m, path, 7, 0), QUIRE_EFILESIZE);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 5010 * 8);
    CHECK_OK(quire_rawmem_open_file(&m, path, 16, 0)); /* 40080 = 2505 * 16: fine */
    CHECK_EQ(quire_rawmem_len(&m), 2505);
    CHECK_OK(quire_rawmem_close(&m));
    /* Truncate on request. */
    CHECK_OK(quire_rawmem_open_file(&m, path, 8, QUIRE_RAWMEM_TRUNCATE));
    CHECK_EQ(quire_rawmem_len(&m), 0);
    CHECK_OK(quire_rawmem_close(&m));
    CHECK(stat(path, &st) == 0 && st.st_size == 0);
    /* A file written by someone else with a partial trailing element. */
    int fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(write(fd, "0123456789", 10) == 10);
    close(fd);
    CHECK_EQ(quire_rawmem_open_file(&m, path, 4, 0), QUIRE_EFILESIZE);
    CHECK_OK(quire_rawmem_open_file(&m, path, 5, 0));
    CHECK_OK(quire_rawmem_slice(&m, &d, &n));
    CHECK(n == 2 && memcmp(d, "0123456789", 10) == 0);
    CHECK_OK(quire_rawmem_close(&m));
}

/* Opens a mode-000 file as an unprivileged user (a child that drops root if we are root) and
 * returns the code quire_rawmem_open_file gave. */
static int denied_code(void) {
    char path[128];
    snprintf(path, sizeof path, "%s/denied.bin", dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0);
    if (fd < 0) return 1;
    close(fd);
    chmod(path, 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(100);
        quire_rawmem m;
        int rc = quire_rawmem_open_file(&m, path, 8, 0);
        _exit(rc == QUIRE_EACCES ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    unlink(path);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? QUIRE_EACCES : 1;
}

static void test_errors(void) {
    TEST("errors");
    quire_rawmem m;
    CHECK_EQ(quire_rawmem_open_heap(NULL, 8), QUIRE_EINVAL);
    CHECK_EQ(quire_rawmem_open_heap(&m, 0), QUIRE_EINVAL);
    CHECK_EQ(quire_rawmem_open_anon(&m, 0), QUIRE_EINVAL);
    CHECK_EQ(quire_rawmem_open_file(&m, NULL, 8, 0), QUIRE_EINVAL);
    CHECK_EQ(quire_rawmem_open_file(&m, "/x", 8, 0x40), QUIRE_EINVAL);
    CHECK_EQ(quire_rawmem_open_file(&m, "/nonexistent-dir/x", 8, QUIRE_RAWMEM_CREATE),
             QUIRE_ENOENT);
    CHECK_EQ(denied_code(), QUIRE_EACCES);
    CHECK_EQ(quire_rawmem_open_temp(&m, "/nonexistent-dir", 8), QUIRE_ENOENT);
    CHECK_EQ(quire_rawmem_len(NULL), 0);
    CHECK(quire_rawmem_backend(NULL) == NULL);
    CHECK_EQ(quire_rawmem_shrink(NULL, 1), QUIRE_EINVAL);
    void *d;
    size_t n;
    CHECK_EQ(quire_rawmem_slice(NULL, &d, &n), QUIRE_EINVAL);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/quire-rawmem-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    test_errors();
    test_backends();
    test_file_reopen();
    char path[128];
    snprintf(path, sizeof path, "%s/array.bin", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/keep.bin", dir);
    unlink(path);
    rmdir(dir);
    return check_done();
}
