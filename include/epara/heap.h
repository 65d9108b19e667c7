/* Intrusive indexed binary min-heap. Elements embed an ep_heap_node; the heap keeps an
 * array of node pointers and each node knows its slot, so remove is O(log n) and pushing
 * allocates nothing once capacity is reserved (the array grows geometrically otherwise).
 * Order is given by a strict-weak `less` callback; ties are not broken by the heap, so
 * callers who need a total order (the simulator's (time, seq)) put it in `less`. */
#ifndef EPARA_HEAP_H
#define EPARA_HEAP_H

#include "epara/common.h"

typedef struct ep_heap_node {
    size_t slot_; /* private: index in the heap array, SIZE_MAX when not in a heap */
} ep_heap_node;

typedef int (*ep_heap_less_fn)(const ep_heap_node *a, const ep_heap_node *b);

typedef struct ep_heap {
    ep_heap_node **items_; /* private */
    size_t len_;           /* private */
    size_t cap_;           /* private */
    ep_heap_less_fn less_; /* private */
} ep_heap;

void ep_heap_init(ep_heap *h, ep_heap_less_fn less);
/* Frees the array; the nodes are the caller's and are not touched. */
void ep_heap_fini(ep_heap *h);
/* Makes room for n elements in total. Returns 0 or EP_ENOMEM. */
int ep_heap_reserve(ep_heap *h, size_t n);
/* Inserts a node not currently in any heap. Returns 0 or EP_ENOMEM (heap unchanged). */
int ep_heap_push(ep_heap *h, ep_heap_node *n);
/* Smallest node, or NULL when empty. */
ep_heap_node *ep_heap_min(const ep_heap *h);
/* Removes and returns the smallest node, or NULL when empty. */
ep_heap_node *ep_heap_pop(ep_heap *h);
/* Removes a node that is in h. */
void ep_heap_remove(ep_heap *h, ep_heap_node *n);
/* Restores order after the key of n (in h) changed. */
void ep_heap_update(ep_heap *h, ep_heap_node *n);
size_t ep_heap_len(const ep_heap *h);
/* Whether the node is in a heap (nodes start out of any heap after ep_heap_node_init). */
void ep_heap_node_init(ep_heap_node *n);
int ep_heap_node_linked(const ep_heap_node *n);

#endif
