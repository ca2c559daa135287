/*
 * tests/unit/test_pages_unsafe.c - the opt-in unsafe escape hatch of quire/pages.h: raw
 * pointers, adopting a foreign mapping, and an RWX state that a safe transition ends.
 */
#define QUIRE_UNSAFE
#include "check.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "quire/pages.h"

/* The permission string of the mapping containing addr. */
static void perms_of(const void *addr, char out[5]) {
    FILE *f = fopen("/proc/self/maps", "r");
    out[0] = 0;
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && (uintptr_t)addr >= lo &&
            (uintptr_t)addr < hi) {
            memcpy(out, perms, 4);
            out[4] = 0;
            break;
        }
    }
    fclose(f);
}

int main(void) {
    size_t ps = quire_page_size();
    char perm[5];
    quire_pages_rw rw;
    quire_pages_rx rx;
    quire_pages_ro ro;

    TEST("raw pointer of a read-only region");
    CHECK_OK(quire_pages_alloc_rw(ps, 0, &rw));
    ((char *)quire_pages_rw_ptr(rw))[0] = 'q';
    CHECK_OK(quire_pages_rw_to_ro(&rw, &ro));
    char *raw = quire_pages_unsafe_raw(&ro);
    CHECK(raw == quire_pages_ro_ptr(ro) && raw[0] == 'q');
    CHECK_OK(quire_pages_free(&ro));

    TEST("rwx state, ended by a safe transition");
    CHECK_OK(quire_pages_alloc_rw(ps, 0, &rw));
    int rc = quire_pages_unsafe_make_rwx(&rw);
    CHECK(rc == 0 || rc == QUIRE_EPERM || rc == QUIRE_EACCES);
    if (rc == 0) {
        perms_of(quire_pages_rw_ptr(rw), perm);
        CHECK(strncmp(perm, "rwx", 3) == 0);
    }
    void *addr = quire_pages_rw_ptr(rw);
    CHECK_OK(quire_pages_rw_to_rx(&rw, &rx));
    perms_of(addr, perm);
    CHECK(strncmp(perm, "r-x", 3) == 0);
    CHECK_OK(quire_pages_free(&rx));

    TEST("adopt a foreign mapping");
    void *m = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    CHECK_EQ(quire_pages_unsafe_adopt_rw((char *)m + 1, ps, &rw), QUIRE_EINVAL);
    CHECK_EQ(quire_pages_unsafe_adopt_rw(m, ps + 1, &rw), QUIRE_EINVAL);
    CHECK_OK(quire_pages_unsafe_adopt_rw(m, 2 * ps, &rw));
    CHECK(quire_pages_rw_ptr(rw) == m && quire_pages_size(&rw) == 2 * ps);
    CHECK_OK(quire_pages_free(&rw));
    perms_of(m, perm);
    CHECK(perm[0] == 0); /* quire unmapped it: it owned the mapping */
    return check_done();
}
