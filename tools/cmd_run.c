/*
 * tools/cmd_run.c - `quire run [--stats] [--verbose] [--] PROGRAM [ARGS...]`:
 * runs a program with quire's malloc preloaded.
 *
 * quire_alloc_exec() does the work: libquire.so beside the quire binary (or in
 * ../lib for an installed copy) goes first in LD_PRELOAD, --stats sets
 * QUIRE_STATS=1 and --verbose QUIRE_VERBOSE=1, and the quire process becomes
 * PROGRAM (searched in PATH), so its exit status and signals are PROGRAM's own.
 * When PROGRAM cannot be run, quire says why and exits with status 127.
 */
#include <stdio.h>
#include <string.h>

#include "quire/alloc.h"
#include "quire/error.h"
#include "tools/cli.h"

static int usage(FILE *out) {
    fprintf(out, "usage: quire run [--stats] [--verbose] [--] PROGRAM [ARGS...]\n\n"
                 "Runs PROGRAM with quire's malloc (libquire.so) preloaded: quire becomes\n"
                 "PROGRAM, so the exit status is PROGRAM's (127 when it cannot be run).\n"
                 "  --stats     print quire's allocation statistics on stderr at exit\n"
                 "  --verbose   report unusual allocator events (mapping failures, "
                 "purges)\n");
    return out == stdout ? 0 : 2;
}

int q_cmd_run(int argc, char **argv) {
    unsigned flags = 0;
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--stats"))
            flags |= QUIRE_EXEC_STATS;
        else if (!strcmp(argv[i], "--verbose"))
            flags |= QUIRE_EXEC_VERBOSE;
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
    if (quire_alloc_library_path(lib, sizeof lib) != 0) {
        fprintf(stderr, "quire run: libquire.so not found next to the quire binary\n");
        return 127;
    }
    fflush(NULL);
    int rc = quire_alloc_exec(lib, argv + i, flags);
    fprintf(stderr, "quire run: %s: %s\n", argv[i], quire_strerror(rc));
    return 127;
}
