/* The scenario's faults, simulated (a live testbed gets real ones: killed processes, cut or
 * lossy shaped links): nodes and links down and up, sync loss and delay, partitions and
 * their heal, slow devices. Each flips the state the host reads; what it does to the
 * instances (a node's fail, a node's restore, a pipeline split by a cut) is the host's
 * (place.c). */
#include <stdlib.h>

#include "epara/core/error.h"
#include "node_internal.h"
#include "sim_driver.h"

void
sim_fault_fire(node_rt *s, node_event *ev)
{
    sim_fault_ev *fe = EP_CONTAINER_OF(ev, sim_fault_ev, ev);
    const ep_fault *f = fe->f;
    const ep_scenario *sc = s->sc;
    switch (f->kind) {
    case EP_FAULT_NODE_DOWN:
        if (s->node_up[f->target])
            node_node_fail(s, f->target);
        break;
    case EP_FAULT_NODE_UP:
        if (!s->node_up[f->target])
            node_node_restore(s, f->target);
        break;
    case EP_FAULT_LINK_DOWN:
        s->link_up[f->target] = 0;
        break;
    case EP_FAULT_LINK_UP:
        s->link_up[f->target] = 1;
        break;
    case EP_FAULT_SYNC_LOSS:
        sim_of(s)->sync_loss = 1;
        break;
    case EP_FAULT_SYNC_OK:
        sim_of(s)->sync_loss = 0;
        break;
    case EP_FAULT_PARTITION:
        node_partition(s, f->nodes, f->nnodes);
        break;
    case EP_FAULT_HEAL:
        node_heal(s);
        break;
    case EP_FAULT_SYNC_DELAY:
        sim_of(s)->sync_delay = f->delay;
        break;
    case EP_FAULT_SLOW:
        for (int d = 0; d < sc->nodes[f->target].ndev; d++) {
            int dev = sc->nodes[f->target].dev0 + d;
            if (f->device < 0 || f->device == dev)
                s->dev_slow[dev] = f->factor;
        }
        break;
    }
}

int
sim_faults_schedule(sim_run *r)
{
    node_rt *s = &r->rt;
    const ep_scenario *sc = s->sc;
    r->faults = calloc((size_t)sc->nfaults + 1, sizeof *r->faults);
    if (!r->faults)
        return EP_ENOMEM;
    for (int i = 0; i < sc->nfaults; i++) {
        r->faults[i].f = &sc->faults[i];
        node_event_init(&r->faults[i].ev, sim_fault_fire, EV_FAULT, (uint32_t)i);
        node_schedule(&s->eng, &r->faults[i].ev, sc->faults[i].at);
    }
    return 0;
}

void
sim_sync(node_rt *s)
{
    sim_run *r = sim_of(s);
    if (!r->sync_loss && r->sync_delay > 0)
        node_snapshot_later(s, r->sync_delay);
    else if (!r->sync_loss)
        node_snapshot(s);
    node_partition_learn(s);
}
