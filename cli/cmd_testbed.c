/* `epara testbed`: a live testbed of a scenario on this machine. Starts the controller, one
 * node agent per scenario node and the loadgen as child processes of this epara binary
 * (same scenario, trace database, key, epoch and time scale), optionally kills some of
 * them mid-run (--kill), waits for the loadgen, tears the rest down and prints the
 * loadgen's summary: the same table or JSON as `epara sim`, plus a "testbed" object. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "commands.h"
#include "epara/exec.h"
#include "epara/scenario.h"
#include "exec_cli.h"
#include "netns.h"
#include "util.h"

static const char testbed_help[] =
        "usage: epara testbed [--scenario FILE] [--engine emulated] [--seed N] [--duration S]\n"
        "                     [--time-scale X] [--json] [options]\n"
        "\n"
        "Runs a live testbed of the scenario on this machine: `epara controller`, one\n"
        "`epara node` per scenario node and `epara loadgen`, as processes talking over nng\n"
        "on loopback TCP with authenticated messages, the same policy code as `epara sim`.\n"
        "Prints the same summary as `epara sim` (same --seed and --duration meaning), with\n"
        "a \"testbed\" object (messages, dispatch overhead, processes) in the JSON.\n"
        "\n"
        "options (and those of `epara loadgen --help`):\n"
        "  --engine KIND       emulated (default): a batch ends when its profiled time has\n"
        "                      passed, so a 20-node testbed runs on one small machine;\n"
        "                      cpu: real compute (see --llm-shape, --dnn-shape; measure\n"
        "                      it first with `epara profile` so `epara sim` can compare)\n"
        "  --netns             (root) each node in its own network namespace, joined by veth\n"
        "                      pairs on a bridge, its link shaped with tc from the scenario:\n"
        "                      netem (rate, delay, loss), or tbf (rate) with the latency\n"
        "                      emulated where the kernel has no netem\n"
        "  --kill WHAT@S       kill -9 a process S trace seconds into the run; WHAT is\n"
        "                      node:K or controller (repeatable)\n"
        "  --link-down node:K@S, --link-up node:K@S\n"
        "                      (--netns) take node K's link down / up S trace seconds in\n"
        "  --link-loss node:K=P@S\n"
        "                      (--netns) node K's link drops each packet with probability\n"
        "                      P from S trace seconds in (netem, else iptables; P=0 ends it)\n"
        "  --sync-loss S:E     every state message (nodes' reports to the controller and\n"
        "                      to each other) lost between S and E trace seconds\n"
        "  --keep-logs DIR     keep each process's stderr in DIR/<role>.log\n"
        "  --quiet             no progress lines\n"
        "\n"
        "exit status: 0 done, 1 runtime failure, 2 bad arguments\n";

#define MAX_KILLS 16

typedef enum tb_what { TB_KILL, TB_LINK_DOWN, TB_LINK_UP, TB_LINK_LOSS } tb_what;

/* A fault the testbed injects at a time: kill -9 of a process, or (--netns) a node's link
 * taken down or up, or made to drop packets. */
typedef struct kill_at {
    tb_what what;
    int node;    /* -1: the controller (TB_KILL only) */
    double loss; /* TB_LINK_LOSS: packet loss probability from at_s on */
    double at_s;
    int done;
} kill_at;

/* Picks a base port whose controller, loadgen and node ports are all free on 127.0.0.1. */
static int
free_base_port(int nnodes)
{
    unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    for (int attempt = 0; attempt < 50; attempt++) {
        seed = seed * 1103515245u + 12345u;
        int base = 20000 + (int)((seed >> 8) % 30000);
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

static int
write_key(char *path, size_t len)
{
    snprintf(path, len, "/tmp/epara-key-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    unsigned char raw[32];
    int ok = 0;
    int rnd = open("/dev/urandom", O_RDONLY);
    if (rnd >= 0) {
        ok = read(rnd, raw, sizeof raw) == (ssize_t)sizeof raw;
        close(rnd);
    }
    char hex[65];
    for (int i = 0; ok && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    ok = ok && write(fd, hex, 64) == 64;
    close(fd);
    if (!ok) {
        unlink(path);
        return -1;
    }
    return 0;
}

typedef struct argv_b {
    char *v[96 + 2 * EP_MAX_PARAMS];
    int n;
    char num[24][64];
    int nnum;
} argv_b;

static char role_controller[] = "controller", role_node[] = "node", role_loadgen[] = "loadgen";

static void
add(argv_b *b, const char *s)
{
    if (b->n < (int)EP_ARRAY_LEN(b->v) - 1)
        b->v[b->n++] = (char *)s;
    b->v[b->n] = NULL;
}

/* A number as an argument: integral (%.0f) or exact (%.17g). */
static const char *
fmt(argv_b *b, int integral, double x)
{
    char *s = b->num[b->nnum < 23 ? b->nnum++ : 23];
    if (integral)
        snprintf(s, 64, "%.0f", x);
    else
        snprintf(s, 64, "%.17g", x);
    return s;
}

static pid_t
spawn(const char *self, argv_b *b, const char *logdir, const char *name, int out_fd,
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
        char p[4096];
        snprintf(p, sizeof p, "%s/%s.log", logdir, name);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
    }
    if (netns) { /* ip netns exec NS SELF ARGS... */
        char *v[EP_ARRAY_LEN(b->v) + 4];
        static char ip[] = "ip", nsw[] = "netns", ex[] = "exec";
        char nsname[64];
        snprintf(nsname, sizeof nsname, "%s", netns);
        v[0] = ip;
        v[1] = nsw;
        v[2] = ex;
        v[3] = nsname;
        int i = 0;
        for (; b->v[i]; i++)
            v[4 + i] = b->v[i];
        v[4 + i] = NULL;
        execvp("ip", v);
    } else {
        execv(self, b->v);
    }
    fprintf(stderr, "epara: testbed: cannot start %s: %s\n", self, strerror(errno));
    _exit(127);
}

static volatile sig_atomic_t tb_stop;

static void
tb_signal(int sig)
{
    (void)sig;
    tb_stop = 1;
}

static void
reap(pid_t *pids, int *status, int n, double wait_s)
{
    struct timespec ts = {0, 20000000};
    for (int waited = 0; waited <= (int)(wait_s * 50); waited++) {
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

static json_t *
status_json(int st)
{
    if (WIFEXITED(st))
        return json_pack("{s:s, s:i}", "how", "exited", "code", WEXITSTATUS(st));
    if (WIFSIGNALED(st))
        return json_pack("{s:s, s:i}", "how", "killed", "signal", WTERMSIG(st));
    return json_pack("{s:s}", "how", "unknown");
}

int
cmd_testbed(int argc, char **argv)
{
    /* --kill is the testbed's own: take it out before the shared parser. */
    kill_at kills[MAX_KILLS];
    int nkills = 0;
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args)
        return EXIT_FAIL;
    int nargs = 0;
    static const char *const opts[] = {"--kill", "--link-down", "--link-up", "--link-loss"};
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        int which = -1;
        for (int o = 0; o < 4 && !v; o++) {
            size_t l = strlen(opts[o]);
            if (strcmp(argv[i], opts[o]) == 0 && i + 1 < argc)
                v = argv[++i];
            else if (strncmp(argv[i], opts[o], l) == 0 && argv[i][l] == '=')
                v = argv[i] + l + 1;
            if (v)
                which = o;
        }
        if (!v) {
            args[nargs++] = argv[i];
            continue;
        }
        const char *at = strchr(v, '@');
        kill_at k = {(tb_what)which, -1, 0, 0, 0};
        int ok = at && nkills < MAX_KILLS;
        if (ok && strncmp(v, "node:", 5) == 0) {
            int64_t n = -1;
            char nb[32];
            size_t l = (size_t)(at - v - 5);
            ok = l > 0 && l < sizeof nb;
            if (ok) {
                memcpy(nb, v + 5, l);
                nb[l] = '\0';
                char *eq = strchr(nb, '=');
                ok = (eq != NULL) == (which == TB_LINK_LOSS);
                if (ok && eq) {
                    *eq = '\0';
                    ok = cli_double(opts[which], eq + 1, 0, 1, &k.loss) == 0;
                }
                ok = ok && cli_i64(opts[which], nb, 0, EP_EXEC_MAX_NODES - 1, &n) == 0;
                k.node = (int)n;
            }
        } else if (ok) {
            ok = which == TB_KILL && (size_t)(at - v) == strlen("controller") &&
                 strncmp(v, "controller", 10) == 0;
        }
        if (ok)
            ok = cli_double(opts[which], at + 1, 0, 1e9, &k.at_s) == 0;
        if (!ok) {
            cli_err("%s %s: expected %s@SECONDS (at most %d)", opts[which], v,
                    which == TB_KILL        ? "node:K or controller"
                    : which == TB_LINK_LOSS ? "node:K=PROBABILITY"
                                            : "node:K",
                    MAX_KILLS);
            free(args);
            return EXIT_USAGE;
        }
        kills[nkills++] = k;
    }
    exec_cli c;
    int rc = exec_cli_parse(&c, nargs, args, testbed_help, 1);
    free(args);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (!ep_engine_kind_available(c.eng.kind)) {
        cli_err("testbed: --engine %s is not available (not built into this epara, or no "
                "CUDA device)",
                c.engine);
        return EXIT_USAGE;
    }
    /* Check the policy parameters before any process starts (a refused one would stop every
     * process alike), then prepare the traces once, before the processes open the database. */
    ep_scenario sc;
    ep_store *st = NULL;
    if ((rc = cli_scenario_load(c.scenario, &sc)) != 0)
        return rc;
    if (cli_params_apply(&c.params, &sc) ||
        cli_params_check(&c.params, &sc, c.scenario, c.policy)) {
        ep_scenario_fini(&sc);
        return EXIT_USAGE;
    }
    if ((rc = cli_scenario_prepare(&sc, c.trace_db, c.quiet || c.json, &st)) != 0)
        return rc;
    int nnodes = sc.nnodes;
    ep_store_close(st);
    for (int i = 0; i < nkills; i++)
        if (kills[i].what != TB_KILL && !c.netns) {
            cli_err("%s: links can be cut or made lossy only with --netns", opts[kills[i].what]);
            ep_scenario_fini(&sc);
            return EXIT_USAGE;
        }
    for (int i = 0; i < nkills; i++)
        if (kills[i].node >= nnodes) {
            cli_err("%s node:%d: the scenario has %d nodes", opts[kills[i].what], kills[i].node,
                    nnodes);
            ep_scenario_fini(&sc);
            return EXIT_USAGE;
        }

    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        cli_err("testbed: cannot find the epara binary (/proc/self/exe)");
        ep_scenario_fini(&sc);
        return EXIT_FAIL;
    }
    self[sl] = '\0';
    char keyfile[64];
    int own_key = !c.key_file;
    if (own_key) {
        if (write_key(keyfile, sizeof keyfile)) {
            cli_err("testbed: cannot write a key file in /tmp");
            ep_scenario_fini(&sc);
            return EXIT_FAIL;
        }
        c.key_file = keyfile;
    }
    if (!c.base_port && (c.base_port = free_base_port(nnodes)) < 0) {
        cli_err("testbed: no free range of %d TCP ports on 127.0.0.1", nnodes + 2);
        if (own_key)
            unlink(keyfile);
        ep_scenario_fini(&sc);
        return EXIT_FAIL;
    }
    tb_netns net;
    memset(&net, 0, sizeof net);
    if (c.netns) {
        if (tb_netns_setup(&net, &sc) != 0) {
            cli_err("testbed: --netns: %s", net.failed);
            ep_scenario_fini(&sc);
            if (own_key)
                unlink(keyfile);
            return EXIT_FAIL;
        }
        c.host = net.host;
        c.node_ip = net.node_ip;
        c.real_links = net.netem ? 1 : 2;
        if (!c.quiet && !c.json)
            fprintf(stderr, "testbed: %d network namespaces, links shaped by tc %s\n", nnodes,
                    net.netem ? "netem (rate, delay, loss)"
                              : "tbf (rate; no netem in this kernel: latency emulated)");
    }
    ep_scenario_fini(&sc);
    /* Trace time 0 once every process has had time to start and connect. */
    c.epoch = ep_exec_wall_ns() + INT64_C(1000000000) + (int64_t)nnodes * INT64_C(50000000);

    argv_b common;
    memset(&common, 0, sizeof common);
    add(&common, self);
    add(&common, "ROLE");
    if (c.scenario) {
        add(&common, "--scenario");
        add(&common, c.scenario);
    }
    if (c.trace_db) {
        add(&common, "--trace-db");
        add(&common, c.trace_db);
    }
    if (c.policy) {
        add(&common, "--policy");
        add(&common, c.policy);
    }
    for (int i = 0; i < c.params.n; i++) {
        add(&common, "--param");
        add(&common, c.params.kv[i]);
    }
    if (c.seed_set) {
        add(&common, "--seed");
        add(&common, fmt(&common, 1, (double)c.seed));
    }
    add(&common, "--rate-scale");
    add(&common, fmt(&common, 0, c.rate));
    if (c.duration > 0) {
        add(&common, "--duration");
        add(&common, fmt(&common, 0, c.duration));
    }
    add(&common, "--slo-scale");
    add(&common, fmt(&common, 0, c.slo));
    if (c.host) {
        add(&common, "--host");
        add(&common, c.host);
    }
    if (c.node_ip) {
        add(&common, "--node-ip");
        add(&common, c.node_ip);
    }
    if (c.real_links == 1)
        add(&common, "--real-links");
    else if (c.real_links == 2)
        add(&common, "--real-bandwidth");
    add(&common, "--base-port");
    add(&common, fmt(&common, 1, c.base_port));
    add(&common, "--key-file");
    add(&common, c.key_file);
    add(&common, "--epoch");
    add(&common, fmt(&common, 1, (double)c.epoch));
    add(&common, "--time-scale");
    add(&common, fmt(&common, 0, c.time_scale));
    if (c.verbose)
        add(&common, "--verbose");
    add(&common, "--engine");
    add(&common, c.engine);
    if (c.max_held > 0) {
        add(&common, "--max-held");
        add(&common, fmt(&common, 1, (double)c.max_held));
    }
    if (c.sync_loss[1] > c.sync_loss[0]) {
        char *span = common.num[common.nnum < 23 ? common.nnum++ : 23];
        snprintf(span, sizeof common.num[0], "%.17g:%.17g", c.sync_loss[0], c.sync_loss[1]);
        add(&common, "--sync-loss");
        add(&common, span);
    }
    if (c.llm_shape) {
        add(&common, "--llm-shape");
        add(&common, c.llm_shape);
    }
    if (c.dnn_shape) {
        add(&common, "--dnn-shape");
        add(&common, c.dnn_shape);
    }
    if (c.checkpoint) {
        add(&common, "--checkpoint");
        add(&common, c.checkpoint);
    }
    if (c.threads > 0) {
        add(&common, "--threads");
        add(&common, fmt(&common, 1, (double)c.threads));
    }

    int nproc = nnodes + 2; /* controller, nodes, loadgen last */
    pid_t *pids = calloc((size_t)nproc, sizeof *pids);
    int *status = calloc((size_t)nproc, sizeof *status);
    char outpath[] = "/tmp/epara-loadgen-XXXXXX";
    int outfd = mkstemp(outpath);
    if (!pids || !status || outfd < 0) {
        cli_err("testbed: out of memory or cannot create a temporary file");
        if (c.netns)
            tb_netns_teardown(&net);
        free(pids);
        free(status);
        if (outfd >= 0)
            unlink(outpath);
        if (own_key)
            unlink(keyfile);
        return EXIT_FAIL;
    }
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = tb_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    argv_b b = common;
    b.v[1] = role_controller;
    char plog[4200];
    if (c.policy_log) {
        snprintf(plog, sizeof plog, "%s/controller.plog", c.policy_log);
        add(&b, "--policy-log");
        add(&b, plog);
    }
    pids[0] = spawn(self, &b, c.logs, "controller", -1, NULL);
    for (int k = 0; k < nnodes; k++) {
        b = common;
        b.v[1] = role_node;
        add(&b, "--node");
        add(&b, fmt(&b, 1, k));
        char name[32];
        snprintf(name, sizeof name, "node-%d", k);
        if (c.policy_log) {
            snprintf(plog, sizeof plog, "%s/%s.plog", c.policy_log, name);
            add(&b, "--policy-log");
            add(&b, plog);
        }
        char nsname[32];
        if (c.netns)
            tb_netns_name(&net, k, nsname, sizeof nsname);
        pids[1 + k] = spawn(self, &b, c.logs, name, -1, c.netns ? nsname : NULL);
    }
    b = common;
    b.v[1] = role_loadgen;
    if (c.grace > 0) {
        add(&b, "--grace");
        add(&b, fmt(&b, 0, c.grace));
    }
    if (c.out) {
        add(&b, "--out");
        add(&b, c.out);
    }
    if (c.records)
        add(&b, "--records");
    if (c.json)
        add(&b, "--json");
    pid_t lg = pids[nproc - 1] = spawn(self, &b, c.logs, "loadgen", outfd, NULL);
    close(outfd);
    if (!c.quiet && !c.json && cli_tty())
        fprintf(stderr, "testbed: %d nodes, ports %d-%d, engine %s, time scale %g\n", nnodes,
                c.base_port, c.base_port + nnodes + 1, c.engine, c.time_scale);

    /* Supervise: kills at their times, until the loadgen ends (or a signal). */
    int lg_status = 0, lg_done = 0;
    struct timespec tick = {0, 20000000};
    while (!lg_done && !tb_stop) {
        double t = (double)(ep_exec_wall_ns() - c.epoch) / 1e9 * c.time_scale;
        for (int i = 0; i < nkills; i++) {
            int idx = kills[i].node < 0 ? 0 : 1 + kills[i].node;
            if (kills[i].done || t < kills[i].at_s)
                continue;
            if (kills[i].what == TB_LINK_LOSS)
                kills[i].done = tb_netns_loss(&net, kills[i].node, kills[i].loss) == 0;
            else if (kills[i].what != TB_KILL)
                kills[i].done =
                        tb_netns_link(&net, kills[i].node, kills[i].what == TB_LINK_UP) == 0;
            else if (pids[idx] > 0 && kill(pids[idx], SIGKILL) == 0)
                kills[i].done = 1;
            if (!kills[i].done)
                kills[i].done = -1; /* tried, failed: reported in the JSON */
        }
        pid_t r = waitpid(lg, &lg_status, WNOHANG);
        if (r == lg) {
            lg_done = 1;
            pids[nproc - 1] = 0;
            status[nproc - 1] = lg_status;
        } else {
            nanosleep(&tick, NULL);
        }
    }
    if (!lg_done) /* interrupted: the loadgen records what it has and reports */
        kill(lg, SIGTERM);
    for (int i = 0; i < nproc; i++)
        if (pids[i] > 0 && i != nproc - 1)
            kill(pids[i], SIGTERM);
    reap(pids, status, nproc, 10);
    if (c.netns)
        tb_netns_teardown(&net);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (own_key)
        unlink(keyfile);

    rc = WIFEXITED(status[nproc - 1]) ? WEXITSTATUS(status[nproc - 1]) : EXIT_FAIL;
    FILE *f = fopen(outpath, "r");
    if (c.json && f && rc == EXIT_OK) {
        json_error_t je;
        json_t *js = json_loadf(f, 0, &je);
        if (!js) {
            cli_err("testbed: the loadgen's summary is not JSON: %s", je.text);
            rc = EXIT_FAIL;
        } else {
            json_t *tb = json_object_get(js, "testbed");
            if (!tb) {
                tb = json_object();
                json_object_set_new(js, "testbed", tb);
            }
            json_object_set_new(tb, "engine", json_string(c.engine));
            json_object_set_new(tb, "nodes", json_integer(nnodes));
            json_object_set_new(tb, "time_scale", json_real(c.time_scale));
            if (c.netns) {
                char nsid[32];
                snprintf(nsid, sizeof nsid, "ep%d", net.id);
                json_object_set_new(tb, "netns", json_string(nsid));
            }
            json_object_set_new(
                    tb, "links",
                    json_string(!c.netns       ? "emulated"
                                : net.netem    ? "netns, tc netem"
                                : net.iptables ? "netns, tc tbf + emulated latency + iptables loss"
                                               : "netns, tc tbf + emulated latency, no loss"));
            json_t *procs = json_object();
            json_object_set_new(procs, "controller", status_json(status[0]));
            for (int k = 0; k < nnodes; k++) {
                char name[32];
                snprintf(name, sizeof name, "node-%d", k);
                json_object_set_new(procs, name, status_json(status[1 + k]));
            }
            json_object_set_new(tb, "processes", procs);
            json_t *kl = json_array();
            for (int i = 0; i < nkills; i++)
                json_array_append_new(kl,
                                      json_pack("{s:s, s:i, s:f, s:f, s:b}", "what",
                                                kills[i].what == TB_LINK_DOWN   ? "link-down"
                                                : kills[i].what == TB_LINK_UP   ? "link-up"
                                                : kills[i].what == TB_LINK_LOSS ? "link-loss"
                                                : kills[i].node < 0             ? "controller"
                                                                                : "node",
                                                "node", kills[i].node, "loss", kills[i].loss,
                                                "at_s", kills[i].at_s, "done", kills[i].done == 1));
            json_object_set_new(tb, "kills", kl);
            if (c.sync_loss[1] > c.sync_loss[0])
                json_object_set_new(tb, "sync_loss",
                                    json_pack("{s:f, s:f}", "from_s", c.sync_loss[0], "until_s",
                                              c.sync_loss[1]));
            json_dumpf(js, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
            putchar('\n');
            json_decref(js);
        }
    } else if (f) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            fwrite(buf, 1, n, stdout);
    }
    if (f)
        fclose(f);
    unlink(outpath);
    if (rc != EXIT_OK)
        cli_err("testbed: the loadgen failed (exit %d)%s", rc,
                c.logs ? "; see the logs" : "; rerun with --keep-logs DIR for the logs");
    free(pids);
    free(status);
    return rc;
}
