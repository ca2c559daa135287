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

static int usage(FILE *out) {
    fprintf(out, "usage: quire pager create FILE [--page-size N]\n"
                 "       quire pager info FILE\n\n"
                 "create  makes a new, empty pager file (page size: a power of two from 1024 to\n"
                 "        65536, default 4096); fails if FILE exists\n"
                 "info    prints the page size, page counts, generation and superblock slots\n");
    return out == stdout ? 0 : 2;
}

static int create(int argc, char **argv) {
    const char *file = NULL;
    unsigned long ps = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--page-size") && i + 1 < argc) {
            char *end;
            ps = strtoul(argv[++i], &end, 0);
            if (*end || ps > UINT32_MAX) return q_cli_fail("pager", argv[i], QUIRE_EPAGESIZE);
        } else if (!strncmp(argv[i], "--page-size=", 12)) {
            char *end;
            ps = strtoul(argv[i] + 12, &end, 0);
            if (*end || ps > UINT32_MAX) return q_cli_fail("pager", argv[i], QUIRE_EPAGESIZE);
        } else if (argv[i][0] == '-' || file) {
            return usage(stderr);
        } else {
            file = argv[i];
        }
    }
    if (!file) return usage(stderr);
    if (ps == 0) ps = QUIRE_PAGER_DEFAULT_PAGE_SIZE;
    quire_pager *p;
    int rc = quire_pager_create(file, (uint32_t)ps, &p);
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
    printf("file:            %s (%llu bytes)\n", file, (unsigned long long)r.file_size);
    for (int i = 0; i < 2; i++) {
        if (r.slot_valid[i])
            printf("superblock %d:    valid, generation %llu%s\n", i,
                   (unsigned long long)r.slot_generation[i],
                   r.chosen_slot == i ? " (current)" : "");
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
    printf("status:          %s\n", rc == 0 ? "sound" : quire_strerror(rc));
    return rc ? 1 : 0;
}

int q_cmd_pager(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
        return usage(argc < 2 ? stderr : stdout);
    if (!strcmp(argv[1], "create")) return create(argc - 2, argv + 2);
    if (!strcmp(argv[1], "info") && argc == 3) return info(argv[2]);
    return usage(stderr);
}
