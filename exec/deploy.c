/* Deployment files (include/epara/exec/deploy.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/exec/deploy.h"

#define DEPLOY_HOST_MAX 253 /* a DNS name's longest text form */
#define DEPLOY_LINE_MAX 1024
#define DEPLOY_PORT_MAX 65535

struct ep_deploy {
    int nnodes;
    char (*url)[EP_DEPLOY_URL_MAX]; /* [0]: controller, [1]: loadgen, [2 + k]: node k */
    int *line;                      /* the line of each, in the same order */
    char *name;                     /* the file's name, for messages */
};

/* "HOST:PORT" into a URL; 0, or -1 with the problem in why. */
static int
parse_addr(const char *a, char *url, const char **why)
{
    const char *colon = strrchr(a, ':');
    if (!colon || colon == a) {
        *why = "expected HOST:PORT";
        return -1;
    }
    size_t hl = (size_t)(colon - a);
    if (hl > DEPLOY_HOST_MAX) {
        *why = "host name longer than 253 characters";
        return -1;
    }
    for (size_t i = 0; i < hl; i++) {
        char c = a[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-')) {
            *why = "a host is an IPv4 address or a name of letters, digits, '.' and '-'";
            return -1;
        }
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 1 || port > DEPLOY_PORT_MAX) {
        *why = "port is not an integer in [1, 65535]";
        return -1;
    }
    snprintf(url, EP_DEPLOY_URL_MAX, "tcp://%.*s:%ld", (int)hl, a, port);
    return 0;
}

/* The slot a line names (its words w[0 .. n)), and its address word; -1 with why. */
static int
line_slot(const ep_scenario *sc, char **w, int n, const char **addr, const char **why)
{
    if (strcmp(w[0], "controller") == 0 || strcmp(w[0], "loadgen") == 0) {
        if (n != 2) {
            *why = "expected: controller|loadgen HOST:PORT";
            return -1;
        }
        *addr = w[1];
        return w[0][0] == 'c' ? 0 : 1;
    }
    if (strcmp(w[0], "node") != 0) {
        *why = "a line begins with controller, loadgen or node";
        return -1;
    }
    if (n != 3) {
        *why = "expected: node NAME|INDEX HOST:PORT";
        return -1;
    }
    int k = ep_scenario_find_node(sc, w[1]);
    if (k < 0) {
        char *end;
        long v = strtol(w[1], &end, 10);
        if (*end != '\0' || end == w[1] || v < 0 || v >= sc->nnodes) {
            *why = "no such node in the scenario (a node's name, or an index below its count)";
            return -1;
        }
        k = (int)v;
    }
    *addr = w[2];
    return 2 + k;
}

static int
fail(char *err, size_t errlen, const char *name, int line, const char *why)
{
    if (err && errlen && line > 0)
        snprintf(err, errlen, "%s:%d: %s", name, line, why);
    else if (err && errlen)
        snprintf(err, errlen, "%s: %s", name, why);
    return EP_EPARSE;
}

/* Reads every line into d->url, each slot once; returns 0 or EP_EPARSE (said). */
static int
parse_lines(ep_deploy *d, const char *text, size_t len, const char *name, const ep_scenario *sc,
            int *seen, char *err, size_t errlen)
{
    size_t pos = 0;
    for (int line = 1; pos < len; line++) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
        char buf[DEPLOY_LINE_MAX];
        if (ll >= sizeof buf)
            return fail(err, errlen, name, line, "line longer than 1023 bytes");
        memcpy(buf, text + pos, ll);
        buf[ll] = '\0';
        pos += ll + 1;
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = '\0';
        char *w[4], *save = NULL;
        int n = 0;
        for (char *t = strtok_r(buf, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save))
            w[n < 4 ? n++ : 3] = t;
        if (n == 0)
            continue;
        const char *addr = NULL, *why = NULL;
        int slot = line_slot(sc, w, n, &addr, &why);
        if (slot < 0)
            return fail(err, errlen, name, line, why);
        if (seen[slot])
            return fail(err, errlen, name, line, "this process is named twice");
        if (parse_addr(addr, d->url[slot], &why) != 0)
            return fail(err, errlen, name, line, why);
        for (int j = 0; j < d->nnodes + 2; j++)
            if (seen[j] && strcmp(d->url[j], d->url[slot]) == 0)
                return fail(err, errlen, name, line, "address and port used by another process");
        seen[slot] = line;
    }
    return 0;
}

int
ep_deploy_parse(const char *text, size_t len, const char *name, const ep_scenario *sc,
                ep_deploy **out, char *err, size_t errlen)
{
    *out = NULL;
    ep_deploy *d = calloc(1, sizeof *d);
    if (d) {
        d->url = calloc((size_t)sc->nnodes + 2, sizeof *d->url);
        d->line = calloc((size_t)sc->nnodes + 2, sizeof *d->line);
        d->name = strdup(name);
    }
    if (!d || !d->line || !d->url || !d->name) {
        ep_deploy_free(d);
        return EP_ENOMEM;
    }
    d->nnodes = sc->nnodes;
    int *seen = d->line;
    int rc = parse_lines(d, text, len, name, sc, seen, err, errlen);
    for (int j = 0; rc == 0 && j < sc->nnodes + 2; j++) {
        if (seen[j])
            continue;
        char why[EP_NAME_MAX + 64];
        if (j < 2)
            snprintf(why, sizeof why, "no line for the %s", j == 0 ? "controller" : "loadgen");
        else
            snprintf(why, sizeof why, "no line for node %d (%s)", j - 2, sc->nodes[j - 2].name);
        rc = fail(err, errlen, name, 0, why);
    }
    if (rc) {
        ep_deploy_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

int
ep_deploy_load(const char *path, const ep_scenario *sc, ep_deploy **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err && errlen)
            snprintf(err, errlen, "%s: cannot read", path);
        return EP_EIO;
    }
    char *text = NULL;
    size_t cap = 0;
    ssize_t len = getdelim(&text, &cap, '\0', f); /* the whole file, unless it holds a NUL */
    int rc = 0;
    if (ferror(f))
        rc = EP_EIO;
    else if (!feof(f))
        rc = len < 0 ? EP_ENOMEM : EP_EPARSE; /* stopped at a NUL, or out of memory */
    fclose(f);
    if (rc && err && errlen)
        snprintf(err, errlen, "%s: %s", path,
                 rc == EP_EIO      ? "read error"
                 : rc == EP_ENOMEM ? "out of memory"
                                   : "holds a NUL byte");
    if (!rc)
        rc = ep_deploy_parse(len > 0 ? text : "", len > 0 ? (size_t)len : 0, path, sc, out, err,
                             errlen);
    free(text);
    return rc;
}

const char *
ep_deploy_url(const ep_deploy *d, ep_live_role role, int node)
{
    if (role == EP_LIVE_NODE && (node < 0 || node >= d->nnodes))
        return "";
    return d->url[role == EP_LIVE_CONTROLLER ? 0 : role == EP_LIVE_LOADGEN ? 1 : 2 + node];
}

const char *
ep_deploy_where(const ep_deploy *d, ep_live_role role, int node, char *buf, size_t len)
{
    int line = 0;
    if (role != EP_LIVE_NODE || (node >= 0 && node < d->nnodes))
        line = d->line[role == EP_LIVE_CONTROLLER ? 0 : role == EP_LIVE_LOADGEN ? 1 : 2 + node];
    snprintf(buf, len, "%s:%d", d->name, line);
    return buf;
}

void
ep_deploy_free(ep_deploy *d)
{
    if (!d)
        return;
    free(d->url);
    free(d->line);
    free(d->name);
    free(d);
}
