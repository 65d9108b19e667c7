/* Vidur's mlp.csv (Agrawal et al., MLSys 2024; MIT license): per-operator GPU kernel medians
 * of one transformer layer, in ms, by num_tokens, become an LLM profile table. A point at x
 * tokens is layers x (sum of the nine per-layer medians) + emb, from the single-device rows,
 * plus the cost model's attention (not in the file) and the device's batch_overhead
 * (experiments/README.md, "Importing Vidur profiles"). Reads one file; writes only *out. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "epara/error.h"
#include "epara/prepare.h"
#include "epara/profile.h"
#include "traces/csv.h"
#include "traces/parse_internal.h"

/* emb (once per model), then the nine per-layer operators. */
#define NOPS 10
static const char *const op_names[NOPS] = {
        "emb",         "input_layernorm", "attn_pre_proj",
        "attn_rope",   "attn_post_proj",  "post_attention_layernorm",
        "mlp_up_proj", "mlp_act",         "mlp_down_proj",
        "add",
};

enum { COL_TOKENS, COL_TP, COL_EMBD, COL_VOCAB, COL_OP0, NCOLS = COL_OP0 + NOPS };
#define COL_ABSENT     ((size_t)-1)
#define MAX_FILE_BYTES (256 << 20)
#define MAX_TOKENS     1000000000

/* The `source` of the rows written. */
static const char source_text[] = "vidur mlp.csv + modelled attention + batch_overhead";

/* The linear time of one single-device row. */
typedef struct tok_time {
    int64_t tokens;
    ep_dur linear;
} tok_time;

typedef struct reader {
    const char *path;
    const ep_service *svc;
    char names[NCOLS][64];
    size_t col[NCOLS]; /* field index; COL_ABSENT when absent (vocab_size only) */
    size_t nhdr;
    tok_time *rows;
    long nrows, cap, rows_all;
    int64_t vocab;
    char *err;
    size_t errlen;
} reader;

/* Formats "PATH:LINE: msg" into the reader's error buffer and returns code. */
static int fail(reader *r, long line, int code, const char *fmt, ...) EP_PRINTF(4, 5);
static int
fail(reader *r, long line, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(r->err, r->errlen, "%s:%ld: %s", r->path, line, msg);
    return code;
}

/* Reads the whole file; 0, EP_ENOENT, EP_EIO (err names the path) or EP_ENOMEM. */
static int
read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int missing = errno == ENOENT;
        snprintf(err, errlen, "%s: cannot open: %s%s", path, strerror(errno),
                 missing ? " (DIR must hold Vidur's mlp.csv of the model, e.g. "
                           "data/profiling/compute/a100/meta-llama/Llama-2-7b-hf)"
                         : "");
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
            snprintf(err, errlen, "%s: larger than %d MiB: not a Vidur mlp.csv", path,
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

/* Finds every column the importer reads in the header row (line 1). */
static int
map_header(reader *r, csv_reader *cr, ep_parse_error *pe)
{
    int rc = csv_next(cr, pe);
    if (rc == 0)
        return fail(r, 1, EP_EPARSE, "empty file: expected Vidur's mlp.csv header");
    if (rc < 0)
        return rc == EP_EPARSE ? fail(r, pe->line, rc, "%s", pe->msg) : rc;
    snprintf(r->names[COL_TOKENS], sizeof r->names[0], "num_tokens");
    snprintf(r->names[COL_TP], sizeof r->names[0], "num_tensor_parallel_workers");
    snprintf(r->names[COL_EMBD], sizeof r->names[0], "n_embd");
    snprintf(r->names[COL_VOCAB], sizeof r->names[0], "vocab_size");
    for (int k = 0; k < NOPS; k++)
        snprintf(r->names[COL_OP0 + k], sizeof r->names[0], "time_stats.%s.median", op_names[k]);
    r->nhdr = cr->nfields;
    for (int c = 0; c < NCOLS; c++) {
        r->col[c] = COL_ABSENT;
        for (size_t i = 0; i < cr->nfields && r->col[c] == COL_ABSENT; i++)
            if (csv_field_eq(&cr->fields[i], r->names[c]))
                r->col[c] = i;
        if (r->col[c] == COL_ABSENT && c != COL_VOCAB)
            return fail(r, 1, EP_EPARSE,
                        "no column '%s': a Vidur mlp.csv header names num_tokens, "
                        "num_tensor_parallel_workers, n_embd and time_stats.OP.median for OP "
                        "in emb, input_layernorm, attn_pre_proj, attn_rope, attn_post_proj, "
                        "post_attention_layernorm, mlp_up_proj, mlp_act, mlp_down_proj, add",
                        r->names[c]);
    }
    return 0;
}

/* Integer cell c of the current row in [0, max]. */
static int
cell_int(reader *r, const csv_reader *cr, int c, int64_t max, int64_t *out)
{
    const csv_field *f = &cr->fields[r->col[c]];
    ep_parse_error pe;
    if (trace_field_int(f->p, f->len, max, r->names[c], cr->line, (long)r->col[c] + 1, &pe, out))
        return fail(r, cr->line, EP_EPARSE, "%s (fix the cell)", pe.msg);
    return 0;
}

/* The linear time of the current row: layers x (sum of the per-layer medians) + emb. */
static int
row_linear(reader *r, const csv_reader *cr, ep_dur *out)
{
    ep_dur t[NOPS], sum = 0;
    for (int k = 0; k < NOPS; k++) {
        const csv_field *f = &cr->fields[r->col[COL_OP0 + k]];
        ep_parse_error pe;
        if (trace_field_dur(f->p, f->len, EP_UNIT_MS, r->names[COL_OP0 + k], cr->line,
                            (long)r->col[COL_OP0 + k] + 1, &pe, &t[k]))
            return fail(r, cr->line, EP_EPARSE, "%s: a median in milliseconds (fix the cell)",
                        pe.msg);
        if (k > 0)
            sum += t[k]; /* each <= 7 days: no overflow */
    }
    int64_t layers = r->svc->layers;
    if (sum > (EP_TRACE_MAX_EXEC - t[0]) / layers)
        return fail(r, cr->line, EP_EPARSE,
                    "%lld layers x %.3f ms + emb is over 7 days: not a kernel profile",
                    (long long)layers, (double)sum / 1e6);
    *out = layers * sum + t[0];
    return 0;
}

/* Checks one data row and keeps its linear time when it has one tensor-parallel worker. */
static int
read_row(reader *r, const csv_reader *cr)
{
    if (cr->nfields != r->nhdr)
        return fail(r, cr->line, EP_EPARSE, "%zu fields, the header has %zu (a cut or joined row)",
                    cr->nfields, r->nhdr);
    int64_t tokens, tp, embd, vocab = 0;
    int rc;
    if ((rc = cell_int(r, cr, COL_TOKENS, MAX_TOKENS, &tokens)) ||
        (rc = cell_int(r, cr, COL_TP, 1000000, &tp)) ||
        (rc = cell_int(r, cr, COL_EMBD, 10000000, &embd)) ||
        (r->col[COL_VOCAB] != COL_ABSENT && (rc = cell_int(r, cr, COL_VOCAB, MAX_TOKENS, &vocab))))
        return rc;
    if (tokens < 1 || tp < 1)
        return fail(r, cr->line, EP_EPARSE, "%s is 0: must be at least 1",
                    tokens < 1 ? "num_tokens" : "num_tensor_parallel_workers");
    if (embd != r->svc->hidden)
        return fail(r, cr->line, EP_EINVAL,
                    "n_embd is %lld but service '%s' has hidden %lld: the profile is of another "
                    "model (import the DIR of the service's model, or give its --service)",
                    (long long)embd, r->svc->name, (long long)r->svc->hidden);
    r->rows_all++;
    r->vocab = vocab;
    if (tp != 1)
        return 0;
    tok_time tt = {.tokens = tokens};
    if ((rc = row_linear(r, cr, &tt.linear)))
        return rc;
    if (r->nrows == r->cap) {
        long cap = r->cap ? 2 * r->cap : 256;
        tok_time *nr = realloc(r->rows, (size_t)cap * sizeof *nr);
        if (!nr)
            return EP_ENOMEM;
        r->rows = nr;
        r->cap = cap;
    }
    r->rows[r->nrows++] = tt;
    return 0;
}

static int
cmp_tokens(const void *a, const void *b)
{
    int64_t x = ((const tok_time *)a)->tokens, y = ((const tok_time *)b)->tokens;
    return (x > y) - (x < y);
}

/* Sorts the rows by tokens and replaces each run of equal token counts by its mean (rounded
 * to the nearest ns); returns the distinct count. */
static long
merge_duplicates(tok_time *rows, long n)
{
    qsort(rows, (size_t)n, sizeof *rows, cmp_tokens);
    long m = 0;
    for (long i = 0; i < n;) {
        long j = i;
        double total = 0;
        for (; j < n && rows[j].tokens == rows[i].tokens; j++)
            total += (double)rows[j].linear;
        rows[m].tokens = rows[i].tokens;
        rows[m++].linear = (ep_dur)llround(total / (double)(j - i));
        i = j;
    }
    return m;
}

/* Index of the value of v[0..n) (increasing) nearest to t in log. */
static long
nearest_log(const tok_time *v, long n, double t)
{
    long lo = 0, hi = n - 1;
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        if ((double)v[mid].tokens < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0 && log(t) - log((double)v[lo - 1].tokens) < log((double)v[lo].tokens) - log(t))
        lo--;
    return lo;
}

/* The distinct nearest values of v[0..n) to k targets log-spaced from v[0] to v[n-1]. */
static int
nearest_set(const tok_time *v, long n, int k, long *pick, int cap)
{
    double lo = log((double)v[0].tokens), hi = log((double)v[n - 1].tokens);
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
spread_geometric(const tok_time *v, long n, int max, long *pick)
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

static ep_dur
sat_add(ep_dur a, ep_dur b)
{
    return a > EP_TIME_MAX - b ? EP_TIME_MAX : a + b;
}

static void
set_point(ep_vidur_point *p, const char *kind, const tok_time *tt, int64_t ctx_ref,
          ep_dur attention, ep_dur overhead)
{
    p->linear = tt->linear;
    p->attention = attention;
    p->overhead = overhead;
    p->row = (ep_profile_row){.kind = kind,
                              .x = tt->tokens,
                              .ctx_ref = ctx_ref,
                              .latency = sat_add(sat_add(tt->linear, attention), overhead)};
}

/* Prefill and decode points of the distinct rows[0..n) into out. */
static int
make_points(reader *r, const tok_time *rows, long n, const ep_scenario *sc, int svc, int spec,
            int64_t ctx_ref, ep_vidur_profile *out)
{
    long pick[EP_PROFILE_POINTS];
    ep_dur overhead = sc->specs[spec].batch_overhead;
    out->nprefill = spread_geometric(rows, n, EP_PROFILE_POINTS, pick);
    for (int i = 0; i < out->nprefill; i++) {
        const tok_time *tt = &rows[pick[i]];
        double sq = (double)tt->tokens * (double)tt->tokens;
        set_point(&out->pts[i], "prefill", tt, 0,
                  ep_cost_llm_attention(sc, svc, spec, tt->tokens, sq, 0, 0), overhead);
    }
    long nd = 0;
    while (nd < n && rows[nd].tokens <= r->svc->max_batch)
        nd++;
    if (nd == 0) {
        snprintf(r->err, r->errlen,
                 "%s: no row has num_tokens <= max_batch %d of service '%s': no decode batch "
                 "sizes (raise max_batch, or add rows with small token counts)",
                 r->path, r->svc->max_batch, r->svc->name);
        return EP_EPARSE;
    }
    out->ndecode = spread_geometric(rows, nd, EP_PROFILE_POINTS, pick);
    for (int i = 0; i < out->ndecode; i++) {
        const tok_time *tt = &rows[pick[i]];
        int b = (int)tt->tokens;
        set_point(&out->pts[out->nprefill + i], "decode", tt, ctx_ref,
                  ep_cost_llm_attention(sc, svc, spec, 0, 0, b, (int64_t)b * ctx_ref), overhead);
    }
    return 0;
}

/* Reads the rows of buf (the text of r->path) into r. */
static int
read_rows(reader *r, const char *buf, size_t len)
{
    csv_reader cr;
    ep_parse_error pe;
    csv_init(&cr, buf, len);
    int rc = map_header(r, &cr, &pe);
    while (!rc && (rc = csv_next(&cr, &pe)) == 1)
        rc = read_row(r, &cr);
    if (rc == EP_EPARSE && r->err[0] == '\0')
        fail(r, pe.line, rc, "%s", pe.msg);
    long last = cr.lines;
    csv_fini(&cr);
    if (rc)
        return rc;
    if (r->rows_all == 0)
        return fail(r, last, EP_EPARSE, "no data rows after the header");
    if (r->nrows == 0)
        return fail(r, last, EP_EPARSE,
                    "none of the %ld rows has num_tensor_parallel_workers = 1: the importer "
                    "reads single-device rows (the simulator applies its own tensor-parallel "
                    "model)",
                    r->rows_all);
    return 0;
}

/* Refuses DIR/attention.csv, whose format is not read yet. */
static int
refuse_attention(const char *dir, char *err, size_t errlen)
{
    char path[EP_PATH_MAX];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/attention.csv", dir) >= (int)sizeof path)
        return 0;
    if (stat(path, &st) != 0)
        return 0;
    snprintf(err, errlen,
             "%s: Vidur attention profiles are not supported yet (their format is not read); "
             "move attention.csv out of the directory to import mlp.csv with modelled attention",
             path);
    return EP_ENOTSUP;
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
    reader r = {.path = p->path, .svc = s, .err = err, .errlen = errlen};
    char *buf = NULL;
    size_t len = 0;
    int rc = refuse_attention(dir, err, errlen);
    if (!rc && snprintf(p->path, sizeof p->path, "%s/mlp.csv", dir) >= (int)sizeof p->path) {
        snprintf(err, errlen, "%s: directory name too long", dir);
        rc = EP_EINVAL;
    }
    if (!rc)
        rc = read_file(p->path, &buf, &len, err, errlen);
    if (!rc)
        rc = read_rows(&r, buf, len);
    if (!rc) {
        long n = merge_duplicates(r.rows, r.nrows);
        rc = make_points(&r, r.rows, n, sc, svc, spec, ctx_ref, p);
    }
    if (!rc) {
        p->rows = r.rows_all;
        p->rows_tp1 = r.nrows;
        p->vocab_size = r.vocab;
        p->source = source_text;
        *out = *p;
    } else if (rc == EP_ENOMEM && err[0] == '\0') {
        snprintf(err, errlen, "%s: out of memory", dir);
    }
    free(r.rows);
    free(buf);
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
