/* Measured profiles in SQLite: the `profiles` table of the trace database (written by
 * `epara profile` on real devices and `epara profile import`) becomes profile tables placed
 * ahead of the scenario's own, so measurements take precedence over shipped tables and over
 * the roofline. Writers replace a (service, device)'s rows in one transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "epara/core/error.h"
#include "epara/experiments/prepare.h"

/* Reads the points of one (service, device, kind) into x/y; returns the count or -1. */
static int
read_points(sqlite3_stmt *s, const char *svc, const char *dev, const char *kind, int64_t *x,
            ep_dur *y, int64_t *ctx_ref)
{
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, svc, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, dev, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == EP_PROFILE_POINTS)
            return -2;
        x[n] = sqlite3_column_int64(s, 0);
        y[n] = sqlite3_column_int64(s, 1);
        if (sqlite3_column_type(s, 2) != SQLITE_NULL)
            *ctx_ref = sqlite3_column_int64(s, 2);
        n++;
    }
    return rc == SQLITE_DONE ? n : -1;
}

int
ep_scenario_load_profiles(ep_scenario *sc, ep_store *st, int *loaded, char *err, size_t errlen)
{
    *loaded = 0;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(ep_store_db(st),
                           "SELECT x, latency_ns, ctx_ref FROM profiles"
                           " WHERE service = ? AND device = ? AND kind = ? ORDER BY x",
                           -1, &s, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "profiles table: %s", ep_store_errmsg(st));
        return EP_EDB;
    }
    int rc = 0, n = 0, cap = 0;
    ep_profile_table *found = NULL;
    for (int i = 0; i < sc->nservices && !rc; i++) {
        for (int d = 0; d < sc->nspecs && !rc; d++) {
            ep_profile_table t;
            memset(&t, 0, sizeof t);
            t.service = i;
            t.spec = d;
            snprintf(t.source, sizeof t.source, "sqlite");
            const char *svc = sc->services[i].name, *dev = sc->specs[d].name;
            int a, b = 0;
            if (sc->services[i].kind == EP_SVC_LLM) {
                a = read_points(s, svc, dev, "prefill", t.x, t.y, &t.ctx_ref);
                b = a < 0 ? a : read_points(s, svc, dev, "decode", t.dx, t.dy, &t.ctx_ref);
            } else {
                a = read_points(s, svc, dev, "dnn", t.x, t.y, &t.ctx_ref);
            }
            if (a < 0 || b < 0) {
                snprintf(err, errlen, "profiles for %s on %s: %s", svc, dev,
                         a == -2 || b == -2 ? "more than 32 points" : ep_store_errmsg(st));
                rc = a == -2 || b == -2 ? EP_EINVAL : EP_EDB;
                break;
            }
            if (a == 0 && b == 0)
                continue;
            t.n = a;
            t.m = b;
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                ep_profile_table *nf = realloc(found, (size_t)cap * sizeof *nf);
                if (!nf) {
                    rc = EP_ENOMEM;
                    break;
                }
                found = nf;
            }
            found[n++] = t;
        }
    }
    sqlite3_finalize(s);
    if (rc || n == 0) {
        free(found);
        return rc;
    }
    /* Measured tables first: the cost model takes the first match. */
    ep_profile_table *all = malloc((size_t)(n + sc->nprofiles) * sizeof *all);
    if (!all) {
        free(found);
        return EP_ENOMEM;
    }
    memcpy(all, found, (size_t)n * sizeof *all);
    if (sc->nprofiles)
        memcpy(all + n, sc->profiles, (size_t)sc->nprofiles * sizeof *all);
    free(found);
    free(sc->profiles);
    sc->profiles = all;
    sc->nprofiles += n;
    *loaded = n;
    return 0;
}

/* Deletes the rows of (service, device) and inserts rows[0..n); 1 when all went in. */
static int
write_rows(sqlite3 *db, const char *service, const char *device, const char *source,
           const ep_profile_row *rows, int n)
{
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    sqlite3_stmt *del = NULL, *ins = NULL;
    int ok = sqlite3_prepare_v2(db, "DELETE FROM profiles WHERE service = ? AND device = ?", -1,
                                &del, NULL) == SQLITE_OK &&
             sqlite3_prepare_v2(db,
                                "INSERT INTO profiles (service, device, kind, x, latency_ns,"
                                " ctx_ref, source, measured_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                -1, &ins, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(del, 1, service, -1, SQLITE_STATIC);
        sqlite3_bind_text(del, 2, device, -1, SQLITE_STATIC);
        ok = sqlite3_step(del) == SQLITE_DONE;
    }
    for (int i = 0; ok && i < n; i++) {
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, service, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, device, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, rows[i].kind, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 4, rows[i].x);
        sqlite3_bind_int64(ins, 5, rows[i].latency);
        if (rows[i].ctx_ref > 0)
            sqlite3_bind_int64(ins, 6, rows[i].ctx_ref);
        else
            sqlite3_bind_null(ins, 6);
        if (source)
            sqlite3_bind_text(ins, 7, source, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(ins, 7);
        sqlite3_bind_text(ins, 8, when, -1, SQLITE_STATIC);
        ok = sqlite3_step(ins) == SQLITE_DONE;
    }
    sqlite3_finalize(del);
    sqlite3_finalize(ins);
    return ok;
}

int
ep_profiles_replace(ep_store *st, const char *service, const char *device, const char *source,
                    const ep_profile_row *rows, int n, char *err, size_t errlen)
{
    EP_ASSERT(st && service && device && n >= 0 && (rows || n == 0));
    sqlite3 *db = ep_store_db(st);
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot write profiles: %s", sqlite3_errmsg(db));
        return EP_EDB;
    }
    if (!write_rows(db, service, device, source, rows, n)) {
        snprintf(err, errlen, "cannot write profiles: %s", sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return EP_EDB;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot commit profiles: %s", sqlite3_errmsg(db));
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return EP_EDB;
    }
    return 0;
}
