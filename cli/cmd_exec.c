/* `epara controller`, `epara node`, `epara loadgen`: the executor's processes
 * (include/epara/exec/exec.h). One option parser for the three; the loadgen reports like
 * `epara sim` (table or --json, results database with --out). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "commands.h"
#include "epara/core/error.h"
#include "epara/exec/deploy.h"
#include "epara/exec/exec.h"
#include "epara/sim/results.h"
#include "epara/experiments/scenario.h"
#include "epara/exec/testbed.h"
#include "exec_cli.h"
#include "gitrev.h"
#include "util.h"

static const char exec_help1[] =
        "usage: epara controller|node|loadgen [options]\n"
        "\n"
        "The processes of a live testbed (`epara testbed` starts them all on this machine):\n"
        "the controller places instances; a node hosts its instances and routes requests\n"
        "through the same policy code as `epara sim`; the loadgen replays the workload in\n"
        "real time and records one outcome per request, reporting like `epara sim`.\n"
        "\n"
        "Every process of one testbed needs the same --scenario, --trace-db, --policy,\n"
        "--param, --seed, --rate-scale, --duration, --slo-scale, --host, --base-port,\n"
        "--key-file, --epoch and --time-scale.\n"
        "\n"
        "options:\n"
        "  --scenario FILE     scenario (default: the embedded edge-default)\n"
        "  --trace-db DB       trace database (default: the scenario's)\n"
        "  --policy NAME       policy (default: the scenario's)\n"
        "  --param KEY=VALUE   policy parameter (repeatable; `epara sim --list-params`)\n"
        "  --seed N            seed (default: the scenario's)\n"
        "  --rate-scale X      multiply every workload's rate (default 1)\n"
        "  --duration S        replay the first S seconds of the workload\n"
        "  --slo-scale X       multiply every SLO time (default 1)\n"
        "  --node K            node: the scenario node index this process hosts\n"
        "  --host ADDR         address every process listens on (default 127.0.0.1)\n"
        "  --base-port P       controller P, loadgen P+1, node k P+2+k (default 47600)\n"
        "  --key-file F        shared secret (>= 16 bytes) authenticating every message\n"
        "                      (default: $EPARA_KEY)\n"
        "  --epoch NS|+S       wall time (Unix ns) of trace time 0, or S seconds from now\n"
        "                      (default: the next multiple of 10 s at least 3 s away)\n"
        "  --time-scale X      trace seconds per wall second (default 1: real time)\n"
        "  --real-links        links are shaped for real (netns): no link emulation\n"
        "  --real-bandwidth    only the bandwidth is shaped for real: latency emulated\n"
        "  --node-ip A.B.C.D   node k listens on A.B.C.D + k instead of --host\n"
        "  --deploy FILE       where every process listens, one line each (controller|loadgen\n"
        "                      HOST:PORT, node NAME|K HOST:PORT; exec/README.md); instead\n"
        "                      of --host, --node-ip and --base-port (testbed --netns: each\n"
        "                      namespace takes its node's IPv4 address)\n"
        "  --run-for S         controller, node: stop at trace time S (default: on SIGTERM)\n"
        "  --grace S           loadgen: wait S trace seconds after the last arrival for\n"
        "                      outstanding results (default 60)\n"
        "  --out DB            loadgen: store the run in results database DB\n"
        "  --records           loadgen: store every request's record (needs --out)\n"
        "  --json              loadgen: print the summary as JSON\n"
        "  --verbose           log peers lost and dropped messages to stderr\n";
static const char exec_help2[] =
        "  --engine KIND       node: emulated (default: a batch takes its profiled time),\n"
        "                      cpu (real FP32 compute on OpenBLAS: the batch takes what\n"
        "                      it takes) or cuda (when built)\n"
        "  --llm-shape SHAPE   cpu: the stand-in decoder of LLM services (as `epara\n"
        "                      profile`: dim=256,hidden=768,layers=4,...)\n"
        "  --dnn-shape SHAPE   cpu: the segmentation net of DNN services\n"
        "  --checkpoint FILE   cpu: a llama2.c checkpoint for every LLM service\n"
        "  --threads N         cpu: BLAS threads per node process\n"
        "  --cpus LIST         run pinned to these CPUs (as 0,2-3); testbed: node k on the\n"
        "                      k-th CPU of the list (wrapping), the controller and the\n"
        "                      loadgen unpinned: real engines keep the core they were\n"
        "                      profiled on (`epara profile --cpus`)\n"
        "  --max-held N        node: most requests held at once (queued, running, in\n"
        "                      transit); beyond, arrivals are rejected (default 65536)\n"
        "  --sync-loss S:E     controller, node: drop every state message received between\n"
        "                      S and E trace seconds (a sync-message fault)\n"
        "  --no-clock-sync     node, loadgen: keep the own clock (default: estimate its\n"
        "                      offset to the controller's and keep trace time on that)\n"
        "  --clock-offset-ms X this process's clock reads X ms ahead (a test of the above)\n"
        "  --payloads          node, loadgen: requests carry their bytes (an image, a\n"
        "                      prompt's token ids) between nodes and results their\n"
        "                      response's (a mask, generated token ids); real engines\n"
        "                      compute on them (every process of a testbed must agree;\n"
        "                      testbed: the default with --netns)\n"
        "  --no-payloads       requests travel as their descriptions (the default for the\n"
        "                      roles and for testbed without --netns)\n"
        "  --policy-log FILE   controller, node: log every call into the policy (for\n"
        "                      `epara replay`; testbed: a directory, one log per process)\n"
        "  -h, --help          this help\n"
        "\n"
        "exit status: 0 done, 1 runtime failure, 2 bad arguments\n";
static const char *const exec_help[] = {exec_help1, exec_help2, NULL};

/* The default epoch (no --epoch): the next multiple of EPOCH_ROUND_NS at least
 * EPOCH_LEAD_NS away, so processes started by hand within a few seconds of each other (on
 * one machine, or several with synchronized clocks) agree on it without being told. */
#define EPOCH_ROUND_NS (10 * EP_NS_PER_S)
#define EPOCH_LEAD_NS  (3 * EP_NS_PER_S)
/* --epoch +S: at most a day ahead. */
#define EPOCH_AHEAD_MAX_S 86400.0
/* The longest shared key read: a generous bound, as HMAC-SHA256 hashes any key longer than
 * its 64-byte block down to 32 bytes. */
#define KEY_MAX_BYTES 256
/* --base-port: from the first port an unprivileged process may listen on (1024) to the
 * highest whose loadgen and node ports still fit below 65536. */
#define PORT_MIN 1024
#define PORT_MAX 65535
/* Node k listens on base port + PORTS_BEFORE_NODES + k: the controller (base) and the
 * loadgen (base + 1) come first (include/epara/exec/exec.h). */
#define PORTS_BEFORE_NODES 2
/* --threads: at most this many BLAS threads per node process. */
#define THREADS_MAX 1024
/* --time-scale: trace seconds per wall second, a thousandth to a thousand. */
#define TIME_SCALE_MIN 1e-3
#define TIME_SCALE_MAX 1e3
/* --run-for: at least a millisecond of trace time; it and both ends of --sync-loss: at most
 * TRACE_S_MAX trace seconds (about 32 years). */
#define TRACE_S_MIN 1e-3
#define TRACE_S_MAX 1e9
/* --grace: at most this many trace seconds. */
#define GRACE_MAX_S 1e6
/* --max-held: at most 2^32 requests held by one node. */
#define MAX_HELD_MAX (INT64_C(1) << 32)
/* --node-ip: the largest value of one dotted-decimal byte. */
#define IPV4_BYTE_MAX 255
/* --sync-loss: room for the START text with its terminating NUL. */
#define SYNC_LOSS_START_MAX 64
/* --keep-logs: the permissions of a log directory created (before the umask). */
#define LOG_DIR_MODE 0755
/* Room for a shape parser's message; for the executor's or the results database's; for this
 * machine's name in a stored run. */
#define SHAPE_MSG_MAX 256
#define RUN_MSG_MAX   1024
#define HOST_TEXT_MAX 256
/* --clock-offset-ms: at most a day either way */
#define CLOCK_OFFSET_MAX_MS 86400e3

/* getopt_long values of the options without a short letter: above any character. */
enum {
    OPT_LLM_SHAPE = 1001,
    OPT_DNN_SHAPE,
    OPT_CHECKPOINT,
    OPT_THREADS,
    OPT_CPUS,
    OPT_POLICY_LOG,
    OPT_MAX_HELD,
    OPT_NODE_IP,
    OPT_REAL_BANDWIDTH,
    OPT_SYNC_LOSS,
    OPT_DEPLOY,
    OPT_CLOCK_OFFSET,
    OPT_NO_CLOCK_SYNC,
    OPT_PAYLOADS,
    OPT_NO_PAYLOADS,
};

static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

int
exec_read_key(const char *path, uint8_t *key, size_t cap, size_t *len)
{
    const char *env = getenv("EPARA_KEY");
    if (!path && !env) {
        cli_err("no shared key: give --key-file F or set EPARA_KEY (>= 16 bytes)");
        return -1;
    }
    size_t n = 0;
    if (path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            cli_err("--key-file %s: cannot open", path);
            return -1;
        }
        n = fread(key, 1, cap, f);
        int more = fgetc(f) != EOF;
        fclose(f);
        if (more) {
            cli_err("--key-file %s: longer than %zu bytes", path, cap);
            return -1;
        }
        while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r'))
            n--;
    } else {
        n = strlen(env);
        if (n > cap)
            n = cap;
        memcpy(key, env, n);
    }
    if (n < EP_WIRE_MIN_KEY_BYTES) {
        cli_err("%s%s: the shared key has %zu bytes, at least %d are needed",
                path ? "--key-file " : "EPARA_KEY", path ? path : "", n, EP_WIRE_MIN_KEY_BYTES);
        return -1;
    }
    *len = n;
    return 0;
}

static int
parse_epoch(const char *text, int64_t *out)
{
    if (text && text[0] == '+') {
        double s;
        if (cli_double("--epoch", text + 1, 0, EPOCH_AHEAD_MAX_S, &s))
            return -1;
        *out = ep_exec_wall_ns() + (int64_t)(s * (double)EP_NS_PER_S);
        return 0;
    }
    if (text)
        return cli_i64("--epoch", text, 0, INT64_MAX / 2, out);
    int64_t now = ep_exec_wall_ns();
    *out = (now + EPOCH_LEAD_NS + EPOCH_ROUND_NS - 1) / EPOCH_ROUND_NS * EPOCH_ROUND_NS;
    return 0;
}

/* The options before any is parsed: scale factors 1, no node, the emulated engine. */
static void
exec_cli_defaults(exec_cli *c)
{
    memset(c, 0, sizeof *c);
    cli_run_init(&c->run);
    c->time_scale = 1;
    c->node = -1;
    c->engine = "emulated";
    c->payloads = -1;
    ep_engine_opts_default(&c->eng);
}

/* --node-ip A.B.C.D: four decimal bytes and nothing after. */
static int
parse_node_ip(exec_cli *c, const char *arg)
{
    unsigned b[4];
    char tail;
    if (sscanf(arg, "%u.%u.%u.%u%c", &b[0], &b[1], &b[2], &b[3], &tail) != 4 ||
        b[0] > IPV4_BYTE_MAX || b[1] > IPV4_BYTE_MAX || b[2] > IPV4_BYTE_MAX ||
        b[3] > IPV4_BYTE_MAX) {
        cli_err("--node-ip: '%s' is not an IPv4 address", arg);
        return EXIT_USAGE;
    }
    c->node_ip = arg;
    return CLI_OPT_TAKEN;
}

/* Addresses, ports and links: the node hosted, where each process listens, the shared key
 * and how links are shaped. */
static int
parse_addr_opt(exec_cli *c, int ch, const char *arg)
{
    int bad = 0;
    int64_t v;
    switch (ch) {
    case 'n':
        bad = cli_i64("--node", arg, 0, EP_EXEC_MAX_NODES - 1, &v);
        c->node = (int)v;
        break;
    case 'H':
        c->host = arg;
        break;
    case 'B':
        bad = cli_i64("--base-port", arg, PORT_MIN,
                      PORT_MAX - EP_EXEC_MAX_NODES - PORTS_BEFORE_NODES, &v);
        c->base_port = (int)v;
        break;
    case 'k':
        c->key_file = arg;
        break;
    case 'L':
        c->real_links = 1;
        break;
    case OPT_REAL_BANDWIDTH:
        c->real_links = 2;
        break;
    case OPT_NODE_IP:
        return parse_node_ip(c, arg);
    case OPT_DEPLOY:
        c->deploy = arg;
        break;
    default:
        return CLI_OPT_OTHER;
    }
    return bad ? EXIT_USAGE : CLI_OPT_TAKEN;
}

/* --sync-loss START:END in trace seconds, the end after the start. */
static int
parse_sync_loss(exec_cli *c, const char *arg)
{
    const char *colon = strchr(arg, ':');
    char a[SYNC_LOSS_START_MAX];
    size_t l = colon ? (size_t)(colon - arg) : 0;
    int bad = !colon || l == 0 || l >= sizeof a;
    if (!bad) {
        memcpy(a, arg, l);
        a[l] = '\0';
        bad = cli_double("--sync-loss", a, 0, TRACE_S_MAX, &c->sync_loss[0]) ||
              cli_double("--sync-loss", colon + 1, 0, TRACE_S_MAX, &c->sync_loss[1]);
    }
    if (!bad && c->sync_loss[1] <= c->sync_loss[0]) {
        cli_err("--sync-loss %s: the end must be after the start", arg);
        return EXIT_USAGE;
    }
    if (bad && !colon) {
        cli_err("--sync-loss %s: expected START:END in trace seconds", arg);
        return EXIT_USAGE;
    }
    return bad ? EXIT_USAGE : CLI_OPT_TAKEN;
}

/* Timing: the epoch (its text into *epoch, read by parse_epoch once all are parsed), the time
 * scale, when to stop, the loadgen's grace and the sync-message fault. */
static int
parse_time_opt(exec_cli *c, int ch, const char *arg, const char **epoch)
{
    int bad = 0;
    switch (ch) {
    case 'e':
        *epoch = arg;
        break;
    case 'T':
        bad = cli_double("--time-scale", arg, TIME_SCALE_MIN, TIME_SCALE_MAX, &c->time_scale);
        break;
    case 'F':
        bad = cli_double("--run-for", arg, TRACE_S_MIN, TRACE_S_MAX, &c->run_for);
        break;
    case 'g':
        bad = cli_double("--grace", arg, 0, GRACE_MAX_S, &c->grace);
        break;
    case OPT_SYNC_LOSS:
        return parse_sync_loss(c, arg);
    case OPT_CLOCK_OFFSET:
        bad = cli_double("--clock-offset-ms", arg, -CLOCK_OFFSET_MAX_MS, CLOCK_OFFSET_MAX_MS,
                         &c->clock_offset_ms);
        break;
    case OPT_NO_CLOCK_SYNC:
        c->no_clock_sync = 1;
        break;
    case OPT_PAYLOADS:
        c->payloads = 1;
        break;
    case OPT_NO_PAYLOADS:
        c->payloads = 0;
        break;
    default:
        return CLI_OPT_OTHER;
    }
    return bad ? EXIT_USAGE : CLI_OPT_TAKEN;
}

/* What the processes write: the loadgen's results database, records and JSON, the policy
 * log, and how much goes to stderr. */
static int
parse_output_opt(exec_cli *c, int ch, const char *arg)
{
    switch (ch) {
    case 'o':
        c->out = arg;
        break;
    case 'R':
        c->records = 1;
        break;
    case 'j':
        c->json = 1;
        break;
    case 'v':
        c->verbose = 1;
        break;
    case 'q':
        c->quiet = 1;
        break;
    case OPT_POLICY_LOG:
        c->policy_log = arg;
        break;
    default:
        return CLI_OPT_OTHER;
    }
    return CLI_OPT_TAKEN;
}

/* --llm-shape or --dnn-shape (ch says which) into the engine's options. */
static int
parse_shape(exec_cli *c, int ch, const char *arg)
{
    char msg[SHAPE_MSG_MAX];
    int r = ch == OPT_LLM_SHAPE ? ep_engine_llm_shape_parse(arg, &c->eng.llm, msg, sizeof msg)
                                : ep_engine_dnn_shape_parse(arg, &c->eng.seg, &c->eng.seg_side, msg,
                                                            sizeof msg);
    if (r) {
        cli_err("--%s: %s", ch == OPT_LLM_SHAPE ? "llm-shape" : "dnn-shape", msg);
        return EXIT_USAGE;
    }
    if (ch == OPT_LLM_SHAPE)
        c->llm_shape = arg;
    else
        c->dnn_shape = arg;
    return CLI_OPT_TAKEN;
}

/* A node's options: its engine (kind, stand-in shapes, checkpoint, threads), how many
 * requests it holds, and the CPUs it runs on (--cpus, any role). */
static int
parse_node_opt(exec_cli *c, int ch, const char *arg)
{
    int bad = 0;
    switch (ch) {
    case 'E':
        c->engine = arg;
        if (ep_engine_kind_parse(arg, &c->eng.kind) != 0) {
            cli_err("--engine: '%s' is not emulated, cpu or cuda", arg);
            return EXIT_USAGE;
        }
        break;
    case OPT_LLM_SHAPE:
    case OPT_DNN_SHAPE:
        return parse_shape(c, ch, arg);
    case OPT_CHECKPOINT:
        c->checkpoint = c->eng.checkpoint = arg;
        break;
    case OPT_THREADS:
        bad = cli_i64("--threads", arg, 1, THREADS_MAX, &c->threads);
        c->eng.threads = (int)c->threads;
        break;
    case OPT_MAX_HELD:
        bad = cli_i64("--max-held", arg, 1, MAX_HELD_MAX, &c->max_held);
        break;
    case OPT_CPUS:
        c->ncpus = cli_cpus_parse("--cpus", arg, c->cpus, CLI_CPUS_MAX);
        bad = c->ncpus < 0;
        break;
    default:
        return CLI_OPT_OTHER;
    }
    return bad ? EXIT_USAGE : CLI_OPT_TAKEN;
}

/* `epara testbed`'s own options, refused elsewhere: --netns, --keep-logs DIR (created). */
static int
parse_testbed_opt(exec_cli *c, int ch, const char *arg, int testbed)
{
    if (ch != 'N' && ch != 'K')
        return CLI_OPT_OTHER;
    if (!testbed) {
        cli_err("--%s: an option of `epara testbed`", ch == 'N' ? "netns" : "keep-logs");
        return EXIT_USAGE;
    }
    if (ch == 'N') {
        c->netns = 1;
    } else {
        c->logs = arg;
        if (mkdir(arg, LOG_DIR_MODE) != 0 && errno != EEXIST) {
            cli_err("--keep-logs %s: cannot create the directory: %s", arg, strerror(errno));
            return EXIT_USAGE;
        }
    }
    return CLI_OPT_TAKEN;
}

/* Checks across options once all are parsed (--records needs --out, a live --policy) and
 * sets the epoch. Returns 0 or EXIT_USAGE after printing the problem. */
static int
check_parsed(exec_cli *c, const char *epoch)
{
    if (c->records && !c->out) {
        cli_err("--records needs --out DB");
        return EXIT_USAGE;
    }
    if (cli_run_check_policy(&c->run, 0,
                             "`bound` is not a live policy; see `epara sim --list-policies`"))
        return EXIT_USAGE;
    if (c->deploy && (c->host || c->node_ip || c->base_port)) {
        cli_err("--deploy names every address and port: it replaces --host, --node-ip and "
                "--base-port");
        return EXIT_USAGE;
    }
    if (parse_epoch(epoch, &c->epoch))
        return EXIT_USAGE;
    return 0;
}

int
exec_cli_parse(exec_cli *c, int argc, char **argv, const char *const *help, int testbed)
{
    static const struct option longopts[] = {
            CLI_RUN_LONGOPTS,
            CLI_RUN_LONGOPT_RATE,
            {"node", required_argument, NULL, 'n'},
            {"host", required_argument, NULL, 'H'},
            {"base-port", required_argument, NULL, 'B'},
            {"key-file", required_argument, NULL, 'k'},
            {"epoch", required_argument, NULL, 'e'},
            {"time-scale", required_argument, NULL, 'T'},
            {"real-links", no_argument, NULL, 'L'},
            {"run-for", required_argument, NULL, 'F'},
            {"grace", required_argument, NULL, 'g'},
            {"out", required_argument, NULL, 'o'},
            {"records", no_argument, NULL, 'R'},
            {"json", no_argument, NULL, 'j'},
            {"verbose", no_argument, NULL, 'v'},
            {"engine", required_argument, NULL, 'E'},
            {"llm-shape", required_argument, NULL, OPT_LLM_SHAPE},
            {"dnn-shape", required_argument, NULL, OPT_DNN_SHAPE},
            {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
            {"threads", required_argument, NULL, OPT_THREADS},
            {"cpus", required_argument, NULL, OPT_CPUS},
            {"policy-log", required_argument, NULL, OPT_POLICY_LOG},
            {"max-held", required_argument, NULL, OPT_MAX_HELD},
            {"sync-loss", required_argument, NULL, OPT_SYNC_LOSS},
            {"node-ip", required_argument, NULL, OPT_NODE_IP},
            {"deploy", required_argument, NULL, OPT_DEPLOY},
            {"clock-offset-ms", required_argument, NULL, OPT_CLOCK_OFFSET},
            {"no-clock-sync", no_argument, NULL, OPT_NO_CLOCK_SYNC},
            {"payloads", no_argument, NULL, OPT_PAYLOADS},
            {"no-payloads", no_argument, NULL, OPT_NO_PAYLOADS},
            {"real-bandwidth", no_argument, NULL, OPT_REAL_BANDWIDTH},
            {"netns", no_argument, NULL, 'N'},
            {"keep-logs", required_argument, NULL, 'K'},
            {"quiet", no_argument, NULL, 'q'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0}};
    exec_cli_defaults(c);
    const char *epoch = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (ch == 'h') {
            for (int i = 0; help[i]; i++)
                fputs(help[i], stdout);
            return -1;
        }
        int rc = cli_run_opt(&c->run, ch, optarg);
        if (rc == CLI_OPT_OTHER)
            rc = parse_addr_opt(c, ch, optarg);
        if (rc == CLI_OPT_OTHER)
            rc = parse_time_opt(c, ch, optarg, &epoch);
        if (rc == CLI_OPT_OTHER)
            rc = parse_output_opt(c, ch, optarg);
        if (rc == CLI_OPT_OTHER)
            rc = parse_node_opt(c, ch, optarg);
        if (rc == CLI_OPT_OTHER)
            rc = parse_testbed_opt(c, ch, optarg, testbed);
        if (rc == CLI_OPT_OTHER) {
            for (int i = 0; help[i]; i++)
                fputs(help[i], stderr);
            return EXIT_USAGE;
        }
        if (rc != CLI_OPT_TAKEN)
            return rc;
    }
    if (optind != argc) {
        cli_err("unexpected argument '%s' (see --help)", argv[optind]);
        return EXIT_USAGE;
    }
    return check_parsed(c, epoch);
}

/* Records into the results database, as `epara sim --records` does. */
typedef struct rec_sink {
    ep_results *res;
    int err;
} rec_sink;

static void
sink_record(void *ctx, const ep_record *rec)
{
    rec_sink *k = ctx;
    if (k->res && !k->err && ep_results_add_record(k->res, rec) != 0)
        k->err = 1;
}

/* The role's name in messages. */
static const char *
role_name(ep_live_role role)
{
    return role == EP_LIVE_CONTROLLER ? "controller" : role == EP_LIVE_NODE ? "node" : "loadgen";
}

/* Loads the scenario with the --param values applied, prepares its traces (*st) and scales
 * its SLOs; checks a node's index against it. Returns 0, or an exit status after printing
 * the problem (the scenario and the store are released then). */
static int
role_scenario(exec_cli *c, ep_live_role role, ep_scenario *sc, ep_store **st)
{
    int rc = cli_run_load(&c->run, sc, st, 1);
    if (rc)
        return rc;
    if (role == EP_LIVE_NODE && c->node >= sc->nnodes) {
        cli_err("node: --node %d: the scenario has %d nodes", c->node, sc->nnodes);
        ep_store_close(*st);
        ep_scenario_fini(sc);
        return EXIT_USAGE;
    }
    return 0;
}

/* The executor's options from the parsed ones (the policy log and the loadgen's record sink
 * are left to open_policy_log and open_results); sets the engine's seed. Returns 0, or
 * EXIT_USAGE after printing a --duration out of range. */
static int
fill_exec_opts(exec_cli *c, ep_live_role role, const ep_scenario *sc, ep_store *st,
               const uint8_t *key, size_t keylen, ep_exec_opts *o)
{
    memset(o, 0, sizeof *o);
    o->sc = sc;
    o->role = role;
    o->node = c->node;
    o->sim.policy = c->run.policy;
    o->sim.seed = c->run.seed;
    o->sim.seed_set = c->run.seed_set;
    o->sim.rate_scale = c->run.rate;
    if (c->run.duration > 0 && ep_dur_from_s(c->run.duration, &o->sim.duration)) {
        cli_err("--duration: out of range");
        return EXIT_USAGE;
    }
    o->sim.traces = st;
    o->host = c->host;
    o->node_ip = c->node_ip;
    o->base_port = c->base_port;
    o->key = key;
    o->keylen = keylen;
    o->epoch_ns = c->epoch;
    o->time_scale = c->time_scale;
    o->real_links = c->real_links;
    o->grace = (ep_dur)(c->grace * (double)EP_NS_PER_S);
    o->run_for = (ep_dur)(c->run_for * (double)EP_NS_PER_S);
    o->stop = &stop_flag;
    o->verbose = c->verbose;
    c->eng.seed = c->run.seed_set ? c->run.seed : sc->run.seed;
    o->engine = &c->eng;
    o->max_held = c->max_held;
    o->sync_loss_from = (ep_time)(c->sync_loss[0] * (double)EP_NS_PER_S);
    o->sync_loss_until = (ep_time)(c->sync_loss[1] * (double)EP_NS_PER_S);
    o->clock_skew_ns = (int64_t)(c->clock_offset_ms * (double)EP_NS_PER_MS);
    o->no_clock_sync = c->no_clock_sync;
    o->payloads = c->payloads == 1;
    return 0;
}

/* Controller, node: opens --policy-log into o->sim.policy_log; a node warns that a real
 * engine's measured times are scaled by --time-scale. Returns 0, or -1 after printing that
 * the log cannot be created. */
static int
open_policy_log(const exec_cli *c, ep_live_role role, ep_exec_opts *o)
{
    if (c->policy_log && role != EP_LIVE_LOADGEN &&
        !(o->sim.policy_log = fopen(c->policy_log, "wb"))) {
        cli_err("--policy-log %s: cannot create", c->policy_log);
        return -1;
    }
    if (c->eng.kind != EP_ENGINE_EMULATED && c->time_scale != 1 && role == EP_LIVE_NODE)
        fprintf(stderr,
                "epara: node: --time-scale %g with a real engine: its measured times "
                "are scaled too\n",
                c->time_scale);
    return 0;
}

/* Loadgen with --out: opens the results database into *res (closed by the caller), begins
 * the run and, with --records, has every record stored through sink. Returns 0, or -1 after
 * printing the problem. */
static int
open_results(const exec_cli *c, const ep_scenario *sc, ep_results **res, rec_sink *sink,
             ep_exec_opts *o)
{
    char msg[RUN_MSG_MAX] = "";
    if (ep_results_open(c->out, res, msg, sizeof msg)) {
        cli_err("loadgen: %s", msg);
        return -1;
    }
    char host[HOST_TEXT_MAX] = "unknown";
    gethostname(host, sizeof host - 1);
    size_t dlen;
    ep_run_info info = {
            .sc = sc,
            .scenario_name = sc->name,
            .scenario_text = sc->text ? sc->text : ep_scenario_default_text(&dlen),
            .git_rev = EP_GIT_REV,
            .host = host,
            .options_json = "{\"executor\":\"testbed\"}",
            .rate_scale = c->run.rate,
            .duration_s = c->run.duration,
            .seed = c->run.seed_set ? c->run.seed : sc->run.seed,
            .policy = c->run.policy ? c->run.policy : sc->policy,
    };
    int64_t run_id;
    if (ep_results_begin(*res, &info, &run_id)) {
        cli_err("loadgen: %s: %s", c->out, ep_results_errmsg(*res));
        return -1;
    }
    if (c->records) {
        sink->res = *res;
        o->sim.on_record = sink_record;
        o->sim.ctx = sink;
    }
    return 0;
}

/* SIGTERM and SIGINT set stop_flag, which the running role polls. */
static void
catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

/* Commits the loadgen's run, with summary js, into the results database (aborted when a
 * record could not be stored). Returns 0, or -1 after printing the problem. */
static int
store_run(const exec_cli *c, const ep_scenario *sc, const ep_run_result *r, ep_results *res,
          const rec_sink *sink, json_t *js)
{
    if (sink->err) {
        cli_err("loadgen: %s: cannot store records: %s", c->out, ep_results_errmsg(res));
        ep_results_abort(res);
        return -1;
    }
    char *txt = json_dumps(js, JSON_COMPACT | JSON_PRESERVE_ORDER);
    int err = ep_results_commit(res, sc, r, txt);
    free(txt);
    if (err) {
        cli_err("loadgen: %s: cannot store the run: %s", c->out, ep_results_errmsg(res));
        return -1;
    }
    return 0;
}

/* The testbed's counters below the loadgen's table. */
static void
print_testbed_stats(const ep_exec_stats *stats)
{
    printf("testbed: %lld messages in, %lld out, %lld bad frames, %lld sends refused; "
           "dispatch overhead p50 %.3f ms, p99 %.3f ms over %lld requests; %.1f s\n",
           (long long)stats->msgs_in, (long long)stats->msgs_out, (long long)stats->bad_frames,
           (long long)stats->send_failed, stats->overhead_p50_s * 1e3, stats->overhead_p99_s * 1e3,
           (long long)stats->overhead_n, stats->wall_s);
}

/* The loadgen's report of run r: stores it (res: --out), prints the table and the testbed's
 * counters, or with --json the summary (handed to *summary instead when that is given).
 * Frees r. Returns an exit status. */
static int
report_loadgen(const exec_cli *c, const ep_scenario *sc, ep_run_result *r, ep_exec_stats *stats,
               ep_results *res, const rec_sink *sink, json_t **summary)
{
    if (c->eng.kind != EP_ENGINE_EMULATED && !c->json)
        printf("engine %s on the nodes\n", ep_engine_kind_name(c->eng.kind));
    json_t *js = ep_sim_summary_json(sc, r);
    if (js)
        json_object_set_new(js, "testbed", ep_testbed_stats_json(stats));
    if (res && store_run(c, sc, r, res, sink, js)) {
        json_decref(js);
        ep_run_result_fini(r);
        return EXIT_FAIL;
    }
    if (!c->json) {
        cli_sim_print_table(sc, r);
        print_testbed_stats(stats);
    }
    if (c->json && !summary) {
        json_dumpf(js, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        putchar('\n');
    }
    if (summary)
        *summary = js;
    else
        json_decref(js);
    ep_run_result_fini(r);
    return EXIT_OK;
}

/* --deploy FILE, read against the scenario: 0 (*out NULL without --deploy) or EXIT_USAGE
 * after printing the file, line and problem. */
static int
load_deploy(const exec_cli *c, const ep_scenario *sc, ep_deploy **out)
{
    *out = NULL;
    if (!c->deploy)
        return 0;
    char msg[RUN_MSG_MAX];
    if (ep_deploy_load(c->deploy, sc, out, msg, sizeof msg) != 0) {
        cli_err("--deploy %s", msg);
        return EXIT_USAGE;
    }
    return 0;
}

int
exec_cli_role(exec_cli *c, ep_live_role role, ep_exec_stats *stats, json_t **summary)
{
    if (role == EP_LIVE_NODE && c->node < 0) {
        cli_err("node: --node K is required");
        return EXIT_USAGE;
    }
    uint8_t key[KEY_MAX_BYTES];
    size_t keylen;
    if (exec_read_key(c->key_file, key, sizeof key, &keylen))
        return EXIT_USAGE;
    /* Before the engine starts its threads, which inherit the CPUs. */
    if (cli_cpus_pin("--cpus", c->cpus, c->ncpus))
        return EXIT_FAIL;
    ep_scenario sc;
    ep_store *st = NULL;
    int rc = role_scenario(c, role, &sc, &st);
    if (rc)
        return rc;
    ep_results *res = NULL;
    rec_sink sink = {NULL, 0};
    ep_exec_opts o;
    ep_deploy *dep = NULL;
    if ((rc = fill_exec_opts(c, role, &sc, st, key, keylen, &o)) != 0 ||
        (rc = load_deploy(c, &sc, &dep)) != 0)
        goto done;
    o.deploy = dep;
    rc = EXIT_FAIL;
    if (open_policy_log(c, role, &o) ||
        (role == EP_LIVE_LOADGEN && c->out && open_results(c, &sc, &res, &sink, &o)))
        goto done;
    catch_stop_signals();
    ep_run_result r;
    memset(&r, 0, sizeof r);
    char msg[RUN_MSG_MAX] = "";
    int err = ep_exec_run(&o, role == EP_LIVE_LOADGEN ? &r : NULL, stats, msg, sizeof msg);
    if (err) {
        cli_err("%s: %s", role_name(role), msg);
        ep_results_abort(res);
        rc = err == EP_EINVAL ? EXIT_USAGE : EXIT_FAIL;
        goto done;
    }
    if (role == EP_LIVE_NODE && stats && stats->payload.on) {
        const ep_live_payload_stats *p = &stats->payload;
        fprintf(stderr,
                "epara: node %d: payloads: %lld sent (%.1f MB), %lld received (%.1f MB), %lld "
                "not as made, %lld above the bound; %lld responses (%.1f MB, %lld from the "
                "engine)\n",
                c->node, (long long)p->sent, (double)p->sent_bytes / 1e6, (long long)p->received,
                (double)p->received_bytes / 1e6, (long long)p->corrupt, (long long)p->too_large,
                (long long)p->outputs, (double)p->output_bytes / 1e6, (long long)p->engine_outputs);
    }
    if (c->ncpus > 0) { /* what the pinning was at the end (a test reads it) */
        char cpus[256];
        cli_cpus_current(cpus, sizeof cpus);
        if (role == EP_LIVE_NODE)
            fprintf(stderr, "epara: node %d: ran on CPUs %s\n", c->node, cpus);
        else
            fprintf(stderr, "epara: %s: ran on CPUs %s\n", role_name(role), cpus);
    }
    rc = role == EP_LIVE_LOADGEN ? report_loadgen(c, &sc, &r, stats, res, &sink, summary) : EXIT_OK;
done:
    if (o.sim.policy_log && fclose(o.sim.policy_log) != 0 && rc == EXIT_OK) {
        cli_err("--policy-log %s: write failed", c->policy_log);
        rc = EXIT_FAIL;
    }
    ep_deploy_free(dep);
    ep_results_close(res);
    ep_store_close(st);
    ep_scenario_fini(&sc);
    return rc;
}

static int
run_role(int argc, char **argv, ep_live_role role)
{
    exec_cli c;
    int rc = exec_cli_parse(&c, argc, argv, exec_help, 0);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    ep_exec_stats stats;
    return exec_cli_role(&c, role, &stats, NULL);
}

int
cmd_controller(int argc, char **argv)
{
    return run_role(argc, argv, EP_LIVE_CONTROLLER);
}

int
cmd_node(int argc, char **argv)
{
    return run_role(argc, argv, EP_LIVE_NODE);
}

int
cmd_loadgen(int argc, char **argv)
{
    return run_role(argc, argv, EP_LIVE_LOADGEN);
}
