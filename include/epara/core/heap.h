/* Intrusive indexed binary min-heap with the keys in the heap's own arrays. Elements embed
 * an ep_heap_node; the heap keeps parallel arrays of keys and node pointers and each node
 * knows its slot, so remove and update are O(log n), and sifting compares keys in the array
 * without touching the elements or calling back. A key is (k1, k2), ordered
 * lexicographically: k1 first (signed), equal k1 by k2 (unsigned); callers who make keys
 * unique (the simulator's (time, seq)) get a total order. Pushing allocates nothing once
 * capacity is reserved (the arrays grow geometrically otherwise). */
#ifndef EPARA_HEAP_H
#define EPARA_HEAP_H

#include "epara/core/common.h"

typedef struct ep_heap_node {
    size_t slot_; /* private: index in the heap arrays, 0 when not in a heap */
} ep_heap_node;

/* private: a key as the heap array stores it. */
typedef struct ep_heap_key {
    int64_t k1;
    uint64_t k2;
} ep_heap_key;

typedef struct ep_heap {
    ep_heap_key *keys_;    /* private: keys_[1..len_], root at 1; 64-byte aligned */
    ep_heap_node **nodes_; /* private: nodes_[i] is the node with key keys_[i] */
    size_t len_;           /* private */
    size_t cap_;           /* private */
} ep_heap;

/* An empty heap with no arrays; allocates nothing. */
void ep_heap_init(ep_heap *h);
/* Frees the arrays; the nodes are the caller's and are not touched (nodes still in the heap
 * keep reading as linked: ep_heap_node_init them before reuse). */
void ep_heap_fini(ep_heap *h);
/* Makes room for n elements in total, so pushes up to n allocate nothing. Returns 0 or
 * EP_ENOMEM (heap unchanged). */
int ep_heap_reserve(ep_heap *h, size_t n);
/* Inserts a node not currently in any heap with key (k1, k2); the heap borrows the node
 * until it is popped or removed. Returns 0 or EP_ENOMEM (heap and node unchanged). */
int ep_heap_push(ep_heap *h, ep_heap_node *n, int64_t k1, uint64_t k2);
/* Node with the smallest key, or NULL when empty. Among equal keys (k1 and k2) which one is
 * unspecified. */
ep_heap_node *ep_heap_min(const ep_heap *h);
/* The smallest key: returns 1 and writes *k1 and *k2 (either may be NULL), or returns 0 and
 * writes nothing when the heap is empty. */
int ep_heap_min_key(const ep_heap *h, int64_t *k1, uint64_t *k2);
/* Removes and returns the node ep_heap_min would return, or NULL when empty. */
ep_heap_node *ep_heap_pop(ep_heap *h);
/* Removes a node that is in h (bug otherwise: asserts). */
void ep_heap_remove(ep_heap *h, ep_heap_node *n);
/* Changes the key of a node that is in h to (k1, k2) (bug otherwise: asserts). */
void ep_heap_update(ep_heap *h, ep_heap_node *n, int64_t k1, uint64_t k2);
/* The key of a node that is in h (bug otherwise: asserts); either out pointer may be NULL. */
void ep_heap_node_key(const ep_heap *h, const ep_heap_node *n, int64_t *k1, uint64_t *k2);
/* Number of nodes in h. */
size_t ep_heap_len(const ep_heap *h);
/* Marks a node as in no heap; call once before its first push (a zeroed node is also in no
 * heap). */
void ep_heap_node_init(ep_heap_node *n);
/* Whether the node is in a heap (nodes start out of any heap after ep_heap_node_init). */
int ep_heap_node_linked(const ep_heap_node *n);

#endif
