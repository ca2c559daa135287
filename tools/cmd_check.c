/*
 * tools/cmd_check.c - `quire check FILE`: verifies a pager file (every checksum, the free-space
 * map against every structure that owns pages, the counters). Exit status 0 only when the file
 * is sound, 1 when a problem was found or the file cannot be opened, 2 on usage errors.
 * Heap files (quire/pheap.h) are verified at the heap level too (quire_pheap_check, which runs
 * quire_pager_check first); the work is in the library, and this command stays thin.
 */
#include <stdio.h>
#include <string.h>

#include "quire/pager.h"
#include "quire/pheap.h"
#include "tools/cli.h"

static void on_problem(void *arg, const char *msg) {
    const char *file = arg;
    printf("%s: %s\n", file, msg);
}

static int usage(void) {
    printf("usage: quire check [--] FILE\n\n"
           "verifies a pager file: both superblock slots, every metadata and protected\n"
           "page checksum, and the consistency of the free-space map; for a heap file\n"
           "also the heap: chunk headers, page ownership (no leak), root and names;\n"
           "exit status 0 only when the file is sound, 1 when it is not, 2 on usage errors\n");
    return 0;
}

int q_cmd_check(int argc, char **argv) {
    char *file = NULL;
    int opts = 1;
    for (int i = 1; i < argc; i++) {
        if (opts && q_cli_is_help(argv[i])) return usage();
        if (opts && !strcmp(argv[i], "--")) {
            opts = 0;
        } else if (opts && argv[i][0] == '-' && argv[i][1]) {
            return q_cli_usage_error("check", "unknown option", argv[i]);
        } else if (file) {
            return q_cli_usage_error("check", "unexpected argument", argv[i]);
        } else {
            file = argv[i];
        }
    }
    if (!file) return q_cli_usage_error("check", "missing FILE", NULL);
    /* A heap file is checked at both levels; any other pager file at the pager level. */
    struct quire_pheap_report hr;
    memset(&hr, 0, sizeof hr);
    hr.on_problem = on_problem;
    hr.arg = file;
    int rc = quire_pheap_check(file, &hr);
    if (hr.is_heap) {
        if (rc == 0) {
            printf("%s: sound heap (page size %u, pager generation %llu, heap generation %llu, "
                   "%llu chunks, %llu objects, %llu bytes used, %llu names%s)\n",
                   file, hr.pager.stat.page_size, (unsigned long long)hr.pager.stat.generation,
                   (unsigned long long)hr.generation, (unsigned long long)hr.chunks,
                   (unsigned long long)hr.objects, (unsigned long long)hr.bytes_used,
                   (unsigned long long)hr.names,
                   hr.recovery_pending ? "; a crashed commit's undo log awaits the next open" : "");
            return 0;
        }
        printf("%s: NOT sound: %llu heap problem(s), %llu pager problem(s): %s\n", file,
               (unsigned long long)hr.problems, (unsigned long long)hr.pager.problems,
               quire_strerror(rc));
        return 1;
    }
    struct quire_pager_report r = hr.pager;
    if (rc == QUIRE_EMAGIC && hr.pager_rc != QUIRE_EMAGIC) rc = hr.pager_rc;
    if (rc == 0) {
        printf("%s: sound (page size %u, generation %llu, %llu pages, %llu regular, %llu "
               "protected, %llu sub-page slots)\n",
               file, r.stat.page_size, (unsigned long long)r.stat.generation,
               (unsigned long long)r.stat.page_count, (unsigned long long)r.stat.regular_pages,
               (unsigned long long)r.stat.protected_pages,
               (unsigned long long)r.stat.subpage_slots);
        return 0;
    }
    printf("%s: NOT sound: %llu problem(s): %s\n", file, (unsigned long long)r.problems,
           quire_strerror(rc));
    return 1;
}
