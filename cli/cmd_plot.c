/* `epara plot`: exports a results database as CSV (epara report) into DIR, then runs
 * gnuplot on every .gp script in plots/ (each names its input CSV and output files in its
 * "# input:" and "# output:" header lines) and lists the figures written. A figure whose
 * input has no data is skipped with a note; a missing gnuplot or a failing script is an
 * error. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "util.h"

static const char help[] =
        "usage: epara plot --db RESULTS --out DIR [options]\n"
        "\n"
        "Writes the CSV files of 'epara report' into DIR, then draws every figure (PNG and\n"
        "SVG) with the gnuplot scripts in the plots directory, and lists the files written.\n"
        "A figure whose input has no data (e.g. a latency CDF of runs stored before runs\n"
        "kept latency histograms, without records) is skipped with a note. The reference\n"
        "figures' titles name their rate scale, and the utilization figure's the devices\n"
        "no policy uses, with the reason.\n"
        "\n"
        "  --db FILE        results database\n"
        "  --out DIR        output directory for the CSV files and figures\n"
        "  --plots DIR      gnuplot scripts (default: " EP_PLOTS_DIR ")\n"
        "  --scenario NAME  only the runs of this scenario\n"
        "  --rate X         reference rate scale of the latency CDF, utilization, per-category\n"
        "                   and ablation figures (the swept one nearest X; default 1)\n"
        "  --quiet          list nothing but problems\n"
        "\n"
        "Environment: EP_GNUPLOT names the gnuplot executable (default: gnuplot on PATH).\n"
        "Exit status: 0 every figure drawn or skipped, 1 gnuplot missing or a script failed,\n"
        "2 bad usage.\n";

/* Finds an executable on PATH (or name itself when it has a slash). */
static int
find_exe(const char *name, char *out, size_t len)
{
    if (strchr(name, '/')) {
        snprintf(out, len, "%s", name);
        return access(out, X_OK);
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(out, len, "%.*s/%s", (int)n, n ? path : ".", name);
        if (access(out, X_OK) == 0)
            return 0;
        path += n + (path[n] == ':');
    }
    return -1;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Tokens of a header line after "# input:" / "# output:" that end in ext. */
static int
tokens(const char *line, const char *ext, char names[][256], int max)
{
    int n = 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", line);
    char *save = NULL;
    for (char *t = strtok_r(buf, " \t,;()\r\n", &save); t && n < max;
         t = strtok_r(NULL, " \t,;()\r\n", &save)) {
        size_t l = strlen(t), e = strlen(ext);
        if (l > e && strcmp(t + l - e, ext) == 0)
            snprintf(names[n++], 256, "%s", t);
    }
    return n;
}

typedef struct script {
    char input[4][256];
    int ninput;
    char output[8][256];
    int noutput;
} script;

static int
read_header(const char *path, script *sc)
{
    memset(sc, 0, sizeof *sc);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[1024];
    for (int i = 0; i < 12 && fgets(line, sizeof line, f); i++) {
        if (strncmp(line, "# input:", 8) == 0)
            sc->ninput += tokens(line + 8, ".csv", sc->input + sc->ninput, 4 - sc->ninput);
        else if (strncmp(line, "# output:", 9) == 0) {
            sc->noutput += tokens(line + 9, ".png", sc->output + sc->noutput, 8 - sc->noutput);
            sc->noutput += tokens(line + 9, ".svg", sc->output + sc->noutput, 8 - sc->noutput);
        }
    }
    fclose(f);
    return 0;
}

/* Whether a CSV has a data row with at least one value beyond the first column. */
static int
has_data(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[8192];
    int data = 0;
    if (fgets(line, sizeof line, f))
        while (!data && fgets(line, sizeof line, f)) {
            char *c = strchr(line, ',');
            for (; c && !data; c = strchr(c + 1, ','))
                data = c[1] != ',' && c[1] != '\n' && c[1] != '\r' && c[1] != '\0';
        }
    fclose(f);
    return data;
}

/* A gnuplot single-quoted string ('' stands for one quote). */
static void
gp_quote(char *out, size_t len, const char *s)
{
    size_t n = 0;
    if (len < 3)
        return;
    out[n++] = '\'';
    for (; *s && n + 3 < len; s++) {
        if (*s == '\'')
            out[n++] = '\'';
        out[n++] = *s;
    }
    out[n++] = '\'';
    out[n] = '\0';
}

/* Runs one script with data and out set to dir, and the report's notes as ref_rate (a
 * number; absent without runs) and idle_note (a string; absent when empty). */
static int
run_gnuplot(const char *exe, const char *dir, const char *path, const report_notes *nt)
{
    char q[4200], qi[1100], expr[9800];
    gp_quote(q, sizeof q, dir);
    int n = snprintf(expr, sizeof expr, "data=%s; out=%s", q, q);
    if (isfinite(nt->ref_rate) && n > 0 && (size_t)n < sizeof expr)
        n += snprintf(expr + n, sizeof expr - (size_t)n, "; ref_rate=%.10g", nt->ref_rate);
    if (nt->idle[0] && n > 0 && (size_t)n < sizeof expr) {
        gp_quote(qi, sizeof qi, nt->idle);
        snprintf(expr + n, sizeof expr - (size_t)n, "; idle_note=%s", qi);
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execl(exe, exe, "-e", expr, path, (char *)NULL);
        fprintf(stderr, "epara: plot: cannot run %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* What `epara plot` was asked for. */
typedef struct plot_args {
    const char *db, *out, *plots, *scen;
    double rate;
    int quiet;
} plot_args;

/* Reads the options into *a and checks them; -1 to go on, else the exit status (printed). */
static int
plot_parse(int argc, char **argv, plot_args *a)
{
    static const struct option longopts[] = {
            {"db", required_argument, NULL, 'd'},    {"out", required_argument, NULL, 'o'},
            {"plots", required_argument, NULL, 'p'}, {"scenario", required_argument, NULL, 's'},
            {"rate", required_argument, NULL, 'r'},  {"quiet", no_argument, NULL, 'q'},
            {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    *a = (plot_args){NULL, NULL, EP_PLOTS_DIR, NULL, 1, 0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            a->db = optarg;
            break;
        case 'o':
            a->out = optarg;
            break;
        case 'p':
            a->plots = optarg;
            break;
        case 's':
            a->scen = optarg;
            break;
        case 'r':
            if (cli_double("--rate", optarg, 1e-6, 1e6, &a->rate))
                return EXIT_USAGE;
            break;
        case 'q':
            a->quiet = 1;
            break;
        case 'h':
            fputs(help, stdout);
            return EXIT_OK;
        default:
            fputs(help, stderr);
            return EXIT_USAGE;
        }
    }
    if (!a->db || !a->out || optind != argc) {
        cli_err("plot: --db and --out are required (see --help)");
        return EXIT_USAGE;
    }
    if (access(a->db, R_OK) != 0) {
        cli_err("plot: %s: %s", a->db, strerror(errno));
        return EXIT_USAGE;
    }
    return -1;
}

#define PLOT_SCRIPTS_MAX 256 /* *.gp scripts read from one --plots folder */

/* The *.gp scripts of folder plots, sorted, into names[0 .. *n) (the caller frees them).
 * Returns EXIT_OK, or the exit status after printing the problem (nothing left to free). */
static int
list_scripts(const char *plots, char **names, int *n)
{
    DIR *d = opendir(plots);
    if (!d) {
        cli_err("plot: %s: %s (see --plots)", plots, strerror(errno));
        return EXIT_USAGE;
    }
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && *n < PLOT_SCRIPTS_MAX) {
        size_t l = strlen(e->d_name);
        if (l > 3 && strcmp(e->d_name + l - 3, ".gp") == 0 && e->d_name[0] != '.')
            names[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    int rc = EXIT_OK;
    for (int i = 0; i < *n; i++)
        if (!names[i])
            rc = EXIT_FAIL;
    if (rc || *n == 0) {
        if (*n == 0)
            cli_err("plot: %s: no *.gp scripts", plots);
        for (int i = 0; i < *n; i++)
            free(names[i]);
        return *n == 0 ? EXIT_USAGE : EXIT_FAIL;
    }
    qsort(names, (size_t)*n, sizeof *names, cmp_str);
    return EXIT_OK;
}

/* Whether script `name` lacks data: one of its inputs in the output folder is missing or
 * empty (said unless quiet). */
static int
inputs_empty(const plot_args *a, const script *sc, const char *name)
{
    char in[4096];
    for (int k = 0; k < sc->ninput; k++) {
        snprintf(in, sizeof in, "%s/%s", a->out, sc->input[k]);
        if (has_data(in))
            continue;
        if (!a->quiet && access(in, F_OK) != 0)
            printf("plot: skipped %s: epara report writes no %s (a study figure: "
                   "its experiments/*/run draws it)\n",
                   name, sc->input[k]);
        else if (!a->quiet)
            printf("plot: skipped %s: %s has no data%s\n", name, in,
                   strstr(sc->input[k], "latency")
                           ? " (no run has a latency histogram or records: rerun it "
                             "with epara sweep or epara sim --out)"
                           : "");
        return 1;
    }
    return 0;
}

enum { DRAW_FAILED, DRAW_SKIPPED, DRAW_DONE };

/* Draws the figure of script `name` with gnuplot exe: DRAW_FAILED (a bad header or gnuplot
 * failed), DRAW_SKIPPED (no data), or DRAW_DONE, each output it did not write counted in
 * *failed. */
static int
draw_script(const plot_args *a, const char *exe, const char *name, report_notes *notes, int *failed)
{
    char path[4096], of[4096];
    script sc;
    snprintf(path, sizeof path, "%s/%s", a->plots, name);
    if (read_header(path, &sc) != 0 || sc.noutput == 0) {
        cli_err("plot: %s: no '# output:' line naming .png/.svg files", path);
        return DRAW_FAILED;
    }
    if (inputs_empty(a, &sc, name))
        return DRAW_SKIPPED;
    for (int k = 0; k < sc.noutput; k++) {
        snprintf(of, sizeof of, "%s/%s", a->out, sc.output[k]);
        remove(of);
    }
    if (run_gnuplot(exe, a->out, path, notes) != 0) {
        cli_err("plot: %s failed", path);
        return DRAW_FAILED;
    }
    for (int k = 0; k < sc.noutput; k++) {
        struct stat stt;
        snprintf(of, sizeof of, "%s/%s", a->out, sc.output[k]);
        if (stat(of, &stt) != 0 || stt.st_size == 0) {
            cli_err("plot: %s did not write %s", path, of);
            (*failed)++;
        } else if (!a->quiet) {
            printf("plot: wrote %s\n", of);
        }
    }
    return DRAW_DONE;
}

int
cmd_plot(int argc, char **argv)
{
    plot_args a;
    int rc = plot_parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    char exe[4096];
    const char *gp = getenv("EP_GNUPLOT");
    if (find_exe(gp && *gp ? gp : "gnuplot", exe, sizeof exe) != 0) {
        cli_err("plot: gnuplot not found%s%s (install gnuplot-nox: scripts/install-deps.sh)",
                gp && *gp ? ": " : " on PATH", gp && *gp ? gp : "");
        return EXIT_FAIL;
    }
    char *names[PLOT_SCRIPTS_MAX];
    int n = 0;
    if ((rc = list_scripts(a.plots, names, &n)) != EXIT_OK)
        return rc;
    report_notes notes;
    rc = report_export(a.db, a.out, a.scen, a.rate, a.quiet, &notes);
    int drawn = 0, skipped = 0, failed = 0;
    for (int i = 0; rc == EXIT_OK && i < n; i++) {
        int d = draw_script(&a, exe, names[i], &notes, &failed);
        drawn += d == DRAW_DONE;
        skipped += d == DRAW_SKIPPED;
        failed += d == DRAW_FAILED;
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    if (rc != EXIT_OK)
        return rc;
    if (!a.quiet)
        printf("plot: %d figures drawn, %d skipped, %d failed, from %s\n", drawn, skipped, failed,
               a.plots);
    return failed ? EXIT_FAIL : EXIT_OK;
}
