/* The sweep's local worker pool (epara/experiments/sweep.h). The parent forks N workers after
 * closing its own SQLite connections; each worker opens its own (trace database read-only, results
 * database with a busy timeout) and stores its runs itself. The parent hands out one plan
 * index at a time over the worker's command pipe (so slow runs do not hold up a fixed
 * share) and reads fixed-size results (< PIPE_BUF, so writes are atomic) from one shared
 * result pipe, passing each to the caller's hooks. A worker that dies fails its current
 * run. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "epara/core/error.h"
#include "epara/experiments/sweep.h"

_Static_assert(sizeof(ep_sweep_result) < 4096, "results must fit in one atomic pipe write");

/* Reports r to the caller. */
static void
report(const ep_sweep_hooks *h, const ep_sweep_plan *plan, const ep_sweep_result *r)
{
    if (h && h->on_result)
        h->on_result(h->arg, plan, r);
}

typedef struct worker {
    pid_t pid;
    int cmd;  /* write end of its command pipe, -1 once closed */
    int busy; /* plan index it is running, or -1 */
    int alive;
} worker;

static int
write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int
read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void
worker_main(const ep_sweep_ctx *ctx, const ep_sweep_plan *plan, int id, int cmd, int res)
{
    ep_sweep_conn c;
    char why[300] = "";
    int rc = ep_sweep_conn_open(ctx, &c, why, sizeof why);
    int32_t idx;
    while (read_all(cmd, &idx, sizeof idx) == 0) {
        ep_sweep_result r;
        if (rc) {
            memset(&r, 0, sizeof r);
            r.run = idx;
            r.status = rc;
            snprintf(r.msg, sizeof r.msg, "the worker could not open its databases: %s", why);
        } else {
            ep_sweep_run_one(ctx, &c, &plan->runs[idx], idx, &r);
        }
        r.worker = id;
        if (write_all(res, &r, sizeof r))
            break;
    }
    if (!rc)
        ep_sweep_conn_close(&c);
    close(cmd);
    close(res);
    _exit(0);
}

/* Gives worker w its next run, or closes its pipe when none is left. */
static void
assign(worker *w, const int *todo, int ntodo, int *next)
{
    w->busy = -1;
    if (w->cmd < 0)
        return;
    if (*next < ntodo) {
        int32_t idx = todo[*next];
        if (write_all(w->cmd, &idx, sizeof idx) == 0) {
            w->busy = idx;
            (*next)++;
            return;
        }
    }
    close(w->cmd);
    w->cmd = -1;
}

static int
inproc(const ep_sweep_ctx *ctx, const ep_sweep_plan *plan, const int *todo, int ntodo,
       const ep_sweep_hooks *h, char *err, size_t errlen)
{
    ep_sweep_conn c;
    int rc = ep_sweep_conn_open(ctx, &c, err, errlen);
    if (rc)
        return rc;
    int failed = 0;
    for (int i = 0; i < ntodo; i++) {
        ep_sweep_result r;
        ep_sweep_run_one(ctx, &c, &plan->runs[todo[i]], todo[i], &r);
        failed += r.status != 0;
        report(h, plan, &r);
    }
    ep_sweep_conn_close(&c);
    return failed;
}

int
ep_sweep_exec(const ep_sweep_ctx *ctx, const ep_sweep_plan *plan, const int *todo, int ntodo,
              int jobs, const ep_sweep_hooks *hooks, char *err, size_t errlen)
{
    if (ntodo == 0)
        return 0;
    if (jobs > ntodo)
        jobs = ntodo;
    if (jobs <= 1)
        return inproc(ctx, plan, todo, ntodo, hooks, err, errlen);
    worker *w = calloc((size_t)jobs, sizeof *w);
    int resp[2];
    if (!w || pipe(resp) != 0) {
        snprintf(err, errlen, "sweep: cannot start workers: %s", strerror(errno));
        free(w);
        return EP_EIO;
    }
    /* A worker that died must not take the parent with it when it is written to. */
    struct sigaction ign, old_pipe;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old_pipe);
    fflush(stdout);
    fflush(stderr);
    int started = 0, failed = 0, next = 0, running = 0;
    for (; started < jobs; started++) {
        int cp[2];
        if (pipe(cp) != 0)
            break;
        pid_t pid = fork();
        if (pid < 0) {
            close(cp[0]);
            close(cp[1]);
            break;
        }
        if (pid == 0) {
            close(resp[0]);
            close(cp[1]);
            for (int k = 0; k < started; k++)
                if (w[k].cmd >= 0)
                    close(w[k].cmd);
            sigaction(SIGPIPE, &old_pipe, NULL);
            worker_main(ctx, plan, started, cp[0], resp[1]);
        }
        close(cp[0]);
        w[started] = (worker){pid, cp[1], -1, 1};
    }
    close(resp[1]);
    if (started == 0) {
        snprintf(err, errlen, "sweep: cannot start workers: %s", strerror(errno));
        close(resp[0]);
        sigaction(SIGPIPE, &old_pipe, NULL);
        free(w);
        return EP_EIO;
    }
    fcntl(resp[0], F_SETFL, fcntl(resp[0], F_GETFL) | O_NONBLOCK);
    for (int k = 0; k < started; k++) {
        assign(&w[k], todo, ntodo, &next);
        running += w[k].busy >= 0;
    }
    while (running > 0) {
        struct pollfd pfd = {resp[0], POLLIN, 0};
        int pr = poll(&pfd, 1, 500);
        if (pr < 0 && errno != EINTR)
            break;
        ep_sweep_result r;
        ssize_t n;
        while ((n = read(resp[0], &r, sizeof r)) == (ssize_t)sizeof r) {
            if (r.worker < 0 || r.worker >= started || w[r.worker].busy != r.run)
                continue;
            running--;
            failed += r.status != 0;
            report(hooks, plan, &r);
            assign(&w[r.worker], todo, ntodo, &next);
            running += w[r.worker].busy >= 0;
        }
        if (hooks && hooks->on_tick)
            hooks->on_tick(hooks->arg);
        /* Results already in the pipe were read above; a worker gone now while busy died
         * during its run. */
        for (int k = 0; k < started; k++) {
            int st;
            if (!w[k].alive || waitpid(w[k].pid, &st, WNOHANG) != w[k].pid)
                continue;
            w[k].alive = 0;
            while ((n = read(resp[0], &r, sizeof r)) == (ssize_t)sizeof r)
                if (r.worker >= 0 && r.worker < started && w[r.worker].busy == r.run) {
                    running--;
                    failed += r.status != 0;
                    report(hooks, plan, &r);
                    assign(&w[r.worker], todo, ntodo, &next);
                    running += w[r.worker].busy >= 0;
                }
            if (w[k].busy >= 0) {
                memset(&r, 0, sizeof r);
                r.worker = k;
                r.run = w[k].busy;
                r.status = EP_ECANCELED;
                if (WIFSIGNALED(st))
                    snprintf(r.msg, sizeof r.msg, "worker %d died (signal %d)", k, WTERMSIG(st));
                else
                    snprintf(r.msg, sizeof r.msg, "worker %d exited (status %d)", k,
                             WEXITSTATUS(st));
                running--;
                failed++;
                report(hooks, plan, &r);
                w[k].busy = -1;
            }
            if (w[k].cmd >= 0) {
                close(w[k].cmd);
                w[k].cmd = -1;
            }
        }
    }
    for (; next < ntodo; next++) {
        ep_sweep_result r;
        memset(&r, 0, sizeof r);
        r.run = todo[next];
        r.status = EP_ECANCELED;
        snprintf(r.msg, sizeof r.msg, "not run: no worker left");
        failed++;
        report(hooks, plan, &r);
    }
    for (int k = 0; k < started; k++) {
        if (w[k].cmd >= 0)
            close(w[k].cmd);
        if (w[k].alive)
            waitpid(w[k].pid, NULL, 0);
    }
    close(resp[0]);
    sigaction(SIGPIPE, &old_pipe, NULL);
    free(w);
    return failed;
}
