/*
 * alloc/options.c - the engine's options: one string, QUIRE_OPTIONS="name=value,...", beside
 * one variable per option (QUIRE_STATS, QUIRE_PURGE_DELAY_MS, ...), read once at start-up
 * without allocating, and read or changed at run time through quire_alloc_option_get/_set.
 *
 * QUIRE_OPTIONS is applied first, then the single variables, which override it. Nothing is
 * ignored without a word: an unknown option, a bad value, or a QUIRE_ variable that looks like a
 * misspelt one (QUIRE_STAT) is reported once on stderr at start-up, naming it - with the name it
 * probably meant - and the default stays. Booleans take 1/0, yes/no, true/false, on/off; sizes
 * take a K, M or G suffix. verbose=1 prints a one-line banner with the options in effect.
 *
 * The option table below is the one list of options: the parser, the banner, the getter and
 * setter and the documentation of alloc.h follow it.
 */
#include <string.h>

#include "alloc/internal.h"

enum opt_type { T_BOOL, T_INT, T_SIZE, T_ENUM, T_PATH };

struct opt_def {
    const char *name;         /* in QUIRE_OPTIONS and the run-time API */
    const char *env;          /* its own variable */
    enum opt_type type;       /* how its value is written */
    const char *const *names; /* T_ENUM (and T_BOOL extras): the value names, index = value */
    int runtime;              /* may change after start-up */
};

static const char *const stats_names[] = {"off", "text", "json", NULL};
static const char *const purge_names[] = {"dontneed", "free", NULL};
static const char *const guards_names[] = {"auto", "mprotect", NULL};

enum {
    O_SECURE,
    O_STATS,
    O_STATS_FILE,
    O_VERBOSE,
    O_PURGE_DELAY,
    O_PURGE,
    O_GUARDS,
    O_LEAKS,
    O_PROF,
    O_PROF_INTERVAL,
    O_PROF_FILE,
    O_PROF_SIGNAL,
    O_COUNT
};

static const struct opt_def opts[O_COUNT] = {
    [O_SECURE] = {"secure", "QUIRE_SECURE", T_BOOL, NULL, 0},
    [O_STATS] = {"stats", "QUIRE_STATS", T_ENUM, stats_names, 1},
    [O_STATS_FILE] = {"stats_file", "QUIRE_STATS_FILE", T_PATH, NULL, 1},
    [O_VERBOSE] = {"verbose", "QUIRE_VERBOSE", T_BOOL, NULL, 1},
    [O_PURGE_DELAY] = {"purge_delay_ms", "QUIRE_PURGE_DELAY_MS", T_INT, NULL, 1},
    [O_PURGE] = {"purge", "QUIRE_PURGE", T_ENUM, purge_names, 1},
    [O_GUARDS] = {"guards", "QUIRE_GUARDS", T_ENUM, guards_names, 0},
    [O_LEAKS] = {"leaks", "QUIRE_LEAKS", T_BOOL, NULL, 0},
    [O_PROF] = {"prof", "QUIRE_PROF", T_BOOL, NULL, 0},
    [O_PROF_INTERVAL] = {"prof_interval", "QUIRE_PROF_INTERVAL", T_SIZE, NULL, 1},
    [O_PROF_FILE] = {"prof_file", "QUIRE_PROF_FILE", T_PATH, NULL, 1},
    [O_PROF_SIGNAL] = {"prof_signal", "QUIRE_PROF_SIGNAL", T_INT, NULL, 0},
};

/* Variables that are quire's but not the engine's options (never reported as misspelt). */
static const char *const other_vars[] = {"QUIRE_OPTIONS", NULL};

/* ---------------------------------------------------------------------------------------------
 * Messages (written without allocating)
 * ------------------------------------------------------------------------------------------- */

static void say(const char *a, const char *b, const char *c, const char *d, const char *e) {
    char buf[256];
    size_t n = 0;
    q_write_str(buf, &n, "quire: ");
    const char *parts[] = {a, b, c, d, e};
    for (int i = 0; i < 5; i++)
        if (parts[i]) q_write_str(buf, &n, parts[i]);
    q_write_str(buf, &n, "\n");
    q_os_write_all(2, buf, n);
}

/* Edit distance of two short strings (capped at 9; case-insensitive), for "did you mean". */
static unsigned distance(const char *a, size_t la, const char *b, size_t lb) {
    enum { M = 32 };
    if (la >= M || lb >= M) return 9;
    unsigned d[M][M];
    for (size_t i = 0; i <= la; i++) d[i][0] = (unsigned)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            char x = a[i - 1], y = b[j - 1];
            if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
            if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
            unsigned best = d[i - 1][j - 1] + (x != y);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb] < 9 ? d[la][lb] : 9;
}

/* The option whose name (env: variable) is nearest to s[0..n), if near enough, or -1. */
static int nearest(const char *s, size_t n, int env) {
    int best = -1;
    unsigned bd = 3;
    for (int i = 0; i < O_COUNT; i++) {
        const char *name = env ? opts[i].env : opts[i].name;
        unsigned d = distance(s, n, name, strlen(name));
        if (d < bd) best = i, bd = d;
    }
    return best;
}

/* ---------------------------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------------------------- */

static int word_is(const char *v, size_t n, const char *w) {
    return strlen(w) == n && distance(v, n, w, n) == 0;
}

/* Parses v[0..n) as option o's value into *out; 0 when it is not one. */
static int parse_value(int o, const char *v, size_t n, int64_t *out) {
    const struct opt_def *d = &opts[o];
    if (d->type == T_BOOL || o == O_STATS) {
        static const char *const on[] = {"1", "yes", "true", "on"};
        static const char *const off[] = {"0", "no", "false", "off"};
        for (int i = 0; i < 4; i++) {
            if (word_is(v, n, on[i])) return *out = 1, 1;
            if (word_is(v, n, off[i])) return *out = 0, 1;
        }
        if (d->type == T_BOOL) return 0;
    }
    if (d->type == T_ENUM) {
        for (int i = 0; d->names[i]; i++)
            if (word_is(v, n, d->names[i])) return *out = i, 1;
        return 0;
    }
    if (d->type == T_INT || d->type == T_SIZE) {
        size_t i = 0;
        int neg = 0;
        if (d->type == T_INT && i < n && v[i] == '-') neg = 1, i++;
        if (i == n) return 0;
        int64_t x = 0;
        for (; i < n && v[i] >= '0' && v[i] <= '9'; i++) {
            if (x > (INT64_MAX - 9) / 10) return 0;
            x = x * 10 + (v[i] - '0');
        }
        if (d->type == T_SIZE && i + 1 == n) {
            int shift = v[i] == 'K' || v[i] == 'k'   ? 10
                        : v[i] == 'M' || v[i] == 'm' ? 20
                        : v[i] == 'G' || v[i] == 'g' ? 30
                                                     : -1;
            if (shift < 0 || x > (INT64_MAX >> shift)) return 0;
            x <<= shift;
            i++;
        }
        if (i != n) return 0;
        if (d->type == T_SIZE && x == 0) return 0;
        return *out = neg ? -x : x, 1;
    }
    return 0; /* T_PATH: set by set_path */
}

static void set_path(char *dst, size_t cap, const char *v, size_t n) {
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = 0;
}

/* Stores value x (or path v[0..n)) of option o in q_opt. */
static void store(int o, int64_t x, const char *v, size_t n) {
    switch (o) {
    case O_SECURE:
        q_opt.secure = (int)x;
        break;
    case O_STATS:
        q_opt.stats = (int)x;
        break;
    case O_STATS_FILE:
        set_path(q_opt.stats_file, sizeof q_opt.stats_file, v, n);
        break;
    case O_VERBOSE:
        q_opt.verbose = (int)x;
        break;
    case O_PURGE_DELAY:
        q_opt.purge_delay_ns = x < 0 ? -1 : (x > 1000000000 ? 1000000000 : x) * 1000000;
        break;
    case O_PURGE:
        q_opt.purge_free = (int)x;
        break;
    case O_GUARDS:
        q_opt.guards = (int)x;
        break;
    case O_LEAKS:
        q_opt.leaks = (int)x;
        break;
    case O_PROF:
        q_opt.prof = (int)x;
        break;
    case O_PROF_INTERVAL:
        q_opt.prof_interval = (uint64_t)x;
        break;
    case O_PROF_FILE:
        set_path(q_opt.prof_file, sizeof q_opt.prof_file, v, n);
        break;
    case O_PROF_SIGNAL:
        q_opt.prof_signal = x > 0 && x < 65 ? (int)x : 0;
        break;
    }
}

/* Writes option o's current value into buf (NUL-terminated, at most cap bytes). */
static void show(int o, char *buf, size_t cap) {
    char tmp[256];
    size_t n = 0;
    switch (o) {
    case O_SECURE:
        q_write_dec(tmp, &n, (uint64_t)q_opt.secure);
        break;
    case O_STATS:
        q_write_str(tmp, &n, stats_names[q_opt.stats]);
        break;
    case O_STATS_FILE:
        q_write_str(tmp, &n, q_opt.stats_file);
        break;
    case O_VERBOSE:
        q_write_dec(tmp, &n, (uint64_t)q_opt.verbose);
        break;
    case O_PURGE_DELAY:
        if (q_opt.purge_delay_ns < 0)
            q_write_str(tmp, &n, "-1");
        else
            q_write_dec(tmp, &n, (uint64_t)q_opt.purge_delay_ns / 1000000);
        break;
    case O_PURGE:
        q_write_str(tmp, &n, purge_names[q_opt.purge_free]);
        break;
    case O_GUARDS:
        q_write_str(tmp, &n, guards_names[q_opt.guards]);
        break;
    case O_LEAKS:
        q_write_dec(tmp, &n, (uint64_t)q_opt.leaks);
        break;
    case O_PROF:
        q_write_dec(tmp, &n, (uint64_t)q_opt.prof);
        break;
    case O_PROF_INTERVAL:
        q_write_dec(tmp, &n, q_opt.prof_interval);
        break;
    case O_PROF_FILE:
        q_write_str(tmp, &n, q_opt.prof_file);
        break;
    case O_PROF_SIGNAL:
        q_write_dec(tmp, &n, (uint64_t)q_opt.prof_signal);
        break;
    }
    if (cap == 0) return;
    if (n >= cap) n = cap - 1;
    memcpy(buf, tmp, n);
    buf[n] = 0;
}

/* What a bad value of option o should look like, for the message. */
static const char *expected(int o) {
    switch (opts[o].type) {
    case T_BOOL:
        return "1/0, yes/no, true/false or on/off";
    case T_INT:
        return "an integer";
    case T_SIZE:
        return "a positive size, with K, M or G";
    case T_PATH:
        return "a path";
    default:
        break;
    }
    return o == O_STATS   ? "off, text, json, or a boolean"
           : o == O_PURGE ? "dontneed or free"
                          : "auto or mprotect";
}

/* Applies name=value from `where` (QUIRE_OPTIONS or a variable); reports what is wrong. */
static void apply(const char *where, int o, const char *v, size_t n) {
    int64_t x = 0;
    if (opts[o].type == T_PATH) {
        if (n == 0 || n >= sizeof q_opt.stats_file) {
            say(where, ": bad value for ", opts[o].name, " (",
                "a path of 1 to 255 bytes): ignored");
            return;
        }
    } else if (!parse_value(o, v, n, &x)) {
        char val[64];
        size_t k = n < sizeof val - 1 ? n : sizeof val - 1;
        memcpy(val, v, k);
        val[k] = 0;
        char msg[160];
        size_t m = 0;
        q_write_str(msg, &m, ": bad value \"");
        q_write_str(msg, &m, val);
        q_write_str(msg, &m, "\" for ");
        q_write_str(msg, &m, opts[o].name);
        q_write_str(msg, &m, " (");
        msg[m] = 0;
        say(where, msg, expected(o), "): default kept", NULL);
        return;
    }
    store(o, x, v, n);
}

/* QUIRE_OPTIONS: name=value pairs separated by commas (a bare name sets a boolean to 1). */
static void parse_options(const char *s) {
    while (*s) {
        const char *e = s;
        while (*e && *e != ',') e++;
        const char *eq = s;
        while (eq < e && *eq != '=') eq++;
        size_t nl = (size_t)(eq - s);
        while (nl && (s[nl - 1] == ' ')) nl--;
        while (nl && *s == ' ') s++, nl--;
        if (nl) {
            int o = -1;
            for (int i = 0; i < O_COUNT; i++)
                if (strlen(opts[i].name) == nl && memcmp(opts[i].name, s, nl) == 0) o = i;
            char name[64];
            size_t k = nl < sizeof name - 1 ? nl : sizeof name - 1;
            memcpy(name, s, k);
            name[k] = 0;
            if (o < 0) {
                int near = nearest(s, nl, 0);
                say("QUIRE_OPTIONS: unknown option \"", name,
                    near >= 0 ? "\" (did you mean \"" : "\"", near >= 0 ? opts[near].name : "",
                    near >= 0 ? "\"?): ignored" : ": ignored");
            } else if (eq == e) {
                if (opts[o].type == T_BOOL)
                    store(o, 1, NULL, 0);
                else
                    say("QUIRE_OPTIONS: ", name, " needs a value (", name, "=...): ignored");
            } else {
                apply("QUIRE_OPTIONS", o, eq + 1, (size_t)(e - eq - 1));
            }
        }
        s = *e ? e + 1 : e;
    }
}

extern char **environ;

/* QUIRE_ variables that are no option's, but near one's name: reported as misspelt. */
static void check_variables(void) {
    if (!environ) return;
    for (char **ep = environ; *ep; ep++) {
        const char *e = *ep;
        if (strncmp(e, "QUIRE_", 6) != 0) continue;
        size_t n = 0;
        while (e[n] && e[n] != '=') n++;
        int known = 0;
        for (int i = 0; i < O_COUNT && !known; i++)
            known = strlen(opts[i].env) == n && memcmp(opts[i].env, e, n) == 0;
        for (int i = 0; other_vars[i] && !known; i++)
            known = strlen(other_vars[i]) == n && memcmp(other_vars[i], e, n) == 0;
        if (known) continue;
        int near = nearest(e, n, 1);
        if (near < 0) continue; /* some other program's variable */
        char name[64];
        size_t k = n < sizeof name - 1 ? n : sizeof name - 1;
        memcpy(name, e, k);
        name[k] = 0;
        say("unknown variable ", name, " (did you mean ", opts[near].env, "?): ignored");
    }
}

void q_options_read(void) {
    const char *s = q_os_getenv("QUIRE_OPTIONS");
    if (s) parse_options(s);
    for (int o = 0; o < O_COUNT; o++) {
        const char *v = q_os_getenv(opts[o].env);
        if (v) apply(opts[o].env, o, v, strlen(v));
    }
    check_variables();
    if (q_opt.verbose) q_options_banner();
}

void q_options_banner(void) {
    char buf[512];
    size_t n = 0;
    const char *head = "quire " QUIRE_VERSION_STRING ": options";
    while (*head && n < sizeof buf - 1) buf[n++] = *head++;
    for (int o = 0; o < O_COUNT; o++) {
        char v[256];
        show(o, v, sizeof v);
        const char *parts[] = {" ", opts[o].name, "=", v[0] ? v : "-"};
        for (int i = 0; i < 4; i++)
            for (const char *p = parts[i]; *p && n < sizeof buf - 1; p++) buf[n++] = *p;
    }
    buf[n++] = '\n';
    q_os_write_all(2, buf, n);
}

/* ---------------------------------------------------------------------------------------------
 * Run-time access
 * ------------------------------------------------------------------------------------------- */

static int find(const char *name) {
    for (int o = 0; name && o < O_COUNT; o++)
        if (strcmp(opts[o].name, name) == 0) return o;
    return -1;
}

QUIRE_API int quire_alloc_option_get(const char *name, char *buf, size_t cap) {
    int o = find(name);
    if (o < 0 || !buf || cap == 0) return QUIRE_EINVAL;
    q_process_init();
    char v[256];
    show(o, v, sizeof v);
    if (strlen(v) >= cap) return QUIRE_ERANGE;
    memcpy(buf, v, strlen(v) + 1);
    return 0;
}

QUIRE_API int quire_alloc_option_set(const char *name, const char *value) {
    int o = find(name);
    if (o < 0 || !value) return QUIRE_EINVAL;
    q_process_init();
    if (!opts[o].runtime) return QUIRE_ESTATE;
    size_t n = strlen(value);
    int64_t x = 0;
    if (opts[o].type == T_PATH) {
        if (n == 0 || n >= sizeof q_opt.stats_file) return QUIRE_EINVAL;
    } else if (!parse_value(o, value, n, &x)) {
        return QUIRE_EINVAL;
    }
    store(o, x, value, n);
    return 0;
}
