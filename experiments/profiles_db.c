/* Measured profiles from SQLite: the `profiles` table of the trace database (written by
 * `epara profile` on real devices) becomes profile tables placed ahead of the scenario's
 * own, so measurements take precedence over shipped tables and over the roofline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "epara/error.h"
#include "epara/prepare.h"

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
