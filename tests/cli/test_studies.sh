#!/usr/bin/env bash
# Light end-to-end test of the study drivers (experiments/*/run): the shared helpers pivot
# and md_table compute what they say; experiments/goodput-vs-slo/run in its reduced mode
# (QUICK=1: every policy x 3 SLO scales, 30 s of generated workload) writes its CSV tables
# with the expected header, rows and values, a markdown table, its provenance and results
# database, and its figure (png and svg, non-empty); a rerun resumes with nothing to run.
# Exits 77 (skipped) after the other checks when gnuplot is absent.
# Usage: test_studies.sh EPARA [SHARED_DIR]
set -u
EPARA=$1
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
export EP_SHARED_DIR=$T/nothing # generated traces: hermetic and fast

# The helpers, on known input.
(
    . "$SRC/experiments/lib.sh"
    printf '1,b,2\n1,b,4\n1,a,\n2,a,1\n2,c,5\n' | pivot x a b >"$T/pivot.csv"
    md_table "$T/pivot.csv" %.1f "## T" >"$T/pivot.md"
)
[ "$(cat "$T/pivot.csv")" = "$(printf 'x,a,b,c\n1,,3,\n2,1,,5')" ] && ok ||
    { bad "pivot: means per (x, series), listed series first"; cat "$T/pivot.csv"; }
[ "$(sed -n 3,6p "$T/pivot.md")" = "$(printf '| x | a | b | c |\n|---|---:|---:|---:|\n| 1 |  | 3.0 |  |\n| 2 | 1.0 |  | 5.0 |')" ] &&
    ok || { bad "md_table"; cat "$T/pivot.md"; }

# One study in its reduced mode.
OUT=$T/slo
QUICK=1 OUT=$OUT EPARA=$EPARA JOBS=2 "$SRC/experiments/goodput-vs-slo/run" >"$T/o1" 2>"$T/e1"
rc=$?
[ $rc -eq 0 ] && ok || { bad "goodput-vs-slo exit $rc"; cat "$T/o1" "$T/e1"; }
pols=$("$EPARA" sim --list-policies | awk '{ print $1 }' | paste -sd, -)
for f in goodput_vs_slo attainment_vs_slo mean_attainment_vs_slo; do
    [ -s "$OUT/$f.csv" ] && ok || bad "$f.csv missing or empty"
    [ "$(head -1 "$OUT/$f.csv" 2>/dev/null)" = "slo_scale,$pols" ] && ok ||
        bad "$f.csv header: $(head -1 "$OUT/$f.csv" 2>/dev/null), want slo_scale,$pols"
    [ "$(cut -d, -f1 "$OUT/$f.csv" 2>/dev/null | tail -n +2 | paste -sd' ')" = "0.5 1 2" ] && ok ||
        bad "$f.csv rows: one per SLO scale, in order"
    # Every cell a number (no policy lacks a run).
    awk -F, 'NR > 1 { for (i = 2; i <= NF; i++) if ($i !~ /^[0-9.e+-]+$/) exit 1 } END { exit NR != 4 }' \
        "$OUT/$f.csv" 2>/dev/null && ok || { bad "$f.csv has empty or non-numeric cells"; cat "$OUT/$f.csv"; }
done
awk -F, 'NR > 1 { for (i = 2; i <= NF; i++) if ($i < 0 || $i > 1) exit 1 }' "$OUT/attainment_vs_slo.csv" 2>/dev/null &&
    ok || bad "attainment in [0, 1]"
# static has no policy-side adaptation: its attainment cannot rise as SLOs tighten.
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "static") s = i; next }
    { v[NR] = $s } END { exit !(s && v[2] <= v[3] && v[3] <= v[4]) }' "$OUT/attainment_vs_slo.csv" 2>/dev/null &&
    ok || { bad "static's attainment does not fall as the SLO loosens"; cat "$OUT/attainment_vs_slo.csv"; }
grep -q '^## Goodput (req/s) by SLO scale' "$OUT/table.md" 2>/dev/null && ok || bad "table.md"
grep -q '^grid: slo_scale=0.5|1|2,seed=1..1$' "$OUT/study.txt" 2>/dev/null &&
    grep -q '^elapsed: ' "$OUT/study.txt" && ok || bad "study.txt records the parameters"
grep -q "goodput-vs-slo: done in .* s; .*$OUT" "$T/o1" && ok || bad "the driver says where its outputs are"
if command -v sqlite3 >/dev/null; then
    [ "$(sqlite3 "$OUT/results.db" "SELECT count(*) FROM runs WHERE options LIKE '%\"slo_scale\":%'")" = \
        $((3 * $(echo "$pols" | tr ',' '\n' | wc -l))) ] && ok || bad "every run stored with its SLO scale"
fi
QUICK=1 OUT=$OUT EPARA=$EPARA JOBS=2 "$SRC/experiments/goodput-vs-slo/run" >"$T/o2" 2>"$T/e2"
grep -q 'sweep: [0-9]* runs: 0 run, [0-9]* already stored, 0 failed' "$T/o2" && ok ||
    { bad "a rerun resumes with nothing to run"; cat "$T/o2" "$T/e2"; }

if command -v gnuplot >/dev/null; then
    for e in png svg; do
        [ -s "$OUT/figures/goodput_vs_slo.$e" ] && ok || bad "figure goodput_vs_slo.$e missing or empty"
    done
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ]
else
    echo "$pass passed, $fail failed; gnuplot not found: figure checks skipped"
    [ $fail -eq 0 ] || exit 1
    exit 77
fi
