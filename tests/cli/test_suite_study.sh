#!/usr/bin/env bash
# End-to-end test of the scenario-suite study (experiments/suite/run) in its reduced mode
# (QUICK=1: three suite scenarios, every policy and the bound, both targets, 180 s of each
# workload, 10% brackets): the per-metric CSV tables have the expected header (scenario,
# epara, the baselines, bound, best baseline, its rate, EPARA / best, EPARA / bound) and one
# row per scenario, every number finite, the best baseline is the largest baseline and the
# ratios are EPARA's rate over it and over the bound; max_rates.csv holds every bisection,
# summary.csv a finite geometric mean per metric, table.md both tables. Then the zero cases
# on doctored results (--tables-only): no baseline ever meeting the target gives n/a and
# leaves the scenario out of the geometric mean, EPARA at 0 gives a ratio of 0, also left
# out, and a bound of 0 gives n/a for EPARA / bound. Exits 77 (skipped) after the other
# checks when gnuplot is absent (no figure).
# Usage: test_suite_study.sh EPARA [SHARED_DIR]
set -u
EPARA=$1
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# The production traces when present (as CI has them beside the clone), else generated.
export EP_SHARED_DIR=${2:-$T/nothing}

OUT=$T/q
QUICK=1 OUT=$OUT EPARA=$EPARA JOBS=2 "$SRC/experiments/suite/run" >"$T/o1" 2>"$T/e1"
rc=$?
[ $rc -eq 0 ] && ok || { bad "suite exit $rc"; cat "$T/o1" "$T/e1"; }

pols=$("$EPARA" sim --list-policies | awk '{ print $1 }')
order="epara $(echo "$pols" | grep -vx 'epara\|bound' | paste -sd' ') bound"
np=$(echo "$order" | wc -w)
want_head="scenario,$(echo "$order" | tr ' ' ','),best_baseline,best_baseline_rate,epara_over_best,epara_over_bound"
scens="llm-long-context code-bursty multi-device-70b"

# check_table FILE: header, rows, finite numbers, best baseline and ratios consistent.
check_table() {
    local f=$1
    [ -s "$f" ] && ok || { bad "$f missing or empty"; return; }
    [ "$(head -1 "$f")" = "$want_head" ] && ok || bad "$f header: $(head -1 "$f"), want $want_head"
    [ "$(tail -n +2 "$f" | cut -d, -f1 | paste -sd' ')" = "$scens" ] && ok ||
        bad "$f rows: one per QUICK scenario, in order"
    awk -F, -v np="$np" '
        function num(x) { return x ~ /^[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/ }
        NR == 1 { for (i = 2; i <= np + 1; i++) { name[i] = $i; base[i] = $i != "epara" && $i != "bound" } next }
        {
            if (NF != np + 5) { print "fields: " NF; exit 1 }
            best = 0
            for (i = 2; i <= np + 1; i++) {
                if (!num($i)) { print "not a finite number: " $i; exit 1 }
                if (base[i] && $i + 0 > best) best = $i + 0
            }
            if (!num($(np + 3)) || ($(np + 3) + 0) != best) { print "best_baseline_rate " $(np + 3) " != " best; exit 1 }
            if (best > 0) {
                split($(np + 2), who, "/")
                for (k in who) { hit = 0; for (i = 2; i <= np + 1; i++) if (name[i] == who[k] && base[i] && $i + 0 == best) hit = 1
                                 if (!hit) { print "best_baseline " $(np + 2); exit 1 } }
            } else if ($(np + 2) != "none") { print "best_baseline with all 0: " $(np + 2); exit 1 }
            e = $2 + 0; b = $(np + 1) + 0
            r = $(np + 4); rb = $(np + 5)
            if (best > 0 ? !(num(r) && (r - e / best) ^ 2 <= 1e-8 * (1 + r * r)) : r != "n/a") { print "epara_over_best " r; exit 1 }
            if (b > 0 ? !(num(rb) && (rb - e / b) ^ 2 <= 1e-8 * (1 + rb * rb)) : rb != "n/a") { print "epara_over_bound " rb; exit 1 }
        }' "$f" >"$T/why" && ok || { bad "$f: $(cat "$T/why")"; cat "$f"; }
}
for m in overall90 mean80; do check_table "$OUT/suite_$m.csv"; done

[ "$(wc -l <"$OUT/max_rates.csv" 2>/dev/null)" = $((1 + 3 * np * 2)) ] && ok ||
    bad "max_rates.csv: one row per scenario x policy x target"
awk -F, 'NR > 1 && !($4 ~ /^[0-9.e+-]+$/ && $4 >= 0 && $6 ~ /^[0-9]+$/ && $6 > 0) { exit 1 }' \
    "$OUT/max_rates.csv" 2>/dev/null && ok || bad "max_rates.csv: rates >= 0 and run counts"
# summary.csv: per metric a finite geometric mean (or n/a when nothing is left) and counts.
awk -F, 'NR == 1 { next } { n++; if ($1 != (n == 1 ? "overall90" : "mean80")) exit 1
    if (!($2 ~ /^[0-9.e+-]+$/ && $2 > 0 || $2 == "n/a" && $3 == 0)) exit 1
    if ($4 != 3 || $3 > 3) exit 1 } END { exit n != 2 }' "$OUT/summary.csv" 2>/dev/null && ok ||
    { bad "summary.csv"; cat "$OUT/summary.csv"; }
for h in '^## Overall SLO attainment >= 90%' '^## Mean SLO attainment over services >= 80%' \
    '^Geometric mean of EPARA / best baseline: '; do
    [ "$(grep -c "$h" "$OUT/table.md" 2>/dev/null)" -ge 1 ] && ok || bad "table.md lacks $h"
done
grep -q '^elapsed: ' "$OUT/study.txt" 2>/dev/null && ok || bad "study.txt records the elapsed time"
grep -q "suite: done in .* s; .*$OUT" "$T/o1" && ok || bad "the driver says where its outputs are"

# The zero cases, on doctored results: llm-long-context with every baseline at 0 (overall),
# code-bursty with EPARA at 0, multi-device-70b with the bound at 0.
Z=$T/z
cp -r "$OUT" "$Z"
setrate() { sed -i 's/"max_rate_scale":[^,]*/"max_rate_scale":'"$3"'/' "$Z/runs/$1/$2.overall90.json"; }
for p in $order; do
    case $p in epara | bound) ;; *) setrate llm-long-context "$p" 0 ;; esac
done
setrate llm-long-context epara 2
setrate code-bursty epara 0
setrate multi-device-70b bound 0
setrate multi-device-70b epara 3
for p in $order; do case $p in epara | bound) ;; *) setrate multi-device-70b "$p" 1.5 ;; esac; done
QUICK=1 OUT=$Z EPARA=$EPARA "$SRC/experiments/suite/run" --tables-only >"$T/o2" 2>"$T/e2" && ok ||
    { bad "--tables-only failed"; cat "$T/o2" "$T/e2"; }
check_table "$Z/suite_overall90.csv"
row() { grep "^$1," "$Z/suite_overall90.csv" | awk -F, -v np="$np" '{ print $(np + 2), $(np + 3), $(np + 4), $(np + 5) }'; }
[ "$(row llm-long-context | cut -d' ' -f1-3)" = "none 0 n/a" ] && ok ||
    bad "no baseline above 0: best 'none', EPARA / best n/a (got $(row llm-long-context))"
[ "$(row code-bursty | cut -d' ' -f3-4)" = "0 0" ] && ok ||
    bad "EPARA at 0: ratios 0 (got $(row code-bursty))"
[ "$(row multi-device-70b | cut -d' ' -f2-4)" = "1.5 2 n/a" ] && ok ||
    bad "bound at 0: EPARA / bound n/a; tie of baselines at 1.5 (got $(row multi-device-70b))"
[ "$(row multi-device-70b | cut -d' ' -f1 | tr '/' '\n' | wc -l)" = $((np - 2)) ] && ok ||
    bad "a tie names every best baseline (got $(row multi-device-70b | cut -d' ' -f1))"
[ "$(grep '^overall90,' "$Z/summary.csv" | cut -d, -f2-4)" = "2,1,3" ] && ok ||
    bad "geomean over the one scenario left: $(grep '^overall90,' "$Z/summary.csv")"
grep -q '^overall90,.*llm-long-context (no baseline meets the target: n/a); code-bursty (EPARA never meets the target: ratio 0)' \
    "$Z/summary.csv" && ok || bad "summary.csv says which scenarios were left out and why"
grep -q 'over 1 of 3 scenarios (left out: llm-long-context (no baseline' "$Z/table.md" && ok ||
    bad "table.md says which scenarios were left out"

if command -v gnuplot >/dev/null; then
    for e in png svg; do
        [ -s "$OUT/figures/suite.$e" ] && ok || bad "figure suite.$e missing or empty"
    done
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ]
else
    echo "$pass passed, $fail failed; gnuplot not found: figure checks skipped"
    [ $fail -eq 0 ] || exit 1
    exit 77
fi
