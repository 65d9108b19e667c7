/* A sweep over MPI ranks (epara/experiments/sweep.h, ep_sweep_mpi_run; built only when CMake finds
 * MPI): rank 0 prepares the traces, plans and finds what is left to run; every rank runs a disjoint
 * slice (entry i goes to rank i mod size) with its own -j workers. Rank 0 stores into the results
 * database directly; other ranks store into a private temporary database which they send whole to
 * rank 0 (no shared filesystem needed for results), and rank 0 merges it by sweep key. */
#include <errno.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "epara/core/error.h"
#include "epara/experiments/scenario.h"
#include "epara/experiments/sweep.h"

enum { TAG_HEAD = 17, TAG_DATA = 18 };
#define CHUNK (16 << 20)
/* The exit status of every process when a rank cannot go on (MPI_Abort). */
#define ABORT_STATUS 1

static void note(const ep_sweep_mpi_ops *ops, int error, const char *fmt, ...) EP_PRINTF(3, 4);

/* Passes one line to the caller's on_note. */
static void
note(const ep_sweep_mpi_ops *ops, int error, const char *fmt, ...)
{
    if (!ops->on_note)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ops->on_note(ops->arg, error, msg);
}

/* Sends the database file at path (or nothing when it cannot be read) to rank 0. */
static void
ship(const char *path, int64_t ok_runs)
{
    int64_t head[2] = {0, ok_runs};
    FILE *f = ok_runs > 0 ? fopen(path, "rb") : NULL;
    if (f && fseek(f, 0, SEEK_END) == 0) {
        long sz = ftell(f);
        head[0] = sz > 0 ? sz : 0;
        rewind(f);
    }
    char *buf = head[0] ? malloc(CHUNK) : NULL;
    if (head[0] && !buf)
        head[0] = 0;
    MPI_Send(head, 2, MPI_INT64_T, 0, TAG_HEAD, MPI_COMM_WORLD);
    for (int64_t left = head[0]; left > 0;) {
        int n = left < CHUNK ? (int)left : CHUNK;
        /* A short read still sends n bytes, so the receiver never waits forever; the
         * merge then fails on the damaged file and those runs count as failed. */
        if (fread(buf, 1, (size_t)n, f) != (size_t)n)
            memset(buf, 0, (size_t)n);
        MPI_Send(buf, n, MPI_BYTE, 0, TAG_DATA, MPI_COMM_WORLD);
        left -= n;
    }
    free(buf);
    if (f)
        fclose(f);
}

/* Receives rank src's database into tmp and merges it into out. Returns the runs of src
 * that are lost (0 when merged). */
static int64_t
gather(const ep_sweep_mpi_ops *ops, int src, const char *out, const char *tmp)
{
    int64_t head[2];
    MPI_Recv(head, 2, MPI_INT64_T, src, TAG_HEAD, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (head[0] == 0)
        return head[1];
    FILE *f = fopen(tmp, "wb");
    char *buf = malloc(CHUNK);
    if (!buf) {
        note(ops, 1, "sweep: out of memory receiving rank %d's runs", src);
        MPI_Abort(MPI_COMM_WORLD, ABORT_STATUS);
    }
    int bad = !f;
    for (int64_t left = head[0]; left > 0;) {
        int n = left < CHUNK ? (int)left : CHUNK;
        MPI_Recv(buf, n, MPI_BYTE, src, TAG_DATA, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (!bad && fwrite(buf, 1, (size_t)n, f) != (size_t)n)
            bad = 1;
        left -= n;
    }
    free(buf);
    if (f && fclose(f) != 0)
        bad = 1;
    int64_t lost = head[1];
    ep_results *res = NULL;
    char msg[512] = "";
    int64_t added = 0, skipped = 0;
    if (bad) {
        note(ops, 1, "sweep: rank %d: cannot write %s: %s", src, tmp, strerror(errno));
    } else if (ep_results_open(out, &res, msg, sizeof msg)) {
        note(ops, 1, "sweep: %s", msg);
    } else if (ep_results_merge(res, tmp, &added, &skipped)) {
        note(ops, 1, "sweep: merging rank %d's runs into %s: %s", src, out, ep_results_errmsg(res));
    } else {
        lost = 0;
        note(ops, 0, "sweep: merged %lld runs of rank %d (%lld already present)", (long long)added,
             src, (long long)skipped);
    }
    ep_results_close(res);
    remove(tmp);
    return lost;
}

int
ep_sweep_mpi_run(const ep_sweep_mpi_ops *ops, const char *out, int jobs, int dry_run,
                 ep_sweep_mpi_info *info)
{
    memset(info, 0, sizeof *info);
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        note(ops, 1, "sweep: --mpi: MPI_Init failed");
        return EP_EIO;
    }
    int rank, size, st = 0, any = 0, rc = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    info->rank = rank;
    info->size = size;
    ep_scenario sc;
    ep_sweep_ctx ctx;
    ep_sweep_plan plan;
    int *todo = NULL, *mine = NULL, ntodo = 0, nmine = 0, have = 0;
    char err[1024];
    /* Rank 0 prepares the traces; the others then find them (or, on a host without the
     * trace database, generate the same ones). */
    if (rank == 0)
        st = ops->setup(ops->arg, rank, &sc, &ctx, &plan);
    MPI_Bcast(&st, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (st)
        goto setup_failed;
    if (rank != 0)
        st = ops->setup(ops->arg, rank, &sc, &ctx, &plan);
    have = st == 0;
    MPI_Allreduce(&st, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if ((st = any) != 0)
        goto setup_failed;
    if (rank == 0) {
        rc = ep_sweep_todo(out, &plan, dry_run, &todo, &ntodo, err, sizeof err);
        if (rc)
            note(ops, 1, "%s", err);
        else if (!dry_run && jobs > 1 && ep_sweep_journal(out, 1, err, sizeof err))
            note(ops, 1, "sweep: %s: cannot switch to WAL (%s); continuing", out, err);
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rc)
        goto done;
    MPI_Bcast(&ntodo, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rank != 0 && !(todo = malloc((size_t)(ntodo ? ntodo : 1) * sizeof *todo))) {
        note(ops, 1, "sweep: out of memory");
        MPI_Abort(MPI_COMM_WORLD, ABORT_STATUS);
    }
    if (ntodo > 0)
        MPI_Bcast(todo, ntodo, MPI_INT, 0, MPI_COMM_WORLD);
    info->planned = plan.n;
    info->todo = ntodo;
    if (dry_run)
        goto done;
    if (!(mine = malloc((size_t)(ntodo ? ntodo : 1) * sizeof *mine))) {
        note(ops, 1, "sweep: out of memory");
        MPI_Abort(MPI_COMM_WORLD, ABORT_STATUS);
    }
    for (int i = rank; i < ntodo; i += size)
        mine[nmine++] = todo[i];
    info->mine = nmine;
    char tmp[4096];
    if (rank != 0) {
        const char *dir = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/epara-sweep-%ld-rank%d.db", dir && *dir ? dir : "/tmp",
                 (long)getpid(), rank);
        remove(tmp);
        ctx.out = tmp;
    }
    if (ops->on_start)
        ops->on_start(ops->arg, info);
    int failed = ep_sweep_exec(&ctx, &plan, mine, nmine, jobs, &ops->hooks, err, sizeof err);
    if (failed < 0) {
        note(ops, 1, "%s", err);
        failed = nmine;
    }
    if (ops->on_end)
        ops->on_end(ops->arg, info);
    int64_t lost = 0, nfailed = failed, total_failed = 0;
    if (rank != 0) {
        ship(tmp, nmine - failed);
        remove(tmp);
    } else {
        snprintf(tmp, sizeof tmp, "%s.rank-merge.tmp", out);
        for (int r = 1; r < size; r++)
            lost += gather(ops, r, out, tmp);
        ep_sweep_journal(out, 0, err, sizeof err);
    }
    nfailed += lost;
    MPI_Allreduce(&nfailed, &total_failed, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    info->failed = total_failed;
    goto done;
setup_failed:
    info->setup_status = st;
    rc = EP_ECANCELED;
done:
    free(todo);
    free(mine);
    if (have) {
        ep_sweep_plan_fini(&plan);
        ep_scenario_fini(&sc);
    }
    MPI_Finalize();
    return rc;
}
