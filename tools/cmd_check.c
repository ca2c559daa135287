/*
 * tools/cmd_check.c - `quire check FILE`: verifies a pager file (every checksum, the free-space
 * map against every structure that owns pages, the counters, what the last commit wrote). Heap
 * files (quire/pheap.h) are verified at the heap level too (quire_pheap_check, which runs
 * quire_pager_check first); the work is in the library, and this command stays thin: it turns
 * the result into one message and one exit status per outcome (listed in its --help).
 */
#include <stdio.h>
#include <string.h>

#include "quire/pager.h"
#include "quire/pheap.h"
#include "tools/cli.h"

/* Exit statuses, one per outcome. */
enum {
    CHECK_SOUND = 0,    /* no problem, no warning */
    CHECK_DAMAGED = 1,  /* problems found, or structures too damaged to open */
    CHECK_USAGE = 2,    /* usage error (every command's) */
    CHECK_WARNINGS = 3, /* sound, but a superblock slot is invalid or a commit was rolled back */
    CHECK_NOFILE = 4,   /* cannot read the file: missing, permission, I/O error */
    CHECK_BUSY = 5,     /* held by a writer */
    CHECK_FOREIGN = 6,  /* not a quire file (or a format version this quire does not read) */
};

static void on_problem(void *arg, const char *msg) {
    const char *file = arg;
    printf("%s: %s\n", file, msg);
}

static int usage(void) {
    printf("usage: quire check [--] FILE\n\n"
           "verifies a pager file: both superblock slots, every metadata and protected\n"
           "page checksum, every page the last commit wrote, and the consistency of the\n"
           "free-space map; for a heap file also the heap: chunk headers, page ownership\n"
           "(no leak), root and names. A file a writer has open is checked as a reader:\n"
           "the snapshot of the writer's latest commit, while it goes on committing\n\n"
           "exit status:\n"
           "  0  sound\n"
           "  1  NOT sound: problems found (each printed), or structures too damaged to open\n"
           "  2  usage error\n"
           "  3  sound, with warnings: a superblock slot does not validate, or the newest\n"
           "     commit was rolled back to the one before (a crash during a commit, or damage)\n"
           "  4  cannot read FILE (no such file, permission denied, I/O error)\n"
           "  5  busy: FILE is held by a writer and no lock file can be made beside it\n"
           "  6  not a quire file (or a format version this quire does not read)\n");
    return 0;
}

/* A failure to open the file at all: its message and status, or -1 when rc means damage. */
static int open_failure(const char *file, int rc) {
    switch (rc) {
    case QUIRE_ENOENT:
        printf("%s: no such file\n", file);
        return CHECK_NOFILE;
    case QUIRE_EACCES:
    case QUIRE_EPERM:
    case QUIRE_EIO:
    case QUIRE_EOS:
    case QUIRE_EMFILE:
        printf("%s: cannot read: %s\n", file, quire_strerror(rc));
        return CHECK_NOFILE;
    case QUIRE_EBUSY:
        printf("%s: busy: held by a writer\n", file);
        return CHECK_BUSY;
    case QUIRE_EMAGIC:
        printf("%s: not a quire file (bad magic)\n", file);
        return CHECK_FOREIGN;
    case QUIRE_EVERSION:
        printf("%s: a quire file of a format version this quire does not read\n", file);
        return CHECK_FOREIGN;
    default:
        return -1;
    }
}

/* The warnings of a pager report, one line each; returns how many. */
static int warnings(const char *file, const struct quire_pager_report *r) {
    int n = 0;
    for (int i = 0; i < 2; i++) {
        if (r->slot_valid[i]) continue;
        n++;
        if (r->rolled_back && i != r->chosen_slot)
            printf("%s: warning: the newest commit (superblock slot %d, generation %llu) does "
                   "not validate (%s): rolled back to generation %llu (a crash during that "
                   "commit, or damage)\n",
                   file, i, (unsigned long long)r->slot_generation[i],
                   quire_strerror(r->slot_error[i]), (unsigned long long)r->stat.generation);
        else
            printf("%s: warning: superblock slot %d does not validate (%s); slot %d is used\n",
                   file, i, quire_strerror(r->slot_error[i]), r->chosen_slot);
    }
    return n;
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
    const struct quire_pager_report *r = &hr.pager;
    if (!hr.is_heap && rc == QUIRE_EMAGIC && hr.pager_rc != QUIRE_EMAGIC) rc = hr.pager_rc;
    if (r->chosen_slot < 0) { /* the pager level could not open it */
        int st = open_failure(file, rc);
        if (st >= 0) return st;
    }
    if (rc && rc != QUIRE_ECHECKSUM) {
        int st = open_failure(file, rc);
        if (st >= 0) return st;
        printf("%s: NOT sound: %s\n", file, quire_strerror(rc));
        return CHECK_DAMAGED;
    }
    if (rc) {
        printf("%s: NOT sound: %llu problem(s)%s\n", file,
               (unsigned long long)(hr.problems + r->problems),
               hr.is_heap ? " (heap and pager levels)" : "");
        return CHECK_DAMAGED;
    }
    int warned = warnings(file, r);
    if (r->live)
        printf("%s: in use by a writer: checked its commit of generation %llu as a reader\n", file,
               (unsigned long long)r->stat.generation);
    if (hr.is_heap)
        printf("%s: sound heap%s (page size %u, pager generation %llu, heap generation %llu, "
               "%llu chunks, %llu objects, %llu bytes used, %llu names)\n",
               file, warned ? ", with warnings" : "", r->stat.page_size,
               (unsigned long long)r->stat.generation, (unsigned long long)hr.generation,
               (unsigned long long)hr.chunks, (unsigned long long)hr.objects,
               (unsigned long long)hr.bytes_used, (unsigned long long)hr.names);
    else
        printf("%s: sound%s (page size %u, generation %llu, %llu pages, %llu regular, %llu "
               "protected, %llu sub-page slots)\n",
               file, warned ? ", with warnings" : "", r->stat.page_size,
               (unsigned long long)r->stat.generation, (unsigned long long)r->stat.page_count,
               (unsigned long long)r->stat.regular_pages,
               (unsigned long long)r->stat.protected_pages,
               (unsigned long long)r->stat.subpage_slots);
    return warned ? CHECK_WARNINGS : CHECK_SOUND;
}
