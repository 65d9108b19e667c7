/* Vidur's profiles (Agrawal et al., MLSys 2024; MIT license) as an LLM profile table: mlp.csv
 * (per-operator GPU kernel medians of one transformer layer, in ms, by num_tokens) gives a
 * point's linear time, layers x (sum of the nine per-layer medians) + emb; attention.csv, when
 * DIR has it, its attention, layers x (attn_prefill or attn_decode + the optional kv_cache_save
 * and reshape medians), interpolated to the point; else the cost model's attention. Plus the
 * device's batch_overhead (experiments/README.md, "Importing Vidur profiles"). Single-device
 * rows only. Reads the two files; writes only *out. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/experiments/prepare.h"
#include "epara/core/profile.h"
#include "traces/csv.h"
#include "traces/parse_internal.h"

/* mlp.csv: emb (once per model), then the nine per-layer operators. */
#define NOPS 10
static const char *const op_names[NOPS] = {
        "emb",         "input_layernorm", "attn_pre_proj",
        "attn_rope",   "attn_post_proj",  "post_attention_layernorm",
        "mlp_up_proj", "mlp_act",         "mlp_down_proj",
        "add",
};
enum { COL_TOKENS, COL_TP, COL_EMBD, COL_VOCAB, COL_OP0, NCOLS = COL_OP0 + NOPS };

/* attention.csv: the columns read, then the timers (per layer); the last NOPT are optional. */
#define NTIMERS 5
#define NOPT    3
static const char *const timer_names[NTIMERS] = {
        "attn_prefill",       "attn_decode",         "attn_kv_cache_save",
        "attn_input_reshape", "attn_output_reshape",
};
enum {
    A_TP,
    A_EMBD,
    A_QHEAD,
    A_BATCH,
    A_CHUNK,
    A_KV,
    A_ISPREFILL,
    A_PREFILL, /* time_stats.attn_prefill.median */
    A_DECODE,
    A_OPT0,
    A_NCOLS = A_PREFILL + NTIMERS
};

#define MAX_COLS       16
#define COL_ABSENT     ((size_t)-1)
#define MAX_FILE_BYTES (256 << 20)
#define MAX_TOKENS     1000000000
_Static_assert(NCOLS <= MAX_COLS && A_NCOLS <= MAX_COLS, "a table's columns fit its arrays");

/* The `source` of the rows written. */
static const char source_model[] = "vidur mlp.csv + modelled attention + batch_overhead";
static const char source_csv[] = "vidur mlp.csv + attention.csv + batch_overhead";

/* A time of one row: at x (tokens, or kv_cache_size) in group (decode: batch_size; else 0). */
typedef struct sample {
    int64_t group, x;
    ep_dur t;
} sample;

typedef struct samples {
    sample *v;
    long n, cap;
} samples;

/* A Vidur CSV being read: the columns looked up in its header, and where errors go. */
typedef struct table {
    const char *path;
    const char *what; /* "mlp.csv" or "attention.csv" */
    const char *hint; /* what its header names, said when a column is missing */
    char names[MAX_COLS][64];
    size_t col[MAX_COLS]; /* field index; COL_ABSENT when absent (optional columns only) */
    unsigned optional;    /* bit c: column c may be absent */
    int ncols;
    size_t nhdr;
    long rows; /* data rows */
    char *err;
    size_t errlen;
} table;

typedef struct mlp_reader {
    table t;
    const ep_service *svc;
    samples rows; /* single-device rows: x = num_tokens, t = the linear time */
    int64_t vocab;
} mlp_reader;

typedef struct att_reader {
    table t;
    const ep_service *svc;
    samples prefill; /* single-device prompt rows: x = prefill_chunk_size, t per layer */
    samples decode;  /* single-device decode rows: group = batch_size, x = kv_cache_size */
} att_reader;

/* Formats "PATH:LINE: msg" into the table's error buffer and returns code. */
static int fail(table *t, long line, int code, const char *fmt, ...) EP_PRINTF(4, 5);
static int
fail(table *t, long line, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(t->err, t->errlen, "%s:%ld: %s", t->path, line, msg);
    return code;
}

/* Reads the whole file; 0, EP_ENOENT, EP_EIO (err names the path and adds missing_hint when
 * there is no file) or EP_ENOMEM. */
static int
read_file(const char *path, const char *missing_hint, char **buf, size_t *len, char *err,
          size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int missing = errno == ENOENT;
        snprintf(err, errlen, "%s: cannot open: %s%s", path, strerror(errno),
                 missing ? missing_hint : "");
        return missing ? EP_ENOENT : EP_EIO;
    }
    size_t cap = 1 << 16, n = 0, got;
    char *b = malloc(cap);
    int rc = b ? 0 : EP_ENOMEM;
    while (!rc && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n < cap)
            continue;
        if (cap >= MAX_FILE_BYTES) {
            snprintf(err, errlen, "%s: larger than %d MiB: not a Vidur profile", path,
                     MAX_FILE_BYTES >> 20);
            rc = EP_EIO;
            break;
        }
        char *nb = realloc(b, cap * 2);
        if (!nb) {
            rc = EP_ENOMEM;
        } else {
            b = nb;
            cap *= 2;
        }
    }
    if (!rc && ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        rc = EP_EIO;
    }
    fclose(f);
    if (rc) {
        free(b);
        return rc;
    }
    *buf = b;
    *len = n;
    return 0;
}

/* Finds the table's columns in the header row (line 1). */
static int
map_header(table *t, csv_reader *cr, ep_parse_error *pe)
{
    int rc = csv_next(cr, pe);
    if (rc == 0)
        return fail(t, 1, EP_EPARSE, "empty file: expected Vidur's %s header", t->what);
    if (rc < 0)
        return rc == EP_EPARSE ? fail(t, pe->line, rc, "%s", pe->msg) : rc;
    t->nhdr = cr->nfields;
    for (int c = 0; c < t->ncols; c++) {
        t->col[c] = COL_ABSENT;
        for (size_t i = 0; i < cr->nfields && t->col[c] == COL_ABSENT; i++)
            if (csv_field_eq(&cr->fields[i], t->names[c]))
                t->col[c] = i;
        if (t->col[c] == COL_ABSENT && !(t->optional & (1u << c)))
            return fail(t, 1, EP_EPARSE, "no column '%s': a Vidur %s header names %s", t->names[c],
                        t->what, t->hint);
    }
    return 0;
}

/* Integer cell c of the current row in [0, max]. */
static int
cell_int(table *t, const csv_reader *cr, int c, int64_t max, int64_t *out)
{
    const csv_field *f = &cr->fields[t->col[c]];
    ep_parse_error pe;
    if (trace_field_int(f->p, f->len, max, t->names[c], cr->line, (long)t->col[c] + 1, &pe, out))
        return fail(t, cr->line, EP_EPARSE, "%s (fix the cell)", pe.msg);
    return 0;
}

/* Median cell c of the current row, in milliseconds. */
static int
cell_ms(table *t, const csv_reader *cr, int c, ep_dur *out)
{
    const csv_field *f = &cr->fields[t->col[c]];
    ep_parse_error pe;
    if (trace_field_dur(f->p, f->len, EP_UNIT_MS, t->names[c], cr->line, (long)t->col[c] + 1, &pe,
                        out))
        return fail(t, cr->line, EP_EPARSE, "%s: a median in milliseconds (fix the cell)", pe.msg);
    return 0;
}

/* The profile's n_embd on line `line` must be the service's hidden size. */
static int
check_embd(table *t, long line, int64_t embd, const ep_service *svc)
{
    if (embd == svc->hidden)
        return 0;
    return fail(t, line, EP_EINVAL,
                "n_embd is %lld but service '%s' has hidden %lld: the profile is of another "
                "model (import the DIR of the service's model, or give its --service)",
                (long long)embd, svc->name, (long long)svc->hidden);
}

/* layers x per + extra must stay within a trace's longest duration. */
static int
check_layers(table *t, long line, const ep_service *svc, ep_dur per, ep_dur extra)
{
    if (per <= (EP_TRACE_MAX_EXEC - extra) / svc->layers)
        return 0;
    return fail(t, line, EP_EPARSE, "%d layers x %.3f ms is over 7 days: not a kernel profile",
                svc->layers, (double)per / 1e6);
}

static int
push(samples *s, sample x)
{
    if (s->n == s->cap) {
        long cap = s->cap ? 2 * s->cap : 256;
        sample *nv = realloc(s->v, (size_t)cap * sizeof *nv);
        if (!nv)
            return EP_ENOMEM;
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    return 0;
}

/* Reads t->path row by row: checks the header and each row's field count, then hands the row
 * to row(ctx, ...). *last receives the last line read. 0, EP_ENOENT (no file: err names it,
 * with missing_hint), EP_EIO, EP_EPARSE (FILE:LINE in err), EP_EINVAL (row's), EP_ENOMEM. */
static int
read_table(table *t, const char *missing_hint, int (*row)(void *, const csv_reader *), void *ctx,
           long *last)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = read_file(t->path, missing_hint, &buf, &len, t->err, t->errlen);
    if (rc)
        return rc;
    static const char lfs[] = "version https://git-lfs.github.com/spec/";
    if (len >= sizeof lfs - 1 && memcmp(buf, lfs, sizeof lfs - 1) == 0) {
        free(buf);
        return fail(t, 1, EP_EPARSE,
                    "a Git LFS pointer, not Vidur's %s: run 'git lfs pull' in the Vidur clone "
                    "(an attention.csv may instead be moved out of DIR: the cost model's "
                    "attention is then added)",
                    t->what);
    }
    csv_reader cr;
    ep_parse_error pe;
    csv_init(&cr, buf, len);
    rc = map_header(t, &cr, &pe);
    while (!rc && (rc = csv_next(&cr, &pe)) == 1) {
        t->rows++;
        rc = cr.nfields == t->nhdr ? row(ctx, &cr)
                                   : fail(t, cr.line, EP_EPARSE,
                                          "%zu fields, the header has %zu (a cut or joined row)",
                                          cr.nfields, t->nhdr);
    }
    if (rc == EP_EPARSE && t->err[0] == '\0')
        fail(t, pe.line, rc, "%s", pe.msg);
    *last = cr.lines;
    csv_fini(&cr);
    free(buf);
    if (!rc && t->rows == 0)
        rc = fail(t, *last, EP_EPARSE, "no data rows after the header");
    return rc;
}

/* The linear time of the current row: layers x (sum of the per-layer medians) + emb. */
static int
row_linear(mlp_reader *m, const csv_reader *cr, ep_dur *out)
{
    ep_dur t[NOPS], sum = 0;
    int rc;
    for (int k = 0; k < NOPS; k++) {
        if ((rc = cell_ms(&m->t, cr, COL_OP0 + k, &t[k])))
            return rc;
        if (k > 0)
            sum += t[k]; /* each <= 7 days: no overflow */
    }
    if ((rc = check_layers(&m->t, cr->line, m->svc, sum, t[0])))
        return rc;
    *out = m->svc->layers * sum + t[0];
    return 0;
}

/* Checks one mlp.csv row and keeps its linear time when it has one tensor-parallel worker. */
static int
mlp_row(void *ctx, const csv_reader *cr)
{
    mlp_reader *m = ctx;
    table *t = &m->t;
    int64_t tokens, tp, embd, vocab = 0;
    int rc;
    if ((rc = cell_int(t, cr, COL_TOKENS, MAX_TOKENS, &tokens)) ||
        (rc = cell_int(t, cr, COL_TP, 1000000, &tp)) ||
        (rc = cell_int(t, cr, COL_EMBD, 10000000, &embd)) ||
        (t->col[COL_VOCAB] != COL_ABSENT && (rc = cell_int(t, cr, COL_VOCAB, MAX_TOKENS, &vocab))))
        return rc;
    if (tokens < 1 || tp < 1)
        return fail(t, cr->line, EP_EPARSE, "%s is 0: must be at least 1",
                    tokens < 1 ? "num_tokens" : "num_tensor_parallel_workers");
    if ((rc = check_embd(t, cr->line, embd, m->svc)))
        return rc;
    m->vocab = vocab;
    if (tp != 1)
        return 0;
    sample s = {.x = tokens};
    if ((rc = row_linear(m, cr, &s.t)))
        return rc;
    return push(&m->rows, s);
}

/* Reads m->t.path (DIR/mlp.csv). */
static int
read_mlp(mlp_reader *m)
{
    table *t = &m->t;
    snprintf(t->names[COL_TOKENS], sizeof t->names[0], "num_tokens");
    snprintf(t->names[COL_TP], sizeof t->names[0], "num_tensor_parallel_workers");
    snprintf(t->names[COL_EMBD], sizeof t->names[0], "n_embd");
    snprintf(t->names[COL_VOCAB], sizeof t->names[0], "vocab_size");
    for (int k = 0; k < NOPS; k++)
        snprintf(t->names[COL_OP0 + k], sizeof t->names[0], "time_stats.%s.median", op_names[k]);
    t->ncols = NCOLS;
    t->optional = 1u << COL_VOCAB;
    t->what = "mlp.csv";
    t->hint = "num_tokens, num_tensor_parallel_workers, n_embd and time_stats.OP.median for OP in "
              "emb, input_layernorm, attn_pre_proj, attn_rope, attn_post_proj, "
              "post_attention_layernorm, mlp_up_proj, mlp_act, mlp_down_proj, add";
    long last = 0;
    int rc = read_table(t,
                        " (DIR must hold Vidur's mlp.csv of the model, e.g. "
                        "data/profiling/compute/a100/meta-llama/Llama-2-7b-hf)",
                        mlp_row, m, &last);
    if (!rc && m->rows.n == 0)
        return fail(t, last, EP_EPARSE,
                    "none of the %ld rows has num_tensor_parallel_workers = 1: the importer "
                    "reads single-device rows (the simulator applies its own tensor-parallel "
                    "model)",
                    t->rows);
    return rc;
}

/* Cell c of the current row: True or False (Python's bool). */
static int
cell_bool(table *t, const csv_reader *cr, int c, int *out)
{
    const csv_field *f = &cr->fields[t->col[c]];
    if (csv_field_eq(f, "True") || csv_field_eq(f, "False")) {
        *out = csv_field_eq(f, "True");
        return 0;
    }
    char snip[48];
    trace_snippet(f->p, f->len, snip, sizeof snip);
    return fail(t, cr->line, EP_EPARSE, "%s is %s: expected True or False (fix the cell)",
                t->names[c], snip);
}

/* A layer's attention on the current row, Vidur's rule: attn_prefill (prefill rows) or
 * attn_decode (decode rows), plus the optional timers present (an absent column or an empty
 * cell counts 0). */
static int
layer_attention(att_reader *a, const csv_reader *cr, int prefill, ep_dur *out)
{
    table *t = &a->t;
    int c = prefill ? A_PREFILL : A_DECODE;
    if (cr->fields[t->col[c]].len == 0)
        return fail(t, cr->line, EP_EPARSE, "%s is empty on a %s row (is_prefill %s)", t->names[c],
                    prefill ? "prefill" : "decode", prefill ? "True" : "False");
    ep_dur sum, opt;
    int rc = cell_ms(t, cr, c, &sum);
    for (c = A_OPT0; !rc && c < A_NCOLS; c++) {
        if (t->col[c] == COL_ABSENT || cr->fields[t->col[c]].len == 0)
            continue;
        if (!(rc = cell_ms(t, cr, c, &opt)))
            sum += opt; /* each <= 7 days: no overflow */
    }
    if (!rc && !(rc = check_layers(t, cr->line, a->svc, sum, 0)))
        *out = sum;
    return rc;
}

/* Checks one attention.csv row and keeps a single-device one: a decode row, or the prefill of
 * a whole prompt (batch_size 1, kv_cache_size 0). */
static int
att_row(void *ctx, const csv_reader *cr)
{
    static const int64_t max[A_ISPREFILL] = {1000000,    10000000,   1000000,
                                             MAX_TOKENS, MAX_TOKENS, MAX_TOKENS};
    att_reader *a = ctx;
    table *t = &a->t;
    int64_t v[A_ISPREFILL];
    int prefill = 0, rc = 0;
    for (int c = 0; c < A_ISPREFILL && !rc; c++)
        rc = cell_int(t, cr, c, max[c], &v[c]);
    if (rc || (rc = cell_bool(t, cr, A_ISPREFILL, &prefill)) ||
        (rc = check_embd(t, cr->line, v[A_EMBD], a->svc)))
        return rc;
    if (v[A_QHEAD] < 1 || v[A_EMBD] % v[A_QHEAD] != 0)
        return fail(t, cr->line, EP_EPARSE,
                    "n_q_head %lld does not divide n_embd %lld: not an attention profile",
                    (long long)v[A_QHEAD], (long long)v[A_EMBD]);
    int low = v[A_TP] < 1 ? A_TP : prefill ? A_CHUNK : A_BATCH;
    if (v[low] < 1)
        return fail(t, cr->line, EP_EPARSE, "%s is 0 on a %s row: must be at least 1",
                    t->names[low], prefill ? "prefill" : "decode");
    if (v[A_TP] != 1)
        return 0;
    ep_dur per = 0;
    if ((rc = layer_attention(a, cr, prefill, &per)))
        return rc;
    if (!prefill)
        return push(&a->decode, (sample){.group = v[A_BATCH], .x = v[A_KV], .t = per});
    if (v[A_BATCH] != 1 || v[A_KV] != 0)
        return 0; /* a chunk after cached tokens, or several prompts: not a lone prompt */
    return push(&a->prefill, (sample){.x = v[A_CHUNK], .t = per});
}

/* Reads a->t.path (DIR/attention.csv); EP_ENOENT when DIR has none. */
static int
read_attention(att_reader *a)
{
    static const char *const cols[A_PREFILL] = {
            "num_tensor_parallel_workers", "n_embd",        "n_q_head",  "batch_size",
            "prefill_chunk_size",          "kv_cache_size", "is_prefill"};
    table *t = &a->t;
    for (int c = 0; c < A_PREFILL; c++)
        snprintf(t->names[c], sizeof t->names[0], "%s", cols[c]);
    for (int k = 0; k < NTIMERS; k++)
        snprintf(t->names[A_PREFILL + k], sizeof t->names[0], "time_stats.%s.median",
                 timer_names[k]);
    t->ncols = A_NCOLS;
    t->optional = ((1u << NOPT) - 1) << A_OPT0;
    t->what = "attention.csv";
    t->hint = "num_tensor_parallel_workers, n_embd, n_q_head, batch_size, prefill_chunk_size, "
              "kv_cache_size, is_prefill, time_stats.attn_prefill.median and "
              "time_stats.attn_decode.median";
    long last = 0;
    int rc = read_table(t, "", att_row, a, &last);
    if (!rc && a->prefill.n == 0)
        return fail(t, last, EP_EPARSE,
                    "no single-device prefill rows (is_prefill True, "
                    "num_tensor_parallel_workers 1, batch_size 1, kv_cache_size 0): add them, "
                    "or move attention.csv away to use the cost model's attention");
    if (!rc && a->decode.n == 0)
        return fail(t, last, EP_EPARSE,
                    "no single-device decode rows (is_prefill False, "
                    "num_tensor_parallel_workers 1): add them, or move attention.csv away to "
                    "use the cost model's attention");
    return rc;
}

static int
cmp_sample(const void *a, const void *b)
{
    const sample *x = a, *y = b;
    if (x->group != y->group)
        return (x->group > y->group) - (x->group < y->group);
    return (x->x > y->x) - (x->x < y->x);
}

/* Sorts v[0..n) by (group, x) and replaces each run of equal (group, x) by its mean time
 * (rounded to the nearest ns); returns the distinct count. */
static long
merge_duplicates(sample *v, long n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_sample);
    long m = 0;
    for (long i = 0; i < n;) {
        long j = i;
        double total = 0;
        for (; j < n && cmp_sample(&v[j], &v[i]) == 0; j++)
            total += (double)v[j].t;
        v[m] = v[i];
        v[m++].t = (ep_dur)llround(total / (double)(j - i));
        i = j;
    }
    return m;
}

/* Index of the value of v[0..n) (increasing) nearest to t in log. */
static long
nearest_log(const sample *v, long n, double t)
{
    long lo = 0, hi = n - 1;
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        if ((double)v[mid].x < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && log(t) - log((double)v[lo - 1].x) < log((double)v[lo].x) - log(t))
        lo--;
    return lo;
}

/* The distinct nearest values of v[0..n) to k targets log-spaced from v[0] to v[n-1]. */
static int
nearest_set(const sample *v, long n, int k, long *pick, int cap)
{
    double lo = log((double)v[0].x), hi = log((double)v[n - 1].x);
    int m = 0;
    for (int i = 0; i < k; i++) {
        long j = nearest_log(v, n, exp(lo + (hi - lo) * i / (k - 1)));
        if (m > 0 && pick[m - 1] == j)
            continue;
        if (m == cap)
            return cap + 1;
        pick[m++] = j;
    }
    return m;
}

/* Picks at most max (>= 2) of v[0..n) (increasing, >= 1) spread geometrically from v[0] to
 * v[n-1], both included: the values nearest to the most log-spaced targets whose distinct
 * nearest values number at most max. Writes indices to pick; returns the count. */
static int
spread_geometric(const sample *v, long n, int max, long *pick)
{
    if (n <= max) {
        for (long i = 0; i < n; i++)
            pick[i] = i;
        return (int)n;
    }
    long cand[EP_PROFILE_POINTS];
    EP_ASSERT(max >= 2 && max <= EP_PROFILE_POINTS);
    int best = nearest_set(v, n, max, pick, max);
    for (long k = max + 1; k <= n; k++) {
        int m = nearest_set(v, n, (int)k, cand, max);
        if (m > max)
            break;
        memcpy(pick, cand, (size_t)m * sizeof *pick);
        best = m;
    }
    return best;
}

/* The time at x of v[0..n) (one group, x increasing, n >= 1): a sample's at its x, linear
 * between the two nearest, the nearest end's scaled by (x / x_end)^power beyond the ends. */
static double
interp(const sample *v, long n, int64_t x, int power)
{
    long i = 0;
    while (i < n && v[i].x < x)
        i++;
    if (i < n && v[i].x == x)
        return (double)v[i].t;
    if (i == 0 || i == n) {
        const sample *e = &v[i == 0 ? 0 : n - 1];
        double r = e->x > 0 ? (double)x / (double)e->x : 1;
        return (double)e->t * (power == 2 ? r * r : r);
    }
    const sample *a = &v[i - 1], *b = &v[i];
    return (double)a->t + (double)(b->t - a->t) * ((double)(x - a->x) / (double)(b->x - a->x));
}

/* The per-layer decode attention at batch b and ctx context tokens per sequence of the
 * decode samples d (sorted by batch, then kv_cache_size): interpolated in kv_cache_size within
 * a batch, linearly in batch_size between the two nearest batches, and the nearest batch's
 * scaled by b / batch beyond the ends (a step reads b sequences' caches). */
static double
decode_time(const samples *d, int64_t b, int64_t ctx)
{
    long lo = -1, nlo = 0, hi = -1, nhi = 0;
    for (long i = 0, j; i < d->n; i = j) {
        for (j = i; j < d->n && d->v[j].group == d->v[i].group;)
            j++;
        if (d->v[i].group == b)
            return interp(d->v + i, j - i, ctx, 1);
        if (d->v[i].group < b) {
            lo = i;
            nlo = j - i;
        } else if (hi < 0) {
            hi = i;
            nhi = j - i;
        }
    }
    if (lo < 0 || hi < 0) {
        long e = lo < 0 ? hi : lo, ne = lo < 0 ? nhi : nlo;
        return interp(d->v + e, ne, ctx, 1) * ((double)b / (double)d->v[e].group);
    }
    double tl = interp(d->v + lo, nlo, ctx, 1), th = interp(d->v + hi, nhi, ctx, 1);
    double gl = (double)d->v[lo].group, gh = (double)d->v[hi].group;
    return tl + (th - tl) * (((double)b - gl) / (gh - gl));
}

/* Where a point's attention comes from: attention.csv's samples, or (a NULL) the cost model. */
typedef struct att_source {
    const ep_scenario *sc;
    int svc, spec;
    int64_t ctx_ref;
    const att_reader *a;
} att_source;

/* layers x a per-layer time, to the nearest ns (capped at a trace's longest duration). */
static ep_dur
all_layers(const att_source *s, double per_layer)
{
    double ns = per_layer * s->sc->services[s->svc].layers;
    return ns >= (double)EP_TRACE_MAX_EXEC ? EP_TRACE_MAX_EXEC : (ep_dur)llround(ns);
}

static ep_dur
prefill_attention(const att_source *s, int64_t x)
{
    if (!s->a)
        return ep_cost_llm_attention(s->sc, s->svc, s->spec, x, (double)x * (double)x, 0, 0);
    return all_layers(s, interp(s->a->prefill.v, s->a->prefill.n, x, 2));
}

static ep_dur
decode_attention(const att_source *s, int b)
{
    if (!s->a)
        return ep_cost_llm_attention(s->sc, s->svc, s->spec, 0, 0, b, (int64_t)b * s->ctx_ref);
    return all_layers(s, decode_time(&s->a->decode, b, s->ctx_ref));
}

static ep_dur
sat_add(ep_dur a, ep_dur b)
{
    return a > EP_TIME_MAX - b ? EP_TIME_MAX : a + b;
}

static void
set_point(ep_vidur_point *p, const char *kind, const sample *s, int64_t ctx_ref, ep_dur attention,
          ep_dur overhead)
{
    p->linear = s->t;
    p->attention = attention;
    p->overhead = overhead;
    p->row = (ep_profile_row){.kind = kind,
                              .x = s->x,
                              .ctx_ref = ctx_ref,
                              .latency = sat_add(sat_add(s->t, attention), overhead)};
}

/* Prefill and decode points of the distinct mlp.csv rows[0..n) into out. */
static int
make_points(const att_source *src, const sample *rows, long n, ep_vidur_profile *out, char *err,
            size_t errlen)
{
    const ep_service *svc = &src->sc->services[src->svc];
    ep_dur overhead = src->sc->specs[src->spec].batch_overhead;
    long pick[EP_PROFILE_POINTS];
    out->nprefill = spread_geometric(rows, n, EP_PROFILE_POINTS, pick);
    for (int i = 0; i < out->nprefill; i++) {
        const sample *s = &rows[pick[i]];
        set_point(&out->pts[i], "prefill", s, 0, prefill_attention(src, s->x), overhead);
    }
    long nd = 0;
    while (nd < n && rows[nd].x <= svc->max_batch)
        nd++;
    if (nd == 0) {
        snprintf(err, errlen,
                 "%s: no row has num_tokens <= max_batch %d of service '%s': no decode batch "
                 "sizes (raise max_batch, or add rows with small token counts)",
                 out->path, svc->max_batch, svc->name);
        return EP_EPARSE;
    }
    out->ndecode = spread_geometric(rows, nd, EP_PROFILE_POINTS, pick);
    for (int i = 0; i < out->ndecode; i++) {
        const sample *s = &rows[pick[i]];
        set_point(&out->pts[out->nprefill + i], "decode", s, src->ctx_ref,
                  decode_attention(src, (int)s->x), overhead);
    }
    return 0;
}

/* Reads DIR/mlp.csv, then DIR/attention.csv when there is one (a.t.rows stays 0 when not),
 * and computes the points into p. */
static int
read_dir(const ep_scenario *sc, int svc, int spec, int64_t ctx_ref, ep_vidur_profile *p,
         mlp_reader *m, att_reader *a)
{
    int rc = read_mlp(m);
    if (!rc && (rc = read_attention(a)) == EP_ENOENT) {
        rc = 0;
        a->t.err[0] = '\0';
    }
    if (rc)
        return rc;
    p->rows = m->t.rows;
    p->rows_tp1 = m->rows.n;
    p->vocab_size = m->vocab;
    p->attention_measured = a->t.rows > 0;
    p->attention_rows = a->t.rows;
    p->attention_prefill = a->prefill.n;
    p->attention_decode = a->decode.n;
    p->source = p->attention_measured ? source_csv : source_model;
    att_source src = {.sc = sc, .svc = svc, .spec = spec, .ctx_ref = ctx_ref};
    if (p->attention_measured) {
        a->prefill.n = merge_duplicates(a->prefill.v, a->prefill.n);
        a->decode.n = merge_duplicates(a->decode.v, a->decode.n);
        src.a = a;
    }
    long n = merge_duplicates(m->rows.v, m->rows.n);
    return make_points(&src, m->rows.v, n, p, m->t.err, m->t.errlen);
}

int
ep_vidur_read(const char *dir, const ep_scenario *sc, int svc, int spec, int64_t ctx_ref,
              ep_vidur_profile *out, char *err, size_t errlen)
{
    EP_ASSERT(dir && sc && out && err && errlen > 0);
    EP_ASSERT(svc >= 0 && svc < sc->nservices && spec >= 0 && spec < sc->nspecs);
    err[0] = '\0';
    const ep_service *s = &sc->services[svc];
    if (s->kind != EP_SVC_LLM || s->layers < 1 || ctx_ref < 1 || ctx_ref > MAX_TOKENS) {
        snprintf(err, errlen, "%s",
                 s->kind != EP_SVC_LLM ? "Vidur profiles are of LLMs: the service is a DNN"
                                       : "ctx_ref must be in [1, 1e9] and layers >= 1");
        return EP_EINVAL;
    }
    ep_vidur_profile *p = calloc(1, sizeof *p);
    if (!p)
        return EP_ENOMEM;
    mlp_reader m = {.t = {.path = p->path, .err = err, .errlen = errlen}, .svc = s};
    att_reader a = {.t = {.path = p->attention_path, .err = err, .errlen = errlen}, .svc = s};
    int rc = 0;
    if (snprintf(p->path, sizeof p->path, "%s/mlp.csv", dir) >= (int)sizeof p->path ||
        snprintf(p->attention_path, sizeof p->attention_path, "%s/attention.csv", dir) >=
                (int)sizeof p->attention_path) {
        snprintf(err, errlen, "%s: directory name too long", dir);
        rc = EP_EINVAL;
    }
    if (!rc)
        rc = read_dir(sc, svc, spec, ctx_ref, p, &m, &a);
    if (!rc)
        *out = *p;
    else if (rc == EP_ENOMEM && err[0] == '\0')
        snprintf(err, errlen, "%s: out of memory", dir);
    free(m.rows.v);
    free(a.prefill.v);
    free(a.decode.v);
    free(p);
    return rc;
}

int
ep_profiles_import_vidur(ep_store *st, const char *dir, const ep_scenario *sc, int svc, int spec,
                         int64_t ctx_ref, ep_vidur_profile *out, char *err, size_t errlen)
{
    ep_vidur_profile *p = malloc(sizeof *p);
    if (!p) {
        snprintf(err, errlen, "%s: out of memory", dir);
        return EP_ENOMEM;
    }
    int rc = ep_vidur_read(dir, sc, svc, spec, ctx_ref, p, err, errlen);
    ep_profile_row rows[2 * EP_PROFILE_POINTS];
    int n = rc ? 0 : p->nprefill + p->ndecode;
    for (int i = 0; i < n; i++)
        rows[i] = p->pts[i].row;
    if (!rc)
        rc = ep_profiles_replace(st, sc->services[svc].name, sc->specs[spec].name, p->source, rows,
                                 n, err, errlen);
    if (!rc && out)
        *out = *p;
    free(p);
    return rc;
}
