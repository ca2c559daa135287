/*
 * tools/cmd_pager.c - `quire pager create FILE [--page-size N]` and `quire pager info FILE`.
 *
 * A thin layer over quire/pager.h: create makes an empty pager file; info prints the page size,
 * the page counts, the generation and which superblock slots validate (it uses the checker's
 * report, so it also says whether the file is sound).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quire/pager.h"
#include "tools/cli.h"

static int usage(void) {
    printf("usage: quire pager create FILE [--page-size N]\n"
           "       quire pager info FILE\n\n"
           "create  makes a new, empty pager file (page size: a power of two from 1024 to\n"
           "        65536, default 4096); fails if FILE exists\n"
           "info    prints the page size, page counts, generation and superblock slots\n");
    return 0;
}

/* The page size of "--page-size N" or "--page-size=N" (arg names it in an error); 0 on success,
   else the exit status. */
static int page_size_arg(const char *arg, const char *value, unsigned long *ps) {
    char *end;
    *ps = strtoul(value, &end, 0);
    if (!*value || *end || *ps > UINT32_MAX) return q_cli_fail("pager", arg, QUIRE_EPAGESIZE);
    return 0;
}

/* One operand and no option but those create knows; *file receives the operand. 0 on success,
   else the exit status (a usage error names the offending word). */
static int operand(const char *cmd, int argc, char **argv, const char **file, unsigned long *ps) {
    int opts = 1, rc;
    *file = NULL;
    for (int i = 0; i < argc; i++) {
        if (opts && !strcmp(argv[i], "--")) {
            opts = 0;
        } else if (opts && ps && !strcmp(argv[i], "--page-size")) {
            if (i + 1 >= argc) return q_cli_usage_error(cmd, "missing value of", argv[i]);
            i++;
            if ((rc = page_size_arg(argv[i], argv[i], ps))) return rc;
        } else if (opts && ps && !strncmp(argv[i], "--page-size=", 12)) {
            if ((rc = page_size_arg(argv[i], argv[i] + 12, ps))) return rc;
        } else if (opts && argv[i][0] == '-' && argv[i][1]) {
            return q_cli_usage_error(cmd, "unknown option", argv[i]);
        } else if (*file) {
            return q_cli_usage_error(cmd, "unexpected argument", argv[i]);
        } else {
            *file = argv[i];
        }
    }
    return *file ? 0 : q_cli_usage_error(cmd, "missing FILE", NULL);
}

static int create(int argc, char **argv) {
    const char *file;
    unsigned long ps = 0;
    int rc = operand("pager create", argc, argv, &file, &ps);
    if (rc) return rc;
    if (ps == 0) ps = QUIRE_PAGER_DEFAULT_PAGE_SIZE;
    quire_pager *p;
    rc = quire_pager_create(file, (uint32_t)ps, &p);
    if (rc) return q_cli_fail("pager", file, rc);
    printf("created %s: page size %u, %llu pages\n", file, quire_pager_page_size(p),
           (unsigned long long)quire_pager_page_count(p));
    return quire_pager_close(p) ? 1 : 0;
}

static void on_problem(void *arg, const char *msg) {
    (void)arg;
    printf("  problem: %s\n", msg);
}

static int info(const char *file) {
    struct quire_pager_report r;
    memset(&r, 0, sizeof r);
    r.on_problem = on_problem;
    int rc = quire_pager_check(file, &r);
    /* a file that cannot be read at all: the error alone, no table of zeros */
    if (rc == QUIRE_ENOENT || rc == QUIRE_EACCES || rc == QUIRE_EPERM || rc == QUIRE_EOS)
        return q_cli_fail("pager", file, rc);
    printf("file:            %s (%llu bytes)\n", file, (unsigned long long)r.file_size);
    for (int i = 0; i < 2; i++) {
        if (r.slot_valid[i])
            printf("superblock %d:    valid, generation %llu%s\n", i,
                   (unsigned long long)r.slot_generation[i],
                   r.chosen_slot == i ? " (current)" : "");
        else if (r.rolled_back && i != r.chosen_slot)
            printf("superblock %d:    ROLLED BACK (generation %llu: %s)\n", i,
                   (unsigned long long)r.slot_generation[i], quire_strerror(r.slot_error[i]));
        else
            printf("superblock %d:    INVALID (%s)\n", i, quire_strerror(r.slot_error[i]));
    }
    if (r.chosen_slot < 0) return q_cli_fail("pager", file, rc);
    printf("page size:       %u\n", r.stat.page_size);
    printf("generation:      %llu\n", (unsigned long long)r.stat.generation);
    printf("pages:           %llu\n", (unsigned long long)r.stat.page_count);
    printf("  free:          %llu\n", (unsigned long long)r.stat.free_pages);
    printf("  regular:       %llu\n", (unsigned long long)r.stat.regular_pages);
    printf("  internal:      %llu\n", (unsigned long long)r.stat.internal_pages);
    printf("protected pages: %llu\n", (unsigned long long)r.stat.protected_pages);
    printf("sub-page slots:  %llu\n", (unsigned long long)r.stat.subpage_slots);
    printf("shadow pages:    %llu\n", (unsigned long long)r.stat.shadow_pages);
    /* readers beside the writer (quire/pager.h, "Readers"); this command is one of them */
    printf("writer:          %s\n", r.live ? "open (this is its latest commit)" : "none");
    printf("readers:         %llu (this one included)\n", (unsigned long long)r.stat.readers);
    printf("oldest snapshot: generation %llu%s\n", (unsigned long long)r.stat.oldest_snapshot,
           r.stat.oldest_snapshot < r.stat.generation ? " (holds back reuse)" : "");
    printf("held pages:      %llu (freed or rewritten, kept for older states)\n",
           (unsigned long long)r.stat.held_pages);
    printf("status:          %s\n", rc           ? quire_strerror(rc)
                                    : r.warnings ? "sound, with warnings (see quire check)"
                                                 : "sound");
    return rc ? 1 : 0;
}

int q_cmd_pager(int argc, char **argv) {
    if (argc < 2) return q_cli_usage_error("pager", "missing subcommand (create or info)", NULL);
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (q_cli_is_help(argv[i])) return usage();
    const char *file;
    int rc;
    if (!strcmp(argv[1], "create")) return create(argc - 2, argv + 2);
    if (!strcmp(argv[1], "info"))
        return (rc = operand("pager info", argc - 2, argv + 2, &file, NULL)) ? rc : info(file);
    return q_cli_usage_error("pager", argv[1][0] == '-' ? "unknown option" : "unknown subcommand",
                             argv[1]);
}
