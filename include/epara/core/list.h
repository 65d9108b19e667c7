/* Intrusive circular doubly linked list with a sentinel head (as in libuv's queue and
 * nng's list). Elements embed an ep_list_node; nothing here allocates. All operations are
 * O(1) and header-only. */
#ifndef EPARA_LIST_H
#define EPARA_LIST_H

#include "epara/core/common.h"

typedef struct ep_list_node {
    struct ep_list_node *next, *prev;
} ep_list_node;

typedef struct ep_list {
    ep_list_node head; /* private: the sentinel */
    size_t len;        /* number of elements; read-only for callers */
} ep_list;

static inline void
ep_list_init(ep_list *l)
{
    l->head.next = l->head.prev = &l->head;
    l->len = 0;
}

static inline void
ep_list_node_init(ep_list_node *n)
{
    n->next = n->prev = NULL;
}

static inline int
ep_list_node_linked(const ep_list_node *n)
{
    return n->next != NULL;
}

static inline int
ep_list_empty(const ep_list *l)
{
    return l->len == 0;
}

static inline void
ep_list_insert_after_(ep_list *l, ep_list_node *pos, ep_list_node *n)
{
    n->prev = pos;
    n->next = pos->next;
    pos->next->prev = n;
    pos->next = n;
    l->len++;
}

static inline void
ep_list_push_back(ep_list *l, ep_list_node *n)
{
    ep_list_insert_after_(l, l->head.prev, n);
}

static inline void
ep_list_push_front(ep_list *l, ep_list_node *n)
{
    ep_list_insert_after_(l, &l->head, n);
}

/* Inserts n just before pos (pos is an element of l or its sentinel via ep_list_end). */
static inline void
ep_list_insert_before(ep_list *l, ep_list_node *pos, ep_list_node *n)
{
    ep_list_insert_after_(l, pos->prev, n);
}

static inline void
ep_list_remove(ep_list *l, ep_list_node *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = NULL;
    l->len--;
}

static inline ep_list_node *
ep_list_first(const ep_list *l)
{
    return l->len ? l->head.next : NULL;
}

static inline ep_list_node *
ep_list_last(const ep_list *l)
{
    return l->len ? l->head.prev : NULL;
}

/* Next element after n, or NULL at the end. */
static inline ep_list_node *
ep_list_next(const ep_list *l, const ep_list_node *n)
{
    return n->next == &l->head ? NULL : n->next;
}

static inline ep_list_node *
ep_list_pop_front(ep_list *l)
{
    ep_list_node *n = ep_list_first(l);
    if (n)
        ep_list_remove(l, n);
    return n;
}

#define EP_LIST_FOREACH(l, n) for (ep_list_node *n = ep_list_first(l); n; n = ep_list_next(l, n))

#endif
