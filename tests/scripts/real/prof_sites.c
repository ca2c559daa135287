/*
 * tests/scripts/real/prof_sites.c - a program with known allocation sites, for
 * tests/scripts/alloc_prof.sh: heavy_site() allocates ten times the bytes of light_site(), and
 * both keep their blocks to the end; leak_big() and leak_small() leak known amounts; no_leak()
 * frees everything. With
 * an argument "signal" it asks for a profile by raising SIGUSR2 mid-run, with "dump" by calling
 * quire_alloc_prof_dump() (found with dlsym: the program does not link quire).
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *volatile sink;
void *volatile keep[50000]; /* escapes: the allocations must happen */
static int nkeep;

__attribute__((noinline)) void heavy_site(void) {
    for (int i = 0; i < 40000; i++) {
        char *p = malloc(2000);
        p[0] = 1;
        keep[nkeep++] = p;
    }
}

__attribute__((noinline)) void light_site(void) {
    for (int i = 0; i < 4000; i++) {
        char *p = malloc(2000);
        p[0] = 1;
        keep[nkeep++] = p;
    }
}

__attribute__((noinline)) void leak_big(void) {
    for (int i = 0; i < 10; i++) {
        char *p = malloc(10000);
        memset(p, 1, 10);
        sink = p;
    }
}

__attribute__((noinline)) void leak_small(void) {
    for (int i = 0; i < 100; i++) {
        char *p = malloc(24);
        p[0] = 1;
        sink = p;
    }
}

__attribute__((noinline)) void no_leak(void) {
    for (int i = 0; i < 1000; i++) {
        char *p = malloc(64);
        p[0] = 1;
        sink = p;
        free(p);
    }
}

int main(int argc, char **argv) {
    heavy_site();
    light_site();
    if (argc > 2 && strcmp(argv[1], "signal") == 0) {
        raise(SIGUSR2);
        printf("profile after the signal: %s\n", access(argv[2], R_OK) == 0 ? "yes" : "no");
    }
    if (argc > 2 && strcmp(argv[1], "dump") == 0) {
        int (*dump)(const char *) =
            (int (*)(const char *))dlsym(RTLD_DEFAULT, "quire_alloc_prof_dump");
        printf("dump: %d\n", dump ? dump(argv[2]) : -1);
    }
    leak_big();
    leak_small();
    no_leak();
    printf("done\n");
    return 0;
}
