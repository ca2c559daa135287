/*
 * tools/quire.c - the `quire` command-line tool: dispatches to the subcommands listed in
 * tools/commands.def. `quire --help` lists them; `quire help CMD` or `quire CMD --help` shows a
 * subcommand's own usage. An unknown command or option is named on stderr, exit status 2.
 */
#include <stdio.h>
#include <string.h>

#include "quire/error.h"
#include "tools/cli.h"

struct command {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
};

static const struct command commands[] = {
#define QUIRE_COMMAND(name, fn, summary) {name, fn, summary},
#include "tools/commands.def"
#undef QUIRE_COMMAND
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const struct command *find(const char *name) {
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(name, commands[i].name)) return &commands[i];
    return NULL;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: quire COMMAND [ARGS...]\n\n"
            "quire %s - memory-management toolkit: malloc drop-in, crash-safe pager,\n"
            "persistent heap, typed pages.\n\ncommands:\n",
            quire_version());
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n  --help       this text (quire help CMD or quire CMD --help: a command's)\n"
                 "  --version    same as `quire version`\n\nSee quire(1).\n");
}

int q_cli_fail(const char *cmd, const char *what, int err) {
    fprintf(stderr, "quire %s: %s: %s\n", cmd, what, quire_strerror(err));
    return 1;
}

int q_cli_usage_error(const char *cmd, const char *msg, const char *word) {
    if (word)
        fprintf(stderr, "quire %s: %s '%s' (see quire %s --help)\n", cmd, msg, word, cmd);
    else
        fprintf(stderr, "quire %s: %s (see quire %s --help)\n", cmd, msg, cmd);
    return 2;
}

int q_cli_is_help(const char *arg) {
    return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

int q_cmd_version(int argc, char **argv) {
    if (argc > 1 && q_cli_is_help(argv[1])) {
        printf("usage: quire version\n\nprints the version of the quire library the tool was "
               "built with, as \"quire X.Y.Z\"\n");
        return 0;
    }
    if (argc > 1)
        return q_cli_usage_error(
            "version", argv[1][0] == '-' ? "unknown option" : "unexpected argument", argv[1]);
    printf("quire %s\n", quire_version());
    return 0;
}

int q_cmd_help(int argc, char **argv) {
    if (argc < 2) {
        usage(stdout);
        return 0;
    }
    if (q_cli_is_help(argv[1])) {
        printf("usage: quire help [COMMAND]\n\nshows the usage of COMMAND (the same as quire "
               "COMMAND --help), or quire's\nlist of commands\n");
        return 0;
    }
    if (argc > 2) return q_cli_usage_error("help", "unexpected argument", argv[2]);
    const struct command *c = find(argv[1]);
    if (!c)
        return q_cli_usage_error("help", argv[1][0] == '-' ? "unknown option" : "unknown command",
                                 argv[1]);
    char help[] = "--help";
    char *sub[] = {argv[1], help, NULL};
    return c->fn(2, sub);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (q_cli_is_help(cmd)) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) cmd = "version";
    const struct command *c = find(cmd);
    if (c) return c->fn(argc - 1, argv + 1);
    if (cmd[0] == '-')
        fprintf(stderr, "quire: unknown option '%s' (see quire --help)\n", cmd);
    else
        fprintf(stderr, "quire: unknown command '%s' (see quire --help)\n", cmd);
    return 2;
}
