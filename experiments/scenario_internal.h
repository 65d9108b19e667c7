/* Internal to experiments/: the typed YAML access layer and the section parsers of the
 * scenario loader. Every accessor checks the node's type and range and reports a problem as
 * EP_EPARSE with the node's 1-based line and column and the message "FIELD.PATH: problem";
 * no accessor writes its output unless it succeeds. */
#ifndef EP_EXPERIMENTS_SCENARIO_INTERNAL_H
#define EP_EXPERIMENTS_SCENARIO_INTERNAL_H

#include <yaml.h>

#include "epara/core/model.h"
#include "epara/traces/trace.h"

#define SCENARIO_PATH_MAX 128

/* Limits that keep a typo from allocating the machine away (documented in the README). */
#define SCENARIO_MAX_SPECS     10000
#define SCENARIO_MAX_COUNT     10000  /* instances of one nodes[] entry */
#define SCENARIO_MAX_NODES     100000 /* node instances in all */
#define SCENARIO_MAX_NODE_DEVS 64     /* devices per node */
#define SCENARIO_MAX_SERVICES  10000
#define SCENARIO_MAX_PROFILES  10000
#define SCENARIO_MAX_WORKLOADS 10000
#define SCENARIO_MAX_FAULTS    100000

/* One nodes[] entry: its base name and the node instances it made. */
typedef struct scenario_group {
    char name[EP_NAME_MAX];
    int first, count;
    int entry; /* index in nodes[] */
} scenario_group;

typedef struct scenario_ctx {
    yaml_document_t *doc;
    ep_parse_error *err;
    const char *base_dir; /* "" for the current directory */
    ep_scenario *sc;      /* being filled */
    scenario_group *groups;
    int ngroups;
    long nlines; /* lines of the text: libyaml may mark the end of input one line after */
} scenario_ctx;

/* A mapping node whose keys have been checked (all scalars, all accepted, no duplicates). */
typedef struct scenario_map {
    scenario_ctx *c;
    yaml_node_t *node;
    char path[SCENARIO_PATH_MAX]; /* "" at the top level */
} scenario_map;

enum { SCENARIO_OPT = 0, SCENARIO_REQ = 1 };

/* Fills c->err from node n (line/col; n may be NULL: line 0) and returns EP_EPARSE. */
int scenario_fail(scenario_ctx *c, const yaml_node_t *n, const char *fmt, ...) EP_PRINTF(3, 4);

/* "path.key" (or "key" when path is ""), and "path[i]"; truncated to SCENARIO_PATH_MAX. */
void scenario_join(char *dst, const char *path, const char *key);
void scenario_index(char *dst, const char *path, int i);
/* Path for messages: "top level" for "". */
const char *scenario_where(const char *path);

/* Describes a node for "got ..." in messages: "'text'" (shortened), "a list", "a map",
 * "nothing" (null). buf holds at least 64 bytes. */
const char *scenario_show(const yaml_node_t *n, char *buf, size_t cap);

/* Whether n is a YAML null (absent value, "~", "null"). */
int scenario_is_null(const yaml_node_t *n);

/* Opens n (at path) as a map whose keys must be among the NULL-terminated list keys. */
int scenario_map_open(scenario_ctx *c, yaml_node_t *n, const char *path, const char *const *keys,
                      scenario_map *m);
/* The value under key, or NULL when absent. */
yaml_node_t *scenario_get(const scenario_map *m, const char *key);
/* EP_EPARSE "PATH: missing required key 'KEY'" (at the map) unless key is present. */
int scenario_need(const scenario_map *m, const char *key, const char *why);

/* n as a sequence (a null counts as empty): *items and *n_items. */
int scenario_seq(scenario_ctx *c, yaml_node_t *n, const char *path, yaml_node_item_t **items,
                 int *n_items);
yaml_node_t *scenario_node(const scenario_ctx *c, int index);

/* Scalars under a key. Absent optional keys leave *out unchanged (callers preset defaults).
 * Numbers must be finite and in [lo, hi] ((lo, hi] with lo_open). */
int scenario_num(const scenario_map *m, const char *key, int req, double lo, int lo_open, double hi,
                 double *out);
int scenario_int(const scenario_map *m, const char *key, int req, long long lo, long long hi,
                 long long *out);
int scenario_u64(const scenario_map *m, const char *key, int req, uint64_t *out);
int scenario_bool(const scenario_map *m, const char *key, int req, int *out);
/* Any text shorter than cap bytes. */
int scenario_str(const scenario_map *m, const char *key, int req, char *buf, size_t cap);
/* A name: 1..cap-1 of [A-Za-z0-9._-], not starting with '-'. */
int scenario_name(const scenario_map *m, const char *key, int req, char *buf, size_t cap);
/* One of the NULL-terminated names; *out is its index. */
int scenario_enum(const scenario_map *m, const char *key, int req, const char *const *names,
                  int *out);
/* A duration given in units of unit_s seconds (key "..._ms": 1e-3), range as scenario_num. */
int scenario_dur(const scenario_map *m, const char *key, int req, double unit_s, double lo,
                 int lo_open, double hi, ep_dur *out);

/* The same for a bare node at path (sequence items). */
int scenario_node_num(scenario_ctx *c, yaml_node_t *n, const char *path, double lo, int lo_open,
                      double hi, double *out);
int scenario_node_int(scenario_ctx *c, yaml_node_t *n, const char *path, long long lo, long long hi,
                      long long *out);
int scenario_node_name(scenario_ctx *c, yaml_node_t *n, const char *path, char *buf, size_t cap);

/* Sections, in dependency order: cluster (devices, nodes), services (services, profiles),
 * workload. Each allocates its arrays into c->sc. */
int scenario_parse_cluster(scenario_ctx *c, const scenario_map *root);
int scenario_parse_services(scenario_ctx *c, const scenario_map *root);
int scenario_parse_workload(scenario_ctx *c, const scenario_map *root);

/* Resolves a node reference: an instance name, or (when groups is allowed) a nodes[] base
 * name with count > 1 standing for all its instances. Returns the first node index and
 * writes the number of nodes to *count, or -1 when unknown. */
int scenario_find_nodes(const scenario_ctx *c, const char *name, int *count);

/* A list of node references at ln (path): one reference or a sequence of them (each as
 * scenario_find_nodes reads it), at least one node, each node once, into out[0 .. *n).
 * Problems are reported here, except that more than max nodes returns EP_EFULL with the
 * item that overflowed in *full and its path in fpath[SCENARIO_PATH_MAX], for the caller to
 * say why that is too many. */
int scenario_node_list(scenario_ctx *c, yaml_node_t *ln, const char *path, int *out, int max,
                       int *n, yaml_node_t **full, char *fpath);

/* Expands ${NAME} and ${NAME:-default} (default used when NAME is unset or empty) from the
 * environment into out[cap]; a '$' not followed by '{' is kept. On error writes the reason
 * into why and returns -1. */
int scenario_expand_env(const char *in, char *out, size_t cap, char *why, size_t whylen);

/* Joins a relative path to c->base_dir (absolute paths and base "" stay as they are).
 * EP_ERANGE when the result does not fit in cap. */
int scenario_resolve_path(const scenario_ctx *c, const char *path, char *out, size_t cap);

/* The embedded edge-default.yaml (generated at build time by embed.cmake). */
extern const unsigned char scenario_default_yaml[];
extern const size_t scenario_default_yaml_len;

#endif
