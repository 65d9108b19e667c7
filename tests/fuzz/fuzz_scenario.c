/* libFuzzer target for the scenario loader: any input either loads into a scenario whose
 * indexes are all in range (then freed), or fails with EP_EPARSE (or EP_ENOMEM) and a
 * NUL-terminated message whose line lies inside the input; never a crash or a leak. */
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/experiments/scenario.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void
check(int ok)
{
    if (!ok)
        abort();
}

static void
check_name(const char *s, size_t cap)
{
    check(memchr(s, '\0', cap) != NULL);
}

static void
check_scenario(const ep_scenario *sc)
{
    check(sc->nspecs >= 1 && sc->nnodes >= 1 && sc->nlinks == sc->nnodes);
    check(sc->text != NULL);
    check_name(sc->name, sizeof sc->name);
    for (int i = 0; i < sc->nnodes; i++) {
        const ep_node *n = &sc->nodes[i];
        check_name(n->name, sizeof n->name);
        check(n->dev0 >= 0 && n->ndev >= 0 && n->dev0 + n->ndev <= sc->ndevices);
        check(n->link == i && sc->links[i].bw_bytes_per_s > 0);
        for (int d = n->dev0; d < n->dev0 + n->ndev; d++)
            check(sc->devices[d].node == i);
    }
    for (int d = 0; d < sc->ndevices; d++)
        check(sc->devices[d].spec >= 0 && sc->devices[d].spec < sc->nspecs);
    for (int s = 0; s < sc->nservices; s++) {
        const ep_service *sv = &sc->services[s];
        check(sv->weights_bytes > 0 && sv->max_batch >= 1);
        if (sv->kind == EP_SVC_LLM)
            check(sv->slo.ttft > 0 && sv->slo.tpot > 0 && sv->kv_bytes_per_token > 0);
        else
            check(sv->slo.deadline > 0 || sv->slo.fps > 0);
    }
    for (int p = 0; p < sc->nprofiles; p++) {
        const ep_profile_table *t = &sc->profiles[p];
        check(t->service >= 0 && t->service < sc->nservices && t->spec >= 0 &&
              t->spec < sc->nspecs);
        check(t->n >= 1 && t->n <= EP_PROFILE_POINTS && t->m >= 0 && t->m <= EP_PROFILE_POINTS);
        for (int i = 1; i < t->n; i++)
            check(t->x[i] > t->x[i - 1]);
    }
    for (int w = 0; w < sc->nworkloads; w++) {
        const ep_workload *wl = &sc->workloads[w];
        check(wl->service >= 0 && wl->service < sc->nservices);
        check(wl->ningress >= 1 && wl->ningress <= (int)EP_ARRAY_LEN(wl->ingress));
        for (int i = 0; i < wl->ningress; i++)
            check(wl->ingress[i] >= 0 && wl->ingress[i] < sc->nnodes);
        check(wl->rate_scale > 0 && wl->time_scale > 0 && wl->offset >= 0);
        check_name(wl->trace, sizeof wl->trace);
        check_name(wl->origin->import_file, sizeof wl->origin->import_file);
    }
    for (int f = 0; f < sc->nfaults; f++) {
        const ep_fault *ft = &sc->faults[f];
        check(ft->at >= 0 && (f == 0 || ft->at >= ft[-1].at));
        if (ft->kind != EP_FAULT_SYNC_LOSS && ft->kind != EP_FAULT_SYNC_OK &&
            ft->kind != EP_FAULT_SYNC_DELAY)
            check(ft->target >= 0 && ft->target < sc->nnodes);
        switch (ft->kind) {
        case EP_FAULT_PARTITION:
            check(ft->nodes && ft->nnodes >= 1 && ft->nnodes < sc->nnodes);
            for (int i = 0; i < ft->nnodes; i++)
                check(ft->nodes[i] >= 0 && ft->nodes[i] < sc->nnodes);
            break;
        case EP_FAULT_SLOW:
            check(ft->factor >= 1 && ft->factor <= 1000);
            check(ft->device == -1 || (ft->device >= 0 && ft->device < sc->ndevices));
            break;
        case EP_FAULT_SYNC_DELAY:
            check(ft->delay >= 0);
            break;
        default:
            check(!ft->nodes || ft->kind == EP_FAULT_HEAL);
            break;
        }
    }
    check(sc->nparams >= 0 && sc->nparams <= EP_MAX_PARAMS);
    check(sc->mt_slowdown[0] == 1.0);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    ep_scenario sc;
    ep_parse_error err;
    int rc = ep_scenario_load_text((const char *)data, size, "fuzz", ".", &sc, &err);
    if (rc == 0) {
        check_scenario(&sc);
        ep_scenario_fini(&sc);
        return 0;
    }
    check(rc == EP_EPARSE || rc == EP_ENOMEM);
    check(memchr(err.msg, '\0', sizeof err.msg) != NULL && err.msg[0] != '\0');
    /* An upper bound of libyaml's line count (LF, CR, NEL, LS, PS end lines). */
    long lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n' || data[i] == '\r' || data[i] == 0x85 || data[i] == 0xA8 ||
                 data[i] == 0xA9;
    int utf16 = size >= 2 && (data[0] == 0xFE || data[0] == 0xFF);
    check(err.line >= 0 && (utf16 || err.line <= lines));
    return 0;
}
