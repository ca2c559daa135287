/*
 * pages/launch.c - quire_alloc_exec() and quire_alloc_library_path() (declared in quire/alloc.h):
 * replace the calling process with a program that runs on quire's malloc (libquire.so first in
 * LD_PRELOAD), the engine of `quire run`; and the system calls that takes (pages/launch.h).
 *
 * The library is the one given, or the libquire.so beside the calling executable (DIR/, then
 * DIR/../lib/ for an installed copy). The process is replaced rather than forked and waited for,
 * so the program's exit status and the signals that reach it are its own, as with `env` or
 * `nice`. Not for use inside malloc: setenv() allocates. It lives in pages/ (the OS layer), not
 * in the malloc engine, which it does not use.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pages/launch.h"
#include "pages/prim.h"
#include "quire/alloc.h"

/* ---------------------------------------------------------------------------------------------
 * The system calls (pages/launch.h)
 * ------------------------------------------------------------------------------------------- */

int q_launch_self_exe(char *buf, size_t cap) {
    if (!buf || cap < 2) return QUIRE_EINVAL;
    ssize_t n = readlink("/proc/self/exe", buf, cap);
    if (n < 0) return q_os_error(errno);
    if ((size_t)n >= cap) return QUIRE_ERANGE;
    buf[n] = 0;
    return 0;
}

int q_launch_readable(const char *path) {
    return access(path, R_OK) == 0 ? 0 : q_os_error(errno);
}

int q_launch_setenv(const char *name, const char *value) {
    int r = value ? setenv(name, value, 1) : unsetenv(name);
    return r == 0 ? 0 : q_os_error(errno);
}

int q_launch_execvp(char *const argv[]) {
    execvp(argv[0], argv);
    return q_os_error(errno);
}

/* ---------------------------------------------------------------------------------------------
 * quire_alloc_library_path, quire_alloc_exec
 * ------------------------------------------------------------------------------------------- */

int quire_alloc_library_path(char *buf, size_t cap) {
    if (!buf || !cap) return QUIRE_EINVAL;
    char exe[4096];
    if (q_launch_self_exe(exe, sizeof exe) != 0) return QUIRE_ENOENT;
    char *slash = strrchr(exe, '/');
    if (!slash) return QUIRE_ENOENT;
    *slash = 0;
    static const char *const cands[] = {"/libquire.so", "/../lib/libquire.so"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        size_t el = strlen(exe), cl = strlen(cands[i]);
        if (el + cl + 1 > cap) return QUIRE_ERANGE;
        memcpy(buf, exe, el);
        memcpy(buf + el, cands[i], cl + 1);
        if (q_launch_readable(buf) == 0) return 0;
    }
    return QUIRE_ENOENT;
}

/* An environment variable's value before quire_alloc_exec() changed it: a copy on the heap
   (getenv's pointer may not survive setenv), NULL when the variable was unset. */
struct saved {
    const char *name;
    char *value;
};

static int save(struct saved *sv, const char *name) {
    const char *v = q_os_getenv(name);
    sv->name = name;
    sv->value = NULL;
    if (v && !(sv->value = strdup(v))) return QUIRE_ENOMEM;
    return 0;
}

/* Puts the variable back as it was and frees the copy. */
static void restore(struct saved *sv) {
    (void)q_launch_setenv(sv->name, sv->value);
    free(sv->value);
    sv->value = NULL;
}

int quire_alloc_exec(const char *lib, char *const argv[], unsigned flags) {
    const unsigned known =
        QUIRE_EXEC_STATS | QUIRE_EXEC_VERBOSE | QUIRE_EXEC_LEAKS | QUIRE_EXEC_PROF;
    if (!argv || !argv[0] || !argv[0][0] || (flags & ~known)) return QUIRE_EINVAL;
    char found[4096];
    int rc;
    if (!lib) {
        if ((rc = quire_alloc_library_path(found, sizeof found))) return rc;
        lib = found;
    } else if ((rc = q_launch_readable(lib))) {
        return rc;
    }
    enum { NV = 5 };
    struct saved sv[NV] = {{0}};
    static const char *const names[NV] = {"LD_PRELOAD", "QUIRE_STATS", "QUIRE_VERBOSE",
                                          "QUIRE_LEAKS", "QUIRE_PROF"};
    for (int i = 0; i < NV && !rc; i++) rc = save(&sv[i], names[i]);
    /* LD_PRELOAD = lib[:previous value] */
    size_t ll = strlen(lib), ol = sv[0].value ? strlen(sv[0].value) : 0;
    char *pre = rc ? NULL : malloc(ll + 1 + ol + 1);
    if (!rc && !pre) rc = QUIRE_ENOMEM;
    if (rc) {
        for (int i = 0; i < NV; i++) free(sv[i].value);
        return rc;
    }
    memcpy(pre, lib, ll);
    pre[ll] = 0;
    if (ol) {
        pre[ll] = ':';
        memcpy(pre + ll + 1, sv[0].value, ol + 1);
    }
    rc = q_launch_setenv("LD_PRELOAD", pre);
    if (!rc && (flags & QUIRE_EXEC_STATS)) rc = q_launch_setenv("QUIRE_STATS", "1");
    if (!rc && (flags & QUIRE_EXEC_VERBOSE)) rc = q_launch_setenv("QUIRE_VERBOSE", "1");
    if (!rc && (flags & QUIRE_EXEC_LEAKS)) rc = q_launch_setenv("QUIRE_LEAKS", "1");
    if (!rc && (flags & QUIRE_EXEC_PROF)) rc = q_launch_setenv("QUIRE_PROF", "1");
    free(pre); /* setenv copied it */
    if (!rc) rc = q_launch_execvp(argv);
    /* Still here: the program could not be started. Leave the environment as it was. */
    for (int i = 0; i < NV; i++) restore(&sv[i]);
    return rc;
}
