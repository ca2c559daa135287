/*
 * tests/scripts/real/prog.c - the C program tests/scripts/real_programs.sh compiles with gcc, with
 * and without LD_PRELOAD=libquire.so (the object files and the program's output must be the same).
 * It is real work for the compiler (structs, function pointers, recursion, loops to vectorize) and
 * for malloc when it runs: a hash table of words, a sorted array of records, a sieve and a tree.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char *word;
    unsigned count;
    struct entry *next;
};

struct record {
    uint32_t key;
    double value;
    char name[24];
};

struct tree {
    int value;
    struct tree *left, *right;
};

static uint64_t state = 88172645463325252ull;

static uint64_t next(void) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static unsigned hash(const char *s) {
    unsigned h = 2166136261u;
    while (*s) h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static int cmp_record(const void *a, const void *b) {
    const struct record *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return strcmp(x->name, y->name);
}

static struct tree *insert(struct tree *t, int v) {
    if (!t) {
        t = calloc(1, sizeof *t);
        t->value = v;
        return t;
    }
    if (v < t->value) t->left = insert(t->left, v);
    else t->right = insert(t->right, v);
    return t;
}

static long tree_sum(const struct tree *t, int depth) {
    return t ? (long)t->value * (depth % 5 + 1) + tree_sum(t->left, depth + 1) +
                   tree_sum(t->right, depth + 1)
             : 0;
}

static void tree_free(struct tree *t) {
    if (!t) return;
    tree_free(t->left);
    tree_free(t->right);
    free(t);
}

int main(void) {
    /* Words into a chained hash table that is resized as it fills. */
    size_t nb = 64, n = 0;
    struct entry **tab = calloc(nb, sizeof *tab);
    for (int i = 0; i < 200000; i++) {
        char w[16];
        int len = 1 + (int)(next() % 6);
        for (int k = 0; k < len; k++) w[k] = (char)('a' + next() % 8);
        w[len] = 0;
        unsigned h = hash(w);
        struct entry *e = tab[h % nb];
        while (e && strcmp(e->word, w)) e = e->next;
        if (e) {
            e->count++;
            continue;
        }
        e = malloc(sizeof *e);
        e->word = strdup(w);
        e->count = 1;
        e->next = tab[h % nb];
        tab[h % nb] = e;
        if (++n > nb * 2) {
            size_t nb2 = nb * 4;
            struct entry **t2 = calloc(nb2, sizeof *t2);
            for (size_t b = 0; b < nb; b++)
                for (struct entry *x = tab[b], *nx; x; x = nx) {
                    nx = x->next;
                    x->next = t2[hash(x->word) % nb2];
                    t2[hash(x->word) % nb2] = x;
                }
            free(tab);
            tab = t2;
            nb = nb2;
        }
    }
    unsigned long long weighted = 0;
    for (size_t b = 0; b < nb; b++)
        for (struct entry *x = tab[b], *nx; x; x = nx) {
            nx = x->next;
            weighted += (unsigned long long)x->count * hash(x->word);
            free(x->word);
            free(x);
        }
    free(tab);
    printf("words: %zu distinct, weighted %llu\n", n, weighted);

    /* Records sorted, grown with realloc. */
    struct record *r = NULL;
    size_t nr = 0, cap = 0;
    for (int i = 0; i < 300000; i++) {
        if (nr == cap) {
            cap = cap ? cap * 2 : 16;
            r = realloc(r, cap * sizeof *r);
        }
        r[nr].key = (uint32_t)(next() % 50000);
        r[nr].value = (double)(next() % 1000000) / 1000.0;
        snprintf(r[nr].name, sizeof r[nr].name, "r%llu", (unsigned long long)(next() % 100000));
        nr++;
    }
    qsort(r, nr, sizeof *r, cmp_record);
    double acc = 0;
    for (size_t i = 0; i < nr; i += 97) acc += r[i].value * (double)(i % 13);
    printf("records: first %u/%s last %u/%s acc %.3f\n", r[0].key, r[0].name, r[nr - 1].key,
           r[nr - 1].name, acc);
    free(r);

    /* A sieve. */
    size_t lim = 5000000;
    unsigned char *comp = calloc(lim + 1, 1);
    size_t primes = 0;
    unsigned long long psum = 0;
    for (size_t i = 2; i <= lim; i++) {
        if (comp[i]) continue;
        primes++;
        psum += i;
        for (size_t j = i * i; j <= lim; j += i) comp[j] = 1;
    }
    free(comp);
    printf("primes below %zu: %zu, sum %llu\n", lim, primes, psum);

    /* A binary tree, built and freed a few times. */
    for (int round = 0; round < 3; round++) {
        struct tree *t = NULL;
        for (int i = 0; i < 100000; i++) t = insert(t, (int)(next() % 1000000));
        printf("tree %d: %ld\n", round, tree_sum(t, 0));
        tree_free(t);
    }
    return 0;
}
