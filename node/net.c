/* Network model: each direction of a link is a FIFO server. A transfer of B bytes waits for
 * the transfers queued before it, occupies the pipe for B / (bw x (1 - loss)) (loss is
 * modelled as the expected retransmission time; B with its packets' framing where the link
 * has an mtu, ep_link_wire_bytes), then arrives after the latency. The
 * simulator's transfers (sim/transfer.c) and a live node's emulated links (exec/live.c) both
 * price a request with these pipes, and the host its replies (node_delay). */
#include <math.h>

#include "node_internal.h"

ep_dur
node_pipe_cost(const node_pipe *p, int64_t bytes)
{
    double bw = p->bw * (1.0 - (p->loss < 0.99 ? p->loss : 0.99));
    double wire = p->link ? ep_link_wire_bytes(p->link, (double)bytes) : (double)bytes;
    double t = bw > 0 ? wire / bw * 1e9 : 0;
    return ep_round_i64(t);
}

ep_time
node_pipe_send(node_pipe *p, ep_time now, int64_t bytes)
{
    ep_time start = p->busy_until > now ? p->busy_until : now;
    ep_time leave = start + node_pipe_cost(p, bytes);
    p->busy_until = leave;
    return leave + p->latency;
}
