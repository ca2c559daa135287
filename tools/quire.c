/*
 * tools/quire.c - the `quire` command-line tool: dispatches to the subcommands listed in
 * tools/commands.def. `quire --help` lists them; `quire help CMD` or `quire CMD --help` shows a
 * subcommand's own usage.
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

static void usage(FILE *out) {
    fprintf(out,
            "usage: quire COMMAND [ARGS...]\n\n"
            "quire %s - memory-management toolkit: malloc drop-in, crash-safe pager,\n"
            "persistent heap, typed pages.\n\ncommands:\n",
            quire_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n  --help       this text\n  --version    same as `quire version`\n");
}

int q_cli_fail(const char *cmd, const char *what, int err) {
    fprintf(stderr, "quire %s: %s: %s\n", cmd, what, quire_strerror(err));
    return 1;
}

int q_cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("quire %s\n", quire_version());
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        if (argc > 2 && strcmp(cmd, "help") == 0) {
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
                if (!strcmp(argv[2], commands[i].name)) {
                    char *sub[] = {argv[2], "--help", NULL};
                    return commands[i].fn(2, sub);
                }
        }
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) cmd = "version";
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "quire: unknown command '%s' (see quire --help)\n", cmd);
    return 2;
}
