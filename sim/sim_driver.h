/* The simulator driver's own functions (sim/): what it adds to the node runtime
 * (node/node_internal.h) to simulate a whole cluster in one process. */
#ifndef EPARA_SIM_DRIVER_H
#define EPARA_SIM_DRIVER_H

#include "node_internal.h"

/* transfer.c: the simulator's port send (request r from its node to node dst over the
 * network model), and a transfer's next hop (an event). */
void sim_net_send(node_rt *s, node_request *r, int dst);
void sim_transfer_hop(node_rt *s, node_event *ev);

/* faults.c: schedules the scenario's faults (after node_setup, before the loop; 0 or
 * EP_ENOMEM), and one fault firing. */
int sim_faults_schedule(node_rt *s);
void sim_fault_fire(node_rt *s, node_event *ev);

#endif
