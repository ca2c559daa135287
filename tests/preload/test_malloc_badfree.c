/*
 * tests/preload/test_malloc_badfree.c - every kind of invalid free is caught before it corrupts.
 *
 * quire validates each free: a pointer it never returned (into the stack, a global, an mmap of
 * someone else, an unmapped address, an interior or misaligned address, a slot never handed out)
 * and a block freed twice (small, medium, large, freed first by another thread, through free_sized
 * or realloc) must be reported on stderr, naming the address in hex, followed by abort. So must
 * realloc of an interior pointer, free_sized with a size larger than the block and
 * free_aligned_sized with an alignment the pointer does not have (quire checks both).
 * Each case runs in a forked child whose stderr comes back through a pipe; the child must die of
 * SIGABRT after quire's report "quire: FUNCTION(): WHAT: ADDRESS" (the function that got the
 * pointer, what is wrong with it, the address). A control child doing only valid frees must exit 0
 * and print nothing, so the detection is not a blanket abort. (Freeing a block of glibc's
 * allocator cannot happen under interposition: there is none.)
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "quire/alloc.h"

void free_sized(void *ptr, size_t size);
void free_aligned_sized(void *ptr, size_t alignment, size_t size);

/* Calls through volatile pointers: the compiler must not see (and warn about,
 * or fold) a free of a stack or global address. */
static void (*volatile vfree)(void *) = free;
static void *(*volatile vmalloc)(size_t) = malloc;
static void *(*volatile vrealloc)(void *, size_t) = realloc;
static void (*volatile vfree_sized)(void *, size_t) = free_sized;
static void (*volatile vfree_aligned_sized)(void *, size_t, size_t) = free_aligned_sized;

/* The address a case is about; the child stores it here (shared with the
 * parent) before it frees, so the parent can look for it in the report. */
static volatile uintptr_t *shared_addr;

static void note(const void *p) {
    *shared_addr = (uintptr_t)p;
}

/* ---- the cases: each runs in the child and should never return
 * ---------------------------- */

static void double_free_small(void) {
    char *p = vmalloc(32);
    memset(p, 1, 32);
    note(p);
    vfree(p);
    vfree(p);
}

static void double_free_small_later(void) {
    /* Other frees of the same size in between: the block is no longer at the head
     * of any list. */
    void *p = vmalloc(48), *q = vmalloc(48), *r = vmalloc(48);
    note(p);
    vfree(p);
    vfree(q);
    vfree(r);
    void *s = vmalloc(64);
    vfree(s);
    vfree(p);
}

static void double_free_medium(void) {
    char *p = vmalloc(200 * 1024);
    memset(p, 2, 200 * 1024);
    note(p);
    vfree(p);
    vfree(p);
}

static void double_free_large(void) {
    char *p = vmalloc(4 << 20);
    memset(p, 3, 4 << 20);
    note(p);
    vfree(p);
    vfree(p);
}

static void double_free_sized(void) {
    void *p = vmalloc(100);
    note(p);
    vfree_sized(p, 100);
    vfree_sized(p, 100);
}

static void *free_in_thread(void *p) {
    vfree(p);
    return NULL;
}

static void double_free_cross_thread(void) {
    /* Another thread frees it first (the free goes to the owner's cross-thread
     * list). */
    void *keep = vmalloc(80); /* keeps the slab in use */
    void *p = vmalloc(80);
    note(p);
    pthread_t t;
    if (pthread_create(&t, NULL, free_in_thread, p) != 0) _exit(3);
    pthread_join(t, NULL);
    vfree(p);
    vfree(keep);
}

static void realloc_freed(void) {
    void *p = vmalloc(40);
    note(p);
    vfree(p);
    void *q = vrealloc(p, 4000);
    vfree(q);
}

static void interior_small(void) {
    char *p = vmalloc(64);
    note(p + 16);
    vfree(p + 16);
}

static void interior_large(void) {
    char *p = vmalloc(4 << 20);
    note(p + 8192);
    vfree(p + 8192); /* page aligned, inside the block */
}

static void misaligned_small(void) {
    char *p = vmalloc(64);
    note(p + 1);
    vfree(p + 1);
}

static void misaligned_large(void) {
    char *p = vmalloc(3 << 20);
    note(p + 8);
    vfree(p + 8);
}

static void stack_pointer(void) {
    char buf[64];
    memset(buf, 0, sizeof buf);
    note(buf + 16);
    vfree(buf + 16);
}

static char global_array[256];

static void global_pointer(void) {
    note(global_array + 64);
    vfree(global_array + 64);
}

static void unmapped_address(void) {
    /* Heap-looking (16-byte aligned, in the mmap area), but nothing is mapped
     * there. */
    void *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) _exit(3);
    munmap(m, 1 << 20);
    char *p = (char *)m + 0x12340;
    note(p);
    vfree(p);
}

static void foreign_mmap(void) {
    char *m = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) _exit(3);
    note(m + 4096);
    vfree(m + 4096);
}

static void never_allocated_slot(void) {
    /* A slot-aligned address inside a slab quire owns but never handed out. */
    enum { SZ = 208 };
    char *first = vmalloc(SZ);
    char *second = vmalloc(SZ);
    ptrdiff_t stride = second - first;
    if (stride < 0) stride = -stride;
    if (stride < SZ || stride > 4096) stride = SZ;
    char *p = (first > second ? first : second) + 20 * stride;
    note(p);
    vfree(p);
}

static void realloc_interior(void) {
    char *p = vmalloc(96);
    note(p + 32);
    void *q = vrealloc(p + 32, 500);
    vfree(q);
}

static void free_sized_too_large_small(void) {
    /* free_sized with a size the block cannot have held */
    void *p = vmalloc(100);
    note(p);
    vfree_sized(p, 5000);
}

static void free_sized_too_large_large(void) {
    void *p = vmalloc(3 << 20);
    note(p);
    vfree_sized(p, 9 << 20);
}

static void free_aligned_sized_wrong_alignment(void) {
    /* A 16-byte block at an address that is not 4096-aligned, freed as if it were. */
    void *keep[8];
    char *p = NULL;
    for (int i = 0; i < 8; i++) {
        keep[i] = vmalloc(16);
        if (((uintptr_t)keep[i] & 4095) != 0) p = keep[i];
    }
    note(p);
    vfree_aligned_sized(p, 4096, 16);
}

/* ---- the harness
 * ------------------------------------------------------------------------- */

/* 1 if text contains addr written in hex (with or without 0x, any zero
 * padding). */
static int mentions_address(const char *text, uintptr_t addr) {
    for (const char *s = text; *s; s++) {
        if (!isxdigit((unsigned char)*s)) continue;
        if (s > text && isalnum((unsigned char)s[-1]) &&
            !(s[-1] == 'x' && s - 1 > text && s[-2] == '0'))
            continue;
        uintptr_t v = 0;
        const char *e = s;
        int digits = 0;
        while (isxdigit((unsigned char)*e) && digits < 17) {
            int c = tolower((unsigned char)*e);
            v = v * 16 + (uintptr_t)(c <= '9' ? c - '0' : c - 'a' + 10);
            e++;
            digits++;
        }
        if (v == addr) return 1;
        s = e - 1;
    }
    return 0;
}

/* Case-insensitive substring search. */
static int has_words(const char *text, const char *words) {
    size_t n = strlen(words);
    for (const char *s = text; *s; s++)
        if (strncasecmp(s, words, n) == 0) return 1;
    return 0;
}

struct outcome {
    int status;
    char err[8192];
    uintptr_t addr;
};

static void run_child(void (*fn)(void), struct outcome *o) {
    int fds[2];
    memset(o, 0, sizeof *o);
    if (pipe(fds) != 0) return;
    *shared_addr = 0;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        alarm(20); /* a hang becomes SIGALRM, not a stuck test */
        close(fds[0]);
        dup2(fds[1], 2);
        close(fds[1]);
        fn();
        _exit(0); /* the bad free went unnoticed */
    }
    close(fds[1]);
    size_t got = 0;
    for (;;) {
        char tmp[1024];
        ssize_t r = read(fds[0], tmp, sizeof tmp);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        size_t take = (size_t)r;
        if (got + take > sizeof o->err - 1) take = sizeof o->err - 1 - got;
        memcpy(o->err + got, tmp, take);
        got += take;
    }
    o->err[got] = '\0';
    close(fds[0]);
    waitpid(pid, &o->status, 0);
    o->addr = *shared_addr;
}

/* 1 if text contains one of the '|'-separated phrases. */
static int has_one_of(const char *text, const char *phrases) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", phrases);
    for (char *save = NULL, *w = strtok_r(buf, "|", &save); w; w = strtok_r(NULL, "|", &save))
        if (has_words(text, w)) return 1;
    return 0;
}

/* Runs one bad-free case: the child must die of SIGABRT after quire's report "quire: FUNC():
 * WHY: ADDRESS", where FUNC is the function that got the bad pointer, WHY one of the
 * '|'-separated phrases and ADDRESS the pointer, in hex. */
static void bad_free_case(const char *name, void (*fn)(void), const char *func,
                          const char *phrases) {
    TEST(name);
    struct outcome o;
    run_child(fn, &o);
    int aborted = WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGABRT;
    CHECK(aborted);
    CHECK(o.addr != 0);
    int named = mentions_address(o.err, o.addr);
    CHECK(named);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "quire: %s(): ", func);
    int said = strstr(o.err, prefix) != NULL && has_one_of(o.err, phrases);
    CHECK(said);
    if (!aborted || !named || !said) {
        fprintf(stderr, "  case %s: status 0x%x (%s %d), address %#lx, stderr:\n%s\n", name,
                o.status, WIFSIGNALED(o.status) ? "signal" : "exit",
                WIFSIGNALED(o.status) ? WTERMSIG(o.status) : WEXITSTATUS(o.status),
                (unsigned long)o.addr, o.err);
    }
}

static void *valid_thread(void *arg) {
    void **blocks = arg;
    for (int i = 0; i < 100; i++) vfree(blocks[i]);
    return NULL;
}

/* Valid frees of every kind: no report, no abort. */
static void valid_frees(void) {
    void *blocks[100];
    for (int i = 0; i < 100; i++) blocks[i] = vmalloc((size_t)(i * 53 % 3000) + 1);
    if (quire_owns(blocks[0]) != 1) _exit(7); /* malloc must be quire's */
    pthread_t t;
    if (pthread_create(&t, NULL, valid_thread, blocks) != 0) _exit(3);
    pthread_join(t, NULL);
    for (int i = 0; i < 50; i++) {
        void *p = vmalloc((size_t)i * 1000 + 1);
        p = vrealloc(p, (size_t)i * 20000 + 7);
        vfree(p);
        void *q = NULL;
        if (posix_memalign(&q, (size_t)64 << (i % 12), 100) == 0) vfree(q);
        vfree_sized(vmalloc(77), 77);
    }
    void *big = vmalloc(8 << 20);
    vfree(big);
    vfree(NULL);
    _exit(0);
}

int main(void) {
    void *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    shared_addr = sh;

    TEST("control: valid frees of every kind do not abort and print nothing");
    struct outcome o;
    run_child(valid_frees, &o);
    CHECK(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0);
    CHECK_EQ(strlen(o.err), 0);
    if (o.err[0]) fprintf(stderr, "  control stderr: %s\n", o.err);

    const char *dbl = "double free";
    const char *notq = "pointer not allocated by quire";
    bad_free_case("double free of a small block", double_free_small, "free", dbl);
    bad_free_case("double free of a small block, not at a list head", double_free_small_later,
                  "free", dbl);
    bad_free_case("double free of a medium block", double_free_medium, "free", dbl);
    /* A freed large block is unmapped: quire no longer knows the address at all. */
    bad_free_case("double free of a large block", double_free_large, "free",
                  "double free|not allocated");
    bad_free_case("double free through free_sized", double_free_sized, "free_sized", dbl);
    bad_free_case("double free after another thread freed it", double_free_cross_thread, "free",
                  "double free (already freed by another thread)");
    bad_free_case("realloc of a freed block", realloc_freed, "realloc", dbl);
    bad_free_case("realloc of an interior pointer", realloc_interior, "realloc",
                  "interior pointer");
    bad_free_case("interior pointer of a small block", interior_small, "free", "interior pointer");
    bad_free_case("interior pointer of a large block", interior_large, "free", notq);
    bad_free_case("misaligned pointer into a small block", misaligned_small, "free",
                  "misaligned pointer");
    bad_free_case("misaligned pointer into a large block", misaligned_large, "free", notq);
    bad_free_case("pointer into the stack", stack_pointer, "free", notq);
    bad_free_case("pointer into a global", global_pointer, "free", notq);
    bad_free_case("pointer never returned: unmapped heap-looking address", unmapped_address, "free",
                  notq);
    bad_free_case("pointer never returned: someone else's mmap", foreign_mmap, "free", notq);
    /* A slot past the ones handed out is free in quire's bitmap, like a freed one. (Under
       QUIRE_SECURE slots are handed out in random order: the two blocks' distance is then not
       always the slot size, and the address may fall inside a slot.) */
    bad_free_case("pointer never returned: a slot never handed out", never_allocated_slot, "free",
                  "double free|never-allocated|unused memory|interior pointer");
    bad_free_case("free_sized with a size larger than the small block", free_sized_too_large_small,
                  "free_sized", "size does not match the block");
    bad_free_case("free_sized with a size larger than the large block", free_sized_too_large_large,
                  "free_sized", "size does not match the block");
    bad_free_case("free_aligned_sized with an alignment the pointer lacks",
                  free_aligned_sized_wrong_alignment, "free_aligned_sized",
                  "pointer not aligned as stated");
    return check_done();
}
