/*
 * tests/unit/test_alloc_api.c - the malloc family's conformance, through the
 * quire_* names.
 *
 * The engine is linked statically (no interposition: the process's own malloc
 * is glibc's, or the sanitizer's), so this test also runs under ASan and UBSan.
 * The check bodies are shared with tests/preload/test_malloc_api.c through
 * tests/alloc_api_cases.h. Added here: quire_owns says no to blocks of the
 * system allocator, freeing blocks of one allocator never disturbs the
 * other, and quire_alloc_exec()'s errors leave the environment as it was
 * (tests/scripts/quire_run.sh runs programs through it).
 */
#include <stdlib.h>
#include <string.h>

#define QA_FN(name)   quire_##name
#define QA_USABLE_ARG const void *
#include "alloc_api_cases.h"

static void test_two_allocators(void) {
    TEST("quire_owns: blocks of the system allocator are not quire's");
    enum { N = 64 };
    void *sys[N], *q[N];
    int sys_owned = 0, q_owned = 0;
    for (int i = 0; i < N; i++) {
        size_t n = (size_t)(i * 97 % 5000) + 1;
        if (i == 7) n = 4 * QA_MIB; /* glibc mmaps this one */
        sys[i] = malloc(n);
        q[i] = quire_malloc(n);
        if (sys[i] && quire_owns(sys[i])) sys_owned++;
        if (q[i] && quire_owns(q[i]) == 1) q_owned++;
        if (sys[i]) memset(sys[i], 0x11, n);
        if (q[i]) memset(q[i], 0x22, n);
    }
    CHECK_EQ(sys_owned, 0);
    CHECK_EQ(q_owned, N);
    for (int i = 0; i < N; i++) {
        free(sys[i]);
        quire_free(q[i]);
    }
}

/* quire_alloc_exec() and quire_alloc_library_path() where they fail (success replaces the
 * process: tests/scripts/quire_run.sh). */
static void test_exec_errors(void) {
    TEST("quire_alloc_exec errors");
    char *none[] = {NULL}, *empty[] = {"", NULL}, *prog[] = {"/nonexistent/program", NULL};
    CHECK_EQ(quire_alloc_exec(NULL, NULL, 0), QUIRE_EINVAL);
    CHECK_EQ(quire_alloc_exec(NULL, none, 0), QUIRE_EINVAL);
    CHECK_EQ(quire_alloc_exec(NULL, empty, 0), QUIRE_EINVAL);
    CHECK_EQ(quire_alloc_exec(NULL, prog, 16), QUIRE_EINVAL); /* unknown flag */
    CHECK_EQ(quire_alloc_exec("/nonexistent/libquire.so", prog, 0), QUIRE_ENOENT);
    /* a readable "library" and a missing program: the exec fails, the environment is restored */
    setenv("LD_PRELOAD", "before.so", 1);
    unsetenv("QUIRE_STATS");
    CHECK_EQ(quire_alloc_exec("/proc/self/exe", prog, QUIRE_EXEC_STATS), QUIRE_ENOENT);
    const char *pre = getenv("LD_PRELOAD");
    CHECK(pre && strcmp(pre, "before.so") == 0);
    CHECK(getenv("QUIRE_STATS") == NULL);
    /* a previous LD_PRELOAD and QUIRE_PROF of 20,000 bytes: no length limit, restored exactly */
    static char big[20001];
    for (size_t i = 0; i < sizeof big - 1; i++) big[i] = i % 9 == 8 ? ':' : (char)('a' + i % 26);
    setenv("LD_PRELOAD", big, 1);
    setenv("QUIRE_PROF", big, 1);
    CHECK_EQ(quire_alloc_exec("/proc/self/exe", prog, QUIRE_EXEC_PROF), QUIRE_ENOENT);
    pre = getenv("LD_PRELOAD");
    CHECK(pre && strcmp(pre, big) == 0);
    pre = getenv("QUIRE_PROF");
    CHECK(pre && strcmp(pre, big) == 0);
    unsetenv("QUIRE_PROF");
    unsetenv("LD_PRELOAD");
    char buf[16];
    CHECK_EQ(quire_alloc_library_path(NULL, 10), QUIRE_EINVAL);
    CHECK_EQ(quire_alloc_library_path(buf, 0), QUIRE_EINVAL);
    int rc = quire_alloc_library_path(buf, sizeof buf); /* build/.../tests/unit: none there */
    CHECK(rc == QUIRE_ERANGE || rc == QUIRE_ENOENT);
}

int main(void) {
    qa_run_all();
    test_two_allocators();
    test_exec_errors();
    return check_done();
}
