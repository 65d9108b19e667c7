/* Scenario loader (include/epara/experiments/scenario.h): reads the YAML document with libyaml's
 * document API and fills an ep_scenario section by section (run, cluster, services and
 * profiles, workload, policy, MT slowdown, faults). Invariant: the caller's ep_scenario is
 * written only when the whole document is valid; on any error everything built is freed.
 * Also the edits made to a loaded scenario before a run: policy parameters, SLO scaling. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/experiments/scenario.h"
#include "scenario_internal.h"

static const char *const root_keys[] = {"name",     "run",         "devices",  "nodes",
                                        "services", "profiles",    "workload", "policy",
                                        "faults",   "mt_slowdown", NULL};
static const char *const run_keys[] = {
        "seed",           "warmup_s",           "cooldown_s", "duration_s",
        "sync_period_ms", "placement_period_s", "trace_db",   NULL};
static const char *const policy_keys[] = {"name", "params", NULL};
static const char *const fault_keys[] = {
        "at_s", "node_down",     "node_up",     "link_down", "link_up", "sync_loss", "partition",
        "heal", "sync_delay_ms", "slow_device", "factor",    "device",  NULL};

/* Co-location slowdown with k busy instances on one GPU, from the EPARA authors' motivation
 * measurement (docs/sources.md; ResNet, batch 1): 3240 frames/30 s alone, 2630 each with 2,
 * 1370 each with 3, 550 each with 4, so slowdown(k) = 3240 / frames(k). */
static const double default_mt[] = {1.0, 1.232, 2.365, 5.891};

int
scenario_expand_env(const char *in, char *out, size_t cap, char *why, size_t whylen)
{
    size_t o = 0;
    for (const char *p = in; *p;) {
        const char *val = NULL;
        size_t vlen = 0;
        if (p[0] == '$' && p[1] == '{') {
            const char *name = p + 2, *e = name;
            while ((*e >= 'A' && *e <= 'Z') || (*e >= 'a' && *e <= 'z') || *e == '_' ||
                   (e > name && *e >= '0' && *e <= '9'))
                e++;
            size_t nlen = (size_t)(e - name);
            const char *dflt = NULL, *close;
            if (e[0] == ':' && e[1] == '-') {
                dflt = e + 2;
                close = strchr(dflt, '}');
            } else {
                close = *e == '}' ? e : NULL;
            }
            if (nlen == 0 || !close) {
                snprintf(why, whylen,
                         "malformed ${...} at offset %zu (use ${NAME} or "
                         "${NAME:-default})",
                         (size_t)(p - in));
                return -1;
            }
            char var[128];
            if (nlen >= sizeof var) {
                snprintf(why, whylen, "variable name too long at offset %zu", (size_t)(p - in));
                return -1;
            }
            memcpy(var, name, nlen);
            var[nlen] = '\0';
            val = getenv(var);
            if (dflt && (!val || !val[0])) {
                val = dflt;
                vlen = (size_t)(close - dflt);
            } else if (!val) {
                snprintf(why, whylen,
                         "environment variable %s is not set (give a default: "
                         "${%s:-VALUE})",
                         var, var);
                return -1;
            } else {
                vlen = strlen(val);
            }
            p = close + 1;
        } else {
            val = p++;
            vlen = 1;
        }
        if (o + vlen >= cap) {
            snprintf(why, whylen, "longer than %zu bytes after expansion", cap - 1);
            return -1;
        }
        memcpy(out + o, val, vlen);
        o += vlen;
    }
    out[o] = '\0';
    return 0;
}

int
scenario_resolve_path(const scenario_ctx *c, const char *path, char *out, size_t cap)
{
    int n;
    if (path[0] == '/' || !c->base_dir[0])
        n = snprintf(out, cap, "%s", path);
    else
        n = snprintf(out, cap, "%s/%s", c->base_dir, path);
    return n < 0 || (size_t)n >= cap ? EP_ERANGE : 0;
}

static int
parse_run(scenario_ctx *c, const scenario_map *root)
{
    ep_run *r = &c->sc->run;
    r->seed = 1;
    r->warmup = 60 * EP_NS_PER_S;
    r->cooldown = 60 * EP_NS_PER_S;
    r->duration = 0;
    r->sync_period = 500 * EP_NS_PER_MS;
    r->placement_period = 30 * EP_NS_PER_S;
    char raw[EP_PATH_MAX] = "epara-traces.db", expanded[EP_PATH_MAX], why[160];
    yaml_node_t *n = scenario_get(root, "run");
    scenario_map m;
    int rc;
    if (!n || scenario_is_null(n))
        return scenario_resolve_path(c, raw, r->trace_db, sizeof r->trace_db) ? EP_ERANGE : 0;
    if ((rc = scenario_map_open(c, n, "run", run_keys, &m)) ||
        (rc = scenario_u64(&m, "seed", SCENARIO_OPT, &r->seed)) ||
        (rc = scenario_dur(&m, "warmup_s", SCENARIO_OPT, 1, 0, 0, 1e9, &r->warmup)) ||
        (rc = scenario_dur(&m, "cooldown_s", SCENARIO_OPT, 1, 0, 0, 1e9, &r->cooldown)) ||
        (rc = scenario_dur(&m, "duration_s", SCENARIO_OPT, 1, 0, 0, 1e9, &r->duration)) ||
        (rc = scenario_dur(&m, "sync_period_ms", SCENARIO_OPT, 1e-3, 0, 1, 1e9, &r->sync_period)) ||
        (rc = scenario_dur(&m, "placement_period_s", SCENARIO_OPT, 1, 0, 1, 1e9,
                           &r->placement_period)) ||
        (rc = scenario_str(&m, "trace_db", SCENARIO_OPT, raw, sizeof raw)))
        return rc;
    yaml_node_t *db = scenario_get(&m, "trace_db");
    if (scenario_expand_env(raw, expanded, sizeof expanded, why, sizeof why))
        return scenario_fail(c, db, "run.trace_db: %s", why);
    if (scenario_resolve_path(c, expanded, r->trace_db, sizeof r->trace_db))
        return scenario_fail(c, db, "run.trace_db: path too long");
    if (r->duration > 0 && r->warmup + r->cooldown >= r->duration)
        return scenario_fail(c, scenario_get(&m, "duration_s"),
                             "run.duration_s: leaves no measured time after warmup_s and "
                             "cooldown_s");
    return 0;
}

/* policy: NAME, or {name: NAME, params: {KEY: VALUE, ...}}; values kept as text. */
static int
parse_policy(scenario_ctx *c, const scenario_map *root)
{
    ep_scenario *sc = c->sc;
    snprintf(sc->policy, sizeof sc->policy, "static");
    yaml_node_t *n = scenario_get(root, "policy");
    if (!n || scenario_is_null(n))
        return 0;
    if (n->type == YAML_SCALAR_NODE)
        return scenario_node_name(c, n, "policy", sc->policy, sizeof sc->policy);
    scenario_map m;
    int rc;
    if ((rc = scenario_map_open(c, n, "policy", policy_keys, &m)) ||
        (rc = scenario_name(&m, "name", SCENARIO_OPT, sc->policy, sizeof sc->policy)))
        return rc;
    yaml_node_t *pn = scenario_get(&m, "params");
    if (!pn || scenario_is_null(pn))
        return 0;
    char got[64], path[SCENARIO_PATH_MAX];
    if (pn->type != YAML_MAPPING_NODE)
        return scenario_fail(c, pn, "policy.params: expected a map of keys, got %s",
                             scenario_show(pn, got, sizeof got));
    for (yaml_node_pair_t *p = pn->data.mapping.pairs.start; p < pn->data.mapping.pairs.top; p++) {
        yaml_node_t *k = scenario_node(c, p->key), *v = scenario_node(c, p->value);
        if (sc->nparams == EP_MAX_PARAMS)
            return scenario_fail(c, k, "policy.params: at most %d parameters", EP_MAX_PARAMS);
        ep_param *prm = &sc->params[sc->nparams];
        if ((rc = scenario_node_name(c, k, "policy.params (key)", prm->key, sizeof prm->key)))
            return rc;
        scenario_join(path, "policy.params", prm->key);
        for (int j = 0; j < sc->nparams; j++)
            if (strcmp(sc->params[j].key, prm->key) == 0)
                return scenario_fail(c, k, "%s: duplicate key", path);
        const char *s = (const char *)v->data.scalar.value;
        if (v->type != YAML_SCALAR_NODE || scenario_is_null(v) ||
            strlen(s) != v->data.scalar.length || v->data.scalar.length >= sizeof prm->value)
            return scenario_fail(c, v, "%s: expected a value of 1-%zu bytes, got %s", path,
                                 sizeof prm->value - 1, scenario_show(v, got, sizeof got));
        memcpy(prm->value, s, v->data.scalar.length + 1);
        sc->nparams++;
    }
    return 0;
}

static int
parse_mt(scenario_ctx *c, const scenario_map *root)
{
    double *mt = c->sc->mt_slowdown;
    yaml_node_t *n = scenario_get(root, "mt_slowdown");
    yaml_node_item_t *items;
    int k, rc;
    char path[SCENARIO_PATH_MAX];
    memset(c->sc->mt_slowdown, 0, sizeof c->sc->mt_slowdown);
    if (!n || scenario_is_null(n)) {
        memcpy(mt, default_mt, sizeof default_mt);
        return 0;
    }
    if ((rc = scenario_seq(c, n, "mt_slowdown", &items, &k)))
        return rc;
    if (k < 1 || k > (int)EP_ARRAY_LEN(c->sc->mt_slowdown))
        return scenario_fail(c, n, "mt_slowdown: expected 1 to %d factors, got %d",
                             (int)EP_ARRAY_LEN(c->sc->mt_slowdown), k);
    for (int i = 0; i < k; i++) {
        yaml_node_t *item = scenario_node(c, items[i]);
        scenario_index(path, "mt_slowdown", i);
        double lo = i == 0 ? 1 : mt[i - 1];
        if ((rc = scenario_node_num(c, item, path, lo, 0, i == 0 ? 1 : 1e3, &mt[i])))
            return rc;
    }
    return 0;
}

/* partition: a node, a group base name (all its nodes) or a list of them; each node once,
 * and at least one node left on the other side. */
static int
parse_partition(scenario_ctx *c, const scenario_map *m, const char *path, ep_fault *f)
{
    char ppath[SCENARIO_PATH_MAX], ipath[SCENARIO_PATH_MAX];
    scenario_join(ppath, path, "partition");
    int nn = c->sc->nnodes;
    f->nodes = calloc((size_t)nn + 1, sizeof *f->nodes);
    if (!f->nodes)
        return EP_ENOMEM;
    yaml_node_t *full = NULL;
    int rc = scenario_node_list(c, scenario_get(m, "partition"), ppath, f->nodes, nn - 1,
                                &f->nnodes, &full, ipath);
    if (rc == EP_EFULL)
        return scenario_fail(
                c, full, "%s: cuts off every node (leave at least one on the other side)", ppath);
    if (rc)
        return rc;
    f->target = f->nodes[0];
    return 0;
}

/* The one node `name` (at tn, path tpath) a fault targets, into *out; a group base name
 * standing for several nodes is an error naming how many. `what` names the target in the
 * message for an unknown name ("node", "link"). */
static int
one_node(scenario_ctx *c, yaml_node_t *tn, const char *tpath, const char *name, const char *what,
         int *out)
{
    *out = ep_scenario_find_node(c->sc, name);
    if (*out >= 0)
        return 0;
    int count;
    if (scenario_find_nodes(c, name, &count) >= 0)
        return scenario_fail(c, tn, "%s: '%s' names %d nodes; give one (e.g. %s-1)", tpath, name,
                             count, name);
    return scenario_fail(c, tn, "%s: unknown %s '%s'", tpath, what, name);
}

/* slow_device: NODE with factor (required) and device (optional: the index in the node's
 * devices list; default all of them). */
static int
parse_slow(scenario_ctx *c, const scenario_map *m, const char *path, ep_fault *f)
{
    char tpath[SCENARIO_PATH_MAX], name[EP_NAME_MAX];
    int rc;
    scenario_join(tpath, path, "slow_device");
    if ((rc = scenario_name(m, "slow_device", SCENARIO_REQ, name, sizeof name)))
        return rc;
    yaml_node_t *tn = scenario_get(m, "slow_device");
    if ((rc = one_node(c, tn, tpath, name, "node", &f->target)))
        return rc;
    const ep_node *node = &c->sc->nodes[f->target];
    if (node->ndev == 0)
        return scenario_fail(c, tn, "%s: node '%s' has no devices", tpath, name);
    if ((rc = scenario_need(m, "factor", "with slow_device")) ||
        (rc = scenario_num(m, "factor", SCENARIO_REQ, 1, 0, 1000, &f->factor)))
        return rc;
    long long dev = -1;
    if ((rc = scenario_int(m, "device", SCENARIO_OPT, 0, node->ndev - 1, &dev)))
        return rc;
    f->device = dev < 0 ? -1 : node->dev0 + (int)dev;
    return 0;
}

static int
parse_fault(scenario_ctx *c, yaml_node_t *n, int i, ep_fault *f, int *partitioned)
{
    static const struct {
        const char *key;
        ep_fault_kind kind;
    } kinds[] = {{"node_down", EP_FAULT_NODE_DOWN}, {"node_up", EP_FAULT_NODE_UP},
                 {"link_down", EP_FAULT_LINK_DOWN}, {"link_up", EP_FAULT_LINK_UP},
                 {"sync_loss", EP_FAULT_SYNC_LOSS}, {"partition", EP_FAULT_PARTITION},
                 {"heal", EP_FAULT_HEAL},           {"sync_delay_ms", EP_FAULT_SYNC_DELAY},
                 {"slow_device", EP_FAULT_SLOW}};
    char path[SCENARIO_PATH_MAX], tpath[SCENARIO_PATH_MAX], name[EP_NAME_MAX];
    scenario_index(path, "faults", i);
    scenario_map m;
    int rc, which = -1;
    f->target = -1;
    f->device = -1;
    f->factor = 1;
    if ((rc = scenario_map_open(c, n, path, fault_keys, &m)) ||
        (rc = scenario_dur(&m, "at_s", SCENARIO_REQ, 1, 0, 0, 1e9, &f->at)))
        return rc;
    for (int k = 0; k < (int)EP_ARRAY_LEN(kinds); k++) {
        if (!scenario_get(&m, kinds[k].key))
            continue;
        if (which >= 0)
            return scenario_fail(c, scenario_get(&m, kinds[k].key),
                                 "%s: one fault per entry (%s and %s given)", path,
                                 kinds[which].key, kinds[k].key);
        which = k;
    }
    if (which < 0)
        return scenario_fail(c, n,
                             "%s: missing the fault (node_down, node_up, link_down, link_up, "
                             "sync_loss, partition, heal, sync_delay_ms or slow_device)",
                             path);
    f->kind = kinds[which].kind;
    if (f->kind != EP_FAULT_SLOW)
        for (int k = 0; k < 2; k++) {
            const char *only = k ? "device" : "factor";
            if (scenario_get(&m, only))
                return scenario_fail(c, scenario_get(&m, only), "%s.%s: only with slow_device",
                                     path, only);
        }
    switch (f->kind) {
    case EP_FAULT_SYNC_LOSS: {
        int on = 0;
        if ((rc = scenario_bool(&m, "sync_loss", SCENARIO_REQ, &on)))
            return rc;
        f->kind = on ? EP_FAULT_SYNC_LOSS : EP_FAULT_SYNC_OK;
        break;
    }
    case EP_FAULT_PARTITION:
        if (*partitioned >= 0)
            return scenario_fail(c, scenario_get(&m, "partition"),
                                 "%s.partition: faults[%d]'s partition is still in effect "
                                 "(heal it first)",
                                 path, *partitioned);
        if ((rc = parse_partition(c, &m, path, f)))
            return rc;
        *partitioned = i;
        break;
    case EP_FAULT_HEAL: {
        int on = 0;
        yaml_node_t *hn = scenario_get(&m, "heal");
        if ((rc = scenario_bool(&m, "heal", SCENARIO_REQ, &on)))
            return rc;
        if (!on)
            return scenario_fail(c, hn, "%s.heal: expected true (the partition ends)", path);
        if (*partitioned < 0)
            return scenario_fail(c, hn, "%s.heal: no partition in effect", path);
        f->target = f[*partitioned - i].target;
        *partitioned = -1;
        break;
    }
    case EP_FAULT_SYNC_DELAY:
        if ((rc = scenario_dur(&m, "sync_delay_ms", SCENARIO_REQ, 1e-3, 0, 0, 1e9, &f->delay)))
            return rc;
        f->target = 0; /* no target; a node index keeps every non-sync-loss fault's in range */
        break;
    case EP_FAULT_SLOW:
        if ((rc = parse_slow(c, &m, path, f)))
            return rc;
        break;
    default: {
        if ((rc = scenario_name(&m, kinds[which].key, SCENARIO_REQ, name, sizeof name)))
            return rc;
        yaml_node_t *tn = scenario_get(&m, kinds[which].key);
        scenario_join(tpath, path, kinds[which].key);
        /* Link i is node i's uplink and carries its name. */
        if ((rc = one_node(c, tn, tpath, name, kinds[which].key[0] == 'n' ? "node" : "link",
                           &f->target)))
            return rc;
    }
    }
    if (i > 0 && f->at < f[-1].at)
        return scenario_fail(c, scenario_get(&m, "at_s"),
                             "%s.at_s: before the previous fault (list faults in time order)",
                             path);
    return 0;
}

static int
parse_faults(scenario_ctx *c, const scenario_map *root)
{
    yaml_node_item_t *items;
    int n, rc;
    yaml_node_t *fn = scenario_get(root, "faults");
    if (!fn)
        return 0;
    if ((rc = scenario_seq(c, fn, "faults", &items, &n)))
        return rc;
    if (n > SCENARIO_MAX_FAULTS)
        return scenario_fail(c, fn, "faults: at most %d entries", SCENARIO_MAX_FAULTS);
    if (n == 0)
        return 0;
    c->sc->faults = calloc((size_t)n, sizeof *c->sc->faults);
    if (!c->sc->faults)
        return EP_ENOMEM;
    int partitioned = -1; /* the fault whose partition is in effect */
    for (int i = 0; i < n; i++) {
        c->sc->nfaults = i + 1; /* owns what parse_fault allocates, even when it fails */
        if ((rc = parse_fault(c, scenario_node(c, items[i]), i, &c->sc->faults[i], &partitioned)))
            return rc;
    }
    return 0;
}

static int
parse_root(scenario_ctx *c)
{
    yaml_node_t *root = yaml_document_get_root_node(c->doc);
    scenario_map m;
    int rc;
    if (!root) {
        c->err->line = 1;
        c->err->col = 1;
        snprintf(c->err->msg, sizeof c->err->msg, "empty document (expected a scenario map)");
        return EP_EPARSE;
    }
    if ((rc = scenario_map_open(c, root, "", root_keys, &m)) ||
        (rc = scenario_name(&m, "name", SCENARIO_REQ, c->sc->name, sizeof c->sc->name)) ||
        (rc = parse_run(c, &m)) || (rc = scenario_parse_cluster(c, &m)) ||
        (rc = scenario_parse_services(c, &m)) || (rc = scenario_parse_workload(c, &m)) ||
        (rc = parse_policy(c, &m)) || (rc = parse_mt(c, &m)) || (rc = parse_faults(c, &m)))
        return rc;
    return 0;
}

/* 1-based line and column of byte offset off in text. */
static void
locate(const char *text, size_t len, size_t off, long *line, long *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            ++*line;
            *col = 1;
        } else {
            ++*col;
        }
    }
}

/* Lines of text[0..len) as libyaml counts them (breaks: LF, CR, CRLF, NEL, LS, PS); a last
 * line without a break counts; an empty text has one. UTF-16 input (a BOM): unknown. */
static long
count_lines(const char *text, size_t len)
{
    const unsigned char *t = (const unsigned char *)text;
    if (len >= 2 && ((t[0] == 0xFE && t[1] == 0xFF) || (t[0] == 0xFF && t[1] == 0xFE)))
        return LONG_MAX;
    long lines = 0;
    size_t i = 0, start = 0;
    while (i < len) {
        size_t brk = 0;
        if (t[i] == '\r')
            brk = i + 1 < len && t[i + 1] == '\n' ? 2 : 1;
        else if (t[i] == '\n')
            brk = 1;
        else if (t[i] == 0xC2 && i + 1 < len && t[i + 1] == 0x85)
            brk = 2;
        else if (t[i] == 0xE2 && i + 2 < len && t[i + 1] == 0x80 &&
                 (t[i + 2] == 0xA8 || t[i + 2] == 0xA9))
            brk = 3;
        if (brk) {
            lines++;
            i += brk;
            start = i;
        } else {
            i++;
        }
    }
    lines += start < len;
    return lines < 1 ? 1 : lines;
}

static int
yaml_error(const yaml_parser_t *p, const char *text, size_t len, ep_parse_error *err)
{
    if (p->error == YAML_MEMORY_ERROR) {
        snprintf(err->msg, sizeof err->msg, "out of memory while reading YAML");
        return EP_ENOMEM;
    }
    if (p->error == YAML_READER_ERROR) {
        locate(text, len, p->problem_offset, &err->line, &err->col);
    } else {
        err->line = (long)p->problem_mark.line + 1;
        err->col = (long)p->problem_mark.column + 1;
    }
    /* libyaml puts the end of the stream on a line after the last one: point at the last. */
    long lines = count_lines(text, len);
    if (err->line > lines) {
        err->line = lines;
        err->col = 0;
    }
    const char *problem = p->problem ? p->problem : "unknown problem";
    if (p->context)
        snprintf(err->msg, sizeof err->msg, "malformed YAML: %s (%s at line %ld)", problem,
                 p->context, (long)p->context_mark.line + 1);
    else
        snprintf(err->msg, sizeof err->msg, "malformed YAML: %s", problem);
    return EP_EPARSE;
}

int
ep_scenario_load_text(const char *text, size_t len, const char *name, const char *base_dir,
                      ep_scenario *out, ep_parse_error *err)
{
    if ((!text && len) || !out || !err)
        return EP_EINVAL;
    memset(err, 0, sizeof *err);
    if (len > EP_SCENARIO_MAX_TEXT) {
        snprintf(err->msg, sizeof err->msg, "scenario larger than %d bytes", EP_SCENARIO_MAX_TEXT);
        return EP_EPARSE;
    }
    ep_scenario sc;
    memset(&sc, 0, sizeof sc);
    sc.text = malloc(len + 1);
    if (!sc.text)
        return EP_ENOMEM;
    if (len)
        memcpy(sc.text, text, len);
    sc.text[len] = '\0';
    snprintf(sc.path, sizeof sc.path, "%s", name ? name : "<text>");

    yaml_parser_t parser;
    yaml_document_t doc, extra;
    scenario_ctx ctx = {.doc = &doc, .err = err, .sc = &sc};
    ctx.base_dir = base_dir && strcmp(base_dir, ".") != 0 ? base_dir : "";
    ctx.nlines = count_lines(sc.text, len);
    int rc;
    if (!yaml_parser_initialize(&parser)) {
        ep_scenario_fini(&sc);
        return EP_ENOMEM;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)sc.text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = yaml_error(&parser, sc.text, len, err);
        goto fail_parser;
    }
    /* One document per file: a second one is an error, not silently ignored. */
    if (!yaml_parser_load(&parser, &extra)) {
        rc = yaml_error(&parser, sc.text, len, err);
    } else {
        yaml_node_t *r = yaml_document_get_root_node(&extra);
        rc = 0;
        if (r)
            rc = scenario_fail(&ctx, r, "a second YAML document (one scenario per file)");
        yaml_document_delete(&extra);
    }
    if (!rc)
        rc = parse_root(&ctx);
    yaml_document_delete(&doc);
fail_parser:
    yaml_parser_delete(&parser);
    free(ctx.groups);
    if (rc) {
        ep_scenario_fini(&sc);
        return rc;
    }
    *out = sc;
    return 0;
}

int
ep_scenario_load_file(const char *path, ep_scenario *out, ep_parse_error *err)
{
    if (!path || !out || !err)
        return EP_EINVAL;
    memset(err, 0, sizeof *err);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err->msg, sizeof err->msg, "cannot open: %s", strerror(errno));
        return EP_EIO;
    }
    size_t cap = 65536, len = 0, n;
    char *buf = malloc(cap);
    int rc = 0;
    while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len > EP_SCENARIO_MAX_TEXT)
            break;
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (!buf) {
        rc = EP_ENOMEM;
    } else if (ferror(f)) {
        snprintf(err->msg, sizeof err->msg, "read error: %s", strerror(errno));
        rc = EP_EIO;
    }
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    /* Relative paths inside resolve against the file's directory. */
    char dir[EP_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    rc = ep_scenario_load_text(buf, len, path, dir, out, err);
    free(buf);
    return rc;
}

const char *
ep_scenario_default_text(size_t *len)
{
    if (len)
        *len = scenario_default_yaml_len;
    return (const char *)scenario_default_yaml;
}

int
ep_scenario_param_put(ep_scenario *sc, const char *key, const char *value)
{
    if (strlen(key) >= EP_NAME_MAX || strlen(value) >= EP_NAME_MAX)
        return EP_EINVAL;
    int i;
    for (i = 0; i < sc->nparams; i++)
        if (strcmp(sc->params[i].key, key) == 0)
            break;
    if (i == sc->nparams) {
        if (sc->nparams == EP_MAX_PARAMS)
            return EP_EFULL;
        sc->nparams++;
        snprintf(sc->params[i].key, sizeof sc->params[i].key, "%s", key);
    }
    snprintf(sc->params[i].value, sizeof sc->params[i].value, "%s", value);
    return 0;
}

static ep_dur
scale_dur(ep_dur d, double x)
{
    if (d <= 0)
        return d;
    long long v = llround((double)d * x);
    return v < 1 ? 1 : (ep_dur)v;
}

void
ep_scenario_scale_slos(ep_scenario *sc, double x)
{
    for (int i = 0; i < sc->nservices; i++) {
        ep_slo *s = &sc->services[i].slo;
        s->ttft = scale_dur(s->ttft, x);
        s->tpot = scale_dur(s->tpot, x);
        s->deadline = scale_dur(s->deadline, x);
        s->frame_deadline = scale_dur(s->frame_deadline, x);
    }
}
