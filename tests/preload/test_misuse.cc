/*
 * tests/preload/test_misuse.cc - the heap-misuse suite: which misuses quire detects, in the
 * default mode and under QUIRE_SECURE=1.
 *
 * Each kind of misuse is a small case that runs in a child process of its own (this program,
 * re-executed with --case NAME, so the mode is chosen at start-up as a user would: with
 * QUIRE_SECURE in the environment). The child tells the parent, on file descriptor 3, where it
 * is: 'a' just before an access of the program that may fault (a guard page, an inaccessible
 * zero-size block), 'q' just before a call into quire that should detect the misuse, 'd' when
 * it got to the end. The parent classifies what happened:
 *   reported  killed by SIGABRT after printing quire's message ("quire: ...")
 *   fault     killed by SIGSEGV/SIGBUS during the program's own access (after 'a')
 *   missed    exited normally: the misuse went unnoticed
 *   CRASH     killed by a signal inside quire (after 'q'), or anything else: always a failure
 * and compares with the expectation of the case for that mode: detected (reported or fault),
 * missed, or either (where the outcome depends on what the memory next to a block happens to
 * be; the case says why). A reported case must also name the misuse (a word of the message).
 * The table kind x mode is printed, then the number of kinds each mode detects.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <new>

#include "check.h"

/* ---------------------------------------------------------------------------------------------
 * Child side
 * ------------------------------------------------------------------------------------------- */

static void mark(char c) {
    if (write(3, &c, 1) != 1) _exit(99);
}

/* Hides a pointer's origin from the compiler (no folding, no misuse warnings). */
static void *launder(void *p) {
    __asm__ volatile("" : "+r"(p));
    return p;
}

static void *(*volatile vmalloc)(size_t) = malloc;
static void (*volatile vfree)(void *) = free;
static void *(*volatile vmemcpy)(void *, const void *, size_t) = memcpy;
static void *(*volatile vmemset)(void *, int, size_t) = memset;

static char g_global[64] __attribute__((aligned(16)));
static char g_target[64] __attribute__((aligned(16))); /* what a hijacked free list would give */
static char g_src[(1 << 20) + 64];                     /* bytes an overflow copies */

enum { MIB = 1 << 20 };

/* Double frees ------------------------------------------------------------------------------ */

static void df_small(void) {
    void *p = vmalloc(64);
    vfree(p);
    mark('q');
    vfree(p);
}

static void df_small_delayed(void) {
    void *p = vmalloc(64);
    vfree(p);
    for (int i = 0; i < 100; i++) vfree(vmalloc(200));
    mark('q');
    vfree(p);
}

static void df_small_interleaved(void) {
    void *p = vmalloc(48), *q = vmalloc(48), *r = vmalloc(48);
    vfree(p);
    vfree(q);
    mark('q');
    vfree(p);
    vfree(r);
}

/* The freed slot is handed out again, then the stale pointer is freed: in the default mode
   that frees the new owner's block (undetectable); the quarantine keeps the slot out of reach
   while nothing else is freed, so the second free finds it still freed. */
static void df_small_after_reuse(void) {
    void *p = vmalloc(64);
    vfree(p);
    for (int i = 0; i < 20000; i++)
        if (vmalloc(64) == p) break;
    mark('q');
    vfree(p);
}

static void df_medium(void) {
    void *p = vmalloc(100000);
    vfree(p);
    mark('q');
    vfree(p);
}

static void df_large(void) {
    void *p = vmalloc(MIB);
    vfree(p);
    mark('q');
    vfree(p);
}

static void df_large_after_reuse(void) {
    void *p = vmalloc(MIB);
    vfree(p);
    for (int i = 0; i < 8; i++)
        if (vmalloc(MIB) == p) break;
    mark('q');
    vfree(p);
}

static void *free_it(void *p) {
    vfree(p);
    return NULL;
}

static void df_other_thread(void) {
    void *p = vmalloc(64);
    pthread_t t;
    pthread_create(&t, NULL, free_it, p);
    pthread_join(t, NULL);
    mark('q');
    vfree(p);
}

/* Invalid frees ----------------------------------------------------------------------------- */

static void if_stack(void) {
    char buf[64];
    mark('q');
    vfree(launder(buf));
}

static void if_global(void) {
    mark('q');
    vfree(launder(g_global));
}

static void if_interior(void) {
    char *p = (char *)vmalloc(64);
    mark('q');
    vfree(p + 16);
}

static void if_misaligned(void) {
    char *p = (char *)vmalloc(64);
    mark('q');
    vfree(p + 1);
}

static void if_mmap(void) {
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mark('q');
    vfree(p);
}

/* Overflows and underflows: a block (after a spacer of its size, so it is not the first of
   its slab in the default mode's address order), bytes written right after its end or right
   before its start, directly or by memcpy, then free. */

static void overrun(size_t size, size_t dist, int under, int by_memcpy) {
    vmalloc(size); /* spacer */
    char *p = (char *)vmalloc(size);
    char *dst = under ? p - dist : p + size;
    mark('a');
    /* One byte: a NUL, as the classic off-by-one (a string's terminator) writes. A canary
       byte equal to the one written cannot show, so a random byte would be missed 1 time in
       256; quire's canary and sentinel bytes are never zero. */
    char byte = dist == 1 ? 0 : 'A';
    if (by_memcpy) {
        vmemcpy(dst, dist == 1 ? "" : g_src, dist);
    } else {
        for (size_t i = 0; i < dist; i++) {
            size_t k = under ? dist - 1 - i : i; /* in the direction of the run */
            ((volatile char *)dst)[k] = byte;
        }
    }
    mark('q');
    vfree(p);
}

#define OVERRUN(name, size, dist, under, mc)                                                       \
    static void name(void) {                                                                       \
        overrun(size, dist, under, mc);                                                            \
    }
OVERRUN(ov_s1w, 64, 1, 0, 0)
OVERRUN(ov_s32w, 64, 32, 0, 0)
OVERRUN(ov_s1mw, 64, MIB, 0, 0)
OVERRUN(ov_s1m, 64, 1, 0, 1)
OVERRUN(ov_s32m, 64, 32, 0, 1)
OVERRUN(ov_s1mm, 64, MIB, 0, 1)
OVERRUN(un_s1w, 64, 1, 1, 0)
OVERRUN(un_s32w, 64, 32, 1, 0)
OVERRUN(un_s1mw, 64, MIB, 1, 0)
OVERRUN(un_s1m, 64, 1, 1, 1)
OVERRUN(un_s32m, 64, 32, 1, 1)
OVERRUN(un_s1mm, 64, MIB, 1, 1)
OVERRUN(ov_m1w, 40000, 1, 0, 0)
OVERRUN(ov_m32w, 40000, 32, 0, 0)
OVERRUN(ov_m1mw, 40000, MIB, 0, 0)
OVERRUN(ov_m1m, 40000, 1, 0, 1)
OVERRUN(ov_m32m, 40000, 32, 0, 1)
OVERRUN(ov_m1mm, 40000, MIB, 0, 1)
OVERRUN(un_m1w, 40000, 1, 1, 0)
OVERRUN(un_m32w, 40000, 32, 1, 0)
OVERRUN(un_m1mw, 40000, MIB, 1, 0)
OVERRUN(un_m1m, 40000, 1, 1, 1)
OVERRUN(un_m32m, 40000, 32, 1, 1)
OVERRUN(un_m1mm, 40000, MIB, 1, 1)
OVERRUN(ov_l1w, MIB, 1, 0, 0)
OVERRUN(ov_l32w, MIB, 32, 0, 0)
OVERRUN(ov_l1mw, MIB, MIB, 0, 0)
OVERRUN(ov_l1m, MIB, 1, 0, 1)
OVERRUN(ov_l32m, MIB, 32, 0, 1)
OVERRUN(ov_l1mm, MIB, MIB, 0, 1)
OVERRUN(un_l1w, MIB, 1, 1, 0)
OVERRUN(un_l32w, MIB, 32, 1, 0)
OVERRUN(un_l1mw, MIB, MIB, 1, 0)
OVERRUN(un_l1m, MIB, 1, 1, 1)
OVERRUN(un_l32m, MIB, 32, 1, 1)
OVERRUN(un_l1mm, MIB, MIB, 1, 1)

/* Zero-size blocks -------------------------------------------------------------------------- */

static void z_read(void) {
    volatile char *p = (volatile char *)vmalloc(0);
    mark('a');
    (void)p[0];
    mark('q');
    vfree((void *)p);
}

static void z_write(void) {
    volatile char *p = (volatile char *)vmalloc(0);
    mark('a');
    p[0] = 1;
    mark('q');
    vfree((void *)p);
}

static void z_read_freed(void) {
    volatile char *p = (volatile char *)vmalloc(0);
    vfree((void *)p);
    mark('a');
    (void)p[0];
}

static void z_write_freed(void) {
    volatile char *p = (volatile char *)vmalloc(0);
    vfree((void *)p);
    mark('a');
    p[0] = 1;
}

/* Use after free ---------------------------------------------------------------------------- */

/* Frees and allocates blocks of the same size until a freed slot must have come back. */
static void churn(size_t size) {
    for (int i = 0; i < 5000; i++) vfree(vmalloc(size));
}

static void uaf_write(void) {
    char *p = (char *)vmalloc(64);
    vfree(p);
    mark('a');
    ((volatile char *)p)[20] = 'x';
    mark('q');
    churn(64);
}

/* Writes into a freed 40 KB block, between the marks. */
static void write_after_free_big(void) {
    char *p = (char *)vmalloc(40000);
    vfree(p);
    mark('a');
    ((volatile char *)p)[20000] = 'x';
    mark('q');
}

/* A big block's freed pages are dropped rather than zeroed (secure.c): a write into one maps
   it again, which the next allocation of the slot notices. */
static void uaf_write_big(void) {
    write_after_free_big();
    for (int i = 0; i < 2000; i++) vfree(vmalloc(40000));
}

/* The same write, then the slab empties before any malloc could take the slot back: trimming
   releases the quarantine and the empty slab (the process's only 40 KB block), whose pages would
   take the write with them unseen; the release checks them (secure.c, q_secure_slab_check). */
static void uaf_write_big_release(void) {
    write_after_free_big();
    malloc_trim(0);
}

static void uaf_write_link(void) {
    char *p = (char *)vmalloc(64);
    vfree(p);
    mark('a');
    ((volatile uint64_t *)p)[0] = 0x4141414141414141ull;
    mark('q');
    churn(64);
}

/* The classic hijack: a freed block's first word aimed at a chosen address. */
static void freelist_hijack(void) {
    char *p = (char *)vmalloc(64);
    vfree(p);
    mark('a');
    *(void *volatile *)p = g_target;
    mark('q');
    for (int i = 0; i < 5000; i++) {
        void *q = vmalloc(64);
        if (q == g_target) _exit(42); /* malloc returned the attacker's address */
        vfree(q);
    }
}

/* C++ --------------------------------------------------------------------------------------- */

struct counted {
    int v;
    ~counted();
};
__attribute__((noinline)) counted::~counted() {
    ((volatile int &)v)++;
}

static void cxx_newarr_delete(void) {
    char *p = new char[10];
    char *q = (char *)launder(p);
    mark('q');
    delete q;
}

static void cxx_new_deletearr(void) {
    char *p = new char;
    char *q = (char *)launder(p);
    mark('q');
    delete[] q;
}

static void cxx_newarr_delete_dtor(void) {
    counted *p = new counted[4];
    counted *q = (counted *)launder(p);
    mark('q');
    delete q;
}

static void cxx_newarr_delete_large(void) {
    char *p = new char[MIB];
    char *q = (char *)launder(p);
    mark('q');
    delete q;
}

static void cxx_sized_other(void) {
    void *p = ::operator new(64);
    mark('q');
    ::operator delete(launder(p), 200);
}

static void cxx_sized_same(void) {
    void *p = ::operator new(64);
    mark('q');
    ::operator delete(launder(p), 60);
}

static void cxx_malloc_delete(void) {
    char *p = (char *)vmalloc(64);
    mark('q');
    delete (char *)launder(p);
}

static void cxx_new_free(void) {
    char *p = new char[64];
    mark('q');
    vfree(launder(p));
}

/* Executable heap --------------------------------------------------------------------------- */

static void exec_heap(void) {
    unsigned char *p = (unsigned char *)vmalloc(64);
    p[0] = 0xc3; /* x86-64 ret; any byte faults first on a non-executable page */
    void (*fn)(void);
    memcpy(&fn, &p, sizeof fn);
    mark('a');
    fn();
}

/* ---------------------------------------------------------------------------------------------
 * The table
 * ------------------------------------------------------------------------------------------- */

/* Expectations: 'D' detected (reported or fault), 'M' missed, 'X' either. */
struct misuse {
    const char *name;
    void (*fn)(void);
    char def, sec;
    const char *word; /* a reported case's message contains this (secure and default) */
};

static const struct misuse cases[] = {
    {"double free, small, immediate", df_small, 'D', 'D', "double free"},
    {"double free, small, delayed", df_small_delayed, 'D', 'D', "double free"},
    {"double free, small, interleaved", df_small_interleaved, 'D', 'D', "double free"},
    {"double free, small, after reuse", df_small_after_reuse, 'M', 'D', "double free"},
    {"double free, medium", df_medium, 'D', 'D', "double free"},
    {"double free, large", df_large, 'D', 'D', ""},
    {"double free, large, after reuse", df_large_after_reuse, 'M', 'D', "double free"},
    {"double free, first by another thread", df_other_thread, 'D', 'D', "double free"},
    {"invalid free, stack", if_stack, 'D', 'D', "not allocated"},
    {"invalid free, global", if_global, 'D', 'D', "not allocated"},
    {"invalid free, interior", if_interior, 'D', 'D', "interior"},
    {"invalid free, misaligned", if_misaligned, 'D', 'D', "misaligned"},
    {"invalid free, foreign mmap", if_mmap, 'D', 'D', "not allocated"},
    /* Default mode: no canary. A small or medium block's 1-32 byte overrun stays in its slab
       (missed); a large block is its own mapping, so what lies past it decides (either); a
       1 MiB run crosses whatever is next to the block (either). Secure mode: canaries, the
       previous slot's trailer and guard pages catch all of them. */
    {"overflow 1 B, small, write", ov_s1w, 'M', 'D', "overflow"},
    {"overflow 32 B, small, write", ov_s32w, 'M', 'D', "overflow"},
    {"overflow 1 MiB, small, write", ov_s1mw, 'X', 'D', "overflow"},
    {"overflow 1 B, small, memcpy", ov_s1m, 'M', 'D', "overflow"},
    {"overflow 32 B, small, memcpy", ov_s32m, 'M', 'D', "overflow"},
    {"overflow 1 MiB, small, memcpy", ov_s1mm, 'X', 'D', "overflow"},
    {"underflow 1 B, small, write", un_s1w, 'M', 'D', "underflow"},
    {"underflow 32 B, small, write", un_s32w, 'M', 'D', "underflow"},
    {"underflow 1 MiB, small, write", un_s1mw, 'X', 'D', "underflow"},
    {"underflow 1 B, small, memcpy", un_s1m, 'M', 'D', "underflow"},
    {"underflow 32 B, small, memcpy", un_s32m, 'M', 'D', "underflow"},
    {"underflow 1 MiB, small, memcpy", un_s1mm, 'X', 'D', "underflow"},
    {"overflow 1 B, medium, write", ov_m1w, 'M', 'D', "overflow"},
    {"overflow 32 B, medium, write", ov_m32w, 'M', 'D', "overflow"},
    {"overflow 1 MiB, medium, write", ov_m1mw, 'X', 'D', "overflow"},
    {"overflow 1 B, medium, memcpy", ov_m1m, 'M', 'D', "overflow"},
    {"overflow 32 B, medium, memcpy", ov_m32m, 'M', 'D', "overflow"},
    {"overflow 1 MiB, medium, memcpy", ov_m1mm, 'X', 'D', "overflow"},
    {"underflow 1 B, medium, write", un_m1w, 'M', 'D', "underflow"},
    {"underflow 32 B, medium, write", un_m32w, 'M', 'D', "underflow"},
    {"underflow 1 MiB, medium, write", un_m1mw, 'X', 'D', "underflow"},
    {"underflow 1 B, medium, memcpy", un_m1m, 'M', 'D', "underflow"},
    {"underflow 32 B, medium, memcpy", un_m32m, 'M', 'D', "underflow"},
    {"underflow 1 MiB, medium, memcpy", un_m1mm, 'X', 'D', "underflow"},
    {"overflow 1 B, large, write", ov_l1w, 'X', 'D', "overflow"},
    {"overflow 32 B, large, write", ov_l32w, 'X', 'D', "overflow"},
    {"overflow 1 MiB, large, write", ov_l1mw, 'X', 'D', "overflow"},
    {"overflow 1 B, large, memcpy", ov_l1m, 'X', 'D', "overflow"},
    {"overflow 32 B, large, memcpy", ov_l32m, 'X', 'D', "overflow"},
    {"overflow 1 MiB, large, memcpy", ov_l1mm, 'X', 'D', "overflow"},
    {"underflow 1 B, large, write", un_l1w, 'X', 'D', "underflow"},
    {"underflow 32 B, large, write", un_l32w, 'X', 'D', "underflow"},
    {"underflow 1 MiB, large, write", un_l1mw, 'X', 'D', "underflow"},
    {"underflow 1 B, large, memcpy", un_l1m, 'X', 'D', "underflow"},
    {"underflow 32 B, large, memcpy", un_l32m, 'X', 'D', "underflow"},
    {"underflow 1 MiB, large, memcpy", un_l1mm, 'X', 'D', "underflow"},
    {"zero-size block, read", z_read, 'M', 'D', ""},
    {"zero-size block, write", z_write, 'M', 'D', ""},
    {"zero-size block, read after free", z_read_freed, 'M', 'D', ""},
    {"zero-size block, write after free", z_write_freed, 'M', 'D', ""},
    {"write after free, then malloc", uaf_write, 'M', 'D', "after free"},
    {"write after free, 40 KB block, then malloc", uaf_write_big, 'M', 'D', "after free"},
    {"write after free, 40 KB block, slab released", uaf_write_big_release, 'M', 'D', "after free"},
    {"write after free over the link, then malloc", uaf_write_link, 'D', 'D', ""},
    {"free-list pointer overwrite (hijack)", freelist_hijack, 'D', 'D', ""},
    {"new[] then delete", cxx_newarr_delete, 'M', 'D', "new[]"},
    {"new then delete[]", cxx_new_deletearr, 'M', 'D', "new"},
    {"new[] then delete, type with destructor", cxx_newarr_delete_dtor, 'D', 'D', ""},
    {"new[] then delete, large", cxx_newarr_delete_large, 'D', 'D', "new[]"},
    {"sized delete, size of another class", cxx_sized_other, 'D', 'D', "size"},
    {"sized delete, wrong size in the class", cxx_sized_same, 'M', 'D', "size"},
    /* Default mode: delete of a char* passes size 1, not of the 64-byte block's class. */
    {"malloc then delete", cxx_malloc_delete, 'D', 'D', ""},
    {"new[] then free", cxx_new_free, 'M', 'D', "new"},
    {"executable heap memory", exec_heap, 'D', 'D', ""},
};
enum { NCASES = sizeof cases / sizeof cases[0] };

/* ---------------------------------------------------------------------------------------------
 * Parent side
 * ------------------------------------------------------------------------------------------- */

struct outcome {
    const char *what; /* "reported", "fault", "missed", "CRASH ..." */
    char detected;    /* 'D', 'M' or 0 (a failure whatever the expectation) */
    char msg[200];
};

static void read_all(int fd, char *buf, size_t cap) {
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
        if (n == cap - 1) {
            char sink[256];
            while (read(fd, sink, sizeof sink) > 0) {}
            break;
        }
    }
    buf[n] = 0;
}

static struct outcome run_case(const char *self, int idx, int secure) {
    struct outcome o;
    memset(&o, 0, sizeof o);
    int mp[2], ep[2];
    if (pipe(mp) != 0 || pipe(ep) != 0) {
        o.what = "CRASH (pipe)";
        return o;
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(mp[0]); /* first: the read ends may be 3 */
        close(ep[0]);
        dup2(mp[1], 3);
        dup2(ep[1], 2);
        char num[16];
        snprintf(num, sizeof num, "%d", idx);
        setenv("QUIRE_SECURE", secure ? "1" : "0", 1);
        execl(self, self, "--case", num, (char *)NULL);
        _exit(127);
    }
    close(mp[1]);
    close(ep[1]);
    char marks[64], err[4096];
    read_all(ep[0], err, sizeof err);
    read_all(mp[0], marks, sizeof marks);
    close(mp[0]);
    close(ep[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    char last = marks[0] ? marks[strlen(marks) - 1] : 0;
    const char *q = strstr(err, "quire: ");
    if (q) {
        size_t n = strcspn(q, "\n");
        if (n >= sizeof o.msg) n = sizeof o.msg - 1;
        memcpy(o.msg, q, n);
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && last == 'd') {
        o.what = "missed";
        o.detected = 'M';
    } else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && q) {
        o.what = "reported";
        o.detected = 'D';
    } else if (WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV || WTERMSIG(st) == SIGBUS) &&
               last == 'a') {
        o.what = "fault";
        o.detected = 'D';
    } else if (WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV || WTERMSIG(st) == SIGBUS)) {
        o.what = "CRASH (signal inside quire)";
    } else if (WIFEXITED(st) && WEXITSTATUS(st) == 42) {
        o.what = "CRASH (malloc returned the hijacked address)";
    } else {
        static char buf[96];
        snprintf(buf, sizeof buf, "CRASH (status 0x%x, marks '%s')", st, marks);
        o.what = buf;
    }
    return o;
}

static int child_main(int idx) {
    alarm(60);
    memset(g_src, 'A', sizeof g_src);
    cases[idx].fn();
    mark('d');
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--case") == 0) return child_main(atoi(argv[2]));
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return 1;
    self[n] = 0;
    int detected[2] = {0, 0};
    printf("%-46s %-10s %-10s\n", "misuse", "default", "QUIRE_SECURE=1");
    for (int i = 0; i < NCASES; i++) {
        const struct misuse *c = &cases[i];
        struct outcome o[2];
        for (int m = 0; m < 2; m++) {
            char want = m ? c->sec : c->def;
            o[m] = run_case(self, i, m);
            TEST(c->name);
            int ok = o[m].detected && (want == 'X' || want == o[m].detected);
            if (ok && o[m].what[0] == 'r' && c->word[0] && !strstr(o[m].msg, c->word)) ok = 0;
            if (!ok)
                printf("  FAIL %s (%s): %s, expected %s; %s\n", c->name, m ? "secure" : "default",
                       o[m].what,
                       want == 'D'   ? "detected"
                       : want == 'M' ? "missed"
                                     : "either",
                       o[m].msg);
            CHECK(ok);
            if (o[m].detected == 'D') detected[m]++;
        }
        printf("%-46s %-10s %-10s\n", c->name, o[0].what, o[1].what);
    }
    printf("detected: default %d of %d kinds, QUIRE_SECURE=1 %d of %d\n", detected[0], NCASES,
           detected[1], NCASES);
    return check_done();
}
