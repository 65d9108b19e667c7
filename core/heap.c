/* Indexed binary min-heap over embedded nodes, keys kept in the array. Invariant: for every
 * slot i < len, items[i].node->slot_ == i, and for i > 0 the key of items[i] is not less
 * than the key of items[(i-1)/2]. */
#include <stdlib.h>

#include "epara/error.h"
#include "epara/heap.h"

#define NOT_LINKED SIZE_MAX

/* Lexicographic (k1, k2). Bitwise operators, not && and ||: the compiler turns this into
 * flag arithmetic, so choosing the smaller child has no branch to mispredict. */
static inline int
key_less(const ep_heap_item *a, const ep_heap_item *b)
{
    return (a->k1 < b->k1) | ((a->k1 == b->k1) & (a->k2 < b->k2));
}

static inline void
place(ep_heap_item *items, size_t i, ep_heap_item it)
{
    items[i] = it;
    it.node->slot_ = i;
}

void
ep_heap_init(ep_heap *h)
{
    h->items_ = NULL;
    h->len_ = h->cap_ = 0;
}

void
ep_heap_fini(ep_heap *h)
{
    free(h->items_);
    h->items_ = NULL;
    h->len_ = h->cap_ = 0;
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
    if (n > SIZE_MAX / sizeof(*h->items_))
        return EP_ENOMEM;
    ep_heap_item *items = realloc(h->items_, n * sizeof(*items));
    if (!items)
        return EP_ENOMEM;
    h->items_ = items;
    h->cap_ = n;
    return 0;
}

/* Fills the hole at slot i with `it`, moving smaller ancestors down. */
static void
sift_up(ep_heap_item *items, size_t i, ep_heap_item it)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!key_less(&it, &items[parent]))
            break;
        place(items, i, items[parent]);
        i = parent;
    }
    place(items, i, it);
}

/* Fills the hole at slot i with `it`, which must not be less than the parent of i. The hole
 * first goes down to a leaf along the smaller children (one comparison per level), then
 * `it` rises from there. The items sifted down are mostly a heap's last, large item (pop,
 * remove) or a key that grew (the next event of a merged stream), which end near the
 * bottom: this takes about half the comparisons of stopping on the way down. */
static void
sift_down(ep_heap_item *items, size_t len, size_t i, ep_heap_item it)
{
    size_t top = i;
    size_t child = 2 * i + 1;
    while (child + 1 < len) {
        child += (size_t)key_less(&items[child + 1], &items[child]);
        place(items, i, items[child]);
        i = child;
        child = 2 * i + 1;
    }
    if (child < len) {
        place(items, i, items[child]);
        i = child;
    }
    while (i > top) {
        size_t parent = (i - 1) / 2;
        if (!key_less(&it, &items[parent]))
            break;
        place(items, i, items[parent]);
        i = parent;
    }
    place(items, i, it);
}

/* Puts `it` into the hole at slot i of a heap of len items, up or down as its key asks. */
static void
fill(ep_heap_item *items, size_t len, size_t i, ep_heap_item it)
{
    if (i > 0 && key_less(&it, &items[(i - 1) / 2]))
        sift_up(items, i, it);
    else
        sift_down(items, len, i, it);
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
    ep_heap_item it = {k1, k2, n};
    sift_up(h->items_, h->len_++, it);
    return 0;
}

ep_heap_node *
ep_heap_min(const ep_heap *h)
{
    return h->len_ ? h->items_[0].node : NULL;
}

int
ep_heap_min_key(const ep_heap *h, int64_t *k1, uint64_t *k2)
{
    if (!h->len_)
        return 0;
    if (k1)
        *k1 = h->items_[0].k1;
    if (k2)
        *k2 = h->items_[0].k2;
    return 1;
}

/* Takes the item at slot i (valid) out of h. */
static void
take(ep_heap *h, size_t i)
{
    h->items_[i].node->slot_ = NOT_LINKED;
    size_t len = --h->len_;
    if (i < len)
        fill(h->items_, len, i, h->items_[len]);
}

void
ep_heap_remove(ep_heap *h, ep_heap_node *n)
{
    size_t i = n->slot_;
    EP_ASSERT(i < h->len_ && h->items_[i].node == n);
    take(h, i);
}

ep_heap_node *
ep_heap_pop(ep_heap *h)
{
    if (!h->len_)
        return NULL;
    ep_heap_node *n = h->items_[0].node;
    take(h, 0);
    return n;
}

void
ep_heap_update(ep_heap *h, ep_heap_node *n, int64_t k1, uint64_t k2)
{
    size_t i = n->slot_;
    EP_ASSERT(i < h->len_ && h->items_[i].node == n);
    ep_heap_item it = {k1, k2, n};
    fill(h->items_, h->len_, i, it);
}

void
ep_heap_node_key(const ep_heap *h, const ep_heap_node *n, int64_t *k1, uint64_t *k2)
{
    size_t i = n->slot_;
    EP_ASSERT(i < h->len_ && h->items_[i].node == n);
    if (k1)
        *k1 = h->items_[i].k1;
    if (k2)
        *k2 = h->items_[i].k2;
}

size_t
ep_heap_len(const ep_heap *h)
{
    return h->len_;
}
