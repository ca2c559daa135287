/*
 * tools/cli.h - shared declarations of the `quire` command-line tool.
 */
#ifndef QUIRE_TOOLS_CLI_H
#define QUIRE_TOOLS_CLI_H

#define QUIRE_COMMAND(name, fn, summary) int fn(int argc, char **argv);
#include "tools/commands.def"
#undef QUIRE_COMMAND

/* Prints "quire NAME: MSG: quire_strerror(err)" on stderr. Returns 1 (exit status). */
int q_cli_fail(const char *cmd, const char *what, int err);

#endif
