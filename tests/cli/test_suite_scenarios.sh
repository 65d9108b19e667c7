#!/usr/bin/env bash
# Every scenario of the suite (experiments/scenarios/suite/*.yaml) loads and runs: at least
# eight of them, each starting with comment lines of rationale and citing no file a user
# lacks (../shared, DESIGN.md, REFERENCE.md), each with a row in the suite README; each runs
# 30 s of its workload at rate scale 1 under every policy and the bound (exit 0, requests in
# the window, attainment in [0, 1]) with the production traces when SHARED_DIR has them,
# and once more on generated traces only (their fallbacks). With EP_SHARED_DIR unset the
# scenarios' default path, relative to their own directory, reaches the traces beside the
# clone (as in CI).
# Usage: test_suite_scenarios.sh EPARA [SHARED_DIR]
set -u
EPARA=$1
SHARED=${2:-}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=$SRC/experiments/scenarios/suite
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
pols=$("$EPARA" sim --list-policies | awk '{ print $1 }')

n=0
for f in "$SUITE"/*.yaml; do
    n=$((n + 1))
    s=$(basename "$f" .yaml)
    [ "$(head -3 "$f" | grep -c '^# ')" = 3 ] && head -1 "$f" | grep -q "^# $s: " && ok ||
        bad "$s: does not start with '# $s: ' and comment lines of rationale"
    grep -n '\.\./shared\b\|DESIGN\.md\|REFERENCE\.md\|\bREF\b\|TRACES' "$f" | grep -v 'EP_SHARED_DIR:-' >"$T/refs"
    [ -s "$T/refs" ] && bad "$s cites files a user lacks: $(cat "$T/refs")" || ok
    grep -q "^| \`$s\` |" "$SUITE/README.md" && ok || bad "$s has no row in the suite README"
done
[ $n -ge 8 ] && ok || bad "only $n suite scenarios (want >= 8)"

# run_all LABEL: every scenario x policy, 30 s of the workload, into T/LABEL.db.
run_all() {
    local label=$1 f s p j
    for f in "$SUITE"/*.yaml; do
        s=$(basename "$f" .yaml)
        for p in $pols; do
            j=$T/$label-$s-$p.json
            if "$EPARA" sim --scenario "$f" --policy "$p" --duration 30 --trace-db "$T/$label.db" \
                --json --quiet >"$j" 2>"$T/err"; then
                awk -v RS=, -F: '$1 == "\"requests\"" && $2 > 0 { r = 1 }
                    $1 == "\"slo_attainment\"" && $2 >= 0 && $2 <= 1 { a = 1 }
                    END { exit !(r && a) }' "$j" && ok ||
                    bad "$label: $s under $p: no requests or attainment outside [0, 1]: $(head -c 300 "$j")"
            else
                bad "$label: $s under $p failed: $(cat "$T/err")"
            fi
        done
    done
}
if [ -n "$SHARED" ] && [ -f "$SHARED/traces/AzureLLMInferenceTrace_conv.csv" ]; then
    EP_SHARED_DIR=$(cd "$SHARED" && pwd) run_all shared
    "$EPARA" trace list --db "$T/shared.db" | grep -q '^azure-conv  *azure-llm ' && ok ||
        bad "with EP_SHARED_DIR, azure-conv is not imported from its file"
    # The default path when EP_SHARED_DIR is unset: SRC/../shared seen from the suite.
    if [ "$(cd "$SHARED" && pwd)" = "$(cd "$SRC/.." && pwd)/shared" ]; then
        (unset EP_SHARED_DIR; "$EPARA" sim --scenario "$SUITE/llm-chat.yaml" --policy static \
            --duration 1 --trace-db "$T/default.db" --json --quiet >/dev/null) &&
            "$EPARA" trace list --db "$T/default.db" | grep -q '^azure-conv  *azure-llm ' && ok ||
            bad "with EP_SHARED_DIR unset, the default path misses ../shared beside the clone"
    fi
fi
# Generated traces only: every import falls back to its generator.
for f in "$SUITE"/*.yaml; do
    s=$(basename "$f" .yaml)
    EP_SHARED_DIR=$T/nothing "$EPARA" sim --scenario "$f" --policy static --duration 30 \
        --trace-db "$T/gen.db" --json --quiet >"$T/gen-$s.json" 2>"$T/err" && ok ||
        bad "generated: $s failed: $(cat "$T/err")"
done
"$EPARA" trace list --db "$T/gen.db" | grep -q '^azure-conv  *gen-gamma ' && ok ||
    bad "without the traces, azure-conv is not generated"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
