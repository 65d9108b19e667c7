/* Subcommand plumbing: argument parsing, store opening, atomic output files. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "epara/core/error.h"
#include "epara/experiments/scenario.h"
#include "util.h"

void
cli_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("epara: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int
cli_double(const char *opt, const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v)) {
        cli_err("%s: '%s' is not a number", opt, text);
        return -1;
    }
    if (v < lo || v > hi) {
        cli_err("%s: %s is out of range [%g, %g]", opt, text, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int
cli_i64(const char *opt, const char *text, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE) {
        cli_err("%s: '%s' is not an integer", opt, text);
        return -1;
    }
    if (v < lo || v > hi) {
        cli_err("%s: %s is out of range [%lld, %lld]", opt, text, (long long)lo, (long long)hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int
cli_i64_list(const char *opt, const char *text, int64_t hi, int64_t *out, int max)
{
    int n = 0;
    const char *p = text;
    while (1) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[32];
        if (len == 0 || len >= sizeof item) {
            cli_err("%s: '%s' is not a comma-separated list of integers", opt, text);
            return -1;
        }
        if (n == max) {
            cli_err("%s: more than %d values", opt, max);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = '\0';
        if (cli_i64(opt, item, 1, hi, &out[n]))
            return -1;
        n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    qsort(out, (size_t)n, sizeof *out, cmp_i64);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (m == 0 || out[i] != out[m - 1])
            out[m++] = out[i];
    return m;
}

int
cli_u64(const char *opt, const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    if (text[0] == '-') {
        cli_err("%s: '%s' must not be negative", opt, text);
        return -1;
    }
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE) {
        cli_err("%s: '%s' is not a non-negative integer", opt, text);
        return -1;
    }
    *out = v;
    return 0;
}

ep_store *
cli_store_open(const char *path, int flags)
{
    ep_store *st = NULL;
    char msg[512] = "";
    int err = ep_store_open(path, flags, &st, msg, sizeof msg);
    if (err) {
        if (err == EP_ENOENT)
            cli_err("%s: no such database", path);
        else
            cli_err("%s", msg[0] ? msg : ep_strerror(err));
        return NULL;
    }
    return st;
}

static void
group_help(const char *group, const cli_cmd *table, size_t n, FILE *f)
{
    fprintf(f, "usage: epara %s <command> [options]\n\ncommands:\n", group);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-10s %s\n", table[i].name, table[i].summary);
    fprintf(f, "\nRun 'epara %s <command> --help' for a command's options.\n", group);
}

int
cli_dispatch(const char *group, const cli_cmd *table, size_t n, int argc, char **argv)
{
    if (argc < 2) {
        group_help(group, table, n, stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        group_help(group, table, n, stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, table[i].name) == 0)
            return table[i].run(argc - 1, argv + 1);
    cli_err("%s: unknown command '%s' (see 'epara %s --help')", group, name, group);
    return EXIT_USAGE;
}

int
cli_out_open(cli_out *o, const char *path)
{
    memset(o, 0, sizeof *o);
    if (strcmp(path, "-") == 0) {
        o->f = stdout;
        return 0;
    }
    snprintf(o->path, sizeof o->path, "%s", path);
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%ld", path, (long)getpid());
    o->f = fopen(o->tmp, "w");
    if (!o->f) {
        cli_err("%s: cannot create: %s", o->tmp, strerror(errno));
        return -1;
    }
    return 0;
}

int
cli_out_check(const char *opt, const char *path)
{
    struct stat st;
    char probe[4200];
    const char *slash = strrchr(path, '/');
    int fd;
    /* The directory must take new files (a database adds its journal beside it). */
    if (slash)
        snprintf(probe, sizeof probe, "%.*s/.epara-probe-XXXXXX",
                 (int)(slash - path) > 0 ? (int)(slash - path) : 1, path);
    else
        snprintf(probe, sizeof probe, ".epara-probe-XXXXXX");
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        cli_err("%s %s: is a directory", opt, path);
        return -1;
    }
    if ((fd = mkstemp(probe)) < 0) {
        cli_err("%s %s: cannot write there: %s", opt, path, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(probe);
    if (stat(path, &st) == 0) {
        if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0) {
            cli_err("%s %s: cannot write it: %s", opt, path, strerror(errno));
            return -1;
        }
        close(fd);
    }
    return 0;
}

int
cli_out_close(cli_out *o, int ok)
{
    if (o->f == stdout) {
        return fflush(stdout) == 0 && ok ? 0 : -1;
    }
    int bad = ferror(o->f);
    if (fclose(o->f) != 0)
        bad = 1;
    if (!ok || bad) {
        if (ok)
            cli_err("%s: write error", o->path);
        remove(o->tmp);
        return -1;
    }
    if (rename(o->tmp, o->path) != 0) {
        cli_err("%s: cannot rename into place: %s", o->path, strerror(errno));
        remove(o->tmp);
        return -1;
    }
    return 0;
}

int
cli_tty(void)
{
    return isatty(STDERR_FILENO);
}

int
cli_help_or_usage(int want_help, const char *text)
{
    fputs(text, want_help ? stdout : stderr);
    return want_help ? EXIT_OK : EXIT_USAGE;
}

/* Maps a store error to an exit status with a message. */
int
cli_store_fail(ep_store *st, const char *what, const char *name, int err)
{
    switch (err) {
    case EP_EEXIST:
        cli_err("%s: trace '%s' already exists (use --replace to overwrite it)", what, name);
        return EXIT_USAGE;
    case EP_ENOENT:
        cli_err("%s: no trace named '%s' (see 'epara trace list')", what, name);
        return EXIT_USAGE;
    case EP_EINVAL:
        cli_err("%s: invalid arguments for trace '%s' (names: 1-127 of A-Z a-z 0-9 . _ -)", what,
                name);
        return EXIT_USAGE;
    case EP_EEMPTY:
        cli_err("%s: trace '%s' would have no rows; nothing written", what, name);
        return EXIT_USAGE;
    case EP_ERANGE:
        cli_err("%s: trace '%s': arrival time out of range", what, name);
        return EXIT_USAGE;
    case EP_EDB:
        cli_err("%s: database error: %s", what, ep_store_errmsg(st));
        return EXIT_FAIL;
    default:
        cli_err("%s: %s", what, ep_strerror(err));
        return EXIT_FAIL;
    }
}

void
cli_print_written(const ep_trace_meta *m, const char *verb)
{
    double span = ep_dur_to_s(m->span);
    printf("%s %lld rows into trace '%s' (span %.3f s, %.4g req/s)\n", verb, (long long)m->rows,
           m->name, span, span > 0 ? (double)m->rows / span : 0.0);
}

int
cli_param_set(ep_scenario *sc, const char *kv)
{
    const char *eq = strchr(kv, '=');
    size_t kl = eq ? (size_t)(eq - kv) : 0;
    if (!eq || kl == 0 || kl >= EP_NAME_MAX || strlen(eq + 1) == 0 ||
        strlen(eq + 1) >= EP_NAME_MAX) {
        cli_err("--param: expected KEY=VALUE (each at most %d characters), got '%s'",
                EP_NAME_MAX - 1, kv);
        return -1;
    }
    char key[EP_NAME_MAX];
    memcpy(key, kv, kl);
    key[kl] = '\0';
    if (ep_scenario_param_put(sc, key, eq + 1)) {
        cli_err("--param: too many policy parameters (at most %d)", EP_MAX_PARAMS);
        return -1;
    }
    return 0;
}

void
cli_csv_field(FILE *f, const char *s)
{
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int
cli_params_add(cli_params *p, const char *kv)
{
    if (p->n == EP_MAX_PARAMS) {
        cli_err("--param: at most %d", EP_MAX_PARAMS);
        return -1;
    }
    p->kv[p->n++] = kv;
    return 0;
}

int
cli_params_apply(const cli_params *p, ep_scenario *sc)
{
    for (int i = 0; i < p->n; i++)
        if (cli_param_set(sc, p->kv[i]))
            return -1;
    return 0;
}
