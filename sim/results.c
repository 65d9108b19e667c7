/* SQLite results store. Schema (PRAGMA user_version 1):
 *   runs(id, started_at, scenario, scenario_text, seed, policy, git_rev, host, options,
 *        rate_scale, duration_s, goodput_per_s, slo_attainment, requests, completed,
 *        rejected, dropped, unfinished, p50_latency_s, p99_latency_s, events, wall_s,
 *        event_hash, summary)
 *   run_services(run_id, service, kind, sensitivity, multi_device, requests, completed,
 *        rejected, dropped, unfinished, slo_met, goodput_per_s, slo_attainment,
 *        p50_latency_s, p90_latency_s, p99_latency_s, p50_ttft_s, p99_ttft_s, p50_tpot_s,
 *        p99_tpot_s)
 *   run_devices(run_id, device, node, spec, busy_s, utilization)
 *   records(run_id, id, service, ingress, outcome, reason, slo_met, in_window, arrival_ns,
 *        dispatch_ns, first_token_ns, done_ns, instance, node, hops, batch, input, output,
 *        preemptions)
 *   max_rates(id, started_at, scenario, policy, metric, service, attainment_target,
 *        max_rate_scale, bracket_lo, bracket_hi, attainment, requests_per_s, goodput_per_s,
 *        duration_s, seed, slo_scale, tol, runs, options, git_rev, host): epara maxrate --out
 * Added by epara sweep (ep_results_sweep_init, ALTER TABLE, so older databases stay readable
 * and gain it on first use): runs.sweep_key TEXT (NULL for runs of other commands), indexed.
 * The queries that read it back are in results_query.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "epara/core/error.h"
#include "epara/sim/results.h"
#include "results_internal.h"

static const char schema[] =
        "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, started_at TEXT NOT NULL,"
        " scenario TEXT, scenario_text TEXT, seed INTEGER, policy TEXT, git_rev TEXT, host TEXT,"
        " options TEXT, rate_scale REAL, duration_s REAL, goodput_per_s REAL,"
        " slo_attainment REAL, requests INTEGER, completed INTEGER, rejected INTEGER,"
        " dropped INTEGER, unfinished INTEGER, p50_latency_s REAL, p99_latency_s REAL,"
        " events INTEGER, wall_s REAL, event_hash TEXT, summary TEXT);"
        "CREATE TABLE IF NOT EXISTS run_services (run_id INTEGER NOT NULL, service TEXT,"
        " kind TEXT, sensitivity TEXT, multi_device INTEGER, requests INTEGER,"
        " completed INTEGER, rejected INTEGER, dropped INTEGER, unfinished INTEGER,"
        " slo_met INTEGER, goodput_per_s REAL, slo_attainment REAL, p50_latency_s REAL,"
        " p90_latency_s REAL, p99_latency_s REAL, p50_ttft_s REAL, p99_ttft_s REAL,"
        " p50_tpot_s REAL, p99_tpot_s REAL);"
        "CREATE TABLE IF NOT EXISTS run_devices (run_id INTEGER NOT NULL, device INTEGER,"
        " node TEXT, spec TEXT, busy_s REAL, utilization REAL);"
        "CREATE TABLE IF NOT EXISTS records (run_id INTEGER NOT NULL, id INTEGER,"
        " service TEXT, ingress TEXT, outcome TEXT, reason TEXT, slo_met INTEGER,"
        " in_window INTEGER, arrival_ns INTEGER, dispatch_ns INTEGER, first_token_ns INTEGER,"
        " done_ns INTEGER, instance INTEGER, node TEXT, hops INTEGER, batch INTEGER,"
        " input INTEGER, output INTEGER, preemptions INTEGER);"
        "CREATE INDEX IF NOT EXISTS records_run ON records(run_id);"
        "CREATE TABLE IF NOT EXISTS max_rates (id INTEGER PRIMARY KEY, started_at TEXT,"
        " scenario TEXT, policy TEXT, metric TEXT, service TEXT, attainment_target REAL,"
        " max_rate_scale REAL, bracket_lo REAL, bracket_hi REAL, attainment REAL,"
        " requests_per_s REAL, goodput_per_s REAL, duration_s REAL, seed INTEGER,"
        " slo_scale REAL, tol REAL, runs INTEGER, options TEXT, git_rev TEXT, host TEXT);"
        "PRAGMA user_version=1;";

int
ep_results_open(const char *path, ep_results **out, char *err, size_t errlen)
{
    ep_results *r = calloc(1, sizeof *r);
    if (!r)
        return EP_ENOMEM;
    char *msg = NULL;
    /* The busy timeout comes first: the schema statements write (user_version), and
     * concurrent writers (epara sweep's workers) must wait for each other, not fail. */
    if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
                SQLITE_OK ||
        sqlite3_busy_timeout(r->db, 30000) != SQLITE_OK ||
        sqlite3_exec(r->db, "PRAGMA synchronous=NORMAL", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(r->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path,
                 msg ? msg : (r->db ? sqlite3_errmsg(r->db) : "cannot open"));
        sqlite3_free(msg);
        sqlite3_close(r->db);
        free(r);
        return EP_EDB;
    }
    *out = r;
    return 0;
}

void
ep_results_close(ep_results *r)
{
    if (!r)
        return;
    sqlite3_finalize(r->rec);
    sqlite3_close(r->db);
    free(r);
}

const char *
ep_results_errmsg(const ep_results *r)
{
    return r && r->db ? sqlite3_errmsg(r->db) : "no database";
}

static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(s, i);
}

static void
bind_real(sqlite3_stmt *s, int i, double v)
{
    if (isfinite(v))
        sqlite3_bind_double(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

/* The current UTC time as ISO 8601 into now[32]. */
static void
utc_now(char *now)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
ep_results_add_max_rate(ep_results *r, const ep_max_rate_row *row)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(r->db,
                           "INSERT INTO max_rates (started_at, scenario, policy, metric, service,"
                           " attainment_target, max_rate_scale, bracket_lo, bracket_hi,"
                           " attainment, requests_per_s, goodput_per_s, duration_s, seed,"
                           " slo_scale, tol, runs, options, git_rev, host)"
                           " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return EP_EDB;
    char now[32];
    utc_now(now);
    bind_text(s, 1, now);
    bind_text(s, 2, row->scenario);
    bind_text(s, 3, row->policy);
    bind_text(s, 4, row->metric);
    bind_text(s, 5, row->service);
    bind_real(s, 6, row->attainment_target);
    bind_real(s, 7, row->max_rate_scale);
    bind_real(s, 8, row->bracket_lo);
    bind_real(s, 9, row->bracket_hi);
    bind_real(s, 10, row->attainment);
    bind_real(s, 11, row->requests_per_s);
    bind_real(s, 12, row->goodput_per_s);
    bind_real(s, 13, row->duration_s);
    sqlite3_bind_int64(s, 14, (sqlite3_int64)row->seed);
    bind_real(s, 15, row->slo_scale);
    bind_real(s, 16, row->tol);
    sqlite3_bind_int(s, 17, row->runs);
    bind_text(s, 18, row->options_json);
    bind_text(s, 19, row->git_rev);
    bind_text(s, 20, row->host);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : EP_EDB;
    sqlite3_finalize(s);
    return rc;
}

int
ep_results_begin(ep_results *r, const ep_run_info *info, int64_t *run_id)
{
    if (sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return EP_EDB;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(r->db,
                           "INSERT INTO runs (started_at, scenario, scenario_text, seed, policy,"
                           " git_rev, host, options, rate_scale, duration_s)"
                           " VALUES (?,?,?,?,?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        goto fail;
    char now[32];
    utc_now(now);
    bind_text(s, 1, now);
    bind_text(s, 2, info->scenario_name);
    bind_text(s, 3, info->scenario_text);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)info->seed);
    bind_text(s, 5, info->policy);
    bind_text(s, 6, info->git_rev);
    bind_text(s, 7, info->host);
    bind_text(s, 8, info->options_json);
    bind_real(s, 9, info->rate_scale);
    bind_real(s, 10, info->duration_s);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        goto fail;
    r->run = sqlite3_last_insert_rowid(r->db);
    r->sc = info->sc;
    *run_id = r->run;
    return 0;
fail:
    sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
    return EP_EDB;
}

int
ep_results_add_record(ep_results *r, const ep_record *rec)
{
    if (!r->rec && sqlite3_prepare_v2(r->db,
                                      "INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
                                      "?,?,?,?,?)",
                                      -1, &r->rec, NULL) != SQLITE_OK)
        return EP_EDB;
    sqlite3_stmt *s = r->rec;
    sqlite3_bind_int64(s, 1, r->run);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)rec->id);
    bind_text(s, 3, r->sc->services[rec->service].name);
    bind_text(s, 4, r->sc->nodes[rec->ingress].name);
    bind_text(s, 5, ep_outcome_name(rec->outcome));
    bind_text(s, 6, rec->reason);
    sqlite3_bind_int(s, 7, rec->slo_met);
    sqlite3_bind_int(s, 8, rec->in_window);
    sqlite3_bind_int64(s, 9, rec->arrival);
    sqlite3_bind_int64(s, 10, rec->dispatch);
    sqlite3_bind_int64(s, 11, rec->first_token);
    sqlite3_bind_int64(s, 12, rec->done);
    sqlite3_bind_int(s, 13, rec->instance);
    if (rec->node >= 0)
        bind_text(s, 14, r->sc->nodes[rec->node].name);
    else
        sqlite3_bind_null(s, 14);
    sqlite3_bind_int(s, 15, rec->hops);
    sqlite3_bind_int(s, 16, rec->batch);
    sqlite3_bind_int64(s, 17, rec->input);
    sqlite3_bind_int64(s, 18, rec->output);
    sqlite3_bind_int(s, 19, rec->preemptions);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : EP_EDB;
}

static const char *
sens_name(ep_sensitivity s)
{
    return s == EP_SENS_FREQUENCY ? "frequency" : "latency";
}

int
ep_results_commit(ep_results *r, const ep_scenario *sc, const ep_run_result *res,
                  const char *summary_json)
{
    sqlite3_stmt *s = NULL;
    char hash[32];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)res->event_hash);
    if (sqlite3_prepare_v2(r->db,
                           "UPDATE runs SET policy=?, seed=?, goodput_per_s=?, slo_attainment=?,"
                           " requests=?, completed=?, rejected=?, dropped=?, unfinished=?,"
                           " p50_latency_s=?, p99_latency_s=?, events=?, wall_s=?,"
                           " event_hash=?, summary=? WHERE id=?",
                           -1, &s, NULL) != SQLITE_OK)
        goto fail;
    bind_text(s, 1, res->policy);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)res->seed);
    bind_real(s, 3, res->goodput_per_s);
    bind_real(s, 4, res->slo_attainment);
    sqlite3_bind_int64(s, 5, res->requests);
    sqlite3_bind_int64(s, 6, res->completed);
    sqlite3_bind_int64(s, 7, res->rejected);
    sqlite3_bind_int64(s, 8, res->dropped);
    sqlite3_bind_int64(s, 9, res->unfinished);
    bind_real(s, 10, res->p50_latency_s);
    bind_real(s, 11, res->p99_latency_s);
    sqlite3_bind_int64(s, 12, (sqlite3_int64)res->events);
    bind_real(s, 13, res->wall_s);
    bind_text(s, 14, hash);
    bind_text(s, 15, summary_json);
    sqlite3_bind_int64(s, 16, r->run);
    if (sqlite3_step(s) != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(s);
    if (sqlite3_prepare_v2(r->db,
                           "INSERT INTO run_services VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
                           "?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        goto fail;
    for (int i = 0; i < res->nservices; i++) {
        const ep_run_service_stats *v = &res->svc[i];
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, r->run);
        bind_text(s, 2, sc->services[i].name);
        bind_text(s, 3, sc->services[i].kind == EP_SVC_LLM ? "llm" : "dnn");
        bind_text(s, 4, sens_name(v->category.sensitivity));
        sqlite3_bind_int(s, 5, v->category.multi_device);
        sqlite3_bind_int64(s, 6, v->requests);
        sqlite3_bind_int64(s, 7, v->completed);
        sqlite3_bind_int64(s, 8, v->rejected);
        sqlite3_bind_int64(s, 9, v->dropped);
        sqlite3_bind_int64(s, 10, v->unfinished);
        sqlite3_bind_int64(s, 11, v->slo_met);
        bind_real(s, 12, v->goodput_per_s);
        bind_real(s, 13, v->slo_attainment);
        bind_real(s, 14, v->p50_latency_s);
        bind_real(s, 15, v->p90_latency_s);
        bind_real(s, 16, v->p99_latency_s);
        bind_real(s, 17, v->p50_ttft_s);
        bind_real(s, 18, v->p99_ttft_s);
        bind_real(s, 19, v->p50_tpot_s);
        bind_real(s, 20, v->p99_tpot_s);
        if (sqlite3_step(s) != SQLITE_DONE)
            goto fail;
    }
    sqlite3_finalize(s);
    if (sqlite3_prepare_v2(r->db, "INSERT INTO run_devices VALUES (?,?,?,?,?,?)", -1, &s, NULL) !=
        SQLITE_OK)
        goto fail;
    for (int d = 0; d < res->ndevices && res->device_busy_s; d++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, r->run);
        sqlite3_bind_int(s, 2, d);
        bind_text(s, 3, sc->nodes[sc->devices[d].node].name);
        bind_text(s, 4, sc->specs[sc->devices[d].spec].name);
        bind_real(s, 5, res->device_busy_s[d]);
        bind_real(s, 6, res->sim_time_s > 0 ? res->device_busy_s[d] / res->sim_time_s : NAN);
        if (sqlite3_step(s) != SQLITE_DONE)
            goto fail;
    }
    sqlite3_finalize(s);
    s = NULL;
    if (sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    return 0;
fail:
    sqlite3_finalize(s);
    sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
    return EP_EDB;
}

void
ep_results_abort(ep_results *r)
{
    if (r)
        sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- Sweeps (epara sweep): additive to schema version 1. ---- */

static int
has_column(sqlite3 *db, const char *schema_name, const char *table, const char *column, int *found)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info(?1, ?2) WHERE name = ?3", -1,
                           &s, NULL) != SQLITE_OK)
        return EP_EDB;
    sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, schema_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, column, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *found = sqlite3_column_int(s, 0) > 0;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : EP_EDB;
}

int
ep_results_sweep_init(ep_results *r, int busy_ms)
{
    int found = 0;
    sqlite3_busy_timeout(r->db, busy_ms);
    if (has_column(r->db, "main", "runs", "sweep_key", &found))
        return EP_EDB;
    if (!found && sqlite3_exec(r->db, "ALTER TABLE runs ADD COLUMN sweep_key TEXT", NULL, NULL,
                               NULL) != SQLITE_OK) {
        /* Another process may have added it between the check and the ALTER. */
        if (has_column(r->db, "main", "runs", "sweep_key", &found) || !found)
            return EP_EDB;
    }
    if (sqlite3_exec(r->db, "CREATE INDEX IF NOT EXISTS runs_sweep_key ON runs(sweep_key)", NULL,
                     NULL, NULL) != SQLITE_OK)
        return EP_EDB;
    return 0;
}

int
ep_results_set_wal(ep_results *r, int on)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(r->db, on ? "PRAGMA journal_mode=WAL" : "PRAGMA journal_mode=DELETE", -1,
                           &s, NULL) != SQLITE_OK)
        return EP_EDB;
    int rc = sqlite3_step(s);
    int ok = rc == SQLITE_ROW &&
             strcmp((const char *)sqlite3_column_text(s, 0), on ? "wal" : "delete") == 0;
    sqlite3_finalize(s);
    return ok ? 0 : EP_EDB;
}

int
ep_results_sweep_has(ep_results *r, const char *key, int *found)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(r->db,
                           "SELECT 1 FROM runs WHERE sweep_key = ?1 AND summary IS NOT NULL"
                           " LIMIT 1",
                           -1, &s, NULL) != SQLITE_OK)
        return EP_EDB;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return EP_EDB;
    *found = rc == SQLITE_ROW;
    return 0;
}

int
ep_results_sweep_tag(ep_results *r, const char *key)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(r->db, "UPDATE runs SET sweep_key = ?1 WHERE id = ?2", -1, &s, NULL) !=
        SQLITE_OK)
        return EP_EDB;
    bind_text(s, 1, key);
    sqlite3_bind_int64(s, 2, r->run);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : EP_EDB;
}

#define RUN_COLS                                                                             \
    "started_at, scenario, scenario_text, seed, policy, git_rev, host, options, rate_scale," \
    " duration_s, goodput_per_s, slo_attainment, requests, completed, rejected, dropped,"    \
    " unfinished, p50_latency_s, p99_latency_s, events, wall_s, event_hash, summary"
#define SVC_COLS                                                                         \
    "service, kind, sensitivity, multi_device, requests, completed, rejected, dropped,"  \
    " unfinished, slo_met, goodput_per_s, slo_attainment, p50_latency_s, p90_latency_s," \
    " p99_latency_s, p50_ttft_s, p99_ttft_s, p50_tpot_s, p99_tpot_s"
#define DEV_COLS "device, node, spec, busy_s, utilization"
#define REC_COLS                                                                          \
    "id, service, ingress, outcome, reason, slo_met, in_window, arrival_ns, dispatch_ns," \
    " first_token_ns, done_ns, instance, node, hops, batch, input, output, preemptions"

int
ep_results_merge(ep_results *r, const char *src_path, int64_t *added, int64_t *skipped)
{
    sqlite3_stmt *att = NULL, *sel = NULL, *has = NULL, *run = NULL, *svc = NULL, *dev = NULL,
                 *rec = NULL;
    int64_t nadd = 0, nskip = 0;
    int src_key = 0, attached = 0, in_tx = 0, err = EP_EDB;
    if (ep_results_sweep_init(r, 600000))
        return EP_EDB;
    if (sqlite3_prepare_v2(r->db, "ATTACH DATABASE ?1 AS src", -1, &att, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(att, 1, src_path, -1, SQLITE_STATIC);
    if (sqlite3_step(att) != SQLITE_DONE)
        goto fail;
    attached = 1;
    if (has_column(r->db, "src", "runs", "sweep_key", &src_key))
        goto fail;
    if (sqlite3_exec(r->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    in_tx = 1;
    if (sqlite3_prepare_v2(r->db,
                           src_key ? "SELECT id, sweep_key FROM src.runs WHERE summary IS NOT NULL"
                                     " ORDER BY id"
                                   : "SELECT id, NULL FROM src.runs WHERE summary IS NOT NULL"
                                     " ORDER BY id",
                           -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db,
                           "SELECT 1 FROM main.runs WHERE sweep_key = ?1 AND summary IS NOT NULL"
                           " LIMIT 1",
                           -1, &has, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db,
                           "INSERT INTO main.runs (" RUN_COLS ", sweep_key) SELECT " RUN_COLS
                           ", ?2 FROM src.runs WHERE id = ?1",
                           -1, &run, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db,
                           "INSERT INTO main.run_services (run_id, " SVC_COLS
                           ") SELECT ?2, " SVC_COLS " FROM src.run_services WHERE run_id = ?1",
                           -1, &svc, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db,
                           "INSERT INTO main.run_devices (run_id, " DEV_COLS
                           ") SELECT ?2, " DEV_COLS " FROM src.run_devices WHERE run_id = ?1",
                           -1, &dev, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(r->db,
                           "INSERT INTO main.records (run_id, " REC_COLS ") SELECT ?2, " REC_COLS
                           " FROM src.records WHERE run_id = ?1 ORDER BY rowid",
                           -1, &rec, NULL) != SQLITE_OK)
        goto fail;
    int rc;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        sqlite3_int64 id = sqlite3_column_int64(sel, 0);
        const unsigned char *key = sqlite3_column_text(sel, 1);
        if (key) {
            sqlite3_reset(has);
            sqlite3_bind_text(has, 1, (const char *)key, -1, SQLITE_TRANSIENT);
            int hr = sqlite3_step(has);
            if (hr == SQLITE_ROW) {
                nskip++;
                continue;
            }
            if (hr != SQLITE_DONE)
                goto fail;
        }
        sqlite3_reset(run);
        sqlite3_bind_int64(run, 1, id);
        if (key)
            sqlite3_bind_text(run, 2, (const char *)key, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(run, 2);
        if (sqlite3_step(run) != SQLITE_DONE)
            goto fail;
        sqlite3_int64 nid = sqlite3_last_insert_rowid(r->db);
        sqlite3_stmt *child[3] = {svc, dev, rec};
        for (int i = 0; i < 3; i++) {
            sqlite3_reset(child[i]);
            sqlite3_bind_int64(child[i], 1, id);
            sqlite3_bind_int64(child[i], 2, nid);
            if (sqlite3_step(child[i]) != SQLITE_DONE)
                goto fail;
        }
        nadd++;
    }
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_finalize(sel);
    sqlite3_finalize(has);
    sqlite3_finalize(run);
    sqlite3_finalize(svc);
    sqlite3_finalize(dev);
    sqlite3_finalize(rec);
    sel = has = run = svc = dev = rec = NULL;
    if (sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    in_tx = 0;
    err = 0;
fail:
    sqlite3_finalize(sel);
    sqlite3_finalize(has);
    sqlite3_finalize(run);
    sqlite3_finalize(svc);
    sqlite3_finalize(dev);
    sqlite3_finalize(rec);
    sqlite3_finalize(att);
    if (in_tx)
        sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
    if (attached)
        sqlite3_exec(r->db, "DETACH DATABASE src", NULL, NULL, NULL);
    if (!err) {
        if (added)
            *added = nadd;
        if (skipped)
            *skipped = nskip;
    }
    return err;
}
