/* Network namespaces and tc shaping for a testbed with netns (exec/netns.c), internal to
 * ep_testbed (exec/testbed.c). */
#ifndef EPARA_EXEC_NETNS_H
#define EPARA_EXEC_NETNS_H

#include <stddef.h>

#include "epara/core/model.h"
#include "epara/exec/deploy.h"

typedef struct exec_netns {
    int id; /* names: ep<id>b (bridge), ep<id>n<k> (namespaces), ep<id>h/c<k> */
    int n;  /* namespaces created */
    int bridge_up;
    int netem;    /* 1: links shaped by netem (rate, delay, loss); 0: tbf (rate only) */
    int iptables; /* 0: no iptables(8): no packet loss without netem */
    char bridge[16];
    char host[32];     /* the bridge's address: the controller and the loadgen listen there */
    char node_ip[32];  /* node 0's address; node k's is k above (without a deployment) */
    char failed[1024]; /* what went wrong */
    ep_link *links;    /* node k's link (a copy of the scenario's: it outlives the scenario) */
} exec_netns;

/* Creates the bridge, one namespace per node of sc with its veth pair and shaping. Without
 * a deployment (dep NULL) the addresses are the testbed's private network (host, node_ip);
 * with one, each namespace takes its node's address in dep and the bridge the controller's
 * and the loadgen's, each a /32 reached over the bridge (IPv4 addresses, one per node, none
 * in 127/8). On failure removes what it made, leaves the reason in t->failed and returns
 * -1, or -2 when the deployment's addresses do not fit (nothing made). */
int exec_netns_setup(exec_netns *t, const ep_scenario *sc, const ep_deploy *dep);
/* Removes everything setup made (and frees its copy of the links). */
void exec_netns_teardown(exec_netns *t);
/* Takes node k's link (its veth pair) down or up. 0, or -1 with the reason in t->failed. */
int exec_netns_link(exec_netns *t, int k, int up);
/* Node k's link drops each packet, both ways, with probability p (0: none) from now on:
 * netem where the kernel has it, else iptables' statistic match in the node's namespace.
 * 0, or -1 with the reason in t->failed. */
int exec_netns_loss(exec_netns *t, int k, double p);
/* The namespace of node k. */
void exec_netns_name(const exec_netns *t, int k, char *buf, size_t len);

#endif
