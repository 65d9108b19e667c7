/* Queries on the results database (the schema of results.c): runs, their per-service and
 * per-device breakdowns, request records and max_rates rows, for epara report and plot.
 * Nothing here writes. Rows go to the caller's callback with strings borrowed from the
 * statement, so each is valid only during its call. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "epara/core/error.h"
#include "epara/sim/results.h"
#include "results_internal.h"

int
ep_results_open_read(const char *path, ep_results **out, char *err, size_t errlen)
{
    ep_results *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "%s: %s", path, ep_strerror(EP_ENOMEM));
        return EP_ENOMEM;
    }
    if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, r->db ? sqlite3_errmsg(r->db) : "cannot open");
        ep_results_close(r);
        return EP_EDB;
    }
    sqlite3_busy_timeout(r->db, 30000);
    *out = r;
    return 0;
}

static const char *
col_text(sqlite3_stmt *s, int i)
{
    return (const char *)sqlite3_column_text(s, i);
}

static double
col_real(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
}

/* Prepares sql, binding its parameters :scenario (NULL stays NULL) and :run where it has
 * them. 0 or EP_EDB. */
static int
prepare(ep_results *r, const char *sql, const char *scenario, int64_t run_id, sqlite3_stmt **s)
{
    if (sqlite3_prepare_v2(r->db, sql, -1, s, NULL) != SQLITE_OK)
        return EP_EDB;
    int i = sqlite3_bind_parameter_index(*s, ":scenario");
    if (i > 0 && scenario)
        sqlite3_bind_text(*s, i, scenario, -1, SQLITE_STATIC);
    if ((i = sqlite3_bind_parameter_index(*s, ":run")) > 0)
        sqlite3_bind_int64(*s, i, run_id);
    return 0;
}

/* The next row of s: 1 when there is one, 0 at the end, EP_EDB on an error. */
static int
next(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : EP_EDB;
}

int
ep_results_each_run(ep_results *r, const char *scenario, ep_results_run_fn fn, void *ctx)
{
    sqlite3_stmt *s;
    int rc = prepare(r,
                     "SELECT id, scenario, policy, rate_scale, seed, duration_s, goodput_per_s,"
                     " slo_attainment, p50_latency_s, p99_latency_s, requests, completed,"
                     " rejected, dropped, unfinished, options, summary FROM runs"
                     " WHERE summary IS NOT NULL AND (:scenario IS NULL OR scenario = :scenario) "
                     "ORDER BY id",
                     scenario, 0, &s);
    while (rc == 0 && (rc = next(s)) > 0) {
        ep_results_run v = {
                .id = sqlite3_column_int64(s, 0),
                .scenario = col_text(s, 1),
                .policy = col_text(s, 2),
                .rate_scale = col_real(s, 3),
                .seed = (uint64_t)sqlite3_column_int64(s, 4),
                .duration_s = col_real(s, 5),
                .goodput_per_s = col_real(s, 6),
                .slo_attainment = col_real(s, 7),
                .p50_latency_s = col_real(s, 8),
                .p99_latency_s = col_real(s, 9),
                .requests = sqlite3_column_int64(s, 10),
                .completed = sqlite3_column_int64(s, 11),
                .rejected = sqlite3_column_int64(s, 12),
                .dropped = sqlite3_column_int64(s, 13),
                .unfinished = sqlite3_column_int64(s, 14),
                .options_json = col_text(s, 15),
                .summary_json = col_text(s, 16),
        };
        rc = fn(ctx, &v);
    }
    sqlite3_finalize(s);
    return rc;
}

int
ep_results_run_scenario(ep_results *r, int64_t run_id, char **text, char **name)
{
    sqlite3_stmt *s;
    if (prepare(r, "SELECT scenario_text, scenario FROM runs WHERE id = :run", NULL, run_id, &s))
        return EP_EDB;
    int rc = next(s);
    if (rc == 0 || (rc > 0 && !col_text(s, 0))) {
        rc = EP_ENOENT;
    } else if (rc > 0) {
        const char *nm = col_text(s, 1);
        char *t = strdup(col_text(s, 0)), *n = nm ? strdup(nm) : NULL;
        if (!t || (nm && !n)) {
            free(t);
            free(n);
            rc = EP_ENOMEM;
        } else {
            *text = t;
            *name = n;
            rc = 0;
        }
    }
    sqlite3_finalize(s);
    return rc;
}

/* The breakdowns (alias x) of the runs a query covers, each row led by its run's reference
 * (read_run_ref). */
#define RUN_REF_COLS "x.run_id, r.policy, r.rate_scale, r.seed"
#define OF_RUNS(table)                                                             \
    " FROM " table " x JOIN runs r ON r.id = x.run_id WHERE r.summary IS NOT NULL" \
    " AND (:scenario IS NULL OR r.scenario = :scenario) AND (:run <= 0 OR x.run_id = :run)"

/* Columns 0-3 (RUN_REF_COLS). */
static ep_results_run_ref
read_run_ref(sqlite3_stmt *s)
{
    return (ep_results_run_ref){.id = sqlite3_column_int64(s, 0),
                                .policy = col_text(s, 1),
                                .rate_scale = col_real(s, 2),
                                .seed = (uint64_t)sqlite3_column_int64(s, 3)};
}

int
ep_results_each_service(ep_results *r, const char *scenario, int64_t run_id,
                        ep_results_service_fn fn, void *ctx)
{
    sqlite3_stmt *s;
    int rc = prepare(r,
                     "SELECT " RUN_REF_COLS ", x.service, x.kind, x.sensitivity, x.multi_device,"
                     " x.requests, x.completed, x.rejected, x.dropped, x.unfinished, x.slo_met,"
                     " x.goodput_per_s, x.slo_attainment, x.p50_latency_s, x.p90_latency_s,"
                     " x.p99_latency_s, x.p50_ttft_s, x.p99_ttft_s, x.p50_tpot_s,"
                     " x.p99_tpot_s" OF_RUNS("run_services") " ORDER BY x.run_id, x.rowid",
                     scenario, run_id, &s);
    while (rc == 0 && (rc = next(s)) > 0) {
        ep_results_service v = {
                .run = read_run_ref(s),
                .service = col_text(s, 4),
                .kind = col_text(s, 5),
                .sensitivity = col_text(s, 6),
                .multi_device = sqlite3_column_int(s, 7),
                .requests = sqlite3_column_int64(s, 8),
                .completed = sqlite3_column_int64(s, 9),
                .rejected = sqlite3_column_int64(s, 10),
                .dropped = sqlite3_column_int64(s, 11),
                .unfinished = sqlite3_column_int64(s, 12),
                .slo_met = sqlite3_column_int64(s, 13),
                .goodput_per_s = col_real(s, 14),
                .slo_attainment = col_real(s, 15),
                .p50_latency_s = col_real(s, 16),
                .p90_latency_s = col_real(s, 17),
                .p99_latency_s = col_real(s, 18),
                .p50_ttft_s = col_real(s, 19),
                .p99_ttft_s = col_real(s, 20),
                .p50_tpot_s = col_real(s, 21),
                .p99_tpot_s = col_real(s, 22),
        };
        rc = fn(ctx, &v);
    }
    sqlite3_finalize(s);
    return rc;
}

int
ep_results_each_device(ep_results *r, const char *scenario, int64_t run_id, ep_results_device_fn fn,
                       void *ctx)
{
    sqlite3_stmt *s;
    int rc = prepare(r,
                     "SELECT " RUN_REF_COLS ", x.device, x.node, x.spec, x.busy_s,"
                     " x.utilization" OF_RUNS("run_devices") " ORDER BY x.run_id, x.device",
                     scenario, run_id, &s);
    while (rc == 0 && (rc = next(s)) > 0) {
        ep_results_device v = {
                .run = read_run_ref(s),
                .device = sqlite3_column_int(s, 4),
                .node = col_text(s, 5),
                .spec = col_text(s, 6),
                .busy_s = col_real(s, 7),
                .utilization = col_real(s, 8),
        };
        rc = fn(ctx, &v);
    }
    sqlite3_finalize(s);
    return rc;
}

int
ep_results_has_records(ep_results *r, int64_t run_id, int *found)
{
    sqlite3_stmt *s;
    if (prepare(r, "SELECT EXISTS (SELECT 1 FROM records WHERE run_id = :run)", NULL, run_id, &s))
        return EP_EDB;
    int rc = next(s);
    if (rc > 0)
        *found = sqlite3_column_int(s, 0) != 0;
    sqlite3_finalize(s);
    return rc > 0 ? 0 : EP_EDB;
}

int
ep_results_each_record(ep_results *r, int64_t run_id, ep_results_record_fn fn, void *ctx)
{
    sqlite3_stmt *s;
    int rc = prepare(r,
                     "SELECT id, service, ingress, outcome, reason, slo_met, in_window,"
                     " arrival_ns, dispatch_ns, first_token_ns, done_ns, instance, node, hops,"
                     " batch, input, output, preemptions FROM records"
                     " WHERE run_id = :run ORDER BY rowid",
                     NULL, run_id, &s);
    while (rc == 0 && (rc = next(s)) > 0) {
        ep_results_record v = {
                .id = sqlite3_column_int64(s, 0),
                .service = col_text(s, 1),
                .ingress = col_text(s, 2),
                .outcome = col_text(s, 3),
                .reason = col_text(s, 4),
                .slo_met = sqlite3_column_int(s, 5),
                .in_window = sqlite3_column_int(s, 6),
                .arrival = sqlite3_column_int64(s, 7),
                .dispatch = sqlite3_column_int64(s, 8),
                .first_token = sqlite3_column_int64(s, 9),
                .done = sqlite3_column_int64(s, 10),
                .instance = sqlite3_column_int(s, 11),
                .node = col_text(s, 12),
                .hops = sqlite3_column_int(s, 13),
                .batch = sqlite3_column_int(s, 14),
                .input = sqlite3_column_int64(s, 15),
                .output = sqlite3_column_int64(s, 16),
                .preemptions = sqlite3_column_int(s, 17),
        };
        rc = fn(ctx, &v);
    }
    sqlite3_finalize(s);
    return rc;
}

int
ep_results_each_max_rate(ep_results *r, const char *scenario, ep_results_max_rate_fn fn, void *ctx)
{
    sqlite3_stmt *s;
    if (prepare(r,
                "SELECT scenario, policy, metric, service, options, git_rev, host,"
                " attainment_target, max_rate_scale, bracket_lo, bracket_hi, attainment,"
                " requests_per_s, goodput_per_s, duration_s, slo_scale, tol, seed, runs"
                " FROM max_rates WHERE (:scenario IS NULL OR scenario = :scenario) ORDER BY id",
                scenario, 0, &s) != 0)
        return 0; /* no max_rates table */
    int rc;
    while ((rc = next(s)) > 0) {
        ep_max_rate_row v = {
                .scenario = col_text(s, 0),
                .policy = col_text(s, 1),
                .metric = col_text(s, 2),
                .service = col_text(s, 3),
                .options_json = col_text(s, 4),
                .git_rev = col_text(s, 5),
                .host = col_text(s, 6),
                .attainment_target = col_real(s, 7),
                .max_rate_scale = col_real(s, 8),
                .bracket_lo = col_real(s, 9),
                .bracket_hi = col_real(s, 10),
                .attainment = col_real(s, 11),
                .requests_per_s = col_real(s, 12),
                .goodput_per_s = col_real(s, 13),
                .duration_s = col_real(s, 14),
                .slo_scale = col_real(s, 15),
                .tol = col_real(s, 16),
                .seed = (uint64_t)sqlite3_column_int64(s, 17),
                .runs = sqlite3_column_int(s, 18),
        };
        if ((rc = fn(ctx, &v)) != 0)
            break;
    }
    sqlite3_finalize(s);
    return rc;
}
