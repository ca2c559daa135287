/*
 * tests/preload/test_errno.c - a malloc-family call that succeeds leaves errno as it was, even
 * when a system call the allocator makes inside it fails (POSIX.1-2024 for free; glibc's
 * tst-free-errno).
 *
 * The checks run in a child re-executed with QUIRE_PURGE_DELAY_MS=0 (empty slabs and freed
 * large blocks are given back at once: free calls munmap and madvise) and with a seccomp filter
 * that makes munmap, madvise, mremap and mincore fail with ENOMEM, as they do when a process is
 * at its mapping limit. errno is set to a marker before each call and must still hold it after:
 * free of small, medium and large blocks, free that empties a slab, realloc in place, moving
 * and shrinking, calloc, posix_memalign, malloc_trim and the allocations that follow purges.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define MARK 4242

/* munmap, madvise, mremap, mincore -> ENOMEM; everything else allowed. */
static int deny_memory_calls(void) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_munmap, 4, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_madvise, 3, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mremap, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mincore, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOMEM & SECCOMP_RET_DATA)),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

#define KEEPS(call)                                                                                \
    do {                                                                                           \
        errno = MARK;                                                                              \
        call;                                                                                      \
        if (errno != MARK) fprintf(stderr, "errno %d after %s\n", errno, #call);                   \
        CHECK(errno == MARK);                                                                      \
    } while (0)

static int child(void) {
    /* Blocks made before the filter, so that their frees meet it. */
    enum { N = 4096 };
    static void *small[N];
    for (int i = 0; i < N; i++) small[i] = malloc(48);
    void *medium = malloc(100000), *large = malloc(3 << 20), *huge = malloc(40 << 20);
    void *grow = malloc(1 << 20), *shrink = malloc(8 << 20);
    memset(large, 1, 3 << 20);
    if (deny_memory_calls() != 0) {
        perror("seccomp");
        return 2;
    }
    TEST("errno kept when the allocator's munmap/madvise/mremap/mincore fail");
    errno = 0;
    CHECK(munmap(NULL, 0) != 0 && errno == ENOMEM);    /* the filter is in place */
    for (int i = 0; i < N; i++) KEEPS(free(small[i])); /* slabs empty: purges */
    KEEPS(free(medium));
    KEEPS(free(large));
    KEEPS(free(huge));
    void *p = NULL;
    KEEPS(p = realloc(grow, 64 << 20)); /* mremap refused: moved by copy */
    CHECK(p != NULL);
    KEEPS(free(p));
    KEEPS(p = realloc(shrink, 64 << 10)); /* shrink below a quarter */
    CHECK(p != NULL);
    KEEPS(free(p));
    for (int i = 0; i < 2000; i++) {
        void *q = NULL;
        KEEPS(q = malloc((size_t)(i % 7 + 1) * 5000));
        CHECK(q != NULL);
        KEEPS(free(q));
    }
    KEEPS(p = calloc(1000, 1000));
    KEEPS(free(p));
    int rc = -1;
    KEEPS(rc = posix_memalign(&p, 4096, 300000));
    CHECK(rc == 0);
    KEEPS(free(p));
    KEEPS(malloc_trim(0));
    return check_done();
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--child") == 0) return child();
    pid_t pid = fork();
    if (pid == 0) {
        setenv("QUIRE_PURGE_DELAY_MS", "0", 1);
        execl("/proc/self/exe", argv[0], "--child", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    TEST("the child ran to the end");
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return check_done();
}
