/* The event engine: an intrusive heap keyed by (time, seq), so events at the same time run
 * in the order they were scheduled, and a hash over every event run (time, kind, object).
 * An event's heap key always equals its (at, seq) fields. */
#include "epara/core/error.h"
#include "node_internal.h"

void
node_engine_init(node_engine *e)
{
    ep_heap_init(&e->heap);
    e->now = 0;
    e->seq = 0;
    e->events = 0;
    e->hash = UINT64_C(0xcbf29ce484222325);
}

void
node_engine_fini(node_engine *e)
{
    ep_heap_fini(&e->heap);
}

void
node_event_init(node_event *ev, node_event_fn fn, uint32_t kind, uint32_t obj)
{
    ep_heap_node_init(&ev->node);
    ev->fn = fn;
    ev->kind = kind;
    ev->obj = obj;
    ev->at = 0;
    ev->seq = 0;
}

int
node_schedule(node_engine *e, node_event *ev, ep_time at)
{
    EP_ASSERT(at >= e->now);
    ev->at = at;
    ev->seq = e->seq++;
    return ep_heap_push(&e->heap, &ev->node, at, ev->seq);
}

void
node_cancel(node_engine *e, node_event *ev)
{
    if (ep_heap_node_linked(&ev->node))
        ep_heap_remove(&e->heap, &ev->node);
}

int
node_event_pending(const node_event *ev)
{
    return ep_heap_node_linked(&ev->node);
}

/* FNV-1a over 64-bit words (one multiply per word instead of per byte): enough to tell
 * event logs apart, cheap enough to run on every event. */
static inline uint64_t
fnv(uint64_t h, uint64_t v)
{
    h ^= v;
    h *= UINT64_C(0x100000001b3);
    return h ^ (h >> 29);
}

node_event *
node_engine_next(node_engine *e, ep_time until)
{
    ep_time at;
    /* The key says whether to stop without a look at the event itself. */
    if (!ep_heap_min_key(&e->heap, &at, NULL) || at > until)
        return NULL;
    node_event *ev = EP_CONTAINER_OF(ep_heap_pop(&e->heap), node_event, node);
    e->now = at;
    e->events++;
    e->hash = fnv(fnv(e->hash, (uint64_t)at), ((uint64_t)ev->kind << 32) | ev->obj);
    return ev;
}
