/* Tests for the intrusive keyed heap (core/heap.c): random push/pop/remove/update runs
 * checked against a brute-force reference, and the heap invariant (order property on the
 * stored keys, keys matching the elements, node slots) checked after every operation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "epara/core/error.h"
#include "epara/core/heap.h"
#include "epara/core/rng.h"

/* An element; its heap key is (key, id), id making the expected pop order total. */
typedef struct item {
    ep_heap_node node;
    int key;
    int id;
} item;

static int
push(ep_heap *h, item *it)
{
    return ep_heap_push(h, &it->node, it->key, (uint64_t)it->id);
}

static int
item_less(const item *x, const item *y)
{
    return x->key < y->key || (x->key == y->key && x->id < y->id);
}

static int
key_less(int64_t a1, uint64_t a2, int64_t b1, uint64_t b2)
{
    return a1 < b1 || (a1 == b1 && a2 < b2);
}

/* The heap invariant, read through the private fields on purpose: 1-based slots, order of
 * the stored keys, cache-line alignment, and (for heaps of items) stored keys equal to the
 * items' keys. */
static void
check_invariant(const ep_heap *h, int of_items)
{
    if (h->cap_)
        assert_int_equal((uintptr_t)h->keys_ % 64, 0);
    for (size_t i = 1; i <= h->len_; i++) {
        const ep_heap_key *k = &h->keys_[i];
        const ep_heap_node *n = h->nodes_[i];
        assert_int_equal(n->slot_, i);
        if (i > 1) {
            const ep_heap_key *p = &h->keys_[i / 2];
            assert_false(key_less(k->k1, k->k2, p->k1, p->k2));
        }
        if (of_items) {
            const item *x = EP_CONTAINER_OF(n, const item, node);
            assert_int_equal(k->k1, x->key);
            assert_int_equal(k->k2, (uint64_t)x->id);
            int64_t k1 = -1;
            uint64_t k2 = 0;
            ep_heap_node_key(h, n, &k1, &k2);
            assert_int_equal(k1, x->key);
            assert_int_equal(k2, (uint64_t)x->id);
        }
    }
    int64_t k1 = 0;
    uint64_t k2 = 0;
    assert_int_equal(ep_heap_min_key(h, &k1, &k2), h->len_ > 0);
    if (h->len_) {
        assert_int_equal(k1, h->keys_[1].k1);
        assert_int_equal(k2, h->keys_[1].k2);
    }
}

/* Smallest linked item of the reference, by brute force; NULL when none. */
static item *
reference_min(item *items, size_t n)
{
    item *best = NULL;
    for (size_t i = 0; i < n; i++) {
        if (ep_heap_node_linked(&items[i].node) && (!best || item_less(&items[i], best)))
            best = &items[i];
    }
    return best;
}

/* A random linked item, or NULL when none is linked. */
static item *
random_linked(ep_rng *r, item *items, size_t n, size_t linked)
{
    if (linked == 0)
        return NULL;
    size_t want = (size_t)ep_rng_uniform_int(r, linked);
    for (size_t i = 0; i < n; i++) {
        if (ep_heap_node_linked(&items[i].node) && want-- == 0)
            return &items[i];
    }
    return NULL;
}

static void
run_random_ops(uint64_t seed)
{
    enum { N = 512, OPS = 10000 };
    item *items = calloc(N, sizeof *items);
    assert_non_null(items);
    for (int i = 0; i < N; i++) {
        ep_heap_node_init(&items[i].node);
        items[i].id = i;
    }
    ep_rng r;
    assert_int_equal(ep_rng_init(&r, seed, 99), 0);
    ep_heap h;
    ep_heap_init(&h);
    size_t linked = 0;
    for (int op = 0; op < OPS; op++) {
        double u = ep_rng_uniform(&r);
        if (u < 0.4) {
            item *it = &items[ep_rng_uniform_int(&r, N)];
            if (!ep_heap_node_linked(&it->node)) {
                it->key = (int)ep_rng_uniform_int(&r, 100); /* many ties */
                assert_int_equal(push(&h, it), 0);
                assert_true(ep_heap_node_linked(&it->node));
                linked++;
            }
        } else if (u < 0.65) {
            item *want = reference_min(items, N);
            ep_heap_node *got = ep_heap_pop(&h);
            if (!want) {
                assert_null(got);
            } else {
                assert_ptr_equal(got, &want->node);
                assert_false(ep_heap_node_linked(got));
                linked--;
            }
        } else if (u < 0.8) {
            item *it = random_linked(&r, items, N, linked);
            if (it) {
                ep_heap_remove(&h, &it->node);
                assert_false(ep_heap_node_linked(&it->node));
                linked--;
            }
        } else {
            item *it = random_linked(&r, items, N, linked);
            if (it) {
                it->key = (int)ep_rng_uniform_int(&r, 100);
                ep_heap_update(&h, &it->node, it->key, (uint64_t)it->id);
                assert_true(ep_heap_node_linked(&it->node));
            }
        }
        assert_int_equal(ep_heap_len(&h), linked);
        item *want = reference_min(items, N);
        assert_ptr_equal(ep_heap_min(&h), want ? &want->node : NULL);
        check_invariant(&h, 1);
    }
    /* Draining gives the reference order. */
    int prev_key = -1, prev_id = -1;
    ep_heap_node *n;
    while ((n = ep_heap_pop(&h)) != NULL) {
        item *it = EP_CONTAINER_OF(n, item, node);
        assert_true(it->key > prev_key || (it->key == prev_key && it->id > prev_id));
        prev_key = it->key;
        prev_id = it->id;
        linked--;
    }
    assert_int_equal(linked, 0);
    ep_heap_fini(&h);
    ep_rng_fini(&r);
    free(items);
}

static void
test_random_operations_match_a_sorted_reference_for_several_seeds(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 5; seed++)
        run_random_ops(seed);
}

static void
test_pop_returns_pushed_keys_in_sorted_order(void **state)
{
    (void)state;
    enum { N = 1000 };
    static item items[N];
    ep_heap h;
    ep_heap_init(&h);
    for (int i = 0; i < N; i++) {
        ep_heap_node_init(&items[i].node);
        items[i].key = (i * 7919) % N; /* a permutation of 0..N-1 */
        items[i].id = i;
        assert_int_equal(push(&h, &items[i]), 0);
    }
    check_invariant(&h, 1);
    for (int k = 0; k < N; k++) {
        ep_heap_node *n = ep_heap_pop(&h);
        assert_non_null(n);
        assert_int_equal(EP_CONTAINER_OF(n, item, node)->key, k);
    }
    assert_null(ep_heap_pop(&h));
    assert_null(ep_heap_min(&h));
    ep_heap_fini(&h);
}

static void
test_remove_of_arbitrary_nodes_keeps_the_rest_in_order(void **state)
{
    (void)state;
    enum { N = 200 };
    static item items[N];
    ep_heap h;
    ep_heap_init(&h);
    assert_int_equal(ep_heap_reserve(&h, N), 0);
    for (int i = 0; i < N; i++) {
        ep_heap_node_init(&items[i].node);
        items[i].key = N - i;
        items[i].id = i;
        assert_int_equal(push(&h, &items[i]), 0);
    }
    /* Remove every third node, including the root and the last slot at some point. */
    size_t left = N;
    for (int i = 0; i < N; i += 3) {
        ep_heap_remove(&h, &items[i].node);
        assert_false(ep_heap_node_linked(&items[i].node));
        left--;
        check_invariant(&h, 1);
    }
    assert_int_equal(ep_heap_len(&h), left);
    int prev = 0;
    ep_heap_node *n;
    while ((n = ep_heap_pop(&h)) != NULL) {
        item *it = EP_CONTAINER_OF(n, item, node);
        assert_int_not_equal(it->id % 3, 0);
        assert_true(it->key > prev);
        prev = it->key;
    }
    ep_heap_fini(&h);
}

static void
test_node_is_linked_only_while_in_the_heap_and_can_be_reused(void **state)
{
    (void)state;
    item a = {.key = 1, .id = 0};
    assert_false(ep_heap_node_linked(&a.node)); /* zeroed: in no heap */
    ep_heap_node_init(&a.node);
    assert_false(ep_heap_node_linked(&a.node));
    ep_heap h;
    ep_heap_init(&h);
    assert_int_equal(ep_heap_len(&h), 0);
    assert_int_equal(push(&h, &a), 0);
    assert_true(ep_heap_node_linked(&a.node));
    assert_int_equal(ep_heap_len(&h), 1);
    assert_ptr_equal(ep_heap_pop(&h), &a.node);
    assert_false(ep_heap_node_linked(&a.node));
    assert_int_equal(push(&h, &a), 0);
    ep_heap_remove(&h, &a.node);
    assert_false(ep_heap_node_linked(&a.node));
    assert_int_equal(ep_heap_len(&h), 0);
    ep_heap_fini(&h);
}

static void
test_update_moves_a_node_both_up_and_down(void **state)
{
    (void)state;
    enum { N = 64 };
    static item items[N];
    ep_heap h;
    ep_heap_init(&h);
    for (int i = 0; i < N; i++) {
        ep_heap_node_init(&items[i].node);
        items[i].key = 10 * i;
        items[i].id = i;
        assert_int_equal(push(&h, &items[i]), 0);
    }
    items[N - 1].key = -5; /* decrease: must become the minimum */
    ep_heap_update(&h, &items[N - 1].node, items[N - 1].key, N - 1);
    check_invariant(&h, 1);
    assert_ptr_equal(ep_heap_min(&h), &items[N - 1].node);
    items[N - 1].key = 100000; /* increase the root: must sink to the bottom */
    ep_heap_update(&h, &items[N - 1].node, items[N - 1].key, N - 1);
    check_invariant(&h, 1);
    assert_ptr_equal(ep_heap_min(&h), &items[0].node);
    ep_heap_node *last = NULL;
    while (ep_heap_len(&h))
        last = ep_heap_pop(&h);
    assert_ptr_equal(last, &items[N - 1].node);
    ep_heap_fini(&h);
}

static void
test_equal_first_keys_pop_in_order_of_the_second_key(void **state)
{
    (void)state;
    enum { N = 300 };
    static ep_heap_node nodes[N];
    ep_heap h;
    ep_heap_init(&h);
    /* Every node has k1 = 7; k2 is a permutation of 0..N-1, pushed out of order. */
    for (int i = 0; i < N; i++) {
        ep_heap_node_init(&nodes[i]);
        assert_int_equal(ep_heap_push(&h, &nodes[i], 7, (uint64_t)((i * 37) % N)), 0);
    }
    check_invariant(&h, 0);
    for (uint64_t want = 0; want < N; want++) {
        int64_t k1 = 0;
        uint64_t k2 = 0;
        assert_true(ep_heap_min_key(&h, &k1, &k2));
        assert_int_equal(k1, 7);
        assert_int_equal(k2, want);
        ep_heap_node *n = ep_heap_pop(&h);
        assert_non_null(n);
        assert_int_equal((uint64_t)(((n - nodes) * 37) % N), want);
    }
    ep_heap_fini(&h);
}

static void
test_first_key_is_signed_and_second_key_is_unsigned(void **state)
{
    (void)state;
    /* Expected pop order; pushed in a scrambled order below. */
    static const struct {
        int64_t k1;
        uint64_t k2;
    } keys[] = {
            {INT64_MIN, UINT64_MAX},
            {-1, 0},
            {-1, UINT64_MAX / 2 + 1},
            {-1, UINT64_MAX},
            {0, 0},
            {0, 1},
            {1, 0},
            {INT64_MAX, 0},
            {INT64_MAX, UINT64_MAX},
    };
    enum { N = EP_ARRAY_LEN(keys) };
    static const int push_order[N] = {4, 8, 0, 3, 6, 1, 7, 2, 5};
    ep_heap_node nodes[N];
    ep_heap h;
    ep_heap_init(&h);
    for (int i = 0; i < N; i++) {
        int k = push_order[i];
        ep_heap_node_init(&nodes[k]);
        assert_int_equal(ep_heap_push(&h, &nodes[k], keys[k].k1, keys[k].k2), 0);
        check_invariant(&h, 0);
    }
    for (int k = 0; k < N; k++) {
        int64_t k1 = 0;
        uint64_t k2 = 0;
        ep_heap_node_key(&h, &nodes[k], &k1, &k2);
        assert_int_equal(k1, keys[k].k1);
        assert_int_equal(k2, keys[k].k2);
    }
    for (int k = 0; k < N; k++)
        assert_ptr_equal(ep_heap_pop(&h), &nodes[k]);
    ep_heap_fini(&h);
}

static void
test_min_key_of_an_empty_heap_returns_zero_and_writes_nothing(void **state)
{
    (void)state;
    ep_heap h;
    ep_heap_init(&h);
    int64_t k1 = 42;
    uint64_t k2 = 43;
    assert_int_equal(ep_heap_min_key(&h, &k1, &k2), 0);
    assert_int_equal(k1, 42);
    assert_int_equal(k2, 43);
    assert_null(ep_heap_min(&h));
    assert_null(ep_heap_pop(&h));
    ep_heap_node a;
    ep_heap_node_init(&a);
    assert_int_equal(ep_heap_push(&h, &a, -3, 9), 0);
    assert_int_equal(ep_heap_min_key(&h, NULL, &k2), 1);
    assert_int_equal(k2, 9);
    assert_int_equal(ep_heap_min_key(&h, &k1, NULL), 1);
    assert_int_equal(k1, -3);
    ep_heap_fini(&h);
}

static void
test_reserve_makes_pushes_allocation_free_and_growth_keeps_order(void **state)
{
    (void)state;
    enum { R = 100, N = 1000 };
    static item items[N];
    ep_heap h;
    ep_heap_init(&h);
    assert_int_equal(ep_heap_reserve(&h, R), 0);
    assert_int_equal(ep_heap_reserve(&h, R / 2), 0); /* never shrinks */
    const ep_heap_key *array = h.keys_;
    assert_non_null(array);
    assert_int_equal(ep_heap_reserve(&h, SIZE_MAX), EP_ENOMEM);
    assert_int_equal(ep_heap_reserve(&h, SIZE_MAX / 16), EP_ENOMEM);
    assert_ptr_equal(h.keys_, array);
    for (int i = 0; i < N; i++) {
        ep_heap_node_init(&items[i].node);
        items[i].key = (i * 7919) % N;
        items[i].id = i;
        assert_int_equal(push(&h, &items[i]), 0);
        if (i < R)
            assert_ptr_equal(h.keys_, array); /* within the reservation: no realloc */
        assert_int_equal(ep_heap_len(&h), (size_t)i + 1);
    }
    check_invariant(&h, 1);
    for (int k = 0; k < N; k++) {
        ep_heap_node *n = ep_heap_pop(&h);
        assert_non_null(n);
        assert_int_equal(EP_CONTAINER_OF(n, item, node)->key, k);
    }
    ep_heap_fini(&h);
    /* A heap can be used again after fini. */
    ep_heap_init(&h);
    assert_int_equal(push(&h, &items[0]), 0);
    assert_ptr_equal(ep_heap_pop(&h), &items[0].node);
    ep_heap_fini(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_random_operations_match_a_sorted_reference_for_several_seeds),
            cmocka_unit_test(test_pop_returns_pushed_keys_in_sorted_order),
            cmocka_unit_test(test_remove_of_arbitrary_nodes_keeps_the_rest_in_order),
            cmocka_unit_test(test_node_is_linked_only_while_in_the_heap_and_can_be_reused),
            cmocka_unit_test(test_update_moves_a_node_both_up_and_down),
            cmocka_unit_test(test_equal_first_keys_pop_in_order_of_the_second_key),
            cmocka_unit_test(test_first_key_is_signed_and_second_key_is_unsigned),
            cmocka_unit_test(test_min_key_of_an_empty_heap_returns_zero_and_writes_nothing),
            cmocka_unit_test(test_reserve_makes_pushes_allocation_free_and_growth_keeps_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
