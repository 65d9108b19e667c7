/* The simulator's network: a request leaving its node crosses the network model (node/net.c)
 * up its link to the switch and down the destination's, each hop an event, unless a link is
 * down or a partition separates the two; at the destination it arrives (node_arrive). */
#include "node_internal.h"
#include "sim_driver.h"

/* The simulator's port send: request r goes from its node to node dst over the links, the
 * two hops FIFO, unless a link is down or a partition separates the two. */
void
sim_net_send(node_rt *s, node_request *r, int dst)
{
    int lu = s->sc->nodes[r->at_node].link;
    if (!s->link_up[lu] || !s->link_up[s->sc->nodes[dst].link]) {
        node_request_finish(s, r, EP_OUT_DROPPED, "link down");
        return;
    }
    if (!node_reachable(s, r->at_node, dst)) {
        node_request_finish(s, r, EP_OUT_DROPPED, "network partition");
        return;
    }
    r->dst_node = dst;
    r->hop_stage = 0;
    node_event_init(&r->ev, sim_transfer_hop, EV_TRANSFER, (uint32_t)r->rec.id);
    ep_time at = node_pipe_send(&s->up[lu], s->eng.now, r->bytes);
    s->up_free[lu] = s->up[lu].busy_until;
    node_schedule(&s->eng, &r->ev, at);
}

/* Transfer progress: at the switch, go down the destination's link; at the destination,
 * the request arrives there (node_arrive). */
void
sim_transfer_hop(node_rt *s, node_event *ev)
{
    node_request *r = EP_CONTAINER_OF(ev, node_request, ev);
    if (r->at_node != r->dst_node && r->hop_stage == 0) {
        int ld = s->sc->nodes[r->dst_node].link;
        if (!s->link_up[ld]) {
            node_request_finish(s, r, EP_OUT_DROPPED, "link down");
            return;
        }
        if (!node_reachable(s, r->at_node, r->dst_node)) { /* cut while at the switch */
            node_request_finish(s, r, EP_OUT_DROPPED, "network partition");
            return;
        }
        r->hop_stage = 1;
        node_event_init(&r->ev, sim_transfer_hop, EV_TRANSFER, (uint32_t)r->rec.id);
        node_schedule(&s->eng, &r->ev, node_pipe_send(&s->down[ld], s->eng.now, r->bytes));
        return;
    }
    node_arrive(s, r);
}
