/* Test helper shared by the fixtures: a generated trace written into a store. Header-only. */
#ifndef EPARA_TESTS_TRACE_GEN_H
#define EPARA_TESTS_TRACE_GEN_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "epara/traces/store.h"
#include "epara/traces/trace.h"

/* Generates trace `name` from spec g into st (arrivals from time 0). Returns 0, or the
 * writer's or the generator's error (nothing is left half-written); *rows, when not NULL,
 * gets the rows written. */
static inline int
tg_generate(ep_store *st, const char *name, const ep_gen_spec *g, int64_t *rows)
{
    ep_trace_meta m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "%s", name);
    /* as the scenario's generator marks its traces (experiments/prepare.c) */
    static const char *const kinds[] = {"poisson", "gamma", "mmpp", "video"};
    snprintf(m.format, sizeof m.format, "gen-%s",
             (unsigned)g->kind < sizeof kinds / sizeof *kinds ? kinds[g->kind] : "other");
    ep_trace_writer *w;
    int rc = ep_trace_writer_begin(st, &m, 0, &w);
    if (rc)
        return rc;
    ep_trace_writer_set_origin(w, 0);
    char err[128];
    if ((rc = ep_trace_generate(g, ep_trace_writer_sink, w, err, sizeof err)) != 0) {
        ep_trace_writer_abort(w);
        return rc;
    }
    if ((rc = ep_trace_writer_commit(w, &m)) == 0 && rows)
        *rows = m.rows;
    return rc;
}

#endif
