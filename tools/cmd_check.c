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

int q_cmd_check(int argc, char **argv) {
    if (argc != 2 || argv[1][0] == '-') {
        FILE *out = argc == 2 ? stdout : stderr;
        fprintf(out, "usage: quire check FILE\n\n"
                     "verifies a pager file: both superblock slots, every metadata and protected\n"
                     "page checksum, and the consistency of the free-space map; for a heap file\n"
                     "also the heap: chunk headers, page ownership (no leak), root and names;\n"
                     "exit status 0 only when the file is sound\n");
        return argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0 : 2;
    }
    /* A heap file is checked at both levels; any other pager file at the pager level. */
    struct quire_pheap_report hr;
    memset(&hr, 0, sizeof hr);
    hr.on_problem = on_problem;
    hr.arg = argv[1];
    int rc = quire_pheap_check(argv[1], &hr);
    if (hr.is_heap) {
        if (rc == 0) {
            printf("%s: sound heap (page size %u, pager generation %llu, heap generation %llu, "
                   "%llu chunks, %llu objects, %llu bytes used, %llu names%s)\n",
                   argv[1], hr.pager.stat.page_size, (unsigned long long)hr.pager.stat.generation,
                   (unsigned long long)hr.generation, (unsigned long long)hr.chunks,
                   (unsigned long long)hr.objects, (unsigned long long)hr.bytes_used,
                   (unsigned long long)hr.names,
                   hr.recovery_pending ? "; a crashed commit's undo log awaits the next open" : "");
            return 0;
        }
        printf("%s: NOT sound: %llu heap problem(s), %llu pager problem(s): %s\n", argv[1],
               (unsigned long long)hr.problems, (unsigned long long)hr.pager.problems,
               quire_strerror(rc));
        return 1;
    }
    struct quire_pager_report r = hr.pager;
    if (rc == QUIRE_EMAGIC && hr.pager_rc != QUIRE_EMAGIC) rc = hr.pager_rc;
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
