/* The world model's lifecycle and lookups (include/epara/core/model.h): freeing what an ep_scenario
 * owns, finding specs, nodes and services by name, and typed access to policy parameters. Names
 * live in fixed EP_NAME_MAX arrays; no lookup reads past one, terminated or not. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/model.h"

void
ep_scenario_fini(ep_scenario *sc)
{
    if (!sc)
        return;
    free(sc->specs);
    free(sc->nodes);
    free(sc->devices);
    free(sc->links);
    free(sc->services);
    free(sc->profiles);
    for (int i = 0; sc->workloads && i < sc->nworkloads; i++)
        free(sc->workloads[i].origin);
    free(sc->workloads);
    for (int i = 0; sc->faults && i < sc->nfaults; i++)
        free(sc->faults[i].nodes);
    free(sc->faults);
    free(sc->text);
    memset(sc, 0, sizeof(*sc));
}

double
ep_link_wire_bytes(const ep_link *l, double bytes)
{
    if (l->mtu <= EP_LINK_IP_TCP_BYTES || bytes <= 0)
        return bytes;
    return bytes + ceil(bytes / (l->mtu - EP_LINK_IP_TCP_BYTES)) * EP_LINK_FRAME_BYTES;
}

/* Whether the fixed-size name field equals the NUL-terminated string want. */
static int
name_is(const char field[EP_NAME_MAX], const char *want)
{
    size_t len = strlen(want);
    return len < EP_NAME_MAX && memcmp(field, want, len) == 0 && field[len] == '\0';
}

int
ep_scenario_find_service(const ep_scenario *sc, const char *name)
{
    if (!sc || !name)
        return -1;
    for (int i = 0; i < sc->nservices; i++)
        if (name_is(sc->services[i].name, name))
            return i;
    return -1;
}

int
ep_scenario_find_node(const ep_scenario *sc, const char *name)
{
    if (!sc || !name)
        return -1;
    for (int i = 0; i < sc->nnodes; i++)
        if (name_is(sc->nodes[i].name, name))
            return i;
    return -1;
}

int
ep_scenario_find_spec(const ep_scenario *sc, const char *name)
{
    if (!sc || !name)
        return -1;
    for (int i = 0; i < sc->nspecs; i++)
        if (name_is(sc->specs[i].name, name))
            return i;
    return -1;
}

/* Parses an entire fixed-size value field as a finite double; 0 on success. Surrounding
 * white space is allowed, anything else after the number is not. */
static int
parse_value(const char value[EP_NAME_MAX], double *out)
{
    if (!memchr(value, '\0', EP_NAME_MAX))
        return -1;
    char *end = NULL;
    double v = strtod(value, &end);
    if (end == value || !isfinite(v))
        return -1;
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
        end++;
    if (*end != '\0')
        return -1;
    *out = v;
    return 0;
}

double
ep_param_get(const ep_param *params, int n, const char *key, double dflt)
{
    if (!params || !key)
        return dflt;
    /* The last occurrence wins, so settings appended later (command-line overrides) take
     * precedence over the scenario file's. */
    for (int i = n - 1; i >= 0; i--) {
        if (!name_is(params[i].key, key))
            continue;
        double v;
        return parse_value(params[i].value, &v) == 0 ? v : dflt;
    }
    return dflt;
}
