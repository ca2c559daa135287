/*
 * bench/timeit.c - run one program and measure it: wall time, user and system CPU time, peak
 * RSS, exit status; kill it after a timeout.
 *
 *     timeit -o RESULT_FILE [-t SECONDS] [-p PRELOAD] -- program [args...]
 *
 * bench/run starts every benchmark run through this helper instead of forking the program from
 * Python itself, because the kernel's peak-RSS figure (ru_maxrss) covers a process's whole life,
 * including the moment between fork and exec when it is a copy of its parent: a program forked
 * from the runner's Python (15-20 MiB) would never show a peak below that. Forked from this small
 * helper, it starts at well under a megabyte. The helper itself never runs under the allocator
 * being measured: it sets LD_PRELOAD (-p) in the child only, just before exec.
 *
 * The child inherits stdin, stdout and stderr, and runs in its own process group, which is
 * killed (SIGKILL) when the timeout expires. RESULT_FILE receives one line:
 *     wall=S user=S sys=S maxrss_kib=N exit=N signal=N timeout=0|1
 * Exit status: 0 when the result was written (whatever the program did), 2 on bad usage or when
 * the program could not be started.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t g_timed_out;
static pid_t g_child;

static void on_alarm(int sig) {
    (void)sig;
    g_timed_out = 1;
    kill(-g_child, SIGKILL);
    kill(g_child, SIGKILL);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double tv(struct timeval t) {
    return (double)t.tv_sec + (double)t.tv_usec * 1e-6;
}

int main(int argc, char **argv) {
    const char *out = NULL, *preload = NULL;
    double timeout = 0;
    int opt;
    while ((opt = getopt(argc, argv, "+o:t:p:")) != -1) {
        switch (opt) {
        case 'o':
            out = optarg;
            break;
        case 't':
            timeout = strtod(optarg, NULL);
            break;
        case 'p':
            preload = optarg;
            break;
        default:
            goto usage;
        }
    }
    if (!out || optind >= argc) goto usage;

    int pfd[2]; /* reports an exec failure to the parent */
    if (pipe(pfd)) {
        perror("timeit: pipe");
        return 2;
    }
    double t0 = now();
    g_child = fork();
    if (g_child < 0) {
        perror("timeit: fork");
        return 2;
    }
    if (g_child == 0) {
        close(pfd[0]);
        setpgid(0, 0);
        if (preload && *preload)
            setenv("LD_PRELOAD", preload, 1);
        else
            unsetenv("LD_PRELOAD");
        execvp(argv[optind], argv + optind);
        int e = errno;
        if (write(pfd[1], &e, sizeof e) < 0) _exit(127);
        _exit(127);
    }
    close(pfd[1]);
    int e = 0;
    ssize_t got = read(pfd[0], &e, sizeof e); /* returns 0 once exec closed the pipe */
    close(pfd[0]);
    if (got == (ssize_t)sizeof e) {
        fprintf(stderr, "timeit: cannot run %s: %s\n", argv[optind], strerror(e));
        waitpid(g_child, NULL, 0);
        return 2;
    }
    if (timeout > 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sigaction(SIGALRM, &sa, NULL);
        struct itimerval it = {
            {0, 0}, {(time_t)timeout, (long)((timeout - (double)(time_t)timeout) * 1e6)}};
        if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0) it.it_value.tv_usec = 1;
        setitimer(ITIMER_REAL, &it, NULL);
    }
    int status;
    struct rusage ru;
    while (wait4(g_child, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("timeit: wait4");
            return 2;
        }
    }
    double t1 = now();
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    kill(-g_child, SIGKILL); /* leftovers of the group (a workload's stray children) */

    FILE *f = fopen(out, "w");
    if (!f) {
        perror("timeit: result file");
        return 2;
    }
    fprintf(f, "wall=%.6f user=%.6f sys=%.6f maxrss_kib=%ld exit=%d signal=%d timeout=%d\n",
            t1 - t0, tv(ru.ru_utime), tv(ru.ru_stime), ru.ru_maxrss,
            WIFEXITED(status) ? WEXITSTATUS(status) : -1,
            WIFSIGNALED(status) ? WTERMSIG(status) : 0, (int)g_timed_out);
    fclose(f);
    return 0;

usage:
    fprintf(stderr, "usage: timeit -o RESULT_FILE [-t SECONDS] [-p PRELOAD] -- program [args]\n");
    return 2;
}
