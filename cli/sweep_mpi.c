/* `epara sweep --mpi` (built only when CMake finds MPI): rank 0 prepares the traces, plans
 * and finds what is left to run; every rank runs a disjoint slice (entry i goes to rank
 * i mod size) with its own -j workers. Rank 0 stores into the results database directly;
 * other ranks store into a private temporary database which they send whole to rank 0
 * (no shared filesystem needed for results), and rank 0 merges it by sweep key. */
#include <errno.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "epara/scenario.h"
#include "sweep.h"
#include "util.h"

enum { TAG_HEAD = 17, TAG_DATA = 18 };
#define CHUNK (16 << 20)

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
gather(int src, const char *out, const char *tmp, int quiet)
{
    int64_t head[2];
    MPI_Recv(head, 2, MPI_INT64_T, src, TAG_HEAD, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (head[0] == 0)
        return head[1];
    FILE *f = fopen(tmp, "wb");
    char *buf = malloc(CHUNK);
    if (!buf) {
        cli_err("sweep: out of memory receiving rank %d's runs", src);
        MPI_Abort(MPI_COMM_WORLD, EXIT_FAIL);
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
        cli_err("sweep: rank %d: cannot write %s: %s", src, tmp, strerror(errno));
    } else if (ep_results_open(out, &res, msg, sizeof msg)) {
        cli_err("sweep: %s", msg);
    } else if (ep_results_merge(res, tmp, &added, &skipped)) {
        cli_err("sweep: merging rank %d's runs into %s: %s", src, out, ep_results_errmsg(res));
    } else {
        lost = 0;
        if (!quiet)
            fprintf(stderr, "sweep: merged %lld runs of rank %d (%lld already present)\n",
                    (long long)added, src, (long long)skipped);
    }
    ep_results_close(res);
    remove(tmp);
    return lost;
}

int
sweep_mpi_main(const sweep_opts *o)
{
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        cli_err("sweep: --mpi: MPI_Init failed");
        return EXIT_FAIL;
    }
    int rank, size, rc = EXIT_OK, any;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    ep_scenario sc;
    sweep_ctx ctx;
    sweep_plan plan;
    int *todo = NULL, *mine = NULL, ntodo = 0, nmine = 0, have = 0;
    /* Rank 0 prepares the traces; the others then find them (or, on a host without the
     * trace database, generate the same ones). */
    if (rank == 0)
        rc = sweep_setup(o, o->quiet, &sc, &ctx, &plan);
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rc)
        goto out;
    if (rank != 0)
        rc = sweep_setup(o, 1, &sc, &ctx, &plan);
    have = rc == 0;
    MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if ((rc = any) != 0)
        goto out;
    if (rank == 0)
        rc = sweep_todo(o->out, &plan, !o->dry_run && o->jobs > 1, o->dry_run, &todo, &ntodo);
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rc)
        goto out;
    MPI_Bcast(&ntodo, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rank != 0 && !(todo = malloc((size_t)(ntodo ? ntodo : 1) * sizeof *todo))) {
        cli_err("sweep: out of memory");
        MPI_Abort(MPI_COMM_WORLD, EXIT_FAIL);
    }
    if (ntodo > 0)
        MPI_Bcast(todo, ntodo, MPI_INT, 0, MPI_COMM_WORLD);
    if (o->dry_run) {
        if (rank == 0)
            printf("sweep: %d runs planned, %d already stored, %d to run over %d ranks\n", plan.n,
                   plan.n - ntodo, ntodo, size);
        goto out;
    }
    if (!(mine = malloc((size_t)(ntodo ? ntodo : 1) * sizeof *mine))) {
        cli_err("sweep: out of memory");
        MPI_Abort(MPI_COMM_WORLD, EXIT_FAIL);
    }
    for (int i = rank; i < ntodo; i += size)
        mine[nmine++] = todo[i];
    char tmp[4096], label[64];
    if (rank != 0) {
        const char *dir = getenv("TMPDIR");
        snprintf(tmp, sizeof tmp, "%s/epara-sweep-%ld-rank%d.db", dir && *dir ? dir : "/tmp",
                 (long)getpid(), rank);
        remove(tmp);
        ctx.out = tmp;
    }
    if (rank == 0 && !o->quiet)
        fprintf(stderr, "sweep: %d runs planned; %d already in %s, %d to run over %d ranks\n",
                plan.n, plan.n - ntodo, o->out, ntodo, size);
    snprintf(label, sizeof label, "sweep rank %d", rank);
    sweep_progress pg;
    sweep_progress_init(&pg, nmine, rank != 0 || o->quiet, label);
    int failed = sweep_exec(&ctx, &plan, mine, nmine, o->jobs, &pg);
    sweep_progress_end(&pg);
    if (failed < 0)
        failed = nmine;
    int64_t lost = 0, nfailed = failed, total_failed = 0;
    if (rank != 0) {
        ship(tmp, nmine - failed);
        remove(tmp);
    } else {
        snprintf(tmp, sizeof tmp, "%s.rank-merge.tmp", o->out);
        for (int r = 1; r < size; r++)
            lost += gather(r, o->out, tmp, o->quiet);
        sweep_settle(o->out);
    }
    nfailed += lost;
    MPI_Reduce(&nfailed, &total_failed, 1, MPI_INT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        printf("sweep: %d runs over %d ranks: %lld run, %d already stored, %lld failed in %.1f "
               "s; results in %s\n",
               plan.n, size, (long long)(ntodo - total_failed), plan.n - ntodo,
               (long long)total_failed, sweep_now() - pg.t0, o->out);
        rc = total_failed ? EXIT_FAIL : EXIT_OK;
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
out:
    free(todo);
    free(mine);
    if (have) {
        sweep_plan_fini(&plan);
        ep_scenario_fini(&sc);
    }
    MPI_Finalize();
    return rc;
}
