/* The SQLite trace store: many named traces in one database file (schema in
 * traces/README.md). Writers work inside one transaction, so a trace appears whole or not
 * at all; readers stream rows in arrival order with memory independent of trace length. */
#ifndef EPARA_STORE_H
#define EPARA_STORE_H

#include "epara/traces/trace.h"

typedef struct ep_store ep_store;
struct sqlite3;

enum ep_store_flags {
    EP_STORE_READONLY = 1, /* open an existing database read-only */
};

/* Opens (creating when absent and not read-only) the database at path and makes sure the
 * schema exists. Returns 0, EP_ENOENT (read-only and missing), EP_EDB (not a database, or a
 * database of a newer schema: message in ep_store_errmsg of the returned handle is not
 * available, so the text goes to errbuf when given). */
int ep_store_open(const char *path, int flags, ep_store **out, char *errbuf, size_t errlen);
/* Closes the database; NULL is a no-op. */
void ep_store_close(ep_store *st);
/* Last SQLite error message of this store (static text when none). */
const char *ep_store_errmsg(const ep_store *st);
/* The underlying connection, for modules that keep their own tables (results). */
struct sqlite3 *ep_store_db(ep_store *st);

typedef struct ep_trace_meta {
    int64_t id;
    char name[EP_TRACE_NAME_MAX];
    char source[512];     /* where the rows came from: file name, generator spec */
    char format[32];      /* importer or generator that made the trace */
    char license[256];    /* license note of the source data */
    char imported_at[32]; /* UTC, ISO 8601 */
    char params[1024];    /* JSON object with import/generation parameters */
    int64_t rows;
    ep_time start_abs;     /* absolute time of the first arrival (ns since epoch, or the raw
                              origin for relative inputs) */
    ep_dur span;           /* last arrival - first arrival */
    unsigned fields;       /* EP_TRACE_F_* present in at least one row */
    unsigned dense_fields; /* EP_TRACE_F_* present in every row */
} ep_trace_meta;

/* Row fields, as bits of ep_trace_meta.fields. */
enum ep_trace_field_bit {
    EP_TRACE_F_INPUT = 1u << 0,
    EP_TRACE_F_OUTPUT = 1u << 1,
    EP_TRACE_F_STREAM = 1u << 2,
    EP_TRACE_F_FRAME = 1u << 3,
    EP_TRACE_F_EXEC = 1u << 4,
    EP_TRACE_F_KIND = 1u << 5,
    EP_TRACE_F_SERVICE = 1u << 6,
    EP_TRACE_F_ATTRS = 1u << 7,
    EP_TRACE_F_ALL = 0xffu
};

/* Fills *out for the trace called name. 0, EP_ENOENT or EP_EDB. */
int ep_trace_meta_get(ep_store *st, const char *name, ep_trace_meta *out);

/* Calls fn for every trace in name order; a non-zero return stops and is returned. */
int ep_trace_list(ep_store *st, int (*fn)(void *ctx, const ep_trace_meta *meta), void *ctx);

/* Deletes a trace and its rows. 0, EP_ENOENT or EP_EDB. */
int ep_trace_remove(ep_store *st, const char *name);

/* Trace names: 1..127 bytes of [A-Za-z0-9._-], not starting with '-'. 0 or EP_EINVAL. */
int ep_trace_name_check(const char *name);

/* --- writing ---------------------------------------------------------------------- */

typedef struct ep_trace_writer ep_trace_writer;

/* Starts a transaction that will create trace meta->name (name, source, format, license
 * and params are read from meta; the rest is computed). With replace, an existing trace of
 * that name is replaced when the writer commits; without, EP_EEXIST is returned at once.
 * Rows may come in any order and with any time origin: on commit they are sorted by
 * arrival (stable, so equal arrivals keep input order) and rebased so the first arrival is
 * 0 (unless meta->start_abs is set by the caller through ep_trace_writer_set_origin). */
int ep_trace_writer_begin(ep_store *st, const ep_trace_meta *meta, int replace,
                          ep_trace_writer **out);
/* Fixes the time origin instead of the first arrival: stored arrival = arrival - origin.
 * Rows before the origin are refused with EP_ERANGE at commit. */
void ep_trace_writer_set_origin(ep_trace_writer *w, ep_time origin);
/* Adds one row (strings are copied). 0, EP_EDB, EP_ERANGE. */
int ep_trace_writer_add(ep_trace_writer *w, const ep_trace_row *row);
/* Rows added so far. */
int64_t ep_trace_writer_rows(const ep_trace_writer *w);
/* Sorts if needed, writes the metadata and commits; frees w in every case. An empty trace
 * is refused with EP_EEMPTY (and rolled back). */
int ep_trace_writer_commit(ep_trace_writer *w, ep_trace_meta *out_meta);
/* Rolls back everything the writer did and frees it. NULL is a no-op. */
void ep_trace_writer_abort(ep_trace_writer *w);

/* Sink adapter: ctx is an ep_trace_writer *. */
int ep_trace_writer_sink(void *ctx, const ep_trace_row *row, long line);

/* --- reading ---------------------------------------------------------------------- */

typedef struct ep_trace_reader ep_trace_reader;

/* Opens a streaming reader over trace name in arrival order, optionally limited to
 * arrivals in [from, to) (pass 0 and EP_TIME_MAX for all). 0, EP_ENOENT or EP_EDB. */
int ep_trace_reader_open(ep_store *st, const char *name, ep_time from, ep_time to,
                         ep_trace_reader **out);
/* Reads the next row into *row: 1 when a row was read, 0 at the end, EP_EDB on error.
 * Text fields stay valid until the next call. */
int ep_trace_reader_next(ep_trace_reader *r, ep_trace_row *row);
void ep_trace_reader_close(ep_trace_reader *r);

/* --- import, statistics, transforms ------------------------------------------------- */

/* Reads the file at path (mmap; "-" for stdin), parses it with opts and stores it as a new
 * trace, all in one transaction. On EP_EPARSE, err holds line and reason and the database
 * is unchanged. Other errors: EP_EIO (errno text in err->msg), EP_EEXIST, EP_EEMPTY (no
 * rows), EP_EDB. stats may be NULL. */
int ep_trace_import_file(ep_store *st, const char *path, const ep_parse_opts *opts,
                         const ep_trace_meta *meta, int replace, ep_parse_error *err,
                         ep_parse_stats *stats, ep_trace_meta *out_meta);

#define EP_TRACE_STATS_KEYS 16

typedef struct ep_trace_stats {
    int64_t requests;
    double span_s;
    double rate_per_s; /* requests / span */
    double interarrival_mean_s;
    double interarrival_cv; /* sd / mean of consecutive gaps */
    int64_t max_per_minute; /* busiest minute, aligned to the trace start */
    double peak_to_mean_minute;
    int64_t streams; /* distinct stream ids (0 when none) */
    int64_t with_input, with_output, with_exec;
    double input_mean, input_p50, input_p90, input_p99, input_max;
    double output_mean, output_p50, output_p90, output_p99, output_max;
    double exec_mean_s, exec_p50_s, exec_p99_s;
    /* Arrival quantization: how many distinct arrival times, and the tick, the greatest
     * common divisor of all arrivals' offsets from the first (0 when all are equal; e.g.
     * 3 s for requests logged in 3 s buckets, 1 ns for most generated traces). quantized
     * is set when at least 1% of the requests share their arrival time with an earlier one
     * and the tick is 1 ms or more: the timestamps' resolution made those ties, and the
     * inter-arrival CV counts their zero gaps (see ep_trace_spread). */
    int64_t distinct_arrivals;
    ep_dur tick;
    int quantized;
    /* The attrs kept with the rows: rows that have some, and the top-level keys in order
     * of first appearance with the rows holding each (at most EP_TRACE_STATS_KEYS;
     * attr_keys_more is set when there were more). Keys longer than the name buffer are
     * told apart by their first 47 bytes only. */
    int64_t with_attrs;
    int nattr_keys, attr_keys_more;
    struct {
        char name[48]; /* the key as written in the JSON text, truncated */
        int64_t rows;
    } attr_keys[EP_TRACE_STATS_KEYS];
} ep_trace_stats;

/* Streams the trace once and computes its statistics (quantiles with GSL). */
int ep_trace_stats_compute(ep_store *st, const char *name, ep_trace_stats *out);

/* Loads the (input, output) pairs of a trace, for resampling generators. Caller frees
 * both arrays with free(). */
int ep_trace_load_sizes(ep_store *st, const char *name, int64_t **input, int64_t **output,
                        size_t *n);

typedef struct ep_trace_transform {
    double time_scale;   /* new arrival = (arrival - from) * time_scale; 1 keeps timing.
                            A rate scale X is time_scale = 1 / X. */
    ep_time from, to;    /* keep arrivals in [from, to) of the source (0, EP_TIME_MAX: all) */
    const char *service; /* when not NULL, tag every row with this service */
} ep_trace_transform;

/* Writes trace dst from src through t, in one transaction. Errors as the writer's. */
int ep_trace_derive(ep_store *st, const char *src, const char *dst, const ep_trace_transform *t,
                    int replace, ep_trace_meta *out_meta);

/* Writes trace dst from src with every arrival moved later by its own uniform offset in
 * [0, width) (seeded; stream EP_STREAM_EXPAND of seed), for traces whose times are
 * quantized to buckets of that width with each time the start of its bucket: a bucket's
 * requests become a Poisson process conditioned on their count, as azure-functions'
 * uniform expansion. Rows keep every other field; ties in the result keep source order.
 * width in (0, 1 day]; EP_EINVAL otherwise or when src and dst are the same. Errors as the
 * writer's. */
int ep_trace_spread(ep_store *st, const char *src, const char *dst, ep_dur width, uint64_t seed,
                    int replace, ep_trace_meta *out_meta);

/* Merges n traces (each starting at its own time 0) into dst in arrival order, tagging the
 * rows of srcs[i] with services[i] (NULL keeps the source's own tags). */
int ep_trace_merge(ep_store *st, const char *dst, const char *const *srcs,
                   const char *const *services, size_t n, int replace, ep_trace_meta *out_meta);

#endif
