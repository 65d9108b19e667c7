#!/usr/bin/env bash
# End-to-end test of the suite ablations (experiments/suite/ablate) on one scenario and two
# mechanisms in its reduced mode: ablation.csv holds one finite max rate per scenario and
# variant (all, and each mechanism off), ablation.md a row per scenario with a column per
# mechanism; an unknown mechanism or METRIC is refused (exit 2) before anything runs.
# Usage: test_suite_ablate.sh EPARA [SHARED_DIR]
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

OUT=$T/a
QUICK=1 OUT=$OUT EPARA=$EPARA JOBS=2 SCENARIOS=code-bursty MECHS="fill_idle parallel local_slack=1" \
    "$SRC/experiments/suite/ablate" >"$T/o1" 2>"$T/e1"
rc=$?
[ $rc -eq 0 ] && ok || { bad "ablate exit $rc"; cat "$T/o1" "$T/e1"; }
csv=$OUT/ablation.csv
[ "$(head -1 "$csv")" = "scenario,variant,max_rate_scale" ] && ok || bad "csv header: $(head -1 "$csv")"
for v in all fill_idle parallel local_slack=1; do
    x=$(awk -F, -v v=$v '$1 == "code-bursty" && $2 == v { print $3 }' "$csv")
    [[ $x =~ ^[0-9.]+([eE][-+]?[0-9]+)?$ ]] && ok || bad "variant $v: max rate '$x'"
done
[ "$(wc -l <"$csv")" -eq 5 ] && ok || bad "csv rows: $(wc -l <"$csv")"
grep -q '^| scenario | all | fill_idle=0 | parallel=0 | local_slack=1 |$' "$OUT/ablation.md" && ok ||
    bad "ablation.md header: $(grep '^| scenario' "$OUT/ablation.md")"
grep -q '^| code-bursty | ' "$OUT/ablation.md" && ok || bad "ablation.md has no code-bursty row"

MECHS="no_such_switch" OUT=$T/b EPARA=$EPARA "$SRC/experiments/suite/ablate" >"$T/o2" 2>"$T/e2"
rc=$?
[ $rc -eq 2 ] && ok || bad "unknown mechanism: exit $rc"
grep -q "no parameter no_such_switch" "$T/e2" && ok || bad "unknown mechanism message: $(cat "$T/e2")"
[ ! -e "$T/b/runs" ] && ok || bad "runs started for an unknown mechanism"

METRIC=worst OUT=$T/c EPARA=$EPARA "$SRC/experiments/suite/ablate" >"$T/o3" 2>"$T/e3"
rc=$?
[ $rc -eq 2 ] && ok || bad "unknown metric: exit $rc"
grep -q "METRIC must be overall90 or mean80" "$T/e3" && ok || bad "unknown metric message: $(cat "$T/e3")"

echo "passed $pass, failed $fail"
[ $fail -eq 0 ]
