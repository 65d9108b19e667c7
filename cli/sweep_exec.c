/* `epara sweep` worker pool and progress. The parent forks N workers after closing its own
 * SQLite connections; each worker opens its own (trace database read-only, results
 * database with a busy timeout) and stores its runs itself. The parent hands out one plan
 * index at a time over the worker's command pipe (so slow runs do not hold up a fixed
 * share) and reads fixed-size results (< PIPE_BUF, so writes are atomic) from one shared
 * result pipe to drive the progress display. A worker that dies fails its current run. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sweep.h"
#include "util.h"

_Static_assert(sizeof(sweep_result) < 4096, "results must fit in one atomic pipe write");

double
sweep_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
fmt_dur(double s, char *buf, size_t len)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, len, "%lds", t);
}

static void
draw(sweep_progress *pg)
{
    enum { WIDTH = 30 };
    char bar[WIDTH + 1], el[32], eta[32] = "--";
    int fill = pg->total ? (int)((long)pg->done * WIDTH / pg->total) : WIDTH;
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '#' : '-';
    bar[WIDTH] = '\0';
    double now = sweep_now(), elapsed = now - pg->t0;
    fmt_dur(elapsed, el, sizeof el);
    if (pg->done > 0 && pg->done < pg->total)
        fmt_dur(elapsed / pg->done * (pg->total - pg->done), eta, sizeof eta);
    else if (pg->done == pg->total)
        snprintf(eta, sizeof eta, "0s");
    fprintf(stderr, "\r\033[K%s [%s] %d/%d runs %3d%%  %s elapsed, ETA %s", pg->label, bar,
            pg->done, pg->total, pg->total ? 100 * pg->done / pg->total : 100, el, eta);
    if (pg->failed)
        fprintf(stderr, "  (%d failed)", pg->failed);
    fflush(stderr);
    pg->last_draw = now;
}

void
sweep_progress_init(sweep_progress *pg, int total, int quiet, const char *label)
{
    memset(pg, 0, sizeof *pg);
    pg->total = total;
    pg->quiet = quiet;
    pg->bar = !quiet && cli_tty() && total > 0;
    pg->label = label;
    pg->t0 = pg->last_draw = sweep_now();
    if (pg->bar)
        draw(pg);
}

void
sweep_progress_run(sweep_progress *pg, const sweep_plan *plan, const sweep_result *r)
{
    char what[512];
    pg->done++;
    if (r->status)
        pg->failed++;
    sweep_describe(&plan->runs[r->run], what, sizeof what);
    if (r->status) {
        fprintf(stderr, "%s%s: run %d (%s) failed: %s\n", pg->bar ? "\r\033[K" : "", pg->label,
                r->run, what, r->msg);
    } else if (!pg->quiet && !pg->bar) {
        fprintf(stderr, "%s: %d/%d %s: goodput %.4g/s, attainment %.4f (%.2f s)\n", pg->label,
                pg->done, pg->total, what, r->goodput_per_s, r->slo_attainment, r->wall_s);
    }
    if (pg->bar)
        draw(pg);
}

void
sweep_progress_tick(sweep_progress *pg)
{
    if (pg->bar && sweep_now() - pg->last_draw >= 0.5)
        draw(pg);
}

void
sweep_progress_end(sweep_progress *pg)
{
    if (pg->bar) {
        draw(pg);
        fputc('\n', stderr);
    }
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
worker_main(const sweep_ctx *ctx, const sweep_plan *plan, int id, int cmd, int res)
{
    sweep_conn c;
    int rc = sweep_conn_open(ctx, &c);
    int32_t idx;
    while (read_all(cmd, &idx, sizeof idx) == 0) {
        sweep_result r;
        if (rc) {
            memset(&r, 0, sizeof r);
            r.run = idx;
            r.status = rc;
            snprintf(r.msg, sizeof r.msg, "the worker could not open its databases");
        } else {
            sweep_run_one(ctx, &c, &plan->runs[idx], idx, &r);
        }
        r.worker = id;
        if (write_all(res, &r, sizeof r))
            break;
    }
    if (!rc)
        sweep_conn_close(&c);
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
inproc(const sweep_ctx *ctx, const sweep_plan *plan, const int *todo, int ntodo, sweep_progress *pg)
{
    sweep_conn c;
    if (sweep_conn_open(ctx, &c))
        return -1;
    int failed = 0;
    for (int i = 0; i < ntodo; i++) {
        sweep_result r;
        sweep_run_one(ctx, &c, &plan->runs[todo[i]], todo[i], &r);
        failed += r.status != 0;
        sweep_progress_run(pg, plan, &r);
    }
    sweep_conn_close(&c);
    return failed;
}

int
sweep_exec(const sweep_ctx *ctx, const sweep_plan *plan, const int *todo, int ntodo, int jobs,
           sweep_progress *pg)
{
    if (ntodo == 0)
        return 0;
    if (jobs > ntodo)
        jobs = ntodo;
    if (jobs <= 1)
        return inproc(ctx, plan, todo, ntodo, pg);
    worker *w = calloc((size_t)jobs, sizeof *w);
    int resp[2];
    if (!w || pipe(resp) != 0) {
        cli_err("sweep: cannot start workers: %s", strerror(errno));
        free(w);
        return -1;
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
        cli_err("sweep: cannot start workers: %s", strerror(errno));
        close(resp[0]);
        sigaction(SIGPIPE, &old_pipe, NULL);
        free(w);
        return -1;
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
        sweep_result r;
        ssize_t n;
        while ((n = read(resp[0], &r, sizeof r)) == (ssize_t)sizeof r) {
            if (r.worker < 0 || r.worker >= started || w[r.worker].busy != r.run)
                continue;
            running--;
            failed += r.status != 0;
            sweep_progress_run(pg, plan, &r);
            assign(&w[r.worker], todo, ntodo, &next);
            running += w[r.worker].busy >= 0;
        }
        sweep_progress_tick(pg);
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
                    sweep_progress_run(pg, plan, &r);
                    assign(&w[r.worker], todo, ntodo, &next);
                    running += w[r.worker].busy >= 0;
                }
            if (w[k].busy >= 0) {
                memset(&r, 0, sizeof r);
                r.worker = k;
                r.run = w[k].busy;
                r.status = EXIT_FAIL;
                if (WIFSIGNALED(st))
                    snprintf(r.msg, sizeof r.msg, "worker %d died (signal %d)", k, WTERMSIG(st));
                else
                    snprintf(r.msg, sizeof r.msg, "worker %d exited (status %d)", k,
                             WEXITSTATUS(st));
                running--;
                failed++;
                sweep_progress_run(pg, plan, &r);
                w[k].busy = -1;
            }
            if (w[k].cmd >= 0) {
                close(w[k].cmd);
                w[k].cmd = -1;
            }
        }
    }
    for (; next < ntodo; next++) {
        sweep_result r;
        memset(&r, 0, sizeof r);
        r.run = todo[next];
        r.status = EXIT_FAIL;
        snprintf(r.msg, sizeof r.msg, "not run: no worker left");
        failed++;
        sweep_progress_run(pg, plan, &r);
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
