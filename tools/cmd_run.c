/*
 * tools/cmd_run.c - `quire run [--stats] [--verbose] [--leaks] [--prof] [--] PROGRAM [ARGS...]`:
 * runs a program with quire's malloc preloaded.
 *
 * quire_alloc_exec() does the work: the library goes first in LD_PRELOAD, --stats sets
 * QUIRE_STATS=1, --verbose QUIRE_VERBOSE=1, --leaks QUIRE_LEAKS=1 and --prof QUIRE_PROF=1,
 * and the quire process becomes PROGRAM (searched
 * in PATH), so its exit status and signals are PROGRAM's own. When PROGRAM cannot be run, quire
 * says why and exits with status 127.
 *
 * The library: quire_alloc_library_path()'s (libquire.so beside the quire binary, as in the
 * build tree, or in ../lib), else the installed one: libquire.so.MAJOR in LIBDIR as seen from
 * BINDIR (make writes both into install_paths.h), which is what `make install LIBDIR=...` lays
 * out, DESTDIR-staged or relocated trees included.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "install_paths.h"
#include "quire/alloc.h"
#include "quire/error.h"
#include "tools/cli.h"

static int usage(void) {
    printf("usage: quire run [--stats] [--verbose] [--leaks] [--prof] [--] PROGRAM [ARGS...]\n\n"
           "Runs PROGRAM with quire's malloc (libquire.so) preloaded: quire becomes\n"
           "PROGRAM, so the exit status is PROGRAM's (127 when it cannot be run).\n"
           "  --stats     print quire's allocation statistics on stderr at exit\n"
           "  --verbose   report unusual allocator events (mapping failures, purges)\n"
           "  --leaks     at exit, list the blocks still live by allocation call stack\n"
           "  --prof      write a sampled heap profile, quire.PID.heap, at exit\n"
           "              (read it with google-pprof --text PROGRAM quire.PID.heap)\n"
           "More options: QUIRE_OPTIONS=\"name=value,...\" (man quire_alloc).\n");
    return 0;
}

/* DIR/QUIRE_RUN_LIBDIR/QUIRE_RUN_SONAME, DIR being the directory of the running quire. */
static int installed_library(char *buf, size_t cap) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return QUIRE_ENOENT;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return QUIRE_ENOENT;
    *slash = 0;
    const char *sep = QUIRE_RUN_LIBDIR[0] == '/' ? "" : "/";
    const char *dir = QUIRE_RUN_LIBDIR[0] == '/' ? "" : exe;
    int len = snprintf(buf, cap, "%s%s%s/%s", dir, sep, QUIRE_RUN_LIBDIR, QUIRE_RUN_SONAME);
    if (len < 0 || (size_t)len >= cap) return QUIRE_ERANGE;
    return access(buf, R_OK) == 0 ? 0 : QUIRE_ENOENT;
}

int q_cmd_run(int argc, char **argv) {
    unsigned flags = 0;
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--stats"))
            flags |= QUIRE_EXEC_STATS;
        else if (!strcmp(argv[i], "--verbose"))
            flags |= QUIRE_EXEC_VERBOSE;
        else if (!strcmp(argv[i], "--leaks"))
            flags |= QUIRE_EXEC_LEAKS;
        else if (!strcmp(argv[i], "--prof"))
            flags |= QUIRE_EXEC_PROF;
        else if (q_cli_is_help(argv[i]))
            return usage();
        else if (!strcmp(argv[i], "--")) {
            i++;
            break;
        } else if (argv[i][0] == '-')
            return q_cli_usage_error("run", "unknown option", argv[i]);
        else
            break;
    }
    if (i >= argc) return q_cli_usage_error("run", "missing PROGRAM", NULL);
    char lib[4096];
    if (quire_alloc_library_path(lib, sizeof lib) != 0 && installed_library(lib, sizeof lib) != 0) {
        fprintf(stderr,
                "quire run: libquire.so not found next to the quire binary, in ../lib, nor "
                "in %s (%s)\n",
                QUIRE_RUN_LIBDIR, QUIRE_RUN_SONAME);
        return 127;
    }
    fflush(NULL);
    int rc = quire_alloc_exec(lib, argv + i, flags);
    fprintf(stderr, "quire run: %s: %s\n", argv[i], quire_strerror(rc));
    return 127;
}
