/* SQLite trace store: schema, trace metadata, the transactional writer and the streaming
 * reader. Invariant: a committed trace's rows have idx 0..rows-1 in nondecreasing arrival
 * order, the first arrival is 0 (or at/after the origin the writer was given), and the
 * traces row matches them (rows, span). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "epara/core/error.h"
#include "epara/traces/store.h"

#define SCHEMA_VERSION 1

struct ep_store {
    sqlite3 *db;
};

static const char schema_sql[] =
        "CREATE TABLE IF NOT EXISTS traces ("
        " id INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL UNIQUE,"
        " source TEXT NOT NULL DEFAULT '',"
        " format TEXT NOT NULL DEFAULT '',"
        " license TEXT NOT NULL DEFAULT '',"
        " imported_at TEXT NOT NULL,"
        " params TEXT NOT NULL DEFAULT '{}',"
        " rows INTEGER NOT NULL,"
        " start_abs_ns INTEGER NOT NULL,"
        " span_ns INTEGER NOT NULL,"
        " fields INTEGER NOT NULL DEFAULT 255,"
        " dense_fields INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE IF NOT EXISTS requests ("
        " id INTEGER PRIMARY KEY,"
        " arrival_ns INTEGER NOT NULL,"
        " input INTEGER,"
        " output INTEGER,"
        " stream INTEGER,"
        " frame INTEGER,"
        " exec_ns INTEGER,"
        " kind TEXT,"
        " service TEXT,"
        " attrs TEXT);"
        "CREATE TABLE IF NOT EXISTS profiles ("
        " service TEXT NOT NULL,"
        " device TEXT NOT NULL,"
        " kind TEXT NOT NULL CHECK (kind IN ('dnn', 'prefill', 'decode')),"
        " x INTEGER NOT NULL CHECK (x > 0),"
        " latency_ns INTEGER NOT NULL CHECK (latency_ns >= 0),"
        " ctx_ref INTEGER,"
        " source TEXT,"
        " measured_at TEXT,"
        " PRIMARY KEY (service, device, kind, x));"
        "CREATE VIEW IF NOT EXISTS requests_v AS SELECT"
        " id >> 40 AS trace_id, id & 1099511627775 AS idx, arrival_ns, input, output, stream,"
        " frame, exec_ns, kind, service, attrs FROM requests;";

/* A row's key packs its trace and position: id = trace_id << 40 | idx. Rows of one trace
 * are then one contiguous range of the table's own B-tree, appends take SQLite's fast
 * rowid-append path, and a streamed read is a plain range scan. */
#define IDX_BITS            40
#define ROW_KEY(trace, idx) (((int64_t)(trace) << IDX_BITS) | (int64_t)(idx))
#define MAX_TRACE_ID        ((INT64_C(1) << (63 - IDX_BITS)) - 1)
#define MAX_ROWS            (INT64_C(1) << IDX_BITS)

static void
set_err(char *buf, size_t len, const char *path, const char *why)
{
    if (buf && len)
        snprintf(buf, len, "%s: %s", path, why);
}

int
ep_store_open(const char *path, int flags, ep_store **out, char *errbuf, size_t errlen)
{
    ep_store *st = calloc(1, sizeof *st);
    if (!st)
        return EP_ENOMEM;
    int oflags = (flags & EP_STORE_READONLY) ? SQLITE_OPEN_READONLY
                                             : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &st->db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int err = (flags & EP_STORE_READONLY) && rc == SQLITE_CANTOPEN ? EP_ENOENT : EP_EDB;
        set_err(errbuf, errlen, path, st->db ? sqlite3_errmsg(st->db) : "cannot open");
        sqlite3_close(st->db);
        free(st);
        return err;
    }
    sqlite3_busy_timeout(st->db, 10000);
    /* Memory-mapped reads save a copy per page on streamed reads. */
    sqlite3_exec(st->db, "PRAGMA mmap_size=1073741824", NULL, NULL, NULL);
    sqlite3_stmt *s = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version < 0) {
        set_err(errbuf, errlen, path, "not an SQLite database, or unreadable");
        goto fail;
    }
    if (version > SCHEMA_VERSION) {
        set_err(errbuf, errlen, path,
                "made by a newer epara (schema version too new); upgrade epara");
        goto fail;
    }
    if (!(flags & EP_STORE_READONLY)) {
        const char *setup = "PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;"
                            "PRAGMA cache_size=-131072;";
        char *msg = NULL;
        if (sqlite3_exec(st->db, setup, NULL, NULL, &msg) != SQLITE_OK ||
            sqlite3_exec(st->db, schema_sql, NULL, NULL, &msg) != SQLITE_OK ||
            (version == 0 &&
             sqlite3_exec(st->db, "PRAGMA user_version=1", NULL, NULL, &msg) != SQLITE_OK)) {
            set_err(errbuf, errlen, path, msg ? msg : "cannot create schema");
            sqlite3_free(msg);
            goto fail;
        }
    } else if (version == 0) {
        set_err(errbuf, errlen, path, "holds no epara traces (empty database)");
        goto fail;
    }
    *out = st;
    return 0;
fail:
    sqlite3_close(st->db);
    free(st);
    return EP_EDB;
}

void
ep_store_close(ep_store *st)
{
    if (!st)
        return;
    sqlite3_close(st->db);
    free(st);
}

const char *
ep_store_errmsg(const ep_store *st)
{
    return st && st->db ? sqlite3_errmsg(st->db) : "no database";
}

sqlite3 *
ep_store_db(ep_store *st)
{
    return st->db;
}

int
ep_trace_name_check(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= EP_TRACE_NAME_MAX || name[0] == '-')
        return EP_EINVAL;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return EP_EINVAL;
    }
    return 0;
}

static void
copy_text(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

#define META_COLS                                                                          \
    "id, name, source, format, license, imported_at, params, rows, start_abs_ns, span_ns," \
    " fields, dense_fields"

static void
meta_from_row(sqlite3_stmt *s, ep_trace_meta *m)
{
    memset(m, 0, sizeof *m);
    m->id = sqlite3_column_int64(s, 0);
    copy_text(m->name, sizeof m->name, sqlite3_column_text(s, 1));
    copy_text(m->source, sizeof m->source, sqlite3_column_text(s, 2));
    copy_text(m->format, sizeof m->format, sqlite3_column_text(s, 3));
    copy_text(m->license, sizeof m->license, sqlite3_column_text(s, 4));
    copy_text(m->imported_at, sizeof m->imported_at, sqlite3_column_text(s, 5));
    copy_text(m->params, sizeof m->params, sqlite3_column_text(s, 6));
    m->rows = sqlite3_column_int64(s, 7);
    m->start_abs = sqlite3_column_int64(s, 8);
    m->span = sqlite3_column_int64(s, 9);
    m->fields = (unsigned)sqlite3_column_int(s, 10);
    m->dense_fields = (unsigned)sqlite3_column_int(s, 11);
}

int
ep_trace_meta_get(ep_store *st, const char *name, ep_trace_meta *out)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT " META_COLS " FROM traces WHERE name = ?", -1, &s,
                           NULL) != SQLITE_OK)
        return EP_EDB;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    int err = 0;
    if (rc == SQLITE_ROW)
        meta_from_row(s, out);
    else
        err = rc == SQLITE_DONE ? EP_ENOENT : EP_EDB;
    sqlite3_finalize(s);
    return err;
}

int
ep_trace_list(ep_store *st, int (*fn)(void *ctx, const ep_trace_meta *meta), void *ctx)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT " META_COLS " FROM traces ORDER BY name", -1, &s,
                           NULL) != SQLITE_OK)
        return EP_EDB;
    int rc, err = 0;
    ep_trace_meta m;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        meta_from_row(s, &m);
        if ((err = fn(ctx, &m)) != 0)
            break;
    }
    if (!err && rc != SQLITE_DONE)
        err = EP_EDB;
    sqlite3_finalize(s);
    return err;
}

static int
exec_sql(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : EP_EDB;
}

/* Runs a statement with one int64 parameter to completion. */
static int
exec_id(sqlite3 *db, const char *sql, int64_t id)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return EP_EDB;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : EP_EDB;
}

/* Runs a statement whose ?1 and ?2 are the first and one-past-last row keys of trace id. */
static int
exec_range(sqlite3 *db, const char *sql, int64_t id)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return EP_EDB;
    sqlite3_bind_int64(s, 1, ROW_KEY(id, 0));
    sqlite3_bind_int64(s, 2, ROW_KEY(id + 1, 0));
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : EP_EDB;
}

static int
delete_trace(sqlite3 *db, int64_t id)
{
    int err = exec_range(db, "DELETE FROM requests WHERE id >= ?1 AND id < ?2", id);
    if (!err)
        err = exec_id(db, "DELETE FROM traces WHERE id = ?", id);
    return err;
}

int
ep_trace_remove(ep_store *st, const char *name)
{
    ep_trace_meta m;
    int err = ep_trace_meta_get(st, name, &m);
    if (err)
        return err;
    if (exec_sql(st->db, "BEGIN IMMEDIATE"))
        return EP_EDB;
    err = delete_trace(st->db, m.id);
    if (!err && exec_sql(st->db, "COMMIT"))
        err = EP_EDB;
    if (err)
        exec_sql(st->db, "ROLLBACK");
    return err;
}

/* --- writer ----------------------------------------------------------------------- */

/* Rows are inserted BATCH at a time with one multi-row INSERT: one statement run per batch
 * instead of per row roughly halves the insert cost. Text is copied into `text` until the
 * batch is flushed. */
#define BATCH 64
#define NCOLS 10

typedef struct pending_row {
    int64_t key, arrival;
    int64_t ints[5];
    int64_t text_off[3]; /* offset into the writer's text buffer, -1 for NULL */
} pending_row;

struct ep_trace_writer {
    ep_store *st;
    sqlite3_stmt *ins;   /* one row */
    sqlite3_stmt *batch; /* BATCH rows */
    pending_row pend[BATCH];
    int npend;
    char *text;
    size_t text_len, text_cap;
    ep_trace_meta meta;
    int64_t id;
    int64_t rows;
    int have_origin;  /* origin fixed by the caller */
    ep_time origin;   /* stored arrival = arrival - origin */
    ep_time first;    /* first arrival added, raw (used as origin when not fixed) */
    ep_time last;     /* last stored arrival */
    ep_time min, max; /* stored arrival extremes */
    int sorted;
    unsigned present, missing; /* EP_TRACE_F_* seen non-NULL / NULL */
};

static void
now_iso(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
ep_trace_writer_begin(ep_store *st, const ep_trace_meta *meta, int replace, ep_trace_writer **out)
{
    if (ep_trace_name_check(meta->name))
        return EP_EINVAL;
    ep_trace_writer *w = calloc(1, sizeof *w);
    if (!w)
        return EP_ENOMEM;
    w->st = st;
    w->meta = *meta;
    w->sorted = 1;
    if (exec_sql(st->db, "BEGIN IMMEDIATE")) {
        free(w);
        return EP_EDB;
    }
    int err;
    ep_trace_meta old;
    err = ep_trace_meta_get(st, meta->name, &old);
    if (err == 0) {
        if (!replace) {
            err = EP_EEXIST;
            goto fail;
        }
        if ((err = delete_trace(st->db, old.id)) != 0)
            goto fail;
    } else if (err != EP_ENOENT) {
        goto fail;
    }
    /* Claim the name now so the id is known; the row is completed on commit. */
    sqlite3_stmt *s;
    err = EP_EDB;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO traces (name, imported_at, rows, start_abs_ns, span_ns)"
                           " VALUES (?, '', 0, 0, 0)",
                           -1, &s, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(s, 1, meta->name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        goto fail;
    w->id = sqlite3_last_insert_rowid(st->db);
    if (w->id > MAX_TRACE_ID)
        goto fail;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT INTO requests (id, arrival_ns, input, output,"
                           " stream, frame, exec_ns, kind, service, attrs)"
                           " VALUES (?,?,?,?,?,?,?,?,?,?)",
                           -1, &w->ins, NULL) != SQLITE_OK)
        goto fail;
    {
        char sql[BATCH * 24 + 160];
        size_t off = (size_t)snprintf(sql, sizeof sql,
                                      "INSERT INTO requests (id, arrival_ns, input, output,"
                                      " stream, frame, exec_ns, kind, service, attrs) VALUES ");
        for (int i = 0; i < BATCH; i++)
            off += (size_t)snprintf(sql + off, sizeof sql - off, "%s(?,?,?,?,?,?,?,?,?,?)",
                                    i ? "," : "");
        if (sqlite3_prepare_v2(st->db, sql, -1, &w->batch, NULL) != SQLITE_OK)
            goto fail;
    }
    *out = w;
    return 0;
fail:
    sqlite3_finalize(w->ins);
    sqlite3_finalize(w->batch);
    exec_sql(st->db, "ROLLBACK");
    free(w);
    return err;
}

void
ep_trace_writer_set_origin(ep_trace_writer *w, ep_time origin)
{
    w->have_origin = 1;
    w->origin = origin;
}

static void
bind_pending(sqlite3_stmt *s, int base, const pending_row *p, const char *text)
{
    sqlite3_bind_int64(s, base + 1, p->key);
    sqlite3_bind_int64(s, base + 2, p->arrival);
    for (int i = 0; i < 5; i++) {
        if (p->ints[i] == EP_TRACE_NONE)
            sqlite3_bind_null(s, base + 3 + i);
        else
            sqlite3_bind_int64(s, base + 3 + i, p->ints[i]);
    }
    for (int i = 0; i < 3; i++) {
        if (p->text_off[i] < 0)
            sqlite3_bind_null(s, base + 8 + i);
        else
            sqlite3_bind_text(s, base + 8 + i, text + p->text_off[i], -1, SQLITE_STATIC);
    }
}

static int
step_reset(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : EP_EDB;
}

/* Inserts the pending rows: a full batch with one statement, a partial one row by row. */
static int
flush(ep_trace_writer *w)
{
    int err = 0;
    if (w->npend == BATCH) {
        for (int i = 0; i < BATCH; i++)
            bind_pending(w->batch, i * NCOLS, &w->pend[i], w->text);
        err = step_reset(w->batch);
    } else {
        for (int i = 0; i < w->npend && !err; i++) {
            bind_pending(w->ins, 0, &w->pend[i], w->text);
            err = step_reset(w->ins);
        }
    }
    w->npend = 0;
    w->text_len = 0;
    return err;
}

static int64_t
keep_text(ep_trace_writer *w, const char *t)
{
    if (!t)
        return -1;
    size_t n = strlen(t) + 1;
    if (w->text_len + n > w->text_cap) {
        size_t cap = w->text_cap ? w->text_cap : 4096;
        while (cap < w->text_len + n)
            cap *= 2;
        char *nt = realloc(w->text, cap);
        if (!nt)
            return -2;
        w->text = nt;
        w->text_cap = cap;
    }
    memcpy(w->text + w->text_len, t, n);
    int64_t off = (int64_t)w->text_len;
    w->text_len += n;
    return off;
}

int
ep_trace_writer_add(ep_trace_writer *w, const ep_trace_row *row)
{
    if (w->rows == 0 && !w->have_origin) {
        w->origin = row->arrival;
        w->first = row->arrival;
    }
    ep_time a;
    if (__builtin_sub_overflow(row->arrival, w->origin, &a))
        return EP_ERANGE;
    if (w->rows == 0) {
        w->min = w->max = a;
    } else {
        if (a < w->last)
            w->sorted = 0;
        if (a < w->min)
            w->min = a;
        if (a > w->max)
            w->max = a;
    }
    w->last = a;
    if (w->rows >= MAX_ROWS)
        return EP_EFULL;
    const int64_t ints[] = {row->input, row->output, row->stream, row->frame, row->exec};
    const char *const texts[] = {row->kind, row->service, row->attrs};
    for (unsigned i = 0; i < 5; i++)
        *(ints[i] == EP_TRACE_NONE ? &w->missing : &w->present) |= 1u << i;
    for (unsigned i = 0; i < 3; i++)
        *(texts[i] ? &w->present : &w->missing) |= 1u << (5 + i);
    pending_row *p = &w->pend[w->npend];
    p->key = ROW_KEY(w->id, w->rows);
    p->arrival = a;
    memcpy(p->ints, ints, sizeof p->ints);
    for (int i = 0; i < 3; i++)
        if ((p->text_off[i] = keep_text(w, texts[i])) == -2)
            return EP_ENOMEM;
    w->rows++;
    if (++w->npend == BATCH)
        return flush(w);
    return 0;
}

int64_t
ep_trace_writer_rows(const ep_trace_writer *w)
{
    return w->rows;
}

int
ep_trace_writer_sink(void *ctx, const ep_trace_row *row, long line)
{
    (void)line;
    return ep_trace_writer_add(ctx, row);
}

/* Rewrites the rows of trace id in (arrival, input order) order, shifted by -shift. */
static int
reorder(sqlite3 *db, int64_t id, ep_time shift)
{
    static const char *const steps[] = {
            ("CREATE TEMP TABLE ep_stage AS SELECT"
             " row_number() OVER (ORDER BY arrival_ns, id) - 1 AS idx, arrival_ns - ?3 AS"
             " arrival_ns, input, output, stream, frame, exec_ns, kind, service, attrs"
             " FROM requests WHERE id >= ?1 AND id < ?2"),
            "DELETE FROM requests WHERE id >= ?1 AND id < ?2",
            ("INSERT INTO requests SELECT ?1 + idx, arrival_ns, input, output, stream, frame,"
             " exec_ns, kind, service, attrs FROM ep_stage ORDER BY idx"),
            "DROP TABLE ep_stage",
    };
    for (size_t i = 0; i < EP_ARRAY_LEN(steps); i++) {
        sqlite3_stmt *s;
        if (sqlite3_prepare_v2(db, steps[i], -1, &s, NULL) != SQLITE_OK)
            return EP_EDB;
        int np = sqlite3_bind_parameter_count(s);
        if (np >= 1)
            sqlite3_bind_int64(s, 1, ROW_KEY(id, 0));
        if (np >= 2)
            sqlite3_bind_int64(s, 2, ROW_KEY(id + 1, 0));
        if (np >= 3)
            sqlite3_bind_int64(s, 3, shift);
        int rc = sqlite3_step(s);
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE)
            return EP_EDB;
    }
    return 0;
}

int
ep_trace_writer_commit(ep_trace_writer *w, ep_trace_meta *out_meta)
{
    sqlite3 *db = w->st->db;
    int err = flush(w);
    sqlite3_finalize(w->ins);
    sqlite3_finalize(w->batch);
    w->ins = w->batch = NULL;
    if (err)
        goto fail;
    if (w->rows == 0) {
        err = EP_EEMPTY;
        goto fail;
    }
    ep_time shift = 0;
    if (!w->have_origin)
        shift = w->min; /* rebase so the earliest arrival is 0 */
    else if (w->min < 0) {
        err = EP_ERANGE; /* rows before the fixed origin */
        goto fail;
    }
    if (!w->sorted || shift != 0) {
        if ((err = reorder(db, w->id, shift)) != 0)
            goto fail;
    }
    w->meta.id = w->id;
    w->meta.rows = w->rows;
    w->meta.start_abs = w->origin + shift;
    w->meta.span = w->max - w->min;
    w->meta.fields = w->present;
    w->meta.dense_fields = EP_TRACE_F_ALL & ~w->missing;
    now_iso(w->meta.imported_at, sizeof w->meta.imported_at);
    if (w->meta.params[0] == '\0')
        strcpy(w->meta.params, "{}");
    sqlite3_stmt *s;
    err = EP_EDB;
    if (sqlite3_prepare_v2(db,
                           "UPDATE traces SET source=?, format=?, license=?, imported_at=?,"
                           " params=?, rows=?, start_abs_ns=?, span_ns=?, fields=?,"
                           " dense_fields=? WHERE id=?",
                           -1, &s, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(s, 1, w->meta.source, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, w->meta.format, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, w->meta.license, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, w->meta.imported_at, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, w->meta.params, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, w->meta.rows);
    sqlite3_bind_int64(s, 7, w->meta.start_abs);
    sqlite3_bind_int64(s, 8, w->meta.span);
    sqlite3_bind_int(s, 9, (int)w->meta.fields);
    sqlite3_bind_int(s, 10, (int)w->meta.dense_fields);
    sqlite3_bind_int64(s, 11, w->id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE || exec_sql(db, "COMMIT"))
        goto fail;
    if (out_meta)
        *out_meta = w->meta;
    free(w->text);
    free(w);
    return 0;
fail:
    exec_sql(db, "ROLLBACK");
    free(w->text);
    free(w);
    return err;
}

void
ep_trace_writer_abort(ep_trace_writer *w)
{
    if (!w)
        return;
    sqlite3_finalize(w->ins);
    sqlite3_finalize(w->batch);
    exec_sql(w->st->db, "ROLLBACK");
    free(w->text);
    free(w);
}

/* --- reader ----------------------------------------------------------------------- */

struct ep_trace_reader {
    sqlite3_stmt *sel;
    int ncols;
    unsigned char field[8]; /* field bit index of result column 1 + i */
    unsigned char dense[8]; /* that column is never NULL in this trace */
};

static const char *const field_cols_[8] = {"input",   "output", "stream",  "frame",
                                           "exec_ns", "kind",   "service", "attrs"};

/* First idx whose arrival is >= t (rows when none), by bisection over the idx order. */
static int
lower_idx(sqlite3 *db, int64_t id, int64_t rows, ep_time t, int64_t *out)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "SELECT arrival_ns FROM requests WHERE id=?", -1, &s, NULL) !=
        SQLITE_OK)
        return EP_EDB;
    int64_t lo = 0, hi = rows;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        sqlite3_bind_int64(s, 1, ROW_KEY(id, mid));
        if (sqlite3_step(s) != SQLITE_ROW) {
            sqlite3_finalize(s);
            return EP_EDB;
        }
        ep_time a = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        if (a < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    sqlite3_finalize(s);
    *out = lo;
    return 0;
}

int
ep_trace_reader_open(ep_store *st, const char *name, ep_time from, ep_time to,
                     ep_trace_reader **out)
{
    ep_trace_meta m;
    int err = ep_trace_meta_get(st, name, &m);
    if (err)
        return err;
    int64_t lo = 0, hi = m.rows;
    if (from > 0 && (err = lower_idx(st->db, m.id, m.rows, from, &lo)) != 0)
        return err;
    if (to != EP_TIME_MAX && (err = lower_idx(st->db, m.id, m.rows, to, &hi)) != 0)
        return err;
    ep_trace_reader *r = calloc(1, sizeof *r);
    if (!r)
        return EP_ENOMEM;
    /* Select only the columns this trace uses: most traces fill three of nine, and every
     * column costs time on each row of a streamed read. */
    char sql[256] = "SELECT arrival_ns";
    for (unsigned i = 0; i < 8; i++) {
        if (!(m.fields & (1u << i)))
            continue;
        strcat(sql, ", ");
        strcat(sql, field_cols_[i]);
        r->field[r->ncols] = (unsigned char)i;
        r->dense[r->ncols] = (m.dense_fields >> i) & 1u;
        r->ncols++;
    }
    strcat(sql, " FROM requests WHERE id>=? AND id<? ORDER BY id");
    if (sqlite3_prepare_v2(st->db, sql, -1, &r->sel, NULL) != SQLITE_OK) {
        free(r);
        return EP_EDB;
    }
    sqlite3_bind_int64(r->sel, 1, ROW_KEY(m.id, lo));
    sqlite3_bind_int64(r->sel, 2, ROW_KEY(m.id, hi));
    *out = r;
    return 0;
}

int
ep_trace_reader_next(ep_trace_reader *r, ep_trace_row *row)
{
    sqlite3_stmt *s = r->sel;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        return 0;
    if (rc != SQLITE_ROW)
        return EP_EDB;
    int64_t ints[5] = {EP_TRACE_NONE, EP_TRACE_NONE, EP_TRACE_NONE, EP_TRACE_NONE, EP_TRACE_NONE};
    const char *texts[3] = {NULL, NULL, NULL};
    row->arrival = sqlite3_column_int64(s, 0);
    for (int c = 0; c < r->ncols; c++) {
        unsigned f = r->field[c];
        if (f < 5) {
            if (r->dense[c] || sqlite3_column_type(s, c + 1) != SQLITE_NULL)
                ints[f] = sqlite3_column_int64(s, c + 1);
        } else {
            texts[f - 5] = (const char *)sqlite3_column_text(s, c + 1);
        }
    }
    row->input = ints[0];
    row->output = ints[1];
    row->stream = ints[2];
    row->frame = ints[3];
    row->exec = ints[4];
    row->kind = texts[0];
    row->service = texts[1];
    row->attrs = texts[2];
    return 1;
}

void
ep_trace_reader_close(ep_trace_reader *r)
{
    if (!r)
        return;
    sqlite3_finalize(r->sel);
    free(r);
}
