/*
 * tools/cmd_check.c - `quire check FILE`: verifies a pager file (every checksum, the free-space
 * map against every structure that owns pages, the counters). Exit status 0 only when the file
 * is sound, 1 when a problem was found or the file cannot be opened, 2 on usage errors.
 * The work is quire_pager_check(); a later persistent heap extends the library function, and
 * this command stays thin.
 */
#include <stdio.h>
#include <string.h>

#include "quire/pager.h"
#include "tools/cli.h"

static void on_problem(void *arg, const char *msg) {
    const char *file = arg;
    printf("%s: %s\n", file, msg);
}

int q_cmd_check(int argc, char **argv) {
    if (argc != 2 || argv[1][0] == '-') {
        FILE *out = argc == 2 ? stdout : stderr;
        fprintf(out, "usage: quire check FILE\n\n"
                     "verifies a pager file: both superblock slots, every metadata and protected\n"
                     "page checksum, and the consistency of the free-space map; exit status 0\n"
                     "only when the file is sound\n");
        return argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0 : 2;
    }
    struct quire_pager_report r;
    memset(&r, 0, sizeof r);
    r.on_problem = on_problem;
    r.arg = argv[1];
    int rc = quire_pager_check(argv[1], &r);
    if (rc == 0) {
        printf("%s: sound (page size %u, generation %llu, %llu pages, %llu regular, %llu "
               "protected, %llu sub-page slots)\n",
               argv[1], r.stat.page_size, (unsigned long long)r.stat.generation,
               (unsigned long long)r.stat.page_count, (unsigned long long)r.stat.regular_pages,
               (unsigned long long)r.stat.protected_pages,
               (unsigned long long)r.stat.subpage_slots);
        return 0;
    }
    printf("%s: NOT sound: %llu problem(s): %s\n", argv[1], (unsigned long long)r.problems,
           quire_strerror(rc));
    return 1;
}
