/* The simulator driver's own functions (sim/): what it adds to the node runtime
 * (node/node_internal.h) to simulate a whole cluster in one process. */
#ifndef EPARA_SIM_DRIVER_H
#define EPARA_SIM_DRIVER_H

#include "node_internal.h"

/* A scheduled fault: its event and what it does. */
typedef struct sim_fault_ev {
    node_event ev;
    const ep_fault *f;
} sim_fault_ev;

/* One simulation: the runtime of every node, and what only the simulator keeps. */
typedef struct sim_run {
    node_rt rt;           /* every node and the controller (NODE_ROLE_ALL) */
    sim_fault_ev *faults; /* the scenario's faults, scheduled */
    int sync_loss;        /* sync_loss fault: sync rounds are lost */
    ep_dur sync_delay;    /* sync_delay fault: sync rounds arrive this late */
} sim_run;

/* The simulation whose runtime s is. */
static inline sim_run *
sim_of(node_rt *s)
{
    return EP_CONTAINER_OF(s, sim_run, rt);
}

/* transfer.c: the simulator's port send (request r from its node to node dst over the
 * network model), and a transfer's next hop (an event). */
void sim_net_send(node_rt *s, node_request *r, int dst);
void sim_transfer_hop(node_rt *s, node_event *ev);

/* faults.c: schedules the scenario's faults (after node_setup, before the loop; 0 or
 * EP_ENOMEM), and one fault firing. */
int sim_faults_schedule(sim_run *r);
void sim_fault_fire(node_rt *s, node_event *ev);

/* faults.c: the simulator's port sync. Every node's state reaches the others in memory: a
 * snapshot of every instance now, later under a sync_delay fault, none under sync_loss; the
 * first round after a partition begins or heals is how the nodes learn of it. */
void sim_sync(node_rt *s);

#endif
