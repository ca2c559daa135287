/*
 * tools/cli.h - shared declarations of the `quire` command-line tool.
 *
 * Conventions every command follows (tests/scripts/cli_help.sh checks them):
 *   - `quire CMD --help` (or -h) and `quire help CMD` print CMD's usage on stdout, exit 0;
 *   - a usage error (unknown option or subcommand, missing or extra operand) prints one line on
 *     stderr that names the offending word, then exits with status 2;
 *   - a failure of the work itself exits with status 1 (quire run: the program's own status).
 */
#ifndef QUIRE_TOOLS_CLI_H
#define QUIRE_TOOLS_CLI_H

#define QUIRE_COMMAND(name, fn, summary) int fn(int argc, char **argv);
#include "tools/commands.def"
#undef QUIRE_COMMAND

/* Prints "quire CMD: WHAT: quire_strerror(err)" on stderr. Returns 1 (exit status). */
int q_cli_fail(const char *cmd, const char *what, int err);

/* Prints "quire CMD: MSG 'WORD' (see quire CMD --help)" on stderr, or without the quoted word
   when word is NULL. Returns 2 (exit status of a usage error). */
int q_cli_usage_error(const char *cmd, const char *msg, const char *word);

/* 1 when arg asks for help (--help or -h). */
int q_cli_is_help(const char *arg);

#endif
