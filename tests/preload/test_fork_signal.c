/*
 * tests/preload/test_fork_signal.c - fork() from a signal handler while the main thread forks
 * and allocates, on quire's malloc (as glibc's tst-mallocfork does).
 *
 * One trial: a SIGALRM timer fires every 500 us; its handler forks (at most 200 times a
 * trial, reaping as it goes), and the child exits at once. Meanwhile the main thread allocates,
 * forks (the child allocates, frees and exits) and frees, so the handler often runs in the middle
 * of malloc or of the main thread's own fork - with the allocator's fork handler holding some of
 * its locks. A handler that then waited for a lock its own thread holds would hang for ever. The
 * test runs the trial 100 times in a row, each in a fresh process with a 30 s limit: none may hang,
 * crash or fail.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static volatile sig_atomic_t handler_forks;

enum { HANDLER_FORKS_MAX = 200 }; /* bounded: children are reaped as the trial goes */

static void on_alarm(int sig) {
    (void)sig;
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
    if (handler_forks < HANDLER_FORKS_MAX) {
        pid_t p = fork();
        if (p == 0) _exit(0);
        if (p > 0) handler_forks++;
    }
    errno = saved;
}

static int trial(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 500}, {0, 500}};
    setitimer(ITIMER_REAL, &it, NULL);
    uint64_t x = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 200; i++) {
        void *keep[8];
        for (int k = 0; k < 8; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            keep[k] = malloc(16 + x % 70000);
            if (!keep[k]) return 2;
            memset(keep[k], k, 16);
        }
        pid_t p = fork();
        if (p == 0) {
            void *q = malloc(1000);
            free(q);
            free(keep[0]);
            _exit(q ? 0 : 3);
        }
        for (int k = 0; k < 8; k++) free(keep[k]);
        int st;
        while (p > 0 && waitpid(p, &st, 0) < 0 && errno == EINTR) {}
        if (p < 0 && errno != EAGAIN) return 4;
        if (p > 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) return 5;
        while (waitpid(-1, NULL, WNOHANG) > 0) {} /* the handler's children */
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    while (wait(NULL) > 0 || errno == EINTR) {}
    return handler_forks > 0 ? 0 : 6;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--trial") == 0) return trial();
    TEST("fork from a signal handler during malloc and fork: 100 trials, none hangs");
    int hung = 0, failed = 0;
    for (int t = 0; t < 100; t++) {
        pid_t p = fork();
        if (p == 0) {
            execl("/proc/self/exe", argv[0], "--trial", (char *)NULL);
            _exit(127);
        }
        int st = 0;
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            pid_t r = waitpid(p, &st, WNOHANG);
            if (r == p) break;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec - t0.tv_sec > 30) {
                kill(p, SIGKILL);
                waitpid(p, &st, 0);
                hung++;
                fprintf(stderr, "trial %d hung (killed after 30 s)\n", t);
                break;
            }
            usleep(2000);
        }
        if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) && !(WIFSIGNALED(st) && hung)) {
            failed++;
            fprintf(stderr, "trial %d: status 0x%x\n", t, st);
        }
    }
    CHECK_EQ(hung, 0);
    CHECK_EQ(failed, 0);
    return check_done();
}
