/*
 * pages/launch.h - starting a program on quire's malloc (quire_alloc_exec, the engine of
 * `quire run`): the system calls it needs, kept apart from pages/prim.h because they may
 * allocate (setenv; exec replaces the process), which the primitives' contract forbids. Only
 * pages/launch.c calls exec, setenv, readlink and access; nothing inside malloc may use these.
 * Results as in prim.h: 0 or a negative QUIRE_E* code.
 */
#ifndef QUIRE_PAGES_LAUNCH_H
#define QUIRE_PAGES_LAUNCH_H

#include <stddef.h>

/* The path of the running executable (readlink /proc/self/exe), NUL-terminated in buf.
 * Errors: QUIRE_EINVAL, QUIRE_ERANGE (longer than cap - 1), or the readlink error. */
int q_launch_self_exe(char *buf, size_t cap);
/* 0 when path names a file this process may read (access R_OK), else the error. */
int q_launch_readable(const char *path);
/* setenv(3), replacing any value; value NULL: unsetenv(3). Errors: QUIRE_EINVAL, QUIRE_ENOMEM. */
int q_launch_setenv(const char *name, const char *value);
/* execvp(3): replaces the process; returns only on failure, with the error. */
int q_launch_execvp(char *const argv[]);

#endif
