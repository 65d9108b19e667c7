/* Traces: request rows, the pure parsers that produce them (bytes -> rows, no I/O, no
 * SQLite: fuzzable), and the generators. The SQLite store is in epara/traces/store.h.
 *
 * A parser reads a whole input held in memory and hands each row to a sink callback in
 * input order. It validates everything: on the first malformed row it stops and returns
 * EP_EPARSE with the 1-based line (and column when known) and a message in ep_parse_error.
 * Rows already handed to the sink are the caller's to discard (the importer does so by
 * rolling back its transaction). */
#ifndef EPARA_TRACE_H
#define EPARA_TRACE_H

#include "epara/core/common.h"
#include "epara/core/model.h"
#include "epara/core/time.h"

/* Value of an absent integer field (sizes, stream, frame, exec). */
#define EP_TRACE_NONE INT64_C(-1)

/* Sizes above this are refused as absurd (tokens, bytes or characters). */
#define EP_TRACE_MAX_SIZE INT64_C(1000000000)
/* Execution times above this (one week) are refused as absurd. */
#define EP_TRACE_MAX_EXEC (INT64_C(7) * 86400 * EP_NS_PER_S)
/* Per-minute invocation counts above this are refused as absurd (azure-functions). */
#define EP_TRACE_MAX_PER_MINUTE INT64_C(10000000)
/* Longest text field kept (kind, service); longer values are refused. */
#define EP_TRACE_MAX_TEXT 255

typedef struct ep_trace_row {
    /* Arrival. From parsers: absolute ns (ns since the Unix epoch for datetimes, otherwise
     * the mapped column scaled to ns). From the store: ns since the trace start. */
    ep_time arrival;
    int64_t input;  /* input size: prompt tokens, bytes or characters; EP_TRACE_NONE */
    int64_t output; /* output size: generated tokens, images; EP_TRACE_NONE */
    int64_t stream; /* stream id (camera, function); EP_TRACE_NONE */
    int64_t frame;  /* frame number within the stream; EP_TRACE_NONE */
    ep_dur exec;    /* observed execution time; EP_TRACE_NONE */
    /* Borrowed NUL-terminated text, valid only during the callback (or until the next
     * reader call); NULL when absent. kind: request type or trigger; attrs: other fields
     * as one JSON object; service: service tag of a merged trace. */
    const char *kind;
    const char *attrs;
    const char *service;
} ep_trace_row;

/* Sets every field of *row to absent and arrival to 0. */
void ep_trace_row_clear(ep_trace_row *row);

typedef enum ep_trace_format {
    EP_FMT_AZURE_LLM,       /* TIMESTAMP,ContextTokens,GeneratedTokens (Azure LLM 2023) */
    EP_FMT_ALIBABA_GENTD,   /* GenTD26 lora_request_trace.csv */
    EP_FMT_AZURE_FUNCTIONS, /* Azure Functions 2019 invocations_per_function_md */
    EP_FMT_CSV,             /* any CSV with a header, through an ep_colmap */
    EP_FMT_JSONL,           /* one JSON object a line, through an ep_colmap */
    EP_FMT_COUNT_
} ep_trace_format;

/* "azure-llm", "alibaba-gentd", "azure-functions", "csv", "jsonl". 0 or EP_EINVAL. */
int ep_trace_format_parse(const char *name, ep_trace_format *out);
const char *ep_trace_format_name(ep_trace_format fmt);

typedef enum ep_time_unit {
    EP_UNIT_DATETIME, /* text as accepted by ep_time_parse_datetime */
    EP_UNIT_S,
    EP_UNIT_MS,
    EP_UNIT_US,
    EP_UNIT_NS
} ep_time_unit;

enum ep_trace_field {
    EP_FIELD_TIME,    /* required; unit datetime|s|ms|us|ns (numbers may have decimals) */
    EP_FIELD_INPUT,   /* non-negative integer */
    EP_FIELD_OUTPUT,  /* non-negative integer */
    EP_FIELD_STREAM,  /* non-negative integer */
    EP_FIELD_FRAME,   /* non-negative integer */
    EP_FIELD_EXEC,    /* duration; unit s (default)|ms|us|ns */
    EP_FIELD_KIND,    /* text */
    EP_FIELD_SERVICE, /* text */
    EP_FIELD_COUNT_
};

#define EP_COLMAP_NAME_MAX 64

/* Which source column (CSV header name or JSON key) feeds each row field.
 *
 * A JSONL object that lacks a mapped key is refused, unless the map gives that field a
 * default ("output=COL?DEFAULT"; has_default set, dflt the DEFAULT text, "" meaning
 * unknown). The default also fills empty CSV cells and JSON nulls, which are unknown
 * without one. Columns or keys that no field maps are kept in the row's attrs (a JSON
 * object: CSV cells as strings, JSON values as they are; an unmapped "attrs" holding an
 * object, as `trace export` writes, is merged, not nested) unless drop_attrs is set. */
typedef struct ep_colmap {
    char column[EP_FIELD_COUNT_][EP_COLMAP_NAME_MAX]; /* "" when unmapped */
    ep_time_unit unit[EP_FIELD_COUNT_];               /* for EP_FIELD_TIME and EP_FIELD_EXEC */
    unsigned char has_default[EP_FIELD_COUNT_];       /* never for EP_FIELD_TIME */
    char dflt[EP_FIELD_COUNT_][EP_COLMAP_NAME_MAX];   /* valid for the field when set */
    int drop_attrs;                                   /* 0: keep unmapped fields in attrs */
} ep_colmap;

/* Parses "field=COLUMN[:unit][?DEFAULT],..." with fields time, input, output, stream, frame,
 * exec, kind, service, e.g. "time=TIMESTAMP:datetime,input=ContextTokens,output=GeneratedTokens",
 * plus "attrs=all" (the default) or "attrs=none". time is required and takes no default;
 * a DEFAULT must be a valid value of its field (exec in its unit) or empty (unknown). On
 * error returns EP_EINVAL and writes a message into err. */
int ep_colmap_parse(const char *spec, ep_colmap *out, char *err, size_t errlen);

/* How azure-functions per-minute counts become arrivals (all seeded):
 * UNIFORM: the c arrivals of a minute at independent uniform instants in the minute (a
 *          Poisson process conditioned on its count: counts are kept exactly);
 * EVEN:    evenly spaced at (k + 0.5) * 60 s / c;
 * POISSON: a Poisson process of rate c / 60 s over the minute (counts vary around c). */
typedef enum ep_expand_rule { EP_EXPAND_UNIFORM, EP_EXPAND_EVEN, EP_EXPAND_POISSON } ep_expand_rule;
int ep_expand_rule_parse(const char *name, ep_expand_rule *out);

typedef struct ep_parse_error {
    long line; /* 1-based line of the input, 0 when not tied to a line */
    long col;  /* 1-based column (field index for CSV), 0 when unknown */
    char msg[256];
} ep_parse_error;

typedef struct ep_parse_stats {
    long lines;   /* lines read, header included */
    long rows;    /* rows handed to the sink */
    long skipped; /* rows reported through on_skip and not handed to the sink */
} ep_parse_stats;

/* Receives one row and its 1-based input line. A non-zero return stops the parse, and the
 * parser returns that value. */
typedef int (*ep_row_sink_fn)(void *ctx, const ep_trace_row *row, long line);
/* Told of a row that is skipped by rule (GenTD26 pending rows with empty fields). */
typedef void (*ep_skip_fn)(void *ctx, long line, const char *reason);

typedef struct ep_parse_opts {
    ep_trace_format format;
    const ep_colmap *map;  /* required for csv and jsonl, ignored otherwise */
    uint64_t seed;         /* azure-functions expansion */
    ep_expand_rule expand; /* azure-functions expansion */
    ep_skip_fn on_skip;    /* may be NULL */
    void *ctx;             /* passed to on_skip, on_progress and to the sink */
    /* Called by ep_trace_import_file every 2^20 rows stored (may be NULL). */
    void (*on_progress)(void *ctx, long rows);
} ep_parse_opts;

/* Parses buf[0..len) (need not be NUL-terminated) in the given format. Accepts LF and CRLF
 * line ends and a missing final newline; refuses empty input, a missing or wrong header,
 * wrong column counts, non-numeric, negative or absurd values, invalid UTF-8 and stray CR
 * bytes. Returns 0, EP_EPARSE (err filled), EP_EINVAL (bad options), or the sink's value.
 * stats may be NULL. */
int ep_trace_parse(const char *buf, size_t len, const ep_parse_opts *opts, ep_row_sink_fn sink,
                   ep_parse_error *err, ep_parse_stats *stats);

/* --- generators ------------------------------------------------------------------- */

typedef enum ep_gen_kind {
    EP_GEN_POISSON, /* exponential inter-arrivals at rate_per_s */
    EP_GEN_GAMMA,   /* Gamma inter-arrivals with mean 1/rate_per_s and the given cv */
    EP_GEN_MMPP,    /* two-state on/off Markov-modulated Poisson process */
    EP_GEN_VIDEO    /* cameras x fps frame streams with jitter and on/off periods */
} ep_gen_kind;
int ep_gen_kind_parse(const char *name, ep_gen_kind *out);

typedef enum ep_sizes_mode {
    EP_SIZES_FIXED,     /* input = fixed_input, output = fixed_output */
    EP_SIZES_LOGNORMAL, /* independent lognormals (in_mu, in_sigma), (out_mu, out_sigma) */
    EP_SIZES_RESAMPLE   /* (input, output) pairs drawn uniformly from pool_* (keeps their joint law)
                         */
} ep_sizes_mode;

typedef struct ep_gen_spec {
    ep_gen_kind kind;
    uint64_t seed;
    ep_dur duration; /* arrivals in [0, duration) */
    double rate_per_s;
    double cv; /* gamma */
    /* mmpp: rate_per_s while on, off_rate_per_s while off; exponential sojourns */
    double off_rate_per_s;
    double mean_on_s;  /* mmpp and video (video: 0 means always on) */
    double mean_off_s; /* mmpp and video */
    /* video */
    int cameras;
    double fps;
    double jitter_ms; /* standard deviation of each frame's offset from its nominal time */
    /* sizes */
    ep_sizes_mode sizes;
    int64_t fixed_input, fixed_output; /* EP_TRACE_NONE allowed */
    double in_mu, in_sigma, out_mu, out_sigma;
    /* lognormal: draws above these are clipped to them (a context window, an output cap);
     * 0 = no clip beyond EP_TRACE_MAX_SIZE */
    int64_t in_max, out_max;
    const int64_t *pool_input, *pool_output; /* borrowed, pool_len entries each */
    size_t pool_len;
} ep_gen_spec;

/* Where a scenario's trace comes from when the trace database lacks it (a workload's
 * `import` and `generate`, experiments/scenarios/README.md): imported from import_file if
 * given and there, else generated from gen. */
typedef struct ep_trace_origin {
    char import_file[EP_PATH_MAX];
    ep_trace_format import_format;
    int has_import;
    ep_gen_spec gen; /* owned copy; pool pointers unused */
    int has_gen;
    char gen_sizes_trace[EP_TRACE_NAME_MAX]; /* gen sizes from this trace ("fit" or
                                                "resample" by gen.sizes) */
    char import_map[256];         /* csv/jsonl column map (ep_colmap_parse syntax); "" else */
    ep_expand_rule import_expand; /* azure-functions arrival expansion (default uniform) */
} ep_trace_origin;

/* Defaults: poisson, seed 1, 60 s, 1 req/s, cv 1, 1 camera at 30 fps, fixed sizes absent. */
void ep_gen_spec_init(ep_gen_spec *spec);

/* Generates rows in arrival order (arrival in ns from 0) into sink (line = row number).
 * Returns 0, EP_EINVAL for a spec that makes no sense (message in err), or the sink's
 * value. Deterministic for a given spec. */
int ep_trace_generate(const ep_gen_spec *spec, ep_row_sink_fn sink, void *ctx, char *err,
                      size_t errlen);

/* Maximum-likelihood lognormal fit of the positive values in v (zeros and absent values are
 * ignored). Returns 0 or EP_EEMPTY when fewer than two positive values. */
int ep_lognormal_fit(const int64_t *v, size_t n, double *mu, double *sigma);

#endif
