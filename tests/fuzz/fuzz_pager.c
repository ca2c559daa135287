/*
 * tests/fuzz/fuzz_pager.c - libFuzzer target: open + read everything + check, on any bytes.
 *
 * The input is written to a memfd and opened through /proc/self/fd/N, read-only, with the page
 * size taken from the file. Whatever the bytes, the pager must return an error code or a
 * consistent handle, never crash, hang or leak. `make fuzz` builds this with
 * clang -fsanitize=fuzzer,address; tests/unit/test_pager_corrupt.c includes this file and feeds
 * it the corpus (tests/fuzz/corpus/) and thousands of mutations with gcc, without libFuzzer.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "quire/pager.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Opens the bytes as a pager file and touches everything; returns open's result. */
static int fuzz_pager_one(const uint8_t *data, size_t size, int *check_rc) {
    int fd = memfd_create("quire-fuzz", MFD_CLOEXEC);
    if (fd < 0) return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    quire_pager *p;
    int rc = quire_pager_open(path, QUIRE_PAGER_RDONLY, 0, &p);
    if (rc == 0) {
        uint32_t ps = quire_pager_page_size(p);
        volatile uint8_t sink = 0;
        uint64_t cur = 0, id;
        int n = 0;
        while (quire_pager_next_page(p, &cur, &id) == 1 && n++ < 100000) {
            const void *d;
            if (quire_pager_get(p, id, &d) == 0) sink ^= ((const uint8_t *)d)[ps - 1];
        }
        cur = 0;
        while (quire_pager_next_protected(p, &cur, &id) == 1) {
            const void *d;
            if (quire_pager_protected_get(p, id, &d) == 0) sink ^= ((const uint8_t *)d)[0];
        }
        cur = 0;
        while (quire_pager_next_subpage(p, &cur, &id) == 1) {
            const void *d;
            size_t sz;
            if (quire_pager_subpage_get(p, id, &d, &sz) == 0) sink ^= ((const uint8_t *)d)[sz - 1];
        }
        struct quire_pager_stat st;
        quire_pager_stat(p, &st);
        (void)sink;
        quire_pager_close(p);
    }
    struct quire_pager_report r;
    memset(&r, 0, sizeof r);
    int c = quire_pager_check(path, &r);
    if (check_rc) *check_rc = c;
    close(fd);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 22)) return 0;
    (void)fuzz_pager_one(data, size, NULL);
    return 0;
}
