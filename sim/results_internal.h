/* The results store's handle, shared by its writer (results.c) and its queries
 * (results_query.c). Invariant: rec is a statement of db, or NULL. */
#ifndef EPARA_SIM_RESULTS_INTERNAL_H
#define EPARA_SIM_RESULTS_INTERNAL_H

#include <stdint.h>

#include <sqlite3.h>

#include "epara/sim/results.h"

struct ep_results {
    sqlite3 *db;
    sqlite3_stmt *rec; /* the prepared records insert, kept across ep_results_add_record */
    int64_t run;       /* the run being written */
    const ep_scenario *sc;
};

#endif
