/* A live testbed on this machine (include/epara/exec/testbed.h): the controller, the node agents
 * and the loadgen as child processes of this epara binary, faults injected at their times,
 * everything stopped and removed at the end. Every child started is reaped before
 * ep_testbed_wait or ep_testbed_close returns; every file and namespace made is removed. */
#include "epara/exec/testbed.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "epara/core/error.h"
#include "netns.h"

/* Free ports: up to PORT_TRIES random base ports from PORT_LO, well above the privileged and
 * well-known ports, with the whole range below the kernel's ephemeral ports (where any
 * outgoing connection may take a port between this check and the process's bind; else
 * within PORT_SPAN), each kept only when every port of its range binds on 127.0.0.1. The
 * generator is the C standard's example rand() (C11 7.22.2.2). */
#define PORT_LO    20000
#define PORT_SPAN  30000
#define PORT_TRIES 50
#define LCG_MUL    1103515245u
#define LCG_ADD    12345u
/* A fresh key: 32 random bytes, written in hex: SHA-256's output length, the least RFC 2104
 * recommends for an HMAC key. */
#define KEY_BYTES 32
/* Trace time 0 this long after the start, plus START_PER_NODE_NS for each node: time for
 * every process to start, load the scenario and connect before the first arrival. */
#define START_DELAY_NS    EP_NS_PER_S
#define START_PER_NODE_NS (50 * EP_NS_PER_MS)
/* The supervisor looks at the clock and its children every TICK_NS; the processes get
 * STOP_WAIT_S after SIGTERM before SIGKILL (the loadgen writes its results first). */
#define TICK_NS     (20 * EP_NS_PER_MS)
#define STOP_WAIT_S 10
/* Arguments the testbed adds to each process's: --host, --node-ip, --real-links,
 * --base-port, --key-file, --epoch, --time-scale, --node, --policy-log and
 * --clock-offset-ms with their values (19), five of them numbers it formats. */
#define OWN_ARGS     22
#define OWN_NUMBERS  5
#define NAME_MAX_LEN 32 /* "controller", "node-K", "loadgen" */
#define PATH_LEN     4096

/* A fault and what became of it: 0 not yet, 1 done, -1 tried and failed. */
typedef struct fault_state {
    ep_testbed_fault f;
    int done;
} fault_state;

struct ep_testbed {
    /* the options, with what open settled: key_file, base_port, and (netns) host, node_ip
     * and real_links; sc and faults are not kept */
    ep_testbed_opts o;
    int nnodes;
    char self[PATH_LEN];
    char keyfile[64];      /* a key file this testbed wrote ("" none) */
    char deploy[PATH_LEN]; /* the deployment file's absolute path ("" none) */
    int net_up;            /* the namespaces are set up */
    exec_netns net;
    fault_state faults[EP_TESTBED_MAX_FAULTS];
    ep_testbed_clock clocks[EP_TESTBED_MAX_FAULTS];
    int64_t epoch;
    /* the processes: controller, nodes, loadgen last; pid 0: reaped (status set) or never
     * started, -1: fork failed */
    int nproc;
    pid_t *pids;
    int *status;
    char outpath[32]; /* the loadgen's standard output ("" none) */
    int started, catching;
    struct sigaction old_int, old_term;
};

static volatile sig_atomic_t tb_stop;

static void
tb_signal(int sig)
{
    (void)sig;
    tb_stop = 1;
}

static int
fail(char *err, size_t errlen, int code, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    return code;
}

/* The first port the kernel hands out to outgoing connections (Linux: the first number of
 * ip_local_port_range), or 0 when unknown. */
static int
ephemeral_low(void)
{
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    int lo = 0;
    if (f) {
        if (fscanf(f, "%d", &lo) != 1)
            lo = 0;
        fclose(f);
    }
    return lo;
}

/* Picks a base port whose controller, loadgen and node ports are all free on 127.0.0.1. */
static int
free_base_port(int nnodes)
{
    unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    int span = ephemeral_low() - PORT_LO - (nnodes + 2);
    if (span < PORT_TRIES) /* no room below them: take the chance */
        span = PORT_SPAN;
    for (int attempt = 0; attempt < PORT_TRIES; attempt++) {
        seed = seed * LCG_MUL + LCG_ADD;
        int base = PORT_LO + (int)((seed >> 8) % (unsigned)span);
        int ok = 1;
        for (int p = base; ok && p < base + 2 + nnodes; p++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            if (fd < 0)
                return -1;
            struct sockaddr_in sa;
            memset(&sa, 0, sizeof sa);
            sa.sin_family = AF_INET;
            sa.sin_port = htons((uint16_t)p);
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
            close(fd);
        }
        if (ok)
            return base;
    }
    return -1;
}

/* A fresh random key, hex, in a new file /tmp/epara-key-XXXXXX (path[len]). */
static int
write_key(char *path, size_t len)
{
    snprintf(path, len, "/tmp/epara-key-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    unsigned char raw[KEY_BYTES];
    int ok = 0;
    int rnd = open("/dev/urandom", O_RDONLY);
    if (rnd >= 0) {
        ok = read(rnd, raw, sizeof raw) == (ssize_t)sizeof raw;
        close(rnd);
    }
    char hex[2 * KEY_BYTES + 1];
    for (int i = 0; ok && i < KEY_BYTES; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    ok = ok && write(fd, hex, 2 * KEY_BYTES) == 2 * KEY_BYTES;
    close(fd);
    if (!ok) {
        unlink(path);
        return -1;
    }
    return 0;
}

static int
check_opts(const ep_testbed_opts *o, char *err, size_t errlen)
{
    if (!o->sc || !o->args || !(o->time_scale > 0))
        return fail(err, errlen, EP_EINVAL, "a scenario, arguments and a time scale are needed");
    if (o->nfaults < 0 || o->nfaults > EP_TESTBED_MAX_FAULTS)
        return fail(err, errlen, EP_EINVAL, "too many faults");
    for (int i = 0; i < o->nfaults; i++) {
        const ep_testbed_fault *f = &o->faults[i];
        if (f->node >= o->sc->nnodes || (f->node < 0 && f->what != EP_TESTBED_KILL))
            return fail(err, errlen, EP_EINVAL, "a fault on a node the scenario lacks");
        if (f->what != EP_TESTBED_KILL && !o->netns)
            return fail(err, errlen, EP_EINVAL,
                        "links can be cut or made lossy only with network namespaces");
    }
    if (o->nclocks < 0 || o->nclocks > EP_TESTBED_MAX_FAULTS)
        return fail(err, errlen, EP_EINVAL, "too many clock offsets");
    for (int i = 0; i < o->nclocks; i++)
        if (o->clocks[i].node < 0 || o->clocks[i].node >= o->sc->nnodes)
            return fail(err, errlen, EP_EINVAL, "a clock offset on a node the scenario lacks");
    return 0;
}

int
ep_testbed_open(const ep_testbed_opts *o, ep_testbed **out, char *err, size_t errlen)
{
    int rc = check_opts(o, err, errlen);
    if (rc)
        return rc;
    ep_testbed *tb = calloc(1, sizeof *tb);
    if (!tb)
        return fail(err, errlen, EP_ENOMEM, "out of memory");
    tb->o = *o;
    tb->o.sc = NULL;
    tb->o.faults = NULL;
    tb->nnodes = o->sc->nnodes;
    for (int i = 0; i < o->nfaults; i++)
        tb->faults[i].f = o->faults[i];
    for (int i = 0; i < o->nclocks && i < EP_TESTBED_MAX_FAULTS; i++)
        tb->clocks[i] = o->clocks[i];
    tb->o.clocks = NULL;
    ssize_t sl = readlink("/proc/self/exe", tb->self, sizeof tb->self - 1);
    if (sl <= 0) {
        rc = fail(err, errlen, EP_EIO, "cannot find the epara binary (/proc/self/exe)");
        goto fail;
    }
    tb->self[sl] = '\0';
    if (!tb->o.key_file) {
        if (write_key(tb->keyfile, sizeof tb->keyfile)) {
            tb->keyfile[0] = '\0';
            rc = fail(err, errlen, EP_EIO, "cannot write a key file in /tmp");
            goto fail;
        }
        tb->o.key_file = tb->keyfile;
    }
    if (o->deploy_file) {
        /* absolute: the processes may start elsewhere (ip netns exec) */
        char cwd[PATH_LEN] = "";
        if (o->deploy_file[0] != '/' && !getcwd(cwd, sizeof cwd)) {
            rc = fail(err, errlen, EP_EIO, "cannot tell the working directory");
            goto fail;
        }
        int w = snprintf(tb->deploy, sizeof tb->deploy, "%s%s%s", cwd, cwd[0] ? "/" : "",
                         o->deploy_file);
        if (!o->deploy || w < 0 || (size_t)w >= sizeof tb->deploy) {
            rc = fail(err, errlen, EP_EINVAL,
                      "the deployment file was not read, or its path is too long");
            goto fail;
        }
        tb->o.deploy_file = tb->deploy;
        tb->o.host = tb->o.node_ip = NULL;
        tb->o.base_port = 0;
    } else if (!tb->o.base_port && (tb->o.base_port = free_base_port(tb->nnodes)) < 0) {
        if (err && errlen)
            snprintf(err, errlen, "no free range of %d TCP ports on 127.0.0.1", tb->nnodes + 2);
        rc = EP_EIO;
        goto fail;
    }
    if (tb->o.netns) {
        int nrc = exec_netns_setup(&tb->net, o->sc, o->deploy_file ? o->deploy : NULL);
        if (nrc != 0) {
            if (err && errlen)
                snprintf(err, errlen, "--netns: %s", tb->net.failed);
            rc = nrc == -2 ? EP_EINVAL : EP_EIO;
            goto fail;
        }
        tb->net_up = 1;
        if (!o->deploy_file) {
            tb->o.host = tb->net.host;
            tb->o.node_ip = tb->net.node_ip;
        }
        tb->o.real_links = tb->net.netem ? 1 : 2;
    }
    *out = tb;
    return 0;
fail:
    ep_testbed_close(tb);
    return rc;
}

void
ep_testbed_get_info(const ep_testbed *tb, ep_testbed_info *info)
{
    memset(info, 0, sizeof *info);
    info->nnodes = tb->nnodes;
    info->base_port = tb->o.base_port;
    info->links = !tb->o.netns       ? EP_TESTBED_LINKS_EMULATED
                  : tb->net.netem    ? EP_TESTBED_LINKS_NETEM
                  : tb->net.iptables ? EP_TESTBED_LINKS_TBF_LOSS
                                     : EP_TESTBED_LINKS_TBF;
    info->netns_id = tb->o.netns ? tb->net.id : 0;
}

/* A process's argument vector: this binary, its role, the common arguments, the testbed's
 * own, and the role's. Strings are borrowed (numbers from num). */
typedef struct argv_b {
    char **v;
    int n, cap;
    char num[OWN_NUMBERS][64];
    int nnum;
} argv_b;

static void
add(argv_b *b, const char *s)
{
    if (b->n < b->cap - 1)
        b->v[b->n++] = (char *)s;
    b->v[b->n] = NULL;
}

static void add_num(argv_b *b, const char *opt, const char *fmt, ...) EP_PRINTF(3, 4);

/* opt and a number formatted into the vector's own storage. */
static void
add_num(argv_b *b, const char *opt, const char *fmt, ...)
{
    char *s = b->num[b->nnum < OWN_NUMBERS - 1 ? b->nnum++ : OWN_NUMBERS - 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, sizeof b->num[0], fmt, ap);
    va_end(ap);
    add(b, opt);
    add(b, s);
}

static int
count(const char *const *v)
{
    int n = 0;
    while (v && v[n])
        n++;
    return n;
}

/* The vector of process i (0 controller, 1 + k node k, nproc - 1 loadgen); name gets its
 * name. plog: storage for its policy log's path. */
static void
build_argv(const ep_testbed *tb, int i, argv_b *b, char *name, char *plog)
{
    static char role_controller[] = "controller", role_node[] = "node", role_loadgen[] = "loadgen";
    int loadgen = i == tb->nproc - 1;
    b->n = 0;
    b->nnum = 0;
    add(b, tb->self);
    add(b, i == 0 ? role_controller : loadgen ? role_loadgen : role_node);
    for (int k = 0; tb->o.args[k]; k++)
        add(b, tb->o.args[k]);
    if (tb->o.host) {
        add(b, "--host");
        add(b, tb->o.host);
    }
    if (tb->o.node_ip) {
        add(b, "--node-ip");
        add(b, tb->o.node_ip);
    }
    if (tb->o.real_links == 1)
        add(b, "--real-links");
    else if (tb->o.real_links == 2)
        add(b, "--real-bandwidth");
    if (tb->o.deploy_file) {
        add(b, "--deploy");
        add(b, tb->o.deploy_file);
    } else {
        add_num(b, "--base-port", "%d", tb->o.base_port);
    }
    add(b, "--key-file");
    add(b, tb->o.key_file);
    add_num(b, "--epoch", "%" PRId64, tb->epoch);
    add_num(b, "--time-scale", "%.17g", tb->o.time_scale);
    if (i == 0)
        snprintf(name, NAME_MAX_LEN, "controller");
    else if (loadgen)
        snprintf(name, NAME_MAX_LEN, "loadgen");
    else
        snprintf(name, NAME_MAX_LEN, "node-%d", i - 1);
    if (!loadgen && i > 0)
        add_num(b, "--node", "%d", i - 1);
    if (!loadgen && i > 0 && tb->o.ncpus > 0)
        add_num(b, "--cpus", "%d", tb->o.cpus[(i - 1) % tb->o.ncpus]);
    for (int k = 0; !loadgen && i > 0 && k < tb->o.nclocks; k++)
        if (tb->clocks[k].node == i - 1) {
            add_num(b, "--clock-offset-ms", "%.17g", tb->clocks[k].ahead_ms);
            break;
        }
    if (!loadgen && tb->o.policy_log) {
        snprintf(plog, PATH_LEN + NAME_MAX_LEN, "%s/%s.plog", tb->o.policy_log, name);
        add(b, "--policy-log");
        add(b, plog);
    }
    for (int k = 0; loadgen && tb->o.loadgen_args && tb->o.loadgen_args[k]; k++)
        add(b, tb->o.loadgen_args[k]);
}

/* Starts one process: stdout to out_fd (else /dev/null), stderr to logdir/name.log when
 * logdir is given, in network namespace netns when given (through ip netns exec). */
static pid_t
spawn(const char *self, char **argv, const char *logdir, const char *name, int out_fd,
      const char *netns)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    if (out_fd >= 0) {
        dup2(out_fd, 1);
        close(out_fd);
    } else {
        int dn = open("/dev/null", O_WRONLY);
        if (dn >= 0) {
            dup2(dn, 1);
            close(dn);
        }
    }
    if (logdir) {
        char p[PATH_LEN];
        snprintf(p, sizeof p, "%s/%s.log", logdir, name);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
    }
    if (netns) { /* ip netns exec NS SELF ARGS..., argv having room for the four */
        static char ip[] = "ip", nsw[] = "netns", ex[] = "exec";
        char nsname[64];
        snprintf(nsname, sizeof nsname, "%s", netns);
        int n = 0;
        while (argv[n])
            n++;
        memmove(argv + 4, argv, (size_t)(n + 1) * sizeof *argv);
        argv[0] = ip;
        argv[1] = nsw;
        argv[2] = ex;
        argv[3] = nsname;
        execvp("ip", argv);
    } else {
        execv(self, argv);
    }
    fprintf(stderr, "epara: testbed: cannot start %s: %s\n", self, strerror(errno));
    _exit(127);
}

int
ep_testbed_start(ep_testbed *tb, char *err, size_t errlen)
{
    if (tb->started)
        return fail(err, errlen, EP_EINVAL, "the testbed was started already");
    tb->started = 1;
    tb->epoch = ep_exec_wall_ns() + START_DELAY_NS + (int64_t)tb->nnodes * START_PER_NODE_NS;
    tb->nproc = tb->nnodes + 2; /* controller, nodes, loadgen last */
    tb->pids = calloc((size_t)tb->nproc, sizeof *tb->pids);
    tb->status = calloc((size_t)tb->nproc, sizeof *tb->status);
    argv_b b;
    memset(&b, 0, sizeof b);
    /* the common and the role's arguments, the testbed's own, and room for ip netns exec */
    b.cap = 2 + count(tb->o.args) + count(tb->o.loadgen_args) + OWN_ARGS + 4 + 1;
    b.v = calloc((size_t)b.cap, sizeof *b.v);
    snprintf(tb->outpath, sizeof tb->outpath, "/tmp/epara-loadgen-XXXXXX");
    int outfd = mkstemp(tb->outpath);
    if (outfd < 0)
        tb->outpath[0] = '\0';
    if (!tb->pids || !tb->status || !b.v || outfd < 0) {
        if (outfd >= 0)
            close(outfd);
        free(b.v);
        return fail(err, errlen, outfd < 0 ? EP_EIO : EP_ENOMEM,
                    "out of memory or cannot create a temporary file");
    }
    b.cap -= 4; /* ip netns exec NS goes before */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = tb_signal;
    tb_stop = 0;
    sigaction(SIGINT, &sa, &tb->old_int);
    sigaction(SIGTERM, &sa, &tb->old_term);
    tb->catching = 1;
    for (int i = 0; i < tb->nproc; i++) {
        char name[NAME_MAX_LEN], plog[PATH_LEN + NAME_MAX_LEN], nsname[32];
        int loadgen = i == tb->nproc - 1;
        build_argv(tb, i, &b, name, plog);
        if (tb->o.netns && i > 0 && !loadgen)
            exec_netns_name(&tb->net, i - 1, nsname, sizeof nsname);
        tb->pids[i] = spawn(tb->self, b.v, tb->o.logs, name, loadgen ? outfd : -1,
                            tb->o.netns && i > 0 && !loadgen ? nsname : NULL);
    }
    close(outfd);
    free(b.v);
    return 0;
}

/* Waits up to wait_s for the processes to end (then SIGKILL), recording each status. */
static void
reap(pid_t *pids, int *status, int n, double wait_s)
{
    struct timespec ts = {0, (long)TICK_NS};
    for (int waited = 0; waited <= (int)(wait_s * (double)EP_NS_PER_S / (double)TICK_NS);
         waited++) {
        int left = 0;
        for (int i = 0; i < n; i++) {
            if (pids[i] <= 0)
                continue;
            int st;
            pid_t r = waitpid(pids[i], &st, WNOHANG);
            if (r == pids[i]) {
                status[i] = st;
                pids[i] = 0;
            } else {
                left++;
            }
        }
        if (!left)
            return;
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < n; i++)
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], &status[i], 0);
            pids[i] = 0;
        }
}

/* Injects the faults whose time has come (trace time t seconds). */
static void
inject(ep_testbed *tb, double t)
{
    for (int i = 0; i < tb->o.nfaults; i++) {
        fault_state *k = &tb->faults[i];
        int idx = k->f.node < 0 ? 0 : 1 + k->f.node;
        if (k->done || t < k->f.at_s)
            continue;
        if (k->f.what == EP_TESTBED_LINK_LOSS)
            k->done = exec_netns_loss(&tb->net, k->f.node, k->f.loss) == 0;
        else if (k->f.what != EP_TESTBED_KILL)
            k->done = exec_netns_link(&tb->net, k->f.node, k->f.what == EP_TESTBED_LINK_UP) == 0;
        else if (tb->pids[idx] > 0 && kill(tb->pids[idx], SIGKILL) == 0)
            k->done = 1;
        if (!k->done)
            k->done = -1; /* tried, failed: reported in the JSON */
    }
}

/* Undoes what open and start set up outside this process's memory, once each. */
static void
tear_down(ep_testbed *tb)
{
    if (tb->net_up)
        exec_netns_teardown(&tb->net);
    tb->net_up = 0;
    if (tb->catching) {
        sigaction(SIGINT, &tb->old_int, NULL);
        sigaction(SIGTERM, &tb->old_term, NULL);
        tb->catching = 0;
    }
    if (tb->keyfile[0])
        unlink(tb->keyfile);
    tb->keyfile[0] = '\0';
}

int
ep_testbed_wait(ep_testbed *tb)
{
    if (!tb->pids || !tb->status)
        return -1;
    int last = tb->nproc - 1;
    pid_t lg = tb->pids[last];
    int lg_status = 0, lg_done = lg <= 0; /* <= 0: it never started */
    struct timespec tick = {0, (long)TICK_NS};
    while (!lg_done && !tb_stop) {
        inject(tb,
               (double)(ep_exec_wall_ns() - tb->epoch) / (double)EP_NS_PER_S * tb->o.time_scale);
        pid_t r = waitpid(lg, &lg_status, WNOHANG);
        if (r == lg) {
            lg_done = 1;
            tb->pids[last] = 0;
            tb->status[last] = lg_status;
        } else {
            nanosleep(&tick, NULL);
        }
    }
    if (!lg_done) /* interrupted: the loadgen records what it has and reports */
        kill(lg, SIGTERM);

    for (int i = 0; i < last; i++)
        if (tb->pids[i] > 0)
            kill(tb->pids[i], SIGTERM);
    reap(tb->pids, tb->status, tb->nproc, STOP_WAIT_S);
    tear_down(tb);
    if (lg <= 0)
        return -1;
    return WIFEXITED(tb->status[last]) ? WEXITSTATUS(tb->status[last]) : -1;
}

FILE *
ep_testbed_output(const ep_testbed *tb)
{
    return tb->outpath[0] ? fopen(tb->outpath, "r") : NULL;
}

static json_t *
status_json(int st)
{
    if (WIFEXITED(st))
        return json_pack("{s:s, s:i}", "how", "exited", "code", WEXITSTATUS(st));
    if (WIFSIGNALED(st))
        return json_pack("{s:s, s:i}", "how", "killed", "signal", WTERMSIG(st));
    return json_pack("{s:s}", "how", "unknown");
}

static const char *
fault_name(const ep_testbed_fault *f)
{
    return f->what == EP_TESTBED_LINK_DOWN   ? "link-down"
           : f->what == EP_TESTBED_LINK_UP   ? "link-up"
           : f->what == EP_TESTBED_LINK_LOSS ? "link-loss"
           : f->node < 0                     ? "controller"
                                             : "node";
}

static const char *
links_name(ep_testbed_links l)
{
    return l == EP_TESTBED_LINKS_EMULATED   ? "emulated"
           : l == EP_TESTBED_LINKS_NETEM    ? "netns, tc netem"
           : l == EP_TESTBED_LINKS_TBF_LOSS ? "netns, tc tbf + emulated latency + iptables loss"
                                            : "netns, tc tbf + emulated latency, no loss";
}

int
ep_testbed_json_add(const ep_testbed *tb, json_t *js)
{
    ep_testbed_info info;
    ep_testbed_get_info(tb, &info);
    json_t *t = json_object_get(js, "testbed");
    if (!t) {
        t = json_object();
        if (json_object_set_new(js, "testbed", t))
            return EP_ENOMEM;
    }
    int bad =
            json_object_set_new(t, "engine", json_string(tb->o.engine ? tb->o.engine : "emulated"));
    bad |= json_object_set_new(t, "nodes", json_integer(tb->nnodes));
    bad |= json_object_set_new(t, "time_scale", json_real(tb->o.time_scale));
    if (tb->o.netns) {
        char nsid[32];
        snprintf(nsid, sizeof nsid, "ep%d", tb->net.id);
        bad |= json_object_set_new(t, "netns", json_string(nsid));
    }
    if (tb->o.deploy_file)
        bad |= json_object_set_new(t, "deploy", json_string(tb->o.deploy_file));
    bad |= json_object_set_new(t, "links", json_string(links_name(info.links)));
    if (tb->o.ncpus > 0) { /* each node's CPU */
        json_t *cpus = json_array();
        for (int k = 0; cpus && k < tb->nnodes; k++)
            bad |= json_array_append_new(cpus, json_integer(tb->o.cpus[k % tb->o.ncpus]));
        bad |= json_object_set_new(t, "node_cpus", cpus);
    }
    json_t *procs = json_object();
    for (int i = 0; procs && i < tb->nproc - 1; i++) {
        char name[NAME_MAX_LEN];
        if (i == 0)
            snprintf(name, sizeof name, "controller");
        else
            snprintf(name, sizeof name, "node-%d", i - 1);
        bad |= json_object_set_new(procs, name, status_json(tb->status[i]));
    }
    bad |= json_object_set_new(t, "processes", procs);
    json_t *kl = json_array();
    for (int i = 0; kl && i < tb->o.nfaults; i++) {
        const fault_state *k = &tb->faults[i];
        bad |= json_array_append_new(kl,
                                     json_pack("{s:s, s:i, s:f, s:f, s:b}", "what",
                                               fault_name(&k->f), "node", k->f.node, "loss",
                                               k->f.loss, "at_s", k->f.at_s, "done", k->done == 1));
    }
    bad |= json_object_set_new(t, "kills", kl);
    if (tb->o.sync_loss_until_s > tb->o.sync_loss_from_s)
        bad |= json_object_set_new(t, "sync_loss",
                                   json_pack("{s:f, s:f}", "from_s", tb->o.sync_loss_from_s,
                                             "until_s", tb->o.sync_loss_until_s));
    return bad ? EP_ENOMEM : 0;
}

/* The clocks as the loadgen saw them: its own estimate and each node's last report. */
static json_t *
clock_json(const ep_exec_stats *st)
{
    json_t *nodes = json_array();
    for (int k = 0; nodes && k < EP_EXEC_MAX_NODES; k++)
        if (st->node_clock_err_ms[k] >= 0 &&
            json_array_append_new(nodes, json_pack("{s:i, s:f, s:f}", "node", k, "ahead_ms",
                                                   st->node_clock_ahead_ms[k], "uncertainty_ms",
                                                   st->node_clock_err_ms[k]))) {
            json_decref(nodes);
            return NULL;
        }
    json_t *c = json_pack("{s:b, s:f, s:f, s:I}", "sync", st->clock_sync, "loadgen_ahead_ms",
                          st->clock_ahead_ms, "loadgen_uncertainty_ms", st->clock_err_ms,
                          "loadgen_samples", (json_int_t)st->clock_samples);
    if (!c || !nodes || json_object_set_new(c, "nodes", nodes)) {
        json_decref(c);
        return NULL;
    }
    return c;
}

json_t *
ep_testbed_stats_json(const ep_exec_stats *st)
{
    json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:f}", "messages_in",
                          (json_int_t)st->msgs_in, "messages_out", (json_int_t)st->msgs_out,
                          "bad_frames", (json_int_t)st->bad_frames, "replayed_frames",
                          (json_int_t)st->replayed, "send_failed", (json_int_t)st->send_failed,
                          "late_results", (json_int_t)st->late_results, "overhead_p50_ms",
                          st->overhead_p50_s * 1e3, "overhead_p99_ms", st->overhead_p99_s * 1e3,
                          "overhead_n", (json_int_t)st->overhead_n, "wall_s", st->wall_s);
    json_t *c = j ? clock_json(st) : NULL;
    if (j && (!c || json_object_set_new(j, "clock", c))) {
        json_decref(j);
        return NULL;
    }
    /* Payload mode: the responses' bytes that came back (the nodes log what they moved). */
    json_t *p = j ? json_pack("{s:b, s:I, s:I}", "on", st->payload.on, "results_with_output",
                              (json_int_t)st->payload.outputs, "output_bytes",
                              (json_int_t)st->payload.output_bytes)
                  : NULL;
    if (j && (!p || json_object_set_new(j, "payloads", p))) {
        json_decref(j);
        return NULL;
    }
    return j;
}

void
ep_testbed_close(ep_testbed *tb)
{
    if (!tb)
        return;
    if (tb->pids) {
        for (int i = 0; i < tb->nproc; i++)
            if (tb->pids[i] > 0)
                kill(tb->pids[i], SIGKILL);
        reap(tb->pids, tb->status, tb->nproc, 0);
    }
    tear_down(tb);
    if (tb->outpath[0])
        unlink(tb->outpath);
    free(tb->pids);
    free(tb->status);
    free(tb);
}
