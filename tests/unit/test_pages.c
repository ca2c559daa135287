/*
 * tests/unit/test_pages.c - typed page regions: creation, transitions and their consumption,
 * faults on forbidden access (checked in forked children), guards, decommit, resize, hints,
 * locking, sealing, and W^X over the whole process (/proc/self/maps).
 */
#include "check.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pages/internal.h"
#include "quire/pages.h"

/* Runs fn(arg) in a child; returns the signal that killed it, or 0 if it exited normally. */
static int child_signal(void (*fn)(void *), void *arg) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL); /* sanitizers install their own handlers */
        signal(SIGBUS, SIG_DFL);
        fn(arg);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static void write_byte(void *p) {
    *(volatile unsigned char *)p = 0x5a;
}
static void read_byte(void *p) {
    (void)*(volatile unsigned char *)p;
}

/* 1 if no mapping of this process is writable and executable at once. */
static int no_wx_mapping(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return 0;
    char line[512];
    int ok = 1;
    while (fgets(line, sizeof line, f)) {
        char perms[8] = {0};
        if (sscanf(line, "%*[0-9a-f]-%*[0-9a-f] %4s", perms) == 1 && perms[1] == 'w' &&
            perms[2] == 'x') {
            fprintf(stderr, "rwx mapping: %s", line);
            ok = 0;
        }
    }
    fclose(f);
    return ok;
}

/* The permission string of the mapping containing addr ("" if none). */
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

static int all_bytes(const void *p, size_t n, unsigned char v) {
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != v) return 0;
    return 1;
}

static void test_sizes(void) {
    TEST("sizes");
    size_t ps = quire_page_size();
    CHECK_EQ(ps, (size_t)sysconf(_SC_PAGESIZE));
    CHECK((ps & (ps - 1)) == 0);
    CHECK_EQ(quire_page_round(1), ps);
    CHECK_EQ(quire_page_round(ps), ps);
    CHECK_EQ(quire_page_round(ps + 1), 2 * ps);
    CHECK_EQ(quire_page_round(0), 0);
    CHECK_EQ(quire_page_round(SIZE_MAX), 0);
    size_t hs = quire_huge_page_size();
    CHECK(hs == 0 || (hs >= ps && (hs & (hs - 1)) == 0));
}

static void test_alloc_errors(void) {
    TEST("alloc errors");
    quire_pages_rw rw;
    CHECK_EQ(quire_pages_alloc_rw(0, 0, &rw), QUIRE_EINVAL);
    CHECK_EQ(quire_pages_alloc_rw(10, 0x1000, &rw), QUIRE_EINVAL);
    CHECK_EQ(quire_pages_alloc_rw_(10, 0, NULL), QUIRE_EINVAL); /* NULL only past the type check */
    CHECK_EQ(quire_pages_alloc_rw(SIZE_MAX, 0, &rw), QUIRE_EOVERFLOW);
    CHECK_EQ(quire_pages_alloc_rw(SIZE_MAX - quire_page_size(), QUIRE_PAGES_GUARD, &rw),
             QUIRE_EOVERFLOW);
    /* 2^62 bytes: no machine has that much address space. */
    CHECK_EQ(quire_pages_alloc_rw((size_t)1 << 62, 0, &rw), QUIRE_ENOMEM);
    CHECK(strcmp(quire_strerror(QUIRE_ENOMEM), "unknown quire error") != 0);
}

static void test_rw_basics(void) {
    TEST("rw basics");
    size_t ps = quire_page_size();
    quire_pages_rw rw;
    CHECK_OK(quire_pages_alloc_rw(100, 0, &rw));
    CHECK_EQ(quire_pages_size(&rw), ps);
    unsigned char *p = quire_pages_rw_ptr(rw);
    CHECK(p != NULL && ((uintptr_t)p & (ps - 1)) == 0);
    CHECK(all_bytes(p, ps, 0));
    memset(p, 0xab, ps);
    CHECK(all_bytes(p, ps, 0xab));
    char perm[5];
    perms_of(p, perm);
    CHECK(strncmp(perm, "rw-", 3) == 0);
    CHECK_OK(quire_pages_free(&rw));
    CHECK(quire_pages_rw_ptr(rw) == NULL);
    CHECK_EQ(quire_pages_free(&rw), QUIRE_ECONSUMED);
    /* The memory is gone: touching it now faults. */
    CHECK_EQ(child_signal(read_byte, p), SIGSEGV);
}

static void test_rw_to_ro(void) {
    TEST("rw -> ro -> rw");
    size_t ps = quire_page_size();
    quire_pages_rw rw;
    quire_pages_ro ro;
    CHECK_OK(quire_pages_alloc_rw(3 * ps, 0, &rw));
    unsigned char *w = quire_pages_rw_ptr(rw);
    memset(w, 7, 3 * ps);
    CHECK_OK(quire_pages_rw_to_ro(&rw, &ro));
    /* The old handle is consumed. */
    CHECK(quire_pages_rw_ptr(rw) == NULL);
    CHECK_EQ(quire_pages_size(&rw), 0);
    quire_pages_ro ro2;
    CHECK_EQ(quire_pages_rw_to_ro(&rw, &ro2), QUIRE_ECONSUMED);
    CHECK_EQ(quire_pages_free(&rw), QUIRE_ECONSUMED);
    const unsigned char *r = quire_pages_ro_ptr(ro);
    CHECK(r == w);
    CHECK(all_bytes(r, 3 * ps, 7));
    char perm[5];
    perms_of(r, perm);
    CHECK(strncmp(perm, "r--", 3) == 0);
    /* Writing faults, reading does not. */
    CHECK_EQ(child_signal(write_byte, (void *)(uintptr_t)r), SIGSEGV);
    CHECK_EQ(child_signal(write_byte, (void *)(uintptr_t)(r + 3 * ps - 1)), SIGSEGV);
    CHECK_EQ(child_signal(read_byte, (void *)(uintptr_t)r), 0);
    CHECK_OK(quire_pages_ro_to_rw(&ro, &rw));
    CHECK(quire_pages_ro_ptr(ro) == NULL);
    w = quire_pages_rw_ptr(rw);
    w[0] = 9;
    CHECK_EQ(w[0], 9);
    CHECK_EQ(child_signal(write_byte, w), 0);
    CHECK_OK(quire_pages_free(&rw));
}

static void test_none(void) {
    TEST("none");
    size_t ps = quire_page_size();
    quire_pages_none none;
    quire_pages_rw rw;
    quire_pages_ro ro;
    CHECK_OK(quire_pages_alloc_none(4 * ps, 0, &none));
    CHECK_EQ(quire_pages_size(&none), 4 * ps);
    CHECK_EQ(quire_pages_populate(&none), QUIRE_EINVAL);
    CHECK_OK(quire_pages_none_to_rw(&none, &rw));
    unsigned char *p = quire_pages_rw_ptr(rw);
    CHECK(all_bytes(p, 4 * ps, 0));
    p[5] = 5;
    CHECK_OK(quire_pages_rw_to_none(&rw, &none));
    CHECK_EQ(child_signal(read_byte, p), SIGSEGV);
    /* Parked memory keeps its contents. */
    CHECK_OK(quire_pages_none_to_ro(&none, &ro));
    CHECK_EQ(((const unsigned char *)quire_pages_ro_ptr(ro))[5], 5);
    CHECK_OK(quire_pages_ro_to_none(&ro, &none));
    CHECK_OK(quire_pages_free(&none));
}

#if defined(__x86_64__)
static const unsigned char ret42[] = {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3}; /* mov eax,42; ret */
static const unsigned char ret7[] = {0xb8, 0x07, 0x00, 0x00, 0x00, 0xc3};  /* mov eax,7; ret */
#endif

static void test_rx(void) {
    TEST("rw -> rx (W^X)");
    size_t ps = quire_page_size();
    quire_pages_rw rw;
    quire_pages_rx rx;
    quire_pages_ro ro;
    quire_pages_none none;
    CHECK_OK(quire_pages_alloc_rw(ps, 0, &rw));
    unsigned char *w = quire_pages_rw_ptr(rw);
#if defined(__x86_64__)
    memcpy(w, ret42, sizeof ret42);
#endif
    CHECK_OK(quire_pages_rw_to_rx(&rw, &rx));
    CHECK(quire_pages_rw_ptr(rw) == NULL);
    char perm[5];
    perms_of(quire_pages_rx_ptr(rx), perm);
    CHECK(strncmp(perm, "r-x", 3) == 0);
    CHECK(no_wx_mapping());
    CHECK(quire_pages_rx_fn(rx, ps) == NULL);
#if defined(__x86_64__)
    int (*f)(void) = (int (*)(void))quire_pages_rx_fn(rx, 0);
    CHECK(f != NULL && f() == 42);
#endif
    /* Writing the code faults. */
    CHECK_EQ(child_signal(write_byte, (void *)(uintptr_t)quire_pages_rx_ptr(rx)), SIGSEGV);
    /* Patch: rx -> rw -> rx, never both at once. */
    CHECK_OK(quire_pages_rx_to_rw(&rx, &rw));
    CHECK(quire_pages_rx_fn(rx, 0) == NULL);
    CHECK(no_wx_mapping());
#if defined(__x86_64__)
    memcpy(quire_pages_rw_ptr(rw), ret7, sizeof ret7);
#endif
    CHECK_OK(quire_pages_rw_to_rx(&rw, &rx));
#if defined(__x86_64__)
    f = (int (*)(void))quire_pages_rx_fn(rx, 0);
    CHECK(f() == 7);
#endif
    CHECK_OK(quire_pages_rx_to_ro(&rx, &ro));
    CHECK_OK(quire_pages_ro_to_rx(&ro, &rx));
    CHECK_OK(quire_pages_rx_to_none(&rx, &none));
    CHECK_OK(quire_pages_none_to_rx(&none, &rx));
    CHECK(no_wx_mapping());
    CHECK_OK(quire_pages_free(&rx));
}

static void test_guards(void) {
    TEST("guards");
    size_t ps = quire_page_size();
    quire_pages_rw rw;
    CHECK_OK(quire_pages_alloc_rw(2 * ps, QUIRE_PAGES_GUARD, &rw));
    CHECK(quire_pages_has_guards(&rw));
    unsigned char *p = quire_pages_rw_ptr(rw);
    if (q_pages_force_prot_guards) {
        char gp[5];
        perms_of(p - 1, gp);
        CHECK(strncmp(gp, "---", 3) == 0); /* a real PROT_NONE page */
    }
    memset(p, 1, 2 * ps); /* the whole usable region is accessible */
    CHECK_EQ(child_signal(write_byte, p - 1), SIGSEGV);
    CHECK_EQ(child_signal(read_byte, p - ps), SIGSEGV);
    CHECK_EQ(child_signal(read_byte, p + 2 * ps), SIGSEGV);
    CHECK_EQ(child_signal(write_byte, p + 3 * ps - 1), SIGSEGV);
    CHECK_EQ(child_signal(write_byte, p + 2 * ps - 1), 0);

    /* Guards survive resizing: grow (in place or moving) and shrink. */
    CHECK_OK(quire_pages_rw_resize(&rw, 5 * ps, QUIRE_RESIZE_MAYMOVE));
    p = quire_pages_rw_ptr(rw);
    CHECK_EQ(quire_pages_size(&rw), 5 * ps);
    CHECK(all_bytes(p, 2 * ps, 1));
    CHECK(all_bytes(p + 2 * ps, 3 * ps, 0));
    CHECK_EQ(child_signal(read_byte, p - 1), SIGSEGV);
    CHECK_EQ(child_signal(read_byte, p + 5 * ps), SIGSEGV);
    CHECK_EQ(child_signal(write_byte, p + 5 * ps - 1), 0);
    CHECK_OK(quire_pages_rw_resize(&rw, ps, 0));
    p = quire_pages_rw_ptr(rw);
    CHECK(all_bytes(p, ps, 1));
    CHECK_EQ(child_signal(read_byte, p + ps), SIGSEGV);
    CHECK_EQ(child_signal(read_byte, p - 1), SIGSEGV);
    CHECK_OK(quire_pages_free(&rw));

    /* Guards stay when the permission changes. */
    quire_pages_ro ro;
    CHECK_OK(quire_pages_alloc_rw(ps, QUIRE_PAGES_GUARD, &rw));
    p = quire_pages_rw_ptr(rw);
    CHECK_OK(quire_pages_rw_to_ro(&rw, &ro));
    CHECK_OK(quire_pages_ro_to_rw(&ro, &rw));
    CHECK_EQ(child_signal(read_byte, p + ps), SIGSEGV);
    CHECK_EQ(child_signal(read_byte, p - 1), SIGSEGV);
    CHECK_OK(quire_pages_free(&rw));
}

static void test_decommit(void) {
    TEST("decommit");
    size_t ps = quire_page_size();
    quire_pages_rw rw;
    CHECK_OK(quire_pages_alloc_rw(8 * ps, 0, &rw));
    unsigned char *p = quire_pages_rw_ptr(rw);
    memset(p, 0xcd, 8 * ps);
    CHECK_OK(quire_pages_rw_decommit(&rw, 2 * ps, 3 * ps));
    /* The pages were really given back: mincore reports them non-resident (before any read
     * maps the zero page back in). */
    unsigned char vec[8];
    CHECK_EQ(mincore(p, 8 * ps, vec), 0);
    CHECK((vec[2] & 1) == 0 && (vec[3] & 1) == 0 && (vec[4] & 1) == 0);
    CHECK((vec[0] & 1) == 1 && (vec[7] & 1) == 1);
    CHECK(all_bytes(p, 2 * ps, 0xcd));
    CHECK(all_bytes(p + 2 * ps, 3 * ps, 0));
    CHECK(all_bytes(p + 5 * ps, 3 * ps, 0xcd));
    CHECK_OK(quire_pages_rw_decommit(&rw, 0, 0)); /* whole region */
    CHECK(all_bytes(p, 8 * ps, 0));
    CHECK_EQ(quire_pages_rw_decommit(&rw, 1, ps), QUIRE_EINVAL);
    CHECK_EQ(quire_pages_rw_decommit(&rw, 8 * ps, ps), QUIRE_ERANGE);
    CHECK_EQ(quire_pages_rw_decommit(&rw, 9 * ps, 0), QUIRE_ERANGE);
    CHECK_OK(quire_pages_free(&rw));
    CHECK_EQ(quire_pages_rw_decommit(&rw, 0, 0), QUIRE_ECONSUMED);
}

static void test_resize(void) {
    TEST("resize");
    size_t ps = quire_page_size();
    quire_pages_rw rw;
    CHECK_OK(quire_pages_alloc_rw(ps, 0, &rw));
    memset(quire_pages_rw_ptr(rw), 3, ps);
    CHECK_OK(quire_pages_rw_resize(&rw, 64 * ps, QUIRE_RESIZE_MAYMOVE));
    unsigned char *p = quire_pages_rw_ptr(rw);
    CHECK_EQ(quire_pages_size(&rw), 64 * ps);
    CHECK(all_bytes(p, ps, 3) && all_bytes(p + ps, 63 * ps, 0));
    CHECK_OK(quire_pages_rw_resize(&rw, 2 * ps + 1, 0)); /* shrink in place, rounded */
    CHECK(quire_pages_rw_ptr(rw) == p);
    CHECK_EQ(quire_pages_size(&rw), 3 * ps);
    CHECK_EQ(quire_pages_rw_resize(&rw, 0, 0), QUIRE_EINVAL);
    CHECK_EQ(quire_pages_rw_resize(&rw, SIZE_MAX, QUIRE_RESIZE_MAYMOVE), QUIRE_EOVERFLOW);
    /* In-place growth fails cleanly when the next page is taken. */
    quire_pages_rw blocker;
    void *next = p + 3 * ps;
    if (mmap(next, ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) ==
        next) {
        CHECK_EQ(quire_pages_rw_resize(&rw, 8 * ps, QUIRE_RESIZE_INPLACE), QUIRE_ENOMEM);
        CHECK(quire_pages_rw_ptr(rw) == p && quire_pages_size(&rw) == 3 * ps);
        CHECK_OK(quire_pages_rw_resize(&rw, 8 * ps, QUIRE_RESIZE_MAYMOVE));
        CHECK(quire_pages_rw_ptr(rw) != p);
        CHECK(all_bytes(quire_pages_rw_ptr(rw), ps, 3));
        munmap(next, ps);
    }
    (void)blocker;
    CHECK_OK(quire_pages_free(&rw));
}

static void test_hints(void) {
    TEST("hints");
    size_t ps = quire_page_size();
    quire_pages_rw rw;
    CHECK_OK(quire_pages_alloc_rw(16 * ps, 0, &rw));
    CHECK_OK(quire_pages_advise(&rw, QUIRE_ADVICE_SEQUENTIAL));
    CHECK_OK(quire_pages_advise(&rw, QUIRE_ADVICE_RANDOM));
    CHECK_OK(quire_pages_advise(&rw, QUIRE_ADVICE_WILLNEED));
    CHECK_OK(quire_pages_advise(&rw, QUIRE_ADVICE_DONTDUMP));
    CHECK_OK(quire_pages_advise(&rw, QUIRE_ADVICE_DODUMP));
    CHECK_OK(quire_pages_advise(&rw, QUIRE_ADVICE_NORMAL));
    int hp = quire_pages_advise(&rw, QUIRE_ADVICE_HUGEPAGE);
    CHECK(hp == 0 || hp == QUIRE_ENOTSUP);
    CHECK_OK(quire_pages_advise_range(&rw, ps, 2 * ps, QUIRE_ADVICE_RANDOM));
    CHECK_EQ(quire_pages_advise_range(&rw, 1, ps, QUIRE_ADVICE_RANDOM), QUIRE_EINVAL);
    CHECK_EQ(quire_pages_advise_range(&rw, 0, 32 * ps, QUIRE_ADVICE_RANDOM), QUIRE_ERANGE);
    CHECK_EQ(quire_pages_advise(&rw, 99), QUIRE_EINVAL);
    /* populate makes every page resident. */
    unsigned char vec[16];
    CHECK_OK(quire_pages_populate(&rw));
    CHECK_EQ(mincore(quire_pages_rw_ptr(rw), 16 * ps, vec), 0);
    int resident = 0;
    for (int i = 0; i < 16; i++) resident += vec[i] & 1;
    CHECK_EQ(resident, 16);
    CHECK_OK(quire_pages_free(&rw));

    CHECK_OK(quire_pages_alloc_rw(8 * ps, QUIRE_PAGES_POPULATE, &rw));
    CHECK_EQ(mincore(quire_pages_rw_ptr(rw), 8 * ps, vec), 0);
    resident = 0;
    for (int i = 0; i < 8; i++) resident += vec[i] & 1;
    CHECK_EQ(resident, 8);
    CHECK_OK(quire_pages_free(&rw));

    size_t hs = quire_huge_page_size();
    if (hs) {
        CHECK_OK(quire_pages_alloc_rw(1, QUIRE_PAGES_HUGE, &rw));
        CHECK_EQ(quire_pages_size(&rw), hs);
        CHECK(((uintptr_t)quire_pages_rw_ptr(rw) & (hs - 1)) == 0);
        memset(quire_pages_rw_ptr(rw), 1, hs);
        CHECK_OK(quire_pages_free(&rw));
    }
}

static void test_lock(void) {
    TEST("lock");
    size_t ps = quire_page_size();
    quire_pages_rw rw;
    quire_pages_ro ro;
    CHECK_OK(quire_pages_alloc_rw(4 * ps, 0, &rw));
    int rc = quire_pages_lock(&rw);
    CHECK(rc == 0 || rc == QUIRE_ENOMEM || rc == QUIRE_EPERM); /* RLIMIT_MEMLOCK may be tiny */
    if (rc == 0) {
        unsigned char vec[4];
        CHECK_EQ(mincore(quire_pages_rw_ptr(rw), 4 * ps, vec), 0);
#if !defined(__SANITIZE_ADDRESS__)                           /* ASan replaces mlock with a no-op */
        CHECK((vec[0] & vec[1] & vec[2] & vec[3] & 1) == 1); /* mlock faults everything in */
#endif
        CHECK_OK(quire_pages_rw_to_ro(&rw, &ro));
        CHECK_OK(quire_pages_unlock(&ro));
        CHECK_OK(quire_pages_free(&ro));
    } else {
        CHECK_OK(quire_pages_free(&rw));
    }
}

static void test_seal(void) {
    TEST("seal");
    size_t ps = quire_page_size();
    quire_pages_rw rw;
    quire_pages_ro ro;
    CHECK_OK(quire_pages_alloc_rw(2 * ps, QUIRE_PAGES_GUARD, &rw));
    memset(quire_pages_rw_ptr(rw), 4, 2 * ps);
    CHECK_OK(quire_pages_rw_to_ro(&rw, &ro));
    int rc = quire_pages_seal(&ro);
    if (rc == QUIRE_ENOTSUP) {
        /* Kernel before 6.10: the error must be the clear ENOTSUP, nothing changed. */
        CHECK(!quire_pages_is_sealed(&ro));
        CHECK_OK(quire_pages_free(&ro));
        return;
    }
    CHECK_OK(rc);
    CHECK(quire_pages_is_sealed(&ro));
    void *p = (void *)(uintptr_t)quire_pages_ro_ptr(ro);
    /* The kernel itself now refuses to change the mapping. */
    CHECK(mprotect(p, ps, PROT_READ | PROT_WRITE) != 0 && errno == EPERM);
    CHECK(munmap(p, ps) != 0 && errno == EPERM);
    CHECK_EQ(child_signal(write_byte, p), SIGSEGV);
    CHECK_EQ(quire_pages_ro_to_rw(&ro, &rw), QUIRE_ESEALED);
    CHECK(quire_pages_ro_ptr(ro) == p); /* a refused transition keeps the handle */
    CHECK_EQ(quire_pages_seal(&ro), QUIRE_ESEALED);
    CHECK_EQ(quire_pages_free(&ro), QUIRE_ESEALED);
    CHECK(all_bytes(p, 2 * ps, 4));
}

int main(void) {
    test_sizes();
    test_alloc_errors();
    test_rw_basics();
    test_rw_to_ro();
    test_none();
    test_rx();
    test_guards();
    q_pages_force_prot_guards = 1; /* the same with PROT_NONE guard pages */
    test_guards();
    q_pages_force_prot_guards = 0;
    test_decommit();
    test_resize();
    test_hints();
    test_lock();
    test_seal();
    TEST("W^X over the process");
    CHECK(no_wx_mapping());
    return check_done();
}
