/*
 * tests/preload/test_malloc_api.c - the malloc family's conformance, through
 * the standard names.
 *
 * Linked against libquire.so, so malloc, free, ... resolve to quire's preload
 * layer. Runs every check of tests/alloc_api_cases.h through the standard names
 * (and proves with quire_owns that quire, not glibc, served each block), then
 * what only the standard names have: mallinfo2, and that allocations made by
 * libc itself (strdup, getline, asprintf) come from quire and go back through
 * free.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* C23's sized frees are not declared by Debian 12's glibc headers. */
void free_sized(void *ptr, size_t size);
void free_aligned_sized(void *ptr, size_t alignment, size_t size);

#define QA_FN(name) name
#include "alloc_api_cases.h"

static void test_libc_allocations(void) {
    TEST("libc's own allocations (strdup, asprintf, getline, fopen) are quire's");
    char *s = strdup("hello, quire");
    CHECK(s != NULL && quire_owns(s) == 1 && strcmp(s, "hello, quire") == 0);
    free(s);
    char *a = NULL;
    int n = asprintf(&a, "%d-%s-%0500d", 42, "x", 7);
    CHECK_EQ(n, 505);
    CHECK(a != NULL && quire_owns(a) == 1);
    free(a);
    char *line = NULL;
    size_t cap = 0;
    FILE *f = fmemopen("first line\nsecond\n", 18, "r");
    CHECK(f != NULL);
    if (f) {
        CHECK_EQ(getline(&line, &cap, f), 11);
        CHECK(line != NULL && quire_owns(line) == 1 && strcmp(line, "first line\n") == 0);
        fclose(f);
    }
    free(line);
    /* A block from mmap is not quire's. */
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED && quire_owns(m) == 0);
    if (m != MAP_FAILED) munmap(m, 4096);
}

static void test_mallinfo2(void) {
    TEST("mallinfo2: callable, sane, and reflects a large live allocation");
    struct mallinfo2 before = mallinfo2();
    void *big = malloc(32 * QA_MIB);
    CHECK(big != NULL);
    if (big) memset(big, 1, 32 * QA_MIB);
    struct mallinfo2 during = mallinfo2();
    /* Bytes in use (small blocks plus mmapped ones) grow by at least the block.
     */
    size_t used_before = before.uordblks + before.hblkhd;
    size_t used_during = during.uordblks + during.hblkhd;
    CHECK(used_during >= used_before + 32 * QA_MIB);
    free(big);
    struct mallinfo2 after = mallinfo2();
    CHECK(after.uordblks + after.hblkhd < used_during);
}

int main(void) {
    qa_run_all();
    test_libc_allocations();
    test_mallinfo2();
    return check_done();
}
