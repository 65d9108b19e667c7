#!/usr/bin/env bash
# `epara cost` and the calibration driver: cost prints the cost model's prefill, decode and
# batch times (table and CSV) for a service of the default scenario, a prefill longer than
# another costs more, bad arguments exit 2 with a message; experiments/calibration/run
# prices every row of its measurements, writes the table and CSV, and keeps every row used
# for a fit (the A100 kernel times the defaults come from, and each class's constants)
# within 15% of its measurement.
# Usage: test_calibration.sh EPARA
set -u
EPARA=$1
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

"$EPARA" cost --service llama-8b --device rtx4090 --prefill 512,4096 --decode 1,32 --csv \
    >"$T/c.csv" 2>"$T/c.err" && ok || { bad "cost exit $?"; cat "$T/c.err"; }
[ "$(head -1 "$T/c.csv")" = "service,device,kind,x,ctx,ms,attention_ms,source" ] && ok ||
    bad "cost CSV header: $(head -1 "$T/c.csv")"
[ "$(grep -c '^llama-8b,rtx4090,prefill,' "$T/c.csv")" = 2 ] &&
    [ "$(grep -c '^llama-8b,rtx4090,decode,[0-9]*,1024,' "$T/c.csv")" = 2 ] && ok ||
    { bad "cost rows"; cat "$T/c.csv"; }
awk -F, '$3 == "prefill" { t[$4] = $6 } END { exit !(t[512] > 0 && t[4096] > 4 * t[512]) }' \
    "$T/c.csv" && ok || { bad "prefill 4096 not > 4 x prefill 512"; cat "$T/c.csv"; }
"$EPARA" cost --service seg-interactive --batch 1,8 >"$T/d.out" 2>&1 && ok ||
    bad "cost dnn exit $?"
# Every device class of the default scenario (three), two batch sizes each.
[ "$(grep -c '^  batch ' "$T/d.out")" = 6 ] && ok || { bad "cost dnn rows"; cat "$T/d.out"; }
"$EPARA" cost --service nope >"$T/e.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "no service 'nope'" "$T/e.out" && ok || { bad "unknown service: $rc"; cat "$T/e.out"; }
"$EPARA" cost --service llama-8b --prefill 0 >"$T/f.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q -- "--prefill" "$T/f.out" && ok || { bad "bad list: $rc"; cat "$T/f.out"; }

OUT=$T/cal EPARA=$EPARA "$HERE/../../experiments/calibration/run" >"$T/run.out" 2>"$T/run.err"
rc=$?
[ $rc -eq 0 ] && ok || { bad "calibration run exit $rc"; cat "$T/run.err"; }
rows=$(($(grep -vc '^device,' "$HERE/../../experiments/calibration/measurements.csv")))
[ "$(($(wc -l <"$T/cal/calibration.csv") - 1))" = "$rows" ] && ok ||
    bad "calibration.csv has not one line per measurement ($rows)"
# Column 9: error in percent; column 10: fit, check or none.
awk -F, 'NR > 1 && $10 == "fit" { n++; if ($9 > 15 || $9 < -15) { print "off: " $0; b++ } }
    END { exit !(n >= 5 && b == 0) }' "$T/cal/calibration.csv" && ok ||
    bad "a fit row is more than 15% off its measurement"
grep -q "^| a100-kernels | llama2-7b | prefill | 4096 |" "$T/cal/calibration.md" && ok ||
    bad "calibration.md lacks the A100 rows"
grep -q "^Within 15%: " "$T/cal/calibration.md" && ok || bad "calibration.md lacks its summary"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
