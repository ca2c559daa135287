/*
 * tools/cmd_run.c - `quire run [--stats] [--verbose] [--] PROGRAM [ARGS...]`:
 * runs a program with quire's malloc preloaded.
 *
 * Finds libquire.so next to the quire binary (readlink /proc/self/exe, then
 * DIR/libquire.so, or DIR/../lib/libquire.so for an installed copy), prepends
 * it to LD_PRELOAD, sets QUIRE_STATS=1 with --stats (and QUIRE_VERBOSE=1 with
 * --verbose), runs PROGRAM (searched in PATH), waits for it and exits with its
 * status: the program's exit code, 128 + the signal number if a signal killed
 * it, 127 if it could not be executed. The CLI itself runs on the system
 * malloc.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "quire/error.h"
#include "tools/cli.h"

static int usage(FILE *out) {
    fprintf(out, "usage: quire run [--stats] [--verbose] [--] PROGRAM [ARGS...]\n\n"
                 "Runs PROGRAM with quire's malloc (libquire.so) preloaded and exits with "
                 "its\n"
                 "status (128 + N when killed by signal N, 127 when it cannot be run).\n"
                 "  --stats     print quire's allocation statistics on stderr at exit\n"
                 "  --verbose   report unusual allocator events (mapping failures, "
                 "purges)\n");
    return out == stdout ? 0 : 2;
}

/* Writes the path of libquire.so to use into buf; returns 0 or -1 when none
 * exists. */
static int find_library(char *buf, size_t cap) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return -1;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return -1;
    *slash = 0;
    const char *cands[] = {"/libquire.so", "/../lib/libquire.so"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        if ((size_t)snprintf(buf, cap, "%s%s", exe, cands[i]) >= cap) continue;
        if (access(buf, R_OK) == 0) {
            char *real = realpath(buf, NULL);
            if (real && strlen(real) < cap) strcpy(buf, real);
            free(real);
            return 0;
        }
    }
    return -1;
}

int q_cmd_run(int argc, char **argv) {
    int stats = 0, verbose = 0, i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--stats"))
            stats = 1;
        else if (!strcmp(argv[i], "--verbose"))
            verbose = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return usage(stdout);
        else if (!strcmp(argv[i], "--")) {
            i++;
            break;
        } else if (argv[i][0] == '-')
            return usage(stderr);
        else
            break;
    }
    if (i >= argc) return usage(stderr);
    char lib[4096];
    if (find_library(lib, sizeof lib) != 0) {
        fprintf(stderr, "quire run: libquire.so not found next to the quire binary\n");
        return 127;
    }
    const char *old = getenv("LD_PRELOAD");
    size_t len = strlen(lib) + (old && *old ? strlen(old) + 1 : 0) + 1;
    char *pre = malloc(len);
    if (!pre) return q_cli_fail("run", "LD_PRELOAD", QUIRE_ENOMEM);
    if (old && *old)
        snprintf(pre, len, "%s:%s", lib, old);
    else
        snprintf(pre, len, "%s", lib);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        free(pre);
        fprintf(stderr, "quire run: fork: %s\n", strerror(errno));
        return 127;
    }
    if (pid == 0) {
        setenv("LD_PRELOAD", pre, 1);
        if (stats) setenv("QUIRE_STATS", "1", 1);
        if (verbose) setenv("QUIRE_VERBOSE", "1", 1);
        execvp(argv[i], argv + i);
        fprintf(stderr, "quire run: %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }
    free(pre);
    /* Like a shell: the terminal's interrupt goes to the child; we report how it
     * ended. */
    struct sigaction ign, oldint, oldquit;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGINT, &ign, &oldint);
    sigaction(SIGQUIT, &ign, &oldquit);
    int status = 0;
    pid_t r;
    do r = waitpid(pid, &status, 0);
    while (r < 0 && errno == EINTR);
    sigaction(SIGINT, &oldint, NULL);
    sigaction(SIGQUIT, &oldquit, NULL);
    if (r < 0) {
        fprintf(stderr, "quire run: waitpid: %s\n", strerror(errno));
        return 127;
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 127;
}
