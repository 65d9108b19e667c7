/* The summary of one run (epara/sim/results.h, ep_sim_summary_json): the object `epara sim --json`
 * prints, the loadgen reports and the results database stores with every run. Numbers that
 * are not finite (no request completed) are null. */
#include <math.h>
#include <stdio.h>

#include <jansson.h>

#include "epara/sim/results.h"

static json_t *
num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *
ep_sim_summary_json(const ep_scenario *sc, const ep_run_result *r)
{
    json_t *o = json_object();
    char hash[32];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)r->event_hash);
    json_object_set_new(o, "scenario", json_string(sc->name));
    json_object_set_new(o, "policy", json_string(r->policy));
    json_object_set_new(o, "seed", json_integer((json_int_t)r->seed));
    json_object_set_new(o, "goodput_per_s", num(r->goodput_per_s));
    json_object_set_new(o, "slo_attainment", num(r->slo_attainment));
    json_object_set_new(o, "requests", json_integer(r->requests));
    json_object_set_new(o, "completed", json_integer(r->completed));
    json_object_set_new(o, "slo_met", json_integer(r->slo_met));
    json_object_set_new(o, "rejected", json_integer(r->rejected));
    json_object_set_new(o, "dropped", json_integer(r->dropped));
    json_object_set_new(o, "unfinished", json_integer(r->unfinished));
    json_object_set_new(o, "p50_latency_s", num(r->p50_latency_s));
    json_object_set_new(o, "p90_latency_s", num(r->p90_latency_s));
    json_object_set_new(o, "p99_latency_s", num(r->p99_latency_s));
    json_object_set_new(o, "mean_latency_s", num(r->mean_latency_s));
    json_object_set_new(o, "window_s", num(r->window_s));
    json_object_set_new(o, "sim_time_s", num(r->sim_time_s));
    json_object_set_new(o, "events", json_integer((json_int_t)r->events));
    json_object_set_new(o, "wall_s", num(r->wall_s));
    json_object_set_new(o, "events_per_s", num(r->events_per_s));
    json_object_set_new(o, "event_hash", json_string(hash));
    json_object_set_new(o, "forwarded", json_integer(r->forwarded));
    json_object_set_new(o, "preemptions", json_integer(r->preemptions));
    json_object_set_new(o, "placements", json_integer(r->placements));
    json_object_set_new(o, "placements_refused", json_integer(r->placements_refused));
    json_object_set_new(o, "instances", json_integer(r->instances));
    json_object_set_new(o, "place_time_s", num(r->place_time_s));
    json_object_set_new(o, "placement_rounds", json_integer(r->placement_rounds));
    json_object_set_new(o, "unservable", json_integer(r->unservable));
    json_t *why = json_object();
    for (int k = 1; k < EP_UNSERVABLE_COUNT_; k++)
        json_object_set_new(why, ep_unservable_key((ep_unservable)k),
                            json_integer(r->unservable_why[k]));
    json_object_set_new(o, "unservable_by_reason", why);
    json_t *svcs = json_array();
    for (int i = 0; i < r->nservices; i++) {
        const ep_run_service_stats *v = &r->svc[i];
        json_t *s = json_object();
        json_object_set_new(s, "name", json_string(sc->services[i].name));
        json_object_set_new(s, "kind",
                            json_string(sc->services[i].kind == EP_SVC_LLM ? "llm" : "dnn"));
        json_object_set_new(s, "sensitivity",
                            json_string(v->category.sensitivity == EP_SENS_FREQUENCY ? "frequency"
                                                                                     : "latency"));
        json_object_set_new(s, "multi_device", json_boolean(v->category.multi_device));
        json_object_set_new(s, "requests", json_integer(v->requests));
        json_object_set_new(s, "completed", json_integer(v->completed));
        json_object_set_new(s, "slo_met", json_integer(v->slo_met));
        json_object_set_new(s, "rejected", json_integer(v->rejected));
        json_object_set_new(s, "dropped", json_integer(v->dropped));
        json_object_set_new(s, "unfinished", json_integer(v->unfinished));
        json_object_set_new(s, "unservable", json_integer(v->unservable));
        json_object_set_new(s, "goodput_per_s", num(v->goodput_per_s));
        json_object_set_new(s, "slo_attainment", num(v->slo_attainment));
        json_object_set_new(s, "p50_latency_s", num(v->p50_latency_s));
        json_object_set_new(s, "p99_latency_s", num(v->p99_latency_s));
        if (sc->services[i].kind == EP_SVC_LLM) {
            json_object_set_new(s, "p50_ttft_s", num(v->p50_ttft_s));
            json_object_set_new(s, "p99_ttft_s", num(v->p99_ttft_s));
            json_object_set_new(s, "p50_tpot_s", num(v->p50_tpot_s));
            json_object_set_new(s, "p99_tpot_s", num(v->p99_tpot_s));
        }
        json_array_append_new(svcs, s);
    }
    json_object_set_new(o, "services", svcs);
    json_t *devs = json_array();
    for (int d = 0; d < r->ndevices && r->device_busy_s; d++) {
        json_t *e = json_object();
        json_object_set_new(e, "node", json_string(sc->nodes[sc->devices[d].node].name));
        json_object_set_new(e, "spec", json_string(sc->specs[sc->devices[d].spec].name));
        json_object_set_new(e, "utilization",
                            num(r->sim_time_s > 0 ? r->device_busy_s[d] / r->sim_time_s : NAN));
        json_array_append_new(devs, e);
    }
    json_object_set_new(o, "devices", devs);
    return o;
}
