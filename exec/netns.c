/* Network namespaces for a testbed with netns (exec/testbed.c, `epara testbed --netns`):
 * each node in its own network namespace, joined to the root namespace (controller,
 * loadgen) by a veth pair on one bridge, the scenario's link of the node shaped with `tc` in
 * both directions: netem (delay, rate, loss) where the kernel has it, else tbf (rate only;
 * the nodes then emulate the latency) with the packet loss from iptables' statistic match
 * in the node's namespace. Uses ip(8), tc(8) and iptables(8); needs root. Everything
 * created is named after this process and removed at the end. */
#include "netns.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "epara/core/common.h"
#include "epara/exec/live.h"

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

/* The IPv4 address of a deployment's "tcp://HOST:PORT" for role (node k) into buf, or -1
 * with the reason in t->failed: a namespace takes an address, not a name. */
static int
deploy_ip(exec_netns *t, const ep_deploy *dep, ep_live_role role, int k, char *buf, size_t len)
{
    const char *url = ep_deploy_url(dep, role, k);
    const char *h = strstr(url, "://");
    const char *colon = h ? strrchr(h + 3, ':') : NULL;
    char where[EP_DEPLOY_URL_MAX];
    ep_deploy_where(dep, role, k, where, sizeof where);
    struct in_addr a;
    if (!colon || (size_t)(colon - h - 3) >= len) {
        snprintf(t->failed, sizeof t->failed, "%s: no address", where);
        return -1;
    }
    snprintf(buf, len, "%.*s", (int)(colon - h - 3), h + 3);
    if (inet_pton(AF_INET, buf, &a) != 1) {
        snprintf(t->failed, sizeof t->failed,
                 "%s: '%s' is not an IPv4 address: with --netns the process's namespace takes "
                 "the address its line names",
                 where, buf);
        return -1;
    }
    uint32_t v = ntohl(a.s_addr);
    if (v >> 24 == 127 || v == 0 || v == UINT32_MAX) {
        snprintf(t->failed, sizeof t->failed,
                 "%s: %s: with --netns an address outside 127/8, 0.0.0.0 and 255.255.255.255 "
                 "(it is reached over the testbed's bridge)",
                 where, buf);
        return -1;
    }
    return 0;
}

/* With a deployment: the controller's and the loadgen's addresses on the bridge, and every
 * node's address its own (no two nodes, and no node and the root namespace, share one). */
static int
deploy_addrs(exec_netns *t, const ep_scenario *sc, const ep_deploy *dep, char (*ip)[32], char *lg)
{
    if (deploy_ip(t, dep, EP_LIVE_CONTROLLER, 0, t->host, sizeof t->host) ||
        deploy_ip(t, dep, EP_LIVE_LOADGEN, 0, lg, 32))
        return -1;
    for (int k = 0; k < sc->nnodes; k++) {
        if (deploy_ip(t, dep, EP_LIVE_NODE, k, ip[k], sizeof ip[k]))
            return -1;
        const char *same = !strcmp(ip[k], t->host) ? "the controller"
                           : !strcmp(ip[k], lg)    ? "the loadgen"
                                                   : NULL;
        for (int j = 0; !same && j < k; j++)
            if (!strcmp(ip[k], ip[j]))
                same = sc->nodes[j].name;
        if (same) {
            char where[EP_DEPLOY_URL_MAX];
            snprintf(t->failed, sizeof t->failed,
                     "%s: node %s has the address of %s (%s): with --netns each node needs "
                     "one of its own (its namespace's)",
                     ep_deploy_where(dep, EP_LIVE_NODE, k, where, sizeof where), sc->nodes[k].name,
                     same, ip[k]);
            return -1;
        }
    }
    return 0;
}

/* exec_netns_setup with the addresses settled: t->host (and lg, the loadgen's, with a
 * deployment) on the bridge, node k at ip[k]. */
static int
setup_links(exec_netns *t, const ep_scenario *sc, const char *lg, char (*ip)[32])
{
    /* A deployment's addresses are /32s, each reached through the bridge; the private
     * network is one /16. */
    const char *prefix = lg ? "32" : NET_PREFIX;
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
        sh(t, "ip addr add %s/%s dev %s", t->host, prefix, t->bridge) ||
        (lg && strcmp(lg, t->host) && sh(t, "ip addr add %s/32 dev %s", lg, t->bridge)) ||
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
        char ns[32], hv[32], cv[32];
        exec_netns_name(t, k, ns, sizeof ns);
        snprintf(hv, sizeof hv, "ep%dh%d", t->id, k);
        snprintf(cv, sizeof cv, "ep%dc%d", t->id, k);
        if (sh(t, "ip netns add %s", ns))
            goto fail;
        t->n = k + 1;
        const ep_link *l = &t->links[k];
        if (sh(t, "ip link add %s type veth peer name %s", hv, cv) ||
            sh(t, "ip link set %s netns %s", cv, ns) ||
            sh(t, "ip link set %s master %s up", hv, t->bridge) ||
            sh(t, "ip -n %s addr add %s/%s dev %s", ns, ip[k], prefix, cv) ||
            sh(t, "ip -n %s link set %s up", ns, cv) || sh(t, "ip -n %s link set lo up", ns) ||
            (lg && (sh(t, "ip -n %s route add default dev %s", ns, cv) ||
                    sh(t, "ip route add %s/32 dev %s", ip[k], t->bridge))) ||
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
exec_netns_setup(exec_netns *t, const ep_scenario *sc, const ep_deploy *dep)
{
    memset(t, 0, sizeof *t);
    t->id = (int)(getpid() % NAME_ID_MOD);
    snprintf(t->bridge, sizeof t->bridge, "ep%db", t->id);
    snprintf(t->host, sizeof t->host, BRIDGE_IP);
    node_ip(0, t->node_ip, sizeof t->node_ip);
    char lg[32] = "";
    char(*ip)[32] = calloc((size_t)sc->nnodes + 1, sizeof *ip);
    if (!ip) {
        snprintf(t->failed, sizeof t->failed, "out of memory");
        return -1;
    }
    for (int k = 0; !dep && k < sc->nnodes; k++)
        node_ip(k, ip[k], sizeof ip[k]);
    int rc = dep && deploy_addrs(t, sc, dep, ip, lg) ? -2 : 0;
    if (rc == 0)
        rc = setup_links(t, sc, dep ? lg : NULL, ip);
    free(ip);
    return rc;
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
