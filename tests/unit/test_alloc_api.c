/*
 * tests/unit/test_alloc_api.c - the malloc family's conformance, through the
 * quire_* names.
 *
 * The engine is linked statically (no interposition: the process's own malloc
 * is glibc's, or the sanitizer's), so this test also runs under ASan and UBSan.
 * The check bodies are shared with tests/preload/test_malloc_api.c through
 * tests/alloc_api_cases.h. Added here: quire_owns says no to blocks of the
 * system allocator, and freeing blocks of one allocator never disturbs the
 * other.
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

int main(void) {
    qa_run_all();
    test_two_allocators();
    return check_done();
}
