/* Tests for the intrusive indexed heap (core/heap.c): random push/pop/remove/update runs
 * checked against a brute-force reference, and the heap invariant (order property and
 * node slots) checked after every operation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "epara/heap.h"
#include "epara/rng.h"

typedef struct item {
    ep_heap_node node;
    int key;
    int id; /* tie-break, so the expected pop order is total */
} item;

static int
item_less(const ep_heap_node *a, const ep_heap_node *b)
{
    const item *x = EP_CONTAINER_OF(a, const item, node);
    const item *y = EP_CONTAINER_OF(b, const item, node);
    return x->key < y->key || (x->key == y->key && x->id < y->id);
}

/* The heap invariant, read through the private fields on purpose. */
static void
check_invariant(const ep_heap *h)
{
    for (size_t i = 0; i < h->len_; i++) {
        assert_int_equal(h->items_[i]->slot_, i);
        if (i > 0)
            assert_false(item_less(h->items_[i], h->items_[(i - 1) / 2]));
    }
}

/* Smallest linked item of the reference, by brute force; NULL when none. */
static item *
reference_min(item *items, size_t n)
{
    item *best = NULL;
    for (size_t i = 0; i < n; i++) {
        if (ep_heap_node_linked(&items[i].node) &&
            (!best || item_less(&items[i].node, &best->node)))
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
    ep_heap_init(&h, item_less);
    size_t linked = 0;
    for (int op = 0; op < OPS; op++) {
        double u = ep_rng_uniform(&r);
        if (u < 0.4) {
            item *it = &items[ep_rng_uniform_int(&r, N)];
            if (!ep_heap_node_linked(&it->node)) {
                it->key = (int)ep_rng_uniform_int(&r, 100); /* many ties */
                assert_int_equal(ep_heap_push(&h, &it->node), 0);
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
                ep_heap_update(&h, &it->node);
                assert_true(ep_heap_node_linked(&it->node));
            }
        }
        assert_int_equal(ep_heap_len(&h), linked);
        item *want = reference_min(items, N);
        assert_ptr_equal(ep_heap_min(&h), want ? &want->node : NULL);
        check_invariant(&h);
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
    ep_heap_init(&h, item_less);
    for (int i = 0; i < N; i++) {
        ep_heap_node_init(&items[i].node);
        items[i].key = (i * 7919) % N; /* a permutation of 0..N-1 */
        items[i].id = i;
        assert_int_equal(ep_heap_push(&h, &items[i].node), 0);
    }
    check_invariant(&h);
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
    ep_heap_init(&h, item_less);
    assert_int_equal(ep_heap_reserve(&h, N), 0);
    for (int i = 0; i < N; i++) {
        ep_heap_node_init(&items[i].node);
        items[i].key = N - i;
        items[i].id = i;
        assert_int_equal(ep_heap_push(&h, &items[i].node), 0);
    }
    /* Remove every third node, including the root and the last slot at some point. */
    size_t left = N;
    for (int i = 0; i < N; i += 3) {
        ep_heap_remove(&h, &items[i].node);
        assert_false(ep_heap_node_linked(&items[i].node));
        left--;
        check_invariant(&h);
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
    ep_heap_node_init(&a.node);
    assert_false(ep_heap_node_linked(&a.node));
    ep_heap h;
    ep_heap_init(&h, item_less);
    assert_int_equal(ep_heap_len(&h), 0);
    assert_int_equal(ep_heap_push(&h, &a.node), 0);
    assert_true(ep_heap_node_linked(&a.node));
    assert_int_equal(ep_heap_len(&h), 1);
    assert_ptr_equal(ep_heap_pop(&h), &a.node);
    assert_false(ep_heap_node_linked(&a.node));
    assert_int_equal(ep_heap_push(&h, &a.node), 0);
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
    ep_heap_init(&h, item_less);
    for (int i = 0; i < N; i++) {
        ep_heap_node_init(&items[i].node);
        items[i].key = 10 * i;
        items[i].id = i;
        assert_int_equal(ep_heap_push(&h, &items[i].node), 0);
    }
    items[N - 1].key = -5; /* decrease: must become the minimum */
    ep_heap_update(&h, &items[N - 1].node);
    check_invariant(&h);
    assert_ptr_equal(ep_heap_min(&h), &items[N - 1].node);
    items[N - 1].key = 100000; /* increase the root: must sink to the bottom */
    ep_heap_update(&h, &items[N - 1].node);
    check_invariant(&h);
    assert_ptr_equal(ep_heap_min(&h), &items[0].node);
    ep_heap_node *last = NULL;
    while (ep_heap_len(&h))
        last = ep_heap_pop(&h);
    assert_ptr_equal(last, &items[N - 1].node);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
