/* Indexed binary min-heap over embedded nodes, keys kept in the heap's arrays. Slots are
 * 1-based (slot 0 means "in no heap"), so the children of i are 2i and 2i+1. Invariant: for
 * every slot 1 <= i <= len, nodes[i]->slot_ == i, and for i > 1 keys[i] is not less than
 * keys[i/2]. Both arrays start on a cache line: the two children of a slot share one line,
 * and the eight keys three levels down fill exactly two. */
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/core/heap.h"

#define NOT_LINKED 0
#define LINE       64

#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif

/* Lexicographic (k1, k2). Bitwise operators, not && and ||: the compiler turns this into
 * flag arithmetic, so choosing the smaller child has no branch to mispredict. */
static inline int
key_less(const ep_heap_key *a, const ep_heap_key *b)
{
    return (a->k1 < b->k1) | ((a->k1 == b->k1) & (a->k2 < b->k2));
}

/* Bytes of an array of n + 1 elements of size sz (slot 0 unused), rounded up to whole cache
 * lines; 0 on overflow. */
static size_t
array_bytes(size_t n, size_t sz)
{
    if (n >= (SIZE_MAX - LINE) / sz - 1)
        return 0;
    return ((n + 1) * sz + LINE - 1) / LINE * LINE;
}

void
ep_heap_init(ep_heap *h)
{
    h->keys_ = NULL;
    h->nodes_ = NULL;
    h->len_ = h->cap_ = 0;
}

void
ep_heap_fini(ep_heap *h)
{
    free(h->keys_); /* one block holds both arrays */
    ep_heap_init(h);
}

void
ep_heap_node_init(ep_heap_node *n)
{
    n->slot_ = NOT_LINKED;
}

int
ep_heap_node_linked(const ep_heap_node *n)
{
    return n->slot_ != NOT_LINKED;
}

int
ep_heap_reserve(ep_heap *h, size_t n)
{
    if (n <= h->cap_)
        return 0;
    size_t kbytes = array_bytes(n, sizeof(ep_heap_key));
    size_t nbytes = array_bytes(n, sizeof(ep_heap_node *));
    if (!kbytes || !nbytes || kbytes > SIZE_MAX - nbytes)
        return EP_ENOMEM;
    /* One aligned block, keys then nodes; realloc would not keep the alignment. */
    char *block = aligned_alloc(LINE, kbytes + nbytes);
    if (!block)
        return EP_ENOMEM;
    ep_heap_key *keys = (ep_heap_key *)(void *)block;
    ep_heap_node **nodes = (ep_heap_node **)(void *)(block + kbytes);
    if (h->len_) {
        memcpy(keys + 1, h->keys_ + 1, h->len_ * sizeof(*keys));
        memcpy(nodes + 1, h->nodes_ + 1, h->len_ * sizeof(*nodes));
    }
    free(h->keys_);
    h->keys_ = keys;
    h->nodes_ = nodes;
    h->cap_ = n;
    return 0;
}

static inline void
place(ep_heap_key *keys, ep_heap_node **nodes, size_t i, ep_heap_key k, ep_heap_node *n)
{
    keys[i] = k;
    nodes[i] = n;
    n->slot_ = i;
}

/* Fills the hole at slot i with (k, n), moving larger ancestors down. */
static void
sift_up(ep_heap *h, size_t i, ep_heap_key k, ep_heap_node *n)
{
    ep_heap_key *keys = h->keys_;
    ep_heap_node **nodes = h->nodes_;
    while (i > 1) {
        size_t parent = i / 2;
        if (!key_less(&k, &keys[parent]))
            break;
        place(keys, nodes, i, keys[parent], nodes[parent]);
        i = parent;
    }
    place(keys, nodes, i, k, n);
}

/* Fills the hole at slot i with (k, n), where k is not less than the key of i's parent. The
 * hole first goes down to a leaf along the smaller children (one comparison per level), then
 * k rises from there: what sinks is mostly a heap's last, large key (pop, remove) or a key
 * that grew (a merged stream's next item), which ends near the bottom anyway. The walk down
 * is a chain of dependent loads, so it prefetches three levels ahead. */
static void
sift_down(ep_heap *h, size_t i, ep_heap_key k, ep_heap_node *n)
{
    ep_heap_key *keys = h->keys_;
    ep_heap_node **nodes = h->nodes_;
    size_t len = h->len_, top = i, child = 2 * i;
    while (child < len) {
        if (4 * child <= len) {
            PREFETCH(&keys[4 * child]);
            PREFETCH(&nodes[4 * child]);
            if (4 * child + 4 <= len)
                PREFETCH(&keys[4 * child + 4]);
        }
        child += (size_t)key_less(&keys[child + 1], &keys[child]);
        place(keys, nodes, i, keys[child], nodes[child]);
        i = child;
        child = 2 * i;
    }
    if (child == len) {
        place(keys, nodes, i, keys[child], nodes[child]);
        i = child;
    }
    while (i > top) {
        size_t parent = i / 2;
        if (!key_less(&k, &keys[parent]))
            break;
        place(keys, nodes, i, keys[parent], nodes[parent]);
        i = parent;
    }
    place(keys, nodes, i, k, n);
}

/* Fills the hole at slot i (1 <= i <= len) with (k, n), up or down as k asks. */
static void
fill(ep_heap *h, size_t i, ep_heap_key k, ep_heap_node *n)
{
    if (i > 1 && key_less(&k, &h->keys_[i / 2]))
        sift_up(h, i, k, n);
    else
        sift_down(h, i, k, n);
}

int
ep_heap_push(ep_heap *h, ep_heap_node *n, int64_t k1, uint64_t k2)
{
    EP_ASSERT(n->slot_ == NOT_LINKED);
    if (EP_UNLIKELY(h->len_ == h->cap_)) {
        int rv = ep_heap_reserve(h, h->cap_ ? h->cap_ * 2 : 64);
        if (rv)
            return rv;
    }
    ep_heap_key k = {k1, k2};
    sift_up(h, ++h->len_, k, n);
    return 0;
}

ep_heap_node *
ep_heap_min(const ep_heap *h)
{
    return h->len_ ? h->nodes_[1] : NULL;
}

int
ep_heap_min_key(const ep_heap *h, int64_t *k1, uint64_t *k2)
{
    if (!h->len_)
        return 0;
    if (k1)
        *k1 = h->keys_[1].k1;
    if (k2)
        *k2 = h->keys_[1].k2;
    return 1;
}

/* Takes the node at slot i (1 <= i <= len) out of h; the last item fills the hole. */
static void
take(ep_heap *h, size_t i)
{
    h->nodes_[i]->slot_ = NOT_LINKED;
    size_t last = h->len_--;
    if (i < last)
        fill(h, i, h->keys_[last], h->nodes_[last]);
}

void
ep_heap_remove(ep_heap *h, ep_heap_node *n)
{
    size_t i = n->slot_;
    EP_ASSERT(i >= 1 && i <= h->len_ && h->nodes_[i] == n);
    take(h, i);
}

ep_heap_node *
ep_heap_pop(ep_heap *h)
{
    if (!h->len_)
        return NULL;
    ep_heap_node *n = h->nodes_[1];
    take(h, 1);
    return n;
}

void
ep_heap_update(ep_heap *h, ep_heap_node *n, int64_t k1, uint64_t k2)
{
    size_t i = n->slot_;
    EP_ASSERT(i >= 1 && i <= h->len_ && h->nodes_[i] == n);
    ep_heap_key k = {k1, k2};
    fill(h, i, k, n);
}

void
ep_heap_node_key(const ep_heap *h, const ep_heap_node *n, int64_t *k1, uint64_t *k2)
{
    size_t i = n->slot_;
    EP_ASSERT(i >= 1 && i <= h->len_ && h->nodes_[i] == n);
    if (k1)
        *k1 = h->keys_[i].k1;
    if (k2)
        *k2 = h->keys_[i].k2;
}

size_t
ep_heap_len(const ep_heap *h)
{
    return h->len_;
}
