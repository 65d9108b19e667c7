/* The policy registry and helpers every policy may use. */
#include <string.h>

#include "epara/error.h"
#include "epara/policy.h"
#include "epara/profile.h"

extern const ep_policy_ops ep_policy_static;
extern const ep_policy_ops ep_policy_epara;
extern const ep_policy_ops ep_policy_adainf;
extern const ep_policy_ops ep_policy_offload;
extern const ep_policy_ops ep_policy_alpaserve;

static const ep_policy_ops *const all_[] = {&ep_policy_epara,     &ep_policy_static,
                                            &ep_policy_adainf,    &ep_policy_offload,
                                            &ep_policy_alpaserve, NULL};

const ep_policy_ops *const *
ep_policy_all(void)
{
    return all_;
}

const ep_policy_ops *
ep_policy_find(const char *name)
{
    for (int i = 0; all_[i]; i++)
        if (strcmp(all_[i]->name, name) == 0)
            return all_[i];
    return NULL;
}

void
ep_category_default(const ep_view *view, int svc, ep_category *out)
{
    const ep_scenario *sc = view->sc;
    const ep_service *s = &sc->services[svc];
    if (s->sensitivity != EP_SENS_AUTO)
        out->sensitivity = s->sensitivity;
    else
        out->sensitivity = s->slo.fps > 0 ? EP_SENS_FREQUENCY : EP_SENS_LATENCY;
    double largest = 0;
    for (int i = 0; i < sc->nspecs; i++) {
        double usable = (double)sc->specs[i].mem_bytes * sc->specs[i].mem_util;
        if (usable > largest)
            largest = usable;
    }
    out->multi_device = s->min_devices > 1 || (double)ep_cost_instance_mem(sc, svc, 1) > largest;
}

int
ep_placement_add(ep_placement *out, const ep_instance_spec *spec)
{
    if (out->n >= out->cap)
        return EP_EFULL;
    out->inst[out->n++] = *spec;
    return 0;
}
