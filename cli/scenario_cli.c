/* Opening a scenario for a command: the file (or the embedded default), its trace
 * database with every workload trace prepared, and the measured profiles, with errors
 * printed as FILE:LINE: message. */
#include <stdio.h>
#include <string.h>

#include "epara/error.h"
#include "epara/prepare.h"
#include "epara/scenario.h"
#include "util.h"

static void
log_line(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "epara: %s\n", msg);
}

int
cli_scenario_open(const char *path, const char *trace_db, int quiet, ep_scenario *sc, ep_store **st)
{
    ep_parse_error perr;
    int err;
    if (path) {
        err = ep_scenario_load_file(path, sc, &perr);
    } else {
        size_t len;
        const char *text = ep_scenario_default_text(&len);
        err = ep_scenario_load_text(text, len, "edge-default", ".", sc, &perr);
    }
    if (err) {
        const char *name = path ? path : "edge-default (embedded)";
        if (perr.line > 0)
            fprintf(stderr, "%s:%ld: %s\n", name, perr.line, perr.msg);
        else
            fprintf(stderr, "%s: %s\n", name, perr.msg[0] ? perr.msg : ep_strerror(err));
        return err == EP_ENOMEM ? EXIT_FAIL : EXIT_USAGE;
    }
    const char *tdb = trace_db ? trace_db : sc->run.trace_db;
    if (!(*st = cli_store_open(tdb, 0))) {
        ep_scenario_fini(sc);
        return EXIT_FAIL;
    }
    char msg[1024] = "";
    int rc = EXIT_OK, nprof = 0;
    err = ep_scenario_prepare_traces(sc, *st, quiet ? NULL : log_line, NULL, msg, sizeof msg);
    if (err) {
        cli_err("%s", msg);
        rc = err == EP_EDB || err == EP_ENOMEM ? EXIT_FAIL : EXIT_USAGE;
    } else if ((err = ep_scenario_load_profiles(sc, *st, &nprof, msg, sizeof msg)) != 0) {
        cli_err("%s: %s", tdb, msg);
        rc = err == EP_EINVAL ? EXIT_USAGE : EXIT_FAIL;
    } else if (nprof && !quiet) {
        fprintf(stderr, "epara: %d measured profile tables from %s take precedence\n", nprof, tdb);
    }
    if (rc) {
        ep_store_close(*st);
        *st = NULL;
        ep_scenario_fini(sc);
    }
    return rc;
}
