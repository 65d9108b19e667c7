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
pc='[0-9]+\.[0-9]% completed; [0-9]+\.[0-9]% met SLO'
hdr latency_cdf.csv | grep -Eq "^percentile,static at x1 \($pc\),epara at x1 \($pc\)$" && ok ||
    bad "latency_cdf.csv header (series at their rate with shares; the bound has no latencies): $(hdr latency_cdf.csv)"
[ "$(rows latency_cdf.csv)" = 99 ] && ok || bad "latency_cdf.csv has 99 percentiles"
awk -F, 'NR > 2 && $2 != "" && $2 < prev { exit 1 } $2 != "" { prev = $2 }' "$T/csv/latency_cdf.csv" &&
    ok || bad "latency quantiles ascend"
[ "$(hdr utilization.csv)" = "device,static,epara" ] && ok ||
    bad "utilization.csv header (no bound: a fluid LP busies no device): $(hdr utilization.csv)"
[ "$(rows utilization.csv)" -ge 1 ] && ok || bad "utilization.csv rows"
[ "$(hdr max_rate.csv)" = "series,max_rate,last_met,first_missed,goodput_at_max,method" ] && ok ||
    bad "max_rate.csv header: $(hdr max_rate.csv)"
[ "$(cut -d, -f1 "$T/csv/max_rate.csv" | tail -n +2 | tr '\n' ' ')" = "static epara bound " ] && ok ||
    bad "max_rate.csv: a row per series, in the column order"
hdr per_category.csv | grep -q '^category,static,epara,bound$' && ok || bad "per_category.csv header: $(hdr per_category.csv)"
grep -Eq '^frequency/single \([0-9.]+%\),' "$T/csv/per_category.csv" && ok ||
    bad "per_category.csv names the camera frames' category with its share"
[ "$(rows per_service.csv)" = "$nsvc" ] && grep -q '^llama-13b (latency/multi),' "$T/csv/per_service.csv" && ok ||
    { bad "per_service.csv: a row per service with EPARA's category"; cat "$T/csv/per_service.csv"; }
[ "$(hdr idle_devices.csv)" = "device,spec,reason" ] && ok || bad "idle_devices.csv header"
grep -q '^rpi-1/rpi5,rpi5,"no service meets its SLO on rpi5 even alone at batch 1' "$T/csv/idle_devices.csv" &&
    ok || { bad "idle_devices.csv says why the Raspberry Pis idle"; cat "$T/csv/idle_devices.csv"; }
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

# Latency CDFs without records: every sweep run keeps a latency histogram of its window in
# its summary, and the CDF covers ALL requests: a column stops at the share that completed.
"$EPARA" sweep --policies adainf,bound --grid 'rate_scale=16' --duration 20 --trace-db "$T/tr.db" \
    --out "$T/miss.db" --quiet >/dev/null 2>&1 && ok || bad "sweep at x16"
"$EPARA" report --db "$T/miss.db" --csv "$T/miss" --rate 16 --quiet >/dev/null 2>&1 && ok ||
    bad "report of the x16 sweep"
read -r req comp <<<"$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    $c["policy"] == "adainf" { print $c["requests"], $c["completed"] }' "$T/miss/runs.csv")"
[ -n "$comp" ] && [ "$comp" -lt "$req" ] && ok || bad "adainf at x16 leaves requests uncompleted ($comp of $req)"
filled=$(awk -F, 'NR > 1 && $2 != "" { n++ } END { print n + 0 }' "$T/miss/latency_cdf.csv")
want=$(awk -v r="$req" -v c="$comp" 'BEGIN { w = int(100 * c / r); print (w > 99 ? 99 : w) }')
[ "$filled" = "$want" ] && ok ||
    bad "latency_cdf.csv: $filled percentiles filled, want $want (completed $comp of $req)"
share=$(awk -v r="$req" -v c="$comp" 'BEGIN { printf "%.1f", 100 * c / r }')
hdr_of "$T/miss/latency_cdf.csv" | grep -q "^percentile,adainf at x16 ($share% completed; " && ok ||
    bad "latency_cdf.csv names the share completed ($share%): $(hdr_of "$T/miss/latency_cdf.csv")"
if command -v sqlite3 >/dev/null; then
    [ "$(sqlite3 "$T/miss.db" 'SELECT count(*) FROM records')" = 0 ] && ok || bad "no records without --records"
    [ "$(sqlite3 "$T/miss.db" "SELECT group_concat(policy) FROM runs WHERE summary LIKE '%\"latency_hist\":{%'")" = adainf ] &&
        ok || bad "each policy run (not the bound) stores a latency histogram in its summary"
fi
# epara sim --out stores the histogram too; --json does not print it.
"$EPARA" sim --policy static --duration 20 --trace-db "$T/tr.db" --out "$T/simh.db" --json --quiet \
    >"$T/simh.json" 2>/dev/null && ok || bad "sim --out"
! grep -q latency_hist "$T/simh.json" && ok || bad "sim --json prints the latency histogram"
"$EPARA" report --db "$T/simh.db" --csv "$T/simh" --quiet >/dev/null 2>&1
[ "$(awk -F, 'NR > 1 && $2 != "" { n++ } END { print n + 0 }' "$T/simh/latency_cdf.csv")" -gt 90 ] && ok ||
    bad "a latency CDF from a sim --out run without records"

# epara maxrate --out: the bisection is stored and the report prefers it to interpolating.
mr=$("$EPARA" maxrate --policy static --duration 20 --tol 0.2 --max-scale 64 --trace-db "$T/tr.db" \
    --out "$T/res.db" --json --quiet 2>/dev/null | grep -o '"max_rate_scale":[0-9.e+-]*' | cut -d: -f2)
[ -n "$mr" ] && ok || bad "maxrate --out --json"
if command -v sqlite3 >/dev/null; then
    row=$(sqlite3 "$T/res.db" "SELECT policy, metric, attainment_target, runs > 0,
        bracket_lo = max_rate_scale AND bracket_hi > bracket_lo, attainment >= 0.9
        FROM max_rates WHERE policy = 'static'")
    [ "$row" = "static|overall|0.9|1|1|1" ] && ok || bad "max_rates row: $row"
fi
"$EPARA" report --db "$T/res.db" --csv "$T/csv" --quiet >/dev/null 2>&1
awk -F, -v mr="$mr" '$1 == "static" { found = ($6 == "maxrate" && ($2 - mr) ^ 2 < 1e-6 * mr * mr) }
    END { exit !found }' "$T/csv/max_rate.csv" && ok ||
    { bad "max_rate.csv: static's row is the stored bisection (x$mr)"; cat "$T/csv/max_rate.csv"; }
awk -F, '$1 == "epara" { found = $6 == "interpolated" } END { exit !found }' "$T/csv/max_rate.csv" && ok ||
    bad "max_rate.csv: epara (no stored bisection) is interpolated"

# Plot: every figure, non-empty.
if command -v gnuplot >/dev/null; then
    "$EPARA" plot --db "$T/res.db" --out "$T/fig" >"$T/p.out" 2>&1
    rc=$?
    [ $rc -eq 0 ] && ok || { bad "plot exit $rc"; cat "$T/p.out"; }
    for f in goodput_vs_rate attainment_vs_rate latency_cdf ablation utilization per_category; do
        for e in png svg; do
            [ -s "$T/fig/$f.$e" ] && ok || bad "plot did not write $f.$e"
        done
    done
    grep -q "plot: wrote $T/fig/goodput_vs_rate.png" "$T/p.out" && ok || bad "plot lists the files written"
    grep -q 'at rate scale x1' "$T/fig/latency_cdf.svg" && ok || bad "latency_cdf names its rate scale"
    grep -q 'no service meets its SLO on rpi5' "$T/fig/utilization.svg" && ok ||
        bad "utilization says why the Raspberry Pis idle"
    grep -q '>x[0-9.]*<' "$T/fig/attainment_vs_rate.svg" && ok || bad "attainment_vs_rate labels a max rate"
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
