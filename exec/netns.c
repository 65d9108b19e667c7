/* Network namespaces for a testbed with netns (exec/testbed.c, `epara testbed --netns`):
 * each node in its own network namespace, joined to the root namespace (controller,
 * loadgen) by a veth pair on one bridge, the scenario's link of the node shaped with `tc` in
 * both directions: netem (delay, rate, loss) where the kernel has it, else tbf (rate only;
 * the nodes then emulate the latency) with the packet loss from iptables' statistic match
 * in the node's namespace. Uses ip(8), tc(8) and iptables(8); needs root. Everything
 * created is named after this process and removed at the end. */
#include "netns.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "epara/core/common.h"

/* The testbed's private network, 10.201.0.0/16 (RFC 1918 space, picked to stay clear of
 * the usual 10.0.x and 10.1.x): the bridge at .0.1, node k at 10.201.0.(10 + k), spilling
 * into the next octets (EP_EXEC_MAX_NODES fit). */
#define NET_OCTET1 10u
#define NET_OCTET2 201u
#define BRIDGE_IP  "10.201.0.1"
#define NET_PREFIX "16"
#define NODE_IP0   10u
/* Names are ep<id>..., id the pid modulo this: "ep99999h1023" stays within IFNAMSIZ - 1
 * (15) characters, the longest interface name Linux takes. */
#define NAME_ID_MOD 100000
/* tbf: a bucket of 10 ms of the link's rate (rate / 100), at least 32 KiB so that full-size
 * TCP segments pass at low rates; packets wait at most 1 s in its queue. */
#define TBF_BURST_PER_S 100
#define TBF_BURST_MIN   32768.0
#define TBF_LATENCY     "1s"
#define SH_CMD_MAX      1024 /* longest command line run */

EP_PRINTF(2, 3)
static int
sh(exec_netns *t, const char *fmt, ...)
{
    char cmd[SH_CMD_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[SH_CMD_MAX + 32];
    snprintf(full, sizeof full, "%s >/dev/null 2>&1", cmd);
    int rc = system(full);
    if (rc != 0)
        snprintf(t->failed, sizeof t->failed, "%s", cmd);
    return rc;
}

void
exec_netns_name(const exec_netns *t, int k, char *buf, size_t len)
{
    snprintf(buf, len, "ep%dn%d", t->id, k);
}

static void
node_ip(int k, char *buf, size_t len)
{
    unsigned v = (NET_OCTET1 << 24 | NET_OCTET2 << 16) + NODE_IP0 + (unsigned)k;
    snprintf(buf, len, "%u.%u.%u.%u", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
}

/* The qdisc of one direction of a link. */
static int
shape(exec_netns *t, const char *ns, const char *dev, const ep_link *l)
{
    double bits = l->bw_bytes_per_s * 8;
    char pre[64] = "";
    if (ns)
        snprintf(pre, sizeof pre, "ip netns exec %s ", ns);
    if (t->netem)
        return sh(t, "%stc qdisc add dev %s root netem delay %.0fus rate %.0fbit loss %.4f%%", pre,
                  dev, (double)l->latency / (double)EP_NS_PER_US, bits, 100 * l->loss);
    double burst = fmax(l->bw_bytes_per_s / TBF_BURST_PER_S, TBF_BURST_MIN);
    return sh(t, "%stc qdisc add dev %s root tbf rate %.0fbit burst %.0f latency " TBF_LATENCY, pre,
              dev, bits, burst);
}

/* Without netem: packets of node k's veth end dropped at random, both ways (the node's
 * own namespace, so its rules go with it). */
static int
drop(exec_netns *t, int k, double p)
{
    char ns[32];
    exec_netns_name(t, k, ns, sizeof ns);
    if (sh(t, "ip netns exec %s iptables -w -F INPUT", ns) ||
        sh(t, "ip netns exec %s iptables -w -F OUTPUT", ns))
        return -1;
    if (p <= 0)
        return 0;
    static const char *const chain[2][2] = {{"INPUT", "-i"}, {"OUTPUT", "-o"}};
    for (int i = 0; i < 2; i++)
        if (sh(t,
               "ip netns exec %s iptables -w -A %s %s ep%dc%d -m statistic --mode random "
               "--probability %.6f -j DROP",
               ns, chain[i][0], chain[i][1], t->id, k, p))
            return -1;
    return 0;
}

int
exec_netns_loss(exec_netns *t, int k, double p)
{
    if (k < 0 || k >= t->n)
        return -1;
    if (t->netem) {
        ep_link lossy = t->links[k];
        lossy.loss = p;
        char ns[32];
        exec_netns_name(t, k, ns, sizeof ns);
        if (sh(t, "ip netns exec %s tc qdisc del dev ep%dc%d root", ns, t->id, k) ||
            sh(t, "tc qdisc del dev ep%dh%d root", t->id, k))
            return -1;
        char cv[32], hv[32];
        snprintf(cv, sizeof cv, "ep%dc%d", t->id, k);
        snprintf(hv, sizeof hv, "ep%dh%d", t->id, k);
        return shape(t, ns, cv, &lossy) || shape(t, NULL, hv, &lossy) ? -1 : 0;
    }
    if (!t->iptables) {
        snprintf(t->failed, sizeof t->failed,
                 "packet loss needs netem or iptables(8) (apt-get install iptables)");
        return -1;
    }
    return drop(t, k, p);
}

int
exec_netns_setup(exec_netns *t, const ep_scenario *sc)
{
    memset(t, 0, sizeof *t);
    t->id = (int)(getpid() % NAME_ID_MOD);
    snprintf(t->bridge, sizeof t->bridge, "ep%db", t->id);
    snprintf(t->host, sizeof t->host, BRIDGE_IP);
    node_ip(0, t->node_ip, sizeof t->node_ip);
    if (geteuid() != 0) {
        snprintf(t->failed, sizeof t->failed, "--netns needs root");
        return -1;
    }
    if (sh(t, "ip -V") != 0 || sh(t, "tc -V") != 0) {
        snprintf(t->failed, sizeof t->failed, "--netns needs ip(8) and tc(8) (iproute2)");
        return -1;
    }
    if (!(t->links = calloc((size_t)sc->nnodes + 1, sizeof *t->links))) {
        snprintf(t->failed, sizeof t->failed, "out of memory");
        return -1;
    }
    for (int k = 0; k < sc->nnodes; k++)
        t->links[k] = sc->links[sc->nodes[k].link];
    if (sh(t, "ip link add %s type bridge", t->bridge) ||
        sh(t, "ip addr add %s/" NET_PREFIX " dev %s", BRIDGE_IP, t->bridge) ||
        sh(t, "ip link set %s up", t->bridge))
        goto fail;
    t->bridge_up = 1;
    /* netem where the kernel has it: try it on the bridge, then take it off again. */
    t->netem = sh(t, "tc qdisc add dev %s root netem delay 1ms", t->bridge) == 0;
    if (t->netem)
        sh(t, "tc qdisc del dev %s root", t->bridge);
    t->iptables = !t->netem && sh(t, "iptables -V") == 0;
    t->failed[0] = '\0';
    for (int k = 0; k < sc->nnodes; k++) {
        char ns[32], ip[32], hv[32], cv[32];
        exec_netns_name(t, k, ns, sizeof ns);
        node_ip(k, ip, sizeof ip);
        snprintf(hv, sizeof hv, "ep%dh%d", t->id, k);
        snprintf(cv, sizeof cv, "ep%dc%d", t->id, k);
        if (sh(t, "ip netns add %s", ns))
            goto fail;
        t->n = k + 1;
        const ep_link *l = &t->links[k];
        if (sh(t, "ip link add %s type veth peer name %s", hv, cv) ||
            sh(t, "ip link set %s netns %s", cv, ns) ||
            sh(t, "ip link set %s master %s up", hv, t->bridge) ||
            sh(t, "ip -n %s addr add %s/" NET_PREFIX " dev %s", ns, ip, cv) ||
            sh(t, "ip -n %s link set %s up", ns, cv) || sh(t, "ip -n %s link set lo up", ns) ||
            shape(t, ns, cv, l) || shape(t, NULL, hv, l) ||
            (!t->netem && t->iptables && l->loss > 0 && drop(t, k, l->loss)))
            goto fail;
    }
    return 0;
fail : {
    char why[sizeof t->failed];
    memcpy(why, t->failed, sizeof why);
    exec_netns_teardown(t);
    size_t k = strlen("command failed: ");
    memcpy(t->failed, "command failed: ", k);
    memcpy(t->failed + k, why, sizeof t->failed - k - 1);
    t->failed[sizeof t->failed - 1] = '\0';
}
    return -1;
}

int
exec_netns_link(exec_netns *t, int k, int up)
{
    if (k < 0 || k >= t->n)
        return -1;
    return sh(t, "ip link set ep%dh%d %s", t->id, k, up ? "up" : "down") == 0 ? 0 : -1;
}

void
exec_netns_teardown(exec_netns *t)
{
    for (int k = 0; k < t->n; k++) {
        char ns[32];
        exec_netns_name(t, k, ns, sizeof ns);
        sh(t, "ip netns del %s", ns); /* its veth end goes with it, and so the pair */
    }
    t->n = 0;
    if (t->bridge_up)
        sh(t, "ip link del %s", t->bridge);
    t->bridge_up = 0;
    free(t->links);
    t->links = NULL;
}
