/* The simulator: the node runtime (node/) with every node in one process, driven by its
 * event loop on simulated time; requests between nodes cross the network model
 * (sim_net_send, transfer.c) and the scenario's faults are simulated (faults.c). */
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/core/time.h"
#include "epara/sim/sim.h"
#include "node_internal.h"
#include "sim_driver.h"

/* The loop: every event in time order until none is left or a failure. Requests still in the
 * system this long after the last arrival are reported as unfinished. */
static void
sim_loop(node_rt *s, const ep_run_opts *opts)
{
    ep_time until =
            s->end > EP_TIME_MAX - 600 * EP_NS_PER_S ? EP_TIME_MAX : s->end + 600 * EP_NS_PER_S;
    while (node_step(s, until)) {
        if (opts->on_progress && (s->eng.events & 0xfffff) == 0)
            opts->on_progress(opts->ctx, s->end > 0 ? (double)s->eng.now / (double)s->end : 1.0,
                              s->eng.now, s->eng.events);
        /* Periodic ticks stop once the workload is over, so the loop ends by itself. */
        if (s->eng.now >= s->end) {
            node_cancel(&s->eng, &s->sync_ev);
            node_cancel(&s->eng, &s->place_ev);
        }
    }
}

int
ep_sim_run(const ep_scenario *sc, const ep_run_opts *opts, ep_run_result *out, char *err,
           size_t errlen)
{
    double w0 = ep_mono_s();
    sim_run R;
    memset(&R, 0, sizeof R);
    node_rt *s = &R.rt;
    /* Every node is here: what leaves one crosses the network model to another, and their
     * state reaches each other in memory. */
    static const node_port port = {.send = sim_net_send, .sync = sim_sync, .stopwatch = ep_mono_s};
    int rc = node_setup(s, sc, opts, out, NODE_ROLE_ALL, -1, &port, err, errlen);
    if (rc) {
        out->wall_s = ep_mono_s() - w0;
        return rc;
    }
    if (sim_faults_schedule(&R) != 0) {
        rc = node_err(err, errlen, EP_ENOMEM, "out of memory", NULL);
        goto done;
    }
    sim_loop(s, opts);
    if (s->failed) {
        rc = node_err(err, errlen, s->failed, "simulation failed", ep_strerror(s->failed));
        goto done;
    }
    node_drain(s);
    out->sim_time_s = ep_dur_to_s(s->eng.now);
    out->events = s->eng.events;
    out->event_hash = s->eng.hash;
    if ((rc = node_metrics_finish(s->m, sc, out)) != 0)
        rc = node_err(err, errlen, rc, "out of memory for metrics", NULL);
done:
    if (rc) {
        s->quiet = 1;
        node_drain(s);
    }
    node_free(s);
    free(R.faults);
    out->wall_s = ep_mono_s() - w0;
    out->events_per_s = out->wall_s > 0 ? (double)out->events / out->wall_s : 0;
    if (rc) {
        free(out->device_busy_s);
        out->device_busy_s = NULL;
    }
    return rc;
}
