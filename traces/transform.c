/* Derived traces: time/rate scaling and slicing of one trace, spreading a quantized trace's
 * arrivals over their buckets, and the k-way merge of several traces onto services. All
 * stream rows from readers into one writer, so memory stays bounded and the output is
 * committed whole or not at all. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "epara/core/error.h"
#include "epara/core/heap.h"
#include "epara/core/rng.h"
#include "epara/traces/store.h"

/* Writes the JSON object p (consumed) into buf, or "{}" when it does not fit: the params
 * column never holds broken JSON. */
static void
params_dump(json_t *p, char *buf, size_t len)
{
    char *txt = p ? json_dumps(p, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    snprintf(buf, len, "%s", txt && strlen(txt) < len ? txt : "{}");
    free(txt);
    json_decref(p);
}

/* The metadata of trace dst derived from src (its license carried over; params left to the
 * caller). */
static int
derived_meta(ep_store *st, const char *src, const char *dst, ep_trace_meta *dm)
{
    ep_trace_meta sm;
    int err = ep_trace_meta_get(st, src, &sm);
    if (err)
        return err;
    memset(dm, 0, sizeof *dm);
    snprintf(dm->name, sizeof dm->name, "%s", dst);
    snprintf(dm->source, sizeof dm->source, "trace:%s", src);
    snprintf(dm->format, sizeof dm->format, "derived");
    snprintf(dm->license, sizeof dm->license, "%s", sm.license);
    return 0;
}

int
ep_trace_derive(ep_store *st, const char *src, const char *dst, const ep_trace_transform *t,
                int replace, ep_trace_meta *out_meta)
{
    if (strcmp(src, dst) == 0 || !(t->time_scale > 0) || !isfinite(t->time_scale) || t->from < 0 ||
        t->to <= t->from)
        return EP_EINVAL;
    ep_trace_meta dm;
    int err = derived_meta(st, src, dst, &dm);
    if (err)
        return err;
    json_t *p = json_pack("{s:s, s:f, s:I, s:I}", "source", src, "time_scale", t->time_scale,
                          "from_ns", (json_int_t)t->from, "to_ns", (json_int_t)t->to);
    if (p && t->service)
        json_object_set_new(p, "service", json_string(t->service));
    params_dump(p, dm.params, sizeof dm.params);
    ep_trace_writer *w;
    if ((err = ep_trace_writer_begin(st, &dm, replace, &w)) != 0)
        return err;
    /* Keep the slice's phase: times are measured from `from`, not from its first row. */
    ep_trace_writer_set_origin(w, 0);
    ep_trace_reader *r;
    if ((err = ep_trace_reader_open(st, src, t->from, t->to, &r)) != 0) {
        ep_trace_writer_abort(w);
        return err;
    }
    ep_trace_row row;
    int rc;
    while ((rc = ep_trace_reader_next(r, &row)) == 1) {
        double a = (double)(row.arrival - t->from) * t->time_scale;
        if (!(a < 9.2e18)) {
            rc = EP_ERANGE;
            break;
        }
        row.arrival = (ep_time)llround(a);
        if (t->service)
            row.service = t->service;
        if ((rc = ep_trace_writer_add(w, &row)) != 0)
            break;
    }
    ep_trace_reader_close(r);
    if (rc < 0) {
        ep_trace_writer_abort(w);
        return rc;
    }
    return ep_trace_writer_commit(w, out_meta);
}

int
ep_trace_spread(ep_store *st, const char *src, const char *dst, ep_dur width, uint64_t seed,
                int replace, ep_trace_meta *out_meta)
{
    if (strcmp(src, dst) == 0 || width <= 0 || width > 86400 * EP_NS_PER_S)
        return EP_EINVAL;
    ep_trace_meta dm;
    int err = derived_meta(st, src, dst, &dm);
    if (err)
        return err;
    params_dump(json_pack("{s:s, s:s, s:I, s:I}", "source", src, "spread", "uniform", "width_ns",
                          (json_int_t)width, "seed", (json_int_t)seed),
                dm.params, sizeof dm.params);
    ep_rng rng;
    if (ep_rng_init(&rng, seed, EP_STREAM_EXPAND) != 0)
        return EP_ENOMEM;
    ep_trace_writer *w = NULL;
    ep_trace_reader *r = NULL;
    if ((err = ep_trace_writer_begin(st, &dm, replace, &w)) != 0)
        goto fail;
    /* The source's time origin is kept: arrival 0 stays the first bucket's start. */
    ep_trace_writer_set_origin(w, 0);
    if ((err = ep_trace_reader_open(st, src, 0, EP_TIME_MAX, &r)) != 0)
        goto fail;
    ep_trace_row row;
    while ((err = ep_trace_reader_next(r, &row)) == 1) {
        /* floor(u * width) < width for u in [0, 1) */
        ep_dur off = (ep_dur)(ep_rng_uniform(&rng) * (double)width);
        if (off >= width)
            off = width - 1;
        if (row.arrival > INT64_MAX - off) {
            err = EP_ERANGE;
            goto fail;
        }
        row.arrival += off;
        if ((err = ep_trace_writer_add(w, &row)) != 0)
            goto fail;
    }
    if (err < 0)
        goto fail;
    ep_trace_reader_close(r);
    ep_rng_fini(&rng);
    return ep_trace_writer_commit(w, out_meta);
fail:
    ep_trace_reader_close(r);
    ep_trace_writer_abort(w);
    ep_rng_fini(&rng);
    return err;
}

/* One source of a merge: its reader, current row and heap node. */
typedef struct merge_src {
    ep_heap_node node;
    ep_trace_reader *r;
    ep_trace_row row;
    size_t order;
    const char *service;
} merge_src;

int
ep_trace_merge(ep_store *st, const char *dst, const char *const *srcs, const char *const *services,
               size_t n, int replace, ep_trace_meta *out_meta)
{
    if (n == 0)
        return EP_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(srcs[i], dst) == 0)
            return EP_EINVAL;
    ep_trace_meta dm;
    memset(&dm, 0, sizeof dm);
    snprintf(dm.name, sizeof dm.name, "%s", dst);
    snprintf(dm.format, sizeof dm.format, "merged");
    json_t *arr = json_array();
    size_t loff = 0;
    for (size_t i = 0; i < n; i++) {
        ep_trace_meta sm;
        int err = ep_trace_meta_get(st, srcs[i], &sm);
        if (err) {
            json_decref(arr);
            return err;
        }
        /* Keep every distinct license note of the sources. */
        if (sm.license[0] && !strstr(dm.license, sm.license) && loff < sizeof dm.license)
            loff += (size_t)snprintf(dm.license + loff, sizeof dm.license - loff, "%s%s",
                                     loff ? "; " : "", sm.license);
    }
    size_t soff = (size_t)snprintf(dm.source, sizeof dm.source, "merge:");
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, json_pack("{s:s, s:s?}", "trace", srcs[i], "service",
                                             services ? services[i] : NULL));
        if (soff < sizeof dm.source)
            soff += (size_t)snprintf(dm.source + soff, sizeof dm.source - soff, "%s%s",
                                     i ? "+" : "", srcs[i]);
    }
    params_dump(json_pack("{s:o}", "sources", arr), dm.params, sizeof dm.params);
    merge_src *ms = calloc(n, sizeof *ms);
    if (!ms)
        return EP_ENOMEM;
    /* Sources keyed by (current row's arrival, source order): rows in time order, ties in
     * the order the sources were given. */
    ep_heap heap;
    ep_heap_init(&heap);
    ep_trace_writer *w = NULL;
    int err = ep_trace_writer_begin(st, &dm, replace, &w);
    if (err)
        goto done;
    ep_trace_writer_set_origin(w, 0);
    if ((err = ep_heap_reserve(&heap, n)) != 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        ms[i].order = i;
        ms[i].service = services ? services[i] : NULL;
        ep_heap_node_init(&ms[i].node);
        if ((err = ep_trace_reader_open(st, srcs[i], 0, EP_TIME_MAX, &ms[i].r)) != 0)
            goto done;
        int rc = ep_trace_reader_next(ms[i].r, &ms[i].row);
        if (rc < 0) {
            err = rc;
            goto done;
        }
        if (rc == 1)
            ep_heap_push(&heap, &ms[i].node, ms[i].row.arrival, ms[i].order);
    }
    ep_heap_node *hn;
    while ((hn = ep_heap_pop(&heap)) != NULL) {
        merge_src *m = EP_CONTAINER_OF(hn, merge_src, node);
        if (m->service)
            m->row.service = m->service;
        if ((err = ep_trace_writer_add(w, &m->row)) != 0)
            goto done;
        int rc = ep_trace_reader_next(m->r, &m->row);
        if (rc < 0) {
            err = rc;
            goto done;
        }
        if (rc == 1)
            ep_heap_push(&heap, &m->node, m->row.arrival, m->order);
    }
done:
    for (size_t i = 0; i < n; i++)
        ep_trace_reader_close(ms[i].r);
    ep_heap_fini(&heap);
    free(ms);
    if (err) {
        ep_trace_writer_abort(w);
        return err;
    }
    return ep_trace_writer_commit(w, out_meta);
}
