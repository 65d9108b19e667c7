#!/usr/bin/env bash
# End-to-end test of the robustness study beside the suite (experiments/suite/robust) in its
# reduced mode (QUICK=1: code-bursty and llm-long-context, 180 s of each workload, rate 1):
# robust.csv holds one row per scenario, variant and policy with the variant's rate and SLO
# scale and attainments in [0, 1]; robust.md a row per scenario with every variant; the fast
# variant's scenario has every GPU class's bandwidth and FLOPS doubled and nothing else
# changed, the slice variant's a time-sliced MT table instead of the scenario's. Rates from a suite table (SUITE_CSV) are taken per scenario. Bad input exits 2
# with a message: an unknown variant or policy, and a full run without a suite table.
# Usage: test_suite_robust.sh EPARA [SHARED_DIR]
set -u
EPARA=$1
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
export EP_SHARED_DIR=${2:-$T/nothing}
R=$SRC/experiments/suite/robust

OUT=$T/q
QUICK=1 OUT=$OUT EPARA=$EPARA JOBS=2 "$R" >"$T/o1" 2>"$T/e1"
rc=$?
[ $rc -eq 0 ] && ok || { bad "robust exit $rc"; cat "$T/o1" "$T/e1"; }
csv=$OUT/robust.csv
[ "$(head -1 "$csv")" = "scenario,variant,rate_scale,slo_scale,policy,attainment,mean_attainment" ] &&
    ok || bad "robust.csv header: $(head -1 "$csv")"
[ "$(tail -n +2 "$csv" | wc -l)" -eq 20 ] && ok || bad "robust.csv rows: $(tail -n +2 "$csv" | wc -l), want 20"
# Each variant's rate and SLO scale; attainments in [0, 1].
awk -F, 'NR > 1 {
        want = $2 == "fast" ? "2,1" : $2 == "slo07" ? "1,0.7" : $2 == "slo15" ? "1,1.5" : "1,1"
        if ($3 "," $4 != want) { print "row " NR ": rate,slo " $3 "," $4 ", want " want; bad = 1 }
        if (!($6 >= 0 && $6 <= 1 && $7 >= 0 && $7 <= 1)) { print "row " NR ": attainment " $6 " " $7; bad = 1 }
        n[$1 "," $2]++
    }
    END { for (k in n) if (n[k] != 2) { print k ": " n[k] " policies"; bad = 1 }; exit bad }' "$csv" &&
    ok || bad "robust.csv rows inconsistent"
md=$OUT/robust.md
for s in code-bursty llm-long-context; do
    grep -q "^| $s (1) |\( [0-9*.]* / [0-9*.]* |\)\{5\}$" "$md" && ok || bad "robust.md row $s: $(grep "$s" "$md")"
done
grep -q "^Cells led" "$md" && ok || bad "robust.md: no cells-led line"
# The fast variant: the GPU classes' two numbers doubled, every other line unchanged.
f=$OUT/scenarios/fast/code-bursty.yaml
d=$(diff "$SRC/experiments/scenarios/suite/code-bursty.yaml" "$f" | grep '^[<>]')
[ "$(echo "$d" | grep -c '^>')" -eq 4 ] && ok || bad "fast variant changes: $d"
echo "$d" | grep -q '^> *mem_bw_gbps: 600$' && echo "$d" | grep -q '^> *peak_tflops: 85$' &&
    ok || bad "fast variant numbers: $d"
# The slice variant: the MT table of a time-sliced device, in place of the scenario's own
# (mixed-default's is written out; code-bursty takes the default).
for s in code-bursty mixed-default; do
    sed -n '/^mt_slowdown:/p' "$SRC/experiments/scenarios/suite/$s.yaml" >"$T/mt.yaml"
    f=$OUT/scenarios/slice/$s.yaml
    [ -f "$f" ] || { QUICK=1 OUT=$T/sl EPARA=$EPARA SCENARIOS=$s VARIANTS=slice POLICIES=epara \
        RATE=0.2 "$R" >/dev/null 2>&1; f=$T/sl/scenarios/slice/$s.yaml; }
    d=$(diff "$SRC/experiments/scenarios/suite/$s.yaml" "$f" | grep '^[<>]')
    want="> mt_slowdown: [1.0, 2.0, 3.0, 4.0] # slice variant: co-location without gain"
    [ -s "$T/mt.yaml" ] && want="< $(cat "$T/mt.yaml")
$want"
    [ "$d" = "$want" ] && ok || bad "slice variant of $s changes: $d"
    "$EPARA" sim --scenario "$f" --policy static --duration 1 --trace-db "$T/sl.db" --json \
        --quiet >/dev/null 2>"$T/e6" && ok || bad "slice variant of $s does not load: $(cat "$T/e6")"
done

# Rates from a suite table.
printf 'scenario,epara,best_baseline,best_baseline_rate\ncode-bursty,2,alpaserve,0.5\n' >"$T/s.csv"
QUICK=1 OUT=$T/s EPARA=$EPARA JOBS=2 SCENARIOS=code-bursty VARIANTS="base fast" POLICIES=epara \
    SUITE_CSV=$T/s.csv "$R" >/dev/null 2>"$T/e2" && ok || { bad "robust with SUITE_CSV"; cat "$T/e2"; }
[ "$(cut -d, -f2,3 "$T/s/robust.csv" | tail -n +2 | paste -sd' ')" = "base,0.5 fast,1" ] &&
    ok || bad "rates from the suite table: $(cat "$T/s/robust.csv")"

# Bad input.
QUICK=1 OUT=$T/b EPARA=$EPARA VARIANTS="base faster" "$R" >/dev/null 2>"$T/e3"
[ $? -eq 2 ] && grep -q "unknown variant faster" "$T/e3" && ok || bad "unknown variant: $(cat "$T/e3")"
QUICK=1 OUT=$T/b EPARA=$EPARA POLICIES="epara nope" "$R" >/dev/null 2>"$T/e4"
[ $? -eq 2 ] && grep -q "unknown policy nope" "$T/e4" && ok || bad "unknown policy: $(cat "$T/e4")"
OUT=$T/b EPARA=$EPARA SUITE_CSV=$T/none.csv "$R" >/dev/null 2>"$T/e5"
[ $? -eq 2 ] && grep -q "run experiments/suite/run first" "$T/e5" && ok || bad "no suite table: $(cat "$T/e5")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
