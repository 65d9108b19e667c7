#!/usr/bin/env bash
# `make demo` end to end, reduced (scripts/demo.sh with 30 s of the workload at rate scales 1,
# 8 and 16): it says truthfully how many GenTD26 rows it skipped and where they are listed;
# the summary gives every policy's bisected max rate and the ratio to the best baseline,
# latencies in ms or s with 3 significant digits and what n/a means, attainment per task
# category and per service at rate scales 1 and 8, and why the idle devices idle; the
# figures include the per-category one, the latency CDF names its rate scale; the results
# database keeps no per-request records.
# Usage: test_demo.sh EPARA [SHARED_DIR]
set -u
EPARA=$1
SHARED=${2:-}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
if ! command -v gnuplot >/dev/null; then
    echo "gnuplot not found: the demo draws figures; skipping"
    exit 77
fi
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export EP_SHARED_DIR=${SHARED:-$T/nothing}
O=$T/demo
EPARA=$EPARA OUT=$O JOBS=2 DEMO_DURATION=30 DEMO_RATES='1|8|16' DEMO_REF=8 \
    "$ROOT/scripts/demo.sh" >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 0 ] && ok || { bad "demo exit $rc"; tail -30 "$T/out" "$T/err"; }

# The GenTD26 import: the count is the importer's, the listed ones are in the file.
if [ -f "$EP_SHARED_DIR/traces/alibaba_gentd26_lora_request_trace.csv" ]; then
    ! grep -q 'reported above' "$T/out" "$T/err" && ok || bad "the demo says 'reported above'"
    line=$(grep 'GenTD26: ' "$T/out")
    listed=$(grep -c ': skipped:' "$O/gentd26-skipped.txt")
    n=$("$EPARA" trace import --db "$T/g.db" --name g --format alibaba-gentd \
        "$EP_SHARED_DIR/traces/alibaba_gentd26_lora_request_trace.csv" 2>/dev/null |
        sed -n 's/^skipped \([0-9]*\) rows.*/\1/p')
    [ -n "$n" ] && echo "$line" | grep -q "GenTD26: $n pending rows" && ok ||
        bad "the demo gives the importer's count ($n): $line"
    if [ "$listed" -lt "$n" ]; then
        echo "$line" | grep -q "the first $listed listed in $O/gentd26-skipped.txt" && ok ||
            bad "the demo says how many are listed ($listed): $line"
    fi
fi

S=$O/summary.txt
[ -s "$S" ] && ok || bad "no summary.txt"
for p in $("$EPARA" sim --list-policies | awk '{ print $1 }'); do
    grep -Eq "^  $p +x[0-9.]+ \(epara maxrate: met at x[0-9.]+, missed at x[0-9.]+\)$" "$S" && ok ||
        bad "summary: $p's bisected max rate"
done
grep -Eq '^  epara / best baseline \([a-z]+\): [0-9]+\.[0-9]{2}x$' "$S" && ok || bad "summary: the ratio to the best baseline"
grep -q 'n/a s' "$S" && bad "summary prints 'n/a s'" || ok
grep -Eq '\.[0-9]{5,}' "$S" && bad "summary prints a number with 5+ decimals: $(grep -E '\.[0-9]{5,}' "$S" | head -2)" || ok
grep -Eq '^  epara +[0-9.]+ +[0-9.]+% +[0-9.]+% +[0-9.]+ (ms|s) +[0-9.]+ (ms|s)$' "$S" && ok ||
    bad "summary: epara's latencies in ms or s"
grep -Eq '^  bound +[0-9.]+ +[0-9.]+% +[0-9.]+% +n/a +n/a$' "$S" && grep -q 'n/a:' "$S" && ok ||
    bad "summary: the bound's latencies are n/a, and it says why"
for r in 1 8; do
    grep -q "^SLO attainment per task category at rate scale $r " "$S" && ok || bad "summary: categories at x$r"
    grep -q "^SLO attainment per service at rate scale $r:" "$S" && ok || bad "summary: services at x$r"
done
[ "$(grep -c '^  llama-13b (latency/multi) ' "$S")" = 2 ] && ok || bad "summary: the multi-device LLM tier, twice"
grep -q 'rpi-1/rpi5.*no service meets its SLO on rpi5' "$S" && ok || bad "summary: why the Raspberry Pis idle"

for f in goodput_vs_rate attainment_vs_rate latency_cdf utilization per_category; do
    [ -s "$O/figures/$f.png" ] && [ -s "$O/figures/$f.svg" ] && ok || bad "figure $f"
done
head -1 "$O/figures/latency_cdf.csv" | grep -q ',epara at x8 (' && ok || bad "latency CDF at x8, named"
if command -v sqlite3 >/dev/null; then
    [ "$(sqlite3 "$O/results.db" 'SELECT count(*) FROM records')" = 0 ] && ok || bad "the demo stores records"
    [ "$(sqlite3 "$O/results.db" 'SELECT count(*) FROM max_rates')" = 6 ] && ok || bad "six max rates stored"
fi
[ "$(du -sm "$O/results.db" | cut -f1)" -lt 5 ] && ok || bad "results.db is $(du -sh "$O/results.db" | cut -f1)"
grep -q "^demo: .* in $O, [0-9]* s$" "$T/out" && ok || bad "the demo reports its size and time"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
