/* Network model: a transfer of B bytes on a link of bandwidth W and latency L takes
 * L + B / W; transfers entering the same direction of a link queue FIFO. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "node/node_internal.h"

static void
test_transfer_takes_latency_plus_bytes_over_bandwidth(void **state)
{
    (void)state;
    node_pipe p = {0, 125e6, 2 * EP_NS_PER_MS, 0};              /* 1 Gbit/s, 2 ms */
    ep_time at = node_pipe_send(&p, 10 * EP_NS_PER_S, 1250000); /* 10 ms of wire time */
    assert_int_equal(at, 10 * EP_NS_PER_S + 2 * EP_NS_PER_MS + 10 * EP_NS_PER_MS);
}

static void
test_concurrent_transfers_queue_fifo(void **state)
{
    (void)state;
    node_pipe p = {0, 1e9, EP_NS_PER_MS, 0};
    ep_time a = node_pipe_send(&p, 0, 1000000); /* 1 ms each */
    ep_time b = node_pipe_send(&p, 0, 1000000);
    ep_time c = node_pipe_send(&p, 500 * EP_NS_PER_US, 1000000);
    assert_int_equal(a, 2 * EP_NS_PER_MS);
    assert_int_equal(b, 3 * EP_NS_PER_MS); /* waits for a to leave the pipe */
    assert_int_equal(c, 4 * EP_NS_PER_MS);
    /* An idle pipe again: no waiting. */
    ep_time d = node_pipe_send(&p, 10 * EP_NS_PER_MS, 1000000);
    assert_int_equal(d, 12 * EP_NS_PER_MS);
}

static void
test_loss_stretches_wire_time_by_expected_retransmissions(void **state)
{
    (void)state;
    node_pipe p = {0, 1e9, 0, 0.5};
    assert_int_equal(node_pipe_cost(&p, 1000000), 2 * EP_NS_PER_MS);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_transfer_takes_latency_plus_bytes_over_bandwidth),
            cmocka_unit_test(test_concurrent_transfers_queue_fifo),
            cmocka_unit_test(test_loss_stretches_wire_time_by_expected_retransmissions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
