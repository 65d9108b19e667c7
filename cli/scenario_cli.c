/* Opening a scenario for a command: the file (or the embedded default), its policy
 * parameters checked against the policy that will run, its trace database with every
 * workload trace prepared, and the measured profiles, with errors printed as FILE:LINE:
 * message. */
#include <stdio.h>
#include <string.h>

#include "epara/experiments/bound.h"
#include "epara/core/error.h"
#include "epara/policies/policy.h"
#include "epara/experiments/prepare.h"
#include "epara/experiments/scenario.h"
#include "util.h"

static void
log_line(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "epara: %s\n", msg);
}

int
cli_scenario_load(const char *path, ep_scenario *sc)
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
        if (perr.line > 0)
            fprintf(stderr, "%s:%ld: %s\n", cli_scenario_name(path), perr.line, perr.msg);
        else
            fprintf(stderr, "%s: %s\n", cli_scenario_name(path),
                    perr.msg[0] ? perr.msg : ep_strerror(err));
        return err == EP_ENOMEM ? EXIT_FAIL : EXIT_USAGE;
    }
    return EXIT_OK;
}

int
cli_scenario_prepare(ep_scenario *sc, const char *trace_db, int quiet, ep_store **st)
{
    const char *tdb = trace_db ? trace_db : sc->run.trace_db;
    if (!(*st = cli_store_open(tdb, 0))) {
        ep_scenario_fini(sc);
        return EXIT_FAIL;
    }
    char msg[1024] = "";
    int err, rc = EXIT_OK, nprof = 0;
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

int
cli_scenario_open(const char *path, const char *trace_db, int quiet, ep_scenario *sc, ep_store **st)
{
    int rc = cli_scenario_load(path, sc);
    return rc ? rc : cli_scenario_prepare(sc, trace_db, quiet, st);
}

const char *
cli_scenario_name(const char *path)
{
    return path ? path : "edge-default (embedded)";
}

/* Whether key is keys[j] for some j in [from, n). */
static int
key_in(const char *key, const char *const *keys, int from, int n)
{
    for (int j = from; j < n; j++)
        if (strcmp(keys[j], key) == 0)
            return 1;
    return 0;
}

int
cli_policy_params_check(const ep_scenario *sc, const char *scen, const char *policy,
                        const char *const *keys, const char *const *vals, int n, const char *from)
{
    const char *name = policy && policy[0] ? policy : sc->policy[0] ? sc->policy : "static";
    const ep_param_decl *decls = NULL; /* the bound reads no parameter of its own */
    if (strcmp(name, EP_BOUND_NAME) != 0) {
        const ep_policy_ops *ops = ep_policy_find(name);
        if (!ops) {
            cli_err("%s: policy: unknown policy '%s' (see 'epara sim --list-policies')",
                    cli_scenario_name(scen), name);
            return EXIT_USAGE;
        }
        decls = ops->params;
    }
    char msg[1024];
    /* One entry at a time, to say where the offending one came from. */
    for (int i = 0; i < sc->nparams; i++) {
        const ep_param *p = &sc->params[i];
        if (memchr(p->key, '\0', sizeof p->key) && key_in(p->key, keys, 0, n))
            continue; /* overridden: checked below with its new value */
        if (ep_param_check(name, decls, sc, p, 1, msg, sizeof msg)) {
            cli_err("%s: policy.params: %s", cli_scenario_name(scen), msg);
            return EXIT_USAGE;
        }
    }
    for (int i = 0; i < n; i++) {
        if (key_in(keys[i], keys, i + 1, n))
            continue; /* a later one wins */
        ep_param p;
        memset(&p, 0, sizeof p);
        if (strlen(keys[i]) >= sizeof p.key || strlen(vals[i]) >= sizeof p.value) {
            cli_err("%s: %s=%s: keys and values are at most %d characters", from, keys[i], vals[i],
                    EP_NAME_MAX - 1);
            return EXIT_USAGE;
        }
        memcpy(p.key, keys[i], strlen(keys[i]));
        memcpy(p.value, vals[i], strlen(vals[i]));
        if (ep_param_check(name, decls, sc, &p, 1, msg, sizeof msg)) {
            cli_err("%s: %s", from, msg);
            return EXIT_USAGE;
        }
    }
    return EXIT_OK;
}

int
cli_params_check(const cli_params *p, const ep_scenario *sc, const char *scen, const char *policy)
{
    const char *keys[EP_MAX_PARAMS], *vals[EP_MAX_PARAMS];
    char buf[EP_MAX_PARAMS][EP_NAME_MAX];
    int n = 0;
    for (int i = 0; i < p->n; i++) {
        const char *eq = strchr(p->kv[i], '=');
        size_t kl = eq ? (size_t)(eq - p->kv[i]) : 0;
        if (!eq || kl >= EP_NAME_MAX) {
            cli_err("--param: expected KEY=VALUE (each at most %d characters), got '%s'",
                    EP_NAME_MAX - 1, p->kv[i]);
            return EXIT_USAGE;
        }
        memcpy(buf[n], p->kv[i], kl);
        buf[n][kl] = '\0';
        keys[n] = buf[n];
        vals[n++] = eq + 1;
    }
    return cli_policy_params_check(sc, scen, policy, keys, vals, n, "--param");
}
