/* Indexed binary min-heap over embedded nodes. Invariant: for every slot i > 0,
 * !less(items[i], items[(i-1)/2]) and items[i]->slot_ == i. */
#include <stdlib.h>

#include "epara/error.h"
#include "epara/heap.h"

#define NOT_LINKED SIZE_MAX

void
ep_heap_init(ep_heap *h, ep_heap_less_fn less)
{
    h->items_ = NULL;
    h->len_ = h->cap_ = 0;
    h->less_ = less;
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
    ep_heap_node **items = realloc(h->items_, n * sizeof(*items));
    if (!items)
        return EP_ENOMEM;
    h->items_ = items;
    h->cap_ = n;
    return 0;
}

static inline void
place(ep_heap *h, size_t i, ep_heap_node *n)
{
    h->items_[i] = n;
    n->slot_ = i;
}

static void
sift_up(ep_heap *h, size_t i)
{
    ep_heap_node *n = h->items_[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!h->less_(n, h->items_[parent]))
            break;
        place(h, i, h->items_[parent]);
        i = parent;
    }
    place(h, i, n);
}

static void
sift_down(ep_heap *h, size_t i)
{
    ep_heap_node *n = h->items_[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->len_)
            break;
        if (child + 1 < h->len_ && h->less_(h->items_[child + 1], h->items_[child]))
            child++;
        if (!h->less_(h->items_[child], n))
            break;
        place(h, i, h->items_[child]);
        i = child;
    }
    place(h, i, n);
}

int
ep_heap_push(ep_heap *h, ep_heap_node *n)
{
    EP_ASSERT(n->slot_ == NOT_LINKED);
    if (h->len_ == h->cap_) {
        int rv = ep_heap_reserve(h, h->cap_ ? h->cap_ * 2 : 64);
        if (rv)
            return rv;
    }
    place(h, h->len_++, n);
    sift_up(h, h->len_ - 1);
    return 0;
}

ep_heap_node *
ep_heap_min(const ep_heap *h)
{
    return h->len_ ? h->items_[0] : NULL;
}

void
ep_heap_remove(ep_heap *h, ep_heap_node *n)
{
    size_t i = n->slot_;
    EP_ASSERT(i < h->len_ && h->items_[i] == n);
    ep_heap_node *last = h->items_[--h->len_];
    n->slot_ = NOT_LINKED;
    if (last == n)
        return;
    place(h, i, last);
    if (i > 0 && h->less_(last, h->items_[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

ep_heap_node *
ep_heap_pop(ep_heap *h)
{
    ep_heap_node *n = ep_heap_min(h);
    if (n)
        ep_heap_remove(h, n);
    return n;
}

void
ep_heap_update(ep_heap *h, ep_heap_node *n)
{
    size_t i = n->slot_;
    EP_ASSERT(i < h->len_ && h->items_[i] == n);
    if (i > 0 && h->less_(n, h->items_[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

size_t
ep_heap_len(const ep_heap *h)
{
    return h->len_;
}
