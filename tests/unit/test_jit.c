/*
 * tests/unit/test_jit.c - W^X code buffers: generated x86-64 functions of 0 to 6 integer
 * arguments (sums, products, a loop with patched rel32 branches, a call inside the buffer and a
 * call out to C), in mprotect mode, in dual-mapping mode (by flag, by QUIRE_JIT_FORCE_DUAL=1 in
 * a re-executed copy of this test, and by a seal-time fallback when mprotect is refused), with
 * /proc/self/maps checked for a writable+executable mapping after every step, and forked
 * children that must die of SIGSEGV when they write through an executable view.
 */
#include "check.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pages/internal.h"
#include "quire/jit.h"

/* 1 if no mapping of this process is writable and executable at once. */
static int no_wx(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return 0;
    char line[512];
    int ok = 1;
    while (fgets(line, sizeof line, f)) {
        char perms[8] = {0};
        if (sscanf(line, "%*s %7s", perms) == 1 && perms[1] == 'w' && perms[2] == 'x') {
            fprintf(stderr, "W+X mapping: %s", line);
            ok = 0;
        }
    }
    fclose(f);
    return ok;
}

#if defined(__x86_64__)

typedef long (*fn0)(void);
typedef long (*fn1)(long);
typedef long (*fn2)(long, long);
typedef long (*fn3)(long, long, long);
typedef long (*fn4)(long, long, long, long);
typedef long (*fn5)(long, long, long, long, long);
typedef long (*fn6)(long, long, long, long, long, long);

/* Operand encodings for the argument registers rsi, rdx, rcx, r8, r9 (arguments 2..6). */
static const unsigned char add_arg[5][3] = {{0x48, 0x01, 0xf0},
                                            {0x48, 0x01, 0xd0},
                                            {0x48, 0x01, 0xc8},
                                            {0x4c, 0x01, 0xc0},
                                            {0x4c, 0x01, 0xc8}};
static const unsigned char imul_arg[5][4] = {{0x48, 0x0f, 0xaf, 0xc6},
                                             {0x48, 0x0f, 0xaf, 0xc2},
                                             {0x48, 0x0f, 0xaf, 0xc1},
                                             {0x49, 0x0f, 0xaf, 0xc0},
                                             {0x49, 0x0f, 0xaf, 0xc1}};

struct code {
    size_t ret42;    /* long f(void) { return 42; } (imm32 at ret42 + 1) */
    size_t sum[7];   /* sum[n]: sum of n arguments (n >= 1) */
    size_t prod[7];  /* prod[n]: product of n arguments (n >= 1) */
    size_t loop;     /* long f(long n) { s = 0; while (n) s += n--; return s; } */
    size_t call_in;  /* long f(long x) { return sum1(x) + 1; } via call rel32 */
    size_t call_out; /* long f(long x) { return twice(x); } via mov rax, imm64; call rax */
};

static long twice(long x) {
    return 2 * x;
}

static void emit_all(quire_jit *j, struct code *c) {
    static const unsigned char mov_rax_rdi[] = {0x48, 0x89, 0xf8};
    c->ret42 = quire_jit_offset(j);
    quire_jit_emit8(j, 0xb8); /* mov eax, imm32 */
    quire_jit_emit32(j, 42);
    quire_jit_emit8(j, 0xc3);
    for (int n = 1; n <= 6; n++) {
        quire_jit_align(j, 16, 0xcc);
        c->sum[n] = quire_jit_offset(j);
        quire_jit_emit(j, mov_rax_rdi, 3);
        for (int a = 1; a < n; a++) quire_jit_emit(j, add_arg[a - 1], 3);
        quire_jit_emit8(j, 0xc3);
        quire_jit_align(j, 16, 0x90);
        c->prod[n] = quire_jit_offset(j);
        quire_jit_emit(j, mov_rax_rdi, 3);
        for (int a = 1; a < n; a++) quire_jit_emit(j, imul_arg[a - 1], 4);
        quire_jit_emit8(j, 0xc3);
    }
    /* The loop, with a forward branch patched before its target exists. */
    quire_jit_align(j, 16, 0xcc);
    c->loop = quire_jit_offset(j);
    static const unsigned char head[] = {0x31, 0xc0, 0x48, 0x85, 0xff, 0x0f, 0x84};
    quire_jit_emit(j, head, sizeof head); /* xor eax,eax; test rdi,rdi; jz rel32 */
    size_t jz_field = quire_jit_offset(j);
    quire_jit_emit32(j, 0);
    size_t body = quire_jit_offset(j);
    static const unsigned char step[] = {0x48, 0x01, 0xf8, 0x48, 0xff, 0xcf, 0x0f, 0x85};
    quire_jit_emit(j, step, sizeof step); /* add rax,rdi; dec rdi; jnz rel32 */
    size_t jnz_field = quire_jit_offset(j);
    quire_jit_emit32(j, 0);
    size_t end = quire_jit_offset(j);
    quire_jit_patch_rel32(j, jz_field, end + 0); /* forward: to the ret below */
    quire_jit_emit8(j, 0xc3);
    quire_jit_patch_rel32(j, jnz_field, body);
    /* A call to another function of the buffer. */
    quire_jit_align(j, 16, 0xcc);
    c->call_in = quire_jit_offset(j);
    quire_jit_emit8(j, 0xe8);
    size_t call_field = quire_jit_offset(j);
    quire_jit_emit32(j, 0);
    quire_jit_patch_rel32(j, call_field, c->sum[1]);
    static const unsigned char inc_ret[] = {0x48, 0x83, 0xc0, 0x01, 0xc3}; /* add rax,1; ret */
    quire_jit_emit(j, inc_ret, sizeof inc_ret);
    /* A call out to C through a register (keeps the stack 16-byte aligned). */
    quire_jit_align(j, 16, 0xcc);
    c->call_out = quire_jit_offset(j);
    static const unsigned char sub8[] = {0x48, 0x83, 0xec, 0x08, 0x48, 0xb8};
    quire_jit_emit(j, sub8, sizeof sub8); /* sub rsp,8; mov rax, imm64 */
    quire_jit_emit64(j, (uint64_t)(uintptr_t)&twice);
    static const unsigned char tail[] = {0xff, 0xd0, 0x48, 0x83, 0xc4, 0x08, 0xc3};
    quire_jit_emit(j, tail, sizeof tail); /* call rax; add rsp,8; ret */
}

/* Calls every generated function and checks its result; returns the number of wrong ones. */
static int run_all(const quire_jit *j, const struct code *c, long expect42) {
    int bad = 0;
    bad += ((fn0)quire_jit_fn(j, c->ret42))() != expect42;
    bad += ((fn1)quire_jit_fn(j, c->sum[1]))(7) != 7;
    bad += ((fn2)quire_jit_fn(j, c->sum[2]))(7, 8) != 15;
    bad += ((fn3)quire_jit_fn(j, c->sum[3]))(1, 2, 3) != 6;
    bad += ((fn4)quire_jit_fn(j, c->sum[4]))(1, 2, 3, -4) != 2;
    bad += ((fn5)quire_jit_fn(j, c->sum[5]))(10, 20, 30, 40, 50) != 150;
    bad += ((fn6)quire_jit_fn(j, c->sum[6]))(1, 2, 3, 4, 5, 1000000000000L) != 1000000000015L;
    bad += ((fn1)quire_jit_fn(j, c->prod[1]))(-9) != -9;
    bad += ((fn2)quire_jit_fn(j, c->prod[2]))(6, 7) != 42;
    bad += ((fn3)quire_jit_fn(j, c->prod[3]))(2, 3, 4) != 24;
    bad += ((fn4)quire_jit_fn(j, c->prod[4]))(2, 3, 4, 5) != 120;
    bad += ((fn5)quire_jit_fn(j, c->prod[5]))(2, 3, 4, 5, -6) != -720;
    bad += ((fn6)quire_jit_fn(j, c->prod[6]))(2, 3, 4, 5, 6, 7) != 5040;
    bad += ((fn1)quire_jit_fn(j, c->loop))(0) != 0;
    bad += ((fn1)quire_jit_fn(j, c->loop))(1) != 1;
    bad += ((fn1)quire_jit_fn(j, c->loop))(100000) != 5000050000L;
    bad += ((fn1)quire_jit_fn(j, c->call_in))(41) != 42;
    bad += ((fn1)quire_jit_fn(j, c->call_out))(21) != 42;
    return bad;
}

static void write_at(void *p) {
    *(volatile unsigned char *)p = 0xc3;
}

/* Runs fn(arg) in a child; returns the signal that killed it, or 0 if it exited normally. */
static int child_signal(void (*fn)(void *), void *arg) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL; /* sanitizers install their own handlers */
        sigaction(SIGSEGV, &sa, NULL);
        sigaction(SIGBUS, &sa, NULL);
        fn(arg);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

/* The whole life of one buffer: emit, seal, run, fault on write, unseal, patch, reseal, run. */
static void life(unsigned flags, int expect_dual) {
    quire_jit j;
    struct code c;
    CHECK_OK(quire_jit_create(1, flags, &j));
    CHECK(no_wx());
    CHECK_EQ(quire_jit_is_dual(&j), expect_dual);
    CHECK_EQ(quire_jit_is_sealed(&j), 0);
    CHECK_EQ(quire_jit_capacity(&j), quire_page_size());
    const void *exec0 = quire_jit_exec_addr(&j, 0);
    CHECK(exec0 != NULL);
    if (expect_dual)
        CHECK(quire_jit_write_ptr(&j, 0) != exec0); /* two views of one memfd */
    else
        CHECK(quire_jit_write_ptr(&j, 0) == exec0);
    emit_all(&j, &c);
    CHECK_OK(quire_jit_error(&j));
    CHECK(no_wx());
    CHECK(quire_jit_fn(&j, c.ret42) == NULL); /* not callable before sealing */
    CHECK_OK(quire_jit_seal(&j));
    CHECK(no_wx());
    CHECK_EQ(quire_jit_is_sealed(&j), 1);
    CHECK(quire_jit_exec_addr(&j, 0) == exec0);
    CHECK(quire_jit_write_ptr(&j, 0) == NULL);
    CHECK_EQ(quire_jit_emit8(&j, 0x90), QUIRE_ESTATE);
    CHECK_EQ(run_all(&j, &c, 42), 0);
    CHECK(no_wx());
    CHECK_EQ(child_signal(write_at, (void *)(uintptr_t)quire_jit_fn(&j, c.ret42)), SIGSEGV);
    CHECK_OK(quire_jit_seal(&j));  /* sealing twice is harmless */
    CHECK_OK(quire_jit_error(&j)); /* the refused emit changed nothing: not sticky */
    CHECK_OK(quire_jit_unseal(&j));
    CHECK_OK(quire_jit_unseal(&j));
    CHECK(no_wx());
    CHECK_OK(quire_jit_destroy(&j));
    CHECK(no_wx());

    /* Patch after unsealing: the new constant runs after resealing. */
    CHECK_OK(quire_jit_create(4096, flags, &j));
    emit_all(&j, &c);
    CHECK_OK(quire_jit_seal(&j));
    CHECK_EQ(run_all(&j, &c, 42), 0);
    CHECK_OK(quire_jit_unseal(&j));
    CHECK(no_wx());
    CHECK_EQ(quire_jit_is_sealed(&j), 0);
    CHECK_OK(quire_jit_patch32(&j, c.ret42 + 1, 4242));
    CHECK_OK(quire_jit_seal(&j));
    CHECK(no_wx());
    CHECK_EQ(run_all(&j, &c, 4242), 0);
    CHECK_EQ(child_signal(write_at, (void *)(uintptr_t)quire_jit_fn(&j, c.loop)), SIGSEGV);
    CHECK_OK(quire_jit_destroy(&j));
    CHECK_EQ(quire_jit_destroy(&j), QUIRE_EINVAL);
    CHECK(no_wx());
}

static void test_modes(void) {
    TEST("mprotect mode");
    q_pages_jit_test_refuse_rx(0);
    life(QUIRE_JIT_DEFAULT, 0);
    TEST("dual mapping by flag");
    life(QUIRE_JIT_DUAL, 1);
    TEST("dual mapping because mprotect is refused");
    q_pages_jit_test_refuse_rx(1);
    life(QUIRE_JIT_DEFAULT, 1);
    q_pages_jit_test_refuse_rx(0);
}

/* A buffer created in mprotect mode whose seal is refused moves to a dual mapping in place. */
static void test_seal_fallback(void) {
    TEST("seal-time fallback");
    q_pages_jit_test_refuse_rx(0);
    quire_jit j;
    struct code c;
    CHECK_OK(quire_jit_create(8192, 0, &j));
    CHECK_EQ(quire_jit_is_dual(&j), 0);
    const void *exec0 = quire_jit_exec_addr(&j, 0);
    emit_all(&j, &c);
    q_pages_jit_test_refuse_rx(1);
    CHECK_OK(quire_jit_seal(&j));
    q_pages_jit_test_refuse_rx(0);
    CHECK_EQ(quire_jit_is_dual(&j), 1);
    CHECK(quire_jit_exec_addr(&j, 0) == exec0); /* same address, now a file mapping */
    CHECK(no_wx());
    CHECK_EQ(run_all(&j, &c, 42), 0);
    CHECK_EQ(child_signal(write_at, (void *)(uintptr_t)quire_jit_fn(&j, c.sum[2])), SIGSEGV);
    /* Unsealing now maps a writable view of the memfd; the executable one keeps working. */
    CHECK_OK(quire_jit_unseal(&j));
    CHECK(no_wx());
    CHECK(quire_jit_write_ptr(&j, 0) != exec0);
    CHECK_OK(quire_jit_patch32(&j, c.ret42 + 1, 7));
    CHECK_OK(quire_jit_seal(&j));
    CHECK_EQ(run_all(&j, &c, 7), 0);
    CHECK(no_wx());
    CHECK_OK(quire_jit_destroy(&j));
}

#endif /* __x86_64__ */

static void test_errors(void) {
    TEST("errors");
    quire_jit j;
    CHECK_EQ(quire_jit_create(0, 0, &j), QUIRE_EINVAL);
    CHECK_EQ(quire_jit_create(1, 0x10, &j), QUIRE_EINVAL);
    CHECK_EQ(quire_jit_create(1, 0, NULL), QUIRE_EINVAL);
    CHECK_EQ(quire_jit_create(SIZE_MAX, 0, &j), QUIRE_EOVERFLOW);
    CHECK_EQ(quire_jit_seal(NULL), QUIRE_EINVAL);
    CHECK_EQ(quire_jit_is_dual(NULL), -1);
    CHECK_OK(quire_jit_create(1, 0, &j));
    size_t cap = quire_jit_capacity(&j);
    CHECK_EQ(quire_jit_align(&j, 3, 0), QUIRE_EINVAL);
    CHECK_EQ(quire_jit_error(&j), QUIRE_EINVAL); /* sticky */
    CHECK_EQ(quire_jit_seal(&j), QUIRE_EINVAL);  /* refused with the sticky error */
    CHECK_EQ(quire_jit_is_sealed(&j), 0);
    CHECK_OK(quire_jit_destroy(&j));

    CHECK_OK(quire_jit_create(1, 0, &j));
    unsigned char *big = calloc(1, cap + 1);
    CHECK_OK(quire_jit_emit(&j, big, cap - 2));
    CHECK_EQ(quire_jit_emit32(&j, 1), QUIRE_ERANGE);
    CHECK_EQ(quire_jit_offset(&j), cap - 2); /* nothing partial */
    CHECK_EQ(quire_jit_patch32(&j, cap - 6, 1), 0);
    CHECK_EQ(quire_jit_patch32(&j, cap - 5, 1), QUIRE_ERANGE); /* past the emitted code */
    CHECK_EQ(quire_jit_patch_rel32(&j, 0, cap + 1), QUIRE_ERANGE);
    CHECK_EQ(quire_jit_seal(&j), QUIRE_ERANGE);
    CHECK(quire_jit_fn(&j, 0) == NULL);
    CHECK_OK(quire_jit_destroy(&j));
    free(big);

    CHECK_OK(quire_jit_create(1, 0, &j));
    CHECK_OK(quire_jit_emit8(&j, 0xc3));
    CHECK_OK(quire_jit_align(&j, 64, 0xcc));
    CHECK_EQ(quire_jit_offset(&j), 64);
    CHECK_OK(quire_jit_align(&j, 64, 0xcc)); /* already aligned: no padding */
    CHECK_EQ(quire_jit_offset(&j), 64);
    CHECK_OK(quire_jit_emit64(&j, 0x1122334455667788ull));
    const unsigned char *w = quire_jit_write_ptr(&j, 64);
    CHECK(w && w[0] == 0x88 && w[7] == 0x11);
    /* A rel32 to an absolute address: 0 distance means the field's own end. */
    const unsigned char *field_end = (const unsigned char *)quire_jit_exec_addr(&j, 68);
    CHECK_OK(quire_jit_patch_rel32_abs(&j, 64, field_end + 100));
    CHECK(w[0] == 100 && w[1] == 0 && w[3] == 0);
    CHECK_OK(quire_jit_patch_rel32_abs(&j, 64, field_end - 1));
    CHECK(w[0] == 0xff && w[3] == 0xff);
    CHECK_EQ(quire_jit_patch_rel32_abs(&j, 64, field_end + ((size_t)1 << 33)), QUIRE_ERANGE);
    CHECK_OK(quire_jit_destroy(&j));
    CHECK(no_wx());
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "forced") == 0) {
#if defined(__x86_64__)
        /* Re-executed with QUIRE_JIT_FORCE_DUAL=1: every buffer must take the dual mapping. */
        TEST("QUIRE_JIT_FORCE_DUAL=1");
        life(QUIRE_JIT_DEFAULT, 1);
#endif
        return check_done();
    }
    test_errors();
#if defined(__x86_64__)
    test_modes();
    test_seal_fallback();
    TEST("QUIRE_JIT_FORCE_DUAL=1 (re-executed)");
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("QUIRE_JIT_FORCE_DUAL", "1", 1);
        execl("/proc/self/exe", argv[0], "forced", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
#endif
    return check_done();
}
