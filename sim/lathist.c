/* Latency histograms of a run's measured window (epara/sim/lathist.h): bucket i holds completed
 * requests with latency in [LO 10^(i/PD), LO 10^((i+1)/PD)); the outcome counts always add
 * up to requests. */
#include <math.h>
#include <string.h>

#include <jansson.h>

#include "epara/core/error.h"
#include "epara/sim/lathist.h"

static int
bucket_of(double s)
{
    if (!(s > EP_LATHIST_LO_S))
        return 0;
    double b = floor(log10(s / EP_LATHIST_LO_S) * EP_LATHIST_PER_DECADE);
    return b >= EP_LATHIST_NB - 1 ? EP_LATHIST_NB - 1 : (int)b;
}

void
ep_lathist_count(ep_lathist *h, const char *outcome, int slo_met, double latency_s)
{
    h->requests++;
    h->slo_met += slo_met != 0;
    if (strcmp(outcome, "completed") == 0) {
        h->completed++;
        h->bucket[bucket_of(latency_s)]++;
    } else if (strcmp(outcome, "rejected") == 0) {
        h->rejected++;
    } else if (strcmp(outcome, "dropped") == 0) {
        h->dropped++;
    } else {
        h->unfinished++;
    }
}

void
ep_lathist_add(ep_lathist *h, const ep_record *rec)
{
    if (!rec->in_window)
        return;
    double lat = rec->outcome == EP_OUT_COMPLETED ? ep_dur_to_s(rec->done - rec->arrival) : 0;
    ep_lathist_count(h, ep_outcome_name(rec->outcome), rec->slo_met, lat);
}

json_t *
ep_lathist_json(const ep_lathist *h)
{
    json_t *b = json_array();
    for (int i = 0; b && i < EP_LATHIST_NB; i++)
        if (h->bucket[i] &&
            json_array_append_new(b, json_pack("[iI]", i, (json_int_t)h->bucket[i]))) {
            json_decref(b);
            b = NULL;
        }
    if (!b)
        return NULL;
    return json_pack("{s:f, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "lo_s", EP_LATHIST_LO_S,
                     "per_decade", EP_LATHIST_PER_DECADE, "requests", (json_int_t)h->requests,
                     "completed", (json_int_t)h->completed, "slo_met", (json_int_t)h->slo_met,
                     "rejected", (json_int_t)h->rejected, "dropped", (json_int_t)h->dropped,
                     "unfinished", (json_int_t)h->unfinished, "buckets", b);
}

int
ep_lathist_merge_json(ep_lathist *h, const json_t *o)
{
    static const char *const keys[] = {"requests", "completed", "slo_met",
                                       "rejected", "dropped",   "unfinished"};
    ep_lathist add;
    memset(&add, 0, sizeof add);
    int64_t *cnt[] = {&add.requests, &add.completed, &add.slo_met,
                      &add.rejected, &add.dropped,   &add.unfinished};
    json_t *lo = json_object_get(o, "lo_s"), *pd = json_object_get(o, "per_decade");
    json_t *b = json_object_get(o, "buckets");
    if (!json_is_number(lo) || fabs(json_number_value(lo) / EP_LATHIST_LO_S - 1) > 1e-9 ||
        !json_is_integer(pd) || json_integer_value(pd) != EP_LATHIST_PER_DECADE ||
        !json_is_array(b))
        return EP_EPARSE;
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        json_t *v = json_object_get(o, keys[k]);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return EP_EPARSE;
        *cnt[k] = json_integer_value(v);
    }
    size_t i;
    json_t *e;
    int64_t in_buckets = 0;
    json_array_foreach(b, i, e)
    {
        json_t *ix = json_array_get(e, 0), *c = json_array_get(e, 1);
        if (!json_is_integer(ix) || !json_is_integer(c) || json_integer_value(ix) < 0 ||
            json_integer_value(ix) >= EP_LATHIST_NB || json_integer_value(c) < 0)
            return EP_EPARSE;
        add.bucket[json_integer_value(ix)] += json_integer_value(c);
        in_buckets += json_integer_value(c);
    }
    if (in_buckets != add.completed ||
        add.completed + add.rejected + add.dropped + add.unfinished != add.requests)
        return EP_EPARSE;
    for (int k = 0; k < EP_LATHIST_NB; k++)
        h->bucket[k] += add.bucket[k];
    h->requests += add.requests;
    h->completed += add.completed;
    h->slo_met += add.slo_met;
    h->rejected += add.rejected;
    h->dropped += add.dropped;
    h->unfinished += add.unfinished;
    return 0;
}

double
ep_lathist_quantile(const ep_lathist *h, double q)
{
    if (h->requests <= 0 || !(q > 0) || q > 1)
        return NAN;
    int64_t rank = (int64_t)ceil(q * (double)h->requests - 1e-9);
    if (rank < 1)
        rank = 1;
    if (rank > h->completed)
        return NAN;
    int64_t cum = 0;
    for (int i = 0; i < EP_LATHIST_NB; i++) {
        if (cum + h->bucket[i] >= rank) {
            double frac = (double)(rank - cum) / (double)h->bucket[i];
            return EP_LATHIST_LO_S * pow(10, (i + frac) / EP_LATHIST_PER_DECADE);
        }
        cum += h->bucket[i];
    }
    return NAN;
}
