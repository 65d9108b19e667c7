/* Derived traces: time/rate scaling and slicing of one trace, and the k-way merge of
 * several traces onto services. Both stream rows from readers into one writer, so memory
 * stays bounded and the output is committed whole or not at all. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/error.h"
#include "epara/heap.h"
#include "epara/store.h"

int
ep_trace_derive(ep_store *st, const char *src, const char *dst, const ep_trace_transform *t,
                int replace, ep_trace_meta *out_meta)
{
    if (strcmp(src, dst) == 0 || !(t->time_scale > 0) || !isfinite(t->time_scale) || t->from < 0 ||
        t->to <= t->from)
        return EP_EINVAL;
    ep_trace_meta sm, dm;
    int err = ep_trace_meta_get(st, src, &sm);
    if (err)
        return err;
    memset(&dm, 0, sizeof dm);
    snprintf(dm.name, sizeof dm.name, "%s", dst);
    snprintf(dm.source, sizeof dm.source, "trace:%s", src);
    snprintf(dm.format, sizeof dm.format, "derived");
    snprintf(dm.license, sizeof dm.license, "%s", sm.license);
    snprintf(dm.params, sizeof dm.params,
             "{\"source\":\"%s\",\"time_scale\":%.17g,\"from_ns\":%lld,\"to_ns\":%lld%s%s%s}", src,
             t->time_scale, (long long)t->from, (long long)t->to,
             t->service ? ",\"service\":\"" : "", t->service ? t->service : "",
             t->service ? "\"" : "");
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

/* One source of a merge: its reader, current row and heap node. */
typedef struct merge_src {
    ep_heap_node node;
    ep_trace_reader *r;
    ep_trace_row row;
    size_t order;
    const char *service;
} merge_src;

static int
merge_less(const ep_heap_node *a, const ep_heap_node *b)
{
    const merge_src *x = EP_CONTAINER_OF(a, merge_src, node);
    const merge_src *y = EP_CONTAINER_OF(b, merge_src, node);
    if (x->row.arrival != y->row.arrival)
        return x->row.arrival < y->row.arrival;
    return x->order < y->order;
}

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
    size_t off = (size_t)snprintf(dm.params, sizeof dm.params, "{\"sources\":[");
    size_t soff = (size_t)snprintf(dm.source, sizeof dm.source, "merge:");
    for (size_t i = 0; i < n; i++) {
        const char *svc = services && services[i] ? services[i] : "";
        if (off < sizeof dm.params)
            off += (size_t)snprintf(dm.params + off, sizeof dm.params - off,
                                    "%s{\"trace\":\"%s\",\"service\":\"%s\"}", i ? "," : "",
                                    srcs[i], svc);
        if (soff < sizeof dm.source)
            soff += (size_t)snprintf(dm.source + soff, sizeof dm.source - soff, "%s%s",
                                     i ? "+" : "", srcs[i]);
    }
    if (off < sizeof dm.params)
        snprintf(dm.params + off, sizeof dm.params - off, "]}");
    if (off + 2 >= sizeof dm.params)
        strcpy(dm.params, "{}"); /* too many sources to list; never store broken JSON */

    merge_src *ms = calloc(n, sizeof *ms);
    if (!ms)
        return EP_ENOMEM;
    ep_heap heap;
    ep_heap_init(&heap, merge_less);
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
            ep_heap_push(&heap, &ms[i].node);
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
            ep_heap_push(&heap, &m->node);
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
