/* Scenario sections `devices` (device classes) and `nodes` (node groups expanded into node
 * instances, their devices and one uplink each). Invariant on success: every node, device
 * and link name is unique (a group's base name counts as a name too), node i owns link i,
 * and devices of a node are contiguous (dev0 .. dev0 + ndev - 1). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/core/profile.h"
#include "scenario_internal.h"

static const char *const spec_keys[] = {"name",        "kind",          "mem_gb",
                                        "mem_bw_gbps", "peak_tflops",   "compute_eff",
                                        "mem_eff",     "attn_eff",      "attn_half_tokens",
                                        "kv_eff",      "kv_half_batch", "kernel_floor_us",
                                        "dnn_eff",     "mem_util",      "batch_overhead_ms",
                                        "load_gbps",   "serial",        NULL};
static const char *const node_keys[] = {"name",    "class", "count",      "cores", "mem_gb",
                                        "devices", "link",  "intra_gbps", NULL};
static const char *const link_keys[] = {"bw_gbps", "latency_ms", "loss", "mtu", NULL};
static const char *const kind_names[] = {"gpu", "cpu", "npu", NULL};
static const char *const class_names[] = {"server", "embedded", "micro", NULL};

static int
parse_spec(scenario_ctx *c, yaml_node_t *n, int i, ep_device_spec *d)
{
    char path[SCENARIO_PATH_MAX];
    scenario_index(path, "devices", i);
    scenario_map m;
    int rc, kind = 0;
    double mem_gb = 0, bw = 0, tflops = 0, load = 2;
    d->compute_eff = EP_DEFAULT_COMPUTE_EFF;
    d->mem_eff = EP_DEFAULT_MEM_EFF;
    d->attn_eff = EP_DEFAULT_ATTN_EFF;
    d->attn_half_tokens = EP_DEFAULT_ATTN_HALF_TOKENS;
    d->kv_eff = EP_DEFAULT_KV_EFF;
    d->kv_half_batch = EP_DEFAULT_KV_HALF_BATCH;
    d->kernel_floor = EP_DEFAULT_KERNEL_FLOOR_NS;
    d->dnn_eff = EP_DEFAULT_DNN_EFF;
    d->mem_util = EP_DEFAULT_MEM_UTIL;
    d->batch_overhead = EP_DEFAULT_BATCH_OVERHEAD_NS;
    if ((rc = scenario_map_open(c, n, path, spec_keys, &m)) ||
        (rc = scenario_name(&m, "name", SCENARIO_REQ, d->name, sizeof d->name)) ||
        (rc = scenario_enum(&m, "kind", SCENARIO_REQ, kind_names, &kind)) ||
        (rc = scenario_num(&m, "mem_gb", SCENARIO_REQ, 0, 1, 1e6, &mem_gb)) ||
        (rc = scenario_num(&m, "mem_bw_gbps", SCENARIO_REQ, 0, 1, 1e6, &bw)) ||
        (rc = scenario_num(&m, "peak_tflops", SCENARIO_REQ, 0, 1, 1e6, &tflops)) ||
        (rc = scenario_num(&m, "compute_eff", SCENARIO_OPT, 0, 1, 1, &d->compute_eff)) ||
        (rc = scenario_num(&m, "mem_eff", SCENARIO_OPT, 0, 1, 1, &d->mem_eff)) ||
        (rc = scenario_num(&m, "attn_eff", SCENARIO_OPT, 0, 1, 1, &d->attn_eff)) ||
        (rc = scenario_num(&m, "attn_half_tokens", SCENARIO_OPT, 0, 1, 1e9,
                           &d->attn_half_tokens)) ||
        (rc = scenario_num(&m, "kv_eff", SCENARIO_OPT, 0, 1, 1, &d->kv_eff)) ||
        (rc = scenario_num(&m, "kv_half_batch", SCENARIO_OPT, 0, 1, 1e6, &d->kv_half_batch)) ||
        (rc = scenario_dur(&m, "kernel_floor_us", SCENARIO_OPT, 1e-6, 0, 0, 1e6,
                           &d->kernel_floor)) ||
        (rc = scenario_num(&m, "dnn_eff", SCENARIO_OPT, 0, 1, 1, &d->dnn_eff)) ||
        (rc = scenario_num(&m, "mem_util", SCENARIO_OPT, 0, 1, 1, &d->mem_util)) ||
        (rc = scenario_dur(&m, "batch_overhead_ms", SCENARIO_OPT, 1e-3, 0, 0, 1e6,
                           &d->batch_overhead)) ||
        (rc = scenario_num(&m, "load_gbps", SCENARIO_OPT, 0, 1, 1e6, &load)) ||
        (rc = scenario_bool(&m, "serial", SCENARIO_OPT, &d->serial)))
        return rc;
    d->kind = (ep_device_kind)kind;
    d->mem_bytes = llround(mem_gb * 1e9);
    d->mem_bw_bytes_per_s = bw * 1e9;
    d->peak_flops = tflops * 1e12;
    d->load_bw_bytes_per_s = load * 1e9;
    for (int j = 0; j < i; j++)
        if (strcmp(c->sc->specs[j].name, d->name) == 0)
            return scenario_fail(c, scenario_get(&m, "name"),
                                 "%s.name: duplicate device class '%s' (also devices[%d])", path,
                                 d->name, j);
    return 0;
}

static int
parse_specs(scenario_ctx *c, const scenario_map *root)
{
    yaml_node_item_t *items;
    int n, rc;
    if ((rc = scenario_need(root, "devices", NULL)) ||
        (rc = scenario_seq(c, scenario_get(root, "devices"), "devices", &items, &n)))
        return rc;
    if (n < 1 || n > SCENARIO_MAX_SPECS)
        return scenario_fail(c, scenario_get(root, "devices"),
                             "devices: expected 1 to %d device classes, got %d", SCENARIO_MAX_SPECS,
                             n);
    c->sc->specs = calloc((size_t)n, sizeof *c->sc->specs);
    if (!c->sc->specs)
        return EP_ENOMEM;
    for (int i = 0; i < n; i++) {
        if ((rc = parse_spec(c, scenario_node(c, items[i]), i, &c->sc->specs[i])))
            return rc;
        c->sc->nspecs = i + 1;
    }
    return 0;
}

/* One nodes[] entry, checked; the instances are made by make_nodes. */
typedef struct node_entry {
    scenario_map m;
    char name[EP_NAME_MAX];
    int cls, count, cores, ndev;
    int64_t mem_bytes;
    int devs[SCENARIO_MAX_NODE_DEVS];
    double intra_bw;
    ep_link link;
} node_entry;

static int
parse_node_devices(scenario_ctx *c, node_entry *e)
{
    yaml_node_item_t *items;
    int n, rc;
    char path[SCENARIO_PATH_MAX], ipath[SCENARIO_PATH_MAX], name[EP_NAME_MAX];
    scenario_join(path, e->m.path, "devices");
    yaml_node_t *dn = scenario_get(&e->m, "devices");
    e->ndev = 0;
    if (!dn)
        return 0;
    if ((rc = scenario_seq(c, dn, path, &items, &n)))
        return rc;
    if (n > SCENARIO_MAX_NODE_DEVS)
        return scenario_fail(c, dn, "%s: at most %d devices per node, got %d", path,
                             SCENARIO_MAX_NODE_DEVS, n);
    for (int i = 0; i < n; i++) {
        yaml_node_t *item = scenario_node(c, items[i]);
        scenario_index(ipath, path, i);
        if ((rc = scenario_node_name(c, item, ipath, name, sizeof name)))
            return rc;
        int s = ep_scenario_find_spec(c->sc, name);
        if (s < 0)
            return scenario_fail(c, item, "%s: unknown device class '%s' (see devices:)", ipath,
                                 name);
        e->devs[i] = s;
    }
    e->ndev = n;
    return 0;
}

static int
parse_link(scenario_ctx *c, node_entry *e)
{
    char path[SCENARIO_PATH_MAX];
    scenario_join(path, e->m.path, "link");
    scenario_map m;
    double bw = 0;
    long long mtu = 0;
    int rc;
    e->link.latency = 0;
    e->link.loss = 0;
    if ((rc = scenario_need(&e->m, "link", NULL)) ||
        (rc = scenario_map_open(c, scenario_get(&e->m, "link"), path, link_keys, &m)) ||
        (rc = scenario_num(&m, "bw_gbps", SCENARIO_REQ, 0, 1, 1e6, &bw)) ||
        (rc = scenario_dur(&m, "latency_ms", SCENARIO_OPT, 1e-3, 0, 0, 1e6, &e->link.latency)) ||
        (rc = scenario_num(&m, "loss", SCENARIO_OPT, 0, 0, 0.99, &e->link.loss)) ||
        (rc = scenario_int(&m, "mtu", SCENARIO_OPT, 0, EP_LINK_MTU_MAX, &mtu)))
        return rc;
    if (mtu != 0 && mtu < EP_LINK_MTU_MIN)
        return scenario_fail(c, scenario_get(&m, "mtu"),
                             "%s.mtu: %lld bytes, expected 0 (no framing) or %d to %d", path, mtu,
                             EP_LINK_MTU_MIN, EP_LINK_MTU_MAX);
    e->link.mtu = (int)mtu;
    /* Gbit/s to bytes/s. */
    e->link.bw_bytes_per_s = bw * 1e9 / 8;
    return 0;
}

static int
parse_node_entry(scenario_ctx *c, yaml_node_t *n, int i, node_entry *e)
{
    char path[SCENARIO_PATH_MAX];
    scenario_index(path, "nodes", i);
    long long count = 1, cores = 0;
    double mem_gb = 0, intra = -1;
    int rc;
    if ((rc = scenario_map_open(c, n, path, node_keys, &e->m)) ||
        (rc = scenario_name(&e->m, "name", SCENARIO_REQ, e->name, sizeof e->name)) ||
        (rc = scenario_enum(&e->m, "class", SCENARIO_REQ, class_names, &e->cls)) ||
        (rc = scenario_int(&e->m, "count", SCENARIO_OPT, 1, SCENARIO_MAX_COUNT, &count)) ||
        (rc = scenario_int(&e->m, "cores", SCENARIO_REQ, 1, 1000000, &cores)) ||
        (rc = scenario_num(&e->m, "mem_gb", SCENARIO_REQ, 0, 1, 1e6, &mem_gb)) ||
        (rc = parse_node_devices(c, e)) || (rc = parse_link(c, e)) ||
        (rc = scenario_num(&e->m, "intra_gbps", SCENARIO_OPT, 0, 0, 1e6, &intra)))
        return rc;
    /* Instances are NAME-1 .. NAME-COUNT: the suffix must fit in a name. */
    char probe[32];
    int suffix = count > 1 ? snprintf(probe, sizeof probe, "-%lld", count) : 0;
    if (strlen(e->name) + (size_t)suffix >= EP_NAME_MAX)
        return scenario_fail(c, scenario_get(&e->m, "name"),
                             "%s.name: '%s' is too long for %lld numbered instances", path, e->name,
                             count);
    e->count = (int)count;
    e->cores = (int)cores;
    e->mem_bytes = llround(mem_gb * 1e9);
    if (intra < 0)
        intra = e->cls == EP_NODE_SERVER ? 32 : 0;
    e->intra_bw = intra * 1e9;
    return 0;
}

typedef struct name_ref {
    const char *name;
    int entry;
} name_ref;

static int
cmp_ref(const void *a, const void *b)
{
    const name_ref *x = a, *y = b;
    int d = strcmp(x->name, y->name);
    return d ? d : (x->entry > y->entry) - (x->entry < y->entry);
}

/* Every instance name and every group base name (count > 1) must be unique. */
static int
check_unique(scenario_ctx *c, const node_entry *entries, int nentries)
{
    size_t n = (size_t)c->sc->nnodes;
    for (int g = 0; g < c->ngroups; g++)
        n += c->groups[g].count > 1;
    name_ref *refs = malloc(n * sizeof *refs);
    if (!refs)
        return EP_ENOMEM;
    size_t k = 0;
    for (int g = 0; g < c->ngroups; g++) {
        const scenario_group *gr = &c->groups[g];
        for (int j = 0; j < gr->count; j++)
            refs[k++] = (name_ref){c->sc->nodes[gr->first + j].name, g};
        if (gr->count > 1)
            refs[k++] = (name_ref){gr->name, g};
    }
    qsort(refs, n, sizeof *refs, cmp_ref);
    int rc = 0;
    for (size_t j = 1; j < n && !rc; j++) {
        if (strcmp(refs[j].name, refs[j - 1].name) != 0)
            continue;
        int a = refs[j - 1].entry, b = refs[j].entry;
        EP_ASSERT(b < nentries);
        rc = scenario_fail(c, scenario_get(&entries[b].m, "name"),
                           "%s.name: node name '%s' is used twice (also by nodes[%d])",
                           entries[b].m.path, refs[j].name, a);
    }
    free(refs);
    return rc;
}

static int
parse_nodes(scenario_ctx *c, const scenario_map *root)
{
    yaml_node_item_t *items;
    int n, rc;
    ep_scenario *sc = c->sc;
    if ((rc = scenario_need(root, "nodes", NULL)) ||
        (rc = scenario_seq(c, scenario_get(root, "nodes"), "nodes", &items, &n)))
        return rc;
    if (n < 1)
        return scenario_fail(c, scenario_get(root, "nodes"), "nodes: expected at least one node");
    if (n > SCENARIO_MAX_NODES)
        return scenario_fail(c, scenario_get(root, "nodes"), "nodes: at most %d entries",
                             SCENARIO_MAX_NODES);
    node_entry *entries = calloc((size_t)n, sizeof *entries);
    c->groups = calloc((size_t)n, sizeof *c->groups);
    if (!entries || !c->groups) {
        free(entries);
        return EP_ENOMEM;
    }
    long long nnodes = 0, ndevs = 0;
    for (int i = 0; i < n; i++) {
        node_entry *e = &entries[i];
        if ((rc = parse_node_entry(c, scenario_node(c, items[i]), i, e)))
            goto done;
        nnodes += e->count;
        ndevs += (long long)e->count * e->ndev;
        if (nnodes > SCENARIO_MAX_NODES) {
            yaml_node_t *cn = scenario_get(&e->m, "count");
            rc = scenario_fail(c, cn ? cn : e->m.node, "%s.count: more than %d nodes in all",
                               e->m.path, SCENARIO_MAX_NODES);
            goto done;
        }
    }
    sc->nodes = calloc((size_t)nnodes, sizeof *sc->nodes);
    sc->links = calloc((size_t)nnodes, sizeof *sc->links);
    sc->devices = calloc(ndevs ? (size_t)ndevs : 1, sizeof *sc->devices);
    if (!sc->nodes || !sc->links || !sc->devices) {
        rc = EP_ENOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const node_entry *e = &entries[i];
        scenario_group *g = &c->groups[c->ngroups++];
        memcpy(g->name, e->name, sizeof g->name);
        g->first = sc->nnodes;
        g->count = e->count;
        g->entry = i;
        for (int k = 0; k < e->count; k++) {
            int id = sc->nnodes++;
            ep_node *nd = &sc->nodes[id];
            if (e->count > 1) {
                /* Fits: parse_node_entry checked the name's length against the suffix. */
                size_t bl = strlen(e->name);
                memcpy(nd->name, e->name, bl);
                snprintf(nd->name + bl, sizeof nd->name - bl, "-%d", k + 1);
            } else
                memcpy(nd->name, e->name, sizeof nd->name);
            nd->cls = (ep_node_class)e->cls;
            nd->cores = e->cores;
            nd->mem_bytes = e->mem_bytes;
            nd->dev0 = sc->ndevices;
            nd->ndev = e->ndev;
            nd->intra_bw_bytes_per_s = e->intra_bw;
            for (int d = 0; d < e->ndev; d++)
                sc->devices[sc->ndevices++] = (ep_device){.node = id, .spec = e->devs[d]};
            sc->links[id] = e->link;
            memcpy(sc->links[id].name, nd->name, sizeof nd->name);
            nd->link = id;
            sc->nlinks = id + 1;
        }
    }
    rc = check_unique(c, entries, n);
done:
    free(entries);
    return rc;
}

int
scenario_parse_cluster(scenario_ctx *c, const scenario_map *root)
{
    int rc = parse_specs(c, root);
    return rc ? rc : parse_nodes(c, root);
}

int
scenario_node_list(scenario_ctx *c, yaml_node_t *ln, const char *path, int *out, int max, int *n,
                   yaml_node_t **full, char *fpath)
{
    char name[EP_NAME_MAX];
    yaml_node_item_t *items = NULL;
    int nitems = 1, rc, single = ln->type == YAML_SCALAR_NODE && !scenario_is_null(ln);
    if (!single && (rc = scenario_seq(c, ln, path, &items, &nitems)))
        return rc;
    if (nitems == 0)
        return scenario_fail(c, ln, "%s: expected at least one node", path);
    *n = 0;
    for (int i = 0; i < nitems; i++) {
        yaml_node_t *item = single ? ln : scenario_node(c, items[i]);
        if (single)
            snprintf(fpath, SCENARIO_PATH_MAX, "%s", path);
        else
            scenario_index(fpath, path, i);
        if ((rc = scenario_node_name(c, item, fpath, name, sizeof name)))
            return rc;
        int count, first = scenario_find_nodes(c, name, &count);
        if (first < 0)
            return scenario_fail(c, item, "%s: unknown node '%s'", fpath, name);
        for (int k = first; k < first + count; k++) {
            for (int j = 0; j < *n; j++)
                if (out[j] == k)
                    return scenario_fail(c, item, "%s: node '%s' is listed twice", fpath,
                                         c->sc->nodes[k].name);
            if (*n == max) {
                *full = item;
                return EP_EFULL;
            }
            out[(*n)++] = k;
        }
    }
    return 0;
}

int
scenario_find_nodes(const scenario_ctx *c, const char *name, int *count)
{
    for (int g = 0; g < c->ngroups; g++) {
        if (c->groups[g].count > 1 && strcmp(c->groups[g].name, name) == 0) {
            *count = c->groups[g].count;
            return c->groups[g].first;
        }
    }
    int id = ep_scenario_find_node(c->sc, name);
    if (id >= 0)
        *count = 1;
    return id;
}
