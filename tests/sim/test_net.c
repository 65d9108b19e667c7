/* Network model: a transfer of B bytes on a link of bandwidth W and latency L takes
 * L + B / W; transfers entering the same direction of a link queue FIFO; a link with an mtu
 * also carries each packet's framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "node/node_internal.h"

static void
test_transfer_takes_latency_plus_bytes_over_bandwidth(void **state)
{
    (void)state;
    node_pipe p = {0, 125e6, 2 * EP_NS_PER_MS, 0, NULL};        /* 1 Gbit/s, 2 ms */
    ep_time at = node_pipe_send(&p, 10 * EP_NS_PER_S, 1250000); /* 10 ms of wire time */
    assert_int_equal(at, 10 * EP_NS_PER_S + 2 * EP_NS_PER_MS + 10 * EP_NS_PER_MS);
}

static void
test_concurrent_transfers_queue_fifo(void **state)
{
    (void)state;
    node_pipe p = {0, 1e9, EP_NS_PER_MS, 0, NULL};
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
    node_pipe p = {0, 1e9, 0, 0.5, NULL};
    assert_int_equal(node_pipe_cost(&p, 1000000), 2 * EP_NS_PER_MS);
}

/* With an mtu, each packet of at most mtu - 52 bytes of the transfer also carries 66 bytes
 * of framing (IPv4, TCP with timestamps, Ethernet): 1,448 bytes a packet at 1,500. */
static void
test_an_mtu_adds_each_packets_framing(void **state)
{
    (void)state;
    ep_link l = {.bw_bytes_per_s = 1e9, .mtu = 1500};
    node_pipe p = {0, 1e9, 0, 0, &l};
    assert_int_equal(node_pipe_cost(&p, 1448), 1514);          /* one packet */
    assert_int_equal(node_pipe_cost(&p, 1449), 1449 + 2 * 66); /* two */
    assert_int_equal(node_pipe_cost(&p, 50000), 50000 + 35 * 66);
    assert_int_equal(node_pipe_cost(&p, 0), 0);
    l.mtu = 0; /* none: the bytes alone */
    assert_int_equal(node_pipe_cost(&p, 50000), 50000);
    assert_true(ep_link_wire_bytes(&l, 1e6) == 1e6);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_transfer_takes_latency_plus_bytes_over_bandwidth),
            cmocka_unit_test(test_concurrent_transfers_queue_fifo),
            cmocka_unit_test(test_loss_stretches_wire_time_by_expected_retransmissions),
            cmocka_unit_test(test_an_mtu_adds_each_packets_framing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
