#!/usr/bin/env bash
# `epara sweep --mpi` under `mpiexec -n 2`: rank 1's runs are shipped to rank 0 and merged,
# so the results database holds every run of the grid exactly once; a rerun resumes with
# nothing to do. Skips (77) when mpiexec is absent or epara was built without MPI.
# Usage: test_sweep_mpi.sh EPARA [SHARED_DIR]
set -u
EPARA=$1
command -v mpiexec >/dev/null || { echo "mpiexec not found: skipping"; exit 77; }
"$EPARA" sweep --help | grep -q '^MPI: built in' || { echo "epara built without MPI: skipping"; exit 77; }
command -v sqlite3 >/dev/null || { echo "sqlite3 not found: skipping"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export EP_SHARED_DIR=$T/nothing TMPDIR=$T
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# Some MPI launchers refuse to run as root without this (Open MPI); MPICH ignores it.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

args=(sweep --mpi --policies static,epara,bound --grid 'rate_scale=1|2,seed=1..2' --duration 20
      --trace-db "$T/tr.db" --out "$T/res.db")
timeout 300 mpiexec -n 2 "$EPARA" "${args[@]}" --records >"$T/a.out" 2>"$T/a.err"
rc=$?
[ $rc -eq 0 ] && ok || { bad "mpiexec sweep exit $rc"; cat "$T/a.out" "$T/a.err"; }
grep -q 'sweep: 12 runs over 2 ranks: 12 run, 0 already stored, 0 failed' "$T/a.out" && ok ||
    { bad "summary"; cat "$T/a.out"; }
grep -q 'merged 6 runs of rank 1' "$T/a.err" && ok || { bad "rank 1's runs merged"; cat "$T/a.err"; }
q() { sqlite3 "$T/res.db" "$1"; }
[ "$(q 'SELECT count(*) FROM runs')" = 12 ] && ok || bad "12 runs stored ($(q 'SELECT count(*) FROM runs'))"
[ "$(q 'SELECT count(DISTINCT sweep_key) FROM runs')" = 12 ] && ok || bad "every run exactly once"
[ "$(q "SELECT count(*) FROM (SELECT policy, rate_scale, seed FROM runs GROUP BY 1, 2, 3)")" = 12 ] &&
    ok || bad "runs are the cross product 3 x 2 x 2"
# Per-run breakdowns and records travel with the merged runs (the bound has no records).
[ "$(q 'SELECT count(DISTINCT run_id) FROM run_services')" = 12 ] && ok || bad "services of every run"
[ "$(q 'SELECT count(DISTINCT run_id) FROM records')" = 8 ] && ok || bad "records of the 8 simulated runs"
[ "$(q 'SELECT count(*) FROM records r WHERE NOT EXISTS (SELECT 1 FROM runs WHERE id = r.run_id)')" = 0 ] &&
    ok || bad "no orphan records"
ls "$T"/epara-sweep-* >/dev/null 2>&1 && bad "temporary rank databases left behind" || ok

timeout 300 mpiexec -n 2 "$EPARA" "${args[@]}" --quiet >"$T/b.out" 2>"$T/b.err"
grep -q 'sweep: 12 runs over 2 ranks: 0 run, 12 already stored, 0 failed' "$T/b.out" && ok ||
    { bad "rerun resumes with 0 new runs"; cat "$T/b.out" "$T/b.err"; }
[ "$(q 'SELECT count(*) FROM runs')" = 12 ] && ok || bad "still 12 runs after the rerun"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
