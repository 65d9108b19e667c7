/* Tests for the intrusive list (include/epara/core/list.h): element order and len after
 * push_back/push_front/insert_before/remove/pop_front, and node linked state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "epara/core/list.h"

typedef struct elem {
    ep_list_node node;
    int v;
} elem;

/* Asserts that l holds exactly the values want[0..n), forwards and backwards. */
static void
expect_order(const ep_list *l, const int *want, size_t n)
{
    assert_int_equal(l->len, n);
    size_t i = 0;
    EP_LIST_FOREACH(l, node)
    {
        assert_true(i < n);
        assert_int_equal(EP_CONTAINER_OF(node, elem, node)->v, want[i]);
        i++;
    }
    assert_int_equal(i, n);
    /* Backwards through prev pointers, so both directions are consistent. */
    const ep_list_node *node = ep_list_last(l);
    for (size_t k = n; k-- > 0;) {
        assert_non_null(node);
        assert_int_equal(EP_CONTAINER_OF(node, const elem, node)->v, want[k]);
        node = node->prev;
    }
    if (n == 0) {
        assert_null(ep_list_first(l));
        assert_null(ep_list_last(l));
        assert_true(ep_list_empty(l));
    } else {
        assert_false(ep_list_empty(l));
    }
}

static void
test_empty_list_has_no_elements(void **state)
{
    (void)state;
    ep_list l;
    ep_list_init(&l);
    expect_order(&l, NULL, 0);
    assert_null(ep_list_pop_front(&l));
}

static void
test_push_back_and_push_front_order_elements(void **state)
{
    (void)state;
    elem e[4] = {{.v = 0}, {.v = 1}, {.v = 2}, {.v = 3}};
    ep_list l;
    ep_list_init(&l);
    for (int i = 0; i < 4; i++)
        ep_list_node_init(&e[i].node);
    ep_list_push_back(&l, &e[1].node);
    ep_list_push_back(&l, &e[2].node);
    ep_list_push_front(&l, &e[0].node);
    ep_list_push_back(&l, &e[3].node);
    expect_order(&l, (const int[]){0, 1, 2, 3}, 4);
    for (int i = 0; i < 4; i++)
        assert_true(ep_list_node_linked(&e[i].node));
}

static void
test_insert_before_places_element_ahead_of_position(void **state)
{
    (void)state;
    elem e[5] = {{.v = 10}, {.v = 20}, {.v = 30}, {.v = 5}, {.v = 40}};
    ep_list l;
    ep_list_init(&l);
    ep_list_push_back(&l, &e[0].node);
    ep_list_push_back(&l, &e[2].node);
    ep_list_insert_before(&l, &e[2].node, &e[1].node); /* middle */
    ep_list_insert_before(&l, &e[0].node, &e[3].node); /* new head */
    ep_list_insert_before(&l, &l.head, &e[4].node);    /* before the sentinel: the tail */
    expect_order(&l, (const int[]){5, 10, 20, 30, 40}, 5);
}

static void
test_remove_unlinks_node_from_any_position(void **state)
{
    (void)state;
    elem e[5];
    ep_list l;
    ep_list_init(&l);
    for (int i = 0; i < 5; i++) {
        e[i].v = i;
        ep_list_node_init(&e[i].node);
        ep_list_push_back(&l, &e[i].node);
    }
    ep_list_remove(&l, &e[2].node); /* middle */
    assert_false(ep_list_node_linked(&e[2].node));
    expect_order(&l, (const int[]){0, 1, 3, 4}, 4);
    ep_list_remove(&l, &e[0].node); /* head */
    expect_order(&l, (const int[]){1, 3, 4}, 3);
    ep_list_remove(&l, &e[4].node); /* tail */
    expect_order(&l, (const int[]){1, 3}, 2);
    ep_list_remove(&l, &e[1].node);
    ep_list_remove(&l, &e[3].node);
    expect_order(&l, NULL, 0);
    /* A removed node can be reinserted. */
    ep_list_push_front(&l, &e[2].node);
    expect_order(&l, (const int[]){2}, 1);
}

static void
test_pop_front_returns_elements_in_fifo_order(void **state)
{
    (void)state;
    enum { N = 100 };
    elem e[N];
    ep_list l;
    ep_list_init(&l);
    for (int i = 0; i < N; i++) {
        e[i].v = i;
        ep_list_push_back(&l, &e[i].node);
    }
    for (int i = 0; i < N; i++) {
        ep_list_node *n = ep_list_pop_front(&l);
        assert_non_null(n);
        assert_int_equal(EP_CONTAINER_OF(n, elem, node)->v, i);
        assert_false(ep_list_node_linked(n));
        assert_int_equal(l.len, (size_t)(N - 1 - i));
    }
    assert_null(ep_list_pop_front(&l));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_empty_list_has_no_elements),
            cmocka_unit_test(test_push_back_and_push_front_order_elements),
            cmocka_unit_test(test_insert_before_places_element_ahead_of_position),
            cmocka_unit_test(test_remove_unlinks_node_from_any_position),
            cmocka_unit_test(test_pop_front_returns_elements_in_fifo_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
