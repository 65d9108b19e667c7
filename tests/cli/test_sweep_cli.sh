#!/usr/bin/env bash
# End-to-end tests of `epara sweep`, `epara report` and `epara plot`: grid and option errors
# exit 2; a 2 policies x 2 rate scales sweep with -j 2 stores 4 runs with their parameters
# and provenance; a rerun resumes with nothing to do; report writes every CSV with the
# expected header and row counts; plot writes every figure non-empty (skipped without
# gnuplot); --mpi exits 2 when MPI is not built in; the SLO scale (sim, maxrate, sweep grid)
# tightens attainment and is recorded in the options, keys and report.
# Usage: test_sweep_cli.sh EPARA [SHARED_DIR]
set -u
EPARA=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
export EP_SHARED_DIR=$T/nothing # generated traces: hermetic and fast

# Bad grids and options: exit 2 with a message naming the problem.
expect2() {
    local what=$1
    shift
    "$EPARA" sweep "$@" >"$T/o" 2>"$T/e"
    local rc=$?
    [ $rc -eq 2 ] && [ -s "$T/e" ] && ok || { bad "$what: exit $rc"; cat "$T/e"; }
}
base=(--policies static --out "$T/x.db" --trace-db "$T/tr.db" --quiet)
expect2 "unknown dimension" "${base[@]}" --grid 'colour=1|2'
expect2 "missing =" "${base[@]}" --grid 'rate_scale'
expect2 "bad range" "${base[@]}" --grid 'rate_scale=4:1:0.5'
expect2 "zero step" "${base[@]}" --grid 'rate_scale=1:2:0'
expect2 "range of two numbers" "${base[@]}" --grid 'rate_scale=1:2'
expect2 "non-numeric rate" "${base[@]}" --grid 'rate_scale=fast|slow'
expect2 "fractional seed" "${base[@]}" --grid 'seed=1.5'
expect2 "reversed integer range" "${base[@]}" --grid 'seed=3..1'
expect2 "duplicate dimension" "${base[@]}" --grid 'seed=1,seed=2'
expect2 "duplicate value" "${base[@]}" --grid 'seed=1|1'
expect2 "empty value" "${base[@]}" --grid 'param.mt=0||1'
expect2 "empty dimension" "${base[@]}" --grid 'seed=1,,rate_scale=2'
expect2 "param without key" "${base[@]}" --grid 'param.=1'
expect2 "rate out of range" "${base[@]}" --grid 'rate_scale=0'
expect2 "unknown policy" --policies static,nope --out "$T/x.db" --quiet
expect2 "duplicate policy" --policies static,static --out "$T/x.db" --quiet
expect2 "missing --out" --policies static --quiet
expect2 "missing --policies" --out "$T/x.db" --quiet
expect2 "bad -j" "${base[@]}" -j 0
grep -q "unknown dimension 'colour'" <("$EPARA" sweep "${base[@]}" --grid 'colour=1' 2>&1) && ok ||
    bad "unknown dimension message"
# Policy parameters are checked for every policy and grid value before anything runs.
expect2 "param a policy does not declare" --policies epara,static --grid 'param.mt=0|1' --out "$T/x.db" \
    --trace-db "$T/tr.db" --quiet
grep -q "^epara: --grid: unknown policy parameter 'mt' for policy static (accepted: oracle)$" "$T/e" && ok ||
    { bad "param unknown to static: message"; cat "$T/e"; }
expect2 "param value outside its domain" --policies epara --grid 'rate_scale=1|2,param.forward=0|2' \
    --out "$T/x.db" --trace-db "$T/tr.db" --quiet
grep -q "^epara: --grid: policy parameter forward=2 for policy epara: not a whole number in \[0, 1\]$" "$T/e" &&
    ok || { bad "param out of its domain: message"; cat "$T/e"; }
expect2 "unknown param key, the bound too" --policies bound --grid 'param.forwad=0' --out "$T/x.db" \
    --trace-db "$T/tr.db" --quiet
grep -q "unknown policy parameter 'forwad' for policy bound (accepted: oracle)" "$T/e" && ok ||
    { bad "bound: unknown param message"; cat "$T/e"; }
[ ! -e "$T/x.db" ] && ok || bad "a rejected sweep created its results database"
"$EPARA" sweep --help | grep -q 'usage: epara sweep' && ok || bad "sweep --help"

# The plan: cross product, dry run lists it without running.
"$EPARA" sweep --policies static,epara --grid 'rate_scale=0.5:1:0.25,seed=1..2,param.oracle=0|1' \
    --duration 20 --trace-db "$T/tr.db" --out "$T/dry.db" --dry-run --quiet >"$T/dry.txt" 2>"$T/dry.err"
[ "$(grep -c '^todo ' "$T/dry.txt")" = 24 ] && ok || { bad "dry run plans 2x3x2x2 = 24 runs"; cat "$T/dry.txt" "$T/dry.err"; }
grep -q '^todo epara x0.75 seed 2 duration 20 oracle=1$' "$T/dry.txt" && ok || bad "dry run line format"
[ ! -e "$T/dry.db" ] && ok || bad "a dry run created the results database"

# A tiny sweep: 2 policies x 2 rate scales, 2 workers.
"$EPARA" sweep --policies static,epara --grid 'rate_scale=1|2' --duration 20 -j 2 \
    --trace-db "$T/tr.db" --out "$T/res.db" --records >"$T/s1.out" 2>"$T/s1.err"
rc=$?
[ $rc -eq 0 ] && ok || { bad "sweep exit $rc"; cat "$T/s1.err"; }
grep -q 'sweep: 4 runs: 4 run, 0 already stored, 0 failed' "$T/s1.out" && ok ||
    { bad "sweep summary"; cat "$T/s1.out"; }
grep -q 'sweep: 4/4 ' "$T/s1.err" && ok || { bad "per-run progress lines off a terminal"; cat "$T/s1.err"; }
"$EPARA" sweep --policies static,epara --grid 'rate_scale=1|2|3' --duration 20 --trace-db "$T/tr.db" \
    --out "$T/res.db" --dry-run --quiet >"$T/dry2.txt" 2>&1
[ "$(grep -c '^done ' "$T/dry2.txt")" = 4 ] && [ "$(grep -c '^todo ' "$T/dry2.txt")" = 2 ] && ok ||
    { bad "dry run marks stored runs done"; cat "$T/dry2.txt"; }
if command -v sqlite3 >/dev/null; then
    q() { sqlite3 "$T/res.db" "$1"; }
    [ "$(q 'SELECT count(*) FROM runs')" = 4 ] && ok || bad "4 runs stored"
    [ "$(q 'SELECT count(DISTINCT sweep_key) FROM runs')" = 4 ] && ok || bad "4 distinct sweep keys"
    [ "$(q "SELECT group_concat(policy || ':' || rate_scale, ' ') FROM (SELECT * FROM runs ORDER BY policy, rate_scale)")" = \
        "epara:1.0 epara:2.0 static:1.0 static:2.0" ] && ok || bad "runs are the cross product"
    [ "$(q "SELECT count(*) FROM runs WHERE git_rev <> '' AND host <> '' AND seed = 1 AND duration_s = 20 AND scenario_text <> '' AND options LIKE '%\"rate_scale\":%'")" = 4 ] &&
        ok || bad "each run records its parameters and provenance"
    [ "$(q 'SELECT count(DISTINCT run_id) FROM records')" = 4 ] && ok || bad "records of every run"
    [ "$(q 'PRAGMA journal_mode')" = delete ] && ok || bad "database left in rollback-journal mode"
fi

# Resume: the same sweep has nothing left to do; a wider grid runs only the new points.
"$EPARA" sweep --policies static,epara --grid 'rate_scale=1|2' --duration 20 -j 2 \
    --trace-db "$T/tr.db" --out "$T/res.db" --records --quiet >"$T/s2.out" 2>&1
grep -q 'sweep: 4 runs: 0 run, 4 already stored, 0 failed' "$T/s2.out" && ok ||
    { bad "rerun resumes with 0 new runs"; cat "$T/s2.out"; }
"$EPARA" sweep --policies static,epara,bound --grid 'rate_scale=1|2' --duration 20 -j 2 \
    --trace-db "$T/tr.db" --out "$T/res.db" --records --quiet >"$T/s3.out" 2>&1
grep -q 'sweep: 6 runs: 2 run, 4 already stored, 0 failed' "$T/s3.out" && ok ||
    { bad "adding the bound runs only its 2 runs"; cat "$T/s3.out"; }
command -v sqlite3 >/dev/null && { [ "$(sqlite3 "$T/res.db" 'SELECT count(*) FROM runs')" = 6 ] && ok || bad "6 runs after resume"; }

# Report: every CSV with its header and row count.
"$EPARA" report --db "$T/res.db" --csv "$T/csv" >"$T/r.out" 2>&1 && ok || { bad "report"; cat "$T/r.out"; }
rows() { echo $(($(wc -l <"$T/csv/$1") - 1)); }
hdr() { head -1 "$T/csv/$1"; }
hdr runs.csv | grep -q '^run_id,scenario,policy,rate_scale,seed,duration_s,slo_scale,goodput_per_s,slo_attainment,p50_latency_s,p99_latency_s,requests,completed,rejected,dropped,unfinished,params,series$' &&
    ok || bad "runs.csv header: $(hdr runs.csv)"
[ "$(rows runs.csv)" = 6 ] && ok || bad "runs.csv has 6 rows"
nsvc=$(grep -o '"name":"[^"]*","kind"' <("$EPARA" sim --duration 5 --trace-db "$T/tr.db" --json --quiet) | wc -l)
hdr services.csv | grep -q '^run_id,policy,rate_scale,seed,service,kind,sensitivity,' && ok || bad "services.csv header"
[ "$(rows services.csv)" = $((6 * nsvc)) ] && ok || bad "services.csv: $(rows services.csv) rows, want 6 x $nsvc"
hdr devices.csv | grep -q '^run_id,policy,rate_scale,seed,device,node,spec,busy_s,utilization$' && ok || bad "devices.csv header"
[ "$(rows devices.csv)" -ge 6 ] && [ $(($(rows devices.csv) % 6)) = 0 ] && ok || bad "devices.csv rows $(rows devices.csv)"
hdr placements.csv | grep -q '^run_id,policy,rate_scale,seed,placements,' && ok || bad "placements.csv header"
[ "$(rows placements.csv)" = 6 ] && ok || bad "placements.csv rows"
[ "$(hdr goodput_vs_rate.csv)" = "rate_scale,static,epara,bound" ] && ok || bad "goodput_vs_rate.csv header: $(hdr goodput_vs_rate.csv)"
[ "$(rows goodput_vs_rate.csv)" = 2 ] && ok || bad "goodput_vs_rate.csv rows"
[ "$(hdr attainment_vs_rate.csv)" = "rate_scale,static,epara,bound" ] && ok || bad "attainment_vs_rate.csv header"
[ "$(hdr latency_cdf.csv)" = "percentile,static,epara" ] && ok ||
    bad "latency_cdf.csv header (the bound has no records): $(hdr latency_cdf.csv)"
[ "$(rows latency_cdf.csv)" = 99 ] && ok || bad "latency_cdf.csv has 99 percentiles"
awk -F, 'NR > 2 && $2 < prev { exit 1 } { prev = $2 }' "$T/csv/latency_cdf.csv" && ok || bad "latency quantiles ascend"
[ "$(hdr utilization.csv)" = "device,static,epara,bound" ] && ok || bad "utilization.csv header"
[ "$(rows utilization.csv)" -ge 1 ] && ok || bad "utilization.csv rows"
[ "$(hdr ablation.csv)" = "variant,goodput_per_s,max_rate" ] && ok || bad "ablation.csv header"
[ "$(rows ablation.csv)" = 1 ] && grep -q '^all on,' "$T/csv/ablation.csv" && ok || bad "ablation.csv: one epara variant"
"$EPARA" report --db "$T/missing.db" --csv "$T/csv2" >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "report on a missing database exits 2"
"$EPARA" report --db "$T/res.db" >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "report without --csv exits 2"

hdr_of() { head -1 "$1"; }

# The SLO scale: --slo-scale for sim and maxrate, grid dimension slo_scale for sweep.
expect2 "slo_scale out of range" "${base[@]}" --grid 'slo_scale=0'
expect2 "slo_scale not a number" "${base[@]}" --grid 'slo_scale=tight'
"$EPARA" sim --slo-scale 0 --quiet >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "sim --slo-scale 0 exits 2"
"$EPARA" maxrate --policy static --slo-scale 1e9 --quiet >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "maxrate --slo-scale 1e9 exits 2"
att() { "$EPARA" sim --policy static --duration 20 --trace-db "$T/tr.db" --json --quiet "$@" |
    grep -o '"slo_attainment":[^,]*' | head -1 | cut -d: -f2; }
a_tight=$(att --slo-scale 0.25) a_one=$(att) a_loose=$(att --slo-scale 1)
awk -v t="$a_tight" -v o="$a_one" 'BEGIN { exit !(t < o) }' && ok ||
    bad "a tighter SLO lowers attainment: x0.25 $a_tight, x1 $a_one"
[ "$a_loose" = "$a_one" ] && ok || bad "--slo-scale 1 changes nothing: $a_loose vs $a_one"
"$EPARA" sim --policy static --duration 20 --slo-scale 0.5 --param oracle=0 --trace-db "$T/tr.db" \
    --out "$T/slo-sim.db" --quiet >/dev/null && ok || bad "sim --slo-scale --out"
"$EPARA" maxrate --policy static --slo-scale 2 --duration 20 --max-scale 8 --tol 0.2 \
    --trace-db "$T/tr.db" --json --quiet 2>/dev/null | grep -q '"slo_scale":2,' && ok ||
    bad "maxrate --json names the SLO scale"
"$EPARA" sweep --policies static --grid 'slo_scale=0.25|1,seed=1' --duration 20 --trace-db "$T/tr.db" \
    --out "$T/slo.db" --dry-run --quiet >"$T/slo-dry.txt" 2>&1
grep -q '^todo static x1 seed 1 duration 20 slo x0.25$' "$T/slo-dry.txt" &&
    grep -q '^todo static x1 seed 1 duration 20$' "$T/slo-dry.txt" && ok ||
    { bad "dry run names the SLO scale (only when not 1)"; cat "$T/slo-dry.txt"; }
# slo_scale=1 is the run without the dimension: the sweep above is already stored.
"$EPARA" sweep --policies static,epara --grid 'rate_scale=1|2,slo_scale=1' --duration 20 \
    --trace-db "$T/tr.db" --out "$T/res.db" --dry-run --quiet >"$T/slo-dry2.txt" 2>&1
[ "$(grep -c '^done ' "$T/slo-dry2.txt")" = 4 ] && ok ||
    { bad "slo_scale=1 runs match runs stored without it"; cat "$T/slo-dry2.txt"; }
"$EPARA" sweep --policies static --grid 'slo_scale=0.25|1' --duration 20 --trace-db "$T/tr.db" \
    --out "$T/slo.db" --quiet >/dev/null 2>&1 && ok || bad "slo_scale sweep"
"$EPARA" sim --policy static --duration 20 --slo-scale 0.5 --trace-db "$T/tr.db" --out "$T/slo.db" \
    --quiet >/dev/null 2>&1 && ok || bad "sim --slo-scale into the sweep's database"
"$EPARA" report --db "$T/slo.db" --csv "$T/slocsv" --quiet >/dev/null 2>&1 && ok || bad "report of slo runs"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { a[$c["slo_scale"]] = $c["slo_attainment"]; n++ }
    END { exit !(n == 3 && (0.25 in a) && (0.5 in a) && (1 in a) && a[0.25] < a[1]) }' \
    "$T/slocsv/runs.csv" && ok || { bad "runs.csv: slo_scale per run, tighter is lower"; cat "$T/slocsv/runs.csv"; }
[ "$(hdr_of "$T/slocsv/goodput_vs_rate.csv")" = "rate_scale,static slo x0.25,static slo x1,static slo x0.5" ] &&
    ok || bad "series name the SLO scale when it varies: $(hdr_of "$T/slocsv/goodput_vs_rate.csv")"
if command -v sqlite3 >/dev/null; then
    [ "$(sqlite3 "$T/slo-sim.db" "SELECT count(*) FROM runs WHERE options LIKE '%\"slo_scale\":0.5%' AND options LIKE '%\"params\":{\"oracle\":\"0\"}%'")" = 1 ] &&
        ok || bad "sim records the SLO scale and parameters in options: $(sqlite3 "$T/slo-sim.db" 'SELECT options FROM runs')"
    [ "$(sqlite3 "$T/slo.db" "SELECT count(*) FROM runs WHERE options LIKE '%\"slo_scale\":0.25%'")" = 1 ] &&
        [ "$(sqlite3 "$T/slo.db" "SELECT count(*) FROM runs WHERE options LIKE '%\"slo_scale\":1.0%' AND sweep_key NOT LIKE '%slo_scale%'")" = 1 ] &&
        [ "$(sqlite3 "$T/slo.db" "SELECT count(*) FROM runs WHERE sweep_key LIKE '%\"slo_scale\":0.25%'")" = 1 ] &&
        ok || bad "sweep options always name the SLO scale, keys only when not 1"
fi

# An ablation variant through a policy parameter.
"$EPARA" sweep --policies epara --grid 'rate_scale=1|2,param.forward=0' --duration 20 \
    --trace-db "$T/tr.db" --out "$T/res.db" --quiet >/dev/null 2>&1 && ok || bad "param sweep"
"$EPARA" report --db "$T/res.db" --csv "$T/csv" --quiet >/dev/null 2>&1
grep -q '^no forward,' "$T/csv/ablation.csv" && ok || bad "ablation.csv names the variant 'no forward'"
grep -q 'forward=0' "$T/csv/runs.csv" && ok || bad "runs.csv lists the parameter"

# Plot: every figure, non-empty.
if command -v gnuplot >/dev/null; then
    "$EPARA" plot --db "$T/res.db" --out "$T/fig" >"$T/p.out" 2>&1
    rc=$?
    [ $rc -eq 0 ] && ok || { bad "plot exit $rc"; cat "$T/p.out"; }
    for f in goodput_vs_rate attainment_vs_rate latency_cdf ablation utilization; do
        for e in png svg; do
            [ -s "$T/fig/$f.$e" ] && ok || bad "plot did not write $f.$e"
        done
    done
    grep -q "plot: wrote $T/fig/goodput_vs_rate.png" "$T/p.out" && ok || bad "plot lists the files written"
    EP_GNUPLOT=$T/no-gnuplot "$EPARA" plot --db "$T/res.db" --out "$T/fig2" >/dev/null 2>&1
    [ $? -eq 1 ] && ok || bad "plot without gnuplot exits 1"
    mkdir -p "$T/badplots"
    printf '# broken.gp\n# input:  runs.csv\n# output: broken.png, broken.svg\nplot nonsense(\n' \
        >"$T/badplots/broken.gp"
    "$EPARA" plot --db "$T/res.db" --out "$T/fig3" --plots "$T/badplots" >/dev/null 2>&1
    [ $? -eq 1 ] && ok || bad "a failing plot script makes plot exit 1"
else
    echo "gnuplot not found: skipping the plot checks"
fi

# --mpi without MPI support: a clear error, exit 2.
if "$EPARA" sweep --help | grep -q '^MPI: not built in'; then
    "$EPARA" sweep --mpi --policies static --out "$T/m.db" --quiet >/dev/null 2>"$T/m.err"
    [ $? -eq 2 ] && grep -q 'built without MPI' "$T/m.err" && ok || bad "--mpi without MPI exits 2"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
