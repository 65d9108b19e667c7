#!/usr/bin/env bash
# End-to-end test of experiments/faults/run in its reduced mode (QUICK=1: epara and static,
# 40 s of generated workload, every fault from 15 s to 25 s): it writes one scenario per
# fault that loads, checks one record per arrival in every run, writes the per-bin CSV files
# with the expected header and bins, the before / during / after table, and a figure per
# fault (png and svg). The numbers say what the faults do: none loses nothing, a partition
# and a node crash lose requests during the fault, and every fault's "after" goodput is back
# near the fault-free run's. Exits 77 (skipped) after the other checks without gnuplot, and
# at once without sqlite3 (the driver needs it).
# Usage: test_faults_study.sh EPARA [SHARED_DIR]
set -u
EPARA=$1
SRC=$(cd "$(dirname "$0")/../.." && pwd)
command -v sqlite3 >/dev/null || {
    echo "sqlite3 not found: skipped"
    exit 77
}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
export EP_SHARED_DIR=$T/nothing # generated traces: hermetic and fast
FAULTS="none node-crash link-down partition sync-loss sync-delay slow-device"

OUT=$T/f
QUICK=1 OUT=$OUT EPARA=$EPARA JOBS=2 "$SRC/experiments/faults/run" >"$T/o1" 2>"$T/e1"
rc=$?
[ $rc -eq 0 ] && ok || { bad "faults/run exit $rc"; cat "$T/o1" "$T/e1"; }
for f in $FAULTS; do
    s=$OUT/scenarios/faults-$f.yaml
    grep -q "^name: faults-$f\$" "$s" 2>/dev/null && ok || bad "scenario $s"
    for c in "faults_$f.csv" "faults_${f}_llm.csv"; do
        [ "$(head -1 "$OUT/$c" 2>/dev/null)" = "time_s,epara,static" ] && ok ||
            bad "$c header: $(head -1 "$OUT/$c" 2>/dev/null)"
        # Bin centres 2.5, 7.5, .. 37.5 (5 s bins over 40 s), every cell a number.
        [ "$(cut -d, -f1 "$OUT/$c" 2>/dev/null | tail -n +2 | paste -sd' ')" = \
            "2.5 7.5 12.5 17.5 22.5 27.5 32.5 37.5" ] && ok || bad "$c bins"
        awk -F, 'NR > 1 { for (i = 2; i <= NF; i++) if ($i !~ /^[0-9.e+-]+$/) exit 1 }' "$OUT/$c" &&
            ok || { bad "$c has empty or non-numeric cells"; cat "$OUT/$c"; }
    done
done
grep -q "partition: \[server-1, jetson-1, jetson-2, rpi-1, rpi-2\]}" \
    "$OUT/scenarios/faults-partition.yaml" 2>/dev/null && ok || bad "the partition entry"
[ "$(wc -l <"$OUT/faults_table.csv" 2>/dev/null)" -eq 15 ] && ok || bad "faults_table.csv rows"
# col FAULT POLICY N: column N of faults_table.csv.
col() { awk -F, -v f="$1" -v p="$2" -v n="$3" '$1 == f && $2 == p { print $n }' "$OUT/faults_table.csv"; }
for p in epara static; do
    [ "$(col none "$p" 9)" = 0 ] && ok || bad "$p: a fault-free run drops requests"
    for f in partition node-crash; do
        lost=$(($(col "$f" "$p" 9) + $(col "$f" "$p" 10) - $(col none "$p" 10)))
        [ "$lost" -gt 0 ] && ok || bad "$p: $f loses no request during the fault"
    done
    for f in $FAULTS; do
        awk -v a="$(col "$f" "$p" 5)" -v b="$(col none "$p" 5)" 'BEGIN { exit !(a >= 0.8 * b) }' &&
            ok || bad "$p: goodput after $f ($(col "$f" "$p" 5)) not back near $(col none "$p" 5)"
    done
done
awk -v a="$(col partition epara 4)" -v b="$(col none epara 4)" 'BEGIN { exit !(a < b) }' && ok ||
    bad "epara: the partition costs no goodput during the fault"
grep -q '^## Goodput (req/s), all services: before / during / after' "$OUT/table.md" 2>/dev/null &&
    grep -q '^| partition |' "$OUT/table.md" && ok || bad "table.md"
grep -q '^fault_window_s: 15-25$' "$OUT/study.txt" 2>/dev/null && grep -q '^elapsed: ' "$OUT/study.txt" &&
    ok || bad "study.txt records the parameters"
[ "$(sqlite3 "$OUT/results.db" "SELECT count(*) FROM runs")" = 14 ] && ok || bad "14 runs stored"

if command -v gnuplot >/dev/null; then
    for f in $FAULTS; do
        for e in png svg; do
            [ -s "$OUT/figures/faults_$f.$e" ] && ok || bad "figure faults_$f.$e missing or empty"
        done
    done
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ]
else
    echo "$pass passed, $fail failed; gnuplot not found: figure checks skipped"
    [ $fail -eq 0 ] || exit 1
    exit 77
fi
